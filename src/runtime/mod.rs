//! The container runtime: a spec in, a running process out.
//!
//! All nix calls that make a container live here, behind the [`Syscalls`] trait (a Linux
//! implementation and a recording one). The order of operations follows unshare(1),
//! nsenter(1) and youki; each file's header says why each call is where it is:
//!
//! - `spawn.rs`: fork → unshare → private `/` → fork (PID namespace) → chroot → `/proc` → exec
//! - `init.rs`: our PID 1 (reaps, forwards signals)
//! - `cgroup.rs`: the lab's cgroups on v1, v2 and hybrid hosts: layout, limits, events, teardown
//! - `syscalls.rs`: the trait, its Linux and recording implementations, trace rendering
//!
//! See namespaces(7), pid_namespaces(7), mount_namespaces(7), chroot(2), unshare(2), setns(2).

pub mod cgroup;
pub mod error;
pub mod init;
pub mod spawn;
pub mod spec;
pub mod syscalls;

pub use error::RuntimeError;
pub use spawn::{Outcome, Spawned, Stdio};
pub use spec::{ContainerSpec, Namespaces};
pub use syscalls::{LinuxSyscalls, RecordingSyscalls, Syscalls};
