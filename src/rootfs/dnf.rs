//! The `dnf` builder: a Fedora/RHEL-family tree with `dnf --installroot`.
//! (Being written: preflight and build are filled in next.)

use std::io::Write;
use std::path::Path;

use super::recipe::DnfParams;
use super::{BuildOptions, RootfsError};

/// Check the host before anything is written.
pub(crate) fn preflight(_params: &DnfParams) -> Result<(), RootfsError> {
    Err(RootfsError::Unsupported {
        what: "the dnf builder".into(),
    })
}

/// Build into `tmp`.
pub(crate) fn build(
    _params: &DnfParams,
    _tmp: &Path,
    _opts: &BuildOptions,
    _out: &mut dyn Write,
) -> Result<(), RootfsError> {
    Err(RootfsError::Unsupported {
        what: "the dnf builder".into(),
    })
}
