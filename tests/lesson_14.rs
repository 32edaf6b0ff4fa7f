//! Lesson 14, PID 1's duties: it runs for real and unattended, its challenge fails
//! before the work and passes after it, and the host is left as found.

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

#[test]
fn lesson_14_bare_pid1_ignores_sigterm_keeps_a_zombie_and_takes_its_namespace_along() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["run", "14-pid1", "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("14-pid1: every check held"), "{stdout}");
    assert!(!stdout.contains('✗'), "a check failed:\n{stdout}");

    // Pitfall P3: SIGTERM to a bare PID 1 is accepted by kill(2) and discarded: the
    // process is unchanged and nothing is pending.
    let s2 = step(&stdout, 2);
    assert!(s2.contains("$ kill -TERM "), "{s2}");
    assert!(
        s2.contains("── difference: bare's PID 1 ──\n    (no difference)"),
        "{s2}"
    );
    assert!(s2.contains("ShdPnd:\t0000000000000000"), "{s2}");
    // A zombie under the bare PID 1, whose parent is PID 1 inside.
    let s3 = step(&stdout, 3);
    assert!(
        regex::Regex::new(r"(?m)^\s+\d+\s+1\s+Z\S*\s+\[sleep\] <defunct>$")
            .expect("regex")
            .is_match(s3),
        "{s3}"
    );
    // Under fs-init: no zombie, and the init catches HUP INT QUIT USR1 USR2 TERM CHLD.
    let s4 = step(&stdout, 4);
    let zombie = regex::Regex::new(r"(?m)^\s+\d+\s+\d+\s+Z").expect("regex");
    assert!(!zombie.is_match(s4), "{s4}");
    assert!(
        regex::Regex::new(r"(?m)^\s+\d+\s+2\s+S\S*\s+sleep 3601$")
            .expect("regex")
            .is_match(s4),
        "{s4}"
    );
    assert!(s4.contains("/status:SigCgt:\t0000000000014a07"), "{s4}");
    // SIGTERM to fs-init ends the container.
    let s5 = step(&stdout, 5);
    assert!(
        regex::Regex::new(r"(?m)^  - \s*\d+ S\S*\s+fs-init$")
            .expect("regex")
            .is_match(s5),
        "{s5}"
    );
    // SIGKILL to bare's PID 1 alone: every process of its namespace is gone, the
    // sleep 3601 and the zombie included.
    let s6 = step(&stdout, 6);
    for gone in [
        r"S\S*\s+sleep 3600$",
        r"S\S*\s+sleep 3601$",
        r"Z\S*\s+\[sleep\] <defunct>$",
    ] {
        let re = regex::Regex::new(&format!(r"(?m)^  - \s*\d+\s+\d+\s+{gone}")).expect("regex");
        assert!(re.is_match(s6), "{gone} not removed:\n{s6}");
    }
    // The challenge's reference solution: a trapping shell as PID 1 catches TERM (bit
    // 14) and CHLD, and exits 0 on SIGTERM.
    let s7 = step(&stdout, 7);
    assert!(s7.contains("SigCgt:\t0000000000014000"), "{s7}");
    assert!(s7.contains("PID 1 exited with status 0"), "{s7}");
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_14_challenge_fails_before_the_work_and_passes_after() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let stdout = common::check_then_skip(&lab, "14");
    let check = stdout
        .find("✗ not yet: a process of yours is PID 1 of its own PID namespace and has a handler for SIGTERM")
        .unwrap_or_else(|| panic!("check did not fail first:\n{stdout}"));
    let skip = stdout
        .find("the lab types the reference solution")
        .expect("skip");
    assert!(check < skip, "{stdout}");
    let typed = &stdout[skip..];
    assert!(
        typed.contains(
            "✓ a process of yours is PID 1 of its own PID namespace and has a handler for SIGTERM"
        ),
        "{typed}"
    );
    assert!(
        typed.contains("the reference solution reached the goal"),
        "{typed}"
    );
    lab.snapshot().assert_same(&before);
}
