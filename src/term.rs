//! Colours, widths and the one place output style is decided.
//!
//! Colour is on only when stdout is a terminal, `NO_COLOR` is unset and `--no-color` was
//! not given (https://no-color.org). Everything is written to a `Write`, so tests can
//! capture it.

use std::io::IsTerminal;

use colored::Colorize;

/// Decide once, at start-up, whether to colour.
pub fn init(no_color_flag: bool) {
    let off = no_color_flag
        || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
        || !std::io::stdout().is_terminal();
    colored::control::set_override(!off);
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

/// Terminal width in columns (80 when unknown), from `COLUMNS` or the tty.
#[must_use]
pub fn width() -> usize {
    if let Some(c) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return c;
    }
    match tty_size() {
        Some((cols, _)) if cols > 20 => usize::from(cols),
        _ => 80,
    }
}

/// Wrap prose to the terminal width, keeping blank lines as paragraph breaks.
#[must_use]
pub fn wrap(text: &str, indent: usize) -> String {
    let w = width().saturating_sub(indent).clamp(30, 100);
    let pad = " ".repeat(indent);
    let mut out = String::new();
    for para in text.trim().split("\n\n") {
        let mut line = String::new();
        for word in para.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > w {
                out.push_str(&pad);
                out.push_str(&line);
                out.push('\n');
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(&line);
            out.push('\n');
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
