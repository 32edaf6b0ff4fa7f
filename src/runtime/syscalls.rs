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

/// One syscall the runtime makes between `fork` and `execve`, with its arguments.
///
/// Both implementations take these: the Linux one performs them, the recording one only
/// records them; both render them the same way ([`Sys::call`]).
#[derive(Debug, Clone, Copy)]
pub enum Sys<'a> {
    /// unshare(2): move the calling process into new namespaces.
    Unshare(CloneFlags),
    /// setns(2): join the namespace behind `fd` (an open `/proc/PID/ns/*` file at `path`).
    Setns {
        /// The open namespace file.
        fd: BorrowedFd<'a>,
        /// Which namespace type it must be.
        nstype: CloneFlags,
        /// Its path, for the trace.
        path: &'a Path,
    },
    /// mount(2).
    Mount {
        /// Source, or none (`NULL`) for a propagation change.
        source: Option<&'a str>,
        /// Mount point.
        target: &'a Path,
        /// Filesystem type.
        fstype: Option<&'a str>,
        /// MS_* flags.
        flags: MsFlags,
        /// Filesystem options.
        data: Option<&'a str>,
    },
    /// umount2(2).
    Umount2(&'a Path, MntFlags),
    /// chroot(2): change the root directory; the cwd is left alone, so `chdir("/")` must follow.
    Chroot(&'a Path),
    /// chdir(2).
    Chdir(&'a Path),
    /// fchdir(2) to an open directory (its path is for the trace).
    Fchdir(BorrowedFd<'a>, &'a Path),
    /// pivot_root(2): new_root, put_old.
    PivotRoot(&'a Path, &'a Path),
    /// sethostname(2): only ever inside a new UTS namespace.
    Sethostname(&'a str),
    /// prctl(PR_SET_PDEATHSIG, sig): die with the parent.
    SetPdeathsig(Signal),
    /// kill(2).
    Kill(nix::unistd::Pid, Signal),
    /// mkdir(2) with mode 0755 (before the umask).
    Mkdir(&'a Path),
    /// A change to the current network namespace through rtnetlink(7) (or its one
    /// sysctl file): see `net.rs`.
    Net(&'a super::net::NetOp),
    /// prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0): no execve may grant privileges from now on
    /// (prctl(2)). See `security.rs`.
    SetNoNewPrivs,
    /// prctl(PR_CAPBSET_DROP, cap): out of the bounding set; needs CAP_SETPCAP
    /// (capabilities(7)).
    CapbsetDrop(caps::Capability),
    /// capset(2) on the calling thread: effective, permitted and inheritable at once.
    Capset(super::security::CapSets),
    /// prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap, 0, 0).
    AmbientLower(caps::Capability),
    /// seccomp(SECCOMP_SET_MODE_FILTER, 0, prog): install a BPF filter (seccomp(2)).
    SeccompFilter {
        /// The compiled program.
        program: &'a [seccompiler::sock_filter],
        /// What it does, in words, for the trace.
        summary: &'a str,
    },
    /// mknod(2): make a file of `kind` (`S_IFREG`: an empty regular file, the mount
    /// point a bind-mounted device needs) with `perm` and device number `dev`.
    Mknod(&'a Path, nix::sys::stat::SFlag, nix::sys::stat::Mode, u64),
    /// rmdir(2): in a cgroup filesystem, removes an empty cgroup (EBUSY while it holds
    /// processes or child cgroups).
    Rmdir(&'a Path),
    /// open(2) an existing file write-only, one write(2) of the bytes, close(2): how a
    /// cgroup file takes a value (`pids.max`, `cgroup.procs`). Traced as one line,
    /// `write("…/pids.max", "20") = 0`.
    WriteFile(&'a Path, &'a str),
    /// setgroups(2) with this list of supplementary group ids (empty: none). Needs
    /// CAP_SETGID; refused in a user namespace whose setgroups file says `deny`.
    Setgroups(&'a [u32]),
    /// setresgid(2): real, effective and saved group id at once (credentials(7)).
    Setresgid(u32, u32, u32),
    /// setresuid(2): real, effective and saved user id at once; leaving uid 0 for
    /// another clears the permitted and effective capability sets (capabilities(7)).
    Setresuid(u32, u32, u32),
}

impl Sys<'_> {
    /// The call as the learner sees it, arguments rendered the way strace renders them.
    #[must_use]
    pub fn call(&self) -> Call {
        let fd_arg = |fd: &BorrowedFd<'_>, path: &Path| {
            format!("{} /* {} */", fd.as_raw_fd(), path.display())
        };
        match self {
            Self::Unshare(flags) => Call::new("unshare", vec![clone_flags_str(*flags)]),
            Self::Setns { fd, nstype, path } => {
                Call::new("setns", vec![fd_arg(fd, path), clone_flags_str(*nstype)])
            }
            Self::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => Call::new(
                "mount",
                vec![
                    opt(*source),
                    q(target),
                    opt(*fstype),
                    ms_flags_str(*flags),
                    opt(*data),
                ],
            ),
            Self::Umount2(target, flags) => {
                let names: Vec<&str> = flags.iter_names().map(|(n, _)| n).collect();
                let f = if names.is_empty() {
                    "0".into()
                } else {
                    names.join("|")
                };
                Call::new("umount2", vec![q(target), f])
            }
            Self::Chroot(p) => Call::new("chroot", vec![q(p)]),
            Self::Chdir(p) => Call::new("chdir", vec![q(p)]),
            Self::Fchdir(fd, p) => Call::new("fchdir", vec![fd_arg(fd, p)]),
            Self::PivotRoot(new_root, put_old) => {
                Call::new("pivot_root", vec![q(new_root), q(put_old)])
            }
            Self::Sethostname(name) => Call::new(
                "sethostname",
                vec![format!("{name:?}"), name.len().to_string()],
            ),
            Self::SetPdeathsig(sig) => Call::new(
                "prctl",
                vec!["PR_SET_PDEATHSIG".into(), sig.as_str().into()],
            ),
            Self::Kill(pid, sig) => Call::new("kill", vec![pid.to_string(), sig.as_str().into()]),
            Self::Mkdir(p) => Call::new("mkdir", vec![q(p), "0755".into()]),
            Self::Net(op) => op.call(),
            Self::SetNoNewPrivs => Call::new(
                "prctl",
                ["PR_SET_NO_NEW_PRIVS", "1", "0", "0", "0"]
                    .map(String::from)
                    .to_vec(),
            ),
            Self::CapbsetDrop(cap) => {
                Call::new("prctl", vec!["PR_CAPBSET_DROP".into(), cap.to_string()])
            }
            Self::Capset(s) => Call::new(
                "capset",
                vec![
                    "{version=_LINUX_CAPABILITY_VERSION_3, pid=0}".into(),
                    format!(
                        "{{effective=0x{:016x}, permitted=0x{:016x}, inheritable=0x{:016x}}}",
                        s.effective, s.permitted, s.inheritable
                    ),
                ],
            ),
            Self::AmbientLower(cap) => Call::new(
                "prctl",
                vec![
                    "PR_CAP_AMBIENT".into(),
                    "PR_CAP_AMBIENT_LOWER".into(),
                    cap.to_string(),
                    "0".into(),
                    "0".into(),
                ],
            ),
            Self::SeccompFilter { program, summary } => Call::new(
                "seccomp",
                vec![
                    "SECCOMP_SET_MODE_FILTER".into(),
                    "0".into(),
                    format!("{{len={}, filter=/* {summary} */}}", program.len()),
                ],
            ),
            Self::Mknod(p, kind, perm, dev) => Call::new(
                "mknod",
                vec![
                    q(p),
                    format!("{}|{:04o}", sflag_str(*kind), perm.bits()),
                    dev.to_string(),
                ],
            ),
            Self::Rmdir(p) => Call::new("rmdir", vec![q(p)]),
            Self::WriteFile(p, data) => Call::new("write", vec![q(p), format!("{data:?}")]),
            Self::Setgroups(list) => Call::new(
                "setgroups",
                vec![
                    list.len().to_string(),
                    format!(
                        "[{}]",
                        list.iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ],
            ),
            Self::Setresgid(r, e, s) => Call::new(
                "setresgid",
                vec![r.to_string(), e.to_string(), s.to_string()],
            ),
            Self::Setresuid(r, e, s) => Call::new(
                "setresuid",
                vec![r.to_string(), e.to_string(), s.to_string()],
            ),
        }
    }
}

/// The seam: everything between `fork` and `execve` goes through [`Syscalls::sys`].
/// The provided methods are the names the sequences use.
///
/// Errors are the raw `Errno`; callers turn them into sentences that name the rule that
/// was broken (see `error.rs`).
pub trait Syscalls {
    /// Perform (or record) one call.
    fn sys(&self, call: Sys<'_>) -> Result<(), Errno>;

    /// Record a call made outside the trait (fork, execve, wait) so it appears in the
    /// trace in its place. `line` is already rendered.
    fn note(&self, line: &str);

    /// unshare(2).
    fn unshare(&self, flags: CloneFlags) -> Result<(), Errno> {
        self.sys(Sys::Unshare(flags))
    }
    /// setns(2).
    fn setns(&self, fd: BorrowedFd<'_>, nstype: CloneFlags, path: &Path) -> Result<(), Errno> {
        self.sys(Sys::Setns { fd, nstype, path })
    }
    /// mount(2).
    fn mount(
        &self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        self.sys(Sys::Mount {
            source,
            target,
            fstype,
            flags,
            data,
        })
    }
    /// umount2(2).
    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno> {
        self.sys(Sys::Umount2(target, flags))
    }
    /// chroot(2).
    fn chroot(&self, path: &Path) -> Result<(), Errno> {
        self.sys(Sys::Chroot(path))
    }
    /// chdir(2).
    fn chdir(&self, path: &Path) -> Result<(), Errno> {
        self.sys(Sys::Chdir(path))
    }
    /// fchdir(2).
    fn fchdir(&self, fd: BorrowedFd<'_>, path: &Path) -> Result<(), Errno> {
        self.sys(Sys::Fchdir(fd, path))
    }
    /// pivot_root(2).
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        self.sys(Sys::PivotRoot(new_root, put_old))
    }
    /// sethostname(2).
    fn sethostname(&self, name: &str) -> Result<(), Errno> {
        self.sys(Sys::Sethostname(name))
    }
    /// prctl(PR_SET_PDEATHSIG).
    fn set_pdeathsig(&self, sig: Signal) -> Result<(), Errno> {
        self.sys(Sys::SetPdeathsig(sig))
    }
    /// kill(2).
    fn kill(&self, pid: nix::unistd::Pid, sig: Signal) -> Result<(), Errno> {
        self.sys(Sys::Kill(pid, sig))
    }
    /// mkdir(2), mode 0755.
    fn mkdir(&self, path: &Path) -> Result<(), Errno> {
        self.sys(Sys::Mkdir(path))
    }
    /// mknod(2).
    fn mknod(
        &self,
        path: &Path,
        kind: nix::sys::stat::SFlag,
        perm: nix::sys::stat::Mode,
        dev: u64,
    ) -> Result<(), Errno> {
        self.sys(Sys::Mknod(path, kind, perm, dev))
    }
    /// rmdir(2).
    fn rmdir(&self, path: &Path) -> Result<(), Errno> {
        self.sys(Sys::Rmdir(path))
    }
    /// Write `data` to the existing file `path` in one write(2).
    fn write_file(&self, path: &Path, data: &str) -> Result<(), Errno> {
        self.sys(Sys::WriteFile(path, data))
    }
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

/// Render a file type as strace does: `S_IFREG`, `S_IFCHR`…
fn sflag_str(kind: nix::sys::stat::SFlag) -> String {
    let names: Vec<&str> = kind.iter_names().map(|(n, _)| n).collect();
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
}

impl Syscalls for LinuxSyscalls {
    fn sys(&self, call: Sys<'_>) -> Result<(), Errno> {
        let r = match call {
            Sys::Unshare(flags) => nix::sched::unshare(flags),
            Sys::Setns { fd, nstype, .. } => nix::sched::setns(fd, nstype),
            Sys::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => nix::mount::mount(source, target, fstype, flags, data),
            Sys::Umount2(target, flags) => nix::mount::umount2(target, flags),
            Sys::Chroot(p) => nix::unistd::chroot(p),
            Sys::Chdir(p) => nix::unistd::chdir(p),
            Sys::Fchdir(fd, _) => nix::unistd::fchdir(fd),
            Sys::PivotRoot(new_root, put_old) => nix::unistd::pivot_root(new_root, put_old),
            Sys::Sethostname(name) => nix::unistd::sethostname(name),
            Sys::SetPdeathsig(sig) => nix::sys::prctl::set_pdeathsig(sig),
            Sys::Kill(pid, sig) => nix::sys::signal::kill(pid, sig),
            Sys::Mkdir(p) => nix::unistd::mkdir(p, nix::sys::stat::Mode::from_bits_truncate(0o755)),
            Sys::Net(op) => super::net::perform(op),
            Sys::SetNoNewPrivs => nix::sys::prctl::set_no_new_privs(),
            Sys::CapbsetDrop(cap) => super::security::sys_capbset_drop(cap),
            Sys::Capset(sets) => super::security::sys_capset(sets),
            Sys::AmbientLower(cap) => super::security::sys_ambient_lower(cap),
            Sys::SeccompFilter { program, .. } => super::security::sys_seccomp_filter(program),
            Sys::Mknod(p, kind, perm, dev) => nix::sys::stat::mknod(p, kind, perm, dev),
            Sys::Rmdir(p) => std::fs::remove_dir(p)
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))),
            Sys::WriteFile(p, data) => write_once(p, data),
            Sys::Setgroups(list) => {
                let gids: Vec<nix::unistd::Gid> = list
                    .iter()
                    .map(|g| nix::unistd::Gid::from_raw(*g))
                    .collect();
                nix::unistd::setgroups(&gids)
            }
            Sys::Setresgid(r, e, s) => nix::unistd::setresgid(
                nix::unistd::Gid::from_raw(r),
                nix::unistd::Gid::from_raw(e),
                nix::unistd::Gid::from_raw(s),
            ),
            Sys::Setresuid(r, e, s) => nix::unistd::setresuid(
                nix::unistd::Uid::from_raw(r),
                nix::unistd::Uid::from_raw(e),
                nix::unistd::Uid::from_raw(s),
            ),
        };
        self.note(&call.call().render(r));
        r
    }

    fn note(&self, line: &str) {
        let Some(fd) = self.trace_fd else { return };
        let msg = format!("T {}\t{line}\n", self.role.borrow());
        // A short write of a trace line is not worth retrying, and there is nowhere to
        // report a failure to.
        // SAFETY: `fd` is the trace pipe's write end, open for as long as self lives.
        #[allow(unsafe_code)]
        let bfd = unsafe { BorrowedFd::borrow_raw(fd) };
        let _ = nix::unistd::write(bfd, msg.as_bytes());
    }
}

/// open(2) `path` write-only (never creating it), one write(2) of `data`, close(2). A
/// cgroup file takes each write(2) as one command, so the value is never split.
fn write_once(path: &Path, data: &str) -> Result<(), Errno> {
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let n = nix::unistd::write(&fd, data.as_bytes())?;
    if n == data.len() {
        Ok(())
    } else {
        Err(Errno::EIO)
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
}

impl Syscalls for RecordingSyscalls {
    fn sys(&self, call: Sys<'_>) -> Result<(), Errno> {
        let call = call.call();
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
