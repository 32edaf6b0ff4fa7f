//! Rootless containers: a user namespace first, its id maps written by the parent, then
//! every other namespace (user_namespaces(7)).
//!
//! The order, and why (REFERENCES item 5, pitfalls U1 and U2):
//!
//! 1. The single-threaded first child unshares `CLONE_NEWUSER` alone (unshare(2) refuses
//!    it with EINVAL in a threaded process) and tells the parent over a pipe. It then
//!    waits, doing nothing else: until its uid is mapped it is the overflow user 65534
//!    inside, and namespaces it made now would still work but files it touched would not.
//! 2. The parent, still in the parent user namespace, writes `/proc/CHILD/uid_map`
//!    (`0 UID 1`: root inside is the user outside, one id), then `deny` to
//!    `/proc/CHILD/setgroups` (since Linux 3.19 an unprivileged writer may not write
//!    `gid_map` before that), then `gid_map` (`0 GID 1`). Each map may be written once.
//! 3. The parent releases the child, which is now uid 0 and gid 0 in its namespace with a
//!    full set of capabilities *there*, and unshares the other namespaces, which the new
//!    user namespace owns: mount, PID, UTS, IPC and network work as they do for root.
//!
//! When a write is refused, [`MapWriter`] names the rule broken, from what it knows
//! about the writer and what it has written already; [`super::error::explain_setup_failure`]
//! turns the tag into one sentence.

use std::path::PathBuf;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

use super::spawn::SetupResult;
use super::syscalls::Syscalls;

/// The one-line maps of a rootless container: root (0) inside the namespace is `uid` /
/// `gid` outside, one id each (`unshare --map-root-user` does the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    /// The user id outside (in the parent user namespace) that becomes 0 inside.
    pub uid: u32,
    /// The group id outside that becomes 0 inside.
    pub gid: u32,
}

impl IdMap {
    /// The calling process's effective uid and gid, the only ids an unprivileged writer
    /// may map (user_namespaces(7), "Defining user and group ID mappings").
    #[must_use]
    pub fn current() -> Self {
        Self {
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
        }
    }

    /// The line for `uid_map`: `0 UID 1` (inside, outside, count).
    #[must_use]
    pub fn uid_line(&self) -> String {
        format!("0 {} 1\n", self.uid)
    }

    /// The line for `gid_map`: `0 GID 1`.
    #[must_use]
    pub fn gid_line(&self) -> String {
        format!("0 {} 1\n", self.gid)
    }
}

/// The map to use when this process is not root: `Some(IdMap::current())` for an
/// unprivileged user, `None` for root, whose containers stay exactly as they were (no
/// user namespace).
#[must_use]
pub fn rootless() -> Option<IdMap> {
    if nix::unistd::geteuid().is_root() {
        None
    } else {
        Some(IdMap::current())
    }
}

/// For a process that is not root: `spec` with [`rootless`] maps when it asks for
/// anything that needs privilege (a root to change to, a namespace, the lab's guard) and
/// has no maps yet. `None` when nothing changes: as root, or for a plain host process,
/// which must see the host as it is.
#[must_use]
pub fn rootless_spec(spec: &super::spec::ContainerSpec) -> Option<super::spec::ContainerSpec> {
    rootless_spec_with(spec, rootless())
}

/// As [`rootless_spec`], with the maps given (`None`: root).
fn rootless_spec_with(
    spec: &super::spec::ContainerSpec,
    map: Option<IdMap>,
) -> Option<super::spec::ContainerSpec> {
    if spec.user.is_some() {
        return None;
    }
    let privileged = spec.root.is_some()
        || !spec.effective_namespaces().is_empty()
        || !spec.guard_namespaces().is_empty()
        || spec.share.is_some();
    if !privileged {
        return None;
    }
    let user = map?;
    Some(super::spec::ContainerSpec {
        user: Some(user),
        ..spec.clone()
    })
}

/// The lab's user namespace holder, when the lab runs as a user: a pause process in a
/// user namespace of its own, which every container and host probe of the lab then joins
/// with setns(2), as rootless Podman's pause process does. One namespace for all, so a
/// host probe may read a container's `/proc/PID/exe` and `maps` (cap_ptrace_access_check
/// lets a process in the same user namespace with a superset of the target's capabilities
/// do so; a sibling namespace may not).
static HOLDER: std::sync::Mutex<Option<Pid>> = std::sync::Mutex::new(None);

/// The trace of the holder's start, until a container's trace shows it
/// ([`take_holder_trace`]).
static HOLDER_TRACE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// The trace of the lab's holder start (its CLONE_NEWUSER, the maps the lab wrote), once:
/// the first step whose trace joins that namespace shows these lines first (lab::runner). Empty afterwards.
#[must_use]
pub fn take_holder_trace() -> Vec<String> {
    HOLDER_TRACE
        .lock()
        .map(|mut t| std::mem::take(&mut *t))
        .unwrap_or_default()
}

/// The lab's user namespace holder (host PID), started on first use; `None` outside a
/// lab (`fromscratch spawn` makes a namespace per container) or when it cannot start.
/// The holder is a child of this process: the lab's teardown kills it with the rest.
#[must_use]
pub fn lab_holder(map: &IdMap) -> Option<Pid> {
    super::spec::LAB_MARK.get()?;
    // Busy: this is the holder being started (spawn calls back here); it makes its own.
    let mut held = HOLDER.try_lock().ok()?;
    if let Some(pid) = *held {
        let alive = matches!(
            nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG)),
            Ok(nix::sys::wait::WaitStatus::StillAlive)
        );
        if alive {
            return Some(pid);
        }
        *held = None;
    }
    let spec = super::spec::ContainerSpec {
        init: true,
        user: Some(*map),
        ..Default::default()
    };
    let sp = super::spawn::spawn(&spec, super::spawn::Stdio::Null).ok()?;
    if sp.setup_failure.is_some() {
        super::spawn::kill_and_reap(sp.child);
        return None;
    }
    *held = Some(sp.child);
    let mut trace = vec![format!(
        "{:>7}  /* the lab's user namespace, held by PID {} for all its containers and probes */",
        "lab", sp.child
    )];
    trace.extend(sp.trace.iter().map(|l| match l.strip_prefix("  child  ") {
        Some(call) => format!(" holder  {call}"),
        None => l.clone(),
    }));
    if let Ok(mut t) = HOLDER_TRACE.lock() {
        *t = trace;
    }
    Some(sp.child)
}

/// A rule of user_namespaces(7) that makes an id-map write fail with EPERM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapRule {
    /// The writer is neither in the parent user namespace of the process nor holding
    /// CAP_SETUID/CAP_SETGID in its namespace (a process that has exec'd unmapped, or an
    /// unrelated one).
    WrongWriter,
    /// `gid_map` written by an unprivileged process before `deny` went to `setgroups`.
    SetgroupsFirst,
    /// A map that was written already: each map may be written once.
    WriteOnce,
    /// An unprivileged writer may map only its own effective uid (gid).
    UnownedId,
}

impl MapRule {
    /// Every rule, for tests and lookups.
    pub const ALL: [Self; 4] = [
        Self::WrongWriter,
        Self::SetgroupsFirst,
        Self::WriteOnce,
        Self::UnownedId,
    ];

    /// The tag carried as the failing call's name in a setup failure.
    #[must_use]
    pub fn tag(self) -> &'static str {
        match self {
            Self::WrongWriter => "id_map:wrong-writer",
            Self::SetgroupsFirst => "id_map:setgroups-first",
            Self::WriteOnce => "id_map:write-once",
            Self::UnownedId => "id_map:unowned-id",
        }
    }

    /// The rule for a tag made by [`MapRule::tag`].
    #[must_use]
    pub fn from_tag(tag: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.tag() == tag)
    }

    /// One sentence: the write refused, the rule broken, the fix (user_namespaces(7)).
    #[must_use]
    pub fn sentence(self) -> &'static str {
        match self {
            Self::WrongWriter => {
                "writing an id map was refused with EPERM: the map was written from the wrong process — only a process in the parent user namespace (or one holding CAP_SETUID/CAP_SETGID inside the new one, which a process loses once it has exec'd unmapped) may write /proc/PID/uid_map and gid_map, so the parent writes them while the child waits (user_namespaces(7))"
            }
            Self::SetgroupsFirst => {
                "writing gid_map was refused with EPERM: an unprivileged process must first write \"deny\" to /proc/PID/setgroups (since Linux 3.19), so write uid_map, then setgroups, then gid_map (user_namespaces(7))"
            }
            Self::WriteOnce => {
                "writing an id map was refused with EPERM: each of uid_map and gid_map may be written only once, and this one was written already; start a new user namespace to change it (user_namespaces(7))"
            }
            Self::UnownedId => {
                "writing an id map was refused with EPERM: an unprivileged process may map only its own effective uid (gid), one id, so map \"0 UID 1\" with your own id, or run as root to map a range from /etc/subuid (user_namespaces(7))"
            }
        }
    }
}

/// Which map file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MapFile {
    Uid,
    Gid,
}

/// What the writer of the maps is, for naming a broken rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer {
    /// Effective uid of the writer, in its own user namespace.
    pub euid: u32,
    /// Effective gid of the writer.
    pub egid: u32,
    /// Holds CAP_SETUID and CAP_SETGID in the parent user namespace (root on the host).
    pub privileged: bool,
    /// In the parent user namespace of the target (not inside the target's namespace,
    /// nor an unrelated one).
    pub in_parent_ns: bool,
}

impl Writer {
    /// The calling process as writer for `target`: in the parent namespace when its
    /// `/proc/self/ns/user` differs from the target's (the lab never joins a
    /// container's user namespace, so different means parent).
    #[must_use]
    pub fn this_process(target: Pid) -> Self {
        let ino = |p: &str| std::fs::metadata(p).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
        let ours = ino("/proc/self/ns/user");
        let theirs = ino(&format!("/proc/{target}/ns/user"));
        let euid = nix::unistd::geteuid();
        Self {
            euid: euid.as_raw(),
            egid: nix::unistd::getegid().as_raw(),
            privileged: euid.is_root(),
            in_parent_ns: match (ours, theirs) {
                (Ok(a), Ok(b)) => a != b,
                _ => true,
            },
        }
    }
}

/// Writes the id maps of one process, in the order the kernel requires, and names the
/// rule broken when a write is refused. Every write is a traced [`Syscalls::write_file`].
#[derive(Debug)]
pub struct MapWriter {
    target: Pid,
    writer: Writer,
    uid_written: bool,
    gid_written: bool,
    setgroups_denied: bool,
}

impl MapWriter {
    /// A writer of `target`'s maps (a host PID).
    #[must_use]
    pub fn new(target: Pid, writer: Writer) -> Self {
        Self {
            target,
            writer,
            uid_written: false,
            gid_written: false,
            setgroups_denied: false,
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/{file}", self.target))
    }

    /// Write `/proc/PID/uid_map`.
    ///
    /// # Errors
    /// The kernel's errno; EPERM carries the tag of the rule broken ([`MapRule`]).
    pub fn write_uid_map(&mut self, sys: &dyn Syscalls, map: &IdMap) -> SetupResult {
        let r = sys.write_file(&self.path("uid_map"), &map.uid_line());
        let r = r.map_err(|e| self.diagnose(MapFile::Uid, map, e));
        self.uid_written = true;
        r
    }

    /// Write `deny` to `/proc/PID/setgroups`, so setgroups(2) is refused inside and an
    /// unprivileged writer may write `gid_map`.
    ///
    /// # Errors
    /// `("write", errno)`.
    pub fn deny_setgroups(&mut self, sys: &dyn Syscalls) -> SetupResult {
        sys.write_file(&self.path("setgroups"), "deny")
            .map_err(|e| ("write", e))?;
        self.setgroups_denied = true;
        Ok(())
    }

    /// Write `/proc/PID/gid_map`.
    ///
    /// # Errors
    /// The kernel's errno; EPERM carries the tag of the rule broken ([`MapRule`]).
    pub fn write_gid_map(&mut self, sys: &dyn Syscalls, map: &IdMap) -> SetupResult {
        let r = sys.write_file(&self.path("gid_map"), &map.gid_line());
        let r = r.map_err(|e| self.diagnose(MapFile::Gid, map, e));
        self.gid_written = true;
        r
    }

    /// The rule broken, checked in the order the kernel checks them (map_write() in
    /// kernel/user_namespace.c: once, then the writer's place, then setgroups, then the
    /// ids).
    fn diagnose(&self, file: MapFile, map: &IdMap, e: Errno) -> (&'static str, Errno) {
        if e != Errno::EPERM {
            return ("write", e);
        }
        let w = &self.writer;
        let written = match file {
            MapFile::Uid => self.uid_written,
            MapFile::Gid => self.gid_written,
        };
        let rule = if written {
            MapRule::WriteOnce
        } else if !w.in_parent_ns {
            MapRule::WrongWriter
        } else if file == MapFile::Gid && !self.setgroups_denied && !w.privileged {
            MapRule::SetgroupsFirst
        } else if !w.privileged
            && match file {
                MapFile::Uid => map.uid != w.euid,
                MapFile::Gid => map.gid != w.egid,
            }
        {
            MapRule::UnownedId
        } else {
            return ("write", e);
        };
        (rule.tag(), e)
    }
}

/// The parent's part: write `target`'s uid_map, `deny` to setgroups, then gid_map.
///
/// # Errors
/// The first refused write, tagged with the rule broken.
pub fn write_id_maps(sys: &dyn Syscalls, target: Pid, writer: Writer, map: &IdMap) -> SetupResult {
    let mut w = MapWriter::new(target, writer);
    w.write_uid_map(sys, map)?;
    w.deny_setgroups(sys)?;
    w.write_gid_map(sys, map)
}

/// The child's part: unshare `CLONE_NEWUSER` alone, then `sync` (tell the parent, wait
/// until it has written the maps) before anything else.
///
/// # Errors
/// `(USERNS_TAG, errno)`: EPERM or ENOSPC when user namespaces are refused or used up
/// (`/proc/sys/user/max_user_namespaces`, `kernel.unprivileged_userns_clone`, an
/// AppArmor rule); or the parent's failure from `sync`.
pub fn enter_user_namespace(
    sys: &dyn Syscalls,
    sync: &mut dyn FnMut() -> SetupResult,
) -> SetupResult {
    sys.unshare(CloneFlags::CLONE_NEWUSER)
        .map_err(|e| (USERNS_TAG, e))?;
    sync()
}

/// The user namespace of `pid` (`/proc/PID/ns/user`, opened `O_RDONLY|O_CLOEXEC`) when
/// this process is not root and that namespace is not its own: what a forked child must
/// join with setns(2) before it may join any other namespace of `pid`, since setns asks
/// CAP_SYS_ADMIN in the user namespace that owns the target (setns(2),
/// user_namespaces(7)). `None` as root, in the same user namespace, or when `pid` is gone.
#[must_use]
pub fn foreign_user_namespace(pid: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::unix::fs::MetadataExt;
    if nix::unistd::geteuid().is_root() {
        return None;
    }
    let theirs = format!("/proc/{pid}/ns/user");
    let ino = |p: &str| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let t = ino(&theirs)?;
    if ino("/proc/self/ns/user") == Some(t) {
        return None;
    }
    nix::fcntl::open(
        theirs.as_str(),
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()
}

/// Sub-mounts under the host's `/proc` (from `/proc/self/mountinfo`): with any of them,
/// the kernel refuses a new procfs in a user namespace (mount_namespaces(7) on locked
/// mounts; proc(5)), because the new one would show what they mask.
#[must_use]
pub fn proc_submounts() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|p| p.starts_with("/proc/"))
        .map(String::from)
        .collect()
}

/// The tag of a refused unshare(CLONE_NEWUSER) (U1: the checks to make, in order).
pub const USERNS_TAG: &str = "unshare:user";

/// The tag of a procfs mount refused in a user namespace because the outer /proc has
/// sub-mounts.
pub const PROC_MASKED_TAG: &str = "mount:proc-masked";

/// Whether `spec`'s container has a PID namespace other than the host's: one of its own,
/// or a shared one's (`share`). Only then may a user namespace mount a procfs.
#[must_use]
pub fn owns_pid_namespace(spec: &super::spec::ContainerSpec) -> bool {
    spec.effective_namespaces().pid || spec.share.is_some_and(|s| s.namespaces.pid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::error::explain_setup_failure;
    use crate::runtime::syscalls::RecordingSyscalls;

    const MAP: IdMap = IdMap {
        uid: 1000,
        gid: 1000,
    };
    const LAB: Writer = Writer {
        euid: 1000,
        egid: 1000,
        privileged: false,
        in_parent_ns: true,
    };

    #[test]
    fn the_parent_writes_uid_map_then_denies_setgroups_then_gid_map() {
        let rec = RecordingSyscalls::new();
        write_id_maps(&rec, Pid::from_raw(42), LAB, &MAP).unwrap();
        assert_eq!(
            rec.lines(),
            vec![
                "write(\"/proc/42/uid_map\", \"0 1000 1\\n\") = 0",
                "write(\"/proc/42/setgroups\", \"deny\") = 0",
                "write(\"/proc/42/gid_map\", \"0 1000 1\\n\") = 0",
            ]
        );
    }

    #[test]
    fn the_child_unshares_the_user_namespace_alone_and_waits_before_anything_else() {
        let rec = RecordingSyscalls::new();
        let spec = crate::runtime::spec::ContainerSpec {
            root: Some("/r".into()),
            namespaces: crate::runtime::spec::Namespaces {
                pid: true,
                uts: true,
                ..Default::default()
            },
            mount_proc: true,
            user: Some(MAP),
            command: vec!["sh".into()],
            ..Default::default()
        };
        // The parent's writes happen while the child waits: the same recorder shows the
        // order the trace shows.
        enter_user_namespace(&rec, &mut || {
            write_id_maps(&rec, Pid::from_raw(42), LAB, &MAP)
        })
        .unwrap();
        crate::runtime::spawn::enter_namespaces(&rec, &spec).unwrap();
        let lines = rec.lines();
        assert_eq!(lines[0], "unshare(CLONE_NEWUSER) = 0");
        assert!(lines[1].contains("uid_map"), "{lines:?}");
        assert!(lines[2].contains("setgroups"), "{lines:?}");
        assert!(lines[3].contains("gid_map"), "{lines:?}");
        assert_eq!(lines[4], "prctl(PR_SET_PDEATHSIG, SIGKILL) = 0");
        assert_eq!(
            lines[5],
            "unshare(CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWPID) = 0"
        );
        // A refused CLONE_NEWUSER stops everything: the parent is never asked.
        let rec = RecordingSyscalls::new();
        rec.fail_on("unshare", Errno::EPERM);
        let mut asked = false;
        let err = enter_user_namespace(&rec, &mut || {
            asked = true;
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err, (USERNS_TAG, Errno::EPERM));
        assert!(!asked);
        assert!(
            sentence(USERNS_TAG).contains("check in order: run as root"),
            "{}",
            sentence(USERNS_TAG)
        );
    }

    fn sentence(tag: &str) -> String {
        explain_setup_failure(tag, Errno::EPERM, None)
    }

    #[test]
    fn a_map_written_from_the_wrong_process_names_that_rule() {
        let rec = RecordingSyscalls::new();
        rec.fail_on("uid_map", Errno::EPERM);
        let inside = Writer {
            in_parent_ns: false,
            ..LAB
        };
        let err = write_id_maps(&rec, Pid::from_raw(42), inside, &MAP).unwrap_err();
        assert_eq!(err, (MapRule::WrongWriter.tag(), Errno::EPERM));
        assert!(sentence(err.0).contains("written from the wrong process"));
        assert_eq!(rec.names(), vec!["write"], "nothing after a refused map");
    }

    #[test]
    fn gid_map_before_setgroups_deny_names_that_rule() {
        let rec = RecordingSyscalls::new();
        rec.fail_on("gid_map", Errno::EPERM);
        let mut w = MapWriter::new(Pid::from_raw(42), LAB);
        w.write_uid_map(&rec, &MAP).unwrap();
        let err = w.write_gid_map(&rec, &MAP).unwrap_err();
        assert_eq!(err, (MapRule::SetgroupsFirst.tag(), Errno::EPERM));
        assert!(sentence(err.0).contains("must first write \"deny\" to /proc/PID/setgroups"));
        // Root may write gid_map first: the same EPERM is then not this rule.
        let rec = RecordingSyscalls::new();
        rec.fail_on("gid_map", Errno::EPERM);
        let root = Writer {
            privileged: true,
            euid: 0,
            egid: 0,
            ..LAB
        };
        let err = MapWriter::new(Pid::from_raw(42), root)
            .write_gid_map(&rec, &MAP)
            .unwrap_err();
        assert_eq!(err, ("write", Errno::EPERM));
    }

    #[test]
    fn a_second_write_names_the_write_once_rule() {
        let rec = RecordingSyscalls::new();
        let mut w = MapWriter::new(Pid::from_raw(42), LAB);
        w.write_uid_map(&rec, &MAP).unwrap();
        rec.fail_on("uid_map", Errno::EPERM);
        let err = w.write_uid_map(&rec, &MAP).unwrap_err();
        assert_eq!(err, (MapRule::WriteOnce.tag(), Errno::EPERM));
        assert!(sentence(err.0).contains("may be written only once"));
    }

    #[test]
    fn an_unowned_uid_names_that_rule() {
        let rec = RecordingSyscalls::new();
        rec.fail_on("uid_map", Errno::EPERM);
        let other = IdMap { uid: 0, gid: 1000 };
        let err = write_id_maps(&rec, Pid::from_raw(42), LAB, &other).unwrap_err();
        assert_eq!(err, (MapRule::UnownedId.tag(), Errno::EPERM));
        assert!(sentence(err.0).contains("may map only its own effective uid"));
        assert_eq!(
            rec.lines()[0],
            "write(\"/proc/42/uid_map\", \"0 0 1\\n\") = -1 EPERM (Operation not permitted)"
        );
    }

    #[test]
    fn only_a_user_s_privileged_container_gets_a_user_namespace() {
        use crate::runtime::spec::ContainerSpec;
        let chroot = ContainerSpec {
            root: Some("/r".into()),
            command: vec!["ls".into()],
            ..Default::default()
        };
        assert_eq!(
            rootless_spec_with(&chroot, Some(MAP)).unwrap().user,
            Some(MAP)
        );
        // Root: nothing changes.
        assert!(rootless_spec_with(&chroot, None).is_none());
        // A plain host process sees the host as it is.
        let host = ContainerSpec {
            command: vec!["ps".into()],
            guard: true,
            ..Default::default()
        };
        assert!(rootless_spec_with(&host, Some(MAP)).is_none());
        // Maps given already are kept.
        let other = IdMap { uid: 7, gid: 7 };
        let given = ContainerSpec {
            user: Some(other),
            ..chroot
        };
        assert!(rootless_spec_with(&given, Some(MAP)).is_none());
    }

    #[test]
    fn without_a_pid_namespace_a_user_binds_the_host_s_proc_before_the_chroot() {
        use crate::runtime::spec::{ContainerSpec, Namespaces};
        let spec = ContainerSpec {
            root: Some("/r".into()),
            mount_proc: true,
            user: Some(MAP),
            command: vec!["ps".into()],
            ..Default::default()
        };
        let rec = RecordingSyscalls::new();
        crate::runtime::spawn::prepare_root(&rec, &spec).unwrap();
        let calls = rec.lines();
        let bind = calls
            .iter()
            .position(|c| c.starts_with("mount(\"/proc\", \"/r/proc\", NULL, MS_BIND|MS_REC"))
            .unwrap_or_else(|| panic!("no bind of /proc in {calls:?}"));
        let chroot = calls
            .iter()
            .position(|c| c.starts_with("chroot(\"/r\")"))
            .unwrap();
        assert!(bind < chroot, "{calls:?}");
        assert!(!calls.iter().any(|c| c.contains("\"proc\"")), "{calls:?}");
        // With a PID namespace of its own, a new procfs, after the chroot; refused, it is
        // the outer /proc's sub-mounts that are named.
        let with_pid = ContainerSpec {
            namespaces: Namespaces {
                pid: true,
                ..Default::default()
            },
            ..spec.clone()
        };
        let rec = RecordingSyscalls::new();
        crate::runtime::spawn::prepare_root(&rec, &with_pid).unwrap();
        let calls = rec.lines();
        // (The root itself is bound onto itself, pitfall C2; the host's /proc is not.)
        assert!(
            !calls.iter().any(|c| c.starts_with("mount(\"/proc\"")),
            "{calls:?}"
        );
        let chroot = calls.iter().position(|c| c.starts_with("chroot(")).unwrap();
        let proc = calls
            .iter()
            .position(|c| c.starts_with("mount(\"proc\", \"/proc\", \"proc\""))
            .unwrap();
        assert!(chroot < proc, "{calls:?}");
        let rec = RecordingSyscalls::new();
        rec.fail_on("\"proc\"", Errno::EPERM);
        let err = crate::runtime::spawn::prepare_root(&rec, &with_pid).unwrap_err();
        assert_eq!(err, (PROC_MASKED_TAG, Errno::EPERM));
        // Root (no maps): a new procfs, and a refusal has the plain call name.
        let root = ContainerSpec { user: None, ..spec };
        let rec = RecordingSyscalls::new();
        rec.fail_on("\"proc\"", Errno::EPERM);
        let err = crate::runtime::spawn::prepare_root(&rec, &root).unwrap_err();
        assert_eq!(err, ("mount", Errno::EPERM));
    }

    #[test]
    fn every_rule_round_trips_through_its_tag_and_has_a_sentence() {
        for r in MapRule::ALL {
            assert_eq!(MapRule::from_tag(r.tag()), Some(r));
            assert_eq!(sentence(r.tag()), r.sentence());
        }
        assert!(sentence(PROC_MASKED_TAG).contains("/proc"));
        // Other errors are not dressed up as a rule.
        let rec = RecordingSyscalls::new();
        rec.fail_on("uid_map", Errno::ENOENT);
        let err = write_id_maps(&rec, Pid::from_raw(42), LAB, &MAP).unwrap_err();
        assert_eq!(err, ("write", Errno::ENOENT));
    }
}
