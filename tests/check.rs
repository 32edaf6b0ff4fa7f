//! `fromscratch check`: the shipped files are valid; a broken one gives exit 2 with
//! `file:line:column` and the reason.

mod common;
use common::{Lab, text};

#[test]
fn every_shipped_lesson_and_recipe_is_valid() {
    let out = Lab::new().run(&["check"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for f in [
        "01-rootfs.toml",
        "02-chroot.toml",
        "03-host-processes.toml",
        "04-pid-namespace.toml",
        "host.toml",
        "debian.toml",
    ] {
        assert!(stdout.contains(f), "{f} not checked:\n{stdout}");
    }
}

fn broken(name: &str, text_of: impl Fn(&str) -> String) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/lessons/02-chroot.toml"
    ))
    .unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text_of(&good)).unwrap();
    (dir, path)
}

#[test]
fn a_misspelled_key_gives_exit_2_with_line_and_column() {
    let (_d, path) = broken("02-chroot.toml", |g| {
        g.replacen("explain = ", "explian = ", 1)
    });
    let out = Lab::new().run(&["check", path.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let body = std::fs::read_to_string(&path).unwrap();
    let line = body.lines().position(|l| l.starts_with("explian")).unwrap() + 1;
    assert!(
        stdout.contains(&format!(
            "{}:{line}:1: unknown field `explian`",
            path.display()
        )),
        "{stdout}"
    );
    assert!(stderr.contains("1 of 1 file(s) have problems"), "{stderr}");
}

#[test]
fn broken_toml_syntax_gives_exit_2_with_position() {
    let (_d, path) = broken("02-chroot.toml", |g| {
        g.replacen("title = \"chroot", "title = \"chroot\n\"oops", 1)
    });
    let out = Lab::new().run(&["check", path.to_str().unwrap()]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout.starts_with(&format!("{}:", path.display())),
        "{stdout}"
    );
}

#[test]
fn running_a_broken_lesson_gives_exit_2_before_anything_starts() {
    let (_d, path) = broken("02-chroot.toml", |g| {
        g.replace("context = \"rootfs\"", "context = \"nowhere\"")
    });
    let lab = Lab::new();
    let out = lab.run(&["run", path.to_str().unwrap(), "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("runs in `nowhere`, which is neither host, rootfs, nor a container"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "nothing ran: {stdout}");
}

#[test]
fn a_host_path_as_root_is_refused() {
    let (_d, path) = broken("02-chroot.toml", |g| {
        g.replacen("root = \"rootfs\"", "root = \"/\"", 1)
    });
    let out = Lab::new().run(&["check", path.to_str().unwrap()]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout.contains("lesson files cannot name host paths"),
        "{stdout}"
    );
}
