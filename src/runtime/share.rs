//! Sharing namespaces with a running container: how a pod is built.
//!
//! A Kubernetes pod is a "pause" container that holds a network, IPC and UTS namespace
//! open, and members that *join* those with setns(2) while making PID and mount
//! namespaces of their own. A new container with a [`Share`] does exactly that: the
//! parent opens the holder's `/proc/PID/ns/{uts,ipc,net}` before fork (so a holder that is
//! gone is an error at once, not a half-made container), and the child, after
//! `PR_SET_PDEATHSIG`, joins each of them with setns(2) and only then unshares the
//! namespaces it makes new. The joins come in youki's order (user, pid, uts, ipc, net,
//! cgroup, mnt; util-linux's nsenter(1) goes user, cgroup, ipc, uts, net, pid, mnt: both
//! put the mount namespace last); a namespace that is joined is never unshared, and
//! the new ones are made by one unshare(2) after them, the mount namespace among them, so
//! mount comes last either way. See setns(2), namespaces(7), network_namespaces(7).

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use nix::unistd::Pid;

use super::spawn::{JOIN_ORDER, NsFile, SetupResult};
use super::spec::Namespaces;
use super::syscalls::Syscalls;

/// Namespaces a new container joins instead of making: those of the running process
/// `pid` (host PID) that `namespaces` selects. Only `uts`, `ipc` and `net` may be shared
/// (a pod member keeps its own PID tree and its own root): the other fields are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Host PID of the process holding the namespaces (a pause container's first process).
    pub pid: Pid,
    /// Which of its namespaces are joined.
    pub namespaces: Namespaces,
}

impl Share {
    /// The namespace types joined, as clone flags.
    #[must_use]
    pub fn flags(&self) -> CloneFlags {
        let mut f = CloneFlags::empty();
        f.set(CloneFlags::CLONE_NEWUTS, self.namespaces.uts);
        f.set(CloneFlags::CLONE_NEWIPC, self.namespaces.ipc);
        f.set(CloneFlags::CLONE_NEWNET, self.namespaces.net);
        f
    }
}

/// The namespace names a container's `share` may list, as in /proc/PID/ns.
pub const SHAREABLE: [&str; 3] = ["uts", "ipc", "net"];

/// Which namespaces the names select (`["net", "ipc"]`); unknown names are ignored (the
/// lesson checker refuses them first).
#[must_use]
pub fn namespaces_named(names: &[String]) -> Namespaces {
    let has = |n: &str| names.iter().any(|x| x == n);
    Namespaces {
        uts: has("uts"),
        ipc: has("ipc"),
        net: has("net"),
        ..Namespaces::default()
    }
}

/// The paths of the namespace files joined, in [`JOIN_ORDER`].
#[must_use]
pub fn paths(share: &Share) -> Vec<(PathBuf, CloneFlags)> {
    let wanted = share.flags();
    JOIN_ORDER
        .iter()
        .filter(|(_, f)| wanted.contains(*f))
        .map(|(name, f)| (PathBuf::from(format!("/proc/{}/ns/{name}", share.pid)), *f))
        .collect()
}

/// Open the namespace files of `share` (none without one), in [`JOIN_ORDER`].
///
/// # Errors
/// `("open", ENOENT)`-style: the call and errno, when the process is gone or its files
/// cannot be opened.
pub fn open_shared(share: Option<&Share>) -> Result<Vec<NsFile>, (&'static str, Errno)> {
    let Some(share) = share else {
        return Ok(Vec::new());
    };
    paths(share)
        .into_iter()
        .map(|(path, flag)| {
            open(&path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
                .map(|fd| (path, flag, fd))
                .map_err(|e| ("open", e))
        })
        .collect()
}

/// Join each opened namespace with setns(2), in order. Does nothing for none.
///
/// # Errors
/// The failing call's name and errno.
pub fn join_shared(sys: &dyn Syscalls, shared: &[NsFile]) -> SetupResult {
    for (path, flag, fd) in shared {
        sys.setns(fd.as_fd(), *flag, Path::new(path))
            .map_err(|e| ("setns", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ContainerSpec;
    use crate::runtime::spawn::{enter_namespaces_sharing, prepare_root};
    use crate::runtime::syscalls::RecordingSyscalls;

    /// Stand-ins for namespace files: open descriptors whose trace shows the path.
    fn files(share: &Share) -> Vec<NsFile> {
        paths(share)
            .into_iter()
            .map(|(p, f)| {
                let fd = open("/", OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).unwrap();
                (p, f, fd)
            })
            .collect()
    }

    fn member() -> ContainerSpec {
        ContainerSpec {
            root: Some("/r".into()),
            namespaces: Namespaces {
                pid: true,
                ..Namespaces::default()
            },
            mount_proc: true,
            share: Some(Share {
                pid: Pid::from_raw(42),
                namespaces: namespaces_named(&["net".into(), "ipc".into(), "uts".into()]),
            }),
            command: vec!["python3".into()],
            guard: true,
            ..ContainerSpec::default()
        }
    }

    #[test]
    fn a_member_joins_uts_ipc_net_then_unshares_its_own_pid_and_mount() {
        let spec = member();
        let fds = files(spec.share.as_ref().unwrap());
        let rec = RecordingSyscalls::new();
        enter_namespaces_sharing(&rec, &spec, &fds).unwrap();
        prepare_root(&rec, &spec).unwrap();
        let lines: Vec<String> = rec
            .lines()
            .iter()
            // The fd numbers depend on the test process: keep the path and the type.
            .map(|l| {
                regex::Regex::new(r"setns\(\d+ ")
                    .unwrap()
                    .replace(l, "setns(FD ")
                    .into_owned()
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                "prctl(PR_SET_PDEATHSIG, SIGKILL) = 0",
                "setns(FD /* /proc/42/ns/uts */, CLONE_NEWUTS) = 0",
                "setns(FD /* /proc/42/ns/ipc */, CLONE_NEWIPC) = 0",
                "setns(FD /* /proc/42/ns/net */, CLONE_NEWNET) = 0",
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
    fn the_guard_does_not_replace_a_shared_uts_namespace() {
        // Chrooted with no namespace of its own but the pod's UTS: the guard adds only
        // a mount namespace, so the member keeps the pod's hostname.
        let spec = ContainerSpec {
            namespaces: Namespaces::default(),
            mount_proc: false,
            ..member()
        };
        assert_eq!(
            spec.guard_namespaces(),
            Namespaces {
                mount: true,
                ..Namespaces::default()
            }
        );
        let fds = files(spec.share.as_ref().unwrap());
        let rec = RecordingSyscalls::new();
        enter_namespaces_sharing(&rec, &spec, &fds).unwrap();
        assert!(
            !rec.lines()
                .iter()
                .any(|l| l.contains("CLONE_NEWUTS) = 0") && l.starts_with("unshare")),
            "{:?}",
            rec.lines()
        );
    }

    #[test]
    fn a_failed_setns_stops_before_anything_is_unshared() {
        let spec = member();
        let fds = files(spec.share.as_ref().unwrap());
        let rec = RecordingSyscalls::new();
        rec.fail_on("CLONE_NEWIPC", Errno::EPERM);
        let err = enter_namespaces_sharing(&rec, &spec, &fds).unwrap_err();
        assert_eq!(err, ("setns", Errno::EPERM));
        assert_eq!(rec.names(), vec!["prctl", "setns", "setns"]);
    }

    #[test]
    fn only_uts_ipc_and_net_are_shared_in_join_order() {
        let s = Share {
            pid: Pid::from_raw(7),
            namespaces: namespaces_named(&["net".into(), "pid".into(), "uts".into()]),
        };
        let p: Vec<String> = paths(&s)
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        assert_eq!(p, vec!["/proc/7/ns/uts", "/proc/7/ns/net"]);
        assert_eq!(open_shared(None).unwrap().len(), 0);
    }
}
