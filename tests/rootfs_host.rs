//! The `host` recipe, built for real into a private cache.
//!
//! Each test runs in its own process under nextest, so setting FROMSCRATCH_CACHE here only
//! affects this test.

mod common;
use common::private_cache;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use fromscratch::paths;
use fromscratch::rootfs::{self, BuildOptions, RootfsError};

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_string()).collect()
}

/// Run `argv` chrooted in `root` inside a fresh mount namespace with /proc mounted, as a
/// lesson does: the proc mount vanishes with the namespace when the command exits.
fn run_with_proc(root: &Path, argv: &[&str]) -> std::process::Output {
    let root_c = std::ffi::CString::new(root.as_os_str().as_encoded_bytes()).unwrap();
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    #[allow(unsafe_code)]
    // SAFETY: runs between fork and exec; only system calls on data prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            use nix::mount::{MsFlags, mount};
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )?;
            nix::unistd::chroot(root_c.as_c_str())?;
            nix::unistd::chdir("/")?;
            mount(
                Some("proc"),
                "/proc",
                Some("proc"),
                MsFlags::empty(),
                None::<&str>,
            )?;
            Ok(())
        });
    }
    cmd.output().expect("spawn")
}

#[test]
fn host_rootfs_builds_runs_python_and_ps_caches_lists_and_removes() {
    let _cache = private_cache();
    let recipe = rootfs::load_recipe(&paths::recipes_dir().join("host.toml")).expect("recipe");
    let mut log = Vec::new();

    // Rootless, the smoke check chroots inside a user namespace.
    let built = match rootfs::build(
        &recipe,
        &BuildOptions {
            quiet: true,
            force: false,
        },
        &mut log,
    ) {
        Ok(b) => b,
        Err(e @ RootfsError::Exec { refused: true, .. }) if !paths::is_root() => {
            eprintln!("skipped: not root and user namespaces are refused here: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let log = String::from_utf8(log).unwrap();
    assert!(!built.cached);
    assert_eq!(built.recipe, "host");
    assert_eq!(built.hash, rootfs::recipe_hash(&recipe));
    assert!(log.contains("building rootfs `host`"), "{log}");
    assert!(log.contains("smoke check passed"), "{log}");
    let root = &built.path;
    assert_eq!(
        root,
        &paths::cache_dir()
            .join("rootfs")
            .join(format!("host-{}", built.hash))
    );
    assert!(root.join("usr/bin/python3").exists());
    assert_eq!(
        std::fs::read_link(root.join("usr/bin/python3")).unwrap(),
        std::fs::read_link("/usr/bin/python3").unwrap()
    );
    // the merged-/usr links, exactly as the host has them
    for top in ["bin", "lib", "lib64", "sbin"] {
        if let Ok(target) = std::fs::read_link(Path::new("/").join(top)) {
            assert_eq!(std::fs::read_link(root.join(top)).unwrap(), target, "{top}");
        }
    }
    assert_eq!(
        std::fs::read_to_string(root.join("etc/passwd")).unwrap(),
        "root:x:0:0:root:/root:/bin/sh\n"
    );
    // nothing missing for any shipped program (pitfall R3 would name it)
    for p in [
        "/bin/sh",
        "/bin/bash",
        "/usr/bin/ps",
        "/usr/bin/mount",
        "/usr/bin/which",
    ] {
        assert_eq!(rootfs::elf::diagnose_enoent(root, p), None, "{p}");
    }

    // python3 from the tree finds its own prefix and standard library
    let out = rootfs::run_in_root(
        root,
        &argv(&[
            "/usr/bin/python3",
            "-c",
            "import json, sys; print(sys.prefix)",
        ]),
    )
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/usr\n");

    // a `#!/bin/sh` script (Debian's which) runs too
    let out = rootfs::run_in_root(root, &argv(&["/usr/bin/which", "ls"])).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/usr/bin/ls\n");

    // ps needs /proc: mount it in a private mount namespace, as the lessons do (needs root)
    if paths::is_root() {
        check_ps(root);
    } else {
        eprintln!("ps check skipped: mounting /proc needs root");
    }

    cache_list_remove(&recipe, &built);
}

fn check_ps(root: &Path) {
    let out = run_with_proc(root, &["/usr/bin/ps", "--version"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("procps-ng"));
    let out = run_with_proc(
        root,
        &[
            "/usr/bin/ps",
            "-o",
            "pid=",
            "-p",
            &std::process::id().to_string(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        std::process::id().to_string()
    );
    // ... and the proc mount did not leak to the host
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(&root.join("proc").display().to_string()),
        "{mountinfo}"
    );
}

fn cache_list_remove(recipe: &rootfs::Recipe, built: &rootfs::BuiltRootfs) {
    // second build: a cache hit (its time is measured in benches/rootfs.sh, not here)
    let mut log2 = Vec::new();
    let again = rootfs::build(recipe, &BuildOptions::default(), &mut log2).unwrap();
    assert!(again.cached);
    assert_eq!(again.path, built.path);
    assert!(String::from_utf8_lossy(&log2).starts_with("cached: "));

    // list shows it
    let entries = rootfs::list().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].name, "host");
    assert_eq!(entries[0].builder, "host");
    assert_eq!(entries[0].hash, built.hash);
    assert_eq!(entries[0].path, built.path);
    assert!(
        entries[0].size_bytes > 10_000_000,
        "{}",
        entries[0].size_bytes
    );

    // no temporary trees left behind
    let leftovers: Vec<_> = std::fs::read_dir(paths::cache_dir().join("rootfs"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // remove removes it, and the host's files are untouched
    let removed = rootfs::remove("host").unwrap();
    assert_eq!(removed, vec![built.path.clone()]);
    assert!(!built.path.exists());
    assert!(rootfs::list().unwrap().is_empty());
    assert!(Path::new("/usr/bin/python3").exists());
    assert!(Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6").exists());
}

#[test]
fn host_rootfs_force_rebuilds_and_replaces_the_cached_tree() {
    if !paths::is_root() {
        eprintln!("skipped: the smoke check chroots, which needs root here");
        return;
    }
    let _cache = private_cache();
    let recipe = rootfs::load_recipe(&paths::recipes_dir().join("host.toml")).unwrap();
    let first = rootfs::build(&recipe, &BuildOptions::default(), &mut std::io::sink()).unwrap();
    std::fs::write(first.path.join("tmp/marker"), "old").unwrap();
    let second = rootfs::build(
        &recipe,
        &BuildOptions {
            quiet: true,
            force: true,
        },
        &mut std::io::sink(),
    )
    .unwrap();
    assert!(!second.cached);
    assert_eq!(second.path, first.path);
    assert!(!second.path.join("tmp/marker").exists());
    assert_eq!(rootfs::list().unwrap().len(), 1);
}

#[test]
fn rootfs_whose_smoke_check_fails_caches_nothing() {
    if !paths::is_root() {
        eprintln!("skipped: the smoke check chroots, which needs root here");
        return;
    }
    let _cache = private_cache();
    let text = r#"
format_version = 1
name = "nopython"
description = "sh only, but the smoke check wants python"
smoke = ["/usr/bin/python3", "-c", "print(1)"]
[builder]
kind = "host"
binaries = ["sh"]
"#;
    let recipe = rootfs::parse_recipe(text, Path::new("nopython.toml")).unwrap();
    let e = rootfs::build(&recipe, &BuildOptions::default(), &mut std::io::sink()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("smoke check"), "{msg}");
    assert!(msg.contains("/usr/bin/python3 does not exist"), "{msg}");
    use fromscratch::error::Classify;
    assert_eq!(e.exit_code(), 1);
    let names: Vec<String> = std::fs::read_dir(paths::cache_dir().join("rootfs"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn concurrent_builds_of_one_recipe_share_one_tree_and_never_delete_it() {
    // Two labs (or two tests) on a fresh machine build `host` at the same moment: the
    // first to finish puts its tree in place, the others keep it and drop their own, so
    // a tree already in use as a root is never deleted from under its processes.
    let cache = tempfile::tempdir().unwrap();
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_fromscratch"))
            .args(["rootfs", "build", "host"])
            .env("FROMSCRATCH_CACHE", cache.path())
            .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..3).map(|_| spawn()).collect();
    let paths: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .last()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(paths.windows(2).all(|w| w[0] == w[1]), "{paths:?}");
    let tree = std::path::Path::new(&paths[0]);
    assert!(tree.join("proc").is_dir() && tree.join("usr/bin/python3").exists());
    let entries: Vec<String> = std::fs::read_dir(cache.path().join("rootfs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".json"))
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "one tree, no leftover temporary trees: {entries:?}"
    );
}
