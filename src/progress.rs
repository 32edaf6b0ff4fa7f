//! The learner's progress: which steps ran (and whether their checks held), which
//! challenges were solved. It outlives the lab, so `start` can resume where the learner
//! stopped and `list` and `status` can show how far they got.
//!
//! One small JSON file per user, `$XDG_STATE_HOME/fromscratch/progress.json`, by default
//! `~/.local/state/fromscratch/progress.json` (the XDG Base Directory specification's
//! place for state that should persist but is not worth backing up). Steps are recorded
//! by their `id`, which stays put when a lesson is edited: adding or reordering steps does
//! not shift anyone's progress.
//!
//! The lessons run as root, usually through sudo(8). The file then belongs to the user who
//! typed `sudo`, not to root: their home comes from the password database (getpwuid(3) on
//! `SUDO_UID`), never from `$HOME`, which sudo keeps or replaces depending on its
//! configuration; every access to the file and its directories is made with that user's
//! filesystem identity (setfsuid(2)), so a link planted in their home cannot make root
//! read or write anywhere the user could not; and whatever is created is chowned to them.
//! A write is atomic: a temporary file in the same directory, renamed over the old one
//! (rename(2)), so a crash leaves the old file or the new one, never half of either.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use colored::Colorize;
use nix::unistd::{Gid, Uid};
use serde::{Deserialize, Serialize};

use crate::error::{Classify, EXIT_BAD_INPUT, EXIT_HOST_CANNOT};
use crate::lesson::{LessonFile, StepDef};
use crate::term;

/// The file format this build reads and writes (`"format_version": 1`).
pub const FORMAT_VERSION: u32 = 1;

/// The file's name inside the state directory.
pub const FILE_NAME: &str = "progress.json";

/// The largest progress file read: a bigger one is not ours.
const MAX_BYTES: u64 = 1 << 20;

/// Why the progress file cannot be found, read or written. Each message is one sentence
/// naming the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    /// Neither `XDG_STATE_HOME` nor a home directory says where the file goes.
    #[error("cannot tell where to keep progress: {why}; set XDG_STATE_HOME to a directory")]
    NoHome {
        /// What is missing.
        why: String,
    },
    /// Not JSON, or JSON of another shape.
    #[error(
        "{path} is not a progress file fromscratch can read ({reason}): move it aside (`mv {path} {path}.bad`) to start a new one; nothing is recorded until then"
    )]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong with it, with line and column when the JSON is malformed.
        reason: String,
    },
    /// A later format than this build reads.
    #[error(
        "{path} was written by a newer fromscratch (format {found}; this one reads {FORMAT_VERSION}): upgrade fromscratch, or move the file aside to start a new one"
    )]
    Newer {
        /// The file.
        path: String,
        /// Its `format_version`.
        found: u64,
    },
    /// A symbolic link, directory, FIFO… where the file should be.
    #[error(
        "{path} is {what}, not a regular file: remove it (fromscratch never follows a link at its progress file)"
    )]
    NotAFile {
        /// The path.
        path: String,
        /// What it is: `a symbolic link`, `a directory`.
        what: &'static str,
    },
    /// Reading failed (permissions, I/O).
    #[error("cannot read the progress file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Writing failed (permissions, a full disk).
    #[error("cannot save progress to {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl Classify for ProgressError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Corrupt { .. } | Self::Newer { .. } | Self::NotAFile { .. } => EXIT_BAD_INPUT,
            Self::NoHome { .. } | Self::Read { .. } | Self::Write { .. } => EXIT_HOST_CANNOT,
        }
    }
}

/// The user the file belongs to when it is not the effective one: whoever ran sudo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// `SUDO_UID`.
    pub uid: Uid,
    /// `SUDO_GID` (else the user's primary group).
    pub gid: Gid,
}

/// Where the progress file is, and who owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// `…/fromscratch/progress.json`.
    pub file: PathBuf,
    /// The sudo user, when running as root under sudo; `None`: the effective user.
    pub owner: Option<Owner>,
}

impl Location {
    /// The directory holding the file (and the REPL's history).
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("/"))
    }
}

/// Where the progress file of the user running fromscratch is.
///
/// `$XDG_STATE_HOME/fromscratch/progress.json` when `XDG_STATE_HOME` is set to an absolute
/// path; else `HOME/.local/state/fromscratch/progress.json`, where HOME is, as root under
/// sudo, the home of `SUDO_UID` in the password database, and otherwise `$HOME` (or the
/// effective user's home in the password database when `HOME` is unset).
///
/// # Errors
/// [`ProgressError::NoHome`] when no home can be found.
pub fn location() -> Result<Location, ProgressError> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let string = |k: &str| var(k).and_then(|v| v.into_string().ok());
    let who = Whoami {
        euid_root: nix::unistd::geteuid().is_root(),
        uid: nix::unistd::getuid().as_raw(),
        xdg_state_home: var("XDG_STATE_HOME"),
        home: var("HOME"),
        sudo_uid: string("SUDO_UID"),
        sudo_gid: string("SUDO_GID"),
        sudo_user: string("SUDO_USER"),
    };
    locate(&who, &passwd)
}

/// What [`locate`] needs to know about the process (a unit test passes its own).
#[derive(Debug, Clone, Default)]
struct Whoami {
    euid_root: bool,
    uid: u32,
    xdg_state_home: Option<OsString>,
    home: Option<OsString>,
    sudo_uid: Option<String>,
    sudo_gid: Option<String>,
    sudo_user: Option<String>,
}

/// A password-database query.
#[derive(Debug, Clone, Copy)]
enum Query<'a> {
    Uid(u32),
    Name(&'a str),
}

/// The fields of a password-database entry that matter here.
#[derive(Debug, Clone)]
struct Account {
    uid: u32,
    gid: u32,
    home: PathBuf,
}

fn passwd(q: Query<'_>) -> Option<Account> {
    let user = match q {
        Query::Uid(u) => nix::unistd::User::from_uid(Uid::from_raw(u)),
        Query::Name(n) => nix::unistd::User::from_name(n),
    };
    user.ok().flatten().map(|u| Account {
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        home: u.dir,
    })
}

fn locate(
    who: &Whoami,
    lookup: &dyn Fn(Query<'_>) -> Option<Account>,
) -> Result<Location, ProgressError> {
    // Root under sudo: the user who typed sudo (a `sudo` by root itself changes nothing).
    let mut sudo_account = None;
    let owner = if who.euid_root {
        let by_uid = who.sudo_uid.as_deref().and_then(|u| u.parse::<u32>().ok());
        let account = match by_uid {
            Some(u) => lookup(Query::Uid(u)),
            None => who
                .sudo_user
                .as_deref()
                .and_then(|n| lookup(Query::Name(n))),
        };
        let uid = by_uid.or(account.as_ref().map(|a| a.uid));
        let gid = who
            .sudo_gid
            .as_deref()
            .and_then(|g| g.parse::<u32>().ok())
            .or(account.as_ref().map(|a| a.gid));
        sudo_account = account;
        match uid {
            Some(u) if u != 0 => Some(Owner {
                uid: Uid::from_raw(u),
                gid: Gid::from_raw(gid.unwrap_or(0)),
            }),
            _ => None,
        }
    } else {
        None
    };
    let absolute = |v: &OsString| Path::new(v).is_absolute().then(|| PathBuf::from(v));
    // The XDG spec: a relative XDG_STATE_HOME is invalid and is ignored.
    let base = if let Some(x) = who.xdg_state_home.as_ref().and_then(absolute) {
        x
    } else if let Some(o) = owner {
        let home = sudo_account
            .map(|a| a.home)
            .ok_or_else(|| ProgressError::NoHome {
                why: format!(
                    "the sudo user (uid {}) is not in the password database",
                    o.uid
                ),
            })?;
        home.join(".local/state")
    } else if let Some(h) = who.home.as_ref().and_then(absolute) {
        h.join(".local/state")
    } else {
        let a = lookup(Query::Uid(who.uid)).ok_or_else(|| ProgressError::NoHome {
            why: format!("HOME is unset and uid {} has no home", who.uid),
        })?;
        a.home.join(".local/state")
    };
    Ok(Location {
        file: base.join("fromscratch").join(FILE_NAME),
        owner,
    })
}

/// Run `f` with the filesystem identity of `owner` (setfsuid(2), setfsgid(2)), then go
/// back to our own: files it creates belong to `owner`, and it can reach only what
/// `owner` could. With `None`, or when not root, `f` just runs.
pub fn as_owner<T>(owner: Option<Owner>, f: impl FnOnce() -> T) -> T {
    let _guard = FsIdentity::become_(owner);
    f()
}

/// The previous filesystem uid and gid, restored on drop.
struct FsIdentity(Option<(Uid, Gid)>);

impl FsIdentity {
    fn become_(owner: Option<Owner>) -> Self {
        let Some(o) = owner.filter(|_| nix::unistd::geteuid().is_root()) else {
            return Self(None);
        };
        // The group first: once the fsuid is not 0, no capability is lost that setfsgid
        // needs (CAP_SETGID stays), but doing it first keeps the pair consistent.
        let gid = nix::unistd::setfsgid(o.gid);
        let uid = nix::unistd::setfsuid(o.uid);
        Self(Some((uid, gid)))
    }
}

impl Drop for FsIdentity {
    fn drop(&mut self) {
        if let Some((uid, gid)) = self.0 {
            // The fsuid back to 0 first: it gives back CAP_CHOWN and the others (see
            // capabilities(7), "Effect of user ID changes on capabilities").
            nix::unistd::setfsuid(uid);
            nix::unistd::setfsgid(gid);
        }
    }
}

/// Create `dir` and any missing parent, mode 0755, chowned to `owner`; call it through
/// [`as_owner`] under sudo.
///
/// # Errors
/// A directory cannot be created, or `dir` exists and is not a directory.
pub fn ensure_dir(dir: &Path, owner: Option<Owner>) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut d = dir;
    loop {
        match std::fs::metadata(d) {
            Ok(m) if m.is_dir() => break,
            Ok(_) => {
                return Err(std::io::Error::other(format!(
                    "{} is not a directory",
                    d.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                missing.push(d);
                match d.parent() {
                    Some(p) if !p.as_os_str().is_empty() => d = p,
                    _ => break,
                }
            }
            Err(e) => return Err(e),
        }
    }
    for d in missing.into_iter().rev() {
        match std::fs::DirBuilder::new().mode(0o755).create(d) {
            Ok(()) => {
                std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755))?;
                if let Some(o) = owner {
                    std::os::unix::fs::chown(d, Some(o.uid.as_raw()), Some(o.gid.as_raw()))?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The whole file, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgressFile {
    format_version: u32,
    #[serde(default)]
    lessons: BTreeMap<String, LessonProgress>,
}

impl Default for ProgressFile {
    fn default() -> Self {
        Self {
            format_version: FORMAT_VERSION,
            lessons: BTreeMap::new(),
        }
    }
}

/// One lesson's progress, keyed by step id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonProgress {
    /// Steps run at least once, by step `id`.
    #[serde(default)]
    pub steps: BTreeMap<String, StepRecord>,
    /// Challenges passed, by step `id`.
    #[serde(default)]
    pub challenges: BTreeMap<String, ChallengeRecord>,
}

/// The last run of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRecord {
    /// Every check of that run held.
    pub passed: bool,
    /// When it ran: RFC 3339, UTC (`2025-06-01T12:00:00Z`).
    pub last_run: String,
}

/// A challenge the learner solved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRecord {
    /// When it was passed: RFC 3339, UTC.
    pub passed_at: String,
    /// The learner had asked to see the solution before passing.
    pub solution_seen: bool,
}

/// How far the learner got in one lesson, for `list` and `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Steps whose last run passed (or, for a challenge, that were solved).
    pub done: usize,
    /// Steps in the lesson.
    pub total: usize,
    /// Challenge steps solved.
    pub challenges_passed: usize,
    /// Challenge steps in the lesson.
    pub challenges_total: usize,
    /// Challenges solved only after their solution had been shown.
    pub with_solution: usize,
}

impl Summary {
    /// `[#####-----] 5/10 steps`, then `· challenge ✓` (one challenge, solved) or
    /// `· challenges 1/2` when the lesson has challenges.
    #[must_use]
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} {}/{} steps",
            bar(self.done, self.total, BAR_WIDTH),
            self.done,
            self.total
        );
        match (self.challenges_passed, self.challenges_total) {
            (_, 0) => {}
            (1, 1) if self.with_solution > 0 => s.push_str(" · challenge ✓ (solution seen)"),
            (1, 1) => s.push_str(" · challenge ✓"),
            (0, 1) => s.push_str(" · challenge to do"),
            (p, t) => s.push_str(&format!(" · challenges {p}/{t}")),
        }
        s
    }
}

/// The width of the bar [`Summary::line`] draws, in cells.
pub const BAR_WIDTH: usize = 10;

/// A progress bar of `width` cells: `[#####-----]`. Green and dim when colour is on;
/// never full before `done == total`, never empty once `done > 0`.
#[must_use]
pub fn bar(done: usize, total: usize, width: usize) -> String {
    let filled = if total == 0 || done == 0 {
        0
    } else if done >= total {
        width
    } else {
        (done * width / total).clamp(1, width.saturating_sub(1))
    };
    // An empty part gets no colour codes either.
    let part = |s: String, paint: fn(&str) -> colored::ColoredString| {
        if s.is_empty() {
            s
        } else {
            paint(&s).to_string()
        }
    };
    format!(
        "[{}{}]",
        part("#".repeat(filled), |s| s.green()),
        part("-".repeat(width - filled), |s| s.dimmed())
    )
}

/// True when `step` is a challenge (the learner does the work in `shell`).
#[must_use]
pub fn is_challenge(step: &StepDef) -> bool {
    step.challenge.is_some()
}

/// The learner's progress, as read from its file.
#[derive(Debug, Clone)]
pub struct Progress {
    location: Location,
    file: ProgressFile,
}

impl Progress {
    /// Read the progress file of the user running fromscratch (see [`location`]). A
    /// missing file is empty progress.
    ///
    /// # Errors
    /// No home; the file is corrupt, of another shape, of a newer format, a link or not
    /// a regular file, or unreadable. The file is never changed by a failed load.
    pub fn load() -> Result<Self, ProgressError> {
        Self::load_from(location()?)
    }

    /// Read the progress file at `location` (as [`Progress::load`]).
    ///
    /// # Errors
    /// As [`Progress::load`].
    pub fn load_from(location: Location) -> Result<Self, ProgressError> {
        let path = location.file.display().to_string();
        let text = as_owner(location.owner, || read_file(&location.file, &path))?;
        let file = match text {
            None => ProgressFile::default(),
            Some(t) => parse(&t, &path)?,
        };
        Ok(Self { location, file })
    }

    /// Where this progress is kept.
    #[must_use]
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Write the file atomically (a temporary file in the same directory, then
    /// rename(2)), mode 0644 in directories of mode 0755, all owned by the sudo user
    /// when there is one.
    ///
    /// # Errors
    /// [`ProgressError::NotAFile`] when something other than a regular file is at the
    /// path (it is left alone); [`ProgressError::Write`] when the directory or file
    /// cannot be written.
    pub fn save(&self) -> Result<(), ProgressError> {
        let path = self.location.file.display().to_string();
        let owner = self.location.owner;
        as_owner(owner, || {
            if let Ok(m) = std::fs::symlink_metadata(&self.location.file)
                && !m.file_type().is_file()
            {
                return Err(ProgressError::NotAFile {
                    path: path.clone(),
                    what: what_is(&m),
                });
            }
            let mut json = serde_json::to_string_pretty(&self.file)
                .map_err(|e| write_error(&path, std::io::Error::other(e)))?;
            json.push('\n');
            write_atomically(
                self.location.dir(),
                &self.location.file,
                json.as_bytes(),
                owner,
            )
            .map_err(|e| write_error(&path, e))
        })
    }

    /// Record a run of step `step_id` of lesson `lesson_id` (now), replacing the last.
    pub fn record_step(&mut self, lesson_id: &str, step_id: &str, passed: bool) {
        self.lesson_mut(lesson_id).steps.insert(
            step_id.to_string(),
            StepRecord {
                passed,
                last_run: now_rfc3339(),
            },
        );
    }

    /// Record that the challenge of step `step_id` was passed (now), and whether the
    /// learner had seen the solution first. The first pass is kept, unless this one is
    /// the first without the solution: having solved it alone is what counts.
    pub fn record_challenge(&mut self, lesson_id: &str, step_id: &str, solution_seen: bool) {
        let challenges = &mut self.lesson_mut(lesson_id).challenges;
        let better = challenges
            .get(step_id)
            .is_none_or(|c| c.solution_seen && !solution_seen);
        if better {
            challenges.insert(
                step_id.to_string(),
                ChallengeRecord {
                    passed_at: now_rfc3339(),
                    solution_seen,
                },
            );
        }
    }

    /// One lesson's records, if any.
    #[must_use]
    pub fn lesson(&self, lesson_id: &str) -> Option<&LessonProgress> {
        self.file.lessons.get(lesson_id)
    }

    /// The ids of every lesson with records, sorted.
    pub fn lesson_ids(&self) -> impl Iterator<Item = &str> {
        self.file.lessons.keys().map(String::as_str)
    }

    /// Forget one lesson. Returns true when it had records. Call [`Progress::save`] after.
    pub fn clear_lesson(&mut self, lesson_id: &str) -> bool {
        self.file.lessons.remove(lesson_id).is_some()
    }

    /// Forget every lesson. Call [`Progress::save`] after.
    pub fn clear_all(&mut self) {
        self.file.lessons.clear();
    }

    /// True when step `step` of the lesson counts as done: its last run passed, or, for
    /// a challenge, it was solved.
    #[must_use]
    pub fn step_done(&self, lesson_id: &str, step: &StepDef) -> bool {
        self.lesson(lesson_id).is_some_and(|l| {
            l.steps.get(&step.id).is_some_and(|s| s.passed)
                || (is_challenge(step) && l.challenges.contains_key(&step.id))
        })
    }

    /// The index of the first step not yet done (never run, or its last run failed);
    /// 0 when every step is done, as a finished lesson starts again at step 1.
    #[must_use]
    pub fn first_unfinished(&self, lesson: &LessonFile) -> usize {
        lesson
            .steps
            .iter()
            .position(|s| !self.step_done(&lesson.id, s))
            .unwrap_or(0)
    }

    /// True when every step of the lesson is done.
    #[must_use]
    pub fn is_finished(&self, lesson: &LessonFile) -> bool {
        lesson.steps.iter().all(|s| self.step_done(&lesson.id, s))
    }

    /// Steps done and challenges solved, counted over the lesson's current steps
    /// (records of steps a lesson no longer has are ignored).
    #[must_use]
    pub fn summary(&self, lesson: &LessonFile) -> Summary {
        let challenges = lesson.steps.iter().filter(|s| is_challenge(s));
        Summary {
            done: lesson
                .steps
                .iter()
                .filter(|s| self.step_done(&lesson.id, s))
                .count(),
            total: lesson.steps.len(),
            challenges_passed: challenges
                .clone()
                .filter(|s| {
                    self.lesson(&lesson.id)
                        .is_some_and(|l| l.challenges.contains_key(&s.id))
                })
                .count(),
            with_solution: challenges
                .clone()
                .filter(|s| {
                    self.lesson(&lesson.id)
                        .and_then(|l| l.challenges.get(&s.id))
                        .is_some_and(|c| c.solution_seen)
                })
                .count(),
            challenges_total: challenges.count(),
        }
    }

    fn lesson_mut(&mut self, lesson_id: &str) -> &mut LessonProgress {
        self.file.lessons.entry(lesson_id.to_string()).or_default()
    }
}

/// Records each step a runner runs into the progress file, and says once, dimly, when
/// it cannot: progress is worth keeping, never worth failing a step for.
#[derive(Debug)]
pub struct Recorder {
    recording: bool,
    warned: bool,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            recording: true,
            warned: false,
        }
    }
}

impl Recorder {
    /// Record one run of a step: the file is read again, updated and written back, so
    /// two labs open at once do not undo each other's records.
    pub fn step(&mut self, lesson_id: &str, step_id: &str, passed: bool, out: &mut dyn Write) {
        self.update(out, |p| p.record_step(lesson_id, step_id, passed));
    }

    /// Record a challenge passed (see [`Progress::record_challenge`]), as [`Recorder::step`].
    pub fn challenge(
        &mut self,
        lesson_id: &str,
        step_id: &str,
        solution_seen: bool,
        out: &mut dyn Write,
    ) {
        self.update(out, |p| {
            p.record_challenge(lesson_id, step_id, solution_seen)
        });
    }

    /// Read the file again, change it, write it back; warn (once) when that fails.
    fn update(&mut self, out: &mut dyn Write, change: impl FnOnce(&mut Progress)) {
        if !self.recording {
            return;
        }
        let saved = Progress::load().and_then(|mut p| {
            change(&mut p);
            p.save()
        });
        if let Err(e) = saved {
            self.warn(&e, out);
        }
    }

    /// Stop or restart recording (while replaying steps already recorded).
    pub fn set_recording(&mut self, on: bool) {
        self.recording = on;
    }

    /// Show `e` as a dim warning, the first time only.
    pub fn warn(&mut self, e: &ProgressError, out: &mut dyn Write) {
        if !self.warned {
            self.warned = true;
            let _ = writeln!(out, "{}", warning(e));
        }
    }
}

/// A progress error as the one dim warning line the lab shows.
#[must_use]
pub fn warning(e: &ProgressError) -> String {
    term::dim(&format!("warning: {e}"))
}

fn what_is(m: &std::fs::Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

fn write_error(path: &str, source: std::io::Error) -> ProgressError {
    ProgressError::Write {
        path: path.to_string(),
        source,
    }
}

/// The file's text, `None` when it does not exist. Opened with O_NOFOLLOW (a link is
/// refused, not followed) and O_NONBLOCK (a FIFO planted there cannot hang us).
fn read_file(file: &Path, path: &str) -> Result<Option<String>, ProgressError> {
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(file);
    let mut f = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(ProgressError::NotAFile {
                path: path.to_string(),
                what: "a symbolic link",
            });
        }
        Err(source) => {
            return Err(ProgressError::Read {
                path: path.to_string(),
                source,
            });
        }
    };
    let meta = f.metadata().map_err(|source| ProgressError::Read {
        path: path.to_string(),
        source,
    })?;
    if !meta.is_file() {
        return Err(ProgressError::NotAFile {
            path: path.to_string(),
            what: what_is(&meta),
        });
    }
    let corrupt = |reason: String| ProgressError::Corrupt {
        path: path.to_string(),
        reason,
    };
    if meta.len() > MAX_BYTES {
        return Err(corrupt(format!("{} bytes, more than 1 MiB", meta.len())));
    }
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|source| ProgressError::Read {
            path: path.to_string(),
            source,
        })?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| corrupt("not UTF-8 text".into()))
}

fn parse(text: &str, path: &str) -> Result<ProgressFile, ProgressError> {
    let corrupt = |reason: String| ProgressError::Corrupt {
        path: path.to_string(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| corrupt(format!("not JSON: {e}")))?;
    match value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
    {
        None | Some(0) => return Err(corrupt("it has no `format_version`".into())),
        Some(v) if v > u64::from(FORMAT_VERSION) => {
            return Err(ProgressError::Newer {
                path: path.to_string(),
                found: v,
            });
        }
        Some(_) => {}
    }
    serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))
}

/// Write `bytes` to `file` through a temporary file in `dir` and rename(2).
fn write_atomically(
    dir: &Path,
    file: &Path,
    bytes: &[u8],
    owner: Option<Owner>,
) -> std::io::Result<()> {
    ensure_dir(dir, owner)?;
    let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    // A temporary file a killed run left behind (the same pid, reused) goes first;
    // remove_file does not follow a link.
    let _ = std::fs::remove_file(&tmp);
    let written = (|| {
        // O_EXCL with O_CREAT never follows a link at the path.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        if let Some(o) = owner {
            std::os::unix::fs::fchown(&f, Some(o.uid.as_raw()), Some(o.gid.as_raw()))?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Now, as RFC 3339 in UTC: `2025-06-01T12:00:00Z`.
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Seconds since the epoch as RFC 3339 in UTC (the proleptic Gregorian calendar, from
/// Howard Hinnant's `civil_from_days`).
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson(id: &str, steps: &[&str]) -> LessonFile {
        let mut text = format!(
            "format_version = 1\nid = \"{id}\"\ntitle = \"T\"\nsummary = \"S\"\nobjectives = [\"o\"]\n"
        );
        for s in steps {
            text.push_str(&format!(
                "[[steps]]\nid = \"{s}\"\ntitle = \"t\"\nexplain = \"e\"\naction = {{ kind = \"observe\" }}\n"
            ));
        }
        toml::from_str(&text).expect("a lesson")
    }

    fn at(dir: &Path) -> Location {
        Location {
            file: dir.join("fromscratch").join(FILE_NAME),
            owner: None,
        }
    }

    fn no_lookup(_: Query<'_>) -> Option<Account> {
        None
    }

    fn alice(q: Query<'_>) -> Option<Account> {
        let a = Account {
            uid: 1000,
            gid: 1001,
            home: "/home/alice".into(),
        };
        match q {
            Query::Uid(1000) | Query::Name("alice") => Some(a),
            _ => None,
        }
    }

    #[test]
    fn location_follows_xdg_then_home() {
        let who = Whoami {
            uid: 1000,
            xdg_state_home: Some("/x/state".into()),
            home: Some("/home/me".into()),
            ..Whoami::default()
        };
        let l = locate(&who, &no_lookup).unwrap();
        assert_eq!(l.file, Path::new("/x/state/fromscratch/progress.json"));
        assert_eq!(l.owner, None);
        // A relative XDG_STATE_HOME is ignored, as the spec says.
        let who = Whoami {
            xdg_state_home: Some("rel".into()),
            ..who
        };
        let l = locate(&who, &no_lookup).unwrap();
        assert_eq!(
            l.file,
            Path::new("/home/me/.local/state/fromscratch/progress.json")
        );
        // No HOME: the password database.
        let who = Whoami { home: None, ..who };
        let l = locate(&who, &alice).unwrap();
        assert_eq!(
            l.file,
            Path::new("/home/alice/.local/state/fromscratch/progress.json")
        );
        let e = locate(
            &Whoami {
                uid: 7,
                ..Whoami::default()
            },
            &no_lookup,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot tell where to keep progress: HOME is unset and uid 7 has no home; set XDG_STATE_HOME to a directory"
        );
    }

    #[test]
    fn under_sudo_the_home_is_the_sudo_users_from_passwd_not_home() {
        let who = Whoami {
            euid_root: true,
            uid: 0,
            home: Some("/root".into()),
            sudo_uid: Some("1000".into()),
            sudo_gid: Some("1001".into()),
            sudo_user: Some("alice".into()),
            ..Whoami::default()
        };
        let l = locate(&who, &alice).unwrap();
        assert_eq!(
            l.file,
            Path::new("/home/alice/.local/state/fromscratch/progress.json")
        );
        assert_eq!(
            l.owner,
            Some(Owner {
                uid: Uid::from_raw(1000),
                gid: Gid::from_raw(1001)
            })
        );
        // XDG_STATE_HOME set explicitly wins, and the file still belongs to the user.
        let l = locate(
            &Whoami {
                xdg_state_home: Some("/x".into()),
                ..who.clone()
            },
            &no_lookup,
        )
        .unwrap();
        assert_eq!(l.file, Path::new("/x/fromscratch/progress.json"));
        assert_eq!(l.owner.map(|o| o.uid.as_raw()), Some(1000));
        // Only SUDO_USER: the uid and group come from the database.
        let l = locate(
            &Whoami {
                sudo_uid: None,
                sudo_gid: None,
                ..who.clone()
            },
            &alice,
        )
        .unwrap();
        assert_eq!(
            l.owner,
            Some(Owner {
                uid: Uid::from_raw(1000),
                gid: Gid::from_raw(1001)
            })
        );
        // A sudo user missing from the database, with no XDG_STATE_HOME: say so.
        let e = locate(&who, &no_lookup).unwrap_err();
        assert!(
            e.to_string()
                .contains("the sudo user (uid 1000) is not in the password database"),
            "{e}"
        );
        // Not root (sudo -u alice keeps SUDO_UID of the caller): no owner, HOME counts.
        let l = locate(
            &Whoami {
                euid_root: false,
                ..who.clone()
            },
            &alice,
        )
        .unwrap();
        assert_eq!(l.owner, None);
        assert_eq!(
            l.file,
            Path::new("/root/.local/state/fromscratch/progress.json")
        );
        // Root sudoing as root: root's own.
        let l = locate(
            &Whoami {
                sudo_uid: Some("0".into()),
                ..who
            },
            &alice,
        )
        .unwrap();
        assert_eq!(l.owner, None);
    }

    #[test]
    fn bar_is_never_full_early_nor_empty_late() {
        colored::control::set_override(false);
        assert_eq!(bar(0, 10, 10), "[----------]");
        assert_eq!(bar(5, 10, 10), "[#####-----]");
        assert_eq!(bar(10, 10, 10), "[##########]");
        assert_eq!(bar(1, 100, 10), "[#---------]");
        assert_eq!(bar(99, 100, 10), "[#########-]");
        assert_eq!(bar(0, 0, 4), "[----]");
        assert_eq!(bar(2, 4, 10), "[#####-----]");
    }

    #[test]
    fn summary_line_counts_steps_and_challenges() {
        colored::control::set_override(false);
        let s = Summary {
            done: 5,
            total: 10,
            challenges_passed: 1,
            challenges_total: 1,
            with_solution: 0,
        };
        assert_eq!(s.line(), "[#####-----] 5/10 steps · challenge ✓");
        let seen = Summary {
            with_solution: 1,
            ..s
        };
        assert_eq!(
            seen.line(),
            "[#####-----] 5/10 steps · challenge ✓ (solution seen)"
        );
        let s = Summary {
            challenges_passed: 1,
            challenges_total: 3,
            ..s
        };
        assert_eq!(s.line(), "[#####-----] 5/10 steps · challenges 1/3");
        let s = Summary {
            challenges_total: 0,
            ..s
        };
        assert_eq!(s.line(), "[#####-----] 5/10 steps");
    }

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn first_unfinished_and_summary_follow_step_ids() {
        let l = lesson("02-x", &["a", "b", "c", "d"]);
        let dir = tempfile::tempdir().unwrap();
        let mut p = Progress::load_from(at(dir.path())).unwrap();
        assert_eq!(p.first_unfinished(&l), 0);
        p.record_step("02-x", "a", true);
        p.record_step("02-x", "b", true);
        assert_eq!(p.first_unfinished(&l), 2);
        // A failed last run is not done; a later pass is.
        p.record_step("02-x", "c", false);
        p.record_step("02-x", "d", true);
        assert_eq!(p.first_unfinished(&l), 2);
        assert_eq!(
            p.summary(&l),
            Summary {
                done: 3,
                total: 4,
                challenges_passed: 0,
                challenges_total: 0,
                with_solution: 0,
            }
        );
        assert!(!p.is_finished(&l));
        p.record_step("02-x", "c", true);
        assert!(p.is_finished(&l));
        // Finished: start again at step 1.
        assert_eq!(p.first_unfinished(&l), 0);
        // A step the lesson no longer has does not count; a new one is not done.
        p.record_step("02-x", "gone", true);
        let edited = lesson("02-x", &["a", "new", "b", "c", "d"]);
        assert_eq!(p.first_unfinished(&edited), 1);
        assert_eq!(p.summary(&edited).done, 4);
        assert_eq!(p.summary(&edited).total, 5);
    }

    #[test]
    fn a_challenge_solved_alone_outranks_one_solved_with_the_solution() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Progress::load_from(at(dir.path())).unwrap();
        p.record_challenge("l", "c", true);
        assert!(p.lesson("l").unwrap().challenges["c"].solution_seen);
        p.record_challenge("l", "c", false);
        assert!(!p.lesson("l").unwrap().challenges["c"].solution_seen);
        p.record_challenge("l", "c", true);
        assert!(!p.lesson("l").unwrap().challenges["c"].solution_seen);
    }

    #[test]
    fn save_then_load_round_trips_with_modes_0644_and_0755() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let loc = Location {
            file: dir.path().join("a/b/fromscratch").join(FILE_NAME),
            owner: None,
        };
        let mut p = Progress::load_from(loc.clone()).unwrap();
        p.record_step("02-chroot", "ls-root", true);
        p.record_challenge("02-chroot", "escape", false);
        p.save().unwrap();
        let q = Progress::load_from(loc.clone()).unwrap();
        assert_eq!(q.file, p.file);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o7777;
        assert_eq!(mode(&loc.file), 0o644);
        assert_eq!(mode(&dir.path().join("a")), 0o755);
        assert_eq!(mode(&dir.path().join("a/b/fromscratch")), 0o755);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&loc.file).unwrap()).unwrap();
        assert_eq!(v["format_version"], 1);
        assert_eq!(
            v["lessons"]["02-chroot"]["steps"]["ls-root"]["passed"],
            true
        );
        assert_eq!(
            v["lessons"]["02-chroot"]["challenges"]["escape"]["solution_seen"],
            false
        );
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(loc.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [FILE_NAME]);
    }

    #[test]
    fn corrupt_foreign_and_newer_files_are_named_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let loc = at(dir.path());
        std::fs::create_dir_all(loc.dir()).unwrap();
        let path = loc.file.display().to_string();
        for (text, reason) in [
            (
                "{ nope",
                "not JSON: key must be a string at line 1 column 3",
            ),
            ("[1, 2]", "it has no `format_version`"),
            (
                r#"{"format_version": 1, "lesons": {}}"#,
                "unknown field `lesons`, expected `format_version` or `lessons`",
            ),
        ] {
            std::fs::write(&loc.file, text).unwrap();
            let e = Progress::load_from(loc.clone()).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "{path} is not a progress file fromscratch can read ({reason}): move it aside (`mv {path} {path}.bad`) to start a new one; nothing is recorded until then"
                )
            );
            assert_eq!(std::fs::read_to_string(&loc.file).unwrap(), text);
        }
        std::fs::write(&loc.file, r#"{"format_version": 2}"#).unwrap();
        let e = Progress::load_from(loc.clone()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{path} was written by a newer fromscratch (format 2; this one reads 1): upgrade fromscratch, or move the file aside to start a new one"
            )
        );
    }

    #[test]
    fn a_link_at_the_path_is_neither_followed_nor_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let loc = at(dir.path());
        std::fs::create_dir_all(loc.dir()).unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, r#"{"format_version": 1}"#).unwrap();
        std::os::unix::fs::symlink(&target, &loc.file).unwrap();
        let e = Progress::load_from(loc.clone()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{} is a symbolic link, not a regular file: remove it (fromscratch never follows a link at its progress file)",
                loc.file.display()
            )
        );
        // Nor does save replace it (a Progress from elsewhere, saved to this path).
        let p = Progress {
            location: loc.clone(),
            file: ProgressFile::default(),
        };
        assert!(matches!(p.save(), Err(ProgressError::NotAFile { .. })));
        assert!(
            std::fs::symlink_metadata(&loc.file)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            r#"{"format_version": 1}"#
        );
    }

    #[test]
    fn clearing_one_lesson_keeps_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Progress::load_from(at(dir.path())).unwrap();
        p.record_step("01", "a", true);
        p.record_step("02", "a", true);
        assert!(p.clear_lesson("01"));
        assert!(!p.clear_lesson("01"));
        assert_eq!(p.lesson_ids().collect::<Vec<_>>(), ["02"]);
        p.clear_all();
        assert_eq!(p.lesson_ids().count(), 0);
    }
}
