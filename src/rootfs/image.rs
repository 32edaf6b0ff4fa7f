//! The `oci-archive` and `docker-archive` builders: an image tarball unpacked layer by
//! layer. (Being written: preflight and build are filled in next.)

use std::io::Write;
use std::path::Path;

use super::recipe::ImageParams;
use super::{BuildOptions, RootfsError};

/// Which tarball layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`).
    Oci,
    /// `docker save` (`manifest.json`, layer tarballs).
    Docker,
}

/// Check the host before anything is written.
pub(crate) fn preflight(_params: &ImageParams) -> Result<(), RootfsError> {
    Err(RootfsError::Unsupported {
        what: "image archives".into(),
    })
}

/// Build into `tmp`.
pub(crate) fn build(
    _params: &ImageParams,
    _format: Format,
    _tmp: &Path,
    _opts: &BuildOptions,
    _out: &mut dyn Write,
) -> Result<(), RootfsError> {
    Err(RootfsError::Unsupported {
        what: "image archives".into(),
    })
}
