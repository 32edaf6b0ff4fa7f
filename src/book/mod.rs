//! `fromscratch book`: the book's lesson chapters, generated so they never drift from the
//! lessons.
//!
//! Each chapter `book/src/lessons/NN-id.md` is rendered ([`render::chapter`], a pure
//! function) from three files below the data directory:
//!
//! - the lesson, `lessons/NN-id.toml`;
//! - a capture of a real run of it, `book/captures/NN-id.txt` ([`capture`]): made here by
//!   running this same binary as a child, `run NN-id --yes --no-color` with `COLUMNS=80`,
//!   as root, with a progress file and run directory of its own (the learner's progress
//!   is never touched), the rootfs path written `$ROOTFS` and the lab's `$LAB`;
//! - optional hand-written notes, `book/notes/NN-id.md` ([`notes`]).
//!
//! A capture records the sha256 of the lesson file it ran: editing the lesson makes it
//! stale, and `book --check` (no root, nothing run) fails until `sudo fromscratch book
//! NN` runs it again. Everything is written atomically (a temporary file renamed) and
//! only below `book/`.

pub mod capture;
pub mod notes;
pub mod render;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::commands::Failure;
use crate::error::{EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_HOST_CANNOT};
use crate::lesson::{self, format::LessonFile};
use crate::term;

use capture::Capture;
use notes::Notes;

/// What `fromscratch book` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Lesson ids, numbers or names to capture when stale (all when empty).
    pub lessons: Vec<String>,
    /// Check only: run nothing, write nothing.
    pub check: bool,
    /// Capture the named lessons (or all) again even when their capture is up to date.
    pub recapture: bool,
}

/// The state of a capture file for a lesson.
enum CaptureState {
    Missing,
    Unreadable(String),
    Stale(Capture),
    Fresh(Capture),
}

/// One lesson and what the book holds for it.
struct Entry {
    def: LessonFile,
    /// The lesson file's text, for the container tables a chapter quotes as written.
    source: String,
    sha256: String,
    capture: CaptureState,
    notes: Result<Notes, String>,
}

/// The book's directory: `data_dir()/book`.
#[must_use]
pub fn book_dir() -> PathBuf {
    crate::paths::data_dir().join("book")
}

/// `fromscratch book` and `fromscratch book --check`; returns the exit code.
///
/// # Errors
/// A lesson that cannot be loaded or a malformed notes file (exit 2); a capture needed
/// as a user (exit 3); a lesson run that failed (its exit code); a file that cannot be
/// written.
pub fn book(opts: &Options, out: &mut dyn Write) -> Result<u8> {
    let entries = load()?;
    if opts.check {
        return check(&entries, out);
    }
    generate(opts, entries, out)
}

fn bad(message: String) -> anyhow::Error {
    Failure {
        message,
        code: EXIT_BAD_INPUT,
    }
    .into()
}

fn load() -> Result<Vec<Entry>> {
    let data = crate::paths::data_dir();
    let dir = crate::paths::lessons_dir();
    let files = lesson::lesson_files(&dir).map_err(|e| {
        bad(format!(
            "cannot read lessons in {}: {e}; set FROMSCRATCH_DATA to the folder holding lessons/ and book/",
            dir.display()
        ))
    })?;
    let book = book_dir();
    let mut entries = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).map_err(|e| bad(format!("{}: {e}", f.display())))?;
        // As written, whoever renders: a user's load would swap in each challenge's
        // rootless variant, and the chapter would depend on who ran `book`.
        let l = lesson::parse_as_written(&String::from_utf8_lossy(&bytes), &f)
            .map_err(|e| Failure::from(&e))?;
        let id = l.def.id.clone();
        let cap_path = book.join("captures").join(format!("{id}.txt"));
        let sha256 = capture::sha256(&bytes);
        let capture = match std::fs::read_to_string(&cap_path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CaptureState::Missing,
            Err(e) => CaptureState::Unreadable(e.to_string()),
            Ok(text) => match Capture::parse(&text) {
                Err(why) => CaptureState::Unreadable(why),
                Ok(c) if c.lesson_sha256 == sha256 && c.lesson == id => CaptureState::Fresh(c),
                Ok(c) => CaptureState::Stale(c),
            },
        };
        let notes_path = book.join("notes").join(format!("{id}.md"));
        let ids: Vec<&str> = l.def.steps.iter().map(|s| s.id.as_str()).collect();
        let notes = match std::fs::read_to_string(&notes_path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Notes::default()),
            Err(e) => Err(format!("{}: cannot read: {e}", rel(&data, &notes_path))),
            Ok(text) => notes::parse(&text, &ids)
                .map_err(|e| format!("{}:{}: {}", rel(&data, &notes_path), e.line, e.message)),
        };
        entries.push(Entry {
            def: l.def,
            source: String::from_utf8_lossy(&bytes).into_owned(),
            sha256,
            capture,
            notes,
        });
    }
    Ok(entries)
}

/// `path` relative to `base` when below it, for messages.
fn rel(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn summary_path() -> PathBuf {
    book_dir().join("src").join("SUMMARY.md")
}

fn chapter_file(id: &str) -> PathBuf {
    book_dir().join("src").join(render::chapter_path(id))
}

fn summary_lines(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| render::summary_line(&e.def))
        .collect()
}

/// The `.md` files in `dir` that belong to no lesson of `entries` (by file stem), sorted.
fn orphans_in(dir: &Path, entries: &[Entry]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .filter(|p| {
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            !entries.iter().any(|e| e.def.id == stem)
        })
        .collect();
    v.sort();
    v
}

/// Chapters in `book/src/lessons/` whose lesson is gone.
fn orphan_chapters(entries: &[Entry]) -> Vec<PathBuf> {
    orphans_in(&book_dir().join("src").join("lessons"), entries)
}

/// Notes files whose lesson does not exist.
fn orphan_notes(entries: &[Entry]) -> Vec<PathBuf> {
    orphans_in(&book_dir().join("notes"), entries)
}

fn check(entries: &[Entry], out: &mut dyn Write) -> Result<u8> {
    let data = crate::paths::data_dir();
    let mut problems: Vec<String> = Vec::new();
    for e in entries {
        let id = &e.def.id;
        let cap = format!("book/captures/{id}.txt");
        if let Err(n) = &e.notes {
            problems.push(format!("{n}; then run `fromscratch book`"));
        }
        let c = match &e.capture {
            CaptureState::Missing => {
                problems.push(format!(
                    "{cap} is missing: run `sudo fromscratch book {id}` to run lesson {id} and capture it"
                ));
                continue;
            }
            CaptureState::Unreadable(why) => {
                problems.push(format!(
                    "{cap} cannot be read ({why}): run `sudo fromscratch book {id}` to capture lesson {id} again"
                ));
                continue;
            }
            CaptureState::Stale(old) => {
                problems.push(format!(
                    "lessons/{id}.toml changed after its run was captured in {cap} (on {}): run `sudo fromscratch book {id}` to run lesson {id} again and regenerate its chapter",
                    old.date
                ));
                continue;
            }
            CaptureState::Fresh(c) => c,
        };
        let Ok(n) = &e.notes else { continue };
        let want = render::chapter(&e.def, &e.source, c, n);
        let path = chapter_file(id);
        match std::fs::read_to_string(&path) {
            Ok(have) if have == want => {}
            Ok(_) => problems.push(format!(
                "{} is not what lessons/{id}.toml, {cap} and book/notes/{id}.md make: run `fromscratch book` to regenerate it (edit the lesson or its notes, never the chapter)",
                rel(&data, &path)
            )),
            Err(_) => problems.push(format!(
                "{} is missing: run `fromscratch book` to generate lesson {id}'s chapter",
                rel(&data, &path)
            )),
        }
    }
    for p in orphan_chapters(entries) {
        problems.push(format!(
            "{} has no lesson in lessons/: run `fromscratch book`, which removes it",
            rel(&data, &p)
        ));
    }
    for p in orphan_notes(entries) {
        problems.push(format!(
            "{} names no lesson (there is no lessons/{}.toml): rename it after its lesson or remove it",
            rel(&data, &p),
            p.file_stem().and_then(|s| s.to_str()).unwrap_or("")
        ));
    }
    match std::fs::read_to_string(summary_path()) {
        Err(e) => problems.push(format!(
            "book/src/SUMMARY.md cannot be read ({e}): restore it from git, then run `fromscratch book`"
        )),
        Ok(s) => match render::summary_with(&s, &summary_lines(entries)) {
            None => problems.push(
                "book/src/SUMMARY.md has no `# The lessons` heading: add it where the chapters go, then run `fromscratch book`".into(),
            ),
            Some(want) if want != s => problems.push(
                "book/src/SUMMARY.md's list of lessons is not the lessons in lessons/: run `fromscratch book` to rewrite it".into(),
            ),
            Some(_) => {}
        },
    }
    if problems.is_empty() {
        writeln!(out, "book: {} chapters up to date", entries.len())?;
        return Ok(0);
    }
    out.flush()?;
    let mut err = std::io::stderr();
    for p in &problems {
        writeln!(err, "fromscratch: book: {p}")?;
    }
    Ok(EXIT_CHECK_FAILED)
}

fn generate(opts: &Options, mut entries: Vec<Entry>, out: &mut dyn Write) -> Result<u8> {
    // Everything that can be refused is refused before a byte is written.
    let broken: Vec<&String> = entries
        .iter()
        .filter_map(|e| e.notes.as_ref().err())
        .collect();
    if !broken.is_empty() {
        let list: Vec<String> = broken.iter().map(|s| (*s).clone()).collect();
        return Err(bad(format!("{}; nothing written", list.join("; "))));
    }
    let summary_text = std::fs::read_to_string(summary_path()).map_err(|e| {
        bad(format!(
            "cannot read book/src/SUMMARY.md ({e}): run `fromscratch book` in a checkout of fromscratch, or set FROMSCRATCH_DATA to one"
        ))
    })?;
    let Some(summary) = render::summary_with(&summary_text, &summary_lines(&entries)) else {
        return Err(bad(
            "book/src/SUMMARY.md has no `# The lessons` heading: add it where the chapters go; nothing written".into(),
        ));
    };
    let mut selected: Vec<usize> = Vec::new();
    if opts.lessons.is_empty() {
        selected.extend(0..entries.len());
    } else {
        for name in &opts.lessons {
            let l = lesson::find(name).map_err(|e| Failure::from(&e))?;
            let at = entries
                .iter()
                .position(|e| e.def.id == l.def.id)
                .ok_or_else(|| {
                    bad(format!(
                        "{name} is not a lesson in {}: the book has a chapter only for those",
                        crate::paths::lessons_dir().display()
                    ))
                })?;
            if !selected.contains(&at) {
                selected.push(at);
            }
        }
    }
    let to_capture: Vec<usize> = selected
        .iter()
        .copied()
        .filter(|&i| opts.recapture || !matches!(entries[i].capture, CaptureState::Fresh(_)))
        .collect();
    if !to_capture.is_empty() && !crate::paths::is_root() {
        let ids: Vec<&str> = to_capture
            .iter()
            .map(|&i| entries[i].def.id.as_str())
            .collect();
        let what = if opts.recapture {
            "capturing"
        } else {
            "capturing the stale or missing run of"
        };
        return Err(Failure {
            message: format!(
                "{what} {} needs root, since the book shows every lesson run as root (10-cgroups runs only so): run `sudo fromscratch book {}`; nothing written",
                ids.join(", "),
                ids.join(" ")
            ),
            code: EXIT_HOST_CANNOT,
        }
        .into());
    }

    // Capture, all in memory: a failed run writes nothing.
    let mut captured: Vec<(usize, Capture)> = Vec::new();
    for &i in &to_capture {
        let c = run_and_capture(&entries[i], out)?;
        captured.push((i, c));
    }
    let book = book_dir();
    for (i, c) in captured {
        let id = entries[i].def.id.clone();
        write_atomic(
            &book.join("captures").join(format!("{id}.txt")),
            c.to_text().as_bytes(),
        )?;
        entries[i].capture = CaptureState::Fresh(c);
    }

    let mut written = 0;
    let mut same = 0;
    let mut left: Vec<String> = Vec::new();
    for e in &entries {
        let id = &e.def.id;
        let (CaptureState::Fresh(c), Ok(n)) = (&e.capture, &e.notes) else {
            left.push(id.clone());
            continue;
        };
        let md = render::chapter(&e.def, &e.source, c, n);
        let path = chapter_file(id);
        if std::fs::read_to_string(&path).is_ok_and(|have| have == md) {
            same += 1;
        } else {
            write_atomic(&path, md.as_bytes())?;
            written += 1;
        }
    }
    if summary != summary_text {
        write_atomic(&summary_path(), summary.as_bytes())?;
        writeln!(out, "book: rewrote the lessons in book/src/SUMMARY.md")?;
    }
    for p in orphan_chapters(&entries) {
        std::fs::remove_file(&p)?;
        writeln!(
            out,
            "book: removed {} (no lesson has its id)",
            rel(&crate::paths::data_dir(), &p)
        )?;
    }
    writeln!(
        out,
        "book: {written} chapter(s) written, {same} already up to date, in book/src/lessons"
    )?;
    if !left.is_empty() {
        writeln!(
            out,
            "{}",
            term::bad(&format!(
                "book: the chapters of {} were kept as they were: their capture is missing or stale; run `sudo fromscratch book{}`",
                left.join(", "),
                if left.len() > 3 {
                    String::new()
                } else {
                    format!(" {}", left.join(" "))
                }
            ))
        )?;
        return Ok(EXIT_CHECK_FAILED);
    }
    Ok(0)
}

/// Run lesson `e` for real in a child (`/proc/self/exe run ID --yes --no-color`), and
/// return its capture.
fn run_and_capture(e: &Entry, out: &mut dyn Write) -> Result<Capture> {
    let id = &e.def.id;
    writeln!(
        out,
        "book: running lesson {id} to capture it (fromscratch run {id} --yes --no-color, 80 columns)…"
    )?;
    out.flush()?;
    // The rootfs first, so its path is known (the child takes it from the cache).
    let recipe = crate::rootfs::find_recipe(&e.def.requires.rootfs)
        .and_then(|p| crate::rootfs::load_recipe(&p))
        .map_err(|e| Failure::from(&e))?;
    let mut sink = std::io::sink();
    let built = crate::rootfs::build(
        &recipe,
        &crate::rootfs::BuildOptions {
            quiet: true,
            force: false,
        },
        &mut sink,
    )
    .map_err(|e| Failure::from(&e))?;
    let rootfs = crate::commands::confine_rootfs(&built.path)?;

    let base = crate::paths::run_dir();
    crate::paths::ensure_private_dir(&base)?;
    // The run keeps its progress out of the learner's file, in a directory named after
    // this process (PID and start time), so `fromscratch cleanup` can tell one whose
    // `book` was killed from one in use. The lesson's lab itself lives in the usual run
    // directory, where `cleanup` finds it after a kill -9.
    let tmp = BookScratch::create(&base)?;
    let state = tmp.0.join("state");
    crate::paths::ensure_private_dir(&state)?;
    let exe = std::fs::read_link("/proc/self/exe")?;
    let child = std::process::Command::new("/proc/self/exe")
        .args(["run", id.as_str(), "--yes", "--no-color"])
        .env("COLUMNS", "80")
        .env("NO_COLOR", "1")
        .env("XDG_STATE_HOME", &state)
        .env("FROMSCRATCH_DATA", crate::paths::data_dir())
        .stdin(std::process::Stdio::null())
        .output()?;
    let code = child.status.code().unwrap_or(EXIT_CHECK_FAILED.into());
    if code != 0 {
        let text = String::from_utf8_lossy(&child.stdout);
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        for l in tail.iter().rev() {
            writeln!(out, "  {l}")?;
        }
        let _ = std::io::stderr().write_all(&child.stderr);
        return Err(Failure {
            message: format!(
                "lesson {id}'s run failed (exit status {code}; its last lines are above): nothing written; fix the lesson or the host (`fromscratch doctor`), then run `sudo fromscratch book {id}` again"
            ),
            code: u8::try_from(code).unwrap_or(EXIT_CHECK_FAILED),
        }
        .into());
    }
    let plain = crate::present::export::strip_ansi(&String::from_utf8_lossy(&child.stdout));
    let plain: Vec<&str> = plain.lines().map(str::trim_end).collect();
    let transcript = capture::substitute(
        &(plain.join("\n") + "\n"),
        &capture::Paths {
            rootfs: Some(rootfs.display().to_string()),
            run: Some(base.display().to_string()),
            exe: Some(exe.display().to_string()),
        },
    );
    let here = [
        crate::paths::cache_dir(),
        base.clone(),
        tmp.0.clone(),
        crate::paths::data_dir(),
        exe.clone(),
    ];
    let here: Vec<String> = here.iter().map(|p| p.display().to_string()).collect();
    if let Some((path, line)) = capture::leaks(&transcript, &here).into_iter().next() {
        return Err(Failure {
            message: format!(
                "lesson {id}'s output holds {path}, a path of this machine, on line {line} of its capture: nothing written; the lesson or the lab should print it as a template (a bug to report)"
            ),
            code: EXIT_CHECK_FAILED,
        }
        .into());
    }
    let parsed = crate::present::export::parse(id, &transcript);
    if parsed.steps.len() != e.def.steps.len() {
        return Err(Failure {
            message: format!(
                "lesson {id}'s run printed {} steps, the lesson has {}: nothing written (a bug to report)",
                parsed.steps.len(),
                e.def.steps.len()
            ),
            code: EXIT_CHECK_FAILED,
        }
        .into());
    }
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into());
    writeln!(
        out,
        "  {} steps, {}",
        parsed.steps.len(),
        parsed
            .verdict
            .as_deref()
            .and_then(|v| v.split_once(": "))
            .map_or("done", |(_, v)| v)
    )?;
    Ok(Capture {
        lesson: id.clone(),
        lesson_sha256: e.sha256.clone(),
        date: capture::today(),
        kernel,
        version: env!("CARGO_PKG_VERSION").to_string(),
        user: "root".into(),
        transcript,
    })
}

/// Write `bytes` to `path` through a temporary file in the same directory, renamed over
/// it: a reader sees the old file or the new one, never half of one. Mode 0644; as root,
/// owned by the owner of the directory (a `sudo` run leaves the checkout its user's).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    let cannot = |e: std::io::Error| Failure {
        message: format!("cannot write {}: {e}", path.display()),
        code: EXIT_HOST_CANNOT,
    };
    std::fs::create_dir_all(dir).map_err(cannot)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".book-")
        .tempfile_in(dir)
        .map_err(cannot)?;
    tmp.write_all(bytes).map_err(cannot)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(cannot)?;
    if crate::paths::is_root()
        && let Ok(meta) = std::fs::metadata(dir)
    {
        let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(meta.uid()), Some(meta.gid()));
    }
    tmp.persist(path).map_err(|e| cannot(e.error))?;
    Ok(())
}

/// `RUN/book-PID-START`: the scratch directory of one `fromscratch book` process (its PID
/// and its start time, field 22 of /proc/PID/stat), removed when dropped; after a kill -9,
/// by `fromscratch cleanup` ([`crate::lab::state::cleanup_stale`]).
struct BookScratch(PathBuf);

impl BookScratch {
    fn create(run: &Path) -> std::io::Result<Self> {
        let me = nix::unistd::getpid();
        let start = crate::lab::state::start_time(me).unwrap_or(0);
        let dir = run.join(format!(
            "{}{me}-{start}",
            crate::lab::state::BOOK_SCRATCH_PREFIX
        ));
        if dir.exists() {
            crate::lab::state::remove_tree(&dir, run)?;
        }
        crate::paths::ensure_private_dir(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for BookScratch {
    fn drop(&mut self) {
        if let Some(run) = self.0.parent() {
            let _ = crate::lab::state::remove_tree(&self.0, run);
        }
    }
}
