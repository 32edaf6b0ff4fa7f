//! The instructor's guide's provisioning files (book/src/guide/onboarding.md):
//! `scripts/learner-vm` and `scripts/learner-vm.cloud-config.yaml`.
//!
//! Each is checked by the tool that would run it: `bash -n` (and shellcheck when it is
//! installed) for the script, `cloud-init schema --config-file` (Debian's `cloud-init`)
//! for the user-data when it is installed; the cloud-config lists every package the
//! script installs; and the script, run for real as root into a temporary prefix, installs
//! a `fromscratch` that finds every lesson.

mod common;
use common::{require_root, text};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/learner-vm")
}

fn cloud_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/learner-vm.cloud-config.yaml")
}

/// True when `tool` is on PATH.
fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The words of the script's `packages=( … )` array.
fn script_packages() -> BTreeSet<String> {
    let s = std::fs::read_to_string(script()).unwrap();
    let start = s
        .find("packages=(")
        .expect("packages=( in scripts/learner-vm")
        + 10;
    let end = start + s[start..].find(')').unwrap();
    s[start..end]
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The items of the cloud-config's top-level `packages:` list.
fn cloud_config_packages() -> BTreeSet<String> {
    let s = std::fs::read_to_string(cloud_config()).unwrap();
    s.lines()
        .skip_while(|l| *l != "packages:")
        .skip(1)
        .take_while(|l| l.starts_with("  - "))
        .map(|l| l.trim_start_matches("  - ").trim().to_string())
        .collect()
}

#[test]
fn the_cloud_config_installs_every_package_the_script_does() {
    let script = script_packages();
    let cloud = cloud_config_packages();
    assert!(script.len() >= 10, "{script:?}");
    let missing: Vec<&String> = script.difference(&cloud).collect();
    assert!(
        missing.is_empty(),
        "scripts/learner-vm installs {missing:?}, which the cloud-config does not list"
    );
}

#[test]
fn the_script_parses_and_shellcheck_finds_nothing_when_installed() {
    let out = Command::new("bash")
        .arg("-n")
        .arg(script())
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    if installed("shellcheck") {
        let out = Command::new("shellcheck").arg(script()).output().unwrap();
        assert!(out.status.success(), "{}", text(&out).0);
    } else {
        eprintln!("shellcheck is not installed: only bash -n checked the script");
    }
}

#[test]
fn cloud_init_accepts_the_user_data_when_installed() {
    if !installed("cloud-init") {
        eprintln!("cloud-init is not installed (apt-get install cloud-init): schema not checked");
        return;
    }
    let out = Command::new("cloud-init")
        .args(["schema", "--config-file"])
        .arg(cloud_config())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("Valid cloud-config"), "{stdout}");
}

#[test]
fn the_script_refuses_a_bad_option_and_a_user_with_one_sentence() {
    let out = Command::new(script()).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out).1,
        "scripts/learner-vm: unknown option --bogus (see --help)\n"
    );
    if nix::unistd::geteuid().is_root() {
        let u = common::test_user();
        let out = Command::new("setpriv")
            .args([
                &format!("--reuid={u}"),
                &format!("--regid={u}"),
                "--clear-groups",
            ])
            .arg(script())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(
            text(&out).1,
            "scripts/learner-vm: it installs packages and makes an account: run it as root (sudo)\n"
        );
    }
}

/// Run as root with `--no-packages --no-warm` into a temporary prefix, for a user that
/// already has an account and subordinate ids, so the host gains nothing outside it.
#[test]
fn the_script_as_root_installs_a_fromscratch_that_finds_every_lesson() {
    require_root();
    let uid = common::test_user();
    let out = Command::new("getent")
        .args(["passwd", &uid.to_string()])
        .output()
        .unwrap();
    let name = text(&out)
        .0
        .split(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let has_range = |f: &str| {
        std::fs::read_to_string(f)
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with(&format!("{name}:")))
    };
    if name.is_empty() || !has_range("/etc/subuid") || !has_range("/etc/subgid") {
        eprintln!(
            "uid {uid} has no account or no subordinate ids here (.ci/run gives fsrootless both): the script would add them, so it is not run"
        );
        return;
    }
    let prefix = tempfile::tempdir().unwrap();
    let out = Command::new(script())
        .args([
            "--binary",
            common::bin(),
            "--user",
            &name,
            "--no-packages",
            "--no-warm",
        ])
        .arg("--prefix")
        .arg(prefix.path())
        .env_remove("FROMSCRATCH_DATA")
        .env("NO_COLOR", "1")
        .current_dir("/")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("== doctor, as root"), "{stdout}");
    assert!(stdout.contains("needs root"), "{stdout}");
    assert!(
        prefix
            .path()
            .join("share/bash-completion/completions/fromscratch")
            .is_file()
    );
    // The wrapper finds the lessons it installed, from anywhere.
    let out = Command::new(prefix.path().join("bin/fromscratch"))
        .arg("check")
        .env_remove("FROMSCRATCH_DATA")
        .current_dir("/")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let first = prefix
        .path()
        .join("share/fromscratch/lessons/01-rootfs.toml");
    assert!(
        stdout.contains(&format!("ok {}", first.display())),
        "{stdout}"
    );
    let lessons = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons"))
        .unwrap()
        .count();
    let installed_lessons = std::fs::read_dir(prefix.path().join("share/fromscratch/lessons"))
        .unwrap()
        .count();
    assert_eq!(installed_lessons, lessons);
}
