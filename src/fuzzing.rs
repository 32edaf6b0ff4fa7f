//! The fuzz harness: one function per fuzz target, called by `fuzz/fuzz_targets/*.rs`
//! (cargo-fuzz, libFuzzer) and by `tests/fuzz_regressions.rs`, which feeds them every file
//! of `fuzz/corpus/` and `fuzz/artifacts/` on stable Rust in the normal test run.
//!
//! Each function takes arbitrary bytes and panics only when an invariant is broken: the
//! parsers must return `Ok` or `Err` (never panic, never hang) and their error must print
//! as text; the unpacker must never write outside the tree it was given. A panic found
//! here is a bug in the product, not in the harness.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The lesson a file's bytes make, as `fromscratch check` reads it: UTF-8 text (a file that
/// is not UTF-8 is refused by `read_small_file` before parsing), then
/// [`crate::lesson::parse`], which parses the TOML and runs [`crate::lesson::validate`].
/// The file is named after the text's own `id` when it has a plain one (`lessons/ID.toml`),
/// so that a real lesson passes the id-matches-file-name rule and reaches every check.
/// The error, if any, is formatted as `check` prints it. Returns whether the lesson was
/// accepted.
pub fn lesson(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let id = toml::from_str::<toml::Table>(text)
        .ok()
        .and_then(|t| t.get("id").and_then(|v| v.as_str().map(str::to_string)))
        .filter(|id| !id.is_empty() && !id.contains(['/', '\0']) && id.len() < 200)
        .unwrap_or_else(|| "fuzz".to_string());
    let path = PathBuf::from(format!("lessons/{id}.toml"));
    match crate::lesson::parse(text, &path) {
        Ok(lesson) => {
            drop(lesson);
            true
        }
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an empty error message");
            false
        }
    }
}

/// The recipe a file's bytes make, as `fromscratch check` and `rootfs build` read it:
/// [`crate::rootfs::parse_recipe`]. The recipe's path sits in a directory that does not
/// exist, so a relative `archive` names nothing; an absolute one is hashed as `check` would
/// (only when it is a regular file). Returns whether the recipe was accepted.
pub fn recipe(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let path = Path::new("/nonexistent/fromscratch-fuzz/rootfs-recipes/fuzz.toml");
    match crate::rootfs::parse_recipe(text, path) {
        Ok(r) => {
            drop(r);
            true
        }
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an empty error message");
            false
        }
    }
}

/// Unpack `data` as an image layer (tar, or tar+gzip) twice over, as layers 1 and 2 of an
/// image (so the second one's whiteouts and replacements meet what the first made), into
/// `SCRATCH/tree` with [`crate::rootfs::unpack_layers`], where `SCRATCH` is a fresh
/// directory under `std::env::temp_dir()` that also holds a sentinel `outside/` (a file, a
/// directory and a symlink). Then asserts that nothing was written outside the tree:
///
/// - `SCRATCH` holds only `tree` (the same directory, by inode) and `outside`;
/// - every entry of `outside` has the inode, type, mode, owner, link count, size, mtime,
///   ctime, content and link target it had (a write, chmod, chown, hard link or removal
///   through an escaping path would change one of them);
/// - everything in the tree is a directory, a regular file or a symlink (device nodes and
///   FIFOs are never made), and each regular file's link count equals the number of its
///   names inside the tree (no hard link reaches a file outside it).
///
/// `SCRATCH` is removed afterwards, without following symlinks. The unpack's own result
/// (`Ok`, or an error for a refused entry) is returned for the caller's curiosity.
///
/// # Panics
/// When an invariant above does not hold, naming what changed; or when the scratch
/// directory cannot be made or removed (the host's temporary directory is unusable).
pub fn unpack(data: &[u8]) -> Result<(), String> {
    let scratch = Scratch::new();
    let tree = scratch.0.join("tree");
    let outside = scratch.0.join("outside");
    let tree_ino = fs::symlink_metadata(&tree).expect("lstat tree").ino();
    let before = snapshot(&outside);

    let result = crate::rootfs::unpack_layers(&[data, data], &tree).map_err(|e| e.to_string());

    let mut names: Vec<String> = fs::read_dir(&scratch.0)
        .expect("read the scratch directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["outside", "tree"],
        "the unpack wrote beside the tree (result: {result:?})"
    );
    let st = fs::symlink_metadata(&tree).expect("lstat tree");
    assert!(
        st.is_dir() && st.ino() == tree_ino,
        "the tree itself was replaced (result: {result:?})"
    );
    let after = snapshot(&outside);
    assert_eq!(
        before, after,
        "the unpack changed the sentinel outside the tree (result: {result:?})"
    );
    check_tree(&tree, &result);
    result
}

/// What an entry outside the tree looks like, to compare before and after.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    ino: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    content: Vec<u8>,
}

/// Every entry under `dir` (and `dir` itself), by path, never following symlinks.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Seen> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        let m = fs::symlink_metadata(&p).expect("lstat a sentinel");
        let content = if m.is_file() {
            fs::read(&p).expect("read a sentinel")
        } else if m.is_symlink() {
            fs::read_link(&p)
                .expect("readlink a sentinel")
                .into_os_string()
                .into_encoded_bytes()
        } else {
            for e in fs::read_dir(&p).expect("read a sentinel directory") {
                todo.push(e.expect("entry").path());
            }
            Vec::new()
        };
        out.insert(
            p,
            Seen {
                ino: m.ino(),
                mode: m.mode(),
                uid: m.uid(),
                gid: m.gid(),
                nlink: m.nlink(),
                size: m.size(),
                mtime: (m.mtime(), m.mtime_nsec()),
                ctime: (m.ctime(), m.ctime_nsec()),
                content,
            },
        );
    }
    out
}

/// Only directories, regular files and symlinks in the tree, and every hard link's
/// names all inside it.
fn check_tree(tree: &Path, result: &Result<(), String>) {
    // A layer may leave directories of mode 0: a user (not root) could not read them.
    open_up(tree);
    let mut links: BTreeMap<u64, (u64, u64, PathBuf)> = BTreeMap::new();
    for entry in walkdir::WalkDir::new(tree).follow_links(false) {
        let entry = entry.expect("walk the tree");
        let m = entry.metadata().expect("lstat in the tree");
        let ft = m.file_type();
        assert!(
            ft.is_dir() || ft.is_file() || ft.is_symlink(),
            "{} is neither a directory, a file nor a symlink (result: {result:?})",
            entry.path().display()
        );
        if ft.is_file() {
            let seen = links
                .entry(m.ino())
                .or_insert((0, m.nlink(), entry.path().to_path_buf()));
            seen.0 += 1;
        }
    }
    for (names, nlink, path) in links.values() {
        assert_eq!(
            names,
            nlink,
            "{} has {nlink} links but {names} names in the tree: a hard link reaches outside it (result: {result:?})",
            path.display()
        );
    }
}

/// A fresh `fromscratch-fuzz-PID-N` under the temporary directory, holding an empty `tree`
/// and the sentinel `outside/` (`file`, `dir/`, `link -> file`); removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("fromscratch-fuzz-{}-{n}", std::process::id()));
        if fs::symlink_metadata(&dir).is_ok() {
            remove_tree(&dir);
        }
        fs::create_dir(&dir).expect("create the scratch directory");
        fs::create_dir(dir.join("tree")).expect("create tree");
        let outside = dir.join("outside");
        fs::create_dir_all(outside.join("dir")).expect("create the sentinel");
        fs::write(outside.join("file"), b"sentinel\n").expect("write the sentinel");
        std::os::unix::fs::symlink("file", outside.join("link")).expect("symlink the sentinel");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        remove_tree(&self.0);
    }
}

/// Make every directory under `dir` (and `dir`) mode 0700, never following symlinks, so
/// that its owner can read and remove all of it whatever modes a layer gave.
fn open_up(dir: &Path) {
    // WalkDir opens a directory only after yielding it, so each is made searchable before
    // its children are read.
    for entry in walkdir::WalkDir::new(dir).follow_links(false) {
        let Ok(entry) = entry else { continue };
        if entry.file_type().is_dir() {
            let _ = fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o700));
        }
    }
}

/// Remove `dir` whatever the unpack left: directories opened up first (a layer may give
/// them mode 0), symlinks removed as themselves, never followed.
fn remove_tree(dir: &Path) {
    open_up(dir);
    fs::remove_dir_all(dir)
        .unwrap_or_else(|e| panic!("cannot remove the scratch directory {}: {e}", dir.display()));
}
