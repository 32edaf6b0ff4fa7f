//! The `busybox` builder: one static binary that is a whole userland, plus its applet links.
//!
//! BusyBox puts `sh`, `ls`, `ps`, `mount`, `ip` and some 270 other programs ("applets") into
//! a single executable that looks at the name it was started by (`argv[0]`) to decide which
//! one to be. The tree is therefore: `/bin/busybox`, one symlink per applet pointing at it,
//! the empty mount points a container runtime fills (`proc`, `sys`, `dev`), `/tmp`, `/root`
//! and an `/etc` with a minimal `passwd` and `group`. It builds offline, in milliseconds,
//! and without root: nothing is chrooted or owned by anyone but the builder.
//!
//! The binary must be **statically linked**. A dynamic busybox (the Debian package
//! `busybox`, not `busybox-static`) names an ELF interpreter and libc, which this tree does
//! not have: exec would fail with "No such file or directory" (pitfall R3). The preflight
//! reads the ELF headers and refuses such a binary before anything is written.
//!
//! Layout: a plain tree with real `/bin`, `/sbin`, `/usr/bin` and `/usr/sbin` directories,
//! not the merged-/usr layout (`/bin -> usr/bin`) that Debian 12 hosts have. Two reasons:
//! the tree must not depend on the host it was built on (the cache key is the recipe's
//! hash, and the same recipe should give the same tree everywhere); and it is the layout
//! busybox itself reports with `busybox --list-full` (the one `busybox --install -s` makes),
//! so every applet sits where scripts look for it (`/bin/sh`, `/usr/bin/env`). The links
//! are relative (`/usr/bin/env -> ../../bin/busybox`), so they resolve inside the tree
//! whether it is seen from the host or from inside a chroot.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use super::recipe::BusyboxParams;
use super::{RootfsError, elf, say};

/// Where the binary goes inside the tree.
const TARGET: &str = "bin/busybox";
/// The default binary (Debian package `busybox-static`).
const DEFAULT_BINARY: &str = "/bin/busybox";

/// Check the host before anything is written: the binary exists, is a static ELF program,
/// and lists its applets.
pub(crate) fn preflight(params: &BusyboxParams) -> Result<(), RootfsError> {
    check_static(&params.busybox)?;
    applets(&params.busybox).map(|_| ())
}

/// Build into `tmp`.
pub(crate) fn build(
    params: &BusyboxParams,
    tmp: &Path,
    out: &mut dyn Write,
) -> Result<(), RootfsError> {
    let src = &params.busybox;
    check_static(src)?;
    let applets = applets(src)?;

    skeleton(tmp)?;
    let dest = tmp.join(TARGET);
    let bytes =
        std::fs::copy(src, &dest).map_err(|e| RootfsError::io("copy busybox to", &dest, e))?;
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| RootfsError::io("set the mode of", &dest, e))?;
    say(
        out,
        &format!(
            "copied {} (statically linked, {} KiB) to /{TARGET}",
            src.display(),
            bytes / 1024
        ),
    );

    let mut per_dir: Vec<(String, usize)> = Vec::new();
    let mut made = 0usize;
    for applet in &applets {
        let link = tmp.join(applet);
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent).map_err(|e| RootfsError::io("create", parent, e))?;
        }
        match std::os::unix::fs::symlink(link_target(applet), &link) {
            Ok(()) => {}
            // a name listed twice: the first link stands
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(RootfsError::io("create the applet link", &link, e)),
        }
        made += 1;
        let dir = applet
            .parent()
            .map(|p| format!("/{}", p.display()))
            .filter(|d| d != "/")
            .unwrap_or_else(|| "/".to_string());
        match per_dir.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, n)) => *n += 1,
            None => per_dir.push((dir, 1)),
        }
    }
    write_etc(tmp)?;
    let counts = per_dir
        .iter()
        .map(|(d, n)| format!("{n} in {d}"))
        .collect::<Vec<_>>()
        .join(", ");
    say(
        out,
        &format!(
            "made {made} applet links to /{TARGET} ({counts}): busybox runs the applet named by the link it was started through, so /bin/sh is its shell"
        ),
    );
    Ok(())
}

/// The link text for an applet at `applet` (relative to the root): a path relative to the
/// link's own directory, so it resolves inside the tree from the host too.
fn link_target(applet: &Path) -> PathBuf {
    let depth = applet.components().count().saturating_sub(1);
    if applet.parent() == Some(Path::new("bin")) {
        return PathBuf::from("busybox");
    }
    let mut target = PathBuf::new();
    for _ in 0..depth {
        target.push("..");
    }
    target.push(TARGET);
    target
}

/// Refuse a missing file, a non-ELF file, or a dynamically linked program.
fn check_static(binary: &Path) -> Result<(), RootfsError> {
    let meta = match std::fs::metadata(binary) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let tool = if binary == Path::new(DEFAULT_BINARY) {
                binary.display().to_string()
            } else {
                format!("{} (named by `busybox` in the recipe)", binary.display())
            };
            return Err(RootfsError::ToolMissing {
                tool,
                package: "busybox-static".to_string(),
            });
        }
        Err(e) => return Err(RootfsError::io("read", binary, e)),
    };
    if !meta.is_file() {
        return Err(RootfsError::NotElf {
            path: binary.to_path_buf(),
            reason: "it is not a regular file".to_string(),
        });
    }
    let needs = elf::read_needs(binary)?;
    if needs.interpreter.is_some() || !needs.needed.is_empty() {
        let mut parts = Vec::new();
        if let Some(interp) = &needs.interpreter {
            parts.push(format!("the loader {}", interp.display()));
        }
        parts.extend(needs.needed.iter().cloned());
        return Err(RootfsError::BusyboxNotStatic {
            path: binary.to_path_buf(),
            needs: parts.join(", "),
        });
    }
    Ok(())
}

/// Ask the binary for its applets: `busybox --list-full` prints one path per line, relative
/// to `/` (`bin/sh`, `usr/bin/env`, `linuxrc`). A busybox whose `--list-full` prints bare
/// names (built without the installer feature) gets them all in `/bin`. Anything that is not a plain relative
/// path is ignored, and so is `bin/busybox` itself.
fn applets(binary: &Path) -> Result<Vec<PathBuf>, RootfsError> {
    let not_busybox = |detail: String| RootfsError::NotBusybox {
        path: binary.to_path_buf(),
        detail,
    };
    let output = Command::new(binary)
        .arg("--list-full")
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| not_busybox(format!("it could not be started: {e}")))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let said = said.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(not_busybox(format!(
            "it ended with {}{}",
            output.status,
            if said.is_empty() {
                String::new()
            } else {
                format!(", saying \"{}\"", said.trim())
            }
        )));
    }
    let list = parse_applets(&String::from_utf8_lossy(&output.stdout));
    if list.is_empty() {
        return Err(not_busybox("it listed no applets".to_string()));
    }
    if !list.iter().any(|a| a == Path::new("bin/sh")) {
        return Err(not_busybox(
            "it has no `sh` applet, so the tree would have no /bin/sh".to_string(),
        ));
    }
    Ok(list)
}

fn parse_applets(text: &str) -> Vec<PathBuf> {
    // `--list-full` output has paths (and `linuxrc` at the top); plain `--list` has names.
    let full = text.lines().any(|l| l.contains('/'));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            if full {
                PathBuf::from(l)
            } else {
                Path::new("bin").join(l)
            }
        })
        .filter(|p| {
            p.components().count() <= 4
                && p.components().all(|c| matches!(c, Component::Normal(_)))
                && p != Path::new(TARGET)
        })
        .collect()
}

/// The directories every tree has, with their usual modes.
fn skeleton(root: &Path) -> Result<(), RootfsError> {
    super::make_dirs(
        root,
        &[
            ("bin", 0o755),
            ("sbin", 0o755),
            ("usr", 0o755),
            ("usr/bin", 0o755),
            ("usr/sbin", 0o755),
            ("proc", 0o555),
            ("sys", 0o555),
            ("dev", 0o755),
            ("tmp", 0o1777),
            ("root", 0o700),
            ("etc", 0o755),
        ],
    )
}

/// A minimal /etc: enough for `id`, `ls -l` and `whoami` to print names.
fn write_etc(root: &Path) -> Result<(), RootfsError> {
    super::write_files(
        root,
        &[
            (
                "etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            ),
            ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
            ("etc/hostname", "busybox\n"),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_to_their_directory() {
        assert_eq!(link_target(Path::new("bin/sh")), Path::new("busybox"));
        assert_eq!(
            link_target(Path::new("sbin/ip")),
            Path::new("../bin/busybox")
        );
        assert_eq!(
            link_target(Path::new("usr/bin/env")),
            Path::new("../../bin/busybox")
        );
        assert_eq!(link_target(Path::new("linuxrc")), Path::new("bin/busybox"));
    }

    #[test]
    fn applet_list_keeps_only_plain_relative_paths() {
        let list =
            parse_applets("bin/sh\nusr/bin/env\n\nbin/busybox\n/etc/passwd\n../x\nlinuxrc\n");
        assert_eq!(
            list,
            [
                PathBuf::from("bin/sh"),
                PathBuf::from("usr/bin/env"),
                PathBuf::from("linuxrc"),
            ]
        );
        // plain `--list`: names only, all in /bin
        assert_eq!(
            parse_applets("sh\nls\n"),
            [PathBuf::from("bin/sh"), PathBuf::from("bin/ls")]
        );
    }
}
