//! Lesson 16, a pod: it runs for real and unattended, its challenge fails before the
//! work and passes after it, and the host is left as found.

mod common;
use common::pty::Pty;
use common::{Lab, require_root, text, unwrapped};

/// The challenge's one process condition, as the lab words it.
const MEMBER: &str = "one process of yours is in a PID namespace of its own and in the pause container's network namespace, and listens on TCP port 8080";

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
    // web joins pause's uts, ipc and net with setns before it unshares its own PID and
    // mount namespaces; its server is PID 1 there; it shares net, ipc and uts with pause,
    // pid and mnt are its own; it listens on 127.0.0.1:8000 in the pod's namespace.
    let s2 = step(&stdout, 2);
    let pause = re(r"container `pause` is running: host PID (\d+)")
        .captures(s1)
        .unwrap_or_else(|| panic!("{s1}"))[1]
        .to_string();
    let mut last = 0;
    for call in [
        format!("/* /proc/{pause}/ns/uts */, CLONE_NEWUTS) = 0"),
        format!("/* /proc/{pause}/ns/ipc */, CLONE_NEWIPC) = 0"),
        format!("/* /proc/{pause}/ns/net */, CLONE_NEWNET) = 0"),
        "child  unshare(CLONE_NEWNS|CLONE_NEWPID) = 0".to_string(),
        "pid 1  chroot(".to_string(),
    ] {
        let at = s2[last..]
            .find(&call)
            .unwrap_or_else(|| panic!("no {call} after the calls before it:\n{s2}"));
        last += at;
    }
    let web = re(r"container `web` is running: its PID 1 is host PID (\d+)")
        .captures(s2)
        .unwrap_or_else(|| panic!("{s2}"))[1]
        .to_string();
    assert!(re(&format!(r"(?m)^\s+{web} python3$")).is_match(s2), "{s2}");
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
        .find(&format!("✗ not yet: {MEMBER}"))
        .unwrap_or_else(|| panic!("check did not fail first:\n{stdout}"));
    let not_listening = stdout
        .find("✗ not yet: inside the pod, 127.0.0.1:8080 accepts a connection")
        .unwrap_or_else(|| panic!("no failing listener condition:\n{stdout}"));
    assert!(
        stdout[not_listening..]
            .contains("it printed: connect(127.0.0.1:8080): ECONNREFUSED (Connection refused)"),
        "{stdout}"
    );
    let skip = stdout
        .find("the lab types the reference solution")
        .expect("skip");
    assert!(check < skip && not_listening < skip, "{stdout}");
    let typed = &stdout[skip..];
    assert!(typed.contains(&format!("✓ {MEMBER}")), "{typed}");
    assert!(
        typed.contains("✓ inside the pod, 127.0.0.1:8080 accepts a connection"),
        "{typed}"
    );
    assert!(
        typed.contains("the reference solution reached the goal"),
        "{typed}"
    );
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_16_challenge_a_pid_namespace_here_and_a_listener_there_is_not_a_member() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut cmd = lab.cmd(&[]);
    cmd.env("TERM", "xterm");
    let mut t = Pty::spawn(cmd, 120, 40);
    t.open_challenge("16", "[16-pod 7/7] > ");
    let pause = re(r"container `pause` is running: host PID (\d+)")
        .captures(&t.seen)
        .unwrap_or_else(|| panic!("{}", t.seen))[1]
        .to_string();
    // The old loophole: a python3 with a PID namespace of its own, in the shell's network
    // namespace, and a listener on 8080 in the pod that has no PID namespace of its own.
    t.line("shell");
    t.expect("[fromscratch host] # ");
    t.line("unshare --pid --fork --kill-child python3 -c 'import time; time.sleep(600)' &");
    t.expect("[fromscratch host] # ");
    t.line(&format!(
        "nsenter --target {pause} --net python3 -m http.server --bind 127.0.0.1 8080 >/dev/null 2>&1 &"
    ));
    t.expect("[fromscratch host] # ");
    t.line(&format!(
        "sleep 2; nsenter --target {pause} --net ss -Htln | grep -c 127.0.0.1:8080"
    ));
    t.expect("\n1\r\n");
    t.expect("[fromscratch host] # ");
    t.line("exit");
    let report = unwrapped(&t.expect("[16-pod 7/7] > "));
    assert!(report.contains(&format!("✗ not yet: {MEMBER}")), "{report}");
    // Each half is there, in a different process: the pod's listener holds the port.
    assert!(
        report.contains("✓ inside the pod, 127.0.0.1:8080 accepts a connection"),
        "{report}"
    );
    // The closest process is the pod's listener (two properties of three); the
    // PID-namespaced python3 holds only one.
    for prop in [
        "✗ has a pid namespace of its own (it shares the lab's)",
        "✓ is in the net namespace of container pause",
        "✓ listens on TCP port 8080",
    ] {
        assert!(report.contains(prop), "{prop}: {report}");
    }
    assert!(!report.contains("challenge passed"), "{report}");
    t.line("quit");
    assert!(t.wait().success(), "{}", t.seen);
    lab.snapshot().assert_same(&before);
}
