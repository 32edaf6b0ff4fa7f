//! A minimal `/dev` for a chrooted root: a tmpfs on `ROOT/dev` holding the host's
//! `null`, `zero`, `full`, `random`, `urandom` and `tty`, each bind-mounted onto an
//! empty file, as runc gives a container in a user namespace (and as `pivot.rs` does
//! before a pivot).
//!
//! Without it, a shell chrooted into the cached rootfs (whose `/dev` is an empty
//! directory) turns `echo hi > /dev/null` into a regular file `dev/null` in the cache,
//! and every later lesson sees it. The tmpfs is mounted in the process's own mount
//! namespace (the spec makes `minimal_dev` imply one, with `/` private), before the
//! chroot while the host's `/dev` can still be reached: from the host, `ROOT/dev` stays
//! the empty directory it was. See mount(2), tmpfs(5), mknod(2), null(4).

use std::path::Path;

use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag};

use super::spawn::SetupResult;
use super::syscalls::Syscalls;

/// The devices the minimal `/dev` holds, bind-mounted from the host's (runc's list,
/// without `/dev/pts`, `/dev/shm` and `/dev/mqueue`).
pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// Options of the tmpfs on `/dev`, as runc mounts it: mode 755, at most 64 MiB.
pub const TMPFS_OPTIONS: &str = "mode=755,size=65536k";

/// Mount a tmpfs on `root/dev` and bind each of [`DEVICES`] the host has onto an empty
/// file made there with mknod(2) (`S_IFREG`, 0666). A root without a `dev` directory
/// gets none (said in the trace), and a device the host lacks is skipped (said too).
///
/// Must run in a mount namespace of the caller's own whose `/` is private.
///
/// # Errors
/// The failing call's name and errno: `mount` (the tmpfs or a bind), `mknod`.
pub fn mount_minimal(sys: &dyn Syscalls, root: &Path) -> SetupResult {
    let dev = root.join("dev");
    if !dev.is_dir() {
        sys.note("/* the rootfs has no /dev directory: no devices are given */");
        return Ok(());
    }
    sys.note("/* a minimal /dev on a tmpfs of this mount namespace: the rootfs's stays empty */");
    sys.mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some(TMPFS_OPTIONS),
    )
    .map_err(|e| ("mount", e))?;
    for name in DEVICES {
        let host = Path::new("/dev").join(name);
        if !host.exists() {
            sys.note(&format!(
                "/* the host has no {}: skipped */",
                host.display()
            ));
            continue;
        }
        let target = dev.join(name);
        sys.mknod(&target, SFlag::S_IFREG, Mode::from_bits_truncate(0o666), 0)
            .map_err(|e| ("mknod", e))?;
        sys.mount(
            Some(&host.to_string_lossy()),
            &target,
            None,
            MsFlags::MS_BIND,
            None,
        )
        .map_err(|e| ("mount", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::RecordingSyscalls;

    #[test]
    fn a_tmpfs_on_dev_then_each_device_made_and_bound() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("dev")).unwrap();
        let sys = RecordingSyscalls::new();
        mount_minimal(&sys, dir.path()).unwrap();
        let lines: Vec<String> = sys
            .lines()
            .into_iter()
            .filter(|l| !l.starts_with("/*"))
            .collect();
        let dev = dir.path().join("dev");
        assert_eq!(
            lines[0],
            format!(
                r#"mount("tmpfs", "{}", "tmpfs", MS_NOSUID|MS_STRICTATIME, "mode=755,size=65536k") = 0"#,
                dev.display()
            )
        );
        // /dev/null exists on every host the lab runs on: made, then bound.
        assert!(
            lines[1].starts_with(&format!("mknod(\"{}/null\"", dev.display())),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with(&format!("mount(\"/dev/null\", \"{}/null\"", dev.display())),
            "{lines:?}"
        );
    }

    #[test]
    fn a_root_without_dev_gets_nothing_mounted() {
        let dir = tempfile::tempdir().unwrap();
        let sys = RecordingSyscalls::new();
        mount_minimal(&sys, dir.path()).unwrap();
        let calls: Vec<String> = sys
            .lines()
            .into_iter()
            .filter(|l| !l.starts_with("/*"))
            .collect();
        assert!(calls.is_empty(), "{calls:?}");
    }

    #[test]
    fn a_chrooted_spec_with_minimal_dev_mounts_it_before_the_chroot() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("dev")).unwrap();
        let spec = crate::runtime::ContainerSpec {
            root: Some(dir.path().to_path_buf()),
            minimal_dev: true,
            command: vec!["sh".into()],
            ..Default::default()
        };
        assert!(
            spec.effective_namespaces().mount,
            "it needs its own mount namespace"
        );
        let sys = RecordingSyscalls::new();
        crate::runtime::spawn::prepare_root(&sys, &spec).unwrap();
        let names: Vec<String> = sys
            .names()
            .into_iter()
            .filter(|n| !n.starts_with("/*"))
            .collect();
        let chroot = names.iter().position(|n| n == "chroot").expect("chroot");
        assert_eq!(names[0], "mount", "{names:?}");
        assert!(names[..chroot].contains(&"mknod".to_string()), "{names:?}");
        assert_eq!(&names[chroot..], ["chroot", "chdir"], "{names:?}");
    }
}
