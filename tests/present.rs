//! `fromscratch present`, through a real pseudo-terminal of 80x24: what it printed is fed
//! to a terminal emulator (vt100) of that size, and each screen is checked as an audience
//! would see it: the step's heading on the first row after every clear, no row wrapped by
//! the terminal, the checks on screen. Keys go in as a presenter types them. Back and
//! re-run rebuild the lab (checked on the host's process table), a failure is one
//! sentence and never a stack trace, `--record` writes asciicast v2, and the host is
//! unchanged afterwards, after `q`, Ctrl-C, SIGTERM and a panic alike.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::os::fd::AsFd;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use common::{Lab, require_root, text};
use fromscratch::lesson::{ActionDef, StepDef};
use nix::sys::termios::{LocalFlags, tcgetattr};

const ROWS: u16 = 24;
const COLS: u16 = 80;

/// The binary on the slave side of a pty of 80x24, and a vt100 screen fed with
/// everything it printed.
struct Term {
    master: File,
    child: Child,
    parser: vt100::Parser,
    /// Every byte the binary wrote to the terminal.
    all: Vec<u8>,
    closed: bool,
}

impl Drop for Term {
    /// A test that fails half-way must not leave the presenter (and its lab) running.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Term {
    fn spawn(lab: &Lab, args: &[&str], colour: bool, env: &[(&str, &str)]) -> Self {
        let mut cmd = lab.cmd(args);
        cmd.env_remove("COLUMNS")
            .env_remove("LINES")
            .env("TERM", "xterm-256color")
            .env("RUST_BACKTRACE", "1");
        if colour {
            cmd.env_remove("NO_COLOR");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let master = common::pty::attach(&mut cmd, COLS, ROWS, true);
        let child = cmd.spawn().expect("spawn fromscratch");
        drop(cmd); // the slave's last copies here: EIO on the master once the child is gone
        Self {
            master,
            child,
            parser: vt100::Parser::new(
                NonZeroU16::new(ROWS).unwrap(),
                NonZeroU16::new(COLS).unwrap(),
                0,
            ),
            all: Vec::new(),
            closed: false,
        }
    }

    /// Read what is there within `ms` milliseconds into the screen.
    fn pump(&mut self, ms: u16) {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let mut pfd = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
        match poll(&mut pfd, PollTimeout::from(ms)) {
            Ok(n) if n > 0 => {}
            _ => return,
        }
        let mut buf = [0u8; 65536];
        match self.master.read(&mut buf) {
            Ok(0) | Err(_) => self.closed = true, // EIO: the child closed its terminal
            Ok(n) => {
                self.parser.process(&buf[..n]);
                self.all.extend_from_slice(&buf[..n]);
            }
        }
    }

    fn screen(&self) -> &vt100::Screen {
        self.parser.screen()
    }

    fn rows(&self) -> Vec<String> {
        self.screen().rows(0, COLS).collect()
    }

    fn dump(&self) -> String {
        self.rows()
            .iter()
            .enumerate()
            .map(|(i, r)| format!("{i:>2}|{r}\n"))
            .collect()
    }

    /// How many bytes so far: a mark to wait for what comes after it.
    fn mark(&self) -> usize {
        self.all.len()
    }

    /// Wait until the bytes written after `mark` contain `needle` and the last row of the
    /// screen shows it (the footer is drawn last, so the frame is complete).
    #[track_caller]
    fn footer_after(&mut self, mark: usize, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let new = String::from_utf8_lossy(&self.all[mark.min(self.all.len())..]);
            if new.contains(needle) && self.rows()[usize::from(ROWS) - 1].contains(needle) {
                return;
            }
            assert!(
                !self.closed && Instant::now() < deadline,
                "`{needle}` never reached the footer; the screen:\n{}\nall output:\n{}",
                self.dump(),
                String::from_utf8_lossy(&self.all)
            );
            self.pump(100);
        }
    }

    /// Wait until the bytes written after `mark` contain `needle`; where it ends.
    #[track_caller]
    fn bytes_after(&mut self, mark: usize, needle: &str) -> usize {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(i) = find(&self.all[mark.min(self.all.len())..], needle.as_bytes()) {
                return mark + i + needle.len();
            }
            assert!(
                !self.closed && Instant::now() < deadline,
                "`{needle}` never came; all output:\n{}",
                String::from_utf8_lossy(&self.all)
            );
            self.pump(100);
        }
    }

    /// Press keys, then wait for `first` in the output and after it the frame whose
    /// footer shows `then` (a re-run ends on a footer like the one before it).
    #[track_caller]
    fn press_through(&mut self, keys: &[u8], first: &str, then: &str) {
        let mark = self.mark();
        self.master.write_all(keys).expect("type");
        let after = self.bytes_after(mark, first);
        self.footer_after(after, then);
    }

    /// Press keys, then wait for the frame whose footer shows `needle`.
    #[track_caller]
    fn press(&mut self, keys: &[u8], needle: &str) {
        let mark = self.mark();
        self.master.write_all(keys).expect("type");
        self.footer_after(mark, needle);
    }

    /// Wait for the binary to exit; everything it printed is read first.
    fn finish(mut self) -> (ExitStatus, Self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.closed && Instant::now() < deadline {
            self.pump(100);
        }
        let status = self.child.wait().expect("wait");
        (status, self)
    }

    /// The terminal is as a shell wants it: line editing and echo on.
    #[track_caller]
    fn assert_terminal_restored(&self) {
        // On Linux the master's termios ioctls act on the slave's settings.
        let t = tcgetattr(self.master.as_fd()).expect("tcgetattr");
        assert!(
            t.local_flags
                .contains(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG),
            "the terminal was left raw: {:?}",
            t.local_flags
        );
    }

    /// No row of the screen was wrapped by the terminal, and the cursor is not past it.
    #[track_caller]
    fn assert_no_wrap(&self) {
        for r in 0..ROWS {
            assert!(
                !self.screen().row_wrapped(r),
                "row {r} was wrapped by the terminal:\n{}",
                self.dump()
            );
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn lesson(id: &str) -> fromscratch::lesson::Lesson {
    fromscratch::lesson::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("lessons/{id}.toml")),
    )
    .expect("the lesson loads")
}

/// The start of a title as the heading shows it (the rest may go on the next row).
fn title_start(title: &str) -> String {
    title
        .chars()
        .take(24)
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// True when the step checks something (so a `checks` section is printed).
fn has_checks(step: &StepDef) -> bool {
    let action = match &step.action {
        ActionDef::Exec { expect, .. }
        | ActionDef::ExecIn { expect, .. }
        | ActionDef::ElfNeeds { expect, .. } => expect.is_some(),
        _ => false,
    };
    action
        || step
            .before
            .iter()
            .chain(&step.after)
            .any(|p| p.expect.is_some())
}

/// The screen of step `k` (0-based), explained or run: the heading on the first rows,
/// nothing wrapped.
#[track_caller]
fn assert_step_heading(t: &Term, step: &StepDef, k: usize, n: usize, id: &str) {
    let rows = t.rows();
    assert!(
        rows[0].contains(&title_start(&step.title)),
        "the first row is not step {}'s heading:\n{}",
        k + 1,
        t.dump()
    );
    assert!(
        rows[..3]
            .iter()
            .any(|r| r.contains(&format!("{id} · step {} of {n}", k + 1))),
        "{}",
        t.dump()
    );
    // The block font: the heading's first rows start with block characters.
    assert!(
        rows[0].starts_with(['▀', '▄', '█', ' ']) && rows[0].contains(['▀', '▄', '█']),
        "{}",
        t.dump()
    );
    t.assert_no_wrap();
}

/// Present a whole lesson with Space, checking every screen, then quit.
fn present_whole_lesson(id: &str, colour: bool) {
    require_root();
    let rootfs = common::host_rootfs();
    let l = lesson(id);
    let n = l.def.steps.len();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut t = Term::spawn(&lab, &["present", id, "--typing-ms", "1"], colour, &[]);
    t.footer_after(0, "Space start");
    assert!(t.screen().alternate_screen(), "{}", t.dump());
    assert!(
        t.rows()[0].contains(&title_start(&l.def.title)),
        "{}",
        t.dump()
    );
    assert!(
        t.rows()[1].contains(&format!("{id} · {n} steps")),
        "{}",
        t.dump()
    );
    t.assert_no_wrap();
    for (k, step) in l.def.steps.iter().enumerate() {
        // The step explained, not run yet.
        t.press(b" ", &format!("step {} of {n} · Space run", k + 1));
        assert_step_heading(&t, step, k, n, id);
        let first_word = step.explain.split_whitespace().next().unwrap();
        assert!(
            t.rows()[4].starts_with(&format!("  {first_word}")),
            "the explanation starts on row 5:\n{}",
            t.dump()
        );
        assert!(!t.rows().iter().any(|r| r.contains("── checks ──")));
        // Run it.
        let next = if k + 1 < n {
            "Space next"
        } else {
            "Space finish"
        };
        t.press(b" ", &format!("step {} · {next}", k + 1));
        assert_step_heading(&t, step, k, n, id);
        let rows = t.rows();
        let footer = &rows[usize::from(ROWS) - 1];
        assert!(footer.contains("✓ checks held"), "{}", t.dump());
        if step.equivalent.is_some() {
            assert!(
                rows.iter().any(|r| r.starts_with("$ ")),
                "the typed command is on screen:\n{}",
                t.dump()
            );
        }
        if has_checks(step) {
            // Every check held: one row says how many, the rest of the screen is output.
            let n = t.rows().iter().find_map(|r| {
                r.trim()
                    .strip_prefix("✓ all ")
                    .and_then(|r| r.strip_suffix(" checks held"))
                    .map(|n| n.parse::<usize>().expect("a count"))
            });
            assert!(
                n.is_some_and(|n| n > 0),
                "no checks on screen:\n{}",
                t.dump()
            );
            assert!(!rows.iter().any(|r| r.contains('✗')), "{}", t.dump());
        }
        // The rootfs's long path is named once, in the heading; below it is $ROOTFS.
        let rootfs = rootfs.display().to_string();
        assert!(
            !rows[3..].iter().any(|r| r.contains(&rootfs)),
            "{}",
            t.dump()
        );
    }
    t.press(b" ", "the end");
    let rows = t.rows();
    assert!(
        rows.iter()
            .any(|r| r.contains(&format!("{id}: {n} of {n} steps, every check held"))),
        "{}",
        t.dump()
    );
    for (k, step) in l.def.steps.iter().enumerate() {
        let line = format!("✓ {}. {}", k + 1, title_start(&step.title));
        assert!(
            rows.iter().any(|r| r.contains(&line)),
            "{line}:\n{}",
            t.dump()
        );
    }
    t.assert_no_wrap();
    t.master.write_all(b"q").unwrap();
    let (status, t) = t.finish();
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&t.all)
    );
    // The main screen again, with the verdict under what was there before.
    assert!(!t.screen().alternate_screen());
    assert!(
        t.screen()
            .contents()
            .contains(&format!("{id}: {n} of {n} steps, every check held")),
        "{}",
        t.dump()
    );
    t.assert_terminal_restored();
    lab.snapshot().assert_same(&before);
}

#[test]
fn present_02_at_80x24_every_screen_fits() {
    present_whole_lesson("02-chroot", false);
}

#[test]
fn present_04_at_80x24_every_screen_fits_in_colour() {
    present_whole_lesson("04-pid-namespace", true);
}

/// Processes of the lab other than the presenter itself.
fn lab_processes_besides(lab: &Lab, pid: u32) -> Vec<String> {
    lab.snapshot()
        .lab_processes
        .into_iter()
        .filter(|p| !p.starts_with(&format!("{pid} ")))
        .collect()
}

/// Run lesson 04 up to step 4 (a live container and the decoy), on the screen.
fn up_to_step_4(lab: &Lab, colour: bool, env: &[(&str, &str)]) -> Term {
    let mut t = Term::spawn(lab, &["present", "04", "--typing-ms", "0"], colour, env);
    t.footer_after(0, "Space start");
    for k in 1..=4 {
        t.press(b" ", &format!("step {k} of 7 · Space run"));
        t.press(b"\r", &format!("step {k} · Space next"));
    }
    t
}

#[test]
fn back_and_rerun_rebuild_the_lab() {
    require_root();
    common::host_rootfs();
    let l = lesson("04-pid-namespace");
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut t = up_to_step_4(&lab, true, &[]);
    let pid = t.child.id();
    let running = lab_processes_besides(&lab, pid);
    // The decoy, and the container: its intermediate, its init and the sleep.
    assert!(running.len() >= 4, "{running:?}");
    assert!(
        t.rows().iter().any(|r| r.contains("fs-init")),
        "{}",
        t.dump()
    );

    // Re-run step 4: the same screen again, and one container, not two.
    t.press_through(b"r", "running step 4", "step 4 · Space next");
    assert_step_heading(
        &t,
        &l.def.steps[3],
        3,
        l.def.steps.len(),
        "04-pid-namespace",
    );
    let rerun = lab_processes_besides(&lab, pid);
    assert_eq!(rerun.len(), running.len(), "{running:?}\n{rerun:?}");
    assert_ne!(rerun, running, "re-run started a new container");

    // Back: step 3 explained, the container gone, the decoy still there.
    t.press(b"\x1b[D", "step 3 of 7 · Space run");
    assert_step_heading(
        &t,
        &l.def.steps[2],
        2,
        l.def.steps.len(),
        "04-pid-namespace",
    );
    let at3 = lab_processes_besides(&lab, pid);
    assert_eq!(at3.len(), 1, "only the decoy: {at3:?}");
    assert!(at3[0].contains("sleep 3600"), "{at3:?}");

    // Back again with `b`, run step 2 and re-run it: `echo $$` prints 1 each time.
    t.press(b"b", "step 2 of 7 · Space run");
    assert_step_heading(
        &t,
        &l.def.steps[1],
        1,
        l.def.steps.len(),
        "04-pid-namespace",
    );
    t.press(b" ", "step 2 · Space next");
    let pid1_rows = |t: &Term| t.rows().iter().filter(|r| r.trim() == "1").count();
    assert_eq!(pid1_rows(&t), 1, "{}", t.dump());
    t.press_through(b"r", "running step 2", "step 2 · Space next");
    assert_eq!(pid1_rows(&t), 1, "{}", t.dump());
    assert!(t.rows()[1].contains("step 2 of 7"), "{}", t.dump());

    // Back to the title: nothing of the lab is left running.
    t.press(b"\x1b[D", "step 1 of 7 · Space run");
    t.press(b"\x1b[D", "Space start");
    assert!(lab_processes_besides(&lab, pid).is_empty());
    t.master.write_all(b"q").unwrap();
    let (status, t) = t.finish();
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&t.all)
    );
    t.assert_terminal_restored();
    lab.snapshot().assert_same(&before);
}

/// Every byte printed, as text, must not look like a Rust panic or a backtrace.
#[track_caller]
fn assert_no_stack_trace(all: &str) {
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!all.contains(bad), "`{bad}` in:\n{all}");
    }
}

#[test]
fn an_unknown_recipe_is_one_sentence_and_exit_2() {
    let lab = Lab::new();
    let out = lab
        .cmd(&["present", "02-chroot", "--rootfs", "nosuchrecipe"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("fromscratch: "), "{stderr}");
    assert!(stderr.contains("nosuchrecipe"), "{stderr}");
    assert_no_stack_trace(&stderr);
    assert!(stdout.is_empty(), "{stdout}");
    // An unknown lesson too.
    let out = lab.run(&["present", "99-nothing"]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    assert_eq!(text(&out).1.lines().count(), 1, "{:?}", text(&out));
}

/// A lesson with a decoy, a failed check and a step that cannot run (its probe hangs
/// past `FROMSCRATCH_TIMEOUT`).
const FAILING: &str = r#"
format_version = 1
id = "98-failing"
title = "A lesson that fails"
summary = "A decoy, a check that fails, and a probe that hangs."
objectives = ["Show what a failure looks like on a projector."]

[requires]
root = true
rootfs = "host"

[[steps]]
id = "decoy"
title = "A decoy to tear down"
explain = "The lab starts a sleep on the host."
action = { kind = "decoy", name = "d" }

[[steps]]
id = "wrong"
title = "A check that does not hold"
explain = "The command prints hello; the check wants goodbye."
equivalent = "chroot {rootfs} echo hello"
action = { kind = "exec", command = ["echo", "hello"], expect = { exit = 0, contains = ["goodbye"] } }

[[steps]]
id = "hang"
title = "A probe that never ends"
explain = "The probe sleeps for longer than the lab waits."
action = { kind = "observe" }

[[steps.after]]
label = "hang"
context = "host"
command = ["sleep", "1000"]
"#;

#[test]
fn a_failed_check_and_a_step_that_cannot_run_are_shown_as_one_sentence() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let file = lab.run.path().join("98-failing.toml");
    std::fs::write(&file, FAILING).unwrap();
    // The lesson file is not the lab's: leave it out of the comparison.
    let before = common::Snapshot {
        run_files: before
            .run_files
            .into_iter()
            .chain([file.display().to_string()])
            .collect(),
        ..before
    };
    let mut t = Term::spawn(
        &lab,
        &["present", file.to_str().unwrap(), "--typing-ms", "0"],
        false,
        &[("FROMSCRATCH_TIMEOUT", "1")],
    );
    t.footer_after(0, "Space start");
    t.press(b" ", "step 1 of 3 · Space run");
    t.press(b" ", "step 1 · Space next");
    t.press(b" ", "step 2 of 3 · Space run");
    t.press(b" ", "step 2 · Space next");
    let rows = t.rows();
    assert!(rows[23].contains("✗ a check failed"), "{}", t.dump());
    assert!(
        rows.iter()
            .any(|r| r.starts_with("  ✗ action: output contains \"goodbye\"")),
        "{}",
        t.dump()
    );
    assert!(rows.iter().any(|r| r.trim() == "hello"), "{}", t.dump());
    t.assert_no_wrap();
    t.press(b" ", "step 3 of 3 · Space run");
    t.press(b" ", "step 3 · Space finish");
    let rows = t.rows();
    assert!(rows[23].contains("✗ could not run"), "{}", t.dump());
    let sentence = "✗ the command did not finish within 1 s and was killed";
    assert!(
        rows.iter().any(|r| r.starts_with(sentence)),
        "{sentence}:\n{}",
        t.dump()
    );
    t.assert_no_wrap();
    t.master.write_all(b"q").unwrap();
    let (status, t) = t.finish();
    let all = String::from_utf8_lossy(&t.all).into_owned();
    assert_eq!(status.code(), Some(1), "{all}");
    // The verdict, word-wrapped to the screen by the presenter itself.
    let words = t
        .screen()
        .contents()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        words.contains(
            "✗ 98-failing: step 3 could not run: the command did not finish within 1 s and was killed"
        ),
        "{}",
        t.dump()
    );
    t.assert_no_wrap();
    assert_no_stack_trace(&all);
    t.assert_terminal_restored();
    lab.snapshot().assert_same(&before);
}

#[test]
fn a_failed_check_alone_exits_1_with_plain_input() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let file = lab.run.path().join("98-failing.toml");
    // The first two steps only: a decoy and a check that fails.
    let two_steps = FAILING.split("[[steps]]\nid = \"hang\"").next().unwrap();
    std::fs::write(&file, two_steps).unwrap();
    let out = lab.run_with_input(&["present", file.to_str().unwrap()], "\n\n\n\n\n\nq\n");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("98-failing: step 2 had a failed check"),
        "{stdout}"
    );
    assert!(stderr.is_empty(), "{stderr}");
    // Frames for a screen of 80x24: replayed on one, nothing wraps.
    let mut parser = vt100::Parser::new(
        NonZeroU16::new(ROWS).unwrap(),
        NonZeroU16::new(COLS).unwrap(),
        0,
    );
    for chunk in stdout.split_inclusive("\x1b[2J") {
        parser.process(chunk.as_bytes());
        for r in 0..ROWS {
            assert!(
                !parser.screen().row_wrapped(r),
                "{}",
                parser.screen().contents()
            );
        }
    }
}

#[test]
fn ctrl_c_and_sigterm_tear_down_and_restore_the_terminal() {
    require_root();
    common::host_rootfs();
    for (how, want) in [("ctrl-c", 130), ("sigterm", 143)] {
        let lab = Lab::new();
        let before = lab.snapshot();
        let mut t = up_to_step_4(&lab, false, &[]);
        let pid = t.child.id();
        assert!(lab_processes_besides(&lab, pid).len() >= 4);
        if how == "ctrl-c" {
            t.master.write_all(b"\x03").unwrap();
        } else {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
                nix::sys::signal::Signal::SIGTERM,
            )
            .unwrap();
        }
        let (status, t) = t.finish();
        let all = String::from_utf8_lossy(&t.all).into_owned();
        assert_eq!(status.code(), Some(want), "{how}: {all}");
        assert!(
            t.screen()
                .contents()
                .contains("interrupted: everything the lab started was stopped and removed"),
            "{how}:\n{}",
            t.dump()
        );
        assert!(!t.screen().alternate_screen(), "{how}");
        assert_no_stack_trace(&all);
        t.assert_terminal_restored();
        lab.snapshot().assert_same(&before);
    }
}

#[test]
fn a_terminal_that_hangs_up_ends_the_presentation_and_the_lab() {
    // The projector's window is closed (or ssh drops) mid-lesson: the kernel sends SIGHUP
    // and reads fail. The presenter must tear the lab down and leave, not wait for keys.
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut t = up_to_step_4(&lab, false, &[]);
    let pid = t.child.id();
    assert!(lab_processes_besides(&lab, pid).len() >= 4);
    // Hang up: close the master (a stand-in keeps the struct whole).
    t.master = File::open("/dev/null").expect("/dev/null");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(st) = t.child.try_wait().expect("try_wait") {
            break st;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the presenter did not leave after its terminal hung up"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(129), "128 + SIGHUP");
    lab.snapshot().assert_same(&before);
}

#[test]
fn a_panic_is_one_sentence_and_the_lab_is_torn_down() {
    // The hook that panics on request exists in debug builds only (as this test's).
    if !cfg!(debug_assertions) {
        return;
    }
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    // A debug build panics after step 1 when asked (the decoy is running then).
    let mut t = Term::spawn(
        &lab,
        &["present", "04", "--typing-ms", "0"],
        false,
        &[("FROMSCRATCH_TEST_PANIC_AFTER_STEP", "1")],
    );
    t.footer_after(0, "Space start");
    t.press(b" ", "step 1 of 7 · Space run");
    t.master.write_all(b" ").unwrap();
    let (status, t) = t.finish();
    let all = String::from_utf8_lossy(&t.all).into_owned();
    assert_eq!(status.code(), Some(101), "{all}");
    let screen = t.screen().contents();
    let line = screen
        .lines()
        .find(|l| l.starts_with("fromscratch: internal error in presenter mode ("))
        .unwrap_or_else(|| panic!("no sentence:\n{}", t.dump()));
    assert!(
        line.contains("everything the lab started was stopped and removed"),
        "{line}"
    );
    assert!(!all.contains("panicked"), "{all}");
    assert!(!all.contains("stack backtrace"), "{all}");
    t.assert_terminal_restored();
    lab.snapshot().assert_same(&before);
}

#[test]
fn record_writes_asciicast_v2_of_the_presentation() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let dir = tempfile::tempdir().unwrap();
    let cast = dir.path().join("02.cast");
    let mut t = Term::spawn(
        &lab,
        &[
            "present",
            "02-chroot",
            "--typing-ms",
            "1",
            "--record",
            cast.to_str().unwrap(),
        ],
        true,
        &[],
    );
    t.footer_after(0, "Space start");
    t.press(b" ", "step 1 of 5 · Space run");
    t.press(b" ", "step 1 · Space next");
    t.master.write_all(b"q").unwrap();
    let (status, t) = t.finish();
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&t.all)
    );
    lab.snapshot().assert_same(&before);

    let file = std::fs::read_to_string(&cast).expect("the cast file");
    let mut lines = file.lines();
    let header: serde_json::Value =
        serde_json::from_str(lines.next().expect("a header")).expect("the header is JSON");
    assert_eq!(header["version"], 2, "{header}");
    assert_eq!(header["width"], 80, "{header}");
    assert_eq!(header["height"], 24, "{header}");
    assert!(
        header["timestamp"].as_u64().is_some_and(|t| t > 0),
        "{header}"
    );
    assert_eq!(header["title"], "fromscratch present 02-chroot", "{header}");
    // Replayed on a screen of the header's size: the frames, unwrapped, and the command
    // typed a character at a time (one event each).
    let mut parser = vt100::Parser::new(
        NonZeroU16::new(ROWS).unwrap(),
        NonZeroU16::new(COLS).unwrap(),
        0,
    );
    let mut last = 0.0;
    let mut events = 0;
    let mut single_chars = 0;
    let mut saw_step_1 = false;
    for (n, line) in lines.enumerate() {
        let ev: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("event {n}: {e}: {line}"));
        let ev = ev
            .as_array()
            .unwrap_or_else(|| panic!("not an array: {line}"));
        assert_eq!(ev.len(), 3, "{line}");
        let time = ev[0].as_f64().unwrap_or_else(|| panic!("no time: {line}"));
        assert!(time >= last, "time went back at event {n}");
        last = time;
        assert_eq!(ev[1], "o", "{line}");
        let text = ev[2].as_str().unwrap_or_else(|| panic!("no text: {line}"));
        single_chars += usize::from(text.chars().count() == 1);
        parser.process(text.as_bytes());
        events += 1;
        for r in 0..ROWS {
            assert!(
                !parser.screen().row_wrapped(r),
                "event {n}: {}",
                parser.screen().contents()
            );
        }
        saw_step_1 |= parser
            .screen()
            .contents()
            .contains("02-chroot · step 1 of 5");
    }
    assert!(events > 10, "{file}");
    assert!(saw_step_1, "{file}");
    assert!(
        single_chars > 20,
        "the command was typed: {single_chars} one-character events"
    );
    assert!(
        parser
            .screen()
            .contents()
            .contains("02-chroot: stopped after 1 of 5 steps"),
        "{}",
        parser.screen().contents()
    );
}
