//! One lesson's live state: its rootfs, its named containers and decoys, its scratch
//! directory, and the cleanup registry that undoes all of it.
//!
//! Every resource is registered the moment it exists, and the registry is mirrored in a
//! state file under the run directory. Teardown runs at lesson end, `reset`, Ctrl-C,
//! SIGTERM and panic (through `Drop`); after a `kill -9`, `fromscratch cleanup` reads the
//! state file and finishes the job. Mounts need no separate undo: every mount the lab
//! makes lives in a mount namespace that dies with its last process.
//!
//! Only processes the lab started are ever signalled: each is recorded with its start
//! time (field 22 of /proc/PID/stat), and a PID whose start time differs is not ours.

pub mod by_hand;
pub mod challenge;
pub mod decoy;
pub mod fault;
pub mod net;
pub mod oci;
pub mod pod;
pub mod runc;
pub mod runner;
pub mod signals;
pub mod state;
pub mod unprivileged;
pub mod volumes;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::runtime::spawn::{self, Spawned, Stdio};
use crate::runtime::{ContainerSpec, RuntimeError};

pub use signals::interrupted;
use state::{ProcessRecord, StateFile};

/// A process the lab started and keeps alive across steps.
#[derive(Debug, Clone)]
pub struct LiveProcess {
    /// The name the lesson gave it.
    pub name: String,
    /// Our direct child (wait for this one).
    pub child: Pid,
    /// Host PID of the process that is PID 1 inside (== child without a PID namespace).
    pub pid1: Pid,
    /// The spec it was started from.
    pub spec: ContainerSpec,
    /// How it ended, once reaped: exit code or 128+signal.
    pub ended: Option<i32>,
    /// Made by runc, not the lab's runtime: its runc container id (see [`oci`]).
    pub runc: Option<String>,
}

impl LiveProcess {
    /// "its PID 1 is host PID N" with a PID namespace, else "host PID N".
    #[must_use]
    pub fn describe(&self) -> String {
        if self.spec.effective_namespaces().pid {
            format!("its PID 1 is host PID {}", self.pid1)
        } else {
            format!(
                "host PID {} (no PID namespace: the same number inside)",
                self.pid1
            )
        }
    }
}

/// The live lab. Dropping it tears everything down.
pub struct Lab {
    /// Scratch directory for this lab (`run_dir()/lab-PID`), removed at teardown.
    pub scratch: PathBuf,
    /// The rootfs in use, once built.
    pub rootfs: Option<PathBuf>,
    containers: BTreeMap<String, LiveProcess>,
    decoys: BTreeMap<String, LiveProcess>,
    /// Stopped containers and decoys, so a step can still name them (`{decoy.NAME}`) in
    /// the probes that check they are gone.
    stopped: BTreeMap<String, LiveProcess>,
    state: StateFile,
    /// The lab's cgroup directories, made on first use.
    cgroups: Option<crate::runtime::cgroup::LabCgroups>,
    /// Cgroups made below them, by name (`{cgroup.NAME}`).
    named_cgroups: BTreeMap<String, crate::runtime::cgroup::Cgroup>,
    /// The fault planted in each runc container that has one (`{fault.NAME}`).
    faults: BTreeMap<String, String>,
}

impl Lab {
    /// Create the scratch directory and state file, and make the lab a child subreaper
    /// (PR_SET_CHILD_SUBREAPER), so any orphan of its containers comes back to it to be
    /// reaped instead of escaping to the host's init.
    ///
    /// # Errors
    /// The run directory cannot be created.
    pub fn new() -> Result<Self, RuntimeError> {
        let run = crate::paths::run_dir();
        crate::paths::ensure_private_dir(&run)
            .map_err(|e| RuntimeError::io(&format!("run directory {}", run.display()), e))?;
        let me = std::process::id();
        let scratch = run.join(format!("lab-{me}"));
        std::fs::create_dir_all(&scratch)
            .map_err(|e| RuntimeError::io(&format!("create {}", scratch.display()), e))?;
        let _ = nix::sys::prctl::set_child_subreaper(true);
        let _ = crate::runtime::spec::LAB_MARK.set(scratch.display().to_string());
        let mut state = StateFile::create(&run, &scratch)?;
        // As a user: the holder of the lab's user namespace (runtime/userns.rs), started
        // now and recorded like a container. It never execs, so it carries the host's
        // environment and not the lab's mark: unrecorded, a `cleanup` after kill -9
        // could neither find it nor wait for it to die by PR_SET_PDEATHSIG.
        if let Some(map) = crate::runtime::userns::rootless()
            && let Some(holder) = crate::runtime::userns::lab_holder(&map)
        {
            state.add(ProcessRecord::new(
                "the lab's user namespace holder",
                holder,
                "holder",
            ))?;
        }
        Ok(Self {
            scratch,
            rootfs: None,
            containers: BTreeMap::new(),
            decoys: BTreeMap::new(),
            stopped: BTreeMap::new(),
            state,
            cgroups: None,
            named_cgroups: BTreeMap::new(),
            faults: BTreeMap::new(),
        })
    }

    /// Start a named, long-lived container (or decoy, with `decoy = true`).
    ///
    /// # Errors
    /// The name is taken, the spawn failed, or its setup failed (the error names the call).
    pub fn start(
        &mut self,
        name: &str,
        spec: &ContainerSpec,
        decoy: bool,
    ) -> Result<(LiveProcess, Vec<String>), LabError> {
        if self.containers.contains_key(name) || self.decoys.contains_key(name) {
            return Err(LabError::NameTaken {
                name: name.to_string(),
            });
        }
        let sp = spawn::spawn(spec, Stdio::Null)?;
        self.state.add(ProcessRecord::new(
            name,
            sp.child,
            if decoy { "decoy" } else { "container" },
        ))?;
        if sp.pid1 != sp.child {
            self.state.add(ProcessRecord::new(
                &format!("{name} (pid 1)"),
                sp.pid1,
                "container",
            ))?;
        }
        let trace = sp.trace.clone();
        if let Some(err) = startup_error(&sp, spec) {
            spawn::kill_and_reap(sp.child);
            self.state.forget(sp.child)?;
            self.state.forget(sp.pid1)?;
            return Err(LabError::Setup {
                message: err,
                trace,
            });
        }
        let live = LiveProcess {
            name: name.to_string(),
            child: sp.child,
            pid1: sp.pid1,
            spec: spec.clone(),
            ended: None,
            runc: None,
        };
        if decoy {
            self.decoys.insert(name.to_string(), live.clone());
        } else {
            self.containers.insert(name.to_string(), live.clone());
        }
        Ok((live, trace))
    }

    /// Make (or reuse) the cgroup `name` below the lab's cgroup directories, which are
    /// made on first use, and write `limits` into it. With `parent`, it is made to hold
    /// cgroups (on v2 its controllers are enabled for children), not processes. Every
    /// directory and every controller enabled on a cgroup the lab does not own is
    /// recorded in the state file before it is made. Returns the cgroup and the
    /// syscalls made (`mkdir`, `write`), traced as the lab's.
    ///
    /// # Errors
    /// No usable cgroup hierarchy, or a mkdir or write refused (the error names the rule).
    pub fn cgroup(
        &mut self,
        name: &str,
        limits: crate::runtime::cgroup::Limits,
        parent: bool,
    ) -> Result<(crate::runtime::cgroup::Cgroup, Vec<String>), LabError> {
        use crate::runtime::cgroup::{LabCgroups, Layout, Membership, own_dir};
        // The name becomes one directory below the lab's: never `..`, `.` or a path,
        // whatever the lesson passed `check` with.
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(LabError::BadName {
                what: "cgroup",
                name: name.to_string(),
            });
        }
        let (trace_r, trace_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .map_err(|e| RuntimeError::sys("pipe2", e))?;
        let sys = crate::runtime::LinuxSyscalls::new(
            Some(std::os::fd::AsRawFd::as_raw_fd(&trace_w)),
            "lab",
        );
        let result = (|| -> Result<crate::runtime::cgroup::Cgroup, LabError> {
            let lab = if let Some(l) = &self.cgroups {
                l.clone()
            } else {
                let plan = LabCgroups::plan(
                    &Layout::detect()?,
                    &Membership::of("self"),
                    std::process::id(),
                )?;
                for (p, c) in plan.parent_enables() {
                    self.state.add_cgroup_enable(&p, &c)?;
                }
                for h in &plan.hierarchies {
                    self.state.add_cgroup(state::CgroupRecord {
                        path: h.lab_dir.clone(),
                        v2: h.v2,
                        refuge: own_dir(&h.mount, h.v2, &h.serves),
                    })?;
                }
                self.cgroups = Some(plan.clone());
                plan.create(&sys)?;
                plan
            };
            let cg = lab.cgroup(name);
            for (d, h) in cg.dirs.iter().zip(&lab.hierarchies) {
                self.state.add_cgroup(state::CgroupRecord {
                    path: d.path.clone(),
                    v2: d.v2,
                    refuge: own_dir(&h.mount, h.v2, &h.serves),
                })?;
            }
            cg.create(&sys, limits, parent)?;
            self.named_cgroups.insert(name.to_string(), cg.clone());
            Ok(cg)
        })();
        drop(sys);
        drop(trace_w);
        let mut text = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = nix::unistd::read(&trace_r, &mut buf) {
            if n == 0 {
                break;
            }
            text.extend_from_slice(&buf[..n]);
        }
        let trace: Vec<String> = String::from_utf8_lossy(&text)
            .lines()
            .filter_map(|l| l.strip_prefix("T "))
            .map(|l| {
                let (role, call) = l.split_once('\t').unwrap_or(("", l));
                format!("{role:>7}  {call}")
            })
            .collect();
        match result {
            Ok(cg) => Ok((cg, trace)),
            Err(LabError::Cgroup(e)) => Err(LabError::Setup {
                message: e.to_string(),
                trace,
            }),
            Err(e) => Err(e),
        }
    }

    /// A cgroup made by [`Lab::cgroup`], by name.
    #[must_use]
    pub fn cgroup_of(&self, name: &str) -> Option<&crate::runtime::cgroup::Cgroup> {
        self.named_cgroups.get(name)
    }

    /// Remove every cgroup the lab made, children first (a learner's directories
    /// inside go with them), killing only the lab's processes left in them, and
    /// disable the controllers it enabled on cgroups it does not own.
    fn remove_cgroups(&mut self) {
        let (records, enables) = self.state.cgroups();
        if records.is_empty() && enables.is_empty() {
            return;
        }
        let me = std::process::id();
        let scratch = self.scratch.clone();
        let is_ours = |pid: i32| state::has_lab_mark(pid, &scratch) || descends_from(pid, me);
        let (_, failed) = state::remove_cgroups(records, enables, &is_ours);
        for f in failed {
            eprintln!("fromscratch: {f}");
        }
        self.cgroups = None;
        self.named_cgroups.clear();
        let _ = self.state.clear_cgroups();
    }

    /// Start the container `name` with runc(8): record it in the state file (runc's
    /// state directory, its id, its bundle, and its cgroup directories on every
    /// hierarchy) before it exists, write its bundle, `runc run -d`, and register its
    /// init (host PID from `--pid-file`) as a lab container, so probes and `exec_in`
    /// join it by setns like the lab's own. `fault`, when given, is remembered for
    /// `{fault.NAME}`. Returns the container and the trace (the runc commands).
    ///
    /// # Errors
    /// runc failed (its error in one sentence; nothing is left behind), or the state
    /// file or bundle could not be written.
    pub fn start_runc(
        &mut self,
        name: &str,
        mut c: oci::OciContainer,
        spec: &ContainerSpec,
        fault: Option<String>,
    ) -> Result<(LiveProcess, Vec<String>), LabError> {
        use crate::runtime::cgroup::{CgroupDir, dir_of};
        if self.containers.contains_key(name) || self.decoys.contains_key(name) {
            return Err(LabError::NameTaken {
                name: name.to_string(),
            });
        }
        let me = std::process::id();
        let id = format!("fromscratch-{me}-{name}");
        let root = self.scratch.join("runc");
        let bundle = self.scratch.join(format!("bundle-{name}"));
        let parent = format!("/{}", crate::runtime::cgroup::lab_dir_name(me));
        c.cgroups_path = format!("{parent}/runc-{name}");
        if let Some(mark) = crate::runtime::spec::LAB_MARK.get() {
            c.env
                .push(format!("{}={mark}", crate::runtime::spec::LAB_MARK_VAR));
        }
        // Its cgroups, on every hierarchy runc uses, recorded before runc makes them.
        let mounts = oci::cgroup_mounts(
            &std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default(),
        );
        let layout = crate::runtime::cgroup::Layout::detect().ok();
        let mut dirs = Vec::new();
        for (mount, v2) in &mounts {
            let serves: Vec<String> = layout
                .iter()
                .flat_map(|l| l.v1.iter())
                .filter(|(_, m)| *m == mount)
                .map(|(c, _)| c.clone())
                .collect();
            let serves = if *v2 && layout.as_ref().is_some_and(|l| l.v1.is_empty()) {
                vec!["memory".to_string(), "pids".to_string()]
            } else {
                serves
            };
            let refuge = crate::runtime::cgroup::own_dir(mount, *v2, &serves);
            for p in [dir_of(mount, &parent), dir_of(mount, &c.cgroups_path)] {
                self.state.add_cgroup(state::CgroupRecord {
                    path: p,
                    v2: *v2,
                    refuge: refuge.clone(),
                })?;
            }
            dirs.push(CgroupDir {
                path: dir_of(mount, &c.cgroups_path),
                v2: *v2,
                serves,
                enable: Vec::new(),
            });
        }
        self.state.add_runc(state::RuncRecord {
            root: root.clone(),
            id: id.clone(),
            bundle: bundle.clone(),
        })?;
        oci::write_bundle(&bundle, &c)
            .map_err(|e| RuntimeError::io(&format!("write the bundle {}", bundle.display()), e))?;
        let runc = oci::Runc::new(&root);
        let pid_file = bundle.join("pid");
        let run = runc.run(
            &[
                "run",
                "-d",
                "--bundle",
                &bundle.display().to_string(),
                "--pid-file",
                &pid_file.display().to_string(),
                &id,
            ],
            &self.scratch,
        );
        let mut trace = vec![run.trace.clone()];
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        let Some(pid) = pid.filter(|_| run.status == 0) else {
            let del = runc.run(&["delete", "--force", &id], &self.scratch);
            trace.push(del.trace);
            let _ = self.state.forget_runc(&id);
            // Ctrl-C or SIGTERM reaches runc too (the same process group): its failure is
            // the learner's interrupt, not something this host cannot do.
            if crate::lab::interrupted() {
                return Err(RuntimeError::Interrupted.into());
            }
            return Err(LabError::Setup {
                message: format!(
                    "runc could not start container `{name}`: {}",
                    oci::runc_error(&run.stderr)
                ),
                trace,
            });
        };
        let pid = Pid::from_raw(pid);
        // Under its own name: `fromscratch inspect --container NAME` finds it so.
        self.state.add(ProcessRecord::new(name, pid, "container"))?;
        self.named_cgroups.insert(
            name.to_string(),
            crate::runtime::cgroup::Cgroup {
                name: name.to_string(),
                dirs,
            },
        );
        if let Some(f) = fault {
            self.faults.insert(name.to_string(), f);
        }
        let live = LiveProcess {
            name: name.to_string(),
            child: pid,
            pid1: pid,
            spec: spec.clone(),
            ended: None,
            runc: Some(id),
        };
        self.containers.insert(name.to_string(), live.clone());
        Ok((live, trace))
    }

    /// The fault planted in runc container `name`, if any.
    #[must_use]
    pub fn fault_of(&self, name: &str) -> Option<&str> {
        self.faults.get(name).map(String::as_str)
    }

    /// `runc kill ID KILL`, then `runc delete --force ID`; reap its init (re-parented
    /// to the lab, a subreaper); remove any of its cgroup directories runc left.
    fn delete_runc(&mut self, name: &str, id: &str, pid: Pid) -> Vec<String> {
        let Some(rec) = self.state.runc().iter().find(|r| r.id == id).cloned() else {
            return Vec::new();
        };
        let runc = oci::Runc::new(&rec.root);
        let mut trace = Vec::new();
        if runc
            .state(id, &self.scratch)
            .is_some_and(|(_, s)| s == "running")
        {
            trace.push(runc.run(&["kill", id, "KILL"], &self.scratch).trace);
        }
        trace.push(runc.run(&["delete", "--force", id], &self.scratch).trace);
        // Its init was re-parented to the lab: collect it once it is gone (a zombie
        // still holds its cgroups on v2 until it is reaped).
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(nix::errno::Errno::ECHILD) => {
                    // Not the lab's child (reaped already, or never re-parented to it).
                    wait_gone(pid, Duration::from_secs(5));
                    break;
                }
                _ => break,
            }
        }
        // runc removes the container's cgroups; whatever it left, the lab removes. A
        // cgroup whose last process has just died may refuse rmdir (EBUSY) for a moment
        // while the kernel takes it offline: wait for each to go first.
        if let Some(cg) = self.named_cgroups.get(name) {
            let scratch = self.scratch.clone();
            let sys = crate::runtime::LinuxSyscalls::new(None, "lab");
            let deadline = Instant::now() + Duration::from_secs(5);
            while cg.dirs.iter().any(|d| d.path.exists()) && Instant::now() < deadline {
                for d in &cg.dirs {
                    let _ = std::fs::remove_dir(&d.path);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            for d in cg.dirs.iter().filter(|d| d.path.exists()) {
                trace.push(format!(
                    "{:>7}  {} was left by runc: removing it",
                    "lab",
                    d.path.display()
                ));
                let _ = crate::runtime::cgroup::remove_tree(
                    &sys,
                    &d.path,
                    d.v2,
                    &|p| state::has_lab_mark(p, &scratch),
                    None,
                );
            }
        }
        let _ = self.state.forget(pid);
        let _ = self.state.forget_runc(id);
        let _ = std::fs::remove_dir_all(&rec.bundle);
        trace
    }

    /// A live container by name.
    #[must_use]
    pub fn container(&self, name: &str) -> Option<&LiveProcess> {
        self.containers.get(name)
    }

    /// A decoy by name.
    #[must_use]
    pub fn decoy(&self, name: &str) -> Option<&LiveProcess> {
        self.decoys.get(name)
    }

    /// A container or decoy by name, running or stopped (for templates).
    #[must_use]
    pub fn any_process(&self, name: &str) -> Option<&LiveProcess> {
        self.containers
            .get(name)
            .or_else(|| self.decoys.get(name))
            .or_else(|| self.stopped.get(name))
    }

    /// Names of live containers, sorted.
    #[must_use]
    pub fn container_names(&self) -> Vec<String> {
        self.containers.keys().cloned().collect()
    }

    /// Reap whatever has exited among our children (decoys killed from inside a
    /// container, orphans re-parented to us as subreaper) without blocking.
    pub fn reap(&mut self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => self.mark_ended(pid, code),
                Ok(WaitStatus::Signaled(pid, sig, _)) => self.mark_ended(pid, 128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    fn mark_ended(&mut self, pid: Pid, code: i32) {
        for p in self.decoys.values_mut().chain(self.containers.values_mut()) {
            if p.child == pid {
                p.ended = Some(code);
            }
        }
        let _ = self.state.forget(pid);
    }

    /// Stop one container or decoy: SIGKILL its PID 1 (from the parent namespace, SIGKILL
    /// always reaches it), then reap our child, which returns once PID 1 is gone.
    ///
    /// # Errors
    /// Unknown name.
    pub fn stop(&mut self, name: &str) -> Result<Vec<String>, LabError> {
        let p = self
            .containers
            .remove(name)
            .or_else(|| self.decoys.remove(name))
            .ok_or_else(|| LabError::UnknownName {
                name: name.to_string(),
            })?;
        let mut trace = Vec::new();
        if let Some(id) = &p.runc {
            trace = self.delete_runc(name, id, p.pid1);
        } else if p.ended.is_none() {
            if self.state.owns(p.pid1) {
                let _ = nix::sys::signal::kill(p.pid1, Signal::SIGKILL);
                trace.push(format!("{:>7}  kill({}, SIGKILL) = 0", "lab", p.pid1));
            }
            spawn::kill_and_reap(p.child);
        }
        wait_gone(p.pid1, Duration::from_secs(5));
        let _ = self.state.forget(p.child);
        let _ = self.state.forget(p.pid1);
        self.stopped.insert(name.to_string(), p);
        Ok(trace)
    }

    /// Send `sig` to the PID 1 of the running container or decoy `name` (kill(2), from
    /// the host's PID namespace), and return the trace line. The PID is signalled only
    /// while it still names the process the lab started (same start time, not a zombie).
    ///
    /// # Errors
    /// Unknown name; the process has already ended ([`LabError::Gone`]).
    pub fn signal(&mut self, name: &str, sig: Signal) -> Result<Vec<String>, LabError> {
        self.reap();
        let p = self
            .containers
            .get(name)
            .or_else(|| self.decoys.get(name))
            .ok_or_else(|| LabError::UnknownName {
                name: name.to_string(),
            })?;
        if p.ended.is_some() || !self.state.owns(p.pid1) {
            return Err(LabError::Gone {
                name: name.to_string(),
            });
        }
        let r = nix::sys::signal::kill(p.pid1, sig);
        let shown = match r {
            Ok(()) => "0".to_string(),
            Err(e) => format!("-1 {e:?} ({})", e.desc()),
        };
        Ok(vec![format!(
            "{:>7}  kill({}, {}) = {shown}",
            "lab",
            p.pid1,
            sig.as_str()
        )])
    }

    /// Stop every container and decoy, newest first.
    pub fn stop_all(&mut self) {
        let mut names: Vec<String> = self
            .containers
            .keys()
            .chain(self.decoys.keys())
            .cloned()
            .collect();
        names.reverse();
        for n in names {
            let _ = self.stop(&n);
        }
        self.reap();
    }

    /// SIGKILL and reap every child of the lab that is not one of its running
    /// containers or decoys: orphans re-parented to the lab (its subreaper) from a shell
    /// that has exited. Only the lab's own unreaped children are signalled, so no PID
    /// can name a stranger. Returns how many.
    pub fn stop_strays(&mut self) -> usize {
        let keep: Vec<Pid> = self
            .containers
            .values()
            .chain(self.decoys.values())
            .filter(|p| p.ended.is_none())
            .map(|p| p.child)
            .collect();
        let me = nix::unistd::getpid();
        let children: Vec<Pid> = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .map(Pid::from_raw)
            .filter(|p| !keep.contains(p))
            .collect();
        for &c in &children {
            spawn::kill_and_reap(c);
        }
        children.len()
    }

    /// A path inside the scratch directory; `rel` must be relative and stay inside.
    ///
    /// # Errors
    /// [`LabError::OutsideLab`] for absolute paths or `..`.
    pub fn scratch_path(&self, rel: &str) -> Result<PathBuf, LabError> {
        let p = Path::new(rel);
        if p.is_absolute()
            || p.components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(LabError::OutsideLab {
                path: rel.to_string(),
            });
        }
        Ok(self.scratch.join(p))
    }

    /// Tear down everything: containers, decoys, scratch directory, state file.
    pub fn teardown(&mut self) {
        // Links first, while the namespaces holding them are still there.
        self.delete_links();
        self.stop_all();
        // A runc container recorded but not registered (its start was interrupted).
        for r in self.state.runc().to_vec() {
            state::delete_runc(&r, &self.scratch);
            let _ = self.state.forget_runc(&r.id);
        }
        // Whatever the lab's processes started and left: orphans re-parented to us, and
        // anything else carrying the lab's mark.
        spawn::kill_orphans();
        // Until none is left: a process killed here may still be there for a moment.
        state::kill_marked_until_gone(&self.scratch, Instant::now() + state::GONE_LIMIT);
        spawn::kill_orphans();
        self.remove_cgroups();
        if self.scratch.exists() {
            let _ = state::remove_tree(&self.scratch, &crate::paths::run_dir());
        }
        self.state.remove();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// True when `pid` is `ancestor` or one of its descendants (parent links in
/// /proc/PID/stat, field 4).
fn descends_from(pid: i32, ancestor: u32) -> bool {
    let mut p = pid;
    for _ in 0..64 {
        if p <= 1 {
            return false;
        }
        if u32::try_from(p).is_ok_and(|p| p == ancestor) {
            return true;
        }
        let Some(pp) = std::fs::read_to_string(format!("/proc/{p}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(") ")
                    .and_then(|(_, r)| r.split(' ').nth(1)?.parse().ok())
            })
        else {
            return false;
        };
        p = pp;
    }
    false
}

/// Wait until `pid` no longer exists (or is a zombie someone else must reap), at most `limit`.
fn wait_gone(pid: Pid, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return,
            Ok(s) if s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')) => return,
            Ok(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

fn startup_error(sp: &Spawned, spec: &ContainerSpec) -> Option<String> {
    if let Some((call, errno)) = &sp.setup_failure {
        return Some(crate::runtime::error::explain_setup_failure(
            call,
            *errno,
            spec.root.as_deref(),
        ));
    }
    if let Some((prog, errno)) = &sp.exec_failure {
        return Some(explain_exec_failure(prog, *errno, spec.root.as_deref()));
    }
    None
}

/// One sentence for a failed execve, naming the missing file inside the rootfs when
/// ENOENT hides a missing ELF interpreter or library (pitfall R3).
#[must_use]
pub fn explain_exec_failure(prog: &str, errno: nix::errno::Errno, root: Option<&Path>) -> String {
    if errno == nix::errno::Errno::ENOENT
        && let Some(root) = root
        && let Some(d) = crate::rootfs::elf::diagnose_enoent(root, prog)
    {
        return d;
    }
    format!(
        "execve {prog} failed: {} ({})",
        crate::runtime::syscalls::errno_name(errno),
        errno.desc()
    )
}

/// What a failed execve looks like in a step's output: first the kernel's answer as a
/// shell or chroot(8) prints it, then fromscratch's explanation of it.
#[must_use]
pub fn exec_failure_report(prog: &str, errno: nix::errno::Errno, root: Option<&Path>) -> String {
    let plain = format!("{prog}: {}\n", errno.desc());
    let why = explain_exec_failure(prog, errno, root);
    if why.starts_with("execve ") {
        plain
    } else {
        format!("{plain}fromscratch: {why}\n")
    }
}

/// The lab's errors.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// Two live things cannot share a name.
    #[error(
        "a container or decoy named `{name}` is already running; stop it first or pick another name"
    )]
    NameTaken {
        /// The name.
        name: String,
    },
    /// No live thing has this name.
    #[error("no container or decoy named `{name}` is running; start it first")]
    UnknownName {
        /// The name.
        name: String,
    },
    /// A name that would become a path component is not a plain name.
    #[error("{what} name `{name}` is not a plain name: use only letters, digits, `-` and `_`")]
    BadName {
        /// What it names.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// The named process has already ended; nothing was signalled.
    #[error(
        "`{name}` has already ended, so it was not signalled (its PID may belong to another process by now); start it again first"
    )]
    Gone {
        /// The name.
        name: String,
    },
    /// A lesson path that would leave the lab's scratch directory.
    #[error(
        "path `{path}` leaves the lab's scratch directory; lesson paths must be relative, without `..`"
    )]
    OutsideLab {
        /// The path as written.
        path: String,
    },
    /// Starting a container failed in a syscall.
    #[error("{message}")]
    Setup {
        /// One sentence: the call, the rule, the fix.
        message: String,
        /// The trace up to the failure.
        trace: Vec<String>,
    },
    /// The runtime failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A cgroup could not be made or set.
    #[error(transparent)]
    Cgroup(#[from] crate::runtime::cgroup::CgroupError),
}

impl crate::error::Classify for LabError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::NameTaken { .. }
            | Self::UnknownName { .. }
            | Self::OutsideLab { .. }
            | Self::BadName { .. } => crate::error::EXIT_BAD_INPUT,
            Self::Setup { .. } => crate::error::EXIT_HOST_CANNOT,
            Self::Gone { .. } => crate::error::EXIT_CHECK_FAILED,
            Self::Runtime(e) => e.exit_code(),
            Self::Cgroup(e) => e.exit_code(),
        }
    }
}
