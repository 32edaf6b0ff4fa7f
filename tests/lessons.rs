//! Each seed lesson runs for real, unattended, passes every check, and leaves the host
//! as it found it: same mounts, no process of the lab's, no file in the run directory.

mod common;
use common::{Lab, require_root, text};

#[track_caller]
fn lesson_passes_and_host_is_unchanged(id: &str) -> String {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["run", id, "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "run {id} failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("{id}: every check held")),
        "{stdout}"
    );
    assert!(!stdout.contains('✗'), "a check failed:\n{stdout}");
    lab.snapshot().assert_same(&before);
    stdout
}

#[test]
fn lesson_01_rootfs_runs_and_names_the_missing_interpreter() {
    let out = lesson_passes_and_host_is_unchanged("01-rootfs");
    // Pitfall R3: the ENOENT for a file that exists is explained by the missing loader.
    assert!(
        out.contains("its ELF interpreter /lib64/ld-linux-x86-64.so.2 is missing there"),
        "{out}"
    );
    assert!(out.contains("execve(\"/bin/bash\", [\"/bin/bash\", \"-c\", \"echo hello\"], [/* 5 vars */]) = -1 ENOENT"), "{out}");
}

#[test]
fn lesson_02_chroot_runs_the_rootfs_python() {
    let out = lesson_passes_and_host_is_unchanged("02-chroot");
    assert!(out.contains("chroot(\""), "{out}");
    assert!(out.contains("/usr/bin/python3 /usr"), "{out}");
}

#[test]
fn lesson_03_host_processes_kills_the_decoy_from_inside() {
    let out = lesson_passes_and_host_is_unchanged("03-host-processes");
    // Pitfall C1: /proc was mounted in a private mount namespace, so nothing shows on
    // the host (the snapshot above compared every mount, too).
    assert!(
        out.contains("no mount under the rootfs on the host"),
        "{out}"
    );
    assert!(
        out.contains("mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0"),
        "{out}"
    );
}

#[test]
fn lesson_04_pid_namespace_makes_the_shell_pid_1() {
    let out = lesson_passes_and_host_is_unchanged("04-pid-namespace");
    assert!(out.contains("No such process"), "{out}");
    // Pitfall P1, shown on purpose: a PID namespace without its init refuses fork.
    assert!(out.contains("Cannot allocate memory"), "{out}");
    // The runtime itself forks after unshare: the order is visible in the trace.
    let unshare = out
        .find("unshare(CLONE_NEWNS|CLONE_NEWPID) = 0")
        .expect("unshare traced");
    let fork = out[unshare..]
        .find("fork() = ")
        .expect("fork traced after unshare");
    let proc = out[unshare..]
        .find("mount(\"proc\", \"/proc\"")
        .expect("proc mounted");
    assert!(
        fork < proc,
        "proc must be mounted after the PID fork:\n{out}"
    );
}

#[test]
fn tour_runs_the_four_lessons_in_order() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["tour"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let order: Vec<usize> = [
        "01-rootfs: every",
        "02-chroot: every",
        "03-host-processes: every",
        "04-pid-namespace: every",
    ]
    .iter()
    .map(|s| {
        stdout
            .find(s)
            .unwrap_or_else(|| panic!("{s} missing:\n{stdout}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_02_runs_on_a_real_debian_rootfs_built_with_mmdebstrap_or_debootstrap() {
    // Builds bookworm for real (about 15-60 s, network to the Debian mirror) on first
    // use; later runs of the suite in the same target dir take it from the cache.
    require_root();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["run", "02-chroot", "--yes", "--rootfs", "debian"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("02-chroot: every check held"), "{stdout}");
    assert!(
        stdout.contains("/rootfs/debian-"),
        "the debian tree was used:\n{stdout}"
    );
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_01_runs_on_the_busybox_rootfs_too() {
    // The learner picks the builder (`--rootfs`, or `start 1 busybox` in the lab): the
    // lesson holds on a tree with a static busybox and no dynamic loader at all.
    require_root();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["run", "01-rootfs", "--yes", "--rootfs", "busybox"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("building rootfs `busybox`") || stdout.contains("cached: rootfs `busybox`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("/bin/sh: statically linked: no interpreter, no libraries"),
        "{stdout}"
    );
    lab.snapshot().assert_same(&before);
}
