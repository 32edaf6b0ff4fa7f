//! The `oci-archive` and `docker-archive` builders: a container image unpacked layer by layer.
//!
//! A container image is only a filesystem, shipped as a stack of tarballs ("layers") plus a
//! little JSON saying in which order to stack them. Nothing in it runs: unpack the layers
//! one over the other into an empty directory and you have the image's `/`.
//!
//! Two ways of packing the same thing into one file are read here:
//!
//! - **`docker save`** writes `manifest.json`, a list of `{Config, RepoTags, Layers}`: the
//!   image's configuration file and its layers, bottom first, as tar (or tar.gz) members of
//!   the archive. The configuration's `rootfs.diff_ids` are the SHA-256 of each layer's
//!   uncompressed tar, and are checked when present.
//! - An **OCI image layout** (the [OCI image spec]) holds `oci-layout`, `index.json` and
//!   content-addressed blobs under `blobs/sha256/`. The index points at a manifest (perhaps
//!   through a nested index, one manifest per platform), picked by the
//!   `org.opencontainers.image.ref.name` annotation; the manifest lists the configuration and
//!   the layers by digest and media type (`...layer.v1.tar`, `...tar+gzip`). Every blob is
//!   read back and its SHA-256 compared with the digest that names it before it is used.
//!
//! A layer records what changed relative to the layers below it. Added and changed files are
//! plain tar entries; a deletion cannot be a tar entry, so it is written as a **whiteout**:
//! an empty file `dir/.wh.NAME` means "`dir/NAME` from lower layers is gone", and
//! `dir/.wh..wh..opq` makes `dir` **opaque**: nothing that lower layers put in it shows
//! through. This is exactly how overlayfs stacks the layers on a Docker host; here they are
//! flattened into one tree: whiteouts are applied first, then the layer's entries written.
//!
//! **A layer is untrusted input written as root.** Nothing may land outside the tree:
//! entries with absolute paths or `..` are refused; every path is resolved one component at
//! a time from a directory descriptor of the tree (`openat` with `O_NOFOLLOW`), and a
//! symlink met on the way is resolved as the kernel would inside the container, relative to
//! the tree's own root, never the host's `/` (so a layer that plants `a -> /etc` and then
//! writes `a/passwd` writes the tree's `etc/passwd`); a leaf is removed before it is created
//! with `O_CREAT | O_EXCL | O_NOFOLLOW`; hard links must name a file inside the tree, resolved
//! the same way; device nodes and FIFOs are skipped (a runtime provides `/dev`).
//!
//! **Without root** the same unpacker runs with the same guards, as the user: mknod(2) of a
//! device and chown(2) to another uid need capabilities a user lacks (CAP_MKNOD,
//! CAP_CHOWN), so device nodes are skipped as always, every entry is written as the user's
//! (inside the lab's user namespace, which maps root to the user, root's), and setuid and
//! setgid bits are cleared (a setuid file of the user's would run as the user for anyone
//! on the host who can reach it). One summary line counts what was written differently, as
//! rootless podman and `umoci unpack --rootless` do with a single id to map.
//!
//! [OCI image spec]: https://github.com/opencontainers/image-spec/blob/main/layer.md

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use flate2::read::MultiGzDecoder;
use indicatif::{ProgressBar, ProgressStyle};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{
    FileStat, Mode, SFlag, UtimensatFlags, fchmod, fstatat, futimens, mkdirat, utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, fchownat, linkat, symlinkat, unlinkat};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::recipe::ImageParams;
use super::{BuildOptions, RootfsError, say};

/// Which tarball layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`).
    Oci,
    /// `docker save` (`manifest.json`, layer tarballs).
    Docker,
}

/// The largest JSON member read (manifest, index, config): bigger is not an image.
const MAX_JSON_BYTES: u64 = 16 << 20;
/// Symlinks followed while resolving one path, as the kernel's own limit (ELOOP).
const MAX_SYMLINK_HOPS: u32 = 40;
/// The deepest directory an entry may land in.
const MAX_DEPTH: usize = 512;
/// The longest entry path or link target accepted, in bytes (PATH_MAX).
const MAX_PATH_BYTES: usize = 4096;
/// Nested indexes followed from `index.json` to a manifest.
const MAX_INDEX_DEPTH: u32 = 4;
/// The opaque-directory marker.
const OPAQUE: &[u8] = b".wh..wh..opq";
/// The whiteout prefix.
const WH: &[u8] = b".wh.";

/// Check the host before anything is written: the archive is there and is a regular file.
pub(crate) fn preflight(params: &ImageParams) -> Result<(), RootfsError> {
    let path = &params.archive;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(RootfsError::ArchiveMissing { path: path.clone() });
        }
        Err(e) => return Err(RootfsError::io("read the image archive", path, e)),
    };
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file"
        };
        return Err(RootfsError::ArchiveNotFile {
            path: path.clone(),
            what: what.to_string(),
        });
    }
    Ok(())
}

/// The message of [`RootfsError::ImageChoice`].
pub(super) fn choice_message(path: &Path, asked: Option<&str>, available: &[String]) -> String {
    let names = if available.is_empty() {
        "(none)".to_string()
    } else {
        available
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match asked {
        Some(want) => format!(
            "the archive {} holds no image `{want}`: set `image` in the recipe to one of {names}",
            path.display()
        ),
        None => format!(
            "the archive {} holds {} images and the recipe does not say which to unpack: set `image` in the recipe to one of {names}",
            path.display(),
            available.len()
        ),
    }
}

/// Unpack the image the recipe names into the empty directory `tmp`.
pub(crate) fn build(
    params: &ImageParams,
    format: Format,
    tmp: &Path,
    opts: &BuildOptions,
    out: &mut dyn Write,
) -> Result<(), RootfsError> {
    let started = Instant::now();
    let archive = Archive::open(&params.archive, &params.archive_sha256)?;
    let image = match format {
        Format::Docker => docker_image(&archive, params.image.as_deref())?,
        Format::Oci => oci_image(&archive, params.image.as_deref())?,
    };
    say(
        out,
        &format!(
            "image `{}` ({}, {}): {} {}",
            image.name,
            match format {
                Format::Docker => "docker save archive",
                Format::Oci => "OCI image layout",
            },
            image.platform,
            image.layers.len(),
            if image.layers.len() == 1 {
                "layer"
            } else {
                "layers"
            }
        ),
    );
    let host = host_arch();
    if let Some(arch) = &image.arch
        && arch != host
    {
        say(
            out,
            &format!(
                "note: the image is built for {arch} and this host is {host}: its files unpack, but its programs will fail with \"exec format error\""
            ),
        );
    }

    let pb = progress(opts);
    let mut tree = Tree::open(tmp)?;
    let mut total = Stats::default();
    let mut whiteouts_total = 0;
    let count = image.layers.len();
    for (i, layer) in image.layers.iter().enumerate() {
        let n = i + 1;
        let scan = archive.with_member(&layer.member, |r| {
            scan_layer(r).map_err(|e| RootfsError::io("read", &archive.path, e))
        })?;
        let digest = layer
            .digest
            .clone()
            .unwrap_or_else(|| scan.raw_digest.clone());
        let label = format!("{n}/{count} ({})", short_digest(&digest));
        let bad = |reason: String, fix: &str| RootfsError::BadImage {
            path: archive.path.clone(),
            reason,
            fix: fix.to_string(),
        };
        if let Some(want) = &layer.digest
            && *want != scan.raw_digest
        {
            return Err(RootfsError::DigestMismatch {
                path: archive.path.clone(),
                what: format!("the blob of layer {n}/{count}"),
                expected: want.clone(),
                actual: scan.raw_digest,
            });
        }
        if let Some(size) = layer.size
            && size != scan.raw_size
        {
            return Err(bad(
                format!(
                    "layer {label} is {} bytes but the manifest says {size}",
                    scan.raw_size
                ),
                "the archive is truncated or was altered; get a fresh copy",
            ));
        }
        match scan.problem {
            Some(Problem::Unsafe { entry, reason }) => {
                return Err(RootfsError::UnsafeEntry {
                    path: archive.path.clone(),
                    layer: label,
                    entry,
                    reason,
                });
            }
            Some(Problem::Bad(reason)) => {
                return Err(bad(
                    format!("layer {label} ({}): {reason}", layer.member),
                    "the layer is damaged or uses a format this builder does not read; save the image again with `docker save` or `skopeo copy`",
                ));
            }
            None => {}
        }
        if let (Some(want), Some(got)) = (&layer.diff_id, &scan.diff_id)
            && want != got
        {
            return Err(RootfsError::DigestMismatch {
                path: archive.path.clone(),
                what: format!("the uncompressed tar (diff_id) of layer {n}/{count}"),
                expected: want.clone(),
                actual: got.clone(),
            });
        }

        let ctx = Ctx {
            archive: &archive.path,
            layer: &label,
        };
        let applied = tree.apply_whiteouts(&scan.whiteouts, &scan.opaque, &ctx)?;
        let stats = archive.with_member(&layer.member, |r| tree.unpack(r, &ctx, &pb))?;
        let mut line = format!(
            "layer {n}/{count} {}: {}{}, {} {}, {} {} applied",
            short_digest(&digest),
            human_bytes(scan.raw_size),
            if scan.gzip { " gzip" } else { "" },
            stats.entries,
            plural(stats.entries, "entry", "entries"),
            applied,
            plural(applied, "whiteout", "whiteouts"),
        );
        if !stats.skipped.is_empty() {
            let shown: Vec<&str> = stats.skipped.iter().take(4).map(String::as_str).collect();
            line.push_str(&format!(
                "; skipped {} device {} or FIFOs ({}{}): a container gets /dev from its runtime, not from the image",
                stats.skipped.len(),
                plural(stats.skipped.len(), "node", "nodes"),
                shown.join(", "),
                if stats.skipped.len() > shown.len() {
                    ", …"
                } else {
                    ""
                }
            ));
        }
        pb.suspend(|| say(out, &line));
        whiteouts_total += applied;
        total.add(&stats);
    }
    tree.finish()?;
    pb.finish_and_clear();
    say(
        out,
        &format!(
            "unpacked {count} {} in {:.1} s: {} files, {} directories, {} symlinks, {} hard links, {} {} applied",
            plural(count, "layer", "layers"),
            started.elapsed().as_secs_f64(),
            total.files,
            total.dirs,
            total.symlinks,
            total.hardlinks,
            whiteouts_total,
            plural(whiteouts_total, "whiteout", "whiteouts"),
        ),
    );
    if let Some(note) = tree.rootless.note() {
        say(out, &note);
    }
    Ok(())
}

/// Unpack `layers` (each a layer's bytes: a tar stream, or a gzip-compressed one, told
/// apart by its first bytes), bottom first, into the existing directory `tree`, exactly as
/// [`build`] applies each layer of an image: the layer is scanned (every entry path and
/// hard link target checked), its whiteouts are applied to what the layers below made,
/// its entries are written through directory descriptors of `tree`, and once all layers are
/// in, each directory gets its mode and mtime. No outer archive, manifest or digest is
/// involved: this is the part of the builder that writes untrusted input, on its own, for
/// the fuzz target `unpack` and its regression test (`fromscratch::fuzzing::unpack`).
/// Symlinks are resolved inside `tree` only (see the module docs; path_resolution(7),
/// open(2) `O_NOFOLLOW`); `tree` is never left, whatever a layer holds.
///
/// # Errors
/// [`RootfsError::UnsafeEntry`] for an absolute path, a `..` component, a NUL byte, a path
/// over 4096 bytes or 512 levels, or a hard link whose target is such a path;
/// [`RootfsError::BadImage`] for a stream that is not tar (or tar+gzip), or an entry that
/// cannot be applied over the layers below (a file used as a directory, a hard link to
/// nothing); [`RootfsError::Io`] when the host refuses a write under `tree`.
#[doc(hidden)]
pub fn unpack_layers(layers: &[&[u8]], tree: &Path) -> Result<(), RootfsError> {
    let archive = Path::new("(fuzz input)");
    let mut dir = Tree::open(tree)?;
    let count = layers.len();
    for (i, bytes) in layers.iter().enumerate() {
        let label = format!("{}/{count}", i + 1);
        let scan = scan_layer(&mut &bytes[..]).map_err(|e| RootfsError::io("read", archive, e))?;
        match scan.problem {
            Some(Problem::Unsafe { entry, reason }) => {
                return Err(RootfsError::UnsafeEntry {
                    path: archive.to_path_buf(),
                    layer: label,
                    entry,
                    reason,
                });
            }
            Some(Problem::Bad(reason)) => {
                return Err(RootfsError::BadImage {
                    path: archive.to_path_buf(),
                    reason: format!("layer {label}: {reason}"),
                    fix: "the layer is damaged".to_string(),
                });
            }
            None => {}
        }
        let ctx = Ctx {
            archive,
            layer: &label,
        };
        dir.apply_whiteouts(&scan.whiteouts, &scan.opaque, &ctx)?;
        dir.unpack(&mut &bytes[..], &ctx, &ProgressBar::hidden())?;
    }
    dir.finish()
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

fn human_bytes(b: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = b as f64;
    if b < 1024 {
        format!("{b} B")
    } else if f < 1_048_576.0 {
        format!("{:.1} KB", f / 1024.0)
    } else if f < 1_073_741_824.0 {
        format!("{:.1} MB", f / 1_048_576.0)
    } else {
        format!("{:.1} GB", f / 1_073_741_824.0)
    }
}

/// `sha256:` and the first 12 hex digits.
fn short_digest(d: &str) -> String {
    match d.split_once(':') {
        Some((alg, hex)) => format!("{alg}:{}", hex.get(..12).unwrap_or(hex)),
        None => d.get(..12).unwrap_or(d).to_string(),
    }
}

/// A spinner that advances with each entry written (no ticker thread), or a hidden bar.
fn progress(opts: &BuildOptions) -> ProgressBar {
    if opts.quiet || !crate::term::progress_bars() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} unpacking [{elapsed}] {pos} entries {msg}")
    {
        pb.set_style(style);
    }
    pb
}

/// The OCI/Go name of this host's architecture.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

// ---------------------------------------------------------------------------------------
// The outer archive: members found by name, read in place.
// ---------------------------------------------------------------------------------------

/// A reader that hashes what passes through it.
struct HashRead<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    /// False: only count (the stream is hashed elsewhere).
    enabled: bool,
}

impl<R: Read> HashRead<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
            enabled: true,
        }
    }

    /// Read to the end, then return `sha256:<hex>`.
    fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.bytes,
        ))
    }
}

impl<R: Read> Read for HashRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.enabled {
            self.hasher.update(&buf[..n]);
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Read up to 6 bytes, to tell gzip from tar without consuming them.
fn sniff(r: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(6);
    r.take(6).read_to_end(&mut head)?;
    Ok(head)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    Plain,
    Gzip,
    Other(&'static str),
}

fn compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Other("zstd")
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Compression::Other("xz")
    } else if head.starts_with(b"BZh") {
        Compression::Other("bzip2")
    } else {
        Compression::Plain
    }
}

/// A member of the outer archive.
#[derive(Debug, Clone)]
enum Member {
    /// Bytes at `offset` (in the uncompressed tar stream).
    File { offset: u64, size: u64 },
    /// A symlink or hard link to another member (its normalised name).
    Link(String),
}

/// The image tarball, indexed by member name.
struct Archive {
    path: PathBuf,
    /// The whole archive is gzip-compressed (`docker save | gzip`): members are found by
    /// reading it again from the start instead of seeking.
    gzip: bool,
    members: BTreeMap<String, Member>,
}

/// Lexically normalise an archive member name: no `.`, no empty components, `..` pops.
fn normalise(name: &[u8]) -> String {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in name.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    String::from_utf8_lossy(&parts.join(&b'/')).into_owned()
}

impl Archive {
    /// Read the archive once: index its members and check its SHA-256 against the one the
    /// recipe's cache key was made from.
    fn open(path: &Path, expected_sha256: &str) -> Result<Self, RootfsError> {
        let not_tar = |e: io::Error| {
            RootfsError::BadImage {
            path: path.to_path_buf(),
            reason: format!("it cannot be read as a tar archive ({e})"),
            fix: "give a tarball written by `docker save`, or an OCI image layout packed with `tar -C DIR -cf FILE .`".to_string(),
        }
        };
        let mut file = File::open(path).map_err(|e| RootfsError::io("open", path, e))?;
        let head = sniff(&mut file).map_err(|e| RootfsError::io("read", path, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| RootfsError::io("read", path, e))?;
        let gzip = match compression(&head) {
            Compression::Plain => false,
            Compression::Gzip => true,
            Compression::Other(kind) => {
                return Err(RootfsError::BadImage {
                    path: path.to_path_buf(),
                    reason: format!("it is {kind}-compressed"),
                    fix: format!(
                        "decompress it first ({kind} -d), or compress it with gzip instead"
                    ),
                });
            }
        };
        let mut raw = HashRead::new(file);
        let mut members = BTreeMap::new();
        {
            let stream: Box<dyn Read + '_> = if gzip {
                Box::new(MultiGzDecoder::new(&mut raw))
            } else {
                Box::new(&mut raw)
            };
            let mut tar = tar::Archive::new(stream);
            for entry in tar.entries().map_err(not_tar)? {
                let entry = entry.map_err(not_tar)?;
                let kind = entry.header().entry_type();
                let name = normalise(&entry.path_bytes());
                let member = if kind.is_file() || kind.is_contiguous() {
                    Member::File {
                        offset: entry.raw_file_position(),
                        size: entry.size(),
                    }
                } else if kind.is_symlink() {
                    let target = entry.link_name_bytes().unwrap_or_default();
                    let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                    let mut joined = dir.as_bytes().to_vec();
                    joined.push(b'/');
                    joined.extend_from_slice(&target);
                    Member::Link(normalise(&joined))
                } else if kind.is_hard_link() {
                    Member::Link(normalise(&entry.link_name_bytes().unwrap_or_default()))
                } else {
                    continue;
                };
                members.insert(name, member);
            }
            // Read the rest too (end-of-archive blocks, padding) so the hash covers the file.
            let mut rest = tar.into_inner();
            io::copy(&mut rest, &mut io::sink()).map_err(not_tar)?;
        }
        let (actual, _) = raw.finish().map_err(|e| RootfsError::io("read", path, e))?;
        let actual = actual.trim_start_matches("sha256:").to_string();
        if actual != expected_sha256 {
            return Err(RootfsError::ArchiveChanged {
                path: path.to_path_buf(),
                expected: expected_sha256.to_string(),
                actual,
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            gzip,
            members,
        })
    }

    /// The member `name` ends at after following links: its name, offset and size.
    fn resolve(&self, name: &str) -> Option<(String, u64, u64)> {
        let mut name = normalise(name.as_bytes());
        for _ in 0..16 {
            match self.members.get(&name)? {
                Member::File { offset, size } => return Some((name, *offset, *size)),
                Member::Link(to) => name = to.clone(),
            }
        }
        None
    }

    fn has(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }

    fn missing(&self, name: &str, what: &str) -> RootfsError {
        RootfsError::BadImage {
            path: self.path.clone(),
            reason: format!("it has no member `{name}` ({what})"),
            fix: "the archive is incomplete; save the image again".to_string(),
        }
    }

    /// Call `f` with a reader over the member `name`.
    fn with_member<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut dyn Read) -> Result<T, RootfsError>,
    ) -> Result<T, RootfsError> {
        let Some((target, offset, size)) = self.resolve(name) else {
            return Err(self.missing(name, "named by the image's manifest"));
        };
        let io_err = |e: io::Error| RootfsError::io("read", &self.path, e);
        let mut file = File::open(&self.path).map_err(io_err)?;
        if !self.gzip {
            file.seek(SeekFrom::Start(offset)).map_err(io_err)?;
            let mut member = file.take(size);
            return f(&mut member);
        }
        let mut tar = tar::Archive::new(MultiGzDecoder::new(file));
        let bad = |e: io::Error| RootfsError::BadImage {
            path: self.path.clone(),
            reason: format!("it cannot be read again ({e})"),
            fix: "the archive changed during the build; build again".to_string(),
        };
        for entry in tar.entries().map_err(bad)? {
            let mut entry = entry.map_err(bad)?;
            let kind = entry.header().entry_type();
            if (kind.is_file() || kind.is_contiguous())
                && normalise(&entry.path_bytes()) == target
                && entry.raw_file_position() == offset
            {
                return f(&mut entry);
            }
        }
        Err(self.missing(name, "found when the archive was first read, gone now"))
    }

    /// Read a small member whole.
    fn read_small(&self, name: &str) -> Result<Vec<u8>, RootfsError> {
        self.with_member(name, |r| {
            let mut buf = Vec::new();
            r.take(MAX_JSON_BYTES + 1)
                .read_to_end(&mut buf)
                .map_err(|e| RootfsError::io("read", &self.path, e))?;
            if buf.len() as u64 > MAX_JSON_BYTES {
                return Err(RootfsError::BadImage {
                    path: self.path.clone(),
                    reason: format!("its member `{name}` is larger than 16 MiB"),
                    fix: "this is not an image's JSON file; check the archive".to_string(),
                });
            }
            Ok(buf)
        })
    }

    fn parse_json<T: DeserializeOwned>(&self, name: &str, bytes: &[u8]) -> Result<T, RootfsError> {
        serde_json::from_slice(bytes).map_err(|e| RootfsError::BadImage {
            path: self.path.clone(),
            reason: format!("its `{name}` is not what the image format says it is ({e})"),
            fix: "the archive is damaged or not an image; save the image again".to_string(),
        })
    }

    fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<T, RootfsError> {
        let bytes = self.read_small(name)?;
        self.parse_json(name, &bytes)
    }
}

// ---------------------------------------------------------------------------------------
// The image: which layers, from docker save's manifest.json or an OCI index.
// ---------------------------------------------------------------------------------------

/// One layer to apply.
#[derive(Debug)]
struct LayerRef {
    /// Its member in the outer archive.
    member: String,
    /// `sha256:...` of the stored (maybe compressed) bytes, when something names it so.
    digest: Option<String>,
    /// `sha256:...` of the uncompressed tar, from the configuration's `rootfs.diff_ids`.
    diff_id: Option<String>,
    /// The size the manifest gives.
    size: Option<u64>,
}

/// The image picked from the archive.
#[derive(Debug)]
struct Image {
    name: String,
    /// `os/arch` from its configuration, or "platform unknown".
    platform: String,
    arch: Option<String>,
    layers: Vec<LayerRef>,
}

/// The parts of an image configuration read here (both formats share it).
#[derive(Debug, Default, Deserialize)]
struct ImageConfig {
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    rootfs: Option<RootfsSection>,
}

#[derive(Debug, Default, Deserialize)]
struct RootfsSection {
    #[serde(default)]
    diff_ids: Vec<String>,
}

impl ImageConfig {
    fn platform(&self) -> String {
        match (&self.os, &self.architecture) {
            (Some(os), Some(arch)) => format!("{os}/{arch}"),
            (None, Some(arch)) => arch.clone(),
            _ => "platform unknown".to_string(),
        }
    }

    /// The diff_ids, when there is one per layer.
    fn diff_ids(&self, layers: usize) -> Vec<Option<String>> {
        match &self.rootfs {
            Some(r) if r.diff_ids.len() == layers => r.diff_ids.iter().cloned().map(Some).collect(),
            _ => vec![None; layers],
        }
    }
}

/// One image in docker save's `manifest.json`.
#[derive(Debug, Deserialize)]
struct DockerEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

impl DockerEntry {
    fn names(&self) -> Vec<String> {
        match &self.repo_tags {
            Some(tags) if !tags.is_empty() => tags.clone(),
            _ => vec![format!("untagged {}", short_config(&self.config))],
        }
    }

    fn matches(&self, want: &str) -> bool {
        let tags = self.repo_tags.as_deref().unwrap_or_default();
        let id = want.trim_start_matches("sha256:");
        tags.iter()
            .any(|t| t == want || *t == format!("{want}:latest"))
            || (id.len() >= 12
                && id.bytes().all(|b| b.is_ascii_hexdigit())
                && self.config.contains(id))
    }
}

fn short_config(config: &str) -> String {
    let base = config.rsplit('/').next().unwrap_or(config);
    let base = base.trim_end_matches(".json");
    base.get(..12).unwrap_or(base).to_string()
}

/// `sha256:<hex>` when `member` is named by its own digest (`<hex>.json`,
/// `blobs/sha256/<hex>`), so it can be checked.
fn digest_in_name(member: &str) -> Option<String> {
    let base = member.rsplit('/').next()?;
    let hex = base.strip_suffix(".json").unwrap_or(base);
    is_sha256_hex(hex).then(|| format!("sha256:{hex}"))
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn sha256_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn docker_image(archive: &Archive, want: Option<&str>) -> Result<Image, RootfsError> {
    if !archive.has("manifest.json") {
        let (reason, fix) = if archive.has("index.json") {
            (
                "it has no manifest.json but an index.json: it is an OCI image layout",
                "use kind = \"oci-archive\" in the recipe",
            )
        } else {
            (
                "it has no manifest.json, so `docker save` did not write it",
                "save the image with `docker save -o FILE IMAGE` (or `podman save --format docker-archive`)",
            )
        };
        return Err(RootfsError::BadImage {
            path: archive.path.clone(),
            reason: reason.to_string(),
            fix: fix.to_string(),
        });
    }
    let entries: Vec<DockerEntry> = archive.read_json("manifest.json")?;
    let all_names: Vec<String> = entries.iter().flat_map(DockerEntry::names).collect();
    let chosen = match want {
        Some(w) => {
            entries
                .iter()
                .find(|e| e.matches(w))
                .ok_or_else(|| RootfsError::ImageChoice {
                    path: archive.path.clone(),
                    asked: Some(w.to_string()),
                    available: all_names.clone(),
                })?
        }
        None => match entries.as_slice() {
            [one] => one,
            [] => {
                return Err(RootfsError::BadImage {
                    path: archive.path.clone(),
                    reason: "its manifest.json lists no image".to_string(),
                    fix: "save the image again with `docker save -o FILE IMAGE`".to_string(),
                });
            }
            _ => {
                return Err(RootfsError::ImageChoice {
                    path: archive.path.clone(),
                    asked: None,
                    available: all_names,
                });
            }
        },
    };
    let config_bytes = archive.read_small(&chosen.config)?;
    if let Some(want) = digest_in_name(&chosen.config) {
        let got = sha256_of(&config_bytes);
        if got != want {
            return Err(RootfsError::DigestMismatch {
                path: archive.path.clone(),
                what: "the image configuration".to_string(),
                expected: want,
                actual: got,
            });
        }
    }
    let config: ImageConfig = archive.parse_json(&chosen.config, &config_bytes)?;
    let diff_ids = config.diff_ids(chosen.layers.len());
    let layers = chosen
        .layers
        .iter()
        .zip(diff_ids)
        .map(|(member, diff_id)| LayerRef {
            // docker save ≥ 25 stores layers as blobs/sha256/<digest>: checkable.
            digest: member
                .contains("blobs/sha256/")
                .then(|| digest_in_name(member))
                .flatten(),
            member: member.clone(),
            diff_id,
            size: None,
        })
        .collect();
    Ok(Image {
        name: chosen.names().join(", "),
        platform: config.platform(),
        arch: config.architecture.clone(),
        layers,
    })
}

/// An OCI content descriptor.
#[derive(Debug, Clone, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    digest: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Debug, Clone, Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

impl Platform {
    fn text(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

impl Descriptor {
    fn name(&self) -> String {
        self.annotations
            .get(REF_NAME)
            .or_else(|| self.annotations.get(CONTAINERD_NAME))
            .cloned()
            .unwrap_or_else(|| short_digest(&self.digest))
    }

    fn matches(&self, want: &str) -> bool {
        self.annotations.get(REF_NAME).is_some_and(|n| n == want)
            || self
                .annotations
                .get(CONTAINERD_NAME)
                .is_some_and(|n| n == want || n.ends_with(&format!("/{want}")))
            || self.digest == want
    }

    /// An attestation or other non-runnable manifest buildx puts beside the images.
    fn is_attestation(&self) -> bool {
        self.platform.as_ref().is_some_and(|p| p.os == "unknown")
            || self.annotations.contains_key("vnd.docker.reference.type")
    }
}

#[derive(Debug, Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
struct Layout {
    #[serde(rename = "imageLayoutVersion")]
    version: String,
}

/// The member holding the blob `digest`, refusing digests that are not `sha256:<64 hex>`.
fn blob_member(archive: &Archive, digest: &str) -> Result<String, RootfsError> {
    match digest.split_once(':') {
        Some(("sha256", hex)) if is_sha256_hex(hex) => Ok(format!("blobs/sha256/{hex}")),
        _ => Err(RootfsError::BadImage {
            path: archive.path.clone(),
            reason: format!(
                "it names a blob by the digest `{digest}`, which is not sha256:<64 hex digits>"
            ),
            fix: "only sha256 digests are supported; copy the image again with skopeo or docker"
                .to_string(),
        }),
    }
}

/// Read a small blob and check its size and digest.
fn read_blob(archive: &Archive, d: &Descriptor, what: &str) -> Result<Vec<u8>, RootfsError> {
    let member = blob_member(archive, &d.digest)?;
    if !archive.has(&member) {
        return Err(archive.missing(&member, what));
    }
    let bytes = archive.read_small(&member)?;
    let got = sha256_of(&bytes);
    if got != d.digest {
        return Err(RootfsError::DigestMismatch {
            path: archive.path.clone(),
            what: format!("the {what} blob"),
            expected: d.digest.clone(),
            actual: got,
        });
    }
    if let Some(size) = d.size
        && size != bytes.len() as u64
    {
        return Err(RootfsError::BadImage {
            path: archive.path.clone(),
            reason: format!(
                "the {what} blob {} is {} bytes but its descriptor says {size}",
                d.digest,
                bytes.len()
            ),
            fix: "the archive was altered; get a fresh copy".to_string(),
        });
    }
    Ok(bytes)
}

fn oci_image(archive: &Archive, want: Option<&str>) -> Result<Image, RootfsError> {
    let bad = |reason: String, fix: &str| RootfsError::BadImage {
        path: archive.path.clone(),
        reason,
        fix: fix.to_string(),
    };
    if !archive.has("oci-layout") || !archive.has("index.json") {
        return Err(if archive.has("manifest.json") {
            bad(
                "it has no oci-layout and index.json but a manifest.json: `docker save` wrote it"
                    .into(),
                "use kind = \"docker-archive\" in the recipe",
            )
        } else {
            bad(
                "it has no oci-layout and index.json, so it is not an OCI image layout".into(),
                "pack an OCI layout directory with `tar -C DIR -cf FILE .`, or write one with `skopeo copy docker://IMAGE oci-archive:FILE`",
            )
        });
    }
    let layout: Layout = archive.read_json("oci-layout")?;
    if !layout.version.starts_with("1.") {
        return Err(bad(
            format!(
                "its oci-layout says version {}, and only 1.x is read",
                layout.version
            ),
            "write the layout with a tool that follows OCI image spec 1.x",
        ));
    }
    let index: Index = archive.read_json("index.json")?;
    let names: Vec<String> = {
        let mut seen = BTreeSet::new();
        index
            .manifests
            .iter()
            .filter(|d| !d.is_attestation())
            .map(Descriptor::name)
            .filter(|n| seen.insert(n.clone()))
            .collect()
    };
    let candidates: Vec<&Descriptor> = match want {
        Some(w) => {
            let found: Vec<&Descriptor> = index.manifests.iter().filter(|d| d.matches(w)).collect();
            if found.is_empty() {
                return Err(RootfsError::ImageChoice {
                    path: archive.path.clone(),
                    asked: Some(w.to_string()),
                    available: names,
                });
            }
            found
        }
        None => {
            if names.len() > 1 {
                return Err(RootfsError::ImageChoice {
                    path: archive.path.clone(),
                    asked: None,
                    available: names,
                });
            }
            index.manifests.iter().collect()
        }
    };
    let mut desc = pick_platform(archive, &candidates)?.clone();
    let name = want.map_or_else(|| desc.name(), str::to_string);

    // Follow nested indexes (one manifest per platform) down to an image manifest.
    let mut depth = 0;
    let manifest: Manifest = loop {
        let bytes = read_blob(archive, &desc, "manifest")?;
        let value: serde_json::Value = archive.parse_json(&desc.digest, &bytes)?;
        if value.get("manifests").is_some() {
            depth += 1;
            if depth > MAX_INDEX_DEPTH {
                return Err(bad(
                    format!("its indexes nest more than {MAX_INDEX_DEPTH} deep"),
                    "point index.json at the image manifest",
                ));
            }
            let nested: Index = archive.parse_json(&desc.digest, &bytes)?;
            let list: Vec<&Descriptor> = nested.manifests.iter().collect();
            desc = pick_platform(archive, &list)?.clone();
            continue;
        }
        break archive.parse_json(&desc.digest, &bytes)?;
    };
    let config_bytes = read_blob(archive, &manifest.config, "configuration")?;
    let config: ImageConfig = archive.parse_json(&manifest.config.digest, &config_bytes)?;
    let diff_ids = config.diff_ids(manifest.layers.len());
    let mut layers = Vec::new();
    for (d, diff_id) in manifest.layers.iter().zip(diff_ids) {
        let media = d.media_type.as_deref().unwrap_or("");
        if media.contains("zstd") {
            return Err(bad(
                format!("layer {} is zstd-compressed ({media})", d.digest),
                "copy the image with gzip layers, e.g. `skopeo copy --dest-compress-format gzip`",
            ));
        }
        if !media.is_empty() && !media.contains(".tar") && !media.contains("tar.") {
            return Err(bad(
                format!(
                    "layer {} has the media type {media}, which is not a filesystem tarball",
                    d.digest
                ),
                "point the manifest at tar or tar+gzip layers",
            ));
        }
        layers.push(LayerRef {
            member: blob_member(archive, &d.digest)?,
            digest: Some(d.digest.clone()),
            diff_id,
            size: d.size,
        });
    }
    Ok(Image {
        name,
        platform: config.platform(),
        arch: config.architecture.clone(),
        layers,
    })
}

/// Pick one manifest among `list`: the only runnable one, or the one for this host.
fn pick_platform<'a>(
    archive: &Archive,
    list: &[&'a Descriptor],
) -> Result<&'a Descriptor, RootfsError> {
    let runnable: Vec<&Descriptor> = list
        .iter()
        .copied()
        .filter(|d| !d.is_attestation())
        .collect();
    match runnable.as_slice() {
        [] => {
            return Err(RootfsError::BadImage {
                path: archive.path.clone(),
                reason: "its index lists no image manifest".to_string(),
                fix: "save or copy the image again".to_string(),
            });
        }
        [one] => return Ok(one),
        _ => {}
    }
    let host = host_arch();
    if let Some(d) = runnable.iter().find(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.os == "linux" && p.architecture == host)
    }) {
        return Ok(d);
    }
    if runnable.iter().all(|d| d.platform.is_none()) {
        return Err(RootfsError::ImageChoice {
            path: archive.path.clone(),
            asked: None,
            available: runnable.iter().map(|d| d.digest.clone()).collect(),
        });
    }
    let have: Vec<String> = runnable
        .iter()
        .filter_map(|d| d.platform.as_ref().map(Platform::text))
        .collect();
    Err(RootfsError::BadImage {
        path: archive.path.clone(),
        reason: format!(
            "it has no image for linux/{host}, only for {}",
            have.join(", ")
        ),
        fix: format!(
            "save the image for this host (`docker pull --platform linux/{host}`, then `docker save`)"
        ),
    })
}

// ---------------------------------------------------------------------------------------
// A layer: first read to verify it and find its whiteouts, then read again to apply it.
// ---------------------------------------------------------------------------------------

/// What the entries of a layer mean for the tree.
enum Kind {
    /// `dir/.wh..wh..opq`: `dir` hides what lower layers put in it.
    Opaque(Vec<OsString>),
    /// `dir/.wh.NAME`: `dir/NAME` from lower layers is deleted.
    Whiteout(Vec<OsString>, OsString),
    /// `.wh..wh.*` other than the opaque marker: aufs bookkeeping, never created.
    AufsMeta,
    /// Anything else: created.
    Plain,
}

/// Why an entry is refused or a layer unreadable.
enum Problem {
    Unsafe { entry: String, reason: String },
    Bad(String),
}

/// The first read of a layer.
struct Scan {
    raw_digest: String,
    raw_size: u64,
    gzip: bool,
    /// SHA-256 of the uncompressed tar; `None` when it could not be read to the end.
    diff_id: Option<String>,
    opaque: Vec<Vec<OsString>>,
    whiteouts: Vec<(Vec<OsString>, OsString)>,
    problem: Option<Problem>,
}

/// Split an entry path into components, refusing what could reach outside the tree.
/// `./` and empty components are dropped; an empty result names the tree's root.
fn components(raw: &[u8]) -> Result<Vec<OsString>, String> {
    if raw.len() > MAX_PATH_BYTES {
        return Err(format!("has a path longer than {MAX_PATH_BYTES} bytes"));
    }
    if raw.contains(&0) {
        return Err("has a NUL byte in its path".to_string());
    }
    if raw.starts_with(b"/") {
        return Err(
            "is an absolute path (it would be written over the host's own files)".to_string(),
        );
    }
    let mut out = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                return Err("has a `..` component (it would climb out of the rootfs)".to_string());
            }
            c => out.push(OsString::from_vec(c.to_vec())),
        }
    }
    if out.len() > MAX_DEPTH {
        return Err(format!("is nested deeper than {MAX_DEPTH} directories"));
    }
    Ok(out)
}

fn classify(comps: &[OsString]) -> Result<Kind, String> {
    let Some((last, parent)) = comps.split_last() else {
        return Ok(Kind::Plain);
    };
    let name = last.as_bytes();
    if name == OPAQUE {
        return Ok(Kind::Opaque(parent.to_vec()));
    }
    if comps.iter().any(|c| c.as_bytes().starts_with(b".wh..wh.")) {
        // `.wh..wh.plnk/`, `.wh..wh.aufs`: aufs bookkeeping, never part of the tree.
        return Ok(Kind::AufsMeta);
    }
    if let Some(target) = name.strip_prefix(WH) {
        if matches!(target, b"" | b"." | b"..") {
            return Err("is a whiteout that names no file (or `.`/`..`)".to_string());
        }
        return Ok(Kind::Whiteout(
            parent.to_vec(),
            OsString::from_vec(target.to_vec()),
        ));
    }
    Ok(Kind::Plain)
}

fn lossy(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// Read a layer once: hash it as stored and uncompressed, check every entry name and hard
/// link target, and collect its whiteouts. Never fails: what is wrong goes in `problem`,
/// so that a corrupt blob is reported as a digest mismatch, not as a gzip error.
fn scan_layer(r: &mut dyn Read) -> io::Result<Scan> {
    let mut raw = HashRead::new(r);
    let mut scan = Scan {
        raw_digest: String::new(),
        raw_size: 0,
        gzip: false,
        diff_id: None,
        opaque: Vec::new(),
        whiteouts: Vec::new(),
        problem: None,
    };
    match sniff(&mut raw) {
        Err(e) => return Err(e),
        Ok(head) => {
            let kind = compression(&head);
            scan.gzip = kind == Compression::Gzip;
            let joined = io::Cursor::new(head).chain(&mut raw);
            let result = match kind {
                // Uncompressed, the diff_id is the digest computed below: hash once.
                Compression::Plain => scan_entries(joined, false, &mut scan),
                Compression::Gzip => scan_entries(MultiGzDecoder::new(joined), true, &mut scan),
                Compression::Other(name) => Err(Problem::Bad(format!(
                    "it is {name}-compressed; only tar and tar+gzip layers are read"
                ))),
            };
            if let Err(p) = result {
                scan.problem = Some(p);
            }
        }
    }
    let (digest, size) = raw.finish()?;
    if !scan.gzip && scan.problem.is_none() {
        scan.diff_id = Some(digest.clone());
    }
    scan.raw_digest = digest;
    scan.raw_size = size;
    Ok(scan)
}

fn scan_entries(r: impl Read, hash: bool, scan: &mut Scan) -> Result<(), Problem> {
    let corrupt = |e: io::Error| Problem::Bad(format!("it is not a readable tar stream ({e})"));
    let mut stream = HashRead::new(r);
    stream.enabled = hash;
    let mut tar = tar::Archive::new(stream);
    for entry in tar.entries().map_err(corrupt)? {
        let entry = entry.map_err(corrupt)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            continue;
        }
        let raw = entry.path_bytes();
        let unsafe_entry = |reason: String| Problem::Unsafe {
            entry: lossy(&raw),
            reason,
        };
        let comps = components(&raw).map_err(unsafe_entry)?;
        match classify(&comps).map_err(unsafe_entry)? {
            Kind::Opaque(dir) => scan.opaque.push(dir),
            Kind::Whiteout(dir, name) => scan.whiteouts.push((dir, name)),
            Kind::AufsMeta => {}
            Kind::Plain => {
                if kind.is_hard_link() {
                    let target = entry.link_name_bytes().unwrap_or_default();
                    components(&target).map_err(|why| {
                        unsafe_entry(format!(
                            "is a hard link to `{}` outside the rootfs: the target {why}",
                            lossy(&target)
                        ))
                    })?;
                }
                if kind.is_symlink() {
                    let target = entry.link_name_bytes().unwrap_or_default();
                    if target.contains(&0) || target.len() > MAX_PATH_BYTES {
                        return Err(unsafe_entry(
                            "is a symlink whose target holds a NUL byte or is too long".into(),
                        ));
                    }
                }
            }
        }
    }
    let (digest, _) = tar.into_inner().finish().map_err(corrupt)?;
    if hash {
        scan.diff_id = Some(digest);
    }
    Ok(())
}

/// Where errors are reported: which archive and layer.
struct Ctx<'a> {
    archive: &'a Path,
    layer: &'a str,
}

impl Ctx<'_> {
    fn unsafe_entry(&self, entry: &[u8], reason: String) -> RootfsError {
        RootfsError::UnsafeEntry {
            path: self.archive.to_path_buf(),
            layer: self.layer.to_string(),
            entry: lossy(entry),
            reason,
        }
    }

    fn bad(&self, entry: &[u8], reason: &str) -> RootfsError {
        RootfsError::BadImage {
            path: self.archive.to_path_buf(),
            reason: format!(
                "in layer {}, the entry `{}` {reason}",
                self.layer,
                lossy(entry)
            ),
            fix:
                "the layer cannot be applied over the ones below it; check how the image was built"
                    .to_string(),
        }
    }

    fn tree(&self, entry: &[u8], e: TreeError) -> RootfsError {
        match e {
            TreeError::Bad(reason) => self.bad(entry, &reason),
            TreeError::Io { action, path, err } => RootfsError::io(&action, &path, err),
        }
    }
}

/// Counts for one layer.
#[derive(Debug, Default)]
struct Stats {
    entries: usize,
    files: usize,
    dirs: usize,
    symlinks: usize,
    hardlinks: usize,
    /// Device nodes, FIFOs and unknown entry types, by path.
    skipped: Vec<String>,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.entries += o.entries;
        self.files += o.files;
        self.dirs += o.dirs;
        self.symlinks += o.symlinks;
        self.hardlinks += o.hardlinks;
    }
}

// ---------------------------------------------------------------------------------------
// The tree: every write goes through a directory descriptor, never a host path.
// ---------------------------------------------------------------------------------------

enum TreeError {
    /// The layer asks for something impossible (e.g. a file used as a directory).
    Bad(String),
    /// The host refused a write.
    Io {
        action: String,
        path: PathBuf,
        err: io::Error,
    },
}

/// Mode and mtime of a directory entry, applied once everything is unpacked (writing into
/// a directory changes its mtime; a read-only mode would stop a rootless build).
#[derive(Debug, Clone, Copy)]
struct DirMeta {
    mode: u32,
    mtime: Option<i64>,
}

/// Owner, mode and mtime from a tar header.
#[derive(Debug, Clone, Copy)]
struct Meta {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: i64,
}

impl Meta {
    fn of(h: &tar::Header) -> Self {
        Self {
            mode: h.mode().unwrap_or(0o644) & 0o7777,
            uid: h.uid().unwrap_or(0),
            gid: h.gid().unwrap_or(0),
            mtime: h
                .mtime()
                .ok()
                .and_then(|t| i64::try_from(t).ok())
                .unwrap_or(0),
        }
    }

    fn owner(&self) -> Option<(Uid, Gid)> {
        let uid = u32::try_from(self.uid).ok()?;
        let gid = u32::try_from(self.gid).ok()?;
        Some((Uid::from_raw(uid), Gid::from_raw(gid)))
    }

    fn time(&self) -> TimeSpec {
        TimeSpec::new(self.mtime, 0)
    }
}

fn is_dir(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR
}

fn is_symlink(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFLNK
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// The rootfs being unpacked.
struct Tree {
    root: OwnedFd,
    path: PathBuf,
    as_root: bool,
    /// Directory entries' final metadata, by resolved path.
    dirs: BTreeMap<Vec<OsString>, DirMeta>,
    /// Without root: what could not be kept as the image has it.
    rootless: Rootless,
}

/// What a build without root writes differently from the image, for one summary line:
/// chown(2) to another uid needs CAP_CHOWN, so every entry is the user's, as rootless
/// podman and `umoci unpack --rootless` do when they have one id to map.
#[derive(Debug, Default)]
struct Rootless {
    /// Entries (files, directories, symlinks) the image gives an owner other than 0:0.
    other_owners: usize,
    /// The first few of those owners, as `uid:gid`, for the note.
    owners: BTreeSet<(u64, u64)>,
    /// More owners than `owners` holds were seen.
    more_owners: bool,
    /// Regular files whose setuid/setgid bits were cleared.
    set_id_cleared: usize,
}

impl Rootless {
    /// How many distinct owners the note names.
    const OWNERS_SHOWN: usize = 4;

    fn owner(&mut self, meta: Meta) {
        if meta.uid == 0 && meta.gid == 0 {
            return;
        }
        self.other_owners += 1;
        let id = (meta.uid, meta.gid);
        if self.owners.len() < Self::OWNERS_SHOWN {
            self.owners.insert(id);
        } else if !self.owners.contains(&id) {
            self.more_owners = true;
        }
    }

    /// The summary line, or None when the image needed nothing changed.
    fn note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.other_owners > 0 {
            let mut owners: Vec<String> = self
                .owners
                .iter()
                .map(|(u, g)| format!("{u}:{g}"))
                .collect();
            if self.more_owners {
                owners.push("…".to_string());
            }
            parts.push(format!(
                "{} {} owned by other users than root ({}) {} written as yours, so inside the lab's user namespace {} root's",
                self.other_owners,
                plural(self.other_owners, "entry", "entries"),
                owners.join(", "),
                plural(self.other_owners, "was", "were"),
                plural(self.other_owners, "it is", "they are"),
            ));
        }
        if self.set_id_cleared > 0 {
            parts.push(format!(
                "the setuid/setgid bits of {} {} cleared, since on the host {} run as you for whoever started {}",
                self.set_id_cleared,
                plural(self.set_id_cleared, "file was", "files were"),
                plural(self.set_id_cleared, "it would", "they would"),
                plural(self.set_id_cleared, "it", "them"),
            ));
        }
        (!parts.is_empty()).then(|| {
            format!(
                "without root (chown to another uid needs CAP_CHOWN): {}",
                parts.join("; ")
            )
        })
    }
}

impl Tree {
    fn open(path: &Path) -> Result<Self, RootfsError> {
        let root = nix::fcntl::open(path, dir_flags(), Mode::empty())
            .map_err(|e| RootfsError::io("open the build directory", path, e.into()))?;
        Ok(Self {
            root,
            path: path.to_path_buf(),
            as_root: crate::paths::is_root(),
            dirs: BTreeMap::new(),
            rootless: Rootless::default(),
        })
    }

    /// The host path of `rel` inside the tree, for messages only (never opened).
    fn host(&self, rel: &[OsString], leaf: Option<&OsStr>) -> PathBuf {
        let mut p = self.path.clone();
        p.extend(rel);
        if let Some(l) = leaf {
            p.push(l);
        }
        p
    }

    fn io(&self, action: &str, rel: &[OsString], leaf: Option<&OsStr>, e: Errno) -> TreeError {
        TreeError::Io {
            action: action.to_string(),
            path: self.host(rel, leaf),
            err: e.into(),
        }
    }

    fn dup_root(&self) -> Result<OwnedFd, TreeError> {
        self.root.try_clone().map_err(|err| TreeError::Io {
            action: "open".into(),
            path: self.path.clone(),
            err,
        })
    }

    /// Open the real directory at `at` (already resolved: no symlinks on the way).
    fn reopen(&self, at: &[OsString]) -> Result<OwnedFd, TreeError> {
        let mut fd = self.dup_root()?;
        for (i, c) in at.iter().enumerate() {
            fd = openat(&fd, c.as_os_str(), dir_flags(), Mode::empty())
                .map_err(|e| self.io("open", &at[..i], Some(c), e))?;
        }
        Ok(fd)
    }

    /// Open the directory `comps` names inside the tree, resolving each component without
    /// ever leaving it: a symlink is read and its target followed from the tree's root (if
    /// absolute) or from where it sits, with `..` stopping at the tree's root, as `chroot`
    /// would. Missing directories are created when `create` (else `None`). Returns the
    /// directory and its resolved path.
    fn walk(
        &mut self,
        comps: &[OsString],
        create: bool,
    ) -> Result<Option<(OwnedFd, Vec<OsString>)>, TreeError> {
        let mut pending: VecDeque<OsString> = comps.iter().cloned().collect();
        let mut fd = self.dup_root()?;
        let mut at: Vec<OsString> = Vec::new();
        let mut hops = 0;
        while let Some(c) = pending.pop_front() {
            match c.as_bytes() {
                b"" | b"." => continue,
                b".." => {
                    // Only symlink targets get here; entry paths never hold `..`.
                    at.pop();
                    fd = self.reopen(&at)?;
                    continue;
                }
                _ => {}
            }
            match fstatat(&fd, c.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
                Err(Errno::ENOENT) if create => {
                    mkdirat(&fd, c.as_os_str(), Mode::from_bits_truncate(0o755))
                        .map_err(|e| self.io("create the directory", &at, Some(&c), e))?;
                    let mut path = at.clone();
                    path.push(c.clone());
                    self.dirs.insert(
                        path,
                        DirMeta {
                            mode: 0o755,
                            mtime: None,
                        },
                    );
                }
                Err(Errno::ENOENT) => return Ok(None),
                Err(e) => return Err(self.io("inspect", &at, Some(&c), e)),
                Ok(st) if is_symlink(&st) => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(TreeError::Bad(format!(
                            "goes through more than {MAX_SYMLINK_HOPS} symlinks"
                        )));
                    }
                    let target = nix::fcntl::readlinkat(&fd, c.as_os_str())
                        .map_err(|e| self.io("read the symlink", &at, Some(&c), e))?;
                    let bytes = target.as_bytes();
                    if bytes.starts_with(b"/") {
                        // Absolute: from the tree's root, never the host's.
                        at.clear();
                        fd = self.dup_root()?;
                    }
                    for part in bytes.split(|b| *b == b'/').rev() {
                        pending.push_front(OsString::from_vec(part.to_vec()));
                    }
                    continue;
                }
                Ok(st) if is_dir(&st) => {}
                Ok(_) => {
                    return Err(TreeError::Bad(format!(
                        "needs `{}` to be a directory, but an earlier entry made it a file",
                        lossy(&entry_text(&at, Some(&c)))
                    )));
                }
            }
            fd = openat(&fd, c.as_os_str(), dir_flags(), Mode::empty())
                .map_err(|e| self.io("open", &at, Some(&c), e))?;
            at.push(c);
            if at.len() > MAX_DEPTH {
                return Err(TreeError::Bad(format!(
                    "resolves deeper than {MAX_DEPTH} directories"
                )));
            }
        }
        Ok(Some((fd, at)))
    }

    /// Forget recorded directory metadata at or under `prefix` (it was removed).
    fn forget(&mut self, prefix: &[OsString]) {
        if self.dirs.keys().any(|k| k.starts_with(prefix)) {
            self.dirs.retain(|k, _| !k.starts_with(prefix));
        }
    }

    /// Remove `dir/name` whatever it is (a directory with everything in it), without
    /// following symlinks. True when something was there.
    fn remove_leaf(
        &mut self,
        dir: &OwnedFd,
        at: &[OsString],
        name: &OsStr,
    ) -> Result<bool, TreeError> {
        match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(self.io("inspect", at, Some(name), e)),
            Ok(st) if is_dir(&st) => {
                let sub = openat(dir, name, dir_flags(), Mode::empty())
                    .map_err(|e| self.io("open", at, Some(name), e))?;
                let mut path = at.to_vec();
                path.push(name.to_os_string());
                self.remove_children(&sub, &path)?;
                unlinkat(dir, name, UnlinkatFlags::RemoveDir)
                    .map_err(|e| self.io("remove", at, Some(name), e))?;
                self.forget(&path);
                Ok(true)
            }
            Ok(_) => {
                unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)
                    .map_err(|e| self.io("remove", at, Some(name), e))?;
                Ok(true)
            }
        }
    }

    /// Remove everything inside the directory `dir` (at `at`), never following symlinks.
    fn remove_children(&mut self, dir: &OwnedFd, at: &[OsString]) -> Result<usize, TreeError> {
        let names: Vec<OsString> = {
            let fd = dir.try_clone().map_err(|err| TreeError::Io {
                action: "open".into(),
                path: self.host(at, None),
                err,
            })?;
            let mut d = nix::dir::Dir::from_fd(fd).map_err(|e| self.io("read", at, None, e))?;
            let mut names = Vec::new();
            for entry in d.iter() {
                let entry = entry.map_err(|e| self.io("read", at, None, e))?;
                let name = entry.file_name().to_bytes();
                if name != b"." && name != b".." {
                    names.push(OsString::from_vec(name.to_vec()));
                }
            }
            names
        };
        for name in &names {
            self.remove_leaf(dir, at, name)?;
        }
        Ok(names.len())
    }

    /// Apply a layer's opaque markers and whiteouts to what the lower layers made.
    /// Returns how many removed something.
    fn apply_whiteouts(
        &mut self,
        whiteouts: &[(Vec<OsString>, OsString)],
        opaque: &[Vec<OsString>],
        ctx: &Ctx<'_>,
    ) -> Result<usize, RootfsError> {
        let mut applied = 0;
        for dir in opaque {
            let entry = entry_text(dir, Some(OsStr::from_bytes(OPAQUE)));
            let found = self.walk(dir, false).map_err(|e| ctx.tree(&entry, e))?;
            if let Some((fd, at)) = found
                && self
                    .remove_children(&fd, &at)
                    .map_err(|e| ctx.tree(&entry, e))?
                    > 0
            {
                applied += 1;
            }
        }
        for (dir, name) in whiteouts {
            let mut wh = WH.to_vec();
            wh.extend_from_slice(name.as_bytes());
            let entry = entry_text(dir, Some(OsStr::from_bytes(&wh)));
            let found = self.walk(dir, false).map_err(|e| ctx.tree(&entry, e))?;
            if let Some((fd, at)) = found
                && self
                    .remove_leaf(&fd, &at, name)
                    .map_err(|e| ctx.tree(&entry, e))?
            {
                applied += 1;
            }
        }
        Ok(applied)
    }

    /// Second read of a layer: create its entries.
    fn unpack(
        &mut self,
        r: &mut dyn Read,
        ctx: &Ctx<'_>,
        pb: &ProgressBar,
    ) -> Result<Stats, RootfsError> {
        let corrupt = |e: io::Error| RootfsError::BadImage {
            path: ctx.archive.to_path_buf(),
            reason: format!("layer {} is not a readable tar stream ({e})", ctx.layer),
            fix: "the layer is damaged; save the image again".to_string(),
        };
        let head = sniff(r).map_err(corrupt)?;
        let joined = io::Cursor::new(head.clone()).chain(r);
        let stream: Box<dyn Read + '_> = match compression(&head) {
            Compression::Gzip => Box::new(MultiGzDecoder::new(joined)),
            _ => Box::new(joined),
        };
        let mut tar = tar::Archive::new(stream);
        let mut stats = Stats::default();
        for entry in tar.entries().map_err(corrupt)? {
            let mut entry = entry.map_err(corrupt)?;
            let kind = entry.header().entry_type();
            if kind.is_pax_global_extensions() {
                continue;
            }
            let raw = entry.path_bytes().into_owned();
            let comps = components(&raw).map_err(|why| ctx.unsafe_entry(&raw, why))?;
            if !matches!(
                classify(&comps).map_err(|why| ctx.unsafe_entry(&raw, why))?,
                Kind::Plain
            ) {
                continue;
            }
            stats.entries += 1;
            pb.inc(1);
            let meta = Meta::of(entry.header());
            let Some((leaf, parent)) = comps.split_last() else {
                // `./`: the tree's root itself.
                if kind.is_dir() {
                    self.dirs.insert(
                        Vec::new(),
                        DirMeta {
                            mode: meta.mode,
                            mtime: Some(meta.mtime),
                        },
                    );
                    stats.dirs += 1;
                    continue;
                }
                return Err(ctx.bad(&raw, "names the root directory but is not a directory"));
            };
            // Old tar: a regular entry whose name ends in `/` is a directory.
            let as_dir = kind.is_dir() || (kind.is_file() && raw.ends_with(b"/"));
            if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
                stats.skipped.push(lossy(&raw));
                continue;
            }
            if !(as_dir
                || kind.is_file()
                || kind.is_contiguous()
                || kind.is_gnu_sparse()
                || kind.is_symlink()
                || kind.is_hard_link())
            {
                stats.skipped.push(lossy(&raw));
                continue;
            }
            let (dir, at) = self
                .walk(parent, true)
                .map_err(|e| ctx.tree(&raw, e))?
                .ok_or_else(|| ctx.bad(&raw, "has a parent that cannot be created"))?;
            let leaf = leaf.as_os_str();
            if as_dir {
                self.make_dir(&dir, &at, leaf, meta)
                    .map_err(|e| ctx.tree(&raw, e))?;
                stats.dirs += 1;
            } else if kind.is_symlink() {
                let target = entry.link_name_bytes().unwrap_or_default().into_owned();
                self.make_symlink(&dir, &at, leaf, &target, meta)
                    .map_err(|e| ctx.tree(&raw, e))?;
                stats.symlinks += 1;
            } else if kind.is_hard_link() {
                let target = entry.link_name_bytes().unwrap_or_default().into_owned();
                let tcomps = components(&target).map_err(|why| {
                    ctx.unsafe_entry(
                        &raw,
                        format!(
                            "is a hard link to `{}` outside the rootfs: the target {why}",
                            lossy(&target)
                        ),
                    )
                })?;
                self.make_hardlink(&dir, &at, leaf, &tcomps, &target)
                    .map_err(|e| ctx.tree(&raw, e))?;
                stats.hardlinks += 1;
            } else {
                self.make_file(&dir, &at, leaf, &mut entry, meta)
                    .map_err(|e| match e {
                        FileError::Tree(e) => ctx.tree(&raw, e),
                        FileError::Read(e) => corrupt(e),
                    })?;
                stats.files += 1;
            }
        }
        Ok(stats)
    }

    fn chown_at(
        &mut self,
        dir: &OwnedFd,
        at: &[OsString],
        name: &OsStr,
        meta: Meta,
    ) -> Result<(), TreeError> {
        if !self.as_root {
            self.rootless.owner(meta);
            return Ok(());
        }
        let Some((uid, gid)) = meta.owner() else {
            return Ok(());
        };
        fchownat(
            dir,
            name,
            Some(uid),
            Some(gid),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.io("change the owner of", at, Some(name), e))
    }

    fn make_dir(
        &mut self,
        dir: &OwnedFd,
        at: &[OsString],
        name: &OsStr,
        meta: Meta,
    ) -> Result<(), TreeError> {
        let exists = match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if is_dir(&st) => true,
            Ok(_) => {
                // A file or symlink from a lower layer: the directory replaces it.
                self.remove_leaf(dir, at, name)?;
                false
            }
            Err(Errno::ENOENT) => false,
            Err(e) => return Err(self.io("inspect", at, Some(name), e)),
        };
        if !exists {
            mkdirat(dir, name, Mode::from_bits_truncate(0o700))
                .map_err(|e| self.io("create the directory", at, Some(name), e))?;
        }
        self.chown_at(dir, at, name, meta)?;
        let mut path = at.to_vec();
        path.push(name.to_os_string());
        self.dirs.insert(
            path,
            DirMeta {
                mode: meta.mode,
                mtime: Some(meta.mtime),
            },
        );
        Ok(())
    }

    fn make_symlink(
        &mut self,
        dir: &OwnedFd,
        at: &[OsString],
        name: &OsStr,
        target: &[u8],
        meta: Meta,
    ) -> Result<(), TreeError> {
        self.remove_leaf(dir, at, name)?;
        // The target is stored as written; it is only ever followed inside the container
        // (or by `walk`, inside the tree).
        symlinkat(OsStr::from_bytes(target), dir, name)
            .map_err(|e| self.io("create the symlink", at, Some(name), e))?;
        self.chown_at(dir, at, name, meta)?;
        let t = meta.time();
        let _ = utimensat(dir, name, &t, &t, UtimensatFlags::NoFollowSymlink);
        Ok(())
    }

    fn make_hardlink(
        &mut self,
        dir: &OwnedFd,
        at: &[OsString],
        name: &OsStr,
        target: &[OsString],
        raw_target: &[u8],
    ) -> Result<(), TreeError> {
        let missing = || {
            TreeError::Bad(format!(
                "is a hard link to `{}`, which no earlier entry made (hard links point to files in the image)",
                lossy(raw_target)
            ))
        };
        let Some((tleaf, tparent)) = target.split_last() else {
            return Err(TreeError::Bad(
                "is a hard link to the root directory".to_string(),
            ));
        };
        let (tdir, tat) = self.walk(tparent, false)?.ok_or_else(missing)?;
        match fstatat(&tdir, tleaf.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Err(Errno::ENOENT) => return Err(missing()),
            Err(e) => return Err(self.io("inspect", &tat, Some(tleaf), e)),
            Ok(st) if is_dir(&st) => {
                return Err(TreeError::Bad(format!(
                    "is a hard link to the directory `{}`",
                    lossy(raw_target)
                )));
            }
            Ok(_) => {}
        }
        if tat == at && tleaf.as_os_str() == name {
            return Ok(()); // a link to itself
        }
        self.remove_leaf(dir, at, name)?;
        // No AT_SYMLINK_FOLLOW: a symlink is linked as itself, never followed.
        linkat(&tdir, tleaf.as_os_str(), dir, name, AtFlags::empty()).map_err(|e| match e {
            Errno::ENOENT => missing(),
            e => self.io("create the hard link", at, Some(name), e),
        })
    }

    fn make_file(
        &mut self,
        dir: &OwnedFd,
        at: &[OsString],
        name: &OsStr,
        data: &mut dyn Read,
        meta: Meta,
    ) -> Result<(), FileError> {
        self.remove_leaf(dir, at, name)?;
        // O_EXCL: never open what is there (a symlink planted by a lower layer included).
        let fd = openat(
            dir,
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| self.io("create", at, Some(name), e))?;
        let mut file = File::from(fd);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(FileError::Read(e)),
            };
            file.write_all(&buf[..n]).map_err(|err| {
                FileError::Tree(TreeError::Io {
                    action: "write".into(),
                    path: self.host(at, Some(name)),
                    err,
                })
            })?;
        }
        // Owner first: chown clears the setuid and setgid bits that chmod then sets.
        let mut mode = meta.mode;
        if self.as_root {
            if let Some((uid, gid)) = meta.owner() {
                fchown(file.as_fd(), Some(uid), Some(gid))
                    .map_err(|e| self.io("change the owner of", at, Some(name), e))?;
            }
        } else {
            self.rootless.owner(meta);
            if mode & 0o6000 != 0 {
                // The file is the user's: setuid would make it run as the user for any
                // host user who can reach the cache.
                mode &= !0o6000;
                self.rootless.set_id_cleared += 1;
            }
        }
        fchmod(file.as_fd(), Mode::from_bits_truncate(mode))
            .map_err(|e| self.io("set the mode of", at, Some(name), e))?;
        let t = meta.time();
        let _ = futimens(file.as_fd(), &t, &t);
        Ok(())
    }

    /// Give each directory entry its mode and mtime, deepest first (so that a directory
    /// without write or search permission is finished after everything inside it).
    fn finish(&mut self) -> Result<(), RootfsError> {
        let mut dirs: Vec<(Vec<OsString>, DirMeta)> =
            std::mem::take(&mut self.dirs).into_iter().collect();
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        for (path, meta) in dirs {
            let fd = match self.reopen(&path) {
                Ok(fd) => fd,
                // Replaced by a symlink or file since: nothing to do.
                Err(_) => continue,
            };
            fchmod(&fd, Mode::from_bits_truncate(meta.mode)).map_err(|e| {
                RootfsError::io("set the mode of", &self.host(&path, None), e.into())
            })?;
            if let Some(mtime) = meta.mtime {
                let t = TimeSpec::new(mtime, 0);
                let _ = futimens(&fd, &t, &t);
            }
        }
        Ok(())
    }
}

/// A write failed, or the layer's data could not be read.
enum FileError {
    Tree(TreeError),
    Read(io::Error),
}

impl From<TreeError> for FileError {
    fn from(e: TreeError) -> Self {
        Self::Tree(e)
    }
}

/// `dir/leaf` as an entry path, for messages.
fn entry_text(dir: &[OsString], leaf: Option<&OsStr>) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = dir.iter().map(|c| c.as_bytes()).collect();
    if let Some(l) = leaf {
        parts.push(l.as_bytes());
    }
    parts.join(&b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_refuse_escapes_and_drop_dots() {
        assert_eq!(components(b"./etc//passwd").unwrap(), ["etc", "passwd"]);
        assert!(components(b"./").unwrap().is_empty());
        assert!(components(b"/etc/passwd").unwrap_err().contains("absolute"));
        assert!(components(b"a/../../evil").unwrap_err().contains("`..`"));
        assert!(components(b"a\0b").is_err());
    }

    #[test]
    fn whiteouts_are_classified() {
        let c = components(b"etc/.wh.gone").unwrap();
        assert!(matches!(classify(&c), Ok(Kind::Whiteout(d, n)) if d == ["etc"] && n == "gone"));
        let c = components(b"opt/x/.wh..wh..opq").unwrap();
        assert!(matches!(classify(&c), Ok(Kind::Opaque(d)) if d == ["opt", "x"]));
        let c = components(b".wh..wh.plnk/1.2").unwrap();
        assert!(matches!(classify(&c), Ok(Kind::AufsMeta)));
        let c = components(b"etc/hello").unwrap();
        assert!(matches!(classify(&c), Ok(Kind::Plain)));
        let c = components(b"x/.wh..wh.aufs").unwrap();
        assert!(matches!(classify(&c), Ok(Kind::AufsMeta)));
        assert!(classify(&components(b"x/.wh..").unwrap()).is_err());
    }

    #[test]
    fn member_names_normalise() {
        assert_eq!(normalise(b"./blobs/sha256/ab"), "blobs/sha256/ab");
        assert_eq!(normalise(b"a/b/../c"), "a/c");
        assert_eq!(
            short_digest("sha256:0123456789abcdef"),
            "sha256:0123456789ab"
        );
    }
}
