//! The runtime's errors: each says what happened, to what, and what to do next.

use nix::errno::Errno;
use thiserror::Error;

use crate::error::{Classify, EXIT_BAD_INPUT, EXIT_HOST_CANNOT};

/// Everything that can go wrong while starting, joining or waiting for a container.
#[derive(Debug, Error)]
pub enum RuntimeError {
    /// fork from a threaded process is unsafe and CLONE_NEWUSER refuses it (unshare(2)).
    #[error(
        "this process has {threads} threads, and namespaces must be made from a single-threaded one (unshare(2) refuses CLONE_NEWUSER otherwise): this is a fromscratch bug, please report it"
    )]
    MultiThreaded {
        /// Threads counted in /proc/self/status.
        threads: usize,
    },
    /// A container needs a command unless it runs the init alone.
    #[error("no command given: say what to run after `--`, for example `-- /bin/sh`")]
    EmptyCommand,
    /// An argument holds a NUL byte and cannot be passed to execve(2).
    #[error("argument {arg:?} holds a NUL byte, which execve(2) cannot pass")]
    NulByte {
        /// The offending argument.
        arg: String,
    },
    /// A network change aimed at the lab's own network namespace (the host's).
    #[error(
        "refusing to {what}: that network namespace is the host's own; a lesson's `net` ops act only in containers with net = true"
    )]
    HostNetns {
        /// What was asked, in words: "move veth end `x` into PID 42's network namespace".
        what: String,
    },
    /// The container to join has exited.
    #[error("no process {pid}: the container has exited (start it again)")]
    NoSuchContainer {
        /// Host PID that was expected to be PID 1 of the container.
        pid: i32,
    },
    /// A syscall in the lab process itself failed.
    #[error("{call} failed: {errno} ({})", errno.desc())]
    Sys {
        /// What was being done.
        call: String,
        /// The kernel's answer.
        errno: Errno,
    },
    /// An I/O error with context.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A process did not finish in time and was killed.
    #[error("{what} did not finish within {secs} s and was killed")]
    Timeout {
        /// What timed out.
        what: String,
        /// The limit, in seconds.
        secs: u64,
    },
    /// pivot_root(2) refused, and /proc/self/mountinfo shows which of its rules was broken.
    #[error("pivot_root into {} failed with {} ({}): {condition}", root.display(), super::syscalls::errno_name(*errno), errno.desc())]
    PivotRoot {
        /// The new root.
        root: std::path::PathBuf,
        /// The rule broken (see `pivot.rs`).
        condition: super::pivot::PivotCondition,
        /// The kernel's answer.
        errno: Errno,
    },
    /// Ctrl-C or SIGTERM arrived; the work was stopped and cleaned up.
    #[error("interrupted")]
    Interrupted,
}

impl RuntimeError {
    /// A failed syscall in the lab process.
    #[must_use]
    pub fn sys(call: &str, errno: Errno) -> Self {
        Self::Sys {
            call: call.to_string(),
            errno,
        }
    }

    /// An I/O failure with what was being done.
    #[must_use]
    pub fn io(what: &str, source: std::io::Error) -> Self {
        Self::Io {
            what: what.to_string(),
            source,
        }
    }
}

impl Classify for RuntimeError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::EmptyCommand | Self::NulByte { .. } | Self::HostNetns { .. } => EXIT_BAD_INPUT,
            Self::Interrupted => 130,
            // A hung command is a step that did not do what it should.
            Self::Timeout { .. } => crate::error::EXIT_CHECK_FAILED,
            _ => EXIT_HOST_CANNOT,
        }
    }
}

/// One sentence explaining why a setup syscall failed, in the kernel's terms, with the
/// fix. `call` is the syscall's name, as traced.
#[must_use]
pub fn explain_setup_failure(call: &str, errno: Errno, root: Option<&std::path::Path>) -> String {
    let root_s = root.map_or_else(String::new, |r| r.display().to_string());
    if let Some(condition) = super::pivot::PivotCondition::from_tag(call) {
        return RuntimeError::PivotRoot {
            root: root.map(std::path::Path::to_path_buf).unwrap_or_default(),
            condition,
            errno,
        }
        .to_string();
    }
    if let Some(rule) = super::userns::MapRule::from_tag(call) {
        return rule.sentence().to_string();
    }
    if call == super::userns::USERNS_TAG {
        return format!(
            "unshare(CLONE_NEWUSER) was refused with {}: this system does not let this user make a user namespace; check in order: run as root (sudo); user namespaces allowed (/proc/sys/user/max_user_namespaces above 0, sysctl kernel.unprivileged_userns_clone = 1 where it exists, kernel.apparmor_restrict_unprivileged_userns = 0); not inside a container whose seccomp profile forbids unshare (user_namespaces(7))",
            super::syscalls::errno_name(errno)
        );
    }
    if call == super::userns::PROC_MASKED_TAG {
        let subs = super::userns::proc_submounts();
        return format!(
            "mounting a new /proc was refused with EPERM in the user namespace: the outer system masks parts of its /proc with sub-mounts ({}), and the kernel gives a new procfs only to a user namespace that could see every one of them; run without --mount-proc, or as root, or where /proc has no sub-mounts (mount_namespaces(7), user_namespaces(7))",
            if subs.is_empty() {
                "see /proc/self/mountinfo".to_string()
            } else {
                subs.join(", ")
            }
        );
    }
    match (call, errno) {
        ("chroot", Errno::EPERM) => "chroot was refused with EPERM: it needs CAP_SYS_CHROOT, so run fromscratch as root (sudo); as a user, `fromscratch spawn` starts in a user namespace of its own, where this works".to_string(),
        ("unshare" | "setns" | "mount" | "sethostname" | "pivot_root", Errno::EPERM) => format!(
            "{call} was refused with EPERM: it needs CAP_SYS_ADMIN, so run fromscratch as root (sudo); as a user, `fromscratch spawn` starts in a user namespace of its own, where this works"
        ),
        ("unshare", Errno::EINVAL) => "unshare failed with EINVAL: the process was multi-threaded or the kernel lacks a namespace type (check /proc/self/ns)".to_string(),
        ("unshare", Errno::ENOSPC) => "unshare failed with ENOSPC: the limit in /proc/sys/user/max_*_namespaces is reached; raise it or end other containers".to_string(),
        ("chroot", Errno::ENOENT) => format!("chroot failed: the rootfs {root_s} does not exist; build it with `fromscratch rootfs build`"),
        ("chdir", Errno::ENOENT) => format!("chdir failed inside {root_s}: the rootfs is not a usable tree"),
        ("mount", Errno::ENOENT) => format!("mount failed with ENOENT: the rootfs {root_s} has no /proc directory to mount on; create it (mkdir {root_s}/proc)"),
        ("seccomp", Errno::EACCES) => "seccomp was refused with EACCES: installing a filter needs no_new_privs or CAP_SYS_ADMIN, and this container had dropped CAP_SYS_ADMIN without setting no_new_privs; set no_new_privs = true (seccomp(2))".to_string(),
        ("prctl" | "capset", Errno::EPERM) => format!("{call} was refused with EPERM: dropping capabilities needs CAP_SETPCAP, which this process does not have; run fromscratch as root (sudo)"),
        ("fork", Errno::ENOMEM) => "fork failed with ENOMEM: the PID namespace's init (PID 1) has exited, and a namespace without its init accepts no new processes (pid_namespaces(7))".to_string(),
        _ => format!("{call} failed with {} ({})", super::syscalls::errno_name(errno), errno.desc()),
    }
}
