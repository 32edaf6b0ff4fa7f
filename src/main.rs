//! The `fromscratch` binary: parse the command line, run, print the error, exit.

use std::io::Write;
use std::process::ExitCode;

use clap::{ColorChoice, CommandFactory, FromArgMatches};
use fromscratch::cli::{Cli, Command};
use fromscratch::commands::{self, Failure};
use fromscratch::error::EXIT_BAD_INPUT;
use fromscratch::present::presenter;
use fromscratch::present::record::{Cast, Tee};
use fromscratch::{lab, repl, term};

fn main() -> ExitCode {
    // A decoy the lab started (see lab::decoy): not a command line to parse.
    if let Some(note) = std::env::var_os(lab::decoy::NOTE_VAR) {
        let title: Vec<String> = std::env::args().skip(1).collect();
        return ExitCode::from(lab::decoy::run(std::path::Path::new(&note), &title));
    }
    let cli = parse();
    term::init(cli.no_color);
    // Only commands that start processes catch Ctrl-C and SIGTERM (to tear down first);
    // the others die at once, as a plain command should.
    if matches!(
        cli.command,
        None | Some(
            Command::Run(_)
                | Command::Present(_)
                | Command::Tour { .. }
                | Command::Spawn(_)
                | Command::Rootfs(_)
                | Command::Book(_)
        )
    ) {
        lab::signals::install();
    }
    // `--record`: the REPL's, or the run's; the cast file is made before anything runs.
    let (record, title) = match &cli.command {
        None => (cli.record.as_ref(), "fromscratch".to_string()),
        Some(Command::Run(a)) => (
            a.record.as_ref().or(cli.record.as_ref()),
            format!("fromscratch run {}", a.lesson),
        ),
        Some(Command::Present(a)) => (
            a.record.as_ref().or(cli.record.as_ref()),
            format!("fromscratch present {}", a.lesson),
        ),
        Some(Command::Spawn(_)) if cli.record.is_some() => {
            eprintln!(
                "fromscratch: --record does not apply to spawn (its command writes to the terminal itself)"
            );
            return ExitCode::from(EXIT_BAD_INPUT);
        }
        Some(_) => (cli.record.as_ref(), "fromscratch".to_string()),
    };
    let mut stdout = std::io::stdout();
    let mut out = Tee::new(&mut stdout);
    if let Some(path) = record {
        match Cast::create(path, &title) {
            Ok(cast) => out.add(format!("recording to {}", path.display()), cast),
            Err(e) => {
                eprintln!(
                    "fromscratch: cannot write the recording {}: {e}",
                    path.display()
                );
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        }
    }
    let result = match &cli.command {
        None => repl::main(&mut out),
        Some(Command::List) => commands::list(&mut out),
        Some(Command::Run(a)) => commands::run(a, &mut out),
        Some(Command::Present(a)) => presenter::present(a, &mut out),
        Some(Command::Tour { rootfs }) => commands::tour(rootfs.as_deref(), &mut out),
        Some(Command::Rootfs(c)) => commands::rootfs(c, &mut out),
        Some(Command::Check { paths }) => commands::check(paths, &mut out),
        Some(Command::Cleanup(a)) => commands::cleanup(a, &mut out),
        Some(Command::Spawn(a)) => commands::spawn_cmd(a),
        Some(Command::Doctor { json, verbose }) => commands::doctor(*json, *verbose, &mut out),
        Some(Command::Book(a)) => commands::book(a, &mut out),
        Some(Command::Inspect(a)) => commands::inspect(a, &mut out),
        Some(Command::Completions { shell }) => commands::completions(*shell, &mut out),
    };
    let _ = out.flush();
    out.finish();
    match result {
        Ok(code) => ExitCode::from(code),
        // `fromscratch rootfs list | head -1`: the reader left; that is not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let code = e.downcast_ref::<Failure>().map_or(1, |f| f.code);
            // Not eprintln!: it panics when stderr is gone (a terminal that hung up).
            let _ = writeln!(std::io::stderr(), "fromscratch: {e}");
            ExitCode::from(code)
        }
    }
}

/// Parse the command line, or print help, the version or a usage error (exit 2) and
/// exit. clap writes those itself, colouring them on a terminal unless `NO_COLOR` is
/// set; `--no-color` is an argument it has not parsed yet when it writes them, so it is
/// looked for first (before any `--`: what follows is spawn's command).
fn parse() -> Cli {
    let no_color = std::env::args_os()
        .take_while(|a| a != "--")
        .any(|a| a == "--no-color");
    let mut cmd = Cli::command();
    if no_color {
        cmd = cmd.color(ColorChoice::Never);
    }
    let matches = cmd.get_matches_mut();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut cmd).exit())
}
