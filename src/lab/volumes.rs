//! A lesson's volumes, turned into the runtime's: `lab:DIR` sources resolved inside the
//! lab's scratch space, targets checked inside the container's root, and the commands a
//! learner would type for the same mounts.
//!
//! Where a mount target comes from: mount(2) needs an existing directory. The lab never
//! writes into a rootfs from the cache (it is shared by every lesson and every run), so
//! in a `rootfs` root the target must already be a directory there (`/mnt`, `/srv`,
//! `/root`, `/tmp`…); in a `lab:DIR` root, a tree the lab made and owns, a missing target
//! is made. See `runtime/volumes.rs` for the mounts themselves.

use std::path::{Path, PathBuf};

use crate::lab::runner::{RunError, Runner};
use crate::lesson::ContainerDef;
use crate::runtime::volumes::{Volume, target_in_root, target_problem};
use crate::term;

impl Runner {
    /// The host directory a volume's `lab:DIR` source names: an existing directory
    /// inside the lab's scratch space, reached without leaving it.
    ///
    /// # Errors
    /// [`RunError::BadInput`] in one sentence: not `lab:DIR`, missing, or leaving the lab.
    pub fn volume_source(&self, source: &str) -> Result<PathBuf, RunError> {
        let d = source.strip_prefix("lab:").ok_or_else(|| {
            RunError::BadInput(format!(
                "volume source `{source}` is not a directory of the lab's: write `lab:DIR`; a lesson never mounts `/` or a host system directory"
            ))
        })?;
        let p = self.lab.scratch_path(d)?;
        let inside = p
            .canonicalize()
            .ok()
            .zip(self.lab.scratch.canonicalize().ok())
            .is_some_and(|(p, s)| p.starts_with(&s) && p != s);
        if !p.is_dir() || !inside {
            return Err(RunError::BadInput(format!(
                "volume source `{source}` is not a directory inside the lab's scratch space ({}): make it in an earlier step",
                p.display()
            )));
        }
        Ok(p)
    }

    /// The runtime volumes of `c`, whose root is `root` (`None`: the host's).
    ///
    /// # Errors
    /// [`RunError::BadInput`]: a source as in [`Runner::volume_source`], a target that is
    /// not a directory inside the root, or volumes on the host's root.
    pub fn volumes_of(
        &self,
        c: &ContainerDef,
        root: Option<&Path>,
    ) -> Result<Vec<Volume>, RunError> {
        if c.volumes.is_empty() {
            return Ok(Vec::new());
        }
        let Some(root) = root else {
            return Err(RunError::BadInput(
                "volumes need a root of the container's own (rootfs or lab:DIR): with root = \"host\" the target would be a host directory".into(),
            ));
        };
        let lab_root = c.root.starts_with("lab:");
        c.volumes
            .iter()
            .map(|v| {
                let source = self.volume_source(&v.source)?;
                if let Some(p) = target_problem(&v.target) {
                    return Err(RunError::BadInput(format!(
                        "volume target `{}` {p}",
                        v.target
                    )));
                }
                if lab_root {
                    // The lab's own tree: make the mount point (never in a shared rootfs),
                    // one directory at a time, never through a symbolic link: a link a
                    // container left in the tree could point anywhere on the host.
                    make_target_dirs(root, &v.target)?;
                }
                target_in_root(root, &v.target).map_err(RunError::BadInput)?;
                Ok(Volume::new(source, PathBuf::from(&v.target), v.read_only))
            })
            .collect()
    }

    /// `inner` (`chroot ROOT CMD`) run by a shell that first makes `c`'s volumes, as a
    /// learner would by hand in the new mount namespace: see
    /// [`Runner::volume_mount_lines`]. Unchanged without volumes.
    #[must_use]
    pub fn with_volume_mounts(
        &self,
        c: &ContainerDef,
        root: Option<&Path>,
        inner: String,
    ) -> String {
        let lines = self.volume_mount_lines(c, root);
        if lines.is_empty() {
            return inner;
        }
        let script = format!("{} && exec {inner}", lines.join(" && "));
        term::shell_join(&["sh".to_string(), "-c".to_string(), script])
    }

    /// The mount(8) lines that make `c`'s volumes in `root`: `mount --rbind SRC
    /// ROOT/TARGET`, then `mount -o remount,bind,ro ROOT/TARGET` for a read-only one.
    /// Empty without volumes.
    #[must_use]
    pub fn volume_mount_lines(&self, c: &ContainerDef, root: Option<&Path>) -> Vec<String> {
        let mut lines = Vec::new();
        for v in &c.volumes {
            let src = self
                .volume_source(&v.source)
                .map_or_else(|_| v.source.clone(), |p| p.display().to_string());
            let tgt = root.map_or_else(
                || v.target.clone(),
                |r| {
                    crate::runtime::syscalls::in_root(r, &v.target)
                        .display()
                        .to_string()
                },
            );
            lines.push(term::shell_join(&[
                "mount".into(),
                "--rbind".into(),
                src,
                tgt.clone(),
            ]));
            if v.read_only {
                lines.push(term::shell_join(&[
                    "mount".into(),
                    "-o".into(),
                    "remount,bind,ro".into(),
                    tgt,
                ]));
            }
        }
        lines
    }
}

/// Make `target` (absolute, inside `root`) and its missing parents, one `mkdir` per
/// component, refusing at the first component that is a symbolic link or not a
/// directory, so nothing is ever created outside `root`.
///
/// # Errors
/// [`RunError::BadInput`] naming the component, or the mkdir(2) error.
fn make_target_dirs(root: &Path, target: &str) -> Result<(), RunError> {
    let mut cur = root.to_path_buf();
    for comp in Path::new(target).components() {
        let std::path::Component::Normal(name) = comp else {
            continue;
        };
        cur.push(name);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(RunError::BadInput(format!(
                    "volume target `{target}` goes through a symbolic link ({}) inside the root; the lab never follows one to make a mount point",
                    cur.display()
                )));
            }
            Ok(m) if !m.is_dir() => {
                return Err(RunError::BadInput(format!(
                    "volume target `{target}`: {} is not a directory",
                    cur.display()
                )));
            }
            Ok(_) => {}
            Err(_) => std::fs::create_dir(&cur)
                .map_err(|e| RunError::BadInput(format!("cannot create {}: {e}", cur.display())))?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod make_target_tests {
    use super::*;

    #[test]
    fn a_symlink_in_the_target_is_refused_and_nothing_is_made_through_it() {
        let root = tempfile::tempdir().unwrap();
        let victim = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(victim.path(), root.path().join("evil")).unwrap();
        let err = make_target_dirs(root.path(), "/evil/made-by-lab").unwrap_err();
        assert!(
            err.to_string().contains("goes through a symbolic link"),
            "{err}"
        );
        assert!(!victim.path().join("made-by-lab").exists());
        make_target_dirs(root.path(), "/a/b").unwrap();
        assert!(root.path().join("a/b").is_dir());
    }
}
