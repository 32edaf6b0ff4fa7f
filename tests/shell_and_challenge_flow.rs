//! What a fresh learner meets around `shell` and challenges: the plain shell in the
//! rootfs writes nothing into the shared cache (an overlay with a minimal /dev), a
//! challenge shell in the rootfs gets the real /dev/null, `shell` typed at a challenge
//! not set up yet sets it up and opens the challenge's shell, `check` after a pass says
//! it passed, and a typed solution's prompt is the reader's, never a background job's.

mod common;
use common::pty::Pty;
use common::{Lab, require_root, text, unwrapped};

/// The REPL on a 100x30 pty, in this lab's world.
fn repl(lab: &Lab) -> Pty {
    let mut cmd = lab.cmd(&[]);
    cmd.env("TERM", "xterm");
    Pty::spawn(cmd, 100, 30)
}

#[test]
fn the_plain_shell_in_the_rootfs_writes_nothing_into_the_cache() {
    require_root();
    let rootfs = common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let tree = common::manifest(&rootfs);
    let mut t = repl(&lab);
    t.expect("fromscratch> ");
    t.line("start 6");
    t.expect("[06-pivot-root 1/");
    t.line("shell");
    let said = unwrapped(&t.expect("[fromscratch chroot] # "));
    assert!(
        said.contains("writes go to a scratch layer and vanish when you exit"),
        "{said}"
    );
    // The real device, not a file in the rootfs; a file in /tmp and in /root.
    t.line("echo hi > /dev/null; ls -l /dev/null");
    t.expect("crw");
    t.expect("[fromscratch chroot] # ");
    t.line("echo x > /tmp/x; mkdir -p /root && echo y > /root/y; cat /tmp/x /root/y");
    t.expect("y\r\n");
    t.expect("[fromscratch chroot] # ");
    t.line("exit");
    t.expect("[06-pivot-root 1/");
    // A second shell: the first one's writes are gone.
    t.line("shell");
    t.expect("[fromscratch chroot] # ");
    t.line("ls /tmp/x /root/y 2>&1 | wc -l; ls /tmp/x 2>/dev/null || echo gone-$((6*7))");
    t.expect("gone-42");
    t.expect("[fromscratch chroot] # ");
    t.line("exit");
    t.expect("[06-pivot-root 1/");
    t.line("quit");
    assert!(t.wait().success(), "{}", t.seen);
    let gone = common::changed(&tree, &common::manifest(&rootfs));
    assert!(gone.is_empty(), "the rootfs cache changed: {gone:?}");
    assert!(!rootfs.join("dev/null").exists());
    lab.snapshot().assert_same(&before);
}

#[test]
fn shell_at_a_challenge_not_set_up_sets_it_up_and_its_dev_null_is_the_device() {
    require_root();
    let rootfs = common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let tree = common::manifest(&rootfs);
    let mut t = repl(&lab);
    t.expect("fromscratch> ");
    t.line("start 3");
    t.expect("[03-host-processes 1/");
    // Run up to the challenge's step (the last, 5 of 5), without pressing Enter on it.
    for n in 2..=5 {
        t.line("");
        t.expect(&format!("[03-host-processes {n}/5] > "));
    }
    t.line("shell");
    let said = unwrapped(&t.expect("[fromscratch chroot] # "));
    assert!(
        said.contains("step 5 is a challenge: setting it up first"),
        "{said}"
    );
    assert!(said.contains("reach the goal, then `exit`"), "{said}");
    t.line("echo hi 2>/dev/null > /dev/null; ls -l /dev/null");
    t.expect("crw");
    t.expect("[fromscratch chroot] # ");
    t.line("exit");
    let report = unwrapped(&t.expect("[03-host-processes 5/5] > "));
    assert!(report.contains("✗ not yet"), "{report}");
    t.line("quit");
    assert!(t.wait().success(), "{}", t.seen);
    let gone = common::changed(&tree, &common::manifest(&rootfs));
    assert!(gone.is_empty(), "the rootfs cache changed: {gone:?}");
    lab.snapshot().assert_same(&before);
}

#[test]
fn check_after_a_pass_says_it_passed_and_what_comes_next() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let flag = dir.path().join("flag");
    let file = common::challenge_lesson(
        dir.path(),
        "98-flow",
        &format!(
            r#"goal = "make the flag"
solution = ["touch {f}"]
[[steps.challenge.verify]]
says = "the flag exists"
command = ["test", "-e", "{f}"]
expect = {{ exit = 0 }}"#,
            f = flag.display()
        ),
    );
    let file = file.to_str().unwrap();
    // Passed by the learner (the flag made by hand, then `check`), without the solution.
    std::fs::write(&flag, "").expect("flag");
    let out = lab.run_with_input(&[], &format!("start {file}\n\ncheck\ncheck\nquit\n"));
    let (stdout, stderr) = text(&out);
    let stdout = unwrapped(&stdout);
    assert!(stdout.contains("✓ challenge passed"), "{stdout}\n{stderr}");
    let after = &stdout[stdout.find("✓ challenge passed").unwrap()..];
    assert!(
        after.contains(
            "you passed the challenge of step 1 without seeing the solution; the lesson is done"
        ),
        "{after}"
    );
    assert!(!after.contains("press Enter to set up"), "{after}");

    // Skipped: the lab typed it, which is not the learner's pass.
    std::fs::remove_file(&flag).expect("rm flag");
    let out = lab.run_with_input(&[], &format!("start {file}\n\nskip\ncheck\nquit\n"));
    let (stdout, stderr) = text(&out);
    let stdout = unwrapped(&stdout);
    let after = &stdout[stdout
        .find("the reference solution reached the goal")
        .unwrap_or_else(|| panic!("{stdout}\n{stderr}"))..];
    assert!(
        after.contains(
            "the lab typed the reference solution (`skip`), which does not count as your pass"
        ),
        "{after}"
    );
}

#[test]
fn a_background_python3_is_never_taken_for_the_reader_of_a_typed_line() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = common::challenge_lesson(
        dir.path(),
        "97-reader",
        r#"goal = "x"
solution = [
  "python3 -m http.server 8099 --bind 0.0.0.0 >/dev/null 2>&1 &",
  "echo after-the-server",
  "python3 -i -q",
  "print(6 * 7)",
  "exit()",
  "echo back-in-sh",
]
[[steps.challenge.verify]]
says = "always"
command = ["true"]
expect = { exit = 0 }"#,
    );
    let out = lab.run(&["run", file.to_str().unwrap(), "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    // The background server is asleep in accept(2), but the shell reads the next line.
    assert!(
        lines.contains(&"[fromscratch host] # echo after-the-server"),
        "{stdout}"
    );
    assert!(!stdout.contains(">>> echo after"), "{stdout}");
    assert!(
        lines.contains(&"[fromscratch host] # python3 -i -q"),
        "{stdout}"
    );
    // A foreground python3 reading the pipe is the reader: `>>>`.
    assert!(lines.contains(&">>> print(6 * 7)"), "{stdout}");
    // (python3 -i prints its own `>>> ` before the result.)
    assert!(lines.iter().any(|l| l.ends_with("42")), "{stdout}");
    assert!(
        lines.contains(&"[fromscratch host] # echo back-in-sh"),
        "{stdout}"
    );
    lab.snapshot().assert_same(&before);
}
