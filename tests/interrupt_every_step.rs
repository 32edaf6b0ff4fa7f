//! Interruption at every step of every lesson (issue 7, item 2), as root and as the
//! unprivileged user.
//!
//! For each lesson in `lessons/` and each of its steps N, `fromscratch run LESSON --yes`
//! runs in a private run directory (a [`Lab`]) with `FROMSCRATCH_PAUSE_AT_STEP=N`
//! (src/lab/fault.rs): the lab stops inside step N at the point where the most it made
//! is alive (after the action; in a challenge step, after the reference solution is
//! typed, its shell still running) and says so on stderr. The test waits for that line
//! (a real wait on output, never a sleep), then signals the fromscratch process:
//!
//! - SIGINT or SIGTERM: once it has exited, its code is the documented one (130, 143),
//!   stderr carries the one sentence "interrupted: everything the lab started was
//!   stopped and removed", and the host snapshot (mounts, the lab's processes, run
//!   files, links, cgroups) equals the one taken before, at once;
//! - SIGKILL: `fromscratch cleanup` exits 0, and then the snapshot equals the one before.
//!
//! As root every step gets all three signals (the full cross product), one `#[test]`
//! per lesson and signal (`lesson_09_network_namespace::sigkill`), so nextest spreads
//! them over the cores and none runs long (lesson 09, 14 steps, is the longest: about
//! 25 s a signal on a 2-core VM; the whole file about 160 s of wall time). As the user
//! ([`common::test_user`] through setpriv, as in tests/rootless.rs; every lesson with
//! `[requires] root = false`), to bound CI time, one `#[test]` per lesson gives each
//! step one signal, rotated: SIGINT, SIGTERM or SIGKILL by (N + L) mod 3 for step N of
//! the lesson numbered L, so across a lesson's steps (each has at least three) every
//! (lesson, signal) pair appears, and the rotation shifts from lesson to lesson. Guard
//! tests fail when a lesson exists that has no test here.
//!
//! Beside the matrix: a probe that hangs (`sleep 3600`, stopped by the probe timeout),
//! a full disk during a rootfs build (a 2 MiB tmpfs cache, in a mount namespace of the
//! test's own), and a panic inside a step (the debug-build hook `FROMSCRATCH_PANIC_AT_STEP`).

mod common;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{Lab, Snapshot, require_root, text};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a run may take to reach the pause of step N (a debug build on 2 busy cores;
/// lesson 10's OOM step is the slowest).
const REACH: Duration = Duration::from_secs(120);

/// The signal step `n` (1-based) of the lesson numbered `lesson` gets in the rotated
/// matrix: SIGINT, SIGTERM or SIGKILL by (N + L) mod 3.
fn rotated(lesson: usize, n: usize) -> Signal {
    [Signal::SIGINT, Signal::SIGTERM, Signal::SIGKILL][(n + lesson) % 3]
}

/// The number of steps of lesson `id`, from its file as the binary loads it.
fn steps_of(id: &str) -> usize {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("lessons")
        .join(format!("{id}.toml"));
    fromscratch::lesson::load(&path)
        .unwrap_or_else(|e| panic!("{id}: {e}"))
        .def
        .steps
        .len()
}

/// A run of the binary whose stderr lines arrive on a channel and whose stdout is
/// collected by a thread (so neither pipe can fill and block it).
struct Watched {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    stdout: std::thread::JoinHandle<String>,
}

impl Watched {
    fn start(mut cmd: std::process::Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn fromscratch");
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = out.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        });
        let err = BufReader::new(child.stderr.take().unwrap());
        let (tx, lines) = mpsc::channel();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let all = stderr.clone();
        std::thread::spawn(move || {
            for l in err.lines().map_while(Result::ok) {
                all.lock().unwrap().push_str(&format!("{l}\n"));
                let _ = tx.send(l);
            }
        });
        Self {
            child,
            lines,
            stderr,
            stdout,
        }
    }

    /// Wait for a stderr line containing `want`; false when stderr closed (the process
    /// ended) or `REACH` passed first.
    fn wait_line(&self, want: &str) -> bool {
        let deadline = std::time::Instant::now() + REACH;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(want) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }

    /// Wait for the process; its exit code (None: killed by a signal), stdout, stderr.
    fn finish(mut self) -> (Option<i32>, String, String) {
        let status = self.child.wait().expect("wait");
        let stdout = self.stdout.join().unwrap();
        // stderr's thread ends at EOF, once every writer (the lab's children too) is gone.
        let _ = common::wait_for(10, || {
            matches!(
                self.lines.recv_timeout(Duration::from_millis(50)),
                Err(mpsc::RecvTimeoutError::Disconnected)
            )
        });
        let stderr = self.stderr.lock().unwrap().clone();
        (status.code(), stdout, stderr)
    }
}

/// Who runs the lessons, and where.
enum Who {
    /// Root, with the test cache.
    Root,
    /// The unprivileged [`common::test_user`], through setpriv, with a copy of the
    /// binary it can run and a rootfs cache of its own (built once, by the user).
    User {
        dir: tempfile::TempDir,
        bin: std::path::PathBuf,
        uid: u32,
    },
}

/// One run's private world: its run and state directories.
struct World<'a> {
    who: &'a Who,
    run: std::path::PathBuf,
    state: std::path::PathBuf,
    /// Root's: a [`Lab`] (dropped with the world).
    _lab: Option<Lab>,
}

impl Who {
    fn user() -> Self {
        let uid = common::test_user();
        let (dir, bin) = common::user_dir("fs-test-interrupt-", &["cache"], uid, uid);
        let who = Self::User { dir, bin, uid };
        let out = who
            .world("build")
            .cmd(&["rootfs", "build", "host"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the user's rootfs build: {:?}",
            text(&out)
        );
        who
    }

    /// A fresh world named `name` (unique within this `Who`).
    fn world(&self, name: &str) -> World<'_> {
        match self {
            Self::Root => {
                let lab = Lab::new();
                World {
                    who: self,
                    run: lab.run.path().to_path_buf(),
                    state: lab.state.path().to_path_buf(),
                    _lab: Some(lab),
                }
            }
            Self::User { dir, uid, .. } => {
                let mk = |d: String| {
                    let p = dir.path().join(d);
                    std::fs::create_dir(&p).unwrap();
                    nix::unistd::chown(
                        &p,
                        Some(nix::unistd::Uid::from_raw(*uid)),
                        Some(nix::unistd::Gid::from_raw(*uid)),
                    )
                    .unwrap();
                    p
                };
                World {
                    who: self,
                    run: mk(format!("run-{name}")),
                    state: mk(format!("state-{name}")),
                    _lab: None,
                }
            }
        }
    }
}

impl World<'_> {
    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = match self.who {
            Who::Root => {
                let mut c = std::process::Command::new(common::bin());
                c.env("FROMSCRATCH_CACHE", common::cache_dir());
                c
            }
            Who::User { dir, bin, uid } => {
                let mut c = std::process::Command::new("setpriv");
                c.args([
                    format!("--reuid={uid}"),
                    format!("--regid={uid}"),
                    "--clear-groups".to_string(),
                ])
                .arg(bin)
                .current_dir("/")
                .env("FROMSCRATCH_CACHE", dir.path().join("cache"));
                c
            }
        };
        c.args(args)
            .env("FROMSCRATCH_RUN", &self.run)
            .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
            .env("XDG_STATE_HOME", &self.state)
            .env("NO_COLOR", "1")
            .env_remove("SUDO_USER")
            .env_remove("SUDO_UID")
            .env_remove("SUDO_GID")
            .stdin(Stdio::null());
        c
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot::take(&self.run)
    }
}

/// Interrupt lesson `id` (numbered `number`) inside each of its steps, as the module
/// header says, and check the host after each: with the signal `only`, or one a step,
/// rotated.
fn every_step(number: usize, id: &str, who: &Who, only: Option<Signal>) {
    require_root();
    common::host_rootfs();
    let total = steps_of(id);
    let runs: Vec<(usize, Signal)> = (1..=total)
        .map(|n| (n, only.unwrap_or_else(|| rotated(number, n))))
        .collect();
    for (n, sig) in runs {
        let world = who.world(&format!("{n}-{}", sig.as_str()));
        let before = world.snapshot();
        let mut cmd = world.cmd(&["run", id, "--yes"]);
        cmd.env("FROMSCRATCH_PAUSE_AT_STEP", n.to_string());
        let run = Watched::start(cmd);
        let paused = run.wait_line(&format!("paused in step {n} "));
        let pid = Pid::from_raw(i32::try_from(run.child.id()).unwrap());
        if !paused {
            let _ = kill(pid, Signal::SIGKILL);
            let (code, stdout, stderr) = run.finish();
            let _ = world.cmd(&["cleanup"]).output();
            panic!("{id}: never paused in step {n}/{total} (exit {code:?}):\n{stdout}\n{stderr}");
        }
        // The pause holds the lab's state file (so the snapshot can see a leak). setpriv
        // execs the binary: the child's PID is the lab's.
        assert!(
            world
                .snapshot()
                .run_files
                .iter()
                .any(|f| f.ends_with(&format!("lab-{pid}.json"))),
            "{id}, step {n}: no state file while paused"
        );
        if let Who::User { uid, .. } = who {
            use std::os::unix::fs::MetadataExt;
            let state = world.run.join(format!("lab-{pid}.json"));
            assert_eq!(
                std::fs::metadata(&state).unwrap().uid(),
                *uid,
                "run as the user"
            );
        }
        kill(pid, sig).unwrap();
        let (code, stdout, stderr) = run.finish();
        let context = format!("{id}, step {n}/{total}, {sig}");
        assert!(
            stdout.contains(&format!("━━ Step {n}/{total} ")),
            "{context}: the step's heading is missing:\n{stdout}"
        );
        match sig {
            Signal::SIGKILL => {
                assert_eq!(code, None, "{context}: {stderr}");
                let out = world.cmd(&["cleanup"]).output().unwrap();
                let (cout, cerr) = text(&out);
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{context}: cleanup: {cout}\n{cerr}"
                );
            }
            _ => {
                let want = if sig == Signal::SIGINT { 130 } else { 143 };
                assert_eq!(code, Some(want), "{context}:\n{stdout}\n{stderr}");
                assert!(
                    stderr.contains(
                        "fromscratch: interrupted: everything the lab started was stopped and removed"
                    ),
                    "{context}: {stderr}"
                );
            }
        }
        assert_same(&before, &world.snapshot(), &context);
    }
}

#[track_caller]
fn assert_same(before: &Snapshot, after: &Snapshot, context: &str) {
    if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        before.assert_same(after);
    })) {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "?".into());
        panic!("{context}: {msg}");
    }
}

macro_rules! lessons {
    ($($name:ident: $number:literal $id:literal,)*) => {
        $(
            mod $name {
                use super::*;

                #[test]
                fn sigint() {
                    every_step($number, $id, &Who::Root, Some(Signal::SIGINT));
                }

                #[test]
                fn sigterm() {
                    every_step($number, $id, &Who::Root, Some(Signal::SIGTERM));
                }

                #[test]
                fn sigkill() {
                    every_step($number, $id, &Who::Root, Some(Signal::SIGKILL));
                }
            }
        )*

        /// Every lesson in lessons/ has its test above.
        #[test]
        fn every_lesson_is_in_the_matrix() {
            let mut ids: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/lessons"))
                .unwrap()
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.strip_suffix(".toml").map(String::from))
                .collect();
            ids.sort();
            assert_eq!(ids, vec![$($id.to_string()),*]);
        }
    };
}

lessons! {
    lesson_01_rootfs: 1 "01-rootfs",
    lesson_02_chroot: 2 "02-chroot",
    lesson_03_host_processes: 3 "03-host-processes",
    lesson_04_pid_namespace: 4 "04-pid-namespace",
    lesson_05_mount_namespace: 5 "05-mount-namespace",
    lesson_06_pivot_root: 6 "06-pivot-root",
    lesson_07_uts_ipc: 7 "07-uts-ipc",
    lesson_08_user_namespace: 8 "08-user-namespace",
    lesson_09_network_namespace: 9 "09-network-namespace",
    lesson_10_cgroups: 10 "10-cgroups",
    lesson_11_overlayfs: 11 "11-overlayfs",
    lesson_12_volumes: 12 "12-volumes",
    lesson_13_enter_container: 13 "13-enter-container",
    lesson_14_pid1: 14 "14-pid1",
    lesson_15_caps_seccomp: 15 "15-caps-seccomp",
    lesson_16_pod: 16 "16-pod",
    lesson_17_debug_a_real_container: 17 "17-debug-a-real-container",
}

/// A data directory (`FROMSCRATCH_DATA`) holding the real recipes and one lesson file,
/// `lessons/ID.toml`, with `text`.
fn data_dir_with(id: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("fs-test-data-")
        .tempdir()
        .unwrap();
    std::fs::create_dir(dir.path().join("lessons")).unwrap();
    std::fs::write(dir.path().join(format!("lessons/{id}.toml")), text).unwrap();
    std::os::unix::fs::symlink(
        concat!(env!("CARGO_MANIFEST_DIR"), "/rootfs-recipes"),
        dir.path().join("rootfs-recipes"),
    )
    .unwrap();
    dir
}

/// A lesson whose step 1 starts a container (`sleep 7200`) and whose step 2 has a probe
/// that never ends (`sleep 3600`).
const HANG_LESSON: &str = r#"format_version = 1
id = "97-hang"
title = "A probe that hangs"
summary = "A container runs; then a probe sleeps for an hour."
objectives = ["Prove a hung probe is stopped and everything is removed."]

[requires]
root = false
rootfs = "host"

[[steps]]
id = "start"
title = "A container"
explain = "The lab starts container c."
action = { kind = "start", container = "c" }

[[steps]]
id = "hang"
title = "A probe that never ends"
explain = "The probe sleeps for an hour."
action = { kind = "observe" }

[[steps.before]]
label = "hang"
context = "host"
command = ["sleep", "3600"]

[containers.c]
root = "rootfs"
pid = true
mount_proc = true
init = true
command = ["sleep", "7200"]
"#;

/// A container is running (step 1) when a probe of step 2 hangs in `sleep 3600`: the
/// probe timeout kills it, the lesson stops with the documented sentence (exit 1), and
/// the container, the sleep and the lab's files are gone.
#[test]
fn a_probe_that_hangs_is_stopped_by_the_timeout_and_the_host_is_unchanged() {
    require_root();
    common::host_rootfs();
    let data = data_dir_with("97-hang", HANG_LESSON);
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab
        .cmd(&["run", "97-hang", "--yes"])
        .env("FROMSCRATCH_DATA", data.path())
        .env("FROMSCRATCH_TIMEOUT", "2")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(stdout.contains("━━ Step 2/2 "), "{stdout}\n{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(
        stderr.trim(),
        "fromscratch: the command did not finish within 2 s and was killed",
        "{stdout}"
    );
    lab.snapshot().assert_same(&before);
}

/// `rootfs build host` into a cache on a 2 MiB tmpfs (mounted in a mount namespace of
/// the test's own, so the host never sees it): the build fails with one sentence that
/// names the full disk, and the cache holds no tree, finished or half-built.
#[test]
fn a_full_disk_during_a_rootfs_build_is_one_sentence_and_leaves_no_tree() {
    require_root();
    let lab = Lab::new();
    let before = lab.snapshot();
    let cache = tempfile::Builder::new()
        .prefix("fs-test-full-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let script = r#"mount -t tmpfs -o size=2m fs-test-full "$FROMSCRATCH_CACHE" || exit 99
"$BIN" rootfs build host
echo "exit=$?" >&3
find "$FROMSCRATCH_CACHE" -mindepth 1 >&3"#;
    // fd 3 (the report) is the test's: stdout and stderr are the binary's own.
    let report = tempfile::NamedTempFile::new().unwrap();
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!("exec 3>\"$REPORT\"; {script}"))
        .env("FROMSCRATCH_RUN", lab.run.path())
        .env("FROMSCRATCH_CACHE", cache.path())
        .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
        .env("XDG_STATE_HOME", lab.state.path())
        .env("NO_COLOR", "1")
        .env("BIN", common::bin())
        .env("REPORT", report.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    let report = std::fs::read_to_string(report.path()).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}\n{report}");
    let mut lines = report.lines();
    let code = lines.next().unwrap_or("");
    assert_eq!(code, "exit=3", "{report}\n{stdout}\n{stderr}");
    let err: Vec<&str> = stderr.lines().collect();
    assert_eq!(err.len(), 1, "one sentence: {stderr}");
    assert!(
        err[0].starts_with("fromscratch: cannot copy a file to ")
            && err[0].contains(": the filesystem holding it is full (No space left on device")
            && err[0].ends_with(
                ": free space there, or set FROMSCRATCH_CACHE to a directory on a larger filesystem"
            ),
        "{stderr}"
    );
    let left: Vec<&str> = lines.collect();
    assert!(
        left.iter().all(|p| !p.contains("/rootfs/")),
        "a tree was left in the cache:\n{}",
        left.join("\n")
    );
    lab.snapshot().assert_same(&before);
}

/// A panic inside a step (the debug-build hook `FROMSCRATCH_PANIC_AT_STEP`): in lesson
/// 04's step 4 its container and decoy are running, in step 7 the challenge shell the
/// lab types into. The panic unwinds through the lab's `Drop`, which stops and removes
/// everything before the process ends with Rust's panic status, 101.
#[test]
#[cfg(debug_assertions)]
fn a_panic_inside_a_step_still_tears_everything_down() {
    require_root();
    common::host_rootfs();
    for n in ["4", "7"] {
        let lab = Lab::new();
        let before = lab.snapshot();
        let out = lab
            .cmd(&["run", "04", "--yes"])
            .env("FROMSCRATCH_PANIC_AT_STEP", n)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(
            stdout.contains(&format!("━━ Step {n}/7 ")),
            "{stdout}\n{stderr}"
        );
        assert_eq!(out.status.code(), Some(101), "step {n}: {stdout}\n{stderr}");
        assert!(
            stderr.contains(&format!(
                "FROMSCRATCH_PANIC_AT_STEP={n}: a panic on purpose, inside step {n}"
            )),
            "{stderr}"
        );
        assert_same(&before, &lab.snapshot(), &format!("a panic in step {n}"));
    }
}

macro_rules! as_user {
    ($($name:ident: $number:literal $id:literal,)*) => {
        $(
            #[test]
            fn $name() {
                every_step($number, $id, &Who::user(), None);
            }
        )*

        /// Every lesson that runs as a user (`[requires] root = false`) has its test above.
        #[test]
        fn every_rootless_lesson_is_in_the_user_matrix() {
            let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/lessons"));
            let mut ids: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.strip_suffix(".toml").map(String::from))
                .filter(|id| {
                    !fromscratch::lesson::load(&dir.join(format!("{id}.toml")))
                        .unwrap()
                        .def
                        .requires
                        .root
                })
                .collect();
            ids.sort();
            assert_eq!(ids, vec![$($id.to_string()),*]);
        }
    };
}

as_user! {
    as_user_lesson_01_rootfs: 1 "01-rootfs",
    as_user_lesson_02_chroot: 2 "02-chroot",
    as_user_lesson_03_host_processes: 3 "03-host-processes",
    as_user_lesson_04_pid_namespace: 4 "04-pid-namespace",
    as_user_lesson_05_mount_namespace: 5 "05-mount-namespace",
    as_user_lesson_06_pivot_root: 6 "06-pivot-root",
    as_user_lesson_07_uts_ipc: 7 "07-uts-ipc",
    as_user_lesson_08_user_namespace: 8 "08-user-namespace",
    as_user_lesson_09_network_namespace: 9 "09-network-namespace",
    as_user_lesson_11_overlayfs: 11 "11-overlayfs",
    as_user_lesson_12_volumes: 12 "12-volumes",
    as_user_lesson_13_enter_container: 13 "13-enter-container",
    as_user_lesson_14_pid1: 14 "14-pid1",
    as_user_lesson_15_caps_seccomp: 15 "15-caps-seccomp",
    as_user_lesson_16_pod: 16 "16-pod",
}

/// SIGTERM while the hung probe runs (the test waits until its `sleep 3600` is there):
/// the lab stops it, the container and everything else at once, and exits 143, not 1
/// after the probe's timeout (20 s here).
#[test]
fn sigterm_while_a_probe_hangs_stops_it_and_the_host_is_unchanged() {
    require_root();
    common::host_rootfs();
    let data = data_dir_with("97-hang", HANG_LESSON);
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut cmd = lab.cmd(&["run", "97-hang", "--yes"]);
    cmd.env("FROMSCRATCH_DATA", data.path());
    let run = Watched::start(cmd);
    let probing = common::wait_for(60, || {
        lab.snapshot()
            .lab_processes
            .iter()
            .any(|p| p.ends_with(" sleep 3600 "))
    });
    let pid = Pid::from_raw(i32::try_from(run.child.id()).unwrap());
    if !probing {
        let _ = kill(pid, Signal::SIGKILL);
        let (code, stdout, stderr) = run.finish();
        let _ = lab.run(&["cleanup"]);
        panic!("the probe never ran (exit {code:?}):\n{stdout}\n{stderr}");
    }
    kill(pid, Signal::SIGTERM).unwrap();
    let (code, stdout, stderr) = run.finish();
    assert_eq!(code, Some(143), "{stdout}\n{stderr}");
    assert_eq!(
        stderr.trim(),
        "fromscratch: interrupted: everything the lab started was stopped and removed"
    );
    lab.snapshot().assert_same(&before);
}
