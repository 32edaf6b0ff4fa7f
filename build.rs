//! Link the `fromscratch` binary as a position-dependent executable (`-no-pie`).
//!
//! Why (issue 8, measured with `sudo benches/run.sh`): as a PIE the binary carries about
//! 19,000 relative relocations, and the dynamic loader writes every one at start: some
//! 90 pages of `.data.rel.ro` copied on write before `main`, then again page-table work
//! in each of a container start's two forks. That was most of the gap between
//! `fromscratch spawn` and `unshare --fork` + `chroot`. Linked `-no-pie`, the linker
//! resolves them, and the pages stay clean file-backed mappings.
//!
//! What it costs: the executable's own code and data load at a fixed address (the
//! shared libraries, heap, stack and mmap areas are still randomised). Only the binaries
//! of this package are affected (`rustc-link-arg-bins`), never a library or test.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var_os("FROMSCRATCH_PIE").is_none()
    {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-env-changed=FROMSCRATCH_PIE");
    println!("cargo:rerun-if-changed=build.rs");
}
