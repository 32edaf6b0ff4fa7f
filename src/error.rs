//! Exit codes shared by every command (the contract in DESIGN.md).
//!
//! Each module has its own `thiserror` enum; each implements [`Classify`] so `main`
//! can turn any error in the chain into the right exit status.

/// A step's check failed (the kernel did not do what the lesson expected).
pub const EXIT_CHECK_FAILED: u8 = 1;
/// Bad input: a malformed file, an unknown flag or name, a wrong recipe.
pub const EXIT_BAD_INPUT: u8 = 2;
/// The host cannot do it: not root, a missing tool, a kernel feature off.
pub const EXIT_HOST_CANNOT: u8 = 3;

/// An error that knows which exit code it deserves.
pub trait Classify {
    /// One of [`EXIT_CHECK_FAILED`], [`EXIT_BAD_INPUT`], [`EXIT_HOST_CANNOT`].
    fn exit_code(&self) -> u8;
}
