//! Load: a lab with 100 live containers, the pod lesson scaled up (issue 7). A pause
//! container holds network, IPC and UTS namespaces; 100 members join them with
//! setns(2) and make PID and mount namespaces of their own; each answers a probe run
//! inside it; the lab counts its processes and their resident memory while all are
//! up; then it tears everything down and the host is as before.
//!
//! Times and memory are printed (run with `--no-capture`, or `scripts/load`) and
//! reported in the README; nothing here asserts a duration.

mod common;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::load_lesson::load_lesson;
use common::{Lab, require_root};

/// How many members the pod gets.
const MEMBERS: usize = 100;

#[test]
fn a_pod_of_100_members_starts_answers_every_probe_and_tears_down_completely() {
    require_root();
    let lab = Lab::new();
    let before = lab.snapshot();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("load.toml");
    std::fs::write(&file, load_lesson(MEMBERS)).unwrap();
    let check = lab.run(&["check", file.to_str().unwrap()]);
    assert!(check.status.success(), "{}", common::text(&check).1);

    let t0 = Instant::now();
    let mut child = lab
        .cmd(&["run", file.to_str().unwrap(), "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lab_pid = child.id();
    let mut lab_rss_kib: Option<u64> = None;
    let mut all_started: Option<Duration> = None;
    let mut probes_done: Option<Duration> = None;
    let mut text = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if all_started.is_none() && line.contains("· Every member answers ━━") {
            all_started = Some(t0.elapsed());
        }
        if probes_done.is_none() && line.contains("· The lab's processes and their memory ━━")
        {
            probes_done = Some(t0.elapsed());
            // The lab's own process (fromscratch), with every container up.
            lab_rss_kib = std::fs::read_to_string(format!("/proc/{lab_pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("VmRSS:"))
                        .and_then(|v| v.split_whitespace().next()?.parse().ok())
                });
        }
        text.push_str(&line);
        text.push('\n');
    }
    let out = child.wait_with_output().unwrap();
    let total = t0.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}{stderr}");

    // Every member answered from inside: its PID 1 is sleep, its hostname the pod's.
    let answered = text.lines().filter(|l| l.trim() == "sleep pod").count();
    assert_eq!(answered, MEMBERS, "{text}");
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("✗ ")),
        "{text}"
    );
    // While all were up: the pause container's init, and each member's sleep (PID 1
    // of its namespace) and whatever holds it, all carrying the lab's mark.
    let counted = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("processes "))
        .expect("the count");
    let mut it = counted.split_whitespace();
    let procs: usize = it.next().unwrap().parse().unwrap();
    let rss_kib: u64 = it.nth(1).unwrap().parse().unwrap();
    assert!(
        procs > MEMBERS,
        "{procs} lab processes for {MEMBERS} members"
    );
    assert!(rss_kib > 0);
    lab.snapshot().assert_same(&before);

    let started = all_started.expect("the probe step began");
    let probed = probes_done.expect("the count step began");
    let lab_rss_kib = lab_rss_kib.expect("the lab's VmRSS");
    println!(
        "load: {MEMBERS} members + pause: all started in {:.2} s ({:.1} ms per member), \
         {MEMBERS} probes in {:.2} s, count, teardown and exit {:.2} s (whole run {:.2} s); \
         {procs} container processes, {:.1} MiB resident in all ({:.0} KiB per member); \
         the lab process {:.1} MiB",
        started.as_secs_f64(),
        started.as_secs_f64() * 1000.0 / MEMBERS as f64,
        (probed - started).as_secs_f64(),
        (total - probed).as_secs_f64(),
        total.as_secs_f64(),
        rss_kib as f64 / 1024.0,
        rss_kib as f64 / MEMBERS as f64,
        lab_rss_kib as f64 / 1024.0,
    );
}
