//! Terminal manners, through the real binary: `--help` with examples on every command,
//! shell completions, colour only on a terminal (and never with `NO_COLOR` or
//! `--no-color`), no progress bars off a terminal, and prose wrapped to the terminal's
//! width in display columns.
//!
//! "On a terminal" is a real pseudo-terminal (openpty(3)) of a chosen size on the
//! binary's stdout and stderr; "piped" is the default of `std::process::Command`.

mod common;
use common::{Lab, bin, text};

use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

use clap::{CommandFactory, Parser};
use fromscratch::cli::Cli;
use sha2::{Digest, Sha256};
use unicode_width::UnicodeWidthStr;

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

/// Run `cmd` with stdout and stderr on a new pseudo-terminal of `cols` columns; returns
/// what the terminal received (with the tty's `\r\n` turned back into `\n`) and the exit
/// status. stdin stays as `cmd` has it.
fn on_tty(mut cmd: Command, cols: u16) -> (String, ExitStatus) {
    let mut master = common::pty::attach(&mut cmd, cols, 24, false);
    let mut child = cmd.spawn().expect("spawn on the pty");
    // The Command holds the slave's fds: drop it, or the master never sees the end.
    drop(cmd);
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // Linux reports EIO on the master once every slave fd is closed.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got
    });
    let status = child.wait().expect("wait");
    let got = reader.join().expect("reader");
    (String::from_utf8_lossy(&got).replace("\r\n", "\n"), status)
}

/// A command for the binary with the lab's environment but colour left to the binary
/// (`Lab::cmd` sets `NO_COLOR=1`).
fn coloured(lab: &Lab, args: &[&str]) -> Command {
    let mut c = lab.cmd(args);
    c.env_remove("NO_COLOR").env_remove("COLUMNS");
    c
}

fn has_escape(s: &str) -> bool {
    s.contains('\x1b')
}

/// An SGR sequence (colour, bold, dim…): `ESC [ digits;… m`.
fn has_sgr(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len()).any(|i| {
        b[i] == 0x1b && b.get(i + 1) == Some(&b'[') && {
            let rest = &b[i + 2..];
            let end = rest
                .iter()
                .position(|c| !(c.is_ascii_digit() || *c == b';'))
                .unwrap_or(rest.len());
            rest.get(end) == Some(&b'm')
        }
    })
}

/// Every command path of the CLI: `[]`, `["list"]`, …, `["rootfs", "build"]`.
fn command_paths() -> Vec<Vec<String>> {
    let cli = Cli::command();
    let mut paths = vec![Vec::new()];
    for sub in cli.get_subcommands() {
        paths.push(vec![sub.get_name().to_string()]);
        for subsub in sub.get_subcommands() {
            paths.push(vec![
                sub.get_name().to_string(),
                subsub.get_name().to_string(),
            ]);
        }
    }
    paths
}

/// The lines of the `Examples:` section of a help text.
fn example_lines(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Examples:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(str::to_string)
        .collect()
}

/// The argv of the `fromscratch …` command in an example line, as a shell would split
/// it: from the word `fromscratch` to the first unquoted `#`, `|`, `>`, `;` or `)`
/// (a comment, a pipe, a redirection, the end of `$(…)`), with '…' and "…" quoting.
fn example_argv(line: &str) -> Vec<String> {
    let start = line.find("fromscratch").expect("names fromscratch");
    let mut argv = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in line[start..].chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, '#' | '|' | '>' | ';' | ')') => break,
            (None, c) if c.is_whitespace() => argv.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(quote.is_none(), "unclosed quote in {line:?}");
    argv.extend(word);
    argv
}

/// A lesson file whose summary and first explanation mix ASCII, accented letters, dashes
/// (several bytes, one column) and CJK words (two columns a character). Its one step
/// builds the rootfs, so stopping before step 1 builds nothing and needs no root.
const WIDE_LESSON: &str = r#"format_version = 1
id = "99-wide"
title = "Wide text"
summary = """
Un conteneur — container, 容器, コンテナ — n'est qu'un processus: the kernel sees a
process whose root, mounts and PID numbering were changed by chroot(2), mount(2) and
unshare(2). Café, naïveté, déjà vu — 名前空間 (namespaces) と ルートファイルシステム
(rootfs) are the two ideas; every line here must fit the terminal counted in columns.
"""
objectives = ["Wrap text by its display width."]

[requires]
root = false
rootfs = "busybox"

[[steps]]
id = "build"
title = "Build the rootfs"
explain = """
Les caractères larges — 漢字, かな, 한글 — take two columns each; é and — take one
although they are several bytes. A wrap that counted bytes would break these lines far
too early, one that counted characters would overflow the terminal with the CJK words.
"""
action = { kind = "build_rootfs" }
"#;

/// Write [`WIDE_LESSON`] into `dir`.
fn wide_lesson(dir: &Path) -> String {
    let path = dir.join("99-wide.toml");
    std::fs::write(&path, WIDE_LESSON).expect("write the lesson");
    path.display().to_string()
}

/// The lines of `out` from the one that starts with the first word of `prose`, as many
/// as hold as many words as `prose` (what follows it is not always a blank line).
fn block<'a>(out: &'a str, prose: &str) -> Vec<&'a str> {
    let first = prose.split_whitespace().next().expect("a word");
    let want = prose.split_whitespace().count();
    let mut words = 0;
    out.lines()
        .skip_while(|l| l.split_whitespace().next() != Some(first))
        .take_while(|l| {
            let more = words < want;
            words += l.split_whitespace().count();
            more
        })
        .collect()
}

/// Assert that `prose` appears in `out` wrapped for a terminal of `cols` columns with an
/// indent of 2: the same words, every line within the width in display columns, and each
/// line as full as the next word allowed (the text column is 30 to 100 columns wide).
#[track_caller]
fn assert_wrapped(out: &str, prose: &str, cols: usize) {
    let limit = cols.saturating_sub(2).clamp(30, 100) + 2;
    let lines = block(out, prose);
    let words: Vec<&str> = lines.iter().flat_map(|l| l.split_whitespace()).collect();
    assert_eq!(
        words,
        prose.split_whitespace().collect::<Vec<_>>(),
        "the text is not in the output as one block:\n{out}"
    );
    for l in &lines {
        assert!(l.starts_with("  "), "not indented by 2: {l:?}");
        assert!(
            l.width() <= limit,
            "{} columns, wider than {limit}: {l:?}\n{out}",
            l.width()
        );
    }
    for pair in lines.windows(2) {
        let next = pair[1].split_whitespace().next().expect("a word");
        assert!(
            pair[0].width() + 1 + next.width() > limit,
            "{:?} ({} columns) had room for {next:?} within {limit} columns",
            pair[0],
            pair[0].width()
        );
    }
    assert!(lines.len() > 1, "nothing was wrapped:\n{out}");
}

/// The summary and the first step's explanation of a lesson file.
fn prose_of(lesson_toml: &str) -> (String, String) {
    let v: toml::Value = toml::from_str(lesson_toml).expect("toml");
    (
        v["summary"].as_str().expect("summary").to_string(),
        v["steps"][0]["explain"]
            .as_str()
            .expect("explain")
            .to_string(),
    )
}

// ---------------------------------------------------------------------------------------
// --help
// ---------------------------------------------------------------------------------------

#[test]
fn every_command_has_help_with_examples_that_parse_as_that_command() {
    let lab = Lab::new();
    let paths = command_paths();
    for must in [&["rootfs", "build"][..], &["completions"], &["spawn"]] {
        assert!(paths.iter().any(|p| p == must), "{must:?} not in {paths:?}");
    }
    for path in paths {
        if path.first().is_some_and(|p| p == "help") || path.last().is_some_and(|p| p == "help") {
            continue; // clap's own `help` subcommands
        }
        let shown = format!("fromscratch {}", path.join(" "));
        for flag in ["--help", "-h"] {
            let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
            args.push(flag);
            let mut cmd = lab.cmd(&args);
            // A standard terminal's width, for clap's wrapping.
            cmd.env("COLUMNS", "80");
            let out = cmd.output().expect("run");
            let (stdout, stderr) = text(&out);
            assert!(
                out.status.success(),
                "`{shown} {flag}` exited {:?}: {stderr}",
                out.status
            );
            let examples = example_lines(&stdout);
            assert!(
                !examples.is_empty(),
                "`{shown} {flag}` has no Examples: section:\n{stdout}"
            );
            for line in &examples {
                assert!(
                    line.width() <= 78,
                    "`{shown}` example wider than 78 columns (clap would break it on an 80-column terminal): {line:?}"
                );
                let argv = example_argv(line);
                if let Err(e) = Cli::try_parse_from(&argv) {
                    panic!("`{shown}` example {line:?} does not parse: {e}");
                }
                // It shows this command: after the global flags come the path's words.
                let mut rest = argv[1..].iter().map(String::as_str).peekable();
                while let Some(w) = rest.peek() {
                    match *w {
                        "--no-color" => {
                            rest.next();
                        }
                        "--record" => {
                            rest.next();
                            rest.next();
                        }
                        _ => break,
                    }
                }
                let words: Vec<&str> = rest.take(path.len()).collect();
                assert_eq!(
                    words,
                    path.iter().map(String::as_str).collect::<Vec<_>>(),
                    "`{shown}` example {line:?} runs another command"
                );
            }
        }
    }
}

#[test]
fn help_is_coloured_on_a_terminal_and_plain_with_no_color_no_color_env_or_a_pipe() {
    let lab = Lab::new();
    let (tty, status) = on_tty(coloured(&lab, &["run", "--help"]), 80);
    assert!(status.success(), "{tty}");
    let heading = tty
        .lines()
        .find(|l| l.contains("Examples:"))
        .expect("an Examples: heading");
    assert!(
        has_sgr(heading),
        "the heading is not styled on a tty: {heading:?}"
    );
    assert!(tty.contains("fromscratch run 02-chroot"), "{tty}");

    for (what, cmd) in [
        (
            "--no-color",
            coloured(&lab, &["run", "--help", "--no-color"]),
        ),
        (
            "--no-color first",
            coloured(&lab, &["--no-color", "run", "--help"]),
        ),
        ("NO_COLOR=1", {
            let mut c = coloured(&lab, &["run", "--help"]);
            c.env("NO_COLOR", "1");
            c
        }),
    ] {
        let (out, status) = on_tty(cmd, 80);
        assert!(status.success(), "{what}: {out}");
        assert!(out.contains("Examples:"), "{what}: {out}");
        assert!(!has_escape(&out), "{what}: escapes on the tty:\n{out:?}");
    }
    let out = coloured(&lab, &["run", "--help"]).output().expect("run");
    assert!(out.status.success());
    assert!(!has_escape(&text(&out).0), "escapes on a pipe");
}

#[test]
fn a_bad_value_is_exit_2_naming_the_values_there_are() {
    let out = Lab::new().run(&["completions", "powershell"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("invalid value 'powershell'")
            && stderr.contains("[possible values: bash, zsh, fish]"),
        "{stderr}"
    );
    assert!(!has_escape(&stderr), "escapes on a pipe: {stderr:?}");
}

// ---------------------------------------------------------------------------------------
// completions
// ---------------------------------------------------------------------------------------

const SUBCOMMANDS: [&str; 8] = [
    "list",
    "run",
    "tour",
    "rootfs",
    "check",
    "cleanup",
    "spawn",
    "completions",
];

fn lesson_ids() -> Vec<String> {
    fromscratch::lesson::lesson_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons"))
        .expect("lessons/")
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The lesson ids Tab offers after `fromscratch run 0`: those starting with 0.
fn lesson_ids_from_0() -> Vec<String> {
    lesson_ids()
        .into_iter()
        .filter(|id| id.starts_with('0'))
        .collect()
}

fn script(lab: &Lab, shell: &str) -> String {
    let out = lab.run(&["completions", shell]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "completions {shell}: {stderr}");
    assert!(stderr.is_empty(), "completions {shell}: {stderr}");
    stdout
}

/// A shell with the lab's environment (so `fromscratch` inside it sees the same data).
fn shell(lab: &Lab, name: &str) -> Command {
    let probe = lab.cmd(&[]);
    let mut c = Command::new(name);
    for (k, v) in probe.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    c.stdin(Stdio::null());
    c
}

fn installed(tool: &str) -> bool {
    which::which(tool).is_ok()
}

#[test]
fn completion_scripts_name_every_subcommand_and_the_lessons() {
    let lab = Lab::new();
    let ids = lesson_ids();
    assert!(ids.len() >= 4, "{ids:?}");
    for sh in ["bash", "zsh", "fish"] {
        let s = script(&lab, sh);
        assert!(s.lines().count() > 50, "{sh}: a short script:\n{s}");
        for sub in SUBCOMMANDS.iter().chain(&["build", "rm"]) {
            assert!(s.contains(sub), "the {sh} script does not name `{sub}`");
        }
        for id in &ids {
            assert!(
                s.contains(id.as_str()),
                "the {sh} script does not offer lesson {id}"
            );
        }
        assert!(
            s.contains("host"),
            "the {sh} script does not offer the host recipe"
        );
    }
}

#[test]
fn bash_loads_the_script_and_completes_subcommands_lessons_and_recipes() {
    let lab = Lab::new();
    // `complete -p` prints the registration: the script loaded and registered itself.
    let out = shell(&lab, "bash")
        .args([
            "-c",
            &format!(
                "source <('{}' completions bash) && complete -p fromscratch",
                bin()
            ),
        ])
        .output()
        .expect("bash");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("-F _fromscratch fromscratch"), "{stdout}");
    assert!(stderr.is_empty(), "{stderr}");

    // What Tab would offer: the completion function, called as bash calls it.
    let complete = |words: &[&str]| -> Vec<String> {
        let cur = words.last().copied().unwrap_or("");
        let prev = words[words.len() - 2];
        let script = format!(
            "source <('{}' completions bash) || exit 9\n\
             COMP_WORDS=({}); COMP_CWORD={}\n\
             _fromscratch fromscratch '{cur}' '{prev}'\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            bin(),
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1
        );
        let out = shell(&lab, "bash")
            .args(["-c", &script])
            .output()
            .expect("bash");
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{words:?}: {stdout}{stderr}");
        stdout.lines().map(str::to_string).collect()
    };
    assert_eq!(complete(&["fromscratch", "comp"]), ["completions"]);
    assert_eq!(
        complete(&["fromscratch", "completions", ""]),
        [
            "-h",
            "-V",
            "--no-color",
            "--help",
            "--version",
            "bash",
            "zsh",
            "fish"
        ]
    );
    assert_eq!(complete(&["fromscratch", "run", "0"]), lesson_ids_from_0());
    assert_eq!(
        complete(&["fromscratch", "run", "--rootfs", "bu"]),
        ["busybox"]
    );
    assert_eq!(
        complete(&["fromscratch", "rootfs", "build", "ho"]),
        ["host"]
    );
}

#[test]
fn zsh_and_fish_scripts_have_valid_syntax_when_those_shells_are_installed() {
    let lab = Lab::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut checked = Vec::new();
    for (sh, file) in [("zsh", "_fromscratch"), ("fish", "fromscratch.fish")] {
        if !installed(sh) {
            eprintln!("{sh} is not installed: its script's syntax is not checked");
            continue;
        }
        let path = dir.path().join(file);
        std::fs::write(&path, script(&lab, sh)).expect("write");
        let out = shell(&lab, sh).arg("-n").arg(&path).output().expect(sh);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{sh} -n: {stdout}{stderr}");
        checked.push(sh);
    }
    if installed("fish") {
        // fish can also say what Tab would offer.
        let path = dir.path().join("fromscratch.fish");
        let out = shell(&lab, "fish")
            .args([
                "-c",
                &format!(
                    "source '{}'; complete -C 'fromscratch run 0'; complete -C 'fromscratch rootfs build ho'",
                    path.display()
                ),
            ])
            .output()
            .expect("fish");
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        let offered: Vec<&str> = stdout
            .lines()
            .map(|l| l.split('\t').next().unwrap_or(""))
            .collect();
        let mut want = lesson_ids_from_0();
        want.push("host".into());
        assert_eq!(offered, want, "{stdout}");
    }
    eprintln!("syntax checked: {checked:?}");
}

// ---------------------------------------------------------------------------------------
// colour
// ---------------------------------------------------------------------------------------

#[test]
fn list_and_check_are_coloured_on_a_terminal_only() {
    let lab = Lab::new();
    let (list, status) = on_tty(coloured(&lab, &["list"]), 100);
    assert!(status.success(), "{list}");
    assert!(has_sgr(&list), "no colour on a tty:\n{list:?}");
    assert!(list.contains("02-chroot"), "{list}");
    let (check, status) = on_tty(coloured(&lab, &["check"]), 100);
    assert!(status.success(), "{check}");
    assert!(has_sgr(&check) && check.contains("✓ ok"), "{check:?}");

    // no-color.org: NO_COLOR set to anything but the empty string turns colour off.
    let (out, _) = on_tty(
        {
            let mut c = coloured(&lab, &["list"]);
            c.env("NO_COLOR", "");
            c
        },
        100,
    );
    assert!(
        has_sgr(&out),
        "NO_COLOR= (empty) turned colour off:\n{out:?}"
    );

    for args in [&["list"][..], &["check"]] {
        for (what, cmd) in [
            ("NO_COLOR=1", {
                let mut c = coloured(&lab, args);
                c.env("NO_COLOR", "1");
                c
            }),
            ("NO_COLOR=false", {
                let mut c = coloured(&lab, args);
                c.env("NO_COLOR", "false");
                c
            }),
            ("--no-color", {
                let mut c = coloured(&lab, args);
                c.arg("--no-color");
                c
            }),
        ] {
            let (out, status) = on_tty(cmd, 100);
            assert!(status.success(), "{args:?} {what}: {out}");
            assert!(out.contains("02-chroot"), "{args:?} {what}: {out}");
            assert!(
                !has_escape(&out),
                "{args:?} {what}: escapes on a tty:\n{out:?}"
            );
        }
        // A pipe, nothing said about colour.
        let out = coloured(&lab, args).output().expect("run");
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        assert!(stdout.contains("02-chroot"), "{stdout}");
        assert!(
            !has_escape(&stdout),
            "{args:?}: escapes on a pipe:\n{stdout:?}"
        );
    }
}

#[test]
fn list_lines_up_its_titles_on_a_terminal_and_keeps_one_line_per_lesson_on_a_pipe() {
    let lab = Lab::new();
    let ids = lesson_ids();
    let (out, status) = on_tty(coloured(&lab, &["list"]), 60);
    assert!(status.success(), "{out}");
    let plain = strip_sgr(&out);
    let mut titles = 0;
    for l in plain.lines() {
        assert!(l.width() <= 60, "wider than 60 columns: {l:?}");
        let indent = l.len() - l.trim_start().len();
        if let Some(id) = ids
            .iter()
            .find(|id| l.trim_start().starts_with(id.as_str()))
        {
            // `  ID` padded to 25, a space, the title: the title starts at column 28.
            assert_eq!(indent, 2, "{l:?}");
            let after = &l[2 + id.len()..];
            assert_eq!(
                2 + id.len() + after.len() - after.trim_start().len(),
                28,
                "{l:?}"
            );
            titles += 1;
        } else if l.trim_start().starts_with('[') {
            // At 60 columns the progress column does not fit beside the title: it gets
            // a line of its own below.
            assert_eq!(indent, 4, "{l:?}");
            assert!(l.contains(" steps"), "{l:?}");
        } else {
            assert_eq!(
                indent, 28,
                "a wrapped title is not under its first line: {l:?}"
            );
        }
    }
    assert_eq!(titles, ids.len(), "{plain}");
    assert!(
        plain.lines().count() > ids.len(),
        "nothing wrapped at 60 columns:\n{plain}"
    );

    let out = Lab::new().run(&["list"]);
    let stdout = text(&out).0;
    assert_eq!(stdout.lines().count(), ids.len(), "{stdout}");
}

fn strip_sgr(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// wrapping
// ---------------------------------------------------------------------------------------

#[test]
fn prose_wraps_to_a_60_column_terminal_in_display_columns() {
    let lab = Lab::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let lesson = wide_lesson(dir.path());
    let (summary, explain) = prose_of(WIDE_LESSON);
    // stdin is not a terminal and there is no --yes: the lesson stops before step 1,
    // having shown the summary and the step's explanation.
    let mut cmd = lab.cmd(&["run", &lesson]);
    cmd.env("COLUMNS", "100"); // the tty's own size wins over COLUMNS
    let (out, status) = on_tty(cmd, 60);
    assert!(status.success(), "{out}");
    assert!(out.contains("end of input before step 1"), "{out}");
    assert_wrapped(&out, &summary, 60);
    assert_wrapped(&out, &explain, 60);
}

#[test]
fn without_a_terminal_prose_wraps_to_columns_or_else_80() {
    let lab = Lab::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let lesson = wide_lesson(dir.path());
    let (summary, explain) = prose_of(WIDE_LESSON);
    for (columns, width) in [(None, 80), (Some("50"), 50), (Some("junk"), 80)] {
        let mut cmd = lab.cmd(&["run", &lesson]);
        cmd.env_remove("COLUMNS");
        if let Some(c) = columns {
            cmd.env("COLUMNS", c);
        }
        let out = cmd.output().expect("run");
        let (stdout, stderr) = text(&out);
        assert!(
            out.status.success(),
            "COLUMNS={columns:?}: {stdout}{stderr}"
        );
        assert_wrapped(&stdout, &summary, width);
        assert_wrapped(&stdout, &explain, width);
    }
}

#[test]
fn a_real_lesson_wraps_to_a_60_column_terminal_as_root() {
    common::require_root();
    let lab = Lab::new();
    let toml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/02-chroot.toml"),
    )
    .expect("lesson 02");
    let (summary, explain) = prose_of(&toml);
    // Stops before step 1 (stdin is not a terminal, no --yes), after building or taking
    // the host rootfs from the test cache and showing step 1's explanation.
    let (out, status) = on_tty(lab.cmd(&["run", "02-chroot"]), 60);
    assert!(status.success(), "{out}");
    assert!(out.contains("end of input before step 1"), "{out}");
    assert_wrapped(&out, &summary, 60);
    assert_wrapped(&out, &explain, 60);
}

// ---------------------------------------------------------------------------------------
// progress bars
// ---------------------------------------------------------------------------------------

/// A `docker save` archive of one layer (a few directories and files) and a recipe for
/// it, in `dir`; returns the recipe's path. The image builder shows a spinner.
fn image_recipe(dir: &Path) -> String {
    fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut h = tar::Header::new_gnu();
            h.set_mtime(1_700_000_000);
            h.set_uid(0);
            h.set_gid(0);
            if name.ends_with('/') {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
            } else {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
            }
            b.append_data(&mut h, name, *data).expect("tar entry");
        }
        b.into_inner().expect("tar")
    }
    let hex = |b: &[u8]| hex::encode(Sha256::digest(b));
    let names: Vec<String> = (0..40).map(|i| format!("etc/file-{i}")).collect();
    let mut members: Vec<(&str, &[u8])> = vec![("etc/", b""), ("proc/", b"")];
    members.extend(names.iter().map(|n| (n.as_str(), &b"hello\n"[..])));
    let layer = tar_of(&members);
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": arch, "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", hex(&layer))]},
    }))
    .expect("json");
    let config_name = format!("{}.json", hex(&config));
    let layer_name = format!("{}/layer.tar", hex(&layer));
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": config_name, "RepoTags": ["manners:1"], "Layers": [layer_name]}
    ]))
    .expect("json");
    let archive = tar_of(&[
        (&layer_name, &layer),
        (&config_name, &config),
        ("manifest.json", &manifest),
    ]);
    std::fs::write(dir.join("manners.tar"), archive).expect("write the archive");
    let recipe = dir.join("manners.toml");
    std::fs::write(
        &recipe,
        "format_version = 1\nname = \"manners\"\ndescription = \"an image made by tests/cli.rs\"\n\n[builder]\nkind = \"docker-archive\"\narchive = \"manners.tar\"\n",
    )
    .expect("write the recipe");
    recipe.display().to_string()
}

/// A command building `recipe` into a cache of its own (so it is a real build).
fn build_cmd(lab: &Lab, cache: &Path, recipe: &str, extra: &[&str]) -> Command {
    let mut args = vec!["rootfs", "build", recipe];
    args.extend_from_slice(extra);
    let mut c = coloured(lab, &args);
    c.env("FROMSCRATCH_CACHE", cache);
    c
}

#[test]
fn no_progress_bar_off_a_terminal_and_no_colour_in_it_with_no_color() {
    let lab = Lab::new();
    let dir = tempfile::Builder::new()
        .prefix("fromscratch-cli-test-")
        .tempdir_in("/var/tmp")
        .expect("tempdir");
    let recipe = image_recipe(dir.path());

    // Piped: the build's lines and the tree's path, without a carriage return or escape.
    let cache = dir.path().join("cache-piped");
    let out = build_cmd(&lab, &cache, &recipe, &[]).output().expect("run");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let tree = stdout.lines().last().expect("the path last");
    assert!(Path::new(tree).join("etc/file-39").is_file(), "{stdout}");
    for (what, s) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(
            !s.contains('\r') && !has_escape(s),
            "{what} has a spinner's traces: {s:?}"
        );
        assert!(!s.contains("unpacking ["), "{what} has the spinner: {s}");
    }

    // On a terminal the spinner is drawn, and with NO_COLOR or --no-color it has no SGR.
    for (what, no_color_env, flag) in [
        ("NO_COLOR=1", true, None),
        ("--no-color", false, Some("--no-color")),
    ] {
        let cache = dir
            .path()
            .join(format!("cache-{}", what.trim_start_matches('-')));
        let mut cmd = build_cmd(&lab, &cache, &recipe, flag.as_slice());
        if no_color_env {
            cmd.env("NO_COLOR", "1");
        }
        let (out, status) = on_tty(cmd, 100);
        assert!(status.success(), "{what}: {out}");
        assert!(
            out.contains("unpacking ["),
            "{what}: no spinner on a tty:\n{out:?}"
        );
        assert!(!has_sgr(&out), "{what}: colour on the tty:\n{out:?}");
    }
}
