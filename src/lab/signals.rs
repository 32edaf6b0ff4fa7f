//! Ctrl-C and SIGTERM: set a flag, never die mid-syscall with resources alive.
//!
//! The handlers are installed without SA_RESTART, so a blocking poll or wait returns
//! EINTR; the code that was waiting sees [`interrupted`] and unwinds through the cleanup
//! registry. The REPL's line editor handles Ctrl-C itself while it reads a line.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static LAST: AtomicI32 = AtomicI32::new(0);
static AT_PROMPT: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    // A SIGINT raised below must not hide the SIGTERM that caused it.
    if sig != libc::SIGINT || LAST.load(Ordering::SeqCst) == 0 {
        LAST.store(sig, Ordering::SeqCst);
    }
    // The line editor retries its read on EINTR and would sit at the prompt; it does
    // return on SIGINT (its own handler, installed while it reads). So SIGTERM and
    // SIGHUP at the prompt are passed on as a SIGINT, which it answers at once.
    if sig != libc::SIGINT && AT_PROMPT.load(Ordering::SeqCst) {
        // SAFETY: raise(3) is async-signal-safe.
        #[allow(unsafe_code)]
        unsafe {
            libc::raise(libc::SIGINT);
        }
    }
}

/// Mark whether the line editor is waiting for input (see `on_signal`).
pub fn at_prompt(yes: bool) {
    AT_PROMPT.store(yes, Ordering::SeqCst);
}

/// Install the SIGINT and SIGTERM (and SIGHUP) handlers.
pub fn install() {
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to atomics, which is async-signal-safe.
        #[allow(unsafe_code)]
        unsafe {
            let _ = sigaction(
                s,
                &SigAction::new(
                    SigHandler::Handler(on_signal),
                    SaFlags::empty(),
                    SigSet::empty(),
                ),
            );
        }
    }
}

/// True once Ctrl-C, SIGTERM or SIGHUP has arrived (until [`clear`]).
#[must_use]
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The signal that interrupted us, if any.
#[must_use]
pub fn last_signal() -> Option<Signal> {
    match LAST.load(Ordering::SeqCst) {
        0 => None,
        n => Signal::try_from(n).ok(),
    }
}

/// Forget an interruption (the REPL goes on after a cancelled step).
pub fn clear() {
    INTERRUPTED.store(false, Ordering::SeqCst);
    LAST.store(0, Ordering::SeqCst);
}

/// The exit status after being interrupted: 128 + the signal, as a shell reports it.
#[must_use]
pub fn exit_status() -> u8 {
    last_signal().map_or(130, |s| 128u8.saturating_add(s as u8))
}
