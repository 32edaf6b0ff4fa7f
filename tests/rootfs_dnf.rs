//! The `dnf` recipe, built for real: a tiny RPM made here with rpmbuild, a local repository
//! made with createrepo_c, and the real `dnf --installroot` installing it (as root, offline).
//!
//! Each test runs in its own process under nextest, so setting FROMSCRATCH_CACHE here only
//! affects this test. Debian packages needed: dnf, rpm (rpmbuild), createrepo-c,
//! busybox-static.

mod common;
use common::{cache_names, private_cache};

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fromscratch::error::Classify;
use fromscratch::paths;
use fromscratch::rootfs::{self, BuildOptions, RootfsError};

const QUIET: BuildOptions = BuildOptions {
    quiet: true,
    force: false,
};

/// Fail (never skip) unless root and the tools are there, naming what to install.
fn require_root_and_tools() {
    assert!(
        paths::is_root(),
        "this test needs root (dnf --installroot does): run the suite with sudo"
    );
    for (tool, package) in [
        ("dnf", "dnf"),
        ("rpmbuild", "rpm"),
        ("createrepo_c", "createrepo-c"),
    ] {
        assert!(
            which::which(tool).is_ok(),
            "{tool} is not installed: apt-get install {package}"
        );
    }
    assert!(
        Path::new("/bin/busybox").is_file(),
        "/bin/busybox is missing: apt-get install busybox-static"
    );
}

fn mount_points() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
        .collect()
}

/// PIDs whose parent is this test process.
fn my_children() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut kids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if ppid == Some(me.as_str()) {
            kids.push(format!(
                "{name} {}",
                stat.split_whitespace().nth(1).unwrap_or("")
            ));
        }
    }
    kids
}

/// A throwaway OpenPGP signing key in its own GNUPGHOME (under /tmp: the agent's socket
/// path must stay short); the gpg-agent that signing starts is stopped on drop.
struct TestKey {
    home: tempfile::TempDir,
    public: PathBuf,
}

impl TestKey {
    const NAME: &str = "fromscratch test key <test@fromscratch.invalid>";

    fn new(dir: &Path) -> Self {
        for (tool, package) in [
            ("gpg", "gpg"),
            ("gpg-agent", "gpg-agent"),
            ("gpgconf", "gpgconf"),
        ] {
            assert!(
                which::which(tool).is_ok(),
                "{tool} is not installed: apt-get install {package} (or gnupg)"
            );
        }
        let key = Self {
            home: tempfile::Builder::new()
                .prefix("fs-gpg-")
                .tempdir_in("/tmp")
                .unwrap(),
            public: dir.join("RPM-GPG-KEY-fromscratch-test"),
        };
        key.gpg(&[
            "--passphrase",
            "",
            "--quick-gen-key",
            Self::NAME,
            "ed25519",
            "sign",
            "never",
        ]);
        let out = key.gpg(&["--armor", "--export", Self::NAME]);
        std::fs::write(&key.public, out).unwrap();
        key
    }

    fn gpg(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new("gpg")
            .args(["--batch", "--quiet", "--pinentry-mode", "loopback"])
            .args(args)
            .env("GNUPGHOME", self.home.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gpg {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Sign `rpm` in place with rpmsign.
    fn sign(&self, rpm: &Path) {
        let out = Command::new("rpmsign")
            .arg("--define")
            .arg(format!("_gpg_name {}", Self::NAME))
            // Debian's rpm looks for gpg2, which Debian does not ship.
            .args(["--define", "__gpg /usr/bin/gpg", "--addsign"])
            .arg(rpm)
            .env("GNUPGHOME", self.home.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rpmsign failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for TestKey {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "all"])
            .env("GNUPGHOME", self.home.path())
            .status();
    }
}

/// A local repository holding `fromscratch-hello`: the host's static busybox as
/// /usr/bin/busybox, /usr/bin/sh -> busybox, and /bin -> usr/bin, as Fedora lays them out;
/// signed with `key` when given.
fn local_repo(dir: &Path, key: Option<&TestKey>) -> PathBuf {
    let top = dir.join("rpmbuild");
    std::fs::create_dir_all(top.join("SPECS")).unwrap();
    let spec = top.join("SPECS/fromscratch-hello.spec");
    std::fs::write(
        &spec,
        r#"Name: fromscratch-hello
Version: 1.0
Release: 1
Summary: A static busybox shell, to test the fromscratch dnf builder
License: GPL-2.0-only
BuildArch: x86_64
AutoReqProv: no

%description
The host's static busybox as /usr/bin/busybox, with /usr/bin/sh and /bin -> usr/bin.

%install
mkdir -p %{buildroot}/usr/bin
cp /bin/busybox %{buildroot}/usr/bin/busybox
ln -s busybox %{buildroot}/usr/bin/sh
ln -s usr/bin %{buildroot}/bin

%files
/usr/bin/busybox
/usr/bin/sh
/bin
"#,
    )
    .unwrap();
    let started = Instant::now();
    let out = Command::new("rpmbuild")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .args([
            "--define",
            "_build_id_links none",
            "--define",
            "debug_package %{nil}",
            "--define",
            "__os_install_post %{nil}",
            "-bb",
        ])
        .arg(&spec)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rpmbuild failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let rpm = top.join("RPMS/x86_64/fromscratch-hello-1.0-1.x86_64.rpm");
    let in_repo = repo.join("fromscratch-hello-1.0-1.x86_64.rpm");
    std::fs::copy(&rpm, &in_repo).unwrap_or_else(|e| panic!("{}: {e}", rpm.display()));
    if let Some(key) = key {
        key.sign(&in_repo);
    }
    let out = Command::new("createrepo_c")
        .arg("--quiet")
        .arg(&repo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "createrepo_c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "rpmbuild + createrepo_c: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    repo
}

fn recipe_text(name: &str, repo: &Path, packages: &[&str]) -> String {
    let packages = packages
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"format_version = 1
name = "{name}"
description = "a busybox shell from a local RPM repository"
smoke = ["/usr/bin/sh", "-c", "echo hello from dnf"]

[builder]
kind = "dnf"
releasever = "40"
repos = ["file://{}"]
packages = [{packages}]
gpgcheck = false
"#,
        repo.display()
    )
}

fn write_recipe(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("recipe.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn dnf_rootfs_builds_from_a_local_repository() {
    require_root_and_tools();
    let _cache = private_cache();
    let work = tempfile::tempdir().unwrap();
    let repo = local_repo(work.path(), None);
    let path = write_recipe(
        work.path(),
        &recipe_text("dnf-hello", &repo, &["fromscratch-hello"]),
    );
    let recipe = rootfs::load_recipe(&path).unwrap();

    let mounts_before = mount_points();
    let started = Instant::now();
    let mut log = Vec::new();
    let built = rootfs::build(&recipe, &QUIET, &mut log)
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&log)));
    let build_time = started.elapsed();
    let log = String::from_utf8_lossy(&log);
    eprintln!("{log}first build: {:.2} s", build_time.as_secs_f64());
    assert!(!built.cached);
    assert!(
        log.contains(
            "smoke check passed: `/usr/bin/sh -c echo hello from dnf` printed `hello from dnf`"
        ),
        "{log}"
    );
    assert!(
        log.contains("$ dnf --config="),
        "the command is shown: {log}"
    );
    assert!(
        log.contains("gpgcheck = false"),
        "the warning is shown: {log}"
    );

    let tree = &built.path;
    assert!(tree.join("usr/bin/busybox").is_file());
    assert_eq!(
        std::fs::read_link(tree.join("bin")).unwrap(),
        Path::new("usr/bin")
    );
    // The rpm database is where Fedora keeps it, not in Debian's ~/.rpmdb.
    assert!(
        tree.join("usr/lib/sysimage/rpm/rpmdb.sqlite").is_file(),
        "no rpm database in {}",
        tree.display()
    );
    assert!(tree.join("var/lib/rpm").exists());
    assert!(!tree.join("root/.rpmdb").exists());
    // It is a real rpm database that knows the package.
    let q = Command::new("rpm")
        .arg("--root")
        .arg(tree)
        .args([
            "--dbpath",
            "/usr/lib/sysimage/rpm",
            "-q",
            "fromscratch-hello",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&q.stdout).trim(),
        "fromscratch-hello-1.0-1.x86_64",
        "{}",
        String::from_utf8_lossy(&q.stderr)
    );
    // Nothing of dnf's private cache ended up in the tree.
    let leaked: Vec<PathBuf> = walkdir::WalkDir::new(tree)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name().to_string_lossy();
            n == "expired_repos.json" || n.ends_with(".solv") || n == "repodata"
        })
        .map(|e| e.path().to_path_buf())
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");

    // The host is as it was: no mount, no process, no leftover work directory.
    assert_eq!(mount_points(), mounts_before);
    assert!(my_children().is_empty(), "{:?}", my_children());
    let names = cache_names();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "leftovers in the cache: {names:?}"
    );

    // A cache hit (its time is measured in benches/rootfs.sh, not asserted here).
    let again = rootfs::build(&recipe, &QUIET, &mut std::io::sink()).unwrap();
    assert!(again.cached);
    assert_eq!(again.path, built.path);

    let entries = rootfs::list().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].builder, "dnf");
    assert_eq!(entries[0].name, "dnf-hello");
    assert_eq!(
        rootfs::remove(&built.hash).unwrap(),
        vec![built.path.clone()]
    );
    assert!(cache_names().is_empty(), "{:?}", cache_names());
}

/// The default, gpgcheck on: the repository comes from a .repo file naming its key, dnf
/// imports the key into the new tree and checks the package's signature.
#[test]
fn dnf_rootfs_checks_signatures_with_the_key_a_repo_file_names() {
    require_root_and_tools();
    let _cache = private_cache();
    let work = tempfile::tempdir().unwrap();
    let key = TestKey::new(work.path());
    let repo = local_repo(work.path(), Some(&key));
    std::fs::write(
        work.path().join("signed.repo"),
        format!(
            "[fromscratch-test]\nname=fromscratch test repository\nbaseurl=file://{}\ngpgcheck=1\ngpgkey=file://{}\n",
            repo.display(),
            key.public.display()
        ),
    )
    .unwrap();
    // gpgcheck is left at its default (true); the .repo file is found beside the recipe.
    let text = recipe_text("dnf-signed", &repo, &["fromscratch-hello"])
        .replace(
            &format!("repos = [\"file://{}\"]", repo.display()),
            "repo_files = [\"signed.repo\"]",
        )
        .replace("gpgcheck = false\n", "");
    assert!(
        text.contains("repo_files") && !text.contains("gpgcheck"),
        "{text}"
    );
    let recipe = rootfs::load_recipe(&write_recipe(work.path(), &text)).unwrap();
    let mut log = Vec::new();
    let built = rootfs::build(&recipe, &QUIET, &mut log)
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&log)));
    let log = String::from_utf8_lossy(&log);
    assert!(!log.contains("--nogpgcheck"), "{log}");
    assert!(!log.contains("not checked"), "{log}");
    assert!(log.contains("smoke check passed"), "{log}");
    let q = Command::new("rpm")
        .arg("--root")
        .arg(&built.path)
        .args(["--dbpath", "/usr/lib/sysimage/rpm", "-qa"])
        .output()
        .unwrap();
    let installed = String::from_utf8_lossy(&q.stdout);
    assert!(
        installed.lines().any(|l| l.starts_with("gpg-pubkey-")),
        "the key was not imported into the tree: {installed}"
    );
    assert!(
        installed.contains("fromscratch-hello-1.0-1.x86_64"),
        "{installed}"
    );
}

#[test]
fn dnf_rootfs_missing_package_is_named_and_nothing_is_cached_r1() {
    require_root_and_tools();
    let _cache = private_cache();
    let work = tempfile::tempdir().unwrap();
    let repo = local_repo(work.path(), None);
    let path = write_recipe(
        work.path(),
        &recipe_text(
            "dnf-missing",
            &repo,
            &["fromscratch-hello", "fromscratch-nope"],
        ),
    );
    let recipe = rootfs::load_recipe(&path).unwrap();
    let mounts_before = mount_points();
    let e = rootfs::build(&recipe, &QUIET, &mut std::io::sink()).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    match &e {
        RootfsError::DnfMissingPackages {
            releasever,
            packages,
        } => {
            assert_eq!(releasever, "40");
            assert_eq!(packages, &["fromscratch-nope"]);
        }
        other => panic!("expected DnfMissingPackages, got {other}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("`fromscratch-nope`"), "{msg}");
    assert!(msg.contains("release 40"), "{msg}");
    assert!(msg.contains("no rootfs was cached"), "{msg}");
    // No entry, no .tmp tree, no dnf work directory.
    assert!(cache_names().is_empty(), "{:?}", cache_names());
    assert!(rootfs::list().unwrap().is_empty());
    assert_eq!(mount_points(), mounts_before);
    assert!(my_children().is_empty(), "{:?}", my_children());
}

#[test]
fn check_rejects_a_dnf_recipe_without_releasever() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-release.toml");
    std::fs::write(
        &path,
        "format_version = 1\nname = \"no-release\"\ndescription = \"x\"\n\n[builder]\nkind = \"dnf\"\nrepos = [\"file:///srv/repo\"]\npackages = [\"bash\"]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fromscratch"))
        .arg("check")
        .arg(&path)
        .env("NO_COLOR", "1")
        .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let want = format!("{}:6:8: the dnf builder needs `releasever`", path.display());
    assert!(stdout.contains(&want), "want {want}:\n{stdout}\n{stderr}");
}

#[test]
fn shipped_fedora_recipe_parses() {
    let path = paths::recipes_dir().join("fedora.toml");
    let r = rootfs::load_recipe(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.name, "fedora");
    match r.builder {
        rootfs::Builder::Dnf(p) => {
            assert_eq!(p.releasever, "40");
            assert_eq!(p.packages, ["python3", "procps-ng", "iproute"]);
            assert!(!p.install_weak_deps);
            assert_eq!(p.repos.len(), 1);
        }
        other => panic!("expected a dnf recipe, got {other:?}"),
    }
    assert_eq!(r.smoke[0], "/usr/bin/python3");
}

/// Ctrl-C (SIGINT to the whole process group) while dnf runs: fromscratch dies at once,
/// dnf dies with it even when it ignores SIGINT (PR_SET_PDEATHSIG), and the next command
/// removes the half tree. A stand-in `dnf` that ignores SIGINT and SIGTERM stays in the
/// transaction for a minute, so the test does not depend on timing.
#[test]
fn ctrl_c_mid_build_kills_dnf_and_leaves_no_half_tree() {
    assert!(
        paths::is_root(),
        "this test needs root (the dnf builder does): run the suite with sudo"
    );
    let cache = private_cache();
    let work = tempfile::tempdir().unwrap();
    let bin = work.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let pidfile = work.path().join("dnf.pid");
    let fake = bin.join("dnf");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\ntrap '' INT TERM\necho \"$$\" > {}.part\nmv {0}.part {0}\necho '  Installing       : fromscratch-hello-1.0-1.x86_64   1/1'\nexec sleep 60\n",
            pidfile.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = write_recipe(
        work.path(),
        &recipe_text("dnf-interrupted", Path::new("/nonexistent"), &["x1"]),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_fromscratch"))
        .args(["rootfs", "build"])
        .arg(&path)
        .env("FROMSCRATCH_CACHE", cache.path())
        .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pidfile.exists() {
        assert!(Instant::now() < deadline, "the stand-in dnf never started");
        assert!(
            child.try_wait().unwrap().is_none(),
            "fromscratch ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let dnf_pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let tmp_trees: Vec<String> = cache_names()
        .into_iter()
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert_eq!(
        tmp_trees.len(),
        2,
        "the build tree and dnf's work dir: {tmp_trees:?}"
    );

    let group = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    // dnf ignored SIGINT; PR_SET_PDEATHSIG killed it when fromscratch died.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{dnf_pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{dnf_pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
    {
        if Instant::now() > deadline {
            // Do not leave the stand-in (it ignores SIGINT and SIGTERM) running.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(dnf_pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("dnf (pid {dnf_pid}) outlived fromscratch: PR_SET_PDEATHSIG is missing");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // The next command sweeps the half tree and dnf's work directory away.
    assert!(rootfs::list().unwrap().is_empty());
    assert!(cache_names().is_empty(), "{:?}", cache_names());
}
