//! Fuzz target: the bytes of a lesson file, through `fromscratch::fuzzing::lesson` (the same
//! function tests/fuzz_regressions.rs calls on every corpus and artifact file).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fromscratch::fuzzing::lesson(data);
});
