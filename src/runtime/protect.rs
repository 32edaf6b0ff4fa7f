//! The lab's guard for the shared rootfs: every lesson chroots into the same cached
//! tree, so nothing run there may change it (a `__pycache__`, a `.python_history`, or a
//! regular file `dev/null` made by `echo > /dev/null` in a rootfs without devices would
//! stay in the cache and change the next lesson). In a mount namespace of the lab's,
//! before anything else is mounted under it, the tree is bind-mounted onto itself and
//! the bind remounted read-only:
//!
//! 1. `mount(TREE, TREE, NULL, MS_BIND|MS_REC, NULL)`
//! 2. `mount(NULL, TREE, NULL, MS_REMOUNT|MS_BIND|MS_RDONLY|kept, NULL)`, where `kept` is
//!    the source mount's `MS_NOSUID`/`MS_NODEV`/`MS_NOEXEC` (a bind remount replaces every
//!    per-mount flag it is not given, mount(2)).
//!
//! Only this mount namespace sees the read-only bind; the host's view, and the cache
//! builder's, are unchanged. Mounts made later on top (a `/proc`, a volume, an overlay
//! over the tree, a tmpfs) still work: mounting needs no write to the directory below.
//! A write to the tree fails with EROFS ("Read-only file system").

use std::path::Path;

use nix::mount::MsFlags;

use super::spawn::SetupResult;
use super::syscalls::Syscalls;
use super::volumes::{remount_flags, source_flags};

/// Make `tree` read-only in the calling process's mount namespace, which must be a new
/// one whose `/` is already private (the caller checks).
///
/// # Errors
/// The failing mount's errno, as `("mount", errno)`.
pub fn read_only(sys: &dyn Syscalls, tree: &Path) -> SetupResult {
    sys.note(
        "/* the lab's guard, not the lesson's: the shared rootfs read-only here, so nothing run in it changes the cache */",
    );
    let src = tree.to_string_lossy();
    sys.mount(
        Some(&src),
        tree,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| ("mount", e))?;
    sys.mount(None, tree, None, remount_flags(source_flags(tree)), None)
        .map_err(|e| ("mount", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::RecordingSyscalls;

    #[test]
    fn bind_onto_itself_then_remount_read_only() {
        let sys = RecordingSyscalls::new();
        read_only(&sys, Path::new("/nonexistent/tree")).unwrap();
        let lines: Vec<String> = sys
            .lines()
            .into_iter()
            .filter(|l| !l.starts_with("/*"))
            .collect();
        assert_eq!(
            lines,
            [
                r#"mount("/nonexistent/tree", "/nonexistent/tree", NULL, MS_BIND|MS_REC, NULL) = 0"#,
                r#"mount(NULL, "/nonexistent/tree", NULL, MS_RDONLY|MS_REMOUNT|MS_BIND, NULL) = 0"#,
            ]
        );
    }
}
