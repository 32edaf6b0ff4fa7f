//! Interruptions: Ctrl-C and SIGTERM leave the host unchanged at once; after SIGKILL of
//! fromscratch itself, its children die with it (PR_SET_PDEATHSIG) and `fromscratch
//! cleanup` removes what remains (its scratch directory and state file).

mod common;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use common::{Lab, require_root, text, wait_for};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Start the REPL with a pipe for stdin, run lesson 04 up to its live container, and
/// return the child once step 4 is done and the REPL waits for input.
fn repl_with_live_container(
    lab: &Lab,
) -> (std::process::Child, std::process::ChildStdin, Vec<String>) {
    let mut child = lab
        .cmd(&[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"start 4\n\n\n\n\n").unwrap();
    stdin.flush().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        if reader.read_line(&mut l).unwrap() == 0 {
            panic!("the REPL ended early:\n{}", lines.join(""));
        }
        lines.push(l.clone());
        // The next step's heading is printed once step 4 (its after-probes too) is done
        // and the REPL waits for input with the container alive.
        if l.contains("Step 5/7") {
            break;
        }
    }
    std::thread::spawn(move || for _ in reader.lines() {});
    (child, stdin, lines)
}

fn lab_processes_exist(lab: &Lab) -> bool {
    !lab.snapshot().lab_processes.is_empty()
}

/// Processes of the lab other than the fromscratch process `pid` itself.
fn lab_processes_besides(lab: &Lab, pid: u32) -> usize {
    lab.snapshot()
        .lab_processes
        .iter()
        .filter(|p| !p.starts_with(&format!("{pid} ")))
        .count()
}

#[track_caller]
fn signal_leaves_host_unchanged(sig: Signal, want: i32) {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let (mut child, stdin, _) = repl_with_live_container(&lab);
    // The decoy, the container's intermediate, its init and its sleep.
    assert!(
        lab_processes_besides(&lab, child.id()) >= 4,
        "the container and decoy should be running now: {:?}",
        lab.snapshot().lab_processes
    );
    kill(Pid::from_raw(i32::try_from(child.id()).unwrap()), sig).unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    assert_eq!(status.code(), Some(want), "exit status after {sig}");
    lab.snapshot().assert_same(&before);
}

#[test]
fn sigint_mid_lesson_stops_everything_at_once() {
    signal_leaves_host_unchanged(Signal::SIGINT, 130);
}

#[test]
fn sigterm_mid_lesson_stops_everything_at_once() {
    signal_leaves_host_unchanged(Signal::SIGTERM, 143);
}

#[test]
fn sigkill_children_die_with_the_lab_and_cleanup_finishes_the_job() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let (mut child, stdin, _) = repl_with_live_container(&lab);
    let pid = child.id();
    assert!(
        lab.run.path().join(format!("lab-{pid}.json")).exists(),
        "the state file records the live lab"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);
    // PR_SET_PDEATHSIG: the decoy, the container's intermediate and PID 1 all go.
    assert!(
        wait_for(10, || !lab_processes_exist(&lab)),
        "processes outlived the lab: {:?}",
        lab.snapshot().lab_processes
    );
    // What a dead process cannot remove itself: its scratch directory and state file.
    assert!(lab.run.path().join(format!("lab-{pid}.json")).exists());
    let out = lab.run(&["cleanup"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "removed {}",
            lab.run.path().join(format!("lab-{pid}")).display()
        )),
        "{stdout}"
    );
    lab.snapshot().assert_same(&before);
    // A second cleanup finds nothing.
    let (stdout, _) = text(&lab.run(&["cleanup"]));
    assert_eq!(stdout.trim(), "nothing to clean up");
}

#[test]
fn run_without_yes_pauses_and_q_quits_cleanly() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run_with_input(&["run", "04"], "\n\nq\n");
    let (stdout, stderr) = text(&out);
    assert!(stdout.contains("[Enter] run step 3"), "{stdout}\n{stderr}");
    // Each step's explanation comes before its pause; q at step 3 ran steps 1 and 2 only.
    assert!(stdout.contains("Step 3/7"), "{stdout}");
    assert_eq!(stdout.matches("── action:").count(), 2, "{stdout}");
    assert!(stdout.contains("stopped before step 3 of 7"), "{stdout}");
    assert_eq!(out.status.code(), Some(0));
    lab.snapshot().assert_same(&before);
}
