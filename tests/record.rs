//! `--record FILE.cast` writes a valid asciicast v2 file of what the terminal got, an
//! unwritable recording path stops everything before it starts, and `--export md` writes
//! the lesson as run in Markdown.

mod common;
use common::{Lab, require_root, text};

#[test]
fn run_record_writes_asciicast_v2() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let cast = lab.run.path().join("out.cast");
    let cast_arg = cast.to_str().expect("utf-8 path");
    let out = lab.run(&["run", "02-chroot", "--yes", "--record", cast_arg]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let file = std::fs::read_to_string(&cast).expect("the cast file");
    let mut lines = file.lines();
    let header: serde_json::Value =
        serde_json::from_str(lines.next().expect("a header line")).expect("header is JSON");
    assert!(header.is_object(), "{header}");
    assert_eq!(header["version"], 2, "{header}");
    assert!(header["width"].as_u64().is_some_and(|w| w > 0), "{header}");
    assert!(header["height"].as_u64().is_some_and(|h| h > 0), "{header}");
    assert!(header["timestamp"].as_u64().is_some(), "{header}");
    let mut last = 0.0;
    let mut all = String::new();
    for (n, line) in lines.enumerate() {
        let ev: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("event {n} is not JSON ({e}): {line}"));
        let ev = ev
            .as_array()
            .unwrap_or_else(|| panic!("not an array: {line}"));
        assert_eq!(ev.len(), 3, "{line}");
        let t = ev[0].as_f64().unwrap_or_else(|| panic!("no time: {line}"));
        assert!(t >= last, "time went back at event {n}: {line}");
        last = t;
        assert_eq!(ev[1], "o", "{line}");
        all.push_str(ev[2].as_str().unwrap_or_else(|| panic!("no text: {line}")));
    }
    assert!(all.contains("02-chroot: every check held"), "{all}");
    assert!(all.contains("chroot("), "{all}");
    // What the terminal showed, with \n as \r\n.
    assert_eq!(all.replace("\r\n", "\n"), stdout);
    assert!(!all.replace("\r\n", "").contains('\n'), "a bare \\n: {all}");
    // The real player reads it: asciinema (Debian's package; scripts/test installs it)
    // plays it to the end, at 100x speed, and shows the last line.
    let play = std::process::Command::new("asciinema")
        .args(["play", "-s", "100", "-i", "0.01"])
        .arg(&cast)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("asciinema is installed (scripts/test installs it)");
    let (shown, err) = text(&play);
    assert!(play.status.success(), "{shown}\n{err}");
    assert!(shown.contains("02-chroot: every check held"), "{shown}");
}

#[test]
fn repl_recording_on_a_terminal_holds_the_prompts_and_the_lines_typed() {
    // rustyline draws the prompt and echoes the typed line itself; the recording must
    // hold them too, or a replay shows answers to invisible questions.
    let lab = Lab::new();
    let cast = lab.run.path().join("typed.cast");
    let mut cmd = lab.cmd(&["--record", cast.to_str().expect("utf-8 path")]);
    cmd.env("TERM", "xterm");
    let mut t = common::pty::Pty::spawn(cmd, 80, 24);
    t.expect("fromscratch> ");
    t.line("list");
    t.expect("04-pid-namespace");
    t.expect("fromscratch> ");
    t.line("quit");
    assert!(t.wait().success(), "{}", t.seen);
    let file = std::fs::read_to_string(&cast).expect("the cast file");
    let header: serde_json::Value =
        serde_json::from_str(file.lines().next().expect("header")).expect("json");
    assert_eq!(
        (header["width"].as_u64(), header["height"].as_u64()),
        (Some(80), Some(24))
    );
    let text: String = file
        .lines()
        .skip(1)
        .map(|l| {
            let ev: serde_json::Value = serde_json::from_str(l).expect("event");
            ev[2].as_str().expect("text").to_string()
        })
        .collect();
    assert!(text.contains("fromscratch> list\r\n"), "{text}");
    assert!(text.contains("fromscratch> quit\r\n"), "{text}");
    assert!(text.contains("01-rootfs"), "{text}");
}

#[test]
fn unwritable_recording_is_exit_2_before_anything_runs() {
    let lab = Lab::new();
    let out = lab.run(&[
        "run",
        "02-chroot",
        "--yes",
        "--record",
        "/nonexistent/dir/x.cast",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(!stdout.contains("Step 1"), "{stdout}");
    assert!(
        stderr.contains("cannot write the recording /nonexistent/dir/x.cast:"),
        "{stderr}"
    );
    // The REPL's flag, too.
    let out = lab.run(&["--record", "/nonexistent/dir/x.cast"]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
}

#[test]
fn repl_record_captures_the_session() {
    let lab = Lab::new();
    let cast = lab.run.path().join("repl.cast");
    let cast_arg = cast.to_str().expect("utf-8 path");
    let out = lab.run_with_input(&["--record", cast_arg], "list\nquit\n");
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let file = std::fs::read_to_string(&cast).expect("the cast file");
    assert!(file.lines().count() > 1, "{file}");
    assert!(file.contains("02-chroot"), "{file}");
}

#[test]
fn export_md_writes_the_lesson_as_run() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let md = lab.run.path().join("02.md");
    let md_arg = md.to_str().expect("utf-8 path");
    let out = lab.run(&["run", "02-chroot", "--yes", "--export", "md", md_arg]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let md = std::fs::read_to_string(&md).expect("the Markdown file");
    assert!(md.starts_with("# 02-chroot"), "{md}");
    assert_eq!(
        md.lines().filter(|l| l.starts_with("## ")).count(),
        5,
        "{md}"
    );
    let sh = md
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap_or_default());
    assert!(sh.clone().any(|b| b.contains("chroot")), "{md}");
    assert!(md.contains("```text\n"), "{md}");
    assert!(md.contains("/usr/bin/python3 /usr"), "{md}");
    assert!(!md.contains('\x1b'), "{md}");
    // The challenge, with the goal and the solution as typed.
    assert!(
        md.contains("Challenge: Start the rootfs's own python3"),
        "{md}"
    );
    assert!(md.contains("python3 -i -q"), "{md}");

    let out = lab.run(&["run", "02-chroot", "--export", "pdf", md_arg]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
}
