//! Lesson 08, the user namespace, for real: the whole lesson unattended, and its
//! challenge failing before the work and passing after it. Run as root, every demo
//! runs as nobody (the lab drops to 65534 itself, `unprivileged = true`); the host keeps
//! its hostname, its process table and its mounts. (As a user: tests/rootless.rs.)

mod common;
use common::{Lab, require_root, text};

/// The host's hostname, as uname(2) gives it to this test.
fn host_name() -> String {
    nix::sys::utsname::uname()
        .expect("uname")
        .nodename()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn lesson_08_runs_root_inside_is_nobody_outside_and_may_touch_only_its_own_namespaces() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let name = host_name();
    let out = lab.run(&["run", "08-user-namespace", "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("08-user-namespace: every check held"),
        "{stdout}"
    );
    assert!(!stdout.contains('✗'), "a check failed:\n{stdout}");

    // Step 1, the pitfall: nobody may not unshare a UTS namespace alone. The lab
    // dropped to nobody itself, with no supplementary groups: the command has no setpriv.
    assert!(
        stdout.contains("[host as uid 65534] $ id\n    uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "by hand: $ setpriv --reuid=65534 --regid=65534 --clear-groups unshare --uts true"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("unshare: unshare failed: Operation not permitted"),
        "{stdout}"
    );
    // Step 2: the same process, 0 inside and 65534 from the host.
    let line = |re: &str| regex::Regex::new(re).expect("regex").is_match(&stdout);
    assert!(
        line(r"(?m)^\s+inside: uid=0\(root\) gid=0\(root\)"),
        "{stdout}"
    );
    assert!(line(r"(?m)^\s+uid_map:\s+0\s+65534\s+1$"), "{stdout}");
    assert!(
        line(r"(?m)^\s+from the host, /proc/\d+/status: Uid:\s+65534\s+65534\s+65534\s+65534$"),
        "{stdout}"
    );
    // Step 3: the setgroups rule and write-once, in that order.
    let refused = stdout
        .find("write /proc/self/gid_map '0 65534 1': Operation not permitted")
        .expect("gid_map refused before deny");
    let deny = stdout
        .find("write /proc/self/setgroups 'deny': ok")
        .expect("deny written");
    let accepted = stdout
        .find("write /proc/self/gid_map '0 65534 1': ok")
        .expect("gid_map accepted after deny");
    assert!(refused < deny && deny < accepted, "{stdout}");
    assert!(
        stdout.contains("write /proc/self/uid_map '0 65534 1': Operation not permitted"),
        "{stdout}"
    );
    // Step 4: may and may not.
    assert!(
        stdout.contains("sethostname: ok, uname -n says inner"),
        "{stdout}"
    );
    assert!(
        stdout.contains("mount tmpfs on /mnt: ok, 1 mount there"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cat: /etc/shadow: Permission denied"),
        "{stdout}"
    );
    assert!(stdout.contains("kill: Operation not permitted"), "{stdout}");
    assert!(stdout.contains("kill -0 1: refused"), "{stdout}");
    assert!(
        stdout.contains("sethostname without a UTS namespace: refused"),
        "{stdout}"
    );
    // The challenge, typed by the lab.
    assert!(
        stdout.contains(
            "✓ challenge: a shell of yours is root in a user namespace of its own and UID 65534 on the host"
        ),
        "{stdout}"
    );

    assert_eq!(host_name(), name);
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_08_challenge_fails_before_the_work_and_the_reference_solution_passes() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let name = host_name();
    let stdout = common::check_then_skip(&lab, "8");
    let check = stdout
        .find("✗ not yet: a shell of yours is root in a user namespace of its own and UID 65534 on the host")
        .unwrap_or_else(|| panic!("check did not report the missing shell:\n{stdout}"));
    // Nothing of the learner's runs yet: the report says so rather than passing.
    assert!(
        stdout[check..].contains("no process of yours is running"),
        "{stdout}"
    );
    let skip = stdout
        .find("the reference solution reached the goal")
        .unwrap_or_else(|| panic!("skip did not reach the goal:\n{stdout}"));
    assert!(check < skip, "{stdout}");
    assert_eq!(host_name(), name);
    lab.snapshot().assert_same(&before);
}
