//! Our small init: what runs as PID 1 with `--init` (as `docker run --init` runs tini).
//!
//! PID 1 in a PID namespace has two duties the kernel gives no other process
//! (pid_namespaces(7)):
//!
//! - **Signals.** The kernel delivers to PID 1 only the signals it has installed a
//!   handler for: `kill -TERM 1` from inside does nothing to a plain `sleep` running as
//!   PID 1. Our init installs handlers and forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT,
//!   SIGUSR1 and SIGUSR2 to its child.
//! - **Orphans.** Every process orphaned in the namespace is re-parented to PID 1, which
//!   must wait(2) for it or it stays a zombie. Our init reaps everything.
//!
//! When the command exits, init exits with its status, and the kernel then kills every
//! other process in the namespace. With no command, init only holds the namespaces open
//! (a "pause" container) until SIGTERM or SIGINT.

use std::ffi::CString;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::sys::signal::{
    SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, sigaction, sigprocmask,
};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};

use super::spawn::{EXIT_SETUP_FAILED, exec_command};
use super::syscalls::{LinuxSyscalls, Syscalls};

/// The signals init forwards to its child.
pub const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// A bit per signal number that arrived and is not yet handled.
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    if (0..31).contains(&sig) {
        PENDING.fetch_or(1 << sig, Ordering::SeqCst);
    }
}

/// Rewrite this process's command line as `ps ax` shows it (/proc/PID/cmdline), the way
/// setproctitle does: the kernel reads it from the argv strings at the bottom of the
/// process's stack, between `arg_start` and `arg_end` (fields 48 and 49 of
/// /proc/self/stat, proc(5)). Our init is a fork of the lab, so without this it would
/// show the lab's own command line as PID 1.
///
/// Only for the init and the lab's decoys: std reads `std::env::args()` from that same
/// memory, so nothing in this process may ask for its arguments afterwards.
pub(crate) fn set_cmdline(title: &str) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    let Some((_, rest)) = stat.rsplit_once(") ") else {
        return;
    };
    // `rest` starts at field 3.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (Some(start), Some(end)) = (
        fields.get(45).and_then(|f| f.parse::<usize>().ok()),
        fields.get(46).and_then(|f| f.parse::<usize>().ok()),
    ) else {
        return;
    };
    if end <= start || start == 0 {
        return;
    }
    let len = end - start;
    let n = title.len().min(len - 1);
    // SAFETY: [arg_start, arg_end) is this process's own argv area, mapped writable on
    // its stack by execve(2); we stay inside it and end the new title with NUL bytes.
    // Nothing reads argv after this (see above), and the process is single-threaded.
    #[allow(unsafe_code)]
    unsafe {
        let p = start as *mut u8;
        std::ptr::write_bytes(p, 0, len);
        std::ptr::copy_nonoverlapping(title.as_ptr(), p, n);
    }
}

/// Put every signal back to its default disposition and unblock all: a container must not
/// inherit the lab's "ignore SIGINT" or its blocked mask.
pub fn reset_signals() {
    for sig in Signal::iterator() {
        if matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: installing SIG_DFL is always sound.
        #[allow(unsafe_code)]
        unsafe {
            let _ = sigaction(
                sig,
                &SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty()),
            );
        }
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// Run as PID 1: fork the command (if any) as our child, then reap and forward until it
/// exits. Returns the exit code to leave with (the command's, or 128+signal).
pub fn run_init(
    mut sys: LinuxSyscalls,
    trace: RawFd,
    argv: &[CString],
    envp: &[CString],
    interactive: bool,
) -> i32 {
    let _ = nix::sys::prctl::set_name(c"fs-init");
    set_cmdline("fs-init");
    // Block the signals we handle, so they can only arrive inside sigsuspend: no race
    // between checking PENDING and going to sleep.
    let mut handled = SigSet::empty();
    for s in FORWARDED.iter().chain([Signal::SIGCHLD].iter()) {
        handled.add(*s);
    }
    let mut old = SigSet::empty();
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&handled), Some(&mut old));
    for s in FORWARDED.iter().chain([Signal::SIGCHLD].iter()) {
        // SAFETY: the handler only does an atomic or, which is async-signal-safe.
        #[allow(unsafe_code)]
        unsafe {
            let _ = sigaction(
                *s,
                &SigAction::new(
                    SigHandler::Handler(on_signal),
                    SaFlags::SA_NOCLDSTOP,
                    SigSet::empty(),
                ),
            );
        }
    }

    let child = if argv.is_empty() {
        sys.note("pause()  /* no command: init holds the namespaces */");
        None
    } else {
        let Ok((go_r, go_w)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
            return EXIT_SETUP_FAILED;
        };
        // The command is PID 2 only when init is PID 1 of a PID namespace.
        let role = if nix::unistd::getpid().as_raw() == 1 {
            "pid 2"
        } else {
            "command"
        };
        // SAFETY: single-threaded (a forked child of a single-threaded process).
        #[allow(unsafe_code)]
        match unsafe { nix::unistd::fork() } {
            Err(e) => {
                sys.note(&format!("fork() = -1 {e:?} ({})", e.desc()));
                return EXIT_SETUP_FAILED;
            }
            Ok(ForkResult::Child) => {
                // Wait until init has traced the fork, so the trace keeps its order.
                drop(go_w);
                let mut b = [0u8; 1];
                let _ = nix::unistd::read(&go_r, &mut b);
                sys.set_role(role);
                reset_signals();
                let _ = sys.set_pdeathsig(Signal::SIGKILL);
                return exec_command(&sys, trace, argv, envp, interactive);
            }
            Ok(ForkResult::Parent { child }) => {
                drop(go_r);
                sys.note(&format!(
                    "fork() = {child}  /* the command, as init's child */"
                ));
                let _ = nix::unistd::write(&go_w, b"g");
                drop(go_w);
                Some(child)
            }
        }
    };
    sys.close_trace();

    loop {
        // Reap everything that has exited: the command, and any orphan re-parented to us.
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if Some(pid) == child => return code,
                Ok(WaitStatus::Signaled(pid, sig, _)) if Some(pid) == child => {
                    return 128 + sig as i32;
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let pending = PENDING.swap(0, Ordering::SeqCst);
        for s in FORWARDED {
            if pending & (1 << s as i32) != 0 {
                match child {
                    Some(c) => {
                        let _ = nix::sys::signal::kill(c, s);
                    }
                    None if matches!(s, Signal::SIGTERM | Signal::SIGINT) => return 0,
                    None => {}
                }
            }
        }
        // Sleep until a handled signal arrives (with the blocked set lifted for the wait).
        let r = old.suspend();
        if r.is_err() && r != Err(Errno::EINTR) {
            return EXIT_SETUP_FAILED;
        }
    }
}
