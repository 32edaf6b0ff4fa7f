//! `fromscratch book`, for real: `--check` on the repository as committed; in a copy of
//! the data directory, a lesson edited without regenerating fails `--check`, and `book
//! 02` as root runs the lesson again (a real run, in a child) and makes it pass with the
//! new text in the chapter; malformed notes are named with file:line; as an unprivileged
//! user a stale capture is refused (exit 3) with nothing written. The host is the same
//! after each.

mod common;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Lab, require_root, text};

/// A copy of what `book` reads and writes (lessons, recipes, the book), in `dir/data`.
fn copy_data(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for sub in ["lessons", "rootfs-recipes", "book"] {
        for e in walkdir::WalkDir::new(src.join(sub)).into_iter().flatten() {
            let rel = e.path().strip_prefix(&src).unwrap();
            // The rendered HTML (book/book) is not an input.
            if rel.starts_with("book/book") {
                continue;
            }
            let to = data.join(rel);
            if e.file_type().is_dir() {
                std::fs::create_dir_all(&to).unwrap();
            } else {
                std::fs::copy(e.path(), &to).unwrap();
            }
        }
    }
    data
}

/// Every file below `dir` with its contents.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn book(lab: &Lab, data: &Path, args: &[&str]) -> Output {
    let mut argv = vec!["book"];
    argv.extend(args);
    lab.cmd(&argv)
        .env("FROMSCRATCH_DATA", data)
        .output()
        .expect("run fromscratch")
}

/// Lesson 02's explanation of its first step, changed.
fn edit_lesson_02(data: &Path) {
    let p = data.join("lessons/02-chroot.toml");
    let t = std::fs::read_to_string(&p).unwrap();
    let old = "First, `ls /` on the host.";
    assert!(
        t.contains(old),
        "lesson 02 no longer says {old:?}: update this test"
    );
    std::fs::write(
        &p,
        t.replace(old, "First of all, `ls /` on the host (edited by a test)."),
    )
    .unwrap();
}

#[test]
fn check_passes_on_the_repository_as_committed() {
    let lab = Lab::new();
    let out = lab.run(&["book", "--check"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let lessons = std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("lessons"))
        .unwrap()
        .count();
    assert_eq!(stdout, format!("book: {lessons} chapters up to date\n"));
    assert!(
        !lab.progress_file().exists(),
        "--check touched the progress file"
    );
}

#[test]
fn an_edited_lesson_fails_check_until_book_runs_it_again() {
    require_root();
    let dir = tempfile::Builder::new()
        .prefix("fs-book-")
        .tempdir()
        .unwrap();
    let data = copy_data(dir.path());
    let lab = Lab::new();
    let before = lab.snapshot();

    edit_lesson_02(&data);
    let out = book(&lab, &data, &["--check"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one problem, one line: {stderr}");
    assert!(
        stderr.contains("lessons/02-chroot.toml")
            && stderr.contains("sudo fromscratch book 02-chroot"),
        "{stderr}"
    );

    let old_capture = std::fs::read_to_string(data.join("book/captures/02-chroot.txt")).unwrap();
    let untouched = files(&data.join("book/captures"))
        .into_iter()
        .filter(|(k, _)| !k.ends_with("02-chroot.txt"))
        .collect::<BTreeMap<_, _>>();
    let out = book(&lab, &data, &["02"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("running lesson 02-chroot"), "{stdout}");
    assert!(stdout.contains("5 steps, every check held"), "{stdout}");

    let out = book(&lab, &data, &["--check"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let chapter = std::fs::read_to_string(data.join("book/src/lessons/02-chroot.md")).unwrap();
    assert!(
        chapter.contains("First of all, `ls /` on the host (edited by a test)."),
        "{chapter}"
    );

    // A new, real run: the header names the edited file's hash, the PIDs differ.
    let capture = std::fs::read_to_string(data.join("book/captures/02-chroot.txt")).unwrap();
    assert_ne!(capture, old_capture);
    let sha = fromscratch::book::capture::sha256(
        &std::fs::read(data.join("lessons/02-chroot.toml")).unwrap(),
    );
    assert!(
        capture.contains(&format!("\nlesson-sha256: {sha}\n")),
        "{capture}"
    );
    assert!(capture.contains("\nuser: root\n"), "{capture}");
    // Nothing of this machine's paths: the rootfs is $ROOTFS, no cache, run or data path.
    assert!(capture.contains("chroot(\"$ROOTFS\") = 0"), "{capture}");
    for path in [
        common::cache_dir().display().to_string(),
        lab.run.path().display().to_string(),
        data.display().to_string(),
        env!("CARGO_MANIFEST_DIR").to_string(),
    ] {
        assert!(
            !capture.contains(&path),
            "{path} is in the capture:\n{capture}"
        );
    }
    // Only lesson 02 ran again; the learner's progress was never written.
    let now = files(&data.join("book/captures"))
        .into_iter()
        .filter(|(k, _)| !k.ends_with("02-chroot.txt"))
        .collect::<BTreeMap<_, _>>();
    assert_eq!(now, untouched);
    assert!(
        !lab.progress_file().exists(),
        "book wrote the learner's progress"
    );
    lab.snapshot().assert_same(&before);
}

#[test]
fn notes_with_an_unknown_step_are_named_with_file_and_line() {
    let dir = tempfile::Builder::new()
        .prefix("fs-book-")
        .tempdir()
        .unwrap();
    let data = copy_data(dir.path());
    let lab = Lab::new();
    std::fs::create_dir_all(data.join("book/notes")).unwrap();
    std::fs::write(
        data.join("book/notes/02-chroot.md"),
        "<!-- intro -->\nSome background.\n\n<!-- step no-such-step -->\nText.\n",
    )
    .unwrap();
    let out = book(&lab, &data, &["--check"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("book/notes/02-chroot.md:4: no step has the id `no-such-step`"),
        "{stderr}"
    );

    // `book` refuses too, before writing anything.
    let before = files(&data);
    let out = book(&lab, &data, &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("book/notes/02-chroot.md:4:"), "{stderr}");
    assert_eq!(files(&data), before);

    // Valid notes land in the chapter after `book` (no run needed: the captures are fresh).
    std::fs::write(
        data.join("book/notes/02-chroot.md"),
        "<!-- step ls-root -->\nThe two inode numbers above are the same.\n",
    )
    .unwrap();
    let out = book(&lab, &data, &["--check"]);
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    let out = book(&lab, &data, &[]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let chapter = std::fs::read_to_string(data.join("book/src/lessons/02-chroot.md")).unwrap();
    let note = chapter
        .find("The two inode numbers above are the same.")
        .expect("the note");
    assert!(note > chapter.find("## Step 1").unwrap() && note < chapter.find("## Step 2").unwrap());
    assert_eq!(book(&lab, &data, &["--check"]).status.code(), Some(0));
}

/// A copy of the data dir whose book the test user owns (so a refusal is the rule, not a
/// permission error), with that user's scratch directories and a binary it may run.
fn user_world() -> (u32, tempfile::TempDir, PathBuf, PathBuf) {
    let u = common::test_user();
    let (dir, bin) = common::user_dir("fs-book-user-", &["cache", "run", "state"], u, u);
    let data = copy_data(dir.path());
    for e in walkdir::WalkDir::new(data.join("book"))
        .into_iter()
        .flatten()
    {
        nix::unistd::chown(
            e.path(),
            Some(nix::unistd::Uid::from_raw(u)),
            Some(nix::unistd::Gid::from_raw(u)),
        )
        .unwrap();
    }
    (u, dir, bin, data)
}

/// `fromscratch book ARGS` as the test user, on `data`.
fn book_as_user(u: u32, dir: &Path, bin: &Path, data: &Path, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args([
            format!("--reuid={u}"),
            format!("--regid={u}"),
            "--clear-groups".into(),
            "--".into(),
        ])
        .arg(bin)
        .arg("book")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("FROMSCRATCH_DATA", data)
        .env("FROMSCRATCH_CACHE", dir.join("cache"))
        .env("FROMSCRATCH_RUN", dir.join("run"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("NO_COLOR", "1")
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("setpriv")
}

#[test]
fn a_stale_capture_as_a_user_is_refused_with_nothing_written() {
    require_root();
    let (u, dir, bin, data) = user_world();
    edit_lesson_02(&data);
    let lab = Lab::new();
    let before = lab.snapshot();
    let written = files(&data);
    let out = book_as_user(u, dir.path(), &bin, &data, &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one sentence: {stderr}");
    assert!(
        stderr.contains("02-chroot") && stderr.contains("`sudo fromscratch book 02-chroot`"),
        "{stderr}"
    );
    assert_eq!(files(&data), written, "something was written");
    assert_eq!(
        std::fs::read_dir(dir.path().join("run")).unwrap().count(),
        0
    );
    lab.snapshot().assert_same(&before);
}

/// A user's `book` (after editing only notes, say) renders each lesson as written, as
/// root's does: once it swapped in lesson 03's rootless challenge, and root's `--check`
/// then failed on the chapter the user had written.
#[test]
fn a_user_renders_the_same_chapters_as_root() {
    require_root();
    let (u, dir, bin, data) = user_world();
    let written = files(&data);
    let out = book_as_user(u, dir.path(), &bin, &data, &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("0 chapter(s) written"), "{stdout}");
    assert_eq!(files(&data), written, "a chapter changed");
    let lab = Lab::new();
    let check = book(&lab, &data, &["--check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check).1);
}
