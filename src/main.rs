//! The `fromscratch` binary: parse the command line, run, print the error, exit.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use fromscratch::cli::{Cli, Command};
use fromscratch::commands::{self, Failure};
use fromscratch::{lab, repl, term};

fn main() -> ExitCode {
    let cli = Cli::parse();
    term::init(cli.no_color);
    // Only commands that start processes catch Ctrl-C and SIGTERM (to tear down first);
    // the others die at once, as a plain command should.
    if matches!(
        cli.command,
        None | Some(
            Command::Run(_) | Command::Tour { .. } | Command::Spawn(_) | Command::Rootfs(_)
        )
    ) {
        lab::signals::install();
    }
    let mut out = std::io::stdout();
    let result = match &cli.command {
        None => repl::main(&mut out),
        Some(Command::List) => commands::list(&mut out),
        Some(Command::Run(a)) => commands::run(a, &mut out),
        Some(Command::Tour { rootfs }) => commands::tour(rootfs.as_deref(), &mut out),
        Some(Command::Rootfs(c)) => commands::rootfs(c, &mut out),
        Some(Command::Check { paths }) => commands::check(paths, &mut out),
        Some(Command::Cleanup) => commands::cleanup(&mut out),
        Some(Command::Spawn(a)) => commands::spawn_cmd(a),
    };
    let _ = out.flush();
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
            eprintln!("fromscratch: {e}");
            ExitCode::from(code)
        }
    }
}
