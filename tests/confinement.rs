//! Confinement: a rootfs is never `/`, a host system directory or a symlink out of the
//! cache; `rootfs rm` and `cleanup` never follow a symlink out; lesson files name only
//! paths inside the lab or the rootfs. Each refusal is one sentence, exit 2, nothing done.

mod common;
use std::path::{Path, PathBuf};

use common::{Lab, require_root, text};

/// A lab with a rootfs cache of its own (an empty directory under /var/tmp, where builds
/// may run programs).
struct World {
    lab: Lab,
    cache: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        Self {
            lab: Lab::new(),
            cache: tempfile::Builder::new()
                .prefix("fs-confine-")
                .tempdir_in("/var/tmp")
                .unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let out = self
            .lab
            .cmd(args)
            .env("FROMSCRATCH_CACHE", self.cache.path())
            .output()
            .unwrap();
        let (o, e) = text(&out);
        (out.status.code(), o, e)
    }

    /// Build `host` into this cache and return the entry's path.
    fn build_host(&self) -> PathBuf {
        let (code, out, err) = self.run(&["rootfs", "build", "host"]);
        assert_eq!(code, Some(0), "{out}{err}");
        PathBuf::from(out.lines().last().unwrap().trim())
    }
}

/// A directory of the test's own, outside every lab and cache, with a file in it.
fn precious() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("fs-precious-")
        .tempdir()
        .unwrap();
    std::fs::write(d.path().join("keep"), "mine").unwrap();
    d
}

#[track_caller]
fn assert_kept(d: &Path) {
    assert_eq!(
        std::fs::read_to_string(d.join("keep")).ok().as_deref(),
        Some("mine"),
        "{} lost its file",
        d.display()
    );
}

#[test]
fn spawn_refuses_every_host_system_directory_and_a_symlink_to_one() {
    require_root();
    let w = World::new();
    let links = tempfile::tempdir().unwrap();
    let mut roots: Vec<PathBuf> = [
        "/",
        "/usr",
        "/etc",
        "/bin",
        "/boot",
        "/var",
        "/home",
        "/root",
        "/tmp",
        "/run",
        "/sys",
        "/proc",
        "/dev",
        "/usr/lib",
        "/etc/ssl",
        "/var/lib",
        "/var/cache",
        "/usr/local",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    for (name, to) in [
        ("to-root", "/"),
        ("to-usr", "/usr"),
        ("to-etc-ssl", "/etc/ssl"),
    ] {
        std::os::unix::fs::symlink(to, links.path().join(name)).unwrap();
        roots.push(links.path().join(name));
    }
    // A chain: a link to a link to /.
    std::os::unix::fs::symlink(links.path().join("to-root"), links.path().join("chain")).unwrap();
    roots.push(links.path().join("chain"));
    // `..` climbing to / from a directory of the test's own.
    roots.push(links.path().join("../../../../../../.."));
    let before = w.lab.snapshot();
    for root in &roots {
        let r = root.display().to_string();
        let (code, out, err) = w.run(&[
            "spawn",
            "--pid",
            "--mount-proc",
            "--rootfs",
            &r,
            "--",
            "true",
        ]);
        assert_eq!(code, Some(2), "{r}: {out}{err}");
        assert_eq!(out, "", "{r}");
        assert_eq!(err.lines().count(), 1, "{r}: {err}");
        assert!(
            err.starts_with(&format!("fromscratch: refusing rootfs {r}: it is the host's own "))
                && err.trim_end().ends_with(
                    "(a rootfs must be a tree of its own; build one with `fromscratch rootfs build host`)"
                ),
            "{r}: {err}"
        );
    }
    w.lab.snapshot().assert_same(&before);
}

#[test]
fn a_cache_entry_that_is_a_symlink_to_the_host_root_is_replaced_not_used() {
    require_root();
    let w = World::new();
    let entry = w.build_host();
    // Plant: the cached tree swapped for a symlink to `/`, its metadata left in place.
    std::fs::remove_dir_all(&entry).unwrap();
    std::os::unix::fs::symlink("/", &entry).unwrap();
    let again = w.build_host();
    assert_eq!(again, entry);
    let m = std::fs::symlink_metadata(&entry).unwrap();
    assert!(m.is_dir() && !m.file_type().is_symlink(), "still a symlink");
    // The lab's own rootfs and a spawn by recipe name both get the real tree now.
    let (code, out, err) = w.run(&["spawn", "--rootfs", "host", "--", "/bin/sh", "-c", "ls /"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        !out.contains("boot") && !out.contains("home"),
        "the host's /: {out}"
    );
}

#[test]
fn a_cache_directory_leading_into_the_hosts_system_is_refused_before_a_build() {
    require_root();
    let w = World::new();
    std::os::unix::fs::symlink("/usr/share", w.cache.path().join("rootfs")).unwrap();
    let before: Vec<_> = std::fs::read_dir("/usr/share")
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    for args in [
        &["rootfs", "build", "host"][..],
        &["run", "02", "--yes"][..],
        &["spawn", "--rootfs", "host", "--", "true"][..],
    ] {
        let (code, out, err) = w.run(args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert!(
            err.contains(&format!(
                "refusing the rootfs cache {}/rootfs: it resolves to /usr/share, inside the host's own system directories: set FROMSCRATCH_CACHE to a directory of its own",
                w.cache.path().display()
            )),
            "{args:?}: {err}"
        );
    }
    let after: Vec<_> = std::fs::read_dir("/usr/share")
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "a build wrote into /usr/share");
}

#[test]
fn rootfs_rm_never_follows_a_symlink_out_of_the_cache() {
    require_root();
    let w = World::new();
    let outside = precious();
    let outside_file = precious();
    let entry = w.build_host();
    // Inside the tree: a link to the directory, one to the file, one climbing out.
    std::os::unix::fs::symlink(outside.path(), entry.join("escape")).unwrap();
    std::os::unix::fs::symlink(
        outside_file.path().join("keep"),
        entry.join("usr/escape-file"),
    )
    .unwrap();
    std::os::unix::fs::symlink("../../../../../../../..", entry.join("up")).unwrap();
    let (code, out, err) = w.run(&["rootfs", "rm", "host"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        std::fs::symlink_metadata(&entry).is_err(),
        "the tree is gone"
    );
    assert_kept(outside.path());
    assert_kept(outside_file.path());
    // A cache entry that is itself a symlink to a directory outside: unlinked only.
    let entry = w.build_host();
    std::fs::remove_dir_all(&entry).unwrap();
    std::os::unix::fs::symlink(outside.path(), &entry).unwrap();
    let (code, out, err) = w.run(&["rootfs", "rm", "host"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(std::fs::symlink_metadata(&entry).is_err());
    assert_kept(outside.path());
}

#[test]
fn cleanup_never_follows_a_symlink_out_of_a_dead_labs_directory() {
    require_root();
    let w = World::new();
    let outside = precious();
    let run = w.lab.run.path();
    std::fs::set_permissions(run, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    // Two dead labs (no owner alive): one whose scratch directory holds links out, one
    // whose scratch directory is itself a link out.
    for (n, scratch_is_link) in [(2_147_483_646, false), (2_147_483_645, true)] {
        let scratch = run.join(format!("lab-{n}"));
        if scratch_is_link {
            std::os::unix::fs::symlink(outside.path(), &scratch).unwrap();
        } else {
            std::fs::create_dir(&scratch).unwrap();
            std::os::unix::fs::symlink(outside.path(), scratch.join("escape")).unwrap();
            std::os::unix::fs::symlink(outside.path().join("keep"), scratch.join("file")).unwrap();
            std::os::unix::fs::symlink("../../../../../..", scratch.join("up")).unwrap();
        }
        std::fs::write(
            run.join(format!("lab-{n}.json")),
            format!(
                r#"{{"owner": {{"name": "lab", "pid": {n}, "start_time": 1, "kind": "lab"}}, "scratch": "{}", "processes": []}}"#,
                outside.path().display()
            ),
        )
        .unwrap();
    }
    let (code, out, err) = w.run(&["cleanup", "--check"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains(&format!("file left: {}/lab-2147483645", run.display())),
        "{out}"
    );
    let (code, out, err) = w.run(&["cleanup"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_kept(outside.path());
    assert_eq!(
        std::fs::read_dir(run).unwrap().count(),
        0,
        "{out}: {:?}",
        std::fs::read_dir(run).unwrap().collect::<Vec<_>>()
    );
}

/// A lesson whose second step is `action`, after a make_tree of `d`.
fn lesson(dir: &Path, id: &str, action: &str) -> PathBuf {
    let p = dir.join(format!("{id}.toml"));
    std::fs::write(
        &p,
        format!(
            r#"format_version = 1
id = "{id}"
title = "Confinement"
summary = "A lesson naming a path outside the lab."
objectives = ["None."]

[requires]
root = true
rootfs = "host"

[[steps]]
id = "mk"
title = "Make"
explain = "Make a tree."
action = {{ kind = "make_tree", dir = "d" }}

[[steps]]
id = "bad"
title = "Bad"
explain = "A bad path."
action = {action}
"#
        ),
    )
    .unwrap();
    p
}

#[test]
fn check_refuses_a_lesson_naming_a_path_outside_the_lab() {
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "root-up",
            r#"{ kind = "exec", root = "lab:../../etc", command = ["true"] }"#,
            "root `lab:../../etc` leaves the lab: name a directory a make_tree step made, without `/` in front or `..`",
        ),
        (
            "root-abs",
            r#"{ kind = "exec", root = "lab:/etc", command = ["true"] }"#,
            "root `lab:/etc` leaves the lab: name a directory a make_tree step made, without `/` in front or `..`",
        ),
        (
            "root-host-path",
            r#"{ kind = "exec", root = "/etc", command = ["true"] }"#,
            "root `/etc` must be `rootfs`, `host` or `lab:DIR`; lesson files cannot name host paths",
        ),
        (
            "volume-up",
            r#"{ kind = "exec", volumes = [{ source = "lab:d/../..", target = "/mnt" }], command = ["true"] }"#,
            "volume source `lab:d/../..` is not a directory of the lab's: write `lab:DIR` (made by an earlier step); a lesson never mounts `/`, a host system directory or any host path",
        ),
        (
            "volume-host",
            r#"{ kind = "exec", volumes = [{ source = "/", target = "/mnt" }], command = ["true"] }"#,
            "volume source `/` is not a directory of the lab's: write `lab:DIR` (made by an earlier step); a lesson never mounts `/`, a host system directory or any host path",
        ),
        (
            "template-lab-up",
            r#"{ kind = "exec", root = "host", command = ["ls", "{lab}/../.."] }"#,
            "`{lab}/../..` leaves the lab: a lesson names paths inside the lab (`{lab}/…`) or the rootfs (`{rootfs}/…`), never `..` out of them",
        ),
        (
            "template-rootfs-up",
            r#"{ kind = "exec", root = "host", command = ["sh", "-c", "cat {rootfs}/d/../../../etc/shadow"] }"#,
            "`{rootfs}/d/../../../etc/shadow` leaves the lab: a lesson names paths inside the lab (`{lab}/…`) or the rootfs (`{rootfs}/…`), never `..` out of them",
        ),
        (
            "tree-up",
            r#"{ kind = "make_tree", dir = "../../x" }"#,
            "make_tree dir `../../x` must be a plain relative name inside the lab",
        ),
        (
            "copy-up",
            r#"{ kind = "make_tree", dir = "e", copy = ["/bin/../etc/shadow"] }"#,
            "`..` and `.` are not allowed: the copy must land inside the lab's tree",
        ),
    ];
    for (id, action, want) in cases {
        let p = lesson(dir.path(), id, action);
        let f = p.display().to_string();
        let out = lab.run(&["check", &f]);
        let (o, e) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{id}: {o}{e}");
        assert!(
            o.contains(want) || e.contains(want),
            "{id}: wanted `{want}` in:\n{o}{e}"
        );
        // `run` refuses it the same way, before a step runs: nothing made.
        let out = lab.run(&["run", &f, "--yes"]);
        assert_eq!(out.status.code(), Some(2), "{id}: {:?}", text(&out));
        assert!(text(&out).1.contains(want), "{id}: {:?}", text(&out));
    }
}
