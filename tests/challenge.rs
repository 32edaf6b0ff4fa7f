//! Challenges through the real binary: the REPL on a pseudo-terminal, a learner typing
//! real commands in `shell`, and the lab checking the machine's state.

mod common;
use common::pty::Pty;
use common::{Lab, require_root, text};

use common::unwrapped;

/// The REPL on an 80x24 pty, in this lab's world.
fn repl(lab: &Lab) -> Pty {
    let mut cmd = lab.cmd(&[]);
    cmd.env("TERM", "xterm");
    Pty::spawn(cmd, 80, 24)
}

#[test]
fn lesson_04_challenge_by_hand_a_wrong_attempt_is_named_then_the_right_one_passes() {
    require_root();
    let rootfs = common::host_rootfs();
    let rootfs = rootfs.display();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut t = repl(&lab);
    t.expect("fromscratch> ");
    t.line("start 4");
    t.expect("[04-pid-namespace 1/7] > ");
    // Steps 1-6 run; `run` stops at the challenge: the learner's turn.
    t.line("run");
    t.expect("── your turn ──");
    t.expect("[04-pid-namespace 7/7] > ");

    // A wrong attempt: a PID namespace, but no chroot and the host's /proc.
    t.line("shell");
    t.expect("[fromscratch host] # ");
    t.line("unshare --pid --fork /bin/sh");
    t.expect("[fromscratch host] # ");
    t.line("echo pid=$$");
    t.expect("pid=1");
    t.expect("[fromscratch host] # ");
    // A person pauses at a prompt; the lab looks whenever the session settles. (A test
    // types faster than anyone: `sleep` is that pause.)
    t.line("sleep 2");
    t.expect("[fromscratch host] # ");
    t.line("exit");
    t.expect("[fromscratch host] # ");
    t.line("exit");
    let report = unwrapped(&t.expect("[04-pid-namespace 7/7] > "));
    assert!(
        report.contains("✗ not yet: a shell of yours is PID 1 of its own PID namespace"),
        "{report}"
    );
    // Each property of the closest process, with what it really was.
    assert!(
        report.contains("✓ is PID 1 in its PID namespace (it is 1)"),
        "{report}"
    );
    assert!(
        report.contains("✓ has a pid namespace of its own"),
        "{report}"
    );
    assert!(
        report.contains(&format!("✗ has its root in {rootfs} (its root is /)")),
        "{report}"
    );
    assert!(
        report.contains("✗ has a procfs on /proc inside its root"),
        "{report}"
    );
    assert!(!report.contains("challenge passed"), "{report}");

    // The right one: the lab says so while the shell is still open.
    t.line("shell");
    t.expect("[fromscratch host] # ");
    t.line(&format!(
        "unshare --pid --fork --mount-proc={rootfs}/proc chroot {rootfs} /bin/sh"
    ));
    t.expect("[fromscratch host] # ");
    t.line("ps -o pid=,comm=");
    t.expect("the goal is reached");
    t.line("exit");
    t.expect("[fromscratch host] # ");
    t.line("exit");
    let report = unwrapped(&t.expect("04-pid-namespace done"));
    assert!(
        report.contains("✓ a shell of yours is PID 1 of its own PID namespace"),
        "{report}"
    );
    assert!(report.contains("✓ challenge passed"), "{report}");
    // The reference solution is shown after success, to compare.
    assert!(
        report.contains("the reference solution, to compare:"),
        "{report}"
    );
    t.line("quit");
    assert!(t.wait().success(), "{}", t.seen);
    lab.snapshot().assert_same(&before);

    // Quit and come back: the progress file says the lesson and its challenge are done,
    // passed without the solution shown.
    let out = lab.run_with_input(&[], "status\nquit\n");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.contains("04-pid-namespace"))
        .expect("04 listed");
    assert!(line.contains("7/7 steps · challenge ✓"), "{stdout}");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lab.progress_file()).expect("progress"))
            .expect("json");
    let ch = &file["lessons"]["04-pid-namespace"]["challenges"]["challenge-pid1"];
    assert_eq!(
        ch["solution_seen"],
        serde_json::Value::Bool(false),
        "{file}"
    );
    assert!(ch["passed_at"].is_string(), "{file}");
}

#[test]
fn ctrl_c_in_the_shell_reaches_the_shell_not_the_lab() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut t = repl(&lab);
    t.expect("fromscratch> ");
    t.line("start 2");
    t.expect("[02-chroot 1/5] > ");
    t.line("run");
    t.expect("[02-chroot 5/5] > ");
    t.line("shell");
    t.expect("[fromscratch host] # ");
    t.line("sleep 4242");
    // Wait until the shell really runs it (a ^C typed before would only flush the line).
    let mark = lab.run.path().display().to_string();
    let running = common::wait_for(60, || {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                let env = std::fs::read(e.path().join("environ")).unwrap_or_default();
                cmd == b"sleep\x004242\x00" && String::from_utf8_lossy(&env).contains(&mark)
            })
    });
    assert!(running, "the shell never ran sleep:\n{}", t.seen);
    // Ctrl-C goes to the foreground process group: the shell's. sleep dies, the shell
    // prompts again, and the lab is still there afterwards.
    t.send("\x03");
    t.expect("[fromscratch host] # ");
    t.line("echo still=$((40+2))");
    t.expect("still=42");
    t.line("exit");
    let after = t.expect("[02-chroot 5/5] > ");
    assert!(!after.contains("interrupted"), "{after}");
    t.line("status");
    t.expect("→ 5. Challenge: run the rootfs's python3 yourself");
    t.line("quit");
    assert!(t.wait().success(), "{}", t.seen);
    lab.snapshot().assert_same(&before);
}

#[test]
fn hints_come_one_at_a_time_and_the_solution_only_after_yes() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let out = lab.run_with_input(
        &[],
        "start 3\nhint\nrun\nhint\nhint\nhint\nhint\nsolution\nn\nsolution\ny\nquit\n",
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // Before the challenge is open, `hint` is the current step's plain hint.
    let open = stdout.find("── your turn ──").expect("challenge opened");
    let (before_open, after_open) = stdout.split_at(open);
    assert!(!before_open.contains("hint 1 of 3"), "{before_open}");
    let h1 = after_open
        .find("hint 1 of 3: ps reads /proc")
        .expect("hint 1");
    let h2 = after_open
        .find("hint 2 of 3: mount -t proc")
        .expect("hint 2");
    let h3 = after_open.find("hint 3 of 3:").expect("hint 3");
    assert!(h1 < h2 && h2 < h3, "{after_open}");
    assert!(
        after_open.contains("no more hints (3 shown)"),
        "{after_open}"
    );
    // `n` keeps it hidden; `y` shows it.
    let no = after_open.find("not shown").expect("declined");
    let shown = after_open
        .find("type these in `shell`, one line at a time")
        .expect("shown");
    assert!(no < shown, "{after_open}");
    assert!(
        after_open[shown..].contains("mount -t proc proc /proc"),
        "{after_open}"
    );
}

#[test]
fn check_at_the_prompt_names_what_is_missing_in_lesson_01() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run_with_input(&[], "start 1\nrun\ncheck\nskip\nquit\n");
    let (stdout, stderr) = text(&out);
    let stdout = unwrapped(&stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // Nothing built yet: the command condition fails, with what the command said.
    assert!(stdout.contains("✗ not yet: chroot "), "{stdout}");
    assert!(stdout.contains("✗ exit status is 0 (got"), "{stdout}");
    // skip: the lab types the solution, and the same condition holds.
    assert!(stdout.contains("cp --parents /bin/sh"), "{stdout}");
    assert!(
        stdout.contains("/mine /bin/sh -c 'echo hello' prints hello"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the reference solution reached the goal"),
        "{stdout}"
    );
    assert!(stdout.contains("✓ 01-rootfs done"), "{stdout}");
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_03_kill_from_the_host_is_not_the_goal_the_decoy_names_its_killer() {
    // The state checked is where the signal came from, not only that the decoy died:
    // a kill from the host (root /) is seen as such, and named.
    use std::io::{BufRead, BufReader, Write};
    require_root();
    let rootfs = common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut child = lab
        .cmd(&[])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"start 3\nrun\n").expect("write");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut pid = None;
    let mut seen = String::new();
    loop {
        let mut l = String::new();
        assert!(
            reader.read_line(&mut l).expect("read") > 0,
            "ended early:\n{seen}"
        );
        seen.push_str(&l);
        if let Some(rest) = l
            .split("decoy `target` is running on the host as PID ")
            .nth(1)
        {
            pid = rest
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<i32>().ok());
        }
        if l.contains("── your turn ──") {
            break;
        }
    }
    let pid = pid.expect("the decoy's PID");
    // From the host, as a person in another terminal might.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("kill the decoy");
    // The decoy writes its note as it dies; wait for it (a person is slower than this).
    let noted = common::wait_for(30, || {
        walkdir::WalkDir::new(lab.run.path())
            .into_iter()
            .flatten()
            .any(|e| e.file_name() == "decoy-target.killer")
    });
    assert!(noted, "the decoy wrote no note");
    stdin.write_all(b"check\nquit\n").expect("write");
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).expect("read");
    assert!(child.wait().expect("wait").success());
    let rest = unwrapped(&rest);
    assert!(
        rest.contains("✗ not yet: the decoy was killed by a signal sent from inside the rootfs"),
        "{rest}"
    );
    let me = std::process::id();
    assert!(
        rest.contains(&format!("killed by SIGTERM from PID {me} (")),
        "the note names this test as the sender: {rest}"
    );
    // The note's root is the host's `/`, not the rootfs the check wants.
    assert!(
        rest.contains(&format!(
            "whose root was / ✗ output contains \"whose root was {}\"",
            rootfs.display()
        )),
        "{rest}"
    );
    lab.snapshot().assert_same(&before);
}
