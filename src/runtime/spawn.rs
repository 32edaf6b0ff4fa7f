//! Starting a container: fork, unshare, (fork again for the PID namespace), chroot,
//! mount /proc, exec — in that order, and why.
//!
//! - The lab process itself never unshares: every container is a forked child, and we
//!   fork only while single-threaded (unshare(2): CLONE_NEWUSER fails with EINVAL in a
//!   threaded process, and CLONE_NEWNS would only affect the calling thread).
//! - `unshare(CLONE_NEWPID)` moves only the caller's *future children* into the new PID
//!   namespace (pid_namespaces(7)), so after it we fork, as `unshare --fork` does: the
//!   grandchild is PID 1. Without the fork, the first child made would become PID 1 and,
//!   once it exits, the namespace accepts no more processes (fork fails with ENOMEM).
//! - Right after a new mount namespace, `/` is made `MS_REC|MS_PRIVATE` before any mount,
//!   so nothing mounted inside can propagate back to the host (mount_namespaces(7)).
//! - `/proc` is mounted by PID 1, after the PID fork and after chroot, so that it shows
//!   the new PID namespace and lands inside the rootfs (proc(5)). With `pivot_root`,
//!   `pivot.rs` replaces the chroot and `/proc` is mounted after the pivot, in the new root.
//! - Last before exec, `security.rs` takes power away (no_new_privs, capabilities,
//!   seccomp), after every setup call that needed it.
//!
//! The child reports every call with its result on a trace pipe; the parent reads it
//! until every writer has exec'd (the pipe is close-on-exec) or exited.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};

use super::error::RuntimeError;
use super::init;
use super::spec::{ContainerSpec, DEFAULT_PATH};
use super::syscalls::{LinuxSyscalls, Syscalls};

/// Exit status of a child whose setup (a syscall before exec) failed, as Docker uses 125.
pub const EXIT_SETUP_FAILED: i32 = 125;
/// Exit status when the command could not be executed, as the shell uses 127.
pub const EXIT_EXEC_FAILED: i32 = 127;

/// Where the container's stdin/stdout/stderr go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdio {
    /// stdout and stderr into one pipe the caller reads (order kept, as a terminal shows
    /// it); stdin from /dev/null; the child gets its own process group.
    Capture,
    /// The caller's terminal, for an interactive shell.
    Inherit,
    /// All three to /dev/null (decoys, held containers).
    Null,
    /// As [`Stdio::Capture`], but stdin from a pipe the caller writes
    /// ([`Spawned::input`]): lines typed into a shell by the lab (a challenge's
    /// reference solution).
    Script,
}

/// A started container process.
#[derive(Debug)]
pub struct Spawned {
    /// Host PID of our direct child (the one to wait for).
    pub child: Pid,
    /// Host PID of the container's first process (PID 1 inside, when there is a PID
    /// namespace; otherwise the same as `child`).
    pub pid1: Pid,
    /// Read end of the captured output, with [`Stdio::Capture`] and [`Stdio::Script`].
    pub output: Option<OwnedFd>,
    /// Write end of the command's stdin, with [`Stdio::Script`]; dropping it is EOF.
    pub input: Option<OwnedFd>,
    /// The syscall trace, one rendered line each, prefixed by the process's role.
    pub trace: Vec<String>,
    /// Set when setup failed before exec: the failing call and its errno.
    pub setup_failure: Option<(String, Errno)>,
    /// Set when execve itself failed (program, errno).
    pub exec_failure: Option<(String, Errno)>,
}

/// What a finished process left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Exit code, or 128+signal when it was killed (as a shell reports it).
    pub code: i32,
    /// The signal that killed it, if any.
    pub signal: Option<Signal>,
    /// stdout and stderr, interleaved as written.
    pub output: String,
}

/// Fail unless this process has exactly one thread (read from /proc/self/status).
///
/// # Errors
/// [`RuntimeError::MultiThreaded`] naming the count.
pub fn ensure_single_threaded() -> Result<(), RuntimeError> {
    // One read(2) of a 4 KiB buffer (the file is about 1.5 KiB): read_to_string would
    // grow its buffer from 32 bytes, eight reads per container start.
    let mut status = String::with_capacity(4096);
    std::io::Read::read_to_string(
        &mut std::fs::File::open("/proc/self/status")
            .map_err(|e| RuntimeError::io("read /proc/self/status", e))?,
        &mut status,
    )
    .map_err(|e| RuntimeError::io("read /proc/self/status", e))?;
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(1);
    if threads == 1 {
        Ok(())
    } else {
        Err(RuntimeError::MultiThreaded { threads })
    }
}

/// A failed step of the sequence: the syscall's name and its errno.
pub type SetupResult = Result<(), (&'static str, Errno)>;

/// Phase 1, in the first forked child: die with the parent, unshare the namespaces,
/// and make `/` private in a new mount namespace before anything is mounted.
///
/// # Errors
/// The failing call's name and errno.
pub fn enter_namespaces(sys: &dyn Syscalls, spec: &ContainerSpec) -> SetupResult {
    enter_namespaces_sharing(sys, spec, &[])
}

/// As [`enter_namespaces`], joining `shared` (the namespace files of `spec.share`, opened
/// by `share::open_shared`) with setns(2) first: a joined namespace is not unshared.
///
/// # Errors
/// The failing call's name and errno.
pub fn enter_namespaces_sharing(
    sys: &dyn Syscalls,
    spec: &ContainerSpec,
    shared: &[NsFile],
) -> SetupResult {
    sys.set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| ("prctl", e))?;
    enter_cgroups(sys, &spec.cgroup_procs)?;
    super::share::join_shared(sys, shared)?;
    let ns = spec.effective_namespaces();
    let joined = spec.share.map_or(CloneFlags::empty(), |s| s.flags());
    let new = ns.clone_flags() - joined;
    if !new.is_empty() {
        sys.unshare(new).map_err(|e| ("unshare", e))?;
    }
    if ns.mount {
        make_root_private(sys)?;
    }
    let guard = spec.guard_namespaces();
    if !guard.is_empty() {
        let what = match (guard.mount, guard.uts) {
            (true, true) => {
                "private mount and UTS namespaces, so nothing run here can mount on or rename the host"
            }
            (true, false) => "a private mount namespace, so nothing run here can mount on the host",
            _ => "a private UTS namespace, so nothing run here can rename the host",
        };
        sys.note(&format!("/* the lab's guard, not the lesson's: {what} */"));
        sys.unshare(guard.clone_flags())
            .map_err(|e| ("unshare", e))?;
        if guard.mount {
            make_root_private(sys)?;
        }
    }
    Ok(())
}

/// Move the calling process into a cgroup on each hierarchy by writing its PID to each
/// `cgroup.procs` (cgroups(7)), before it unshares or forks, so that everything it
/// starts is born there and counted against the limits. Done by the child itself,
/// through [`Syscalls`], so the writes appear in the trace.
///
/// # Errors
/// `("write", errno)`: on cgroup v2, EBUSY means the cgroup is not a leaf (the "no
/// internal processes" rule).
pub fn enter_cgroups(sys: &dyn Syscalls, procs: &[PathBuf]) -> SetupResult {
    if procs.is_empty() {
        return Ok(());
    }
    let me = nix::unistd::getpid().to_string();
    for f in procs {
        sys.write_file(f, &me).map_err(|e| ("write", e))?;
    }
    Ok(())
}

/// In a new mount namespace, before any mount: `/` and everything under it become
/// MS_REC|MS_PRIVATE, so no mount made here propagates to the host, even where the host's
/// `/` is shared (systemd's default; pitfall M1, mount_namespaces(7)).
fn make_root_private(sys: &dyn Syscalls) -> SetupResult {
    sys.mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )
    .map_err(|e| ("mount", e))
}

/// Phase 2, in the process that will exec (PID 1 when there is a PID namespace): change
/// root (chroot and chdir, or with `spec.pivot_root` the sequence of `pivot.rs`), then
/// mount /proc inside it, then set the hostname.
///
/// # Errors
/// The failing call's name and errno.
pub fn prepare_root(sys: &dyn Syscalls, spec: &ContainerSpec) -> SetupResult {
    // The shared rootfs, read-only in this mount namespace (the lab's guard).
    if let Some(tree) = &spec.protect
        && (spec.effective_namespaces().mount || spec.guard_namespaces().mount)
    {
        super::protect::read_only(sys, tree)?;
        // A host shell (no root of its own) whose learner may chroot into the tree by
        // hand: give the tree its devices, so `2>/dev/null` there works.
        if spec.root.is_none() && spec.minimal_dev {
            super::devfs::mount_minimal(sys, tree)?;
        }
    }
    // The root: the rootfs itself, or the merged directory of an overlay over it.
    let mut root = spec.root.clone();
    if let (Some(lower), Some(base)) = (&spec.root, &spec.overlay) {
        let mut merged = lower.clone();
        super::overlay::prepare(sys, lower, base, &mut merged)?;
        root = Some(merged);
    }
    // Pitfall C2: a chroot's root that is not a mount point breaks what relies on `/`
    // being one inside (`unshare -m` fails with EINVAL, pivot_root with EINVAL or EBUSY):
    // in a mount namespace of the container's own, bind it onto itself first.
    if let Some(root) = root.as_deref()
        && !spec.pivot_root
        && spec.overlay.is_none()
        && spec.protect.as_deref() != Some(root)
        && (spec.effective_namespaces().mount || spec.guard_namespaces().mount)
    {
        bind_onto_itself(sys, root)?;
    }
    // Volumes: in the container's private mount namespace, before the chroot (the
    // sources are host paths).
    super::volumes::mount_volumes(
        sys,
        root.as_deref().unwrap_or(Path::new("/")),
        &spec.volumes,
    )?;
    // As a user with no PID namespace of its own, a new procfs is refused: it would show
    // the host's PID namespace, which the user namespace does not own (proc(5),
    // pid_namespaces(7)). The host's /proc, bound recursively (its sub-mounts come along,
    // locked), shows the same processes; `unshare --map-root-user --mount` plus
    // `mount --rbind /proc ROOT/proc` does the same by hand.
    let bind_host_proc =
        spec.mount_proc && spec.user.is_some() && !super::userns::owns_pid_namespace(spec);
    if bind_host_proc && let Some(root) = &root {
        sys.note("/* as a user: no PID namespace of its own, so the host's /proc is bound, not a new procfs mounted */");
        sys.mount(
            Some("/proc"),
            &root.join("proc"),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
        .map_err(|e| ("mount", e))?;
    }
    let mut proc_mounted = bind_host_proc;
    if let Some(root) = root.as_ref().filter(|_| spec.pivot_root) {
        // A new mount namespace is certain here: effective_namespaces adds one. /proc
        // goes in before the pivot, while the host's /proc is still in the namespace
        // (pivot.rs, step 3): in a user namespace it is refused after.
        let proc_at = super::syscalls::in_root(root, "/proc");
        super::pivot::pivot_into_then(sys, root, true, &mut || {
            if spec.mount_proc && !bind_host_proc {
                mount_proc(sys, spec, &proc_at)?;
                proc_mounted = true;
            }
            Ok(())
        })?;
    } else if let Some(root) = &root {
        if spec.minimal_dev {
            super::devfs::mount_minimal(sys, root)?;
        }
        sys.chroot(root).map_err(|e| ("chroot", e))?;
        // chroot(2) leaves the cwd outside the new root: the classic escape. Close it.
        sys.chdir(Path::new("/")).map_err(|e| ("chdir", e))?;
    }
    if spec.mount_proc && !proc_mounted {
        mount_proc(sys, spec, Path::new("/proc"))?;
    }
    if let Some(name) = &spec.hostname {
        sys.sethostname(name).map_err(|e| ("sethostname", e))?;
    }
    Ok(())
}

/// `mount(ROOT, ROOT, NULL, MS_BIND|MS_REC, NULL)`: the root becomes a mount point of
/// this (private) mount namespace, so that inside the chroot `/` is one, as
/// mount_namespaces(7) and pivot_root(2) expect; `unshare -m` inside then works (pitfall
/// C2). The pivot (pivot.rs) and the lab's read-only guard (protect.rs) bind it themselves.
///
/// # Errors
/// `("mount", errno)`.
fn bind_onto_itself(sys: &dyn Syscalls, root: &Path) -> SetupResult {
    let src = root.to_string_lossy();
    sys.mount(
        Some(&src),
        root,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| ("mount", e))
}

/// A fresh procfs on `target` (`/proc` inside the root, or `R/proc` before a pivot),
/// showing the caller's PID namespace (proc(5)).
fn mount_proc(sys: &dyn Syscalls, spec: &ContainerSpec, target: &Path) -> SetupResult {
    sys.mount(
        Some("proc"),
        target,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )
    .map_err(|e| match e {
        // In a user namespace with a PID namespace of its own (without one, the host's
        // /proc is bound instead), EPERM here is the outer /proc's sub-mounts (userns.rs).
        Errno::EPERM if spec.user.is_some() => (super::userns::PROC_MASKED_TAG, e),
        _ => ("mount", e),
    })
}

/// The namespaces a joining process enters, in youki's order: PID first (it only affects
/// children), mount last (so /proc paths stay reachable), as nsenter(1) also puts mount.
///
/// A rootless container's user namespace comes first: the others are owned by it, and
/// only inside it does the joining process hold the capabilities setns(2) needs for them
/// (user_namespaces(7)). A container of root's has none, so it is skipped (same inode).
pub const JOIN_ORDER: [(&str, CloneFlags); 6] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("net", CloneFlags::CLONE_NEWNET),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// A namespace file opened for setns(2): its path (for the trace), its type, the fd.
pub type NsFile = (PathBuf, CloneFlags, OwnedFd);

/// Open namespace files of `target` that differ from ours, to join with setns(2).
///
/// # Errors
/// Any open(2) failure, as (call, errno).
pub fn open_namespaces(target: Pid) -> Result<Vec<NsFile>, (&'static str, Errno)> {
    let mut out = Vec::new();
    for (name, flag) in JOIN_ORDER {
        let theirs = PathBuf::from(format!("/proc/{target}/ns/{name}"));
        let ours = PathBuf::from(format!("/proc/self/ns/{name}"));
        let t = std::fs::metadata(&theirs).map_err(|e| ("stat", io_errno(&e)))?;
        let o = std::fs::metadata(&ours).map_err(|e| ("stat", io_errno(&e)))?;
        if std::os::unix::fs::MetadataExt::ino(&t) == std::os::unix::fs::MetadataExt::ino(&o) {
            continue;
        }
        let fd = open(&theirs, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| ("open", e))?;
        out.push((theirs, flag, fd));
    }
    Ok(out)
}

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Join the namespaces opened by [`open_namespaces`], in order.
///
/// # Errors
/// The failing call's name and errno.
pub fn join_namespaces(sys: &dyn Syscalls, fds: &[NsFile]) -> SetupResult {
    sys.set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| ("prctl", e))?;
    for (path, flag, fd) in fds {
        sys.setns(fd.as_fd(), *flag, path)
            .map_err(|e| ("setns", e))?;
    }
    Ok(())
}

/// After joining: take the container's root (opened before setns, as nsenter does),
/// so a chroot-based container and a pivot_root-based one look the same.
///
/// # Errors
/// The failing call's name and errno.
pub fn enter_root(sys: &dyn Syscalls, root_fd: BorrowedFd<'_>, root_path: &Path) -> SetupResult {
    sys.set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| ("prctl", e))?;
    sys.fchdir(root_fd, root_path).map_err(|e| ("fchdir", e))?;
    sys.chroot(Path::new(".")).map_err(|e| ("chroot", e))?;
    sys.chdir(Path::new("/")).map_err(|e| ("chdir", e))?;
    Ok(())
}

/// How the forked child sets itself up.
enum Plan<'a> {
    /// A new container from a spec.
    New(&'a ContainerSpec),
    /// Join a running container whose first process is `target` (and its cgroups,
    /// through these `cgroup.procs` files, as `docker exec` does).
    Join {
        target: Pid,
        command: &'a [String],
        cgroup_procs: &'a [PathBuf],
    },
}

/// Start a new container from `spec`.
///
/// # Errors
/// Not single-threaded, a pipe or fork failure. A syscall that fails in the child is
/// not an error here: it is reported in [`Spawned::setup_failure`] with the trace.
pub fn spawn(spec: &ContainerSpec, stdio: Stdio) -> Result<Spawned, RuntimeError> {
    if (spec.command.is_empty() && !spec.init) || spec.command.first().is_some_and(String::is_empty)
    {
        return Err(RuntimeError::EmptyCommand);
    }
    // Marked unprivileged, run by a user: as that user, nothing of the lab's added
    // (unprivileged.rs says why nothing is lost).
    let plain;
    let spec = if spec.unprivileged && !nix::unistd::geteuid().is_root() {
        plain = super::unprivileged::as_the_user(spec);
        &plain
    } else {
        spec
    };
    // Not root: a container that needs privilege starts in a user namespace (userns.rs):
    // in a lab, the lab's one (joined); otherwise a new one.
    let rootless = super::userns::rootless_spec(spec);
    let spec = rootless.as_ref().unwrap_or(spec);
    let holder = spec.user.and_then(|m| super::userns::lab_holder(&m));
    // The lab's runner shows how its user namespace was made before the first trace
    // that joins it (userns::take_holder_trace).
    launch(&Plan::New(spec), stdio, holder)
}

/// Run `command` inside the running container whose first process is `target` (host
/// PID): setns into each of its namespaces, fork (only the child is in the PID
/// namespace), chroot to its root, exec — what `nsenter -t PID -a` and `docker exec` do.
///
/// # Errors
/// As [`spawn`]; [`RuntimeError::NoSuchContainer`] when `target` is gone.
pub fn join(target: Pid, command: &[String], stdio: Stdio) -> Result<Spawned, RuntimeError> {
    join_in_cgroup(target, command, stdio, &[])
}

/// As [`join`], and the joining process first writes its PID to each of `cgroup_procs`
/// (the container's cgroups), so the command counts against the container's limits.
///
/// # Errors
/// As [`join`].
pub fn join_in_cgroup(
    target: Pid,
    command: &[String],
    stdio: Stdio,
    cgroup_procs: &[PathBuf],
) -> Result<Spawned, RuntimeError> {
    if command.first().is_none_or(String::is_empty) {
        return Err(RuntimeError::EmptyCommand);
    }
    if !Path::new(&format!("/proc/{target}")).exists() {
        return Err(RuntimeError::NoSuchContainer {
            pid: target.as_raw(),
        });
    }
    launch(
        &Plan::Join {
            target,
            command,
            cgroup_procs,
        },
        stdio,
        None,
    )
}

fn cstrings(v: &[String]) -> Result<Vec<CString>, RuntimeError> {
    v.iter()
        .map(|s| CString::new(s.as_bytes()).map_err(|_| RuntimeError::NulByte { arg: s.clone() }))
        .collect()
}

fn launch(plan: &Plan<'_>, stdio: Stdio, holder: Option<Pid>) -> Result<Spawned, RuntimeError> {
    ensure_single_threaded()?;
    let (trace_r, trace_w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys("pipe2", e))?;
    let capture = if matches!(stdio, Stdio::Capture | Stdio::Script) {
        Some(nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys("pipe2", e))?)
    } else {
        None
    };
    let script = if stdio == Stdio::Script {
        Some(nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys("pipe2", e))?)
    } else {
        None
    };
    let devnull = open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| RuntimeError::sys("open /dev/null", e))?;
    // Rootless: the child says "user namespace made" on one pipe and waits on the other
    // until the parent has written its id maps (userns.rs).
    let user_map = match plan {
        Plan::New(spec) => spec.user,
        Plan::Join { .. } => None,
    };
    // In a lab, its user namespace is joined instead: opened before fork.
    let holder_ns = match (user_map, holder) {
        (Some(_), Some(h)) => {
            let path = PathBuf::from(format!("/proc/{h}/ns/user"));
            let fd = open(&path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(|e| RuntimeError::sys("open /proc/PID/ns/user", e))?;
            Some((path, CloneFlags::CLONE_NEWUSER, fd))
        }
        _ => None,
    };
    let user_map = user_map.filter(|_| holder_ns.is_none());
    let user_pipes = match user_map {
        Some(_) => Some((
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys("pipe2", e))?,
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys("pipe2", e))?,
        )),
        None => None,
    };

    // Everything the child needs is built before fork.
    let (command, spec_env, join_fds, root_fd, root_path) = match plan {
        Plan::New(spec) => (
            spec.command.clone(),
            spec.environment(),
            // A pod member: the namespace files it joins, opened before fork.
            super::share::open_shared(spec.share.as_ref()).map_err(|(c, e)| match spec.share {
                Some(s) if !Path::new(&format!("/proc/{}", s.pid)).exists() => {
                    RuntimeError::NoSuchContainer {
                        pid: s.pid.as_raw(),
                    }
                }
                _ => RuntimeError::sys(c, e),
            })?,
            None,
            PathBuf::new(),
        ),
        Plan::Join {
            target, command, ..
        } => {
            let fds = open_namespaces(*target).map_err(|(c, e)| RuntimeError::sys(c, e))?;
            let root_path = PathBuf::from(format!("/proc/{target}/root"));
            let rfd = open(
                &root_path,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| RuntimeError::sys("open /proc/PID/root", e))?;
            (
                command.to_vec(),
                ContainerSpec::default().environment(),
                fds,
                Some(rfd),
                root_path,
            )
        }
    };
    let argv = cstrings(&command)?;
    let envp: Vec<CString> = cstrings(
        &spec_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>(),
    )?;
    let joins_pid = join_fds
        .iter()
        .any(|(_, f, _)| *f == CloneFlags::CLONE_NEWPID);

    // SAFETY: the process is single-threaded (checked above), so the child may allocate
    // and take locks; it only runs the setup below, then execs or exits with _exit.
    #[allow(unsafe_code)]
    let forked = unsafe { nix::unistd::fork() }.map_err(|e| RuntimeError::sys("fork", e))?;
    match forked {
        ForkResult::Child => {
            drop(trace_r);
            let out_w = capture.as_ref().map(|(_, w)| w.as_raw_fd());
            let in_r = script.as_ref().map(|(r, _)| r.as_raw_fd());
            let user_sync = user_pipes.map(|((ready_r, ready_w), (go_r, go_w))| {
                drop(ready_r);
                drop(go_w);
                (ready_w, go_r)
            });
            let code = child_main(
                plan,
                stdio,
                trace_w.as_raw_fd(),
                out_w,
                in_r,
                devnull.as_fd(),
                &argv,
                &envp,
                &join_fds,
                root_fd.as_ref(),
                &root_path,
                joins_pid,
                user_sync,
                holder_ns.as_ref(),
            );
            // SAFETY: _exit skips atexit handlers and stdio flushing that belong to the parent.
            #[allow(unsafe_code)]
            unsafe {
                libc::_exit(code)
            }
        }
        ForkResult::Parent { child } => {
            if let (Some(map), Some(((ready_r, ready_w), (go_r, go_w)))) = (user_map, user_pipes) {
                drop(ready_w);
                drop(go_r);
                write_maps_for(child, &map, trace_w.as_raw_fd(), &ready_r, go_w);
            }
            drop(trace_w);
            drop(devnull);
            let output = capture.map(|(r, w)| {
                drop(w);
                r
            });
            let lines = match read_all(trace_r, Duration::from_secs(30), "container setup") {
                Ok(l) => l,
                Err(e) => {
                    kill_and_reap(child);
                    return Err(e);
                }
            };
            let mut spawned = parse_trace(child, &lines);
            spawned.output = output;
            spawned.input = script.map(|(r, w)| {
                drop(r);
                w
            });
            Ok(spawned)
        }
    }
}

/// The parent's part of a rootless start: wait for the child's "user namespace made"
/// (EOF: it failed before, and says why on the trace), write its maps through a traced
/// [`LinuxSyscalls`] on the same trace pipe (so the lines fall in order between the
/// child's), then release it: one byte on `go`, or EOF after reporting the failure.
fn write_maps_for(
    child: Pid,
    map: &super::userns::IdMap,
    trace: RawFd,
    ready: &OwnedFd,
    go: OwnedFd,
) {
    let mut b = [0u8; 1];
    let ready_said = loop {
        match nix::unistd::read(ready, &mut b) {
            Err(Errno::EINTR) => {}
            r => break matches!(r, Ok(1)),
        }
    };
    if !ready_said {
        return;
    }
    let sys = LinuxSyscalls::new(Some(trace), "lab");
    let writer = super::userns::Writer::this_process(child);
    match super::userns::write_id_maps(&sys, child, writer, map) {
        Ok(()) => {
            let _ = nix::unistd::write(&go, b"g");
        }
        Err((call, e)) => send(trace, &format!("F {call} {}\n", e as i32)),
    }
}

/// Read a pipe to EOF, giving up after `limit`.
/// The most output kept from one command (1 MiB); the rest is read and dropped, so a
/// runaway command cannot eat the lab's memory.
pub const MAX_OUTPUT: usize = 1 << 20;

fn read_all(fd: OwnedFd, limit: Duration, what: &str) -> Result<String, RuntimeError> {
    let mut buf = Vec::new();
    let mut dropped = 0usize;
    let deadline = Instant::now() + limit;
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RuntimeError::Timeout {
                what: what.to_string(),
                secs: limit.as_secs(),
            });
        }
        let mut pfd = [nix::poll::PollFd::new(
            fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = u16::try_from(left.as_millis().min(10_000)).unwrap_or(10_000);
        match nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(ms)) {
            Ok(0) | Err(Errno::EINTR) => {
                if crate::lab::interrupted() {
                    return Err(RuntimeError::Interrupted);
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => return Err(RuntimeError::sys("poll", e)),
        }
        match nix::unistd::read(&fd, &mut chunk) {
            Ok(0) => break,
            Ok(n) if buf.len() + n <= MAX_OUTPUT => buf.extend_from_slice(&chunk[..n]),
            Ok(n) => dropped += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(RuntimeError::sys("read", e)),
        }
    }
    let mut s = String::from_utf8_lossy(&buf).into_owned();
    if dropped > 0 {
        s.push_str(&format!(
            "\n[fromscratch: {dropped} more bytes of output were dropped]\n"
        ));
    }
    Ok(s)
}

/// Turn the child's messages into a [`Spawned`]. Message lines:
/// `T role<TAB>call`, `P pid` (host PID of PID 1), `F call errno` (setup failed),
/// `X errno` (execve failed; the last traced execve gets the error).
fn parse_trace(child: Pid, text: &str) -> Spawned {
    let mut trace: Vec<String> = Vec::new();
    let mut pid1 = child;
    let mut setup_failure = None;
    let mut exec_failure = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("T ") {
            let (role, call) = rest.split_once('\t').unwrap_or(("", rest));
            trace.push(format!("{role:>7}  {call}"));
        } else if let Some(p) = line.strip_prefix("P ") {
            if let Ok(p) = p.trim().parse::<i32>() {
                pid1 = Pid::from_raw(p);
            }
        } else if let Some(rest) = line.strip_prefix("F ") {
            let mut it = rest.split_whitespace();
            let call = it.next().unwrap_or("?").to_string();
            let errno = it
                .next()
                .and_then(|e| e.parse().ok())
                .map_or(Errno::UnknownErrno, Errno::from_raw);
            setup_failure = Some((call, errno));
        } else if let Some(rest) = line.strip_prefix("X ") {
            let mut it = rest.splitn(2, ' ');
            let errno = it
                .next()
                .and_then(|e| e.parse().ok())
                .map_or(Errno::UnknownErrno, Errno::from_raw);
            let prog = it.next().unwrap_or("").to_string();
            exec_failure = Some((prog, errno));
        }
    }
    // An execve that was traced and not followed by a failure succeeded.
    for l in &mut trace {
        if l.trim_start()
            .split_once("  ")
            .is_some_and(|(_, c)| c.starts_with("execve("))
            // Not yet given a result: the line still ends with the environment, the
            // last argument (an argv string may itself hold " = ").
            && l.ends_with(" vars */])")
        {
            match &exec_failure {
                Some((_, e)) => {
                    *l = format!(
                        "{l} = -1 {} ({})",
                        super::syscalls::errno_name(*e),
                        e.desc()
                    );
                }
                None => l.push_str(" = 0"),
            }
        }
    }
    Spawned {
        child,
        pid1,
        output: None,
        input: None,
        trace,
        setup_failure,
        exec_failure,
    }
}

fn send(fd: RawFd, msg: &str) {
    // SAFETY: `fd` is the trace pipe's write end, open in this process.
    #[allow(unsafe_code)]
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    let _ = nix::unistd::write(b, msg.as_bytes());
}

#[allow(clippy::too_many_arguments)]
fn child_main(
    plan: &Plan<'_>,
    stdio: Stdio,
    trace: RawFd,
    out_w: Option<RawFd>,
    in_r: Option<RawFd>,
    devnull: BorrowedFd<'_>,
    argv: &[CString],
    envp: &[CString],
    join_fds: &[NsFile],
    root_fd: Option<&OwnedFd>,
    root_path: &Path,
    joins_pid: bool,
    user_sync: Option<(OwnedFd, OwnedFd)>,
    holder_ns: Option<&NsFile>,
) -> i32 {
    // Default signal dispositions: the lab may ignore SIGINT; a container must not.
    init::reset_signals();
    match stdio {
        Stdio::Capture => {
            let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
            dup_onto(devnull.as_raw_fd(), 0);
            if let Some(w) = out_w {
                dup_onto(w, 1);
                dup_onto(w, 2);
            }
        }
        Stdio::Script => {
            let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
            dup_onto(in_r.unwrap_or(devnull.as_raw_fd()), 0);
            if let Some(w) = out_w {
                dup_onto(w, 1);
                dup_onto(w, 2);
            }
        }
        Stdio::Null => {
            let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
            for fd in 0..=2 {
                dup_onto(devnull.as_raw_fd(), fd);
            }
        }
        // The terminal is handed over by the process that execs (see exec_command), so
        // that its process group has a number inside its own PID namespace.
        Stdio::Inherit => {}
    }
    let sys = LinuxSyscalls::new(Some(trace), "child");
    let fail = |(call, e): (&'static str, Errno)| {
        send(trace, &format!("F {call} {}\n", e as i32));
        EXIT_SETUP_FAILED
    };

    let (needs_fork, spec) = match plan {
        Plan::New(spec) => {
            if let Some((path, flag, fd)) = holder_ns {
                // Rootless in a lab: the lab's user namespace, mapped already.
                if let Err(f) = sys.setns(fd.as_fd(), *flag, path).map_err(|e| ("setns", e)) {
                    return fail(f);
                }
            }
            if let Some((ready_w, go_r)) = user_sync {
                // Rootless: the user namespace first, alone; wait for the parent's maps.
                let mut ready = Some(ready_w);
                let mut sync = || {
                    if let Some(w) = ready.take() {
                        let _ = nix::unistd::write(&w, b"r");
                    }
                    let mut b = [0u8; 1];
                    loop {
                        match nix::unistd::read(&go_r, &mut b) {
                            Ok(1) => return Ok(()),
                            Err(Errno::EINTR) => {}
                            // The parent reported its failure on the trace already.
                            _ => return Err(("", Errno::EPERM)),
                        }
                    }
                };
                match super::userns::enter_user_namespace(&sys, &mut sync) {
                    Ok(()) => {}
                    Err(("", _)) => return EXIT_SETUP_FAILED,
                    Err(f) => return fail(f),
                }
            }
            if let Err(f) = enter_namespaces_sharing(&sys, spec, join_fds) {
                return fail(f);
            }
            (spec.effective_namespaces().pid, Some(*spec))
        }
        Plan::Join { cgroup_procs, .. } => {
            if let Err(f) = enter_cgroups(&sys, cgroup_procs) {
                return fail(f);
            }
            if let Err(f) = join_namespaces(&sys, join_fds) {
                return fail(f);
            }
            (joins_pid, None)
        }
    };

    if needs_fork {
        // The child waits on this pipe until the parent has traced the fork, so the
        // trace reads in the order things happened.
        let Ok((go_r, go_w)) = nix::unistd::pipe2(OFlag::O_CLOEXEC) else {
            return EXIT_SETUP_FAILED;
        };
        // SAFETY: still single-threaded (we are the forked child of a single-threaded process).
        #[allow(unsafe_code)]
        match unsafe { nix::unistd::fork() } {
            Err(e) => {
                sys.note(&format!("fork() = -1 {e:?} ({})", e.desc()));
                return fail(("fork", e));
            }
            Ok(ForkResult::Parent { child }) => {
                drop(go_r);
                sys.note(&format!("fork() = {child}"));
                let _ = nix::unistd::write(&go_w, b"g");
                drop(go_w);
                send(trace, &format!("P {child}\n"));
                let _ = nix::unistd::close(trace);
                if let Some(w) = out_w {
                    let _ = nix::unistd::close(w);
                }
                return relay_exit(child);
            }
            Ok(ForkResult::Child) => {
                drop(go_w);
                let mut b = [0u8; 1];
                let _ = nix::unistd::read(&go_r, &mut b);
                sys.set_role("pid 1");
            }
        }
    }

    match (plan, spec) {
        (Plan::New(_), Some(spec)) => {
            if needs_fork
                && let Err(f) = sys.set_pdeathsig(Signal::SIGKILL).map_err(|e| ("prctl", e))
            {
                return fail(f);
            }
            if let Err(f) = prepare_root(&sys, spec) {
                return fail(f);
            }
            // Last before exec (or our init): root changed, /proc and hostname done.
            if let Err(f) = super::security::apply(&sys, &spec.security, super::security::capget) {
                return fail(f);
            }
            // As root, a command marked unprivileged becomes nobody, last of all.
            if let Err(f) =
                super::unprivileged::drop_ids(&sys, spec, nix::unistd::geteuid().is_root())
            {
                return fail(f);
            }
            if spec.init {
                return init::run_init(sys, trace, argv, envp, stdio == Stdio::Inherit);
            }
        }
        (Plan::Join { .. }, _) => {
            if needs_fork {
                sys.set_role("joined");
            }
            let Some(rfd) = root_fd else {
                return EXIT_SETUP_FAILED;
            };
            if let Err(f) = enter_root(&sys, rfd.as_fd(), root_path) {
                return fail(f);
            }
        }
        _ => {}
    }
    exec_command(&sys, trace, argv, envp, stdio == Stdio::Inherit)
}

/// In the child, for an interactive command: a process group of its own, made the
/// terminal's foreground group, so Ctrl-C and job control reach the shell and not the
/// lab. SIGTTOU is ignored around tcsetpgrp(3): a background group may not otherwise
/// change the foreground.
fn take_terminal() {
    let stdin = std::io::stdin();
    if !nix::unistd::isatty(&stdin).unwrap_or(false) {
        return;
    }
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    with_sigttou_ignored(|| {
        let _ = nix::unistd::tcsetpgrp(&stdin, nix::unistd::getpgrp());
    });
}

/// Make the lab's own process group the terminal's foreground again, after an
/// interactive command. A shell that was PID 1 in a PID namespace cannot give the
/// terminal back itself (the lab's group has no number in its namespace: "Cannot set tty
/// process group (No such process)"), and a lab left in the background gets EIO on its
/// next read.
pub fn reclaim_terminal() {
    let stdin = std::io::stdin();
    if !nix::unistd::isatty(&stdin).unwrap_or(false) {
        return;
    }
    with_sigttou_ignored(|| {
        let _ = nix::unistd::tcsetpgrp(&stdin, nix::unistd::getpgrp());
    });
}

fn with_sigttou_ignored(f: impl FnOnce()) {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, sigaction};
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: installing SIG_IGN, then putting back what was there, is always sound.
    #[allow(unsafe_code)]
    let old = unsafe { sigaction(Signal::SIGTTOU, &ignore) };
    f();
    if let Ok(old) = old {
        // SAFETY: as above.
        #[allow(unsafe_code)]
        unsafe {
            let _ = sigaction(Signal::SIGTTOU, &old);
        }
    }
}

fn dup_onto(from: RawFd, to: RawFd) {
    // SAFETY: dup2 on fds this process owns; `to` is 0, 1 or 2.
    #[allow(unsafe_code)]
    unsafe {
        libc::dup2(from, to);
    }
}

/// Wait for `child` and exit the way it did, as `unshare --fork` does.
fn relay_exit(child: Pid) -> i32 {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Err(Errno::EINTR) | Ok(_) => {}
            Err(_) => return EXIT_SETUP_FAILED,
        }
    }
}

/// Find `prog` the way execvp(3) does, but in the container's `PATH` (glibc's execvpe
/// would search the *lab's* PATH).
#[must_use]
pub fn resolve_program(prog: &str) -> PathBuf {
    if prog.contains('/') {
        return PathBuf::from(prog);
    }
    for dir in DEFAULT_PATH.split(':') {
        let cand = Path::new(dir).join(prog);
        if nix::unistd::access(&cand, nix::unistd::AccessFlags::X_OK).is_ok() {
            return cand;
        }
    }
    PathBuf::from(format!("/usr/bin/{prog}"))
}

/// execve the command; on failure report `X errno program` and return 127.
pub(crate) fn exec_command(
    sys: &LinuxSyscalls,
    trace: RawFd,
    argv: &[CString],
    envp: &[CString],
    interactive: bool,
) -> i32 {
    if interactive {
        take_terminal();
    }
    let Some(first) = argv.first() else {
        return EXIT_EXEC_FAILED;
    };
    let prog = first.to_string_lossy().into_owned();
    let path = resolve_program(&prog);
    let shown: Vec<String> = argv
        .iter()
        .map(|a| format!("{:?}", a.to_string_lossy()))
        .collect();
    sys.note(&format!(
        "execve({:?}, [{}], [/* {} vars */])",
        path.display().to_string(),
        shown.join(", "),
        envp.len()
    ));
    let Ok(cpath) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return EXIT_EXEC_FAILED;
    };
    let e = match nix::unistd::execve(&cpath, argv, envp) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    send(trace, &format!("X {} {}\n", e as i32, path.display()));
    EXIT_EXEC_FAILED
}

/// Wait for a captured process: read its output until EOF, then reap it.
/// Kills its process group after `timeout`.
///
/// # Errors
/// [`RuntimeError::Timeout`] (after killing it), [`RuntimeError::Interrupted`] on Ctrl-C
/// (after killing it), or a failed poll/read/wait.
pub fn wait_captured(sp: &mut Spawned, timeout: Duration) -> Result<Outcome, RuntimeError> {
    let output = match sp.output.take() {
        Some(fd) => match read_all(fd, timeout, "the command") {
            Ok(s) => s,
            Err(e) => {
                kill_and_reap(sp.child);
                return Err(e);
            }
        },
        None => String::new(),
    };
    // The output can end before the process does (it closed stdout, or a background
    // child kept it): wait, but no longer than the same limit, and not past Ctrl-C.
    let deadline = Instant::now() + timeout;
    let (code, signal) = loop {
        match waitpid(sp.child, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => break (code, None),
            Ok(WaitStatus::Signaled(_, sig, _)) => break (128 + sig as i32, Some(sig)),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(RuntimeError::sys("waitpid", e)),
        }
        if crate::lab::interrupted() {
            kill_and_reap(sp.child);
            return Err(RuntimeError::Interrupted);
        }
        if Instant::now() >= deadline {
            kill_and_reap(sp.child);
            return Err(RuntimeError::Timeout {
                what: "the command".into(),
                secs: timeout.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    Ok(Outcome {
        code,
        signal,
        output,
    })
}

/// Block until `pid` (our child) exits; (code, signal) with code = 128+sig when killed.
///
/// # Errors
/// waitpid failures other than EINTR.
pub fn wait_exit(pid: Pid) -> Result<(i32, Option<Signal>), RuntimeError> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok((code, None)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok((128 + sig as i32, Some(sig))),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(RuntimeError::sys("waitpid", e)),
        }
    }
}

/// Like [`wait_exit`], but gives up when Ctrl-C, SIGTERM or SIGHUP has arrived.
///
/// # Errors
/// [`RuntimeError::Interrupted`] (the child is still running: the caller stops it), or a
/// waitpid failure.
pub fn wait_exit_interruptible(pid: Pid) -> Result<(i32, Option<Signal>), RuntimeError> {
    loop {
        if crate::lab::interrupted() {
            return Err(RuntimeError::Interrupted);
        }
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok((code, None)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok((128 + sig as i32, Some(sig))),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(RuntimeError::sys("waitpid", e)),
        }
    }
}

/// SIGKILL every child this process still has and reap them: with
/// PR_SET_CHILD_SUBREAPER set, these are the orphans of the processes we started (a
/// command's `sleep &` that outlived it), which would otherwise live on under the host's
/// init. Returns how many were killed.
pub fn kill_orphans() -> usize {
    let me = nix::unistd::getpid();
    let mut killed = 0;
    for _ in 0..64 {
        let children: Vec<i32> = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        if children.is_empty() {
            break;
        }
        for c in children {
            let pid = Pid::from_raw(c);
            if nix::sys::signal::kill(pid, Signal::SIGKILL).is_ok() {
                killed += 1;
            }
            let _ = waitpid(pid, None);
        }
    }
    killed
}

/// SIGKILL our child `pid` (and its process group, which it leads) and reap it.
/// With PR_SET_PDEATHSIG set in every container process, the rest follow.
pub fn kill_and_reap(pid: Pid) {
    let _ = nix::sys::signal::kill(Pid::from_raw(-pid.as_raw()), Signal::SIGKILL);
    let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
    let _ = wait_exit(pid);
}

/// Convenience: spawn, wait, return the outcome and trace.
///
/// # Errors
/// As [`spawn`] and [`wait_captured`].
pub fn run(spec: &ContainerSpec, timeout: Duration) -> Result<(Outcome, Spawned), RuntimeError> {
    let mut sp = spawn(spec, Stdio::Capture)?;
    let out = wait_captured(&mut sp, timeout)?;
    Ok((out, sp))
}

/// An `OwnedFd` from a raw one we own.
#[allow(dead_code)]
fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: callers pass an fd they own exclusively.
    #[allow(unsafe_code)]
    unsafe {
        OwnedFd::from_raw_fd(fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::spec::Namespaces;
    use crate::runtime::syscalls::RecordingSyscalls;

    fn pid_spec() -> ContainerSpec {
        ContainerSpec {
            root: Some(PathBuf::from("/r")),
            namespaces: Namespaces {
                pid: true,
                ..Namespaces::default()
            },
            mount_proc: true,
            command: vec!["/bin/sh".into()],
            ..ContainerSpec::default()
        }
    }

    #[test]
    fn private_propagation_comes_right_after_unshare_and_before_any_mount() {
        let rec = RecordingSyscalls::new();
        enter_namespaces(&rec, &pid_spec()).unwrap();
        prepare_root(&rec, &pid_spec()).unwrap();
        assert_eq!(
            rec.lines(),
            vec![
                "prctl(PR_SET_PDEATHSIG, SIGKILL) = 0",
                "unshare(CLONE_NEWNS|CLONE_NEWPID) = 0",
                "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0",
                "mount(\"/r\", \"/r\", NULL, MS_BIND|MS_REC, NULL) = 0",
                "chroot(\"/r\") = 0",
                "chdir(\"/\") = 0",
                "mount(\"proc\", \"/proc\", \"proc\", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL) = 0",
            ]
        );
    }

    #[test]
    fn plain_chroot_unshares_nothing_and_mounts_nothing() {
        let rec = RecordingSyscalls::new();
        let spec = ContainerSpec {
            root: Some("/r".into()),
            command: vec!["ls".into()],
            ..Default::default()
        };
        enter_namespaces(&rec, &spec).unwrap();
        prepare_root(&rec, &spec).unwrap();
        assert_eq!(rec.names(), vec!["prctl", "chroot", "chdir"]);
    }

    #[test]
    fn the_guard_adds_private_mount_and_uts_namespaces_before_chroot() {
        let rec = RecordingSyscalls::new();
        let spec = ContainerSpec {
            root: Some("/r".into()),
            command: vec!["sh".into()],
            guard: true,
            ..Default::default()
        };
        enter_namespaces(&rec, &spec).unwrap();
        prepare_root(&rec, &spec).unwrap();
        let lines = rec.lines();
        assert!(lines[1].starts_with("/* the lab's guard"), "{lines:?}");
        assert_eq!(
            lines[2..].to_vec(),
            vec![
                "unshare(CLONE_NEWNS|CLONE_NEWUTS) = 0",
                "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0",
                "mount(\"/r\", \"/r\", NULL, MS_BIND|MS_REC, NULL) = 0",
                "chroot(\"/r\") = 0",
                "chdir(\"/\") = 0",
            ]
        );
        // With a mount namespace of its own, the guard adds only UTS.
        let rec = RecordingSyscalls::new();
        let spec = ContainerSpec {
            mount_proc: true,
            ..spec
        };
        enter_namespaces(&rec, &spec).unwrap();
        assert!(
            rec.lines()
                .contains(&"unshare(CLONE_NEWUTS) = 0".to_string()),
            "{:?}",
            rec.lines()
        );
        // No root, no guard: a host probe sees the host.
        let rec = RecordingSyscalls::new();
        enter_namespaces(
            &rec,
            &ContainerSpec {
                command: vec!["ps".into()],
                guard: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(rec.names(), vec!["prctl"]);
    }

    #[test]
    fn a_failed_unshare_stops_the_sequence_and_names_the_call() {
        let rec = RecordingSyscalls::new();
        rec.fail_on("unshare", Errno::EPERM);
        let err = enter_namespaces(&rec, &pid_spec()).unwrap_err();
        assert_eq!(err, ("unshare", Errno::EPERM));
        assert_eq!(rec.names(), vec!["prctl", "unshare"]);
    }

    #[test]
    fn mount_proc_implies_a_mount_namespace() {
        let spec = ContainerSpec {
            mount_proc: true,
            ..Default::default()
        };
        assert!(spec.effective_namespaces().mount);
        assert!(!spec.effective_namespaces().pid);
    }

    #[test]
    fn joining_enters_root_the_nsenter_way() {
        let rec = RecordingSyscalls::new();
        let f = std::fs::File::open("/").unwrap();
        enter_root(&rec, f.as_fd(), Path::new("/proc/7/root")).unwrap();
        assert_eq!(rec.names(), vec!["prctl", "fchdir", "chroot", "chdir"]);
    }

    #[test]
    fn trace_parsing_marks_exec_success_and_failure() {
        let ok = parse_trace(
            Pid::from_raw(10),
            "T child\tchroot(\"/r\") = 0\nT child\texecve(\"/bin/true\", [\"true\"], [/* 3 vars */])\n",
        );
        assert!(ok.trace[1].ends_with("= 0"), "{:?}", ok.trace);
        // An argument holding " = " is still an execve without a result yet.
        let eq = parse_trace(
            Pid::from_raw(10),
            "T child\texecve(\"/bin/sh\", [\"sh\", \"-c\", \"x = 1\"], [/* 3 vars */])\n",
        );
        assert!(eq.trace[0].ends_with("*/]) = 0"), "{:?}", eq.trace);
        let bad = parse_trace(
            Pid::from_raw(10),
            "T child\texecve(\"/bin/x\", [\"x\"], [/* 3 vars */])\nX 2 /bin/x\n",
        );
        assert!(
            bad.trace[0].ends_with("= -1 ENOENT (No such file or directory)"),
            "{:?}",
            bad.trace
        );
        assert_eq!(
            bad.exec_failure,
            Some(("/bin/x".to_string(), Errno::ENOENT))
        );
        let pid = parse_trace(Pid::from_raw(10), "P 42\n");
        assert_eq!(pid.pid1, Pid::from_raw(42));
    }
}
