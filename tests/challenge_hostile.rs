//! Challenges under attack: an interrupt while the lab types a solution, a solution that
//! never stops printing, a condition that hangs while the learner's shell is open, and
//! names that would reach a shell. Each must end in one sentence, with the host as it was.

mod common;
use common::{Lab, require_root, text};
use std::time::{Duration, Instant};

/// Processes whose environment carries `needle` (a session mark, a lab directory).
fn with_env(needle: &str) -> Vec<(i32, String)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let env = std::fs::read(e.path().join("environ")).unwrap_or_default();
        if String::from_utf8_lossy(&env).contains(needle) {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            v.push((pid, String::from_utf8_lossy(&cmd).replace('\0', " ")));
        }
    }
    v
}

fn wait_exit(child: &mut std::process::Child, secs: u64) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("fromscratch did not exit within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_interrupt_while_typing_never_feeds_a_queued_line_to_the_outer_shell() {
    // The solution's second line runs in a nested shell chrooted into the rootfs. If the
    // lab killed the inner shell first on Ctrl-C, the outer one (on the host) would read
    // the next line from the pipe and create the file on the host.
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let dir = tempfile::tempdir().expect("tempdir");
    let leak = dir.path().join("LEAKED_ON_HOST");
    let file = common::challenge_lesson(
        dir.path(),
        "99-leak",
        &format!(
            r#"goal = "x"
solution = ["unshare --pid --fork --mount-proc={{rootfs}}/proc chroot {{rootfs}} /bin/sh", "sleep 30", "touch {}", "exit"]
[[steps.challenge.verify]]
says = "never"
command = ["false"]
expect = {{ exit = 0 }}"#,
            leak.display()
        ),
    );
    let mut child = lab
        .cmd(&["run", file.to_str().unwrap(), "--yes"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait for the nested shell's `sleep 30`: the next line is then queued in the pipe.
    let up = common::wait_for(60, || {
        with_env("FROMSCRATCH_SHELL=")
            .iter()
            .any(|(_, c)| c.trim() == "sleep 30")
    });
    assert!(up, "the solution never reached `sleep 30`");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT");
    let st = wait_exit(&mut child, 60);
    assert_eq!(st.code(), Some(130));
    std::thread::sleep(Duration::from_millis(300));
    assert!(!leak.exists(), "a queued solution line ran on the host");
    lab.snapshot().assert_same(&before);
}

#[test]
fn a_solution_that_never_stops_printing_still_stops_on_sigterm() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = common::challenge_lesson(
        dir.path(),
        "99-yes",
        r#"goal = "x"
solution = ["yes", "echo after"]
[[steps.challenge.verify]]
says = "never"
command = ["false"]
expect = { exit = 0 }"#,
    );
    let mut child = lab
        .cmd(&["run", file.to_str().unwrap(), "--yes"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let up = common::wait_for(60, || {
        with_env("FROMSCRATCH_SHELL=")
            .iter()
            .any(|(_, c)| c.trim() == "yes")
    });
    assert!(up, "`yes` never started");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let st = wait_exit(&mut child, 60);
    assert_eq!(st.code(), Some(143));
    let shown = reader.join().expect("reader");
    // What was shown is bounded: 40 lines of `y` and a marker, not an endless stream.
    assert!(shown.contains("… (more output not shown)"), "{shown}");
    assert!(shown.len() < 64 * 1024, "{} bytes shown", shown.len());
    lab.snapshot().assert_same(&before);
}

#[test]
fn a_condition_that_hangs_while_the_shell_is_open_is_one_sentence_and_the_lab_goes_on() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = common::challenge_lesson(
        dir.path(),
        "99-slow",
        r#"goal = "x"
solution = ["true"]
[[steps.challenge.verify]]
says = "a check that hangs"
command = ["sleep", "1000"]
expect = { exit = 0 }"#,
    );
    let mut cmd = lab.cmd(&[]);
    cmd.env("FROMSCRATCH_TIMEOUT", "2").env("TERM", "xterm");
    let mut t = common::pty::Pty::spawn(cmd, 100, 30);
    t.expect("fromscratch> ");
    t.line(&format!("start {}", file.display()));
    t.expect("[99-slow 1/1] > ");
    t.line("");
    t.expect("── your turn ──");
    t.expect("[99-slow 1/1] > ");
    t.line("shell");
    // The lab looks at once; the condition's command is killed after 2 s; the shell is
    // stopped, the terminal taken back, and the REPL says so and goes on.
    let said = t.expect("[99-slow 1/1] > ");
    assert!(said.contains("did not finish within 2 s"), "{said}");
    t.line("status");
    t.expect("→ 1. The challenge");
    t.line("quit");
    assert!(t.wait().success(), "{}", t.seen);
    assert!(!t.seen.contains("Input/output error"), "{}", t.seen);
    lab.snapshot().assert_same(&before);
}

#[test]
fn names_that_would_reach_a_shell_are_refused_by_check() {
    let lab = Lab::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("99-names.toml");
    std::fs::write(
        &p,
        r#"format_version = 1
id = "99-names"
title = "Names"
summary = "Bad names."
objectives = ["None."]

[[steps]]
id = "d"
title = "A decoy"
explain = "E"
action = { kind = "decoy", name = "a b" }

[containers."x'; touch /tmp/INJECTED; echo '"]
command = ["sleep", "1"]
"#,
    )
    .unwrap();
    let out = lab.run(&["check", p.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(
        all.contains("decoy name `a b`: use only letters, digits"),
        "{all}"
    );
    assert!(
        all.contains("container name `x'; touch /tmp/INJECTED; echo '`: use only letters"),
        "{all}"
    );
}
