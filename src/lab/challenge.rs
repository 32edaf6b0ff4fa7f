//! Challenge steps: the learner reaches a goal by hand in a shell, and the lab checks the
//! state of the machine — processes, namespaces, mounts, files — never the words typed.
//!
//! A challenge shell carries a session mark in its environment
//! ([`process::SESSION_VAR`]); the lab looks at the shell's descendants and every
//! process with the mark each time the session settles (a prompt waiting) while the
//! shell is open, and once more after it closes. The challenge passes when every condition holds at the same moment. When it
//! does not, the closest attempt seen is reported, condition by condition, so the learner
//! reads what is not yet true.
//!
//! `run`, `tour`, `present` and `skip` type the reference solution into a shell whose
//! stdin is a pipe, one line at a time, waiting until every process of the session is
//! asleep (waiting for input) before looking and before typing the next line, so a
//! state that lasts only while a nested shell is open is seen without any sleep.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::lab::runner::{RunError, Runner};
use crate::lesson::ChallengeDef;
use crate::observe::process::{self, ProcInfo, SESSION_VAR};
use crate::observe::{self, Context, Verdict};
use crate::runtime::spawn::{self, Spawned, Stdio};
use crate::runtime::{ContainerSpec, Namespaces};
use crate::term;

/// The lab looks whenever the learner's session settles (a prompt waiting), and at
/// least this often while the challenge shell is open.
pub const LOOK_AT_LEAST_EVERY: Duration = Duration::from_secs(1);
/// How long a typed solution line may keep the session busy before the next is typed.
pub const LINE_LIMIT: Duration = Duration::from_secs(30);

/// One condition's result in one look.
#[derive(Debug, Clone)]
pub struct Condition {
    /// The condition in the lesson's words.
    pub says: String,
    /// It held.
    pub ok: bool,
    /// What was looked at: "closest: PID 4711 (sh)", or what a command said.
    pub subject: Option<String>,
    /// The details: each property of the closest process, or each check of a command.
    pub details: Vec<Verdict>,
}

/// What one look at the machine found.
#[derive(Debug, Clone, Default)]
pub struct Attempt {
    /// Every condition held at once.
    pub passed: bool,
    /// Each condition, in the lesson's order.
    pub conditions: Vec<Condition>,
    /// Processes the learner left running, stopped by the lab after its last look (the
    /// looks were made while they ran).
    pub stopped_after: usize,
}

impl Attempt {
    /// For keeping the closest attempt: conditions held, then details held.
    #[must_use]
    pub fn score(&self) -> (usize, usize) {
        (
            self.conditions.iter().filter(|c| c.ok).count(),
            self.conditions
                .iter()
                .flat_map(|c| &c.details)
                .filter(|d| d.ok)
                .count(),
        )
    }

    /// Keep the better of `self` and `other` (a pass beats everything).
    pub fn keep_best(&mut self, other: Self) {
        if self.passed {
            return;
        }
        if other.passed || other.score() >= self.score() || self.conditions.is_empty() {
            *self = other;
        }
    }

    /// Print each condition with a tick or a cross; for a failed one, the properties
    /// that did not hold (and which process came closest).
    ///
    /// # Errors
    /// Output failed.
    pub fn show(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for c in &self.conditions {
            if c.ok {
                write!(
                    out,
                    "{}",
                    term::hang_painted(&format!("✓ {}", c.says), 2, 4, term::green)
                )?;
                continue;
            }
            write!(
                out,
                "{}",
                term::hang_painted(&format!("✗ not yet: {}", c.says), 2, 4, term::red)
            )?;
            if let Some(s) = &c.subject {
                write!(out, "{}", term::hang_painted(s, 6, 8, term::dim))?;
            }
            for d in &c.details {
                let text = if d.ok {
                    term::hang_painted(&format!("✓ {}", d.what), 6, 8, term::dim)
                } else {
                    term::hang_painted(&format!("✗ {}", d.what), 6, 8, str::to_string)
                };
                write!(out, "{text}")?;
            }
        }
        if self.stopped_after > 0 {
            // After the conditions: they were looked at while those processes ran.
            let n = self.stopped_after;
            let s = if n == 1 { "" } else { "es" };
            write!(
                out,
                "{}",
                term::hang_painted(
                    &format!(
                        "(the lab looked while the {n} process{s} you left running in the challenge's shell still ran; then it stopped them)"
                    ),
                    2,
                    3,
                    term::dim
                )
            )?;
        }
        Ok(())
    }
}

/// A challenge shell session: its mark and its shell's PID.
#[derive(Debug, Clone)]
pub struct Session {
    /// The value of [`SESSION_VAR`] its processes carry: `lab<PID>:<N>:`.
    pub mark: String,
    /// The shell (our child).
    pub shell: Pid,
    /// False once the shell has been reaped: from then on its PID may name another
    /// process, so it is never used again (not as a tree root, never signalled).
    alive: std::cell::Cell<bool>,
}

impl Session {
    /// The shell's PID while it is ours (not reaped yet).
    fn live_shell(&self) -> Option<Pid> {
        self.alive.get().then_some(self.shell)
    }

    /// The session's live processes: the shell and its descendants while the shell is
    /// ours, and every process carrying the mark.
    #[must_use]
    pub fn members(&self) -> Vec<ProcInfo> {
        process::session(self.live_shell(), &self.mark)
    }

    /// Poll the shell: `Gone` once it has exited (reaped here, or by the lab's reaper).
    fn poll(&self) -> ShellState {
        if !self.alive.get() {
            return ShellState::Gone;
        }
        match waitpid(
            self.shell,
            Some(WaitPidFlag::WNOHANG | WaitPidFlag::WUNTRACED),
        ) {
            Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => ShellState::Running,
            Ok(WaitStatus::Stopped(..)) => ShellState::Stopped,
            Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(_) => {
                self.alive.set(false);
                ShellState::Gone
            }
            Ok(_) => ShellState::Running,
        }
    }

    /// True once the shell has exited.
    fn exited(&self) -> bool {
        self.poll() == ShellState::Gone
    }
}

/// What a challenge shell is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShellState {
    Running,
    /// Stopped by a signal (Ctrl-Z on `exec cat`): nobody in the session can resume it.
    Stopped,
    Gone,
}

/// Start `/bin/sh` in `ctx`, its prompt `[fromscratch LABEL] # `, its environment
/// carrying `SESSION_VAR=mark`. `Stdio::Inherit` for the learner's terminal (the shell
/// gets the foreground process group), `Stdio::Script` for a typed solution. On the host
/// and in a chroot the shell gets private mount, UTS, IPC and network namespaces of the
/// lab's first (with `/` made private), so whatever the learner mounts, names or links
/// never reaches the host.
///
/// In a chroot the shell always gets a minimal `/dev` (`devfs.rs`), so `2>/dev/null`
/// never makes a file in the shared rootfs cache. With `layer` (an empty directory of the
/// lab's), its root is an overlay of the rootfs whose writes land on a tmpfs mounted on
/// `layer` in the shell's mount namespace (`overlay.rs`): nothing the learner writes
/// reaches the cache, and it all vanishes with the shell. Without it (a challenge whose
/// conditions say the root must be the rootfs itself), writes outside `/dev` still land
/// in the rootfs.
///
/// # Errors
/// The runtime could not start the shell, or its setup failed (named in one sentence).
pub fn open_shell(
    ctx: &Context,
    label: &str,
    mark: &str,
    stdio: Stdio,
    layer: Option<PathBuf>,
    protect: Option<&Path>,
) -> Result<(Session, Spawned), RunError> {
    open_shell_as(ctx, label, mark, stdio, layer, protect, false)
}

/// As [`open_shell`]; with `as_learner` (a challenge's `as_learner = true`, on the host
/// only) and the lab run by a user, the shell runs as that user, outside the lab's user
/// namespace and without the guard namespaces (`runtime/unprivileged.rs` says why
/// nothing is lost), its prompt ending in `$`. As root nothing changes.
///
/// # Errors
/// As [`open_shell`].
pub fn open_shell_as(
    ctx: &Context,
    label: &str,
    mark: &str,
    stdio: Stdio,
    layer: Option<PathBuf>,
    protect: Option<&Path>,
    as_learner: bool,
) -> Result<(Session, Spawned), RunError> {
    let unprivileged = as_learner && *ctx == Context::Host && !nix::unistd::geteuid().is_root();
    let ps1 = format!(
        "[fromscratch {label}] {} ",
        if unprivileged { '$' } else { '#' }
    );
    let mut argv = vec!["/bin/sh".to_string()];
    if stdio == Stdio::Inherit {
        argv.push("-i".into());
    }
    let env = vec![
        ("PS1".to_string(), ps1.clone()),
        (SESSION_VAR.to_string(), mark.to_string()),
    ];
    let guarded = |root: Option<PathBuf>| ContainerSpec {
        root,
        // Private mount, UTS, IPC and network namespaces: a mount, a hostname, a
        // message queue or a veth link made in this shell dies with it.
        namespaces: Namespaces {
            mount: true,
            uts: true,
            ipc: true,
            net: true,
            ..Namespaces::default()
        },
        command: argv.clone(),
        env: env.clone(),
        // The shared rootfs read-only in this shell's mount namespace: a learner's own
        // `chroot ROOTFS` here cannot change the cache either (protect.rs).
        protect: protect.map(Path::to_path_buf),
        ..Default::default()
    };
    let sp = match ctx {
        Context::Host => spawn::spawn(
            &ContainerSpec {
                minimal_dev: true,
                unprivileged,
                ..guarded(None)
            },
            stdio,
        )?,
        Context::Chroot(root) => spawn::spawn(
            &ContainerSpec {
                overlay: layer,
                minimal_dev: true,
                ..guarded(Some(root.clone()))
            },
            stdio,
        )?,
        Context::Container { pid1, .. } => {
            let inner = if stdio == Stdio::Inherit { " -i" } else { "" };
            spawn::join(
                *pid1,
                &[
                    "/bin/sh".to_string(),
                    "-c".to_string(),
                    format!("export {SESSION_VAR}='{mark}'; PS1='{ps1}' exec /bin/sh{inner}"),
                ],
                stdio,
            )?
        }
    };
    if let Some((call, errno)) = &sp.setup_failure {
        let msg = crate::runtime::error::explain_setup_failure(call, *errno, None);
        spawn::kill_and_reap(sp.child);
        return Err(RunError::BadInput(format!("cannot open the shell: {msg}")));
    }
    Ok((
        Session {
            mark: mark.to_string(),
            shell: sp.child,
            alive: std::cell::Cell::new(true),
        },
        sp,
    ))
}

/// The mark of a shell opened outside any lesson.
#[must_use]
pub fn loose_mark() -> String {
    format!("{}0:", mark_prefix())
}

/// The mark prefix every session of this lab process shares.
fn mark_prefix() -> String {
    format!("lab{}:", std::process::id())
}

impl Runner {
    /// The challenge of step `idx`, if it is one.
    #[must_use]
    pub fn challenge(&self, idx: usize) -> Option<&ChallengeDef> {
        self.lesson
            .def
            .steps
            .get(idx)
            .and_then(|s| s.challenge.as_ref())
    }

    /// The prompt label of a shell opened in `ctx`: `host`, `chroot`, `pid-ns:c1`,
    /// `container:web`.
    #[must_use]
    pub fn shell_label(&self, ctx: &Context) -> String {
        match ctx {
            Context::Host => "host".into(),
            Context::Chroot(_) => "chroot".into(),
            Context::Container { name, .. } => {
                let pid = self.lesson.def.containers.get(name).is_some_and(|c| c.pid);
                if pid {
                    format!("pid-ns:{name}")
                } else {
                    format!("container:{name}")
                }
            }
        }
    }

    /// Where the challenge of step `idx` opens its shell.
    ///
    /// # Errors
    /// The context names a container that is not running, or the rootfs is not built.
    pub fn challenge_context(&self, idx: usize) -> Result<Context, RunError> {
        let name = self.challenge(idx).map_or("host", |c| c.shell.as_str());
        self.context_of(name)
    }

    fn next_mark(&mut self) -> String {
        self.sessions += 1;
        format!("{}{}:", mark_prefix(), self.sessions)
    }

    /// Start a shell in `ctx` for a challenge, marked as a new session: see
    /// [`open_shell`]. Its root, in the rootfs, is the rootfs itself: the challenges'
    /// conditions (and the decoys' notes) name `{rootfs}` as the root.
    ///
    /// # Errors
    /// As [`open_shell`].
    pub fn open_shell(
        &mut self,
        ctx: &Context,
        stdio: Stdio,
    ) -> Result<(Session, Spawned), RunError> {
        let mark = self.next_mark();
        let label = self.shell_label(ctx);
        open_shell(ctx, &label, &mark, stdio, None, self.lab.rootfs.as_deref())
    }

    /// As [`Runner::open_shell`], for the challenge of step `idx`: with the learner's
    /// own ids when the challenge says `as_learner = true` (see [`open_shell_as`]).
    ///
    /// # Errors
    /// As [`open_shell`].
    pub fn open_challenge_shell(
        &mut self,
        idx: usize,
        ctx: &Context,
        stdio: Stdio,
    ) -> Result<(Session, Spawned), RunError> {
        let as_learner = self.challenge(idx).is_some_and(|c| c.as_learner);
        let mark = self.next_mark();
        let label = self.shell_label(ctx);
        let rootfs = self.lab.rootfs.clone();
        open_shell_as(
            ctx,
            &label,
            &mark,
            stdio,
            None,
            rootfs.as_deref(),
            as_learner,
        )
    }

    /// Start the plain `shell` (no challenge open) in `ctx`, marked as a new session. In
    /// the rootfs its root is an overlay of it on a scratch layer (`{lab}/shell-N`, made
    /// here, empty from the host): see [`open_shell`].
    ///
    /// # Errors
    /// As [`open_shell`]; the layer's directory could not be made.
    pub fn open_scratch_shell(
        &mut self,
        ctx: &Context,
        stdio: Stdio,
    ) -> Result<(Session, Spawned), RunError> {
        let mark = self.next_mark();
        let label = self.shell_label(ctx);
        let layer = match ctx {
            Context::Chroot(_) => {
                let base = self.lab.scratch_path(&format!("shell-{}", self.sessions))?;
                std::fs::create_dir_all(&base).map_err(|e| {
                    RunError::HostCannot(format!(
                        "cannot make the shell's scratch layer {}: {e}",
                        base.display()
                    ))
                })?;
                Some(base)
            }
            _ => None,
        };
        open_shell(ctx, &label, &mark, stdio, layer, self.lab.rootfs.as_deref())
    }

    /// Look at the machine and check every condition of step `idx`'s challenge.
    /// With a session, process conditions look at that session's processes; without
    /// one (`check` at the prompt), at every process of this lab's challenge shells.
    ///
    /// The conditions are checked one after another, not at one instant, and the
    /// learner may be typing meanwhile: a state that changes between two conditions
    /// (a container renamed back after the first was checked and before the second)
    /// could pass although no single moment held them all. So a look that passes is
    /// made again at once, and what counts is that second look.
    ///
    /// # Errors
    /// A command condition could not run.
    pub fn look(&mut self, idx: usize, session: Option<&Session>) -> Result<Attempt, RunError> {
        let first = self.look_once(idx, session)?;
        if first.passed {
            return self.look_once(idx, session);
        }
        Ok(first)
    }

    fn look_once(&mut self, idx: usize, session: Option<&Session>) -> Result<Attempt, RunError> {
        let Some(ch) = self.challenge(idx).cloned() else {
            return Ok(Attempt::default());
        };
        self.lab.reap();
        let procs: Vec<ProcInfo> = match session {
            Some(s) => s.members(),
            None => process::marked(&mark_prefix()),
        };
        let lab_ns = process::own_namespaces();
        let mut attempt = Attempt {
            passed: true,
            conditions: Vec::new(),
            stopped_after: 0,
        };
        for v in &ch.verify {
            let cond = if let Some(m) = &v.process {
                let m = &crate::lab::unprivileged::resolve_match(m);
                let wanted = process::Wanted::new(m, &|s| self.expand(s));
                let found = process::find(&wanted, &procs, &lab_ns);
                let (subject, details) = match found.closest {
                    Some((p, props)) => (Some(format!("closest: PID {} ({})", p.pid, p.comm)), props),
                    None => (
                        Some("no process of yours is running: start it from the challenge's shell and keep it running while the lab looks".to_string()),
                        Vec::new(),
                    ),
                };
                Condition {
                    says: self.expand(&v.says),
                    ok: found.ok,
                    subject: if found.ok { None } else { subject },
                    details: if found.ok { Vec::new() } else { details },
                }
            } else {
                let ctx = self.context_of(&v.context)?;
                let argv: Vec<String> = v.command.iter().map(|s| self.expand(s)).collect();
                let run = observe::run_in(&ctx, &argv)?;
                let verdicts = v
                    .expect
                    .as_ref()
                    .map(|e| observe::evaluate(e, &run.outcome, &|s| self.expand(s)))
                    .unwrap_or_default();
                let ok = verdicts.iter().all(|x| x.ok);
                Condition {
                    says: self.expand(&v.says),
                    ok,
                    subject: (!ok).then(|| {
                        // What the command printed, not the command: its arguments may hold
                        // what the learner is to find out (a decoy's PID).
                        format!("it printed: {}", first_line(&run.outcome.output))
                    }),
                    details: if ok { Vec::new() } else { verdicts },
                }
            };
            attempt.passed &= cond.ok;
            attempt.conditions.push(cond);
        }
        Ok(attempt)
    }

    /// The learner's turn: open a shell on the terminal in the challenge's context, look
    /// each time the session settles (and at least every [`LOOK_AT_LEAST_EVERY`]) while it is open (saying so on the terminal the moment the
    /// goal is reached), and once more after it closes. Processes the learner left
    /// running are stopped. Returns the best attempt seen.
    ///
    /// # Errors
    /// The shell could not start; Ctrl-C/SIGTERM reaching the lab (the shell is stopped).
    pub fn play_challenge(&mut self, idx: usize, out: &mut dyn Write) -> Result<Attempt, RunError> {
        let ctx = self.challenge_context(idx)?;
        let _tty = term::TtyGuard::save();
        let (session, _sp) = self.open_challenge_shell(idx, &ctx, Stdio::Inherit)?;
        let mut best = Attempt::default();
        let mut announced = false;
        let mut last_look: Option<Instant> = None;
        let mut last_seen: Vec<(i32, char)> = Vec::new();
        let stdin = std::io::stdin();
        let looked = (|| -> Result<(), RunError> {
            loop {
                match session.poll() {
                    ShellState::Gone => return Ok(()),
                    ShellState::Stopped => {
                        // `exec cat`, then Ctrl-Z: no job control above the shell can
                        // resume it. The lab does, and takes nothing else from it.
                        let _ = nix::sys::signal::kill(
                            Pid::from_raw(-session.shell.as_raw()),
                            nix::sys::signal::Signal::SIGCONT,
                        );
                        write!(
                            out,
                            "\r\n{}\r\n",
                            term::dim(
                                "(the shell was stopped, and nothing could resume it: the lab did)"
                            )
                        )?;
                    }
                    ShellState::Running => {}
                }
                if crate::lab::interrupted() {
                    return Err(crate::runtime::RuntimeError::Interrupted.into());
                }
                // Look each time the session settles into a new state (every process
                // asleep, nothing typed and unread: a prompt is waiting), and at least
                // every LOOK_AT_LEAST_EVERY for changes no process shows (files).
                let now = process::members(session.live_shell(), &session.mark);
                let settled = now.iter().all(|(_, st)| process::idle_state(*st))
                    && unread(&stdin) == 0
                    && now != last_seen;
                if settled || last_look.is_none_or(|t| t.elapsed() >= LOOK_AT_LEAST_EVERY) {
                    last_look = Some(Instant::now());
                    if settled {
                        last_seen = now;
                    }
                    let a = self.look(idx, Some(&session))?;
                    if a.passed && !announced {
                        announced = true;
                        // The terminal is the shell's; one line between its prompts.
                        write!(
                            out,
                            "\r\n{}\r\n",
                            term::ok(
                                "fromscratch: the goal is reached; leave the shell (exit) to go back to the lab"
                            )
                        )?;
                        out.flush()?;
                    }
                    best.keep_best(a);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })();
        if let Err(e) = looked {
            // Interrupted, or a condition could not be checked: stop the shell and take
            // the terminal back before saying so.
            self.stop_session(&session);
            spawn::reclaim_terminal();
            return Err(e);
        }
        spawn::reclaim_terminal();
        let after = self.look(idx, Some(&session));
        let left = self.stop_session(&session);
        best.keep_best(after?);
        // Said with the report, after the conditions it looked at while they ran.
        best.stopped_after = left;
        Ok(best)
    }

    /// Type step `idx`'s reference solution into a shell in the challenge's context,
    /// showing each line at a prompt and the output as it comes, looking after each line
    /// once the session is idle. Returns the best attempt seen.
    ///
    /// # Errors
    /// The shell could not start; Ctrl-C/SIGTERM (the session is stopped first).
    pub fn type_solution(&mut self, idx: usize, out: &mut dyn Write) -> Result<Attempt, RunError> {
        let Some(ch) = self.challenge(idx).cloned() else {
            return Ok(Attempt::default());
        };
        let ctx = self.challenge_context(idx)?;
        let label = self.shell_label(&ctx);
        let (session, mut sp) = self.open_challenge_shell(idx, &ctx, Stdio::Script)?;
        let input = sp.input.take();
        let output = sp.output.take();
        if let Some(o) = &output {
            set_nonblocking(o);
        }
        let mut echo = Echo::default();
        let mut best = Attempt::default();
        let result = (|| -> Result<(), RunError> {
            let Some(input) = &input else { return Ok(()) };
            let first = process::read(session.shell.as_raw());
            for line in &ch.solution {
                let line = self.expand(line);
                let prompt = reader_prompt(&session, first.as_ref(), &label, input);
                write!(out, "  {} ", term::dim(&prompt))?;
                self.type_out(&line, out)?;
                writeln!(out)?;
                out.flush()?;
                let mut bytes = line.into_bytes();
                bytes.push(b'\n');
                if nix::unistd::write(input.as_fd(), &bytes).is_err() {
                    break; // the shell is gone; what it left is looked at below
                }
                self.settle(&session, input, output.as_ref(), &mut echo, out)?;
                let a = self.look(idx, Some(&session))?;
                best.keep_best(a);
            }
            // A test hook (lab/fault.rs): the solution typed, its shell still running.
            crate::lab::fault::step_point(idx);
            Ok(())
        })();
        if result.is_err() || crate::lab::interrupted() {
            // Stop the shells before their stdin closes: a line still in the pipe must
            // not be read by an outer shell once the inner one is gone.
            self.stop_session(&session);
            drop(input);
            result?;
            return Err(crate::runtime::RuntimeError::Interrupted.into());
        }
        drop(input); // EOF: the shells read to the end and exit
        let deadline = Instant::now() + Duration::from_secs(10);
        while !session.exited() && Instant::now() < deadline {
            if let Some(o) = &output {
                echo.drain(o, out)?;
            }
            if crate::lab::interrupted() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Some(o) = &output {
            echo.drain(o, out)?;
        }
        echo.finish(out)?;
        let after = self.look(idx, Some(&session));
        self.stop_session(&session);
        best.keep_best(after?);
        if crate::lab::interrupted() {
            return Err(crate::runtime::RuntimeError::Interrupted.into());
        }
        Ok(best)
    }

    /// Stop a session: SIGKILL the shell's process group while the shell is still ours
    /// (unreaped, so its PID cannot name anyone else), reap it; then every process still
    /// carrying the session's mark; then the lab's own stray children (processes that
    /// left the session's environment, `env -i sleep &`, re-parented to the lab, its
    /// subreaper, when the shell died). Returns how many processes other than the shell
    /// were signalled.
    fn stop_session(&mut self, session: &Session) -> usize {
        if let Some(shell) = session.live_shell() {
            spawn::kill_and_reap(shell);
            session.alive.set(false);
        }
        let mut n = 0;
        for p in session.members() {
            if nix::sys::signal::kill(Pid::from_raw(p.pid), nix::sys::signal::Signal::SIGKILL)
                .is_ok()
            {
                n += 1;
            }
        }
        n + self.lab.stop_strays()
    }

    /// Show `line` as if typed, at [`Runner::typing`] per character.
    fn type_out(&self, line: &str, out: &mut dyn Write) -> std::io::Result<()> {
        if self.typing.is_zero() {
            return write!(out, "{}", term::typed(line));
        }
        for ch in line.chars() {
            write!(out, "{}", term::typed(&ch.to_string()))?;
            out.flush()?;
            std::thread::sleep(self.typing);
        }
        Ok(())
    }

    /// Wait until the typed line has been read and every process of the session sleeps
    /// (two looks in a row), echoing output meanwhile; at most [`LINE_LIMIT`].
    fn settle(
        &mut self,
        session: &Session,
        input: &OwnedFd,
        output: Option<&OwnedFd>,
        echo: &mut Echo,
        out: &mut dyn Write,
    ) -> Result<(), RunError> {
        let start = Instant::now();
        let mut quiet = 0;
        while start.elapsed() < LINE_LIMIT {
            if let Some(o) = output {
                echo.drain(o, out)?;
            }
            if crate::lab::interrupted() {
                return Err(crate::runtime::RuntimeError::Interrupted.into());
            }
            if session.exited() {
                return Ok(());
            }
            let now = process::members(session.live_shell(), &session.mark);
            if unread(input) == 0 && now.iter().all(|(_, st)| process::idle_state(*st)) {
                // Asleep with the line read, three looks in a row over 10 ms: a program
                // between two steps of its work is not taken for one waiting for input.
                quiet += 1;
                if quiet >= 3 {
                    return Ok(());
                }
            } else {
                quiet = 0;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

/// The prompt a person would see before typing the next line into the session: that
/// of the program that will read it. That is a process whose standard input is the
/// session's pipe (`input`'s), the deepest of them: a nested shell or an interpreter
/// started in the foreground. A background job is never it: a shell without job control
/// gives an asynchronous command `/dev/null` as its standard input (sh(1p), "Asynchronous
/// Lists"), and one that took the pipe does not read at a prompt. When no process shows
/// the pipe (its fds unreadable), the deepest process of the session is taken. A shell
/// gets the lab's prompt with where it really is (its PID namespace and root, compared
/// with the first shell's); python3 gets `>>>`; anything else `›`.
fn reader_prompt(
    session: &Session,
    first: Option<&ProcInfo>,
    label: &str,
    input: &OwnedFd,
) -> String {
    let all = session.members();
    let pipe = nix::sys::stat::fstat(input.as_fd())
        .ok()
        .map(|st| format!("pipe:[{}]", st.st_ino));
    let reads_pipe = |p: &ProcInfo| {
        pipe.as_ref().is_some_and(|want| {
            std::fs::read_link(format!("/proc/{}/fd/0", p.pid))
                .is_ok_and(|l| l.as_os_str() == want.as_str())
        })
    };
    let readers: Vec<ProcInfo> = all.iter().filter(|p| reads_pipe(p)).cloned().collect();
    // Depth counts every ancestor in the session, readers or not.
    let procs = &all;
    let candidates = if readers.is_empty() { &all } else { &readers };
    let depth = |p: &ProcInfo| {
        let mut d = 0;
        let mut at = p.ppid;
        while let Some(parent) = procs.iter().find(|q| q.pid == at) {
            d += 1;
            at = parent.ppid;
        }
        d
    };
    let Some(reader) = candidates.iter().max_by_key(|p| (depth(p), p.pid)) else {
        return format!("[fromscratch {label}] #");
    };
    match reader.comm.as_str() {
        "sh" | "bash" | "dash" | "ash" => {
            let same =
                |k: &str| first.is_some_and(|f| f.namespaces.get(k) == reader.namespaces.get(k));
            let same_root = first.is_some_and(|f| f.root == reader.root);
            let here = if same("pid") && same_root {
                label.to_string()
            } else if !same("pid") {
                "pid-ns".to_string()
            } else {
                "chroot".to_string()
            };
            format!("[fromscratch {here}] #")
        }
        "python3" | "python" => ">>>".to_string(),
        _ => "›".to_string(),
    }
}

/// The most of a command's first line a report shows; past it, the line is cut at a
/// word and ends in `…`, so a cut value never reads as another value.
const FIRST_LINE_MAX: usize = 200;

/// A command's first line of output for a report: `(nothing)` when empty; cut visibly
/// (`…`) past [`FIRST_LINE_MAX`] characters; `(and N more lines)` when there are more.
fn first_line(s: &str) -> String {
    let mut lines = s.lines().map(str::trim).skip_while(|l| l.is_empty());
    let Some(l) = lines.next() else {
        return "(nothing)".into();
    };
    let mut shown = if l.chars().count() <= FIRST_LINE_MAX {
        l.to_string()
    } else {
        let cut: String = l.chars().take(FIRST_LINE_MAX).collect();
        // At a space, so no number or name is shown half.
        let at = cut
            .rfind(' ')
            .filter(|i| *i > FIRST_LINE_MAX / 2)
            .unwrap_or(cut.len());
        format!("{} …", cut[..at].trim_end())
    };
    let more = lines.filter(|l| !l.is_empty()).count();
    if more > 0 {
        shown.push_str(&format!(
            " (and {more} more line{})",
            if more == 1 { "" } else { "s" }
        ));
    }
    shown
}

fn set_nonblocking(fd: &OwnedFd) {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    if let Ok(flags) = fcntl(fd.as_fd(), FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd.as_fd(),
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        );
    }
}

/// Bytes written to a pipe and not read yet (FIONREAD works on either end on Linux,
/// pipe(7)).
fn unread(fd: &impl AsRawFd) -> i32 {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer, which points at `n`.
    #[allow(unsafe_code)]
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &raw mut n) };
    if r < 0 { 0 } else { n }
}

/// Output of a typed solution, shown line by line, indented.
#[derive(Default)]
struct Echo {
    partial: Vec<u8>,
    shown: usize,
}

impl Echo {
    const MAX_LINES: usize = 40;
    /// The most read per call (the caller checks for Ctrl-C and its time limit between
    /// calls); a writer faster than this waits on the full pipe.
    const MAX_READ: usize = 64 * 1024;
    /// A line longer than this is shown cut (output without newlines, `cat /dev/zero`,
    /// must not grow without bound).
    const MAX_LINE: usize = 4096;

    fn drain(&mut self, fd: &OwnedFd, out: &mut dyn Write) -> std::io::Result<()> {
        let mut buf = [0u8; 4096];
        let mut read = 0;
        while read < Self::MAX_READ {
            match nix::unistd::read(fd.as_fd(), &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    read += n;
                    self.take(&buf[..n], out)?;
                }
            }
        }
        Ok(())
    }

    /// Split `bytes` into lines as they come; a line past [`Self::MAX_LINE`] is shown
    /// cut and the rest of it dropped.
    fn take(&mut self, bytes: &[u8], out: &mut dyn Write) -> std::io::Result<()> {
        for chunk in bytes.split_inclusive(|b| *b == b'\n') {
            let (body, ends) = match chunk.strip_suffix(b"\n") {
                Some(b) => (b, true),
                None => (chunk, false),
            };
            let room = Self::MAX_LINE.saturating_sub(self.partial.len());
            self.partial
                .extend_from_slice(&body[..body.len().min(room)]);
            if ends {
                let line = std::mem::take(&mut self.partial);
                let mut text = String::from_utf8_lossy(&line).into_owned();
                if line.len() >= Self::MAX_LINE {
                    text.push_str(" … (line cut)");
                }
                self.line(&text, out)?;
            }
        }
        Ok(())
    }

    fn line(&mut self, l: &str, out: &mut dyn Write) -> std::io::Result<()> {
        self.shown += 1;
        if self.shown <= Self::MAX_LINES {
            writeln!(out, "    {l}")?;
        } else if self.shown == Self::MAX_LINES + 1 {
            writeln!(out, "    {}", term::dim("… (more output not shown)"))?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        if !self.partial.is_empty() {
            let l = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            self.line(&l, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_first_line_is_cut_visibly_at_a_word_never_into_another_value() {
        let long = format!(
            "6: eth0@if7: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000 {}",
            "x ".repeat(80)
        );
        let shown = first_line(&long);
        assert!(shown.ends_with(" …"), "{shown}");
        assert!(shown.contains("qlen 1000"), "{shown}");
        // Cut where a value would be halved: the value goes, whole, not a shorter one.
        let at_value = format!("{} qlen 1000", "a".repeat(FIRST_LINE_MAX - 7));
        let shown = first_line(&at_value);
        assert!(shown.ends_with("qlen …"), "{shown}");
        assert!(!shown.contains("qlen 10 "), "{shown}");
    }

    #[test]
    fn a_short_output_is_whole_and_more_lines_are_counted() {
        assert_eq!(first_line(""), "(nothing)");
        assert_eq!(first_line("\n  \nqlen 1000\n"), "qlen 1000");
        assert_eq!(first_line("a\nb\nc\n"), "a (and 2 more lines)");
        assert_eq!(first_line("a\nb"), "a (and 1 more line)");
    }

    #[test]
    fn processes_stopped_after_the_looks_are_said_after_the_conditions() {
        let a = Attempt {
            passed: true,
            conditions: vec![Condition {
                says: "inside the pod, 127.0.0.1:8080 accepts a connection".into(),
                ok: true,
                subject: None,
                details: Vec::new(),
            }],
            stopped_after: 2,
        };
        let mut out = Vec::new();
        a.show(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap().replace('\n', " ");
        let ok = out.find("✓ inside the pod").expect("condition");
        let stopped = out
            .find("looked while the 2 processes you left running")
            .expect("stopped line");
        assert!(ok < stopped, "{out}");
        assert!(out.contains("then it stopped them"), "{out}");
    }
}
