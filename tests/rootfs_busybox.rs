//! The `busybox` recipe, built for real into a private cache (offline, milliseconds).
//!
//! Each test runs in its own process under nextest, so setting FROMSCRATCH_CACHE here only
//! affects this test. Needs the Debian package `busybox-static` (CI installs it).

mod common;
use common::private_cache;

use std::path::Path;

use fromscratch::error::Classify;
use fromscratch::paths;
use fromscratch::rootfs::{self, BuildOptions, RootfsError};

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_string()).collect()
}

fn quiet() -> BuildOptions {
    BuildOptions {
        quiet: true,
        force: false,
    }
}

fn recipe_with_binary(binary: &str) -> rootfs::Recipe {
    let text = format!(
        "format_version = 1\nname = \"bb\"\ndescription = \"\"\nsmoke = [\"/bin/sh\", \"-c\", \"true\"]\n[builder]\nkind = \"busybox\"\nbusybox = \"{binary}\"\n"
    );
    rootfs::parse_recipe(&text, Path::new("bb.toml")).unwrap()
}

fn cache_is_empty() -> bool {
    match std::fs::read_dir(paths::cache_dir().join("rootfs")) {
        Ok(mut rd) => rd.next().is_none(),
        Err(_) => true,
    }
}

#[test]
fn busybox_tree_has_a_working_sh_and_applet_links_and_is_cached() {
    let _cache = private_cache();
    let recipe = rootfs::load_recipe(&paths::recipes_dir().join("busybox.toml")).unwrap();
    assert_eq!(recipe.builder.kind(), "busybox");
    let mut log = Vec::new();
    let built = rootfs::build(&recipe, &quiet(), &mut log)
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&log)));
    let log = String::from_utf8_lossy(&log);
    assert!(!built.cached);
    assert!(
        log.contains("smoke check passed") && log.contains("hello from busybox"),
        "{log}"
    );

    let tree = &built.path;
    let sh = tree.join("bin/sh");
    assert!(
        std::fs::symlink_metadata(&sh)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let out = rootfs::run_in_root(tree, &argv(&["/bin/sh", "-c", "echo $((6*7))"])).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n");

    // one link per applet, each resolving (inside the tree) to /bin/busybox
    let busybox = tree.join("bin/busybox");
    assert!(busybox.is_file());
    for applet in ["bin/ls", "bin/cat", "usr/bin/env", "sbin/ip", "bin/ps"] {
        let link = tree.join(applet);
        let target = std::fs::read_link(&link).unwrap_or_else(|e| panic!("{applet}: {e}"));
        assert!(target.is_relative(), "{applet} -> {}", target.display());
        assert_eq!(
            std::fs::canonicalize(&link).unwrap(),
            std::fs::canonicalize(&busybox).unwrap(),
            "{applet}"
        );
    }
    let listed = std::process::Command::new("/bin/busybox")
        .arg("--list-full")
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    let mut count = 0;
    for applet in listed.lines().filter(|l| !l.is_empty()) {
        assert!(
            std::fs::symlink_metadata(tree.join(applet)).is_ok(),
            "{applet} has no link"
        );
        count += 1;
    }
    assert!(count > 100, "{count}");
    // an applet through another directory's link, run inside the tree
    let out = rootfs::run_in_root(tree, &argv(&["/usr/bin/env"])).unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("PATH="));

    // the skeleton
    for dir in ["proc", "sys", "dev", "tmp", "root", "etc"] {
        assert!(tree.join(dir).is_dir(), "{dir}");
    }
    use std::os::unix::fs::PermissionsExt;
    let tmp_mode = std::fs::metadata(tree.join("tmp"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(tmp_mode & 0o7777, 0o1777);
    let passwd = std::fs::read_to_string(tree.join("etc/passwd")).unwrap();
    assert!(passwd.starts_with("root:x:0:0:"), "{passwd}");
    assert!(tree.join("etc/group").is_file());

    // second build: a cache hit, fast
    let started = std::time::Instant::now();
    let again = rootfs::build(&recipe, &quiet(), &mut std::io::sink()).unwrap();
    assert!(again.cached);
    assert_eq!(again.path, built.path);
    assert!(started.elapsed().as_millis() < 500);

    let entries = rootfs::list().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].builder, "busybox");
    rootfs::remove(&built.hash).unwrap();
    assert!(!built.path.exists());
    // the host's busybox is untouched (the tree holds a copy, not a link)
    assert!(Path::new("/bin/busybox").is_file());
}

#[test]
fn a_dynamically_linked_busybox_is_refused_before_anything_is_written() {
    let _cache = private_cache();
    let recipe = recipe_with_binary("/bin/ls");
    let e = rootfs::build(&recipe, &quiet(), &mut std::io::sink()).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(matches!(e, RootfsError::BusyboxNotStatic { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with("/bin/ls is dynamically linked (it needs the loader /lib"),
        "{msg}"
    );
    assert!(msg.contains("libc.so.6"), "{msg}");
    assert!(
        msg.contains("so it would not start in a tree that holds nothing but busybox: install the static build, the Debian package `busybox-static`"),
        "{msg}"
    );
    assert!(cache_is_empty());
}

#[test]
fn a_missing_busybox_names_the_package() {
    let _cache = private_cache();
    let recipe = recipe_with_binary("/nonexistent/busybox");
    let e = rootfs::build(&recipe, &quiet(), &mut std::io::sink()).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    let msg = e.to_string();
    assert!(msg.contains("/nonexistent/busybox"), "{msg}");
    assert!(msg.contains("apt-get install busybox-static"), "{msg}");
    assert!(cache_is_empty());
}

#[test]
fn a_static_program_that_is_not_busybox_is_bad_input() {
    let _cache = private_cache();
    // a static ELF that is not busybox: ldconfig is static on Debian
    let Some(stat) = ["/sbin/ldconfig", "/usr/sbin/ldconfig"]
        .into_iter()
        .find(|p| {
            rootfs::elf::read_needs(Path::new(p))
                .is_ok_and(|n| n.interpreter.is_none() && n.needed.is_empty())
        })
    else {
        eprintln!("skipped: no static ldconfig on this host");
        return;
    };
    let recipe = recipe_with_binary(stat);
    let e = rootfs::build(&recipe, &quiet(), &mut std::io::sink()).unwrap_err();
    assert!(matches!(e, RootfsError::NotBusybox { .. }), "{e}");
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(cache_is_empty());
}
