//! Every case of `learner-pitfalls.md` (the shared cases: real failures people building
//! containers by hand have hit), in that file's order, each a test named after its id
//! whose expected value is the right behaviour from a real run, or the right sentence.
//! Where a lesson's test already shows a case in full, the test here is a thinner, real
//! check of the same behaviour; book/src/reference/pitfalls.md maps each case to its
//! lesson step and tests. Mounts made here are made in private mount namespaces of the
//! test's own (`unshare --mount --propagation private`), never in the host's.

mod common;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{Lab, require_root, text, wait_for};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn spawn(lab: &Lab, root: &Path, flags: &[&str], cmd: &[&str]) -> (i32, String, String) {
    lab.spawn(root, flags, cmd)
}

/// Run `script` with `sh` in a new private mount namespace; `$B` is the binary.
fn in_private_mount_ns(script: &str) -> Output {
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .env("B", common::bin())
        .env("NO_COLOR", "1")
        .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("unshare")
}

// ── Rootfs ───────────────────────────────────────────────────────────────────────────

/// Pitfall R1: a recipe asking debootstrap's suite for a package it lacks is exit 2,
/// names the package and the suite, and caches nothing (network to the Debian mirror).
#[test]
fn pitfall_r1_a_package_the_suite_lacks_is_exit_2_named_and_nothing_is_cached() {
    require_root();
    let lab = Lab::new();
    let cache = tempfile::Builder::new()
        .prefix("fs-pitfall-r1-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let recipe = lab.run.path().join("old-python.toml");
    std::fs::write(
        &recipe,
        r#"format_version = 1
name = "old-python"
description = "asks bookworm for `python`, which it does not have"
smoke = ["/usr/bin/python3", "-c", "print(1)"]
[builder]
kind = "debootstrap"
suite = "bookworm"
include = ["python", "procps"]
"#,
    )
    .unwrap();
    let out = lab
        .cmd(&["rootfs", "build", &recipe.display().to_string()])
        .env("FROMSCRATCH_CACHE", cache.path())
        .output()
        .unwrap();
    std::fs::remove_file(&recipe).unwrap();
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{o}\n{e}");
    assert!(
        common::unwrapped(&e).contains(
            "the suite `bookworm` has no package `python` (did you mean `python3`?): nothing was installed and no rootfs was cached"
        ),
        "{e}"
    );
    let left: Vec<_> = std::fs::read_dir(cache.path().join("rootfs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "no half-built tree: {left:?}");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains("fs-pitfall-r1-"), "{mountinfo}");
}

/// Pitfall R2: a cache on a noexec filesystem is refused before the build, the fix named.
#[test]
fn pitfall_r2_a_noexec_cache_is_refused_before_the_build() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let out = in_private_mount_ns(&format!(
        r#"mount -t tmpfs -o noexec,size=64m fs-r2 {d}
FROMSCRATCH_CACHE={d}/cache FROMSCRATCH_RUN={d}/run "$B" rootfs build host
echo "exit=$?"
find {d}/cache -mindepth 2 -maxdepth 2 | wc -l"#,
        d = dir.path().display()
    ));
    let (o, e) = text(&out);
    assert!(o.contains("exit=3"), "{o}\n{e}");
    assert!(
        e.contains(&format!("mounted at {}", dir.path().display())) && e.contains("noexec"),
        "{e}"
    );
    assert!(e.contains("FROMSCRATCH_CACHE"), "the fix is named: {e}");
    assert_eq!(o.lines().last(), Some("0"), "nothing was built: {o}");
}

/// Pitfall R3: `/bin/bash` alone in a tree: the ENOENT names the missing ELF interpreter.
#[test]
fn pitfall_r3_missing_interpreter_is_named() {
    require_root();
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bin")).unwrap();
    std::fs::copy("/bin/bash", dir.path().join("bin/bash")).unwrap();
    let (code, _, err) = spawn(&lab, dir.path(), &[], &["/bin/bash"]);
    assert_eq!(code, 127);
    assert!(
        err.contains("its ELF interpreter /lib64/ld-linux-x86-64.so.2 is missing there"),
        "{err}"
    );
}

// ── chroot and /proc ─────────────────────────────────────────────────────────────────

/// Pitfall C1: /proc in a container without a PID namespace lists the host's processes,
/// and its mount, made in the container's private mount namespace, is gone with it.
#[test]
fn pitfall_c1_proc_shows_the_host_processes_and_no_mount_stays_on_the_host() {
    require_root();
    let root = common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let (code, out, err) = spawn(&lab, &root, &["--mount-proc"], &["ps", "-e", "-o", "pid="]);
    assert_eq!(code, 0, "{err}");
    let me = std::process::id().to_string();
    assert!(
        out.split_whitespace().any(|p| p == me),
        "the test's own PID {me} is listed from inside:\n{out}"
    );
    let r = root.display().to_string();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.lines().any(|l| l.contains(&r)),
        "a mount under the rootfs stayed on the host:\n{mountinfo}"
    );
    lab.snapshot().assert_same(&before);
}

/// Pitfall C2: the runtime binds the rootfs onto itself before the chroot, so `unshare -m`
/// works inside, where a bare chroot's fails with EINVAL (the root is not a mount point).
#[test]
fn pitfall_c2_the_rootfs_is_bound_onto_itself_so_unshare_m_works_inside() {
    use fromscratch::runtime::{ContainerSpec, Namespaces, RecordingSyscalls, spawn as rt};
    // The order, recorded: private `/`, then the bind, then the chroot.
    let rec = RecordingSyscalls::new();
    let spec = ContainerSpec {
        root: Some("/r".into()),
        namespaces: Namespaces {
            mount: true,
            ..Namespaces::default()
        },
        command: vec!["sh".into()],
        ..ContainerSpec::default()
    };
    rt::enter_namespaces(&rec, &spec).unwrap();
    rt::prepare_root(&rec, &spec).unwrap();
    assert_eq!(
        rec.lines()[1..],
        [
            "unshare(CLONE_NEWNS) = 0",
            "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0",
            "mount(\"/r\", \"/r\", NULL, MS_BIND|MS_REC, NULL) = 0",
            "chroot(\"/r\") = 0",
            "chdir(\"/\") = 0",
        ]
    );
    // For real, on a rootfs that is a plain directory, not a mount point.
    require_root();
    let root = common::host_rootfs();
    let r = root.display().to_string();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.split_whitespace().any(|f| f == r),
        "{r} must not be a mount point for this test"
    );
    let out = in_private_mount_ns(&format!(
        "unshare --mount chroot {r} unshare --mount true; echo \"exit=$?\""
    ));
    let (o, e) = text(&out);
    assert!(o.contains("exit=1"), "{o}\n{e}");
    assert!(
        e.contains("cannot change root filesystem propagation: Invalid argument"),
        "the pitfall, by hand: {e}"
    );
    let lab = Lab::new();
    let (code, out, err) = spawn(
        &lab,
        &root,
        &["--mount"],
        &["sh", "-c", "unshare --mount true && echo nested"],
    );
    assert_eq!((code, out.as_str()), (0, "nested\n"), "{err}");
}

// ── PID namespace ────────────────────────────────────────────────────────────────────

/// Pitfall P1: unshare --pid without fork fails the second fork with ENOMEM; the runtime
/// forks after unsharing, so its containers never do.
#[test]
fn pitfall_p1_the_runtime_forks_after_unshare_so_later_commands_still_fork() {
    require_root();
    // The pitfall: unshare --pid without --fork; the first child is PID 1 and exits.
    let demo = Command::new("unshare")
        .args([
            "--pid",
            "bash",
            "-c",
            "/bin/true; /bin/true; echo unreachable",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (o, e) = text(&demo);
    assert!(e.contains("Cannot allocate memory"), "{o}\n{e}");
    assert!(!o.contains("unreachable"), "{o}");
    // The runtime's sentence for it, should a fork ever meet it.
    let why = fromscratch::runtime::error::explain_setup_failure("fork", Errno::ENOMEM, None);
    assert!(
        why.contains("the PID namespace's init (PID 1) has exited"),
        "{why}"
    );
    // The runtime forks after unsharing: later commands still fork.
    let root = common::host_rootfs();
    let lab = Lab::new();
    let (code, out, err) = spawn(
        &lab,
        &root,
        &["--pid", "--mount-proc"],
        &["/bin/sh", "-c", "/bin/true; /bin/true; echo still-forking"],
    );
    assert_eq!((code, out.as_str()), (0, "still-forking\n"), "{err}");
}

/// Pitfall P2: `$$` is 1 but ps lists the host's processes until /proc is mounted again;
/// the runtime's fresh /proc shows only the namespace.
#[test]
fn pitfall_p2_dollar_dollar_is_1_and_only_a_fresh_proc_shows_only_the_namespace() {
    require_root();
    // The pitfall: `$$` is 1, but ps reads the /proc of the host's PID namespace.
    let out = in_private_mount_ns("unshare --pid --fork sh -c 'echo $$; ps -e -o pid= | wc -l'");
    let (o, e) = text(&out);
    let lines: Vec<&str> = o.lines().collect();
    assert_eq!(lines.first(), Some(&"1"), "{o}\n{e}");
    let count: usize = lines
        .get(1)
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        count > 2,
        "before remounting /proc, ps lists the host's processes: {o}"
    );
    let root = common::host_rootfs();
    let lab = Lab::new();
    let (code, out, err) = spawn(
        &lab,
        &root,
        &["--pid", "--mount-proc"],
        &["ps", "-e", "-o", "pid="],
    );
    assert_eq!(code, 0, "{err}");
    let pids: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(pids, vec!["1"], "ps is PID 1 and alone:\n{out}");
    // Without a PID namespace the same /proc mount lists the host's processes.
    let (code, out, err) = spawn(&lab, &root, &["--mount-proc"], &["ps", "-e", "-o", "pid="]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().count() > 2, "the host's processes:\n{out}");
    assert!(
        out.split_whitespace().any(|p| p == "1"),
        "the host's PID 1 is visible:\n{out}"
    );
}

/// Find PID 1 of a container started by `fromscratch spawn` with host PID `spawner`:
/// spawner -> intermediate child -> PID 1.
fn pid1_of(spawner: u32) -> Option<Pid> {
    let children = |p: u32| -> Vec<u32> {
        std::fs::read_to_string(format!("/proc/{p}/task/{p}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect()
    };
    let mid = *children(spawner).first()?;
    children(mid)
        .first()
        .and_then(|p| i32::try_from(*p).ok())
        .map(Pid::from_raw)
}

fn alive(pid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
}

/// Pitfall P3: a bare PID 1 ignores SIGTERM; the lab's init forwards it (exit 143), and
/// nothing outlives a killed spawner.
#[test]
fn pitfall_p3_bare_pid_1_ignores_sigterm_and_our_init_forwards_it() {
    require_root();
    let root = common::host_rootfs();
    let lab = Lab::new();
    let r = root.display().to_string();

    // Bare `sleep` as PID 1: SIGTERM from the host is not delivered (no handler).
    let mut bare = lab
        .cmd(&[
            "spawn",
            "--pid",
            "--mount-proc",
            "--rootfs",
            &r,
            "--",
            "sleep",
            "60",
        ])
        .spawn()
        .unwrap();
    let mut pid1 = None;
    assert!(
        wait_for(10, || {
            pid1 = pid1_of(bare.id());
            pid1.is_some()
        }),
        "PID 1 never appeared"
    );
    let pid1 = pid1.unwrap();
    assert!(wait_for(10, || std::fs::read_to_string(format!(
        "/proc/{pid1}/comm"
    ))
    .is_ok_and(|c| c.trim() == "sleep")));
    kill(pid1, Signal::SIGTERM).unwrap();
    // Give the kernel every chance to deliver it: the process must still be alive after.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        alive(pid1),
        "a bare PID 1 must ignore SIGTERM (pid_namespaces(7))"
    );
    // Children die with their parent: SIGKILL the spawner, and PR_SET_PDEATHSIG takes
    // the intermediate and PID 1 with it.
    bare.kill().unwrap();
    bare.wait().unwrap();
    assert!(
        wait_for(10, || !alive(pid1)),
        "PID 1 outlived the killed spawner"
    );

    // With --init, SIGTERM reaches init, which forwards it to sleep: 128+15.
    let mut with_init = lab
        .cmd(&[
            "spawn",
            "--pid",
            "--mount-proc",
            "--init",
            "--rootfs",
            &r,
            "--",
            "sleep",
            "60",
        ])
        .spawn()
        .unwrap();
    let mut pid1 = None;
    assert!(wait_for(10, || {
        pid1 = pid1_of(with_init.id());
        pid1.is_some()
    }));
    let pid1 = pid1.unwrap();
    // Wait until init has its handlers (its command, sleep, is running as its child).
    assert!(wait_for(10, || std::fs::read_to_string(format!(
        "/proc/{pid1}/task/{pid1}/children"
    ))
    .is_ok_and(|c| !c.trim().is_empty())));
    kill(pid1, Signal::SIGTERM).unwrap();
    let mut status = None;
    assert!(
        wait_for(10, || {
            status = with_init.try_wait().unwrap();
            status.is_some()
        }),
        "init did not forward SIGTERM"
    );
    assert_eq!(status.unwrap().code(), Some(143));
}

// ── Mounts and pivot_root ────────────────────────────────────────────────────────────

/// Pitfall M1: under a shared mount, unshare --propagation unchanged leaks a mount; the
/// runtime, which makes `/` MS_REC|MS_PRIVATE first, does not.
#[test]
fn pitfall_m1_nothing_leaks_even_when_the_parent_mount_is_shared() {
    // In a private mount namespace of the test's own (the host is never touched), make a
    // tmpfs *shared*, put a rootfs on it, and mount something inside a container. With
    // `--propagation unchanged` (what M1 describes) the mount appears outside; through
    // the runtime, which makes / private first, it does not.
    require_root();
    let root = common::host_rootfs();
    let lab = Lab::new();
    let script = format!(
        r#"set -e
T=$(mktemp -d)
mount -t tmpfs fs-m1 "$T"
mount --make-shared "$T"
mkdir "$T/r"
cp -a {root}/. "$T/r/"
unshare --mount --propagation unchanged chroot "$T/r" mount -t tmpfs leaked-by-unshare /tmp
grep -c leaked-by-unshare /proc/self/mountinfo || true
{bin} spawn --mount --rootfs "$T/r" -- mount -t tmpfs leaked-by-fromscratch /root
grep -c leaked-by-fromscratch /proc/self/mountinfo || true
"#,
        root = root.display(),
        bin = common::bin()
    );
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("FROMSCRATCH_RUN", lab.run.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (o, e) = text(&out);
    assert!(out.status.success(), "{o}\n{e}");
    let counts: Vec<&str> = o.lines().collect();
    assert_eq!(
        counts,
        vec!["1", "0"],
        "unshare without private propagation leaks; fromscratch does not:\n{o}\n{e}"
    );
}

/// Pitfall M2: a refused `pivot_root . .` is named by the rule it broke, read from the
/// real mount table (shared propagation: EINVAL; not a mount point: EBUSY).
#[test]
fn pitfall_m2_a_refused_pivot_root_names_the_condition_not_just_the_errno() {
    use fromscratch::runtime::pivot::{PivotCondition, diagnose, parse_mountinfo};
    require_root();
    let root = common::host_rootfs();
    let r = root.display().to_string();
    for (propagation, errno, condition) in [
        (
            "shared",
            "Invalid argument",
            PivotCondition::SharedPropagation,
        ),
        (
            "private",
            "Device or resource busy",
            PivotCondition::NewRootNotMountPoint,
        ),
    ] {
        let out = Command::new("unshare")
            .args(["--mount", "--propagation", propagation, "sh", "-c"])
            .arg(format!(
                "cat /proc/self/mountinfo; echo ===; cd {r} && pivot_root . ."
            ))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let (o, e) = text(&out);
        assert!(!out.status.success(), "{o}\n{e}");
        assert!(e.contains(errno), "{propagation}: {e}");
        let table = o.split("===").next().unwrap();
        let d = diagnose(&parse_mountinfo(table), &root, &root, true);
        assert_eq!(d.condition, condition, "{propagation}: {}", d.detail);
        let said = fromscratch::runtime::error::explain_setup_failure(
            condition.tag(),
            Errno::EINVAL,
            Some(&root),
        );
        assert!(said.contains(condition.rule()), "{said}");
    }
}

// ── User namespaces and privileges ───────────────────────────────────────────────────

/// Pitfall U1: without root, a lesson that needs it says so and names the fix; a refused
/// user namespace is explained by the checks in order (root, sysctls, a container).
#[test]
fn pitfall_u1_without_root_the_answer_names_the_cause_the_fix_and_the_checks() {
    // As an unprivileged user, `spawn` works in a user namespace (see tests/rootless.rs
    // and U2 below); a lesson that needs real root says so in one sentence.
    require_root();
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            common::bin(),
            "run",
            "10-cgroups",
            "--yes",
        ])
        .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
        .env("FROMSCRATCH_RUN", "/tmp/fs-nobody-run")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("lesson 10-cgroups needs root") && err.contains("sudo"),
        "{err}"
    );
    assert!(
        !Path::new("/tmp/fs-nobody-run").exists(),
        "nothing is left behind"
    );
    // When even a user namespace is refused, the checks, in order.
    let said = fromscratch::runtime::error::explain_setup_failure(
        fromscratch::runtime::userns::USERNS_TAG,
        Errno::EPERM,
        None,
    );
    let at = |s: &str| {
        said.find(s)
            .unwrap_or_else(|| panic!("{s} missing: {said}"))
    };
    assert!(
        at("run as root") < at("max_user_namespaces") && at("max_user_namespaces") < at("seccomp"),
        "{said}"
    );
}

/// Pitfall U2: namespaces are made only in a single-threaded process: a threaded caller
/// of the runtime is refused before any fork, and the binary (single-threaded, forking
/// its own children) unshares CLONE_NEWUSER for a user while the test has other threads.
#[test]
fn pitfall_u2_namespaces_are_made_only_in_a_single_threaded_process() {
    use fromscratch::runtime::{ContainerSpec, RuntimeError, spawn as rt};
    require_root();
    let keep = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(2)));
    let spec = ContainerSpec {
        command: vec!["true".into()],
        ..ContainerSpec::default()
    };
    let err = rt::run(&spec, std::time::Duration::from_secs(5)).unwrap_err();
    assert!(
        matches!(err, RuntimeError::MultiThreaded { threads } if threads >= 2),
        "{err}"
    );
    let children = std::fs::read_to_string(format!(
        "/proc/self/task/{0}/children",
        nix::unistd::gettid()
    ))
    .unwrap_or_default();
    assert!(children.trim().is_empty(), "nothing was forked: {children}");
    // From this threaded test, the binary as a user: unshare(2) refuses CLONE_NEWUSER to a
    // threaded process, so a PID 1 here proves the namespaces were made single-threaded.
    let uid = common::test_user();
    let (dir, bin) = common::user_dir("fs-pitfall-u2-", &["cache", "run", "state"], uid, uid);
    let out = Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--clear-groups",
        ])
        .arg(&bin)
        .args([
            "spawn",
            "--pid",
            "--mount-proc",
            "--rootfs",
            "host",
            "--",
            "sh",
            "-c",
            "echo $$",
        ])
        .current_dir("/")
        .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
        .env("FROMSCRATCH_CACHE", dir.path().join("cache"))
        .env("FROMSCRATCH_RUN", dir.path().join("run"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (o, e) = text(&out);
    assert_eq!(
        (out.status.code(), o.lines().last()),
        (Some(0), Some("1")),
        "{o}\n{e}"
    );
    keep.join().unwrap();
}

fn libc_ebusy() -> i32 {
    Errno::EBUSY as i32
}

// ── cgroups, overlayfs, network ──────────────────────────────────────────────────────

/// Pitfall G1: on the real cgroup2 mount, removing a cgroup that holds a process is
/// EBUSY, explained by its rule; the runtime's teardown empties the cgroup first.
#[test]
fn pitfall_g1_a_busy_cgroup_is_explained_and_the_runtime_empties_before_removing() {
    use fromscratch::runtime::LinuxSyscalls;
    use fromscratch::runtime::cgroup::{Layout, explain, remove_tree};
    require_root();
    let Some(v2) = Layout::detect().unwrap().v2 else {
        panic!("this host has no cgroup2 mount (CI's and this machine's do)");
    };
    // `fromscratch-PID` with this test's live PID: what the host snapshot counts as a
    // live lab's, removed below.
    let dir = v2.join(format!("fromscratch-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = i32::try_from(sleeper.id()).unwrap();
    std::fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap();
    let busy = std::fs::remove_dir(&dir).unwrap_err();
    assert_eq!(busy.raw_os_error(), Some(libc_ebusy()));
    let busy = Errno::EBUSY;
    let said = explain("rmdir", &dir, busy);
    assert!(said.contains("it still holds processes"), "{said}");
    let said = explain("write", &dir.join("cgroup.procs"), Errno::EBUSY);
    assert!(said.contains("\"no internal processes\" rule"), "{said}");
    let sys = LinuxSyscalls::new(None, "test");
    remove_tree(&sys, &dir, true, &|p| p == pid, None).unwrap();
    assert!(!dir.exists());
    let status = sleeper.wait().unwrap();
    assert!(!status.success(), "the sleeper was killed: {status}");
}

/// Pitfall O1: an upperdir on an overlayfs fails (lesson 11 shows mount's generic message);
/// the runtime puts upper and work on a tmpfs of the container's own.
#[test]
fn pitfall_o1_the_runtime_puts_upper_and_work_on_a_tmpfs_of_its_own() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["run", "11-overlayfs", "--yes"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("wrong fs type"), "the pitfall, on purpose:\n{o}");
    let base = regex::Regex::new(r#"mount\("tmpfs", "([^"]+/overlay-box)", "tmpfs""#).unwrap();
    let base = &base
        .captures(&o)
        .unwrap_or_else(|| panic!("no tmpfs base:\n{o}"))[1];
    // In the trace: the tmpfs on the container's base, then the overlay whose upper and
    // work directories are on it.
    let tmpfs = o.find(&format!("mount(\"tmpfs\", \"{base}\"")).unwrap();
    assert!(
        o[tmpfs..].contains(&format!("upperdir={base}/upper,workdir={base}/work\") = 0")),
        "the overlay after the tmpfs:\n{o}"
    );
    lab.snapshot().assert_same(&before);
}

/// Pitfall N1: in a new network namespace ping 127.0.0.1 is "Network is unreachable"
/// until lo is up (the first item of lesson 09's checklist).
#[test]
fn pitfall_n1_loopback_is_unreachable_until_lo_is_up() {
    require_root();
    let root = common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let (code, _, err) = spawn(
        &lab,
        &root,
        &["--net"],
        &["ping", "-c1", "-W1", "127.0.0.1"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("Network is unreachable"), "{err}");
    let (code, out, err) = spawn(
        &lab,
        &root,
        &["--net"],
        &["sh", "-c", "ip link set lo up && ping -q -c1 -W1 127.0.0.1"],
    );
    // (No `>/dev/null` here: this rootfs has no /dev, and the file would land in the cache.)
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("1 received"), "{out}");
    lab.snapshot().assert_same(&before);
}
