//! Lesson 12, volumes: it runs for real and unattended, its challenge fails before the
//! work and passes after it, and the host is left as found.

mod common;
use common::{Lab, require_root, text};

#[test]
fn lesson_12_binds_a_host_directory_both_ways_read_only_and_not_recursively() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["run", "12-volumes", "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("12-volumes: every check held"), "{stdout}");
    assert!(!stdout.contains('✗'), "a check failed:\n{stdout}");

    // The bind mount, inside c: its source is the lab's directory.
    let bind =
        regex::Regex::new(r"(?m)^\s+/root\s+\S+\[\S+/lab-[0-9]+/vol\]\s+\S+\s+rw,").expect("regex");
    assert!(bind.is_match(&stdout), "{stdout}");
    // The host's mount table never has it.
    assert!(stdout.contains("    none on the host"), "{stdout}");
    assert!(!stdout.contains("  + none on the host"), "{stdout}");
    // Both ways: c's write is in the host directory, the host's write is in c.
    assert!(
        regex::Regex::new(r"(?m)^\s+\+ \S+/lab-[0-9]+/vol/from-c:written in c$")
            .expect("regex")
            .is_match(&stdout),
        "{stdout}"
    );
    assert!(
        stdout.contains("  + /root/from-host:written on the host later"),
        "{stdout}"
    );
    // The runtime made the volume: a recursive bind in c's PID 1, before its chroot.
    let bind_call = regex::Regex::new(
        r#"(?m)^\s+pid 1  mount\("\S+/lab-[0-9]+/vol", "(\S+)/root", NULL, MS_BIND\|MS_REC, NULL\) = 0$"#,
    )
    .expect("regex");
    let container = stdout.find("A container with a volume").expect("step 2");
    let read_only = stdout
        .find("Read-only: a bind, then a remount")
        .expect("the read-only step");
    let bound = bind_call
        .captures(&stdout[container..read_only])
        .unwrap_or_else(|| panic!("no bind in step 2:\n{stdout}"));
    let rootfs = bound[1].to_string();
    let chroot = format!("pid 1  chroot(\"{rootfs}\") = 0");
    assert!(
        stdout[container..read_only].find(&chroot) > bound.get(0).map(|m| m.start()),
        "{stdout}"
    );
    // Read-only: the bind, then MS_REMOUNT|MS_BIND|MS_RDONLY; EROFS inside, while c and
    // the host still write.
    let ro = &stdout[read_only..];
    let remount = format!(
        "pid 1  mount(NULL, \"{rootfs}/root\", NULL, MS_RDONLY|MS_REMOUNT|MS_BIND, NULL) = 0"
    );
    let b = bind_call
        .find(ro)
        .expect("the bind of the read-only volume");
    let r = ro
        .find(&remount)
        .unwrap_or_else(|| panic!("no {remount}:\n{ro}"));
    assert!(
        b.start() < r && r < ro.find(&chroot).expect("chroot"),
        "{ro}"
    );
    assert!(
        ro.contains("    sh: 1: cannot create /root/from-c: Read-only file system"),
        "{stdout}"
    );
    assert!(ro.contains("    written /root/from-c"), "{stdout}");
    assert!(
        regex::Regex::new(r"(?m)^\s+/root\s+ro,")
            .expect("regex")
            .is_match(&stdout),
        "{stdout}"
    );
    assert!(stdout.contains("    the host can still write"), "{stdout}");
    // The pitfall: a plain bind leaves the tmpfs behind; --rbind brings it.
    let pitfall = stdout
        .find("The pitfall: a bind mount is not recursive")
        .expect("the pitfall step");
    let fix = stdout.find("The fix: --rbind").expect("the fix step");
    assert!(stdout[pitfall..fix].contains("    (empty)"), "{stdout}");
    assert!(stdout[fix..].contains("  + note"), "{stdout}");
    assert!(stdout[fix..].contains("  + `-/tmp/cache tmpfs"), "{stdout}");
    // The challenge's reference solution passed, typed by the lab.
    assert!(
        stdout
            .contains("✓ challenge: inside c, a write under /run fails with Read-only file system"),
        "{stdout}"
    );
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_12_challenge_fails_before_the_work_and_passes_after() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let stdout = common::check_then_skip(&lab, "12");
    let check = stdout
        .find("✗ not yet: inside c, /run/readme shows ")
        .unwrap_or_else(|| panic!("check did not fail first:\n{stdout}"));
    assert!(
        stdout[check..].contains("cat: /run/readme: No such file or directory"),
        "{stdout}"
    );
    assert!(
        stdout[check..]
            .contains("✗ not yet: inside c, a write under /run fails with Read-only file system"),
        "{stdout}"
    );
    let skip = stdout
        .find("the lab types the reference solution")
        .expect("skip");
    assert!(check < skip, "{stdout}");
    let typed = &stdout[skip..];
    assert!(
        typed.contains("--mount mount -o remount,bind,ro "),
        "{typed}"
    );
    assert!(typed.contains("shared from the host"), "{typed}");
    assert!(
        typed.contains("✓ inside c, a write under /run fails with Read-only file system"),
        "{typed}"
    );
    assert!(
        typed.contains("the reference solution reached the goal"),
        "{typed}"
    );
    lab.snapshot().assert_same(&before);
}
