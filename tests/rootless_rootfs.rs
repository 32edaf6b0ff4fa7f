//! Rootfs builds without root (issue 6, part 2): as an ordinary user (setpriv to
//! `FROMSCRATCH_TEST_UID`, which .ci/run creates, else nobody) `busybox`, an image tarball
//! and `debian` (mmdebstrap's unshare mode) build into the user's own cache, every file
//! theirs, and the lab runs them; debootstrap and dnf refuse in one sentence naming the
//! rootless way. Nothing lands outside the user's cache: not in /tmp, /var/tmp or /dev/shm,
//! not in the root cache /var/cache/fromscratch, not in the user's home.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Snapshot, text};

/// The unprivileged user: `FROMSCRATCH_TEST_UID`, or nobody.
fn user() -> u32 {
    common::test_user()
}

/// The user's group in /etc/passwd (newuidmap maps ids only for a process in it), else the
/// uid's number.
fn group() -> u32 {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(user()))
        .ok()
        .flatten()
        .map_or(user(), |u| u.gid.as_raw())
}

/// A world-readable directory (0755) with the binary where the user can run it, and
/// directories owned by the user: `cache`, `run`, `state`, `home`, `tmp`.
struct World {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl World {
    fn new() -> Self {
        let (dir, bin) = common::user_dir(
            "fs-rootless-rootfs-",
            &["cache", "run", "state", "home", "tmp"],
            user(),
            group(),
        );
        Self { dir, bin }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The binary as the user, with `cache` as FROMSCRATCH_CACHE (None: unset, so the
    /// default for a user applies), HOME the user's `home`, TMPDIR the user's `tmp`, and no
    /// XDG_CACHE_HOME.
    fn as_user(&self, cache: Option<&Path>, args: &[&str]) -> Command {
        self.as_user_in_group(group(), cache, args)
    }

    /// [`World::as_user`] with the real gid `gid`.
    fn as_user_in_group(&self, gid: u32, cache: Option<&Path>, args: &[&str]) -> Command {
        let mut c = Command::new("setpriv");
        c.args([
            format!("--reuid={}", user()),
            format!("--regid={gid}"),
            "--clear-groups".to_string(),
        ])
        .arg(&self.bin)
        .args(args)
        .current_dir("/")
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", self.path("home"))
        .env("TMPDIR", self.path("tmp"))
        .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
        .env("FROMSCRATCH_RUN", self.path("run"))
        .env("XDG_STATE_HOME", self.path("state"))
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
        if let Some(cache) = cache {
            c.env("FROMSCRATCH_CACHE", cache);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.as_user(Some(&self.path("cache")), args)
            .output()
            .unwrap()
    }

    /// The directories the user owns that must stay empty: the home (FROMSCRATCH_CACHE is
    /// set, so no `~/.cache`) and TMPDIR (mmdebstrap removes its temporary tree).
    #[track_caller]
    fn home_and_tmp_empty(&self) {
        for d in ["home", "tmp"] {
            assert_eq!(
                listing(&self.path(d)),
                Vec::<String>::new(),
                "{d} is not empty"
            );
        }
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

/// What a user's build could leave outside its cache: the user's entries at the top of
/// the shared temporary directories, and the root cache's top level.
#[derive(Debug, PartialEq, Eq)]
struct Outside {
    user_tmp: BTreeSet<String>,
    root_cache: Option<Vec<String>>,
}

impl Outside {
    fn take() -> Self {
        let mut user_tmp = BTreeSet::new();
        for d in ["/tmp", "/var/tmp", "/dev/shm"] {
            for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                if e.metadata().is_ok_and(|m| m.uid() == user()) {
                    user_tmp.insert(e.path().display().to_string());
                }
            }
        }
        let root_cache = std::fs::read_dir("/var/cache/fromscratch").ok().map(|rd| {
            let mut v: Vec<String> = rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        });
        Self {
            user_tmp,
            root_cache,
        }
    }
}

/// Every entry of `root` belongs to the user (uid), and none is a device node.
#[track_caller]
fn all_the_users(root: &Path) -> usize {
    let mut n = 0;
    for e in walkdir::WalkDir::new(root) {
        let e = e.unwrap();
        let m = e.path().symlink_metadata().unwrap();
        assert_eq!(m.uid(), user(), "{} is not the user's", e.path().display());
        let t = m.file_type();
        use std::os::unix::fs::FileTypeExt;
        assert!(
            !(t.is_char_device() || t.is_block_device()),
            "{} is a device node",
            e.path().display()
        );
        n += 1;
    }
    n
}

/// The built tree's path: the last line of `rootfs build`, strictly inside `cache/rootfs`.
#[track_caller]
fn built_tree(out: &Output, cache: &Path) -> PathBuf {
    let (stdout, stderr) = text(out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let tree = PathBuf::from(stdout.lines().last().expect("a path").trim());
    assert_eq!(
        tree.parent(),
        Some(cache.join("rootfs").as_path()),
        "{stdout}"
    );
    assert!(tree.is_dir(), "{}", tree.display());
    tree
}

#[test]
fn as_the_user_busybox_builds_into_the_users_cache_and_the_lab_runs_it() {
    let w = World::new();
    let outside = Outside::take();
    let before = Snapshot::take(&w.path("run"));
    let cache = w.path("cache");
    let tree = built_tree(&w.run(&["rootfs", "build", "busybox"]), &cache);
    assert!(all_the_users(&tree) > 200, "busybox and its applet links");
    let bb = std::fs::metadata(tree.join("bin/busybox")).unwrap();
    assert_eq!(bb.len(), std::fs::metadata("/bin/busybox").unwrap().len());
    assert_eq!(
        std::fs::read_link(tree.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );

    // The recipe name resolves to the user's tree; its shell runs as PID 1 of a PID
    // namespace inside the lab's user namespace.
    let out = w.run(&[
        "spawn",
        "--pid",
        "--mount-proc",
        "--rootfs",
        "busybox",
        "--",
        "/bin/sh",
        "-c",
        "echo $0 $$; id -u",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.lines().collect::<Vec<_>>(), ["/bin/sh 1", "0"]);

    // A lesson on it, to the end with its challenge.
    let out = w.run(&["run", "04", "--yes", "--rootfs", "busybox"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("chroot(\"{}\") = 0", tree.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ challenge: ") && !stdout.contains("✗"),
        "{stdout}"
    );

    // The user removes it again.
    let out = w.run(&["rootfs", "rm", "busybox"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(!tree.exists());
    assert_eq!(listing(&cache.join("rootfs")), Vec::<String>::new());

    w.home_and_tmp_empty();
    assert_eq!(Outside::take(), outside);
    Snapshot::take(&w.path("run")).assert_same(&before);
}

#[test]
fn as_the_user_the_default_cache_is_in_the_home_never_the_root_cache() {
    let w = World::new();
    let outside = Outside::take();
    // No FROMSCRATCH_CACHE, no XDG_CACHE_HOME: ~/.cache/fromscratch.
    let out = w
        .as_user(None, &["rootfs", "build", "busybox"])
        .output()
        .unwrap();
    let tree = built_tree(&out, &w.path("home/.cache/fromscratch"));
    all_the_users(&w.path("home/.cache"));
    assert!(tree.join("bin/busybox").is_file());
    let out = w.as_user(None, &["rootfs", "list"]).output().unwrap();
    let (stdout, _) = text(&out);
    assert!(stdout.contains(&tree.display().to_string()), "{stdout}");

    // A home the user cannot write: one sentence naming the variable to set, and never
    // the root cache.
    let mut c = w.as_user(None, &["rootfs", "build", "busybox"]);
    c.env("HOME", "/nonexistent-home-of-the-test");
    let out = c.output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "fromscratch: cannot create the rootfs cache /nonexistent-home-of-the-test/.cache/fromscratch/rootfs: "
        ) && stderr.contains("set FROMSCRATCH_CACHE (or XDG_CACHE_HOME) to a directory of yours"),
        "{stderr}"
    );
    assert!(!stderr.contains("/var/cache"), "{stderr}");
    assert_eq!(Outside::take(), outside);
}

// ---------------------------------------------------------------------------------------
// An image tarball, made here: one layer in a `docker save` archive.
// ---------------------------------------------------------------------------------------

/// One layer entry: (name, type, mode, uid, data or link target).
struct Entry<'a> {
    name: &'a str,
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    data: &'a [u8],
}

fn entry<'a>(
    name: &'a str,
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    data: &'a [u8],
) -> Entry<'a> {
    Entry {
        name,
        kind,
        mode,
        uid,
        data,
    }
}

/// A tar of `entries`; names are written raw, so `../x` can be made too.
fn tar_of(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(e.kind);
        h.set_mode(e.mode);
        h.set_uid(e.uid);
        h.set_gid(e.uid);
        h.set_mtime(1_700_000_000);
        let mut data = e.data;
        if e.kind == tar::EntryType::Symlink {
            h.set_link_name_literal(std::str::from_utf8(e.data).unwrap())
                .unwrap();
            data = b"";
        }
        if e.kind == tar::EntryType::Char {
            h.set_device_major(1).unwrap();
            h.set_device_minor(3).unwrap();
        }
        h.set_size(data.len() as u64);
        let slot = &mut h.as_mut_bytes()[..100];
        slot.fill(0);
        slot[..e.name.len()].copy_from_slice(e.name.as_bytes());
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A `docker save` archive of one image with one layer.
fn docker_archive(layer: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha(layer))]},
    }))
    .unwrap();
    let config_name = format!("{}.json", sha(&config));
    let layer_name = format!("{}/layer.tar", sha(layer));
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": config_name, "RepoTags": ["test:1"], "Layers": [layer_name]}
    ]))
    .unwrap();
    let reg = tar::EntryType::Regular;
    tar_of(&[
        entry(&layer_name, reg, 0o644, 0, layer),
        entry(&config_name, reg, 0o644, 0, &config),
        entry("manifest.json", reg, 0o644, 0, &manifest),
    ])
}

/// Write the archive and a recipe for it (with `smoke`, a TOML array, or none) into the
/// world, readable by the user; returns the recipe's path.
fn image_recipe(w: &World, name: &str, layer: &[u8], smoke: Option<&str>) -> PathBuf {
    let dir = w.path("images");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join(format!("{name}.tar")), docker_archive(layer)).unwrap();
    let recipe = dir.join(format!("{name}.toml"));
    let smoke = smoke.map(|s| format!("smoke = {s}\n")).unwrap_or_default();
    std::fs::write(
        &recipe,
        format!(
            "format_version = 1\nname = \"{name}\"\ndescription = \"an image made by the test\"\n{smoke}\n[builder]\nkind = \"docker-archive\"\narchive = \"{name}.tar\"\n"
        ),
    )
    .unwrap();
    recipe
}

#[test]
fn as_the_user_an_image_unpacks_with_devices_skipped_and_other_owners_made_the_users() {
    let w = World::new();
    let outside = Outside::take();
    let busybox = std::fs::read("/bin/busybox")
        .expect("/bin/busybox (Debian package busybox-static) is needed by this test");
    use tar::EntryType::{Char, Directory, Regular, Symlink};
    let layer = tar_of(&[
        entry("bin/", Directory, 0o755, 0, b""),
        entry("bin/busybox", Regular, 0o755, 0, &busybox),
        entry("bin/sh", Symlink, 0o777, 0, b"busybox"),
        entry("bin/cat", Symlink, 0o777, 0, b"busybox"),
        entry("bin/stat", Symlink, 0o777, 0, b"busybox"),
        entry("dev/", Directory, 0o755, 0, b""),
        entry("dev/null", Char, 0o666, 0, b""),
        entry("etc/", Directory, 0o755, 0, b""),
        entry(
            "etc/owned",
            Regular,
            0o640,
            1234,
            b"owned by 1234 in the image\n",
        ),
        entry("home/", Directory, 0o755, 0, b""),
        entry("home/app/", Directory, 0o750, 1234, b""),
        entry("usr/bin/suid", Regular, 0o4755, 0, b"#!/bin/sh\n"),
    ]);
    let recipe = image_recipe(
        &w,
        "user-image",
        &layer,
        Some(r#"["/bin/sh", "-c", "cat /etc/owned"]"#),
    );
    let cache = w.path("cache");
    let out = w.run(&["rootfs", "build", recipe.to_str().unwrap()]);
    let tree = built_tree(&out, &cache);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains(
            "skipped 1 device node or FIFOs (dev/null): a container gets /dev from its runtime"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "without root (chown to another uid needs CAP_CHOWN): 2 entries owned by other users than root (1234:1234) were written as yours, so inside the lab's user namespace they are root's; the setuid/setgid bits of 1 file was cleared"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "smoke check passed: `/bin/sh -c cat /etc/owned` printed `owned by 1234 in the image`"
        ),
        "{stdout}"
    );

    all_the_users(&tree);
    assert_eq!(listing(&tree.join("dev")), Vec::<String>::new());
    let owned = std::fs::metadata(tree.join("etc/owned")).unwrap();
    assert_eq!(
        (owned.uid(), owned.mode() & 0o7777, owned.len()),
        (user(), 0o640, 27)
    );
    assert_eq!(
        std::fs::metadata(tree.join("home/app")).unwrap().mode() & 0o7777,
        0o750
    );
    assert_eq!(
        std::fs::metadata(tree.join("usr/bin/suid")).unwrap().mode() & 0o7777,
        0o755,
        "setuid cleared"
    );

    // Inside the lab's user namespace the file is root's, and readable there.
    let out = w.run(&[
        "spawn",
        "--rootfs",
        tree.to_str().unwrap(),
        "--",
        "/bin/sh",
        "-c",
        "cat /etc/owned; stat -c '%u %a' /etc/owned",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["owned by 1234 in the image", "0 640"]
    );

    w.home_and_tmp_empty();
    assert_eq!(Outside::take(), outside);
}

#[test]
fn as_the_user_an_image_cannot_write_outside_the_tree() {
    let w = World::new();
    let outside = Outside::take();
    // The user's own directory beside the cache, which a layer tries to reach.
    let target = w.path("home");
    use tar::EntryType::{Regular, Symlink};
    let link_target = target.display().to_string();
    let planted = tar_of(&[
        entry("escape", Symlink, 0o777, 0, link_target.as_bytes()),
        entry("escape/planted", Regular, 0o644, 0, b"inside\n"),
        entry("bin/sh", Regular, 0o755, 0, b""),
        entry("etc/owned", Regular, 0o644, 0, b"x\n"),
    ]);
    // No smoke check: the tree has no real shell.
    let recipe = image_recipe(&w, "planted", &planted, None);
    let tree = built_tree(
        &w.run(&["rootfs", "build", recipe.to_str().unwrap()]),
        &w.path("cache"),
    );
    // The symlink was followed inside the tree, as the kernel would in the container.
    assert_eq!(
        std::fs::read(tree.join(target.strip_prefix("/").unwrap()).join("planted")).unwrap(),
        b"inside\n"
    );

    let dotdot = tar_of(&[entry("../../home/evil", Regular, 0o644, 0, b"evil\n")]);
    let recipe = image_recipe(&w, "dotdot", &dotdot, None);
    let out = w.run(&["rootfs", "build", recipe.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("`../../home/evil`"), "{stderr}");

    assert_eq!(
        listing(&target),
        Vec::<String>::new(),
        "written outside the tree"
    );
    let mut left = listing(&w.path("cache/rootfs"));
    left.retain(|n| !n.starts_with("planted-"));
    assert_eq!(left, Vec::<String>::new(), "a failed build left something");
    w.home_and_tmp_empty();
    assert_eq!(Outside::take(), outside);
}

// ---------------------------------------------------------------------------------------
// Debian: mmdebstrap's unshare mode; debootstrap and dnf refuse.
// ---------------------------------------------------------------------------------------

/// The user's name and whether /etc/subuid and /etc/subgid give it a range.
fn subordinate_ids() -> (String, bool) {
    let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(user()))
        .unwrap()
        .map_or_else(|| user().to_string(), |u| u.name);
    let has = |file: &str| {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(':').next() == Some(name.as_str()))
    };
    let both = has("/etc/subuid") && has("/etc/subgid");
    (name, both)
}

/// With a subordinate id range (.ci/run gives the test user one) the shipped `debian`
/// recipe builds for real as the user (network; about 30 s here) and python3 runs in it;
/// without one, the build stops before anything is written, saying how to add a range.
#[test]
fn as_the_user_debian_builds_through_mmdebstrap_unshare_mode_or_says_what_it_needs() {
    let w = World::new();
    let outside = Outside::take();
    let cache = w.path("cache");
    let (name, has_range) = subordinate_ids();
    let out = w.run(&["rootfs", "build", "debian"]);
    let (stdout, stderr) = text(&out);
    if !has_range {
        assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!(
                "fromscratch: mmdebstrap's unshare mode needs a range for {name} in /etc/subuid and /etc/subgid ("
            )) && stderr.contains("`usermod --add-subuids ")
                && stderr.trim_end().ends_with(&format!(" {name}` (as root), or build as root")),
            "{stderr}"
        );
        assert!(!cache.join("rootfs").exists() || listing(&cache.join("rootfs")).is_empty());
        w.home_and_tmp_empty();
        assert_eq!(Outside::take(), outside);
        return;
    }
    // A group that is not the user's own: newuidmap would refuse, so preflight does.
    let other = if group() == 65534 { 65533 } else { 65534 };
    let refused = w
        .as_user_in_group(
            other,
            Some(&cache),
            &["rootfs", "build", "debian", "--force"],
        )
        .output()
        .unwrap();
    let (o, e) = text(&refused);
    assert_eq!(refused.status.code(), Some(3), "{o}{e}");
    assert_eq!(
        e.trim_end(),
        format!(
            "fromscratch: mmdebstrap's unshare mode cannot map your subordinate ids while your group is {other} and not your primary group {} (newuidmap and newgidmap refuse a process whose group is not the one /etc/passwd gives you): run it with group {}, as a fresh login shell has (`newgrp`, `sg` and `setpriv --regid` change it), or build as root",
            group(),
            group()
        )
    );
    let tree = built_tree(&out, &cache);
    assert!(
        stdout.contains("running mmdebstrap --mode=unshare without root, in a user namespace with your subordinate ids, for `bookworm` (minbase variant, with python3 procps iproute2 iputils-ping"),
        "{stdout}"
    );
    assert!(
        stdout.contains("unpacked mmdebstrap's tarball as you: every file is yours on the host"),
        "{stdout}"
    );
    assert!(all_the_users(&tree) > 1000);
    assert!(tree.join("usr/bin/python3").exists());
    assert_eq!(listing(&tree.join("dev")), Vec::<String>::new());
    let out = w.run(&[
        "spawn",
        "--pid",
        "--mount-proc",
        "--rootfs",
        "debian",
        "--",
        "/usr/bin/python3",
        "-c",
        "import os; print(os.getpid(), open('/etc/debian_version').read().split('.')[0])",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "1 12");
    let out = w.run(&["rootfs", "rm", "debian"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(listing(&cache.join("rootfs")), Vec::<String>::new());
    w.home_and_tmp_empty();
    assert_eq!(Outside::take(), outside);
}

#[test]
fn as_the_user_debootstrap_and_dnf_refuse_in_one_sentence_naming_the_rootless_way() {
    let w = World::new();
    let outside = Outside::take();
    for (recipe, starts, way) in [
        (
            "debian-debootstrap",
            "fromscratch: building a Debian rootfs with debootstrap (",
            "needs root: run it with sudo, or build the `debian` recipe (or any with kind = \"mmdebstrap\"), which makes the same tree without root in mmdebstrap's unshare mode",
        ),
        (
            "fedora",
            "fromscratch: building a Fedora-family rootfs with dnf --installroot (",
            "needs root: run it with sudo, or unpack a Fedora image without root: save one with `skopeo copy docker://registry.fedoraproject.org/fedora:40 oci-archive:fedora-40.tar` and build a recipe with kind = \"oci-archive\"",
        ),
    ] {
        let out = w.run(&["rootfs", "build", recipe]);
        let (stdout, stderr) = text(&out);
        if recipe == "fedora" && stderr.contains("dnf is not installed") {
            // dnf's preflight looks for the tool first: that sentence is the answer here.
            assert_eq!(out.status.code(), Some(3), "{stderr}");
            continue;
        }
        assert_eq!(out.status.code(), Some(3), "{recipe}: {stdout}{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(starts) && stderr.contains(way),
            "{stderr}"
        );
        assert!(!stderr.contains("/var/cache"), "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
    }
    assert!(!w.path("cache/rootfs").exists(), "nothing was written");
    w.home_and_tmp_empty();
    assert_eq!(Outside::take(), outside);
}
