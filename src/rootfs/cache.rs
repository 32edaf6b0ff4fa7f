//! The rootfs cache: `cache_dir()/rootfs/<name>-<hash>/` trees with a `<name>-<hash>.json`
//! metadata file beside each, written after the tree is renamed into place.
//!
//! Deleting a tree is the dangerous part of this module: a rootfs is full of absolute
//! symlinks (`/bin -> usr/bin`, `/etc/alternatives/...`) and a crashed debootstrap may
//! leave `proc` or `sys` mounted inside it. Removal therefore never follows a symlink,
//! never crosses into another filesystem, refuses anything not strictly inside the cache,
//! and refuses a tree with a mount under it.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{RootfsError, now_unix, say};

/// One built rootfs in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// The recipe name.
    pub name: String,
    /// The builder that made it: `host`, `debian`, `mmdebstrap`, `debootstrap`, `dnf`,
    /// `busybox`, `oci-archive` or `docker-archive`.
    pub builder: String,
    /// The recipe hash (16 hex digits).
    pub hash: String,
    /// The tree: `cache_dir()/rootfs/<name>-<hash>/`.
    pub path: PathBuf,
    /// Apparent size of the tree: the sum of file and symlink sizes, in bytes (mounts and
    /// symlinks are not followed).
    pub size_bytes: u64,
    /// Time since the build finished.
    pub age: Duration,
}

/// The metadata file written beside each tree.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    name: String,
    builder: String,
    hash: String,
    /// Unix seconds.
    built_at: u64,
}

/// `cache_dir()/rootfs`, made absolute (lexically, without resolving symlinks).
pub(crate) fn rootfs_cache() -> PathBuf {
    let dir = crate::paths::cache_dir().join("rootfs");
    std::path::absolute(&dir).unwrap_or(dir)
}

fn meta_path(cache_root: &Path, entry: &str) -> PathBuf {
    cache_root.join(format!("{entry}.json"))
}

fn read_meta(path: &Path) -> Option<Meta> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// True when `cache_root/entry/` is a directory and its metadata names `hash`.
pub(crate) fn is_complete(cache_root: &Path, entry: &str, hash: &str) -> bool {
    let tree_ok = std::fs::symlink_metadata(cache_root.join(entry)).is_ok_and(|m| m.is_dir());
    tree_ok && read_meta(&meta_path(cache_root, entry)).is_some_and(|m| m.hash == hash)
}

/// Write `<entry>.json` atomically (temporary file, then rename).
pub(crate) fn write_meta(
    cache_root: &Path,
    entry: &str,
    name: &str,
    builder: &str,
    hash: &str,
) -> Result<(), RootfsError> {
    let meta = Meta {
        name: name.to_string(),
        builder: builder.to_string(),
        hash: hash.to_string(),
        built_at: now_unix(),
    };
    let path = meta_path(cache_root, entry);
    let tmp = cache_root.join(format!(".tmp-{entry}.json.{}", std::process::id()));
    let text = serde_json::to_string_pretty(&meta).unwrap_or_default() + "\n";
    std::fs::write(&tmp, text).map_err(|e| RootfsError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        RootfsError::io("write", &path, e)
    })
}

/// Every cached rootfs, sorted by name then age (newest first).
///
/// Also removes temporary build trees left by processes that died (as [`super::build`]
/// does). Trees without metadata (a crash between rename and metadata write) are not
/// listed; the next build of that recipe replaces them.
///
/// # Errors
/// [`RootfsError::Io`] when the cache directory exists but cannot be read.
pub fn list() -> Result<Vec<CacheEntry>, RootfsError> {
    let cache_root = rootfs_cache();
    clean_stale(&cache_root, &mut std::io::sink());
    let mut entries = Vec::new();
    for (entry, meta) in metas(&cache_root)? {
        let path = cache_root.join(&entry);
        let Ok(m) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !m.is_dir() {
            continue;
        }
        let age = Duration::from_secs(now_unix().saturating_sub(meta.built_at));
        entries.push(CacheEntry {
            name: meta.name,
            builder: meta.builder,
            hash: meta.hash,
            size_bytes: tree_size(&path),
            path,
            age,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name).then(a.age.cmp(&b.age)));
    Ok(entries)
}

/// `(entry name, metadata)` for every `*.json` in the cache.
fn metas(cache_root: &Path) -> Result<Vec<(String, Meta)>, RootfsError> {
    let rd = match std::fs::read_dir(cache_root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RootfsError::io("read the cache directory", cache_root, e)),
    };
    let mut out = Vec::new();
    for dirent in rd.filter_map(Result::ok) {
        let fname = dirent.file_name().to_string_lossy().into_owned();
        if fname.starts_with('.') {
            continue;
        }
        let Some(entry) = fname.strip_suffix(".json") else {
            continue;
        };
        if let Some(meta) = read_meta(&dirent.path()) {
            out.push((entry.to_string(), meta));
        }
    }
    Ok(out)
}

fn tree_size(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .follow_links(false)
        .same_file_system(true)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| !m.is_dir())
        .map(|m| m.len())
        .sum()
}

/// Remove the cached trees of recipe `name_or_hash` (every hash), or the one tree whose
/// hash (or `<name>-<hash>` directory name) is `name_or_hash`, with their metadata.
///
/// Returns the tree paths removed.
///
/// # Errors
/// [`RootfsError::NotCached`] when nothing matches; [`RootfsError::Mounted`] when a tree
/// still has a filesystem mounted inside (nothing of that tree is deleted);
/// [`RootfsError::Io`] when deletion fails.
pub fn remove(name_or_hash: &str) -> Result<Vec<PathBuf>, RootfsError> {
    let cache_root = rootfs_cache();
    clean_stale(&cache_root, &mut std::io::sink());
    let mut targets: Vec<String> = metas(&cache_root)?
        .into_iter()
        .filter(|(entry, m)| {
            m.name == name_or_hash || m.hash == name_or_hash || entry == name_or_hash
        })
        .map(|(entry, _)| entry)
        .collect();
    // Trees whose metadata was never written: `<name>-<16 hex>`.
    if let Ok(rd) = std::fs::read_dir(&cache_root) {
        for dirent in rd.filter_map(Result::ok) {
            let fname = dirent.file_name().to_string_lossy().into_owned();
            if fname.starts_with('.') || fname.ends_with(".json") || targets.contains(&fname) {
                continue;
            }
            if let Some((name, hash)) = fname.rsplit_once('-')
                && hash.len() == 16
                && hash.chars().all(|c| c.is_ascii_hexdigit())
                && (name == name_or_hash || hash == name_or_hash || fname == name_or_hash)
            {
                targets.push(fname);
            }
        }
    }
    if targets.is_empty() {
        return Err(RootfsError::NotCached {
            what: name_or_hash.to_string(),
        });
    }
    targets.sort();
    let mut removed = Vec::new();
    for entry in targets {
        let path = cache_root.join(&entry);
        remove_entry(&path)?;
        removed.push(path);
    }
    Ok(removed)
}

/// Remove one cache entry: its metadata first (so a half-deleted tree is never listed as
/// complete), then the tree.
pub(crate) fn remove_entry(tree: &Path) -> Result<(), RootfsError> {
    check_inside_cache(tree)?;
    check_no_mounts(tree)?;
    if let (Some(parent), Some(name)) = (tree.parent(), tree.file_name()) {
        let meta = meta_path(parent, &name.to_string_lossy());
        match std::fs::remove_file(&meta) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(RootfsError::io("remove", &meta, e)),
        }
    }
    remove_tree(tree)
}

/// Refuse a cache directory that leads, through symlinks, into the host's own system
/// directories (`/`, `/usr`, `/etc`…, see `commands::is_host_system_dir`): a build there
/// would write into the host. The deepest existing ancestor is resolved, the rest kept.
///
/// # Errors
/// [`RootfsError::CacheInHostSystem`].
pub(crate) fn check_not_host_system(cache_root: &Path) -> Result<(), RootfsError> {
    let abs = std::path::absolute(cache_root).unwrap_or_else(|_| cache_root.to_path_buf());
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    let resolved = loop {
        if let Ok(c) = existing.canonicalize() {
            break rest.iter().rev().fold(c, |p: PathBuf, n| p.join(n));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return Ok(()),
        }
    };
    // The cache's own tree, or any directory on the way to it, being a host system
    // directory: `/usr/x/rootfs` is refused, `/var/cache/fromscratch/rootfs` is not.
    if resolved
        .ancestors()
        .any(|a| a != Path::new("/") && crate::commands::is_host_system_dir(a) && !ok_parent(a))
        || crate::commands::is_host_system_dir(&resolved)
    {
        return Err(RootfsError::CacheInHostSystem {
            path: cache_root.to_path_buf(),
            resolved,
        });
    }
    Ok(())
}

/// Host directories a cache may lie below (its own subdirectory), though never be.
fn ok_parent(a: &Path) -> bool {
    [
        "/var",
        "/var/cache",
        "/var/tmp",
        "/var/lib",
        "/tmp",
        "/home",
        "/root",
        "/run",
        "/srv",
        "/opt",
        "/mnt",
        "/media",
        "/run/user",
    ]
    .iter()
    .any(|d| a == Path::new(d))
}

/// Refuse any path that is not exactly `rootfs_cache()/<one normal component>`.
fn check_inside_cache(path: &Path) -> Result<(), RootfsError> {
    let cache = rootfs_cache();
    let refuse = || RootfsError::OutsideCache {
        path: path.to_path_buf(),
        cache: cache.clone(),
    };
    let abs = std::path::absolute(path).map_err(|_| refuse())?;
    let rest = abs.strip_prefix(&cache).map_err(|_| refuse())?;
    let mut comps = rest.components();
    match (comps.next(), comps.next()) {
        (Some(Component::Normal(_)), None) => Ok(()),
        _ => Err(refuse()),
    }
}

/// Refuse when anything is mounted at or below `tree` (per /proc/self/mountinfo).
fn check_no_mounts(tree: &Path) -> Result<(), RootfsError> {
    let abs = std::path::absolute(tree).unwrap_or_else(|_| tree.to_path_buf());
    // Mount points are listed by their real paths: compare against the canonical path too
    // (read-only use of canonicalize; deletion always goes through `tree` itself).
    // A symlink entry is only unlinked, which touches nothing mounted anywhere: never
    // resolve it (a link to `/` would "contain" every mount).
    let real_dir = std::fs::symlink_metadata(tree).is_ok_and(|m| m.is_dir());
    let canon = real_dir.then(|| std::fs::canonicalize(tree).ok()).flatten();
    for m in mounts() {
        let hit = m.mount_point.starts_with(&abs)
            || canon.as_ref().is_some_and(|c| m.mount_point.starts_with(c));
        if hit {
            return Err(RootfsError::Mounted {
                path: tree.to_path_buf(),
                mount_point: m.mount_point,
            });
        }
    }
    Ok(())
}

/// Delete the tree at `path`, which must be strictly inside the cache.
///
/// Walks with `symlink_metadata`: symlinks are unlinked, never followed; a directory on
/// another device (a mount the mountinfo check missed) stops the walk with an error.
pub(crate) fn remove_tree(path: &Path) -> Result<(), RootfsError> {
    check_inside_cache(path)?;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(RootfsError::io("inspect", path, e)),
    };
    if !meta.is_dir() {
        return std::fs::remove_file(path).map_err(|e| RootfsError::io("remove", path, e));
    }
    check_no_mounts(path)?;
    remove_dir_contents(path, path, meta.dev())?;
    std::fs::remove_dir(path).map_err(|e| RootfsError::io("remove", path, e))
}

fn remove_dir_contents(top: &Path, dir: &Path, dev: u64) -> Result<(), RootfsError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            // Our own tree with a read-only directory (e.g. a 0555 `proc`): open it up.
            make_writable(dir)?;
            std::fs::read_dir(dir).map_err(|e| RootfsError::io("read", dir, e))?
        }
        Err(e) => return Err(RootfsError::io("read", dir, e)),
    };
    for dirent in rd {
        let dirent = dirent.map_err(|e| RootfsError::io("read", dir, e))?;
        let p = dirent.path();
        let m = std::fs::symlink_metadata(&p).map_err(|e| RootfsError::io("inspect", &p, e))?;
        if m.is_dir() {
            if m.dev() != dev {
                return Err(RootfsError::Mounted {
                    path: top.to_path_buf(),
                    mount_point: p,
                });
            }
            remove_dir_contents(top, &p, dev)?;
            remove_retrying(&p, dir, |x| std::fs::remove_dir(x))?;
        } else {
            // Files, symlinks, device nodes, sockets, fifos: unlink the entry itself.
            remove_retrying(&p, dir, |x| std::fs::remove_file(x))?;
        }
    }
    Ok(())
}

fn remove_retrying(
    p: &Path,
    parent: &Path,
    op: fn(&Path) -> std::io::Result<()>,
) -> Result<(), RootfsError> {
    match op(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            make_writable(parent)?;
            op(p).map_err(|e| RootfsError::io("remove", p, e))
        }
        Err(e) => Err(RootfsError::io("remove", p, e)),
    }
}

fn make_writable(dir: &Path) -> Result<(), RootfsError> {
    let m = std::fs::symlink_metadata(dir).map_err(|e| RootfsError::io("inspect", dir, e))?;
    if !m.is_dir() {
        return Err(RootfsError::io(
            "open up",
            dir,
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        ));
    }
    let mode = m.permissions().mode() | 0o700;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .map_err(|e| RootfsError::io("make writable", dir, e))
}

/// Remove `.tmp-<name>-<pid>` trees (and `.tmp-*.json.<pid>` files) whose process is gone.
///
/// A build that was interrupted (Ctrl-C while debootstrap ran, kill -9) leaves its temp
/// tree behind; the next build or list removes it. A tree that still has a mount inside is
/// left in place with a note on `out`.
pub(crate) fn clean_stale(cache_root: &Path, out: &mut dyn Write) {
    let Ok(rd) = std::fs::read_dir(cache_root) else {
        return;
    };
    let me = std::process::id();
    for dirent in rd.filter_map(Result::ok) {
        let fname = dirent.file_name().to_string_lossy().into_owned();
        let Some(rest) = fname.strip_prefix(".tmp-") else {
            continue;
        };
        let pid_text = rest.rsplit(['-', '.']).next().unwrap_or_default();
        let Ok(pid) = pid_text.parse::<u32>() else {
            continue;
        };
        if pid == me || process_alive(pid) {
            continue;
        }
        let path = cache_root.join(&fname);
        match remove_tree(&path) {
            Ok(()) => say(
                out,
                &format!(
                    "removed {} left by an interrupted build (process {pid} is gone)",
                    path.display()
                ),
            ),
            Err(e) => say(out, &format!("could not remove a stale build: {e}")),
        }
    }
}

fn process_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) => true,
        Err(nix::errno::Errno::ESRCH) => false,
        Err(_) => true, // EPERM: it exists, owned by someone else
    }
}

/// One line of /proc/self/mountinfo, the parts we use.
#[derive(Debug, Clone)]
pub(crate) struct MountInfo {
    pub(crate) mount_point: PathBuf,
    /// Per-mount options (field 6), e.g. `rw,nosuid,noexec,relatime`.
    pub(crate) options: String,
}

/// The current mount table; empty when /proc is not mounted.
pub(crate) fn mounts() -> Vec<MountInfo> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|t| parse_mountinfo(&t))
        .unwrap_or_default()
}

fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let mount_point = fields.get(4)?;
            let options = fields.get(5)?;
            Some(MountInfo {
                mount_point: PathBuf::from(unescape_octal(mount_point)),
                options: (*options).to_string(),
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\NNN` octal.
fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            d.iter()
                .all(|b| (b'0'..=b'7').contains(b))
                .then(|| d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0')))
        });
        if bytes[i] == b'\\'
            && let Some(v) = octal.and_then(|v| u8::try_from(v).ok())
        {
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount holding `path` (the longest mount point that is a prefix of its real path).
fn mount_of(path: &Path, table: &[MountInfo]) -> Option<MountInfo> {
    // canonicalize the nearest existing ancestor: mount points are real paths
    let mut probe = path.to_path_buf();
    let real = loop {
        if let Ok(r) = std::fs::canonicalize(&probe) {
            break r;
        }
        if !probe.pop() {
            return None;
        }
    };
    table
        .iter()
        .filter(|m| real.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len())
        .cloned()
}

/// Pitfall R2: refuse to build on a filesystem mounted `noexec`.
pub(crate) fn check_exec_mount(dir: &Path) -> Result<(), RootfsError> {
    if let Some(m) = mount_of(dir, &mounts())
        && m.options.split(',').any(|o| o == "noexec")
    {
        return Err(RootfsError::NoexecMount {
            path: dir.to_path_buf(),
            mount_point: m.mount_point,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Classify;

    /// Point the cache at a fresh temp dir. Tests run one per process under nextest.
    fn temp_cache() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        #[allow(unsafe_code)]
        // SAFETY: nextest runs each test in its own process; no other thread reads the env.
        unsafe {
            std::env::set_var("FROMSCRATCH_CACHE", dir.path());
        }
        dir
    }

    #[test]
    fn remove_refuses_paths_outside_the_cache() {
        let _cache = temp_cache();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("precious"), "keep").unwrap();
        for p in [
            outside.path().to_path_buf(),
            rootfs_cache(),
            rootfs_cache().join("a/b"),
            rootfs_cache().join(".."),
            rootfs_cache().join("../rootfs/x/.."),
            PathBuf::from("/"),
        ] {
            let e = remove_tree(&p).unwrap_err();
            assert!(matches!(e, RootfsError::OutsideCache { .. }), "{p:?}: {e}");
            assert_eq!(e.exit_code(), 2);
        }
        assert!(outside.path().join("precious").exists());
    }

    #[test]
    fn remove_does_not_follow_symlinks_out_of_the_tree() {
        let _cache = temp_cache();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(outside.path().join("dir")).unwrap();
        std::fs::write(outside.path().join("dir/precious"), "keep").unwrap();
        std::fs::write(outside.path().join("file"), "keep").unwrap();

        let cache_root = rootfs_cache();
        let tree = cache_root.join("evil-0123456789abcdef");
        std::fs::create_dir_all(tree.join("usr/lib")).unwrap();
        std::fs::write(tree.join("usr/lib/x"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), tree.join("escape")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("dir"), tree.join("usr/lib/escape2"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path().join("file"), tree.join("f")).unwrap();
        std::os::unix::fs::symlink("../../../../../../..", tree.join("up")).unwrap();
        write_meta(
            &cache_root,
            "evil-0123456789abcdef",
            "evil",
            "host",
            "0123456789abcdef",
        )
        .unwrap();

        let removed = remove("evil").unwrap();
        assert_eq!(removed, vec![tree.clone()]);
        assert!(!tree.exists());
        assert!(!cache_root.join("evil-0123456789abcdef.json").exists());
        assert_eq!(
            std::fs::read_to_string(outside.path().join("dir/precious")).unwrap(),
            "keep"
        );
        assert_eq!(
            std::fs::read_to_string(outside.path().join("file")).unwrap(),
            "keep"
        );
    }

    #[test]
    fn a_symlinked_entry_is_unlinked_not_followed() {
        let _cache = temp_cache();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("precious"), "keep").unwrap();
        let cache_root = rootfs_cache();
        std::fs::create_dir_all(&cache_root).unwrap();
        let entry = cache_root.join("sneaky-0123456789abcdef");
        std::os::unix::fs::symlink(outside.path(), &entry).unwrap();
        let removed = remove("sneaky").unwrap();
        assert_eq!(removed, vec![entry.clone()]);
        assert!(std::fs::symlink_metadata(&entry).is_err());
        assert!(outside.path().join("precious").exists());
    }

    #[test]
    fn unknown_entry_is_exit_2() {
        let _cache = temp_cache();
        let e = remove("nothing-here").unwrap_err();
        assert!(matches!(e, RootfsError::NotCached { .. }));
        assert_eq!(e.exit_code(), 2);
        assert!(list().unwrap().is_empty());
    }

    #[test]
    fn stale_temp_trees_of_dead_processes_are_removed() {
        let _cache = temp_cache();
        let cache_root = rootfs_cache();
        // a pid that cannot exist (above pid_max's ceiling of 2^22)
        let stale = cache_root.join(".tmp-host-99999999");
        std::fs::create_dir_all(stale.join("usr/bin")).unwrap();
        let live = cache_root.join(format!(".tmp-host-{}", std::process::id()));
        std::fs::create_dir_all(&live).unwrap();
        let mut out = Vec::new();
        clean_stale(&cache_root, &mut out);
        assert!(!stale.exists());
        assert!(live.exists());
        assert!(String::from_utf8_lossy(&out).contains("interrupted build"));
    }

    #[test]
    fn list_reads_metadata_and_sizes() {
        let _cache = temp_cache();
        let cache_root = rootfs_cache();
        let tree = cache_root.join("t-00000000000000aa");
        std::fs::create_dir_all(tree.join("etc")).unwrap();
        std::fs::write(tree.join("etc/hostname"), "12345").unwrap();
        write_meta(
            &cache_root,
            "t-00000000000000aa",
            "t",
            "host",
            "00000000000000aa",
        )
        .unwrap();
        let l = list().unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].name, "t");
        assert_eq!(l[0].builder, "host");
        assert_eq!(l[0].size_bytes, 5);
        assert!(l[0].age < Duration::from_secs(5));
        assert!(is_complete(
            &cache_root,
            "t-00000000000000aa",
            "00000000000000aa"
        ));
        assert!(!is_complete(
            &cache_root,
            "t-00000000000000aa",
            "ffffffffffffffff"
        ));
    }

    #[test]
    fn mountinfo_parsing_and_noexec() {
        let text = "22 27 0:21 / /proc rw,relatime - proc proc rw\n\
                    27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
                    90 27 0:50 / /mnt/no\\040exec rw,nosuid,noexec,relatime - tmpfs tmpfs rw\n";
        let t = parse_mountinfo(text);
        assert_eq!(t.len(), 3);
        assert_eq!(t[2].mount_point, PathBuf::from("/mnt/no exec"));
        assert_eq!(unescape_octal("a\\134b\\777\\04"), "a\\b\\777\\04");
        assert!(t[2].options.contains("noexec"));
        let m = mount_of(Path::new("/proc/self"), &t).unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/proc"));
    }
    // Tests that need a real mount (a noexec tmpfs, a mount inside a tree) live in
    // tests/rootfs_mounts.rs, where they run inside a private mount namespace and the
    // host's mount table is never touched.
}
