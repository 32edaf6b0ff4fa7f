//! `fromscratch cleanup --check`: a clean host says clean; what a lab killed with SIGKILL
//! left, and a process carrying a dead lab's mark, are named, and `fromscratch cleanup`
//! removes them; `--save` and `--against` name an added link and an added mount (made in
//! namespaces of the test's own, never the host's).
//!
//! Other tests (and other checkouts on the same machine) run labs beside these, and
//! those that kill a lab on purpose leave traces for a moment before their own cleanup:
//! where the whole host is judged, the test waits for it to be clean, and a trace that
//! stays fails it.

mod common;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use common::{Lab, require_root, text, wait_for};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A lab whose rootfs cache is a fresh empty directory of its own (no other test's
/// interrupted builds in it).
struct World {
    lab: Lab,
    cache: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        Self {
            lab: Lab::new(),
            cache: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.lab.cmd(args);
        c.env("FROMSCRATCH_CACHE", self.cache.path());
        c
    }

    fn check(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let mut all = vec!["cleanup", "--check"];
        all.extend_from_slice(args);
        let out = self.cmd(&all).output().unwrap();
        let (o, e) = text(&out);
        (out.status.code(), o, e)
    }

    /// Wait (at most a minute) for `cleanup --check` to call the whole host clean.
    #[track_caller]
    fn assert_clean(&self) {
        let mut last = (None, String::new(), String::new());
        let clean = wait_for(60, || {
            last = self.check(&[]);
            last.0 == Some(0)
        });
        assert!(clean, "the host was never clean: {last:?}");
        assert_eq!(
            last.1, "clean: no trace of a fromscratch lab on this host\n",
            "{last:?}"
        );
        assert_eq!(last.2, "");
    }
}

#[test]
fn a_clean_host_says_clean() {
    require_root();
    let w = World::new();
    w.assert_clean();
}

#[test]
fn a_lab_killed_mid_lesson_is_named_and_cleanup_removes_it() {
    require_root();
    common::host_rootfs();
    let w = World::new();
    w.assert_clean();
    let before = w.lab.snapshot();
    let mut child = w
        .cmd(&[])
        .env("FROMSCRATCH_CACHE", common::cache_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"start 4\n\n\n\n\n").unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("Step 5/7") {
        let mut l = String::new();
        assert!(
            reader.read_line(&mut l).unwrap() > 0,
            "the REPL ended early:\n{seen}"
        );
        seen.push_str(&l);
    }
    let pid = child.id();
    kill(Pid::from_raw(i32::try_from(pid).unwrap()), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    drop(stdin);
    let run = w.lab.run.path().display().to_string();
    let (code, out, err) = w.check(&[]);
    assert_eq!(code, Some(1), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.contains(&format!("file left: {run}/lab-{pid}.json").as_str())
            && lines.contains(&format!("file left: {run}/lab-{pid}").as_str()),
        "{out}"
    );
    assert_eq!(
        lines.last(),
        Some(&"run `fromscratch cleanup` to remove them")
    );
    let cleaned = w.cmd(&["cleanup"]).output().unwrap();
    assert_eq!(cleaned.status.code(), Some(0), "{:?}", text(&cleaned));
    let (_, out, _) = w.check(&[]);
    assert!(!out.contains(&run), "{out}");
    w.assert_clean();
    w.lab.snapshot().assert_same(&before);
}

#[test]
fn a_process_carrying_a_dead_labs_mark_is_named_and_killed_and_no_other() {
    require_root();
    let w = World::new();
    let mark = w.lab.run.path().join(format!("lab-{}", i32::MAX));
    // A marked process holding a private mount namespace with a tmpfs of its own, as a
    // lab's container would; and an unmarked sleep beside it, which cleanup must spare.
    let mut marked = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs fs-test /mnt && exec sleep 1000")
        .env("FROMSCRATCH_LAB", &mark)
        .spawn()
        .unwrap();
    let mut bystander = Command::new("sleep").arg("1000").spawn().unwrap();
    let mpid = marked.id();
    assert!(wait_for(10, || {
        std::fs::read_to_string(format!("/proc/{mpid}/comm")).is_ok_and(|c| c == "sleep\n")
    }));
    let (code, out, _) = w.check(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.lines().any(|l| l
            == format!(
                "process left: {mpid} sleep (started by the lab {}, which is gone)",
                mark.display()
            )),
        "{out}"
    );
    let cleaned = w.cmd(&["cleanup"]).output().unwrap();
    let (cout, _) = text(&cleaned);
    assert!(
        cout.contains(&format!("killed sleep (pid {mpid})")),
        "{cout}"
    );
    assert!(
        marked.wait().unwrap().code().is_none(),
        "killed by a signal"
    );
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "an unmarked process was signalled"
    );
    bystander.kill().unwrap();
    bystander.wait().unwrap();
    w.assert_clean();
}

#[test]
fn save_and_against_name_an_added_link_and_mount() {
    require_root();
    let w = World::new();
    let snap = w.lab.run.path().join("before.json");
    let bin = common::bin();
    let point = tempfile::tempdir().unwrap();
    // A network and mount namespace of the test's own: the link and the tmpfs never
    // reach the host's.
    let script = format!(
        "{bin} cleanup --check --save {s}; ip link add veth-a type veth peer name veth-b; mount -t tmpfs fs-test-tmpfs {p}; {bin} cleanup --check --against {s}; echo rc=$?",
        s = snap.display(),
        p = point.path().display()
    );
    let mut c = Command::new("unshare");
    c.args(["--mount", "--net", "--propagation", "private", "sh", "-c"])
        .arg(script);
    for (k, v) in w.cmd(&[]).get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let out = c.output().unwrap();
    let (o, e) = text(&out);
    let lines: Vec<&str> = o.lines().collect();
    assert!(
        lines[0].starts_with("saved a snapshot of the host to "),
        "{o}{e}"
    );
    let ours: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("link ") || l.starts_with("mount "))
        .collect();
    assert_eq!(
        ours,
        vec![
            format!(
                "mount added: {} / tmpfs fs-test-tmpfs",
                point.path().display()
            )
            .as_str(),
            "link added: veth-a",
            "link added: veth-b",
        ],
        "{o}{e}"
    );
    assert_eq!(lines.last(), Some(&"rc=1"), "{o}");
    // On the host itself, neither is there: compared with the same snapshot, the host
    // differs in neither.
    let (_, host, _) = w.check(&["--against", &snap.display().to_string()]);
    assert!(
        !host.contains("veth-") && !host.contains("fs-test-tmpfs"),
        "{host}"
    );
}

#[test]
fn against_a_file_that_is_no_snapshot_is_one_sentence() {
    let w = World::new();
    let f = w.lab.run.path().join("x.json");
    std::fs::write(&f, "{}").unwrap();
    let (code, out, err) = w.check(&["--against", &f.display().to_string()]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert_eq!(out, "");
    assert!(
        err.starts_with(&format!(
            "fromscratch: cannot compare with {}: not a snapshot (",
            f.display()
        )) && err
            .trim_end()
            .ends_with("give a file `fromscratch cleanup --check --save` wrote")
            && err.lines().count() == 1,
        "{err}"
    );
    let (code, _, err) = {
        let o = w.cmd(&["cleanup", "--save", "x.json"]).output().unwrap();
        let (a, b) = text(&o);
        (o.status.code(), a, b)
    };
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--check"), "{err}");
}
