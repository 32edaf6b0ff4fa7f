//! A lesson step's round trip, timed inside the process: `Runner::run_step` on each step
//! of a lesson (its before probes, its action, its after probes, the diff, and all of
//! its rendering into a buffer), `ROUNDS` times, a fresh lab each round (a step needs
//! the steps before it). No process start, no rootfs build (the cache lookup happens
//! once per round, before the first step, and is timed apart), no terminal.
//!
//! A challenge step is reported apart: unattended, the lab types the reference solution
//! into a shell and waits for it to settle (10 ms of quiet per line), so its time is
//! mostly that wait, not the step's work.
//!
//! Run as root from the repository (the lessons need it):
//!     cargo bench --bench step -- [ROUNDS] [LESSON...]
//! (defaults: 30 rounds, lessons 02 and 04). `benches/run.sh` runs it with a private run
//! directory and state directory. Output: one line per step, `step LESSON IDX ID KIND
//! MEDIAN_MS MIN_MS MAX_MS`, then `lesson LESSON SUM_MEDIAN_MS`.

use std::time::Instant;

use fromscratch::lab::runner::Runner;

mod common;
use common::median;

fn main() {
    // `cargo bench` passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(30);
    let mut lessons: Vec<String> = args.iter().skip(1).cloned().collect();
    if lessons.is_empty() {
        lessons = vec!["02".into(), "04".into()];
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("benches/step needs root (the lessons do): run it with sudo");
        std::process::exit(3);
    }
    for id in &lessons {
        let lesson = fromscratch::lesson::find(id).unwrap_or_else(|e| {
            eprintln!("lesson {id}: {e}");
            std::process::exit(2);
        });
        let name = lesson.def.id.clone();
        let steps: Vec<(String, String, bool)> = lesson
            .def
            .steps
            .iter()
            .map(|s| {
                (
                    s.id.clone(),
                    s.action.kind().to_string(),
                    s.challenge.is_some(),
                )
            })
            .collect();
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); steps.len()];
        let mut lookup = Vec::new();
        for _ in 0..rounds {
            let mut runner = Runner::new(lesson.clone(), None).unwrap_or_else(|e| {
                eprintln!("lesson {name}: {e}");
                std::process::exit(3);
            });
            let mut sink: Vec<u8> = Vec::with_capacity(1 << 16);
            let t = Instant::now();
            runner.ensure_rootfs(&mut sink).expect("the rootfs");
            lookup.push(t.elapsed().as_secs_f64() * 1000.0);
            for (i, t_i) in times.iter_mut().enumerate() {
                sink.clear();
                let t = Instant::now();
                let report = runner.run_step(i, &mut sink).expect("the step runs");
                t_i.push(t.elapsed().as_secs_f64() * 1000.0);
                if !report.passed {
                    eprintln!(
                        "lesson {name} step {} failed:\n{}",
                        i + 1,
                        String::from_utf8_lossy(&sink)
                    );
                    std::process::exit(1);
                }
            }
            // Dropping the runner tears its lab down (outside the timed steps).
        }
        println!("lookup {name} {:.3}", median(&mut lookup));
        let mut sum = 0.0;
        for ((id, kind, challenge), t) in steps.iter().zip(times.iter_mut()) {
            let lo = t.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = t.iter().copied().fold(0.0, f64::max);
            let m = median(t);
            sum += m;
            let kind = if *challenge {
                format!("{kind}+challenge")
            } else {
                kind.clone()
            };
            println!("step {name} {id} {kind} {m:.3} {lo:.3} {hi:.3}");
        }
        println!("lesson {name} {sum:.3}");
    }
}
