//! A `Write` adapter that copies the lab's output to other sinks ([`Tee`]), and the
//! asciicast v2 sink ([`Cast`]): <https://docs.asciinema.org/manual/asciicast/v2/>.
//!
//! The terminal always comes first: a sink that fails is reported once, on stderr, and
//! dropped; the run goes on.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// One extra destination of a [`Tee`].
struct Sink<'a> {
    /// What it is, for the error message: `recording to x.cast`.
    what: String,
    w: Box<dyn Write + 'a>,
}

/// Everything written goes to `out`, and each byte `out` took is copied to every sink.
pub struct Tee<'a> {
    out: &'a mut dyn Write,
    sinks: Vec<Sink<'a>>,
}

impl<'a> Tee<'a> {
    /// A tee with no sink yet: writes go to `out` only.
    pub fn new(out: &'a mut dyn Write) -> Self {
        Self {
            out,
            sinks: Vec::new(),
        }
    }

    /// Copy everything from now on to `w` too; `what` names it if it fails.
    pub fn add(&mut self, what: impl Into<String>, w: impl Write + 'a) {
        self.sinks.push(Sink {
            what: what.into(),
            w: Box::new(w),
        });
    }

    /// Flush the sinks (reporting a failure) and let them go.
    pub fn finish(mut self) {
        self.each_sink(|w| w.flush());
        self.sinks.clear();
    }

    /// Do `f` on every sink; a sink it fails on is reported and dropped.
    fn each_sink(&mut self, mut f: impl FnMut(&mut dyn Write) -> io::Result<()>) {
        self.sinks.retain_mut(|s| match f(&mut s.w) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("fromscratch: {} stopped: {e}", s.what);
                false
            }
        });
    }
}

thread_local! {
    static SINKS_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f` with every [`Tee`] writing to its sinks only, not to the terminal: for text
/// the terminal already shows because another program drew it there (rustyline's
/// prompt and the line typed), so a recording holds it too.
pub fn sinks_only<R>(f: impl FnOnce() -> R) -> R {
    SINKS_ONLY.with(|c| c.set(true));
    let r = f();
    SINKS_ONLY.with(|c| c.set(false));
    r
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if SINKS_ONLY.with(std::cell::Cell::get) {
            self.each_sink(|w| w.write_all(buf));
            return Ok(buf.len());
        }
        let n = self.out.write(buf)?;
        if n > 0 {
            self.each_sink(|w| w.write_all(&buf[..n]));
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.each_sink(|w| w.flush());
        Ok(())
    }
}

/// An asciicast v2 file being written: the header line, then one `[time, "o", text]`
/// event per write, with `\n` as the terminal shows it, `\r\n`.
pub struct Cast {
    file: BufWriter<File>,
    start: Instant,
    /// The bytes of a UTF-8 character split between two writes.
    partial: Vec<u8>,
    /// The last text recorded ended with `\r` (so a `\n` starting the next is not doubled).
    after_cr: bool,
}

impl Cast {
    /// Create `path` and write the header: the terminal's size (80x24 when unknown),
    /// the time, `TERM` and `SHELL`, and `title`.
    ///
    /// # Errors
    /// The file cannot be created or written.
    pub fn create(path: &Path, title: &str) -> io::Result<Self> {
        let mut file = BufWriter::new(File::create(path)?);
        let (width, height) = terminal_size();
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut env = serde_json::Map::new();
        for var in ["TERM", "SHELL"] {
            if let Ok(v) = std::env::var(var) {
                env.insert(var.into(), v.into());
            }
        }
        let header = serde_json::json!({
            "version": 2,
            "width": width,
            "height": height,
            "timestamp": timestamp,
            "env": env,
            "title": title,
        });
        serde_json::to_writer(&mut file, &header)?;
        file.write_all(b"\n")?;
        file.flush()?;
        Ok(Self {
            file,
            start: Instant::now(),
            partial: Vec::new(),
            after_cr: false,
        })
    }

    /// The complete characters among the bytes received so far (an invalid sequence
    /// becomes U+FFFD); an incomplete one at the end waits for the next write.
    fn take_text(&mut self) -> String {
        let mut text = String::new();
        loop {
            match std::str::from_utf8(&self.partial) {
                Ok(s) => {
                    text.push_str(s);
                    self.partial.clear();
                    return text;
                }
                Err(e) => {
                    let good = e.valid_up_to();
                    text.push_str(&String::from_utf8_lossy(&self.partial[..good]));
                    match e.error_len() {
                        Some(bad) => {
                            text.push('\u{FFFD}');
                            self.partial.drain(..good + bad);
                        }
                        None => {
                            self.partial.drain(..good);
                            return text;
                        }
                    }
                }
            }
        }
    }

    /// `\n` as a terminal shows it: `\r\n` (a `\r\n` already there is kept).
    fn crlf(&mut self, text: &str) -> String {
        let mut s = String::with_capacity(text.len() + 8);
        for c in text.chars() {
            if c == '\n' && !self.after_cr {
                s.push('\r');
            }
            s.push(c);
            self.after_cr = c == '\r';
        }
        s
    }

    fn event(&mut self, text: &str) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        let text = self.crlf(text);
        let t = self.start.elapsed().as_secs_f64();
        serde_json::to_writer(&mut self.file, &(t, "o", text))?;
        self.file.write_all(b"\n")
    }
}

impl Write for Cast {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.partial.extend_from_slice(buf);
        let text = self.take_text();
        self.event(&text)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for Cast {
    fn drop(&mut self) {
        // A character cut short at the very end: record what there is.
        if !self.partial.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            let _ = self.event(&rest);
        }
        let _ = self.file.flush();
    }
}

/// The terminal's columns ([`crate::term::width`]) and rows (`LINES`, else the tty on
/// stdout, else 24).
fn terminal_size() -> (usize, u16) {
    let width = crate::term::width();
    if let Some(rows) = std::env::var("LINES")
        .ok()
        .and_then(|l| l.parse::<u16>().ok())
        .filter(|&r| r > 0)
    {
        return (width, rows);
    }
    let rows = crate::term::tty_size().map_or(0, |(_, r)| r);
    (width, if rows > 0 { rows } else { 24 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_json_with_crlf_and_whole_characters() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.cast");
        {
            let mut cast = Cast::create(&path, "t").expect("create");
            let mut sink = Vec::new();
            let mut tee = Tee::new(&mut sink);
            tee.add("test", &mut cast);
            tee.write_all(&"a\n\"é".as_bytes()[..4]).expect("write");
            tee.write_all(&"é\r\n".as_bytes()[1..]).expect("write");
            tee.finish();
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(lines[0]["version"], 2);
        let all: String = lines[1..]
            .iter()
            .map(|e| e[2].as_str().expect("text").to_string())
            .collect();
        assert_eq!(all, "a\r\n\"é\r\n");
    }

    /// Fails every write after the first.
    struct Flaky(usize);
    impl Write for Flaky {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += 1;
            if self.0 > 1 {
                return Err(io::Error::other("disk full"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_sink_is_dropped_and_the_output_goes_on() {
        let mut out = Vec::new();
        let mut tee = Tee::new(&mut out);
        tee.add("flaky", Flaky(0));
        for _ in 0..3 {
            tee.write_all(b"x").expect("the terminal still gets it");
        }
        assert!(tee.sinks.is_empty());
        tee.finish();
        assert_eq!(out, b"xxx");
    }
}
