//! The `busybox` builder: the static busybox binary and its applet links.
//! (Being written: preflight and build are filled in next.)

use std::io::Write;
use std::path::Path;

use super::RootfsError;
use super::recipe::BusyboxParams;

/// Check the host before anything is written.
pub(crate) fn preflight(_params: &BusyboxParams) -> Result<(), RootfsError> {
    Err(RootfsError::Unsupported {
        what: "the busybox builder".into(),
    })
}

/// Build into `tmp`.
pub(crate) fn build(
    _params: &BusyboxParams,
    _tmp: &Path,
    _out: &mut dyn Write,
) -> Result<(), RootfsError> {
    Err(RootfsError::Unsupported {
        what: "the busybox builder".into(),
    })
}
