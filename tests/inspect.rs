//! `fromscratch inspect` against real processes whose properties the test set itself:
//! containers started with `fromscratch spawn` (new PID, mount and UTS namespaces, a
//! hostname, a network namespace), a sleep in a v1 memory and pids cgroup the test made,
//! a lab paused at lesson 04's container step, and the host's own processes. Every value
//! is compared with /proc read here; the host is unchanged afterwards (Snapshot).

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use common::{Lab, require_root, text};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// `inspect ARGS` in `lab`: exit code, stdout, stderr.
fn inspect(lab: &Lab, args: &[&str]) -> (i32, String, String) {
    let mut a = vec!["inspect"];
    a.extend_from_slice(args);
    let out = lab.run(&a);
    let (o, e) = text(&out);
    (out.status.code().unwrap_or(-1), o, e)
}

/// `inspect PID --json`, parsed.
#[track_caller]
fn json(lab: &Lab, pid: i32) -> Value {
    let (code, out, err) = inspect(lab, &[&pid.to_string(), "--json"]);
    assert_eq!(code, 0, "inspect {pid} --json: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

/// The inode of /proc/PID/ns/NAME, read here.
fn ns_inode(pid: i32, name: &str) -> Option<u64> {
    let t = std::fs::read_link(format!("/proc/{pid}/ns/{name}")).ok()?;
    t.to_string_lossy()
        .split_once(":[")?
        .1
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// The value of `Key:` in /proc/PID/status.
fn status_field(pid: i32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{key}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

/// The capability names of a hex mask, as capabilities(7) spells them.
fn cap_names(hex: &str) -> BTreeSet<String> {
    let mask = u64::from_str_radix(hex, 16).unwrap();
    caps::all()
        .into_iter()
        .filter(|c| mask & c.bitmask() != 0)
        .map(|c| c.to_string())
        .collect()
}

/// The namespace line of `name` in inspect's text output.
#[track_caller]
fn ns_line<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find(|l| l.trim_start().starts_with(&format!("{name} ")) && l.starts_with("  "))
        .unwrap_or_else(|| panic!("no {name} line in:\n{out}"))
}

/// A `fromscratch spawn … -- sleep 1000` kept running; SIGTERM to the spawn (which
/// tears its container down) and a wait on drop.
struct Held {
    spawn: Child,
    /// The host PID of the sleep.
    sleep: i32,
}

impl Held {
    fn start(lab: &Lab, flags: &[&str]) -> Self {
        let root = common::host_rootfs();
        let mut args = vec!["spawn"];
        args.extend_from_slice(flags);
        let r = root.display().to_string();
        args.extend_from_slice(&["--rootfs", &r, "--", "sleep", "1000"]);
        let spawn = lab
            .cmd(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let top = i32::try_from(spawn.id()).unwrap();
        let mut sleep = None;
        assert!(
            common::wait_for(30, || {
                sleep = descendants(top).into_iter().find(|p| {
                    std::fs::read_to_string(format!("/proc/{p}/comm"))
                        .is_ok_and(|c| c.trim() == "sleep")
                });
                sleep.is_some()
            }),
            "the spawned sleep never appeared"
        );
        Self {
            spawn,
            sleep: sleep.unwrap(),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = kill(
            Pid::from_raw(i32::try_from(self.spawn.id()).unwrap()),
            Signal::SIGTERM,
        );
        let _ = self.spawn.wait();
    }
}

/// Every descendant of `pid`, through /proc/PID/task/*/children.
fn descendants(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for t in std::fs::read_dir(format!("/proc/{p}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for k in kids.split_whitespace().filter_map(|k| k.parse().ok()) {
                out.push(k);
                todo.push(k);
            }
        }
    }
    out
}

#[test]
fn host_processes_share_every_namespace_with_the_host() {
    let lab = Lab::new();
    let me = i32::try_from(std::process::id()).unwrap();
    // PID 1 and kthreadd when their links are readable here (a VM's init may hold a
    // capability even root lacks), and this test itself, which runs on the host.
    let mut checked = 0;
    for pid in [1, 2, me] {
        if ns_inode(pid, "net").is_none() || ns_inode(1, "net").is_none() && pid != me {
            continue;
        }
        let v = json(&lab, pid);
        let nss = v["namespaces"].as_object().unwrap();
        assert!(nss.len() >= 7, "{v}");
        for (name, ns) in nss {
            assert_eq!(ns["inode"].as_u64(), ns_inode(pid, name), "{pid} {name}");
            assert_eq!(ns["shared_with_host"], true, "{pid} {name}: {v}");
        }
        let (code, out, _) = inspect(&lab, &[&pid.to_string()]);
        assert_eq!(code, 0);
        assert!(out.starts_with(&format!("process {pid} (")), "{out}");
        for name in nss.keys() {
            assert!(
                ns_line(&out, name).contains("shared with the host"),
                "{out}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 1);
    // PID 1 itself: every namespace shared, or (where even root may not read its
    // links) each one named unreadable, never a failure.
    let (code, out, err) = inspect(&lab, &["1"]);
    assert_eq!(code, 0, "{err}");
    for name in ["mnt", "net", "pid", "uts"] {
        let l = ns_line(&out, name);
        assert!(
            l.contains("shared with the host") || l.contains("unreadable"),
            "{out}"
        );
    }
}

#[test]
fn root_a_spawned_container_has_its_own_pid_mnt_uts_and_the_host_net() {
    require_root();
    let lab = Lab::new();
    let before = lab.snapshot();
    {
        let c = Held::start(&lab, &["--pid", "--mount", "--uts", "--hostname", "box"]);
        let pid = c.sleep;
        let (code, out, err) = inspect(&lab, &[&pid.to_string()]);
        assert_eq!(code, 0, "{err}");
        assert!(out.starts_with(&format!("process {pid} (sleep)")), "{out}");
        for name in ["pid", "mnt", "uts"] {
            let l = ns_line(&out, name);
            let ino = ns_inode(pid, name).unwrap().to_string();
            assert!(l.contains(&ino) && l.contains("its own"), "{name}: {l}");
        }
        // The spawn's intermediate process shares the mount and UTS namespaces it
        // unshared; only its child, the sleep, entered the new PID namespace.
        assert!(
            ns_line(&out, "pid").contains("also: no other process"),
            "{out}"
        );
        assert!(
            ns_line(&out, "net").contains("shared with the host"),
            "{out}"
        );
        assert!(out.contains("hostname  box "), "{out}");

        let v = json(&lab, pid);
        assert_eq!(v["pid"], pid);
        assert_eq!(v["comm"], "sleep");
        assert_eq!(v["pid_in_ns"], 1);
        assert_eq!(v["hostname"], "box");
        for (name, ns) in v["namespaces"].as_object().unwrap() {
            assert_eq!(ns["inode"].as_u64(), ns_inode(pid, name), "{name}");
            let own = ["pid", "mnt", "uts"].contains(&name.as_str());
            assert_eq!(ns["shared_with_host"], !own, "{name}");
        }
        for (key, field) in [
            ("effective", "CapEff"),
            ("permitted", "CapPrm"),
            ("bounding", "CapBnd"),
        ] {
            let got: BTreeSet<String> = v["capabilities"][key]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            assert_eq!(got, cap_names(&status_field(pid, field)), "{key}");
        }
        assert_eq!(
            v["no_new_privs"],
            status_field(pid, "NoNewPrivs") == "1",
            "{v}"
        );
        let mode = ["disabled", "strict", "filter"]
            [status_field(pid, "Seccomp").parse::<usize>().unwrap()];
        assert_eq!(v["seccomp"], mode);
        assert_eq!(
            v["root"]["path"].as_str(),
            std::fs::read_link(format!("/proc/{pid}/root"))
                .ok()
                .as_deref()
                .and_then(|p| p.to_str())
        );
        assert!(v["root"]["fstype"].is_string(), "{v}");
        assert_eq!(v["unreadable"], serde_json::json!([]));
    }
    let after = lab.snapshot();
    before.assert_same(&after);
}

#[test]
fn root_with_net_its_interfaces_are_only_lo_down() {
    require_root();
    let lab = Lab::new();
    let before = lab.snapshot();
    {
        let c = Held::start(&lab, &["--pid", "--net"]);
        let v = json(&lab, c.sleep);
        assert_eq!(
            v["interfaces"],
            serde_json::json!([{ "name": "lo", "up": false, "addresses": [] }]),
            "{v}"
        );
        assert_eq!(v["namespaces"]["net"]["shared_with_host"], false);
        let (_, out, _) = inspect(&lab, &[&c.sleep.to_string()]);
        assert!(out.contains("\n  lo state down\n"), "{out}");
        assert!(
            out.contains(&format!("nsenter -t {} -n ip addr", c.sleep)),
            "{out}"
        );
    }
    before.assert_same(&lab.snapshot());
}

#[test]
fn root_diff_names_what_two_containers_share_and_not() {
    require_root();
    let lab = Lab::new();
    let before = lab.snapshot();
    {
        let a = Held::start(&lab, &["--pid", "--uts", "--hostname", "left"]);
        let b = Held::start(&lab, &["--pid", "--uts", "--hostname", "right"]);
        let (code, out, err) = inspect(
            &lab,
            &[
                "--diff",
                &a.sleep.to_string(),
                &b.sleep.to_string(),
                "--json",
            ],
        );
        assert_eq!(code, 0, "{err}");
        let d: Value = serde_json::from_str(&out).unwrap();
        let list = |k: &str| -> BTreeSet<String> {
            d[k].as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        assert!(
            list("shared").contains("net") && list("shared").contains("ipc"),
            "{d}"
        );
        assert!(
            list("not_shared").contains("pid") && list("not_shared").contains("uts"),
            "{d}"
        );
        assert_eq!(d["same_root"], true, "{d}");
        let hostname = d["differences"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["what"] == "hostname")
            .unwrap_or_else(|| panic!("{d}"));
        assert_eq!(
            (&hostname["a"], &hostname["b"]),
            (&"left".into(), &"right".into())
        );
        let (code, text_out, _) = inspect(
            &lab,
            &["--diff", &a.sleep.to_string(), &b.sleep.to_string()],
        );
        assert_eq!(code, 0);
        assert!(text_out.contains("hostname"), "{text_out}");
    }
    before.assert_same(&lab.snapshot());
}

/// A v1 memory and pids cgroup made by the test, with limits it sets, removed on drop.
struct TestCgroups {
    dirs: Vec<std::path::PathBuf>,
    sleep: Child,
}

impl Drop for TestCgroups {
    fn drop(&mut self) {
        let _ = self.sleep.kill();
        let _ = self.sleep.wait();
        for d in &self.dirs {
            let _ = common::wait_for(5, || std::fs::remove_dir(d).is_ok() || !d.exists());
        }
    }
}

#[test]
fn root_cgroup_limits_the_test_set_are_reported() {
    require_root();
    let mem = std::path::Path::new("/sys/fs/cgroup/memory");
    let pids = std::path::Path::new("/sys/fs/cgroup/pids");
    if !mem.join("memory.limit_in_bytes").exists() || !pids.join("cgroup.procs").exists() {
        // A v2-only host: the fake-tree unit test in src/inspect/mod.rs covers v2 files.
        eprintln!("no v1 memory and pids hierarchies here; see the unit test");
        return;
    }
    let lab = Lab::new();
    let before = lab.snapshot();
    let name = format!("fs-inspect-test-{}", std::process::id());
    let sleep = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    let g = TestCgroups {
        dirs: vec![mem.join(&name), pids.join(&name)],
        sleep,
    };
    for d in &g.dirs {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(g.dirs[0].join("memory.limit_in_bytes"), "67108864").unwrap();
    std::fs::write(g.dirs[1].join("pids.max"), "20").unwrap();
    let pid = g.sleep.id().to_string();
    for d in &g.dirs {
        std::fs::write(d.join("cgroup.procs"), &pid).unwrap();
    }
    let v = json(&lab, pid.parse().unwrap());
    let c = &v["cgroup"];
    assert_eq!(c["memory_max_bytes"], 67_108_864, "{v}");
    assert_eq!(c["pids_max"], 20);
    assert_eq!(c["oom_kills"], 0);
    assert_eq!(c["paths"]["memory"], format!("/{name}"));
    assert!(["v1", "hybrid"].contains(&c["layout"].as_str().unwrap()));
    let (_, out, _) = inspect(&lab, &[&pid]);
    assert!(
        out.contains("memory.limit_in_bytes 67108864 (64 MiB)"),
        "{out}"
    );
    assert!(out.contains("pids.max 20 "), "{out}");
    assert!(out.contains("oom_kill 0 "), "{out}");
    drop(g);
    assert!(!mem.join(&name).exists() && !pids.join(&name).exists());
    before.assert_same(&lab.snapshot());
}

#[test]
fn root_container_finds_the_container_of_a_live_lab() {
    require_root();
    let lab = Lab::new();
    let before = lab.snapshot();
    // Lesson 04 held inside step 4, where container `c` is running.
    let mut run = lab
        .cmd(&["run", "04", "--yes"])
        .env("FROMSCRATCH_PAUSE_AT_STEP", "4")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(run.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap_or(0) > 0 && !line.contains("paused in step 4") {
        line.clear();
    }
    assert!(line.contains("paused in step 4"), "never paused: {line}");
    let state: Value = std::fs::read_dir(lab.run.path())
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap())
        .expect("a state file");
    let pid1 = state["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "c (pid 1)")
        .map(|p| p["pid"].as_i64().unwrap())
        .expect("c (pid 1) recorded");
    let (code, out, e) = inspect(&lab, &["--container", "c", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{code} {e}"));
    assert_eq!(v["pid"], pid1);
    assert_eq!(v["pid_in_ns"], 1);
    assert_eq!(v["namespaces"]["pid"]["shared_with_host"], false);
    assert_eq!(v["namespaces"]["mnt"]["shared_with_host"], false);

    let (code, out, e) = inspect(&lab, &["--container", "nosuch"]);
    assert_eq!(code, 2, "{out}");
    assert_eq!(
        e.trim(),
        "fromscratch: no running lab has a container named nosuch: start one (fromscratch, `start 04`, run to the container step) or give a PID"
    );
    kill(
        Pid::from_raw(i32::try_from(run.id()).unwrap()),
        Signal::SIGTERM,
    )
    .unwrap();
    let _ = std::io::Read::read_to_string(&mut err, &mut String::new());
    run.wait().unwrap();
    before.assert_same(&lab.snapshot());
}

#[test]
fn a_missing_pid_or_container_exits_2_with_one_sentence() {
    let lab = Lab::new();
    // No PID reaches pid_max (proc(5)).
    let max = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap();
    let (code, out, err) = inspect(&lab, &[max.trim()]);
    assert_eq!(code, 2, "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("no process has PID {}", max.trim())),
        "{err}"
    );
    let (code, _, err) = inspect(&lab, &["--container", "c"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no running lab has a container named c"),
        "{err}"
    );
}

#[test]
fn root_as_a_user_pid_1_shows_what_it_cannot_read_without_failing() {
    require_root();
    let uid = common::test_user();
    let (dir, bin) = common::user_dir("fs-inspect-", &[], uid, uid);
    let out = std::process::Command::new("setpriv")
        .args([
            format!("--reuid={uid}"),
            format!("--regid={uid}"),
            "--clear-groups".into(),
        ])
        .arg(&bin)
        .args(["inspect", "1"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    assert!(
        ns_line(&o, "net").contains("unreadable (needs root)"),
        "{o}"
    );
    assert!(o.contains("root      unreadable (needs root)"), "{o}");
    // What /proc gives everyone is still there.
    assert!(o.contains("\ncgroup    "), "{o}");
    assert!(o.contains("\nseccomp   "), "{o}");
    let out = std::process::Command::new("setpriv")
        .args([
            format!("--reuid={uid}"),
            format!("--regid={uid}"),
            "--clear-groups".into(),
        ])
        .arg(&bin)
        .args(["inspect", "1", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let unreadable = v["unreadable"].to_string();
    assert!(
        unreadable.contains("namespaces.net") && unreadable.contains("\"root\""),
        "{v}"
    );
    assert!(v["capabilities"]["effective"].is_array());
    drop(dir);
}

/// Every key the JSON output has (report and diff) is documented in
/// book/src/reference/inspect.md as `` `path` ``: object keys joined by `.`, array
/// elements as `[]`, the namespace names as `NAME`, cgroup.paths' keys as `HIERARCHY`.
#[test]
fn every_json_key_is_documented() {
    let lab = Lab::new();
    let me = std::process::id().to_string();
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/reference/inspect.md"),
    )
    .unwrap();
    fn keys(v: &Value, at: &str, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let k = match at {
                        "namespaces" => "NAME",
                        "cgroup.paths" => "HIERARCHY",
                        _ => k,
                    };
                    let p = if at.is_empty() {
                        k.to_string()
                    } else {
                        format!("{at}.{k}")
                    };
                    out.insert(p.clone());
                    keys(x, &p, out);
                }
            }
            Value::Array(a) => {
                for x in a {
                    keys(x, &format!("{at}[]"), out);
                }
            }
            _ => {}
        }
    }
    let mut report = BTreeSet::new();
    let (_, out, _) = inspect(&lab, &[&me, "--json"]);
    keys(&serde_json::from_str(&out).unwrap(), "", &mut report);
    let mut diff = BTreeSet::new();
    let parent = std::os::unix::process::parent_id().to_string();
    let (_, out, _) = inspect(&lab, &["--diff", &me, &parent, "--json"]);
    keys(&serde_json::from_str(&out).unwrap(), "", &mut diff);
    // A difference is there for sure: the comm of this test and of its parent differ
    // (cargo-nextest or cargo vs inspect-…), so `differences[]` has its keys.
    let missing: Vec<String> = report
        .iter()
        .chain(&diff)
        .filter(|k| !doc.contains(&format!("`{k}`")))
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "book/src/reference/inspect.md does not document: {missing:?}"
    );
    assert!(
        report.contains("interfaces[].name") && diff.contains("differences[].what"),
        "{report:?} {diff:?}"
    );
}
