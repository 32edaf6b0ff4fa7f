//! The runtime's volumes and shared namespaces, through the real binary on small fixture
//! lessons: a host directory written through a read-write volume, refused (EROFS)
//! through a read-only one, nothing left in the host's mount table; two pod members in
//! the pause container's network namespace, each with a PID namespace of its own.

mod common;
use common::{Lab, require_root, text};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_volume_carries_writes_to_the_host_a_read_only_one_refuses_them_and_no_mount_is_left() {
    require_root();
    let rootfs = common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["run", &fixture("volumes.toml"), "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains('✗'), "a check failed:\n{stdout}");
    let tmp = format!("\"{}/tmp\"", rootfs.display());
    // The bind, traced; the read-only volume takes a second call.
    let bind = regex::Regex::new(&format!(
        r#"(?m)^\s+child  mount\("\S+/lab-\d+/data", {}, NULL, MS_BIND\|MS_REC, NULL\) = 0$"#,
        regex::escape(&tmp)
    ))
    .expect("regex");
    assert_eq!(bind.find_iter(&stdout).count(), 2, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "child  mount(NULL, {tmp}, NULL, MS_RDONLY|MS_REMOUNT|MS_BIND, NULL) = 0"
        )),
        "{stdout}"
    );
    // Written inside, read on the host; refused inside with EROFS, the host still writes.
    let rw = stdout.find("━━ Step 2/3").expect("step 2");
    let ro = stdout.find("━━ Step 3/3").expect("step 3");
    assert!(stdout[rw..ro].contains("  [host] $ cat "), "{stdout}");
    assert!(
        regex::Regex::new(r"(?m)^    written-inside$")
            .expect("regex")
            .find_iter(&stdout[rw..ro])
            .count()
            == 2,
        "{stdout}"
    );
    assert!(
        stdout[ro..].contains("sh: 1: cannot create /tmp/refused: Read-only file system"),
        "{stdout}"
    );
    assert!(
        stdout[ro..].contains("    nothing written inside"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("    none on the host").count(),
        2,
        "{stdout}"
    );
    // And now, with the lab gone: the host's own mount table has nothing of it.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !mounts.contains(&lab.run.path().display().to_string()),
        "{mounts}"
    );
    lab.snapshot().assert_same(&before);
}

#[test]
fn pod_members_share_the_pause_containers_net_namespace_and_not_its_pid_namespace() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["run", &fixture("pod.toml"), "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let ns = regex::Regex::new(r"(?m)^    (net|pid):\[(\d+)\]$").expect("regex");
    let links: Vec<(String, u64)> = ns
        .captures_iter(&stdout)
        .map(|c| (c[1].to_string(), c[2].parse().expect("inode")))
        .collect();
    // pause, m1, m2: net, then pid.
    assert_eq!(links.len(), 6, "{stdout}");
    let (net, pid) = links.split_at(3);
    assert!(net.iter().all(|(n, _)| n == "net") && pid.iter().all(|(n, _)| n == "pid"));
    assert_eq!(
        net[0].1, net[1].1,
        "m1 is in pause's net namespace:\n{stdout}"
    );
    assert_eq!(
        net[0].1, net[2].1,
        "m2 is in pause's net namespace:\n{stdout}"
    );
    assert_ne!(
        pid[0].1, pid[1].1,
        "m1 has its own PID namespace:\n{stdout}"
    );
    assert_ne!(
        pid[0].1, pid[2].1,
        "m2 has its own PID namespace:\n{stdout}"
    );
    assert_ne!(pid[1].1, pid[2].1, "m1 and m2 do not share one:\n{stdout}");
    // pause's net namespace is not the host's.
    let host_net = std::fs::read_link("/proc/self/ns/net").expect("ns");
    assert_ne!(
        host_net.display().to_string(),
        format!("net:[{}]", net[0].1)
    );
    // Joined before the member's own namespaces were unshared, and the shared UTS
    // namespace was kept (the hostname is the pod's).
    let m2 = stdout.find("━━ Step 3/3").expect("step 3");
    let trace = &stdout[m2..];
    let at = |s: &str| trace.find(s).unwrap_or_else(|| panic!("no {s}:\n{trace}"));
    assert!(at("CLONE_NEWUTS) = 0") < at("CLONE_NEWIPC) = 0"), "{trace}");
    assert!(at("CLONE_NEWIPC) = 0") < at("CLONE_NEWNET) = 0"), "{trace}");
    assert!(
        at("CLONE_NEWNET) = 0") < at("unshare(CLONE_NEWNS|CLONE_NEWPID) = 0"),
        "{trace}"
    );
    assert!(trace.contains("  [m2] $ uname -n\n    pod\n"), "{trace}");
    lab.snapshot().assert_same(&before);
}

#[test]
fn a_volume_target_the_rootfs_lacks_is_refused_and_never_made_in_the_shared_rootfs() {
    require_root();
    let rootfs = common::host_rootfs();
    assert!(!rootfs.join("srv").exists(), "the host recipe has no /srv");
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["run", &fixture("volume-missing-target.toml"), "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let all = common::unwrapped(&format!("{stdout}{stderr}"));
    assert!(
        all.contains(&format!(
            "volume target `/srv/www` does not exist in the root {}, and the lab never writes into a shared rootfs",
            rootfs.display()
        )),
        "{all}"
    );
    assert!(!rootfs.join("srv").exists(), "the rootfs was written to");
    lab.snapshot().assert_same(&before);
}
