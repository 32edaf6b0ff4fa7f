//! Lesson 13, entering a running container: it runs for real and unattended, its
//! challenge fails before the work and passes after it, and the host is left as found.

mod common;
use common::{Lab, require_root, text};

#[test]
fn lesson_13_joins_the_container_and_shows_the_fork_after_setns() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["run", "13-enter-container", "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("13-enter-container: every check held"),
        "{stdout}"
    );
    assert!(!stdout.contains('✗'), "a check failed:\n{stdout}");

    // The container's own namespaces, read from the host: pid, uts and mnt, not ipc or net.
    for line in [
        "pid: separate (pid:[",
        "uts: separate (uts:[",
        "mnt: separate (mnt:[",
        "ipc: shared (ipc:[",
        "net: shared (net:[",
    ] {
        assert!(stdout.contains(line), "{line} missing:\n{stdout}");
    }
    // After joining, the hostname is the container's, and the shell's PID a small one.
    assert!(stdout.contains("+ hostname: inside-c"), "{stdout}");
    let pid_in_c = regex::Regex::new(r"(?m)^\s+\+ this shell's PID: ([0-9]+)$").expect("regex");
    let n: u32 = pid_in_c
        .captures(&stdout)
        .and_then(|c| c[1].parse().ok())
        .expect("the joined shell's PID");
    assert!(n < 100, "a PID of the container's namespace, got {n}");

    // The runtime's join, in order: setns pid, uts, mnt, then the fork, then the root.
    let join = stdout
        .find("── action: exec_in ──")
        .expect("the exec_in step");
    let trace = &stdout[join..];
    let at = |s: &str| {
        trace
            .find(s)
            .unwrap_or_else(|| panic!("{s} missing from the trace:\n{trace}"))
    };
    let order = [
        at("CLONE_NEWPID) = 0"),
        at("CLONE_NEWUTS) = 0"),
        at("CLONE_NEWNS) = 0"),
        at("child  fork() = "),
        at("joined  fchdir("),
        at("joined  chroot(\".\") = 0"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{trace}");

    // The pitfall: without nsenter's fork, the shell keeps one PID (the host's) and only
    // its child is in the container's namespace.
    let no_fork =
        regex::Regex::new(r"(?m)^\s+/proc/([0-9]+)/status:NSpid:\t([0-9]+)$").expect("regex");
    let c = no_fork
        .captures(&stdout)
        .expect("the shell's own NSpid line");
    assert_eq!(&c[1], &c[2], "the shell's NSpid is its own host PID");
    assert!(
        regex::Regex::new(r"(?m)^\s+/proc/self/status:NSpid:\t[0-9]+\t[0-9]+$")
            .expect("regex")
            .is_match(&stdout),
        "{stdout}"
    );
    // The root is not a namespace: without --root, /proc/1 is the host's PID 1.
    assert!(stdout.contains("  + fs-init"), "{stdout}");
    // The challenge's reference solution passed, typed by the lab.
    assert!(
        stdout.contains("✓ challenge: a process of yours is inside container c"),
        "{stdout}"
    );
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_13_challenge_fails_before_the_work_and_passes_after() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let stdout = common::check_then_skip(&lab, "13");
    let check = stdout.find("✗ not yet: a process of yours is inside container c: in its PID, UTS and mount namespaces, with its root").unwrap_or_else(|| panic!("check did not fail first:\n{stdout}"));
    assert!(
        stdout[check..].contains("no process of yours is running"),
        "{stdout}"
    );
    let skip = stdout
        .find("the lab types the reference solution")
        .expect("skip");
    assert!(check < skip, "{stdout}");
    let typed = &stdout[skip..];
    assert!(
        typed.contains("--pid --uts --mount --root --wd /bin/sh"),
        "{typed}"
    );
    // Typed inside: the container's hostname, and its init as PID 1 (the output is
    // unwrapped here: one line per prompt).
    assert!(typed.contains("# hostname inside-c"), "{typed}");
    assert!(typed.contains("PID COMMAND 1 fs-init 2 sleep"), "{typed}");
    assert!(
        typed.contains("✓ a process of yours is inside container c"),
        "{typed}"
    );
    assert!(
        typed.contains("the reference solution reached the goal"),
        "{typed}"
    );
    lab.snapshot().assert_same(&before);
}
