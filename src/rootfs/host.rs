//! The `host` builder: a rootfs made of the host's own programs, in about a second, offline.
//!
//! Copying `/usr/bin/python3` alone gives a tree where exec fails with ENOENT: the program
//! also needs its ELF interpreter and every shared library it links, and Python needs its
//! standard library. This builder copies each program at its own path, recreates every
//! symlink met on the way exactly as the host has it (`/bin -> usr/bin`,
//! `python3 -> python3.11`, `/etc/alternatives/which`), and adds what the ELF headers say
//! is needed, transitively. Files are copied, never hard-linked, so writing in the rootfs
//! never changes the host.

use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::recipe::HostParams;
use super::{RootfsError, elf, say};

/// Directories under the Python standard library that are never copied.
const STDLIB_SKIP: [&str; 5] = ["test", "__pycache__", "idlelib", "tkinter", "ensurepip"];

/// Build the tree for `params` into the empty directory `root`.
pub(crate) fn build(
    params: &HostParams,
    root: &Path,
    out: &mut dyn Write,
) -> Result<(), RootfsError> {
    let mut c = Copier::new(root);
    skeleton(root)?;

    // Merged-/usr top-level symlinks, exactly as the host has them.
    for top in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
        let host = Path::new("/").join(top);
        if std::fs::symlink_metadata(&host).is_ok_and(|m| m.file_type().is_symlink()) {
            c.copy_path(&host)?;
        }
    }

    let required: HashSet<&str> = params.required.iter().map(String::as_str).collect();
    let mut wanted: Vec<&str> = params.binaries.iter().map(String::as_str).collect();
    for r in &params.required {
        if !wanted.contains(&r.as_str()) {
            wanted.push(r);
        }
    }

    let mut programs: Vec<PathBuf> = Vec::new();
    let mut libraries: HashSet<PathBuf> = HashSet::new();
    for name in wanted {
        let Some(found) = locate(name, &params.search_path) else {
            if required.contains(name) {
                return Err(RootfsError::HostProgramMissing {
                    program: name.to_string(),
                    search_path: params.search_path.clone(),
                    package: package_for(name).map(str::to_string),
                });
            }
            say(
                out,
                &format!(
                    "skipped `{name}`: not found in {} (optional)",
                    params.search_path
                ),
            );
            continue;
        };
        c.copy_path(&found)?;
        for (lib, at) in elf::resolve_in_root(Path::new("/"), &found.to_string_lossy())? {
            let Some(at) = at else {
                return Err(RootfsError::LibraryMissing {
                    program: found,
                    library: lib,
                });
            };
            c.copy_path(&at)?;
            libraries.insert(at);
        }
        programs.push(found);
    }

    let mut python_note = String::new();
    if params.python_stdlib {
        let python = programs.iter().find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("python3"))
        });
        match python {
            None => say(
                out,
                "python_stdlib ignored: no python3 among the copied programs",
            ),
            Some(python) => {
                let stdlib = python_stdlib_dir(python)?;
                let missing = copy_stdlib(&mut c, &stdlib, &mut libraries)?;
                for (module, lib) in &missing {
                    say(
                        out,
                        &format!(
                            "note: python module {module} needs {lib}, which this host does not have either; importing it will fail"
                        ),
                    );
                }
                python_note = format!(", the standard library {}", stdlib.display());
            }
        }
    }

    write_etc(root)?;
    say(
        out,
        &format!(
            "copied {} files ({:.1} MB): {} programs, {} shared libraries{python_note}",
            c.files,
            c.bytes as f64 / 1_000_000.0,
            programs.len(),
            libraries.len(),
        ),
    );
    Ok(())
}

/// Empty directories every rootfs has, with the modes a Debian system gives them.
fn skeleton(root: &Path) -> Result<(), RootfsError> {
    super::make_dirs(
        root,
        &[
            ("proc", 0o555),
            ("sys", 0o555),
            ("dev", 0o755),
            ("tmp", 0o1777),
            ("root", 0o700),
            ("etc", 0o755),
            ("run", 0o755),
        ],
    )
}

/// A minimal /etc: root only, and a hostname.
fn write_etc(root: &Path) -> Result<(), RootfsError> {
    super::write_files(
        root,
        &[
            ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
            ("etc/group", "root:x:0:\n"),
            ("etc/hostname", "fromscratch\n"),
        ],
    )
}

/// Find a program: an absolute path as is, a name in `search_path`.
fn locate(name: &str, search_path: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        let p = PathBuf::from(name);
        return std::fs::metadata(&p)
            .is_ok_and(|m| m.is_file())
            .then_some(p);
    }
    which::which_in(name, Some(search_path), "/").ok()
}

/// The Debian package providing a program, for error messages.
pub(crate) fn package_for(program: &str) -> Option<&'static str> {
    let base = program.rsplit('/').next().unwrap_or(program);
    Some(match base {
        "sh" | "dash" => "dash",
        "bash" => "bash",
        "ls" | "cat" | "echo" | "mkdir" | "rm" | "cp" | "mv" | "ln" | "touch" | "head" | "tail"
        | "wc" | "sleep" | "env" | "id" | "uname" | "readlink" | "stat" | "df" | "true"
        | "false" | "test" | "sort" | "tr" | "cut" | "du" | "pwd" | "chroot" | "nproc" | "tee"
        | "date" | "chmod" | "chown" | "basename" | "dirname" => "coreutils",
        "grep" => "grep",
        "sed" => "sed",
        "hostname" => "hostname",
        "ps" | "kill" | "free" | "top" | "pgrep" | "pkill" | "uptime" | "watch" => "procps",
        "mount" | "umount" | "losetup" | "swapon" => "mount",
        "unshare" | "nsenter" | "chrt" | "setsid" | "lsns" | "findmnt" => "util-linux",
        "python3" => "python3",
        "find" | "xargs" => "findutils",
        "which" => "debianutils",
        "ip" => "iproute2",
        "ping" => "iputils-ping",
        "busybox" => "busybox-static",
        "tar" => "tar",
        "gzip" => "gzip",
        "less" => "less",
        _ if base.starts_with("python3.") => "python3",
        _ => return None,
    })
}

/// `/usr/lib/python3.X` for the interpreter at `python` (a host path).
fn python_stdlib_dir(python: &Path) -> Result<PathBuf, RootfsError> {
    let real = std::fs::canonicalize(python).map_err(|e| RootfsError::io("resolve", python, e))?;
    let prefix = real
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("/usr"), Path::to_path_buf);
    let libdir = prefix.join("lib");
    let file_name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Debian: python3 -> python3.11, library in /usr/lib/python3.11
    let by_name = libdir.join(&file_name);
    if file_name.starts_with("python3.") && by_name.join("os.py").is_file() {
        return Ok(by_name);
    }
    // Otherwise the one python3.N directory holding os.py.
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(&libdir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("python3."))
                        && p.join("os.py").is_file()
                })
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    if candidates.len() == 1 {
        return Ok(candidates.remove(0));
    }
    Err(RootfsError::PythonStdlib {
        python: python.to_path_buf(),
        looked: by_name,
    })
}

/// Copy the standard library at `stdlib` and what its extension modules need.
/// Returns `(module, library)` pairs for libraries the host itself lacks.
fn copy_stdlib(
    c: &mut Copier<'_>,
    stdlib: &Path,
    libraries: &mut HashSet<PathBuf>,
) -> Result<Vec<(String, String)>, RootfsError> {
    let mut missing = Vec::new();
    let walker = walkdir::WalkDir::new(stdlib)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| {
            if e.depth() == 0 || !e.file_type().is_dir() {
                return true;
            }
            let n = e.file_name().to_string_lossy();
            !(STDLIB_SKIP.contains(&n.as_ref()) || n.starts_with("config-"))
        });
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e
                .path()
                .map_or_else(|| stdlib.to_path_buf(), Path::to_path_buf);
            RootfsError::io("walk", &path, std::io::Error::other(e.to_string()))
        })?;
        let path = entry.path();
        c.copy_path(path)?;
        let is_ext = entry.file_type().is_file()
            && path.parent().is_some_and(|p| p.ends_with("lib-dynload"))
            && path.extension().is_some_and(|x| x == "so");
        if !is_ext {
            continue;
        }
        for (lib, at) in elf::resolve_in_root(Path::new("/"), &path.to_string_lossy())? {
            match at {
                Some(at) => {
                    c.copy_path(&at)?;
                    libraries.insert(at);
                }
                None => {
                    let module = entry.file_name().to_string_lossy();
                    let module = module.split('.').next().unwrap_or_default().to_string();
                    missing.push((module, lib));
                }
            }
        }
    }
    Ok(missing)
}

/// Recreates host paths inside a root: symlinks as symlinks, files as copies.
struct Copier<'a> {
    root: &'a Path,
    /// Host paths already materialised (real directories and files).
    done: HashSet<PathBuf>,
    files: u64,
    bytes: u64,
}

impl<'a> Copier<'a> {
    fn new(root: &'a Path) -> Self {
        Self {
            root,
            done: HashSet::new(),
            files: 0,
            bytes: 0,
        }
    }

    fn dest(&self, host: &Path) -> PathBuf {
        self.root.join(host.strip_prefix("/").unwrap_or(host))
    }

    /// Make the absolute host path `path` exist in the root: walk it component by
    /// component; each symlink met is recreated with the same target and then followed;
    /// each directory is created (same mode); the file it finally names is copied (mode
    /// kept, setuid/setgid dropped). Sockets, fifos and devices are not copied.
    fn copy_path(&mut self, path: &Path) -> Result<(), RootfsError> {
        let mut todo: VecDeque<OsString> = VecDeque::new();
        elf::push_components(&mut todo, path, false);
        let mut cur = PathBuf::from("/");
        let mut links = 0;
        while let Some(comp) = todo.pop_front() {
            if comp == ".." {
                cur.pop();
                continue;
            }
            let next = cur.join(&comp);
            if self.done.contains(&next) {
                cur = next;
                continue;
            }
            let dest = self.dest(&next);
            let meta = std::fs::symlink_metadata(&next)
                .map_err(|e| RootfsError::io("inspect", &next, e))?;
            let ft = meta.file_type();
            if ft.is_symlink() {
                links += 1;
                if links > 40 {
                    return Err(RootfsError::io(
                        "resolve",
                        path,
                        std::io::Error::from_raw_os_error(libc::ELOOP),
                    ));
                }
                let target =
                    std::fs::read_link(&next).map_err(|e| RootfsError::io("read", &next, e))?;
                if std::fs::symlink_metadata(&dest).is_err() {
                    std::os::unix::fs::symlink(&target, &dest)
                        .map_err(|e| RootfsError::io("create the symlink", &dest, e))?;
                }
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                }
                elf::push_components(&mut todo, &target, true);
            } else if ft.is_dir() {
                match std::fs::create_dir(&dest) {
                    Ok(()) => {
                        let mode = meta.permissions().mode() & 0o1777;
                        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode))
                            .map_err(|e| RootfsError::io("set the mode of", &dest, e))?;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(RootfsError::io("create", &dest, e)),
                }
                self.done.insert(next.clone());
                cur = next;
            } else if ft.is_file() {
                if !todo.is_empty() {
                    return Err(RootfsError::io(
                        "resolve",
                        path,
                        std::io::Error::from_raw_os_error(libc::ENOTDIR),
                    ));
                }
                let n = std::fs::copy(&next, &dest)
                    .map_err(|e| RootfsError::io("copy a file to", &dest, e))?;
                let mode = meta.permissions().mode() & 0o1777;
                std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| RootfsError::io("set the mode of", &dest, e))?;
                self.files += 1;
                self.bytes += n;
                self.done.insert(next.clone());
                cur = next;
            } else {
                return Ok(());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_a_program_with_its_symlinks_and_libraries() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let params = HostParams {
            binaries: vec!["sh".into(), "no-such-program-xyz".into()],
            required: vec!["sh".into()],
            python_stdlib: false,
            search_path: crate::rootfs::DEFAULT_SEARCH_PATH.into(),
        };
        let mut out = Vec::new();
        build(&params, root, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("skipped `no-such-program-xyz`"), "{out}");
        // /usr/bin/sh -> dash recreated as a symlink, dash copied
        let sh = root.join("usr/bin/sh");
        assert_eq!(
            std::fs::read_link(&sh).unwrap(),
            std::fs::read_link("/usr/bin/sh").unwrap()
        );
        assert!(root.join("usr/bin/dash").is_file());
        // the host's merged-/usr links, exactly
        for top in ["bin", "lib", "lib64", "sbin"] {
            if let Ok(t) = std::fs::read_link(Path::new("/").join(top)) {
                assert_eq!(std::fs::read_link(root.join(top)).unwrap(), t, "{top}");
            }
        }
        // nothing missing for sh inside the new root
        assert_eq!(elf::diagnose_enoent(root, "/bin/sh"), None);
        // copies, not hard links
        use std::os::unix::fs::MetadataExt;
        let a = std::fs::metadata(root.join("usr/bin/dash")).unwrap();
        let b = std::fs::metadata("/usr/bin/dash").unwrap();
        assert!(a.ino() != b.ino() || a.dev() != b.dev());
        assert_eq!(
            std::fs::metadata(root.join("tmp"))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777,
            0o1777
        );
    }

    #[test]
    fn a_missing_required_program_names_its_package() {
        let dir = tempfile::tempdir().unwrap();
        let params = HostParams {
            binaries: vec![],
            required: vec!["ps".into()],
            python_stdlib: false,
            search_path: "/nonexistent".into(),
        };
        let e = build(&params, dir.path(), &mut std::io::sink()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("`ps` is not installed"), "{msg}");
        assert!(msg.contains("apt-get install procps"), "{msg}");
        use crate::error::Classify;
        assert_eq!(e.exit_code(), 3);
    }
}
