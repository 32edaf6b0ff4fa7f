//! Colours, widths and the one place output style is decided.
//!
//! Colour is on only when stdout is a terminal, `NO_COLOR` is unset or empty and
//! `--no-color` was not given (https://no-color.org); the same decision is given to the
//! progress bars (indicatif draws through `console`). Progress bars are drawn only when
//! both stdout and stderr are terminals. Prose is wrapped to the terminal's width,
//! counted in display columns. Everything is written to a `Write`, so tests can capture
//! it.

use std::io::IsTerminal;

use colored::Colorize;
use unicode_width::UnicodeWidthStr;

/// Decide once, at start-up, whether to colour: off with `--no-color` (`no_color_flag`),
/// with `NO_COLOR` set to a non-empty value, or when stdout is not a terminal.
pub fn init(no_color_flag: bool) {
    let on = !no_color_flag && !no_color_env() && std::io::stdout().is_terminal();
    colored::control::set_override(on);
    // indicatif styles its templates through `console`, which decides on its own (it
    // knows nothing of --no-color, and takes an empty NO_COLOR as set): give it ours,
    // for stdout and for stderr, where the bars go.
    console::set_colors_enabled(on);
    console::set_colors_enabled_stderr(on && std::io::stderr().is_terminal());
}

/// True when `NO_COLOR` is set to a non-empty value (an empty one counts as unset, as
/// https://no-color.org says).
fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// True when a progress bar may be drawn: stdout and stderr are both terminals. The bars
/// go to stderr; a stdout that is a file or a pipe means a script or a log is reading,
/// and a spinner's carriage returns and erase sequences would only litter it.
#[must_use]
pub fn progress_bars() -> bool {
    std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

/// The tty size on stdout as (columns, rows), or `None` when stdout is not a terminal.
#[must_use]
pub fn tty_size() -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize into the struct we pass; fd 1 may not be a tty,
    // in which case the call fails and nothing is read from `ws`.
    #[allow(unsafe_code)]
    let r = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) };
    (r == 0).then_some((ws.ws_col, ws.ws_row))
}

/// Terminal width in columns: the tty's on stdout; else `COLUMNS` (a positive whole
/// number), for output sent to a file or a pipe; else 80.
///
/// The tty wins over `COLUMNS` because it is always current: an exported `COLUMNS` goes
/// stale when the window is resized. A tty that reports 20 columns or fewer (a pty whose
/// size was never set reports 0) counts as unknown.
#[must_use]
pub fn width() -> usize {
    if let Some((cols, _)) = tty_size()
        && cols > 20
    {
        return usize::from(cols);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
        .unwrap_or(80)
}

/// Width of `s` in terminal columns (a CJK character is 2, a combining accent 0), not
/// bytes or chars.
#[must_use]
pub fn display_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Wrap prose to the terminal width ([`width`]), every line indented by `indent` spaces,
/// keeping blank lines as paragraph breaks. Lines are filled greedily up to the width in
/// display columns, indent included; the text column is kept between 30 and 100 columns
/// wide (narrower is unreadable, wider is hard to follow). A word longer than the line is
/// left whole on a line of its own.
#[must_use]
pub fn wrap(text: &str, indent: usize) -> String {
    wrap_to(text, indent, width())
}

/// [`wrap`] to a given terminal width in columns.
#[must_use]
pub fn wrap_to(text: &str, indent: usize, width: usize) -> String {
    fill(text, indent, width, None)
}

/// Wrap `text` to the terminal width as the rest of a line whose first `first` columns
/// are already written: the first line gets no indent, the next ones `indent` spaces (a
/// hanging indent, for a table's last column).
#[must_use]
pub fn hang(text: &str, first: usize, indent: usize) -> String {
    fill(text, indent, width(), Some(first))
}

/// [`hang`], with `paint` (a colour: [`dim`], [`bad`]…) applied to each line's text but
/// not to its indent, so colour codes never count towards the width. The first line
/// starts `first` spaces in; the next ones `indent` spaces in. Ends with a newline.
#[must_use]
pub fn hang_painted(text: &str, first: usize, indent: usize, paint: fn(&str) -> String) -> String {
    let mut out = String::new();
    for (i, line) in hang(text, first, indent).lines().enumerate() {
        let pad = if i == 0 { first } else { indent };
        out.push_str(&" ".repeat(pad));
        out.push_str(&paint(line.trim_start()));
        out.push('\n');
    }
    out
}

/// Greedy fill; `hanging_from`: the column the first line starts at, unpadded.
fn fill(text: &str, indent: usize, width: usize, hanging_from: Option<usize>) -> String {
    let room = |start: usize| width.saturating_sub(start).clamp(30, 100);
    let pad = " ".repeat(indent);
    let mut out = String::new();
    let mut first = hanging_from;
    let mut line = String::new();
    let mut line_w = 0;
    let mut end_line = |out: &mut String, line: &mut String, line_w: &mut usize| {
        if first.take().is_none() {
            out.push_str(&pad);
        }
        out.push_str(line);
        out.push('\n');
        line.clear();
        *line_w = 0;
    };
    for para in text.trim().split("\n\n") {
        for word in para.split_whitespace() {
            let word_w = display_width(word);
            let max = room(hanging_from.filter(|_| out.is_empty()).unwrap_or(indent));
            if !line.is_empty() && line_w + 1 + word_w > max {
                end_line(&mut out, &mut line, &mut line_w);
            }
            if !line.is_empty() {
                line.push(' ');
                line_w += 1;
            }
            line.push_str(word);
            line_w += word_w;
        }
        if !line.is_empty() {
            end_line(&mut out, &mut line, &mut line_w);
        }
        out.push('\n');
    }
    out.trim_end_matches('\n').to_string() + "\n"
}

/// A section heading: `── before ──`.
#[must_use]
pub fn heading(s: &str) -> String {
    format!("── {s} ──").bold().to_string()
}

/// A step title line.
#[must_use]
pub fn title(s: &str) -> String {
    s.bold().cyan().to_string()
}

/// A command about to run, shown as typed at a prompt.
#[must_use]
pub fn command(s: &str) -> String {
    format!("$ {s}").yellow().to_string()
}

/// A line typed at a prompt the caller has already drawn.
#[must_use]
pub fn typed(s: &str) -> String {
    s.yellow().to_string()
}

/// Text in the colour of a passed check, without the tick.
#[must_use]
pub fn green(s: &str) -> String {
    s.green().to_string()
}

/// Text in the colour of a failed check, without the cross.
#[must_use]
pub fn red(s: &str) -> String {
    s.red().bold().to_string()
}

/// A passed check.
#[must_use]
pub fn ok(s: &str) -> String {
    format!("✓ {s}").green().to_string()
}

/// A failed check.
#[must_use]
pub fn bad(s: &str) -> String {
    format!("✗ {s}").red().bold().to_string()
}

/// A line only in the after state.
#[must_use]
pub fn added(s: &str) -> String {
    format!("+ {s}").green().to_string()
}

/// A line only in the before state.
#[must_use]
pub fn removed(s: &str) -> String {
    format!("- {s}").red().to_string()
}

/// Less important text.
#[must_use]
pub fn dim(s: &str) -> String {
    s.dimmed().to_string()
}

/// Quote argv the way a shell would need it, for showing commands.
#[must_use]
pub fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads lines from stdin without blocking signals out: a Ctrl-C or SIGTERM while the lab
/// waits for input is seen at once (std's `read_line` retries on EINTR and would sit
/// there until the next line).
#[derive(Default)]
pub struct LineReader {
    pending: Vec<u8>,
    eof: bool,
}

/// What [`LineReader::next_line`] got.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    /// One line, without its newline.
    Line(String),
    /// End of input.
    Eof,
    /// SIGINT, SIGTERM or SIGHUP arrived while waiting.
    Interrupted,
}

impl LineReader {
    /// Wait for the next line of stdin, or a signal.
    pub fn next_line(&mut self) -> Input {
        use std::os::fd::AsFd;
        loop {
            if let Some(i) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=i).collect();
                return Input::Line(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
            }
            if self.eof {
                if self.pending.is_empty() {
                    return Input::Eof;
                }
                let rest = std::mem::take(&mut self.pending);
                return Input::Line(String::from_utf8_lossy(&rest).into_owned());
            }
            if crate::lab::interrupted() {
                return Input::Interrupted;
            }
            let stdin = std::io::stdin();
            let fd = stdin.as_fd();
            let mut pfd = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
            match nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(200u16)) {
                Ok(0) | Err(_) => continue,
                Ok(_) => {}
            }
            let mut buf = [0u8; 4096];
            match nix::unistd::read(fd, &mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                Err(_) => self.eof = true,
            }
        }
    }
}

/// A writer that puts `prefix` at the start of every line it passes on.
pub struct Indent<'a> {
    inner: &'a mut dyn std::io::Write,
    prefix: &'static str,
    at_start: bool,
}

impl<'a> Indent<'a> {
    /// Wrap `inner`.
    pub fn new(inner: &'a mut dyn std::io::Write, prefix: &'static str) -> Self {
        Self {
            inner,
            prefix,
            at_start: true,
        }
    }
}

impl std::io::Write for Indent<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for chunk in buf.split_inclusive(|b| *b == b'\n') {
            if self.at_start {
                self.inner.write_all(self.prefix.as_bytes())?;
            }
            self.inner.write_all(chunk)?;
            self.at_start = chunk.ends_with(b"\n");
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The terminal's settings (termios(3)) when stdin is one, put back when dropped: a
/// shell handed the terminal may leave it `-echo -icanon`.
pub struct TtyGuard(Option<nix::sys::termios::Termios>);

impl TtyGuard {
    /// Save the settings of stdin, if it is a terminal.
    #[must_use]
    pub fn save() -> Self {
        Self(nix::sys::termios::tcgetattr(std::io::stdin()).ok())
    }
}

impl Drop for TtyGuard {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                t,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widths(s: &str) -> Vec<usize> {
        s.lines().map(display_width).collect()
    }

    #[test]
    fn wrap_counts_display_columns_not_bytes_or_chars() {
        // `é` and `—` are 2 and 3 bytes but one column; 容器 is 2 chars but 4 columns.
        let text = "café — 容器 ".repeat(20);
        let out = wrap_to(&text, 2, 40);
        let w = widths(&out);
        assert!(w.iter().all(|&w| w <= 40), "{out}");
        // Greedy: each line is as full as the next word allows (columns, not bytes).
        let lines: Vec<&str> = out.lines().collect();
        for pair in lines.windows(2) {
            let next = pair[1].split_whitespace().next().unwrap();
            assert!(
                display_width(pair[0]) + 1 + display_width(next) > 40,
                "{:?} could have taken {next:?}",
                pair[0]
            );
        }
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>(),
            text.split_whitespace().collect::<Vec<_>>()
        );
    }

    #[test]
    fn wrap_keeps_paragraphs_and_a_long_word_whole() {
        let long = "x".repeat(70);
        let out = wrap_to(&format!("one two\n\n{long} three"), 2, 60);
        assert_eq!(out, format!("  one two\n\n  {long}\n  three\n"));
    }

    #[test]
    fn the_text_column_stays_between_30_and_100() {
        let text = "word ".repeat(100);
        assert!(widths(&wrap_to(&text, 0, 300)).iter().all(|&w| w <= 100));
        assert!(widths(&wrap_to(&text, 0, 300)).iter().any(|&w| w > 95));
        assert!(widths(&wrap_to(&text, 0, 10)).iter().any(|&w| w > 25));
    }

    #[test]
    fn hang_leaves_the_first_line_unpadded() {
        let out = fill(&"abcd ".repeat(12), 10, 40, Some(10));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("abcd"), "{out}");
        assert!(
            lines[1..].iter().all(|l| l.starts_with("          abcd")),
            "{out}"
        );
        assert!(
            lines
                .iter()
                .enumerate()
                .all(|(i, l)| display_width(l) + if i == 0 { 10 } else { 0 } <= 40),
            "{out}"
        );
    }
}
