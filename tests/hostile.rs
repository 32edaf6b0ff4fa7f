//! Lessons and state files that try to reach the host (found by trying to break the
//! lab): each must be stopped, and the host must look the same afterwards.

mod common;
use common::{Lab, require_root, text};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_lesson_cannot_mount_on_rename_or_leave_processes_on_the_host() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let before = lab.snapshot();
    let out = lab.run(&["run", &fixture("hostile.toml"), "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // The mount happened, inside the guard's private mount namespace…
    assert!(stdout.contains("mounted-inside"), "{stdout}");
    assert!(
        stdout.contains("the lab's guard, not the lesson's"),
        "{stdout}"
    );
    // …and the host kept its name, its mounts, and no sleep 1111.
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        hostname
    );
    lab.snapshot().assert_same(&before);
    let sleepers = std::process::Command::new("pgrep")
        .args(["-f", "^sleep 1111$"])
        .output()
        .unwrap();
    assert!(
        sleepers.stdout.is_empty(),
        "the orphaned sleep survived: {}",
        String::from_utf8_lossy(&sleepers.stdout)
    );
}

#[test]
fn a_probe_that_closes_its_output_and_hangs_is_stopped() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab
        .cmd(&["run", &fixture("hang.toml"), "--yes"])
        .env("FROMSCRATCH_TIMEOUT", "2")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("the command did not finish within 2 s and was killed"),
        "{stderr}"
    );
    lab.snapshot().assert_same(&before);
    let sleepers = std::process::Command::new("pgrep")
        .args(["-f", "^sleep 1000$"])
        .output()
        .unwrap();
    assert!(
        sleepers.stdout.is_empty(),
        "the hung probe's sleep survived"
    );
}

#[test]
fn make_tree_cannot_copy_over_or_out_of_the_lab() {
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("canary");
    std::fs::write(&canary, "precious").unwrap();
    let lesson = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/lessons/01-rootfs.toml"
    ))
    .unwrap()
    .replace(
        "copy = [\"/bin/bash\"]",
        &format!("copy = [\"/tmp/../../../..{}\"]", canary.display()),
    );
    let path = dir.path().join("01-rootfs.toml");
    std::fs::write(&path, lesson).unwrap();
    let lab = Lab::new();
    for args in [
        vec!["check", path.to_str().unwrap()],
        vec!["run", path.to_str().unwrap(), "--yes"],
    ] {
        let out = lab.run(&args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}\n{stderr}");
        assert!(
            format!("{stdout}{stderr}").contains("`..` and `.` are not allowed"),
            "{stdout}{stderr}"
        );
    }
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "precious");
}

#[test]
fn cleanup_ignores_a_state_file_that_points_outside_the_run_directory() {
    let lab = Lab::new();
    let victim = tempfile::tempdir().unwrap();
    std::fs::write(victim.path().join("keep"), "mine").unwrap();
    let forged = format!(
        r#"{{"owner":{{"name":"lab","pid":2147483000,"start_time":1,"kind":"lab"}},"scratch":"{}/../{}","processes":[]}}"#,
        lab.run.path().display(),
        victim.path().display()
    );
    std::fs::write(lab.run.path().join("lab-2147483000.json"), forged).unwrap();
    let out = lab.run(&["cleanup"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        std::fs::read_to_string(victim.path().join("keep")).unwrap(),
        "mine",
        "{stdout}"
    );
    assert!(
        !lab.run.path().join("lab-2147483000.json").exists(),
        "the stale state file itself goes"
    );
}

#[test]
fn cleanup_refuses_a_run_directory_others_can_write() {
    let lab = Lab::new();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(lab.run.path()).unwrap().permissions(),
        0o777,
    );
    std::fs::set_permissions(
        lab.run.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let out = lab.run(&["cleanup"]);
    let (_, stderr) = text(&out);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("writable by no one else"), "{stderr}");
}

#[test]
fn a_process_that_has_ended_is_never_signalled() {
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["run", &fixture("signal-gone.toml"), "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("`brief` has already ended, so it was not signalled"),
        "{stderr}"
    );
    assert!(
        stdout.contains("✓ ended"),
        "the decoy had not ended:\n{stdout}"
    );
    assert!(!stdout.contains("kill("), "a kill was traced:\n{stdout}");
    lab.snapshot().assert_same(&before);
}

#[test]
fn check_refuses_a_signal_without_its_sig_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let body = std::fs::read_to_string(fixture("signal-gone.toml"))
        .unwrap()
        .replace("\"SIGTERM\"", "\"TERM\"");
    let path = dir.path().join("signal-gone.toml");
    std::fs::write(&path, body).unwrap();
    let out = Lab::new().run(&["check", path.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("`TERM` is not a signal name; write it as signal(7) does: SIGTERM"),
        "{stdout}"
    );
}

#[test]
fn a_veth_end_never_lands_in_the_hosts_network_namespace() {
    // check refuses a peer without a network namespace of its own...
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["check", &fixture("veth-into-host.toml")]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("`net` op `veth` acts in container `h`, which has no network namespace of its own (it is the host's): give `h` net = true"),
        "{stdout}"
    );
    let out = lab.run(&["run", &fixture("veth-into-host.toml"), "--yes"]);
    assert_eq!(out.status.code(), Some(2));
    lab.snapshot().assert_same(&before);
}

#[test]
fn the_runtime_refuses_to_move_a_veth_end_into_the_labs_own_namespace() {
    // ...and the runtime refuses it too, before any fork, whatever a lesson says.
    common::require_root();
    let mut holder = std::process::Command::new("unshare")
        .args(["--net", "sleep", "30"])
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(holder.id() as i32);
    assert!(common::wait_for(5, || {
        std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()
            != std::fs::read_link("/proc/self/ns/net").ok()
    }));
    let err = fromscratch::runtime::net::run_in(
        pid,
        &[fromscratch::runtime::net::NetOp::MoveToNetns {
            ifname: "lo".into(),
            netns: "/proc/self/ns/net".into(),
        }],
    )
    .expect_err("refused");
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(
        err.to_string().starts_with(
            "refusing to move `lo` into /proc/self/ns/net: that network namespace is the host's own"
        ),
        "{err}"
    );
}

#[test]
fn a_step_id_of_dotdot_never_reaches_the_hosts_cgroups() {
    let lab = Lab::new();
    let out = lab.run(&["run", &fixture("step-id-dotdot.toml"), "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("step id `..`: use only letters, digits, `-` and `_`")
            || stderr.contains("step id `..`: use only letters, digits, `-` and `_`"),
        "{stdout}\n{stderr}"
    );
}
