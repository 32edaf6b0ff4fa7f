//! What the host looks like, as far as a lab can touch it: a snapshot, the differences
//! between two, and the traces any fromscratch lab left behind.
//!
//! A [`HostSnapshot`] records the mount table of this process's mount namespace
//! (`/proc/self/mountinfo`, proc(5), mount IDs left out), every process (PID, start time,
//! command name, and the lab mark `FROMSCRATCH_LAB` when it carries one), the network
//! links of this process's network namespace (`/proc/self/net/dev`), the named network
//! namespaces (`/run/netns`, ip-netns(8)) and those of the lab's processes
//! (`/proc/PID/ns/net`, namespaces(7)), the cgroup directories under `/sys/fs/cgroup`
//! (cgroups(7), at most [`CGROUP_DEPTH`] deep) and the files under the lab's own
//! directories: the run directory, the user's state directory and the rootfs cache's
//! temporary build trees. [`differences`] names what changed between two, one plain line
//! each; [`leftovers`] needs no baseline and names every trace of a lab that is gone.
//! `fromscratch cleanup --check` prints either; the integration tests compare snapshots
//! around every lesson with the same code.
//!
//! Host processes and cgroups come and go on their own, and a lab still running beside
//! (a second terminal, a test next to this one) owns its processes and cgroups: those two
//! are compared only for labs that are gone, and only for what a lab makes (processes
//! carrying a lab mark, `fromscratch-PID` cgroups and `fromscratch.enabled.*` markers,
//! each cgroup2 root's `cgroup.subtree_control`). Mounts, links, named network namespaces
//! and the lab's files are compared whole.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::lab::state::{LabState, ProcessRecord, is_zombie, start_time};
use crate::runtime::spec::LAB_MARK_VAR;

/// How deep below `/sys/fs/cgroup` directories are recorded (the lab's own sit at depth
/// 2 to 5: `unified/user.slice/…/fromscratch-PID/STEP`).
pub const CGROUP_DEPTH: usize = 6;

/// The version of the snapshot file `cleanup --check --save` writes.
pub const SNAPSHOT_VERSION: u32 = 1;

/// The places a lab keeps files in, looked at by a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Places {
    /// The run directory (`paths::run_dir()`): live labs' scratch directories and state
    /// files.
    pub run: PathBuf,
    /// The user's state directory (`…/fromscratch`, holding progress.json), if known.
    pub state: Option<PathBuf>,
    /// The rootfs cache (`paths::cache_dir()/rootfs`): only its `.tmp-*` build trees are
    /// recorded, never the cached trees themselves.
    pub cache: PathBuf,
}

impl Places {
    /// The places this process's environment names (`FROMSCRATCH_RUN`, `XDG_STATE_HOME`,
    /// `FROMSCRATCH_CACHE`, or their defaults, see [`crate::paths`]).
    #[must_use]
    pub fn current() -> Self {
        Self {
            run: crate::paths::run_dir(),
            state: crate::progress::location()
                .ok()
                .map(|l| l.dir().to_path_buf()),
            cache: crate::paths::cache_dir().join("rootfs"),
        }
    }
}

/// One process, as /proc shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProcessEntry {
    /// Host PID (as this process's PID namespace numbers it).
    pub pid: i32,
    /// Start time in clock ticks since boot (/proc/PID/stat field 22, proc(5)).
    pub start_time: u64,
    /// The command name (/proc/PID/comm, at most 15 bytes).
    pub comm: String,
    /// The value of its `FROMSCRATCH_LAB` variable (the scratch directory of the lab that
    /// started it), when it has one.
    pub lab: Option<String>,
}

/// What the host looks like, as far as a lab can touch it (see the module header).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HostSnapshot {
    /// [`SNAPSHOT_VERSION`].
    pub version: u32,
    /// Where the files were looked for.
    pub places: Places,
    /// One line per mount: `TARGET ROOT FSTYPE SOURCE` (mountinfo fields 5, 4, and the
    /// two after the `-`; the mount ID and parent ID left out, since they change on every
    /// remount).
    pub mounts: BTreeSet<String>,
    /// Every process, by PID.
    pub processes: Vec<ProcessEntry>,
    /// Network link names of this network namespace.
    pub links: BTreeSet<String>,
    /// Named network namespaces (`/run/netns/NAME`), and `net:[INODE] (lab LAB)` for
    /// each network namespace a marked process is in.
    pub netns: BTreeSet<String>,
    /// Every directory under `/sys/fs/cgroup`, at most [`CGROUP_DEPTH`] deep.
    pub cgroups: BTreeSet<String>,
    /// Each cgroup2 root's `cgroup.subtree_control`: root → controllers.
    pub subtree_control: BTreeMap<String, String>,
    /// Files and directories under the lab's places (the run directory and state
    /// directory whole, the cache's `.tmp-*` entries by name).
    pub files: BTreeSet<String>,
}

impl HostSnapshot {
    /// Look at the host now. Never fails: what cannot be read is recorded as absent.
    #[must_use]
    pub fn take(places: &Places) -> Self {
        let me = nix::unistd::getpid().as_raw();
        let processes: Vec<ProcessEntry> =
            processes().into_iter().filter(|p| p.pid != me).collect();
        let mut netns: BTreeSet<String> = std::fs::read_dir("/run/netns")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().display().to_string())
            .collect();
        for p in &processes {
            if let (Some(lab), Ok(ns)) = (
                &p.lab,
                std::fs::read_link(format!("/proc/{}/ns/net", p.pid)),
            ) {
                netns.insert(format!("{} (lab {lab})", ns.display()));
            }
        }
        let cgroups = cgroup_dirs();
        Self {
            version: SNAPSHOT_VERSION,
            places: places.clone(),
            mounts: mounts(),
            processes,
            links: links(),
            netns,
            cgroups,
            subtree_control: subtree_control(),
            files: lab_files(places),
        }
    }
}

/// The mount table of this process's mount namespace, one `TARGET ROOT FSTYPE SOURCE`
/// line per mount (see [`HostSnapshot::mounts`]).
#[must_use]
pub fn mounts() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let dash = f.iter().position(|x| *x == "-").unwrap_or(f.len() - 1);
            format!(
                "{} {} {} {}",
                f.get(4).unwrap_or(&""),
                f.get(3).unwrap_or(&""),
                f.get(dash + 1).unwrap_or(&""),
                f.get(dash + 2).unwrap_or(&"")
            )
        })
        .collect()
}

/// The network link names of this process's network namespace, from `/proc/self/net/dev`
/// (proc(5): unlike /sys/class/net, it follows the reader's namespace).
#[must_use]
pub fn links() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/self/net/dev")
        .unwrap_or_default()
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
        .collect()
}

/// Every directory under `/sys/fs/cgroup`, at most [`CGROUP_DEPTH`] deep (cgroups(7)).
#[must_use]
pub fn cgroup_dirs() -> BTreeSet<String> {
    walkdir::WalkDir::new("/sys/fs/cgroup")
        .max_depth(CGROUP_DEPTH)
        .into_iter()
        .filter_entry(|e| e.file_type().is_dir())
        .flatten()
        .map(|e| e.path().display().to_string())
        .collect()
}

/// The `FROMSCRATCH_LAB` value in `/proc/PID/environ`, if the process has one.
#[must_use]
pub fn lab_mark(pid: i32) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let key = format!("{LAB_MARK_VAR}=");
    env.split(|b| *b == 0).find_map(|kv| {
        kv.strip_prefix(key.as_bytes())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    })
}

/// Every process in /proc: PID, start time, command name and lab mark.
#[must_use]
pub fn processes() -> Vec<ProcessEntry> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Some(start) = start_time(Pid::from_raw(pid)) else {
            continue;
        };
        let comm = std::fs::read_to_string(e.path().join("comm"))
            .unwrap_or_default()
            .trim_end()
            .to_string();
        out.push(ProcessEntry {
            pid,
            start_time: start,
            comm,
            lab: lab_mark(pid),
        });
    }
    out.sort();
    out
}

/// Each cgroup2 mount's `cgroup.subtree_control`, by mount point.
#[must_use]
pub fn subtree_control() -> BTreeMap<String, String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(" - cgroup2 "))
        .filter_map(|l| l.split(' ').nth(4))
        .map(|t| {
            let ctl =
                std::fs::read_to_string(format!("{t}/cgroup.subtree_control")).unwrap_or_default();
            (t.to_string(), ctl.trim().to_string())
        })
        .collect()
}

/// The files under the lab's places (see [`HostSnapshot::files`]); never crosses a mount.
fn lab_files(places: &Places) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for dir in std::iter::once(&places.run).chain(places.state.iter()) {
        for e in walkdir::WalkDir::new(dir)
            .min_depth(1)
            .same_file_system(true)
            .into_iter()
            .flatten()
        {
            out.insert(e.path().display().to_string());
        }
    }
    for e in std::fs::read_dir(&places.cache)
        .into_iter()
        .flatten()
        .flatten()
    {
        if e.file_name().to_string_lossy().starts_with(".tmp-") {
            out.insert(e.path().display().to_string());
        }
    }
    out
}

/// True while the lab whose scratch directory is `mark` (`RUN/lab-PID`) runs: its state
/// file names an owner that is alive with the same start time, or, when that file cannot
/// be read, process PID is alive.
#[must_use]
pub fn lab_is_live(mark: &str) -> bool {
    let Some(pid) = Path::new(mark)
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("lab-"))
        .and_then(|n| n.parse::<i32>().ok())
    else {
        return false;
    };
    let state = format!("{mark}.json");
    match crate::paths::read_small_file(Path::new(&state))
        .ok()
        .and_then(|t| serde_json::from_str::<LabState>(&t).ok())
    {
        Some(s) => s.owner.is_some_and(|o| o.is_alive_and_ours()),
        None => Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(Pid::from_raw(pid)),
    }
}

/// True while process `pid`, named in a `fromscratch-PID` cgroup, lives.
fn pid_alive(pid: &str) -> bool {
    pid.parse::<i32>()
        .is_ok_and(|p| Path::new(&format!("/proc/{p}")).exists() && !is_zombie(Pid::from_raw(p)))
}

/// The cgroup traces of labs that are gone: `fromscratch-PID` directories whose PID is
/// no longer running, and `fromscratch.enabled.*` markers (the lab's "I turned this
/// controller on") in a cgroup where no live lab's directory is. A live lab's belong to
/// it (a test running beside, a second terminal) and are left out.
#[must_use]
pub fn cgroup_leftovers(cgroups: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut markers = Vec::new();
    for c in cgroups {
        let p = Path::new(c);
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with("fromscratch.enabled.") {
            markers.push(p);
        } else if let Some(pid) = name.strip_prefix("fromscratch-")
            && !pid_alive(pid)
        {
            out.insert(c.clone());
        }
    }
    let live = live_lab_cgroup_parents(cgroups);
    for m in markers {
        let parent = m
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if !live.contains(&parent) {
            out.insert(m.display().to_string());
        }
    }
    out
}

/// The cgroups holding a live lab's `fromscratch-PID` directory.
#[must_use]
pub fn live_lab_cgroup_parents(cgroups: &BTreeSet<String>) -> BTreeSet<String> {
    cgroups
        .iter()
        .filter_map(|c| {
            let p = Path::new(c);
            let pid = p.file_name()?.to_str()?.strip_prefix("fromscratch-")?;
            pid_alive(pid).then(|| p.parent().map(|q| q.display().to_string()))?
        })
        .collect()
}

/// The subtree_control entries worth comparing: those of cgroup2 roots where no live
/// lab has a directory (a live lab may have turned a controller on for itself).
fn quiet_controls(s: &HostSnapshot, live: &BTreeSet<String>) -> BTreeMap<String, String> {
    s.subtree_control
        .iter()
        .filter(|(root, _)| !live.contains(*root))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The processes worth comparing: those carrying a lab mark whose lab is gone.
fn left_processes(s: &HostSnapshot) -> BTreeSet<String> {
    s.processes
        .iter()
        .filter_map(|p| {
            let lab = p.lab.as_ref()?;
            (!lab_is_live(lab)).then(|| {
                format!(
                    "{} {} (started at tick {}, lab {lab})",
                    p.pid, p.comm, p.start_time
                )
            })
        })
        .collect()
}

/// Every difference between `before` and `after`, one plain line each ("mount added:
/// …", "link gone: …", "cgroup left: …"), in a stable order; empty when the host is the
/// same. Processes and cgroups of a lab still running now are not compared (see the
/// module header).
#[must_use]
pub fn differences(before: &HostSnapshot, after: &HostSnapshot) -> Vec<String> {
    let mut out = Vec::new();
    let set = |out: &mut Vec<String>,
               what: &str,
               a: &BTreeSet<String>,
               b: &BTreeSet<String>,
               added: &str| {
        for x in b.difference(a) {
            out.push(format!("{what} {added}: {x}"));
        }
        for x in a.difference(b) {
            out.push(format!("{what} gone: {x}"));
        }
    };
    set(&mut out, "mount", &before.mounts, &after.mounts, "added");
    set(&mut out, "link", &before.links, &after.links, "added");
    let plain_netns = |s: &HostSnapshot| -> BTreeSet<String> {
        s.netns
            .iter()
            .filter(|n| {
                n.rsplit_once(" (lab ")
                    .is_none_or(|(_, lab)| !lab_is_live(lab.trim_end_matches(')')))
            })
            .cloned()
            .collect()
    };
    set(
        &mut out,
        "network namespace",
        &plain_netns(before),
        &plain_netns(after),
        "added",
    );
    set(
        &mut out,
        "lab process",
        &left_processes(before),
        &left_processes(after),
        "left",
    );
    set(
        &mut out,
        "cgroup",
        &cgroup_leftovers(&before.cgroups),
        &cgroup_leftovers(&after.cgroups),
        "left",
    );
    let live = live_lab_cgroup_parents(&after.cgroups);
    let (a, b) = (quiet_controls(before, &live), quiet_controls(after, &live));
    for (root, ctl) in &b {
        if let Some(was) = a.get(root)
            && was != ctl
        {
            out.push(format!(
                "cgroup controllers changed: {root}/cgroup.subtree_control was `{was}`, is `{ctl}`"
            ));
        }
    }
    set(&mut out, "file", &before.files, &after.files, "added");
    out
}

/// Every trace of a fromscratch lab that is gone, one plain line each, without a
/// baseline: processes carrying the mark of a lab that no longer runs, mounts under the
/// run directory or the rootfs cache, state files in the run directory and what they
/// recorded (links, cgroups, runc containers), stray `fromscratch-PID` cgroups, other files a dead lab
/// left in the run directory, and interrupted rootfs builds. Empty when the host is
/// clean. A live lab's traces are its own and are not listed.
#[must_use]
pub fn leftovers(places: &Places) -> Vec<String> {
    let now = HostSnapshot::take(places);
    let mut out = Vec::new();
    for p in &now.processes {
        if let Some(lab) = &p.lab
            && !lab_is_live(lab)
        {
            out.push(format!(
                "process left: {} {} (started by the lab {lab}, which is gone)",
                p.pid, p.comm
            ));
        }
    }
    for m in &now.mounts {
        let target = m.split(' ').next().unwrap_or("");
        let t = Path::new(target);
        if t.starts_with(&places.run) || t.starts_with(&places.cache) {
            out.push(format!("mount left: {m}"));
        }
    }
    let mut dead_labs = BTreeSet::new();
    for e in std::fs::read_dir(&places.run)
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(lab) = name
            .strip_prefix("lab-")
            .and_then(|r| r.split('.').next())
            .filter(|n| n.parse::<i32>().is_ok())
        else {
            out.push(format!("file left: {}", e.path().display()));
            continue;
        };
        let mark = places.run.join(format!("lab-{lab}"));
        if lab_is_live(&mark.display().to_string()) {
            continue;
        }
        out.push(format!("file left: {}", e.path().display()));
        if name.ends_with(".json") {
            dead_labs.insert(e.path());
        }
    }
    for state in dead_labs {
        let Some(s) = crate::paths::read_small_file(&state)
            .ok()
            .and_then(|t| serde_json::from_str::<LabState>(&t).ok())
        else {
            continue;
        };
        for l in &s.links {
            out.push(format!(
                "link recorded by a lab that is gone: {} in {}",
                l.ifname, l.container
            ));
        }
        for c in &s.cgroups {
            if c.path.exists() {
                out.push(format!("cgroup left: {}", c.path.display()));
            }
        }
        // runc keeps a container's state in `ROOT/ID` until `runc delete`.
        for r in &s.runc {
            if r.root.join(&r.id).exists() {
                out.push(format!(
                    "runc container left: {} (runc --root {} delete --force {})",
                    r.id,
                    r.root.display(),
                    r.id
                ));
            }
        }
        for p in s.processes.iter().filter(|p| p.is_alive_and_ours()) {
            let line = format!(
                "process left: {} {} (started by the lab {}, which is gone)",
                p.pid,
                std::fs::read_to_string(format!("/proc/{}/comm", p.pid))
                    .unwrap_or_default()
                    .trim_end(),
                state.with_extension("").display()
            );
            if !out.contains(&line) {
                out.push(line);
            }
        }
    }
    for c in cgroup_leftovers(&now.cgroups) {
        let line = format!("cgroup left: {c}");
        if !out.contains(&line) {
            out.push(line);
        }
    }
    for f in now
        .files
        .iter()
        .filter(|f| Path::new(f).starts_with(&places.cache))
    {
        let pid = f.rsplit(['-', '.']).next().unwrap_or_default();
        if !pid_alive(pid) {
            out.push(format!("interrupted rootfs build left: {f}"));
        }
    }
    out
}

/// Remove the `fromscratch-PID` cgroup directories of labs that are gone and that no
/// state file recorded (`rmdir` only, deepest first: a cgroup that still holds a
/// process is kept, and no process is signalled). Returns the directories removed.
#[must_use]
pub fn remove_stray_cgroups() -> Vec<PathBuf> {
    let all = cgroup_dirs();
    let mut removed = Vec::new();
    for top in cgroup_leftovers(&all) {
        // Deepest first: the lab's step cgroups below its own directory.
        let mut tree: Vec<PathBuf> = walkdir::WalkDir::new(&top)
            .into_iter()
            .filter_entry(|e| e.file_type().is_dir())
            .flatten()
            .map(|e| e.path().to_path_buf())
            .collect();
        tree.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for d in tree {
            if std::fs::remove_dir(&d).is_ok() && d == Path::new(&top) {
                removed.push(d);
            }
        }
    }
    removed
}

/// Kill the processes carrying the mark of a lab of the run directory `run` whose lab is
/// gone (`run/lab-PID` with no live owner), whether or not its state file survived:
/// the mark, set by the lab in every process it starts, says they are the lab's.
/// Returns "name (pid N)" for each signalled.
#[must_use]
pub fn kill_orphaned_marked(run: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for p in processes() {
        let Some(lab) = &p.lab else { continue };
        if Path::new(lab).parent() != Some(run) || lab_is_live(lab) {
            continue;
        }
        let rec = ProcessRecord {
            name: p.comm.clone(),
            pid: p.pid,
            start_time: p.start_time,
            kind: "orphan".into(),
        };
        // The same process still: PID and start time match what was just read.
        if rec.is_alive_and_ours()
            && nix::sys::signal::kill(Pid::from_raw(p.pid), nix::sys::signal::Signal::SIGKILL)
                .is_ok()
        {
            out.push(format!("{} (pid {})", p.comm, p.pid));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(run: &Path) -> Places {
        Places {
            run: run.to_path_buf(),
            state: None,
            cache: run.join("no-cache"),
        }
    }

    #[test]
    fn a_snapshot_compared_with_itself_has_no_difference() {
        let run = tempfile::tempdir().unwrap();
        let s = HostSnapshot::take(&places(run.path()));
        assert!(
            s.mounts.iter().any(|m| m.starts_with("/ ")),
            "{:?}",
            s.mounts
        );
        assert!(s.links.contains("lo"), "{:?}", s.links);
        assert!(s.processes.iter().any(|p| p.pid == 1));
        assert_eq!(differences(&s, &s), Vec::<String>::new());
    }

    #[test]
    fn a_new_file_and_a_stale_state_file_are_named() {
        let run = tempfile::tempdir().unwrap();
        let p = places(run.path());
        // Other labs on this machine (tests running beside) come and go: only lines
        // naming this test's run directory are this test's.
        let ours = |v: Vec<String>| -> Vec<String> {
            v.into_iter()
                .filter(|l| l.contains(&run.path().display().to_string()))
                .collect()
        };
        let before = HostSnapshot::take(&p);
        assert_eq!(ours(leftovers(&p)), Vec::<String>::new());
        let f = run.path().join(format!("lab-{}.json", i32::MAX));
        std::fs::write(&f, "{}").unwrap();
        let after = HostSnapshot::take(&p);
        assert_eq!(
            ours(differences(&before, &after)),
            vec![format!("file added: {}", f.display())]
        );
        assert_eq!(
            ours(leftovers(&p)),
            vec![format!("file left: {}", f.display())]
        );
        let json = serde_json::to_string(&after).unwrap();
        let back: HostSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, after);
    }

    #[test]
    fn cgroup_leftovers_skip_a_live_labs_directory_and_marker() {
        let me = nix::unistd::getpid();
        let set: BTreeSet<String> = [
            format!("/sys/fs/cgroup/unified/a/fromscratch-{me}"),
            "/sys/fs/cgroup/unified/a/fromscratch.enabled.pids".to_string(),
            format!("/sys/fs/cgroup/unified/b/fromscratch-{}", i32::MAX),
            "/sys/fs/cgroup/unified/b/fromscratch.enabled.pids".to_string(),
        ]
        .into();
        let left: Vec<String> = cgroup_leftovers(&set).into_iter().collect();
        assert_eq!(
            left,
            vec![
                format!("/sys/fs/cgroup/unified/b/fromscratch-{}", i32::MAX),
                "/sys/fs/cgroup/unified/b/fromscratch.enabled.pids".to_string(),
            ]
        );
    }
}
