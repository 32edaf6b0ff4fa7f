//! What a container is, as data: which namespaces, which root, which command.

use std::path::PathBuf;

use nix::sched::CloneFlags;

/// The namespaces a container gets, each one a flag to unshare(2).
/// See namespaces(7).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Namespaces {
    /// CLONE_NEWPID: a new PID number space; the first child is PID 1 (pid_namespaces(7)).
    pub pid: bool,
    /// CLONE_NEWNS: a private copy of the mount table (mount_namespaces(7)).
    pub mount: bool,
    /// CLONE_NEWUTS: own hostname and domain name.
    pub uts: bool,
    /// CLONE_NEWIPC: own System V IPC objects and POSIX message queues.
    pub ipc: bool,
    /// CLONE_NEWNET: own network devices, addresses, routes (network_namespaces(7)).
    pub net: bool,
}

impl Namespaces {
    /// The flags for unshare(2), in the kernel's terms.
    #[must_use]
    pub fn clone_flags(self) -> CloneFlags {
        let mut f = CloneFlags::empty();
        f.set(CloneFlags::CLONE_NEWPID, self.pid);
        f.set(CloneFlags::CLONE_NEWNS, self.mount);
        f.set(CloneFlags::CLONE_NEWUTS, self.uts);
        f.set(CloneFlags::CLONE_NEWIPC, self.ipc);
        f.set(CloneFlags::CLONE_NEWNET, self.net);
        f
    }

    /// True when no namespace is asked for (a plain chroot or a host process).
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.clone_flags().is_empty()
    }
}

/// Everything needed to start one container process.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    /// The rootfs to chroot into; `None` keeps the host's root (a decoy, a host probe).
    pub root: Option<PathBuf>,
    /// Namespaces to unshare before the root is changed.
    pub namespaces: Namespaces,
    /// Mount a fresh procfs on `/proc` (inside the root) after the PID fork.
    /// Implies a mount namespace, as `unshare --mount-proc` does.
    pub mount_proc: bool,
    /// Run our small init as PID 1 (reaps zombies, forwards SIGINT/SIGTERM), with the
    /// command as its child, as `docker run --init` does. With an empty command the init
    /// just holds the namespaces (a "pause" container).
    pub init: bool,
    /// Hostname to set; needs `namespaces.uts`.
    pub hostname: Option<String>,
    /// argv of the command; argv\[0\] is looked up in `PATH` inside the root.
    pub command: Vec<String>,
    /// Extra environment on top of the container's clean default environment.
    pub env: Vec<(String, String)>,
    /// Run on an overlay of `root` (overlay.rs): a tmpfs is mounted on this empty,
    /// lab-owned directory inside the container's mount namespace and holds upperdir,
    /// workdir and merged; merged becomes the root. The rootfs is never written. Implies
    /// a mount namespace; needs `root`.
    pub overlay: Option<PathBuf>,
    /// A tree to make read-only in this process's mount namespace before anything is
    /// mounted under it (protect.rs): the shared cached rootfs, so nothing run in the
    /// container changes it. Honoured only when the process has a mount namespace of its
    /// own (the lesson's or the guard's); never a mount on the host.
    pub protect: Option<PathBuf>,
    /// The lab's guard: when the process is chrooted without a mount (or UTS) namespace
    /// of its own, give it private ones anyway, so a `mount` or `hostname` it runs can
    /// never reach the host. Traced as the lab's, not the lesson's. Off for `spawn`, which
    /// does exactly what its flags say, as unshare(1) does.
    pub guard: bool,
    /// Bind mounts made in the container's mount namespace before the chroot (implies a
    /// mount namespace). See `volumes.rs`.
    pub volumes: Vec<super::volumes::Volume>,
    /// Namespaces joined from a running process before the others are unshared (a pod
    /// member). See `share.rs`.
    pub share: Option<super::share::Share>,
    /// What is taken away just before exec: no_new_privs, capabilities, a seccomp filter
    /// (compiled already). See `security.rs`.
    pub security: super::security::Security,
    /// Change root with pivot_root(2) instead of chroot(2): bind the root onto itself,
    /// give it a minimal `/dev`, pivot, detach the old root (see `pivot.rs`). Needs a
    /// root; implies a mount namespace, as `mount_proc` does, so the host's own root can
    /// never be pivoted.
    pub pivot_root: bool,
    /// `cgroup.procs` files (one per cgroup hierarchy, see `cgroup.rs`) the first child
    /// writes its own PID into before anything else, so the container and everything
    /// it forks are born in the lab's cgroup, before exec (cgroups(7)). Empty: the
    /// container stays in the lab's own cgroups.
    pub cgroup_procs: Vec<PathBuf>,
    /// With a chroot (not `pivot_root`, which makes its own): mount a minimal `/dev` on
    /// the root's `dev` before the chroot (see `devfs.rs`), so `2>/dev/null` writes to
    /// the device, never a file in the rootfs. Implies a mount namespace.
    pub minimal_dev: bool,
    /// Rootless: start in a new user namespace whose root is this user and group
    /// outside (see `userns.rs`); the parent writes the maps, then the other namespaces
    /// are unshared inside it. `None` (root): no user namespace, as before.
    pub user: Option<super::userns::IdMap>,
    /// Run the command as the unprivileged user (unprivileged.rs): as root, drop to
    /// uid and gid 65534 with no supplementary groups last before exec; as a user, run
    /// as that user, with no user namespace of the lab's and no guard namespaces.
    pub unprivileged: bool,
}

impl ContainerSpec {
    /// Namespaces the guard adds on top of [`ContainerSpec::effective_namespaces`].
    #[must_use]
    pub fn guard_namespaces(&self) -> Namespaces {
        let ns = self.effective_namespaces();
        if !self.guard || self.root.is_none() {
            return Namespaces::default();
        }
        // A UTS namespace shared with a running container is not the host's: keep it.
        let shared_uts = self.share.is_some_and(|s| s.namespaces.uts);
        Namespaces {
            mount: !ns.mount,
            uts: !ns.uts && !shared_uts,
            ..Namespaces::default()
        }
    }

    /// The namespaces actually unshared: `mount_proc` and `volumes` add a mount namespace.
    #[must_use]
    pub fn effective_namespaces(&self) -> Namespaces {
        let mut ns = self.namespaces;
        if self.mount_proc
            || (self.overlay.is_some() && self.root.is_some())
            || (self.pivot_root && self.root.is_some())
            || (self.minimal_dev && self.root.is_some())
            || !self.volumes.is_empty()
        {
            ns.mount = true;
        }
        ns
    }

    /// The environment the command starts with: a clean, predictable one (the host's is
    /// not leaked in), plus `TERM` from the host so an interactive shell works.
    #[must_use]
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("PATH".to_string(), DEFAULT_PATH.to_string()),
            ("HOME".to_string(), "/root".to_string()),
            ("LC_ALL".to_string(), "C.UTF-8".to_string()),
        ];
        if let Ok(term) = std::env::var("TERM") {
            env.push(("TERM".to_string(), term));
        }
        if let Some(mark) = LAB_MARK.get() {
            env.push((LAB_MARK_VAR.to_string(), mark.clone()));
        }
        for (k, v) in &self.env {
            env.retain(|(ek, _)| ek != k);
            env.push((k.clone(), v.clone()));
        }
        env
    }
}

/// The `PATH` a container process starts with (Docker's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment variable every process the lab starts carries, set to the lab's
/// scratch directory: the tests find stray processes by it (in /proc/PID/environ)
/// without ever guessing from names.
pub const LAB_MARK_VAR: &str = "FROMSCRATCH_LAB";

/// The mark's value for this process's lab, set once by `Lab::new`.
pub static LAB_MARK: std::sync::OnceLock<String> = std::sync::OnceLock::new();
