//! The container runtime: a spec in, a running process out.
//!
//! All nix calls that make a container live here, behind the [`Syscalls`] trait (a Linux
//! implementation and a recording one). The order of operations follows unshare(1),
//! nsenter(1) and youki; each file's header says why each call is where it is:
//!
//! - `spawn.rs`: fork → unshare → private `/` → fork (PID namespace) → chroot → `/proc` → exec
//! - `init.rs`: our PID 1 (reaps, forwards signals)
//! - `protect.rs`: the shared rootfs bind-mounted read-only in the lab's namespaces
//! - `devfs.rs`: a minimal `/dev` (tmpfs, host devices bound) for a chrooted root
//! - `overlay.rs`: a container's root as an overlay of the rootfs, writes on its own tmpfs
//! - `net.rs`: veth pairs, addresses, routes and ip_forward through rtnetlink, in a
//!   lab-made network namespace joined by a forked child
//! - `volumes.rs`: bind mounts into the root before the chroot (`docker run -v`)
//! - `share.rs`: joining a running container's namespaces before unsharing (a pod)
//! - `security.rs`: no_new_privs, capabilities and a seccomp filter, last before exec
//! - `pivot.rs`: pivot_root in place of chroot: bind, pivot, detach the old root, a
//!   minimal `/dev`; a refused pivot diagnosed from /proc/self/mountinfo
//! - `cgroup.rs`: the lab's cgroups on v1, v2 and hybrid hosts: layout, limits, events, teardown
//! - `unprivileged.rs`: a command run as the unprivileged user (root drops to 65534 with
//!   setgroups, setresgid, setresuid; a user runs it as itself)
//! - `syscalls.rs`: the trait, its Linux and recording implementations, trace rendering
//!
//! See namespaces(7), pid_namespaces(7), mount_namespaces(7), chroot(2), unshare(2), setns(2).

pub mod cgroup;
pub mod devfs;
pub mod error;
pub mod init;
pub mod net;
pub mod overlay;
pub mod pivot;
pub mod protect;
pub mod security;
pub mod share;
pub mod spawn;
pub mod spec;
pub mod syscalls;
pub mod unprivileged;
pub mod userns;
pub mod volumes;

pub use error::RuntimeError;
pub use spawn::{Outcome, Spawned, Stdio};
pub use spec::{ContainerSpec, Namespaces};
pub use syscalls::{LinuxSyscalls, RecordingSyscalls, Syscalls};
