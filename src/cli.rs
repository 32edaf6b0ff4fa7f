//! The command line. The doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A terminal lab that builds a container from nothing, one real syscall at a time.
///
/// With no command, starts the interactive lab (REPL). Exit codes: 0 success, 1 a step's
/// check failed, 2 bad input (file, flag, recipe), 3 the host cannot do it, 130/143 after
/// Ctrl-C/SIGTERM (everything the lab started is stopped first).
#[derive(Debug, Parser)]
#[command(name = "fromscratch", version, propagate_version = true)]
pub struct Cli {
    /// Never colour the output (also: the NO_COLOR environment variable).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Also record everything the lab prints to FILE.cast, an asciicast v2 file that
    /// `asciinema play` replays (the REPL, or the command that follows; not `spawn`).
    #[arg(long, value_name = "FILE.cast")]
    pub record: Option<PathBuf>,
    /// What to do; none starts the interactive lab.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the lessons.
    List,
    /// Run one lesson in the terminal, step by step.
    Run(RunArgs),
    /// Present one lesson on a projector: a clean screen per step, the command typed, keys
    /// to go on, back and re-run.
    ///
    /// Keys: Space, Enter, → or n run the step, then go on to the next; ← or b go back a
    /// step (the lab is rebuilt up to there); r runs the step again; q or Esc quit. With
    /// stdin not a terminal it reads lines instead: an empty line or n, b, r, q. The lab is
    /// torn down on quit, Ctrl-C and SIGTERM.
    Present(PresentArgs),
    /// Run lessons 01 to 04 in order, unattended, on the default rootfs: the classic story.
    Tour {
        /// Rootfs recipe to use instead of each lesson's own (a name or a .toml path).
        #[arg(long, value_name = "RECIPE")]
        rootfs: Option<String>,
    },
    /// Build, list or remove rootfs trees.
    #[command(subcommand)]
    Rootfs(RootfsCommand),
    /// Validate lesson and recipe files (all of them when no path is given).
    Check {
        /// Lesson or recipe files.
        paths: Vec<PathBuf>,
    },
    /// Remove what an interrupted or killed run left behind (processes, scratch files).
    Cleanup,
    /// Run a command in a new container, the way the lessons do (flags as in unshare(1)).
    Spawn(SpawnArgs),
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
    #[arg(long, value_name = "FILE.cast")]
    pub record: Option<PathBuf>,
    /// Write the lesson as run to FILE in FORMAT (only `md`: Markdown with each step's
    /// explanation, command and real output): `--export md 02-chroot.md`.
    #[arg(long, num_args = 2, value_names = ["FORMAT", "FILE"])]
    pub export: Option<Vec<String>>,
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
    Build {
        /// Recipe name (`host`, `busybox`, `debian`, `debian-debootstrap`, `fedora`) or path
        /// to a recipe file (any builder: also `oci-archive` and `docker-archive`).
        recipe: String,
        /// Rebuild even if a cached tree exists.
        #[arg(long)]
        force: bool,
    },
    /// List the cached rootfs trees.
    List,
    /// Remove cached trees of a recipe (or one tree, by hash).
    Rm {
        /// Recipe name or hash.
        recipe: String,
    },
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
    #[arg(long, value_name = "DIR|RECIPE")]
    pub rootfs: PathBuf,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}
