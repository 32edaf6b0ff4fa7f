//! Lesson 16, a pod: it runs for real and unattended, its challenge fails before the
//! work and passes after it, and the host is left as found.

mod common;
use common::{Lab, require_root, text};

/// The text of step `n` of a run's output, up to the next step.
fn step(out: &str, n: usize) -> &str {
    let start = out
        .find(&format!("━━ Step {n}/"))
        .unwrap_or_else(|| panic!("no step {n}:\n{out}"));
    let from = start + "━━ Step ".len();
    let end = out[from..].find("━━ Step ").map_or(out.len(), |e| from + e);
    &out[start..end]
}

fn re(s: &str) -> regex::Regex {
    regex::Regex::new(s).expect("regex")
}

#[test]
fn lesson_16_pod_members_share_a_loopback_and_nothing_else() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["run", "16-pod", "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("16-pod: every check held"), "{stdout}");
    assert!(!stdout.contains('✗'), "a check failed:\n{stdout}");

    // The pause container: a new network namespace with lo down, the hostname pod.
    let s1 = step(&stdout, 1);
    assert!(
        re(r"(?m)^\s+1: lo: <LOOPBACK> .*state DOWN").is_match(s1),
        "{s1}"
    );
    assert!(re(r"(?m)^\s+pod$").is_match(s1), "{s1}");
    // web's server shares net, ipc and uts with pause; pid and mnt are its own; it
    // listens on 127.0.0.1:8000 in the pod's namespace.
    let s2 = step(&stdout, 2);
    for n in ["net", "ipc", "uts"] {
        assert!(
            re(&format!(r"(?m)^\s+{n}: the same, {n}:\[\d+\]$")).is_match(s2),
            "{s2}"
        );
    }
    for n in ["pid", "mnt"] {
        assert!(
            re(&format!(
                r"(?m)^\s+{n}: different, pause {n}:\[(\d+)\], web {n}:\[\d+\]$"
            ))
            .is_match(s2),
            "{s2}"
        );
    }
    assert!(
        re(r"(?m)^\s+LISTEN .*127\.0\.0\.1:8000 ").is_match(s2),
        "{s2}"
    );
    // Pitfall N1: lo down, ENETUNREACH although the server listens.
    let s3 = step(&stdout, 3);
    assert!(
        s3.contains("connect(127.0.0.1:8000): ENETUNREACH (Network is unreachable)"),
        "{s3}"
    );
    // lo up: 127.0.0.1/8 appears.
    let s4 = step(&stdout, 4);
    assert!(
        re(r"(?m)^  \+\s*1: lo\s+inet 127\.0\.0\.1/8 ").is_match(s4),
        "{s4}"
    );
    // The client gets web's line, is PID 1 of its own namespace, on host pod, and its
    // net namespace is pause's.
    let s5 = step(&stdout, 5);
    assert!(
        s5.contains("client got: hello from web, PID 1 in its PID namespace"),
        "{s5}"
    );
    assert!(s5.contains("client: PID 1 on host pod"), "{s5}");
    let pause_net = re(r"(?m)^\s+pause:\s+(net:\[\d+\])$")
        .captures(s5)
        .unwrap_or_else(|| panic!("{s5}"))[1]
        .to_string();
    assert!(s5.contains(&format!("client net {pause_net}")), "{s5}");
    assert!(s5.contains("one network namespace"), "{s5}");
    // Outside the pod, the same client reaches nothing.
    let s6 = step(&stdout, 6);
    assert!(
        s6.contains("connect(127.0.0.1:8000): ENETUNREACH (Network is unreachable)"),
        "{s6}"
    );
    assert!(!re(r"(?m)^\s+client got: ").is_match(s6), "{s6}");
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_16_challenge_fails_before_the_work_and_passes_after() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let stdout = common::check_then_skip(&lab, "16");
    let check = stdout
        .find("✗ not yet: a python3 of yours has a PID namespace of its own")
        .unwrap_or_else(|| panic!("check did not fail first:\n{stdout}"));
    let not_listening = stdout
        .find("✗ not yet: inside the pod, something listens on 127.0.0.1:8080")
        .unwrap_or_else(|| panic!("no failing listener condition:\n{stdout}"));
    let skip = stdout
        .find("the lab types the reference solution")
        .expect("skip");
    assert!(check < skip && not_listening < skip, "{stdout}");
    let typed = &stdout[skip..];
    assert!(
        typed.contains("✓ inside the pod, something listens on 127.0.0.1:8080"),
        "{typed}"
    );
    assert!(
        typed.contains("the reference solution reached the goal"),
        "{typed}"
    );
    lab.snapshot().assert_same(&before);
}
