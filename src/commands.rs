//! One entry point per subcommand; `main` picks one and turns its result into an exit code.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cli::{CleanupArgs, CompletionShell, RootfsCommand, RunArgs, SpawnArgs};
use crate::error::{Classify, EXIT_BAD_INPUT, EXIT_CHECK_FAILED};
use crate::lab::runner::{RunError, Runner};
use crate::lesson;
use crate::present::export;
use crate::present::record::Tee;
use crate::progress::Progress;
use crate::runtime::spawn::{self, Stdio};
use crate::runtime::{ContainerSpec, Namespaces};
use crate::term;

/// An error that carries its exit code and one sentence; `main` prints it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// The sentence.
    pub message: String,
    /// The exit code.
    pub code: u8,
}

impl Failure {
    /// From any classified error.
    pub fn from<E: Classify + std::fmt::Display>(e: &E) -> Self {
        Self {
            message: e.to_string(),
            code: e.exit_code(),
        }
    }
}

/// `fromscratch book [LESSON...] [--check] [--recapture]`: see [`crate::book`].
///
/// # Errors
/// As [`crate::book::book`].
pub fn book(args: &crate::cli::BookArgs, out: &mut dyn Write) -> Result<u8> {
    crate::book::book(
        &crate::book::Options {
            lessons: args.lessons.clone(),
            check: args.check,
            recapture: args.recapture,
        },
        out,
    )
}

/// `fromscratch list`: each lesson with the learner's progress in it
/// (`[#####-----] 2/4 steps`). A progress file that cannot be read is one warning line,
/// and the lessons are listed without progress.
///
/// # Errors
/// The lessons directory cannot be read.
pub fn list(out: &mut dyn Write) -> Result<u8> {
    let dir = crate::paths::lessons_dir();
    let files = lesson::lesson_files(&dir).map_err(|e| Failure {
        message: format!(
            "cannot read lessons in {}: {e}; set FROMSCRATCH_DATA to the folder holding lessons/",
            dir.display()
        ),
        code: EXIT_BAD_INPUT,
    })?;
    let progress = match Progress::load() {
        Ok(p) => Some(p),
        Err(e) => {
            writeln!(out, "{}", crate::progress::warning(&e))?;
            None
        }
    };
    let lessons: Vec<_> = files.iter().map(|f| (f, lesson::load(f))).collect();
    // `  ID  PROGRESS  TITLE`: the id padded before it is coloured (escape codes have no
    // width), the progress column padded to its widest entry so the titles line up; on a
    // terminal, the title wrapped under itself when it is too wide. Not on a pipe: there
    // one lesson is one line, for grep and friends.
    let column = |l: &lesson::Lesson| {
        progress
            .as_ref()
            .map(|p| p.summary(&l.def).line())
            .unwrap_or_default()
    };
    let plain_width = crate::present::layout::display_width;
    let width = lessons
        .iter()
        .filter_map(|(_, l)| l.as_ref().ok())
        .map(|l| plain_width(&column(l)))
        .max()
        .unwrap_or(0);
    let tty = std::io::stdout().is_terminal();
    // Where a title starts: two spaces, the id column, one space.
    let hang = lesson::MAX_ID_CHARS + 3;
    for (f, l) in lessons {
        match l {
            Ok(l) => {
                let col = column(&l);
                let id = term::title(&format!("{:<w$}", l.def.id, w = lesson::MAX_ID_CHARS));
                let cols = term::width();
                if width == 0 {
                    let title = if tty {
                        term::hang(&l.def.title, hang, hang)
                    } else {
                        format!("{}\n", l.def.title)
                    };
                    write!(out, "  {id} {title}")?;
                } else if tty && hang + width > cols {
                    // Narrow: the title beside the id, the progress on a line below.
                    write!(out, "  {id} {}", term::hang(&l.def.title, hang, hang))?;
                    writeln!(out, "    {col}")?;
                } else if tty && hang + width + 2 + 30 > cols {
                    // The progress beside the id, the title on a line of its own.
                    writeln!(out, "  {id} {col}")?;
                    write!(
                        out,
                        "{}{}",
                        " ".repeat(hang),
                        term::hang(&l.def.title, hang, hang)
                    )?;
                } else {
                    let pad = " ".repeat(width - plain_width(&col));
                    let indent = hang + width + 2;
                    let title = if tty {
                        term::hang(&l.def.title, indent, indent)
                    } else {
                        format!("{}\n", l.def.title)
                    };
                    write!(out, "  {id} {col}{pad}  {title}")?;
                }
            }
            Err(e) => writeln!(
                out,
                "  {:<w$} {}",
                f.display(),
                term::bad(&e.to_string()),
                w = lesson::MAX_ID_CHARS
            )?,
        }
    }
    Ok(0)
}

/// `fromscratch completions SHELL`: a completion script made by `clap_complete` from
/// the real command line, with the lesson ids (`run LESSON`) and the recipe names
/// (`--rootfs`, `rootfs build|rm`) there are now offered as values, each with its title
/// or description where the shell shows one. A lesson or recipe that does not load is
/// left out; the arguments still take any value.
///
/// # Errors
/// Only a failed write.
pub fn completions(shell: CompletionShell, out: &mut dyn Write) -> Result<u8> {
    use clap::CommandFactory as _;
    use clap::builder::{PossibleValue, PossibleValuesParser};
    let lessons: Vec<PossibleValue> = lesson::lesson_files(&crate::paths::lessons_dir())
        .unwrap_or_default()
        .iter()
        .filter_map(|f| lesson::load(f).ok())
        .map(|l| PossibleValue::new(l.def.id).help(l.def.title))
        .collect();
    let recipes: Vec<PossibleValue> = lesson::lesson_files(&crate::paths::recipes_dir())
        .unwrap_or_default()
        .iter()
        .filter_map(|f| crate::rootfs::load_recipe(f).ok())
        .map(|r| PossibleValue::new(r.name).help(r.description))
        .collect();
    let values = |v: &[PossibleValue]| PossibleValuesParser::new(v.to_vec());
    let mut cmd = crate::cli::Cli::command()
        .mut_subcommand("run", |c| {
            c.mut_arg("lesson", |a| a.value_parser(values(&lessons)))
                .mut_arg("rootfs", |a| a.value_parser(values(&recipes)))
        })
        .mut_subcommand("tour", |c| {
            c.mut_arg("rootfs", |a| a.value_parser(values(&recipes)))
        })
        .mut_subcommand("rootfs", |c| {
            c.mut_subcommand("build", |c| {
                c.mut_arg("recipe", |a| a.value_parser(values(&recipes)))
            })
            .mut_subcommand("rm", |c| {
                c.mut_arg("recipe", |a| a.value_parser(values(&recipes)))
            })
        });
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "fromscratch", &mut script);
    out.write_all(&script)?;
    if shell == clap_complete::Shell::Fish {
        // clap_complete's fish script completes options and subcommands but not the
        // values of positional arguments; these lines add them (files stay offered too:
        // a lesson or recipe may be given as a path).
        let using = "__fish_fromscratch_using_subcommand";
        for (cond, vals) in [
            (format!("{using} run"), &lessons),
            (
                format!("{using} rootfs; and __fish_seen_subcommand_from build"),
                &recipes,
            ),
            (
                format!("{using} rootfs; and __fish_seen_subcommand_from rm"),
                &recipes,
            ),
        ] {
            for v in vals {
                writeln!(
                    out,
                    "complete -c fromscratch -n \"{cond}\" -a {} -d {}",
                    fish_quote(v.get_name()),
                    fish_quote(&v.get_help().map(ToString::to_string).unwrap_or_default())
                )?;
            }
        }
    }
    Ok(0)
}

/// `s` in fish single quotes (inside them only `\\` and `\'` are escapes).
fn fish_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `fromscratch run LESSON`.
///
/// # Errors
/// A lesson that cannot load or a run that cannot go on.
pub fn run(args: &RunArgs, out: &mut dyn Write) -> Result<u8> {
    let l = lesson::find(&args.lesson).map_err(|e| Failure::from(&e))?;
    let Some(export) = &args.export else {
        return run_lesson(l, args.rootfs.as_deref(), args.yes, out);
    };
    // `--export md FILE`: the file is made before anything runs; the run's output is
    // teed to a transcript, turned into Markdown at the end (whatever the outcome).
    let [format, file] = export.as_slice() else {
        unreachable!("clap takes exactly two values for --export")
    };
    if format != "md" {
        return Err(Failure {
            message: format!("cannot export as `{format}`: the one format is `md` (Markdown)"),
            code: EXIT_BAD_INPUT,
        }
        .into());
    }
    let cannot = |e: std::io::Error| Failure {
        message: format!("cannot write the export {file}: {e}"),
        code: EXIT_BAD_INPUT,
    };
    let mut md_file = std::fs::File::create(file).map_err(cannot)?;
    let (id, title, summary) = (l.def.id.clone(), l.def.title.clone(), l.def.summary.clone());
    let mut transcript = Vec::new();
    let mut tee = Tee::new(out);
    tee.add(format!("the export to {file}"), &mut transcript);
    let result = run_lesson(l, args.rootfs.as_deref(), args.yes, &mut tee);
    tee.finish();
    let md = export::markdown(&id, &title, &summary, &String::from_utf8_lossy(&transcript));
    let written = md_file.write_all(md.as_bytes()).map_err(cannot);
    let code = result?;
    written?;
    writeln!(out, "{}", term::dim(&format!("the lesson as run: {file}")))?;
    Ok(code)
}

fn run_lesson(
    l: lesson::Lesson,
    rootfs: Option<&str>,
    yes: bool,
    out: &mut dyn Write,
) -> Result<u8> {
    let mut runner = Runner::new(l, rootfs).map_err(|e| Failure::from(&e))?;
    runner.show_why = true;
    writeln!(
        out,
        "{}",
        term::title(&format!(
            "{} — {}",
            runner.lesson.def.id, runner.lesson.def.title
        ))
    )?;
    write!(out, "{}", term::wrap(&runner.lesson.def.summary, 2))?;
    let pausing = !yes;
    let mut input = term::LineReader::default();
    let mut failed = 0;
    while runner.next < runner.len() {
        if pausing {
            // Say what is about to happen, then wait: a presenter can talk over it.
            let next = runner.next;
            runner.prepare(next, out).map_err(|e| run_failure(&e))?;
            runner.show_intro(next, out)?;
            write!(
                out,
                "{}",
                term::dim(&format!("[Enter] run step {} · [q] quit > ", next + 1))
            )?;
            out.flush()?;
            match input.next_line() {
                term::Input::Eof => {
                    writeln!(
                        out,
                        "\nend of input before step {}: stopped (use --yes to run every step without pausing)",
                        runner.next + 1
                    )?;
                    return Ok(0);
                }
                term::Input::Line(l) if l.trim() == "q" => {
                    writeln!(
                        out,
                        "stopped before step {} of {}: everything the lab started was stopped and removed",
                        runner.next + 1,
                        runner.len()
                    )?;
                    return Ok(0);
                }
                term::Input::Line(_) => {}
                term::Input::Interrupted => {
                    return Err(run_failure(&RunError::Runtime(
                        crate::runtime::RuntimeError::Interrupted,
                    ))
                    .into());
                }
            }
        }
        match runner.run_step(runner.next, out) {
            Ok(r) => failed += usize::from(!r.passed),
            Err(e) => return Err(run_failure(&e).into()),
        }
    }
    writeln!(out)?;
    if failed == 0 {
        writeln!(
            out,
            "{}",
            term::ok(&format!("{}: every check held", runner.lesson.def.id))
        )?;
        Ok(0)
    } else {
        writeln!(
            out,
            "{}",
            term::bad(&format!(
                "{}: {failed} step(s) had a failed check",
                runner.lesson.def.id
            ))
        )?;
        Ok(EXIT_CHECK_FAILED)
    }
}

/// A step error as the one sentence `main` prints: an interruption says that everything
/// was stopped (exit 130 or 143), anything else is its own message and exit code.
#[must_use]
pub fn run_failure(e: &RunError) -> Failure {
    if e.is_interrupted() {
        return Failure {
            message: "interrupted: everything the lab started was stopped and removed".into(),
            code: crate::lab::signals::exit_status(),
        };
    }
    Failure::from(e)
}

/// `fromscratch tour`: lessons 01–04 in order, unattended.
///
/// # Errors
/// As `run`.
pub fn tour(rootfs: Option<&str>, out: &mut dyn Write) -> Result<u8> {
    for id in TOUR {
        let l = lesson::find(id).map_err(|e| Failure::from(&e))?;
        let code = run_lesson(l, rootfs, true, out)?;
        if code != 0 {
            return Ok(code);
        }
    }
    writeln!(
        out,
        "\n{}",
        term::ok("tour complete: a rootfs, a chroot, the host's processes, and a PID namespace")
    )?;
    write!(
        out,
        "{}",
        term::wrap(
            "The lab typed each challenge's solution for you. To go step by step and do the challenges yourself, start the interactive lab: `fromscratch` (or `cargo run --release`), then `start 1`.",
            2
        )
    )?;
    Ok(0)
}

/// The lessons `tour` runs.
pub const TOUR: [&str; 4] = [
    "01-rootfs",
    "02-chroot",
    "03-host-processes",
    "04-pid-namespace",
];

/// `fromscratch rootfs …`.
///
/// # Errors
/// A bad recipe or a failed build.
pub fn rootfs(cmd: &RootfsCommand, out: &mut dyn Write) -> Result<u8> {
    use crate::rootfs as r;
    match cmd {
        RootfsCommand::Build { recipe, force } => {
            let path = r::find_recipe(recipe).map_err(|e| Failure::from(&e))?;
            let rec = r::load_recipe(&path).map_err(|e| Failure::from(&e))?;
            let quiet = !std::io::stdout().is_terminal();
            let built = r::build(
                &rec,
                &r::BuildOptions {
                    quiet,
                    force: *force,
                },
                out,
            )
            .map_err(|e| Failure::from(&e))?;
            writeln!(out, "{}", built.path.display())?;
        }
        RootfsCommand::List => {
            let entries = r::list().map_err(|e| Failure::from(&e))?;
            if entries.is_empty() {
                writeln!(
                    out,
                    "no rootfs built yet: try `fromscratch rootfs build host`"
                )?;
            }
            // Columns as wide as their longest value (`docker-archive`, long names).
            let nw = entries
                .iter()
                .map(|e| e.name.len())
                .max()
                .unwrap_or(0)
                .max(4);
            let bw = entries
                .iter()
                .map(|e| e.builder.len())
                .max()
                .unwrap_or(0)
                .max(7);
            if !entries.is_empty() {
                writeln!(
                    out,
                    "{:<nw$} {:<bw$} {:>8} {:>8}  PATH",
                    "NAME", "BUILDER", "SIZE", "AGE"
                )?;
            }
            for e in entries {
                writeln!(
                    out,
                    "{:<nw$} {:<bw$} {:>8} {:>8}  {}",
                    e.name,
                    e.builder,
                    human_size(e.size_bytes),
                    human_age(e.age),
                    e.path.display()
                )?;
            }
        }
        RootfsCommand::Rm { recipe } => {
            let removed = r::remove(recipe).map_err(|e| Failure::from(&e))?;
            for p in removed {
                writeln!(out, "removed {}", p.display())?;
            }
        }
    }
    Ok(0)
}

fn human_size(b: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let mb = b as f64 / 1_048_576.0;
    if mb >= 1024.0 {
        format!("{:.1}G", mb / 1024.0)
    } else {
        format!("{mb:.0}M")
    }
}

fn human_age(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// `fromscratch check [PATH...]`: validate lessons and recipes.
///
/// # Errors
/// Only output failures; bad files give exit 2.
pub fn check(paths: &[PathBuf], out: &mut dyn Write) -> Result<u8> {
    let mut files: Vec<PathBuf> = paths.to_vec();
    if files.is_empty() {
        files.extend(lesson::lesson_files(&crate::paths::lessons_dir()).unwrap_or_default());
        files.extend(lesson::lesson_files(&crate::paths::recipes_dir()).unwrap_or_default());
    }
    let mut bad = 0;
    for f in &files {
        let result = if is_recipe(f) {
            crate::rootfs::load_recipe(f)
                .map(|_| ())
                .map_err(|e| e.to_string())
        } else {
            lesson::load(f).map(|_| ()).map_err(|e| e.to_string())
        };
        match result {
            Ok(()) => writeln!(out, "{} {}", term::ok("ok"), f.display())?,
            Err(e) => {
                bad += 1;
                writeln!(out, "{e}")?;
            }
        }
    }
    if bad > 0 {
        return Err(Failure {
            message: format!(
                "{bad} of {} file(s) have problems (listed above)",
                files.len()
            ),
            code: EXIT_BAD_INPUT,
        }
        .into());
    }
    Ok(0)
}

fn is_recipe(f: &Path) -> bool {
    if f.parent()
        .and_then(Path::file_name)
        .is_some_and(|n| n == "rootfs-recipes")
    {
        return true;
    }
    crate::paths::read_small_file(f)
        .is_ok_and(|t| t.lines().any(|l| l.trim_start().starts_with("[builder]")))
}

/// `fromscratch cleanup [--check [--save FILE | --against FILE]]`.
///
/// # Errors
/// The run directory cannot be read; with --check, a snapshot file that cannot be
/// written or read (exit 2).
pub fn cleanup(a: &CleanupArgs, out: &mut dyn Write) -> Result<u8> {
    if a.check {
        return cleanup_check(a, out);
    }
    let run = crate::paths::run_dir();
    let mut report = crate::lab::state::cleanup_stale(&run).map_err(|e| Failure::from(&e))?;
    // Marked processes of a dead lab whose state file is gone too, and `fromscratch-PID`
    // cgroups no state file recorded: what `cleanup --check` names, removed.
    report
        .killed
        .extend(crate::hoststate::kill_orphaned_marked(&run));
    report
        .removed
        .extend(crate::hoststate::remove_stray_cgroups());
    let mut builds = Vec::new();
    crate::rootfs::clean_interrupted_builds(&mut builds);
    out.write_all(&builds)?;
    for k in &report.killed {
        writeln!(out, "killed {k}")?;
    }
    for r in &report.removed {
        writeln!(out, "removed {}", r.display())?;
    }
    for l in &report.live_labs {
        writeln!(out, "left alone: the lab of process {l} is still running")?;
    }
    for l in &report.links {
        writeln!(out, "{l}")?;
    }
    if report.killed.is_empty()
        && report.removed.is_empty()
        && report.links.is_empty()
        && builds.is_empty()
    {
        writeln!(out, "nothing to clean up")?;
    }
    Ok(0)
}

/// The largest snapshot file `cleanup --check --against` reads (64 MiB).
const MAX_SNAPSHOT_BYTES: u64 = 64 << 20;

/// `cleanup --check`: name the leftovers, or save a snapshot, or compare with one.
fn cleanup_check(a: &CleanupArgs, out: &mut dyn Write) -> Result<u8> {
    use crate::hoststate::{HostSnapshot, Places, differences, leftovers};
    if let Some(file) = &a.save {
        let snap = HostSnapshot::take(&Places::current());
        let text = serde_json::to_string_pretty(&snap)?;
        std::fs::write(file, text).map_err(|e| Failure {
            message: format!(
                "cannot write the snapshot {}: {e}: give a path in a directory you can write",
                file.display()
            ),
            code: EXIT_BAD_INPUT,
        })?;
        writeln!(
            out,
            "saved a snapshot of the host to {}: {} mounts, {} processes, {} links, {} cgroups, {} files of the lab",
            file.display(),
            snap.mounts.len(),
            snap.processes.len(),
            snap.links.len(),
            snap.cgroups.len(),
            snap.files.len()
        )?;
        return Ok(0);
    }
    if let Some(file) = &a.against {
        let bad = |why: String| Failure {
            message: format!(
                "cannot compare with {}: {why}: give a file `fromscratch cleanup --check --save` wrote",
                file.display()
            ),
            code: EXIT_BAD_INPUT,
        };
        let meta = std::fs::metadata(file).map_err(|e| bad(e.to_string()))?;
        if !meta.is_file() || meta.len() > MAX_SNAPSHOT_BYTES {
            return Err(bad("not a regular file of at most 64 MiB".into()).into());
        }
        let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
        let before: HostSnapshot =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a snapshot ({e})")))?;
        if before.version != crate::hoststate::SNAPSHOT_VERSION {
            return Err(bad(format!(
                "snapshot version {} is not {}",
                before.version,
                crate::hoststate::SNAPSHOT_VERSION
            ))
            .into());
        }
        let now = HostSnapshot::take(&before.places);
        let diffs = differences(&before, &now);
        for d in &diffs {
            writeln!(out, "{d}")?;
        }
        if diffs.is_empty() {
            writeln!(out, "the host is as it was in {}", file.display())?;
            return Ok(0);
        }
        writeln!(out, "{} difference(s) from {}", diffs.len(), file.display())?;
        return Ok(EXIT_CHECK_FAILED);
    }
    let left = leftovers(&Places::current());
    if left.is_empty() {
        writeln!(out, "clean: no trace of a fromscratch lab on this host")?;
        return Ok(0);
    }
    for l in &left {
        writeln!(out, "{l}")?;
    }
    writeln!(out, "run `fromscratch cleanup` to remove them")?;
    Ok(EXIT_CHECK_FAILED)
}

/// Host directories a rootfs may never be: chrooting there and mounting /proc on them
/// would act on the host itself.
pub const FORBIDDEN_ROOTS: [&str; 18] = [
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root",
    "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var",
];

/// Trees a rootfs may never be inside: the host's own system, whatever the depth.
const FORBIDDEN_TREES: [&str; 12] = [
    "/usr", "/etc", "/boot", "/proc", "/sys", "/dev", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
    "/libx32",
];

/// Well-known host directories that are never a rootfs themselves (their subdirectories
/// may be: `/var/tmp/r`, `/home/me/rootfs`, `/var/cache/fromscratch/...`).
const FORBIDDEN_EXACT: [&str; 9] = [
    "/var/lib",
    "/var/cache",
    "/var/log",
    "/var/tmp",
    "/mnt",
    "/media",
    "/run/user",
    "/usr/local",
    "/var",
];

/// True for `/`, a top-level system directory, anything inside /usr, /etc, /proc, /sys,
/// /dev, /boot or the /lib and /bin trees, and a few well-known host directories.
#[must_use]
pub fn is_host_system_dir(canon: &Path) -> bool {
    FORBIDDEN_ROOTS
        .iter()
        .chain(FORBIDDEN_EXACT.iter())
        .any(|f| canon == Path::new(f))
        || FORBIDDEN_TREES.iter().any(|t| canon.starts_with(t))
}

/// Refuse a rootfs that is `/`, a host system directory, or not a directory.
///
/// # Errors
/// One sentence naming the path and the rule.
pub fn confine_rootfs(dir: &Path) -> Result<PathBuf, Failure> {
    let canon = dir.canonicalize().map_err(|e| Failure {
        message: format!(
            "rootfs {} cannot be used: {e}; build one with `fromscratch rootfs build host`",
            dir.display()
        ),
        code: EXIT_BAD_INPUT,
    })?;
    if is_host_system_dir(&canon) {
        return Err(Failure {
            message: format!(
                "refusing rootfs {}: it is the host's own {} (a rootfs must be a tree of its own; build one with `fromscratch rootfs build host`)",
                dir.display(),
                canon.display()
            ),
            code: EXIT_BAD_INPUT,
        });
    }
    if !canon.is_dir() {
        return Err(Failure {
            message: format!("rootfs {} is not a directory", dir.display()),
            code: EXIT_BAD_INPUT,
        });
    }
    Ok(canon)
}

/// `--rootfs` of spawn takes a directory; a bare name that is not one (`host`, `debian`)
/// is taken as a recipe, built or fetched from the cache, as `run --rootfs` does.
fn rootfs_dir_or_recipe(arg: &Path) -> Result<PathBuf> {
    let s = arg.to_string_lossy();
    if arg.exists() || s.contains('/') {
        return Ok(arg.to_path_buf());
    }
    let recipe = crate::rootfs::find_recipe(&s).map_err(|_| Failure {
        message: format!(
            "{} is neither a directory nor a recipe name: give a rootfs directory, or one of the recipes ({})",
            arg.display(),
            lesson::lesson_files(&crate::paths::recipes_dir())
                .unwrap_or_default()
                .iter()
                .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        code: EXIT_BAD_INPUT,
    })?;
    let recipe = crate::rootfs::load_recipe(&recipe).map_err(|e| Failure::from(&e))?;
    let quiet = !std::io::stderr().is_terminal();
    let built = crate::rootfs::build(
        &recipe,
        &crate::rootfs::BuildOptions {
            quiet,
            force: false,
        },
        &mut std::io::sink(),
    )
    .map_err(|e| Failure::from(&e))?;
    Ok(built.path)
}

/// `fromscratch spawn`.
///
/// # Errors
/// A bad rootfs, or a setup syscall that failed (exit 3 with the reason).
pub fn spawn_cmd(a: &SpawnArgs) -> Result<u8> {
    let root = confine_rootfs(&rootfs_dir_or_recipe(&a.rootfs)?)?;
    if a.mount_proc && !root.join("proc").is_dir() {
        return Err(Failure {
            message: format!("the rootfs {} has no /proc directory to mount a procfs on: create it (mkdir {}/proc)", root.display(), root.display()),
            code: EXIT_BAD_INPUT,
        }
        .into());
    }
    // A tree of the shared rootfs cache (a recipe name, or a path into the cache) is
    // seen read-only by the container, in a private mount namespace (the lab's guard),
    // with a minimal /dev of its own (devfs.rs), so nothing run in it changes the cache
    // every lesson uses. A directory of the user's own stays writable.
    let cache = std::fs::canonicalize(crate::paths::cache_dir()).ok();
    let shared = cache.is_some_and(|c| root.starts_with(c));
    let spec = ContainerSpec {
        overlay: None,
        protect: shared.then(|| root.clone()),
        root: Some(root.clone()),
        namespaces: Namespaces {
            pid: a.pid,
            mount: a.mount,
            uts: a.uts,
            ipc: a.ipc,
            net: a.net,
        },
        mount_proc: a.mount_proc,
        init: a.init,
        hostname: a.hostname.clone(),
        command: a.command.clone(),
        guard: shared,
        env: Vec::new(),
        volumes: Vec::new(),
        share: None,
        security: crate::runtime::security::Security::default(),
        pivot_root: false,
        cgroup_procs: Vec::new(),
        minimal_dev: shared,
        user: crate::runtime::userns::rootless(),
        unprivileged: false,
    };
    // Orphans of the command come back to us, to be stopped with it (a container without
    // a PID namespace has no init to take them down).
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let sp = spawn::spawn(&spec, Stdio::Inherit).map_err(|e| Failure::from(&e))?;
    if a.trace {
        // Dimmed only when stderr is a terminal too: `2>trace.txt` gets plain text.
        let dim = std::io::stderr().is_terminal();
        for l in &sp.trace {
            eprintln!("{}", if dim { term::dim(l) } else { l.clone() });
        }
    }
    let waited = spawn::wait_exit_interruptible(sp.child);
    spawn::reclaim_terminal();
    if matches!(waited, Err(crate::runtime::RuntimeError::Interrupted)) {
        spawn::kill_and_reap(sp.child);
        spawn::kill_orphans();
        return Err(Failure {
            message: "interrupted: the container was stopped".into(),
            code: crate::lab::signals::exit_status(),
        }
        .into());
    }
    spawn::kill_orphans();
    let (code, _) = waited.map_err(|e| Failure::from(&e))?;
    if let Some((call, errno)) = &sp.setup_failure {
        return Err(Failure {
            message: crate::runtime::error::explain_setup_failure(call, *errno, Some(&root)),
            code: crate::error::EXIT_HOST_CANNOT,
        }
        .into());
    }
    if let Some((prog, errno)) = &sp.exec_failure {
        return Err(Failure {
            message: crate::lab::explain_exec_failure(prog, *errno, Some(&root)),
            code: 127,
        }
        .into());
    }
    Ok(u8::try_from(code).unwrap_or(1))
}

/// `fromscratch doctor [--verbose] [--json]`: what this host can do, which lessons run
/// here; exit 0 when the default tour can run, 3 otherwise (see [`crate::doctor`]).
///
/// # Errors
/// Only a failed write.
pub fn doctor(json: bool, verbose: bool, out: &mut dyn Write) -> Result<u8> {
    crate::doctor::main(json, verbose, out)
}

/// `fromscratch inspect PID | --container NAME | --diff PID1 PID2 [--json]`: see
/// [`crate::inspect`].
///
/// # Errors
/// An [`crate::inspect::InspectError`] as a [`Failure`] (exit 2: no such process or
/// container; 3: its status unreadable), or a failed write.
pub fn inspect(a: &crate::cli::InspectArgs, out: &mut dyn Write) -> Result<u8> {
    use crate::inspect::{self, render};
    let fail = |e: inspect::InspectError| Failure::from(&e);
    if let Some(pids) = &a.diff {
        let (x, y) = (
            inspect::inspect(pids[0]).map_err(fail)?,
            inspect::inspect(pids[1]).map_err(fail)?,
        );
        let d = inspect::diff(&x, &y);
        if a.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&d)?)?;
        } else {
            render::write_diff(&d, &x, &y, out)?;
        }
        return Ok(0);
    }
    let pid = match (&a.container, a.pid) {
        (Some(name), _) => inspect::find_container(&crate::paths::run_dir(), name).map_err(fail)?,
        (None, Some(pid)) => pid,
        (None, None) => {
            return Err(Failure {
                message: "give a PID, --container NAME or --diff PID1 PID2".into(),
                code: EXIT_BAD_INPUT,
            }
            .into());
        }
    };
    let r = inspect::inspect(pid).map_err(fail)?;
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&r)?)?;
    } else {
        render::write_report(&r, out)?;
    }
    Ok(0)
}
