//! A decoy that notes who killed it: a host process the lab starts for a lesson to find
//! and signal, which looks like the command it stands for (`sleep 31337` in `ps`) and,
//! when a catchable signal arrives, writes who sent it and from which root before it
//! dies. A challenge can then check *where* the kill came from, not only that it came.
//!
//! The lab starts it as this same binary with [`NOTE_VAR`] in its environment; `main`
//! sees the variable before parsing the command line and calls [`run`].

use std::io::Write;
use std::path::Path;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};

/// The environment variable that makes the binary a noting decoy: the file to write.
pub const NOTE_VAR: &str = "FROMSCRATCH_DECOY_NOTE";

/// The signals the decoy waits for; SIGKILL and SIGSTOP cannot be caught, so a decoy
/// killed with `kill -9` leaves no note.
const WAITED: [Signal; 6] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Become the decoy: block the signals it waits for, then show as `title` (argv joined,
/// as `ps` shows it; `comm` is its first word; see [`is_ready`]), wait for a signal from [`WAITED`], write one line to `note` naming the
/// signal, the sender's PID, its command name and its root directory
/// (/proc/PID/root, read at once: a `kill` that has already exited cannot be looked at),
/// and exit with 128 + the signal's number.
pub fn run(note: &Path, title: &[String]) -> u8 {
    // Block the signals first: the lab takes the new command line as the sign that the
    // decoy is ready, and a signal arriving before would kill it without a note.
    let mut set = SigSet::empty();
    for s in WAITED {
        set.add(s);
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    let shown = title.join(" ");
    if let Some(first) = title.first()
        && let Ok(name) = std::ffi::CString::new(first.as_str())
    {
        let _ = nix::sys::prctl::set_name(&name);
    }
    crate::runtime::init::set_cmdline(&shown);
    loop {
        // SAFETY: sigwaitinfo(2) writes one siginfo_t into `info`, which is ours; the
        // set is a valid sigset_t owned by `set`.
        #[allow(unsafe_code)]
        let (sig, pid) = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let sig = libc::sigwaitinfo(set.as_ref(), &raw mut info);
            (sig, info.si_pid())
        };
        if sig < 0 {
            continue; // EINTR
        }
        let name =
            Signal::try_from(sig).map_or_else(|_| sig.to_string(), |s| s.as_str().to_string());
        let line = match (
            std::fs::read_link(format!("/proc/{pid}/root")),
            std::fs::read_to_string(format!("/proc/{pid}/comm")),
        ) {
            (Ok(root), Ok(comm)) => format!(
                "killed by {name} from PID {pid} ({}), whose root was {}\n",
                comm.trim(),
                root.display()
            ),
            _ => format!(
                "killed by {name} from PID {pid}, which had exited before the decoy could look at it (use the shell's own kill, a builtin)\n"
            ),
        };
        if let Ok(mut f) = std::fs::File::create(note) {
            let _ = f.write_all(line.as_bytes());
        }
        return u8::try_from(128 + sig).unwrap_or(1);
    }
}

/// True once the decoy `pid` shows as `title` (argv joined by spaces): it has blocked
/// the signals it notes, so a kill from now on is noted.
#[must_use]
pub fn is_ready(pid: nix::unistd::Pid, title: &[String]) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
        let shown = String::from_utf8_lossy(&c);
        shown.trim_end_matches('\0') == title.join(" ")
    })
}
