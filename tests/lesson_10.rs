//! Lesson 10, cgroups: it runs for real and unattended (an OOM kill, a fork bomb stopped
//! by pids.max, EBUSY from the no-internal-processes rule on the real cgroup2 mount), its
//! challenge fails before the work and passes after it, `fromscratch cleanup` removes the
//! cgroups a lab killed with SIGKILL left, and the host is left as found.

mod common;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use common::{Lab, require_root, text, wait_for};

#[test]
fn lesson_10_oom_kills_stops_the_fork_bomb_and_shows_ebusy() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["run", "10-cgroups", "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("10-cgroups: every check held"), "{stdout}");
    assert!(!stdout.contains('✗'), "a check failed:\n{stdout}");

    // The limits, read back from the container's cgroup files (v1 or v2 names).
    assert!(
        regex::Regex::new(r"(?m)^\s+memory\.(max|limit_in_bytes):67108864$")
            .unwrap()
            .is_match(&stdout),
        "{stdout}"
    );
    // The container's first child enters its cgroups before it unshares anything.
    let start = stdout.find("── action: start ──").expect("the start step");
    let trace = &stdout[start..];
    let procs = trace
        .find("/c/cgroup.procs\", \"")
        .expect("the child's write to cgroup.procs");
    let unshare = trace.find("child  unshare(").expect("unshare");
    assert!(procs < unshare, "{trace}");
    // The OOM kill: SIGKILL's status, and oom_kill going from 0 to 1.
    assert!(stdout.contains("(exit status 137)"), "{stdout}");
    assert!(
        regex::Regex::new(r"(?m)^\s+\+ memory\.(events|oom_control):oom_kill 1$")
            .unwrap()
            .is_match(&stdout),
        "{stdout}"
    );
    // The fork bomb: EAGAIN, and pids.events counting it.
    assert!(
        stdout.contains("failed: [Errno 11] Resource temporarily unavailable"),
        "{stdout}"
    );
    assert!(stdout.contains("+ pids.events:max 1"), "{stdout}");
    // G1, for real on the cgroup2 mount: both writes refused with EBUSY.
    assert_eq!(
        stdout
            .matches("cgroup.procs: Device or resource busy")
            .count()
            + stdout
                .matches("cgroup.subtree_control: Device or resource busy")
                .count(),
        2,
        "{stdout}"
    );
    // Stopping the container emptied its cgroup: from the init, python3's shell and
    // the fork bomb's sleeps (fewer when the memory limit OOM-killed one of them: the
    // fork bomb's python3 forks count against memory too) to none.
    let stop = regex::Regex::new(r"── difference: pids.current ──\n  - (\d+)\n  \+ 0\n").unwrap();
    let before_stop: u32 = stop
        .captures(&stdout)
        .unwrap_or_else(|| panic!("no pids.current difference ending at 0:\n{stdout}"))[1]
        .parse()
        .unwrap();
    assert!((3..=20).contains(&before_stop), "{before_stop}: {stdout}");
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_10_challenge_fails_before_the_work_and_passes_after() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let stdout = common::check_then_skip(&lab, "10");
    let check = stdout
        .find("✗ not yet: a shell of yours is in a cgroup whose pids.max is 10")
        .unwrap_or_else(|| panic!("check did not fail first:\n{stdout}"));
    let skip = stdout
        .find("the lab types the reference solution")
        .expect("skip");
    assert!(check < skip, "{stdout}");
    let typed = &stdout[skip..];
    assert!(typed.contains("/yours/box/cgroup.procs"), "{typed}");
    assert!(
        typed.contains("✓ a shell of yours is in a cgroup whose pids.max is 10"),
        "{typed}"
    );
    assert!(
        typed.contains("the reference solution reached the goal"),
        "{typed}"
    );
    // The learner's shell in a cgroup of the lab's, and the learner's own `box`, did
    // not stop the teardown: every directory went.
    lab.snapshot().assert_same(&before);
}

/// The lab's cgroup directories (`fromscratch-PID`) for lab PID `pid`.
fn lab_cgroup_dirs(pid: u32) -> Vec<std::path::PathBuf> {
    walkdir::WalkDir::new("/sys/fs/cgroup")
        .max_depth(6)
        .into_iter()
        .flatten()
        .filter(|e| e.file_name().to_str() == Some(&format!("fromscratch-{pid}")))
        .map(|e| e.path().to_path_buf())
        .collect()
}

#[test]
fn cleanup_after_sigkill_removes_the_lab_cgroups() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut child = lab
        .cmd(&[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"start 10\n\n\n").unwrap();
    stdin.flush().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        assert!(
            reader.read_line(&mut l).unwrap() > 0,
            "the REPL ended early:\n{}",
            lines.join("")
        );
        lines.push(l.clone());
        // Step 3's heading: step 2 made the cgroups and started the container in them.
        if l.contains("Step 3/7") {
            break;
        }
    }
    std::thread::spawn(move || for _ in reader.lines() {});
    let pid = child.id();
    let dirs = lab_cgroup_dirs(pid);
    assert!(dirs.len() >= 2, "the lab's cgroups: {dirs:?}");
    let state = std::fs::read_to_string(lab.run.path().join(format!("lab-{pid}.json"))).unwrap();
    for d in &dirs {
        assert!(
            state.contains(&d.join("c").display().to_string()),
            "{} is recorded in the state file:\n{state}",
            d.display()
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);
    // The container dies with the lab (PR_SET_PDEATHSIG); its cgroups cannot go by
    // themselves.
    assert!(wait_for(10, || dirs.iter().all(|d| {
        let c = d.join("c/cgroup.procs");
        std::fs::read_to_string(c).is_ok_and(|s| s.trim().is_empty())
    })));
    assert!(dirs.iter().all(|d| d.exists()));
    let out = lab.run(&["cleanup"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for d in &dirs {
        assert!(!d.exists(), "{} is left:\n{stdout}", d.display());
        assert!(
            stdout.contains(&format!("removed {}", d.display())),
            "{stdout}"
        );
    }
    lab.snapshot().assert_same(&before);
}
