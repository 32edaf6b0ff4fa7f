//! A container's root as an overlay of the rootfs, the way container engines run an
//! image: the rootfs is the read-only `lowerdir`; `upperdir` and `workdir` live on a
//! tmpfs mounted inside the container's own mount namespace; the container's root is
//! the merged directory. Whatever the container writes lands in that tmpfs and vanishes
//! with the namespace, so the cached rootfs every lesson shares is never written.
//!
//! Order, in the container's process after `/` was made private and before the root
//! changes (so every path is still a host path):
//!
//! 1. `mount("tmpfs", BASE, "tmpfs", MS_NOSUID|MS_NODEV, "mode=0755")`: the upper and
//!    work directories must be on one filesystem that supports them (not an overlayfs:
//!    pitfall O1), and this one is the container's own.
//! 2. `mkdir` BASE/upper, BASE/work, BASE/merged.
//! 3. `mount("overlay", BASE/merged, "overlay", 0,
//!    "lowerdir=ROOTFS,upperdir=BASE/upper,workdir=BASE/work")`.
//!
//! BASE is an empty directory the lab made in its scratch space: from the host it stays
//! empty, because the tmpfs is mounted in the container's mount namespace only.
//! See mount(2), tmpfs(5) and the kernel's `Documentation/filesystems/overlayfs.rst`.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::spawn::SetupResult;
use super::syscalls::Syscalls;

/// The three directories the runtime makes on the tmpfs, in order.
pub const LAYER_DIRS: [&str; 3] = ["upper", "work", "merged"];

/// Characters overlayfs and mount(2)'s option string give a meaning to (`,` separates
/// options, `:` separates lower layers, `\` escapes): a path holding one is refused
/// rather than escaped, so the options the trace shows are the options the kernel read.
const SPECIAL: [char; 3] = [',', ':', '\\'];

/// The overlay's `data` string for mount(2).
///
/// # Errors
/// `EINVAL` when a path holds `,`, `:` or `\` (see [`SPECIAL`]).
pub fn options(lower: &Path, base: &Path) -> Result<String, Errno> {
    let lower = lower.display().to_string();
    let base = base.display().to_string();
    if lower.contains(SPECIAL) || base.contains(SPECIAL) {
        return Err(Errno::EINVAL);
    }
    Ok(format!(
        "lowerdir={lower},upperdir={base}/upper,workdir={base}/work"
    ))
}

/// Mount the overlay of `lower` with its writable layers on a tmpfs at `base`, and
/// return the merged directory, which becomes the container's root.
///
/// Must run in a mount namespace of the container's whose `/` is private (the spec
/// makes `overlay` imply one).
///
/// # Errors
/// The failing call's name and errno: `mount` (tmpfs or overlay; `EINVAL` also for a
/// path overlayfs cannot take in its options), `mkdir`.
pub fn mount_root(
    sys: &dyn Syscalls,
    lower: &Path,
    base: &Path,
) -> Result<PathBuf, (&'static str, Errno)> {
    let data = options(lower, base).map_err(|e| ("mount", e))?;
    sys.note(
        "/* the container's root: an overlay of the rootfs, its writes on a tmpfs of its own */",
    );
    sys.mount(
        Some("tmpfs"),
        base,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755"),
    )
    .map_err(|e| ("mount", e))?;
    for d in LAYER_DIRS {
        sys.mkdir(&base.join(d)).map_err(|e| ("mkdir", e))?;
    }
    let merged = base.join("merged");
    sys.mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(&data),
    )
    .map_err(|e| ("mount", e))?;
    Ok(merged)
}

/// As [`mount_root`], for the setup sequence: the merged directory replaces the root.
///
/// # Errors
/// As [`mount_root`].
pub fn prepare(sys: &dyn Syscalls, lower: &Path, base: &Path, root: &mut PathBuf) -> SetupResult {
    *root = mount_root(sys, lower, base)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::RecordingSyscalls;

    #[test]
    fn tmpfs_first_then_the_layer_dirs_then_the_overlay_on_merged() {
        let sys = RecordingSyscalls::new();
        let merged = mount_root(&sys, Path::new("/cache/host"), Path::new("/lab/ovl-box")).unwrap();
        assert_eq!(merged, Path::new("/lab/ovl-box/merged"));
        let lines: Vec<String> = sys
            .lines()
            .into_iter()
            .filter(|l| !l.starts_with("/*"))
            .collect();
        let names: Vec<&str> = lines.iter().map(|l| l.split('(').next().unwrap()).collect();
        assert_eq!(names, ["mount", "mkdir", "mkdir", "mkdir", "mount"]);
        assert_eq!(
            lines[0],
            r#"mount("tmpfs", "/lab/ovl-box", "tmpfs", MS_NOSUID|MS_NODEV, "mode=0755") = 0"#
        );
        assert_eq!(lines[1], r#"mkdir("/lab/ovl-box/upper", 0755) = 0"#);
        assert_eq!(
            lines[4],
            r#"mount("overlay", "/lab/ovl-box/merged", "overlay", 0, "lowerdir=/cache/host,upperdir=/lab/ovl-box/upper,workdir=/lab/ovl-box/work") = 0"#
        );
    }

    #[test]
    fn a_failed_tmpfs_stops_before_any_overlay() {
        let sys = RecordingSyscalls::new();
        sys.fail_on("\"tmpfs\"", Errno::EPERM);
        let err = mount_root(&sys, Path::new("/r"), Path::new("/b")).unwrap_err();
        assert_eq!(err, ("mount", Errno::EPERM));
        assert!(
            sys.lines().iter().all(|l| !l.contains("overlay\", ")),
            "{:?}",
            sys.lines()
        );
    }

    #[test]
    fn paths_with_option_separators_are_refused_not_escaped() {
        assert_eq!(
            options(Path::new("/a,b"), Path::new("/x")),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            options(Path::new("/a"), Path::new("/x:y")),
            Err(Errno::EINVAL)
        );
        let sys = RecordingSyscalls::new();
        assert_eq!(
            mount_root(&sys, Path::new("/a,upperdir=/etc"), Path::new("/b")).unwrap_err(),
            ("mount", Errno::EINVAL)
        );
        assert!(
            sys.names().is_empty(),
            "nothing may be mounted: {:?}",
            sys.lines()
        );
    }
}
