//! Test hooks that stop a lesson inside a chosen step, so a test can interrupt every
//! step deterministically (tests/interrupt_every_step.rs) instead of racing a fast run.
//!
//! Both hooks sit at the point of step N where the most the lab made is alive: in a
//! challenge step whose reference solution the lab types (`run --yes`, `tour`), after
//! the last line is typed, with the challenge shell still running; in any other step,
//! after its action, before its after-probes.
//!
//! - `FROMSCRATCH_PAUSE_AT_STEP=N` (1-based): at that point the lab prints one line to
//!   stderr, `fromscratch: paused in step N (FROMSCRATCH_PAUSE_AT_STEP); waiting for a
//!   signal`, and waits until Ctrl-C, SIGTERM or SIGHUP arrives (or SIGKILL ends it);
//!   then the step goes on and meets the interruption as it would have anywhere else.
//!   Harmless in production: unset, it costs one environment lookup per step, and set,
//!   it only makes the lab wait for a signal it already handles.
//! - `FROMSCRATCH_PANIC_AT_STEP=N`, in debug builds only (`cfg(debug_assertions)`; a
//!   release build ignores it): the lab panics at that point, to prove a panic inside a
//!   step still tears everything down (the lab's `Drop`, during unwinding).

use std::io::Write;
use std::time::Duration;

/// The variable that pauses a lesson inside step N (see the module header).
pub const PAUSE_VAR: &str = "FROMSCRATCH_PAUSE_AT_STEP";

/// The variable that panics inside step N, in debug builds (see the module header).
pub const PANIC_VAR: &str = "FROMSCRATCH_PANIC_AT_STEP";

/// True when `var` holds the 1-based number of step `idx` (0-based).
fn names_step(var: &str, idx: usize) -> bool {
    std::env::var(var)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|n| n == idx + 1)
}

/// The hook point of step `idx` (0-based): panic or pause there when asked to.
///
/// # Panics
/// In a debug build, when [`PANIC_VAR`] names this step: on purpose.
pub fn step_point(idx: usize) {
    #[cfg(debug_assertions)]
    if names_step(PANIC_VAR, idx) {
        panic!(
            "{PANIC_VAR}={}: a panic on purpose, inside step {}",
            idx + 1,
            idx + 1
        );
    }
    if names_step(PAUSE_VAR, idx) && !crate::lab::interrupted() {
        // Not eprintln!: it panics when stderr is gone.
        let _ = writeln!(
            std::io::stderr(),
            "fromscratch: paused in step {} ({PAUSE_VAR}); waiting for a signal",
            idx + 1
        );
        while !crate::lab::interrupted() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
