//! The shared cached rootfs is never changed by a lesson: every container on it, every
//! probe and every challenge shell sees it read-only (the lab's guard, protect.rs), so
//! python's bytecode and history, or a file named `dev/null`, cannot stay in the cache
//! and change the next lesson. Lessons that used to write there run whole, their
//! reference solutions typed; then the tree is compared entry by entry.

mod common;
use common::{Lab, require_root, text};

#[test]
fn whole_lessons_and_their_challenges_leave_the_cached_rootfs_as_it_was() {
    require_root();
    let rootfs = common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let tree = common::manifest(&rootfs);
    // 02 runs python3 in a chroot (bytecode, history), 07 and 15 and 16 run python3 in
    // containers; 03's challenge chroots by hand.
    for lesson in [
        "02-chroot",
        "03-host-processes",
        "07-uts-ipc",
        "15-caps-seccomp",
        "16-pod",
    ] {
        let out = lab.run(&["run", lesson, "--yes"]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{lesson}:\n{stdout}\n{stderr}");
    }
    let changed = common::changed(&tree, &common::manifest(&rootfs));
    assert!(
        changed.is_empty(),
        "the cached rootfs changed: {changed:#?}"
    );
    lab.snapshot().assert_same(&before);
}

#[test]
fn a_container_on_the_rootfs_gets_erofs_and_the_tree_stays_as_it_was() {
    require_root();
    let rootfs = common::host_rootfs();
    let tree = common::manifest(&rootfs);
    let dir = tempfile::tempdir().unwrap();
    let lesson = dir.path().join("write-rootfs.toml");
    std::fs::write(
        &lesson,
        r#"format_version = 1
id = "write-rootfs"
title = "t"
summary = "s"
objectives = ["o"]

[[steps]]
id = "w"
title = "A write into the rootfs"
explain = "e"
action = { kind = "exec", command = ["sh", "-c", "echo x > /dev/null; echo y > /root/y"], expect = { fails = true, contains = ["Read-only file system"] } }
"#,
    )
    .unwrap();
    let lab = Lab::new();
    let out = lab.run(&["run", lesson.to_str().unwrap(), "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("MS_RDONLY|MS_REMOUNT|MS_BIND"),
        "the guard's read-only remount is not in the trace:\n{stdout}"
    );
    let changed = common::changed(&tree, &common::manifest(&rootfs));
    assert!(
        changed.is_empty(),
        "the cached rootfs changed: {changed:#?}"
    );
}
