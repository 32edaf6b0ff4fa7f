//! Rootfs behaviour that needs real mounts. Each test runs its mounts inside a private
//! mount namespace of its own (`unshare --mount --propagation private`), so the host's
//! mount table is never touched, even for a moment.

mod common;
use common::{require_root, text};

/// Run `script` with `sh` in a new private mount namespace; `$B` is the binary.
fn in_private_mount_ns(script: &str) -> std::process::Output {
    std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .env("B", common::bin())
        .env("NO_COLOR", "1")
        .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("unshare")
}

#[test]
fn rootfs_rm_refuses_to_delete_through_a_mount() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let out = in_private_mount_ns(&format!(
        r#"export FROMSCRATCH_CACHE={d}/cache FROMSCRATCH_RUN={d}/run
T=$("$B" rootfs build host | tail -n 1)
mount -t tmpfs -o size=1m fs-rm "$T/proc"
echo keep > "$T/proc/inside-the-mount"
"$B" rootfs rm host; echo "exit=$?"
test -f "$T/proc/inside-the-mount" && echo "still there"
umount "$T/proc"
"$B" rootfs rm host; echo "exit=$?"
test -e "$T" || echo "gone""#,
        d = dir.path().display()
    ));
    let (o, e) = text(&out);
    let lines: Vec<&str> = o
        .lines()
        .filter(|l| l.starts_with("exit=") || *l == "still there" || *l == "gone")
        .collect();
    assert_eq!(
        lines,
        vec!["exit=3", "still there", "exit=0", "gone"],
        "{o}\n{e}"
    );
    assert!(e.contains("nothing was deleted"), "{e}");
}
