//! The `debian` recipe, built for real with mmdebstrap/debootstrap (root and network).
//!
//! Each test runs in its own process under nextest, so setting FROMSCRATCH_CACHE here only
//! affects this test. Each takes 10-60 s.

mod common;
use common::{cache_names, private_cache};

use std::path::Path;

use fromscratch::error::Classify;
use fromscratch::paths;
use fromscratch::rootfs::{self, BuildOptions, RootfsError};

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

/// Pitfall R1: mmdebstrap asked for a package bookworm lacks: exit 2, named, nothing cached.
#[test]
fn pitfall_r1_debian_missing_package_is_named_and_nothing_is_cached() {
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
        // As root, check the other early refusal instead: an unknown suite is exit 2, named
        // for the tool that would have run.
        let _cache = private_cache();
        for (kind, tool) in [("debootstrap", "debootstrap"), ("mmdebstrap", "mmdebstrap")] {
            let text = format!(
                "format_version = 1\nname = \"x\"\ndescription = \"\"\n[builder]\nkind = \"{kind}\"\nsuite = \"nosuchsuite\"\n"
            );
            let recipe = rootfs::parse_recipe(&text, Path::new("x.toml")).unwrap();
            let e =
                rootfs::build(&recipe, &BuildOptions::default(), &mut std::io::sink()).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
            match kind {
                "debootstrap" => assert!(matches!(e, RootfsError::UnknownSuite { .. }), "{e}"),
                _ => assert!(matches!(e, RootfsError::SuiteNotListed { .. }), "{e}"),
            }
            let msg = e.to_string();
            assert!(msg.contains("`nosuchsuite`") && msg.contains(tool), "{msg}");
            assert!(cache_names().is_empty(), "{:?}", cache_names());
        }
        return;
    }
    let _cache = private_cache();
    let e = build_err(&debootstrap_recipe("bookworm", &["python3"]));
    assert!(matches!(e, RootfsError::NotRoot { .. }), "{e}");
    assert!(e.to_string().contains("with debootstrap"), "{e}");
    assert_eq!(e.exit_code(), 3);
    assert!(cache_names().is_empty());
}

fn debootstrap_recipe(suite: &str, include: &[&str]) -> rootfs::Recipe {
    let include = include
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        "format_version = 1\nname = \"deb\"\ndescription = \"\"\nsmoke = [\"/usr/bin/python3\", \"-c\", \"print(1)\"]\n[builder]\nkind = \"debootstrap\"\nsuite = \"{suite}\"\ninclude = [{include}]\n"
    );
    rootfs::parse_recipe(&text, Path::new("deb.toml")).unwrap()
}

fn build_err(recipe: &rootfs::Recipe) -> RootfsError {
    rootfs::build(
        recipe,
        &BuildOptions {
            quiet: true,
            force: false,
        },
        &mut std::io::sink(),
    )
    .unwrap_err()
}

/// Run the rest of this test as `nobody` (when root; nextest gives each test its own
/// process, so this cannot leak into another test). The cache points at a directory that
/// does not exist: every refusal tested here comes before anything is written.
fn unprivileged_without_cache() {
    #[allow(unsafe_code)]
    // SAFETY: nextest runs this test alone in its process; nothing else reads the environment.
    unsafe {
        std::env::set_var("FROMSCRATCH_CACHE", "/nonexistent/fromscratch-test-cache");
    }
    if paths::is_root() {
        use nix::unistd::{Gid, Uid, setgroups, setresgid, setresuid};
        let (uid, gid) = (Uid::from_raw(65534), Gid::from_raw(65534));
        setgroups(&[]).unwrap();
        setresgid(gid, gid, gid).unwrap();
        setresuid(uid, uid, uid).unwrap();
    }
    assert!(!paths::is_root());
}

/// Pitfall R1: the same with debootstrap ("Couldn't find these debs").
#[test]
fn pitfall_r1_debian_missing_package_is_named_with_debootstrap_too() {
    if !paths::is_root() {
        eprintln!("skipped: debootstrap needs root");
        return;
    }
    let _cache = private_cache();
    let recipe = debootstrap_recipe("bookworm", &["python", "procps"]);
    let e = build_err(&recipe);
    assert_eq!(e.exit_code(), 2, "{e}");
    match &e {
        RootfsError::MissingPackages { suite, packages } => {
            assert_eq!(suite, "bookworm");
            assert_eq!(packages, &["python"]);
        }
        other => panic!("expected MissingPackages, got {other}"),
    }
    assert!(
        e.to_string()
            .starts_with("the suite `bookworm` has no package `python` (did you mean `python3`?): nothing was installed and no rootfs was cached"),
        "{e}"
    );
    assert!(cache_names().is_empty(), "{:?}", cache_names());
    assert!(rootfs::list().unwrap().is_empty());
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains("fromscratch-test-"), "{mountinfo}");
}

#[test]
fn a_missing_keyring_stops_mmdebstrap_before_any_download() {
    let cache = private_cache();
    let text = r#"
format_version = 1
name = "nokeys"
description = "names a keyring that is not there"
[builder]
kind = "mmdebstrap"
suite = "bookworm"
keyring = "/nonexistent/keyrings/missing-archive-keyring.gpg"
"#;
    let recipe = rootfs::parse_recipe(text, Path::new("nokeys.toml")).unwrap();
    let check = |e: RootfsError| {
        assert!(matches!(e, RootfsError::KeyringNotFound { .. }), "{e}");
        assert_eq!(e.exit_code(), 3, "{e}");
        let msg = e.to_string();
        assert!(
            msg.starts_with("the keyring /nonexistent/keyrings/missing-archive-keyring.gpg named by `keyring` in the recipe is missing and fromscratch never installs unverified packages"),
            "{msg}"
        );
        assert!(msg.contains("`debian-archive-keyring`"), "{msg}");
    };
    check(build_err(&recipe));
    // refused in the preflight: not even the cache directory was made
    assert!(!paths::cache_dir().join("rootfs").exists());
    drop(cache);

    // the same for a user without root (mmdebstrap's unshare mode): the keyring is checked
    // before anything about user namespaces
    unprivileged_without_cache();
    check(build_err(&recipe));
}

#[test]
fn unshare_mode_is_refused_for_debootstrap_by_the_parser() {
    for builder in [
        "kind = \"debootstrap\"\nsuite = \"bookworm\"\nmode = \"unshare\"\n",
        "kind = \"debian\"\ntool = \"debootstrap\"\nsuite = \"bookworm\"\nmode = \"unshare\"\n",
    ] {
        let text =
            format!("format_version = 1\nname = \"x\"\ndescription = \"\"\n[builder]\n{builder}");
        let e = rootfs::parse_recipe(&text, Path::new("x.toml")).unwrap_err();
        assert!(matches!(e, RootfsError::RecipeSyntax { .. }), "{e}");
        assert_eq!(e.exit_code(), 2, "{e}");
        let msg = e.to_string();
        assert!(msg.starts_with("x.toml:5:"), "{msg}");
        assert!(msg.contains("debootstrap always needs root"), "{msg}");
    }
}

#[test]
fn without_root_debootstrap_and_mode_root_ask_for_root_naming_the_tool() {
    unprivileged_without_cache();
    let e = build_err(&debootstrap_recipe("bookworm", &["python3"]));
    assert!(matches!(e, RootfsError::NotRoot { .. }), "{e}");
    assert_eq!(e.exit_code(), 3);
    let msg = e.to_string();
    assert!(
        msg.starts_with("building a Debian rootfs with debootstrap ("),
        "{msg}"
    );

    let text = "format_version = 1\nname = \"x\"\ndescription = \"\"\n[builder]\nkind = \"mmdebstrap\"\nsuite = \"bookworm\"\nmode = \"root\"\n";
    let e = build_err(&rootfs::parse_recipe(text, Path::new("x.toml")).unwrap());
    assert!(matches!(e, RootfsError::NotRoot { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("building a Debian rootfs with mmdebstrap --mode=root ("),
        "{e}"
    );
}

#[test]
fn without_root_unshare_mode_needs_a_subuid_range_and_says_how_to_add_one() {
    unprivileged_without_cache();
    let uid = nix::unistd::getuid();
    let user = nix::unistd::User::from_uid(uid).unwrap().unwrap().name;
    let has_range = |file: &str| {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(':').next() == Some(user.as_str()))
    };
    if has_range("/etc/subuid") && has_range("/etc/subgid") {
        eprintln!("skipped: {user} has subordinate ids, so unshare mode would really build");
        return;
    }
    // the shipped recipe: mode "auto" means unshare mode for a user
    let recipe = rootfs::load_recipe(&paths::recipes_dir().join("debian.toml")).unwrap();
    let e = build_err(&recipe);
    assert!(matches!(e, RootfsError::NoSubordinateIds { .. }), "{e}");
    assert_eq!(e.exit_code(), 3);
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "mmdebstrap's unshare mode needs a range for {user} in /etc/subuid and /etc/subgid ("
        )),
        "{msg}"
    );
    assert!(msg.contains("usermod --add-subuids "), "{msg}");
    assert!(
        msg.ends_with(&format!(" {user}` (as root), or build as root")),
        "{msg}"
    );
}

#[test]
fn the_shipped_debootstrap_recipe_builds_for_real_and_runs_python3() {
    // debootstrap is the slow classic (about 40-80 s here); every shipped recipe that can
    // build on this machine is built once by the suite.
    assert!(
        paths::is_root(),
        "this test needs root (debootstrap does): run the suite with sudo"
    );
    let _cache = private_cache();
    let recipe =
        rootfs::load_recipe(&paths::recipes_dir().join("debian-debootstrap.toml")).unwrap();
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
    assert!(log.contains("smoke check passed"), "{log}");
    assert!(
        std::fs::read_to_string(built.path.join("etc/debian_version"))
            .unwrap()
            .starts_with("12")
    );
    let out = rootfs::run_in_root(
        &built.path,
        &[
            "/usr/bin/python3".to_string(),
            "-c".to_string(),
            "print(6*7)".to_string(),
        ],
    )
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n");
    assert_eq!(rootfs::list().unwrap()[0].builder, "debootstrap");
    rootfs::remove(&built.hash).unwrap();
    assert!(cache_names().is_empty(), "{:?}", cache_names());
}

#[test]
fn ctrl_c_mid_build_stops_the_tool_and_caches_nothing() {
    use std::io::{BufRead, BufReader};
    assert!(
        paths::is_root(),
        "this test needs root (mmdebstrap --mode=root): run the suite with sudo"
    );
    let cache = tempfile::Builder::new()
        .prefix("fromscratch-test-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fromscratch"))
        .args(["rootfs", "build", "debian"])
        .env("FROMSCRATCH_CACHE", cache.path())
        .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the tool is really running, then press Ctrl-C.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 && !line.contains("running mmdebstrap") {}
    assert!(line.contains("running mmdebstrap"), "{line}");
    std::thread::sleep(std::time::Duration::from_secs(2));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert_eq!(status.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("nothing was cached"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(cache.path().join("rootfs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left in the cache: {left:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&cache.path().display().to_string()),
        "a mount was left"
    );
}
