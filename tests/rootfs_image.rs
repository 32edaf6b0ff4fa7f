//! The `docker-archive` and `oci-archive` recipes, built for real from image tarballs these
//! tests write themselves with the tar crate: layers, whiteouts, opaque directories, digests,
//! hostile entries, and an image made from a real rootfs.
//!
//! Each test runs in its own process under nextest, so setting FROMSCRATCH_CACHE here only
//! affects that test.

mod common;
use common::private_cache;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use fromscratch::error::Classify;
use fromscratch::paths;
use fromscratch::rootfs::{self, BuildOptions, BuiltRootfs, RootfsError};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

const OPTS: BuildOptions = BuildOptions {
    quiet: true,
    force: false,
};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// One entry of a layer. Names are written into the header as raw bytes, so hostile
/// names (`../evil`, `/abs`) can be made too.
enum E<'a> {
    Dir(&'a str),
    DirMode(&'a str, u32),
    File(&'a str, u32, &'a [u8]),
    Owned(&'a str, u32, u32, &'a [u8]),
    Sym(&'a str, &'a str),
    Hard(&'a str, &'a str),
    Char(&'a str, u32, u32),
    Block(&'a str, u32, u32),
    Fifo(&'a str),
}

fn layer(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        let (name, data): (&str, &[u8]) = match e {
            E::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                (n, b"")
            }
            E::DirMode(n, mode) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                (n, b"")
            }
            E::File(n, mode, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                (n, data)
            }
            E::Owned(n, uid, mode, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_uid(u64::from(*uid));
                h.set_gid(u64::from(*uid));
                h.set_size(data.len() as u64);
                (n, data)
            }
            E::Sym(n, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_link_name_literal(target).unwrap();
                (n, b"")
            }
            E::Hard(n, target) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                h.set_link_name_literal(target).unwrap();
                (n, b"")
            }
            E::Char(n, major, minor) | E::Block(n, major, minor) => {
                h.set_entry_type(if matches!(e, E::Char(..)) {
                    tar::EntryType::Char
                } else {
                    tar::EntryType::Block
                });
                h.set_mode(0o666);
                h.set_device_major(*major).unwrap();
                h.set_device_minor(*minor).unwrap();
                (n, b"")
            }
            E::Fifo(n) => {
                h.set_entry_type(tar::EntryType::Fifo);
                h.set_mode(0o644);
                (n, b"")
            }
        };
        let slot = &mut h.as_mut_bytes()[..100];
        slot.fill(0);
        slot[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A tar of named members (the outer archive).
fn outer(members: &[(&str, &[u8])]) -> Vec<u8> {
    let files: Vec<E<'_>> = members
        .iter()
        .map(|(name, data)| E::File(name, 0o644, data))
        .collect();
    layer(&files)
}

/// A layer as stored: maybe gzipped; the uncompressed tar gives the diff_id.
struct Layer {
    tar: Vec<u8>,
    gz: bool,
}

impl Layer {
    fn stored(&self) -> Vec<u8> {
        if self.gz {
            gzip(&self.tar)
        } else {
            self.tar.clone()
        }
    }
}

fn config_json(layers: &[Layer]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256(&l.tar)))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": host_arch(),
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

/// `docker save` format: manifest.json, `<config sha>.json`, `<n>/layer.tar`.
fn docker_archive(images: &[(&[&str], &[Layer])]) -> Vec<u8> {
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    let mut manifest = Vec::new();
    for (tags, layers) in images {
        let config = config_json(layers);
        let config_name = format!("{}.json", sha256(&config));
        let mut names = Vec::new();
        for l in *layers {
            let stored = l.stored();
            let name = format!("{}/layer.tar", sha256(&stored));
            names.push(name.clone());
            members.push((name, stored));
        }
        manifest.push(serde_json::json!({
            "Config": config_name, "RepoTags": tags, "Layers": names,
        }));
        members.push((config_name, config));
    }
    members.push((
        "manifest.json".into(),
        serde_json::to_vec(&manifest).unwrap(),
    ));
    let refs: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    outer(&refs)
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// An OCI image layout being assembled: blobs by digest.
#[derive(Default)]
struct Oci {
    blobs: BTreeMap<String, Vec<u8>>,
}

impl Oci {
    fn add(&mut self, media: &str, bytes: Vec<u8>) -> serde_json::Value {
        let hex = sha256(&bytes);
        let desc = serde_json::json!({
            "mediaType": media, "digest": format!("sha256:{hex}"), "size": bytes.len(),
        });
        self.blobs.insert(hex, bytes);
        desc
    }

    /// Add an image (config, layers, manifest) and return the manifest's descriptor.
    fn image(&mut self, layers: &[Layer]) -> serde_json::Value {
        let config = self.add(
            "application/vnd.oci.image.config.v1+json",
            config_json(layers),
        );
        let descs: Vec<serde_json::Value> = layers
            .iter()
            .map(|l| {
                let media = if l.gz {
                    "application/vnd.oci.image.layer.v1.tar+gzip"
                } else {
                    "application/vnd.oci.image.layer.v1.tar"
                };
                self.add(media, l.stored())
            })
            .collect();
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": descs,
        });
        self.add(OCI_MANIFEST, serde_json::to_vec(&manifest).unwrap())
    }

    fn index(manifests: &[serde_json::Value]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests,
        }))
        .unwrap()
    }

    /// The layout as a tarball, with `index.json` listing `top`.
    fn tarball(&self, top: &[serde_json::Value]) -> Vec<u8> {
        let mut members: Vec<(String, Vec<u8>)> = vec![
            (
                "oci-layout".into(),
                br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
            ),
            ("index.json".into(), Self::index(top)),
        ];
        for (hex, bytes) in &self.blobs {
            members.push((format!("blobs/sha256/{hex}"), bytes.clone()));
        }
        let refs: Vec<(&str, &[u8])> = members
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        outer(&refs)
    }
}

fn named(mut desc: serde_json::Value, name: &str) -> serde_json::Value {
    desc["annotations"] = serde_json::json!({ "org.opencontainers.image.ref.name": name });
    desc
}

/// Write `archive` and a recipe for it into `dir`; load the recipe.
fn recipe(
    dir: &Path,
    name: &str,
    kind: &str,
    archive: &[u8],
    image: Option<&str>,
    smoke: Option<&[&str]>,
) -> rootfs::Recipe {
    let file = format!("{name}.tar");
    std::fs::write(dir.join(&file), archive).unwrap();
    let mut toml = format!(
        "format_version = 1\nname = \"{name}\"\ndescription = \"an image tarball made by the test\"\n"
    );
    if let Some(argv) = smoke {
        toml.push_str(&format!("smoke = {argv:?}\n"));
    }
    toml.push_str(&format!(
        "\n[builder]\nkind = \"{kind}\"\narchive = \"{file}\"\n"
    ));
    if let Some(i) = image {
        toml.push_str(&format!("image = \"{i}\"\n"));
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    rootfs::load_recipe(&path).expect("recipe loads")
}

fn build(r: &rootfs::Recipe) -> (Result<BuiltRootfs, RootfsError>, String) {
    let mut log = Vec::new();
    let res = rootfs::build(r, &OPTS, &mut log);
    (res, String::from_utf8_lossy(&log).into_owned())
}

#[track_caller]
fn built(r: &rootfs::Recipe) -> (BuiltRootfs, String) {
    let (res, log) = build(r);
    match res {
        Ok(b) => (b, log),
        Err(e) => panic!("build of `{}` failed: {e}\nlog:\n{log}", r.name),
    }
}

#[track_caller]
fn refused(r: &rootfs::Recipe) -> (RootfsError, String) {
    let (res, log) = build(r);
    match res {
        Ok(b) => panic!(
            "`{}` built at {} but should be refused\n{log}",
            r.name,
            b.path.display()
        ),
        Err(e) => (e, log),
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The cache holds only finished trees and their metadata: no `.tmp-*`, nothing else.
#[track_caller]
fn cache_clean(cache: &Path) {
    let root = cache.join("rootfs");
    if !root.exists() {
        return;
    }
    for name in listing(&root) {
        assert!(
            !name.starts_with(".tmp-") && (name.contains('-') || name.ends_with(".json")),
            "unexpected {name} in the cache: {:?}",
            listing(&root)
        );
    }
}

/// The image of the brief: two layers, the second gzipped with whiteouts.
fn layers(hello: &[u8]) -> Vec<Layer> {
    let busybox = std::fs::read("/bin/busybox")
        .expect("/bin/busybox (Debian package busybox-static) is needed by this test");
    let l1 = layer(&[
        E::Dir("bin/"),
        E::File("bin/busybox", 0o755, &busybox),
        E::Sym("bin/sh", "busybox"),
        E::Hard("bin/ls", "bin/busybox"),
        E::Dir("etc/"),
        E::File("etc/hello", 0o644, hello),
        E::File("etc/gone", 0o644, b"delete me\n"),
        E::Owned("usr/bin/suid", 1234, 0o4755, b"#!/bin/sh\n"),
        E::Dir("opt/"),
        E::Dir("opt/x/"),
        E::File("opt/x/a", 0o644, b"a\n"),
        E::Dir("opt/x/b/"),
        E::File("opt/x/b/inner", 0o600, b"b\n"),
    ]);
    let l2 = layer(&[
        E::File("etc/.wh.gone", 0o644, b""),
        E::File("opt/x/.wh..wh..opq", 0o644, b""),
        E::File("opt/x/c", 0o640, b"c\n"),
    ]);
    vec![Layer { tar: l1, gz: false }, Layer { tar: l2, gz: true }]
}

const SMOKE: &[&str] = &["/bin/sh", "-c", "test -f /etc/hello && echo ok"];

/// What both formats must produce from [`layers`].
#[track_caller]
fn assert_tree(root: &Path, hello: &[u8]) {
    assert_eq!(std::fs::read(root.join("etc/hello")).unwrap(), hello);
    assert!(
        std::fs::symlink_metadata(root.join("etc/gone")).is_err(),
        "the whiteout did not delete etc/gone"
    );
    assert_eq!(listing(&root.join("opt/x")), ["c"], "opaque opt/x");
    assert_eq!(
        std::fs::metadata(root.join("opt/x/c")).unwrap().mode() & 0o7777,
        0o640
    );
    assert_eq!(
        std::fs::read_link(root.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    let bb = std::fs::metadata(root.join("bin/busybox")).unwrap();
    assert_eq!(bb.mode() & 0o7777, 0o755);
    assert_eq!(bb.len(), std::fs::metadata("/bin/busybox").unwrap().len());
    assert_eq!(bb.mtime(), 1_700_000_000);
    let ls = std::fs::metadata(root.join("bin/ls")).unwrap();
    assert_eq!(
        (ls.ino(), ls.nlink()),
        (bb.ino(), 2),
        "bin/ls is a hard link"
    );
    let suid = std::fs::metadata(root.join("usr/bin/suid")).unwrap();
    assert_eq!(suid.mode() & 0o7777, 0o4755, "setuid kept");
    if paths::is_root() {
        assert_eq!((suid.uid(), suid.gid()), (1234, 1234), "ownership kept");
    }
    assert_eq!(
        std::fs::metadata(root.join("usr")).unwrap().mode() & 0o7777,
        0o755,
        "implicit parents are 0755"
    );
}

// ---------------------------------------------------------------------------------------
// (1) docker save, (2) OCI layout
// ---------------------------------------------------------------------------------------

#[test]
fn docker_save_archive_unpacks_with_whiteouts_caches_and_rekeys_on_new_bytes() {
    let cache = private_cache();
    let dir = tempfile::tempdir().unwrap();
    let archive = docker_archive(&[(&["tiny:1"], &layers(b"hello\n"))]);
    let r = recipe(
        dir.path(),
        "img-docker",
        "docker-archive",
        &archive,
        None,
        Some(SMOKE),
    );

    let t = std::time::Instant::now();
    let (b, log) = built(&r);
    eprintln!("docker-archive build: {:?}\n{log}", t.elapsed());
    assert!(!b.cached);
    assert_tree(&b.path, b"hello\n");
    assert!(
        log.contains("image `tiny:1` (docker save archive, linux/"),
        "{log}"
    );
    assert!(log.contains("layer 1/2 sha256:"), "{log}");
    assert!(log.contains("layer 2/2 sha256:"), "{log}");
    assert!(log.contains("2 whiteouts applied"), "{log}");
    assert!(log.contains("smoke check passed"), "{log}");
    assert!(log.contains("printed `ok`"), "{log}");

    // A second build is a cache hit.
    let t = std::time::Instant::now();
    let (again, log2) = built(&r);
    let hit = t.elapsed();
    eprintln!("cache hit: {hit:?}");
    assert!(again.cached, "{log2}");
    assert_eq!(again.path, b.path);
    assert!(hit.as_millis() < 500, "a cache hit took {hit:?}");

    // Different bytes in the archive: a different cache key and a new build.
    let archive2 = docker_archive(&[(&["tiny:1"], &layers(b"hello again\n"))]);
    let r2 = recipe(
        dir.path(),
        "img-docker",
        "docker-archive",
        &archive2,
        None,
        Some(SMOKE),
    );
    assert_ne!(rootfs::recipe_hash(&r2), rootfs::recipe_hash(&r));
    let (b2, _) = built(&r2);
    assert!(!b2.cached);
    assert_ne!(b2.path, b.path);
    assert_tree(&b2.path, b"hello again\n");
    cache_clean(cache.path());
}

#[test]
fn oci_layout_gives_the_same_tree_and_a_corrupt_blob_is_refused() {
    let cache = private_cache();
    let dir = tempfile::tempdir().unwrap();
    let ls = layers(b"hello\n");
    let mut oci = Oci::default();
    let m = oci.image(&ls);
    let r = recipe(
        dir.path(),
        "img-oci",
        "oci-archive",
        &oci.tarball(&[named(m.clone(), "tiny")]),
        None,
        Some(SMOKE),
    );
    let (b, log) = built(&r);
    eprintln!("{log}");
    assert_tree(&b.path, b"hello\n");
    assert!(log.contains("image `tiny` (OCI image layout"), "{log}");
    assert!(log.contains("gzip"), "{log}");
    assert!(log.contains("smoke check passed"), "{log}");

    // Flip one byte of layer 1's blob, keeping its name (its digest).
    let l1_hex = sha256(&ls[0].stored());
    let mut bad = Oci {
        blobs: oci.blobs.clone(),
    };
    let blob = bad.blobs.get_mut(&l1_hex).unwrap();
    let mid = blob.len() / 2;
    blob[mid] ^= 0xff;
    let r_bad = recipe(
        dir.path(),
        "img-oci-bad",
        "oci-archive",
        &bad.tarball(&[named(m, "tiny")]),
        None,
        None,
    );
    let (e, log) = refused(&r_bad);
    assert_eq!(e.exit_code(), 2, "{e}");
    let msg = e.to_string();
    assert!(msg.contains(&format!("sha256:{l1_hex}")), "{msg}");
    assert!(msg.contains("corrupt"), "{msg}");
    assert!(!log.contains("layer 1/2 sha256"), "nothing applied: {log}");

    // A corrupt manifest blob is caught too.
    let mut bad_manifest = Oci {
        blobs: oci.blobs.clone(),
    };
    let m2 = bad_manifest.image(&ls);
    let m2_hex = m2["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    bad_manifest.blobs.get_mut(&m2_hex).unwrap().push(b' ');
    let r_bad2 = recipe(
        dir.path(),
        "img-oci-bad2",
        "oci-archive",
        &bad_manifest.tarball(&[m2]),
        None,
        None,
    );
    let (e, _) = refused(&r_bad2);
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(e.to_string().contains(&m2_hex), "{e}");
    cache_clean(cache.path());
}

#[test]
fn several_images_need_a_choice_and_nested_indexes_are_followed() {
    let _cache = private_cache();
    let dir = tempfile::tempdir().unwrap();
    let ls = layers(b"hello\n");
    let mut oci = Oci::default();
    let flat = oci.image(&ls);
    // A nested index, as multi-platform images have: one manifest per platform, plus a
    // buildx attestation manifest that is not an image.
    let mut for_host = oci.image(&ls);
    for_host["platform"] = serde_json::json!({"os": "linux", "architecture": host_arch()});
    let mut other = oci.image(&[Layer {
        tar: layer(&[E::File("wrong-platform", 0o644, b"")]),
        gz: false,
    }]);
    other["platform"] = serde_json::json!({"os": "linux", "architecture": "s390x-not-this"});
    let mut attest = oci.image(&[]);
    attest["platform"] = serde_json::json!({"os": "unknown", "architecture": "unknown"});
    let nested = oci.add(OCI_INDEX, Oci::index(&[other, for_host, attest]));
    let tarball = oci.tarball(&[named(flat, "tiny"), named(nested, "multi")]);

    let r = recipe(dir.path(), "img-two", "oci-archive", &tarball, None, None);
    let (e, _) = refused(&r);
    assert_eq!(e.exit_code(), 2, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("`tiny`") && msg.contains("`multi`") && msg.contains("set `image`"),
        "{msg}"
    );

    let r = recipe(
        dir.path(),
        "img-missing",
        "oci-archive",
        &tarball,
        Some("nope"),
        None,
    );
    let (e, _) = refused(&r);
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(e.to_string().contains("no image `nope`"), "{e}");

    let r = recipe(
        dir.path(),
        "img-multi",
        "oci-archive",
        &tarball,
        Some("multi"),
        Some(SMOKE),
    );
    let (b, log) = built(&r);
    assert_tree(&b.path, b"hello\n");
    assert!(!b.path.join("wrong-platform").exists(), "{log}");

    // docker save with two images: the same rule.
    let two = docker_archive(&[(&["a:1"], &ls), (&["b:2"], &ls[..1])]);
    let r = recipe(dir.path(), "dock-two", "docker-archive", &two, None, None);
    let (e, _) = refused(&r);
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(e.to_string().contains("`a:1`, `b:2`"), "{e}");
    let r = recipe(
        dir.path(),
        "dock-b",
        "docker-archive",
        &two,
        Some("b:2"),
        None,
    );
    let (b, _) = built(&r);
    assert!(
        b.path.join("etc/gone").exists(),
        "only layer 1 of image b:2"
    );

    // The wrong kind for the archive says which kind to use.
    let r = recipe(dir.path(), "wrong-kind", "oci-archive", &two, None, None);
    let (e, _) = refused(&r);
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("docker-archive"), "{e}");
}

#[test]
fn a_missing_archive_is_exit_2_naming_it() {
    let _cache = private_cache();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.toml");
    std::fs::write(
        &path,
        "format_version = 1\nname = \"gone\"\ndescription = \"x\"\n[builder]\nkind = \"docker-archive\"\narchive = \"nothere.tar\"\n",
    )
    .unwrap();
    let r = rootfs::load_recipe(&path).unwrap();
    let (e, _) = refused(&r);
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "the recipe's archive {} does not exist: build or download it first",
            dir.path().join("nothere.tar").display()
        )),
        "{msg}"
    );
    // A directory is not an archive either.
    std::fs::create_dir(dir.path().join("nothere.tar")).unwrap();
    let r = rootfs::load_recipe(&path).unwrap();
    let (e, _) = refused(&r);
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("is a directory"), "{e}");
}

// ---------------------------------------------------------------------------------------
// (3) hostile layers: refused or neutralised, nothing written outside the tree
// ---------------------------------------------------------------------------------------

/// A directory outside the tree that must not change, and /etc/passwd's identity.
struct Canary {
    dir: tempfile::TempDir,
    passwd: (u64, u64, u64, i64),
}

impl Canary {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("fs-canary-")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::write(dir.path().join("keep"), b"keep\n").unwrap();
        Self {
            dir,
            passwd: Self::passwd(),
        }
    }

    fn passwd() -> (u64, u64, u64, i64) {
        let m = std::fs::metadata("/etc/passwd").unwrap();
        (m.ino(), m.nlink(), m.size(), m.mtime())
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The path without its leading `/`, as it appears inside the tree.
    fn inside(&self, root: &Path) -> PathBuf {
        root.join(self.path().strip_prefix("/").unwrap())
    }

    #[track_caller]
    fn unchanged(&self) {
        assert_eq!(
            listing(self.path()),
            ["keep"],
            "something was written outside the tree"
        );
        assert_eq!(std::fs::read(self.path().join("keep")).unwrap(), b"keep\n");
        assert_eq!(Self::passwd(), self.passwd, "/etc/passwd changed");
    }
}

fn one_layer(entries: &[E<'_>]) -> Vec<u8> {
    docker_archive(&[(
        &["hostile:1"],
        &[Layer {
            tar: layer(entries),
            gz: false,
        }],
    )])
}

#[test]
fn traversal_and_absolute_entries_are_refused_naming_the_entry() {
    let cache = private_cache();
    let dir = tempfile::tempdir().unwrap();
    let canary = Canary::new();
    let abs = format!("{}/abs", canary.path().display());

    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "dotdot",
            one_layer(&[E::Dir("etc/"), E::File("../evil", 0o644, b"evil\n")]),
            "`../evil`".into(),
        ),
        (
            "dotdot-deep",
            one_layer(&[E::File("etc/../../../../evil", 0o644, b"evil\n")]),
            "`etc/../../../../evil`".into(),
        ),
        (
            "absolute",
            one_layer(&[E::File(&abs, 0o644, b"evil\n")]),
            format!("`{abs}`"),
        ),
        (
            "abs-symlink-entry",
            one_layer(&[E::Sym("/abs-link", "/etc")]),
            "`/abs-link`".into(),
        ),
        (
            "whiteout-dotdot",
            one_layer(&[E::File("etc/.wh..", 0o644, b"")]),
            "`etc/.wh..`".into(),
        ),
    ];
    for (name, archive, entry) in cases {
        let r = recipe(dir.path(), name, "docker-archive", &archive, None, None);
        let (e, log) = refused(&r);
        assert_eq!(e.exit_code(), 2, "{name}: {e}");
        let msg = e.to_string();
        assert!(msg.contains(&entry), "{name}: {msg}");
        assert!(msg.contains("layer 1/1"), "{name}: {msg}");
        assert!(
            !log.contains("layer 1/1 sha256"),
            "{name}: nothing applied: {log}"
        );
        canary.unchanged();
        for p in [
            cache.path().join("evil"),
            cache.path().join("rootfs/evil"),
            dir.path().join("evil"),
        ] {
            assert!(!p.exists(), "{name}: {} was written", p.display());
        }
    }
    cache_clean(cache.path());
}

#[test]
fn symlinks_are_never_followed_out_of_the_tree() {
    let cache = private_cache();
    let dir = tempfile::tempdir().unwrap();
    let canary = Canary::new();
    let c = canary.path().display().to_string();
    let climb = format!("../../../../../../../..{c}");

    // Plant, then write through, in one layer and across layers; absolute and climbing.
    let l1 = layer(&[
        E::Sym("a", &c),
        E::File("a/pwned", 0o644, b"pwned\n"),
        E::Dir("d/"),
        E::Sym("d/b", &climb),
        E::Sym("w", &c),
        E::Dir("etc/"),
        E::Sym("etc/passwd", "/etc/passwd"),
        E::Sym("loop1", "loop2"),
        E::Sym("loop2", "loop1"),
    ]);
    let l2 = layer(&[
        E::File("d/b/pwned2", 0o644, b"pwned\n"),
        // whiteouts through a symlink must not delete the canary's files
        E::File("w/.wh.keep", 0o644, b""),
        E::File("w/.wh..wh..opq", 0o644, b""),
        // a regular file over a planted symlink to a host file replaces the symlink
        E::File("etc/passwd", 0o644, b"root:x:0:0::/:/bin/sh\n"),
    ]);
    let l3 = layer(&[E::File("etc/shadow", 0o600, b"x\n")]);
    let archive = docker_archive(&[(
        &["hostile:2"],
        &[
            Layer { tar: l1, gz: false },
            Layer { tar: l2, gz: true },
            Layer { tar: l3, gz: false },
        ],
    )]);
    let r = recipe(
        dir.path(),
        "symlinks",
        "docker-archive",
        &archive,
        None,
        None,
    );
    let (b, log) = built(&r);
    eprintln!("{log}");
    canary.unchanged();
    let root = &b.path;
    // What the layers wrote through the symlinks landed inside the tree, where the kernel
    // would put it inside the container.
    // Layer 2's opaque marker `w/.wh..wh..opq` cleared that same in-tree directory (so
    // layer 1's `pwned` is gone) before layer 2 wrote `pwned2` there.
    let inside = canary.inside(root);
    assert_eq!(listing(&inside), ["pwned2"], "{log}");
    assert_eq!(std::fs::read(inside.join("pwned2")).unwrap(), b"pwned\n");
    assert!(
        log.contains("layer 2/3") && log.contains("1 whiteout applied"),
        "{log}"
    );
    // The file replaced the planted symlink instead of writing through it.
    let pw = std::fs::symlink_metadata(root.join("etc/passwd")).unwrap();
    assert!(pw.file_type().is_file());
    assert_eq!(
        std::fs::read(root.join("etc/passwd")).unwrap(),
        b"root:x:0:0::/:/bin/sh\n"
    );
    assert!(root.join("etc/shadow").is_file());
    cache_clean(cache.path());

    // A symlink loop is an error, not a hang; so is a symlink to itself through its own
    // name (`etc -> /etc` is the tree's own etc, as in a chroot).
    let looped = one_layer(&[
        E::Sym("loop1", "loop2"),
        E::Sym("loop2", "loop1"),
        E::File("loop1/x", 0o644, b""),
    ]);
    let r = recipe(dir.path(), "loop", "docker-archive", &looped, None, None);
    let (e, _) = refused(&r);
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(e.to_string().contains("symlinks"), "{e}");
    let self_loop = one_layer(&[E::Sym("etc", "/etc"), E::File("etc/passwd", 0o644, b"")]);
    let r = recipe(
        dir.path(),
        "self-loop",
        "docker-archive",
        &self_loop,
        None,
        None,
    );
    let (e, _) = refused(&r);
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(e.to_string().contains("`etc/passwd`"), "{e}");
    canary.unchanged();
    cache_clean(cache.path());
}

#[test]
fn hard_links_out_of_the_tree_are_refused() {
    let cache = private_cache();
    let dir = tempfile::tempdir().unwrap();
    let canary = Canary::new();
    let keep = format!("{}/keep", canary.path().display());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "hard-abs",
            one_layer(&[E::Dir("etc/"), E::Hard("etc/passwd", "/etc/passwd")]),
            "`/etc/passwd` outside the rootfs",
        ),
        (
            "hard-dotdot",
            one_layer(&[E::Hard("x", "../../../../../../../../etc/passwd")]),
            "outside the rootfs",
        ),
        (
            "hard-canary",
            one_layer(&[E::Hard("k", &keep)]),
            "outside the rootfs",
        ),
        // Through a symlink: resolved inside the tree, where there is no such file.
        (
            "hard-via-symlink",
            one_layer(&[E::Sym("e", "/etc"), E::Hard("z", "e/passwd")]),
            "no earlier entry made",
        ),
    ];
    for (name, archive, says) in cases {
        let r = recipe(dir.path(), name, "docker-archive", &archive, None, None);
        let (e, _) = refused(&r);
        assert_eq!(e.exit_code(), 2, "{name}: {e}");
        assert!(e.to_string().contains(says), "{name}: {e}");
        canary.unchanged();
    }
    // A hard link through a symlink to a file the image does have is fine, and stays inside.
    let ok = one_layer(&[
        E::Dir("etc/"),
        E::File("etc/passwd", 0o644, b"root:x:0:0::/:/bin/sh\n"),
        E::Sym("e", "/etc"),
        E::Hard("pw", "e/passwd"),
    ]);
    let r = recipe(dir.path(), "hard-ok", "docker-archive", &ok, None, None);
    let (b, _) = built(&r);
    let pw = std::fs::metadata(b.path.join("pw")).unwrap();
    assert_eq!(
        pw.ino(),
        std::fs::metadata(b.path.join("etc/passwd")).unwrap().ino()
    );
    canary.unchanged();
    cache_clean(cache.path());
}

#[test]
fn device_nodes_and_fifos_are_skipped_with_a_note() {
    let cache = private_cache();
    let dir = tempfile::tempdir().unwrap();
    let canary = Canary::new();
    let archive = one_layer(&[
        E::Dir("dev/"),
        E::Char("dev/null", 1, 3),
        E::Char("dev/mem", 1, 1),
        E::Block("dev/sda", 8, 0),
        E::Fifo("run-fifo"),
        E::File("etc/hello", 0o644, b"hi\n"),
    ]);
    let r = recipe(
        dir.path(),
        "devices",
        "docker-archive",
        &archive,
        None,
        None,
    );
    let (b, log) = built(&r);
    assert!(
        log.contains("skipped 4 device nodes or FIFOs (dev/null, dev/mem, dev/sda, run-fifo)"),
        "{log}"
    );
    assert_eq!(listing(&b.path.join("dev")), Vec::<String>::new());
    assert!(std::fs::symlink_metadata(b.path.join("run-fifo")).is_err());
    assert_eq!(std::fs::read(b.path.join("etc/hello")).unwrap(), b"hi\n");
    canary.unchanged();
    cache_clean(cache.path());
}

// ---------------------------------------------------------------------------------------
// (4) an image made from a real rootfs
// ---------------------------------------------------------------------------------------

fn tree_listing(root: &Path) -> BTreeMap<PathBuf, (u32, u64)> {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            let size = if m.is_dir() { 0 } else { m.len() };
            (
                e.path().strip_prefix(root).unwrap().to_path_buf(),
                (m.permissions().mode(), size),
            )
        })
        .collect()
}

#[test]
fn an_image_of_the_host_rootfs_runs_python() {
    let _cache = private_cache();
    let host = rootfs::load_recipe(&paths::recipes_dir().join("host.toml")).expect("host recipe");
    let t = std::time::Instant::now();
    let (host_tree, _) = match build(&host) {
        (Ok(b), log) => (b, log),
        (Err(e @ RootfsError::Exec { refused: true, .. }), _) if !paths::is_root() => {
            eprintln!("skipped: not root and user namespaces are refused here: {e}");
            return;
        }
        (Err(e), log) => panic!("{e}\n{log}"),
    };
    eprintln!("host recipe: {:?}", t.elapsed());

    // One layer: the whole tree, as `docker export` would give it.
    let dir = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let layer_path = dir.path().join("layer.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&layer_path).unwrap());
        b.follow_symlinks(false);
        b.append_dir_all(".", &host_tree.path).unwrap();
        b.into_inner().unwrap().flush().unwrap();
    }
    let layer_bytes = std::fs::read(&layer_path).unwrap();
    let archive = docker_archive(&[(
        &["host:latest"],
        &[Layer {
            tar: layer_bytes,
            gz: false,
        }],
    )]);
    eprintln!(
        "archive of {} bytes written in {:?}",
        archive.len(),
        t.elapsed()
    );

    let r = recipe(
        dir.path(),
        "host-image",
        "docker-archive",
        &archive,
        None,
        Some(&["/usr/bin/python3", "-c", "print(1)"]),
    );
    let t = std::time::Instant::now();
    let (b, log) = built(&r);
    eprintln!(
        "docker-archive build of the host tree: {:?}\n{log}",
        t.elapsed()
    );
    assert!(log.contains("printed `1`"), "{log}");

    let out = rootfs::run_in_root(
        &b.path,
        &[
            "/usr/bin/python3".to_string(),
            "-c".into(),
            "print(1)".into(),
        ],
    )
    .expect("python3 runs in the unpacked image");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n");

    // The same files, symlinks and modes as the tree the image was made from.
    let want = tree_listing(&host_tree.path);
    let got = tree_listing(&b.path);
    assert_eq!(want.len(), got.len());
    for (p, w) in &want {
        assert_eq!(got.get(p), Some(w), "{}", p.display());
    }
}

#[test]
fn gzipped_archives_docker_25_blob_names_linked_members_and_dot_slash_names() {
    let _cache = private_cache();
    let dir = tempfile::tempdir().unwrap();
    let ls = layers(b"hello\n");
    // As docker save >= 25 writes it: layers and config under blobs/sha256/, names with
    // `./` (tar -C DIR .), and an older-style `<id>/layer.tar` that is a symlink member.
    let config = config_json(&ls);
    let config_hex = sha256(&config);
    let l1 = ls[0].stored();
    let l2 = ls[1].stored();
    let (h1, h2) = (sha256(&l1), sha256(&l2));
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": format!("blobs/sha256/{config_hex}"),
        "RepoTags": ["tiny:25"],
        "Layers": [format!("blobs/sha256/{h1}"), "legacy/layer.tar"],
    }]))
    .unwrap();
    let p1 = format!("./blobs/sha256/{h1}");
    let p2 = format!("./blobs/sha256/{h2}");
    let pc = format!("./blobs/sha256/{config_hex}");
    let link = format!("../blobs/sha256/{h2}");
    let tarball = layer(&[
        E::Dir("./"),
        E::Dir("./blobs/"),
        E::Dir("./blobs/sha256/"),
        E::File(&p1, 0o644, &l1),
        E::File(&p2, 0o644, &l2),
        E::File(&pc, 0o644, &config),
        E::Dir("./legacy/"),
        E::Sym("./legacy/layer.tar", &link),
        E::File("./manifest.json", 0o644, &manifest),
    ]);
    let r = recipe(
        dir.path(),
        "img-gz",
        "docker-archive",
        &gzip(&tarball),
        Some("tiny:25"),
        Some(SMOKE),
    );
    let (b, log) = built(&r);
    assert_tree(&b.path, b"hello\n");
    assert!(
        log.contains(&format!("layer 1/2 sha256:{}", &h1[..12])),
        "{log}"
    );
    assert!(log.contains("image `tiny:25`"), "{log}");

    // A configuration stored under a digest that is not its own is caught.
    let bad_manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": format!("blobs/sha256/{h2}"),
        "RepoTags": ["tiny:25"],
        "Layers": [format!("blobs/sha256/{h1}")],
    }]))
    .unwrap();
    let tarball = layer(&[
        E::File(&p1, 0o644, &l1),
        E::File(&p2, 0o644, &config),
        E::File("manifest.json", 0o644, &bad_manifest),
    ]);
    let r = recipe(
        dir.path(),
        "img-badcfg",
        "docker-archive",
        &tarball,
        None,
        None,
    );
    let (e, _) = refused(&r);
    assert_eq!(e.exit_code(), 2, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("configuration") && msg.contains(&h2) && msg.contains("corrupt"),
        "{msg}"
    );
}

#[test]
fn read_only_directories_and_type_changes_across_layers() {
    let _cache = private_cache();
    let dir = tempfile::tempdir().unwrap();
    let l1 = layer(&[
        E::DirMode("ro/", 0o555),
        E::File("ro/a", 0o444, b"a\n"),
        E::Dir("f/"),
        E::File("f/x", 0o644, b"x\n"),
        E::File("s", 0o644, b"s\n"),
        E::Sym("lnk", "ro"),
        E::DirMode("sticky/", 0o1777),
    ]);
    let l2 = layer(&[
        E::File("ro/.wh.a", 0o644, b""),
        E::File("ro/b", 0o444, b"b\n"),
        E::File("f", 0o644, b"now a file\n"),
        E::Dir("s/"),
        E::File("s/inner", 0o644, b""),
        E::Dir("lnk/"),
        E::File("lnk/own", 0o644, b""),
    ]);
    let archive = docker_archive(&[(
        &["mix:1"],
        &[Layer { tar: l1, gz: false }, Layer { tar: l2, gz: true }],
    )]);
    let r = recipe(dir.path(), "rw-mix", "docker-archive", &archive, None, None);
    let (b, log) = built(&r);
    let root = &b.path;
    let mode = |p: &str| std::fs::symlink_metadata(root.join(p)).unwrap().mode() & 0o7777;
    // Written into after its read-only mode came from the layer below (rootless too).
    assert_eq!(listing(&root.join("ro")), ["b"], "{log}");
    assert_eq!(mode("ro"), 0o555);
    assert_eq!(mode("ro/b"), 0o444);
    assert_eq!(mode("sticky"), 0o1777);
    assert_eq!(std::fs::read(root.join("f")).unwrap(), b"now a file\n");
    assert!(root.join("s/inner").is_file());
    // A directory replaces the symlink instead of writing through it into `ro`.
    assert!(
        std::fs::symlink_metadata(root.join("lnk"))
            .unwrap()
            .is_dir()
    );
    assert!(root.join("lnk/own").is_file() && !root.join("ro/own").exists());
    // The cache can remove what the image made, read-only directories included.
    let removed = rootfs::remove("rw-mix").expect("rootfs rm");
    assert!(!removed.is_empty() && !root.exists());
}
