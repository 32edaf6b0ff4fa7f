//! Rootless mode: `fromscratch spawn` run as nobody (setpriv) starts in a user namespace
//! whose maps the parent writes, then the other namespaces work as they do for root:
//! chroot, PID namespace with its own /proc, mount, UTS, network with `lo`. The host
//! keeps its mounts, hostname and processes. A masked /proc is one sentence naming it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Snapshot, require_root, text};

/// The unprivileged user the tests run as: `FROMSCRATCH_TEST_UID` (CI makes a user of
/// its own, whose uid is not the overflow uid 65534 that unmapped ids also show as), or
/// nobody. The gid used is the same number (setpriv --regid), whatever its groups.
fn user() -> u32 {
    common::test_user()
}

/// setpriv's arguments to become [`user`] with no supplementary groups.
fn setpriv_args() -> [String; 3] {
    let u = user();
    [
        format!("--reuid={u}"),
        format!("--regid={u}"),
        "--clear-groups".to_string(),
    ]
}

/// A world-readable directory (mode 0755) holding a rootfs built as root, and a run and a
/// state directory owned by nobody, with the binary nobody can execute.
struct World {
    dir: tempfile::TempDir,
    rootfs: PathBuf,
    bin: PathBuf,
}

impl World {
    fn new() -> Self {
        require_root();
        let dir = tempfile::Builder::new()
            .prefix("fs-rootless-")
            .tempdir()
            .expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let cache = dir.path().join("cache");
        let out = Command::new(common::bin())
            .args(["rootfs", "build", "host"])
            .env("FROMSCRATCH_CACHE", &cache)
            .env("FROMSCRATCH_RUN", dir.path().join("root-run"))
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "rootfs build failed: {stderr}");
        let rootfs = PathBuf::from(stdout.lines().last().expect("a path").trim());
        for d in ["run", "state"] {
            let p = dir.path().join(d);
            std::fs::create_dir(&p).unwrap();
            nix::unistd::chown(
                &p,
                Some(nix::unistd::Uid::from_raw(user())),
                Some(nix::unistd::Gid::from_raw(user())),
            )
            .unwrap();
        }
        // The binary, where nobody can reach it (the checkout may be under a private home).
        let mut bin = PathBuf::from(common::bin());
        if !nobody_can_exec(&bin) {
            let copy = dir.path().join("fromscratch");
            std::fs::copy(&bin, &copy).unwrap();
            bin = copy;
        }
        Self { dir, rootfs, bin }
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// `setpriv --reuid=UID --regid=UID --clear-groups fromscratch spawn --trace ARGS`.
    fn spawn_as_nobody(&self, args: &[&str]) -> Output {
        self.nobody_command(args).output().unwrap()
    }

    fn nobody_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("setpriv");
        c.args(setpriv_args())
            .arg(&self.bin)
            .args(["spawn", "--trace", "--rootfs"])
            .arg(&self.rootfs)
            .args(args)
            .current_dir("/")
            .env("FROMSCRATCH_RUN", self.run_dir())
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env("NO_COLOR", "1")
            .env_remove("SUDO_USER")
            .env_remove("SUDO_UID")
            .env_remove("SUDO_GID")
            .stdin(std::process::Stdio::null());
        c
    }
}

fn nobody_can_exec(bin: &Path) -> bool {
    Command::new("setpriv")
        .args([
            &format!("--reuid={}", user()),
            &format!("--regid={}", user()),
            "--clear-groups",
            "test",
            "-x",
        ])
        .arg(bin)
        .status()
        .is_ok_and(|s| s.success())
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn as_nobody_spawn_makes_a_user_namespace_first_and_the_shell_is_pid_1_with_its_own_proc() {
    let w = World::new();
    let before = Snapshot::take(&w.run_dir());
    let out = w.spawn_as_nobody(&[
        "--pid",
        "--mount-proc",
        "--",
        "sh",
        "-c",
        "echo $$; id -u; id -g; cat /proc/self/uid_map; ls /proc | grep -c '^[0-9]'",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "1", "the shell is PID 1: {stdout}");
    assert_eq!(lines[1], "0", "root inside: {stdout}");
    assert_eq!(lines[2], "0", "gid 0 inside: {stdout}");
    let map: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(
        map,
        vec!["0".to_string(), user().to_string(), "1".to_string()],
        "root inside is the user outside"
    );
    // Only our processes in the new /proc: sh (and ls, grep of the pipe).
    let count: usize = lines[4].trim().parse().unwrap();
    assert!((1..=3).contains(&count), "{stdout}");
    // The order in the trace: CLONE_NEWUSER alone, the parent's three writes, the rest.
    let trace: Vec<&str> = stderr.lines().map(str::trim).collect();
    let at = |needle: &str| {
        trace
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} in {stderr}"))
    };
    let line = format!("\", \"0 {} 1\\n\") = 0", user());
    let newuser = at("unshare(CLONE_NEWUSER) = 0");
    let uid = at(&format!("uid_map{line}"));
    let deny = at("setgroups\", \"deny\") = 0");
    let gid = at(&format!("gid_map{line}"));
    let rest = at("unshare(CLONE_NEWNS|CLONE_NEWPID) = 0");
    assert!(
        newuser < uid && uid < deny && deny < gid && gid < rest,
        "{stderr}"
    );
    assert!(trace[uid].starts_with("lab  write(\"/proc/"), "{stderr}");
    assert!(trace[newuser].starts_with("child  "), "{stderr}");
    Snapshot::take(&w.run_dir()).assert_same(&before);
}

#[test]
fn as_nobody_a_plain_chroot_sees_the_rootfs_as_its_root() {
    let w = World::new();
    let out = w.spawn_as_nobody(&["--", "ls", "/"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let mut expected: Vec<String> = std::fs::read_dir(&w.rootfs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    expected.sort();
    let mut seen: Vec<String> = stdout.split_whitespace().map(String::from).collect();
    seen.sort();
    assert_eq!(seen, expected);
    assert!(stderr.contains("chroot(\""), "{stderr}");
}

#[test]
fn as_nobody_a_mount_namespace_takes_a_tmpfs_the_host_never_sees() {
    let w = World::new();
    let before = Snapshot::take(&w.run_dir());
    let out = w.spawn_as_nobody(&[
        "--mount",
        "--",
        "sh",
        "-c",
        "mount -t tmpfs rootless-tmp /tmp && echo hello > /tmp/f && cat /tmp/f && grep -c rootless-tmp /proc/self/mounts 2>/dev/null; true",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.lines().next(), Some("hello"), "{stdout}{stderr}");
    assert!(
        !std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains("rootless-tmp")
    );
    Snapshot::take(&w.run_dir()).assert_same(&before);
}

#[test]
fn as_nobody_a_uts_namespace_takes_a_hostname_the_host_keeps_its_own() {
    let w = World::new();
    let host = hostname();
    let out = w.spawn_as_nobody(&[
        "--uts",
        "--hostname",
        "rootless-box",
        "--",
        "sh",
        "-c",
        "hostname; hostname renamed-inside && hostname",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        vec!["rootless-box", "renamed-inside"]
    );
    assert!(
        stderr.contains("sethostname(\"rootless-box\", 12) = 0"),
        "{stderr}"
    );
    assert_eq!(hostname(), host);
}

#[test]
fn as_nobody_a_network_namespace_has_lo_which_root_inside_can_bring_up() {
    let w = World::new();
    let out = w.spawn_as_nobody(&[
        "--net",
        "--",
        "sh",
        "-c",
        "ip -o link | cut -d: -f2; ip link set lo up && ip -o -4 addr show lo",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let mut lines = stdout.lines();
    assert_eq!(lines.next().map(str::trim), Some("lo"), "only lo: {stdout}");
    assert!(stdout.contains("inet 127.0.0.1/8"), "{stdout}");
    assert!(stderr.contains("CLONE_NEWNET"), "{stderr}");
}

#[test]
fn as_nobody_a_proc_masked_by_the_outer_system_is_named_in_one_sentence() {
    // The outer system masks /proc/uptime with a bind mount, as container engines mask
    // /proc/kcore: done in a private mount namespace of this test's own (unshare -m), so
    // the host's /proc is never touched.
    let w = World::new();
    let inner = w.nobody_command(&["--pid", "--mount-proc", "--", "true"]);
    let mut argv = vec![inner.get_program().to_string_lossy().into_owned()];
    argv.extend(inner.get_args().map(|a| a.to_string_lossy().into_owned()));
    let script = format!(
        "mount --bind /dev/null /proc/uptime && exec {}",
        argv.iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c", &script]);
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let out = c.stdin(std::process::Stdio::null()).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stderr.contains("mounting a new /proc was refused with EPERM in the user namespace")
            && stderr.contains("sub-mounts (/proc/uptime)"),
        "{stderr}"
    );
    assert!(
        !std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains("/proc/uptime")
    );
}

#[test]
fn as_nobody_a_lesson_that_needs_root_refuses_and_names_the_lessons_that_work() {
    let w = World::new();
    // A copy of the lessons where 02 needs root again: the list follows the files.
    let data = w.dir.path().join("data");
    let lessons = data.join("lessons");
    std::fs::create_dir_all(&lessons).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    for e in std::fs::read_dir(src.join("lessons")).unwrap() {
        let p = e.unwrap().path();
        let mut t = std::fs::read_to_string(&p).unwrap();
        if p.file_name().unwrap() == "02-chroot.toml" {
            t = t.replacen("\nroot = false\n", "\nroot = true\n", 1);
        }
        std::fs::write(lessons.join(p.file_name().unwrap()), t).unwrap();
    }
    let run = |data: &Path, lesson: &str| {
        Command::new("setpriv")
            .args(setpriv_args())
            .arg(&w.bin)
            .args(["run", lesson, "--yes"])
            .current_dir("/")
            .env("FROMSCRATCH_DATA", data)
            .env("FROMSCRATCH_RUN", w.run_dir())
            .env("XDG_STATE_HOME", w.dir.path().join("state"))
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    // The lessons whose files say `root = false`, by id, in order: what the refusal lists.
    let rootless_ids = |dir: &Path| {
        let mut ids: Vec<String> = std::fs::read_dir(dir.join("lessons"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let v: toml::Value = toml::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
                v["requires"]["root"].as_bool() == Some(false)
            })
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        ids.sort();
        ids.join(", ")
    };
    let listed = rootless_ids(src);
    assert!(
        listed.starts_with("01-rootfs, 02-chroot, 03-host-processes, 04-pid-namespace"),
        "{listed}"
    );
    assert!(!listed.contains("10-cgroups"), "{listed}");
    let out = run(src, "10-cgroups");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one sentence: {stderr}");
    assert!(
        stderr.contains("lesson 10-cgroups needs root")
            && stderr.contains("run it with sudo")
            && stderr.contains(&format!(
                "as a user, these lessons work, in a user namespace of the lab's own: {listed}"
            )),
        "{stderr}"
    );
    let out = run(&data, "02-chroot");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let without_02 = rootless_ids(&data);
    assert!(!without_02.contains("02-chroot"), "{without_02}");
    assert!(
        stderr.contains("lesson 02-chroot needs root")
            && stderr.contains(&format!("lab's own: {without_02}")),
        "{stderr}"
    );
}

/// `run LESSON --yes` as the test user, with a rootfs the user built: exit 0, the
/// challenge passed, every container in the lab's user namespace, nothing left (the
/// snapshot counts every process carrying the lab's mark, the holder included).
fn lesson_runs_as_the_user(lesson: &str) {
    let w = World::new();
    let before = Snapshot::take(&w.run_dir());
    let ours = |t: &str| {
        t.lines()
            .filter(|l| l.contains("fromscratch") || l.contains("fs-rootless"))
            .count()
    };
    let mounts_before = ours(&std::fs::read_to_string("/proc/self/mountinfo").unwrap());
    // The user's own rootfs, built by the user (one built by root may hold files only
    // root can read, which a user's `du` or `tar` of it cannot).
    let cache = w.dir.path().join("user-cache");
    std::fs::create_dir(&cache).unwrap();
    nix::unistd::chown(
        &cache,
        Some(nix::unistd::Uid::from_raw(user())),
        Some(nix::unistd::Gid::from_raw(user())),
    )
    .unwrap();
    let as_user = |args: &[&str]| {
        Command::new("setpriv")
            .args(setpriv_args())
            .arg(&w.bin)
            .args(args)
            .current_dir("/")
            .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
            .env("FROMSCRATCH_CACHE", &cache)
            .env("FROMSCRATCH_RUN", w.run_dir())
            .env("XDG_STATE_HOME", w.dir.path().join("state"))
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let build = as_user(&["rootfs", "build", "host"]);
    assert!(build.status.success(), "{:?}", text(&build));
    let out = as_user(&["run", lesson, "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    // The lab's user namespace, shown once: made by the holder, mapped by the lab.
    let made = stdout
        .find(" holder  unshare(CLONE_NEWUSER) = 0")
        .unwrap_or_else(|| panic!("no holder in {stdout}"));
    let mapped = stdout
        .find(&format!("/uid_map\", \"0 {} 1\\n\") = 0", user()))
        .unwrap_or_else(|| panic!("no uid_map write in {stdout}"));
    assert!(made < mapped, "{stdout}");
    assert_eq!(stdout.matches(" holder  unshare(CLONE_NEWUSER)").count(), 1);
    // Its containers joined the lab's user namespace first.
    assert!(
        regex::Regex::new(
            r"(?m)^\s+child  setns\(\d+ /\* /proc/\d+/ns/user \*/, CLONE_NEWUSER\) = 0$"
        )
        .unwrap()
        .is_match(&stdout),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ challenge: ")
            && !regex::Regex::new(r"(?m)^\s*✗ ").unwrap().is_match(&stdout),
        "{stdout}"
    );
    Snapshot::take(&w.run_dir()).assert_same(&before);
    let mounts_after = ours(&std::fs::read_to_string("/proc/self/mountinfo").unwrap());
    assert_eq!(mounts_after, mounts_before);
}

#[test]
fn as_nobody_lesson_01_runs_to_the_end_with_its_challenge() {
    lesson_runs_as_the_user("01-rootfs");
}

#[test]
fn as_nobody_lesson_02_runs_to_the_end_with_its_challenge() {
    lesson_runs_as_the_user("02-chroot");
}

#[test]
fn as_nobody_lesson_04_runs_to_the_end_with_its_challenge() {
    lesson_runs_as_the_user("04-pid-namespace");
}

#[test]
fn as_nobody_lesson_03_binds_the_host_s_proc_and_kills_a_host_process_from_the_chroot() {
    lesson_runs_as_the_user("03-host-processes");
}

#[test]
fn as_nobody_lesson_05_runs_to_the_end_with_its_challenge() {
    lesson_runs_as_the_user("05-mount-namespace");
}

#[test]
fn as_nobody_lesson_07_runs_to_the_end_with_its_challenge() {
    lesson_runs_as_the_user("07-uts-ipc");
}

#[test]
fn as_nobody_lesson_09_makes_veth_pairs_between_namespaces_of_the_lab_s_user_namespace() {
    lesson_runs_as_the_user("09-network-namespace");
}

#[test]
fn as_nobody_lesson_11_runs_to_the_end_with_its_challenge() {
    lesson_runs_as_the_user("11-overlayfs");
}

#[test]
fn as_nobody_lesson_12_runs_to_the_end_with_its_challenge() {
    lesson_runs_as_the_user("12-volumes");
}

#[test]
fn as_nobody_lesson_13_runs_to_the_end_with_its_challenge() {
    lesson_runs_as_the_user("13-enter-container");
}

#[test]
fn as_nobody_lesson_14_runs_to_the_end_with_its_challenge() {
    lesson_runs_as_the_user("14-pid1");
}

#[test]
fn as_nobody_lesson_15_runs_to_the_end_with_its_challenge() {
    lesson_runs_as_the_user("15-caps-seccomp");
}

#[test]
fn as_nobody_lesson_16_runs_to_the_end_with_its_challenge() {
    lesson_runs_as_the_user("16-pod");
}

/// `run LESSON --yes` as the test user, for a lesson that starts no container (so no
/// holder trace to look for, unlike [`lesson_runs_as_the_user`]): exit 0, no failed
/// check, nothing left. Returns stdout.
fn lesson_without_containers_runs_as_the_user(lesson: &str) -> String {
    let w = World::new();
    let before = Snapshot::take(&w.run_dir());
    let mounts = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains("fromscratch") || l.contains("fs-rootless"))
            .count()
    };
    let mounts_before = mounts();
    let cache = w.dir.path().join("user-cache");
    std::fs::create_dir(&cache).unwrap();
    nix::unistd::chown(
        &cache,
        Some(nix::unistd::Uid::from_raw(user())),
        Some(nix::unistd::Gid::from_raw(user())),
    )
    .unwrap();
    let out = Command::new("setpriv")
        .args(setpriv_args())
        .arg(&w.bin)
        .args(["run", lesson, "--yes"])
        .current_dir("/")
        .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
        .env("FROMSCRATCH_CACHE", &cache)
        .env("FROMSCRATCH_RUN", w.run_dir())
        .env("XDG_STATE_HOME", w.dir.path().join("state"))
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("✓ challenge: ") && !stdout.contains("✗"),
        "{stdout}"
    );
    Snapshot::take(&w.run_dir()).assert_same(&before);
    assert_eq!(mounts(), mounts_before);
    stdout
}

#[test]
fn as_nobody_lesson_08_runs_every_demo_as_the_user_itself_without_setpriv() {
    let u = user();
    let name = hostname();
    let stdout = lesson_without_containers_runs_as_the_user("08-user-namespace");
    let has = |re: &str| regex::Regex::new(re).unwrap().is_match(&stdout);
    // The demos run as the user, who is the unprivileged user: no setpriv anywhere,
    // in what runs or in what the learner is told to type.
    assert!(
        !stdout.contains("$ setpriv") && !stdout.contains("# setpriv"),
        "{stdout}"
    );
    assert!(!stdout.contains("setresuid failed"), "{stdout}");
    assert!(
        has(&format!(r"(?m)^  \[host as uid {u}\] \$ id\n    uid={u}\b")),
        "{stdout}"
    );
    assert!(stdout.contains("by hand: $ unshare --uts true"), "{stdout}");
    assert!(
        stdout.contains("unshare: unshare failed: Operation not permitted"),
        "{stdout}"
    );
    // Root inside is the user outside: the user's own id in both maps and in the
    // host's view of the same process.
    assert!(
        has(&format!(r"(?m)^\s+uid_map:\s+0\s+{u}\s+1$")),
        "{stdout}"
    );
    assert!(
        has(&format!(r"(?m)^\s+gid_map:\s+0\s+{u}\s+1$")),
        "{stdout}"
    );
    assert!(
        has(&format!(
            r"(?m)^\s+from the host, /proc/\d+/status: Uid:\s+{u}\s+{u}\s+{u}\s+{u}$"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "write /proc/self/gid_map '0 {u} 1': Operation not permitted"
        )) && stdout.contains(&format!("write /proc/self/gid_map '0 {u} 1': ok")),
        "{stdout}"
    );
    assert!(
        stdout.contains("sethostname: ok, uname -n says inner")
            && stdout.contains("kill -0 1: refused")
            && stdout.contains("cat: /etc/shadow: Permission denied"),
        "{stdout}"
    );
    // The challenge, typed as the user's own shell would: no setpriv.
    assert!(
        stdout.contains("# unshare --user --map-root-user /bin/sh"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "✓ challenge: a shell of yours is root in a user namespace of its own and UID {u} on the host"
        )),
        "{stdout}"
    );
    assert_eq!(hostname(), name);
}

#[test]
fn as_nobody_lesson_06_runs_to_the_end_with_its_challenge() {
    lesson_runs_as_the_user("06-pivot-root");
}
