//! Scale: one lab with 1, 10 and 100 live containers (the load test's pod, from
//! tests/common/load_lesson.rs): a pause container holding network, IPC and UTS
//! namespaces, then `n` members, each started by one lesson step (it joins the pause
//! container's namespaces with setns(2), makes its own PID and mount namespaces and a
//! fresh /proc, and runs `sleep`), a probe inside every member, a count of the lab's
//! processes and their memory while all are up, then teardown.
//!
//! Runs the real binary (`fromscratch run FILE --yes`, stdout piped) and timestamps the
//! lines it prints. Figures, medians over `ROUNDS` runs for each size:
//! - start: from the first member's step heading to the probe step's heading, per member;
//! - memory: the sum of Pss over the lab's container processes, per member (Pss shares
//!   each shared page among the processes mapping it; VmRSS, also printed, counts it in
//!   every one), and the lab process's own VmRSS with all up;
//! - teardown: from the count's answer to the lab's exit (every container stopped and
//!   reaped, the scratch directory removed).
//!
//! Run as root from the repository: `cargo bench --bench scale -- [ROUNDS] [SIZES...]`
//! (defaults 3 rounds; sizes 1 10 100). Output: one line per size,
//! `scale N START_MS_PER_MEMBER START_TOTAL_MS PSS_KIB_PER_MEMBER RSS_KIB_PER_MEMBER
//! LAB_RSS_KIB TEARDOWN_MS PROCESSES`.

#[path = "../tests/common/load_lesson.rs"]
mod load_lesson;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

mod common;
use common::median;

fn vm_rss_kib(pid: u32) -> Option<f64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One run with `n` members: (start ms total, pss KiB, rss KiB, lab KiB, teardown ms,
/// processes).
type Run = (f64, f64, f64, f64, f64, f64);

/// Run the lesson in `file` (`n` members) once.
fn one(n: usize, file: &std::path::Path) -> Run {
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fromscratch"))
        .args(["run", file.to_str().expect("utf-8 path"), "--yes"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("fromscratch starts");
    let pid = child.id();
    let ms = |t: Instant| t.duration_since(t0).as_secs_f64() * 1000.0;
    let (mut first, mut all, mut counted, mut lab_kib) = (None, None, None, None);
    let mut answer = String::new();
    let mut text = String::new();
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let line = line.expect("a line");
        let now = Instant::now();
        if first.is_none() && line.contains("· Member 000 ━━") {
            first = Some(ms(now));
        }
        if all.is_none() && line.contains("· Every member answers ━━") {
            all = Some(ms(now));
        }
        if line.contains("· The lab's processes and their memory ━━") {
            lab_kib = vm_rss_kib(pid);
        }
        if counted.is_none()
            && let Some(rest) = line.trim().strip_prefix("processes ")
        {
            counted = Some(ms(now));
            answer = rest.to_string();
        }
        text.push_str(&line);
        text.push('\n');
    }
    let status = child.wait().expect("wait");
    let total = ms(Instant::now());
    assert!(status.success(), "the load lesson failed:\n{text}");
    let answered = text.lines().filter(|l| l.trim() == "sleep pod").count();
    assert_eq!(answered, n, "every member answers:\n{text}");
    // `N rss_kib K pss_kib P`
    let f: Vec<f64> = answer
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let (procs, rss, pss) = (f[0], f[1], f[2]);
    let (first, all, counted) = (
        first.expect("member 000 started"),
        all.expect("the probe step began"),
        counted.expect("the count"),
    );
    (
        all - first,
        pss,
        rss,
        lab_kib.unwrap_or(0.0),
        total - counted,
        procs,
    )
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(3);
    let mut sizes: Vec<usize> = args.iter().skip(1).filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![1, 10, 100];
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("benches/scale needs root (the pod lesson does): run it with sudo");
        std::process::exit(3);
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    for n in sizes {
        // The lesson's id (`load`) must match its file's name: one directory per size.
        let sub = dir.path().join(n.to_string());
        std::fs::create_dir(&sub).expect("a directory");
        let file = sub.join("load.toml");
        std::fs::write(&file, load_lesson::load_lesson(n)).expect("write the lesson");
        let mut runs: Vec<_> = (0..rounds).map(|_| one(n, &file)).collect();
        let col = |f: fn(&Run) -> f64| {
            let mut v: Vec<f64> = runs.iter().map(f).collect();
            median(&mut v)
        };
        let start = col(|r| r.0);
        let pss = col(|r| r.1);
        let rss = col(|r| r.2);
        let lab = col(|r| r.3);
        let down = col(|r| r.4);
        let procs = col(|r| r.5);
        runs.clear();
        let nf = n as f64;
        println!(
            "scale {n} {:.2} {start:.1} {:.0} {:.0} {lab:.0} {down:.1} {procs:.0}",
            start / nf,
            pss / nf,
            rss / nf
        );
    }
}
