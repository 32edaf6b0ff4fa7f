//! Looking at the processes a learner started: what a challenge's `process` condition
//! checks, read from /proc (proc(5)) with the `procfs` crate.
//!
//! A learner's processes are the challenge shell and everything it started: its
//! descendants (by parent PID) and every process carrying the shell's session mark in
//! its environment (which survives `unshare --fork`, `chroot` and re-parenting to the
//! lab, the subreaper). Nothing here signals or changes a process; it only reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::unistd::Pid;
use procfs::process::Process;

use crate::lesson::ProcessMatch;
use crate::observe::Verdict;

/// The environment variable that marks a challenge shell and its descendants; its
/// value is unique to one shell session.
pub const SESSION_VAR: &str = "FROMSCRATCH_SHELL";

/// What the lab reads about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    /// Host PID.
    pub pid: i32,
    /// Parent's host PID.
    pub ppid: i32,
    /// /proc/PID/comm: the executable's name, at most 15 bytes.
    pub comm: String,
    /// Scheduler state from /proc/PID/stat: `R` running, `S` sleeping, `D` disk, `Z`…
    pub state: char,
    /// /proc/PID/root, as the lab sees it; `None` when unreadable.
    pub root: Option<PathBuf>,
    /// PID in its own (innermost) PID namespace: the last number of `NSpid`.
    pub pid_in_ns: Option<u32>,
    /// Namespace identity (`pid:[4026531836]`) by name (`pid`, `mnt`…), from /proc/PID/ns.
    pub namespaces: BTreeMap<String, u64>,
    /// The signals it has a handler for: the `SigCgt` mask of /proc/PID/status, bit
    /// N-1 for signal N.
    pub caught: u64,
    /// What the /proc inside its root shows.
    pub proc_view: ProcView,
}

/// What is mounted on /proc inside a process's root, as seen through /proc/PID/root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcView {
    /// No procfs there (an empty directory, or something else mounted).
    Nothing,
    /// A procfs of the process's own PID namespace: it lists the process under its
    /// in-namespace PID, with the same start time.
    Own,
    /// A procfs of another PID namespace (the host's, seen from a new namespace).
    Other,
}

/// Read what /proc inside `pid`'s root shows: statfs(2) says whether a procfs is
/// mounted there (PROC_SUPER_MAGIC); the process's own entry in it, found by its
/// in-namespace PID and compared by start time (field 22 of stat), says whose. Only
/// world-readable files are read (a ns link of PID 1 may be closed to us).
fn proc_view(pid: i32, pid_in_ns: Option<u32>, starttime: u64) -> ProcView {
    let dir = PathBuf::from(format!("/proc/{pid}/root/proc"));
    let is_proc = nix::sys::statfs::statfs(&dir)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC);
    if !is_proc {
        return ProcView::Nothing;
    }
    let same = pid_in_ns
        .and_then(|n| i32::try_from(n).ok())
        .and_then(|n| Process::new_with_root(dir.join(n.to_string())).ok())
        .and_then(|p| p.stat().ok())
        .is_some_and(|st| st.starttime == starttime);
    if same { ProcView::Own } else { ProcView::Other }
}

fn ns_inode(link: &Path) -> Option<u64> {
    // "pid:[4026531836]"
    let target = std::fs::read_link(link).ok()?;
    let s = target.to_string_lossy();
    s.split_once(":[")?.1.trim_end_matches(']').parse().ok()
}

/// `PF_EXITING` in the flags field of /proc/PID/stat (include/linux/sched.h): the task
/// is inside exit(2). From then on its root and cwd can vanish (exit_fs) while its
/// namespaces are still readable, so a half-exited shell would look like one whose
/// root is unreadable.
const PF_EXITING: u32 = 0x0000_0004;

/// Read one process; `None` when it has gone, is exiting (`PF_EXITING`: its root may
/// already be released), or was never there.
#[must_use]
pub fn read(pid: i32) -> Option<ProcInfo> {
    let p = Process::new(pid).ok()?;
    let stat = p.stat().ok()?;
    if stat.flags & PF_EXITING != 0 {
        return None;
    }
    let root = p.root().ok();
    if root.is_none() && p.stat().map_or(true, |s| s.flags & PF_EXITING != 0) {
        // It began to exit after the first look: its root went with it (exit_fs runs
        // after PF_EXITING is set), which says nothing about where it lived.
        return None;
    }
    let status = p.status().ok();
    let caught = status.as_ref().map_or(0, |s| s.sigcgt);
    let mut namespaces = BTreeMap::new();
    for n in crate::lesson::NAMESPACE_NAMES {
        if let Some(i) = ns_inode(&PathBuf::from(format!("/proc/{pid}/ns/{n}"))) {
            namespaces.insert((*n).to_string(), i);
        }
    }
    let pid_in_ns = status
        .and_then(|s| s.nspid)
        .and_then(|v| v.last().copied())
        .and_then(|n| u32::try_from(n).ok());
    Some(ProcInfo {
        pid,
        ppid: stat.ppid,
        comm: stat.comm.clone(),
        state: stat.state,
        root,
        pid_in_ns,
        namespaces,
        caught,
        proc_view: proc_view(pid, pid_in_ns, stat.starttime),
    })
}

/// The hostname `pid` sees: the nodename uname(2) returns in its UTS namespace
/// (uts_namespaces(7)). It is kernel state that no file under /proc shows, so the lab
/// reads it the way `nsenter --target PID --uts hostname` would, without running a
/// program: it opens `/proc/PID/ns/uts`, forks, and the child joins that namespace with
/// setns(2), calls uname(2) and writes the name to a pipe ([`read_in_namespace`]). The
/// lab itself never changes namespace. `None` when the process is gone or its namespace
/// cannot be joined.
#[must_use]
pub fn hostname_of(pid: i32) -> Option<String> {
    let bytes = read_in_namespace(pid, "uts", CloneFlags::CLONE_NEWUTS, |buf| {
        let u = nix::sys::utsname::uname().ok()?;
        let name = u.nodename().as_encoded_bytes();
        let dst = buf.get_mut(..name.len())?;
        dst.copy_from_slice(name);
        Some(name.len())
    })?;
    (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned())
}

/// The most bytes a [`read_in_namespace`] probe may hand back (a nodename is at most
/// 65 with its NUL, utsname(2); a (device, inode) pair is 16).
const PROBE_MAX: usize = 72;

/// Run `probe` in a forked child that has joined `pid`'s namespace `name`
/// (`/proc/PID/ns/NAME`, opened here) with setns(2), and return the bytes it put in its
/// buffer. The lab itself never changes namespace. `None` when the process is gone, its
/// namespace cannot be joined, or the probe fails.
///
/// Between fork and `_exit` the child makes only raw system calls (prctl, setns, the
/// probe's own, write) into a buffer on its stack: nothing that allocates or locks, so
/// this is sound even when the caller has threads (the unit-test harness does). The
/// child dies with the lab (`PR_SET_PDEATHSIG`) and is reaped before this returns; the
/// parent reads to EOF, which comes when the child has exited (killing it earlier could
/// end it before its `_exit(0)`).
fn read_in_namespace(
    pid: i32,
    name: &str,
    flag: CloneFlags,
    probe: fn(&mut [u8]) -> Option<usize>,
) -> Option<Vec<u8>> {
    read_in_namespace_upto(pid, name, flag, PROBE_MAX, &probe)
}

/// [`read_in_namespace`] with room for up to `max` bytes, and a probe that may borrow
/// what the caller prepared (a request built before the fork): the buffer is allocated
/// here, before the fork, so the child still makes only raw system calls. As there,
/// `None` when the process is gone, its namespace cannot be joined, or the probe fails.
pub(crate) fn read_in_namespace_upto(
    pid: i32,
    name: &str,
    flag: CloneFlags,
    max: usize,
    probe: &dyn Fn(&mut [u8]) -> Option<usize>,
) -> Option<Vec<u8>> {
    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::Mode;
    use std::os::fd::AsFd;
    let ns = open(
        format!("/proc/{pid}/ns/{name}").as_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    // As a user, the namespace belongs to the lab's user namespace, where this process
    // (outside it) has no capability: setns(2) asks CAP_SYS_ADMIN in the user namespace
    // that owns the target. Joining that user namespace first gives it (its creator's
    // uid holds every capability there, user_namespaces(7)). Root needs no such step.
    let user = crate::runtime::userns::foreign_user_namespace(pid);
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).ok()?;
    let mut child_buf = vec![0u8; max];
    let mut buf = vec![0u8; max + 1];
    // SAFETY: the child runs only async-signal-safe system calls, then _exit.
    #[allow(unsafe_code)]
    let forked = unsafe { nix::unistd::fork() }.ok()?;
    match forked {
        nix::unistd::ForkResult::Child => {
            let ok = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).is_ok()
                && user.as_ref().is_none_or(|u| {
                    nix::sched::setns(u.as_fd(), CloneFlags::CLONE_NEWUSER).is_ok()
                })
                && nix::sched::setns(ns.as_fd(), flag).is_ok();
            let code = match ok.then(|| probe(&mut child_buf)).flatten() {
                Some(n) => i32::from(write_all(&w, &child_buf[..n.min(max)]).is_err()),
                None => 1,
            };
            // SAFETY: _exit skips the atexit handlers and buffers that belong to the parent.
            #[allow(unsafe_code)]
            unsafe {
                libc::_exit(code)
            }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            drop(ns);
            drop(user);
            drop(child_buf);
            let mut got = 0;
            while got < buf.len() {
                let mut pfd = [nix::poll::PollFd::new(
                    r.as_fd(),
                    nix::poll::PollFlags::POLLIN,
                )];
                match nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(2000u16)) {
                    Ok(0) => break, // never: the probes do not block; give up rather than hang
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => break,
                    Ok(_) => {}
                }
                match nix::unistd::read(&r, &mut buf[got..]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
            }
            let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
            let status = loop {
                match nix::sys::wait::waitpid(child, None) {
                    Err(nix::errno::Errno::EINTR) => {}
                    other => break other,
                }
            };
            let exited_ok = matches!(status, Ok(nix::sys::wait::WaitStatus::Exited(_, 0)));
            buf.truncate(got);
            (exited_ok && got <= max).then_some(buf)
        }
    }
}

/// write(2) all of `bytes` to `fd` (a pipe takes at most its capacity at a time).
fn write_all(fd: &impl std::os::fd::AsFd, mut bytes: &[u8]) -> nix::Result<()> {
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(0) => return Err(nix::errno::Errno::EIO),
            Ok(n) => bytes = &bytes[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The namespaces of the calling process (the lab), by name.
#[must_use]
pub fn own_namespaces() -> BTreeMap<String, u64> {
    read(nix::unistd::getpid().as_raw())
        .map(|p| p.namespaces)
        .unwrap_or_default()
}

fn session_mark(pid: i32) -> Option<String> {
    let env = Process::new(pid).and_then(|p| p.environ()).ok()?;
    env.get(std::ffi::OsStr::new(SESSION_VAR))
        .map(|v| v.to_string_lossy().into_owned())
}

fn has_mark(pid: i32, mark: &str) -> bool {
    session_mark(pid).is_some_and(|m| m == mark)
}

/// Every live process whose session mark starts with `prefix` (all the challenge
/// shells of one lab, and what they started).
#[must_use]
pub fn marked(prefix: &str) -> Vec<ProcInfo> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.filter_map(Result::ok)
        .map(|p| p.pid)
        .filter(|pid| session_mark(*pid).is_some_and(|m| m.starts_with(prefix)))
        .filter_map(read)
        .filter(|p| p.state != 'Z' && p.state != 'X')
        .collect()
}

/// The shell `shell` (when given: only while it is the caller's unreaped child, or its
/// PID could name a stranger) and every process it started, alive now: its descendants,
/// and every process whose environment carries `SESSION_VAR=mark`. Zombies are left
/// out.
#[must_use]
pub fn session(shell: Option<Pid>, mark: &str) -> Vec<ProcInfo> {
    members(shell, mark)
        .into_iter()
        .filter_map(|(pid, _)| read(pid))
        .filter(|p| p.state != 'Z' && p.state != 'X')
        .collect()
}

/// As [`session`], but only each member's PID and scheduler state. The session is walked
/// as a tree, from the shell and from the lab's own children that carry the mark
/// (orphans re-parented to the lab, its subreaper), through
/// /proc/PID/task/TID/children (proc(5)): the cost grows with the session, not with the
/// number of processes on the machine, so it is cheap enough to poll.
#[must_use]
pub fn members(shell: Option<Pid>, mark: &str) -> Vec<(i32, char)> {
    let mut queue: Vec<i32> = shell.map(Pid::as_raw).into_iter().collect();
    let me = nix::unistd::getpid().as_raw();
    MARKS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() > 8192 {
            cache.clear();
        }
        for c in children_of(me) {
            let Some(start) = stat_of(c).map(|(_, _, start)| start) else {
                continue;
            };
            let marked = *cache
                .entry((c, start, mark.to_string()))
                .or_insert_with(|| has_mark(c, mark));
            if marked {
                queue.push(c);
            }
        }
    });
    let mut seen = std::collections::BTreeSet::new();
    while let Some(p) = queue.pop() {
        if seen.insert(p) {
            queue.extend(children_of(p));
        }
    }
    seen.into_iter()
        .filter_map(|p| stat_of(p).map(|(_, state, _)| (p, state)))
        .filter(|(_, state)| !matches!(state, 'Z' | 'X'))
        .collect()
}

/// The children of every thread of `pid` (/proc/PID/task/TID/children).
fn children_of(pid: i32) -> Vec<i32> {
    let mut v = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return v;
    };
    for t in tasks.flatten() {
        if let Ok(list) = std::fs::read_to_string(t.path().join("children")) {
            v.extend(
                list.split_whitespace()
                    .filter_map(|s| s.parse::<i32>().ok()),
            );
        }
    }
    v
}

/// (parent PID, state, start time) from /proc/PID/stat.
fn stat_of(pid: i32) -> Option<(i32, char, u64)> {
    let s = Process::new(pid).ok()?.stat().ok()?;
    Some((s.ppid, s.state, s.starttime))
}

thread_local! {
    /// Whether (PID, start time) carries a session mark, by mark: see [`session`].
    static MARKS: std::cell::RefCell<std::collections::HashMap<(i32, u64, String), bool>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// True when every process of the session is asleep or stopped (waiting for input, a
/// child or a timer): nothing is still starting up or working.
#[must_use]
pub fn is_idle(procs: &[ProcInfo]) -> bool {
    procs.iter().all(|p| idle_state(p.state))
}

/// True for the states of a process that waits: asleep (`S`), stopped (`T`, `t`) or
/// idle (`I`).
#[must_use]
pub fn idle_state(state: char) -> bool {
    matches!(state, 'S' | 'T' | 't' | 'I')
}

/// `m` with its templates expanded: the root as a path.
#[derive(Debug, Clone)]
pub struct Wanted<'a> {
    /// The condition.
    pub m: &'a ProcessMatch,
    /// Its `root`, expanded and canonicalized.
    pub root: Option<PathBuf>,
    /// Its `same_namespaces_as`, expanded: the PID, and that process's namespaces
    /// (`None` when it is gone or the template named no PID).
    pub ns_of: Option<(String, Option<BTreeMap<String, u64>>)>,
    /// Its `shares_namespaces_with`, expanded: the container's name, its first process's
    /// PID, and that process's namespaces (`None` when it is gone).
    pub shares_with: Option<SharesWith>,
}

/// A `shares_namespaces_with` condition, read now: (container name, its host PID as the
/// template gave it, that process's namespaces by name if it is running).
pub type SharesWith = (String, String, Option<BTreeMap<String, u64>>);

fn namespaces_of(pid: &str) -> Option<BTreeMap<String, u64>> {
    pid.trim()
        .parse::<i32>()
        .ok()
        .and_then(read)
        .filter(|p| p.state != 'Z' && p.state != 'X')
        .map(|p| p.namespaces)
}

impl<'a> Wanted<'a> {
    /// `m` with `root` and `same_namespaces_as` expanded by `expand` and read now.
    #[must_use]
    pub fn new(m: &'a ProcessMatch, expand: &dyn Fn(&str) -> String) -> Self {
        let ns_of = m.same_namespaces_as.as_ref().map(|t| {
            let pid = expand(t);
            let theirs = pid
                .trim()
                .parse::<i32>()
                .ok()
                .and_then(read)
                .filter(|p| p.state != 'Z' && p.state != 'X')
                .map(|p| p.namespaces);
            (pid, theirs)
        });
        let shares_with = m.shares_namespaces_with.as_ref().map(|sh| {
            let pid = expand(&format!("{{container.{}}}", sh.container));
            let theirs = namespaces_of(&pid);
            (sh.container.clone(), pid, theirs)
        });
        Self {
            m,
            root: m.root.as_ref().map(|r| PathBuf::from(expand(r))),
            ns_of,
            shares_with,
        }
    }
}

/// The number of a signal named as in signal(7) (`SIGTERM`), if it is one.
#[must_use]
pub fn signal_number(name: &str) -> Option<i32> {
    name.parse::<nix::sys::signal::Signal>()
        .ok()
        .map(|s| s as i32)
}

fn same_path(a: &Path, b: &Path) -> bool {
    let ca = a.canonicalize().unwrap_or_else(|_| a.to_path_buf());
    let cb = b.canonicalize().unwrap_or_else(|_| b.to_path_buf());
    ca == cb
}

/// Each property of `w` checked on `p`: (what, held), in the file's order.
#[must_use]
pub fn properties(w: &Wanted<'_>, p: &ProcInfo, lab_ns: &BTreeMap<String, u64>) -> Vec<Verdict> {
    let m = w.m;
    let mut v = Vec::new();
    if !m.comm.is_empty() {
        v.push(Verdict {
            ok: m.comm.contains(&p.comm),
            what: format!("is {} (it is {})", or_list(&m.comm), p.comm),
        });
    }
    if let Some(root) = &w.root {
        let got = p.root.as_ref();
        // After pivot_root the link reads `/` (the path in the process's own mount
        // namespace); the directory is still the same one: compare device and inode.
        let by_path = got.is_some_and(|g| same_path(g, root));
        let by_id = !by_path && same_dir(&PathBuf::from(format!("/proc/{}/root", p.pid)), root);
        v.push(Verdict {
            ok: by_path || by_id,
            what: format!(
                "has its root in {} (its root is {}{})",
                root.display(),
                got.map_or_else(|| "unreadable".to_string(), |g| g.display().to_string()),
                if by_id {
                    " in its own mount namespace: the same directory"
                } else {
                    ""
                }
            ),
        });
    }
    if let Some(n) = m.pid_in_ns {
        v.push(Verdict {
            ok: p.pid_in_ns == Some(n),
            what: format!(
                "is PID {n} in its PID namespace (it is {})",
                p.pid_in_ns
                    .map_or_else(|| "unknown".to_string(), |x| x.to_string())
            ),
        });
    }
    for n in &m.new_namespaces {
        let own = p.namespaces.get(n);
        let ok = own.is_some() && own != lab_ns.get(n);
        v.push(Verdict {
            ok,
            what: if ok {
                format!("has a {n} namespace of its own")
            } else {
                format!("has a {n} namespace of its own (it shares the lab's)")
            },
        });
    }
    if let Some((target, theirs)) = &w.ns_of {
        match theirs {
            None => v.push(Verdict {
                ok: false,
                what: format!("shares the namespaces of PID {target} (no such process is running)"),
            }),
            Some(theirs) => {
                let own: Vec<(&str, u64)> = crate::lesson::NAMESPACE_NAMES
                    .iter()
                    .filter_map(|n| theirs.get(*n).map(|id| (*n, *id)))
                    .filter(|(n, id)| lab_ns.get(*n) != Some(id))
                    .collect();
                if own.is_empty() {
                    v.push(Verdict {
                        ok: false,
                        what: format!(
                            "shares the namespaces of PID {target} (it has none of its own: nothing to join)"
                        ),
                    });
                }
                for (n, id) in own {
                    let ok = p.namespaces.get(n) == Some(&id);
                    v.push(Verdict {
                        ok,
                        what: if ok {
                            format!("is in the {n} namespace of PID {target}")
                        } else {
                            format!("is in the {n} namespace of PID {target} (it is in another)")
                        },
                    });
                }
            }
        }
    }
    if let (Some(sh), Some((name, pid, theirs))) = (&m.shares_namespaces_with, &w.shares_with) {
        v.extend(shares_verdicts(
            &sh.namespaces,
            name,
            pid,
            theirs.as_ref(),
            p,
            lab_ns,
        ));
    }
    if let Some(port) = m.listens_tcp {
        let ports = crate::observe::sockets::listening_ports(p.pid);
        let ok = ports.contains(&port);
        let shown: Vec<String> = ports.iter().map(u16::to_string).collect();
        v.push(Verdict {
            ok,
            what: if ok {
                format!("listens on TCP port {port}")
            } else if shown.is_empty() {
                format!("listens on TCP port {port} (it holds no listening TCP socket)")
            } else {
                format!(
                    "listens on TCP port {port} (it listens on {})",
                    shown.join(", ")
                )
            },
        });
    }
    for name in &m.catches {
        let ok = signal_number(name)
            .and_then(|n| u32::try_from(n - 1).ok())
            .and_then(|bit| 1u64.checked_shl(bit))
            .is_some_and(|mask| p.caught & mask != 0);
        v.push(Verdict {
            ok,
            what: if ok {
                format!("has a handler for {name}")
            } else {
                format!(
                    "has a handler for {name} (it has none: SigCgt in /proc/{}/status is {:016x})",
                    p.pid, p.caught
                )
            },
        });
    }
    if let Some(want) = m.proc_mounted {
        let (ok, why) = match p.proc_view {
            ProcView::Nothing => (!want, "nothing is mounted on /proc there"),
            ProcView::Own => (want, "it shows its own PID namespace"),
            ProcView::Other => (
                !want,
                "the procfs there belongs to another PID namespace: mount one from inside the new namespace",
            ),
        };
        v.push(Verdict {
            ok,
            what: if want {
                format!(
                    "has a procfs on /proc inside its root showing its own PID namespace ({why})"
                )
            } else {
                format!("has no procfs of its own on /proc ({why})")
            },
        });
    }
    if let Some(want) = &m.hostname {
        // Read only when asked for: it costs a fork per process looked at.
        let got = hostname_of(p.pid);
        v.push(Verdict {
            ok: got.as_deref() == Some(want.as_str()),
            what: format!(
                "has the hostname {want} (its UTS namespace says {})",
                got.as_deref().unwrap_or("nothing: it could not be read")
            ),
        });
    }
    if let Some(want) = m.mounts_outside_root {
        // Read only when asked for: it costs a fork per process looked at.
        let got = mounts_outside_root(p.pid);
        let why = match got {
            None => "it could not be read",
            Some(Outside::None) => {
                "its root is its mount namespace's root, and the lab's / is not mounted there"
            }
            Some(Outside::AboveRoot) => {
                "its mount namespace's root is another directory: a chroot, or an old root still stacked on /"
            }
            Some(Outside::HostRootMounted) => {
                "the lab's / is still mounted inside it: the old root was not detached"
            }
        };
        v.push(Verdict {
            ok: got.is_some_and(|g| (g != Outside::None) == want),
            what: if want {
                format!("has mounts outside its root ({why})")
            } else {
                format!("has no mount outside its root ({why})")
            },
        });
    }
    if m.host_uid.is_some() || m.uid_in_ns.is_some() {
        let (host, inside) = uids_of(p.pid);
        let shown =
            |u: Option<u32>, none: &str| u.map_or_else(|| none.to_string(), |u| u.to_string());
        if let Some(want) = m.host_uid {
            v.push(Verdict {
                ok: host == Some(want),
                what: format!(
                    "has the user ID {want} on the host (it has {})",
                    shown(host, "none that could be read")
                ),
            });
        }
        if let Some(want) = m.uid_in_ns {
            v.push(Verdict {
                ok: inside == Some(want),
                what: format!(
                    "has the user ID {want} in its user namespace (it has {})",
                    shown(inside, "none: its uid_map does not map it")
                ),
            });
        }
    }
    v.extend(security_properties(m, p.pid));
    if let Some(want) = &m.in_cgroup_with {
        v.extend(cgroup_limit_verdicts(p.pid, want));
    }
    v
}

/// For each limit in `want`: the cgroup `pid` is directly in, on the hierarchy carrying
/// that controller (/proc/PID/cgroup, with the layout from /proc/self/mountinfo), has
/// that value in its own limit file.
fn cgroup_limit_verdicts(pid: i32, want: &crate::lesson::format::CgroupLimitsDef) -> Vec<Verdict> {
    use crate::runtime::cgroup::{Layout, Membership, dir_of, parse_size};
    let layout =
        Layout::parse(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
    let member = Membership::of(&pid.to_string());
    // (directory, is v2) of the process's cgroup holding `ctrl`.
    let dir = |ctrl: &str| -> Option<(std::path::PathBuf, bool)> {
        if let (Some(mount), Some(path)) = (layout.v1.get(ctrl), member.v1.get(ctrl)) {
            return Some((dir_of(mount, path), false));
        }
        let (mount, path) = (layout.v2.as_ref()?, member.v2.as_ref()?);
        Some((dir_of(mount, path), true))
    };
    let mut v = Vec::new();
    let read = |d: &Path, f: &str| {
        std::fs::read_to_string(d.join(f))
            .ok()
            .map(|s| s.trim().to_string())
    };
    if let Some(n) = want.pids_max {
        let got = dir("pids").map(|(d, _)| (read(&d, "pids.max"), d));
        v.push(Verdict {
            ok: got.as_ref().and_then(|(g, _)| g.as_deref()) == Some(n.to_string().as_str()),
            what: match got {
                Some((Some(g), d)) => format!("is in a cgroup whose pids.max is {n} (it is in {}, pids.max {g})", d.display()),
                Some((None, d)) => format!("is in a cgroup whose pids.max is {n} (it is in {}, which has no pids.max: the root cgroup has no limits)", d.display()),
                None => format!("is in a cgroup whose pids.max is {n} (no pids controller is mounted)"),
            },
        });
    }
    if let Some(m) = &want.memory_max {
        let bytes = parse_size(m).ok();
        let got = dir("memory").map(|(d, v2)| {
            let f = if v2 {
                "memory.max"
            } else {
                "memory.limit_in_bytes"
            };
            (read(&d, f), d, f)
        });
        v.push(Verdict {
            ok: bytes.is_some()
                && got
                    .as_ref()
                    .and_then(|(g, _, _)| g.as_ref())
                    .and_then(|g| g.parse::<u64>().ok())
                    == bytes,
            what: match got {
                Some((Some(g), d, f)) => format!(
                    "is in a cgroup whose memory limit is {m} (it is in {}, {f} {g})",
                    d.display()
                ),
                Some((None, d, f)) => format!(
                    "is in a cgroup whose memory limit is {m} (it is in {}, which has no {f})",
                    d.display()
                ),
                None => format!(
                    "is in a cgroup whose memory limit is {m} (no memory controller is mounted)"
                ),
            },
        });
    }
    v
}

/// The seccomp modes of the `Seccomp` line of /proc/PID/status (proc(5)), by number.
pub const SECCOMP_MODES: [&str; 3] = ["disabled", "strict", "filter"];

/// `disabled` -> 0, `strict` -> 1, `filter` -> 2; `None` for anything else.
#[must_use]
pub fn seccomp_mode_number(mode: &str) -> Option<u32> {
    SECCOMP_MODES
        .iter()
        .position(|m| *m == mode)
        .and_then(|i| u32::try_from(i).ok())
}

/// The capability sets, no_new_privs flag and seccomp mode of a process, from
/// /proc/PID/status (proc(5)): read only when a condition asks for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Privileges {
    /// `CapEff`, `CapPrm`, `CapInh`, `CapBnd`: bit N for capability N (capabilities(7)).
    pub sets: [(&'static str, u64); 4],
    /// `NoNewPrivs`: 1 when set.
    pub no_new_privs: Option<u64>,
    /// `Seccomp`: 0 disabled, 1 strict, 2 filter.
    pub seccomp: Option<u32>,
}

/// Read [`Privileges`] of `pid`; `None` when it has gone.
#[must_use]
pub fn privileges_of(pid: i32) -> Option<Privileges> {
    let s = Process::new(pid).ok()?.status().ok()?;
    Some(Privileges {
        sets: [
            ("effective", s.capeff),
            ("permitted", s.capprm),
            ("inheritable", s.capinh),
            ("bounding", s.capbnd.unwrap_or(0)),
        ],
        no_new_privs: s.nonewprivs,
        seccomp: s.seccomp,
    })
}

fn security_properties(m: &ProcessMatch, pid: i32) -> Vec<Verdict> {
    let mut v = Vec::new();
    if m.lacks_caps.is_empty() && m.no_new_privs.is_none() && m.seccomp.is_none() {
        return v;
    }
    let got = privileges_of(pid);
    for name in &m.lacks_caps {
        let Some(p) = got else {
            v.push(Verdict {
                ok: false,
                what: format!("lacks {name} (its /proc/{pid}/status could not be read)"),
            });
            continue;
        };
        let bit = crate::runtime::security::parse_capability(name).map_or(0, |c| c.bitmask());
        let held: Vec<&str> = p
            .sets
            .iter()
            .filter(|(_, set)| set & bit != 0)
            .map(|(n, _)| *n)
            .collect();
        let shown = format!(
            "CapEff {}, CapBnd {}",
            crate::runtime::security::hex(p.sets[0].1),
            crate::runtime::security::hex(p.sets[3].1)
        );
        let ok = bit != 0 && held.is_empty();
        v.push(Verdict {
            ok,
            what: if ok {
                format!("has {name} in none of its capability sets ({shown})")
            } else {
                format!(
                    "has {name} in none of its capability sets (it has it in {}: {shown}; from there it can take it back)",
                    held.join(", ")
                )
            },
        });
    }
    if let Some(want) = m.no_new_privs {
        let now = got.and_then(|p| p.no_new_privs);
        v.push(Verdict {
            ok: now.map(|n| n != 0) == Some(want),
            what: format!(
                "has no_new_privs {} (NoNewPrivs in /proc/{pid}/status is {})",
                if want { "set" } else { "unset" },
                now.map_or_else(|| "unreadable".to_string(), |n| n.to_string())
            ),
        });
    }
    if let Some(want) = &m.seccomp {
        let now = got.and_then(|p| p.seccomp);
        let shown = now.map_or_else(
            || "unreadable".to_string(),
            |n| {
                let name = usize::try_from(n)
                    .ok()
                    .and_then(|i| SECCOMP_MODES.get(i))
                    .unwrap_or(&"unknown");
                format!("{n}: {name}")
            },
        );
        v.push(Verdict {
            ok: now.is_some() && now == seccomp_mode_number(want),
            what: format!("is in seccomp mode {want} (Seccomp in /proc/{pid}/status is {shown})"),
        });
    }
    v
}

/// The verdicts of `shares_namespaces_with`: for each namespace named, `p` is in the one
/// container `name` (first process `pid`) is in. A container that is gone, or whose
/// namespace is the lab's own (nothing of the container's to share), holds for nobody.
fn shares_verdicts(
    names: &[String],
    name: &str,
    pid: &str,
    theirs: Option<&BTreeMap<String, u64>>,
    p: &ProcInfo,
    lab_ns: &BTreeMap<String, u64>,
) -> Vec<Verdict> {
    let Some(theirs) = theirs else {
        return vec![Verdict {
            ok: false,
            what: format!("shares namespaces with container {name} (it is not running)"),
        }];
    };
    names
        .iter()
        .map(|n| {
            let want = theirs.get(n);
            let got = p.namespaces.get(n);
            let what = format!("is in the {n} namespace of container {name} (PID {pid})");
            if want.is_some() && want == lab_ns.get(n) {
                return Verdict {
                    ok: false,
                    what: format!(
                        "{what} (that is the lab's own: {name} has no {n} namespace of its own)"
                    ),
                };
            }
            let ok = want.is_some() && got == want;
            Verdict {
                ok,
                what: if ok {
                    what
                } else {
                    format!(
                        "{what} (it is in {n}:[{}], {name} in {n}:[{}])",
                        got.map_or_else(|| "?".into(), u64::to_string),
                        want.map_or_else(|| "?".into(), u64::to_string)
                    )
                },
            }
        })
        .collect()
}

/// `pid`'s effective user ID as the lab (in the initial user namespace) sees it, from
/// the `Uid` line of /proc/PID/status, and the same ID inside the process's own user
/// namespace, mapped through /proc/PID/uid_map. Read by a process of another user
/// namespace, each line of that map is `ID-inside ID-outside length` with ID-outside in
/// the reader's namespace (user_namespaces(7)); read from the same namespace, the
/// identity map `0 0 4294967295` gives the ID back unchanged.
#[must_use]
pub fn uids_of(pid: i32) -> (Option<u32>, Option<u32>) {
    let host = Process::new(pid)
        .ok()
        .and_then(|p| p.status().ok())
        .map(|s| s.euid);
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).ok();
    let inside = host.zip(map).and_then(|(uid, map)| map_id(&map, uid));
    (host, inside)
}

/// `outside` mapped through a uid_map or gid_map text; `None` when no line maps it.
fn map_id(map: &str, outside: u32) -> Option<u32> {
    map.lines().find_map(|l| {
        let mut f = l.split_whitespace().map(|x| x.parse::<u64>().ok());
        let (inner, outer, len) = (f.next()??, f.next()??, f.next()??);
        let o = u64::from(outside);
        (o >= outer && o < outer + len)
            .then(|| u32::try_from(inner + (o - outer)).ok())
            .flatten()
    })
}

/// True when `a` and `b` are the same directory (device and inode, stat(2) following
/// links: /proc/PID/root leads to the process's root even in another mount namespace).
fn same_dir(a: &Path, b: &Path) -> bool {
    let id = |p: &Path| nix::sys::stat::stat(p).ok().map(|s| (s.st_dev, s.st_ino));
    id(a).is_some_and(|x| Some(x) == id(b))
}

/// What lies outside a process's root in its mount namespace: see [`mounts_outside_root`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outside {
    /// Nothing: its root is its mount namespace's root, and the lab's `/` is not mounted
    /// in it (pivot_root, then the old root detached).
    None,
    /// Its mount namespace's root, as setns(2) gives it, is not its root: it is
    /// chrooted, or an old root is stacked on `/` after `pivot_root . .`.
    AboveRoot,
    /// Its root is the namespace's, but the lab's own `/` is mounted in it somewhere
    /// (an old root kept at put_old, not unmounted).
    HostRootMounted,
}

/// Whether `pid`'s mount namespace holds mounts outside its root. The namespace's root
/// is read the way `nsenter --target PID --mount` finds it: the lab forks, the child
/// joins the mount namespace with setns(2) (which sets its root to the namespace's
/// root, on top of anything stacked there, mount_namespaces(7)) and stat(2)s `/`; that
/// is compared, by device and inode, with `/proc/PID/root`. Then /proc/PID/mountinfo
/// (proc(5)) is searched for the lab's own root mount (the device and root of the line
/// whose mount point is `/` in /proc/self/mountinfo). `None` when the process is gone or
/// its namespace cannot be joined (not root).
///
/// Between fork and `_exit` the child makes only raw system calls (prctl, setns,
/// stat, write), as [`hostname_of`]'s does.
#[must_use]
pub fn mounts_outside_root(pid: i32) -> Option<Outside> {
    let root = nix::sys::stat::stat(format!("/proc/{pid}/root").as_str())
        .ok()
        .map(|s| (s.st_dev, s.st_ino))?;
    let ns_root = ns_root_of(pid)?;
    if ns_root != root {
        return Some(Outside::AboveRoot);
    }
    let key = |line: &str| {
        let f: Vec<&str> = line.split(' ').collect();
        (f.len() > 4).then(|| (f[2].to_string(), f[3].to_string(), f[4].to_string()))
    };
    let own = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // The last line at `/` is the top of anything stacked there: the lab's root.
    let lab_root = own
        .lines()
        .rev()
        .filter_map(key)
        .find(|(_, _, at)| at == "/")
        .map(|(dev, r, _)| (dev, r))?;
    let theirs = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).ok()?;
    let kept = theirs
        .lines()
        .filter_map(key)
        .any(|(dev, r, _)| (dev, r) == lab_root);
    Some(if kept {
        Outside::HostRootMounted
    } else {
        Outside::None
    })
}

/// (device, inode) of the root of `pid`'s mount namespace, read by a forked child that
/// joins it with setns(2) and stat(2)s `/` ([`read_in_namespace`]).
fn ns_root_of(pid: i32) -> Option<(u64, u64)> {
    let bytes = read_in_namespace(pid, "mnt", CloneFlags::CLONE_NEWNS, |buf| {
        let st = nix::sys::stat::stat("/").ok()?;
        buf[..8].copy_from_slice(&st.st_dev.to_ne_bytes());
        buf[8..16].copy_from_slice(&st.st_ino.to_ne_bytes());
        Some(16)
    })?;
    let word = |b: &[u8]| b.try_into().ok().map(u64::from_ne_bytes);
    (bytes.len() == 16)
        .then(|| word(&bytes[..8]).zip(word(&bytes[8..16])))
        .flatten()
}

fn or_list(v: &[String]) -> String {
    match v {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The result of looking for a process that matches.
#[derive(Debug, Clone)]
pub struct Found {
    /// Some process has every property.
    pub ok: bool,
    /// The process that came closest (the match itself when `ok`), and its properties.
    pub closest: Option<(ProcInfo, Vec<Verdict>)>,
    /// How many processes of the learner's were looked at.
    pub looked_at: usize,
}

impl Found {
    /// Properties that held, for ranking attempts.
    #[must_use]
    pub fn score(&self) -> usize {
        self.closest
            .as_ref()
            .map_or(0, |(_, v)| v.iter().filter(|x| x.ok).count())
    }
}

/// Look through `procs` for one with every property of `w`; else report the closest
/// (most properties held; the newest among equals).
#[must_use]
pub fn find(w: &Wanted<'_>, procs: &[ProcInfo], lab_ns: &BTreeMap<String, u64>) -> Found {
    let mut best: Option<(ProcInfo, Vec<Verdict>)> = None;
    for p in procs {
        let props = properties(w, p, lab_ns);
        let score = props.iter().filter(|v| v.ok).count();
        let all = props.iter().all(|v| v.ok);
        let better = match &best {
            None => true,
            Some((bp, bv)) => {
                let bs = bv.iter().filter(|v| v.ok).count();
                score > bs || (score == bs && p.pid > bp.pid)
            }
        };
        if better {
            best = Some((p.clone(), props));
        }
        if all {
            return Found {
                ok: true,
                closest: best,
                looked_at: procs.len(),
            };
        }
    }
    Found {
        ok: false,
        closest: best,
        looked_at: procs.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shell caught in the middle of its exit once read as "its root is unreadable"
    /// (CI, lesson 04's challenge: the look at `exit`). Readers race many exits here: a
    /// process `read` returns is never one whose root is gone while it still runs.
    #[test]
    fn a_process_caught_exiting_reads_as_gone_not_as_rootless() {
        if !nix::unistd::geteuid().is_root() {
            return; // as a user, another user's root may be unreadable for good reason
        }
        let mut seen = 0;
        for _ in 0..300 {
            let mut child = std::process::Command::new("true").spawn().expect("true");
            let pid = child.id().cast_signed();
            while let Some(info) = read(pid) {
                if info.state == 'Z' {
                    break;
                }
                seen += 1;
                assert!(info.root.is_some(), "read mid-exit: {info:?}");
            }
            child.wait().expect("reap");
        }
        assert!(seen > 0, "no read landed while a child ran");
    }

    #[test]
    fn this_process_reads_as_itself_and_is_found_by_its_properties() {
        let me = read(std::process::id().cast_signed()).expect("read self");
        assert_eq!(me.pid, std::process::id().cast_signed());
        assert_eq!(me.root.as_deref(), Some(Path::new("/")));
        assert!(me.namespaces.contains_key("pid"), "{me:?}");
        let lab_ns = own_namespaces();
        let m = ProcessMatch {
            comm: vec![me.comm.clone()],
            root: Some("/".into()),
            new_namespaces: vec!["pid".into()],
            ..Default::default()
        };
        let w = Wanted::new(&m, &str::to_string);
        let found = find(&w, std::slice::from_ref(&me), &lab_ns);
        // Same PID namespace as the lab (itself): the one property that fails is named.
        assert!(!found.ok);
        let (_, props) = found.closest.expect("closest");
        let failed: Vec<_> = props.iter().filter(|v| !v.ok).collect();
        assert_eq!(failed.len(), 1, "{props:?}");
        assert!(failed[0].what.contains("shares the lab's"), "{props:?}");
    }

    fn info(namespaces: &[(&str, u64)], caught: u64) -> ProcInfo {
        ProcInfo {
            pid: 4711,
            ppid: 1,
            comm: "sleep".into(),
            state: 'S',
            root: Some(PathBuf::from("/")),
            pid_in_ns: Some(3),
            namespaces: namespaces
                .iter()
                .map(|(n, i)| ((*n).to_string(), *i))
                .collect(),
            caught,
            proc_view: ProcView::Nothing,
        }
    }

    #[test]
    fn same_namespaces_as_compares_only_the_targets_own_namespaces() {
        let lab: BTreeMap<String, u64> = [("pid", 1), ("mnt", 2), ("uts", 3), ("net", 4)]
            .iter()
            .map(|(n, i)| ((*n).to_string(), *i))
            .collect();
        // The container has its own pid, mnt and uts namespaces, and the lab's net.
        let target: BTreeMap<String, u64> = [("pid", 11), ("mnt", 12), ("uts", 13), ("net", 4)]
            .iter()
            .map(|(n, i)| ((*n).to_string(), *i))
            .collect();
        let m = ProcessMatch {
            same_namespaces_as: Some("{container.c}".into()),
            ..Default::default()
        };
        let w = Wanted {
            m: &m,
            root: None,
            ns_of: Some(("100".into(), Some(target))),
            shares_with: None,
        };
        // Joined with nsenter --pid only: the pid namespace holds, mnt and uts do not;
        // net is the lab's in both and is not compared.
        let p = info(&[("pid", 11), ("mnt", 99), ("uts", 3), ("net", 98)], 0);
        let v = properties(&w, &p, &lab);
        let shown: Vec<(bool, &str)> = v.iter().map(|x| (x.ok, x.what.as_str())).collect();
        assert_eq!(
            shown,
            vec![
                (true, "is in the pid namespace of PID 100"),
                (
                    false,
                    "is in the mnt namespace of PID 100 (it is in another)"
                ),
                (
                    false,
                    "is in the uts namespace of PID 100 (it is in another)"
                ),
            ]
        );
        let joined = info(&[("pid", 11), ("mnt", 12), ("uts", 13), ("net", 98)], 0);
        assert!(properties(&w, &joined, &lab).iter().all(|x| x.ok));
        // A target that is gone holds for nobody.
        let gone = Wanted {
            m: &m,
            root: None,
            ns_of: Some(("100".into(), None)),
            shares_with: None,
        };
        let v = properties(&gone, &joined, &lab);
        assert!(!v[0].ok && v[0].what.contains("no such process"), "{v:?}");
    }

    #[test]
    fn catches_reads_the_sigcgt_mask() {
        let m = ProcessMatch {
            catches: vec!["SIGTERM".into()],
            ..Default::default()
        };
        let w = Wanted::new(&m, &str::to_string);
        // SIGTERM is 15: bit 14. The lab's init catches 0x14a07 (HUP INT QUIT USR1 USR2 TERM CHLD).
        let init = info(&[], 0x14a07);
        assert!(properties(&w, &init, &BTreeMap::new())[0].ok);
        let sleep = info(&[], 0);
        let v = properties(&w, &sleep, &BTreeMap::new());
        assert!(!v[0].ok, "{v:?}");
        assert_eq!(
            v[0].what,
            "has a handler for SIGTERM (it has none: SigCgt in /proc/4711/status is 0000000000000000)"
        );
        assert_eq!(signal_number("SIGTERM"), Some(15));
        assert_eq!(signal_number("TERM"), None);
    }

    #[test]
    fn the_hostname_is_read_from_the_process_uts_namespace() {
        // This process's UTS namespace is the one uname(2) answers for here.
        let mine = nix::sys::utsname::uname().expect("uname");
        let want = mine.nodename().to_string_lossy().into_owned();
        let me = std::process::id().cast_signed();
        assert_eq!(hostname_of(me).as_deref(), Some(want.as_str()));
        // A process that is not there has no hostname to read.
        assert_eq!(hostname_of(i32::MAX), None);
        // As a property: it holds for the name uname(2) gives, and names what it read
        // when it does not.
        let p = read(me).expect("read self");
        let lab_ns = own_namespaces();
        for (asked, holds) in [(want.clone(), true), (format!("{want}-not"), false)] {
            let m = ProcessMatch {
                hostname: Some(asked.clone()),
                ..Default::default()
            };
            let props = properties(
                &Wanted {
                    m: &m,
                    root: None,
                    ns_of: None,
                    shares_with: None,
                },
                &p,
                &lab_ns,
            );
            assert_eq!(props.len(), 1, "{props:?}");
            assert_eq!(props[0].ok, holds, "{props:?}");
            assert_eq!(
                props[0].what,
                format!("has the hostname {asked} (its UTS namespace says {want})")
            );
        }
    }

    #[test]
    fn the_hostname_of_a_process_in_another_uts_namespace_is_its_own() {
        if !nix::unistd::geteuid().is_root() {
            return; // unshare(CLONE_NEWUTS) needs root; the suite runs as root in CI
        }
        // A process in a UTS namespace of its own, renamed there (never the host).
        let mut child = std::process::Command::new("unshare")
            .args([
                "--uts",
                "sh",
                "-c",
                "hostname fs-unit-test && exec sleep 30",
            ])
            .spawn()
            .expect("unshare");
        let pid = child.id().cast_signed();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut seen = None;
        while std::time::Instant::now() < deadline {
            seen = hostname_of(pid);
            if seen.as_deref() == Some("fs-unit-test") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(seen.as_deref(), Some("fs-unit-test"));
        // The caller's own hostname did not change.
        let mine = nix::sys::utsname::uname().expect("uname");
        assert_ne!(mine.nodename().to_string_lossy(), "fs-unit-test");
    }

    #[test]
    fn privileges_are_read_from_status_and_named_when_they_fail() {
        let me = std::process::id().cast_signed();
        let p = privileges_of(me).expect("read self");
        let m = ProcessMatch {
            lacks_caps: vec!["CAP_SYS_ADMIN".into()],
            no_new_privs: Some(p.no_new_privs == Some(0)),
            seccomp: Some("strict".into()),
            ..Default::default()
        };
        let info = read(me).expect("read self");
        let v = properties(&Wanted::new(&m, &str::to_string), &info, &own_namespaces());
        assert_eq!(v.len(), 3, "{v:?}");
        // Every process has CAP_SYS_ADMIN in its bounding set unless someone dropped it.
        if p.sets[3].1 & (1 << 21) != 0 {
            assert!(!v[0].ok, "{v:?}");
            assert!(v[0].what.contains("bounding"), "{v:?}");
            assert!(
                v[0].what.contains("from there it can take it back"),
                "{v:?}"
            );
        }
        // Asked the opposite of what it is: fails, and says what it read.
        assert!(!v[1].ok, "{v:?}");
        assert!(v[1].what.contains("NoNewPrivs in /proc/"), "{v:?}");
        // The test harness is not in strict mode (it could not even open a file).
        assert!(!v[2].ok, "{v:?}");
        assert!(
            v[2].what
                .starts_with("is in seccomp mode strict (Seccomp in /proc/"),
            "{v:?}"
        );
        assert_eq!(seccomp_mode_number("filter"), Some(2));
        assert_eq!(seccomp_mode_number("2"), None);
    }

    #[test]
    fn a_process_that_dropped_a_capability_everywhere_lacks_it() {
        if !nix::unistd::geteuid().is_root() || which::which("setpriv").is_err() {
            return; // the suite runs as root with util-linux in CI
        }
        let mut child = std::process::Command::new("setpriv")
            .args([
                "--no-new-privs",
                "--bounding-set",
                "-sys_admin",
                "sleep",
                "30",
            ])
            .spawn()
            .expect("setpriv");
        let pid = child.id().cast_signed();
        let m = ProcessMatch {
            lacks_caps: vec!["CAP_SYS_ADMIN".into()],
            no_new_privs: Some(true),
            seccomp: Some("disabled".into()),
            ..Default::default()
        };
        // Wait for setpriv to have exec'd sleep (its comm changes then).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut v = Vec::new();
        while std::time::Instant::now() < deadline {
            if let Some(info) = read(pid).filter(|i| i.comm == "sleep") {
                v = properties(&Wanted::new(&m, &str::to_string), &info, &own_namespaces());
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(v.len(), 3, "{v:?}");
        assert!(v[0].ok, "{v:?}");
        assert!(
            v[0].what
                .starts_with("has CAP_SYS_ADMIN in none of its capability sets (CapEff "),
            "{v:?}"
        );
        assert!(v[1].ok, "{v:?}");
        assert_eq!(
            v[1].what,
            format!("has no_new_privs set (NoNewPrivs in /proc/{pid}/status is 1)")
        );
    }

    #[test]
    fn or_list_reads_as_english() {
        assert_eq!(or_list(&["sh".into()]), "sh");
        assert_eq!(
            or_list(&["sh".into(), "bash".into(), "dash".into()]),
            "sh, bash or dash"
        );
    }

    #[test]
    fn a_uid_is_mapped_through_the_uid_map_lines() {
        assert_eq!(map_id("         0      65534          1\n", 65534), Some(0));
        assert_eq!(map_id("         0      65534          1\n", 0), None);
        assert_eq!(map_id("0 0 4294967295\n", 65534), Some(65534));
        assert_eq!(map_id("0 100000 65536\n1000 1000 1\n", 1000), Some(1000));
        assert_eq!(map_id("0 100000 65536\n", 100_005), Some(5));
        assert_eq!(map_id("", 0), None);
    }

    #[test]
    fn the_lab_itself_is_root_on_the_host_and_in_its_user_namespace() {
        let me = std::process::id().cast_signed();
        let euid = nix::unistd::geteuid().as_raw();
        // The lab's own user namespace is the one it reads from: the map is the identity.
        assert_eq!(uids_of(me), (Some(euid), Some(euid)));
        assert_eq!(uids_of(i32::MAX), (None, None));
        let m = ProcessMatch {
            host_uid: Some(65534),
            uid_in_ns: Some(euid),
            ..Default::default()
        };
        let p = read(me).expect("read self");
        let props = properties(&Wanted::new(&m, &str::to_string), &p, &own_namespaces());
        assert_eq!(props.len(), 2, "{props:?}");
        assert!(!props[0].ok, "{props:?}");
        assert_eq!(
            props[0].what,
            format!("has the user ID 65534 on the host (it has {euid})")
        );
        assert!(props[1].ok, "{props:?}");
    }

    #[test]
    fn shares_namespaces_with_compares_only_the_named_namespaces() {
        let map = |v: &[(&str, u64)]| -> BTreeMap<String, u64> {
            v.iter().map(|(n, i)| ((*n).to_string(), *i)).collect()
        };
        let lab = map(&[("pid", 1), ("net", 4), ("ipc", 5)]);
        // pause: its own net, the lab's ipc.
        let pause = map(&[("pid", 1), ("net", 40), ("ipc", 5)]);
        let m = ProcessMatch {
            shares_namespaces_with: Some(crate::lesson::ShareDef {
                container: "pause".into(),
                namespaces: vec!["net".into()],
            }),
            ..Default::default()
        };
        let w = |theirs: Option<BTreeMap<String, u64>>| Wanted {
            m: &m,
            root: None,
            ns_of: None,
            shares_with: Some(("pause".into(), "100".into(), theirs)),
        };
        let member = info(&[("pid", 11), ("net", 40)], 0);
        let v = properties(&w(Some(pause.clone())), &member, &lab);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].ok, "{v:?}");
        assert_eq!(
            v[0].what,
            "is in the net namespace of container pause (PID 100)"
        );
        // In its own network namespace: the inodes are named.
        let outsider = info(&[("pid", 11), ("net", 99)], 0);
        let v = properties(&w(Some(pause.clone())), &outsider, &lab);
        assert!(!v[0].ok);
        assert_eq!(
            v[0].what,
            "is in the net namespace of container pause (PID 100) (it is in net:[99], pause in net:[40])"
        );
        // A namespace pause does not have of its own holds for nobody, not even the lab.
        let m_ipc = ProcessMatch {
            shares_namespaces_with: Some(crate::lesson::ShareDef {
                container: "pause".into(),
                namespaces: vec!["ipc".into()],
            }),
            ..Default::default()
        };
        let w_ipc = Wanted {
            m: &m_ipc,
            root: None,
            ns_of: None,
            shares_with: Some(("pause".into(), "100".into(), Some(pause))),
        };
        let v = properties(&w_ipc, &info(&[("ipc", 5)], 0), &lab);
        assert!(!v[0].ok && v[0].what.contains("the lab's own"), "{v:?}");
        // Gone: one failing verdict.
        let v = properties(&w(None), &member, &lab);
        assert!(!v[0].ok && v[0].what.contains("not running"), "{v:?}");
    }

    #[test]
    fn listens_tcp_reads_the_process_own_sockets() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let me = read(std::process::id().cast_signed()).expect("read self");
        for (asked, holds) in [(port, true), (port.wrapping_add(1).max(1), false)] {
            let m = ProcessMatch {
                listens_tcp: Some(asked),
                ..Default::default()
            };
            let v = properties(&Wanted::new(&m, &str::to_string), &me, &BTreeMap::new());
            assert_eq!(v[0].ok, holds, "{v:?}");
            if !holds {
                assert_eq!(
                    v[0].what,
                    format!("listens on TCP port {asked} (it listens on {port})")
                );
            }
        }
    }
}
