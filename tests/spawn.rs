//! `fromscratch spawn`, the runtime the lessons use, driven directly: PID 1, the init,
//! signals, confinement, and the pitfalls from shared/cases/learner-pitfalls.md.

mod common;
use std::path::Path;
use std::process::Stdio;

use common::{Lab, require_root, text, wait_for};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn spawn(lab: &Lab, root: &Path, flags: &[&str], cmd: &[&str]) -> (i32, String, String) {
    let mut args = vec!["spawn"];
    args.extend_from_slice(flags);
    let r = root.display().to_string();
    args.extend_from_slice(&["--rootfs", &r, "--"]);
    args.extend_from_slice(cmd);
    let out = lab.run(&args);
    let (o, e) = text(&out);
    (out.status.code().unwrap_or(-1), o, e)
}

#[test]
fn pid_namespace_makes_the_command_pid_1_and_init_makes_it_pid_2() {
    require_root();
    let root = common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    assert_eq!(
        spawn(
            &lab,
            &root,
            &["--pid", "--mount-proc"],
            &["/bin/sh", "-c", "echo $$"]
        ),
        (0, "1\n".into(), String::new())
    );
    assert_eq!(
        spawn(
            &lab,
            &root,
            &["--pid", "--mount-proc", "--init"],
            &["/bin/sh", "-c", "echo $$"]
        ),
        (0, "2\n".into(), String::new())
    );
    let (code, out, _) = spawn(&lab, &root, &[], &["/bin/sh", "-c", "echo $$"]);
    assert_eq!(code, 0);
    let pid: i32 = out.trim().parse().expect("a PID");
    assert!(pid > 1, "without --pid the shell has a host PID, got {pid}");
    lab.snapshot().assert_same(&before);
}

#[test]
fn the_trace_calls_the_inits_child_pid_2_only_in_a_pid_namespace() {
    require_root();
    let root = common::host_rootfs();
    let lab = Lab::new();
    let (code, _, trace) = spawn(&lab, &root, &["--trace", "--init"], &["true"]);
    assert_eq!(code, 0, "{trace}");
    assert!(
        trace.contains("command  execve(\"/usr/bin/true\""),
        "{trace}"
    );
    assert!(!trace.contains("pid 2"), "{trace}");
    let (code, _, trace) = spawn(&lab, &root, &["--trace", "--pid", "--init"], &["true"]);
    assert_eq!(code, 0, "{trace}");
    assert!(
        trace.contains("  pid 2  execve(\"/usr/bin/true\""),
        "{trace}"
    );
}

#[test]
fn exit_status_of_the_command_is_passed_on() {
    require_root();
    let root = common::host_rootfs();
    let lab = Lab::new();
    assert_eq!(
        spawn(
            &lab,
            &root,
            &["--pid", "--mount-proc"],
            &["/bin/sh", "-c", "exit 7"]
        )
        .0,
        7
    );
    assert_eq!(
        spawn(
            &lab,
            &root,
            &["--pid", "--mount-proc", "--init"],
            &["/bin/sh", "-c", "exit 9"]
        )
        .0,
        9
    );
}

#[test]
fn pitfall_p1_the_runtime_forks_after_unshare_so_later_commands_still_fork() {
    require_root();
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

#[test]
fn pitfall_p2_a_fresh_proc_shows_only_the_namespace() {
    require_root();
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

#[test]
fn trace_shows_each_syscall_with_its_result_in_order() {
    require_root();
    let root = common::host_rootfs();
    let lab = Lab::new();
    let (code, _, err) = spawn(
        &lab,
        &root,
        &["--trace", "--pid", "--mount-proc"],
        &["true"],
    );
    assert_eq!(code, 0, "{err}");
    let calls: Vec<&str> = err
        .lines()
        .map(|l| l.trim().split_once("  ").map_or(l, |(_, c)| c))
        .collect();
    let names: Vec<&str> = calls
        .iter()
        .map(|c| c.split('(').next().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        vec![
            "prctl", "unshare", "mount", "fork", "prctl", "chroot", "chdir", "mount", "execve"
        ],
        "{err}"
    );
    assert!(
        calls.iter().all(|c| c.contains(" = ")),
        "every call has its result: {err}"
    );
    assert_eq!(
        calls[2],
        "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0"
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

#[test]
fn a_rootfs_is_never_the_host_root_or_a_system_directory() {
    let lab = Lab::new();
    let link = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/", link.path().join("sneaky")).unwrap();
    for root in [
        Path::new("/"),
        Path::new("/etc"),
        Path::new("/usr"),
        &link.path().join("sneaky"),
    ] {
        let (code, _, err) = spawn(&lab, root, &[], &["true"]);
        assert_eq!(code, 2, "{}: {err}", root.display());
        assert!(err.contains("refusing rootfs"), "{err}");
    }
    let (code, _, err) = spawn(&lab, Path::new("/nonexistent/rootfs"), &[], &["true"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("build one with `fromscratch rootfs build host`"),
        "{err}"
    );
}

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

#[test]
fn without_root_the_answer_names_the_cause_and_the_fix() {
    // Pitfall U1: as an unprivileged user, `spawn` works in a user namespace (see
    // tests/rootless.rs); a lesson that needs real root says so in one sentence.
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
}
