//! The learner's progress file, through the real binary: recorded by step id, resumed
//! after a quit, shown by `list` and `status`, cleared by `reset progress` only after a
//! yes, left alone when corrupt, and owned by the sudo user under sudo.

mod common;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::{Lab, require_root, text};

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the progress file")).expect("JSON")
}

/// The step ids recorded for `lesson`, with whether each passed.
fn steps(v: &serde_json::Value, lesson: &str) -> Vec<(String, bool)> {
    v["lessons"][lesson]["steps"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, s)| (k.clone(), s["passed"].as_bool().expect("passed")))
                .collect()
        })
        .unwrap_or_default()
}

fn seed(lab: &Lab, text: &str) {
    let f = lab.progress_file();
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(&f, text).unwrap();
}

const SEEDED: &str = r#"{
  "format_version": 1,
  "lessons": {
    "01-rootfs": {
      "steps": { "empty": { "passed": true, "last_run": "2025-06-01T12:00:00Z" } }
    },
    "02-chroot": {
      "steps": {
        "ls-root": { "passed": true, "last_run": "2025-06-01T12:00:00Z" },
        "which-python": { "passed": true, "last_run": "2025-06-01T12:00:00Z" }
      },
      "challenges": {}
    }
  }
}
"#;

#[test]
fn quit_and_start_again_resumes_and_status_and_list_show_the_file() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();

    // Session 1: two steps (Enter, Enter), then quit.
    let out = lab.run_with_input(&[], "start 02-chroot\n\n\nquit\n");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let v = json(&lab.progress_file());
    assert_eq!(v["format_version"], 1);
    assert_eq!(
        steps(&v, "02-chroot"),
        [
            ("ls-root".to_string(), true),
            ("which-python".to_string(), true)
        ]
    );
    let at = v["lessons"]["02-chroot"]["steps"]["ls-root"]["last_run"]
        .as_str()
        .unwrap();
    assert!(
        regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            .unwrap()
            .is_match(at),
        "{at}"
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o7777;
    assert_eq!(mode(&lab.progress_file()), 0o644);
    assert_eq!(mode(&lab.state.path().join("fromscratch")), 0o755);

    // Session 2: status (no lesson open) lists the progress, start resumes at step 3.
    let out = lab.run_with_input(
        &[],
        "status\nstart 02-chroot\nstatus\nnext\nnext\nnext\nskip\nquit\n",
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "  02-chroot                 [####------] 2/5 steps · challenge to do   chroot: the same kernel, a different /\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "  01-rootfs                 [----------] 0/11 steps · challenge to do  A rootfs is just a directory\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "resuming at step 3 of 5: steps 1-2 replayed to rebuild the lab; `reset` starts again at step 1"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("[02-chroot 3/5] > status"), "{stdout}");
    assert!(
        stdout.contains("  ✓  2. Whose python3?\n  → 3. From the host"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  progress: [####------] 2/5 steps · challenge to do\n"),
        "{stdout}"
    );
    assert!(stdout.contains("02-chroot done"), "{stdout}");
    // The replayed steps printed nothing: step 1's heading is not in this session.
    assert!(!stdout.contains("Step 1/5"), "{stdout}");
    let v = json(&lab.progress_file());
    assert_eq!(
        steps(&v, "02-chroot")
            .iter()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>(),
        [
            "challenge-python",
            "ls-root",
            "python-libraries",
            "stop",
            "which-python"
        ]
    );
    assert!(steps(&v, "02-chroot").iter().all(|(_, p)| *p));

    // Session 3: every step run; `list` and `status` say so (the challenge was skipped,
    // so it is still to do), and start begins at step 1.
    let out = lab.run(&["list"]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains(
            "  02-chroot                 [##########] 5/5 steps · challenge to do   chroot:"
        ),
        "{stdout}"
    );
    let out = lab.run_with_input(&[], "start 2\nstatus\nquit\n");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("you finished this lesson before: starting again at step 1"),
        "{stdout}"
    );
    assert!(stdout.contains("[02-chroot 1/5] > status"), "{stdout}");
    assert!(
        stdout.contains("  progress: [##########] 5/5 steps · challenge to do\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("resuming"), "{stdout}");
    lab.snapshot().assert_same(&before);
}

#[test]
fn reset_progress_asks_and_only_yes_clears() {
    let lab = Lab::new();
    seed(&lab, SEEDED);
    let file = lab.progress_file();

    // `n`, and end of input, keep everything.
    for input in [
        "reset progress 02-chroot\nn\nquit\n",
        "reset progress all\n",
    ] {
        let out = lab.run_with_input(&[], input);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(stdout.contains("kept: nothing was cleared"), "{stdout}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), SEEDED);
    }
    let out = lab.run_with_input(&[], "reset progress 02-chroot\nn\nquit\n");
    assert!(
        text(&out)
            .0
            .contains("clear the recorded progress of 02-chroot (2 step(s) run)? [y/N] n\n"),
        "{}",
        text(&out).0
    );

    // `y` clears that lesson only (named by number here).
    let out = lab.run_with_input(&[], "reset progress 2\ny\nlist\nquit\n");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("cleared the recorded progress of 02-chroot (2 step(s) run)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  02-chroot                 [----------] 0/5 steps "),
        "{stdout}"
    );
    assert!(
        stdout.contains("  01-rootfs                 [#---------] 1/11 steps "),
        "{stdout}"
    );
    let v = json(&file);
    assert!(v["lessons"].get("02-chroot").is_none(), "{v}");
    assert_eq!(steps(&v, "01-rootfs"), [("empty".to_string(), true)]);

    // `reset progress all`, yes.
    let out = lab.run_with_input(&[], "reset progress all\nyes\nreset progress 1\nquit\n");
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("clear the recorded progress of every lesson (1 with progress)? [y/N] yes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("no progress is recorded for 01-rootfs: nothing to clear"),
        "{stdout}"
    );
    let v = json(&file);
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["lessons"], serde_json::json!({}));

    // With no lesson open, `reset progress` alone says what to name.
    let out = lab.run_with_input(&[], "reset progress\nreset sideways\nquit\n");
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("usage: reset progress LESSON|all (no lesson is open to clear)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("usage: `reset` (stop the lesson's processes, back to step 1) or `reset progress [LESSON|all]`"),
        "{stdout}"
    );
}

/// The one sentence a corrupt progress file gets.
fn corrupt_sentence(lab: &Lab, reason: &str) -> String {
    let p = lab.progress_file().display().to_string();
    format!(
        "warning: {p} is not a progress file fromscratch can read ({reason}): move it aside (`mv {p} {p}.bad`) to start a new one; nothing is recorded until then"
    )
}

#[test]
fn a_corrupt_file_is_one_warning_and_is_never_overwritten() {
    let lab = Lab::new();
    seed(&lab, "{\"format_version\": 1, \"lessons\": ");
    let reason = "not JSON: EOF while parsing a value at line 1 column 33";

    // `list`: the sentence first, then the lessons without progress; exit 0.
    let out = lab.run(&["list"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some(corrupt_sentence(&lab, reason).as_str()));
    assert_eq!(
        lines.next(),
        Some("  01-rootfs                 A rootfs is just a directory")
    );

    // The REPL: `reset progress all` refuses rather than overwrite it.
    let out = lab.run_with_input(&[], "reset progress all\ny\nquit\n");
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains(&corrupt_sentence(&lab, reason)["warning: ".len()..]),
        "{stdout}"
    );
    assert!(!stdout.contains("[y/N]"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(lab.progress_file()).unwrap(),
        "{\"format_version\": 1, \"lessons\": "
    );
}

#[test]
fn a_corrupt_file_does_not_stop_a_lesson_and_is_named_once() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    seed(&lab, "not json at all\n");
    let out = lab.run(&["run", "02-chroot", "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("02-chroot: every check held"), "{stdout}");
    let sentence = corrupt_sentence(&lab, "not JSON: expected ident at line 1 column 2");
    assert_eq!(stdout.matches(&sentence).count(), 1, "{stdout}");
    assert_eq!(
        std::fs::read_to_string(lab.progress_file()).unwrap(),
        "not json at all\n"
    );
    lab.snapshot().assert_same(&before);
}

#[test]
fn a_link_planted_at_the_file_is_not_followed() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("precious");
    std::fs::write(&target, "precious\n").unwrap();
    let file = lab.progress_file();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, &file).unwrap();
    let out = lab.run(&["run", "02-chroot", "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "warning: {} is a symbolic link, not a regular file: remove it (fromscratch never follows a link at its progress file)",
            file.display()
        )),
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    assert!(
        std::fs::symlink_metadata(&file)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// A directory that belongs to `nobody`, standing for the sudo user's home.
fn home_of_nobody() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(home.path(), Some(65534), Some(65534)).unwrap();
    home
}

/// `cmd` as if run through `sudo` by `nobody` (uid and gid 65534).
fn as_sudo_by_nobody(cmd: &mut std::process::Command) -> &mut std::process::Command {
    cmd.env("SUDO_USER", "nobody")
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
}

#[test]
fn under_sudo_the_file_and_the_directories_made_belong_to_the_sudo_user() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let home = home_of_nobody();
    let state = home.path().join("state");
    let out = as_sudo_by_nobody(&mut lab.cmd(&["run", "02-chroot", "--yes"]))
        .env("XDG_STATE_HOME", &state)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains("warning:"), "{stdout}");
    let file = state.join("fromscratch/progress.json");
    for (p, mode) in [
        (state.clone(), 0o755),
        (state.join("fromscratch"), 0o755),
        (file.clone(), 0o644),
    ] {
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert_eq!(
            (m.uid(), m.gid(), m.mode() & 0o7777),
            (65534, 65534, mode),
            "{}",
            p.display()
        );
    }
    assert_eq!(steps(&json(&file), "02-chroot").len(), 5);
    // The REPL reads it back as that user: `list` shows it.
    let out = as_sudo_by_nobody(&mut lab.cmd(&["list"]))
        .env("XDG_STATE_HOME", &state)
        .output()
        .unwrap();
    assert!(
        text(&out).0.contains("[##########] 5/5 steps"),
        "{}",
        text(&out).0
    );
    lab.snapshot().assert_same(&before);
}

#[test]
fn under_sudo_the_home_comes_from_the_password_database_not_home() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("user nobody");
    assert_eq!(
        nobody.uid.as_raw(),
        65534,
        "this test expects nobody to be uid 65534"
    );
    // nobody's home is /nonexistent on Debian: it must stay that way, and the temp HOME
    // must stay empty.
    assert!(
        !nobody.dir.exists(),
        "{} exists: this test would write there",
        nobody.dir.display()
    );
    let fake_home = home_of_nobody();
    let out = as_sudo_by_nobody(&mut lab.cmd(&["run", "02-chroot", "--yes"]))
        .env_remove("XDG_STATE_HOME")
        .env("HOME", fake_home.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let want = nobody.dir.join(".local/state/fromscratch/progress.json");
    assert_eq!(
        stdout
            .matches(&format!(
                "warning: cannot save progress to {}: ",
                want.display()
            ))
            .count(),
        1,
        "{stdout}"
    );
    assert!(!nobody.dir.exists());
    assert_eq!(std::fs::read_dir(fake_home.path()).unwrap().count(), 0);
}

#[test]
fn under_sudo_a_link_in_the_users_state_dir_cannot_steer_root() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let home = home_of_nobody();
    // The "user" points their state directory at a directory only root may write.
    let root_only = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root_only.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let state = home.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(65534), Some(65534)).unwrap();
    std::os::unix::fs::symlink(root_only.path(), state.join("fromscratch")).unwrap();
    let out = as_sudo_by_nobody(&mut lab.cmd(&["run", "02-chroot", "--yes"]))
        .env("XDG_STATE_HOME", &state)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // Root could write there; nobody, whose filesystem identity the lab takes, cannot.
    assert!(
        stdout.contains(&format!(
            "warning: cannot save progress to {}: Permission denied",
            state.join("fromscratch/progress.json").display()
        )),
        "{stdout}"
    );
    assert_eq!(std::fs::read_dir(root_only.path()).unwrap().count(), 0);
}

#[test]
fn resuming_rebuilds_the_containers_the_earlier_steps_made() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    // Steps 1-4 of lesson 04: the decoy, `echo $$`, the pitfall, the container that stays.
    let out = lab.run_with_input(&[], "start 4\n\n\n\n\nquit\n");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        steps(&json(&lab.progress_file()), "04-pid-namespace").len(),
        4
    );
    // Steps 5 and 6 need the decoy and the container: the replay made them again.
    // `run` stops at the challenge (step 7); `skip` has the lab solve it.
    let out = lab.run_with_input(&[], "start 4\nrun\nskip\nquit\n");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("resuming at step 5 of 7: steps 1-4 replayed to rebuild the lab"),
        "{stdout}"
    );
    assert!(stdout.contains("✓ 04-pid-namespace done"), "{stdout}");
    assert!(!stdout.contains("✗"), "{stdout}");
    assert!(!stdout.contains("Step 4/7"), "{stdout}");
    assert_eq!(
        steps(&json(&lab.progress_file()), "04-pid-namespace").len(),
        7
    );
    lab.snapshot().assert_same(&before);
}
