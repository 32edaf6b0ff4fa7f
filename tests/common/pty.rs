//! Driving the real binary through a pseudo-terminal, as a person at a terminal would:
//! keys in, screen text out. Deadlines only catch a hang; nothing asserts on time.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long any one expected text may take to appear before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(90);

/// Put `cmd` on a new pseudo-terminal of `cols` x `rows`: its stdout and stderr, and
/// with `whole` also its stdin, as the pty's controlling terminal of a new session
/// (setsid(2), TIOCSCTTY), so Ctrl-C typed on it is SIGINT to the program, as on a real
/// terminal. Returns the master, close-on-exec: no child inherits it, so the master
/// reads EIO once the program exits, and the program sees a hang-up when the test drops
/// the master (a failed test never leaves it waiting for keys).
pub fn attach(cmd: &mut Command, cols: u16, rows: u16, whole: bool) -> File {
    let ws = nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&ws), None).expect("openpty");
    nix::fcntl::fcntl(
        &pty.master,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .expect("close-on-exec");
    let slave: OwnedFd = pty.slave;
    let fd = |f: &OwnedFd| Stdio::from(f.try_clone().expect("dup pty"));
    cmd.stdout(fd(&slave)).stderr(fd(&slave));
    if whole {
        cmd.stdin(fd(&slave));
        // SAFETY: between fork and exec only async-signal-safe calls: setsid(2) and the
        // TIOCSCTTY ioctl on fd 0, which makes the pty the controlling terminal.
        #[allow(unsafe_code)]
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    File::from(pty.master)
}

/// A child process on the slave side of a pty; the test holds the master.
pub struct Pty {
    master: File,
    child: Child,
    /// Everything read so far.
    pub seen: String,
    /// Where the next `expect` starts looking.
    cursor: usize,
}

impl Pty {
    /// Start `cmd` as a session leader with the pty (`cols` x `rows`) as its
    /// controlling terminal and as its stdin, stdout and stderr.
    pub fn spawn(mut cmd: Command, cols: u16, rows: u16) -> Self {
        let master = attach(&mut cmd, cols, rows, true);
        let child = cmd.spawn().expect("spawn on the pty");
        drop(cmd); // the slave's last copies: EIO on the master once the child is gone
        let flags = nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_GETFL).expect("getfl");
        nix::fcntl::fcntl(
            &master,
            nix::fcntl::FcntlArg::F_SETFL(
                nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK,
            ),
        )
        .expect("setfl");
        Self {
            master,
            child,
            seen: String::new(),
            cursor: 0,
        }
    }

    /// Type `s` (use `\r` for Enter, `\x03` for Ctrl-C).
    pub fn send(&mut self, s: &str) {
        self.master
            .write_all(s.as_bytes())
            .expect("write to the pty");
        self.master.flush().expect("flush");
    }

    /// Type a line and Enter.
    pub fn line(&mut self, s: &str) {
        self.send(&format!("{s}\r"));
    }

    /// Read what is there now; false at EOF (the child closed the terminal).
    fn pump(&mut self) -> bool {
        let mut buf = [0u8; 8192];
        loop {
            match self.master.read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                // EIO: every slave fd is closed.
                Err(_) => return false,
            }
        }
    }

    /// Wait until `needle` appears after the last match; returns the text from there to
    /// the end of the needle. Panics with everything seen when the deadline passes.
    #[track_caller]
    pub fn expect(&mut self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let open = self.pump();
            if let Some(at) = self.seen[self.cursor..].find(needle) {
                let end = self.cursor + at + needle.len();
                let got = self.seen[self.cursor..end].to_string();
                self.cursor = end;
                return got;
            }
            assert!(
                open && start.elapsed() < DEADLINE,
                "never saw {needle:?} (terminal {}); after the last match:\n{}",
                if open { "open" } else { "closed" },
                &self.seen[self.cursor..]
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait for the child to exit, reading its last output; its status.
    #[track_caller]
    pub fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            self.pump();
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                self.pump();
                return st;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the program did not exit; it showed:\n{}",
                &self.seen[self.cursor..]
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// From the REPL's first prompt: `start LESSON`, then `run` up to the challenge;
    /// returns once the challenge says "your turn" and the REPL waits at `prompt`
    /// (`[05-mount-namespace 7/7] > `).
    #[track_caller]
    pub fn open_challenge(&mut self, lesson: &str, prompt: &str) {
        self.expect("fromscratch> ");
        self.line(&format!("start {lesson}"));
        self.expect(" 1/");
        self.line("run");
        self.expect("── your turn ──");
        self.expect(prompt);
    }

    /// The master's raw fd (for a test that needs an ioctl on it).
    pub fn fd(&self) -> i32 {
        self.master.as_raw_fd()
    }
}

impl Drop for Pty {
    /// A test that fails half-way: SIGTERM first, so the lab tears down what it started
    /// (a SIGKILL would leave the learner's processes to `fromscratch cleanup`), then
    /// SIGKILL if it is still there after a few seconds.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            self.pump();
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
