//! The parts of a by-hand command line (the `$ …` under an action) that util-linux has
//! no option for: entering a cgroup, and mounting an overlay root before the chroot.
//!
//! Each piece is a shell line a learner can paste into a root shell for the same effect
//! as the lab's syscalls (tests run them):
//!
//! - **Cgroups.** nsenter(1) and unshare(1) never move a process into a cgroup: only a
//!   write of its PID into `cgroup.procs` does, one per hierarchy (cgroups(7)). So the
//!   command runs under `sh -c 'echo $$ > …/cgroup.procs && exec CMD'`: the shell
//!   writes its own PID, then becomes CMD, which is born in the cgroup with everything it
//!   starts (as the lab's child writes its PID before it unshares, and `docker exec`
//!   does for an exec).
//! - **An overlay root.** Its tmpfs and overlay are mounted inside the container's mount
//!   namespace (overlay(5) via mount(8), tmpfs(5)), so by hand they come after
//!   `unshare --mount`, in a shell that then execs the chroot.

use std::path::{Path, PathBuf};

use crate::lab::runner::Runner;
use crate::lesson::ContainerDef;
use crate::runtime::cgroup::Cgroup;
use crate::term;

/// `sh -c 'SETUP && … && echo $$ > P1 && … && exec "$@"' sh LINE`: `setup` lines first,
/// then one write of the shell's PID per `cgroup.procs` file of `procs`, then `line`
/// replacing the shell. `line` is a simple command, already quoted (words only: every
/// `&&` of it inside quotes), so its words become the shell's arguments unchanged.
/// `line` unchanged when both are empty.
#[must_use]
pub fn in_cgroup(setup: &[String], procs: &[PathBuf], line: &str) -> String {
    if setup.is_empty() && procs.is_empty() {
        return line.to_string();
    }
    let mut script: Vec<String> = setup.to_vec();
    script.extend(
        procs
            .iter()
            .map(|p| format!("echo $$ > {}", term::shell_join(&[p.display().to_string()]))),
    );
    script.push("exec \"$@\"".to_string());
    format!(
        "{} sh {line}",
        term::shell_join(&["sh".to_string(), "-c".to_string(), script.join(" && ")])
    )
}

/// The lines that make cgroup `cg` and write its limits, as `Cgroup::create` and
/// `Cgroup::set_limits` do: `mkdir -p` of each directory (one per hierarchy), then
/// `memory.max` and `memory.swap.max` 0 (v2) or `memory.limit_in_bytes` and
/// `memory.memsw.limit_in_bytes` (v1; each swap file only where the kernel has it),
/// then `pids.max`. `memory_max` in bytes.
#[must_use]
pub fn cgroup_setup(cg: &Cgroup, memory_max: Option<u64>, pids_max: Option<u64>) -> Vec<String> {
    let q = |p: &Path| term::shell_join(&[p.display().to_string()]);
    let mut v = vec![format!(
        "mkdir -p {}",
        cg.dirs
            .iter()
            .map(|d| q(&d.path))
            .collect::<Vec<_>>()
            .join(" ")
    )];
    if let (Some(bytes), Some(d)) = (memory_max, cg.dir_for("memory")) {
        let (limit, swap, swap_value) = if d.v2 {
            ("memory.max", "memory.swap.max", "0".to_string())
        } else {
            (
                "memory.limit_in_bytes",
                "memory.memsw.limit_in_bytes",
                bytes.to_string(),
            )
        };
        v.push(format!("echo {bytes} > {}", q(&d.path.join(limit))));
        if d.path.join(swap).exists() {
            v.push(format!("echo {swap_value} > {}", q(&d.path.join(swap))));
        }
    }
    if let (Some(n), Some(d)) = (pids_max, cg.dir_for("pids")) {
        v.push(format!("echo {n} > {}", q(&d.path.join("pids.max"))));
    }
    v
}

/// The mounts that make an overlay root at `base/merged` over `lower`, as the runtime's
/// `overlay` does (a tmpfs for the writable layers, three directories, the overlay).
#[must_use]
pub fn overlay_mounts(lower: &Path, base: &Path) -> Vec<String> {
    let q = |p: &Path| term::shell_join(&[p.display().to_string()]);
    let b = base.display();
    vec![
        format!("mount -t tmpfs tmpfs {}", q(base)),
        format!(
            "mkdir {} {} {}",
            q(&base.join("upper")),
            q(&base.join("work")),
            q(&base.join("merged"))
        ),
        term::shell_join(&[
            "mount".into(),
            "-t".into(),
            "overlay".into(),
            "overlay".into(),
            "-o".into(),
            format!(
                "lowerdir={},upperdir={b}/upper,workdir={b}/work",
                lower.display()
            ),
            format!("{b}/merged"),
        ]),
    ]
}

impl Runner {
    /// `line` (the by-hand command of container or exec `c`, named `name`) run in `c`'s
    /// cgroup when it has one the lab has made: with `create`, the cgroup's `mkdir` and
    /// limits first (a container or an exec the lab puts in a new cgroup). See
    /// [`in_cgroup`]. Unchanged without a cgroup.
    #[must_use]
    pub fn with_cgroup(&self, c: &ContainerDef, name: &str, line: &str) -> String {
        let Some(def) = &c.cgroup else {
            return line.to_string();
        };
        let cg_name = def.name.clone().unwrap_or_else(|| name.to_string());
        let Some(cg) = self.lab.cgroup_of(&cg_name) else {
            return line.to_string();
        };
        let memory = def
            .memory_max
            .as_deref()
            .and_then(|m| crate::runtime::cgroup::parse_size(m).ok());
        let setup = cgroup_setup(cg, memory, def.pids_max);
        in_cgroup(&setup, &cg.procs_files(), line)
    }

    /// The by-hand command of an `exec_in`: nsenter(1) into every namespace and the root
    /// of the container whose first process is `pid1`, inside `procs` (its cgroup's
    /// `cgroup.procs` files, empty without a cgroup) as the lab joins it.
    #[must_use]
    pub fn exec_in_by_hand(pid1: i32, argv: &[String], procs: &[PathBuf]) -> String {
        let line = format!(
            "nsenter --target {pid1} {} --root {}",
            nsenter_flags(pid1).join(" "),
            term::shell_join(argv)
        );
        in_cgroup(&[], procs, &line)
    }
}

/// nsenter(1)'s options for the namespaces of `pid` that are not this process's own, in
/// nsenter's order: what the lab's join enters. Not `--all`: that also names the ones
/// shared with the host, and without root setns(2) refuses those (the host's IPC and
/// time namespaces belong to real root; util-linux 2.38 tries them anyway). A user
/// namespace other than ours comes with `--preserve-credentials`: its maps have one id,
/// and nsenter's own setgroups(2) there is refused (`deny`, user_namespaces(7)).
#[must_use]
pub fn nsenter_flags(pid: i32) -> Vec<&'static str> {
    use std::os::unix::fs::MetadataExt;
    let ino = |who: &str, ns: &str| {
        std::fs::metadata(format!("/proc/{who}/ns/{ns}"))
            .ok()
            .map(|m| (m.dev(), m.ino()))
    };
    let target = pid.to_string();
    let differs = |ns: &str| {
        let theirs = ino(&target, ns);
        theirs.is_some() && theirs != ino("self", ns)
    };
    let mut flags = Vec::new();
    if differs("user") {
        flags.extend(["--user", "--preserve-credentials"]);
    }
    for (ns, flag) in [
        ("ipc", "--ipc"),
        ("uts", "--uts"),
        ("net", "--net"),
        ("pid", "--pid"),
        ("mnt", "--mount"),
    ] {
        if differs(ns) {
            flags.push(flag);
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cgroup::CgroupDir;

    #[test]
    fn a_command_enters_each_hierarchy_then_replaces_the_shell() {
        let line = in_cgroup(
            &[],
            &[
                PathBuf::from("/sys/fs/cgroup/memory/l/c/cgroup.procs"),
                PathBuf::from("/sys/fs/cgroup/pids/l/c/cgroup.procs"),
            ],
            "nsenter --target 7 --all --root python3 -c 'x = 1'",
        );
        assert_eq!(
            line,
            r#"sh -c 'echo $$ > /sys/fs/cgroup/memory/l/c/cgroup.procs && echo $$ > /sys/fs/cgroup/pids/l/c/cgroup.procs && exec "$@"' sh nsenter --target 7 --all --root python3 -c 'x = 1'"#
        );
        assert_eq!(in_cgroup(&[], &[], "true"), "true");
    }

    #[test]
    fn the_setup_names_the_files_of_the_layout() {
        let cg = Cgroup {
            name: "c".into(),
            dirs: vec![
                CgroupDir {
                    path: "/nonexistent/memory/c".into(),
                    v2: false,
                    serves: vec!["memory".into()],
                    enable: Vec::new(),
                },
                CgroupDir {
                    path: "/nonexistent/unified/c".into(),
                    v2: true,
                    serves: vec!["pids".into()],
                    enable: Vec::new(),
                },
            ],
        };
        assert_eq!(
            cgroup_setup(&cg, Some(1 << 25), Some(20)),
            vec![
                "mkdir -p /nonexistent/memory/c /nonexistent/unified/c",
                "echo 33554432 > /nonexistent/memory/c/memory.limit_in_bytes",
                "echo 20 > /nonexistent/unified/c/pids.max",
            ]
        );
    }
}
