//! `fromscratch spawn`, the runtime the lessons use, driven directly: PID 1, the init,
//! the trace and confinement. The learner pitfalls (learner-pitfalls.md) are in pitfalls.rs.

mod common;
use std::path::Path;

use common::{Lab, require_root};

fn spawn(lab: &Lab, root: &Path, flags: &[&str], cmd: &[&str]) -> (i32, String, String) {
    lab.spawn(root, flags, cmd)
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
    // Comments (`/* … */`) say why; the calls are the rest.
    let calls: Vec<&str> = calls.into_iter().filter(|c| !c.starts_with("/*")).collect();
    let names: Vec<&str> = calls
        .iter()
        .map(|c| c.split('(').next().unwrap_or(""))
        .collect();
    // A rootfs of the shared cache: the guard's UTS namespace, then in PID 1 the tree
    // made read-only (a bind and a remount) and given a minimal /dev (a tmpfs, then six
    // device files bound onto empty files), before the chroot and the new /proc.
    let mut want = vec![
        "prctl", "unshare", "mount", "unshare", "fork", "prctl", "mount", "mount", "mount",
    ];
    for _ in 0..6 {
        want.extend(["mknod", "mount"]);
    }
    want.extend(["chroot", "chdir", "mount", "execve"]);
    assert_eq!(names, want, "{err}");
    assert!(
        calls.iter().all(|c| c.contains(" = ")),
        "every call has its result: {err}"
    );
    assert!(
        calls[6].ends_with("MS_BIND|MS_REC, NULL) = 0")
            && calls[7].contains("MS_RDONLY|MS_REMOUNT|MS_BIND"),
        "{err}"
    );
    assert_eq!(
        calls[2],
        "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0"
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

/// A rootfs of the shared cache is read-only to what `spawn` runs in it, with a /dev of
/// its own: `>/dev/null` works, a write anywhere in the tree fails with EROFS, and the
/// cache is left as it was (it once gained a regular file `dev/null` this way).
#[test]
fn spawn_never_writes_into_the_shared_rootfs_cache() {
    require_root();
    let root = common::host_rootfs();
    let lab = Lab::new();
    let (code, out, err) = spawn(
        &lab,
        &root,
        &[],
        &[
            "/bin/sh",
            "-c",
            "echo quiet > /dev/null && echo devnull ok; touch /written-by-spawn 2>&1; ls /dev",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("devnull ok"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(!root.join("written-by-spawn").exists());
    assert!(
        std::fs::read_dir(root.join("dev"))
            .unwrap()
            .next()
            .is_none(),
        "the cached tree's /dev stays empty"
    );
}
