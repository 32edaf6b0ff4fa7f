//! Running a lesson's steps: explain, before, action, syscalls, after, difference, checks.
//!
//! The runner owns the [`Lab`] for one lesson; the REPL, `run` and `tour` all drive it.
//! Every action is typed (see `lesson::format::ActionDef`) and performed by the runtime
//! with real syscalls; nothing is handed to a shell except the commands a lesson runs
//! *inside* a container, which the learner sees before they run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Classify, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_HOST_CANNOT};
use crate::lab::{Lab, LabError};
use crate::lesson::{self, ActionDef, ContainerDef, ExpectDef, Lesson, ProbeDef, StepDef};
use crate::observe::{self, Context, DiffLine, Verdict};
use crate::runtime::security::{self, Security};
use crate::runtime::spawn::{self, Stdio};
use crate::runtime::{ContainerSpec, Namespaces, RuntimeError};
use crate::term;
use nix::sys::signal::Signal;

/// How long an `exec` action may run.
pub const ACTION_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of a probe's output shown before it is cut (checks always see all of it).
pub const SHOWN_LINES: usize = 12;

/// Why a lesson could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The lab or runtime failed.
    #[error(transparent)]
    Lab(#[from] LabError),
    /// The runtime failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The rootfs could not be built.
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
    /// The host lacks something the lesson needs.
    #[error("{0}")]
    HostCannot(String),
    /// Bad input at run time (a path leaving the lab, a missing file to copy).
    #[error("{0}")]
    BadInput(String),
    /// Writing to the terminal failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl RunError {
    /// True when the step stopped because Ctrl-C, SIGTERM or SIGHUP arrived, however the
    /// error was wrapped on its way up.
    #[must_use]
    pub fn is_interrupted(&self) -> bool {
        matches!(
            self,
            Self::Runtime(RuntimeError::Interrupted)
                | Self::Lab(LabError::Runtime(RuntimeError::Interrupted))
        )
    }
}

impl Classify for RunError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Lab(e) => e.exit_code(),
            Self::Runtime(e) => e.exit_code(),
            Self::Rootfs(e) => e.exit_code(),
            Self::HostCannot(_) => EXIT_HOST_CANNOT,
            Self::BadInput(_) => EXIT_BAD_INPUT,
            Self::Output(_) => EXIT_CHECK_FAILED,
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, Default)]
pub struct StepReport {
    /// Every check held.
    pub passed: bool,
    /// The checks, in order.
    pub verdicts: Vec<Verdict>,
    /// Syscalls made by the action.
    pub trace: Vec<String>,
}

/// One lesson in progress.
pub struct Runner {
    /// The lesson.
    pub lesson: Lesson,
    /// Its live state.
    pub lab: Lab,
    /// The recipe the rootfs is built from.
    pub recipe: String,
    /// Index of the next step to run.
    pub next: usize,
    /// Reports of steps run, by index.
    pub reports: Vec<Option<StepReport>>,
    /// Show each step's `why` after it (unattended runs).
    pub show_why: bool,
    /// The step whose explanation was last shown and has not run yet.
    intro_shown: Option<usize>,
    /// Type a challenge's reference solution when its step runs (`run`, `tour`,
    /// `present`, replays); the REPL turns this off and hands the learner a shell.
    pub auto_solve: bool,
    /// The challenge step waiting for the learner (its setup has run).
    pub open_challenge: Option<usize>,
    /// How many of the open challenge's hints have been shown.
    pub hints_shown: usize,
    /// The open challenge's solution has been shown.
    pub solution_seen: bool,
    /// Delay per character when a solution line is shown as if typed (0: at once).
    pub typing: Duration,
    /// Challenge shells opened so far (numbers their session marks).
    pub(crate) sessions: u32,
    /// Records each step run in the learner's progress file.
    pub progress: crate::progress::Recorder,
}

impl Runner {
    /// Check the host can run `lesson`, then open a lab for it.
    ///
    /// # Errors
    /// Not root when the lesson needs it, a missing host tool, or the lab cannot start.
    pub fn new(lesson: Lesson, recipe: Option<&str>) -> Result<Self, RunError> {
        preflight(&lesson)?;
        let recipe = recipe.map_or_else(|| lesson.def.requires.rootfs.clone(), str::to_string);
        // An unknown or malformed recipe is bad input: say so before step 1, not after.
        crate::rootfs::load_recipe(&crate::rootfs::find_recipe(&recipe)?)?;
        let n = lesson.def.steps.len();
        Ok(Self {
            lesson,
            lab: Lab::new()?,
            recipe,
            next: 0,
            reports: vec![None; n],
            show_why: false,
            intro_shown: None,
            auto_solve: true,
            open_challenge: None,
            hints_shown: 0,
            solution_seen: false,
            typing: Duration::ZERO,
            sessions: 0,
            progress: crate::progress::Recorder::default(),
        })
    }

    /// Number of steps.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lesson.def.steps.len()
    }

    /// True when the lesson has no steps (never, once validated).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Build or fetch the rootfs from the cache, once.
    ///
    /// # Errors
    /// The recipe is unknown or the build failed.
    pub fn ensure_rootfs(&mut self, out: &mut dyn Write) -> Result<PathBuf, RunError> {
        if let Some(r) = &self.lab.rootfs {
            return Ok(r.clone());
        }
        let path = crate::rootfs::find_recipe(&self.recipe)?;
        let recipe = crate::rootfs::load_recipe(&path)?;
        let quiet = !std::io::IsTerminal::is_terminal(&std::io::stdout());
        // The builder's lines are indented like the rest of a step's output, as they come.
        let mut indented = term::Indent::new(out, "  ");
        let built = crate::rootfs::build(
            &recipe,
            &crate::rootfs::BuildOptions {
                quiet,
                force: false,
            },
            &mut indented,
        )?;
        // Whatever the cache holds, the lab never takes `/` or a host system directory
        // for its rootfs (a cache entry or cache directory that is a symlink out).
        let path = crate::commands::confine_rootfs(&built.path)
            .map_err(|f| RunError::BadInput(f.message))?;
        self.lab.rootfs = Some(path.clone());
        Ok(path)
    }

    /// Make sure the rootfs exists before step `idx` is shown (so `{rootfs}` in its text
    /// resolves), unless the lesson builds it itself in a `build_rootfs` step (lesson 01),
    /// where the learner watches the build happen.
    ///
    /// # Errors
    /// The rootfs build failed.
    pub fn prepare(&mut self, idx: usize, out: &mut dyn Write) -> Result<(), RunError> {
        let _ = idx;
        let builds_itself = self
            .lesson
            .def
            .steps
            .iter()
            .any(|s| matches!(s.action, ActionDef::BuildRootfs {}));
        if self.lab.rootfs.is_none() && !builds_itself {
            self.ensure_rootfs(out)?;
        }
        Ok(())
    }

    /// Resolve a template name to its value, if known now.
    fn resolve(&self, t: &str) -> Option<String> {
        match t {
            "rootfs" => self.lab.rootfs.as_ref().map(|p| p.display().to_string()),
            "lab" => Some(self.lab.scratch.display().to_string()),
            // This program's own file, for probes that run `fromscratch inspect`.
            "fromscratch" => std::env::current_exe()
                .ok()
                .map(|p| p.display().to_string()),
            _ => {
                if let Some(n) = t.strip_prefix("cgroup.") {
                    let (n, ctrl) = match n.rsplit_once('.') {
                        Some((n, c)) => (n, Some(c)),
                        None => (n, None),
                    };
                    let cg = self.lab.cgroup_of(n)?;
                    let dir = match ctrl {
                        Some(c) => cg.dir_for(c).map(|d| d.path.as_path()),
                        None => cg.main_dir(),
                    };
                    dir.map(|d| d.display().to_string())
                } else if let Some(n) = t.strip_prefix("decoy.") {
                    self.lab.any_process(n).map(|d| d.child.to_string())
                } else if let Some(n) = t.strip_prefix("fault.") {
                    self.lab.fault_of(n).map(str::to_string)
                } else if let Some(n) = t.strip_prefix("container.") {
                    self.lab.any_process(n).map(|c| c.pid1.to_string())
                } else if let Some(n) = t.strip_prefix("unprivileged.") {
                    crate::lab::unprivileged::template(n)
                } else {
                    None
                }
            }
        }
    }

    /// Expand templates in one string.
    #[must_use]
    pub fn expand(&self, s: &str) -> String {
        lesson::expand(s, &|t| self.resolve(t))
    }

    fn expand_all(&self, v: &[String]) -> Vec<String> {
        v.iter().map(|s| self.expand(s)).collect()
    }

    /// The context a probe or shell named `name` runs in: `host`, `rootfs` or a running
    /// container.
    ///
    /// # Errors
    /// The rootfs is not built yet, or no container of that name is running.
    pub fn context_of(&self, name: &str) -> Result<Context, RunError> {
        match name {
            "host" => Ok(Context::Host),
            "rootfs" => Ok(Context::Chroot(self.lab.rootfs.clone().ok_or_else(
                || {
                    RunError::BadInput(
                        "this probe runs in the rootfs, which no step has built yet".into(),
                    )
                },
            )?)),
            c => self
                .lab
                .container(c)
                .map(|l| Context::Container {
                    name: c.to_string(),
                    pid1: l.pid1,
                })
                .ok_or_else(|| {
                    RunError::Lab(LabError::UnknownName {
                        name: c.to_string(),
                    })
                }),
        }
    }

    fn root_dir(&self, root: &str) -> Result<Option<PathBuf>, RunError> {
        match root {
            "host" => Ok(None),
            "rootfs" => {
                Ok(Some(self.lab.rootfs.clone().ok_or_else(|| {
                    RunError::BadInput("no rootfs built yet".into())
                })?))
            }
            r => {
                let d = r.strip_prefix("lab:").ok_or_else(|| {
                    RunError::BadInput(format!("root `{r}` is not rootfs, host or lab:DIR"))
                })?;
                Ok(Some(self.lab.scratch_path(d)?))
            }
        }
    }

    /// The runtime spec for a container definition; `name` names its overlay's
    /// directory (`{lab}/overlay-NAME`), made here, empty on the host side.
    fn spec(&self, c: &ContainerDef, name: &str) -> Result<ContainerSpec, RunError> {
        let overlay = if c.overlay {
            let base = self.lab.scratch_path(&format!("overlay-{name}"))?;
            std::fs::create_dir_all(&base).map_err(|e| {
                RunError::HostCannot(format!(
                    "cannot make the overlay's directory {}: {e}",
                    base.display()
                ))
            })?;
            Some(base)
        } else {
            None
        };
        let root = self.root_dir(&c.root)?;
        // Every container on the lesson's (cached, shared) rootfs sees it read-only.
        let protect = self
            .lab
            .rootfs
            .clone()
            .filter(|r| c.root == "rootfs" && root.as_ref() == Some(r));
        Ok(ContainerSpec {
            protect,
            overlay,
            volumes: self.volumes_of(c, root.as_deref())?,
            share: self.share_of(c)?,
            root,
            namespaces: Namespaces {
                pid: c.pid,
                mount: c.mount,
                uts: c.uts,
                ipc: c.ipc,
                net: c.net,
            },
            mount_proc: c.mount_proc,
            init: c.init,
            hostname: c.hostname.clone(),
            command: self.expand_all(&c.command),
            guard: true,
            env: Vec::new(),
            security: Security::new(c.no_new_privs, &c.cap_drop, &c.seccomp_deny)
                .map_err(|e| RunError::BadInput(e.to_string()))?,
            pivot_root: c.pivot_root,
            cgroup_procs: Vec::new(),
            minimal_dev: false,
            // Not root: only a lesson with `root = false` gets here (see `preflight`).
            user: crate::runtime::userns::rootless(),
            unprivileged: false,
        })
    }

    /// Make the cgroup a container, `exec` or `cgroup` action asks for (named `name`),
    /// show where it is, and return its `cgroup.procs` files and the syscalls made.
    fn make_cgroup(
        &mut self,
        name: &str,
        memory_max: Option<&str>,
        pids_max: Option<u64>,
        parent: bool,
        out: &mut dyn Write,
    ) -> Result<(Vec<PathBuf>, Vec<String>), RunError> {
        let memory_max = memory_max
            .map(crate::runtime::cgroup::parse_size)
            .transpose()
            .map_err(|e| RunError::BadInput(format!("cgroup `{name}`: memory_max {e}")))?;
        let limits = crate::runtime::cgroup::Limits {
            memory_max,
            pids_max,
        };
        let (cg, trace) = self.lab.cgroup(name, limits, parent)?;
        for d in &cg.dirs {
            let what = if d.serves.is_empty() {
                if d.v2 {
                    "v2: cgroup.procs, cgroup.events, cgroup.kill".to_string()
                } else {
                    String::new()
                }
            } else {
                format!(
                    "{}{}",
                    if d.v2 { "v2: " } else { "v1: " },
                    d.serves.join(", ")
                )
            };
            writeln!(out, "  cgroup `{name}`: {} ({what})", d.path.display())?;
        }
        Ok((cg.procs_files(), trace))
    }

    /// One line with a cgroup's event counters, after a command ran in it.
    fn show_events(&self, name: &str, out: &mut dyn Write) -> std::io::Result<()> {
        let Some(cg) = self.lab.cgroup_of(name) else {
            return Ok(());
        };
        let ev = cg.events();
        let mut parts = Vec::new();
        if let Some(d) = cg.dir_for("memory") {
            let f = if d.v2 {
                "memory.events"
            } else {
                "memory.oom_control"
            };
            parts.push(format!("oom_kill {} ({f})", ev.oom_kill));
        }
        if cg.dir_for("pids").is_some() {
            parts.push(format!("max {} (pids.events)", ev.pids_max));
        }
        writeln!(
            out,
            "  {}",
            term::dim(&format!("cgroup `{name}` events: {}", parts.join(", ")))
        )
    }

    /// The learner-facing shell command equivalent to a container definition; `name`
    /// is the container's (or the `exec` step's id), which names its overlay directory
    /// and its cgroup by default. A command a learner can paste as shown (tests run
    /// them): an overlay root and volumes are mounted by a shell inside the new mount
    /// namespace before the chroot, a cgroup is entered first (see `lab::by_hand`).
    #[must_use]
    pub fn equivalent_of(&self, c: &ContainerDef, name: &str) -> String {
        self.by_hand(c, name, false)
    }

    /// [`Runner::equivalent_of`] for a container the lab starts and leaves running (a
    /// `start` action): the line ends in `&`, and with a PID namespace unshare(1) gets
    /// `--kill-child`, as the lab's PID 1 dies with its parent (PR_SET_PDEATHSIG), so
    /// that `kill -KILL $!` ends the whole container (unshare --fork blocks SIGTERM and
    /// SIGINT, and without `--kill-child` its child outlives it).
    #[must_use]
    pub fn start_equivalent_of(&self, c: &ContainerDef, name: &str) -> String {
        let eq = self.by_hand(c, name, true);
        match eq.split_once("   # ") {
            Some((cmd, note)) => format!("{cmd} &   # {note}"),
            None => format!("{eq} &"),
        }
    }

    /// The note on the lab's init, when `c` has one: PID 1 only in a PID namespace.
    fn init_note(c: &ContainerDef) -> Option<String> {
        if !c.init {
            return None;
        }
        Some(match (c.pid, c.command.is_empty()) {
            (true, true) => {
                "the lab's init is PID 1 and holds it open (as `docker run --init`); by hand `sleep infinity` does".to_string()
            }
            (true, false) => "with the lab's init as PID 1, as `docker run --init`".to_string(),
            (false, true) => {
                "the lab's init (not PID 1: no PID namespace) holds it open; by hand `sleep infinity` does".to_string()
            }
            (false, false) => {
                "run by the lab's init (not PID 1: no PID namespace), as `docker run --init`".to_string()
            }
        })
    }

    fn by_hand(&self, c: &ContainerDef, name: &str, background: bool) -> String {
        let mut parts: Vec<String> = Vec::new();
        let volumes = !c.volumes.is_empty();
        // unshare --mount-proc=DIR mounts /proc before the command runs; with an overlay
        // root, DIR exists only once the shell below has mounted the overlay, so that
        // shell mounts /proc itself.
        // As a user, first a user namespace (`--map-root-user`, as the lab's holder); with
        // no PID namespace of its own it may not mount a new procfs (the host's PID
        // namespace is not its to show), so the host's /proc is bound instead, as the
        // runtime does.
        let rootless = crate::runtime::userns::rootless().is_some();
        let host_proc = rootless && c.mount_proc && !c.pid;
        let proc_by_unshare = c.mount_proc && !c.overlay && !host_proc;
        let ns = [
            ("--user --map-root-user", rootless),
            ("--pid", c.pid),
            (
                "--mount",
                (c.mount || c.overlay || volumes || c.mount_proc) && !proc_by_unshare,
            ),
            ("--uts", c.uts),
            ("--ipc", c.ipc),
            ("--net", c.net),
        ];
        let any_ns = c.pid
            || c.mount
            || c.mount_proc
            || c.uts
            || c.ipc
            || c.net
            || c.overlay
            || volumes
            || (rootless && self.root_dir(&c.root).ok().flatten().is_some());
        if any_ns {
            parts.push("unshare".into());
            parts.extend(
                ns.iter()
                    .filter(|(_, on)| *on)
                    .map(|(f, _)| (*f).to_string()),
            );
            if c.pid {
                parts.push("--fork".into());
                if background {
                    parts.push("--kill-child".into());
                }
            }
        }
        let lower = self.root_dir(&c.root).ok().flatten();
        let overlay_base = self.lab.scratch.join(format!("overlay-{name}"));
        let root = match &lower {
            Some(_) if c.overlay => Some(overlay_base.join("merged")),
            other => other.clone(),
        };
        if let Some(r) = root.as_ref().filter(|_| c.pivot_root) {
            return self.pivot_equivalent_of(c, name, r, background);
        }
        // Mounts made by a shell in the new mount namespace, before the chroot.
        let mut mounts = Vec::new();
        if let (true, Some(l)) = (c.overlay, &lower) {
            mounts.extend(crate::lab::by_hand::overlay_mounts(l, &overlay_base));
        }
        mounts.extend(self.volume_mount_lines(c, root.as_deref()));
        let mut chroot = Vec::new();
        if let Some(r) = &root {
            if proc_by_unshare {
                parts.push(format!("--mount-proc={}/proc", r.display()));
            } else if host_proc {
                mounts.push(format!(
                    "mount --rbind /proc {}",
                    term::shell_join(&[r.join("proc").display().to_string()])
                ));
            } else if c.mount_proc {
                mounts.push(format!(
                    "mount -t proc proc {}",
                    term::shell_join(&[r.join("proc").display().to_string()])
                ));
            }
            chroot.push("chroot".to_string());
            chroot.push(r.display().to_string());
        } else if c.mount_proc {
            parts.push("--mount-proc".into());
        }
        let s = parts.join(" ");
        let mut argv = self.expand_all(&c.command);
        if argv.is_empty() && c.init {
            // The lab's init holds the namespaces open with no command; by hand, a
            // command that never exits does.
            argv = vec!["sleep".to_string(), "infinity".to_string()];
        }
        let mut cmd = term::shell_join(&argv);
        if let Some(p) = security::setpriv_prefix(c.no_new_privs, &c.cap_drop) {
            cmd = format!("{p} {cmd}");
        }
        if let Some(h) = &c.hostname {
            // unshare(1) has no option for it: by hand, the hostname is set inside (after
            // unshare --uts and the chroot, where the runtime calls sethostname), then the
            // command replaces that shell.
            let set = format!("hostname {}", term::shell_join(std::slice::from_ref(h)));
            let inner = if cmd.is_empty() {
                set
            } else {
                format!("{set} && exec {cmd}")
            };
            cmd = term::shell_join(&["sh".to_string(), "-c".to_string(), inner]);
        }
        let inner = if chroot.is_empty() {
            cmd
        } else if cmd.is_empty() {
            chroot.join(" ")
        } else {
            format!("{} {cmd}", chroot.join(" "))
        };
        let inner = if mounts.is_empty() {
            inner
        } else {
            let script = format!("{} && exec {inner}", mounts.join(" && "));
            term::shell_join(&["sh".to_string(), "-c".to_string(), script])
        };
        let line = if s.is_empty() {
            inner
        } else {
            format!("{s} {inner}")
        };
        // Shared namespaces: nsenter(1) joins them first.
        let line = match self.nsenter_prefix(c) {
            Some(p) => format!("{p} {line}"),
            None => line,
        };
        // A cgroup: entered before anything else, as the lab's child does.
        let line = self.with_cgroup(c, name, &line);
        let mut notes = Vec::new();
        if let Some(n) = Self::init_note(c) {
            notes.push(n);
        }
        if let Some(note) = security::seccomp_note(&c.seccomp_deny) {
            notes.push(note);
        }
        if notes.is_empty() {
            line
        } else {
            format!("{line}   # {}", notes.join("; "))
        }
    }

    /// [`Runner::equivalent_of`] for a container with `pivot_root`: unshare(1), then a
    /// shell that binds, pivots and detaches before it execs the command (util-linux has
    /// no single command for it).
    fn pivot_equivalent_of(
        &self,
        c: &ContainerDef,
        name: &str,
        root: &std::path::Path,
        background: bool,
    ) -> String {
        let mut flags = vec!["unshare".to_string(), "--mount".to_string()];
        for (f, on) in [("--uts", c.uts), ("--ipc", c.ipc), ("--net", c.net)] {
            if on {
                flags.push(f.to_string());
            }
        }
        if c.pid {
            flags.extend(["--pid".to_string(), "--fork".to_string()]);
            if background {
                flags.push("--kill-child".to_string());
            }
        }
        // An overlay root and volumes are mounted first, as for a chroot.
        let mut script = Vec::new();
        if let (true, Ok(Some(lower))) = (c.overlay, self.root_dir(&c.root)) {
            let base = self.lab.scratch.join(format!("overlay-{name}"));
            script.extend(crate::lab::by_hand::overlay_mounts(&lower, &base));
        }
        script.extend(self.volume_mount_lines(c, Some(root)));
        script.extend(crate::runtime::pivot::by_hand(root, c.mount_proc));
        if let Some(h) = &c.hostname {
            script.push(format!(
                "hostname {}",
                term::shell_join(std::slice::from_ref(h))
            ));
        }
        let mut argv = self.expand_all(&c.command);
        if argv.is_empty() && c.init {
            argv = vec!["sleep".to_string(), "infinity".to_string()];
        }
        let cmd = term::shell_join(&argv);
        if !cmd.is_empty() {
            script.push(format!("exec {cmd}"));
        }
        flags.extend(["sh".to_string(), "-c".to_string(), script.join(" && ")]);
        let line = self.with_cgroup(c, name, &term::shell_join(&flags));
        match Self::init_note(c) {
            Some(n) => format!("{line}   # {n}"),
            None => line,
        }
    }

    /// Print a step's header and explanation.
    ///
    /// # Errors
    /// Output failed.
    pub fn show_intro(&mut self, idx: usize, out: &mut dyn Write) -> std::io::Result<()> {
        self.intro_shown = Some(idx);
        let step = &self.lesson.def.steps[idx];
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            term::title(&format!(
                "━━ Step {}/{} · {} ━━",
                idx + 1,
                self.len(),
                step.title
            ))
        )?;
        write!(out, "{}", term::wrap(&self.expand(&step.explain), 2))?;
        if let Some(ch) = &step.challenge {
            writeln!(out)?;
            write!(
                out,
                "{}",
                term::wrap(&format!("Challenge: {}", self.expand(&ch.goal)), 2)
            )?;
            return Ok(());
        }
        if let Some(eq) = &step.equivalent {
            writeln!(
                out,
                "  {} {}",
                term::dim("by hand:"),
                term::command(&self.expand(eq))
            )?;
        }
        Ok(())
    }

    /// Run step `idx` for real and print everything. Moves `next` past it.
    ///
    /// # Errors
    /// A runtime or lab failure (a failed *check* is not an error: see the report).
    pub fn run_step(&mut self, idx: usize, out: &mut dyn Write) -> Result<StepReport, RunError> {
        self.prepare(idx, out)?;
        let step = self.lesson.def.steps[idx].clone();
        // The REPL and a pausing `run` show the explanation before the learner says go;
        // do not repeat it.
        if self.intro_shown != Some(idx) {
            self.show_intro(idx, out)?;
        }
        self.intro_shown = None;
        let mut report = StepReport::default();
        let mut befores: Vec<(String, String)> = Vec::new();
        if !step.before.is_empty() {
            writeln!(out, "{}", term::heading("before"))?;
            for p in &step.before {
                let (output, v) = self.probe(p, out)?;
                befores.push((p.label.clone(), output));
                report.verdicts.extend(v);
            }
        }
        writeln!(
            out,
            "{}",
            term::heading(&format!("action: {}", step.action.kind()))
        )?;
        let (mut trace, v) = self.act(&step, out)?;
        report.verdicts.extend(v);
        // A test hook (lab/fault.rs); a challenge step typed by the lab has its own, later.
        if step.challenge.is_none() || !self.auto_solve {
            crate::lab::fault::step_point(idx);
        }
        // As a user: the first trace that joins the lab's user namespace shows first how
        // that namespace was made (its holder's unshare and the maps the lab wrote).
        if trace
            .iter()
            .any(|l| l.contains("/ns/user */, CLONE_NEWUSER)"))
        {
            trace.splice(0..0, crate::runtime::userns::take_holder_trace());
        }
        if !trace.is_empty() {
            writeln!(out, "{}", term::heading("syscalls made"))?;
            for l in &trace {
                writeln!(out, "  {}", term::dim(l))?;
            }
        }
        report.trace = trace;
        self.lab.reap();
        if !step.after.is_empty() {
            writeln!(out, "{}", term::heading("after"))?;
            let mut afters = Vec::new();
            for p in &step.after {
                let (output, v) = self.probe(p, out)?;
                afters.push((p.label.clone(), output));
                report.verdicts.extend(v);
            }
            for (label, after) in &afters {
                if let Some((_, before)) = befores.iter().find(|(l, _)| l == label) {
                    show_diff(label, before, after, out)?;
                }
            }
        }
        if step.challenge.is_some() {
            if self.auto_solve {
                writeln!(
                    out,
                    "{}",
                    term::heading("challenge: the lab types the reference solution")
                )?;
                let attempt = self.type_solution(idx, out)?;
                if !attempt.passed {
                    writeln!(out, "{}", term::heading("challenge: what is not yet true"))?;
                    attempt.show(out)?;
                }
                report
                    .verdicts
                    .extend(attempt.conditions.iter().map(|c| Verdict {
                        what: format!("challenge: {}", c.says),
                        ok: c.ok,
                    }));
            } else {
                self.open_challenge = Some(idx);
                self.hints_shown = 0;
                self.solution_seen = false;
                self.show_turn(idx, out)?;
                if !report.verdicts.is_empty() {
                    writeln!(out, "{}", term::heading("checks of the setup"))?;
                    for v in &report.verdicts {
                        let line = if v.ok {
                            term::ok(&v.what)
                        } else {
                            term::bad(&v.what)
                        };
                        writeln!(out, "  {line}")?;
                    }
                }
                self.next = idx;
                if crate::lab::interrupted() {
                    return Err(RuntimeError::Interrupted.into());
                }
                return Ok(report);
            }
        }
        if !report.verdicts.is_empty() {
            writeln!(out, "{}", term::heading("checks"))?;
            for v in &report.verdicts {
                writeln!(
                    out,
                    "  {}",
                    if v.ok {
                        term::ok(&v.what)
                    } else {
                        term::bad(&v.what)
                    }
                )?;
            }
        }
        report.passed = report.verdicts.iter().all(|v| v.ok);
        if !report.passed
            && let Some(h) = &step.hint
        {
            writeln!(out, "  {} {}", term::dim("hint:"), self.expand(h))?;
        }
        if self.show_why
            && let Some(w) = &step.why
        {
            writeln!(out, "{}", term::heading("why"))?;
            write!(out, "{}", term::wrap(&self.expand(w), 2))?;
            if !step.man.is_empty() {
                writeln!(out, "  {} {}", term::dim("see:"), step.man.join(", "))?;
            }
        }
        self.reports[idx] = Some(report.clone());
        self.next = idx + 1;
        // Never fails the step: a file that cannot be written is one dim warning.
        let (lesson_id, step_id) = (&self.lesson.def.id, &self.lesson.def.steps[idx].id);
        self.progress.step(lesson_id, step_id, report.passed, out);
        if crate::lab::interrupted() {
            return Err(RuntimeError::Interrupted.into());
        }
        Ok(report)
    }

    fn probe(
        &mut self,
        p: &ProbeDef,
        out: &mut dyn Write,
    ) -> Result<(String, Vec<Verdict>), RunError> {
        let ctx = self.context_of(&p.context)?;
        let argv = self.expand_all(&p.command);
        // An unprivileged probe says whom it runs as: its command has no setpriv.
        let who = if p.unprivileged {
            format!(
                " as uid {}",
                crate::runtime::unprivileged::Unprivileged::current().uid
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "  [{}{who}] {}",
            ctx.label(),
            term::command(&term::shell_join(&argv))
        )?;
        // Templates name things that do not change during a probe: resolve them now, so
        // the lab can be borrowed to reap between retries.
        let values: Vec<(String, Option<String>)> = p
            .expect
            .iter()
            .flat_map(|e| {
                e.contains
                    .iter()
                    .chain(&e.not_contains)
                    .chain(&e.matches)
                    .chain(&e.not_matches)
            })
            .flat_map(|s| lesson::templates(s))
            .map(|t| {
                let v = self.resolve(&t);
                (t, v)
            })
            .collect();
        let expand = |s: &str| {
            lesson::expand(s, &|t| {
                values
                    .iter()
                    .find(|(n, _)| n == t)
                    .and_then(|(_, v)| v.clone())
            })
        };
        let lab = &mut self.lab;
        let mut reap = || lab.reap();
        let (run, verdicts) = observe::run_checked_as(
            &ctx,
            &argv,
            p.unprivileged,
            p.expect.as_ref(),
            &expand,
            &mut reap,
        )?;
        show_output(&run.outcome, &salient(p.expect.as_ref(), &expand), out)?;
        let verdicts = verdicts
            .into_iter()
            .map(|v| Verdict {
                what: format!("{}: {}", p.label, v.what),
                ok: v.ok,
            })
            .collect();
        Ok((run.outcome.output, verdicts))
    }

    fn salient_of(&self, expect: Option<&ExpectDef>) -> Vec<regex::Regex> {
        salient(expect, &|s| self.expand(s))
    }

    fn check(&self, expect: Option<&ExpectDef>, outcome: &spawn::Outcome) -> Vec<Verdict> {
        expect
            .map(|e| observe::evaluate(e, outcome, &|s| self.expand(s)))
            .unwrap_or_default()
            .into_iter()
            .map(|v| Verdict {
                what: format!("action: {}", v.what),
                ok: v.ok,
            })
            .collect()
    }

    /// Perform the action; return its trace and verdicts.
    fn act(
        &mut self,
        step: &StepDef,
        out: &mut dyn Write,
    ) -> Result<(Vec<String>, Vec<Verdict>), RunError> {
        match &step.action {
            ActionDef::Observe {} => {
                writeln!(
                    out,
                    "  {}",
                    term::dim(if step.after.is_empty() && step.before.is_empty() {
                        "(no action: this step only explains)"
                    } else {
                        "(no action of its own: the probes below do the looking)"
                    })
                )?;
                Ok((Vec::new(), Vec::new()))
            }
            ActionDef::BuildRootfs {} => {
                let p = self.ensure_rootfs(out)?;
                writeln!(out, "  rootfs: {}", p.display())?;
                Ok((Vec::new(), Vec::new()))
            }
            ActionDef::ElfNeeds {
                program,
                root,
                expect,
            } => {
                let dir = self
                    .root_dir(root)?
                    .ok_or_else(|| RunError::BadInput("elf_needs needs a root".into()))?;
                writeln!(
                    out,
                    "  {}",
                    term::dim(&format!(
                        "PT_INTERP and DT_NEEDED of {program} (what `readelf -l` and `readelf -d` list), each followed inside {}:",
                        dir.display()
                    ))
                )?;
                let text = match crate::rootfs::elf::resolve_in_root(&dir, program) {
                    Ok(list) => {
                        let mut s = String::new();
                        for (name, found) in list {
                            match found {
                                Some(p) => s.push_str(&format!("{name} => {}\n", p.display())),
                                None => s.push_str(&format!("{name} => not found\n")),
                            }
                        }
                        if s.is_empty() {
                            s.push_str(&format!(
                                "{program}: statically linked: no interpreter, no libraries\n"
                            ));
                        }
                        s
                    }
                    Err(e) => format!("{e}\n"),
                };
                let outcome = spawn::Outcome {
                    code: 0,
                    signal: None,
                    output: text,
                };
                show_output(&outcome, &self.salient_of(expect.as_ref()), out)?;
                Ok((Vec::new(), self.check(expect.as_ref(), &outcome)))
            }
            ActionDef::MakeTree { dir, copy } => {
                let base = self.lab.scratch_path(dir)?;
                std::fs::create_dir_all(&base).map_err(|e| {
                    RunError::BadInput(format!("cannot create {}: {e}", base.display()))
                })?;
                for f in copy {
                    let src = Path::new(f);
                    if let Some(problem) = lesson::copy_path_problem(f) {
                        return Err(RunError::BadInput(format!(
                            "make_tree copy `{f}`: {problem}"
                        )));
                    }
                    let dst = base.join(f.trim_start_matches('/'));
                    // Belt and braces: the destination's parent, once created, must still be
                    // inside the tree (no symlink planted on the way), and the file new.
                    if dst.symlink_metadata().is_ok() {
                        return Err(RunError::BadInput(format!(
                            "make_tree: {} exists already",
                            dst.display()
                        )));
                    }
                    if let Some(parent) = dst.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| {
                            RunError::BadInput(format!("cannot create {}: {e}", parent.display()))
                        })?;
                    }
                    let parent_ok = dst
                        .parent()
                        .and_then(|p| p.canonicalize().ok())
                        .is_some_and(|p| base.canonicalize().is_ok_and(|b| p.starts_with(b)));
                    if !parent_ok {
                        return Err(RunError::BadInput(format!(
                            "make_tree: {} would leave the lab's tree",
                            dst.display()
                        )));
                    }
                    std::fs::copy(src, &dst).map_err(|e| {
                        RunError::BadInput(format!("cannot copy {f}: {e}; is it installed?"))
                    })?;
                    writeln!(
                        out,
                        "  {}",
                        term::command(&format!("cp {f} {}", dst.display()))
                    )?;
                }
                Ok((Vec::new(), Vec::new()))
            }
            ActionDef::Exec { expect, .. } => {
                let def = step.action.exec_container().unwrap_or_default();
                if def.root == "rootfs" {
                    self.ensure_rootfs(out)?;
                }
                let mut spec = self.spec(&def, &step.id)?;
                let mut cg_trace = Vec::new();
                let cg_name = def
                    .cgroup
                    .as_ref()
                    .map(|c| c.name.clone().unwrap_or_else(|| step.id.clone()));
                if let (Some(c), Some(n)) = (&def.cgroup, &cg_name) {
                    let (procs, t) =
                        self.make_cgroup(n, c.memory_max.as_deref(), c.pids_max, false, out)?;
                    spec.cgroup_procs = procs;
                    cg_trace = t;
                }
                writeln!(
                    out,
                    "  {}",
                    term::command(&self.equivalent_of(&def, &step.id))
                )?;
                let (outcome, mut sp) = spawn::run(&spec, observe::timeout_or_env(ACTION_TIMEOUT))?;
                cg_trace.append(&mut sp.trace);
                sp.trace = cg_trace;
                let mut outcome = outcome;
                if let Some((call, errno)) = &sp.setup_failure {
                    outcome.output.push_str(&format!(
                        "fromscratch: {}\n",
                        crate::runtime::error::explain_setup_failure(
                            call,
                            *errno,
                            spec.root.as_deref()
                        )
                    ));
                }
                if let Some((prog, errno)) = &sp.exec_failure {
                    outcome.output.push_str(&crate::lab::exec_failure_report(
                        prog,
                        *errno,
                        spec.root.as_deref(),
                    ));
                }
                show_output(&outcome, &self.salient_of(expect.as_ref()), out)?;
                if let Some(n) = &cg_name {
                    self.show_events(n, out)?;
                }
                Ok((sp.trace, self.check(expect.as_ref(), &outcome)))
            }
            ActionDef::Start { container } => {
                let def = self
                    .lesson
                    .def
                    .containers
                    .get(container)
                    .cloned()
                    .unwrap_or_default();
                if def.root == "rootfs" {
                    self.ensure_rootfs(out)?;
                }
                if def.runtime.as_deref() == Some("runc") {
                    return self.start_runc(container, &def, out);
                }
                let mut spec = self.spec(&def, container)?;
                let mut cg_trace = Vec::new();
                if let Some(c) = &def.cgroup {
                    let n = c.name.clone().unwrap_or_else(|| container.clone());
                    let (procs, t) =
                        self.make_cgroup(&n, c.memory_max.as_deref(), c.pids_max, false, out)?;
                    spec.cgroup_procs = procs;
                    cg_trace = t;
                }
                let eq = self.start_equivalent_of(&def, container);
                writeln!(out, "  {}", term::command(&eq))?;
                let (live, mut trace) = self.lab.start(container, &spec, false)?;
                writeln!(
                    out,
                    "  container `{container}` is running: {}",
                    live.describe()
                )?;
                cg_trace.append(&mut trace);
                Ok((cg_trace, Vec::new()))
            }
            ActionDef::ExecIn {
                container,
                command,
                expect,
            } => {
                let pid1 = self
                    .lab
                    .container(container)
                    .map(|c| c.pid1)
                    .ok_or_else(|| LabError::UnknownName {
                        name: container.clone(),
                    })?;
                let argv = self.expand_all(command);
                // Into the container's cgroup too, as `docker exec` does.
                let cg_name = self
                    .lesson
                    .def
                    .containers
                    .get(container)
                    .and_then(|c| c.cgroup.as_ref())
                    .map(|c| c.name.clone().unwrap_or_else(|| container.clone()));
                let procs = cg_name
                    .as_ref()
                    .and_then(|n| self.lab.cgroup_of(n))
                    .map(crate::runtime::cgroup::Cgroup::procs_files)
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  {}",
                    term::command(&Self::exec_in_by_hand(pid1.as_raw(), &argv, &procs))
                )?;
                let mut sp = spawn::join_in_cgroup(pid1, &argv, Stdio::Capture, &procs)?;
                let mut outcome =
                    spawn::wait_captured(&mut sp, observe::timeout_or_env(ACTION_TIMEOUT))?;
                if let Some((call, errno)) = &sp.setup_failure {
                    outcome.output.push_str(&format!(
                        "fromscratch: {}\n",
                        crate::runtime::error::explain_setup_failure(call, *errno, None)
                    ));
                }
                show_output(&outcome, &self.salient_of(expect.as_ref()), out)?;
                if let Some(n) = &cg_name {
                    self.show_events(n, out)?;
                }
                Ok((sp.trace, self.check(expect.as_ref(), &outcome)))
            }
            ActionDef::Decoy {
                name,
                command,
                notes_killer,
            } => {
                let argv = if command.is_empty() {
                    vec!["sleep".to_string(), "3600".to_string()]
                } else {
                    self.expand_all(command)
                };
                writeln!(
                    out,
                    "  {}",
                    term::command(&format!("{} &", term::shell_join(&argv)))
                )?;
                let shown = argv.clone();
                let spec = if *notes_killer {
                    // This binary, showing as `argv`, noting its killer (lab::decoy).
                    let exe = std::env::current_exe().map_err(|e| {
                        RunError::HostCannot(format!(
                            "cannot find this program's own file to start the decoy: {e}"
                        ))
                    })?;
                    let note = self.lab.scratch.join(format!("decoy-{name}.killer"));
                    let mut command = vec![exe.display().to_string()];
                    command.extend(argv.iter().cloned());
                    ContainerSpec {
                        command,
                        env: vec![(
                            crate::lab::decoy::NOTE_VAR.to_string(),
                            note.display().to_string(),
                        )],
                        ..Default::default()
                    }
                } else {
                    ContainerSpec {
                        command: argv.clone(),
                        ..Default::default()
                    }
                };
                let (live, trace) = self.lab.start(name, &spec, true)?;
                if *notes_killer {
                    // Say it runs only once it would note a kill.
                    let deadline = std::time::Instant::now() + Duration::from_secs(10);
                    while !crate::lab::decoy::is_ready(live.child, &shown)
                        && std::time::Instant::now() < deadline
                    {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
                writeln!(
                    out,
                    "  decoy `{name}` is running on the host as PID {} (the lab started it; only it is ever signalled)",
                    live.child
                )?;
                if *notes_killer {
                    writeln!(
                        out,
                        "  {}",
                        term::dim(
                            "(it is this program standing in for the command above: it notes the PID and root of whoever signals it)"
                        )
                    )?;
                }
                Ok((trace, Vec::new()))
            }
            ActionDef::Cgroup {
                name,
                memory_max,
                pids_max,
            } => {
                let (_, trace) =
                    self.make_cgroup(name, memory_max.as_deref(), *pids_max, true, out)?;
                Ok((trace, Vec::new()))
            }
            ActionDef::Stop { name } => {
                writeln!(out, "  stopping `{name}`")?;
                let trace = self.lab.stop(name)?;
                Ok((trace, Vec::new()))
            }
            ActionDef::Signal { name, signal } => {
                let sig: Signal = signal.parse().map_err(|_| {
                    RunError::BadInput(format!(
                        "`{signal}` is not a signal name; write it as signal(7) does, e.g. SIGTERM"
                    ))
                })?;
                let pid = self.lab.any_process(name).map(|p| p.pid1);
                if let Some(pid) = pid {
                    let short = sig.as_str().trim_start_matches("SIG");
                    writeln!(out, "  {}", term::command(&format!("kill -{short} {pid}")))?;
                }
                let trace = self.lab.signal(name, sig)?;
                Ok((trace, Vec::new()))
            }
            ActionDef::Net { ops } => Ok(crate::lab::net::act(&mut self.lab, ops, out)?),
        }
    }

    /// Tell the learner it is their turn on the open challenge of step `idx`: the goal,
    /// where `shell` opens, and the commands that help.
    ///
    /// # Errors
    /// Output failed.
    pub fn show_turn(&self, idx: usize, out: &mut dyn Write) -> std::io::Result<()> {
        let Some(ch) = self.challenge(idx) else {
            return Ok(());
        };
        let place = match self.challenge_context(idx) {
            Ok(Context::Host) => "as root on the host, in private mount, UTS, IPC and network namespaces of the lab's: mounts, hostnames and links made in them end with the shell, and the cached rootfs is read-only there; files, cgroups and other processes' namespaces you name are still the host's".to_string(),
            Ok(Context::Chroot(_)) => "chrooted into the rootfs".to_string(),
            Ok(Context::Container { name, .. }) => format!("inside container `{name}`"),
            Err(e) => format!("nowhere yet ({e})"),
        };
        writeln!(out, "{}", term::heading("your turn"))?;
        write!(
            out,
            "{}",
            term::wrap(&format!("Goal: {}", self.expand(&ch.goal)), 2)
        )?;
        write!(
            out,
            "{}",
            term::wrap(
                &format!(
                    "`shell` opens a shell {place}. Type real commands there, then `exit`: the lab looks at the machine while the shell is open and after it closes."
                ),
                2
            )
        )?;
        let tips = format!(
            "`hint` ({}) · `check` looks now · `solution` shows the answer · `skip` lets the lab do it",
            match ch.hints.len() {
                1 => "1 hint".to_string(),
                n => format!("{n} hints"),
            }
        );
        write!(out, "{}", term::hang_painted(&tips, 2, 2, term::dim))?;
        Ok(())
    }

    /// Close the open challenge of step `idx` with `attempt` (`by_lab`: the lab typed
    /// the solution, `skip`). When it passed, the step is done (its report holds the
    /// conditions) and, for the learner's own pass, the reference solution is shown for
    /// comparison. Returns whether it passed.
    ///
    /// # Errors
    /// Output failed.
    pub fn finish_challenge(
        &mut self,
        idx: usize,
        attempt: &crate::lab::challenge::Attempt,
        by_lab: bool,
        out: &mut dyn Write,
    ) -> std::io::Result<bool> {
        writeln!(out, "{}", term::heading("challenge"))?;
        attempt.show(out)?;
        if !attempt.passed {
            let more = self
                .challenge(idx)
                .map_or(0, |c| c.hints.len().saturating_sub(self.hints_shown));
            let hint = if more > 0 {
                format!("`hint` gives a nudge ({more} left), ")
            } else {
                String::new()
            };
            let tips = format!("{hint}`shell` to try again, `solution` to see the answer");
            write!(out, "{}", term::hang_painted(&tips, 2, 2, term::dim))?;
            return Ok(false);
        }
        if by_lab {
            write!(
                out,
                "{}",
                term::hang_painted(
                    "✓ the reference solution reached the goal (skipped: not counted as your pass)",
                    2,
                    4,
                    term::green
                )
            )?;
        } else {
            writeln!(out, "  {}", term::ok("challenge passed"))?;
        }
        if !by_lab && let Some(ch) = self.challenge(idx) {
            writeln!(
                out,
                "  {}",
                term::dim("the reference solution, to compare:")
            )?;
            for l in &ch.solution {
                writeln!(out, "    {}", term::typed(&self.expand(l)))?;
            }
        }
        self.reports[idx] = Some(StepReport {
            passed: true,
            verdicts: attempt
                .conditions
                .iter()
                .map(|c| Verdict {
                    what: format!("challenge: {}", c.says),
                    ok: c.ok,
                })
                .collect(),
            trace: Vec::new(),
        });
        self.open_challenge = None;
        self.next = idx + 1;
        let (lesson_id, step_id) = (
            self.lesson.def.id.clone(),
            self.lesson.def.steps[idx].id.clone(),
        );
        self.progress.step(&lesson_id, &step_id, true, out);
        if !by_lab {
            self.progress
                .challenge(&lesson_id, &step_id, self.solution_seen, out);
        }
        Ok(true)
    }

    /// Run every step from `next` to the end (in the REPL, up to an open challenge).
    /// Returns true when every check held.
    ///
    /// # Errors
    /// As [`Runner::run_step`].
    pub fn run_all(&mut self, out: &mut dyn Write) -> Result<bool, RunError> {
        let mut all = true;
        while self.next < self.len() && self.open_challenge.is_none() {
            let r = self.run_step(self.next, out)?;
            all &= r.passed;
        }
        Ok(all)
    }

    /// Tear down and start over from step 1 (same rootfs).
    ///
    /// # Errors
    /// The new lab cannot be created.
    pub fn reset(&mut self) -> Result<(), RunError> {
        let rootfs = self.lab.rootfs.clone();
        self.lab.teardown();
        self.lab = Lab::new()?;
        self.lab.rootfs = rootfs;
        self.next = 0;
        self.reports = vec![None; self.len()];
        self.open_challenge = None;
        Ok(())
    }

    /// The context a `shell` in the current step should open in: the container the
    /// step works with, else the rootfs once built, else the host.
    #[must_use]
    pub fn shell_context(&self) -> Context {
        let idx = self.next.min(self.len().saturating_sub(1));
        for step in self.lesson.def.steps[..=idx].iter().rev() {
            let name = match &step.action {
                ActionDef::Start { container } | ActionDef::ExecIn { container, .. } => {
                    Some(container)
                }
                _ => None,
            };
            if let Some(n) = name
                && let Some(c) = self.lab.container(n)
            {
                return Context::Container {
                    name: n.clone(),
                    pid1: c.pid1,
                };
            }
        }
        self.lab
            .rootfs
            .clone()
            .map_or(Context::Host, Context::Chroot)
    }
}

/// The ids of the lessons that run without real root (`[requires] root = false`), in a
/// user namespace of their own (see `runtime/userns.rs`), sorted.
#[must_use]
pub fn rootless_lessons() -> Vec<String> {
    let files = crate::lesson::lesson_files(&crate::paths::lessons_dir()).unwrap_or_default();
    let mut ids: Vec<String> = files
        .iter()
        .filter_map(|f| crate::lesson::load(f).ok())
        .filter(|l| !l.def.requires.root)
        .map(|l| l.def.id)
        .collect();
    ids.sort();
    ids
}

/// One sentence for a lesson that needs real root, run by a user: the cause, the fix,
/// and the lessons that work as that user (`rootless`).
#[must_use]
pub fn needs_root_sentence(id: &str, because: Option<&str>, rootless: &[String]) -> String {
    let instead = if rootless.is_empty() {
        "no lesson runs without root yet, though `fromscratch spawn` does, in a user namespace of its own".to_string()
    } else {
        format!(
            "as a user, these lessons work, in a user namespace of the lab's own: {}",
            rootless.join(", ")
        )
    };
    let because = because.map_or_else(
        || "chroot(2) needs CAP_SYS_CHROOT, namespaces and mounts need CAP_SYS_ADMIN, and this lesson needs them on the host, not in a user namespace".to_string(),
        |b| b.trim().trim_end_matches('.').to_string(),
    );
    format!("lesson {id} needs root ({because}): run it with sudo; {instead}")
}

/// Check the host before step 1.
///
/// # Errors
/// Not root when needed, or a missing tool.
pub fn preflight(lesson: &Lesson) -> Result<(), RunError> {
    let req = &lesson.def.requires;
    if req.root && !crate::paths::is_root() {
        return Err(RunError::HostCannot(needs_root_sentence(
            &lesson.def.id,
            req.root_because.as_deref(),
            &rootless_lessons(),
        )));
    }
    for tool in &req.tools {
        if which::which(tool).is_err() {
            return Err(RunError::HostCannot(format!(
                "lesson {} needs the host tool `{tool}`, which is not installed: install it and run again",
                lesson.def.id
            )));
        }
    }
    Ok(())
}

/// Patterns for the lines an expectation is about (`contains`, `matches`): they are shown
/// even when the output is cut, so the learner sees the line a check found.
fn salient(expect: Option<&ExpectDef>, expand: &dyn Fn(&str) -> String) -> Vec<regex::Regex> {
    let Some(e) = expect else { return Vec::new() };
    e.contains
        .iter()
        .map(|c| regex::escape(&expand(c)))
        .chain(e.matches.iter().map(|m| expand(m)))
        .filter_map(|r| regex::Regex::new(&r).ok())
        .collect()
}

fn show_output(
    o: &spawn::Outcome,
    keep: &[regex::Regex],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let lines: Vec<&str> = o.output.lines().collect();
    let mut skipped = 0;
    for (i, l) in lines.iter().enumerate() {
        if i < SHOWN_LINES || lines.len() <= SHOWN_LINES + 2 || keep.iter().any(|r| r.is_match(l)) {
            if skipped > 0 {
                writeln!(out, "    {}", term::dim(&format!("… {skipped} more lines")))?;
                skipped = 0;
            }
            writeln!(out, "    {l}")?;
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 {
        writeln!(out, "    {}", term::dim(&format!("… {skipped} more lines")))?;
    }
    if o.code != 0 {
        writeln!(
            out,
            "    {}",
            term::dim(&format!("(exit status {})", o.code))
        )?;
    }
    Ok(())
}

fn show_diff(label: &str, before: &str, after: &str, out: &mut dyn Write) -> std::io::Result<()> {
    let d = observe::diff_lines(before, after);
    writeln!(out, "{}", term::heading(&format!("difference: {label}")))?;
    let changed = d.iter().filter(|l| !matches!(l, DiffLine::Same(_))).count();
    if changed == 0 {
        writeln!(out, "    {}", term::dim("(no difference)"))?;
        return Ok(());
    }
    let mut shown = 0;
    for l in &d {
        let s = match l {
            DiffLine::Same(_) => continue,
            DiffLine::Added(s) => term::added(s),
            DiffLine::Removed(s) => term::removed(s),
        };
        if shown == SHOWN_LINES {
            writeln!(
                out,
                "    {}",
                term::dim(&format!("… {} more changed line(s)", changed - shown))
            )?;
            break;
        }
        writeln!(out, "  {s}")?;
        shown += 1;
    }
    Ok(())
}
