//! The `debian` recipe, built for real with mmdebstrap/debootstrap (root and network).
//!
//! Each test runs in its own process under nextest, so setting FROMSCRATCH_CACHE here only
//! affects this test. Each takes 10-60 s.

use std::path::Path;

use fromscratch::error::Classify;
use fromscratch::paths;
use fromscratch::rootfs::{self, BuildOptions, RootfsError};

fn private_cache() -> tempfile::TempDir {
    // Under /var/tmp rather than /tmp: /tmp may be a noexec tmpfs on some hosts (pitfall R2).
    let dir = tempfile::Builder::new()
        .prefix("fromscratch-test-")
        .tempdir_in("/var/tmp")
        .expect("tempdir");
    #[allow(unsafe_code)]
    // SAFETY: nextest runs this test alone in its process; nothing else reads the environment.
    unsafe {
        std::env::set_var("FROMSCRATCH_CACHE", dir.path());
    }
    dir
}

fn cache_names() -> Vec<String> {
    match std::fs::read_dir(paths::cache_dir().join("rootfs")) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn debian_rootfs_builds_for_real_needs_root_and_network() {
    if !paths::is_root() {
        eprintln!("skipped: debootstrap/mmdebstrap need root");
        return;
    }
    let _cache = private_cache();
    let recipe = rootfs::load_recipe(&paths::recipes_dir().join("debian.toml")).unwrap();
    let mut log = Vec::new();
    let built = rootfs::build(
        &recipe,
        &BuildOptions {
            quiet: true,
            force: false,
        },
        &mut log,
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&log)));
    let log = String::from_utf8_lossy(&log);
    assert!(!built.cached);
    assert!(log.contains("smoke check passed"), "{log}");

    let version = std::fs::read_to_string(built.path.join("etc/debian_version")).unwrap();
    assert!(version.starts_with("12"), "{version}");

    let out = rootfs::run_in_root(
        &built.path,
        &[
            "/usr/bin/python3".to_string(),
            "-c".to_string(),
            "import sys; print(sys.version_info[:2])".to_string(),
        ],
    )
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "(3, 11)\n");
    for program in ["/usr/bin/ps", "/usr/bin/ip", "/usr/bin/ping"] {
        assert!(
            built.path.join(program.trim_start_matches('/')).exists(),
            "{program}"
        );
    }
    // no mount left behind by the builder
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains(&built.path.display().to_string()));

    let again = rootfs::build(&recipe, &BuildOptions::default(), &mut std::io::sink()).unwrap();
    assert!(again.cached);
    let entries = rootfs::list().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].builder, "debian");
    assert_eq!(
        rootfs::remove(&built.hash).unwrap(),
        vec![built.path.clone()]
    );
    assert!(!built.path.exists());
    assert!(cache_names().is_empty(), "{:?}", cache_names());
}

#[test]
fn debian_rootfs_missing_package_is_named_and_nothing_is_cached_r1() {
    if !paths::is_root() {
        eprintln!("skipped: debootstrap/mmdebstrap need root");
        return;
    }
    let _cache = private_cache();
    let text = r#"
format_version = 1
name = "old-python"
description = "asks bookworm for `python`, which it does not have"
smoke = ["/usr/bin/python3", "-c", "print(1)"]
[builder]
kind = "debian"
suite = "bookworm"
include = ["python", "procps"]
"#;
    let recipe = rootfs::parse_recipe(text, Path::new("old-python.toml")).unwrap();
    let e = rootfs::build(
        &recipe,
        &BuildOptions {
            quiet: true,
            force: false,
        },
        &mut std::io::sink(),
    )
    .unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    match &e {
        RootfsError::MissingPackages { suite, packages } => {
            assert_eq!(suite, "bookworm");
            assert_eq!(packages, &["python"]);
        }
        other => panic!("expected MissingPackages, got {other}"),
    }
    let msg = e.to_string();
    assert!(
        msg.starts_with("the suite `bookworm` has no package `python` (did you mean `python3`?): nothing was installed and no rootfs was cached"),
        "{msg}"
    );
    assert!(cache_names().is_empty(), "{:?}", cache_names());
    assert!(rootfs::list().unwrap().is_empty());
}

#[test]
fn debian_rootfs_refuses_early_without_root_or_with_an_unknown_suite() {
    if paths::is_root() {
        // As root, check the other early refusal instead: an unknown suite is exit 2.
        let _cache = private_cache();
        let text = "format_version = 1\nname = \"x\"\ndescription = \"\"\n[builder]\nkind = \"debian\"\nsuite = \"nosuchsuite\"\n";
        let recipe = rootfs::parse_recipe(text, Path::new("x.toml")).unwrap();
        let e = rootfs::build(&recipe, &BuildOptions::default(), &mut std::io::sink()).unwrap_err();
        assert!(matches!(e, RootfsError::UnknownSuite { .. }), "{e}");
        assert_eq!(e.exit_code(), 2);
        assert!(cache_names().is_empty(), "{:?}", cache_names());
        return;
    }
    let _cache = private_cache();
    let recipe = rootfs::load_recipe(&paths::recipes_dir().join("debian.toml")).unwrap();
    let e = rootfs::build(&recipe, &BuildOptions::default(), &mut std::io::sink()).unwrap_err();
    assert!(matches!(e, RootfsError::NotRoot { .. }), "{e}");
    assert_eq!(e.exit_code(), 3);
    assert!(cache_names().is_empty());
}
