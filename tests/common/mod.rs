//! Shared helpers for the integration tests: run the real binary in a private run
//! directory, and prove the host is unchanged afterwards.
#![allow(dead_code)]

pub mod load_lesson;
pub mod pty;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fromscratch")
}

/// A rootfs cache shared by the tests of one build (under target/, never the host's).
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fromscratch-cache")
}

/// Fail with a clear message unless root: the lessons need it.
#[track_caller]
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root (CI runs as root): run the suite with sudo"
    );
}

/// One test's world: a private run directory (the lab's scratch and state files), and
/// a private XDG state directory (the learner's progress), never the real user's.
pub struct Lab {
    pub run: tempfile::TempDir,
    pub state: tempfile::TempDir,
}

impl Lab {
    pub fn new() -> Self {
        Self {
            run: tempfile::Builder::new()
                .prefix("fs-test-run-")
                .tempdir()
                .expect("tempdir"),
            state: tempfile::Builder::new()
                .prefix("fs-test-state-")
                .tempdir()
                .expect("tempdir"),
        }
    }

    /// The progress file the binary writes for this lab.
    pub fn progress_file(&self) -> PathBuf {
        self.state.path().join("fromscratch/progress.json")
    }

    /// A command for the binary with this lab's environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .env("FROMSCRATCH_RUN", self.run.path())
            .env("FROMSCRATCH_CACHE", cache_dir())
            .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
            .env("NO_COLOR", "1")
            .env("XDG_STATE_HOME", self.state.path())
            // A suite run through sudo must not make the binary act for the sudo user.
            .env_remove("SUDO_USER")
            .env_remove("SUDO_UID")
            .env_remove("SUDO_GID")
            .stdin(Stdio::null());
        c
    }

    /// Run to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run fromscratch")
    }

    /// Run with `input` on stdin.
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait")
    }

    /// `fromscratch spawn FLAGS --rootfs ROOT -- CMD` in this lab: its exit status (-1 when
    /// killed by a signal), stdout and stderr.
    pub fn spawn(&self, root: &Path, flags: &[&str], cmd: &[&str]) -> (i32, String, String) {
        let mut args = vec!["spawn"];
        args.extend_from_slice(flags);
        let r = root.display().to_string();
        args.extend_from_slice(&["--rootfs", &r, "--"]);
        args.extend_from_slice(cmd);
        let out = self.run(&args);
        let (o, e) = text(&out);
        (out.status.code().unwrap_or(-1), o, e)
    }

    /// A snapshot of everything this lab could have left on the host.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::take(self.run.path())
    }
}

/// What the host looks like, as far as the lab can touch it: the product's own
/// [`fromscratch::hoststate`] readings, narrowed to this test's lab where a lab running
/// beside it (another test) could change them.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Mount points as `TARGET ROOT FSTYPE SOURCE` (mount IDs left out).
    pub mounts: BTreeSet<String>,
    /// Processes carrying this lab's mark in their environment, or rooted in its run dir.
    pub lab_processes: BTreeSet<String>,
    /// Files under the run directory.
    pub run_files: BTreeSet<String>,
    /// Network links.
    pub links: BTreeSet<String>,
    /// Cgroups a lab left: `fromscratch-PID` directories under /sys/fs/cgroup whose lab
    /// PID is no longer running (a live lab's belong to a test running beside this one),
    /// `fromscratch.enabled.*` markers where no live lab is, and each cgroup2 root's
    /// `cgroup.subtree_control` while no lab directory is there.
    pub cgroups: BTreeSet<String>,
}

/// See [`Snapshot::cgroups`].
fn cgroup_leftovers() -> BTreeSet<String> {
    use fromscratch::hoststate;
    let dirs = hoststate::cgroup_dirs();
    let live_lab_on = hoststate::live_lab_cgroup_parents(&dirs);
    let mut out = hoststate::cgroup_leftovers(&dirs);
    for (target, ctl) in hoststate::subtree_control() {
        if !live_lab_on.contains(&target) {
            out.insert(format!("{target}/cgroup.subtree_control: {ctl}"));
        }
    }
    out
}

impl Snapshot {
    pub fn take(run: &Path) -> Self {
        let mark = run.display().to_string();
        let mut lab_processes = BTreeSet::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let environ = std::fs::read(e.path().join("environ")).unwrap_or_default();
            let environ = String::from_utf8_lossy(&environ);
            if environ.contains(&mark) {
                let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                // Forked helpers (the intermediate, our init) keep the binary's
                // environment, with FROMSCRATCH_RUN: they count too. Snapshots are taken
                // only while no fromscratch this test started is running.
                lab_processes.insert(format!("{name} {cmdline}"));
            }
        }
        let run_files = walkdir::WalkDir::new(run)
            .min_depth(1)
            .into_iter()
            .flatten()
            .map(|e| e.path().display().to_string())
            .collect();
        Self {
            mounts: fromscratch::hoststate::mounts(),
            lab_processes,
            run_files,
            links: fromscratch::hoststate::links(),
            cgroups: cgroup_leftovers(),
        }
    }

    /// Panic naming every difference between two snapshots.
    #[track_caller]
    pub fn assert_same(&self, after: &Snapshot) {
        let mut diffs = Vec::new();
        for (what, a, b) in [
            ("mount", &self.mounts, &after.mounts),
            ("lab process", &self.lab_processes, &after.lab_processes),
            ("file in the run dir", &self.run_files, &after.run_files),
            ("network link", &self.links, &after.links),
            ("cgroup", &self.cgroups, &after.cgroups),
        ] {
            // A cgroup2 root's subtree_control is compared only when both snapshots
            // could read it (a lab of a test running beside this one was not there).
            let unseen = |x: &String, other: &BTreeSet<String>| {
                x.split_once("/cgroup.subtree_control: ")
                    .is_some_and(|(m, _)| {
                        !other
                            .iter()
                            .any(|o| o.starts_with(&format!("{m}/cgroup.subtree_control: ")))
                    })
            };
            for x in b.difference(a) {
                if !unseen(x, a) {
                    diffs.push(format!("new {what}: {x}"));
                }
            }
            for x in a.difference(b) {
                if !unseen(x, b) {
                    diffs.push(format!("{what} gone: {x}"));
                }
            }
        }
        assert!(diffs.is_empty(), "the host changed:\n{}", diffs.join("\n"));
    }
}

/// Wait until `pred` holds, polling, for at most `secs` seconds; false if it never did.
pub fn wait_for(secs: u64, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if pred() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    pred()
}

/// Build the host rootfs into the test cache (once; later calls are cache hits) and
/// return its path.
pub fn host_rootfs() -> PathBuf {
    let lab = Lab::new();
    let out = lab.run(&["rootfs", "build", "host"]);
    assert!(
        out.status.success(),
        "rootfs build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("a path on the last line")
            .trim(),
    )
}

pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A private rootfs cache for a library-level test, under /var/tmp (not /tmp, which may
/// be a noexec tmpfs: pitfall R2), set as `FROMSCRATCH_CACHE` for this process. Each test
/// runs alone in its process under nextest, so the environment is this test's own.
pub fn private_cache() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("fromscratch-test-")
        .tempdir_in("/var/tmp")
        .expect("tempdir");
    #[allow(unsafe_code)]
    // SAFETY: nextest runs this test alone in its process; nothing else reads the environment.
    unsafe {
        std::env::set_var("FROMSCRATCH_CACHE", dir.path());
    }
    dir
}

/// Names in the rootfs cache directory (trees, metadata files, temporary trees).
pub fn cache_names() -> Vec<String> {
    match std::fs::read_dir(fromscratch::paths::cache_dir().join("rootfs")) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// `s` with the lab's wrapping undone: a line break and the indent after it become one
/// space, so a test can look for a sentence whatever the width it was wrapped to.
pub fn unwrapped(s: &str) -> String {
    let re = regex::Regex::new(r"\r?\n[ \t]+").expect("regex");
    re.replace_all(s, " ").into_owned()
}

/// Drive a lesson's challenge through the REPL on a pipe: `start N`, `run` (up to the
/// challenge), `check` (the report before any work), `skip` (the lab types the reference
/// solution), `quit`. Asserts the REPL exits 0; returns its output, [`unwrapped`].
#[track_caller]
pub fn check_then_skip(lab: &Lab, lesson: &str) -> String {
    let out = lab.run_with_input(&[], &format!("start {lesson}\nrun\ncheck\nskip\nquit\n"));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    unwrapped(&stdout)
}

/// Every entry of the tree with its type, mode, size and modification time: what any
/// write into the cached rootfs (a `/dev/null` file, a `__pycache__`, an `x`) changes.
#[allow(dead_code)]
pub fn manifest(root: &Path) -> std::collections::BTreeMap<String, String> {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| {
            let m = e.path().symlink_metadata().expect("metadata");
            (
                e.path().display().to_string(),
                format!(
                    "{:o} {} {}.{}",
                    m.mode(),
                    m.len(),
                    m.mtime(),
                    m.mtime_nsec()
                ),
            )
        })
        .collect()
}

/// The entries that differ between two manifests (changed, added or gone).
#[allow(dead_code)]
pub fn changed(
    before: &std::collections::BTreeMap<String, String>,
    now: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    now.iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .chain(before.keys().filter(|k| !now.contains_key(*k)).cloned())
        .collect()
}

/// A one-step challenge lesson (an `observe` step carrying `challenge`, the body of a
/// `[steps.challenge]` table) written to `dir/ID.toml`, on the host rootfs.
#[allow(dead_code)]
pub fn challenge_lesson(dir: &Path, id: &str, challenge: &str) -> PathBuf {
    let p = dir.join(format!("{id}.toml"));
    std::fs::write(
        &p,
        format!(
            r#"format_version = 1
id = "{id}"
title = "A one-step challenge"
summary = "One challenge step, for a test."
objectives = ["Reach the goal."]

[requires]
root = true
rootfs = "host"

[[steps]]
id = "only"
title = "The challenge"
explain = "Reach the goal."
action = {{ kind = "observe" }}

[steps.challenge]
{challenge}
"#
        ),
    )
    .expect("write lesson");
    p
}

/// The unprivileged user the rootless tests run as: `FROMSCRATCH_TEST_UID` (CI makes a
/// user of its own, whose uid is not the overflow uid 65534 that unmapped ids also show
/// as in a user namespace), or nobody.
#[must_use]
pub fn test_user() -> u32 {
    std::env::var("FROMSCRATCH_TEST_UID")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(65534)
}

/// A world-readable (0755) temporary directory named `PREFIX…` holding a copy of the
/// binary (mode 0755, so [`test_user`] can run it even when the checkout is under a
/// private home) and one subdirectory per name in `owned`, owned by `uid`:`gid`.
/// Returns the directory and the binary's path. Needs root (chown).
#[must_use]
pub fn user_dir(prefix: &str, owned: &[&str], uid: u32, gid: u32) -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    require_root();
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for d in owned {
        let p = dir.path().join(d);
        std::fs::create_dir(&p).unwrap();
        nix::unistd::chown(
            &p,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        )
        .unwrap();
    }
    let copy = dir.path().join("fromscratch");
    std::fs::copy(bin(), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, copy)
}
