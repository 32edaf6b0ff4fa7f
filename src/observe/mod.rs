//! Observing state: run a probe command on the host, in the rootfs, or inside a running
//! container; check its result against the lesson's expectations; and diff before/after.

pub mod process;
pub mod sockets;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::unistd::Pid;
use regex::RegexBuilder;

use crate::lesson::ExpectDef;
use crate::runtime::spawn::{self, Outcome, Stdio};
use crate::runtime::{ContainerSpec, RuntimeError};

/// How long a probe may run before it is killed.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// `limit`, or `$FROMSCRATCH_TIMEOUT` seconds when set (for slow machines, and for the
/// tests that prove a hung command is stopped).
#[must_use]
pub fn timeout_or_env(limit: Duration) -> Duration {
    std::env::var("FROMSCRATCH_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(limit, Duration::from_secs)
}

/// Where a probe runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// On the host, as the lab's child.
    Host,
    /// chrooted into a directory, with no namespaces.
    Chroot(PathBuf),
    /// Inside a running container, joined with setns; the PID is its PID 1 on the host.
    Container {
        /// Its name.
        name: String,
        /// Host PID of its first process.
        pid1: Pid,
    },
}

impl Context {
    /// A short label: `host`, `rootfs`, `c1`.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Self::Host => "host".into(),
            Self::Chroot(_) => "rootfs".into(),
            Self::Container { name, .. } => name.clone(),
        }
    }
}

/// A probe's result: output, status, and the syscalls made to get there.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    /// Its outcome.
    pub outcome: Outcome,
    /// Trace lines (setns/chroot/execve).
    pub trace: Vec<String>,
}

/// Run `argv` in `ctx`, wait for it (at most [`PROBE_TIMEOUT`]).
///
/// # Errors
/// The runtime failed (not: the command failed, which is an outcome).
pub fn run_in(ctx: &Context, argv: &[String]) -> Result<ProbeRun, RuntimeError> {
    run_in_as(ctx, argv, false)
}

/// As [`run_in`]; with `unprivileged` (a host probe's `unprivileged = true`) the command
/// runs as the unprivileged user (`runtime/unprivileged.rs`): as root, dropped to 65534
/// with no groups just before exec; as a user, as that user, outside the lab's user
/// namespace. Ignored in other contexts (`check` refuses it there).
///
/// # Errors
/// As [`run_in`].
pub fn run_in_as(
    ctx: &Context,
    argv: &[String],
    unprivileged: bool,
) -> Result<ProbeRun, RuntimeError> {
    let mut sp = match ctx {
        Context::Host if unprivileged => spawn::spawn(
            &ContainerSpec {
                command: argv.to_vec(),
                unprivileged: true,
                ..Default::default()
            },
            Stdio::Capture,
        )?,
        Context::Host => spawn::spawn(
            &ContainerSpec {
                command: argv.to_vec(),
                // As a user (a lesson with `root = false`), a host probe has the powers of
                // the learner's shell: it joins the lab's user namespace (userns.rs), where
                // the user is root, so a `chroot` or `unshare` it runs works as in the
                // shell, and it may read the lab's containers' /proc files. It still sees
                // the host's processes, mounts and files; others' ids show as 65534. As
                // root: none, as before.
                user: crate::runtime::userns::rootless(),
                ..Default::default()
            },
            Stdio::Capture,
        )?,
        Context::Chroot(root) => spawn::spawn(
            &ContainerSpec {
                root: Some(root.clone()),
                command: argv.to_vec(),
                guard: true,
                ..Default::default()
            },
            Stdio::Capture,
        )?,
        Context::Container { pid1, .. } => spawn::join(*pid1, argv, Stdio::Capture)?,
    };
    let mut outcome = spawn::wait_captured(&mut sp, timeout_or_env(PROBE_TIMEOUT))?;
    let root = match ctx {
        Context::Chroot(r) => Some(r.clone()),
        _ => None,
    };
    if let Some((call, errno)) = &sp.setup_failure {
        outcome.output.push_str(&format!(
            "fromscratch: {}\n",
            crate::runtime::error::explain_setup_failure(call, *errno, root.as_deref())
        ));
    }
    if let Some((prog, errno)) = &sp.exec_failure {
        outcome.output.push_str(&crate::lab::exec_failure_report(
            prog,
            *errno,
            root.as_deref(),
        ));
    }
    Ok(ProbeRun {
        outcome,
        trace: sp.trace,
    })
}

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What was checked, in words: `output contains "usr"`.
    pub what: String,
    /// Whether it held.
    pub ok: bool,
}

/// Check `outcome` against `expect`, with templates already expanded by `expand`.
#[must_use]
pub fn evaluate(
    expect: &ExpectDef,
    outcome: &Outcome,
    expand: &dyn Fn(&str) -> String,
) -> Vec<Verdict> {
    let out = &outcome.output;
    let mut v = Vec::new();
    if let Some(code) = expect.exit {
        v.push(Verdict {
            what: format!("exit status is {code} (got {})", outcome.code),
            ok: outcome.code == code,
        });
    }
    if expect.fails {
        v.push(Verdict {
            what: format!("the command fails (exit status {})", outcome.code),
            ok: outcome.code != 0,
        });
    }
    for s in &expect.contains {
        let s = expand(s);
        v.push(Verdict {
            ok: out.contains(&s),
            what: format!("output contains {s:?}"),
        });
    }
    for s in &expect.not_contains {
        let s = expand(s);
        v.push(Verdict {
            ok: !out.contains(&s),
            what: format!("output does not contain {s:?}"),
        });
    }
    for r in &expect.matches {
        let r = expand(r);
        let ok = RegexBuilder::new(&r)
            .multi_line(true)
            .build()
            .is_ok_and(|re| re.is_match(out));
        v.push(Verdict {
            ok,
            what: format!("a line matches /{r}/"),
        });
    }
    for r in &expect.not_matches {
        let r = expand(r);
        let ok = RegexBuilder::new(&r)
            .multi_line(true)
            .build()
            .is_ok_and(|re| !re.is_match(out));
        v.push(Verdict {
            ok,
            what: format!("no line matches /{r}/"),
        });
    }
    if let Some(n) = expect.max_lines {
        let got = out.lines().count();
        v.push(Verdict {
            ok: got <= n,
            what: format!("at most {n} lines of output (got {got})"),
        });
    }
    v
}

/// Run a probe, and if its expectation has `settle_ms`, re-run it until every check
/// holds or the time is up; `between` runs before each retry (the lab reaps there).
///
/// # Errors
/// As [`run_in`].
pub fn run_checked(
    ctx: &Context,
    argv: &[String],
    expect: Option<&ExpectDef>,
    expand: &dyn Fn(&str) -> String,
    between: &mut dyn FnMut(),
) -> Result<(ProbeRun, Vec<Verdict>), RuntimeError> {
    run_checked_as(ctx, argv, false, expect, expand, between)
}

/// As [`run_checked`], run as the unprivileged user when `unprivileged` (see
/// [`run_in_as`]).
///
/// # Errors
/// As [`run_in`].
pub fn run_checked_as(
    ctx: &Context,
    argv: &[String],
    unprivileged: bool,
    expect: Option<&ExpectDef>,
    expand: &dyn Fn(&str) -> String,
    between: &mut dyn FnMut(),
) -> Result<(ProbeRun, Vec<Verdict>), RuntimeError> {
    let settle = Duration::from_millis(expect.and_then(|e| e.settle_ms).unwrap_or(0));
    let start = Instant::now();
    loop {
        between();
        let run = run_in_as(ctx, argv, unprivileged)?;
        let verdicts = expect
            .map(|e| evaluate(e, &run.outcome, expand))
            .unwrap_or_default();
        if verdicts.iter().all(|v| v.ok) || start.elapsed() >= settle {
            return Ok((run, verdicts));
        }
        if crate::lab::interrupted() {
            return Err(RuntimeError::Interrupted);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One line of a before/after difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffLine {
    /// In both.
    Same(String),
    /// Only before.
    Removed(String),
    /// Only after.
    Added(String),
}

/// Line diff of two outputs (longest common subsequence), in order.
#[must_use]
pub fn diff_lines(before: &str, after: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n && j < m {
        if a[i] == b[j] {
            out.push(DiffLine::Same(a[i].to_string()));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(DiffLine::Removed(a[i].to_string()));
            i += 1;
        } else {
            out.push(DiffLine::Added(b[j].to_string()));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|s| DiffLine::Removed((*s).to_string())));
    out.extend(b[j..].iter().map(|s| DiffLine::Added((*s).to_string())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(code: i32, output: &str) -> Outcome {
        Outcome {
            code,
            signal: None,
            output: output.to_string(),
        }
    }

    #[test]
    fn diff_marks_added_and_removed_lines() {
        let d = diff_lines("bin\netc\nhome\n", "bin\netc\nproc\n");
        assert_eq!(
            d,
            vec![
                DiffLine::Same("bin".into()),
                DiffLine::Same("etc".into()),
                DiffLine::Removed("home".into()),
                DiffLine::Added("proc".into())
            ]
        );
    }

    #[test]
    fn expectations_report_each_check() {
        let e = ExpectDef {
            exit: Some(0),
            contains: vec!["PID 1".into()],
            not_matches: vec![r"^\s*{decoy.v}\s".into()],
            max_lines: Some(2),
            ..Default::default()
        };
        let expand = |s: &str| s.replace("{decoy.v}", "4242");
        let good = evaluate(&e, &outcome(0, "PID 1 here\n"), &expand);
        assert!(good.iter().all(|v| v.ok), "{good:?}");
        let bad = evaluate(&e, &outcome(1, " 4242 sleep\nx\ny\n"), &expand);
        assert_eq!(bad.iter().filter(|v| !v.ok).count(), 4, "{bad:?}");
    }

    #[test]
    fn a_threaded_process_is_refused_before_any_fork() {
        // Pitfall U2: the test harness runs this test on a thread of its own, so this
        // process has at least two threads. The runtime must refuse to fork a namespace
        // child from it, with the rule named, rather than make a half-working container.
        let keep = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(300)));
        let err = run_in(&Context::Host, &["true".into()]).unwrap_err();
        assert!(
            matches!(err, RuntimeError::MultiThreaded { threads } if threads >= 2),
            "{err}"
        );
        assert!(err.to_string().contains("single-threaded"), "{err}");
        keep.join().unwrap();
    }
}
