//! Lesson 07, UTS and IPC namespaces, for real: the whole lesson unattended, and its
//! challenge failing before the work and passing after it. The host keeps its hostname
//! and its IPC objects: every queue is made inside an IPC namespace the lab made.

mod common;
use common::pty::Pty;
use common::{Lab, require_root, text};

/// The host's hostname, as uname(2) gives it to this test.
fn host_name() -> String {
    nix::sys::utsname::uname()
        .expect("uname")
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// The host's System V message queues (`/proc/sysvipc/msg`, one line per queue after
/// the header): the lab must neither add nor remove one.
fn host_queues() -> String {
    std::fs::read_to_string("/proc/sysvipc/msg").expect("read /proc/sysvipc/msg")
}

use common::unwrapped;

#[test]
fn lesson_07_runs_renames_only_containers_and_keeps_queues_inside_their_namespaces() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let (name, queues) = (host_name(), host_queues());
    let out = lab.run(&["run", "07-uts-ipc", "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("07-uts-ipc: every check held"), "{stdout}");
    assert!(!stdout.contains('✗'), "a check failed:\n{stdout}");

    // Step 1: the container's name went into a new UTS namespace, after the chroot;
    // the shown command sets it the way a learner would.
    let unshare = stdout
        .find("unshare(CLONE_NEWUTS|CLONE_NEWIPC) = 0")
        .expect("UTS and IPC namespaces unshared");
    let sethostname = stdout
        .find("sethostname(\"box\", 3) = 0")
        .expect("sethostname traced");
    assert!(unshare < sethostname, "{stdout}");
    assert!(
        stdout.contains("sh -c 'hostname box && exec sleep 3600' &"),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ uname -n: a line matches /^box$/"),
        "{stdout}"
    );
    assert!(stdout.contains("two different UTS namespaces"), "{stdout}");
    // Step 2, the pitfall: a process joined to box renamed box, not the host.
    assert!(
        stdout.contains("✓ uname -n in box: a line matches /^oops$/"),
        "{stdout}"
    );
    assert!(
        stdout.contains("setns(8 /* /proc/") && stdout.contains("CLONE_NEWUTS) = 0"),
        "{stdout}"
    );
    // Steps 3-5: the queue, seen by another process of box, unknown in other.
    assert!(
        stdout.contains("msgrcv(0, buf, 100, 0, IPC_NOWAIT) = 14 hello from box"),
        "{stdout}"
    );
    assert!(
        stdout.contains("msgget(0x7007, 0) = -1 ENOENT (No such file or directory)"),
        "{stdout}"
    );
    // Step 6: no process is left in box's IPC namespace.
    let gone = regex::Regex::new(r"(?m)^\s+processes in ipc:\[\d+\]: 0$").expect("regex");
    assert!(gone.is_match(&stdout), "{stdout}");
    // The challenge, typed by the lab.
    assert!(
        stdout.contains("✓ challenge: a shell of yours has the hostname inner"),
        "{stdout}"
    );

    // The host: same name, same queues, nothing left.
    assert_eq!(host_name(), name);
    assert_eq!(host_queues(), queues);
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_07_challenge_fails_before_the_work_and_the_reference_solution_passes() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let (name, queues) = (host_name(), host_queues());
    let stdout = common::check_then_skip(&lab, "7");
    let check = stdout
        .find("✗ not yet: a shell of yours has the hostname inner")
        .unwrap_or_else(|| panic!("check did not report the missing shell:\n{stdout}"));
    // Before the work, the other conditions already hold: other is other, and the
    // host is not called inner.
    assert!(
        stdout[check..].contains("✓ the container other is still called other"),
        "{stdout}"
    );
    let skip = stdout
        .find("the reference solution reached the goal")
        .unwrap_or_else(|| panic!("skip did not reach the goal:\n{stdout}"));
    assert!(check < skip, "{stdout}");
    assert_eq!(host_name(), name);
    assert_eq!(host_queues(), queues);
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_07_challenge_by_hand_renaming_the_container_is_named_then_unshare_passes() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let name = host_name();
    let mut cmd = lab.cmd(&[]);
    cmd.env("TERM", "xterm");
    let mut t = Pty::spawn(cmd, 80, 24);
    t.open_challenge("7", "[07-uts-ipc 7/7] > ");

    // The pitfall, by hand: `hostname inner` renames the container the shell is in.
    t.line("shell");
    t.expect("[fromscratch container:other] # ");
    t.line("hostname inner");
    t.expect("[fromscratch container:other] # ");
    // A person pauses at a prompt; the lab looks whenever the session settles.
    t.line("sleep 2");
    t.expect("[fromscratch container:other] # ");
    t.line("exit");
    let report = unwrapped(&t.expect("[07-uts-ipc 7/7] > "));
    assert!(
        report.contains("✗ not yet: the container other is still called other"),
        "{report}"
    );
    assert!(report.contains("it printed: inner"), "{report}");
    assert!(!report.contains("challenge passed"), "{report}");

    // The right way: the container's name put back, then a UTS namespace of the
    // shell's own first.
    t.line("shell");
    t.expect("[fromscratch container:other] # ");
    t.line("hostname other");
    let put_back = t.expect("[fromscratch container:other] # ");
    t.line("unshare --uts /bin/sh");
    let unshared = t.expect("[fromscratch container:other] # ");
    // No single moment had a shell named inner in a container still called other yet,
    // even while other was renamed back under the lab's eyes.
    for chunk in [&put_back, &unshared] {
        assert!(!chunk.contains("the goal is reached"), "{}", t.seen);
    }
    t.line("hostname inner");
    t.expect("the goal is reached");
    t.line("exit");
    t.expect("[fromscratch container:other] # ");
    t.line("uname -n");
    t.expect("other\r\n");
    t.line("exit");
    let report = unwrapped(&t.expect("07-uts-ipc done"));
    assert!(
        report.contains("✓ a shell of yours has the hostname inner"),
        "{report}"
    );
    assert!(report.contains("✓ challenge passed"), "{report}");
    t.line("quit");
    assert!(t.wait().success(), "{}", t.seen);
    assert_eq!(host_name(), name);
    lab.snapshot().assert_same(&before);
}
