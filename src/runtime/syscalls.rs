//! The seam between the runtime's logic and the kernel.
//!
//! Every privileged call the runtime makes goes through [`Syscalls`] (the pattern youki
//! uses). [`LinuxSyscalls`] calls the kernel through `nix` and writes one trace line per
//! call to the trace pipe, so the learner sees the calls really made, with their real
//! results: `unshare(CLONE_NEWPID|CLONE_NEWNS) = 0`. [`RecordingSyscalls`] makes no call
//! at all: it records each one and returns a result it was told to, so unit tests can
//! check the order of operations without root.
//!
//! `fork` and `execve` are not on the trait: they are the process boundaries the
//! sequences are cut at (see `spawn.rs`); they are traced through [`Syscalls::note`].

use std::cell::RefCell;
use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;

/// One system call as the learner sees it: its name, its arguments rendered the way
/// strace renders them, and its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The syscall's name: `unshare`, `mount`, `chroot`…
    pub name: &'static str,
    /// Arguments, already rendered (`"CLONE_NEWPID|CLONE_NEWNS"`, `"\"/proc\""`).
    pub args: Vec<String>,
}

impl Call {
    fn new(name: &'static str, args: Vec<String>) -> Self {
        Self { name, args }
    }

    /// The strace-style line for this call with its result:
    /// `chroot("/r") = 0` or `mount(…) = -1 EPERM (Operation not permitted)`.
    #[must_use]
    pub fn render(&self, result: Result<(), Errno>) -> String {
        let res = match result {
            Ok(()) => "0".to_string(),
            Err(e) => format!("-1 {} ({})", errno_name(e), e.desc()),
        };
        format!("{}({}) = {res}", self.name, self.args.join(", "))
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name, self.args.join(", "))
    }
}

/// `EINVAL`, `EPERM`…: the symbolic name strace prints.
#[must_use]
pub fn errno_name(e: Errno) -> String {
    // nix's Debug for Errno is the symbolic name.
    format!("{e:?}")
}

/// The calls the runtime makes between `fork` and `execve`.
///
/// Errors are the raw `Errno`; callers turn them into sentences that name the rule that
/// was broken (see `error.rs`).
pub trait Syscalls {
    /// unshare(2): move the calling process into new namespaces.
    fn unshare(&self, flags: CloneFlags) -> Result<(), Errno>;
    /// setns(2): join the namespace behind `fd` (an open `/proc/PID/ns/*` file).
    /// `path` is only for the trace.
    fn setns(&self, fd: BorrowedFd<'_>, nstype: CloneFlags, path: &Path) -> Result<(), Errno>;
    /// mount(2).
    fn mount(
        &self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno>;
    /// umount2(2).
    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno>;
    /// chroot(2): change the root directory; the cwd is left alone, so `chdir("/")` must follow.
    fn chroot(&self, path: &Path) -> Result<(), Errno>;
    /// chdir(2).
    fn chdir(&self, path: &Path) -> Result<(), Errno>;
    /// fchdir(2): `path` is only for the trace.
    fn fchdir(&self, fd: BorrowedFd<'_>, path: &Path) -> Result<(), Errno>;
    /// pivot_root(2).
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno>;
    /// sethostname(2): only ever inside a new UTS namespace.
    fn sethostname(&self, name: &str) -> Result<(), Errno>;
    /// prctl(PR_SET_PDEATHSIG, sig): die with the parent.
    fn set_pdeathsig(&self, sig: Signal) -> Result<(), Errno>;
    /// kill(2).
    fn kill(&self, pid: nix::unistd::Pid, sig: Signal) -> Result<(), Errno>;
    /// Record a call made outside the trait (fork, execve, wait) so it appears in the
    /// trace in its place. `line` is already rendered.
    fn note(&self, line: &str);
}

/// Render `CLONE_NEWPID|CLONE_NEWNS` from flags.
#[must_use]
pub fn clone_flags_str(flags: CloneFlags) -> String {
    let names: Vec<&str> = flags.iter_names().map(|(n, _)| n).collect();
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

/// Render `MS_REC|MS_PRIVATE` from flags; `0` for none.
#[must_use]
pub fn ms_flags_str(flags: MsFlags) -> String {
    let names: Vec<&str> = flags.iter_names().map(|(n, _)| n).collect();
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

fn q(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

fn opt(s: Option<&str>) -> String {
    s.map_or_else(|| "NULL".to_string(), |s| format!("{s:?}"))
}

fn mount_call(
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Call {
    Call::new(
        "mount",
        vec![
            opt(source),
            q(target),
            opt(fstype),
            ms_flags_str(flags),
            opt(data),
        ],
    )
}

/// The real thing: calls the kernel through nix and writes a trace line per call to
/// `trace_fd` (a pipe the parent reads), prefixed by `role` ("child", "pid 1"…).
///
/// Writing allocates; that is safe here because the runtime forks only while the
/// process is single-threaded (checked in `spawn.rs`), so no other thread can hold
/// the allocator's lock.
pub struct LinuxSyscalls {
    trace_fd: Option<RawFd>,
    role: RefCell<String>,
}

impl LinuxSyscalls {
    /// A Linux implementation writing its trace to `trace_fd` (or nowhere).
    #[must_use]
    pub fn new(trace_fd: Option<RawFd>, role: &str) -> Self {
        Self {
            trace_fd,
            role: RefCell::new(role.to_string()),
        }
    }

    /// Change the role printed before each line (after a fork, the child is "pid 1").
    pub fn set_role(&self, role: &str) {
        *self.role.borrow_mut() = role.to_string();
    }

    /// Stop tracing (the init closes the pipe so the parent sees EOF).
    pub fn close_trace(&mut self) {
        if let Some(fd) = self.trace_fd.take() {
            let _ = nix::unistd::close(fd);
        }
    }

    fn emit(&self, call: &Call, result: Result<(), Errno>) -> Result<(), Errno> {
        self.note(&call.render(result));
        result
    }
}

impl Syscalls for LinuxSyscalls {
    fn unshare(&self, flags: CloneFlags) -> Result<(), Errno> {
        let r = nix::sched::unshare(flags);
        self.emit(&Call::new("unshare", vec![clone_flags_str(flags)]), r)
    }

    fn setns(&self, fd: BorrowedFd<'_>, nstype: CloneFlags, path: &Path) -> Result<(), Errno> {
        let r = nix::sched::setns(fd, nstype);
        let call = Call::new(
            "setns",
            vec![
                format!("{} /* {} */", fd.as_raw_fd(), path.display()),
                clone_flags_str(nstype),
            ],
        );
        self.emit(&call, r)
    }

    fn mount(
        &self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        let r = nix::mount::mount(source, target, fstype, flags, data);
        self.emit(&mount_call(source, target, fstype, flags, data), r)
    }

    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno> {
        let r = nix::mount::umount2(target, flags);
        let names: Vec<&str> = flags.iter_names().map(|(n, _)| n).collect();
        let f = if names.is_empty() {
            "0".into()
        } else {
            names.join("|")
        };
        self.emit(&Call::new("umount2", vec![q(target), f]), r)
    }

    fn chroot(&self, path: &Path) -> Result<(), Errno> {
        let r = nix::unistd::chroot(path);
        self.emit(&Call::new("chroot", vec![q(path)]), r)
    }

    fn chdir(&self, path: &Path) -> Result<(), Errno> {
        let r = nix::unistd::chdir(path);
        self.emit(&Call::new("chdir", vec![q(path)]), r)
    }

    fn fchdir(&self, fd: BorrowedFd<'_>, path: &Path) -> Result<(), Errno> {
        let r = nix::unistd::fchdir(fd);
        self.emit(
            &Call::new(
                "fchdir",
                vec![format!("{} /* {} */", fd.as_raw_fd(), path.display())],
            ),
            r,
        )
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        let r = nix::unistd::pivot_root(new_root, put_old);
        self.emit(&Call::new("pivot_root", vec![q(new_root), q(put_old)]), r)
    }

    fn sethostname(&self, name: &str) -> Result<(), Errno> {
        let r = nix::unistd::sethostname(name);
        self.emit(
            &Call::new(
                "sethostname",
                vec![format!("{name:?}"), name.len().to_string()],
            ),
            r,
        )
    }

    fn set_pdeathsig(&self, sig: Signal) -> Result<(), Errno> {
        let r = nix::sys::prctl::set_pdeathsig(sig);
        self.emit(
            &Call::new(
                "prctl",
                vec!["PR_SET_PDEATHSIG".into(), sig.as_str().into()],
            ),
            r,
        )
    }

    fn kill(&self, pid: nix::unistd::Pid, sig: Signal) -> Result<(), Errno> {
        let r = nix::sys::signal::kill(pid, sig);
        self.emit(
            &Call::new("kill", vec![pid.to_string(), sig.as_str().into()]),
            r,
        )
    }

    fn note(&self, line: &str) {
        let Some(fd) = self.trace_fd else { return };
        let msg = format!("T {}\t{line}\n", self.role.borrow());
        // SAFETY-free: a plain write(2) through nix; a short write of a trace line is
        // not worth retrying, and there is nowhere to report a failure to.
        // SAFETY: `fd` is the trace pipe's write end, open for as long as self lives.
        #[allow(unsafe_code)]
        let bfd = unsafe { BorrowedFd::borrow_raw(fd) };
        let _ = nix::unistd::write(bfd, msg.as_bytes());
    }
}

/// A recorded call and the result the recorder returned for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The rendered line, exactly as the Linux implementation would trace it.
    pub line: String,
    /// The syscall's name, for easy matching in tests.
    pub name: String,
}

/// Makes no syscall: records each call and returns `Ok`, or the errno it was told to
/// fail a named call with ([`RecordingSyscalls::fail_on`]).
#[derive(Default)]
pub struct RecordingSyscalls {
    calls: RefCell<Vec<Recorded>>,
    failures: RefCell<Vec<(String, Errno)>>,
}

impl RecordingSyscalls {
    /// An empty recorder.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Make the first future call whose rendered line contains `needle` fail with `errno`.
    pub fn fail_on(&self, needle: &str, errno: Errno) {
        self.failures.borrow_mut().push((needle.to_string(), errno));
    }

    /// The rendered lines so far, in order.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        self.calls.borrow().iter().map(|c| c.line.clone()).collect()
    }

    /// The syscall names so far, in order.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        self.calls.borrow().iter().map(|c| c.name.clone()).collect()
    }

    fn record(&self, call: &Call) -> Result<(), Errno> {
        let plain = call.to_string();
        let mut failures = self.failures.borrow_mut();
        let result = match failures
            .iter()
            .position(|(n, _)| plain.contains(n.as_str()))
        {
            Some(i) => Err(failures.remove(i).1),
            None => Ok(()),
        };
        self.calls.borrow_mut().push(Recorded {
            line: call.render(result),
            name: call.name.to_string(),
        });
        result
    }
}

impl Syscalls for RecordingSyscalls {
    fn unshare(&self, flags: CloneFlags) -> Result<(), Errno> {
        self.record(&Call::new("unshare", vec![clone_flags_str(flags)]))
    }
    fn setns(&self, _fd: BorrowedFd<'_>, nstype: CloneFlags, path: &Path) -> Result<(), Errno> {
        self.record(&Call::new(
            "setns",
            vec![format!("/* {} */", path.display()), clone_flags_str(nstype)],
        ))
    }
    fn mount(
        &self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        self.record(&mount_call(source, target, fstype, flags, data))
    }
    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno> {
        let names: Vec<&str> = flags.iter_names().map(|(n, _)| n).collect();
        self.record(&Call::new("umount2", vec![q(target), names.join("|")]))
    }
    fn chroot(&self, path: &Path) -> Result<(), Errno> {
        self.record(&Call::new("chroot", vec![q(path)]))
    }
    fn chdir(&self, path: &Path) -> Result<(), Errno> {
        self.record(&Call::new("chdir", vec![q(path)]))
    }
    fn fchdir(&self, _fd: BorrowedFd<'_>, path: &Path) -> Result<(), Errno> {
        self.record(&Call::new(
            "fchdir",
            vec![format!("/* {} */", path.display())],
        ))
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        self.record(&Call::new("pivot_root", vec![q(new_root), q(put_old)]))
    }
    fn sethostname(&self, name: &str) -> Result<(), Errno> {
        self.record(&Call::new(
            "sethostname",
            vec![format!("{name:?}"), name.len().to_string()],
        ))
    }
    fn set_pdeathsig(&self, sig: Signal) -> Result<(), Errno> {
        self.record(&Call::new(
            "prctl",
            vec!["PR_SET_PDEATHSIG".into(), sig.as_str().into()],
        ))
    }
    fn kill(&self, pid: nix::unistd::Pid, sig: Signal) -> Result<(), Errno> {
        self.record(&Call::new(
            "kill",
            vec![pid.to_string(), sig.as_str().into()],
        ))
    }
    fn note(&self, line: &str) {
        let name = line.split('(').next().unwrap_or(line).to_string();
        self.calls.borrow_mut().push(Recorded {
            line: line.to_string(),
            name,
        });
    }
}

/// A path helper used by the sequences: `root` joined with an absolute in-root path.
#[must_use]
pub fn in_root(root: &Path, inner: &str) -> PathBuf {
    root.join(inner.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_strace() {
        let rec = RecordingSyscalls::new();
        rec.unshare(CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS)
            .unwrap();
        rec.fail_on("chroot", Errno::ENOENT);
        assert_eq!(rec.chroot(Path::new("/nope")), Err(Errno::ENOENT));
        assert_eq!(
            rec.lines(),
            vec![
                "unshare(CLONE_NEWNS|CLONE_NEWPID) = 0".to_string(),
                "chroot(\"/nope\") = -1 ENOENT (No such file or directory)".to_string(),
            ]
        );
    }

    #[test]
    fn mount_flags_render_by_name() {
        assert_eq!(
            ms_flags_str(MsFlags::MS_REC | MsFlags::MS_PRIVATE),
            "MS_REC|MS_PRIVATE"
        );
        assert_eq!(ms_flags_str(MsFlags::empty()), "0");
    }
}
