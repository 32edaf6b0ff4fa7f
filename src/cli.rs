//! The command line. The doc comments here are the `--help` text; each command's
//! `Examples:` section is a constant at the foot of this module (`tests/cli.rs` parses
//! every example line with this very `Cli`, so they stay real).

use std::path::PathBuf;

use clap::builder::StyledStr;
use clap::builder::styling::Styles;
use clap::{Args, Parser, Subcommand, ValueEnum, ValueHint};

/// A terminal lab that builds a container from nothing, one real syscall at a time.
///
/// With no command, starts the interactive lab (REPL). Exit codes: 0 success, 1 a step's
/// check failed, 2 bad input (file, flag, recipe), 3 the host cannot do it, 130/143 after
/// Ctrl-C/SIGTERM (everything the lab started is stopped first).
#[derive(Debug, Parser)]
#[command(
    name = "fromscratch",
    version,
    propagate_version = true,
    after_help = examples(EXAMPLES)
)]
pub struct Cli {
    /// Never colour the output (also: the NO_COLOR environment variable).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Also record everything the lab prints to FILE.cast, an asciicast v2 file that
    /// `asciinema play` replays (the REPL, or the command that follows; not `spawn`).
    #[arg(long, value_name = "FILE.cast", value_hint = ValueHint::FilePath)]
    pub record: Option<PathBuf>,
    /// What to do; none starts the interactive lab.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the lessons.
    #[command(after_help = examples(LIST_EXAMPLES))]
    List,
    /// Run one lesson in the terminal, step by step.
    #[command(after_help = examples(RUN_EXAMPLES))]
    Run(RunArgs),
    /// Present one lesson on a projector: a clean screen per step, the command typed, keys
    /// to go on, back and re-run.
    ///
    /// Keys: Space, Enter, → or n run the step, then go on to the next; ← or b go back a
    /// step (the lab is rebuilt up to there); r runs the step again; q or Esc quit. With
    /// stdin not a terminal it reads lines instead: an empty line or n, b, r, q. The lab is
    /// torn down on quit, Ctrl-C and SIGTERM.
    #[command(after_help = examples(PRESENT_EXAMPLES))]
    Present(PresentArgs),
    /// Run lessons 01 to 04 in order, unattended, on the default rootfs: the classic story.
    #[command(after_help = examples(TOUR_EXAMPLES))]
    Tour {
        /// Rootfs recipe to use instead of each lesson's own (a name or a .toml path).
        #[arg(long, value_name = "RECIPE")]
        rootfs: Option<String>,
    },
    /// Build, list or remove rootfs trees.
    #[command(subcommand, after_help = examples(ROOTFS_EXAMPLES))]
    Rootfs(RootfsCommand),
    /// Validate lesson and recipe files (all of them when no path is given).
    #[command(after_help = examples(CHECK_EXAMPLES))]
    Check {
        /// Lesson or recipe files.
        #[arg(value_hint = ValueHint::FilePath)]
        paths: Vec<PathBuf>,
    },
    /// Remove what an interrupted or killed run left behind (processes, scratch files).
    ///
    /// With --check it removes nothing: it names every trace a lab that is gone left on
    /// the host (processes carrying a lab's mark, mounts under the lab's directories,
    /// state files and the links and cgroups they recorded, stray `fromscratch-PID`
    /// cgroups, interrupted rootfs builds), one line each; exit 0 when there is none, 1
    /// otherwise. --save writes a snapshot of the host, --against compares the host with
    /// one and names every difference (exit 1 if any).
    #[command(after_help = examples(CLEANUP_EXAMPLES))]
    Cleanup(CleanupArgs),
    /// Run a command in a new container, the way the lessons do (flags as in unshare(1)).
    #[command(after_help = examples(SPAWN_EXAMPLES))]
    Spawn(SpawnArgs),
    /// Check what this host can do and which lessons will run here, with a fix for each no.
    ///
    /// Looks at root, user namespaces (the sysctls, and a real unshare in a child), a
    /// container around it, the cgroup layout and whether this user may write its own
    /// cgroup, overlayfs, seccomp, the rootfs builders and each lesson's needs. Exit status 0 when the default tour (lessons 01-04 on the host rootfs) can run
    /// here, 3 otherwise. Changes nothing on the host.
    #[command(after_help = examples(DOCTOR_EXAMPLES))]
    Doctor {
        /// Print the facts and the verdict as JSON instead.
        #[arg(long)]
        json: bool,
        /// Every lesson on a line of its own, each fix under its row, and the checks'
        /// full messages (the default folds them onto one screen).
        #[arg(long, short)]
        verbose: bool,
    },
    /// Show what a running process's kernel state makes of it, beside the host's PID 1:
    /// its namespaces (inode, its own or shared with the host, who else is in each), its
    /// root and the mount under it, its cgroups and their limits, uid/gid maps,
    /// capabilities, seccomp, no_new_privs, hostname and interfaces.
    ///
    /// Each line carries a short explanation and, under it, the command that reads or
    /// enters it (`nsenter -t PID -n ip addr`, `cat /proc/PID/cgroup`). Reads /proc and
    /// changes nothing: the hostname and interfaces are read by forked children that
    /// join the process's namespace with setns(2). As a user, what needs root to read
    /// (another user's namespaces, its root) shows as `unreadable (needs root)`. Exit 2
    /// when the process or container does not exist, 3 when even its status is closed.
    #[command(after_help = examples(INSPECT_EXAMPLES))]
    Inspect(InspectArgs),
    /// Generate the book's lesson chapters (book/src/lessons/) from the lessons and real
    /// runs of them, or check that they are up to date.
    ///
    /// Each chapter is rendered from lessons/NN-id.toml, a capture of a real run of it
    /// (book/captures/NN-id.txt: `run NN-id --yes --no-color` at 80 columns, as root, with
    /// a progress file and run directory of its own) and optional notes
    /// (book/notes/NN-id.md). A lesson whose capture is missing or older than the lesson
    /// file (or every one named, with --recapture) is run again first: that needs root
    /// (exit 3 otherwise, nothing written). A failed run writes nothing and exits with its
    /// status. SUMMARY.md's list of lessons is rewritten; the rest of it is kept.
    ///
    /// --check runs nothing and writes nothing: exit 0 with one line when every chapter is
    /// what its lesson, capture and notes make, 1 naming each problem and its fix.
    #[command(after_help = examples(BOOK_EXAMPLES))]
    Book(BookArgs),
    /// Print a shell completion script (bash, zsh or fish).
    ///
    /// The script goes to stdout: see the examples for where to put it. Besides the
    /// commands and flags it completes lesson ids and recipe names: those there are when
    /// the script is made, so make it again after adding one.
    #[command(after_help = examples(COMPLETIONS_EXAMPLES))]
    Completions {
        /// The shell to complete in.
        shell: CompletionShell,
    },
}

/// The shells `fromscratch completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    /// GNU bash (with or without the bash-completion package).
    Bash,
    /// zsh, through its compinit completion system.
    Zsh,
    /// fish.
    Fish,
}

/// `fromscratch run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Lesson id, number or file: `02-chroot`, `2`, `lessons/02-chroot.toml`.
    pub lesson: String,
    /// Run every step without pausing.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Rootfs recipe to use instead of the lesson's own (a name or a .toml path).
    #[arg(long, value_name = "RECIPE")]
    pub rootfs: Option<String>,
    /// Also record everything the lesson prints to FILE.cast, an asciicast v2 file that
    /// `asciinema play` replays.
    #[arg(long, value_name = "FILE.cast", value_hint = ValueHint::FilePath)]
    pub record: Option<PathBuf>,
    /// Write the lesson as run to FILE in FORMAT (only `md`: Markdown with each step's
    /// explanation, command and real output): `--export md 02-chroot.md`.
    #[arg(long, num_args = 2, value_names = ["FORMAT", "FILE"])]
    pub export: Option<Vec<String>>,
}

/// `fromscratch inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The process, by its PID on the host.
    #[arg(
        value_parser = clap::value_parser!(i32).range(1..),
        required_unless_present_any = ["container", "diff"],
        conflicts_with_all = ["container", "diff"]
    )]
    pub pid: Option<i32>,
    /// A container of a lab running on this host, by the name its lesson gives it (`c`):
    /// found through the labs' state files in the run directory.
    #[arg(long, value_name = "NAME", conflicts_with = "diff")]
    pub container: Option<String>,
    /// Compare two processes: the namespaces they share and do not, whether their root
    /// and cgroups are the same, and every other field that differs.
    #[arg(long, num_args = 2, value_names = ["PID1", "PID2"], value_parser = clap::value_parser!(i32).range(1..))]
    pub diff: Option<Vec<i32>>,
    /// Print JSON instead (the fields: book/src/reference/inspect.md).
    #[arg(long)]
    pub json: bool,
}

/// `fromscratch book`.
#[derive(Debug, Args)]
pub struct BookArgs {
    /// Lessons to capture again when stale (ids, numbers or names: `02-chroot`, `2`,
    /// `chroot`); all of them when none is given. Every chapter is rendered either way.
    pub lessons: Vec<String>,
    /// Run nothing and write nothing: fail (exit 1) when a capture is missing or older
    /// than its lesson, a chapter differs from what it would be, or notes are malformed.
    #[arg(long, conflicts_with_all = ["lessons", "recapture"])]
    pub check: bool,
    /// Run the lessons (those named, or all) again even when their captures are up to
    /// date (as root).
    #[arg(long)]
    pub recapture: bool,
}

/// `fromscratch present`.
#[derive(Debug, Args)]
pub struct PresentArgs {
    /// Lesson id, number or file: `02-chroot`, `2`, `lessons/02-chroot.toml`.
    pub lesson: String,
    /// Rootfs recipe to use instead of the lesson's own (a name or a .toml path).
    #[arg(long, value_name = "RECIPE")]
    pub rootfs: Option<String>,
    /// Also record the presentation to FILE.cast, an asciicast v2 file that
    /// `asciinema play` replays.
    #[arg(long, value_name = "FILE.cast")]
    pub record: Option<PathBuf>,
    /// Milliseconds per character when a command is typed on screen (default 18 on a
    /// terminal, 0 otherwise; 0 shows it at once).
    #[arg(long, value_name = "N")]
    pub typing_ms: Option<u64>,
}

/// `fromscratch rootfs …`.
#[derive(Debug, Subcommand)]
pub enum RootfsCommand {
    /// Build a rootfs from a recipe (or take it from the cache); prints its directory last.
    #[command(after_help = examples(ROOTFS_BUILD_EXAMPLES))]
    Build {
        /// Recipe name (`host`, `busybox`, `debian`, `debian-debootstrap`, `fedora`) or path
        /// to a recipe file (any builder: also `oci-archive` and `docker-archive`).
        recipe: String,
        /// Rebuild even if a cached tree exists.
        #[arg(long)]
        force: bool,
    },
    /// List the cached rootfs trees.
    #[command(after_help = examples(ROOTFS_LIST_EXAMPLES))]
    List,
    /// Remove cached trees of a recipe (or one tree, by hash).
    #[command(after_help = examples(ROOTFS_RM_EXAMPLES))]
    Rm {
        /// Recipe name or hash.
        recipe: String,
    },
}

/// `fromscratch cleanup`.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Change nothing: name what is left (exit 1 if anything is, 0 when clean).
    #[arg(long)]
    pub check: bool,
    /// With --check: write a snapshot of the host (mounts, processes, links, network
    /// namespaces, cgroups, the lab's files) to FILE as JSON, to compare with later.
    #[arg(long, value_name = "FILE", requires = "check", conflicts_with = "against", value_hint = ValueHint::FilePath)]
    pub save: Option<PathBuf>,
    /// With --check: compare the host now with the snapshot in FILE and name every
    /// difference (exit 1 if any).
    #[arg(long, value_name = "FILE", requires = "check", value_hint = ValueHint::FilePath)]
    pub against: Option<PathBuf>,
}

/// `fromscratch spawn`.
#[derive(Debug, Args)]
pub struct SpawnArgs {
    /// New PID namespace; the command (or the init) is PID 1. The fork is implied.
    #[arg(long, short = 'p')]
    pub pid: bool,
    /// New mount namespace, with `/` made private first.
    #[arg(long, short = 'm')]
    pub mount: bool,
    /// Mount a fresh /proc inside the rootfs (implies --mount).
    #[arg(long)]
    pub mount_proc: bool,
    /// New UTS namespace (hostname).
    #[arg(long, short = 'u')]
    pub uts: bool,
    /// New IPC namespace.
    #[arg(long, short = 'i')]
    pub ipc: bool,
    /// New network namespace (only `lo`, down).
    #[arg(long, short = 'n')]
    pub net: bool,
    /// Set this hostname (needs --uts).
    #[arg(long, requires = "uts")]
    pub hostname: Option<String>,
    /// Run our small init as PID 1, the command as its child (reaps zombies, forwards
    /// SIGINT/SIGTERM), as `docker run --init` does.
    #[arg(long)]
    pub init: bool,
    /// Print the syscalls made, with their results, to stderr.
    #[arg(long)]
    pub trace: bool,
    /// The rootfs to chroot into: a directory, or a recipe name (`host`, `busybox`,
    /// `debian`…) built or taken from the cache.
    #[arg(long, value_name = "DIR|RECIPE", value_hint = ValueHint::DirPath)]
    pub rootfs: PathBuf,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_hint = ValueHint::CommandWithArguments)]
    pub command: Vec<String>,
}

/// An `Examples:` section for `after_help`: the heading styled as clap styles its own
/// (`Usage:`, `Options:`; plain when colour is off), then `body`, one indented command
/// line per line, most with a `#` comment saying what it does.
fn examples(body: &str) -> StyledStr {
    let h = Styles::default().get_header().to_owned();
    let body = body.trim_start_matches('\n').trim_end();
    StyledStr::from(format!("{h}Examples:{h:#}\n{body}"))
}

// The examples. Each line runs as shown (as root where the command needs it) and stays
// under 78 columns, so that clap, which wraps help to the terminal, never breaks one.

const EXAMPLES: &str = "
  fromscratch                         # the lab: `start 1`, Enter runs a step
  fromscratch list                    # the lessons
  fromscratch run 02-chroot           # one lesson, pausing before each step
  fromscratch tour                    # lessons 01-04, unattended
  fromscratch rootfs build host       # a rootfs of this machine's binaries
  fromscratch --no-color check        # validate the lessons, no colour
  fromscratch --record lab.cast       # the lab, recorded for `asciinema play`
  fromscratch completions bash > /etc/bash_completion.d/fromscratch
";

const LIST_EXAMPLES: &str = "
  fromscratch list                    # each lesson: id, your progress, title
  FROMSCRATCH_DATA=~/my-lab fromscratch list   # the lessons of another folder
";

const RUN_EXAMPLES: &str = "
  fromscratch run 02-chroot           # pauses before each step: Enter runs it
  fromscratch run 2 --yes             # every step, without pausing
  fromscratch run chroot -y           # the id without its number works too
  fromscratch run 01 --rootfs busybox # lesson 01 on the busybox tree
  fromscratch run 02 -y --record 02.cast    # then: asciinema play 02.cast
  fromscratch run 02 -y --export md 02.md   # the lesson as run, in Markdown
  fromscratch run ./my-lesson.toml    # a lesson file of your own
";

const BOOK_EXAMPLES: &str = "
  fromscratch book --check            # chapters up to date? (no root)
  sudo fromscratch book               # run stale lessons, render all
  sudo fromscratch book 02            # after editing lessons/02-chroot.toml
  fromscratch book                    # after editing book/notes/ only
  sudo fromscratch book --recapture   # run every lesson again
";

const PRESENT_EXAMPLES: &str = "
  fromscratch present 04              # lesson 04, a screen per step
  fromscratch present 2 --typing-ms 0 # commands appear at once
  fromscratch present 04 --record talk.cast   # replay with asciinema play
";

const TOUR_EXAMPLES: &str = "
  fromscratch tour                    # lessons 01-04 on each lesson's rootfs
  fromscratch tour --rootfs debian    # all four on Debian bookworm (network)
";

const ROOTFS_EXAMPLES: &str = "
  fromscratch rootfs build host       # this machine's binaries, offline
  fromscratch rootfs list             # the cached trees
  fromscratch rootfs rm host          # remove every cached tree of `host`
";

const ROOTFS_BUILD_EXAMPLES: &str = "
  fromscratch rootfs build host       # prints the tree's directory last
  fromscratch rootfs build busybox    # static busybox and its applet links
  fromscratch rootfs build debian --force   # rebuild bookworm (network)
  fromscratch rootfs build ./image.toml     # a recipe file of your own
  ROOTFS=$(fromscratch rootfs build host | tail -n 1)   # for a script
";

const ROOTFS_LIST_EXAMPLES: &str = "
  fromscratch rootfs list             # NAME, BUILDER, SIZE, AGE, PATH
";

const ROOTFS_RM_EXAMPLES: &str = "
  fromscratch rootfs rm host          # every cached tree of the recipe
  fromscratch rootfs rm 68c32c1b77927650    # one tree, by its hash
";

const CHECK_EXAMPLES: &str = "
  fromscratch check                   # every lesson and recipe
  fromscratch check lessons/02-chroot.toml  # one file; exit 2 on a problem
  fromscratch check my-lesson.toml rootfs-recipes/host.toml
";

const CLEANUP_EXAMPLES: &str = "
  fromscratch cleanup                 # after a `kill -9`: processes, scratch
  fromscratch cleanup --check         # what is left, changing nothing; exit 1
  fromscratch cleanup --check --save before.json   # a snapshot of the host
  fromscratch cleanup --check --against before.json   # what changed since
";

const SPAWN_EXAMPLES: &str = r#"
  fromscratch spawn --pid --mount-proc --rootfs host -- ps ax   # PID 1 is ps
  fromscratch spawn -p --mount-proc --init --rootfs host -- sh -c 'echo $$'
  fromscratch spawn --uts --hostname lab --rootfs host -- hostname   # lab
  fromscratch spawn --trace --pid --rootfs busybox -- true   # the syscalls
  fromscratch spawn --rootfs "$ROOTFS" -- ls /   # a directory: rootfs build
"#;

const DOCTOR_EXAMPLES: &str = "
  fromscratch doctor                  # what runs here; exit 3: no tour
  fromscratch doctor --verbose        # each row with its fix and full message
  fromscratch doctor --json | jq .report.exit_code   # for a script
";

const INSPECT_EXAMPLES: &str = "
  sudo fromscratch inspect 1          # the host's PID 1: all shared
  fromscratch inspect 4242            # as a user: your own process in full
  sudo fromscratch inspect --container c    # container c of a running lab
  sudo fromscratch inspect --diff 4242 4243 # what two processes share
  sudo fromscratch inspect 4242 --json | jq .namespaces.pid
";

const COMPLETIONS_EXAMPLES: &str = "
  source <(fromscratch completions bash)    # this bash session only
  fromscratch completions bash > /etc/bash_completion.d/fromscratch
  fromscratch completions zsh > ~/.zfunc/_fromscratch   # fpath+=(~/.zfunc)
  fromscratch completions fish > ~/.config/fish/completions/fromscratch.fish
";
