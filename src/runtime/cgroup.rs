//! Control groups: limits on what a group of processes may use, kept by the kernel.
//!
//! A cgroup is a directory in a cgroup filesystem; a process is moved into one by writing
//! its PID to the directory's `cgroup.procs`, and its children are born there. Limits are
//! files too. Two versions exist side by side (cgroups(7)):
//!
//! - **v1**: one hierarchy per controller, each mounted on its own directory
//!   (`/sys/fs/cgroup/memory`, `/sys/fs/cgroup/pids`): `memory.limit_in_bytes`,
//!   `memory.memsw.limit_in_bytes`, `memory.oom_control`, `pids.max`, `pids.events`.
//! - **v2**: one unified hierarchy (`cgroup2`): `memory.max`, `memory.swap.max`,
//!   `memory.events`, `pids.max`, `pids.events`, plus `cgroup.kill` and `cgroup.events`.
//!   A controller reaches a cgroup only when its parent lists it in
//!   `cgroup.subtree_control`, and a cgroup other than the root that enables a controller
//!   for its children may hold no process itself: the "no internal processes" rule
//!   (EBUSY otherwise).
//! - **hybrid**: v1 controllers with a `cgroup2` mount beside them
//!   (`/sys/fs/cgroup/unified`), which tracks processes and may carry a controller or two.
//!
//! The lab makes one directory of its own, `fromscratch-PID`, on each hierarchy it uses:
//! on v1, below the lab process's own cgroup of that hierarchy (read from
//! /proc/self/cgroup); on v2, in the nearest ancestor of the lab's own cgroup that holds
//! no process (or the root), because the lab process itself stays where it is and a
//! cgroup that holds it may not enable controllers. Each container gets a leaf below it.
//! The layout is read from /proc/self/mountinfo, and every path is built from it, so the
//! unit tests point it at a fake tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::syscalls::{Syscalls, errno_name};

/// The controllers the lab sets limits with.
pub const CONTROLLERS: [&str; 2] = ["memory", "pids"];

/// The largest `pids.max` a lesson may ask for: PID_MAX_LIMIT on 64-bit kernels
/// (proc(5), /proc/sys/kernel/pid_max).
pub const PIDS_MAX_LIMIT: u64 = 4_194_304;

/// The smallest `memory_max` a lesson may ask for: below it not even a shell starts.
pub const MEMORY_MIN: u64 = 1 << 20;

/// Where the cgroup filesystems are mounted, read from /proc/self/mountinfo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// v1 hierarchies: controller name → mount point (`memory` → `/sys/fs/cgroup/memory`).
    /// Named hierarchies (`name=systemd`) carry no controller and are left out.
    pub v1: BTreeMap<String, PathBuf>,
    /// The cgroup2 mount, if any (`/sys/fs/cgroup` on v2 hosts, `/sys/fs/cgroup/unified`
    /// on hybrid ones).
    pub v2: Option<PathBuf>,
}

impl Layout {
    /// Parse mountinfo text (proc(5)): field 5 is the mount point; after ` - ` come the
    /// filesystem type, the source and the super options, which name a v1 hierarchy's
    /// controllers (`rw,memory`).
    #[must_use]
    pub fn parse(mountinfo: &str) -> Self {
        let mut out = Self::default();
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let Some(target) = left.split(' ').nth(4) else {
                continue;
            };
            let target = PathBuf::from(unescape(target));
            let mut r = right.split(' ');
            let (fstype, _source, opts) = (r.next(), r.next(), r.next().unwrap_or(""));
            match fstype {
                Some("cgroup2") => {
                    out.v2.get_or_insert(target);
                }
                Some("cgroup") => {
                    for o in opts.split(',') {
                        if CONTROLLERS.contains(&o) || KNOWN_V1.contains(&o) {
                            out.v1
                                .entry(o.to_string())
                                .or_insert_with(|| target.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The layout of this machine, from /proc/self/mountinfo.
    ///
    /// # Errors
    /// [`CgroupError::NoCgroups`] when no cgroup filesystem is mounted.
    pub fn detect() -> Result<Self, CgroupError> {
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let l = Self::parse(&text);
        if l.v1.is_empty() && l.v2.is_none() {
            return Err(CgroupError::NoCgroups);
        }
        Ok(l)
    }

    /// `"v2"`, `"v1"`, `"hybrid"` (v1 controllers and a cgroup2 mount), or `"none"`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match (self.v1.is_empty(), self.v2.is_some()) {
            (true, true) => "v2",
            (false, false) => "v1",
            (false, true) => "hybrid",
            (true, false) => "none",
        }
    }
}

/// v1 controllers worth recognising in mountinfo (cgroups(7)).
const KNOWN_V1: [&str; 11] = [
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "freezer",
    "blkio",
    "net_cls",
    "net_prio",
    "perf_event",
    "hugetlb",
    "rdma",
];

/// mountinfo escapes space, tab, newline and backslash as `\040` and so on.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Which cgroup a process is in, from /proc/PID/cgroup (cgroups(7)): one line per
/// hierarchy, `ID:CONTROLLERS:PATH`, with `0::PATH` for v2.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    /// v1: controller → path inside its hierarchy (`memory` → `/process_api/4e03`).
    pub v1: BTreeMap<String, String>,
    /// v2: the path inside the unified hierarchy.
    pub v2: Option<String>,
}

impl Membership {
    /// Parse the text of /proc/PID/cgroup.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let mut out = Self::default();
        for line in text.lines() {
            let mut f = line.splitn(3, ':');
            let (Some(id), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if id == "0" && ctrls.is_empty() {
                out.v2 = Some(path.to_string());
            } else {
                for c in ctrls.split(',') {
                    out.v1.insert(c.to_string(), path.to_string());
                }
            }
        }
        out
    }

    /// The cgroups of process `pid` (`self` for this one).
    #[must_use]
    pub fn of(pid: &str) -> Self {
        Self::parse(&std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default())
    }
}

/// `mount` joined with a cgroup path as /proc/PID/cgroup writes it (`/a/b`).
#[must_use]
pub fn dir_of(mount: &Path, path: &str) -> PathBuf {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() {
        mount.to_path_buf()
    } else {
        mount.join(rel)
    }
}

/// One hierarchy the lab uses, and its directory there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where the hierarchy is mounted.
    pub mount: PathBuf,
    /// True for the cgroup2 (unified) hierarchy.
    pub v2: bool,
    /// The lab's controllers whose files live here (`memory`, `pids`); on hybrid hosts
    /// the v2 hierarchy may serve none and is used for `cgroup.kill` and `cgroup.events`.
    pub serves: Vec<String>,
    /// The cgroup the lab's directory is made in.
    pub parent: PathBuf,
    /// The lab's directory: `parent/fromscratch-PID`.
    pub lab_dir: PathBuf,
    /// v2: the controllers enabled for the lab's cgroups, in `parent`'s and then the lab
    /// directory's `cgroup.subtree_control`.
    pub enable: Vec<String>,
}

/// The lab's cgroup directories on every hierarchy it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabCgroups {
    /// What the host has.
    pub layout: Layout,
    /// One entry per hierarchy used.
    pub hierarchies: Vec<Hierarchy>,
}

/// The name of a lab's directory on each hierarchy: `fromscratch-PID`.
#[must_use]
pub fn lab_dir_name(lab_pid: u32) -> String {
    format!("fromscratch-{lab_pid}")
}

impl LabCgroups {
    /// Decide where the lab's directories go, for a lab process that is in the cgroups
    /// `own`. Reads each v2 candidate's `cgroup.procs`, `cgroup.controllers` and
    /// `cgroup.subtree_control` (nothing is written).
    ///
    /// v1: under the lab's own cgroup of each hierarchy that carries memory or pids.
    /// v2: in the nearest ancestor of the lab's own v2 cgroup that holds no process (or
    /// the root, which the "no internal processes" rule exempts), enabling memory and
    /// pids where v1 does not carry them; on a hybrid host whose v2 hierarchy offers
    /// neither, the first controller it does offer (hugetlb, typically), so that the v2
    /// rules hold for the lab's cgroups there as on a v2 host.
    ///
    /// # Errors
    /// [`CgroupError::NoCgroups`] when neither memory nor pids is available anywhere.
    pub fn plan(layout: &Layout, own: &Membership, lab_pid: u32) -> Result<Self, CgroupError> {
        let name = lab_dir_name(lab_pid);
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        for c in CONTROLLERS {
            let Some(mount) = layout.v1.get(c) else {
                continue;
            };
            if let Some(h) = hierarchies.iter_mut().find(|h| &h.mount == mount) {
                h.serves.push(c.to_string());
                continue;
            }
            let parent = dir_of(mount, own.v1.get(c).map_or("/", String::as_str));
            hierarchies.push(Hierarchy {
                mount: mount.clone(),
                v2: false,
                serves: vec![c.to_string()],
                lab_dir: parent.join(&name),
                parent,
                enable: Vec::new(),
            });
        }
        if let Some(mount) = &layout.v2 {
            let parent = v2_parent(mount, own.v2.as_deref().unwrap_or("/"));
            let offered = words(&parent.join("cgroup.controllers"));
            let serves: Vec<String> = CONTROLLERS
                .iter()
                .filter(|c| !layout.v1.contains_key(**c) && offered.iter().any(|o| o == *c))
                .map(|c| (*c).to_string())
                .collect();
            let mut enable = serves.clone();
            if enable.is_empty()
                && let Some(first) = offered.first()
            {
                enable.push(first.clone());
            }
            hierarchies.push(Hierarchy {
                mount: mount.clone(),
                v2: true,
                serves,
                lab_dir: parent.join(&name),
                parent,
                enable,
            });
        }
        let served = |c: &str| hierarchies.iter().any(|h| h.serves.iter().any(|s| s == c));
        if !CONTROLLERS.iter().any(|c| served(c)) {
            return Err(CgroupError::NoCgroups);
        }
        Ok(Self {
            layout: layout.clone(),
            hierarchies,
        })
    }

    /// The controllers the lab must enable on a parent it does not own: (parent,
    /// controller) for each one missing from the parent's `cgroup.subtree_control`, and
    /// each one another lab enabled there (its [`enabled_marker`] exists: the last lab
    /// out disables it, see [`disable`]). A controller the host had enabled before any
    /// lab has no marker and is never recorded, so never turned off. Record them before
    /// [`LabCgroups::create`], to be undone at teardown.
    #[must_use]
    pub fn parent_enables(&self) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        for h in self.hierarchies.iter().filter(|h| h.v2) {
            let on = words(&h.parent.join("cgroup.subtree_control"));
            for c in &h.enable {
                if !on.contains(c) || enabled_marker(&h.parent, c).is_dir() {
                    out.push((h.parent.clone(), c.clone()));
                }
            }
        }
        out
    }

    /// Make the lab's directories: on v2, enable its controllers on the parent, `mkdir`
    /// the lab directory, and enable them on it too (it will hold no process, only
    /// leaves). Each directory must be recorded for cleanup before this is called.
    ///
    /// # Errors
    /// The first write or mkdir that fails, explained.
    pub fn create(&self, sys: &dyn Syscalls) -> Result<(), CgroupError> {
        for h in &self.hierarchies {
            if h.v2 {
                let on = words(&h.parent.join("cgroup.subtree_control"));
                let missing: Vec<&String> = h.enable.iter().filter(|c| !on.contains(c)).collect();
                if !missing.is_empty() {
                    enable(sys, &h.parent, &missing)?;
                    // Say, for the labs after this one, that a lab turned these on.
                    for c in &missing {
                        let m = enabled_marker(&h.parent, c);
                        if !m.is_dir() {
                            mkdir(sys, &m)?;
                        }
                    }
                }
            }
            mkdir(sys, &h.lab_dir)?;
            if h.v2 && !h.enable.is_empty() {
                enable(sys, &h.lab_dir, &h.enable.iter().collect::<Vec<_>>())?;
            }
        }
        Ok(())
    }

    /// The cgroup called `name` below the lab's directories (not made yet).
    #[must_use]
    pub fn cgroup(&self, name: &str) -> Cgroup {
        Cgroup {
            name: name.to_string(),
            dirs: self
                .hierarchies
                .iter()
                .map(|h| CgroupDir {
                    path: h.lab_dir.join(name),
                    v2: h.v2,
                    serves: h.serves.clone(),
                    enable: h.enable.clone(),
                })
                .collect(),
        }
    }

    /// The lab's directories, one per hierarchy.
    #[must_use]
    pub fn lab_dirs(&self) -> Vec<PathBuf> {
        self.hierarchies.iter().map(|h| h.lab_dir.clone()).collect()
    }
}

/// The nearest ancestor-or-self of the v2 cgroup `own` that holds no process, or the
/// root (exempt from the "no internal processes" rule).
fn v2_parent(mount: &Path, own: &str) -> PathBuf {
    let mut dir = dir_of(mount, own);
    loop {
        if dir == mount || !dir.starts_with(mount) {
            return mount.to_path_buf();
        }
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        if std::fs::metadata(&dir).is_ok() && procs.trim().is_empty() {
            return dir;
        }
        match dir.parent() {
            Some(p) => dir = p.to_path_buf(),
            None => return mount.to_path_buf(),
        }
    }
}

/// The whitespace-separated words of a small file (`cgroup.controllers`); none when it
/// cannot be read.
fn words(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn mkdir(sys: &dyn Syscalls, dir: &Path) -> Result<(), CgroupError> {
    match sys.mkdir(dir) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(CgroupError::op("mkdir", dir, e)),
    }
}

fn enable(sys: &dyn Syscalls, dir: &Path, ctrls: &[&String]) -> Result<(), CgroupError> {
    let line = ctrls
        .iter()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(" ");
    let f = dir.join("cgroup.subtree_control");
    sys.write_file(&f, &line)
        .map_err(|e| CgroupError::op("write", &f, e))
}

/// Limits for one cgroup. `None` leaves the kernel's default (`max`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of memory (v2 `memory.max`, v1 `memory.limit_in_bytes`); swap is limited to
    /// nothing more (`memory.swap.max` 0, `memory.memsw.limit_in_bytes` the same value),
    /// so the limit cannot be dodged by swapping.
    pub memory_max: Option<u64>,
    /// Processes and threads (`pids.max`, both versions).
    pub pids_max: Option<u64>,
}

/// One cgroup directory on one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupDir {
    /// Its path.
    pub path: PathBuf,
    /// On the v2 hierarchy.
    pub v2: bool,
    /// The lab's controllers whose files are here.
    pub serves: Vec<String>,
    /// v2: the controllers to enable for children, when the cgroup is a parent.
    pub enable: Vec<String>,
}

/// A cgroup of the lab's, on every hierarchy it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    /// Its name (the directory's), for `{cgroup.NAME}`.
    pub name: String,
    /// Its directory on each hierarchy.
    pub dirs: Vec<CgroupDir>,
}

/// What a cgroup's event counters say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Events {
    /// Processes the OOM killer killed in it (v2 `memory.events` / v1
    /// `memory.oom_control`, line `oom_kill N`).
    pub oom_kill: u64,
    /// Times a fork failed because `pids.max` was reached (`pids.events`, line `max N`).
    pub pids_max: u64,
}

impl Cgroup {
    /// Make it (mkdir on each hierarchy; an existing one is reused) and write its limits.
    /// With `parent`, it is made to hold cgroups rather than processes: on v2 its
    /// controllers are enabled for its children.
    ///
    /// # Errors
    /// The first mkdir or write that fails, explained (G1: EBUSY names the rule).
    pub fn create(
        &self,
        sys: &dyn Syscalls,
        limits: Limits,
        parent: bool,
    ) -> Result<(), CgroupError> {
        for d in &self.dirs {
            mkdir(sys, &d.path)?;
            if parent && d.v2 && !d.enable.is_empty() {
                enable(sys, &d.path, &d.enable.iter().collect::<Vec<_>>())?;
            }
        }
        self.set_limits(sys, limits)
    }

    /// Write `limits` into its files.
    ///
    /// # Errors
    /// The first write that fails, explained.
    pub fn set_limits(&self, sys: &dyn Syscalls, limits: Limits) -> Result<(), CgroupError> {
        let put = |f: PathBuf, v: String| -> Result<(), CgroupError> {
            sys.write_file(&f, &v)
                .map_err(|e| CgroupError::op("write", &f, e))
        };
        if let (Some(bytes), Some(d)) = (limits.memory_max, self.dir_for("memory")) {
            if d.v2 {
                put(d.path.join("memory.max"), bytes.to_string())?;
                let swap = d.path.join("memory.swap.max");
                if swap.exists() {
                    put(swap, "0".into())?;
                }
            } else {
                // memsw (memory + swap) may never be below the memory limit: this one first.
                put(d.path.join("memory.limit_in_bytes"), bytes.to_string())?;
                let memsw = d.path.join("memory.memsw.limit_in_bytes");
                if memsw.exists() {
                    put(memsw, bytes.to_string())?;
                }
            }
        }
        if let (Some(n), Some(d)) = (limits.pids_max, self.dir_for("pids")) {
            put(d.path.join("pids.max"), n.to_string())?;
        }
        Ok(())
    }

    /// The directory holding `controller`'s files.
    #[must_use]
    pub fn dir_for(&self, controller: &str) -> Option<&CgroupDir> {
        self.dirs
            .iter()
            .find(|d| d.serves.iter().any(|s| s == controller))
    }

    /// Its directory on the v2 hierarchy when there is one (the `cgroup.procs`,
    /// `cgroup.events` and `cgroup.kill` a v2 host has); else the memory one.
    #[must_use]
    pub fn main_dir(&self) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| d.v2)
            .or_else(|| self.dir_for("memory"))
            .or_else(|| self.dirs.first())
            .map(|d| d.path.as_path())
    }

    /// Every `cgroup.procs` a process must be written into to be in this cgroup on each
    /// hierarchy.
    #[must_use]
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|d| d.path.join("cgroup.procs"))
            .collect()
    }

    /// Read its event counters (missing files count as 0).
    #[must_use]
    pub fn events(&self) -> Events {
        let mut ev = Events::default();
        if let Some(d) = self.dir_for("memory") {
            let f = if d.v2 {
                "memory.events"
            } else {
                "memory.oom_control"
            };
            ev.oom_kill = counter(&d.path.join(f), "oom_kill");
        }
        if let Some(d) = self.dir_for("pids") {
            ev.pids_max = counter(&d.path.join("pids.events"), "max");
        }
        ev
    }
}

/// The number after `key` on its line of a flat-keyed file (`oom_kill 3`); 0 when absent.
#[must_use]
pub fn counter(path: &Path, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
        .unwrap_or(0)
}

/// Parse a size as lessons write it: bytes, or a number with `K`, `M` or `G` (binary:
/// `32M` is 33554432), as the kernel's own memparse reads `memory.max`.
///
/// # Errors
/// One sentence naming the problem.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&t[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    let n: u64 = num.parse().map_err(|_| {
        format!("`{s}` is not a size: write a whole number of bytes, or one followed by K, M or G (`32M`)")
    })?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is larger than any memory limit can be"))
}

/// Why a `memory_max` or `pids_max` a lesson asks for is refused, if it is.
#[must_use]
pub fn limits_problem(memory_max: Option<&str>, pids_max: Option<u64>) -> Option<String> {
    if let Some(m) = memory_max {
        match parse_size(m) {
            Err(e) => return Some(format!("memory_max {e}")),
            Ok(b) if b < MEMORY_MIN => {
                return Some(format!(
                    "memory_max `{m}` is below 1M, too little for any process to start; give at least `1M`"
                ));
            }
            Ok(_) => {}
        }
    }
    if let Some(p) = pids_max
        && !(1..=PIDS_MAX_LIMIT).contains(&p)
    {
        return Some(format!(
            "pids_max {p} is out of range: give a number of processes from 1 to {PIDS_MAX_LIMIT}"
        ));
    }
    None
}

/// Remove the cgroup `dir` and everything below it, children first: for each, stop the
/// processes in it that `is_ours` says the lab started (v2: `cgroup.kill` when no
/// stranger is inside, else SIGKILL one by one; v1: SIGKILL one by one), move any other
/// process to `refuge` (never signalled), wait until it is empty, rmdir.
///
/// # Errors
/// The first rmdir that fails, explained.
pub fn remove_tree(
    sys: &dyn Syscalls,
    dir: &Path,
    v2: bool,
    is_ours: &dyn Fn(i32) -> bool,
    refuge: Option<&Path>,
) -> Result<(), CgroupError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(()); // gone already
    };
    let mut first_err = None;
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir())
            && let Err(err) = remove_tree(sys, &e.path(), v2, is_ours, refuge)
        {
            first_err.get_or_insert(err);
        }
    }
    empty(sys, dir, v2, is_ours, refuge);
    let r = match sys.rmdir(dir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(CgroupError::op("rmdir", dir, e)),
    };
    match first_err {
        Some(e) => Err(e),
        None => r,
    }
}

/// The PIDs listed in `dir/cgroup.procs`.
#[must_use]
pub fn pids_in(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

fn empty(
    sys: &dyn Syscalls,
    dir: &Path,
    v2: bool,
    is_ours: &dyn Fn(i32) -> bool,
    refuge: Option<&Path>,
) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut killed_all = false;
    loop {
        let pids = pids_in(dir);
        if pids.is_empty() {
            return;
        }
        let strangers: Vec<i32> = pids.iter().copied().filter(|p| !is_ours(*p)).collect();
        for p in &strangers {
            if let Some(r) = refuge {
                let _ = sys.write_file(&r.join("cgroup.procs"), &p.to_string());
            }
        }
        let kill_file = dir.join("cgroup.kill");
        if v2 && strangers.is_empty() && !killed_all && kill_file.exists() {
            // cgroup.kill (Linux 5.14): SIGKILL to every process of the subtree at once,
            // even one forking as fast as it can.
            killed_all = sys.write_file(&kill_file, "1").is_ok();
        } else if !killed_all {
            for p in pids.iter().filter(|p| !strangers.contains(p)) {
                let _ = sys.kill(Pid::from_raw(*p), Signal::SIGKILL);
            }
        }
        if Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// True while v2 `cgroup.events` says `populated 1` (some process in the subtree).
#[must_use]
pub fn populated(dir: &Path) -> bool {
    counter(&dir.join("cgroup.events"), "populated") == 1
}

/// The `fromscratch-*` directories in `parent` other than `mine`: other labs' (live or
/// stale).
#[must_use]
pub fn other_labs(parent: &Path, mine: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p != mine
                && p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("fromscratch-"))
        })
        .collect()
}

/// Stop enabling `controller` for the children of `parent` (the undo of
/// [`LabCgroups::parent_enables`]), unless another lab's directory is still there (the
/// last lab out does it). EBUSY (some cgroup still uses it) is left alone.
pub fn disable(sys: &dyn Syscalls, parent: &Path, controller: &str) {
    if !other_labs(parent, Path::new("")).is_empty() {
        return;
    }
    if sys
        .write_file(
            &parent.join("cgroup.subtree_control"),
            &format!("-{controller}"),
        )
        .is_ok()
    {
        let _ = sys.rmdir(&enabled_marker(parent, controller));
    }
}

/// The empty cgroup a lab makes beside its own directory when it turns `controller` on
/// in `parent`'s `cgroup.subtree_control`: `fromscratch.enabled.CONTROLLER`. Its
/// presence tells the labs after it that a lab, not the host, turned the controller on,
/// so the last lab out turns it off and removes the marker; without it the controller
/// is the host's and no lab ever touches it.
#[must_use]
pub fn enabled_marker(parent: &Path, controller: &str) -> PathBuf {
    parent.join(format!("fromscratch.enabled.{controller}"))
}

/// The cgroup this process is in on the hierarchy mounted at `mount`: where a process
/// found in a cgroup being removed, and not started by the lab, is moved to.
#[must_use]
pub fn own_dir(mount: &Path, v2: bool, serves: &[String]) -> PathBuf {
    let me = Membership::of("self");
    let path = if v2 {
        me.v2
    } else {
        serves.iter().find_map(|c| me.v1.get(c).cloned())
    };
    dir_of(mount, path.as_deref().unwrap_or("/"))
}

/// The cgroup errors: each names the file, the kernel's answer and the rule behind it.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No cgroup filesystem with memory or pids.
    #[error(
        "this host has no cgroup filesystem with the memory or pids controller mounted (see /proc/self/mountinfo); mount cgroup2 on /sys/fs/cgroup or boot with the controllers enabled"
    )]
    NoCgroups,
    /// A write, mkdir or rmdir failed.
    #[error("{message}")]
    Op {
        /// One sentence.
        message: String,
        /// The kernel's answer.
        errno: Errno,
    },
}

impl CgroupError {
    /// `op` (`write`, `mkdir`, `rmdir`) on `path` failed with `errno`: explained.
    #[must_use]
    pub fn op(op: &str, path: &Path, errno: Errno) -> Self {
        Self::Op {
            message: explain(op, path, errno),
            errno,
        }
    }
}

impl crate::error::Classify for CgroupError {
    fn exit_code(&self) -> u8 {
        crate::error::EXIT_HOST_CANNOT
    }
}

/// One sentence for a failed cgroup operation, naming the rule broken (pitfall G1:
/// the "no internal processes" rule of cgroup v2, cgroups(7)).
#[must_use]
pub fn explain(op: &str, path: &Path, errno: Errno) -> String {
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
    let dir = path.parent().unwrap_or(path).display();
    let e = format!("{} ({})", errno_name(errno), errno.desc());
    match (op, file, errno) {
        ("write", "cgroup.procs", Errno::EBUSY) => format!(
            "writing a PID to {} failed with {e}: {dir} enables controllers for its children in cgroup.subtree_control, and cgroup v2's \"no internal processes\" rule lets such a cgroup hold no process; put the process in a leaf cgroup below it",
            path.display()
        ),
        ("write", "cgroup.subtree_control", Errno::EBUSY) => format!(
            "enabling a controller in {} failed with {e}: {dir} holds processes, and cgroup v2's \"no internal processes\" rule forbids enabling controllers for the children of a cgroup that holds any; move its processes to a leaf below it, or enable the controller on a parent that holds none",
            path.display()
        ),
        ("write", "cgroup.subtree_control", Errno::ENOENT) => format!(
            "enabling a controller in {} failed with {e}: its parent does not pass that controller down; enable it in the parent's cgroup.subtree_control first",
            path.display()
        ),
        ("rmdir", _, Errno::EBUSY) => format!(
            "removing the cgroup {} failed with {e}: it still holds processes or child cgroups; kill or move its processes (cgroup.kill on v2) and remove its children first",
            path.display()
        ),
        ("write", _, Errno::EINVAL) => format!(
            "writing to {} failed with {e}: the kernel refused the value",
            path.display()
        ),
        _ => format!("{op} {} failed with {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::syscalls::{RecordingSyscalls, Sys};
    use std::cell::RefCell;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn the_layout_is_read_from_mountinfo() {
        let l = Layout::parse(HYBRID);
        assert_eq!(l.kind(), "hybrid");
        assert_eq!(l.v1["memory"], PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(l.v1["cpuacct"], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert!(!l.v1.contains_key("name=systemd"));
        assert_eq!(l.v2, Some(PathBuf::from("/sys/fs/cgroup/unified")));
        let v2 = Layout::parse("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        assert_eq!(v2.kind(), "v2");
        let v1: String = HYBRID
            .lines()
            .filter(|l| !l.contains("cgroup2"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(Layout::parse(&v1).kind(), "v1");
        assert_eq!(Layout::parse("").kind(), "none");
    }

    #[test]
    fn proc_cgroup_lines_give_each_hierarchy_its_path() {
        let m = Membership::parse(
            "9:name=systemd:/\n4:memory:/process_api/4e03\n2:cpu,cpuacct:/x\n0::/user.slice/s.scope\n",
        );
        assert_eq!(m.v1["memory"], "/process_api/4e03");
        assert_eq!(m.v1["cpuacct"], "/x");
        assert_eq!(m.v2.as_deref(), Some("/user.slice/s.scope"));
    }

    #[test]
    fn sizes_are_binary_and_bad_ones_are_one_sentence() {
        assert_eq!(parse_size("32M"), Ok(32 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("32MB").unwrap_err().contains("not a size"));
        assert!(
            limits_problem(Some("512K"), None)
                .unwrap()
                .contains("below 1M")
        );
        assert!(
            limits_problem(None, Some(0))
                .unwrap()
                .contains("from 1 to 4194304")
        );
        assert_eq!(limits_problem(Some("32M"), Some(20)), None);
    }

    /// A fake cgroup2 filesystem in a temp dir: mkdir populates a cgroup's files, and
    /// writes follow the kernel's rules (controllers come from the parent's
    /// subtree_control; the "no internal processes" rule; rmdir of a busy cgroup).
    struct FakeCgroupFs {
        root: PathBuf,
        lines: RefCell<Vec<String>>,
    }

    impl FakeCgroupFs {
        fn new(root: &Path, offered: &str, procs: &str) -> Self {
            for (f, v) in [
                ("cgroup.controllers", offered),
                ("cgroup.subtree_control", ""),
                ("cgroup.procs", procs),
            ] {
                std::fs::write(root.join(f), v).unwrap();
            }
            Self {
                root: root.to_path_buf(),
                lines: RefCell::new(Vec::new()),
            }
        }
        fn read(p: &Path) -> String {
            std::fs::read_to_string(p).unwrap_or_default()
        }
        fn apply(&self, call: &Sys<'_>) -> Result<(), Errno> {
            match call {
                Sys::Mkdir(d) => {
                    std::fs::create_dir(d).map_err(|_| Errno::EEXIST)?;
                    let parent = d.parent().unwrap();
                    let ctrls = Self::read(&parent.join("cgroup.subtree_control"));
                    for (f, v) in [
                        ("cgroup.controllers", ctrls.as_str()),
                        ("cgroup.subtree_control", ""),
                        ("cgroup.procs", ""),
                        ("cgroup.events", "populated 0\nfrozen 0\n"),
                        ("cgroup.kill", ""),
                    ] {
                        std::fs::write(d.join(f), v).unwrap();
                    }
                    if ctrls.contains("memory") {
                        std::fs::write(d.join("memory.max"), "max\n").unwrap();
                        std::fs::write(
                            d.join("memory.events"),
                            "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
                        )
                        .unwrap();
                    }
                    if ctrls.contains("pids") {
                        std::fs::write(d.join("pids.max"), "max\n").unwrap();
                        std::fs::write(d.join("pids.events"), "max 0\n").unwrap();
                    }
                    Ok(())
                }
                Sys::Rmdir(d) => {
                    if !Self::read(&d.join("cgroup.procs")).trim().is_empty() {
                        return Err(Errno::EBUSY);
                    }
                    std::fs::remove_dir_all(d).map_err(|_| Errno::ENOENT)
                }
                Sys::WriteFile(p, data) => {
                    if !p.exists() {
                        return Err(Errno::ENOENT);
                    }
                    let dir = p.parent().unwrap();
                    let is_root = dir == self.root;
                    match p.file_name().and_then(|f| f.to_str()) {
                        Some("cgroup.subtree_control") => {
                            let mut on: Vec<String> = Self::read(p)
                                .split_whitespace()
                                .map(str::to_string)
                                .collect();
                            let offered = Self::read(&dir.join("cgroup.controllers"));
                            for w in data.split_whitespace() {
                                let (add, c) = w.split_at(1);
                                if !offered.split_whitespace().any(|o| o == c) {
                                    return Err(Errno::ENOENT);
                                }
                                if add == "+" {
                                    if !is_root
                                        && !Self::read(&dir.join("cgroup.procs")).trim().is_empty()
                                    {
                                        return Err(Errno::EBUSY);
                                    }
                                    if !on.iter().any(|x| x == c) {
                                        on.push(c.to_string());
                                    }
                                } else {
                                    on.retain(|x| x != c);
                                }
                            }
                            std::fs::write(p, on.join(" ")).unwrap();
                        }
                        Some("cgroup.procs") => {
                            if !is_root
                                && !Self::read(&dir.join("cgroup.subtree_control"))
                                    .trim()
                                    .is_empty()
                            {
                                return Err(Errno::EBUSY);
                            }
                            // A process is in one cgroup: out of the others.
                            fn drop_pid(dir: &Path, pid: &str) {
                                let f = dir.join("cgroup.procs");
                                let kept: String = FakeCgroupFs::read(&f)
                                    .lines()
                                    .filter(|l| *l != pid)
                                    .map(|l| format!("{l}\n"))
                                    .collect();
                                let _ = std::fs::write(&f, kept);
                                for e in std::fs::read_dir(dir).unwrap().flatten() {
                                    if e.path().is_dir() {
                                        drop_pid(&e.path(), pid);
                                    }
                                }
                            }
                            drop_pid(&self.root, data);
                            let mut s = Self::read(p);
                            s.push_str(&format!("{data}\n"));
                            std::fs::write(p, s).unwrap();
                        }
                        Some("cgroup.kill") => {
                            std::fs::write(dir.join("cgroup.procs"), "").unwrap()
                        }
                        _ => std::fs::write(p, format!("{data}\n")).unwrap(),
                    }
                    Ok(())
                }
                _ => Ok(()),
            }
        }
    }

    impl Syscalls for FakeCgroupFs {
        fn sys(&self, call: Sys<'_>) -> Result<(), Errno> {
            let r = self.apply(&call);
            let shown = call
                .call()
                .render(r)
                .replace(&self.root.display().to_string(), "R");
            self.lines.borrow_mut().push(shown);
            r
        }
        fn note(&self, _line: &str) {}
    }

    fn v2_tree(offered: &str) -> (tempfile::TempDir, FakeCgroupFs, LabCgroups) {
        let t = tempfile::tempdir().unwrap();
        // The lab's own cgroup holds it; its parent `user` holds none.
        let fs = FakeCgroupFs::new(t.path(), offered, "1\n");
        let all: Vec<String> = offered
            .split_whitespace()
            .map(|c| format!("+{c}"))
            .collect();
        fs.write_file(&t.path().join("cgroup.subtree_control"), &all.join(" "))
            .unwrap();
        fs.mkdir(&t.path().join("user")).unwrap();
        fs.mkdir(&t.path().join("user/session")).unwrap();
        std::fs::write(t.path().join("user/session/cgroup.procs"), "4242\n").unwrap();
        fs.lines.borrow_mut().clear();
        let layout = Layout {
            v1: BTreeMap::new(),
            v2: Some(t.path().to_path_buf()),
        };
        let own = Membership::parse("0::/user/session\n");
        let lab = LabCgroups::plan(&layout, &own, 4242).unwrap();
        (t, fs, lab)
    }

    #[test]
    fn v2_lab_dir_goes_beside_the_lab_in_the_nearest_cgroup_without_processes() {
        let (t, _fs, lab) = v2_tree("cpu memory pids hugetlb");
        let h = &lab.hierarchies[0];
        assert!(h.v2);
        assert_eq!(h.parent, t.path().join("user"));
        assert_eq!(h.lab_dir, t.path().join("user/fromscratch-4242"));
        assert_eq!(h.serves, vec!["memory", "pids"]);
        // `user` passes no controller down yet: the lab must enable them there first,
        // and records that before doing it, to undo it at teardown.
        assert_eq!(
            lab.parent_enables(),
            vec![
                (t.path().join("user"), "memory".to_string()),
                (t.path().join("user"), "pids".to_string())
            ]
        );
    }

    /// Pitfall G1: on a fake v2 tree, controllers on parents, processes in leaves, emptied before rmdir.
    #[test]
    fn pitfall_g1_v2_create_enables_on_parents_uses_leaves_and_empties_before_removing() {
        let (t, fs, lab) = v2_tree("memory pids");
        lab.create(&fs).unwrap();
        let c = lab.cgroup("c");
        c.create(
            &fs,
            Limits {
                memory_max: Some(32 << 20),
                pids_max: Some(20),
            },
            false,
        )
        .unwrap();
        assert_eq!(
            fs.lines.borrow().clone(),
            vec![
                "write(\"R/user/cgroup.subtree_control\", \"+memory +pids\") = 0",
                "mkdir(\"R/user/fromscratch.enabled.memory\", 0755) = 0",
                "mkdir(\"R/user/fromscratch.enabled.pids\", 0755) = 0",
                "mkdir(\"R/user/fromscratch-4242\", 0755) = 0",
                "write(\"R/user/fromscratch-4242/cgroup.subtree_control\", \"+memory +pids\") = 0",
                "mkdir(\"R/user/fromscratch-4242/c\", 0755) = 0",
                "write(\"R/user/fromscratch-4242/c/memory.max\", \"33554432\") = 0",
                "write(\"R/user/fromscratch-4242/c/pids.max\", \"20\") = 0",
            ]
        );
        let d = t.path().join("user/fromscratch-4242/c");
        assert_eq!(FakeCgroupFs::read(&d.join("memory.max")), "33554432\n");
        assert_eq!(c.main_dir(), Some(d.as_path()));
        assert_eq!(c.procs_files(), vec![d.join("cgroup.procs")]);
        // A process goes into the leaf.
        fs.write_file(&d.join("cgroup.procs"), "777").unwrap();
        std::fs::write(
            d.join("memory.events"),
            "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n",
        )
        .unwrap();
        std::fs::write(d.join("pids.events"), "max 3\n").unwrap();
        assert_eq!(
            c.events(),
            Events {
                oom_kill: 1,
                pids_max: 3
            }
        );
        // Teardown: cgroup.kill (777 is ours), then rmdir, children first.
        fs.lines.borrow_mut().clear();
        remove_tree(&fs, &lab.hierarchies[0].lab_dir, true, &|p| p == 777, None).unwrap();
        assert_eq!(
            fs.lines.borrow().clone(),
            vec![
                "write(\"R/user/fromscratch-4242/c/cgroup.kill\", \"1\") = 0",
                "rmdir(\"R/user/fromscratch-4242/c\") = 0",
                "rmdir(\"R/user/fromscratch-4242\") = 0",
            ]
        );
        assert!(!t.path().join("user/fromscratch-4242").exists());
    }

    #[test]
    fn only_a_controller_a_lab_turned_on_is_turned_off_and_by_the_last_lab_out() {
        // The host had memory and pids on in `user` before any lab: no marker, nothing
        // recorded, so no lab ever turns them off.
        let (t, fs, lab) = v2_tree("memory pids");
        let user = t.path().join("user");
        fs.write_file(&user.join("cgroup.subtree_control"), "+memory +pids")
            .unwrap();
        assert!(lab.parent_enables().is_empty());
        // They were off: the lab records them, turns them on and leaves markers.
        let (t, fs, lab) = v2_tree("memory pids");
        let user = t.path().join("user");
        assert_eq!(lab.parent_enables().len(), 2);
        lab.create(&fs).unwrap();
        assert!(enabled_marker(&user, "pids").is_dir());
        // A second lab finds them on, with markers: it records them too.
        let own = Membership::parse("0::/user/session\n");
        let layout = Layout {
            v1: BTreeMap::new(),
            v2: Some(t.path().to_path_buf()),
        };
        let second = LabCgroups::plan(&layout, &own, 4343).unwrap();
        assert_eq!(second.parent_enables().len(), 2);
        // The first lab out, while the second's directory is there, turns nothing off.
        std::fs::create_dir(user.join("fromscratch-4343")).unwrap();
        std::fs::remove_dir_all(user.join("fromscratch-4242")).unwrap();
        fs.lines.borrow_mut().clear();
        disable(&fs, &user, "pids");
        assert!(fs.lines.borrow().is_empty(), "{:?}", fs.lines.borrow());
        // The last one out turns it off and removes the marker.
        std::fs::remove_dir(user.join("fromscratch-4343")).unwrap();
        disable(&fs, &user, "pids");
        assert_eq!(
            fs.lines.borrow().clone(),
            vec![
                "write(\"R/user/cgroup.subtree_control\", \"-pids\") = 0",
                "rmdir(\"R/user/fromscratch.enabled.pids\") = 0",
            ]
        );
    }

    #[test]
    fn g1_no_internal_processes_is_named_in_the_error() {
        let (_t, fs, lab) = v2_tree("memory pids");
        lab.create(&fs).unwrap();
        // A PID written into the lab's directory, which enables pids for its children.
        let procs = lab.hierarchies[0].lab_dir.join("cgroup.procs");
        let e = fs.write_file(&procs, "777").unwrap_err();
        let msg = CgroupError::op("write", &procs, e).to_string();
        assert!(msg.contains("EBUSY"), "{msg}");
        assert!(msg.contains("\"no internal processes\" rule"), "{msg}");
        assert!(msg.contains("leaf"), "{msg}");
        // A controller enabled on a cgroup holding a process.
        let c = lab.cgroup("c");
        c.create(&fs, Limits::default(), false).unwrap();
        fs.write_file(&c.procs_files()[0], "777").unwrap();
        let leaf = c.dirs[0].path.clone();
        let err = enable(&fs, &leaf, &[&"pids".to_string()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("holds processes") && err.contains("no internal processes"),
            "{err}"
        );
        // rmdir of a busy cgroup, through the recorder: the sentence says what to do.
        let rec = RecordingSyscalls::new();
        rec.fail_on("rmdir", Errno::EBUSY);
        let e = rec.rmdir(&leaf).unwrap_err();
        assert!(
            CgroupError::op("rmdir", &leaf, e)
                .to_string()
                .contains("cgroup.kill")
        );
    }

    #[test]
    fn a_stranger_in_a_lab_cgroup_is_moved_out_never_killed() {
        let (t, fs, lab) = v2_tree("memory pids");
        lab.create(&fs).unwrap();
        let c = lab.cgroup("c");
        c.create(&fs, Limits::default(), false).unwrap();
        fs.write_file(&c.procs_files()[0], "1").unwrap();
        fs.lines.borrow_mut().clear();
        let refuge = t.path().join("user/session");
        remove_tree(
            &fs,
            &lab.hierarchies[0].lab_dir,
            true,
            &|_| false,
            Some(&refuge),
        )
        .unwrap();
        let lines = fs.lines.borrow().clone();
        assert_eq!(
            lines[0], "write(\"R/user/session/cgroup.procs\", \"1\") = 0",
            "{lines:?}"
        );
        assert!(
            !lines
                .iter()
                .any(|l| l.starts_with("kill") || l.contains("cgroup.kill")),
            "{lines:?}"
        );
    }

    #[test]
    fn v1_dirs_go_under_the_lab_cgroup_of_each_hierarchy() {
        let layout = Layout::parse(HYBRID);
        let own = Membership::parse("4:memory:/process_api/x\n8:pids:/\n0::/\n");
        let t = tempfile::tempdir().unwrap();
        let mut layout = layout;
        // The v2 part in a fake tree offering only hugetlb, as this hybrid CI host does.
        FakeCgroupFs::new(t.path(), "hugetlb", "1\n");
        layout.v2 = Some(t.path().to_path_buf());
        let lab = LabCgroups::plan(&layout, &own, 99).unwrap();
        let dirs = lab.lab_dirs();
        assert_eq!(
            dirs[0],
            PathBuf::from("/sys/fs/cgroup/memory/process_api/x/fromscratch-99")
        );
        assert_eq!(dirs[1], PathBuf::from("/sys/fs/cgroup/pids/fromscratch-99"));
        assert_eq!(dirs[2], t.path().join("fromscratch-99"));
        assert!(lab.hierarchies[2].serves.is_empty());
        assert_eq!(lab.hierarchies[2].enable, vec!["hugetlb"]);
        let rec = RecordingSyscalls::new();
        let c = lab.cgroup("c");
        c.set_limits(
            &rec,
            Limits {
                memory_max: Some(1 << 25),
                pids_max: Some(20),
            },
        )
        .unwrap();
        assert_eq!(
            rec.lines(),
            vec![
                "write(\"/sys/fs/cgroup/memory/process_api/x/fromscratch-99/c/memory.limit_in_bytes\", \"33554432\") = 0",
                "write(\"/sys/fs/cgroup/pids/fromscratch-99/c/pids.max\", \"20\") = 0",
            ]
        );
        assert_eq!(
            c.main_dir(),
            Some(t.path().join("fromscratch-99/c").as_path())
        );
    }
}
