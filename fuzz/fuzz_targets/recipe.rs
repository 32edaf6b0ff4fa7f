//! Fuzz target: the bytes of a recipe file, through `fromscratch::fuzzing::recipe` (the same
//! function tests/fuzz_regressions.rs calls on every corpus and artifact file).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fromscratch::fuzzing::recipe(data);
});
