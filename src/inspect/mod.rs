//! `fromscratch inspect`: any running process seen the way the lessons taught to see a
//! container, beside the host's PID 1.
//!
//! A container is only a process whose kernel state differs from the host's: its
//! namespaces (proc/PID/ns, namespaces(7)), its root directory, its cgroups and their
//! limits (cgroups(7)), its uid/gid maps (user_namespaces(7)), its capability sets,
//! seccomp mode and no_new_privs (proc(5), /proc/PID/status), and what it sees in its
//! UTS and network namespaces. Everything here is read from /proc (with the `procfs`
//! crate where it serves); the hostname and the interfaces, which no file of /proc holds
//! for another namespace, are read by forked children that join the process's namespace
//! with setns(2) (observe/process.rs, [`interfaces`]). Nothing is changed, and this
//! process never changes namespace.
//!
//! What cannot be read without privileges this user lacks (another user's namespace
//! links, its root) is reported as unreadable, never guessed.

pub mod interfaces;
pub mod render;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use procfs::process::Process;
use serde::Serialize;

use crate::error::{Classify, EXIT_BAD_INPUT, EXIT_HOST_CANNOT};
use crate::runtime::cgroup::{Layout, Membership, dir_of};

pub use interfaces::Interface;

/// The namespaces inspected, as /proc/PID/ns names them (namespaces(7)).
pub const NAMESPACES: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

/// Why a process cannot be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// No such process (or it has exited).
    #[error("no process has PID {pid}: give the PID of a running process (`ps ax` lists them)")]
    NoSuchProcess {
        /// The PID asked for.
        pid: i32,
    },
    /// The process exited while it was being read.
    #[error("PID {pid} exited while it was being inspected: there is nothing left to inspect")]
    ExitedWhileRead {
        /// The PID asked for.
        pid: i32,
    },
    /// The process exited and only its zombie is left.
    #[error(
        "PID {pid} has exited (a zombie waiting for its parent to collect it): there is nothing left to inspect"
    )]
    Zombie {
        /// The PID asked for.
        pid: i32,
    },
    /// Even its status file is closed to this user.
    #[error(
        "cannot read /proc/{pid}/status ({why}): run as root, or inspect a process of your own"
    )]
    Unreadable {
        /// The PID asked for.
        pid: i32,
        /// The error.
        why: String,
    },
    /// No live lab has a container by that name.
    #[error(
        "no running lab has a container named {name}: start one (fromscratch, `start 04`, run to the container step) or give a PID"
    )]
    NoContainer {
        /// The name asked for.
        name: String,
    },
    /// Several live labs have one.
    #[error("{count} running labs have a container named {name} ({labs}): give its PID instead")]
    SeveralContainers {
        /// The name asked for.
        name: String,
        /// How many.
        count: usize,
        /// Each lab and its container's PID, `lab 123: PID 456`.
        labs: String,
    },
}

impl Classify for InspectError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Unreadable { .. } => EXIT_HOST_CANNOT,
            _ => EXIT_BAD_INPUT,
        }
    }
}

/// Everything `inspect` reports about one process (the `--json` output; each field is
/// documented in book/src/reference/inspect.md). `None` (JSON `null`) means unreadable by
/// this user, or absent, as each field says; [`Report::unreadable`] names the former.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Its PID on the host (as this process sees PIDs).
    pub pid: i32,
    /// /proc/PID/comm: its executable's name, at most 15 bytes.
    pub comm: String,
    /// Its PID in its own (innermost) PID namespace: the last number of `NSpid`.
    pub pid_in_ns: Option<u32>,
    /// The PID whose namespaces count as the host's: 1; 2 (kthreadd, always in the
    /// initial namespaces) when PID 1's are unreadable; this inspecting process's own
    /// when both are (not root).
    pub host_reference: i32,
    /// Each namespace by name ([`NAMESPACES`]; one the kernel lacks is left out).
    pub namespaces: BTreeMap<String, Namespace>,
    /// Its root directory and the mount it sits on.
    pub root: Option<Root>,
    /// Its cgroups and the limits in force.
    pub cgroup: Option<CgroupInfo>,
    /// /proc/PID/uid_map, one `[inside, outside, count]` per line.
    pub uid_map: Option<Vec<[u64; 3]>>,
    /// /proc/PID/gid_map, the same way.
    pub gid_map: Option<Vec<[u64; 3]>>,
    /// Its capability sets, by name.
    pub capabilities: Option<Capabilities>,
    /// Its seccomp mode: `disabled`, `strict` or `filter`.
    pub seccomp: Option<String>,
    /// Its no_new_privs flag.
    pub no_new_privs: Option<bool>,
    /// The hostname its UTS namespace holds.
    pub hostname: Option<String>,
    /// The interfaces of its network namespace.
    pub interfaces: Option<Vec<Interface>>,
    /// The fields above that are `null` because this user may not read them (`root`,
    /// `namespaces.pid`, `hostname`…): run as root to see them.
    pub unreadable: Vec<String>,
    /// (device, inode) of its root directory, to compare two processes' roots.
    #[serde(skip)]
    pub root_id: Option<(u64, u64)>,
}

/// One namespace of the process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Namespace {
    /// Its inode (`net:[4026531840]`): which namespace it is; `None` when unreadable.
    pub inode: Option<u64>,
    /// True when the host's PID 1 ([`Report::host_reference`]) is in the same one.
    pub shared_with_host: Option<bool>,
    /// The other processes in it that this user may see, by host PID, ascending.
    pub other_pids: Vec<i32>,
    /// The command that enters it and looks.
    pub enter: String,
}

/// The process's root directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Root {
    /// /proc/PID/root as this process sees it (`/` for a process pivoted into its own
    /// mount namespace: the path is relative to its namespace's root).
    pub path: String,
    /// The mount point of the mount it sits on, as the process sees it (`/`) when its
    /// root is a mount of its own, else as this process sees it.
    pub mount_point: Option<String>,
    /// That mount's filesystem type (`ext4`, `overlay`, `tmpfs`).
    pub fstype: Option<String>,
    /// That mount's source (`/dev/vda1`, `overlay`).
    pub source: Option<String>,
}

/// The process's cgroups and the limits in force on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupInfo {
    /// How this host mounts cgroups: `v1`, `v2`, `hybrid` or `none`.
    pub layout: String,
    /// Its cgroup on each hierarchy: v1 controller (or `name=…`) → path, `unified` → its
    /// v2 path (/proc/PID/cgroup).
    pub paths: BTreeMap<String, String>,
    /// The smallest memory limit on its cgroup or an ancestor, in bytes; `None`: none.
    pub memory_max_bytes: Option<u64>,
    /// The smallest pids limit on its cgroup or an ancestor; `None`: none.
    pub pids_max: Option<u64>,
    /// The nearest CPU bandwidth limit as `QUOTA PERIOD` in microseconds (cpu.max's
    /// form); `None`: none.
    pub cpu_max: Option<String>,
    /// OOM kills so far in its memory cgroup; `None` when it has no memory cgroup file.
    pub oom_kills: Option<u64>,
    /// Where each limit and counter was read (file path), for the text's commands.
    #[serde(skip)]
    pub files: BTreeMap<&'static str, PathBuf>,
}

/// Capability sets by name (capabilities(7)), lowest bit first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// `CapEff`: what the kernel checks.
    pub effective: Vec<String>,
    /// `CapPrm`: what it may make effective.
    pub permitted: Vec<String>,
    /// `CapBnd`: the most it or its children can ever gain.
    pub bounding: Vec<String>,
    /// The raw masks, in the same order, to tell "all" apart.
    #[serde(skip)]
    pub masks: [u64; 3],
}

/// What `inspect --diff` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// The first PID.
    pub a: i32,
    /// The second PID.
    pub b: i32,
    /// The namespaces both are in (same inode).
    pub shared: Vec<String>,
    /// The namespaces they are not both in (both readable, inodes differ).
    pub not_shared: Vec<String>,
    /// True when their roots are the same directory (device and inode).
    pub same_root: bool,
    /// True when they are in the same cgroup on every hierarchy.
    pub same_cgroup: bool,
    /// Every other field that differs.
    pub differences: Vec<Difference>,
}

/// One field that differs between two processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The field, by its JSON name (`hostname`, `capabilities.effective`).
    pub what: String,
    /// Its value for the first process, as text.
    pub a: String,
    /// Its value for the second.
    pub b: String,
}

/// Inspect process `pid`.
///
/// # Errors
/// [`InspectError::NoSuchProcess`] or [`InspectError::Zombie`] (exit 2),
/// [`InspectError::Unreadable`] when even /proc/PID/status is closed (exit 3).
pub fn inspect(pid: i32) -> Result<Report, InspectError> {
    let p = Process::new(pid).map_err(|_| InspectError::NoSuchProcess { pid })?;
    let stat = p.stat().map_err(|_| InspectError::NoSuchProcess { pid })?;
    if stat.state == 'Z' || stat.state == 'X' {
        return Err(InspectError::Zombie { pid });
    }
    let status = p.status().map_err(|e| match e {
        procfs::ProcError::NotFound(_) => InspectError::NoSuchProcess { pid },
        e => InspectError::Unreadable {
            pid,
            why: e.to_string(),
        },
    })?;
    let mut unreadable = Vec::new();
    let me = std::process::id().cast_signed();

    let (host_reference, host_ns) = host_namespaces(me);
    let own_ns = ns_inodes(me);
    let theirs = ns_inodes(pid);
    let sharers = sharers(&theirs, &[pid, me]);
    let mut namespaces = BTreeMap::new();
    for (name, inode) in &theirs {
        if inode.is_none() {
            unreadable.push(format!("namespaces.{name}"));
        }
        let host = host_ns.get(name).copied().flatten();
        namespaces.insert(
            name.clone(),
            Namespace {
                inode: *inode,
                shared_with_host: inode.zip(host).map(|(a, b)| a == b),
                other_pids: inode
                    .and_then(|i| sharers.get(&(name.clone(), i)).cloned())
                    .unwrap_or_default(),
                enter: enter_command(name, pid),
            },
        );
    }

    let root = root_of(&p, pid);
    if root.is_none() {
        unreadable.push("root".into());
    }
    let root_id = nix::sys::stat::stat(format!("/proc/{pid}/root").as_str())
        .ok()
        .map(|s| (s.st_dev, s.st_ino));
    let cgroup = cgroup_of(pid);
    if cgroup.is_none() {
        unreadable.push("cgroup".into());
    }
    let uid_map = id_map(pid, "uid_map");
    let gid_map = id_map(pid, "gid_map");
    let full = full_cap_mask();
    let masks = [status.capeff, status.capprm, status.capbnd.unwrap_or(0)];
    let names = |m: u64| crate::runtime::security::names(m & full);
    let capabilities = Some(Capabilities {
        effective: names(masks[0]),
        permitted: names(masks[1]),
        bounding: names(masks[2]),
        masks,
    });
    let seccomp = status.seccomp.and_then(|n| {
        crate::observe::process::SECCOMP_MODES
            .get(usize::try_from(n).ok()?)
            .map(|s| (*s).to_string())
    });
    let no_new_privs = status.nonewprivs.map(|n| n != 0);

    let same = |n: &str| {
        let t = theirs.get(n).copied().flatten();
        t.is_some() && t == own_ns.get(n).copied().flatten()
    };
    let hostname = if same("uts") {
        nix::sys::utsname::uname()
            .ok()
            .map(|u| u.nodename().to_string_lossy().into_owned())
    } else {
        crate::observe::process::hostname_of(pid)
    };
    if hostname.is_none() {
        unreadable.push("hostname".into());
    }
    let interfaces = interfaces::of(pid, same("net"));
    if interfaces.is_none() {
        unreadable.push("interfaces".into());
    }
    // A process that began to exit while it was read (PF_EXITING, then a zombie, then
    // gone) loses its root, cgroup and namespaces first: what failed to read was not a
    // permission, and nothing read since is its own.
    if !unreadable.is_empty() && crate::observe::process::read(pid).is_none() {
        return Err(InspectError::ExitedWhileRead { pid });
    }
    Ok(Report {
        pid,
        comm: stat.comm,
        pid_in_ns: status
            .nspid
            .and_then(|v| v.last().copied())
            .and_then(|n| u32::try_from(n).ok()),
        host_reference,
        namespaces,
        root,
        cgroup,
        uid_map,
        gid_map,
        capabilities,
        seccomp,
        no_new_privs,
        hostname,
        interfaces,
        unreadable,
        root_id,
    })
}

/// The process whose namespaces count as the host's, and those namespaces: PID 1; when
/// its links are closed to this process (not root, or PID 1 holds a capability this root
/// lacks, as in some VMs' init), kthreadd (PID 2, parent 0), which the kernel keeps in
/// the initial namespaces; else this process itself.
fn host_namespaces(me: i32) -> (i32, BTreeMap<String, Option<u64>>) {
    let readable = |m: &BTreeMap<String, Option<u64>>| m.values().any(Option::is_some);
    let pid1 = ns_inodes(1);
    if readable(&pid1) {
        return (1, pid1);
    }
    let kthreadd = Process::new(2)
        .and_then(|p| p.stat())
        .is_ok_and(|s| s.comm == "kthreadd" && s.ppid == 0);
    if kthreadd {
        let two = ns_inodes(2);
        if readable(&two) {
            return (2, two);
        }
    }
    (me, ns_inodes(me))
}

/// The inode of each of `pid`'s namespaces (`None`: unreadable); a namespace this kernel
/// lacks (no /proc/PID/ns/NAME) is left out.
fn ns_inodes(pid: i32) -> BTreeMap<String, Option<u64>> {
    let mut out = BTreeMap::new();
    for name in NAMESPACES {
        let link = format!("/proc/{pid}/ns/{name}");
        match std::fs::read_link(&link) {
            Ok(t) => {
                let s = t.to_string_lossy();
                let ino = s
                    .split_once(":[")
                    .and_then(|(_, r)| r.trim_end_matches(']').parse().ok());
                out.insert(name.to_string(), ino);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => {
                out.insert(name.to_string(), None);
            }
        }
    }
    out
}

/// For each (namespace, inode) of `theirs`, the other processes in it: every /proc/N
/// whose `ns/NAME` link names the same inode (those this user may read), but `skip`.
fn sharers(
    theirs: &BTreeMap<String, Option<u64>>,
    skip: &[i32],
) -> BTreeMap<(String, u64), Vec<i32>> {
    let wanted: Vec<(&String, u64)> = theirs
        .iter()
        .filter_map(|(n, i)| Some((n, (*i)?)))
        .collect();
    let mut out: BTreeMap<(String, u64), Vec<i32>> = BTreeMap::new();
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|p| !skip.contains(p))
        .collect();
    pids.sort_unstable();
    for pid in pids {
        for (name, ino) in &wanted {
            let link = std::fs::read_link(format!("/proc/{pid}/ns/{name}"));
            if link.is_ok_and(|t| t.to_string_lossy() == format!("{name}:[{ino}]")) {
                out.entry(((*name).clone(), *ino)).or_default().push(pid);
            }
        }
    }
    out
}

/// The command that enters namespace `name` of `pid` and shows what it isolates.
#[must_use]
pub fn enter_command(name: &str, pid: i32) -> String {
    let rest = match name {
        "cgroup" => "--cgroup cat /proc/self/cgroup",
        "ipc" => "--ipc ipcs",
        "mnt" => "--mount --root findmnt",
        "net" => "--net ip addr",
        "pid" => "--pid --mount --root ps ax",
        "time" => "--time cat /proc/uptime",
        "user" => "--user id",
        "uts" => "--uts hostname",
        _ => "",
    };
    format!("nsenter -t {pid} {rest}")
}

/// The root of `pid` and the mount it sits on: the (top) line of its own mountinfo
/// whose mount point is `/`; for a process chrooted inside a mount (which its mountinfo
/// then leaves out: proc(5) shows only mounts under the process's root), the mount of
/// this process's mountinfo on the same device with the longest mount point that is a
/// prefix of the root's path. `None` when /proc/PID/root is unreadable.
fn root_of(p: &Process, pid: i32) -> Option<Root> {
    let path = p.root().ok()?;
    let mut root = Root {
        path: path.display().to_string(),
        mount_point: None,
        fstype: None,
        source: None,
    };
    let top = p.mountinfo().ok().and_then(|mi| {
        mi.into_iter()
            .rev()
            .find(|m| m.mount_point == Path::new("/"))
    });
    let found = top.or_else(|| {
        let dev = nix::sys::stat::stat(format!("/proc/{pid}/root").as_str())
            .ok()?
            .st_dev;
        let (major, minor) = (libc_major(dev), libc_minor(dev));
        Process::myself()
            .ok()?
            .mountinfo()
            .ok()?
            .into_iter()
            .filter(|m| m.majmin == format!("{major}:{minor}") && path.starts_with(&m.mount_point))
            .max_by_key(|m| m.mount_point.components().count())
    });
    if let Some(m) = found {
        root.mount_point = Some(m.mount_point.display().to_string());
        root.fstype = Some(m.fs_type);
        root.source = m.mount_source;
    }
    Some(root)
}

fn libc_major(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)
}

fn libc_minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0xff)
}

/// A limit file's value: `None` for `max`, `-1` or a number too large to be a real limit
/// (v1's "no limit" is about 2^63 rounded to a page).
fn limit_value(text: &str) -> Option<u64> {
    let t = text.trim();
    t.parse::<u64>().ok().filter(|n| *n < 1 << 62)
}

/// The process's cgroups from /proc/PID/cgroup, the layout from /proc/self/mountinfo,
/// and the limits from the controller files: memory and pids, the smallest on its
/// cgroup or any ancestor up to the hierarchy's root; cpu, the nearest set one.
fn cgroup_of(pid: i32) -> Option<CgroupInfo> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    Some(cgroup_from(
        &Layout::parse(&mountinfo),
        &Membership::parse(&text),
    ))
}

/// [`cgroup_of`] for a given layout and membership (a fake tree in the tests).
#[must_use]
pub fn cgroup_from(layout: &Layout, member: &Membership) -> CgroupInfo {
    let mut paths: BTreeMap<String, String> = member.v1.clone();
    if let Some(v2) = &member.v2 {
        paths.insert("unified".into(), v2.clone());
    }
    // The directories from the process's cgroup up to the hierarchy's root, for
    // controller `ctrl`, and whether they are v2.
    let chain = |ctrl: &str| -> Option<(Vec<PathBuf>, bool)> {
        let (mount, path, v2) = match (layout.v1.get(ctrl), member.v1.get(ctrl)) {
            (Some(m), Some(p)) => (m, p, false),
            _ => (layout.v2.as_ref()?, member.v2.as_ref()?, true),
        };
        let mut dirs = Vec::new();
        let mut d = dir_of(mount, path);
        loop {
            dirs.push(d.clone());
            if d == *mount || !d.pop() || !d.starts_with(mount) {
                break;
            }
        }
        Some((dirs, v2))
    };
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    let mut files = BTreeMap::new();
    // The smallest value of `file` along the chain of `ctrl`.
    let mut smallest = |ctrl: &str, v1: &'static str, v2: &'static str| -> Option<u64> {
        let (dirs, is_v2) = chain(ctrl)?;
        let name = if is_v2 { v2 } else { v1 };
        let mut best: Option<(u64, PathBuf)> = None;
        for d in &dirs {
            let f = d.join(name);
            if let Some(v) = read(&f).as_deref().and_then(limit_value)
                && best.as_ref().is_none_or(|(b, _)| v < *b)
            {
                best = Some((v, f));
            }
        }
        files.insert(
            name,
            best.as_ref()
                .map_or_else(|| dirs[0].join(name), |(_, f)| f.clone()),
        );
        best.map(|(v, _)| v)
    };
    let memory_max_bytes = smallest("memory", "memory.limit_in_bytes", "memory.max");
    let pids_max = smallest("pids", "pids.max", "pids.max");
    let mut cpu_max = None;
    if let Some((dirs, is_v2)) = chain("cpu") {
        let name = if is_v2 { "cpu.max" } else { "cpu.cfs_quota_us" };
        files.insert(name, dirs[0].join(name));
        for d in &dirs {
            let got = if is_v2 {
                read(&d.join("cpu.max")).and_then(|t| {
                    let mut w = t.split_whitespace();
                    let (q, p) = (w.next()?, w.next().unwrap_or("100000"));
                    limit_value(q).map(|q| format!("{q} {p}"))
                })
            } else {
                read(&d.join("cpu.cfs_quota_us"))
                    .as_deref()
                    .and_then(limit_value)
                    .map(|q| {
                        let p = read(&d.join("cpu.cfs_period_us"));
                        format!("{q} {}", p.as_deref().map_or("100000", str::trim))
                    })
            };
            if got.is_some() {
                files.insert(name, d.join(name));
                cpu_max = got;
                break;
            }
        }
    }
    let oom_kills = chain("memory").and_then(|(dirs, is_v2)| {
        let f = dirs[0].join(if is_v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        });
        let n = read(&f)?.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == "oom_kill").then(|| v.trim().parse().ok()).flatten()
        });
        files.insert("oom_kill", f);
        n
    });
    CgroupInfo {
        layout: layout.kind().to_string(),
        paths,
        memory_max_bytes,
        pids_max,
        cpu_max,
        oom_kills,
        files,
    }
}

/// /proc/PID/uid_map or gid_map as `[inside, outside, count]` rows.
fn id_map(pid: i32, file: &str) -> Option<Vec<[u64; 3]>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    Some(
        text.lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace().map(|x| x.parse::<u64>().ok());
                Some([f.next()??, f.next()??, f.next()??])
            })
            .collect(),
    )
}

/// Every capability this kernel knows (bits 0 to /proc/sys/kernel/cap_last_cap).
#[must_use]
pub fn full_cap_mask() -> u64 {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    if last >= 63 {
        u64::MAX
    } else {
        (1u64 << (last + 1)) - 1
    }
}

/// The identity map of the initial user namespace: `0 0 4294967295`.
pub const IDENTITY_MAP: [u64; 3] = [0, 0, 4_294_967_295];

/// What two processes share and do not.
#[must_use]
pub fn diff(a: &Report, b: &Report) -> Diff {
    let mut shared = Vec::new();
    let mut not_shared = Vec::new();
    for (name, na) in &a.namespaces {
        let nb = b.namespaces.get(name).and_then(|n| n.inode);
        if let (Some(x), Some(y)) = (na.inode, nb) {
            if x == y {
                shared.push(name.clone());
            } else {
                not_shared.push(name.clone());
            }
        }
    }
    let mut differences = Vec::new();
    let mut differ = |what: &str, x: String, y: String| {
        if x != y {
            differences.push(Difference {
                what: what.to_string(),
                a: x,
                b: y,
            });
        }
    };
    let or_unreadable = |v: Option<String>| v.unwrap_or_else(|| "unreadable".into());
    differ("comm", a.comm.clone(), b.comm.clone());
    differ(
        "root.path",
        or_unreadable(a.root.as_ref().map(|r| r.path.clone())),
        or_unreadable(b.root.as_ref().map(|r| r.path.clone())),
    );
    let cg =
        |r: &Report, f: &dyn Fn(&CgroupInfo) -> String| or_unreadable(r.cgroup.as_ref().map(f));
    let paths = |c: &CgroupInfo| {
        c.paths
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let limit = |v: Option<u64>| v.map_or_else(|| "none".into(), |n| n.to_string());
    differ("cgroup.paths", cg(a, &paths), cg(b, &paths));
    let mem = |c: &CgroupInfo| limit(c.memory_max_bytes);
    differ("cgroup.memory_max_bytes", cg(a, &mem), cg(b, &mem));
    let pids = |c: &CgroupInfo| limit(c.pids_max);
    differ("cgroup.pids_max", cg(a, &pids), cg(b, &pids));
    let cpu = |c: &CgroupInfo| c.cpu_max.clone().unwrap_or_else(|| "none".into());
    differ("cgroup.cpu_max", cg(a, &cpu), cg(b, &cpu));
    let map = |m: &Option<Vec<[u64; 3]>>| {
        or_unreadable(m.as_ref().map(|rows| {
            rows.iter()
                .map(|r| format!("{} {} {}", r[0], r[1], r[2]))
                .collect::<Vec<_>>()
                .join(", ")
        }))
    };
    differ("uid_map", map(&a.uid_map), map(&b.uid_map));
    differ("gid_map", map(&a.gid_map), map(&b.gid_map));
    for (i, set) in ["effective", "permitted", "bounding"].iter().enumerate() {
        let caps =
            |r: &Report| or_unreadable(r.capabilities.as_ref().map(|c| render::cap_set(c, i)));
        differ(&format!("capabilities.{set}"), caps(a), caps(b));
    }
    differ(
        "seccomp",
        or_unreadable(a.seccomp.clone()),
        or_unreadable(b.seccomp.clone()),
    );
    let nnp = |r: &Report| or_unreadable(r.no_new_privs.map(|n| u8::from(n).to_string()));
    differ("no_new_privs", nnp(a), nnp(b));
    differ(
        "hostname",
        or_unreadable(a.hostname.clone()),
        or_unreadable(b.hostname.clone()),
    );
    let ifs = |r: &Report| {
        or_unreadable(r.interfaces.as_ref().map(|v| {
            v.iter()
                .map(render::interface_summary)
                .collect::<Vec<_>>()
                .join("; ")
        }))
    };
    differ("interfaces", ifs(a), ifs(b));
    Diff {
        a: a.pid,
        b: b.pid,
        shared,
        not_shared,
        same_root: a.root_id.is_some() && a.root_id == b.root_id,
        same_cgroup: a.cgroup.is_some()
            && a.cgroup.as_ref().map(|c| &c.paths) == b.cgroup.as_ref().map(|c| &c.paths),
        differences,
    }
}

/// The host PID of the container `name` of a live lab, from the labs' state files in
/// `run` (`lab-PID.json`, src/lab/state.rs): its PID 1 (`NAME (pid 1)`) when the runtime
/// recorded one apart, else the process recorded as `NAME`. Only labs whose owner is
/// alive, and only processes still alive, count.
///
/// # Errors
/// [`InspectError::NoContainer`] when no live lab has one, [`InspectError::SeveralContainers`]
/// when more than one has (both exit 2).
pub fn find_container(run: &Path, name: &str) -> Result<i32, InspectError> {
    let mut found: Vec<(i32, i32)> = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(run)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("lab-") && n.ends_with(".json"))
        })
        .collect();
    files.sort();
    for f in files {
        let Some(state) = std::fs::read_to_string(&f)
            .ok()
            .and_then(|t| serde_json::from_str::<crate::lab::state::LabState>(&t).ok())
        else {
            continue;
        };
        let Some(owner) = state.owner.as_ref().filter(|o| o.is_alive_and_ours()) else {
            continue;
        };
        let live = |n: &str| {
            state
                .processes
                .iter()
                .find(|p| p.kind == "container" && p.name == n && p.is_alive_and_ours())
                .map(|p| p.pid)
        };
        if let Some(pid) = live(&format!("{name} (pid 1)")).or_else(|| live(name)) {
            found.push((owner.pid, pid));
        }
    }
    match found.as_slice() {
        [] => Err(InspectError::NoContainer {
            name: name.to_string(),
        }),
        [(_, pid)] => Ok(*pid),
        many => Err(InspectError::SeveralContainers {
            name: name.to_string(),
            count: many.len(),
            labs: many
                .iter()
                .map(|(lab, pid)| format!("lab {lab}: PID {pid}"))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_files_read_max_and_huge_values_as_no_limit() {
        assert_eq!(limit_value("max\n"), None);
        assert_eq!(limit_value("-1\n"), None);
        assert_eq!(limit_value("9223372036854771712\n"), None);
        assert_eq!(limit_value("67108864\n"), Some(67_108_864));
    }

    #[test]
    fn this_process_is_in_every_namespace_of_its_own_host_reference() {
        let me = std::process::id().cast_signed();
        let r = inspect(me).expect("inspect self");
        assert_eq!(r.pid, me);
        assert!(r.namespaces.contains_key("net"), "{r:?}");
        let own = ns_inodes(me);
        for (n, ns) in &r.namespaces {
            assert_eq!(ns.inode, own[n], "{n}");
        }
    }

    /// A fake v1 and v2 tree: limits are read from the files, the smallest along the
    /// chain wins, `max` and v1's huge value read as none.
    #[test]
    fn cgroup_limits_are_read_from_a_fake_tree() {
        let t = tempfile::tempdir().unwrap();
        let w = |p: &str, s: &str| {
            let f = t.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, s).unwrap();
        };
        // v1 memory: 64 MiB on the leaf, 1 GiB on its parent, "no limit" at the root.
        w("memory/memory.limit_in_bytes", "9223372036854771712\n");
        w("memory/lab/memory.limit_in_bytes", "1073741824\n");
        w("memory/lab/c/memory.limit_in_bytes", "67108864\n");
        w(
            "memory/lab/c/memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        );
        // v2 pids and cpu: pids.max 20 on the parent, max on the leaf; cpu.max 50000 100000.
        w("unified/lab/pids.max", "20\n");
        w("unified/lab/c/pids.max", "max\n");
        w("unified/lab/c/cpu.max", "50000 100000\n");
        let mut layout = Layout::default();
        layout.v1.insert("memory".into(), t.path().join("memory"));
        layout.v2 = Some(t.path().join("unified"));
        let member = Membership::parse("4:memory:/lab/c\n0::/lab/c\n");
        let c = cgroup_from(&layout, &member);
        assert_eq!(c.layout, "hybrid");
        assert_eq!(c.memory_max_bytes, Some(64 << 20));
        assert_eq!(c.pids_max, Some(20));
        assert_eq!(c.cpu_max.as_deref(), Some("50000 100000"));
        assert_eq!(c.oom_kills, Some(2));
        assert_eq!(c.paths["memory"], "/lab/c");
        assert_eq!(c.paths["unified"], "/lab/c");
        assert_eq!(c.files["pids.max"], t.path().join("unified/lab/pids.max"));
    }

    #[test]
    fn two_reports_differ_by_namespace_and_field() {
        let me = std::process::id().cast_signed();
        let a = inspect(me).unwrap();
        let mut b = a.clone();
        b.pid = 2;
        b.hostname = Some("box".into());
        b.namespaces.get_mut("uts").unwrap().inode = Some(1);
        let d = diff(&a, &b);
        assert!(d.not_shared == ["uts"], "{d:?}");
        assert!(d.shared.contains(&"net".to_string()));
        assert!(d.same_root && d.same_cgroup);
        assert_eq!(d.differences.len(), 1, "{d:?}");
        assert_eq!(d.differences[0].what, "hostname");
        assert_eq!(d.differences[0].b, "box");
    }
}
