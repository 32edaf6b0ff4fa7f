//! What a program needs before its first instruction runs, read from its ELF headers.
//!
//! A dynamically linked program names an *interpreter* (`PT_INTERP`, the dynamic loader
//! `/lib64/ld-linux-x86-64.so.2`) and a list of shared libraries (`DT_NEEDED`). The kernel
//! opens the interpreter at exec time: if it is missing, exec fails with ENOENT, "No such
//! file or directory", naming the program that *does* exist (pitfall R3). This module reads
//! those headers with goblin and resolves them inside a rootfs the way the loader will after
//! chroot: absolute symlinks are taken relative to the rootfs, never the host.

use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::RootfsError;

/// The two things the loader needs for one ELF file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ElfNeeds {
    /// `PT_INTERP`: the dynamic loader the kernel starts, as an absolute path; `None` for
    /// static programs and shared libraries.
    pub interpreter: Option<PathBuf>,
    /// `DT_NEEDED` entries in file order: sonames such as `libc.so.6`.
    pub needed: Vec<String>,
}

/// Everything [`resolve_in_root`] uses from one file.
struct ElfInfo {
    needs: ElfNeeds,
    rpath: Vec<String>,
    runpath: Vec<String>,
    class: u8,
    machine: u16,
}

/// Read the interpreter and `DT_NEEDED` list of the ELF file at `file` (a host path).
///
/// # Errors
/// [`RootfsError::Io`] when the file cannot be read; [`RootfsError::NotElf`] when it is not
/// an ELF file or its headers are malformed.
pub fn read_needs(file: &Path) -> Result<ElfNeeds, RootfsError> {
    read_info(file).map(|i| i.needs)
}

fn read_info(file: &Path) -> Result<ElfInfo, RootfsError> {
    let bytes = std::fs::read(file).map_err(|e| RootfsError::io("read", file, e))?;
    let not_elf = |reason: String| RootfsError::NotElf {
        path: file.to_path_buf(),
        reason,
    };
    if bytes.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err(not_elf(
            "it does not start with the ELF magic bytes".to_string(),
        ));
    }
    let elf = goblin::elf::Elf::parse(&bytes).map_err(|e| not_elf(e.to_string()))?;
    let split = |list: &[&str]| -> Vec<String> {
        list.iter()
            .flat_map(|s| s.split(':'))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    Ok(ElfInfo {
        needs: ElfNeeds {
            interpreter: elf.interpreter.map(PathBuf::from),
            needed: elf.libraries.iter().map(|s| (*s).to_string()).collect(),
        },
        rpath: split(&elf.rpaths),
        runpath: split(&elf.runpaths),
        class: bytes.get(4).copied().unwrap_or(0),
        machine: elf.header.e_machine,
    })
}

/// What the first bytes of a file say it is.
enum FileKind {
    Elf {
        class: u8,
        machine: u16,
    },
    /// `#!` script: the interpreter path (first word after `#!`).
    Script(String),
    Other,
}

fn file_kind(file: &Path) -> std::io::Result<FileKind> {
    let mut head = [0u8; 256];
    let mut f = File::open(file)?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    let head = &head[..n];
    if head.len() >= 20 && head.starts_with(b"\x7fELF") {
        let machine = if head[5] == 2 {
            u16::from_be_bytes([head[18], head[19]])
        } else {
            u16::from_le_bytes([head[18], head[19]])
        };
        return Ok(FileKind::Elf {
            class: head[4],
            machine,
        });
    }
    if let Some(rest) = head.strip_prefix(b"#!") {
        let line = rest.split(|&b| b == b'\n').next().unwrap_or(rest);
        let line = String::from_utf8_lossy(line);
        if let Some(interp) = line.split_whitespace().next() {
            return Ok(FileKind::Script(interp.to_string()));
        }
    }
    Ok(FileKind::Other)
}

/// Result of looking a path up inside a rootfs.
enum Lookup {
    /// The real location inside the root (absolute, no symlinks left).
    Found(PathBuf),
    /// `missing` (inside the root) does not exist; `via_link` when a symlink led there.
    Missing { missing: PathBuf, via_link: bool },
}

/// The host path of an in-root path.
fn host_path(root: &Path, inside: &Path) -> PathBuf {
    root.join(inside.strip_prefix("/").unwrap_or(inside))
}

/// Follow `path` inside `root` as the kernel would after `chroot(root)`: `..` stops at the
/// root, absolute symlink targets restart at the root. Never looks outside `root`.
fn lookup(root: &Path, path: &Path) -> Lookup {
    let mut todo: VecDeque<OsString> = VecDeque::new();
    push_components(&mut todo, path, false);
    let mut cur = PathBuf::from("/");
    let mut links = 0;
    let mut via_link = false;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            cur.pop();
            continue;
        }
        let next = cur.join(&c);
        let meta = match std::fs::symlink_metadata(host_path(root, &next)) {
            Ok(m) => m,
            Err(_) => {
                return Lookup::Missing {
                    missing: next,
                    via_link,
                };
            }
        };
        if meta.file_type().is_symlink() {
            links += 1;
            let target = match std::fs::read_link(host_path(root, &next)) {
                Ok(t) if links <= 40 => t,
                _ => {
                    return Lookup::Missing {
                        missing: next,
                        via_link,
                    };
                }
            };
            via_link = true;
            if target.is_absolute() {
                cur = PathBuf::from("/");
            }
            push_components(&mut todo, &target, true);
        } else if meta.is_dir() || todo.is_empty() {
            cur = next;
        } else {
            // A file where a directory was expected: ENOTDIR, reported as missing.
            return Lookup::Missing {
                missing: next.join(todo.front().cloned().unwrap_or_default()),
                via_link,
            };
        }
    }
    Lookup::Found(cur)
}

/// Queue the components of `path` for a walk that resolves symlinks one component at a
/// time (`front`: ahead of what is queued, as a symlink target must be).
pub(crate) fn push_components(todo: &mut VecDeque<OsString>, path: &Path, front: bool) {
    let parts: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    if front {
        for p in parts.into_iter().rev() {
            todo.push_front(p);
        }
    } else {
        todo.extend(parts);
    }
}

/// The loader's default directories (after `ld.so.cache`, which a fresh rootfs lacks),
/// for the multiarch triplet of `machine`.
fn default_dirs(machine: u16) -> Vec<String> {
    let triplet = match machine {
        goblin::elf::header::EM_AARCH64 => "aarch64-linux-gnu",
        goblin::elf::header::EM_386 => "i386-linux-gnu",
        goblin::elf::header::EM_RISCV => "riscv64-linux-gnu",
        goblin::elf::header::EM_PPC64 => "powerpc64le-linux-gnu",
        goblin::elf::header::EM_S390 => "s390x-linux-gnu",
        _ => "x86_64-linux-gnu",
    };
    vec![
        format!("/lib/{triplet}"),
        format!("/usr/lib/{triplet}"),
        "/lib64".to_string(),
        "/usr/lib64".to_string(),
        "/lib".to_string(),
        "/usr/lib".to_string(),
    ]
}

/// Expand `$ORIGIN` in an rpath entry; `None` for entries the loader would not use
/// (relative, or using tokens we do not expand).
fn expand_rpath(entry: &str, origin: &Path) -> Option<String> {
    let origin = origin.to_string_lossy();
    let e = entry
        .replace("${ORIGIN}", &origin)
        .replace("$ORIGIN", &origin);
    (e.starts_with('/') && !e.contains('$')).then_some(e)
}

fn normalize_program(program: &str) -> PathBuf {
    if program.starts_with('/') {
        PathBuf::from(program)
    } else {
        Path::new("/").join(program)
    }
}

/// The PATH used for a bare program name inside a rootfs (as `run_in_root` sets it).
const ROOT_PATH: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The in-root path of `program`: a path as is (relative ones from `/`), a bare name looked
/// up in the PATH directories inside the root. `Err(searched)` when a bare name is in none.
fn program_path(root: &Path, program: &str) -> Result<PathBuf, String> {
    if program.contains('/') {
        return Ok(normalize_program(program));
    }
    ROOT_PATH
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| matches!(lookup(root, p), Lookup::Found(_)))
        .ok_or_else(|| ROOT_PATH.join(":"))
}

/// One object whose `DT_NEEDED` still has to be resolved.
struct Pending {
    info: ElfInfo,
    origin: PathBuf,
}

/// Resolve what `program` (a path as seen inside `root`; a bare name is looked up in
/// /usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin, /sbin, /bin inside it) needs to
/// start, inside `root`.
///
/// Returns, in load order, `(name, location)` pairs: for a `#!` script first its interpreter
/// (name = the path on the `#!` line), then for the ELF program its `PT_INTERP` (name = that
/// path) and every `DT_NEEDED` soname, transitively, each once. A location is the path
/// *inside root* where the loader finds it (`Some("/lib/x86_64-linux-gnu/libc.so.6")`, the
/// search directory joined with the name, before symlinks), or `None` when it is not there.
/// Libraries are searched in `DT_RPATH` (when there is no `DT_RUNPATH`), `DT_RUNPATH`, then
/// /lib/TRIPLET, /usr/lib/TRIPLET, /lib64, /usr/lib64, /lib, /usr/lib; a candidate of the
/// wrong ELF class or machine is skipped, as the loader does. With `root = "/"` this
/// resolves on the host (the `host` builder uses it that way).
///
/// # Errors
/// [`RootfsError::NotInRoot`] when `program` is not in `root`; [`RootfsError::NotElf`] when
/// it is neither ELF nor a `#!` script; [`RootfsError::Io`] when a file cannot be read.
pub fn resolve_in_root(
    root: &Path,
    program: &str,
) -> Result<Vec<(String, Option<PathBuf>)>, RootfsError> {
    let prog = program_path(root, program).unwrap_or_else(|_| normalize_program(program));
    let Lookup::Found(mut real) = lookup(root, &prog) else {
        return Err(RootfsError::NotInRoot {
            path: host_path(root, &prog),
        });
    };
    let mut out: Vec<(String, Option<PathBuf>)> = Vec::new();
    // #! chains: the kernel follows up to 4 levels of script interpreters.
    let mut depth = 0;
    loop {
        let host = host_path(root, &real);
        match file_kind(&host).map_err(|e| RootfsError::io("read", &host, e))? {
            FileKind::Elf { .. } => break,
            FileKind::Script(interp) => {
                depth += 1;
                match lookup(root, Path::new(&interp)) {
                    Lookup::Found(r) if depth <= 4 => {
                        out.push((interp.clone(), Some(PathBuf::from(&interp))));
                        real = r;
                    }
                    _ => {
                        out.push((interp, None));
                        return Ok(out);
                    }
                }
            }
            FileKind::Other if depth == 0 => {
                return Err(RootfsError::NotElf {
                    path: host,
                    reason: "it is neither an ELF file nor a `#!` script".to_string(),
                });
            }
            // A script interpreter that is not a program: the kernel says ENOEXEC; nothing
            // more to resolve here.
            FileKind::Other => return Ok(out),
        }
    }

    let exe = read_info(&host_path(root, &real))?;
    if let Some(interp) = &exe.needs.interpreter {
        let found = matches!(lookup(root, interp), Lookup::Found(_));
        out.push((
            interp.to_string_lossy().into_owned(),
            found.then(|| interp.clone()),
        ));
    }
    let exe_rpath: Vec<String> = exe.rpath.clone();
    let exe_origin = real
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    let (class, machine) = (exe.class, exe.machine);
    let defaults = default_dirs(machine);

    let mut seen: HashSet<String> = HashSet::new();
    let mut queue = VecDeque::from([Pending {
        info: exe,
        origin: exe_origin.clone(),
    }]);
    while let Some(obj) = queue.pop_front() {
        let mut dirs: Vec<String> = Vec::new();
        if obj.info.runpath.is_empty() {
            dirs.extend(
                obj.info
                    .rpath
                    .iter()
                    .filter_map(|e| expand_rpath(e, &obj.origin)),
            );
            dirs.extend(
                exe_rpath
                    .iter()
                    .filter_map(|e| expand_rpath(e, &exe_origin)),
            );
        }
        dirs.extend(
            obj.info
                .runpath
                .iter()
                .filter_map(|e| expand_rpath(e, &obj.origin)),
        );
        dirs.extend(defaults.iter().cloned());

        for name in &obj.info.needs.needed {
            if !seen.insert(name.clone()) {
                continue;
            }
            let found = find_library(root, name, &dirs, class, machine);
            match found {
                Some((seen_as, real_lib)) => {
                    out.push((name.clone(), Some(seen_as.clone())));
                    let info = read_info(&host_path(root, &real_lib))?;
                    let origin = seen_as
                        .parent()
                        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
                    queue.push_back(Pending { info, origin });
                }
                None => out.push((name.clone(), None)),
            }
        }
    }
    Ok(out)
}

/// Find `name` in `dirs` inside `root`: `(path as seen, real path)`, both inside the root.
fn find_library(
    root: &Path,
    name: &str,
    dirs: &[String],
    class: u8,
    machine: u16,
) -> Option<(PathBuf, PathBuf)> {
    let candidates: Vec<PathBuf> = if name.contains('/') {
        vec![normalize_program(name)]
    } else {
        dirs.iter().map(|d| Path::new(d).join(name)).collect()
    };
    candidates.into_iter().find_map(|cand| {
        let Lookup::Found(real) = lookup(root, &cand) else {
            return None;
        };
        match file_kind(&host_path(root, &real)) {
            Ok(FileKind::Elf {
                class: c,
                machine: m,
            }) if c == class && m == machine => Some((cand, real)),
            _ => None,
        }
    })
}

/// Explain why exec of `program` chrooted at `root` said ENOENT (pitfall R3).
///
/// `program` is the path as seen inside the rootfs (a bare name is looked up in the usual
/// PATH directories inside it). Returns one sentence naming the missing path inside the
/// rootfs:
/// - `ROOT/PROGRAM does not exist` (or which symlink or directory on the way is missing);
/// - `PROGRAM exists in ROOT but its ELF interpreter INTERP is missing there: ...`;
/// - the same for a `#!` script whose interpreter is missing, or whose interpreter in turn
///   lacks its ELF interpreter;
/// - `PROGRAM exists in ROOT but the shared library NAME it needs is missing there: ...`
///   (exec then succeeds but the loader exits 127; named here because it is the next trap).
///
/// Returns `None` when nothing is missing, so the caller reports the ENOENT as it is.
#[must_use]
pub fn diagnose_enoent(root: &Path, program: &str) -> Option<String> {
    let prog = match program_path(root, program) {
        Ok(p) => p,
        Err(searched) => {
            return Some(format!(
                "`{program}` is in none of the PATH directories inside {} ({searched})",
                root.display()
            ));
        }
    };
    match lookup(root, &prog) {
        Lookup::Missing { missing, via_link } => {
            let full = host_path(root, &prog);
            Some(if missing == prog {
                format!("{} does not exist", full.display())
            } else if via_link {
                format!(
                    "{} is a symlink to something missing: {} does not exist",
                    full.display(),
                    host_path(root, &missing).display()
                )
            } else {
                format!(
                    "{} does not exist ({} is missing)",
                    full.display(),
                    host_path(root, &missing).display()
                )
            })
        }
        Lookup::Found(real) => diagnose_found(root, &prog, &real, 0),
    }
}

fn diagnose_found(root: &Path, prog: &Path, real: &Path, depth: u32) -> Option<String> {
    let rootd = root.display();
    let progd = prog.display();
    match file_kind(&host_path(root, real)).ok()? {
        FileKind::Script(interp) => match lookup(root, Path::new(&interp)) {
            Lookup::Missing { .. } => Some(format!(
                "{progd} exists in {rootd} but it is a `#!` script whose interpreter {interp} is missing there: copy {interp} (and what it needs) into {rootd}, or change the script's first line"
            )),
            Lookup::Found(r) if depth < 4 => {
                diagnose_found(root, Path::new(&interp), &r, depth + 1)
                    .map(|inner| format!("{progd} is a `#!` script run by {interp}, and {inner}"))
            }
            Lookup::Found(_) => None,
        },
        FileKind::Elf { .. } => {
            let info = read_info(&host_path(root, real)).ok()?;
            if let Some(interp) = &info.needs.interpreter
                && let Lookup::Missing { .. } = lookup(root, interp)
            {
                let interpd = interp.display();
                // Name the libraries too: once the loader is there, they are next.
                let libs: Vec<String> = resolve_in_root(root, &prog.to_string_lossy())
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|(name, at)| at.is_none() && Path::new(name) != interp.as_path())
                    .map(|(name, _)| name)
                    .collect();
                let and_libs = if libs.is_empty() {
                    String::new()
                } else {
                    format!(", and then the libraries it needs: {}", libs.join(", "))
                };
                return Some(format!(
                    "{progd} exists in {rootd} but its ELF interpreter {interpd} is missing there: copy {interpd} into {rootd}{and_libs} (the kernel reports a missing interpreter as \"No such file or directory\" for the program itself)"
                ));
            }
            let resolved = resolve_in_root(root, &prog.to_string_lossy()).ok()?;
            resolved
                .into_iter()
                .find(|(_, at)| at.is_none())
                .map(|(name, _)| {
                    format!(
                        "{progd} exists in {rootd} but the shared library {name} it needs is missing there: copy it from the host (`ldd {progd}` shows where) into {rootd}/lib or {rootd}/usr/lib"
                    )
                })
        }
        FileKind::Other => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bash_interpreter_and_libc() {
        let needs = read_needs(Path::new("/bin/bash")).unwrap();
        assert_eq!(
            needs.interpreter.as_deref(),
            Some(Path::new("/lib64/ld-linux-x86-64.so.2"))
        );
        assert!(needs.needed.iter().any(|n| n == "libc.so.6"), "{needs:?}");
    }

    #[test]
    fn non_elf_is_rejected() {
        let e = read_needs(Path::new("/etc/passwd")).unwrap_err();
        assert!(matches!(e, RootfsError::NotElf { .. }), "{e}");
    }

    #[test]
    fn resolves_bash_on_the_host_transitively() {
        let all = resolve_in_root(Path::new("/"), "/bin/bash").unwrap();
        assert_eq!(all[0].0, "/lib64/ld-linux-x86-64.so.2");
        let libc = all.iter().find(|(n, _)| n == "libc.so.6").unwrap();
        assert_eq!(
            libc.1.as_deref(),
            Some(Path::new("/lib/x86_64-linux-gnu/libc.so.6"))
        );
        assert!(all.iter().all(|(_, p)| p.is_some()), "{all:?}");
        // ls needs libselinux, which needs libpcre2: found transitively
        let ls = resolve_in_root(Path::new("/"), "/bin/ls").unwrap();
        assert!(
            ls.iter().any(|(n, _)| n.starts_with("libpcre2-8")),
            "{ls:?}"
        );
    }

    #[test]
    fn diagnose_names_the_missing_interpreter_r3() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::copy("/bin/bash", root.join("bin/bash")).unwrap();
        let msg = diagnose_enoent(root, "/bin/bash").unwrap();
        assert!(
            msg.starts_with(&format!(
                "/bin/bash exists in {} but its ELF interpreter /lib64/ld-linux-x86-64.so.2 is missing there",
                root.display()
            )),
            "{msg}"
        );

        // resolve_in_root says the same in data: nothing found
        let all = resolve_in_root(root, "/bin/bash").unwrap();
        assert_eq!(all[0], ("/lib64/ld-linux-x86-64.so.2".to_string(), None));
        assert!(all.iter().all(|(_, p)| p.is_none()));

        // a program that is not there at all
        let msg = diagnose_enoent(root, "/bin/ls").unwrap();
        assert_eq!(msg, format!("{}/bin/ls does not exist", root.display()));
        // bare names are looked up in PATH inside the root
        let msg = diagnose_enoent(root, "bash").unwrap();
        assert!(msg.contains("/bin/bash exists in"), "{msg}");
        let msg = diagnose_enoent(root, "ls").unwrap();
        assert!(
            msg.starts_with("`ls` is in none of the PATH directories inside"),
            "{msg}"
        );
    }

    #[test]
    fn diagnose_follows_symlinks_inside_the_root_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/lib64")).unwrap();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
        std::os::unix::fs::symlink("usr/lib64", root.join("lib64")).unwrap();
        std::fs::copy("/bin/bash", root.join("usr/bin/bash")).unwrap();
        // An absolute symlink to the interpreter: on the host it would resolve, but inside
        // the root it must point at ROOT/lib/..., which is missing.
        std::os::unix::fs::symlink(
            "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            root.join("usr/lib64/ld-linux-x86-64.so.2"),
        )
        .unwrap();
        let msg = diagnose_enoent(root, "/bin/bash").unwrap();
        assert!(
            msg.contains("ELF interpreter /lib64/ld-linux-x86-64.so.2 is missing"),
            "{msg}"
        );

        // copy the loader: now the missing thing is a library
        std::fs::create_dir_all(root.join("usr/lib/x86_64-linux-gnu")).unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        std::fs::copy(
            "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            root.join("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
        )
        .unwrap();
        let msg = diagnose_enoent(root, "/bin/bash").unwrap();
        assert!(msg.contains("the shared library libtinfo.so.6"), "{msg}");

        // a script whose interpreter is missing
        std::fs::write(root.join("usr/bin/hello"), "#!/bin/sh\necho hi\n").unwrap();
        let msg = diagnose_enoent(root, "/usr/bin/hello").unwrap();
        assert!(msg.contains("interpreter /bin/sh is missing"), "{msg}");
    }

    #[test]
    fn dotdot_cannot_leave_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::os::unix::fs::symlink("../../../../../../bin/bash", root.join("bin/b")).unwrap();
        // ../ at the root stays at the root, so this is ROOT/bin/bash, which is missing
        assert!(matches!(
            lookup(root, Path::new("/bin/b")),
            Lookup::Missing { .. }
        ));
        assert!(diagnose_enoent(root, "/bin/b").unwrap().contains("symlink"));
    }
}
