//! Where fromscratch keeps things on the host.
//!
//! Three places, and nothing is ever written outside them:
//!
//! - the **data directory** holds `lessons/` and `rootfs-recipes/` (read-only to the lab);
//! - the **cache directory** holds built rootfs trees, keyed by recipe hash;
//! - the **run directory** holds one scratch directory and one state file per live lab,
//!   so that `fromscratch cleanup` can finish the job after a crash or `kill -9`.
//!
//! Each can be overridden by an environment variable, which the tests use to keep
//! every run apart: `FROMSCRATCH_DATA`, `FROMSCRATCH_CACHE`, `FROMSCRATCH_RUN`.

use std::path::PathBuf;

/// True when the effective uid is 0.
#[must_use]
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The directory holding `lessons/` and `rootfs-recipes/`.
///
/// Order: `$FROMSCRATCH_DATA`; the current directory if it has a `lessons/` folder;
/// the source tree the binary was built from (`CARGO_MANIFEST_DIR`).
#[must_use]
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FROMSCRATCH_DATA") {
        return PathBuf::from(dir);
    }
    if let Ok(cwd) = std::env::current_dir()
        && cwd.join("lessons").is_dir()
        && cwd.join("rootfs-recipes").is_dir()
    {
        return cwd;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The lessons directory: `data_dir()/lessons`.
#[must_use]
pub fn lessons_dir() -> PathBuf {
    data_dir().join("lessons")
}

/// The recipes directory: `data_dir()/rootfs-recipes`.
#[must_use]
pub fn recipes_dir() -> PathBuf {
    data_dir().join("rootfs-recipes")
}

/// Where built rootfs trees live.
///
/// `$FROMSCRATCH_CACHE`; else `/var/cache/fromscratch` for root; else, for a user,
/// `$XDG_CACHE_HOME/fromscratch` (when absolute: the XDG Base Directory spec says a relative
/// one is ignored) or `~/.cache/fromscratch`, `~` being `$HOME` or else the user's home in
/// the password database. A user's trees are the user's own and never go to the root cache.
#[must_use]
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FROMSCRATCH_CACHE") {
        return PathBuf::from(dir);
    }
    if is_root() {
        return PathBuf::from("/var/cache/fromscratch");
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from)
        && dir.is_absolute()
    {
        return dir.join("fromscratch");
    }
    home_dir().join(".cache").join("fromscratch")
}

/// Where live labs keep their scratch directories and state files.
///
/// `$FROMSCRATCH_RUN`; else `/run/fromscratch` for root (a tmpfs: nothing survives a
/// reboot, as nothing should); else `$XDG_RUNTIME_DIR/fromscratch` or
/// `/tmp/fromscratch-UID`.
#[must_use]
pub fn run_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FROMSCRATCH_RUN") {
        return PathBuf::from(dir);
    }
    if is_root() {
        return PathBuf::from("/run/fromscratch");
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        return PathBuf::from(dir).join("fromscratch");
    }
    PathBuf::from(format!("/tmp/fromscratch-{}", nix::unistd::getuid()))
}

/// Create `dir` (mode 0700) if needed and make sure it is ours alone: owned by the
/// effective user and writable by nobody else. A run directory someone else can write to
/// could hold a forged state file, and `cleanup` acts on state files.
///
/// # Errors
/// It cannot be created, or it belongs to someone else or is group/world-writable.
pub fn ensure_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let meta = std::fs::symlink_metadata(dir)?;
    let me = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != me || meta.permissions().mode() & 0o022 != 0 {
        return Err(std::io::Error::other(format!(
            "{} must be a directory owned by uid {me} and writable by no one else; remove it or set FROMSCRATCH_RUN to another directory",
            dir.display()
        )));
    }
    Ok(())
}

/// The largest lesson or recipe file read (1 MiB): a bigger one is a mistake, not a lesson.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Read a lesson or recipe file: only a regular file (a FIFO or device would block or
/// never end), at most [`MAX_FILE_BYTES`], UTF-8.
///
/// # Errors
/// Not a regular file, too large, unreadable or not UTF-8, each with the reason.
pub fn read_small_file(path: &std::path::Path) -> std::io::Result<String> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file: give the path of a .toml file",
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "{} bytes is more than a lesson or recipe can be ({MAX_FILE_BYTES} at most)",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path)?;
    String::from_utf8(bytes).map_err(|_| std::io::Error::other("not UTF-8 text"))
}

/// `$HOME`; else the home directory the password database gives the real uid (setpriv,
/// cron and `env -i` leave HOME unset); else `/tmp`.
fn home_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home);
    }
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or_else(|| PathBuf::from("/tmp"), |u| u.dir)
}
