//! Volumes: a directory of the host's mounted a second time, inside a container's root.
//!
//! A volume is a bind mount (mount(2), "Creating a bind mount"): `MS_BIND` makes the
//! tree at the source visible at the target too; nothing is copied, both paths name the
//! same inodes. It is made in the container's own mount namespace, after `/` was made
//! `MS_REC|MS_PRIVATE` and before the chroot, while the source can still be named by its
//! host path; so it is in the container's mount table only, never the host's, and dies
//! with the namespace (mount_namespaces(7)).
//!
//! Two calls for a read-only volume, and that is a teaching point: with `MS_BIND`, mount(2)
//! ignores every other flag but `MS_REC`, so `MS_BIND|MS_RDONLY` makes a *writable* bind.
//! Read-only is a per-mount flag, changed afterwards by `MS_REMOUNT|MS_BIND|MS_RDONLY`
//! (mount(2), "Remounting an existing mount"), which is what `mount --bind -o ro` does
//! behind your back (mount(8)). Such a remount *replaces* the per-mount flags, so the
//! source mount's `nosuid`, `nodev` and `noexec` are passed again (as runc does), or the
//! remount would quietly drop them.
//!
//! The bind is `MS_BIND|MS_REC` (`mount --rbind`): a plain `MS_BIND` would leave behind
//! the mounts below the source, showing the directories they hide (lesson 12's pitfall).

use std::path::{Component, Path, PathBuf};

use nix::mount::MsFlags;

use super::spawn::SetupResult;
use super::syscalls::{Syscalls, in_root};

/// One volume of a [`super::ContainerSpec`]: host directory `source` at `target` inside
/// the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// The host directory, absolute (the lab passes only directories of its scratch space).
    pub source: PathBuf,
    /// Where it appears, an absolute path inside the container's root (`/data`).
    pub target: PathBuf,
    /// Remount the bind read-only: writes through it fail with EROFS.
    pub read_only: bool,
    /// The per-mount flags of the mount `source` sits on (`MS_NOSUID`, `MS_NODEV`,
    /// `MS_NOEXEC`), read by [`Volume::new`] with statvfs(3): the read-only remount
    /// passes them again.
    pub kept: MsFlags,
}

impl Volume {
    /// A volume; reads the source mount's `nosuid`/`nodev`/`noexec` (none when the source
    /// cannot be read: the bind then fails with its own errno).
    #[must_use]
    pub fn new(source: PathBuf, target: PathBuf, read_only: bool) -> Self {
        let kept = source_flags(&source);
        Self {
            source,
            target,
            read_only,
            kept,
        }
    }
}

/// `MS_NOSUID`, `MS_NODEV` and `MS_NOEXEC` as set on the mount `path` is on (statvfs(3)'s
/// `f_flag`); empty when it cannot be read.
#[must_use]
pub fn source_flags(path: &Path) -> MsFlags {
    use nix::sys::statvfs::{FsFlags, statvfs};
    let Ok(st) = statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    out.set(MsFlags::MS_NOSUID, f.contains(FsFlags::ST_NOSUID));
    out.set(MsFlags::MS_NODEV, f.contains(FsFlags::ST_NODEV));
    out.set(MsFlags::MS_NOEXEC, f.contains(FsFlags::ST_NOEXEC));
    out
}

/// The flags of the read-only remount of a bind whose source mount has `kept`.
#[must_use]
pub fn remount_flags(kept: MsFlags) -> MsFlags {
    MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | kept
}

/// Mount each volume under `root` (the container's root as the host names it, before
/// the chroot), in order: `mount(source, root/target, NULL, MS_BIND|MS_REC, NULL)`, then
/// for a read-only one `mount(NULL, root/target, NULL, MS_REMOUNT|MS_BIND|MS_RDONLY, NULL)`.
/// Call it only in a mount namespace whose `/` is already private.
///
/// # Errors
/// The failing mount's errno, as `("mount", errno)`: ENOENT when the source or target is
/// missing, ENOTDIR when the target is not a directory.
pub fn mount_volumes(sys: &dyn Syscalls, root: &Path, volumes: &[Volume]) -> SetupResult {
    for v in volumes {
        let target = in_root(root, &v.target.to_string_lossy());
        let source = v.source.to_string_lossy();
        sys.mount(
            Some(&source),
            &target,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
        .map_err(|e| ("mount", e))?;
        if v.read_only {
            sys.mount(None, &target, None, remount_flags(v.kept), None)
                .map_err(|e| ("mount", e))?;
        }
    }
    Ok(())
}

/// Why a volume target is refused, if it is: it must be an absolute path inside the
/// container, not `/` itself, with no `..` or `.` component (so it cannot leave the root).
#[must_use]
pub fn target_problem(target: &str) -> Option<&'static str> {
    let p = Path::new(target);
    if !p.is_absolute() {
        return Some("must be an absolute path inside the container, like `/data`");
    }
    if p.components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        || target.contains("/./")
    {
        return Some("may not hold `..` or `.`: it must stay inside the container's root");
    }
    if p.components().count() < 2 {
        return Some("cannot be `/`: a volume is mounted on a directory inside the root");
    }
    None
}

/// Check that `target` names an existing directory inside `root` reached without
/// following a symbolic link (a link in the rootfs, like `/var/run -> /run`, would be
/// followed by the kernel from the host's side of the chroot, out of the root). Returns
/// the host path of the mount point.
///
/// # Errors
/// One sentence naming the problem and the fix.
pub fn target_in_root(root: &Path, target: &str) -> Result<PathBuf, String> {
    if let Some(p) = target_problem(target) {
        return Err(format!("volume target `{target}` {p}"));
    }
    let host = in_root(root, target);
    let root_c = root
        .canonicalize()
        .map_err(|e| format!("cannot read the root {}: {e}", root.display()))?;
    match host.canonicalize() {
        Ok(c) if c == in_root(&root_c, target) && c.is_dir() => Ok(host),
        Ok(c) if c != in_root(&root_c, target) => Err(format!(
            "volume target `{target}` goes through a symbolic link in the root (it leads to {}): name the directory it points to",
            c.display()
        )),
        Ok(_) => Err(format!(
            "volume target `{target}` is not a directory in the root: a volume is a directory mounted on a directory"
        )),
        Err(_) => Err(format!(
            "volume target `{target}` does not exist in the root {}, and the lab never writes into a shared rootfs: mount on a directory it has (the host recipe's tree has /root, /run and /tmp) or use a `lab:DIR` root",
            root.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::syscalls::RecordingSyscalls;
    use nix::errno::Errno;

    fn vol(target: &str, read_only: bool, kept: MsFlags) -> Volume {
        Volume {
            source: PathBuf::from("/run/fromscratch/lab-7/data"),
            target: PathBuf::from(target),
            read_only,
            kept,
        }
    }

    #[test]
    fn a_writable_volume_is_one_recursive_bind_under_the_root() {
        let rec = RecordingSyscalls::new();
        mount_volumes(
            &rec,
            Path::new("/r"),
            &[vol("/data", false, MsFlags::empty())],
        )
        .unwrap();
        assert_eq!(
            rec.lines(),
            vec![
                "mount(\"/run/fromscratch/lab-7/data\", \"/r/data\", NULL, MS_BIND|MS_REC, NULL) = 0"
            ]
        );
    }

    #[test]
    fn read_only_needs_a_second_call_that_keeps_the_source_flags() {
        let rec = RecordingSyscalls::new();
        mount_volumes(
            &rec,
            Path::new("/r"),
            &[
                vol("/data", true, MsFlags::MS_NOSUID | MsFlags::MS_NODEV),
                vol("/srv", false, MsFlags::empty()),
            ],
        )
        .unwrap();
        assert_eq!(
            rec.lines(),
            vec![
                "mount(\"/run/fromscratch/lab-7/data\", \"/r/data\", NULL, MS_BIND|MS_REC, NULL) = 0",
                "mount(NULL, \"/r/data\", NULL, MS_RDONLY|MS_NOSUID|MS_NODEV|MS_REMOUNT|MS_BIND, NULL) = 0",
                "mount(\"/run/fromscratch/lab-7/data\", \"/r/srv\", NULL, MS_BIND|MS_REC, NULL) = 0",
            ]
        );
    }

    #[test]
    fn a_failed_bind_stops_before_the_remount() {
        let rec = RecordingSyscalls::new();
        rec.fail_on("MS_BIND|MS_REC", Errno::ENOENT);
        let err = mount_volumes(
            &rec,
            Path::new("/r"),
            &[vol("/data", true, MsFlags::empty())],
        )
        .unwrap_err();
        assert_eq!(err, ("mount", Errno::ENOENT));
        assert_eq!(rec.names(), vec!["mount"]);
    }

    #[test]
    fn volumes_come_after_private_propagation_and_before_chroot() {
        use crate::runtime::ContainerSpec;
        use crate::runtime::spawn::{enter_namespaces, prepare_root};
        let spec = ContainerSpec {
            root: Some("/r".into()),
            volumes: vec![vol("/data", true, MsFlags::empty())],
            command: vec!["sh".into()],
            ..ContainerSpec::default()
        };
        // A volume implies a mount namespace of the container's own.
        assert!(spec.effective_namespaces().mount);
        let rec = RecordingSyscalls::new();
        enter_namespaces(&rec, &spec).unwrap();
        prepare_root(&rec, &spec).unwrap();
        let lines = rec.lines();
        let at = |needle: &str| {
            lines
                .iter()
                .position(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no {needle} in {lines:?}"))
        };
        assert!(
            at("unshare(CLONE_NEWNS") < at("MS_REC|MS_PRIVATE"),
            "{lines:?}"
        );
        assert!(at("MS_REC|MS_PRIVATE") < at("MS_BIND|MS_REC"), "{lines:?}");
        assert!(at("MS_BIND|MS_REC") < at("MS_REMOUNT"), "{lines:?}");
        assert!(at("MS_REMOUNT") < at("chroot(\"/r\")"), "{lines:?}");
    }

    #[test]
    fn targets_stay_inside_the_root() {
        assert_eq!(target_problem("/data"), None);
        assert_eq!(target_problem("/srv/www"), None);
        for bad in ["data", "/", "/data/../etc", "/./x", "/a/./b"] {
            assert!(target_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn a_target_must_exist_and_not_pass_through_a_link() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir(root.join("data")).unwrap();
        std::fs::write(root.join("file"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
        assert_eq!(target_in_root(root, "/data").unwrap(), root.join("data"));
        let e = target_in_root(root, "/missing").unwrap_err();
        assert!(e.contains("does not exist in the root"), "{e}");
        let e = target_in_root(root, "/file").unwrap_err();
        assert!(e.contains("is not a directory"), "{e}");
        let e = target_in_root(root, "/link").unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        let e = target_in_root(root, "/../etc").unwrap_err();
        assert!(e.contains("`..`"), "{e}");
    }
}
