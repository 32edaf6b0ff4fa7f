//! The lab's state file: what a live lab owns, so `fromscratch cleanup` can undo it after
//! the lab itself was killed with SIGKILL.
//!
//! One JSON file per lab, `run_dir()/lab-PID.json`, rewritten (write to a temp file,
//! rename) whenever a resource is added or removed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::runtime::RuntimeError;

/// One process the lab started.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProcessRecord {
    /// What the lesson called it.
    pub name: String,
    /// Host PID.
    pub pid: i32,
    /// Start time in clock ticks since boot (proc(5), /proc/PID/stat field 22): with the
    /// PID, it names the process uniquely even after PID reuse.
    pub start_time: u64,
    /// "container" or "decoy".
    pub kind: String,
}

impl ProcessRecord {
    /// Record `pid` as it is now.
    #[must_use]
    pub fn new(name: &str, pid: Pid, kind: &str) -> Self {
        Self {
            name: name.to_string(),
            pid: pid.as_raw(),
            start_time: start_time(pid).unwrap_or(0),
            kind: kind.to_string(),
        }
    }

    /// True when the PID still names the same, living process (a zombie is dead: it
    /// only waits for its parent to collect it).
    #[must_use]
    pub fn is_alive_and_ours(&self) -> bool {
        let pid = Pid::from_raw(self.pid);
        self.start_time != 0 && start_time(pid) == Some(self.start_time) && !is_zombie(pid)
    }
}

/// The contents of a state file.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct LabState {
    /// The lab process.
    pub owner: Option<ProcessRecord>,
    /// Its scratch directory.
    pub scratch: PathBuf,
    /// Processes it started that are still alive.
    pub processes: Vec<ProcessRecord>,
    /// Network links it made (lesson 09), each recorded before it was made.
    #[serde(default)]
    pub links: Vec<super::net::LinkRecord>,
    /// Cgroup directories it made, each recorded before its mkdir, in the order made
    /// (so a child comes after its parent).
    #[serde(default)]
    pub cgroups: Vec<CgroupRecord>,
    /// Controllers it enabled in the `cgroup.subtree_control` of a v2 cgroup it does not
    /// own, recorded before the write, to be disabled again.
    #[serde(default)]
    pub cgroup_enables: Vec<(PathBuf, String)>,
    /// Containers it asked runc to make (lesson 17), each recorded before `runc run`.
    #[serde(default)]
    pub runc: Vec<RuncRecord>,
}

/// A container the lab asked runc(8) to make: enough for `fromscratch cleanup` to
/// delete it after the lab was killed (`runc --root ROOT delete --force ID`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RuncRecord {
    /// runc's state directory (`--root`), inside the lab's scratch directory.
    pub root: PathBuf,
    /// The container's id.
    pub id: String,
    /// Its bundle directory, inside the lab's scratch directory.
    pub bundle: PathBuf,
}

/// A cgroup directory the lab made.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CgroupRecord {
    /// The directory.
    pub path: PathBuf,
    /// On the v2 (unified) hierarchy.
    pub v2: bool,
    /// Where a process found in it that the lab did not start is moved before the
    /// directory is removed: the lab's own cgroup on that hierarchy.
    pub refuge: PathBuf,
}

/// A state file on disk, kept in step with the lab.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    state: LabState,
}

impl StateFile {
    /// Create `run/lab-PID.json` for this process.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn create(run: &Path, scratch: &Path) -> Result<Self, RuntimeError> {
        let me = nix::unistd::getpid();
        let path = run.join(format!("lab-{me}.json"));
        let state = LabState {
            owner: Some(ProcessRecord::new("lab", me, "lab")),
            scratch: scratch.to_path_buf(),
            processes: Vec::new(),
            links: Vec::new(),
            cgroups: Vec::new(),
            cgroup_enables: Vec::new(),
            runc: Vec::new(),
        };
        let f = Self { path, state };
        f.save()?;
        Ok(f)
    }

    fn save(&self) -> Result<(), RuntimeError> {
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&self.state).unwrap_or_default();
        std::fs::write(&tmp, text)
            .map_err(|e| RuntimeError::io(&format!("write {}", tmp.display()), e))?;
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| RuntimeError::io(&format!("rename {}", tmp.display()), e))
    }

    /// Record a new process.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn add(&mut self, rec: ProcessRecord) -> Result<(), RuntimeError> {
        self.state.processes.push(rec);
        self.save()
    }

    /// Forget a process (it was reaped).
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn forget(&mut self, pid: Pid) -> Result<(), RuntimeError> {
        let before = self.state.processes.len();
        self.state.processes.retain(|p| p.pid != pid.as_raw());
        if before == self.state.processes.len() {
            Ok(())
        } else {
            self.save()
        }
    }

    /// Record a cgroup directory, before it is made (an existing record is kept).
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn add_cgroup(&mut self, rec: CgroupRecord) -> Result<(), RuntimeError> {
        if self.state.cgroups.iter().any(|c| c.path == rec.path) {
            return Ok(());
        }
        self.state.cgroups.push(rec);
        self.save()
    }

    /// Record a controller about to be enabled in `parent`'s `cgroup.subtree_control`.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn add_cgroup_enable(&mut self, parent: &Path, ctrl: &str) -> Result<(), RuntimeError> {
        self.state
            .cgroup_enables
            .push((parent.to_path_buf(), ctrl.to_string()));
        self.save()
    }

    /// The cgroups and enabled controllers recorded.
    #[must_use]
    pub fn cgroups(&self) -> (&[CgroupRecord], &[(PathBuf, String)]) {
        (&self.state.cgroups, &self.state.cgroup_enables)
    }

    /// Forget every cgroup record (they were removed).
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn clear_cgroups(&mut self) -> Result<(), RuntimeError> {
        self.state.cgroups.clear();
        self.state.cgroup_enables.clear();
        self.save()
    }

    /// Record a runc container, before `runc run` makes it.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn add_runc(&mut self, rec: RuncRecord) -> Result<(), RuntimeError> {
        self.state.runc.push(rec);
        self.save()
    }

    /// Forget a runc container (`runc delete` removed it).
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn forget_runc(&mut self, id: &str) -> Result<(), RuntimeError> {
        self.state.runc.retain(|r| r.id != id);
        self.save()
    }

    /// The runc containers recorded.
    #[must_use]
    pub fn runc(&self) -> &[RuncRecord] {
        &self.state.runc
    }

    /// True when `pid` is a live process this lab started.
    #[must_use]
    pub fn owns(&self, pid: Pid) -> bool {
        self.state
            .processes
            .iter()
            .any(|p| p.pid == pid.as_raw() && p.is_alive_and_ours())
    }

    /// Record a link, before it is made.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn add_link(&mut self, rec: super::net::LinkRecord) -> Result<(), RuntimeError> {
        self.state.links.push(rec);
        self.save()
    }

    /// Forget a link (deleted, or never made).
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn forget_link(&mut self, container: &str, ifname: &str) -> Result<(), RuntimeError> {
        let before = self.state.links.len();
        self.state
            .links
            .retain(|l| !(l.container == container && l.ifname == ifname));
        if before == self.state.links.len() {
            Ok(())
        } else {
            self.save()
        }
    }

    /// The links recorded, oldest first.
    #[must_use]
    pub fn links(&self) -> Vec<super::net::LinkRecord> {
        self.state.links.clone()
    }

    /// Delete the file (the lab ended cleanly).
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// True when `pid` has exited and waits to be reaped (state `Z` in /proc/PID/stat).
#[must_use]
pub fn is_zombie(pid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
}

/// Every process whose environment carries the lab mark `FROMSCRATCH_LAB=scratch`
/// (see `runtime::spec::LAB_MARK_VAR`): what a lab started, and whatever those processes
/// started in turn, found even after the lab itself is gone.
#[must_use]
pub fn marked_processes(scratch: &Path) -> Vec<Pid> {
    let needle = format!(
        "{}={}\0",
        crate::runtime::spec::LAB_MARK_VAR,
        scratch.display()
    );
    let me = nix::unistd::getpid();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me.as_raw() {
            continue;
        }
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        let mut env = env;
        env.push(0);
        if env.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            out.push(Pid::from_raw(pid));
        }
    }
    out
}

/// How long [`cleanup_stale`] and a lab's teardown wait for the processes they killed
/// to be gone.
pub const GONE_LIMIT: Duration = Duration::from_secs(10);

/// SIGKILL every process carrying the mark of the lab whose scratch directory is
/// `scratch` ([`marked_processes`]), again and again until none is left or `deadline`
/// passes: kill(2) returns before the signal is acted on, and a process dying by
/// PR_SET_PDEATHSIG, or as a member of a PID namespace whose PID 1 died
/// (pid_namespaces(7)), can still be there for a moment. Returns each PID killed once.
pub fn kill_marked_until_gone(scratch: &Path, deadline: Instant) -> Vec<Pid> {
    let mut killed: Vec<Pid> = Vec::new();
    loop {
        let left = marked_processes(scratch);
        if left.is_empty() || Instant::now() >= deadline {
            return killed;
        }
        for pid in left {
            if nix::sys::signal::kill(pid, Signal::SIGKILL).is_ok() && !killed.contains(&pid) {
                killed.push(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// True when process `pid` carries the mark of the lab whose scratch directory is
/// `scratch` (see [`marked_processes`]).
#[must_use]
pub fn has_lab_mark(pid: i32, scratch: &Path) -> bool {
    let needle = format!(
        "{}={}\0",
        crate::runtime::spec::LAB_MARK_VAR,
        scratch.display()
    );
    let Ok(mut env) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    env.push(0);
    env.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Remove recorded cgroups, newest first (children before parents; a directory the
/// learner made below one goes with it), then disable the controllers the lab enabled.
/// Processes inside that `is_ours` accepts are killed; any other is moved to the
/// record's refuge, never signalled. Returns the directories removed and one sentence
/// per failure.
#[must_use]
pub fn remove_cgroups(
    cgroups: &[CgroupRecord],
    enables: &[(PathBuf, String)],
    is_ours: &dyn Fn(i32) -> bool,
) -> (Vec<PathBuf>, Vec<String>) {
    use crate::runtime::cgroup;
    let sys = crate::runtime::LinuxSyscalls::new(None, "lab");
    let (mut removed, mut failed) = (Vec::new(), Vec::new());
    for c in cgroups.iter().rev() {
        if !c.path.exists() {
            continue;
        }
        // Only directories named by the lab's own pattern, inside a cgroup filesystem.
        if !c.path.components().any(|p| {
            p.as_os_str()
                .to_str()
                .is_some_and(|s| s.starts_with("fromscratch-"))
        }) {
            continue;
        }
        match cgroup::remove_tree(&sys, &c.path, c.v2, is_ours, Some(&c.refuge)) {
            Ok(()) => removed.push(c.path.clone()),
            Err(e) => failed.push(e.to_string()),
        }
    }
    for (parent, ctrl) in enables.iter().rev() {
        cgroup::disable(&sys, parent, ctrl);
    }
    (removed, failed)
}

/// /proc/PID/stat field 22, the start time in clock ticks; `None` when the PID is gone.
#[must_use]
pub fn start_time(pid: Pid) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    let rest = s.rsplit_once(") ")?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The name prefix of a `fromscratch book` process's scratch directory in the run
/// directory: `book-PID-START` (its PID and start time).
pub const BOOK_SCRATCH_PREFIX: &str = "book-";

/// Whether run-directory entry `name` is a `book-PID-START` scratch directory whose
/// process is gone (no process with that PID and start time).
fn book_scratch_is_stale(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(BOOK_SCRATCH_PREFIX) else {
        return false;
    };
    let Some((pid, start)) = rest.split_once('-') else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<i32>(), start.parse::<u64>()) else {
        return false;
    };
    start_time(Pid::from_raw(pid)) != Some(start)
}

/// What `fromscratch cleanup` did.
#[derive(Debug, Default)]
pub struct CleanupReport {
    /// Processes killed, as "name (pid N)".
    pub killed: Vec<String>,
    /// Directories and state files removed.
    pub removed: Vec<PathBuf>,
    /// Labs that are still running (left alone).
    pub live_labs: Vec<i32>,
    /// What became of each network link a dead lab recorded.
    pub links: Vec<String>,
}

/// Finish the job of every lab whose owner is gone: kill the processes it recorded (only
/// those whose PID and start time still match), remove its scratch directory and state
/// file. Live labs are left alone.
///
/// # Errors
/// The run directory cannot be read.
pub fn cleanup_stale(run: &Path) -> Result<CleanupReport, RuntimeError> {
    let mut report = CleanupReport::default();
    if !run.exists() {
        return Ok(report);
    }
    crate::paths::ensure_private_dir(run)
        .map_err(|e| RuntimeError::io("refusing to clean up", e))?;
    let Ok(entries) = std::fs::read_dir(run) else {
        return Ok(report);
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if book_scratch_is_stale(&name)
            && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir())
            && remove_tree(&path, run).is_ok()
        {
            report.removed.push(path);
            continue;
        }
        if !(name.starts_with("lab-") && name.ends_with(".json")) {
            continue;
        }
        // Only our own state files: one someone else wrote must not steer what we kill or
        // delete.
        let mine = std::fs::symlink_metadata(&path).is_ok_and(|m| {
            m.is_file()
                && std::os::unix::fs::MetadataExt::uid(&m) == nix::unistd::geteuid().as_raw()
        });
        if !mine {
            continue;
        }
        let Ok(text) = crate::paths::read_small_file(&path) else {
            continue;
        };
        let Ok(mut state) = serde_json::from_str::<LabState>(&text) else {
            continue;
        };
        // The scratch directory is named after the state file, whatever the file says.
        state.scratch = run.join(name.trim_end_matches(".json"));
        if let Some(owner) = &state.owner
            && owner.is_alive_and_ours()
        {
            report.live_labs.push(owner.pid);
            continue;
        }
        // Links first, while a namespace holding one may still be alive.
        report
            .links
            .extend(super::net::delete_recorded(&state.links));
        // runc's containers through runc: it signals the init it recorded (PID and start
        // time checked against its state) and removes its cgroups and state.
        for r in &state.runc {
            if delete_runc(r, &state.scratch) {
                report
                    .killed
                    .push(format!("runc container {} (runc delete --force)", r.id));
            }
        }
        // PID 1 of each container first: SIGKILL from outside always reaches it, and the
        // rest of its namespace dies with it.
        let mut procs = state.processes.clone();
        procs.sort_by_key(|p| !p.name.ends_with("(pid 1)"));
        for p in &procs {
            if p.is_alive_and_ours() {
                let _ = nix::sys::signal::kill(Pid::from_raw(p.pid), Signal::SIGKILL);
                report.killed.push(format!("{} (pid {})", p.name, p.pid));
            }
        }
        // What those processes started (a probe's background child, a challenge shell's
        // server) carries the lab's mark in its environment; so do the processes of a
        // PID namespace whose PID 1 is still dying, or dying by PR_SET_PDEATHSIG one
        // parent after another. SIGKILL is delivered later than kill(2) returns, so
        // cleanup is done only once none of them is left (a killed one whose parent
        // is gone becomes a zombie for init to reap, with no environment to carry the
        // mark).
        let deadline = Instant::now() + GONE_LIMIT;
        for pid in kill_marked_until_gone(&state.scratch, deadline) {
            report
                .killed
                .push(format!("a process the lab's processes started (pid {pid})"));
        }
        for p in &procs {
            while p.is_alive_and_ours() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        // Then the cgroups it made: what is left in them of its processes carries its mark.
        let scratch = state.scratch.clone();
        let (gone, _) = remove_cgroups(&state.cgroups, &state.cgroup_enables, &|pid| {
            has_lab_mark(pid, &scratch)
        });
        report.removed.extend(gone);
        if state.scratch.starts_with(run)
            && state.scratch.exists()
            && remove_tree(&state.scratch, run).is_ok()
        {
            report.removed.push(state.scratch.clone());
        }
        if std::fs::remove_file(&path).is_ok() {
            report.removed.push(path);
        }
    }
    Ok(report)
}

/// `runc --root ROOT delete --force ID` for a recorded runc container whose state
/// directory lies inside the lab's scratch directory `scratch` (a state file naming
/// another directory steers nothing). True when runc still knew it and deleted it.
pub fn delete_runc(r: &RuncRecord, scratch: &Path) -> bool {
    if !r.root.starts_with(scratch) || !r.root.join(&r.id).exists() {
        return false;
    }
    let runc = super::oci::Runc::new(&r.root);
    runc.run(&["delete", "--force", &r.id], scratch).status == 0
}

/// Remove `dir`, which must lie strictly inside `base`, without following symlinks
/// (std's `remove_dir_all` unlinks a symlink rather than descending into it) and never
/// through a mount point.
///
/// # Errors
/// `dir` is outside `base`, holds a mount, or cannot be removed.
pub fn remove_tree(dir: &Path, base: &Path) -> std::io::Result<()> {
    let plain = dir.components().all(|c| {
        matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::RootDir
        )
    });
    let inside = match (
        dir.parent().and_then(|p| p.canonicalize().ok()),
        base.canonicalize(),
    ) {
        (Some(parent), Ok(base)) => parent.starts_with(&base),
        _ => false,
    };
    if !plain || !inside || !dir.starts_with(base) || dir == base {
        return Err(std::io::Error::other(format!(
            "refusing to remove {}: not inside {}",
            dir.display(),
            base.display()
        )));
    }
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() {
        return std::fs::remove_file(dir);
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mounts.lines() {
        if let Some(target) = line.split(' ').nth(4)
            && Path::new(target).starts_with(dir)
        {
            return Err(std::io::Error::other(format!(
                "refusing to remove {}: {target} is mounted inside it",
                dir.display()
            )));
        }
    }
    std::fs::remove_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_of_self_is_stable_and_of_a_dead_pid_is_none() {
        let me = nix::unistd::getpid();
        let a = start_time(me).unwrap();
        assert!(a > 0);
        assert_eq!(start_time(me), Some(a));
        assert_eq!(start_time(Pid::from_raw(i32::MAX)), None);
    }

    #[test]
    fn remove_tree_refuses_outside_base_and_does_not_follow_symlinks() {
        let base = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("precious"), "keep").unwrap();
        let inner = base.path().join("lab-1");
        std::fs::create_dir(&inner).unwrap();
        std::os::unix::fs::symlink(outside.path(), inner.join("escape")).unwrap();
        assert!(remove_tree(outside.path(), base.path()).is_err());
        assert!(remove_tree(base.path(), base.path()).is_err());
        remove_tree(&inner, base.path()).unwrap();
        assert!(!inner.exists());
        assert_eq!(
            std::fs::read_to_string(outside.path().join("precious")).unwrap(),
            "keep"
        );
    }

    #[test]
    fn cleanup_removes_the_scratch_of_a_killed_book_and_keeps_a_live_one() {
        let run = tempfile::tempdir().unwrap();
        let me = Pid::this();
        let live = run.path().join(format!(
            "{BOOK_SCRATCH_PREFIX}{me}-{}",
            start_time(me).unwrap()
        ));
        // A PID with another start time: this PID's process is not the one that made it.
        let reused = run.path().join(format!("{BOOK_SCRATCH_PREFIX}{me}-1"));
        let gone = run
            .path()
            .join(format!("{BOOK_SCRATCH_PREFIX}2147483646-5"));
        let stranger = run.path().join("book-notes");
        for d in [&live, &reused, &gone, &stranger] {
            std::fs::create_dir_all(d.join("state")).unwrap();
            std::fs::write(d.join("state/progress.json"), "{}").unwrap();
        }
        let report = cleanup_stale(run.path()).unwrap();
        assert!(live.exists() && stranger.exists());
        assert!(!reused.exists() && !gone.exists());
        let mut removed = report.removed.clone();
        removed.sort();
        let mut want = vec![reused, gone];
        want.sort();
        assert_eq!(removed, want);
    }

    #[test]
    fn cleanup_leaves_a_live_lab_alone_and_kills_only_matching_processes() {
        let run = tempfile::tempdir().unwrap();
        // A stale lab whose owner is gone, claiming our own PID with a wrong start time:
        // cleanup must not signal us.
        let me = nix::unistd::getpid();
        let stale = LabState {
            owner: Some(ProcessRecord {
                name: "lab".into(),
                pid: i32::MAX,
                start_time: 1,
                kind: "lab".into(),
            }),
            scratch: run.path().join("lab-x"),
            links: Vec::new(),
            cgroups: Vec::new(),
            cgroup_enables: Vec::new(),
            runc: Vec::new(),
            processes: vec![ProcessRecord {
                name: "impostor".into(),
                pid: me.as_raw(),
                start_time: 1,
                kind: "decoy".into(),
            }],
        };
        std::fs::create_dir(run.path().join("lab-x")).unwrap();
        std::fs::write(
            run.path().join("lab-x.json"),
            serde_json::to_string(&stale).unwrap(),
        )
        .unwrap();
        // A live lab: ourselves.
        let live = StateFile::create(run.path(), &run.path().join("lab-live")).unwrap();
        let report = cleanup_stale(run.path()).unwrap();
        assert!(report.killed.is_empty(), "{report:?}");
        assert_eq!(report.live_labs, vec![me.as_raw()]);
        assert!(!run.path().join("lab-x").exists());
        assert!(!run.path().join("lab-x.json").exists());
        live.remove();
    }
}
