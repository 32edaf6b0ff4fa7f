//! The interactive lab: a rustyline loop over one command table.
//!
//! One table of commands (name, aliases, usage, help, handler) drives dispatch, `help`
//! and tab completion. Ctrl-C cancels the line; a second Ctrl-C (or Ctrl-D, or `quit`)
//! leaves. When stdin is not a terminal, plain lines are read instead, so tests and
//! scripts can drive the REPL (`printf 'start 02\nrun\nquit\n' | fromscratch`).

use std::io::{IsTerminal, Write};

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context as RlContext, Editor, Helper};

use crate::lab::runner::{RunError, Runner};
use crate::lesson;
use crate::observe::Context;
use crate::progress::Progress;
use crate::runtime::spawn::{self, Stdio};
use crate::term;

/// What a handler tells the loop.
enum Flow {
    Continue,
    Quit,
    /// Leave with this exit status (after SIGTERM).
    Exit(u8),
}

type Handler = fn(&mut Repl, &str, &mut dyn Write) -> anyhow::Result<Flow>;

/// One REPL command.
struct Command {
    name: &'static str,
    aliases: &'static [&'static str],
    usage: &'static str,
    help: &'static str,
    handler: Handler,
}

/// The command table: dispatch, `help` and completion all read it.
const COMMANDS: &[Command] = &[
    Command {
        name: "help",
        aliases: &["?"],
        usage: "help",
        help: "show these commands",
        handler: cmd_help,
    },
    Command {
        name: "list",
        aliases: &["ls"],
        usage: "list",
        help: "list the lessons",
        handler: cmd_list,
    },
    Command {
        name: "start",
        aliases: &[],
        usage: "start LESSON [RECIPE]",
        help: "open a lesson where you left it (its first unfinished step), on the rootfs of RECIPE (host, busybox, debian…)",
        handler: cmd_start,
    },
    Command {
        name: "next",
        aliases: &["n"],
        usage: "next  (or just Enter)",
        help: "run the current step for real, then show the next one",
        handler: cmd_next,
    },
    Command {
        name: "back",
        aliases: &["b"],
        usage: "back",
        help: "go back one step (the lab is rebuilt up to there)",
        handler: cmd_back,
    },
    Command {
        name: "run",
        aliases: &[],
        usage: "run",
        help: "run every remaining step of the lesson",
        handler: cmd_run,
    },
    Command {
        name: "why",
        aliases: &[],
        usage: "why",
        help: "the deeper reason behind the last step",
        handler: cmd_why,
    },
    Command {
        name: "hint",
        aliases: &[],
        usage: "hint",
        help: "a nudge for the current step; in a challenge, the next hint (one at a time)",
        handler: cmd_hint,
    },
    Command {
        name: "check",
        aliases: &[],
        usage: "check",
        help: "look at the machine now: is the open challenge's goal reached?",
        handler: cmd_check,
    },
    Command {
        name: "solution",
        aliases: &[],
        usage: "solution",
        help: "show the open challenge's reference solution (asks first)",
        handler: cmd_solution,
    },
    Command {
        name: "skip",
        aliases: &[],
        usage: "skip",
        help: "let the lab type the challenge's solution and go on (not counted as passed)",
        handler: cmd_skip,
    },
    Command {
        name: "trace",
        aliases: &[],
        usage: "trace",
        help: "the syscalls the last step made, with their results",
        handler: cmd_trace,
    },
    Command {
        name: "shell",
        aliases: &["sh"],
        usage: "shell",
        help: "an interactive shell where the lesson is (host, chroot or container); in a challenge, where the goal is to be reached, checked when you exit",
        handler: cmd_shell,
    },
    Command {
        name: "inspect",
        aliases: &[],
        usage: "inspect NAME|PID",
        help: "a container of this lesson (or any PID): its namespaces, root, cgroups, ids, capabilities, hostname, interfaces",
        handler: cmd_inspect,
    },
    Command {
        name: "status",
        aliases: &[],
        usage: "status",
        help: "which lesson and step you are on, what passed, and your progress in every lesson",
        handler: cmd_status,
    },
    Command {
        name: "reset",
        aliases: &[],
        usage: "reset [progress [LESSON|all]]",
        help: "stop everything the lesson started and go back to step 1; `reset progress` clears recorded progress (asks first)",
        handler: cmd_reset,
    },
    Command {
        name: "quit",
        aliases: &["exit", "q"],
        usage: "quit",
        help: "stop everything and leave",
        handler: cmd_quit,
    },
];

/// The REPL's state.
pub struct Repl {
    runner: Option<Runner>,
    /// Reading plain lines (stdin is not a terminal), not through the line editor.
    plain: bool,
    /// The plain-line reader: the loop and `confirm` share it, and its buffer.
    lines: term::LineReader,
    /// The challenge passed last in this lesson, for `check` (and `solution`, `skip`)
    /// typed after it: they say it was passed rather than "set it up first".
    last_pass: Option<Pass>,
}

/// A challenge that passed: its step, whether the lab typed the solution (`skip`), and
/// whether the learner saw the solution first.
#[derive(Debug, Clone, Copy)]
struct Pass {
    idx: usize,
    by_lab: bool,
    solution_seen: bool,
}

/// Start the REPL on the terminal (or on plain stdin lines when it is not one).
///
/// # Errors
/// Only terminal failures.
pub fn main(out: &mut dyn Write) -> anyhow::Result<u8> {
    let mut repl = Repl {
        runner: None,
        plain: !std::io::stdin().is_terminal(),
        lines: term::LineReader::default(),
        last_pass: None,
    };
    writeln!(
        out,
        "{}",
        term::title("fromscratch — build a container from nothing, one syscall at a time")
    )?;
    writeln!(
        out,
        "Type `list` for the lessons, `start 1` to begin, `help` for every command."
    )?;
    if repl.plain {
        repl.plain(out)
    } else {
        repl.interactive(out)
    }
}

impl Repl {
    fn prompt(&self) -> String {
        match &self.runner {
            Some(r) => format!(
                "[{} {}/{}] > ",
                r.lesson.def.id,
                (r.next + 1).min(r.len()),
                r.len()
            ),
            None => "fromscratch> ".to_string(),
        }
    }

    fn interactive(&mut self, out: &mut dyn Write) -> anyhow::Result<u8> {
        let mut ed: Editor<Completion, rustyline::history::DefaultHistory> = Editor::new()?;
        ed.set_helper(Some(Completion));
        // The history sits beside the progress file and, under sudo, belongs to the same
        // user: read and written with their filesystem identity.
        let history = crate::progress::location().ok();
        if let Some(h) = &history {
            crate::progress::as_owner(h.owner, || {
                let _ = ed.load_history(&h.dir().join("history"));
            });
        }
        let mut ctrl_c = false;
        loop {
            crate::lab::signals::at_prompt(true);
            let read = ed.readline(&self.prompt());
            crate::lab::signals::at_prompt(false);
            if let Some(sig) = crate::lab::signals::last_signal()
                && sig != nix::sys::signal::Signal::SIGINT
            {
                // SIGTERM or SIGHUP while waiting: tear down, then leave as the signal says.
                return self.terminate(out);
            }
            match read {
                Ok(line) => {
                    ctrl_c = false;
                    // rustyline drew the prompt and the line; a recording gets them too.
                    let prompt = self.prompt();
                    crate::present::record::sinks_only(|| writeln!(out, "{prompt}{line}"))?;
                    if !line.trim().is_empty() {
                        let _ = ed.add_history_entry(line.as_str());
                    }
                    match self.dispatch(&line, out)? {
                        Flow::Quit => break,
                        Flow::Exit(code) => return Ok(code),
                        Flow::Continue => {}
                    }
                    // SIGTERM or SIGHUP while a command asked a question: leave now.
                    if crate::lab::signals::last_signal()
                        .is_some_and(|s| s != nix::sys::signal::Signal::SIGINT)
                    {
                        return self.terminate(out);
                    }
                }
                Err(ReadlineError::Interrupted) => {
                    if ctrl_c {
                        break;
                    }
                    ctrl_c = true;
                    writeln!(
                        out,
                        "{}",
                        term::dim("(Ctrl-C again, Ctrl-D or `quit` to leave)")
                    )?;
                }
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(h) = &history {
            crate::progress::as_owner(h.owner, || {
                if crate::progress::ensure_dir(h.dir(), h.owner).is_ok() {
                    let _ = ed.save_history(&h.dir().join("history"));
                }
            });
        }
        self.runner = None;
        Ok(0)
    }

    fn plain(&mut self, out: &mut dyn Write) -> anyhow::Result<u8> {
        let mut code = 0;
        loop {
            let line = match self.lines.next_line() {
                term::Input::Line(l) => l,
                term::Input::Eof => break,
                term::Input::Interrupted => {
                    // Tear the lesson down before leaving, then exit as the signal says.
                    self.runner = None;
                    writeln!(
                        out,
                        "\n{}",
                        term::bad(
                            "interrupted: everything the lab started was stopped and removed"
                        )
                    )?;
                    return Ok(crate::lab::signals::exit_status());
                }
            };
            write!(out, "{}", self.prompt())?;
            writeln!(out, "{line}")?;
            match self.dispatch(&line, out) {
                Ok(Flow::Quit) => break,
                Ok(Flow::Exit(c)) => return Ok(c),
                Ok(Flow::Continue) => {}
                Err(e) => {
                    code = e
                        .downcast_ref::<crate::commands::Failure>()
                        .map_or(1, |f| f.code);
                    writeln!(out, "{}", term::bad(&e.to_string()))?;
                }
            }
        }
        self.runner = None;
        Ok(code)
    }

    fn dispatch(&mut self, line: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
        let line = line.trim();
        let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let word = if word.is_empty() { "next" } else { word };
        let Some(cmd) = COMMANDS
            .iter()
            .find(|c| c.name == word || c.aliases.contains(&word))
        else {
            writeln!(out, "unknown command `{word}`: type `help` for the list")?;
            return Ok(Flow::Continue);
        };
        crate::lab::signals::clear();
        (cmd.handler)(self, rest.trim(), out)
    }

    /// Ask a yes-or-no question on the next line of input (the line editor's, or the next
    /// plain line): only `y` or `yes` is yes; end of input or Ctrl-C is no.
    fn confirm(&mut self, question: &str, out: &mut dyn Write) -> anyhow::Result<bool> {
        // A long question is wrapped to the terminal; its last line carries `[y/N]`.
        let wrapped = term::hang(&format!("{question} [y/N]"), 0, 0);
        let mut lines: Vec<&str> = wrapped.lines().collect();
        let last = lines.pop().unwrap_or_default().to_string();
        for l in lines {
            writeln!(out, "{l}")?;
        }
        let prompt = format!("{last} ");
        let answer = if self.plain {
            write!(out, "{prompt}")?;
            out.flush()?;
            match self.lines.next_line() {
                term::Input::Line(l) => {
                    writeln!(out, "{l}")?;
                    l
                }
                term::Input::Eof | term::Input::Interrupted => {
                    writeln!(out)?;
                    String::new()
                }
            }
        } else {
            out.flush()?;
            let mut ed = rustyline::DefaultEditor::new()?;
            crate::lab::signals::at_prompt(true);
            let read = ed.readline(&prompt);
            crate::lab::signals::at_prompt(false);
            let line = read.unwrap_or_default();
            // The editor drew prompt and answer on the terminal; a recording gets them too.
            crate::present::record::sinks_only(|| writeln!(out, "{prompt}{line}"))?;
            line
        };
        Ok(matches!(
            answer.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }

    fn runner(&mut self, out: &mut dyn Write) -> anyhow::Result<Option<&mut Runner>> {
        if self.runner.is_none() {
            writeln!(
                out,
                "no lesson open: `start 1` opens the first one, `list` shows them all"
            )?;
        }
        Ok(self.runner.as_mut())
    }

    /// SIGTERM or SIGHUP: tear the lesson down, say so, and return the exit status
    /// (128 + the signal).
    fn terminate(&mut self, out: &mut dyn Write) -> anyhow::Result<u8> {
        self.runner = None;
        writeln!(
            out,
            "\n{}",
            term::bad("terminated: everything the lab started was stopped and removed")
        )?;
        Ok(crate::lab::signals::exit_status())
    }

    /// Report a step error; after Ctrl-C, rebuild the lab so nothing half-made remains.
    /// SIGTERM or SIGHUP mid-step ends the REPL (after the teardown) with 128+signal.
    fn step_failed(&mut self, e: &RunError, out: &mut dyn Write) -> anyhow::Result<Flow> {
        if e.is_interrupted()
            && crate::lab::signals::last_signal()
                .is_some_and(|s| s != nix::sys::signal::Signal::SIGINT)
        {
            return Ok(Flow::Exit(self.terminate(out)?));
        }
        if e.is_interrupted() {
            writeln!(
                out,
                "\n{}",
                term::bad(
                    "step interrupted: everything it started was stopped; the lesson is back at step 1"
                )
            )?;
            crate::lab::signals::clear();
            if let Some(r) = self.runner.as_mut() {
                r.reset()?;
            }
        } else {
            writeln!(out, "{}", term::bad(&e.to_string()))?;
        }
        Ok(Flow::Continue)
    }
}

fn cmd_help(_: &mut Repl, _: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    for c in COMMANDS {
        let aliases = if c.aliases.is_empty() {
            String::new()
        } else {
            format!(" ({})", c.aliases.join(", "))
        };
        write!(
            out,
            "  {:<24} {}",
            c.usage,
            term::hang(&format!("{}{aliases}", c.help), 27, 27)
        )?;
    }
    Ok(Flow::Continue)
}

fn cmd_list(_: &mut Repl, _: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    crate::commands::list(out)?;
    Ok(Flow::Continue)
}

fn cmd_start(repl: &mut Repl, arg: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    if arg.is_empty() {
        writeln!(
            out,
            "usage: start LESSON [RECIPE] (for example `start 1`, `start 02-chroot` or `start 1 busybox`)"
        )?;
        return Ok(Flow::Continue);
    }
    // `start 1 debian`: the lesson, and optionally the rootfs recipe to use.
    let (arg, recipe) = match arg.split_once(char::is_whitespace) {
        Some((l, r)) => (l, Some(r.trim())),
        None => (arg, None),
    };
    let l = match lesson::find(arg) {
        Ok(l) => l,
        Err(e) => {
            writeln!(out, "{}", term::bad(&e.to_string()))?;
            return Ok(Flow::Continue);
        }
    };
    repl.runner = None; // tear down the previous lesson first
    repl.last_pass = None;
    match Runner::new(l, recipe) {
        Ok(mut r) => {
            r.auto_solve = false;
            if let Err(e) = r.prepare(0, out) {
                writeln!(out, "{}", term::bad(&e.to_string()))?;
                return Ok(Flow::Continue);
            }
            writeln!(
                out,
                "\n{}",
                term::title(&format!("{} — {}", r.lesson.def.id, r.lesson.def.title))
            )?;
            write!(out, "{}", term::wrap(&r.lesson.def.summary, 2))?;
            for o in &r.lesson.def.objectives {
                write!(out, "{}", term::wrap(&format!("• {o}"), 2))?;
            }
            // Resume where the learner left off: the first step not yet done.
            let (resume, finished) = match Progress::load() {
                Ok(p) => (
                    p.first_unfinished(&r.lesson.def),
                    p.is_finished(&r.lesson.def),
                ),
                Err(e) => {
                    r.progress.warn(&e, out);
                    (0, false)
                }
            };
            let r = repl.runner.insert(r);
            if finished {
                writeln!(
                    out,
                    "\n{}",
                    term::dim("you finished this lesson before: starting again at step 1")
                )?;
            }
            if resume > 0 {
                if let Err(e) = replay(r, resume) {
                    if e.is_interrupted() {
                        return repl.step_failed(&e, out);
                    }
                    writeln!(out, "{}", term::bad(&e.to_string()))?;
                    r.reset()?;
                    writeln!(
                        out,
                        "could not rebuild the lab up to step {}: starting at step 1",
                        resume + 1
                    )?;
                } else {
                    let replayed = if resume == 1 {
                        "step 1 replayed".to_string()
                    } else {
                        format!("steps 1-{resume} replayed")
                    };
                    writeln!(
                        out,
                        "\n{}",
                        term::dim(&format!(
                            "resuming at step {} of {}: {replayed} to rebuild the lab; `reset` starts again at step 1",
                            resume + 1,
                            r.len()
                        ))
                    )?;
                }
            }
            r.show_intro(r.next, out)?;
            writeln!(
                out,
                "{}",
                term::dim("[Enter] runs this step · `help` for more")
            )?;
        }
        // A script (stdin not a terminal) must end non-zero when its lesson cannot
        // start; at a terminal the learner reads the sentence and goes on.
        Err(e) if repl.plain => return Err(crate::commands::Failure::from(&e).into()),
        Err(e) => writeln!(out, "{}", term::bad(&e.to_string()))?,
    }
    Ok(Flow::Continue)
}

/// Rebuild the lab as it stood before step `target` (0-based): reset, then run the steps
/// before it again, quietly. Steps change the world (containers, decoys), so there is no
/// other way back to that state. The replays are not recorded again: they already were.
fn replay(r: &mut Runner, target: usize) -> Result<(), RunError> {
    r.reset()?;
    r.progress.set_recording(false);
    // Replayed challenges are solved by the lab: later steps may need their state.
    r.auto_solve = true;
    let mut sink = std::io::sink();
    let replayed = (0..target).try_for_each(|i| r.run_step(i, &mut sink).map(drop));
    r.auto_solve = false;
    r.progress.set_recording(true);
    replayed
}

fn cmd_next(repl: &mut Repl, _: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    let Some(r) = repl.runner(out)? else {
        return Ok(Flow::Continue);
    };
    if r.next >= r.len() {
        writeln!(
            out,
            "the lesson is done: `list` for the next one, `reset` to go again"
        )?;
        return Ok(Flow::Continue);
    }
    if let Some(idx) = r.open_challenge {
        writeln!(
            out,
            "step {} is a challenge waiting for you: `shell` to do it, `check`, `hint`, `solution` or `skip`",
            idx + 1
        )?;
        return Ok(Flow::Continue);
    }
    let idx = r.next;
    match r.run_step(idx, out) {
        Ok(_) if r.open_challenge.is_some() => {}
        Ok(_) => {
            if r.next < r.len() {
                r.show_intro(r.next, out)?;
            } else {
                writeln!(out, "\n{}", term::ok(&format!("{} done", r.lesson.def.id)))?;
            }
        }
        Err(e) => return repl.step_failed(&e, out),
    }
    Ok(Flow::Continue)
}

fn cmd_back(repl: &mut Repl, _: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    let Some(r) = repl.runner(out)? else {
        return Ok(Flow::Continue);
    };
    if r.next == 0 {
        writeln!(out, "already at step 1")?;
        return Ok(Flow::Continue);
    }
    let target = r.next.saturating_sub(1);
    if let Err(e) = replay(r, target) {
        writeln!(out, "{}", term::bad(&e.to_string()))?;
        return Ok(Flow::Continue);
    }
    r.show_intro(target, out)?;
    Ok(Flow::Continue)
}

fn cmd_run(repl: &mut Repl, _: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    let Some(r) = repl.runner(out)? else {
        return Ok(Flow::Continue);
    };
    match r.run_all(out) {
        Ok(_) if r.open_challenge.is_some() => {}
        Ok(all) => {
            let msg = format!(
                "{}: {}",
                r.lesson.def.id,
                if all {
                    "every check held"
                } else {
                    "some checks failed (see above)"
                }
            );
            writeln!(
                out,
                "\n{}",
                if all { term::ok(&msg) } else { term::bad(&msg) }
            )?;
        }
        Err(e) => return repl.step_failed(&e, out),
    }
    Ok(Flow::Continue)
}

/// The step `why`, `hint` and `trace` talk about: the last one run, else the current one.
fn last_step(r: &Runner) -> usize {
    r.next.saturating_sub(1).min(r.len().saturating_sub(1))
}

fn cmd_why(repl: &mut Repl, _: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    let Some(r) = repl.runner(out)? else {
        return Ok(Flow::Continue);
    };
    let step = &r.lesson.def.steps[last_step(r)];
    match &step.why {
        Some(w) => {
            write!(out, "{}", term::wrap(&r.expand(w), 2))?;
            if !step.man.is_empty() {
                writeln!(out, "  {} {}", term::dim("see:"), step.man.join(", "))?;
            }
        }
        None => writeln!(out, "this step has no deeper note")?,
    }
    Ok(Flow::Continue)
}

fn cmd_hint(repl: &mut Repl, _: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    let Some(r) = repl.runner(out)? else {
        return Ok(Flow::Continue);
    };
    let idx = r.next.min(r.len() - 1);
    if let Some(ch) = r.challenge(idx).cloned() {
        if r.hints_shown >= ch.hints.len() {
            writeln!(
                out,
                "no more hints ({} shown): `solution` shows the reference solution",
                ch.hints.len()
            )?;
        } else {
            let h = r.expand(&ch.hints[r.hints_shown]);
            r.hints_shown += 1;
            write!(
                out,
                "{}",
                term::wrap(
                    &format!("hint {} of {}: {h}", r.hints_shown, ch.hints.len()),
                    2
                )
            )?;
        }
        return Ok(Flow::Continue);
    }
    match &r.lesson.def.steps[idx].hint {
        Some(h) => write!(out, "{}", term::wrap(&r.expand(h), 2))?,
        None => writeln!(out, "no hint for this step")?,
    }
    Ok(Flow::Continue)
}

/// The open challenge's step, or a sentence saying there is none.
fn open_challenge(repl: &mut Repl, out: &mut dyn Write) -> anyhow::Result<Option<usize>> {
    let last_pass = repl.last_pass;
    let Some(r) = repl.runner(out)? else {
        return Ok(None);
    };
    if let Some(i) = r.open_challenge {
        return Ok(Some(i));
    }
    // Right after a pass, the step is past the challenge: say so, and what comes next.
    let just_passed = last_pass.filter(|p| {
        p.idx + 1 == r.next
            && r.reports
                .get(p.idx)
                .and_then(Option::as_ref)
                .is_some_and(|rep| rep.passed)
    });
    if let Some(p) = just_passed {
        let done = if p.by_lab {
            format!(
                "the challenge of step {} is done: the lab typed the reference solution (`skip`), which does not count as your pass",
                p.idx + 1
            )
        } else if p.solution_seen {
            format!(
                "you passed the challenge of step {}, after seeing the solution",
                p.idx + 1
            )
        } else {
            format!(
                "you passed the challenge of step {} without seeing the solution",
                p.idx + 1
            )
        };
        let next = if r.next < r.len() {
            format!(
                "press Enter for step {}, {}",
                r.next + 1,
                r.lesson.def.steps[r.next].title
            )
        } else {
            "the lesson is done: `list` for the next one, `reset` to do it again".to_string()
        };
        write!(out, "{}", term::hang(&format!("{done}; {next}"), 0, 2))?;
        return Ok(None);
    }
    let what = if r.next < r.len() && r.challenge(r.next).is_some() {
        "press Enter to set up the challenge first (or `shell`, which sets it up and opens its shell)"
    } else {
        "this step is not a challenge"
    };
    writeln!(out, "no challenge is open: {what}")?;
    Ok(None)
}

/// Close the open challenge with `attempt`; when it passed, remember it (for `check`
/// typed next) and show the next step.
fn after_attempt(
    r: &mut Runner,
    last_pass: &mut Option<Pass>,
    idx: usize,
    attempt: &crate::lab::challenge::Attempt,
    by_lab: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let solution_seen = r.solution_seen;
    if r.finish_challenge(idx, attempt, by_lab, out)? {
        *last_pass = Some(Pass {
            idx,
            by_lab,
            solution_seen,
        });
        if r.next < r.len() {
            r.show_intro(r.next, out)?;
        } else {
            writeln!(out, "\n{}", term::ok(&format!("{} done", r.lesson.def.id)))?;
        }
    }
    Ok(())
}

fn cmd_check(repl: &mut Repl, _: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    let Some(idx) = open_challenge(repl, out)? else {
        return Ok(Flow::Continue);
    };
    let Some(r) = repl.runner.as_mut() else {
        return Ok(Flow::Continue);
    };
    match r.look(idx, None) {
        Ok(a) => after_attempt(r, &mut repl.last_pass, idx, &a, false, out)?,
        Err(e) => return repl.step_failed(&e, out),
    }
    Ok(Flow::Continue)
}

fn cmd_solution(repl: &mut Repl, _: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    let Some(idx) = open_challenge(repl, out)? else {
        return Ok(Flow::Continue);
    };
    if !repl.confirm(
        "Show the reference solution? You can still pass the challenge, but your progress will say you saw it.",
        out,
    )? {
        writeln!(out, "not shown")?;
        return Ok(Flow::Continue);
    }
    let Some(r) = repl.runner.as_mut() else {
        return Ok(Flow::Continue);
    };
    r.solution_seen = true;
    if let Some(ch) = r.challenge(idx).cloned() {
        writeln!(
            out,
            "  {}",
            term::dim(
                "type these in `shell`, one line at a time (a line may start a shell or a program that reads the next ones):"
            )
        )?;
        for l in &ch.solution {
            writeln!(out, "    {}", term::typed(&r.expand(l)))?;
        }
    }
    Ok(Flow::Continue)
}

fn cmd_skip(repl: &mut Repl, _: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    let Some(idx) = open_challenge(repl, out)? else {
        return Ok(Flow::Continue);
    };
    let Some(r) = repl.runner.as_mut() else {
        return Ok(Flow::Continue);
    };
    writeln!(
        out,
        "{}",
        term::heading("the lab types the reference solution")
    )?;
    r.solution_seen = true;
    match r.type_solution(idx, out) {
        Ok(a) => after_attempt(r, &mut repl.last_pass, idx, &a, true, out)?,
        Err(e) => return repl.step_failed(&e, out),
    }
    Ok(Flow::Continue)
}

fn cmd_trace(repl: &mut Repl, _: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    let Some(r) = repl.runner(out)? else {
        return Ok(Flow::Continue);
    };
    match r.reports.get(last_step(r)).and_then(Option::as_ref) {
        Some(rep) if !rep.trace.is_empty() => {
            for l in &rep.trace {
                writeln!(out, "  {l}")?;
            }
        }
        Some(_) => writeln!(out, "the last step made no container syscalls")?,
        None => writeln!(out, "no step has run yet: press Enter to run one")?,
    }
    Ok(Flow::Continue)
}

fn cmd_inspect(repl: &mut Repl, arg: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    let arg = arg.trim();
    let container = repl
        .runner
        .as_ref()
        .and_then(|r| r.lab.container(arg))
        .map(|c| c.pid1.as_raw());
    let Some(pid) = container.or_else(|| arg.parse().ok().filter(|p: &i32| *p > 0)) else {
        let names = repl
            .runner
            .as_ref()
            .map(|r| r.lab.container_names())
            .unwrap_or_default();
        let which = if names.is_empty() {
            "this lesson has no container running now".to_string()
        } else {
            format!("this lesson's containers: {}", names.join(", "))
        };
        writeln!(
            out,
            "{}",
            term::bad(&format!("usage: inspect NAME|PID ({which})"))
        )?;
        return Ok(Flow::Continue);
    };
    match crate::inspect::inspect(pid) {
        Ok(r) => crate::inspect::render::write_report(&r, out)?,
        Err(e) => writeln!(out, "{}", term::bad(&e.to_string()))?,
    }
    Ok(Flow::Continue)
}

fn cmd_shell(repl: &mut Repl, _: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    if repl.plain {
        // The lines after `shell` are the script's, already read by the REPL: a shell
        // here would get none of them.
        writeln!(
            out,
            "{}",
            term::bad(
                "`shell` needs a terminal, and stdin is not one: run fromscratch in a terminal (or use `skip` in a script)"
            )
        )?;
        return Ok(Flow::Continue);
    }
    if repl.runner.is_none() {
        // No lesson: a shell on the host, in private mount and UTS namespaces.
        return shell_in(None, &Context::Host, out);
    }
    let Some(r) = repl.runner.as_mut() else {
        return Ok(Flow::Continue);
    };
    // At a challenge step not set up yet (its goal is on screen): what the learner wants
    // is the challenge's shell, so set the challenge up first, as Enter does.
    if r.open_challenge.is_none() && r.next < r.len() && r.challenge(r.next).is_some() {
        writeln!(
            out,
            "{}",
            term::dim(&format!(
                "step {} is a challenge: setting it up first (as Enter does), then its shell opens",
                r.next + 1
            ))
        )?;
        let idx = r.next;
        if let Err(e) = r.run_step(idx, out) {
            return repl.step_failed(&e, out);
        }
    }
    let Some(r) = repl.runner.as_mut() else {
        return Ok(Flow::Continue);
    };
    if let Some(idx) = r.open_challenge {
        let ctx = match r.challenge_context(idx) {
            Ok(c) => c,
            Err(e) => {
                writeln!(out, "{}", term::bad(&e.to_string()))?;
                return Ok(Flow::Continue);
            }
        };
        writeln!(
            out,
            "{}",
            term::dim(&format!(
                "opening a shell {}; reach the goal, then `exit` (Ctrl-C goes to the shell)",
                place(&r.shell_label(&ctx))
            ))
        )?;
        out.flush()?;
        return match r.play_challenge(idx, out) {
            Ok(a) => {
                after_attempt(r, &mut repl.last_pass, idx, &a, false, out)?;
                Ok(Flow::Continue)
            }
            Err(e) => repl.step_failed(&e, out),
        };
    }
    let ctx = r.shell_context();
    shell_in(Some(r), &ctx, out)
}

/// Where a shell with prompt label `label` opens, in words: "on the host", "chrooted
/// into the rootfs", "in container c".
fn place(label: &str) -> String {
    match label {
        "host" => "on the host".into(),
        "chroot" => "chrooted into the rootfs".into(),
        l => match l.split_once(':') {
            Some((_, name)) => format!("in container `{name}`"),
            None => format!("in {l}"),
        },
    }
}

/// An interactive shell in `ctx` on the terminal, until it exits.
fn shell_in(r: Option<&mut Runner>, ctx: &Context, out: &mut dyn Write) -> anyhow::Result<Flow> {
    let label = r
        .as_ref()
        .map_or_else(|| "host".to_string(), |r| r.shell_label(ctx));
    // In the rootfs, the shell runs on an overlay of it: the cache every lesson shares
    // is never written (see `open_scratch_shell`).
    let scratch = if matches!(ctx, Context::Chroot(_)) {
        " (on an overlay of it: your writes go to a scratch layer and vanish when you exit)"
    } else {
        ""
    };
    writeln!(
        out,
        "{}",
        term::dim(&format!(
            "opening a shell {}{scratch}; `exit` returns to the lab",
            place(&label)
        ))
    )?;
    out.flush()?;
    let opened = match r {
        Some(r) => r.open_scratch_shell(ctx, Stdio::Inherit),
        None => crate::lab::challenge::open_shell(
            ctx,
            &label,
            &crate::lab::challenge::loose_mark(),
            Stdio::Inherit,
            None,
            None,
        ),
    };
    let _tty = term::TtyGuard::save();
    match opened {
        Ok((session, _)) => {
            let _ = spawn::wait_exit(session.shell);
            spawn::reclaim_terminal();
            crate::lab::signals::clear();
        }
        Err(e) => writeln!(out, "{}", term::bad(&e.to_string()))?,
    }
    Ok(Flow::Continue)
}

fn cmd_status(repl: &mut Repl, _: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    let Some(r) = repl.runner.as_ref() else {
        writeln!(
            out,
            "no lesson open: `start LESSON` opens one where you left it. Your progress:"
        )?;
        crate::commands::list(out)?;
        return Ok(Flow::Continue);
    };
    writeln!(out, "{} — {}", r.lesson.def.id, r.lesson.def.title)?;
    for (i, s) in r.lesson.def.steps.iter().enumerate() {
        let mark = match &r.reports[i] {
            Some(rep) if rep.passed => term::ok(""),
            Some(_) => term::bad(""),
            None if i == r.next => "→".to_string(),
            None => " ".to_string(),
        };
        writeln!(out, "  {mark} {}. {}", i + 1, s.title)?;
    }
    if let Some(root) = &r.lab.rootfs {
        writeln!(out, "  rootfs: {}", root.display())?;
    }
    for c in r.lab.container_names() {
        if let Some(l) = r.lab.container(&c) {
            writeln!(out, "  container {c}: {}", l.describe())?;
        }
    }
    match Progress::load() {
        Ok(p) => writeln!(out, "  progress: {}", p.summary(&r.lesson.def).line())?,
        Err(e) => writeln!(out, "  {}", crate::progress::warning(&e))?,
    }
    Ok(Flow::Continue)
}

fn cmd_reset(repl: &mut Repl, arg: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    let (word, rest) = arg.split_once(char::is_whitespace).unwrap_or((arg, ""));
    if word == "progress" {
        return reset_progress(repl, rest.trim(), out);
    }
    if !arg.is_empty() {
        writeln!(
            out,
            "usage: `reset` (stop the lesson's processes, back to step 1) or `reset progress [LESSON|all]`"
        )?;
        return Ok(Flow::Continue);
    }
    let Some(r) = repl.runner(out)? else {
        return Ok(Flow::Continue);
    };
    r.reset()?;
    writeln!(
        out,
        "everything the lesson started was stopped; back at step 1"
    )?;
    r.show_intro(0, out)?;
    Ok(Flow::Continue)
}

/// `reset progress [LESSON|all]`: forget recorded progress, after asking. Without an
/// argument, the open lesson's.
fn reset_progress(repl: &mut Repl, arg: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    let mut p = match Progress::load() {
        Ok(p) => p,
        Err(e) => {
            writeln!(out, "{}", term::bad(&e.to_string()))?;
            return Ok(Flow::Continue);
        }
    };
    // `None`: every lesson.
    let target = match arg {
        "all" => None,
        "" => match &repl.runner {
            Some(r) => Some(r.lesson.def.id.clone()),
            None => {
                writeln!(
                    out,
                    "usage: reset progress LESSON|all (no lesson is open to clear)"
                )?;
                return Ok(Flow::Continue);
            }
        },
        name => match lesson::find(name) {
            Ok(l) => Some(l.def.id),
            // A lesson whose file is gone can still be forgotten by its exact id.
            Err(_) if p.lesson(name).is_some() => Some(name.to_string()),
            Err(e) => {
                writeln!(out, "{}", term::bad(&e.to_string()))?;
                return Ok(Flow::Continue);
            }
        },
    };
    let what = match &target {
        Some(id) => {
            let Some(l) = p.lesson(id) else {
                writeln!(out, "no progress is recorded for {id}: nothing to clear")?;
                return Ok(Flow::Continue);
            };
            let mut counts = format!("{} step(s) run", l.steps.len());
            if !l.challenges.is_empty() {
                counts.push_str(&format!(", {} challenge(s) passed", l.challenges.len()));
            }
            format!("{id} ({counts})")
        }
        None => {
            let n = p.lesson_ids().count();
            if n == 0 {
                writeln!(out, "no progress is recorded: nothing to clear")?;
                return Ok(Flow::Continue);
            }
            format!("every lesson ({n} with progress)")
        }
    };
    if !repl.confirm(&format!("clear the recorded progress of {what}?"), out)? {
        writeln!(out, "kept: nothing was cleared")?;
        return Ok(Flow::Continue);
    }
    match &target {
        Some(id) => {
            p.clear_lesson(id);
        }
        None => p.clear_all(),
    }
    match p.save() {
        Ok(()) => writeln!(out, "cleared the recorded progress of {what}")?,
        Err(e) => writeln!(out, "{}", term::bad(&e.to_string()))?,
    }
    Ok(Flow::Continue)
}

fn cmd_quit(repl: &mut Repl, _: &str, out: &mut dyn Write) -> anyhow::Result<Flow> {
    if let Some(r) = repl.runner.take() {
        let n = r.lab.container_names().len();
        drop(r);
        if n > 0 {
            writeln!(
                out,
                "stopped {n} container(s) and everything else the lesson started"
            )?;
        }
    }
    Ok(Flow::Quit)
}

/// Tab completion of command names and, after `start`, lesson ids.
struct Completion;

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &RlContext<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let head = &line[..pos];
        let pair = |s: String| Pair {
            display: s.clone(),
            replacement: s,
        };
        // `start LESSON`, `reset progress LESSON|all`, and `reset progress`.
        let lesson_ids = || {
            lesson::lesson_files(&crate::paths::lessons_dir())
                .unwrap_or_default()
                .iter()
                .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
                .collect::<Vec<_>>()
        };
        let words = if let Some(arg) = head.strip_prefix("start ") {
            Some((arg, lesson_ids()))
        } else if let Some(arg) = head.strip_prefix("reset ") {
            match arg.trim_start().strip_prefix("progress ") {
                Some(arg) => Some((arg, [lesson_ids(), vec!["all".to_string()]].concat())),
                None => Some((arg, vec!["progress".to_string()])),
            }
        } else {
            None
        };
        if let Some((arg, words)) = words {
            let arg = arg.trim_start();
            let found = words
                .into_iter()
                .filter(|w| w.starts_with(arg))
                .map(pair)
                .collect();
            return Ok((head.len() - arg.len(), found));
        }
        if head.contains(' ') {
            return Ok((pos, Vec::new()));
        }
        let names = COMMANDS
            .iter()
            .map(|c| c.name)
            .filter(|n| n.starts_with(head))
            .map(|n| pair(n.to_string()))
            .collect();
        Ok((0, names))
    }
}

impl Hinter for Completion {
    type Hint = String;
}
impl Highlighter for Completion {}
impl Validator for Completion {}
impl Helper for Completion {}

/// The names the table holds, for tests and docs.
#[must_use]
pub fn command_names() -> Vec<&'static str> {
    COMMANDS.iter().map(|c| c.name).collect()
}
