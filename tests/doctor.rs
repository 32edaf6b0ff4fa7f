//! `fromscratch doctor` on this host, for real: as root it finds everything the lessons
//! need and exits 0; as nobody it says root is missing, that every lesson needs it, and
//! exits 3. Only reads: the host is the same after.

mod common;
use std::process::Command;

use common::{Lab, require_root, text};

/// The row of `label` in the doctor's output (its first line).
fn row<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("  {label} ")))
        .unwrap_or_else(|| panic!("no row {label}:\n{out}"))
}

/// `hybrid`, `v2` or `v1`, from the cgroup mounts in /proc/self/mountinfo.
fn cgroup_kind() -> &'static str {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let v2 = mi.lines().any(|l| l.contains(" - cgroup2 "));
    let v1 = mi.lines().any(|l| l.contains(" - cgroup "));
    match (v1, v2) {
        (true, true) => "hybrid",
        (false, true) => "v2",
        _ => "v1",
    }
}

/// The real value of user.max_user_namespaces here.
fn max_user_namespaces() -> String {
    std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .expect("user.max_user_namespaces")
        .trim()
        .to_string()
}

#[test]
fn doctor_as_root_finds_root_userns_cgroups_overlay_seccomp_and_every_lesson_runs() {
    require_root();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["doctor"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        row(&stdout, "root").contains("✓ yes (uid 0, CAP_SYS_ADMIN)"),
        "{stdout}"
    );
    assert!(
        row(&stdout, "user namespaces").contains("✓ allowed: unshare(CLONE_NEWUSER) works"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "(user.max_user_namespaces = {})",
            max_user_namespaces()
        )),
        "{stdout}"
    );
    // The layout, read here from the mount table the way a person would.
    let kind = cgroup_kind();
    assert!(
        row(&stdout, "cgroups").contains(&format!("· {kind}")),
        "{kind}:\n{stdout}"
    );
    if std::path::Path::new("/.dockerenv").exists() {
        assert!(
            row(&stdout, "container").contains("/.dockerenv exists"),
            "{stdout}"
        );
    }
    assert!(
        row(&stdout, "overlayfs").contains("✓ yes (in /proc/filesystems)"),
        "{stdout}"
    );
    assert!(row(&stdout, "seccomp").contains("✓ yes"), "{stdout}");
    for id in [
        "01-rootfs",
        "02-chroot",
        "03-host-processes",
        "04-pid-namespace",
        "05-mount-namespace",
        "06-pivot-root",
        "07-uts-ipc",
        "08-user-namespace",
        "09-network-namespace",
        "10-cgroups",
        "11-overlayfs",
        "12-volumes",
        "13-enter-container",
        "14-pid1",
        "15-caps-seccomp",
        "16-pod",
    ] {
        assert!(row(&stdout, id).ends_with("✓ runs here"), "{id}:\n{stdout}");
    }
    assert!(
        stdout.contains("The default tour (lessons 01-04 on the host rootfs) runs here"),
        "{stdout}"
    );
    for line in stdout.lines() {
        assert!(
            unicode_width::UnicodeWidthStr::width(line) <= 80,
            "{line:?}"
        );
    }
    lab.snapshot().assert_same(&before);
}

#[test]
fn doctor_as_nobody_needs_root_for_the_lessons_and_exits_3() {
    require_root();
    let lab = Lab::new();
    let before = lab.snapshot();
    let home = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(common::bin())
        .arg("doctor")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("XDG_CACHE_HOME", home.path())
        .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("setpriv");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(
        row(&stdout, "root").contains("✗ no (uid 65534)"),
        "{stdout}"
    );
    assert!(stdout.contains("→ run as root (sudo)"), "{stdout}");
    // user.max_user_namespaces is not 0 here and nothing else forbids it: nobody may
    // make a user namespace (the probe really did).
    assert_ne!(max_user_namespaces(), "0");
    assert!(
        row(&stdout, "user namespaces").contains("✓ allowed: unshare(CLONE_NEWUSER) works"),
        "{stdout}"
    );
    // nobody may not write the root cgroup's files.
    assert!(row(&stdout, "cgroup subtree").contains("✗"), "{stdout}");
    assert!(
        stdout.contains("EACCES, cgroup.subtree_control: EACCES"),
        "{stdout}"
    );
    // Lessons marked `root = false` run in a user namespace; the rest need root.
    for id in ["01-rootfs", "02-chroot", "04-pid-namespace"] {
        assert!(row(&stdout, id).ends_with("✓ runs here"), "{id}:\n{stdout}");
    }
    for id in ["03-host-processes", "10-cgroups", "16-pod"] {
        assert!(
            row(&stdout, id).ends_with("✗ needs root"),
            "{id}:\n{stdout}"
        );
    }
    assert!(
        row(&stdout, "host").contains("✓ ready"),
        "the host recipe builds without root:\n{stdout}"
    );
    assert!(
        stdout.contains(
            "The default tour (lessons 01-04) cannot run here: 03-host-processes needs root"
        ),
        "{stdout}"
    );
    lab.snapshot().assert_same(&before);
}

#[test]
fn doctor_json_has_the_facts_and_the_same_exit_code() {
    require_root();
    let lab = Lab::new();
    let out = lab.run(&["doctor", "--json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(v["facts"]["euid"], 0);
    assert_eq!(v["facts"]["cgroup_kind"], cgroup_kind());
    assert_eq!(v["facts"]["overlayfs"], true);
    assert_eq!(v["facts"]["userns_probe"], "Works");
    assert_eq!(v["report"]["exit_code"], 0);
}
