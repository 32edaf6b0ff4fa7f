//! A container made by a real runtime, runc(8): the OCI bundle the lab writes for it
//! (`config.json`, the shape `runc spec` prints, runtime-spec 1.0), the runc commands
//! that start, inspect and delete it, and the faults a lesson may plant in it.
//!
//! The lab never signals runc's container itself: it asks runc (`runc kill`, `runc
//! delete --force`), which checks the PID against the start time in its own state
//! before signalling. runc keeps that state in a directory of the lab's
//! (`{lab}/runc`, its `--root`), so the host's own runc containers are never listed,
//! and the container's cgroup is `/fromscratch-LABPID/runc-NAME` on every hierarchy,
//! a name `fromscratch cleanup --check` knows.
//!
//! crun cannot stand in for runc here: on a hybrid cgroup host (v1 controllers with a
//! cgroup2 mount beside them) it refuses to start any container ([`crun_problem`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

/// What the lab asks runc to run: the parts of a `[containers.NAME]` that apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OciContainer {
    /// The root filesystem (the cached rootfs), mounted read-only.
    pub rootfs: PathBuf,
    /// argv of the container's process.
    pub args: Vec<String>,
    /// Its environment, `NAME=value` (PATH first).
    pub env: Vec<String>,
    /// Hostname (needs `uts`).
    pub hostname: Option<String>,
    /// New PID namespace.
    pub pid: bool,
    /// New mount namespace (runc always needs one; kept for the record).
    pub mount: bool,
    /// New UTS namespace.
    pub uts: bool,
    /// New IPC namespace.
    pub ipc: bool,
    /// New network namespace.
    pub net: bool,
    /// Memory limit in bytes (swap limited to the same: `memory.memsw` on v1).
    pub memory_max: Option<u64>,
    /// `pids.max`.
    pub pids_max: Option<u64>,
    /// Directories given a tmpfs of their own.
    pub tmpfs: Vec<String>,
    /// `linux.cgroupsPath`: absolute, the same below every hierarchy's mount.
    pub cgroups_path: String,
}

/// The `config.json` for `c`: runtime-spec 1.0 as `runc spec` writes it, without a
/// terminal, with the lesson's namespaces, hostname, limits and mounts.
#[must_use]
pub fn config_json(c: &OciContainer) -> Value {
    let mut namespaces = Vec::new();
    // runc refuses a root filesystem without a mount namespace of its own.
    namespaces.push(json!({ "type": "mount" }));
    for (on, ty) in [
        (c.pid, "pid"),
        (c.uts, "uts"),
        (c.ipc, "ipc"),
        (c.net, "network"),
    ] {
        if on {
            namespaces.push(json!({ "type": ty }));
        }
    }
    let mut mounts = vec![
        json!({ "destination": "/proc", "type": "proc", "source": "proc" }),
        json!({ "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] }),
        json!({ "destination": "/sys", "type": "sysfs", "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"] }),
    ];
    for t in &c.tmpfs {
        mounts.push(
            json!({ "destination": t, "type": "tmpfs", "source": "tmpfs",
                            "options": ["nosuid", "nodev", "mode=1777", "size=16m"] }),
        );
    }
    let mut resources = json!({ "devices": [ { "allow": false, "access": "rwm" } ] });
    if let Some(m) = c.memory_max {
        resources["memory"] = json!({ "limit": m, "swap": m });
    }
    if let Some(p) = c.pids_max {
        resources["pids"] = json!({ "limit": p });
    }
    let caps = json!([
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETUID",
        "CAP_SETGID"
    ]);
    let mut config = json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": c.args,
            "env": c.env,
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
            "noNewPrivileges": true
        },
        "root": { "path": c.rootfs, "readonly": true },
        "mounts": mounts,
        "linux": {
            "cgroupsPath": c.cgroups_path,
            "resources": resources,
            "namespaces": namespaces,
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    });
    if let Some(h) = &c.hostname {
        config["hostname"] = json!(h);
    }
    config
}

/// Write the bundle: `dir/config.json` (the root filesystem is the cached rootfs, named
/// by absolute path, so the bundle holds nothing else). Returns the config's path.
///
/// # Errors
/// The directory or file cannot be written.
pub fn write_bundle(dir: &Path, c: &OciContainer) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("config.json");
    let text = serde_json::to_string_pretty(&config_json(c)).map_err(std::io::Error::other)?;
    std::fs::write(&path, text)?;
    Ok(path)
}

/// runc(8), with the lab's own state directory as `--root`.
#[derive(Debug, Clone)]
pub struct Runc {
    /// runc's state directory (`--root`): `{lab}/runc`.
    pub root: PathBuf,
}

/// What one runc command did: the line shown in a step's trace and what it printed.
#[derive(Debug, Clone)]
pub struct RuncRun {
    /// Exit status (-1 when it could not be started or was signalled).
    pub status: i32,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error (runc's `level=error msg=...` lines).
    pub stderr: String,
    /// `runc --root R ARGS… = exit N`, for the trace.
    pub trace: String,
}

impl Runc {
    /// The runc whose state lives in `root`.
    #[must_use]
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// The argv of `runc --root ROOT ARGS…`.
    #[must_use]
    pub fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut v = vec![
            "runc".to_string(),
            "--root".to_string(),
            self.root.display().to_string(),
        ];
        v.extend(args.iter().map(|s| (*s).to_string()));
        v
    }

    /// Run `runc --root ROOT ARGS…` and wait for it. Standard input is /dev/null;
    /// standard output and error go to files in `logs` (never pipes: a container
    /// started with `run -d` inherits them, and a pipe held open by it would never
    /// reach end of file).
    #[must_use]
    pub fn run(&self, args: &[&str], logs: &Path) -> RuncRun {
        let argv = self.argv(args);
        let out_path = logs.join("runc.out");
        let err_path = logs.join("runc.err");
        let files = (
            std::fs::File::create(&out_path),
            std::fs::File::create(&err_path),
        );
        let status = match files {
            (Ok(o), Ok(e)) => Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(std::process::Stdio::null())
                .stdout(o)
                .stderr(e)
                .status()
                .ok()
                .and_then(|s| s.code())
                .unwrap_or(-1),
            _ => -1,
        };
        let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        let _ = std::fs::remove_file(&out_path);
        let _ = std::fs::remove_file(&err_path);
        RuncRun {
            status,
            stdout,
            stderr,
            trace: format!(
                "{:>7}  {} = exit {status}",
                "lab",
                crate::term::shell_join(&argv)
            ),
        }
    }

    /// `runc state ID`: the host PID of its init and its status (`running`,
    /// `stopped`…), or `None` when runc knows no such container.
    #[must_use]
    pub fn state(&self, id: &str, logs: &Path) -> Option<(i32, String)> {
        let r = self.run(&["state", id], logs);
        if r.status != 0 {
            return None;
        }
        parse_state(&r.stdout)
    }
}

/// The PID and status from `runc state` JSON.
#[must_use]
pub fn parse_state(json: &str) -> Option<(i32, String)> {
    let v: Value = serde_json::from_str(json).ok()?;
    let pid = i32::try_from(v.get("pid")?.as_i64()?).ok()?;
    let status = v.get("status")?.as_str()?.to_string();
    Some((pid, status))
}

/// runc's error from its standard error: the `msg` of its last `level=error` line, or
/// the last line.
#[must_use]
pub fn runc_error(stderr: &str) -> String {
    let last = stderr
        .lines()
        .rev()
        .find(|l| l.contains("level=error"))
        .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("(it printed nothing)");
    last.split_once("msg=")
        .map_or(last, |(_, m)| m)
        .trim()
        .trim_matches('"')
        .to_string()
}

/// The faults a lesson may plant in a runc container.
pub const FAULTS: [&str; 3] = ["memory", "mount", "hostname"];

/// The variable that chooses the planted fault instead of chance (tests).
pub const PLANT_VAR: &str = "FROMSCRATCH_PLANT";

/// The hostname a `hostname` fault gives the container.
pub const WRONG_HOSTNAME: &str = "localhost";

/// Choose one of `choices` (`FAULTS` names): the one [`PLANT_VAR`] names when it is
/// among them, else one at random (the clock's nanoseconds).
#[must_use]
pub fn choose_fault(choices: &[String]) -> Option<String> {
    if choices.is_empty() {
        return None;
    }
    if let Ok(v) = std::env::var(PLANT_VAR)
        && choices.contains(&v)
    {
        return Some(v);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let i = usize::try_from(nanos).unwrap_or(0) % choices.len();
    Some(choices[i].clone())
}

/// `c` with `fault` planted: the memory limit an eighth of the intended one, the first
/// tmpfs left out, or the hostname [`WRONG_HOSTNAME`].
#[must_use]
pub fn plant(mut c: OciContainer, fault: &str) -> OciContainer {
    match fault {
        "memory" => c.memory_max = c.memory_max.map(|m| m / 8),
        "mount" if !c.tmpfs.is_empty() => {
            c.tmpfs.remove(0);
        }
        "hostname" => c.hostname = Some(WRONG_HOSTNAME.to_string()),
        _ => {}
    }
    c
}

/// Every cgroup mount point (v1 hierarchies, named ones such as `name=systemd` too, and
/// cgroup2) from mountinfo text: runc makes its `cgroupsPath` below each.
#[must_use]
pub fn cgroup_mounts(mountinfo: &str) -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(target) = left.split(' ').nth(4) else {
            continue;
        };
        match right.split(' ').next() {
            Some("cgroup") => out.push((PathBuf::from(target), false)),
            Some("cgroup2") => out.push((PathBuf::from(target), true)),
            _ => {}
        }
    }
    out
}

/// Why crun cannot run this lesson's container on this host, when it cannot: on a
/// hybrid cgroup layout (`layout_kind` as [`crate::runtime::cgroup::Layout::kind`]
/// says) crun 1.8 refuses every container with "cgroups in hybrid mode not supported,
/// drop all controllers from cgroupv2" (tests/lesson_17.rs runs it for real).
#[must_use]
pub fn crun_problem(layout_kind: &str) -> Option<String> {
    (layout_kind == "hybrid").then(|| {
        "crun cannot run on a hybrid cgroup host (v1 controllers with a cgroup2 mount): this lesson uses runc".to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web() -> OciContainer {
        OciContainer {
            rootfs: PathBuf::from("/var/cache/fromscratch/rootfs/host-1"),
            args: vec!["sleep".into(), "3600".into()],
            env: vec!["PATH=/usr/bin:/bin".into()],
            hostname: Some("web".into()),
            pid: true,
            mount: true,
            uts: true,
            ipc: true,
            net: false,
            memory_max: Some(64 << 20),
            pids_max: Some(32),
            tmpfs: vec!["/tmp".into()],
            cgroups_path: "/fromscratch-7/runc-web".into(),
        }
    }

    #[test]
    fn config_has_the_shape_runc_spec_prints_with_the_lesson_s_settings() {
        let v = config_json(&web());
        assert_eq!(v["ociVersion"], "1.0.2-dev");
        assert_eq!(v["process"]["terminal"], false);
        assert_eq!(v["process"]["args"], json!(["sleep", "3600"]));
        assert_eq!(v["process"]["cwd"], "/");
        assert_eq!(v["process"]["user"]["uid"], 0);
        assert_eq!(v["root"]["path"], "/var/cache/fromscratch/rootfs/host-1");
        assert_eq!(v["root"]["readonly"], true);
        assert_eq!(v["hostname"], "web");
        assert_eq!(v["linux"]["cgroupsPath"], "/fromscratch-7/runc-web");
        assert_eq!(v["linux"]["resources"]["memory"]["limit"], 64 << 20);
        assert_eq!(v["linux"]["resources"]["memory"]["swap"], 64 << 20);
        assert_eq!(v["linux"]["resources"]["pids"]["limit"], 32);
        let ns: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["mount", "pid", "uts", "ipc"]);
        let dests: Vec<&str> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert_eq!(dests, ["/proc", "/dev", "/sys", "/tmp"]);
    }

    #[test]
    fn without_a_hostname_or_limits_the_keys_are_absent() {
        let mut c = web();
        c.hostname = None;
        c.memory_max = None;
        c.pids_max = None;
        let v = config_json(&c);
        assert!(v.get("hostname").is_none());
        assert!(v["linux"]["resources"].get("memory").is_none());
        assert!(v["linux"]["resources"].get("pids").is_none());
    }

    #[test]
    fn the_bundle_is_one_config_json_that_parses_back() {
        let d = tempfile::tempdir().unwrap();
        let p = write_bundle(&d.path().join("b"), &web()).unwrap();
        let back: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        assert_eq!(back, config_json(&web()));
    }

    #[test]
    fn each_fault_changes_one_thing() {
        let m = plant(web(), "memory");
        assert_eq!(m.memory_max, Some(8 << 20));
        assert_eq!(plant(web(), "mount").tmpfs, Vec::<String>::new());
        assert_eq!(
            plant(web(), "hostname").hostname.as_deref(),
            Some(WRONG_HOSTNAME)
        );
        assert_eq!(plant(web(), "nothing"), web());
    }

    #[test]
    fn a_fault_is_chosen_among_those_given() {
        let c = vec!["mount".to_string(), "hostname".to_string()];
        for _ in 0..20 {
            assert!(c.contains(&choose_fault(&c).unwrap()));
        }
        assert_eq!(choose_fault(&[]), None);
    }

    #[test]
    fn state_and_errors_are_read_from_runc_s_output() {
        let s = r#"{ "ociVersion": "1.0.2-dev", "id": "web", "pid": 4242, "status": "running" }"#;
        assert_eq!(parse_state(s), Some((4242, "running".into())));
        assert_eq!(parse_state("not json"), None);
        let err = "time=\"x\" level=error msg=\"container_linux.go:380: starting container process caused: exec: \\\"nope\\\": executable file not found in $PATH\"\n";
        assert!(runc_error(err).starts_with("container_linux.go:380"));
        assert_eq!(runc_error(""), "(it printed nothing)");
    }

    #[test]
    fn every_cgroup_mount_is_found_named_ones_too() {
        let mi = "30 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
                  31 25 0:27 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n\
                  35 25 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                  22 1 8:1 / / rw - ext4 /dev/vda1 rw\n";
        assert_eq!(
            cgroup_mounts(mi),
            vec![
                (PathBuf::from("/sys/fs/cgroup/unified"), true),
                (PathBuf::from("/sys/fs/cgroup/systemd"), false),
                (PathBuf::from("/sys/fs/cgroup/memory"), false),
            ]
        );
    }

    #[test]
    fn crun_is_refused_only_on_a_hybrid_host() {
        assert!(crun_problem("hybrid").unwrap().contains("crun cannot run"));
        assert_eq!(crun_problem("v2"), None);
        assert_eq!(crun_problem("v1"), None);
    }
}
