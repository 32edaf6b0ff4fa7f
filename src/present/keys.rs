//! The presenter's keys: single key presses from a terminal in non-canonical mode
//! (termios(3): no line buffering, no echo), or plain lines when stdin is not a terminal,
//! so a test or a script can drive a presentation (`n`, `b`, `r`, `q`, an empty line for
//! next).
//!
//! The terminal's settings are restored when [`RawMode`] is dropped: on quit, on an
//! error, on Ctrl-C and SIGTERM (which the lab turns into a flag, so the code unwinds
//! normally) and on a panic (the guard drops as the stack unwinds). `ISIG` stays on, so
//! Ctrl-C is still SIGINT; only the suspend key is turned off, since a stopped presenter
//! would leave the terminal in its mode.

use std::io::IsTerminal;
use std::os::fd::AsFd;

use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices, Termios};

use crate::term::{Input, LineReader};

/// What the presenter was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Space, Enter, →, `n`, Page Down: run the step, or go on to the next one.
    Next,
    /// ←, `b`, `p`, Page Up: the step before.
    Back,
    /// `r`: run the step again.
    Rerun,
    /// `q`, Esc, Ctrl-D, or the end of the input.
    Quit,
    /// The terminal changed size: draw the frame again.
    Resize,
    /// Ctrl-C, SIGTERM or SIGHUP arrived.
    Interrupted,
}

/// The terminal in non-canonical, no-echo mode until dropped.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Switch stdin's terminal to single key presses (`None` when stdin is not a terminal
    /// or its settings cannot be read).
    #[must_use]
    pub fn enter() -> Option<Self> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        raw.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::IEXTEN);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        // _POSIX_VDISABLE: no Ctrl-Z, which would stop us with the terminal still raw.
        raw.control_chars[SpecialCharacterIndices::VSUSP as usize] = 0;
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(Self { saved })
    }

    /// Forget keys pressed while a step ran, so an impatient double press does not skip
    /// the output the audience has not seen yet.
    pub fn discard_typeahead(&self) {
        let _ = termios::tcflush(std::io::stdin().as_fd(), termios::FlushArg::TCIFLUSH);
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSADRAIN, &self.saved);
    }
}

/// Where keys come from.
pub enum Keys {
    /// Key presses from a terminal (in [`RawMode`]).
    Terminal {
        /// Bytes read and not yet turned into keys.
        pending: Vec<u8>,
        /// The terminal size last seen, to notice a resize.
        size: Option<(u16, u16)>,
    },
    /// Lines from a pipe or a file.
    Lines(LineReader),
}

impl Keys {
    /// Keys from the terminal when `raw` is on, else plain lines.
    #[must_use]
    pub fn new(raw: bool) -> Self {
        if raw {
            Self::Terminal {
                pending: Vec::new(),
                size: crate::term::tty_size(),
            }
        } else {
            Self::Lines(LineReader::default())
        }
    }

    /// Wait for the next key (or a resize, or a signal).
    pub fn wait(&mut self) -> Key {
        match self {
            Self::Lines(reader) => loop {
                match reader.next_line() {
                    Input::Eof => return Key::Quit,
                    Input::Interrupted => return Key::Interrupted,
                    Input::Line(l) => {
                        if let Some(k) = line_key(l.trim()) {
                            return k;
                        }
                    }
                }
            },
            Self::Terminal { pending, size } => loop {
                if let Some(k) = take_key(pending) {
                    return k;
                }
                if crate::lab::interrupted() {
                    return Key::Interrupted;
                }
                let now = crate::term::tty_size();
                if now != *size {
                    *size = now;
                    return Key::Resize;
                }
                match read_some(200) {
                    Some(bytes) if bytes.is_empty() => return Key::Quit,
                    Some(bytes) => {
                        pending.extend_from_slice(&bytes);
                        // A lone Esc is a key of its own; an arrow is Esc [ C. Wait a
                        // moment for the rest before deciding.
                        if pending.as_slice() == b"\x1b"
                            && let Some(more) = read_some(40)
                        {
                            pending.extend_from_slice(&more);
                        }
                    }
                    None => {}
                }
            },
        }
    }
}

/// Up to 64 bytes from stdin within `ms` milliseconds: `None` when nothing came (or a
/// signal interrupted the wait), an empty vector at end of input.
fn read_some(ms: u16) -> Option<Vec<u8>> {
    let stdin = std::io::stdin();
    let fd = stdin.as_fd();
    let mut pfd = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
    match nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(ms)) {
        Ok(0) | Err(_) => return None,
        Ok(_) => {}
    }
    let mut buf = [0u8; 64];
    match nix::unistd::read(fd, &mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => None,
        Err(_) => Some(Vec::new()),
    }
}

/// The key a line of plain input means, if any: empty or `n` next, `b` back, `r` re-run,
/// `q` quit (and their long forms).
fn line_key(l: &str) -> Option<Key> {
    match l {
        "" | "n" | "next" => Some(Key::Next),
        "b" | "back" => Some(Key::Back),
        "r" | "rerun" | "re-run" => Some(Key::Rerun),
        "q" | "quit" => Some(Key::Quit),
        _ => None,
    }
}

/// Take the first key off `pending`; unknown bytes and sequences are dropped.
fn take_key(pending: &mut Vec<u8>) -> Option<Key> {
    while !pending.is_empty() {
        let (len, key) = match pending.as_slice() {
            [b'\x1b', b'[' | b'O', rest @ ..] => {
                // CSI or SS3: parameters, then a final byte.
                match rest.iter().position(|b| (0x40..=0x7e).contains(b)) {
                    None if rest.len() < 8 => return None, // the rest is on its way
                    None => (pending.len(), None),
                    Some(i) => {
                        let seq = &rest[..=i];
                        let key = match seq {
                            b"C" | b"6~" | b"B" => Some(Key::Next),
                            b"D" | b"5~" | b"A" => Some(Key::Back),
                            _ => None,
                        };
                        (2 + i + 1, key)
                    }
                }
            }
            [b'\x1b'] => (1, Some(Key::Quit)),
            [b'\x1b', ..] => (1, None), // Alt+key: ignored
            [b, ..] => (
                1,
                match b {
                    b' ' | b'\r' | b'\n' | b'n' | b'j' | b'l' => Some(Key::Next),
                    b'b' | b'p' | b'h' | b'k' | 0x7f => Some(Key::Back),
                    b'r' => Some(Key::Rerun),
                    b'q' | b'Q' | 0x04 => Some(Key::Quit),
                    _ => None,
                },
            ),
            [] => unreachable!("pending is not empty"),
        };
        pending.drain(..len);
        if key.is_some() {
            return key;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(bytes: &[u8]) -> Vec<Key> {
        let mut p = bytes.to_vec();
        let mut out = Vec::new();
        while let Some(k) = take_key(&mut p) {
            out.push(k);
        }
        out
    }

    #[test]
    fn bytes_become_keys() {
        assert_eq!(
            keys(b" \rnbrq"),
            [
                Key::Next,
                Key::Next,
                Key::Next,
                Key::Back,
                Key::Rerun,
                Key::Quit
            ]
        );
        assert_eq!(
            keys(b"\x1b[C\x1b[D\x1bOC"),
            [Key::Next, Key::Back, Key::Next]
        );
        assert_eq!(keys(b"\x1b[5~\x1b[6~"), [Key::Back, Key::Next]);
        assert_eq!(keys(b"x\x1b[1;5Hz"), []);
        assert_eq!(keys(b"\x1b"), [Key::Quit]);
    }

    #[test]
    fn an_arrow_cut_in_two_waits_for_its_end() {
        let mut p = b"\x1b[".to_vec();
        assert_eq!(take_key(&mut p), None);
        assert_eq!(p, b"\x1b[");
        p.push(b'D');
        assert_eq!(take_key(&mut p), Some(Key::Back));
        assert!(p.is_empty());
    }

    #[test]
    fn plain_lines_are_keys() {
        assert_eq!(line_key(""), Some(Key::Next));
        assert_eq!(line_key("b"), Some(Key::Back));
        assert_eq!(line_key("r"), Some(Key::Rerun));
        assert_eq!(line_key("q"), Some(Key::Quit));
        assert_eq!(line_key("what"), None);
    }
}
