//! Presenter mode, `fromscratch present LESSON`: one lesson on a projector, a screen per
//! step.
//!
//! Each step gets a clean screen: a large heading (the step number in a block font, the
//! title, the lesson and "step N of M"), the explanation, then, on a key press, the
//! command a learner would type, shown as if typed, and the step run for real by the
//! same [`Runner`] as `run` and the REPL, its output fitted to what is left of the
//! screen with its checks kept. Every row is cut or wrapped here, by display width, so
//! the terminal never wraps a line itself and the frame never scrolls (80x24 is enough).
//!
//! Keys: Space, Enter, → or `n` run the step or go on; ← or `b` go back a step; `r`
//! runs the step again; `q` or Esc quit. Going back (and re-running) rebuilds the lab:
//! the runner is reset and the steps before are replayed quietly, as the REPL's `back`
//! does, since steps change the world (containers, decoys).
//!
//! Nothing ends in a stack trace: an error is its one sentence, in the frame and on
//! stderr at the end; a panic is caught and reported the same way. The lab is torn down
//! on quit, Ctrl-C, SIGTERM, an error and a panic (the runner's lab does it when dropped),
//! and the terminal is given back as it was.

use std::io::{IsTerminal, Write};
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;
use colored::Colorize;

use super::keys::{Key, Keys, RawMode};
use super::layout::{self, display_width, fit, wrap_words};
use crate::cli::PresentArgs;
use crate::commands::{Failure, run_failure};
use crate::lab::runner::{RunError, Runner};
use crate::lesson::{self, ActionDef};
use crate::runtime::RuntimeError;

/// Milliseconds per character of a typed command, on a terminal, by default.
pub const DEFAULT_TYPING_MS: u64 = 18;
/// The widest an explanation is wrapped, in columns.
const PROSE_MAX: usize = 100;
/// Rows a typed command may take before it is cut.
const COMMAND_ROWS: usize = 4;
/// Exit status after an internal error (a bug), as for any Rust program that panics.
pub const EXIT_INTERNAL: u8 = 101;

/// `fromscratch present LESSON`: present the lesson, one screen per step, until `q`.
///
/// Returns 0 when every step run held its checks, 1 when one did not.
///
/// # Errors
/// A lesson that cannot load, a recipe that does not exist, a host that cannot run it
/// (exit 2 or 3, before anything is shown); a step that could not run (its exit code, after
/// the presenter quits); Ctrl-C or SIGTERM (130, 143); an internal error (101). Each is
/// one sentence.
pub fn present(args: &PresentArgs, out: &mut dyn Write) -> Result<u8> {
    install_panic_hook();
    std::panic::catch_unwind(AssertUnwindSafe(|| present_unguarded(args, out))).unwrap_or_else(
        |_| {
            let what = PANIC
                .lock()
                .ok()
                .and_then(|mut m| m.take())
                .unwrap_or_else(|| "an unknown error".into());
            Err(Failure {
                message: format!(
                    "internal error in presenter mode ({what}); everything the lab started was stopped and removed; please report it"
                ),
                code: EXIT_INTERNAL,
            }
            .into())
        },
    )
}

/// [`present`] without the net for panics.
fn present_unguarded(args: &PresentArgs, out: &mut dyn Write) -> Result<u8> {
    let l = lesson::find(&args.lesson).map_err(|e| Failure::from(&e))?;
    let runner = Runner::new(l, args.rootfs.as_deref()).map_err(|e| run_failure(&e))?;
    let typing = Duration::from_millis(args.typing_ms.unwrap_or(
        if std::io::stdout().is_terminal() {
            DEFAULT_TYPING_MS
        } else {
            0
        },
    ));
    let mut p = Presenter::new(runner, out, typing);
    let end = p.show();
    p.leave();
    let summary = p.summary(&end);
    drop(p); // the lab is torn down here, before the last line is printed
    if crate::lab::signals::last_signal() == Some(nix::sys::signal::Signal::SIGHUP) {
        // The terminal hung up (the window closed, ssh dropped): nobody is left to read
        // a summary or an error; leave as the signal says, the lab already torn down.
        return Ok(crate::lab::signals::exit_status());
    }
    match end {
        End::Quit => {
            let (cols, _) = Presenter::size();
            for row in summary.rows(cols, "") {
                writeln!(out, "{row}")?;
            }
            Ok(summary.code)
        }
        End::Failed(f) => Err(f.into()),
    }
}

/// The message of the last panic, taken by [`present`] to report it in one sentence.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Replace the default panic report (a message and, with `RUST_BACKTRACE`, a stack
/// trace) by a note that [`present`] turns into one sentence. A forked child, which has
/// no presenter to report for it, prints the sentence itself.
fn install_panic_hook() {
    let owner = std::process::id();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        // One line: a multi-line message (assert_eq!'s) is joined.
        let msg = msg
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let what = format!("{msg}{at}");
        if std::process::id() != owner {
            eprintln!("fromscratch: internal error in a child process ({what})");
        }
        if let Ok(mut m) = PANIC.lock() {
            *m = Some(what);
        }
    }));
}

/// How the presentation ended.
enum End {
    /// `q`, Esc, the end of the input, or Space on the last screen.
    Quit,
    /// Interrupted, or an error the presentation cannot go on from.
    Failed(Failure),
}

/// The line printed after the presentation and the exit status.
struct Summary {
    /// The sentence, plain (`✓ …`, `✗ …`).
    text: String,
    /// Its colour: `Some(true)` green, `Some(false)` red, `None` none.
    good: Option<bool>,
    code: u8,
}

impl Summary {
    /// The sentence word-wrapped to `cols` after `indent`, in its colour.
    fn rows(&self, cols: usize, indent: &str) -> Vec<String> {
        wrap_words(&self.text, cols - 1, indent, &format!("{indent}  "))
            .into_iter()
            .map(|r| match self.good {
                Some(true) => r.green().to_string(),
                Some(false) => r.red().bold().to_string(),
                None => r,
            })
            .collect()
    }
}

/// Where the presentation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// The lesson's title, summary and objectives.
    Title,
    /// Step N explained, not run yet.
    Intro(usize),
    /// Step N run, its output shown.
    Ran(usize),
    /// After the last step: what passed.
    End,
}

/// What the last run of a step printed and how it ended.
struct Shown {
    /// The runner's output for the step (without its intro).
    output: String,
    /// The error that stopped it, as one sentence.
    error: Option<String>,
}

struct Presenter<'a> {
    runner: Runner,
    out: &'a mut dyn Write,
    typing: Duration,
    keys: Keys,
    /// Single key presses; `None` when stdin is not a terminal.
    raw: Option<RawMode>,
    /// The alternate screen is on (stdout is a terminal).
    alt: bool,
    /// The escape sequences that set up the screen were written (and must be undone).
    entered: bool,
    at: At,
    shown: Option<Shown>,
    /// The exit code and sentence of the error of each step's last run, if it could not
    /// run.
    errors: Vec<Option<(u8, String)>>,
}

impl<'a> Presenter<'a> {
    fn new(runner: Runner, out: &'a mut dyn Write, typing: Duration) -> Self {
        let raw = RawMode::enter();
        let n = runner.len();
        Self {
            keys: Keys::new(raw.is_some()),
            raw,
            runner,
            out,
            typing,
            alt: std::io::stdout().is_terminal(),
            entered: false,
            at: At::Title,
            shown: None,
            errors: vec![None; n],
        }
    }

    /// The screen's (columns, rows): the terminal's, else 80x24.
    fn size() -> (usize, usize) {
        match crate::term::tty_size() {
            Some((c, r)) if c > 0 && r > 0 => (usize::from(c), usize::from(r)),
            _ => (80, 24),
        }
    }

    /// Present until quit. Output errors end it too.
    fn show(&mut self) -> End {
        match self.show_inner() {
            Ok(end) => end,
            Err(e) if e.is_interrupted() => End::Failed(run_failure(&e)),
            Err(e) => End::Failed(Failure::from(&e)),
        }
    }

    fn show_inner(&mut self) -> Result<End, RunError> {
        self.enter()?;
        // Build the rootfs (or take it from the cache) before the first screen, so the
        // commands can name it.
        self.status_frame("preparing: building the rootfs or taking it from the cache…")?;
        let mut buf = Vec::new();
        self.runner.prepare(0, &mut buf)?;
        loop {
            self.draw()?;
            let key = self.keys.wait();
            if key == Key::Interrupted {
                return Err(RuntimeError::Interrupted.into());
            }
            match (self.at, key) {
                (_, Key::Quit) | (At::End, Key::Next) => return Ok(End::Quit),
                (_, Key::Resize | Key::Interrupted) | (At::Title, Key::Back) => {}
                (At::Title, Key::Next | Key::Rerun) => self.go_to(0)?,
                (At::Intro(k), Key::Next | Key::Rerun) => self.run(k)?,
                (At::Intro(k) | At::Ran(k), Key::Back) => match k.checked_sub(1) {
                    Some(j) => self.go_to(j)?,
                    None => {
                        self.runner.reset()?;
                        self.forget_from(0);
                        self.at = At::Title;
                    }
                },
                (At::Ran(k), Key::Next) => {
                    if k + 1 < self.runner.len() {
                        self.go_to(k + 1)?;
                    } else {
                        self.at = At::End;
                    }
                }
                (At::Ran(k), Key::Rerun) => self.rerun(k)?,
                (At::End, Key::Back) => self.go_to(self.runner.len() - 1)?,
                (At::End, Key::Rerun) => self.rerun(self.runner.len() - 1)?,
            }
            if let Some(raw) = &self.raw
                && matches!(self.at, At::Ran(_))
            {
                raw.discard_typeahead();
            }
        }
    }

    /// Show step `k` explained and not run: from step `k - 1` run this is one step on;
    /// from anywhere else the lab is rebuilt (reset, then steps before `k` replayed
    /// quietly).
    fn go_to(&mut self, k: usize) -> Result<(), RunError> {
        self.go_to_from(k, self.runner.next != k)
    }

    /// As [`Self::go_to`]; `rebuild` forces the reset and replay.
    fn go_to_from(&mut self, k: usize, rebuild: bool) -> Result<(), RunError> {
        if rebuild {
            self.status_frame(&format!("rebuilding the lab up to step {}…", k + 1))?;
            self.runner.reset()?;
            self.forget_from(0);
            let mut sink = std::io::sink();
            for i in 0..k {
                if let Err(e) = self.runner.run_step(i, &mut sink) {
                    if e.is_interrupted() {
                        return Err(e);
                    }
                    // The step that broke the replay is shown with its sentence.
                    self.errors[i] = Some((crate::error::Classify::exit_code(&e), e.to_string()));
                    self.shown = Some(Shown {
                        output: String::new(),
                        error: Some(e.to_string()),
                    });
                    self.at = At::Ran(i);
                    return Ok(());
                }
            }
        }
        self.forget_from(k);
        self.shown = None;
        let mut buf = Vec::new();
        self.runner.prepare(k, &mut buf)?;
        self.at = At::Intro(k);
        Ok(())
    }

    /// Run step `k` again from the state before it (rebuilt even when the step failed
    /// half-way and the runner is still before it).
    fn rerun(&mut self, k: usize) -> Result<(), RunError> {
        self.go_to_from(k, true)?;
        if self.at == At::Intro(k) {
            self.draw()?;
            self.run(k)?;
        }
        Ok(())
    }

    /// Forget errors of step `k` and later (they are not run in this timeline).
    fn forget_from(&mut self, k: usize) {
        for e in self.errors.iter_mut().skip(k) {
            *e = None;
        }
    }

    /// Type step `k`'s command on the intro screen, run the step, show its output.
    fn run(&mut self, k: usize) -> Result<(), RunError> {
        let (cols, rows) = Self::size();
        let frame = self.intro_frame(k, cols, rows);
        if let Some(at) = frame.command_at {
            self.type_command(&frame.command, at)?;
        }
        let footer = self.footer_text(&format!("running step {}…", k + 1));
        self.footer(&footer, cols, rows)?;
        self.out.flush()?;
        // The intro was on screen already: the runner must not print it again.
        self.runner.show_intro(k, &mut std::io::sink())?;
        let mut buf = Vec::new();
        let result = self.runner.run_step(k, &mut buf);
        let output = String::from_utf8_lossy(&buf).into_owned();
        match result {
            Ok(_) => {
                self.errors[k] = None;
                self.shown = Some(Shown {
                    output,
                    error: None,
                });
            }
            Err(e) if e.is_interrupted() => return Err(e),
            Err(e) => {
                self.errors[k] = Some((crate::error::Classify::exit_code(&e), e.to_string()));
                self.shown = Some(Shown {
                    output,
                    error: Some(e.to_string()),
                });
            }
        }
        self.at = At::Ran(k);
        #[cfg(debug_assertions)]
        if std::env::var("FROMSCRATCH_TEST_PANIC_AFTER_STEP").ok() == Some((k + 1).to_string()) {
            panic!("FROMSCRATCH_TEST_PANIC_AFTER_STEP={} asked for it", k + 1);
        }
        Ok(())
    }

    /// Write `command`'s rows from screen row `at` (0-based), a character at a time.
    fn type_command(&mut self, command: &[String], at: usize) -> Result<(), RunError> {
        let (on, off) = if colored::control::SHOULD_COLORIZE.should_colorize() {
            ("\x1b[33m", "\x1b[0m")
        } else {
            ("", "")
        };
        write!(self.out, "\x1b[?25h")?;
        for (i, row) in command.iter().enumerate() {
            write!(self.out, "\x1b[{};1H\x1b[2K{on}", at + i + 1)?;
            for (n, c) in row.chars().enumerate() {
                write!(self.out, "{c}")?;
                // The prompt and the indent of a continued row appear at once.
                if self.typing > Duration::ZERO && n >= 2 {
                    self.out.flush()?;
                    std::thread::sleep(self.typing);
                    if crate::lab::interrupted() {
                        write!(self.out, "{off}")?;
                        return Err(RuntimeError::Interrupted.into());
                    }
                }
            }
            write!(self.out, "{off}")?;
        }
        write!(self.out, "\x1b[?25l")?;
        self.out.flush()?;
        Ok(())
    }

    /// Switch to the presenter's screen: the alternate screen on a terminal, no cursor.
    fn enter(&mut self) -> std::io::Result<()> {
        if self.alt {
            write!(self.out, "\x1b[?1049h")?;
        }
        write!(self.out, "\x1b[?25l")?;
        self.entered = true;
        self.out.flush()
    }

    /// Give the terminal back: cursor on, the main screen again.
    fn leave(&mut self) {
        if !self.entered {
            return;
        }
        self.entered = false;
        let _ = if self.alt {
            write!(self.out, "\x1b[0m\x1b[?25h\x1b[?1049l")
        } else {
            // No alternate screen to leave: go below the last frame.
            let (_, rows) = Self::size();
            writeln!(self.out, "\x1b[0m\x1b[?25h\x1b[{rows};1H")
        };
        let _ = self.out.flush();
    }

    /// A frame with only the heading and one line of status (and no keys).
    fn status_frame(&mut self, status: &str) -> Result<(), RunError> {
        let (cols, rows) = Self::size();
        let mut body = self.lesson_heading(cols);
        body.push(String::new());
        body.push(fit(&format!("  {}", status.dimmed()), cols));
        self.paint(&body, "", cols, rows)
    }

    /// Draw the frame for where the presentation is.
    fn draw(&mut self) -> Result<(), RunError> {
        let (cols, rows) = Self::size();
        let (body, footer) = match self.at {
            At::Title => self.title_frame(cols, rows),
            At::Intro(k) => {
                let f = self.intro_frame(k, cols, rows);
                (f.body, f.footer)
            }
            At::Ran(k) => self.ran_frame(k, cols, rows),
            At::End => self.end_frame(cols, rows),
        };
        self.paint(&body, &footer, cols, rows)
    }

    /// Clear the screen and draw `body` from the top and `footer` on the last row. Each
    /// row is placed with a cursor address and none is wider than the screen, so nothing
    /// scrolls and nothing wraps.
    fn paint(
        &mut self,
        body: &[String],
        footer: &str,
        cols: usize,
        rows: usize,
    ) -> Result<(), RunError> {
        write!(self.out, "\x1b[H\x1b[2J")?;
        for (i, row) in body.iter().take(rows.saturating_sub(1)).enumerate() {
            if !row.is_empty() {
                write!(self.out, "\x1b[{};1H{}", i + 1, fit(row, cols))?;
            }
        }
        self.footer(footer, cols, rows)?;
        self.out.flush()?;
        Ok(())
    }

    fn footer(&mut self, footer: &str, cols: usize, rows: usize) -> Result<(), RunError> {
        write!(self.out, "\x1b[{rows};1H\x1b[2K{}", fit(footer, cols))?;
        Ok(())
    }

    /// The keys line: `text` after the lesson and step.
    fn footer_text(&self, text: &str) -> String {
        format!(" {} · {text}", self.runner.lesson.def.id)
            .dimmed()
            .to_string()
    }

    /// The lesson's number (the digits its id starts with), for the block font.
    fn lesson_number(&self) -> String {
        self.runner
            .lesson
            .def
            .id
            .chars()
            .take_while(char::is_ascii_digit)
            .collect()
    }

    /// The heading of the title, status and end screens.
    fn lesson_heading(&self, cols: usize) -> Vec<String> {
        let def = &self.runner.lesson.def;
        heading(
            &self.lesson_number(),
            &def.title,
            &format!("{} · {} steps", def.id, self.runner.len()),
            "",
            cols,
        )
    }

    fn title_frame(&self, cols: usize, rows: usize) -> (Vec<String>, String) {
        let def = &self.runner.lesson.def;
        let mut body = self.lesson_heading(cols);
        body.push(String::new());
        body.extend(wrap_words(&def.summary, prose_width(cols), "  ", "  "));
        if !def.objectives.is_empty() {
            body.push(String::new());
            body.push(format!("  {}", "You will:".bold()));
            for o in &def.objectives {
                body.extend(wrap_words(o, prose_width(cols), "  • ", "    "));
            }
        }
        body.push(String::new());
        for (name, path) in self.vars() {
            body.push(fit(&format!("  {name}={path}").dimmed().to_string(), cols));
        }
        cut_rows(&mut body, rows.saturating_sub(1), cols);
        (body, self.footer_text("Space start · q quit"))
    }

    /// The heading of step `k`; `texts` are what its screen shows, before [`Self::short`],
    /// so the heading can say what `$ROOTFS` and `$LAB` stand for where they are used.
    fn step_heading(&self, k: usize, cols: usize, texts: &[&str]) -> Vec<String> {
        let step = &self.runner.lesson.def.steps[k];
        let note = self
            .vars()
            .into_iter()
            .filter(|(_, path)| texts.iter().any(|t| t.contains(path.as_str())))
            .map(|(name, path)| format!("{name}={path}"))
            .collect::<Vec<_>>()
            .join("  ");
        heading(
            &(k + 1).to_string(),
            &step.title,
            &format!(
                "{} · step {} of {}",
                self.runner.lesson.def.id,
                k + 1,
                self.runner.len()
            ),
            &note,
            cols,
        )
    }

    /// The long paths a screen shows again and again, and the short names it shows
    /// instead: the rootfs (once built) and the lab's scratch directory.
    fn vars(&self) -> Vec<(&'static str, String)> {
        let mut v = Vec::new();
        if let Some(r) = &self.runner.lab.rootfs {
            v.push(("ROOTFS", r.display().to_string()));
        }
        v.push(("LAB", self.runner.lab.scratch.display().to_string()));
        v
    }

    /// `s` with the rootfs and the lab's directory written `$ROOTFS` and `$LAB`, as a
    /// presenter would set them in the shell, so a command fits a projector's line.
    fn short(&self, s: &str) -> String {
        let mut s = s.to_string();
        for (name, path) in self.vars() {
            if !path.is_empty() {
                s = s.replace(&path, &format!("${name}"));
            }
        }
        s
    }

    /// The command a learner would type for step `k`, if it has one: its `equivalent`,
    /// else, for a container, what `unshare`/`chroot` would do.
    fn command_of(&self, k: usize) -> Option<String> {
        let step = &self.runner.lesson.def.steps[k];
        if let Some(eq) = &step.equivalent {
            return Some(self.runner.expand(eq));
        }
        match &step.action {
            ActionDef::Exec { .. } => step
                .action
                .exec_container()
                .map(|c| self.runner.equivalent_of(&c, &step.id)),
            ActionDef::Start { container } => self
                .runner
                .lesson
                .def
                .containers
                .get(container)
                .map(|c| self.runner.start_equivalent_of(c, container)),
            _ => None,
        }
    }

    fn explain_text(&self, k: usize) -> String {
        let step = &self.runner.lesson.def.steps[k];
        let text = self.runner.expand(&step.explain);
        // A challenge's goal is what the audience should read before the lab solves it.
        match &step.challenge {
            Some(ch) => format!(
                "{}\n\nChallenge: {}",
                text.trim_end(),
                self.runner.expand(&ch.goal)
            ),
            None => text,
        }
    }

    fn explanation(&self, k: usize, cols: usize) -> Vec<String> {
        wrap_words(
            &self.short(&self.explain_text(k)),
            prose_width(cols),
            "  ",
            "  ",
        )
    }

    fn intro_frame(&self, k: usize, cols: usize, rows: usize) -> IntroFrame {
        let raw_command = self.command_of(k).unwrap_or_default();
        let mut body = self.step_heading(k, cols, &[&self.explain_text(k), &raw_command]);
        body.push(String::new());
        let command = self
            .command_of(k)
            .map(|c| wrap_command(&self.short(&c), cols))
            .unwrap_or_default();
        let command_block = if command.is_empty() {
            0
        } else {
            command.len() + 1
        };
        let mut explain = self.explanation(k, cols);
        let room = rows.saturating_sub(1 + body.len() + command_block);
        cut_rows(&mut explain, room, cols);
        body.extend(explain);
        let command_at = (!command.is_empty()).then(|| {
            body.push(String::new());
            body.len()
        });
        let run = if command.is_empty() {
            "run the step"
        } else {
            "run it"
        };
        IntroFrame {
            body,
            footer: self.footer_text(&format!(
                "step {} of {} · Space {run} · ← back · q quit",
                k + 1,
                self.runner.len()
            )),
            command,
            command_at,
        }
    }

    fn ran_frame(&self, k: usize, cols: usize, rows: usize) -> (Vec<String>, String) {
        let raw_command = self.command_of(k).unwrap_or_default();
        let (raw_output, raw_error) = self
            .shown
            .as_ref()
            .map_or(("", None), |s| (s.output.as_str(), s.error.as_deref()));
        let mut body = self.step_heading(
            k,
            cols,
            &[
                &self.explain_text(k),
                &raw_command,
                raw_output,
                raw_error.unwrap_or_default(),
            ],
        );
        body.push(String::new());
        let typed = self.short(&raw_command);
        let command: Vec<String> = wrap_command(&typed, cols)
            .into_iter()
            .filter(|_| !typed.is_empty())
            .map(|r| r.yellow().to_string())
            .collect();
        // The runner shows the command it runs; where that is the one just typed, once is
        // enough.
        let output: String = self
            .short(raw_output)
            .lines()
            .filter(|l| typed.is_empty() || layout::plain(l).trim() != format!("$ {typed}"))
            .map(|l| format!("{l}\n"))
            .collect();
        let output = output.as_str();
        let error = raw_error.map(|e| self.short(e));
        let error = error.as_deref();
        let error_rows: Vec<String> = error
            .map(|e| {
                wrap_words(e, cols - 1, "✗ ", "  ")
                    .into_iter()
                    .map(|r| r.red().bold().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let dim = |s: &str| s.dimmed().to_string();
        let need = layout::fit_output(output, usize::MAX / 2, cols, &dim).len() + error_rows.len();
        // Rows below the heading: explanation, blank, command, output; footer last.
        let rest = rows.saturating_sub(1 + body.len() + command.len());
        let mut explain = self.explanation(k, cols);
        let explain_rows = if explain.len() + 1 + need <= rest {
            explain.len()
        } else if rest >= need + 2 {
            rest - need - 1
        } else if rest >= 6 {
            1
        } else {
            0
        };
        cut_rows(&mut explain, explain_rows, cols);
        if !explain.is_empty() {
            body.extend(explain);
            body.push(String::new());
        }
        body.extend(command);
        let room = rows.saturating_sub(1 + body.len());
        let error_rows: Vec<String> = error_rows.into_iter().take(room).collect();
        body.extend(layout::fit_output(
            output,
            room - error_rows.len(),
            cols,
            &dim,
        ));
        body.extend(error_rows);
        let verdict = match (&self.runner.reports[k], error) {
            (_, Some(_)) => "✗ could not run".red().to_string(),
            (Some(r), None) if r.passed => "✓ checks held".green().to_string(),
            (Some(_), None) => "✗ a check failed".red().to_string(),
            (None, None) => String::new(),
        };
        let next = if k + 1 < self.runner.len() {
            "Space next"
        } else {
            "Space finish"
        };
        let footer = format!(
            " {verdict} {}",
            format!("· step {} · {next} · ← back · r re-run · q quit", k + 1).dimmed()
        );
        (body, footer)
    }

    fn end_frame(&self, cols: usize, rows: usize) -> (Vec<String>, String) {
        let mut body = self.lesson_heading(cols);
        body.push(String::new());
        let mut list = Vec::new();
        for (i, s) in self.runner.lesson.def.steps.iter().enumerate() {
            let mark = match (&self.runner.reports[i], &self.errors[i]) {
                (_, Some(_)) => "✗".red().to_string(),
                (Some(r), None) if r.passed => "✓".green().to_string(),
                (Some(_), None) => "✗".red().to_string(),
                (None, None) => "·".dimmed().to_string(),
            };
            list.push(fit(&format!("  {mark} {}. {}", i + 1, s.title), cols));
        }
        let summary = self.summary(&End::Quit).rows(cols, "  ");
        cut_rows(
            &mut list,
            rows.saturating_sub(1 + body.len() + 1 + summary.len()),
            cols,
        );
        body.extend(list);
        body.push(String::new());
        body.extend(summary);
        (
            body,
            self.footer_text("the end · Space or q quit · ← back · r re-run the last step"),
        )
    }

    /// The last line and the exit status, from what ran in the current timeline.
    fn summary(&self, end: &End) -> Summary {
        let id = &self.runner.lesson.def.id;
        let ran = self.runner.reports.iter().filter(|r| r.is_some()).count();
        let n = self.runner.len();
        let failed: Vec<String> = self
            .runner
            .reports
            .iter()
            .enumerate()
            .filter(|(i, r)| self.errors[*i].is_some() || r.as_ref().is_some_and(|r| !r.passed))
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        if let End::Failed(f) = end {
            return Summary {
                text: f.message.clone(),
                good: None,
                code: f.code,
            };
        }
        if let Some((i, (code, why))) = self
            .errors
            .iter()
            .enumerate()
            .find_map(|(i, e)| e.as_ref().map(|e| (i, e)))
        {
            return Summary {
                text: format!("✗ {id}: step {} could not run: {why}", i + 1),
                good: Some(false),
                code: *code,
            };
        }
        if !failed.is_empty() {
            return Summary {
                text: format!("✗ {id}: step {} had a failed check", failed.join(", ")),
                good: Some(false),
                code: crate::error::EXIT_CHECK_FAILED,
            };
        }
        if ran == n {
            Summary {
                text: format!("✓ {id}: {n} of {n} steps, every check held"),
                good: Some(true),
                code: 0,
            }
        } else {
            Summary {
                text: format!(
                    "{id}: stopped after {ran} of {n} steps, every check held; everything the lab started was stopped and removed"
                ),
                good: None,
                code: 0,
            }
        }
    }
}

impl Drop for Presenter<'_> {
    fn drop(&mut self) {
        // On a panic or an early return: the terminal is given back before anything else
        // is printed (the raw mode is undone when `raw` drops, right after).
        self.leave();
    }
}

/// The intro screen of a step, and where its command is typed.
struct IntroFrame {
    body: Vec<String>,
    footer: String,
    /// The command's rows, plain (typed in colour).
    command: Vec<String>,
    /// The screen row (0-based) the command starts on.
    command_at: Option<usize>,
}

/// Three rows: `number` in the block font, and beside it the title in bold (two rows at
/// most), `meta` dimmed and, if the title left a row free, `note` dimmed. Without room for
/// the block font (or without a number), the text alone.
fn heading(number: &str, title: &str, meta: &str, note: &str, cols: usize) -> Vec<String> {
    let bw = layout::big_width(number.len());
    let (big, tw) = if bw > 0 && cols >= bw + 3 + 16 {
        (Some(layout::big_digits(number)), cols - bw - 3)
    } else {
        (None, cols)
    };
    let mut title_rows = wrap_words(title, tw, "", "");
    if title_rows.len() > 2 {
        let rest = title_rows[1..].join(" ");
        title_rows.truncate(1);
        title_rows.push(fit(&rest, tw));
    }
    let mut text: Vec<String> = title_rows.iter().map(|t| t.bold().to_string()).collect();
    text.push(fit(meta, tw).dimmed().to_string());
    if text.len() < 3 && !note.is_empty() {
        text.push(fit(note, tw).dimmed().to_string());
    }
    text.resize(3, String::new());
    match big {
        Some(big) => big
            .iter()
            .zip(text)
            .map(|(b, t)| format!("{}   {t}", b.cyan().bold()))
            .collect(),
        None => text,
    }
}

/// Columns prose is wrapped to: the screen less a margin, at most [`PROSE_MAX`], since
/// long lines are hard to read from the back of a room.
fn prose_width(cols: usize) -> usize {
    cols.saturating_sub(1).min(PROSE_MAX)
}

/// Keep at most `n` of `rows`; when some are cut, the last kept ends with `…`.
fn cut_rows(rows: &mut Vec<String>, n: usize, cols: usize) {
    if rows.len() <= n {
        return;
    }
    rows.truncate(n);
    if let Some(last) = rows.last_mut() {
        let keep = fit(last, cols.saturating_sub(1));
        *last = if keep.ends_with('…') {
            keep
        } else {
            format!("{keep}…")
        };
    }
}

/// `$ command` in rows of at most `cols` columns, broken at spaces where it can be (the
/// continuation rows indented by two), at most [`COMMAND_ROWS`] rows.
fn wrap_command(cmd: &str, cols: usize) -> Vec<String> {
    let mut rows = Vec::new();
    let mut rest = cmd.trim();
    let mut lead = "$ ";
    while !rest.is_empty() {
        let room = cols.saturating_sub(display_width(lead)).max(1);
        if display_width(rest) <= room {
            rows.push(format!("{lead}{rest}"));
            break;
        }
        let head = take_width(rest, room);
        let cut = head
            .rfind(' ')
            .filter(|&i| i > 0)
            .map_or(head.len(), |i| i + 1);
        rows.push(format!("{lead}{}", rest[..cut].trim_end()));
        rest = rest[cut..].trim_start();
        lead = "  ";
    }
    cut_rows(&mut rows, COMMAND_ROWS, cols);
    rows
}

/// The longest start of plain `s` at most `cols` columns wide.
fn take_width(s: &str, cols: usize) -> &str {
    let mut end = 0;
    let mut w = 0;
    for (i, c) in s.char_indices() {
        let cw = display_width(&c.to_string());
        if w + cw > cols {
            break;
        }
        w += cw;
        end = i + c.len_utf8();
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_are_three_rows_within_the_width() {
        colored::control::set_override(false);
        for cols in [20, 40, 80, 120] {
            let h = heading(
                "12",
                "From the host: the rootfs's python3, with the rootfs's libraries",
                "02-chroot · step 12 of 14",
                "ROOTFS=/var/cache/fromscratch/rootfs/host-68c32c1b77927650",
                cols,
            );
            assert_eq!(h.len(), 3);
            assert!(h.iter().all(|r| display_width(r) <= cols), "{cols}: {h:#?}");
            assert!(h[0].contains("From the host"), "{cols}: {h:#?}");
        }
        let h = heading("3", "Short", "02-chroot · step 3 of 4", "ROOTFS=/r", 80);
        assert!(h[0].ends_with("Short"), "{h:#?}");
        assert!(h[1].ends_with("02-chroot · step 3 of 4"), "{h:#?}");
        assert!(h[2].ends_with("ROOTFS=/r"), "{h:#?}");
    }

    #[test]
    fn commands_break_at_spaces_and_fit() {
        let rows = wrap_command(
            "chroot /var/cache/fromscratch/rootfs/host-68c32c1b77927650 python3 -c 'import sys, json'",
            40,
        );
        assert!(rows.iter().all(|r| display_width(r) <= 40), "{rows:#?}");
        assert_eq!(rows[0], "$ chroot");
        assert!(
            rows[1].starts_with("  /var/cache/fromscratch/rootfs/host-"),
            "{rows:#?}"
        );
        assert_eq!(wrap_command("ls -l", 80), ["$ ls -l"]);
        let long = wrap_command(&"word ".repeat(100), 20);
        assert_eq!(long.len(), COMMAND_ROWS);
        assert!(long[COMMAND_ROWS - 1].ends_with('…'), "{long:#?}");
    }

    #[test]
    fn cut_rows_marks_the_cut() {
        let mut r = vec!["a".to_string(), "b".into(), "c".into()];
        cut_rows(&mut r, 2, 80);
        assert_eq!(r, ["a", "b…"]);
    }
}
