//! Root filesystems for the lessons: what a container's `/` is made of, and how it is built.
//!
//! A container is "just" a process whose `/` points at a directory tree: that tree must hold
//! every program the container runs *and* every file those programs need when they start
//! (the ELF interpreter, the shared libraries, Python's standard library). A [`Recipe`]
//! says how to make such a tree — copy the host's own programs (`host`), install a Debian
//! or Ubuntu system with debootstrap/mmdebstrap (`debian`, `debootstrap`, `mmdebstrap`), a
//! Fedora/RHEL-family one with `dnf --installroot` (`dnf`), lay out a static busybox
//! (`busybox`), or unpack an image's layers (`oci-archive`, `docker-archive`) — and
//! [`build`] makes it into a cache keyed
//! by the recipe's hash, building in a temporary directory that is renamed into place only
//! once complete and verified by the recipe's smoke check.

#![warn(missing_docs)]

mod busybox;
mod cache;
mod debian;
mod dnf;
pub mod elf;
mod host;
mod image;
mod recipe;

use std::ffi::CString;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Classify, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_HOST_CANNOT};

pub use cache::{CacheEntry, list, remove};

/// Remove temporary trees left by builds that were interrupted (their builder process is
/// gone), writing one line per tree to `out`. `fromscratch cleanup` calls it; every build
/// and `list` do too.
pub fn clean_interrupted_builds(out: &mut dyn std::io::Write) {
    cache::clean_stale(&cache::rootfs_cache(), out);
}
#[doc(hidden)]
pub use image::unpack_layers;
pub use recipe::{
    BUILDER_VERSION, Builder, BusyboxParams, DEFAULT_SEARCH_PATH, DebianMode, DebianParams,
    DebianTool, DnfParams, FORMAT_VERSION, HostParams, ImageParams, Recipe, find_recipe,
    load_recipe, parse_recipe, recipe_hash,
};

/// Everything that can go wrong while loading a recipe, building, listing or removing a rootfs.
///
/// Each message is one sentence: the cause, then (after a colon) what to do about it.
/// [`Classify::exit_code`] maps each variant to 2 (bad input), 3 (the host cannot) or
/// 1 (the built tree failed its check).
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// Ctrl-C or SIGTERM stopped the build; the temporary tree was removed (exit 130/143).
    #[error("interrupted: the build was stopped and nothing was cached")]
    Interrupted,
    /// The recipe file could not be read (exit 2).
    #[error("cannot read recipe {}: {err}: check the path and its permissions", path.display())]
    RecipeRead {
        /// The recipe file.
        path: PathBuf,
        /// What the OS said.
        err: io::Error,
    },
    /// The recipe is not valid TOML or does not match the recipe format (exit 2).
    /// Displayed as `FILE:LINE:COLUMN: reason`, lines and columns counted from 1.
    #[error("{}:{line}:{column}: {reason}", path.display())]
    RecipeSyntax {
        /// The recipe file.
        path: PathBuf,
        /// 1-based line of the offending text.
        line: usize,
        /// 1-based column (in characters) of the offending text.
        column: usize,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// No recipe of that name exists in the recipes directory (exit 2).
    #[error("there is no rootfs recipe `{name}`: use one of {} (files in {}) or give the path to a .toml recipe", list_or_none(available), dir.display())]
    UnknownRecipe {
        /// The name asked for.
        name: String,
        /// Names of the recipes that do exist.
        available: Vec<String>,
        /// The recipes directory searched.
        dir: PathBuf,
    },
    /// A recipe path was given but no file is there (exit 2).
    #[error("recipe file {} does not exist: give the path of an existing .toml recipe or a recipe name such as `host`", path.display())]
    RecipeNotFound {
        /// The path given.
        path: PathBuf,
    },
    /// The operation needs root (exit 3).
    #[error("{what} needs root: run it with sudo, or {instead}")]
    NotRoot {
        /// What needs root, e.g. "building a Debian rootfs with debootstrap".
        what: String,
        /// The way to the same kind of tree without root, e.g. "build the `debian` recipe,
        /// which ...".
        instead: String,
    },
    /// An external tool is not installed (exit 3).
    #[error(
        "{tool} is not installed: install the Debian package `{package}` (apt-get install {package})"
    )]
    ToolMissing {
        /// The program looked for.
        tool: String,
        /// The Debian package that provides it.
        package: String,
    },
    /// The rootfs cache directory cannot be created (exit 3): for a user, typically a home
    /// directory that does not exist or is not theirs.
    #[error("cannot create the rootfs cache {}: {err}: set FROMSCRATCH_CACHE (or XDG_CACHE_HOME) to a directory of yours, or make this one yours", path.display())]
    CacheDir {
        /// The directory (`cache_dir()/rootfs`).
        path: PathBuf,
        /// What the OS said.
        err: io::Error,
    },
    /// The rootfs cache resolves (through a symlink, or as set) into the host's own
    /// system directories, where a build would write into the host (exit 2).
    #[error("refusing the rootfs cache {}: it resolves to {}, inside the host's own system directories: set FROMSCRATCH_CACHE to a directory of its own", path.display(), resolved.display())]
    CacheInHostSystem {
        /// The directory (`cache_dir()/rootfs`).
        path: PathBuf,
        /// Where it leads, symlinks resolved.
        resolved: PathBuf,
    },
    /// The cache directory is on a filesystem mounted `noexec` (pitfall R2, exit 3).
    #[error("{} is on the filesystem mounted at {}, which is mounted noexec, so no program in a rootfs built there could run: set FROMSCRATCH_CACHE to a directory on another filesystem, or remount it with `mount -o remount,exec {}`", path.display(), mount_point.display(), mount_point.display())]
    NoexecMount {
        /// The directory the rootfs would be built in.
        path: PathBuf,
        /// The mount point of the noexec filesystem holding it.
        mount_point: PathBuf,
    },
    /// debootstrap has no script for the suite (exit 2).
    #[error("debootstrap does not know the suite `{suite}` (there is no {}): use a suite it knows, such as `bookworm`, or upgrade debootstrap", script.display())]
    UnknownSuite {
        /// The suite asked for.
        suite: String,
        /// The script file that would describe it.
        script: PathBuf,
    },
    /// The archive keyring is missing; fromscratch never builds unverified (exit 3).
    #[error("the Debian archive keyring {} is missing and fromscratch never installs unverified packages: install the Debian package `debian-archive-keyring`", path.display())]
    KeyringMissing {
        /// The keyring file expected.
        path: PathBuf,
    },
    /// A suite missing from debootstrap's list, for a build by mmdebstrap (exit 2).
    #[error("`{suite}` is not a suite this host knows (there is no {}, the list of suites fromscratch checks before {tool} downloads anything): use a suite such as `bookworm`, or upgrade the Debian package `debootstrap` for newer ones", script.display())]
    SuiteNotListed {
        /// The tool that would have run, e.g. "mmdebstrap --mode=root".
        tool: String,
        /// The suite asked for.
        suite: String,
        /// The debootstrap script that would describe it.
        script: PathBuf,
    },
    /// The keyring the recipe names is missing; fromscratch never builds unverified (exit 3).
    #[error("the keyring {} named by `keyring` in the recipe is missing and fromscratch never installs unverified packages: fix the path, or remove `keyring` to use /usr/share/keyrings/debian-archive-keyring.gpg from the Debian package `debian-archive-keyring`", path.display())]
    KeyringNotFound {
        /// The keyring file the recipe names.
        path: PathBuf,
    },
    /// mmdebstrap's unshare mode has no subordinate id range for the user (exit 3).
    #[error(
        "mmdebstrap's unshare mode needs a range for {user} in /etc/subuid and /etc/subgid ({problem}): add one with `usermod --add-subuids {range} --add-subgids {range} {user}` (as root), or build as root"
    )]
    NoSubordinateIds {
        /// The user building.
        user: String,
        /// What is wrong, e.g. "/etc/subuid has no line for alice".
        problem: String,
        /// A free range to suggest, e.g. `100000-165535`.
        range: String,
    },
    /// newuidmap and newgidmap (Debian package `uidmap`), which mmdebstrap's unshare mode
    /// runs to map the user's subordinate ids, are not installed (exit 3).
    #[error(
        "mmdebstrap's unshare mode needs newuidmap and newgidmap to map your subordinate ids, and they are not installed: install them with `apt install uidmap`{also} (as root), or build as root"
    )]
    UidmapMissing {
        /// Empty, or " and give USER a range with `usermod --add-subuids ...`" when the
        /// user has no subordinate ids either.
        also: String,
    },
    /// The user's real group is not their primary group, and newuidmap and newgidmap map
    /// subordinate ids only for a process whose group is (shadow's `newuidmap.c`; exit 3).
    #[error(
        "mmdebstrap's unshare mode cannot map your subordinate ids while your group is {gid} and not your primary group {primary} (newuidmap and newgidmap refuse a process whose group is not the one /etc/passwd gives you): run it with group {primary}, as a fresh login shell has (`newgrp`, `sg` and `setpriv --regid` change it), or build as root"
    )]
    NotPrimaryGroup {
        /// The real gid of the process.
        gid: u32,
        /// The user's group in the password database.
        primary: u32,
    },
    /// mmdebstrap's unshare mode cannot create a user namespace here (exit 3).
    #[error(
        "mmdebstrap's unshare mode needs user namespaces, which this host refuses ({reason}): {fix}, or build as root"
    )]
    UserNamespacesRefused {
        /// Why, e.g. "user.max_user_namespaces is 0".
        reason: String,
        /// What to do, e.g. "allow them with `sysctl -w user.max_user_namespaces=15000`".
        fix: String,
    },
    /// mmdebstrap's unshare mode would build in a noexec temporary directory (pitfall R2, exit 3).
    #[error("mmdebstrap's unshare mode builds the tree in {} first, which is on the filesystem mounted at {} with noexec, so the packages' scripts could not run there: set TMPDIR to a directory on another filesystem that every user can enter, or remount it with `mount -o remount,exec {}`", dir.display(), mount_point.display(), mount_point.display())]
    UnshareTmpNoexec {
        /// The temporary directory mmdebstrap uses ($TMPDIR or /tmp).
        dir: PathBuf,
        /// The mount point of the noexec filesystem holding it.
        mount_point: PathBuf,
    },
    /// The busybox binary is dynamically linked, so it cannot run in a busybox-only tree (exit 3).
    #[error("{} is dynamically linked (it needs {needs}), so it would not start in a tree that holds nothing but busybox: install the static build, the Debian package `busybox-static` (apt-get install busybox-static), or point `busybox` in the recipe at a statically linked busybox", path.display())]
    BusyboxNotStatic {
        /// The binary.
        path: PathBuf,
        /// Its ELF interpreter and shared libraries, e.g. "the loader /lib64/ld-linux-x86-64.so.2, libc.so.6".
        needs: String,
    },
    /// The `busybox` binary did not list busybox applets (exit 2).
    #[error("{} did not list busybox applets when run with --list-full ({detail}): point `busybox` in the recipe at a busybox binary, such as /bin/busybox from the Debian package `busybox-static`", path.display())]
    NotBusybox {
        /// The binary.
        path: PathBuf,
        /// What happened.
        detail: String,
    },
    /// The suite lacks packages the recipe asks for (pitfall R1, exit 2).
    #[error("{}", missing_packages_message(suite, packages))]
    MissingPackages {
        /// The suite, e.g. `bookworm`.
        suite: String,
        /// The package names the suite does not have.
        packages: Vec<String>,
    },
    /// The dnf recipe's repositories lack packages or groups it asks for (pitfall R1, exit 2).
    #[error("{}", dnf::missing_packages_message(releasever, packages))]
    DnfMissingPackages {
        /// The release, as given to `--releasever`, e.g. `40`.
        releasever: String,
        /// The package names (groups as `@name`) the repositories do not have.
        packages: Vec<String>,
    },
    /// A `.repo` file named in a dnf recipe cannot be read (exit 2).
    #[error("cannot read the repository file {} named in the recipe's repo_files: {err}: fix the path (a relative path is taken from the recipe's folder)", path.display())]
    RepoFile {
        /// The file, resolved against the recipe's folder.
        path: PathBuf,
        /// What the OS said.
        err: io::Error,
    },
    /// A dnf recipe checks signatures but a repository names no signing key (exit 2).
    #[error(
        "the recipe keeps gpgcheck on, but {} no signing key, so dnf can verify none of the packages from there: give each repository in a .repo file with a gpgkey= line (listed under repo_files), or write gpgcheck = false to install unverified packages knowingly",
        dnf::unverifiable_message(repos)
    )]
    UnverifiableRepos {
        /// The repositories: base URLs, or `id` from a .repo file.
        repos: Vec<String>,
    },
    /// debootstrap/mmdebstrap failed for another reason (exit 3); `tail` holds its last output lines.
    #[error(
        "{tool} failed ({status}){}: read its last output lines below, fix the cause and build again{}",
        cause_suffix(tail),
        tail_block(tail)
    )]
    BuilderFailed {
        /// The tool that ran.
        tool: String,
        /// How it ended, e.g. "exit status 1".
        status: String,
        /// Its last (up to 50) output lines.
        tail: Vec<String>,
    },
    /// A program the host recipe requires is not installed on the host (exit 3).
    #[error("`{program}` is not installed on this host (searched {search_path}): {}", install_hint(program, package.as_deref()))]
    HostProgramMissing {
        /// The program name or path from the recipe.
        program: String,
        /// The directories searched.
        search_path: String,
        /// The Debian package that provides it, when known.
        package: Option<String>,
    },
    /// A host program needs a shared library the host does not have (exit 3).
    #[error("{} needs the shared library {library}, which is in none of the library directories on this host: reinstall the package that provides {}", program.display(), program.display())]
    LibraryMissing {
        /// The program (host path).
        program: PathBuf,
        /// The DT_NEEDED name that could not be resolved.
        library: String,
    },
    /// A file is not an ELF object (or a `#!` script where scripts are allowed) (exit 2).
    #[error("{} is not a usable ELF program ({reason}): name a compiled program or a `#!` script", path.display())]
    NotElf {
        /// The file.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
    /// A program asked about is not inside the rootfs (exit 2).
    #[error("{} does not exist: copy the program into the rootfs or name one that is there", path.display())]
    NotInRoot {
        /// `ROOT/PROGRAM`.
        path: PathBuf,
    },
    /// Python's standard library could not be found next to the python3 binary (exit 3).
    #[error("cannot find the standard library of {} (looked for {}): install the Debian package `libpython3-stdlib`, or set python_stdlib = false in the recipe", python.display(), looked.display())]
    PythonStdlib {
        /// The python binary found.
        python: PathBuf,
        /// Where its standard library was expected.
        looked: PathBuf,
    },
    /// The recipe's smoke check did not succeed in the new tree (exit 1); the tree was discarded.
    #[error("the smoke check `{}` failed inside the new `{recipe}` rootfs ({detail}): nothing was cached; fix the recipe so the tree holds what the check runs", argv.join(" "))]
    SmokeFailed {
        /// The recipe name.
        recipe: String,
        /// The smoke command.
        argv: Vec<String>,
        /// Exit status, output or the exec error (with the missing path, pitfall R3).
        detail: String,
    },
    /// A command could not be started inside a rootfs (exit 1, or 3 when chroot was refused).
    #[error("cannot run {program} inside {}: {detail}", root.display())]
    Exec {
        /// The rootfs.
        root: PathBuf,
        /// The program, as seen inside the rootfs.
        program: String,
        /// The reason, naming the missing path when there is one.
        detail: String,
        /// True when chroot itself was refused (no root and no user namespaces).
        refused: bool,
    },
    /// A filesystem is still mounted inside a tree that was to be deleted (exit 3); nothing was deleted.
    #[error("{} is still mounted inside {} (left by a crashed build?), so nothing was deleted: unmount it with `umount -R {}` and try again", mount_point.display(), path.display(), mount_point.display())]
    Mounted {
        /// The tree to delete.
        path: PathBuf,
        /// The mount found inside it.
        mount_point: PathBuf,
    },
    /// A path given for deletion is not strictly inside the rootfs cache (exit 2).
    #[error("refusing to delete {}: it is not an entry strictly inside the rootfs cache {}", path.display(), cache.display())]
    OutsideCache {
        /// The path refused.
        path: PathBuf,
        /// The cache directory.
        cache: PathBuf,
    },
    /// Nothing in the cache matches the name or hash (exit 2).
    #[error(
        "no cached rootfs has the name or hash `{what}`: `fromscratch rootfs list` shows what is cached"
    )]
    NotCached {
        /// The name or hash asked for.
        what: String,
    },
    /// The image tarball a recipe names is not there (exit 2).
    #[error("the recipe's archive {} does not exist: build or download it first (`docker save -o FILE IMAGE` writes one)", path.display())]
    ArchiveMissing {
        /// The archive path, resolved against the recipe's folder.
        path: PathBuf,
    },
    /// The image tarball a recipe names is not a regular file (exit 2).
    #[error("the recipe's archive {} is {what}, not an image tarball: point `archive` at a file written by `docker save`, or at an OCI image layout packed with tar", path.display())]
    ArchiveNotFile {
        /// The archive path.
        path: PathBuf,
        /// What it is instead, e.g. "a directory".
        what: String,
    },
    /// The image tarball changed after the recipe was read, so the cache key would not match
    /// the tree (exit 2).
    #[error("the archive {} changed after the recipe was read (its sha256 is now {actual}, the cache key was made from {expected}): nothing was cached; build again", path.display())]
    ArchiveChanged {
        /// The archive path.
        path: PathBuf,
        /// The SHA-256 recorded when the recipe was loaded (empty when it was unreadable then).
        expected: String,
        /// The SHA-256 of what the build read.
        actual: String,
    },
    /// The image tarball is malformed or uses something the image builders do not read (exit 2).
    #[error("{} is not a usable image archive: {reason}: {fix}", path.display())]
    BadImage {
        /// The archive path.
        path: PathBuf,
        /// What is wrong, naming the member, layer or entry.
        reason: String,
        /// What to do about it.
        fix: String,
    },
    /// The image tarball holds several images and the recipe picks none, or names one it
    /// does not hold (exit 2).
    #[error("{}", image::choice_message(path, asked.as_deref(), available))]
    ImageChoice {
        /// The archive path.
        path: PathBuf,
        /// The recipe's `image`, when it has one.
        asked: Option<String>,
        /// The images the archive holds (tags, reference names or digests).
        available: Vec<String>,
    },
    /// A blob or layer does not hash to the digest that names it (exit 2).
    #[error("{what} {expected} in {} is corrupt: its content hashes to {actual}: nothing was cached; get a fresh copy of the archive", path.display())]
    DigestMismatch {
        /// The archive path.
        path: PathBuf,
        /// What was checked, e.g. "layer 2/3 blob" or "manifest blob".
        what: String,
        /// The digest that names it (`sha256:...`).
        expected: String,
        /// The digest of the bytes read.
        actual: String,
    },
    /// A layer entry would be written outside the rootfs (exit 2).
    #[error("layer {layer} of {} holds the entry `{entry}`, which {reason}: refused, nothing was cached; unpack only images from a source you trust", path.display())]
    UnsafeEntry {
        /// The archive path.
        path: PathBuf,
        /// Which layer, e.g. "2/3 (sha256:5c3c9f1a2b3d)".
        layer: String,
        /// The entry's path as stored in the layer.
        entry: String,
        /// Why it was refused.
        reason: String,
    },
    /// A filesystem operation failed (exit 3). A full filesystem (ENOSPC, or EDQUOT: a
    /// quota used up) is named as such, with the cache to move (write(2)).
    #[error("{}", io_sentence(action, path, err))]
    Io {
        /// What was being done, e.g. "copy a file to".
        action: String,
        /// The path it was done to.
        path: PathBuf,
        /// What the OS said.
        err: io::Error,
    },
}

impl Classify for RootfsError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::RecipeRead { .. }
            | Self::RecipeSyntax { .. }
            | Self::UnknownRecipe { .. }
            | Self::RecipeNotFound { .. }
            | Self::UnknownSuite { .. }
            | Self::MissingPackages { .. }
            | Self::DnfMissingPackages { .. }
            | Self::RepoFile { .. }
            | Self::UnverifiableRepos { .. }
            | Self::NotElf { .. }
            | Self::NotInRoot { .. }
            | Self::OutsideCache { .. }
            | Self::CacheInHostSystem { .. }
            | Self::NotCached { .. }
            | Self::NotBusybox { .. }
            | Self::SuiteNotListed { .. } => EXIT_BAD_INPUT,
            Self::ArchiveMissing { .. }
            | Self::ArchiveNotFile { .. }
            | Self::ArchiveChanged { .. }
            | Self::BadImage { .. }
            | Self::ImageChoice { .. }
            | Self::DigestMismatch { .. }
            | Self::UnsafeEntry { .. } => EXIT_BAD_INPUT,
            Self::Interrupted => crate::lab::signals::exit_status(),
            Self::NotRoot { .. }
            | Self::ToolMissing { .. }
            | Self::NoexecMount { .. }
            | Self::CacheDir { .. }
            | Self::KeyringMissing { .. }
            | Self::KeyringNotFound { .. }
            | Self::NoSubordinateIds { .. }
            | Self::UidmapMissing { .. }
            | Self::NotPrimaryGroup { .. }
            | Self::UserNamespacesRefused { .. }
            | Self::UnshareTmpNoexec { .. }
            | Self::BusyboxNotStatic { .. }
            | Self::BuilderFailed { .. }
            | Self::HostProgramMissing { .. }
            | Self::LibraryMissing { .. }
            | Self::PythonStdlib { .. }
            | Self::Mounted { .. }
            | Self::Io { .. } => EXIT_HOST_CANNOT,
            Self::Exec { refused: true, .. } => EXIT_HOST_CANNOT,
            Self::SmokeFailed { .. } | Self::Exec { .. } => EXIT_CHECK_FAILED,
        }
    }
}

impl RootfsError {
    pub(crate) fn io(action: &str, path: &Path, err: io::Error) -> Self {
        Self::Io {
            action: action.to_string(),
            path: path.to_path_buf(),
            err,
        }
    }
}

/// The sentence of [`RootfsError::Io`].
fn io_sentence(action: &str, path: &Path, err: &io::Error) -> String {
    let full = matches!(err.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT));
    if full {
        format!(
            "cannot {action} {}: the filesystem holding it is full ({err}): free space there, or set FROMSCRATCH_CACHE to a directory on a larger filesystem",
            path.display()
        )
    } else {
        format!(
            "cannot {action} {}: {err}: check free space and permissions there",
            path.display()
        )
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "(none: the directory holds no .toml recipes)".to_string()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn missing_packages_message(suite: &str, packages: &[String]) -> String {
    let named = packages
        .iter()
        .map(|p| match debian::suggest_package(p) {
            Some(s) => format!("`{p}` (did you mean `{s}`?)"),
            None => format!("`{p}`"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let noun = if packages.len() == 1 {
        "package"
    } else {
        "packages"
    };
    format!(
        "the suite `{suite}` has no {noun} {named}: nothing was installed and no rootfs was cached; fix `include` in the recipe (https://packages.debian.org/{suite}/ lists what the suite has)"
    )
}

fn cause_suffix(tail: &[String]) -> String {
    // The first error line names the cause; later ones are the tool giving up.
    tail.iter()
        .find(|l| l.starts_with("E:"))
        .map(|l| {
            let l = l.trim();
            let short: String = l.chars().take(160).collect();
            let more = if short.len() < l.len() { "…" } else { "" };
            format!(", saying \"{short}{more}\"")
        })
        .unwrap_or_default()
}

fn tail_block(tail: &[String]) -> String {
    let mut s = String::new();
    for line in tail {
        s.push_str("\n  | ");
        s.push_str(line);
    }
    s
}

fn install_hint(program: &str, package: Option<&str>) -> String {
    match package {
        Some(p) => format!("install the Debian package `{p}` (apt-get install {p})"),
        None => {
            let base = program.rsplit('/').next().unwrap_or(program);
            format!(
                "install the package that provides it (`apt-file search bin/{base}` names it), or drop it from the recipe"
            )
        }
    }
}

/// How [`build`] behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Never draw a progress bar (event lines are still written to `out`).
    pub quiet: bool,
    /// Build again even when the cache holds a tree for this recipe hash; the old tree is
    /// replaced only once the new one is complete and passed its smoke check.
    pub force: bool,
}

/// A rootfs ready to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltRootfs {
    /// The tree: `cache_dir()/rootfs/<name>-<hash>/`.
    pub path: PathBuf,
    /// The recipe name.
    pub recipe: String,
    /// The recipe hash ([`recipe_hash`], 16 hex digits).
    pub hash: String,
    /// True when the tree came from the cache without building.
    pub cached: bool,
}

/// The builder's host checks for `recipe`, the ones [`build`] makes before a byte is
/// written: root where the builder needs it, its tool installed (debootstrap, mmdebstrap,
/// dnf), a statically linked busybox, a readable keyring or image. Writes nothing; used
/// by `fromscratch doctor` to say which recipes this host can build.
///
/// # Errors
/// The first [`RootfsError`] a builder's preflight finds (exit 3 kinds, each naming its
/// fix).
pub fn preflight(recipe: &Recipe) -> Result<(), RootfsError> {
    match &recipe.builder {
        Builder::Debian(params) => debian::preflight_host(params),
        Builder::Dnf(params) => dnf::preflight(params),
        Builder::Busybox(params) => busybox::preflight(params),
        Builder::OciArchive(params) | Builder::DockerArchive(params) => image::preflight(params),
        Builder::Host(_) => Ok(()),
    }
}

/// Build `recipe` into the cache, or return the cached tree when one exists for its hash.
///
/// Writes one line per event to `out` ("cached: ...", "building rootfs `host` into ...",
/// skipped programs, the smoke check, "built ..."); the caller prints the path. A cache hit
/// only stats the tree and reads its metadata file, so it takes milliseconds.
///
/// A build runs in `cache_dir()/rootfs/.tmp-<name>-<pid>/`, runs the recipe's smoke check
/// chrooted in it, renames it to `cache_dir()/rootfs/<name>-<hash>/` and then writes
/// `<name>-<hash>.json`. On any error the temporary tree is removed; temporary trees left
/// by a process that died (Ctrl-C, kill -9) are removed at the start of the next build and
/// by [`list`].
///
/// # Errors
/// Every [`RootfsError`] kind a builder can return: exit 2 for a recipe the host could
/// build but the suite cannot satisfy (missing packages), exit 3 when the host cannot
/// (not root for `debian`, a missing tool or host program, a noexec cache filesystem,
/// I/O failures), exit 1 when the finished tree fails its smoke check.
pub fn build(
    recipe: &Recipe,
    opts: &BuildOptions,
    out: &mut dyn Write,
) -> Result<BuiltRootfs, RootfsError> {
    let hash = recipe_hash(recipe);
    let cache_root = cache::rootfs_cache();
    let entry = format!("{}-{}", recipe.name, hash);
    let final_dir = cache_root.join(&entry);

    cache::check_not_host_system(&cache_root)?;
    cache::clean_stale(&cache_root, out);

    if !opts.force && cache::is_complete(&cache_root, &entry, &hash) {
        say(
            out,
            &format!(
                "cached: rootfs `{}` ({} builder, hash {hash}) at {}",
                recipe.name,
                recipe.builder.kind(),
                final_dir.display()
            ),
        );
        return Ok(BuiltRootfs {
            path: final_dir,
            recipe: recipe.name.clone(),
            hash,
            cached: true,
        });
    }

    // Builder preflight: everything that can be checked before a byte is written.
    preflight(recipe)?;
    std::fs::create_dir_all(&cache_root).map_err(|err| RootfsError::CacheDir {
        path: cache_root.clone(),
        err,
    })?;
    cache::check_exec_mount(&cache_root)?;
    if let Builder::Debian(params) = &recipe.builder {
        debian::preflight_suite(params)?;
    }

    let tmp = cache_root.join(format!(".tmp-{}-{}", recipe.name, std::process::id()));
    if std::fs::symlink_metadata(&tmp).is_ok() {
        cache::remove_tree(&tmp)?;
    }
    std::fs::create_dir(&tmp)
        .map_err(|e| RootfsError::io("create the build directory", &tmp, e))?;
    say(
        out,
        &format!(
            "building rootfs `{}` ({} builder, hash {hash}) into {} (via {})",
            recipe.name,
            recipe.builder.kind(),
            final_dir.display(),
            tmp.display()
        ),
    );

    let started = Instant::now();
    let result =
        build_into(recipe, &tmp, opts, out).and_then(|()| install(&tmp, &final_dir, opts.force));
    if let Err(e) = result {
        if let Err(cleanup) = cache::remove_tree(&tmp) {
            say(
                out,
                &format!(
                    "could not remove the failed build {}: {cleanup}",
                    tmp.display()
                ),
            );
        }
        return Err(e);
    }
    cache::write_meta(
        &cache_root,
        &entry,
        &recipe.name,
        recipe.builder.kind(),
        &hash,
    )?;
    say(
        out,
        &format!(
            "built rootfs `{}` in {:.1} s: {}",
            recipe.name,
            started.elapsed().as_secs_f64(),
            final_dir.display()
        ),
    );
    Ok(BuiltRootfs {
        path: final_dir,
        recipe: recipe.name.clone(),
        hash,
        cached: false,
    })
}

/// Run the builder, then the smoke check, in `tmp`.
fn build_into(
    recipe: &Recipe,
    tmp: &Path,
    opts: &BuildOptions,
    out: &mut dyn Write,
) -> Result<(), RootfsError> {
    match &recipe.builder {
        Builder::Host(params) => host::build(params, tmp, out)?,
        Builder::Debian(params) => debian::build(params, tmp, opts, out)?,
        Builder::Dnf(params) => dnf::build(params, tmp, opts, out)?,
        Builder::Busybox(params) => busybox::build(params, tmp, out)?,
        Builder::OciArchive(params) => image::build(params, image::Format::Oci, tmp, opts, out)?,
        Builder::DockerArchive(params) => {
            image::build(params, image::Format::Docker, tmp, opts, out)?
        }
    }
    if recipe.smoke.is_empty() {
        return Ok(());
    }
    let smoke_failed = |detail: String| RootfsError::SmokeFailed {
        recipe: recipe.name.clone(),
        argv: recipe.smoke.clone(),
        detail,
    };
    let output = match run_in_root(tmp, &recipe.smoke) {
        Ok(o) => o,
        Err(e @ RootfsError::Exec { refused: true, .. }) => return Err(e),
        Err(RootfsError::Exec { detail, .. }) => return Err(smoke_failed(detail)),
        Err(e) => return Err(e),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let said = stderr
            .lines()
            .chain(stdout.lines())
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        return Err(smoke_failed(format!(
            "{}, last output: {said}",
            output.status
        )));
    }
    let first = stdout.lines().next().unwrap_or("").trim();
    say(
        out,
        &format!(
            "smoke check passed: `{}` printed `{first}`",
            recipe.smoke.join(" ")
        ),
    );
    Ok(())
}

/// Move a finished tree into place, replacing an older tree for the same hash.
/// Move the finished tree into place. When another build of the same recipe (another
/// lab, another test) finished first, its tree stays, ours is dropped: the tree in place
/// may already be some process's root, and must never be deleted from under it. Only
/// `--force` replaces it.
///
/// An entry in place that is not a real directory (a symlink, to `/` or anywhere else, or
/// a file) is never a tree of ours: it is unlinked, never followed, and ours takes its
/// place, so the path handed to the lab is always the tree just built.
fn install(tmp: &Path, final_dir: &Path, force: bool) -> Result<(), RootfsError> {
    if let Ok(m) = std::fs::symlink_metadata(final_dir) {
        if !m.is_dir() {
            cache::remove_tree(final_dir)?;
        } else if !force {
            return cache::remove_tree(tmp);
        }
        cache::remove_entry(final_dir)?;
    }
    match std::fs::rename(tmp, final_dir) {
        Ok(()) => Ok(()),
        Err(e) if !force && matches!(e.raw_os_error(), Some(libc::ENOTEMPTY | libc::EEXIST)) => {
            cache::remove_tree(tmp)
        }
        Err(e) => Err(RootfsError::io(
            "move the finished tree into place at",
            final_dir,
            e,
        )),
    }
}

/// The environment commands run with inside a rootfs: nothing from the host's.
const ROOT_ENV: [(&str, &str); 3] = [
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("HOME", "/root"),
    ("LC_ALL", "C.UTF-8"),
];

/// Run `argv` chrooted into `root` and wait for it, capturing stdout and stderr.
///
/// `argv[0]` is a path as seen inside the rootfs (absolute, or relative to its `/`). The
/// child gets a clean environment (`PATH`, `HOME=/root`, `LC_ALL=C.UTF-8`) and stdin from
/// /dev/null. As root it simply chroots; without root it first enters a new user namespace,
/// which grants the chroot capability (the command then runs as the overflow uid).
/// Nothing is mounted: inside, /proc is empty unless the caller mounted it.
///
/// # Errors
/// [`RootfsError::Exec`] when the program cannot be started; for ENOENT the detail names the
/// missing path inside the rootfs ([`elf::diagnose_enoent`], pitfall R3); `refused` is set
/// when chroot itself was not permitted (exit 3).
pub fn run_in_root(root: &Path, argv: &[String]) -> Result<std::process::Output, RootfsError> {
    let exec_err = |detail: String, refused: bool| RootfsError::Exec {
        root: root.to_path_buf(),
        program: argv.first().cloned().unwrap_or_default(),
        detail,
        refused,
    };
    let Some(program) = argv.first() else {
        return Err(exec_err("the command is empty".to_string(), false));
    };
    let root_c = CString::new(root.as_os_str().as_bytes())
        .map_err(|_| exec_err("the rootfs path holds a NUL byte".to_string(), false))?;
    let rootless = !crate::paths::is_root();

    let mut cmd = Command::new(program);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(ROOT_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[allow(unsafe_code)]
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe work is allowed. It allocates nothing (the path is a CString made
    // before the fork, `c"/"` is static) and makes only the unshare(2), chroot(2) and chdir(2)
    // system calls; errors become io::Error from a raw errno, which does not allocate.
    unsafe {
        cmd.pre_exec(move || {
            if rootless {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
                    .map_err(io::Error::from)?;
            }
            nix::unistd::chroot(root_c.as_c_str()).map_err(io::Error::from)?;
            nix::unistd::chdir(c"/").map_err(io::Error::from)?;
            Ok(())
        });
    }
    match cmd.output() {
        Ok(output) => Ok(output),
        Err(e) => {
            let refused = matches!(e.raw_os_error(), Some(libc::EPERM));
            let detail = if refused {
                format!(
                    "{e}: chroot needs root, or user namespaces for a rootless run (sysctl kernel.unprivileged_userns_clone=1)"
                )
            } else if e.kind() == io::ErrorKind::NotFound {
                elf::diagnose_enoent(root, program).unwrap_or_else(|| e.to_string())
            } else if e.kind() == io::ErrorKind::PermissionDenied {
                format!(
                    "{e}: the program is not executable, or the filesystem holding the rootfs is mounted noexec (pitfall R2)"
                )
            } else {
                e.to_string()
            };
            Err(exec_err(detail, refused))
        }
    }
}

/// Write one event line; a failing sink must not fail the build.
fn say(out: &mut dyn Write, line: &str) {
    let _ = writeln!(out, "{line}");
}

/// Seconds since the epoch, for metadata.
fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// One line of a builder tool's output, or the news that Ctrl-C/SIGTERM arrived.
pub(crate) enum ToolLine {
    /// A line as the learner would read it: the last `\r`-separated segment (apt and dnf
    /// redraw their progress with `\r`), trimmed; empty lines are skipped.
    Line(String),
    /// The read was interrupted and the lab is stopping: the caller kills the tool.
    Interrupted,
}

/// Iterate over a builder tool's output lines until EOF (see [`ToolLine`]).
pub(crate) struct ToolLines<R: io::Read> {
    reader: io::BufReader<R>,
    buf: Vec<u8>,
}

impl<R: io::Read> ToolLines<R> {
    /// Read `reader` line by line.
    pub(crate) fn new(reader: R) -> Self {
        Self {
            reader: io::BufReader::new(reader),
            buf: Vec::new(),
        }
    }
}

impl<R: io::Read> Iterator for ToolLines<R> {
    type Item = ToolLine;

    fn next(&mut self) -> Option<ToolLine> {
        use std::io::BufRead;
        loop {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    if crate::lab::interrupted() {
                        return Some(ToolLine::Interrupted);
                    }
                    continue;
                }
                Err(_) => return None,
            }
            let text = String::from_utf8_lossy(&self.buf);
            let line = text
                .trim_end()
                .rsplit('\r')
                .next()
                .unwrap_or_default()
                .trim_end()
                .to_string();
            if !line.is_empty() {
                return Some(ToolLine::Line(line));
            }
        }
    }
}

/// `line` cut to `max` characters, with `…` when cut.
pub(crate) fn shorten(line: &str, max: usize) -> String {
    if line.chars().count() <= max {
        line.to_string()
    } else {
        let mut s: String = line.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// Create each directory (relative to `root`) with its mode, set explicitly so the umask
/// does not decide and /tmp keeps its sticky bit. Existing ones just get the mode.
pub(crate) fn make_dirs(root: &Path, dirs: &[(&str, u32)]) -> Result<(), RootfsError> {
    use std::os::unix::fs::PermissionsExt;
    for (dir, mode) in dirs {
        let p = root.join(dir);
        match std::fs::create_dir(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(RootfsError::io("create", &p, e)),
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode))
            .map_err(|e| RootfsError::io("set the mode of", &p, e))?;
    }
    Ok(())
}

/// Write each small file (relative to `root`), e.g. a minimal /etc.
pub(crate) fn write_files(root: &Path, files: &[(&str, &str)]) -> Result<(), RootfsError> {
    for (file, text) in files {
        let p = root.join(file);
        std::fs::write(&p, text).map_err(|e| RootfsError::io("write", &p, e))?;
    }
    Ok(())
}
