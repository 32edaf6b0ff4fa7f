//! Fuzz target: the bytes of an image layer (tar or tar+gzip), unpacked twice over into a
//! fresh tree beside a sentinel, through `fromscratch::fuzzing::unpack`, which panics if
//! anything outside the tree changed (the same function tests/fuzz_regressions.rs calls
//! on every corpus and artifact file).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fromscratch::fuzzing::unpack(data);
});
