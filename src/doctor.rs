//! `fromscratch doctor`: one screen that says what this host can do, and which lessons
//! will run here.
//!
//! Two halves, so the verdict is testable without changing the host:
//!
//! - [`Facts::gather`] reads the host, and changes nothing on it: the euid and
//!   `CapEff` (credentials(7), proc(5)); the user-namespace sysctls
//!   (`kernel.unprivileged_userns_clone`, Debian's; `user.max_user_namespaces`,
//!   user_namespaces(7); `kernel.apparmor_restrict_unprivileged_userns`, Ubuntu's) and a
//!   real probe, a forked single-threaded child that calls unshare(2) with
//!   `CLONE_NEWUSER` and writes its own uid_map; container marks (`/.dockerenv`,
//!   `/run/.containerenv`, /proc/1/cgroup, `systemd-detect-virt --container`, mounts
//!   masking paths under /proc); the cgroup layout ([`Layout`]) and whether this user
//!   may write its own cgroup's `cgroup.procs` and `cgroup.subtree_control`
//!   (access(2) with `W_OK`); overlayfs in /proc/filesystems; seccomp from the
//!   `Seccomp:` line of /proc/self/status (proc(5)); each rootfs recipe's builder
//!   preflight ([`crate::rootfs::preflight`]); each lesson's `[requires]`.
//! - [`verdict`] turns [`Facts`] into [`Report`]: rows of label, answer and, for each
//!   "no", the fix in one sentence, plus the exit status: 0 when the default tour
//!   (lessons 01-04 on the `host` rootfs) can run, [`EXIT_HOST_CANNOT`] (3) otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::EXIT_HOST_CANNOT;
use crate::runtime::cgroup::{Layout, Membership, dir_of};
use crate::term;

/// The lessons of the default tour (`fromscratch tour`): their id prefixes.
pub const TOUR: [&str; 4] = ["01-", "02-", "03-", "04-"];

/// What the probe child got from unshare(2) and the uid_map write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Probe {
    /// unshare(CLONE_NEWUSER) and writing `/proc/self/uid_map` both worked.
    Works,
    /// unshare(2) failed with this errno name (`EPERM`, `ENOSPC`, `EINVAL`).
    UnshareFailed(String),
    /// unshare(2) worked but writing uid_map failed with this errno name (AppArmor's
    /// restriction on Ubuntu 24.04 shows as `EPERM` here).
    UidMapFailed(String),
    /// The probe could not be run (fork failed, or the child died oddly).
    NotRun(String),
}

/// One lesson's needs, from its `[requires]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LessonNeeds {
    /// The lesson id (`04-pid-namespace`).
    pub id: String,
    /// `requires.root`.
    pub root: bool,
    /// `requires.rootfs`, the recipe it runs on by default.
    pub rootfs: String,
    /// The tools of `requires.tools` not found on `PATH` (which(1) rules).
    pub missing_tools: Vec<String>,
    /// Set when the lesson file does not load: the loader's message.
    pub broken: Option<String>,
}

/// One rootfs recipe and whether its builder's preflight passes here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipeFacts {
    /// The recipe name (`debian`).
    pub name: String,
    /// The builder kind (`host`, `debian`, `dnf`, `busybox`…).
    pub builder: String,
    /// `None` when it can be built here; otherwise the preflight's message (it names its
    /// fix).
    pub problem: Option<String>,
}

/// Everything the doctor knows about the host. [`Facts::gather`] fills it from the real
/// host; tests build one by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// The effective uid (geteuid(2)).
    pub euid: u32,
    /// `CAP_SYS_ADMIN` is in the effective set (`CapEff` bit 21 of /proc/self/status).
    pub cap_sys_admin: bool,
    /// The raw text of /proc/sys/kernel/unprivileged_userns_clone, if the file exists.
    pub userns_clone: Option<String>,
    /// The raw text of /proc/sys/user/max_user_namespaces, if the file exists.
    pub max_user_namespaces: Option<String>,
    /// The raw text of /proc/sys/kernel/apparmor_restrict_unprivileged_userns, if present.
    pub apparmor_restrict: Option<String>,
    /// The real probe: unshare(CLONE_NEWUSER) in a forked child.
    pub userns_probe: Probe,
    /// Signs of a container, each a short phrase (`/.dockerenv exists`); empty on a bare
    /// host.
    pub container: Vec<String>,
    /// `v1`, `v2`, `hybrid` or `none` ([`Layout::kind`]).
    pub cgroup_kind: String,
    /// The cgroup this process may create children in (its own cgroup on the cgroup2
    /// mount, or on the v1 `pids` hierarchy), if one was found.
    pub cgroup_dir: Option<PathBuf>,
    /// Files of [`Facts::cgroup_dir`] this user may not write, with the errno name
    /// (`cgroup.procs: EACCES`); empty when the subtree is writable.
    pub cgroup_unwritable: Vec<String>,
    /// `overlay` is listed in /proc/filesystems.
    pub overlayfs: bool,
    /// The seccomp mode of this process (0, 1 or 2) from /proc/self/status, `None` when
    /// the kernel has no seccomp (no `Seccomp:` line, PR_GET_SECCOMP gives EINVAL).
    pub seccomp_mode: Option<u32>,
    /// The rootfs recipes.
    pub recipes: Vec<RecipeFacts>,
    /// The lessons.
    pub lessons: Vec<LessonNeeds>,
}

/// How a row of the report reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    /// Yes: what the lab needs is there.
    Yes,
    /// No: something is missing; the row has a fix.
    No,
    /// Neither: a fact worth knowing (the cgroup layout, a container).
    Info,
}

/// One row: `label  answer`, and a fix when the answer is no.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The left column (`root`, `user namespaces`, a recipe or lesson id).
    pub label: String,
    /// Yes, no or information.
    pub mark: Mark,
    /// The answer, with the value it rests on.
    pub answer: String,
    /// For a no: what to do, in one sentence.
    pub fix: Option<String>,
}

/// A titled group of rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// `host`, `rootfs builders`, `lessons`.
    pub title: String,
    /// Its rows.
    pub rows: Vec<Row>,
}

/// The doctor's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The sections, in the order shown.
    pub sections: Vec<Section>,
    /// The last line: whether the default tour runs here, and if not, why.
    pub summary: String,
    /// 0 when the default tour runs here, [`EXIT_HOST_CANNOT`] otherwise.
    pub exit_code: u8,
}

/// A sysctl file's value as an integer: the text trimmed of white space (the kernel ends
/// it with a newline). `None` for anything else.
#[must_use]
pub fn parse_sysctl(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// The `Seccomp:` mode from the text of /proc/PID/status (proc(5)): 0 none, 1 strict,
/// 2 filter. `None` when the line is absent (a kernel built without CONFIG_SECCOMP).
#[must_use]
pub fn parse_seccomp(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .and_then(|v| v.trim().parse().ok())
}

/// `CapEff` from the text of /proc/PID/status, as a bit set (capabilities(7)).
#[must_use]
pub fn parse_cap_eff(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0)
}

/// Mount points under /proc other than /proc itself, from mountinfo text: what a
/// container runtime mounts over /proc/kcore, /proc/acpi and friends to hide them.
#[must_use]
pub fn proc_masks(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|t| t.starts_with("/proc/") && !t.starts_with("/proc/sys/fs/binfmt_misc"))
        .map(str::to_string)
        .collect()
}

/// The Debian package that brings a tool the lessons use (for the fix line).
fn package_of(tool: &str) -> &str {
    match tool {
        "unshare" | "nsenter" | "setpriv" | "findmnt" | "mount" | "umount" | "pivot_root"
        | "ipcs" => "util-linux",
        "ip" | "ss" => "iproute2",
        "ps" | "pgrep" | "kill" => "procps",
        "capsh" => "libcap2-bin",
        "awk" => "gawk",
        "find" => "findutils",
        "grep" => "grep",
        "hostname" => "hostname",
        "stat" | "cat" | "tee" | "ls" | "id" | "uname" | "readlink" => "coreutils",
        "sh" => "dash",
        other => other,
    }
}

impl Facts {
    /// Read this host. Changes nothing: reads files, runs `systemd-detect-virt
    /// --container` if installed, calls access(2), and forks one child that makes a user
    /// namespace of its own and exits.
    #[must_use]
    pub fn gather() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let status = read("/proc/self/status").unwrap_or_default();
        let mountinfo = read("/proc/self/mountinfo").unwrap_or_default();
        let layout = Layout::parse(&mountinfo);
        let (cgroup_dir, cgroup_unwritable) = delegated(&layout);
        Self {
            euid: nix::unistd::geteuid().as_raw(),
            cap_sys_admin: parse_cap_eff(&status) & (1 << 21) != 0,
            userns_clone: read("/proc/sys/kernel/unprivileged_userns_clone"),
            max_user_namespaces: read("/proc/sys/user/max_user_namespaces"),
            apparmor_restrict: read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
            userns_probe: probe_userns(),
            container: container_signs(&mountinfo),
            cgroup_kind: layout.kind().to_string(),
            cgroup_dir,
            cgroup_unwritable,
            overlayfs: read("/proc/filesystems").is_some_and(|t| {
                t.lines()
                    .any(|l| l.split_whitespace().last() == Some("overlay"))
            }),
            seccomp_mode: parse_seccomp(&status).or_else(seccomp_by_prctl),
            recipes: recipes(),
            lessons: lessons(),
        }
    }
}

/// PR_GET_SECCOMP (prctl(2)): the mode, or `None` when the kernel has no seccomp.
fn seccomp_by_prctl() -> Option<u32> {
    #[allow(unsafe_code)]
    // SAFETY: PR_GET_SECCOMP takes no pointer arguments and only returns a number.
    let r = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    u32::try_from(r).ok()
}

/// Fork a child that calls unshare(CLONE_NEWUSER) and writes `0 EUID 1` to its own
/// uid_map (user_namespaces(7)); it exits with 0, the unshare errno, or 100 + the
/// uid_map errno. The namespace dies with the child: the host is untouched.
fn probe_userns() -> Probe {
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, fork};
    let map = format!("0 {} 1\n", nix::unistd::geteuid());
    #[allow(unsafe_code)]
    // SAFETY: `fromscratch doctor` is single-threaded when it gets here (no signal
    // thread, no runtime), and the child only makes system calls and exits: unshare(2),
    // open(2) on a static C string, write(2) of bytes formatted before the fork, _exit(2).
    match unsafe { fork() } {
        Err(e) => Probe::NotRun(format!("fork: {e:?}")),
        Ok(ForkResult::Child) => {
            let code = match nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER) {
                Err(e) => e as i32,
                Ok(()) => match nix::fcntl::open(
                    c"/proc/self/uid_map",
                    nix::fcntl::OFlag::O_WRONLY,
                    nix::sys::stat::Mode::empty(),
                ) {
                    Err(e) => 100 + e as i32,
                    Ok(fd) => match nix::unistd::write(&fd, map.as_bytes()) {
                        Ok(_) => 0,
                        Err(e) => 100 + e as i32,
                    },
                },
            };
            #[allow(unsafe_code)]
            // SAFETY: _exit(2) ends the child without running the parent's atexit work.
            unsafe {
                libc::_exit(code.min(255))
            }
        }
        Ok(ForkResult::Parent { child }) => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => Probe::Works,
            Ok(WaitStatus::Exited(_, c)) if c >= 100 => {
                Probe::UidMapFailed(format!("{:?}", nix::errno::Errno::from_raw(c - 100)))
            }
            Ok(WaitStatus::Exited(_, c)) => {
                Probe::UnshareFailed(format!("{:?}", nix::errno::Errno::from_raw(c)))
            }
            Ok(other) => Probe::NotRun(format!("the probe child ended as {other:?}")),
            Err(e) => Probe::NotRun(format!("waitpid: {e:?}")),
        },
    }
}

/// Signs that this process runs in a container.
fn container_signs(mountinfo: &str) -> Vec<String> {
    let mut out = Vec::new();
    if Path::new("/.dockerenv").exists() {
        out.push("/.dockerenv exists".to_string());
    }
    if Path::new("/run/.containerenv").exists() {
        out.push("/run/.containerenv exists".to_string());
    }
    let cg = std::fs::read_to_string("/proc/1/cgroup").unwrap_or_default();
    if let Some(w) = ["docker", "kubepods", "containerd", "libpod", "lxc"]
        .iter()
        .find(|w| cg.contains(*w))
    {
        out.push(format!("/proc/1/cgroup names {w}"));
    }
    if let Ok(p) = which::which("systemd-detect-virt")
        && let Ok(o) = std::process::Command::new(p)
            .arg("--container")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
    {
        let v = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if o.status.success() && !v.is_empty() && v != "none" {
            out.push(format!("systemd-detect-virt: {v}"));
        }
    }
    let masks = proc_masks(mountinfo);
    if !masks.is_empty() {
        out.push(format!("{} mounts mask paths under /proc", masks.len()));
    }
    out
}

/// This process's own cgroup (v2, else the v1 `pids` hierarchy) and the files of it this
/// user may not write (access(2), `W_OK`).
fn delegated(layout: &Layout) -> (Option<PathBuf>, Vec<String>) {
    let me = Membership::of("self");
    let dir = match (&layout.v2, &me.v2) {
        (Some(m), Some(p)) => Some(dir_of(m, p)),
        _ => match (layout.v1.get("pids"), me.v1.get("pids")) {
            (Some(m), Some(p)) => Some(dir_of(m, p)),
            _ => None,
        },
    };
    let Some(dir) = dir else {
        return (None, Vec::new());
    };
    let files: &[&str] = if layout.v2.is_some() {
        &["cgroup.procs", "cgroup.subtree_control"]
    } else {
        &["cgroup.procs"]
    };
    let bad = files
        .iter()
        .filter_map(|f| {
            nix::unistd::access(&dir.join(f), nix::unistd::AccessFlags::W_OK)
                .err()
                .map(|e| format!("{f}: {e:?}"))
        })
        .collect();
    (Some(dir), bad)
}

/// Each recipe in the recipes directory, with its builder's preflight.
fn recipes() -> Vec<RecipeFacts> {
    let dir = crate::paths::recipes_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .map(|f| match crate::rootfs::load_recipe(f) {
            Ok(r) => RecipeFacts {
                name: r.name.clone(),
                builder: r.builder.kind().to_string(),
                problem: crate::rootfs::preflight(&r).err().map(|e| e.to_string()),
            },
            Err(e) => RecipeFacts {
                name: f
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                builder: "?".to_string(),
                problem: Some(e.to_string()),
            },
        })
        .collect()
}

/// Each lesson's `[requires]`, with the tools missing here.
fn lessons() -> Vec<LessonNeeds> {
    let files = crate::lesson::lesson_files(&crate::paths::lessons_dir()).unwrap_or_default();
    files
        .iter()
        .map(|f| match crate::lesson::load(f) {
            Ok(l) => {
                let r = &l.def.requires;
                LessonNeeds {
                    id: l.def.id.clone(),
                    root: r.root,
                    rootfs: r.rootfs.clone(),
                    missing_tools: r
                        .tools
                        .iter()
                        .filter(|t| which::which(t).is_err())
                        .cloned()
                        .collect(),
                    broken: None,
                }
            }
            Err(e) => LessonNeeds {
                id: f
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                root: true,
                rootfs: String::new(),
                missing_tools: Vec::new(),
                broken: Some(e.to_string()),
            },
        })
        .collect()
}

fn row(label: &str, mark: Mark, answer: impl Into<String>, fix: Option<&str>) -> Row {
    Row {
        label: label.to_string(),
        mark,
        answer: answer.into(),
        fix: fix.map(str::to_string),
    }
}

/// The verdict: rows for the host, the rootfs builders and the lessons, a summary line
/// and the exit status (0 when lessons 01-04 and the `host` recipe they use can run
/// here, [`EXIT_HOST_CANNOT`] otherwise).
#[must_use]
pub fn verdict(f: &Facts) -> Report {
    let root = f.euid == 0;
    // Root in a container without CAP_SYS_ADMIN cannot make namespaces or mounts.
    let privileged = root && f.cap_sys_admin;
    let mut host = Vec::new();

    host.push(match (root, f.cap_sys_admin) {
        (true, true) => row("root", Mark::Yes, "yes (uid 0, CAP_SYS_ADMIN)", None),
        (true, false) => row(
            "root",
            Mark::No,
            "uid 0 but without CAP_SYS_ADMIN",
            Some("start the container with --privileged (or --cap-add SYS_ADMIN)."),
        ),
        (false, _) => row(
            "root",
            Mark::No,
            format!(
                "no (uid {}); lessons marked root = false run in a user namespace",
                f.euid
            ),
            Some("run as root (sudo) for the others."),
        ),
    });

    // User namespaces: the sysctls first (each one that says no is the fix), then the probe.
    let clone = f.userns_clone.as_deref().and_then(parse_sysctl);
    let max = f.max_user_namespaces.as_deref().and_then(parse_sysctl);
    let apparmor = f.apparmor_restrict.as_deref().and_then(parse_sysctl);
    let mut basis = Vec::new();
    if let Some(v) = clone {
        basis.push(format!("kernel.unprivileged_userns_clone = {v}"));
    }
    if let Some(v) = max {
        basis.push(format!("user.max_user_namespaces = {v}"));
    }
    if let Some(v) = apparmor {
        basis.push(format!(
            "kernel.apparmor_restrict_unprivileged_userns = {v}"
        ));
    }
    let userns = if max == Some(0) {
        row(
            "user namespaces",
            Mark::No,
            "off: user.max_user_namespaces = 0",
            Some("sysctl -w user.max_user_namespaces=15000"),
        )
    } else if clone == Some(0) && !root {
        row(
            "user namespaces",
            Mark::No,
            "off for unprivileged users: kernel.unprivileged_userns_clone = 0",
            Some("sysctl -w kernel.unprivileged_userns_clone=1"),
        )
    } else {
        match &f.userns_probe {
            Probe::Works if apparmor == Some(1) && !root => row(
                "user namespaces",
                Mark::No,
                "restricted by AppArmor: kernel.apparmor_restrict_unprivileged_userns = 1",
                Some(
                    "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or give fromscratch an AppArmor profile with `userns,`).",
                ),
            ),
            Probe::Works => row(
                "user namespaces",
                Mark::Yes,
                format!(
                    "allowed: unshare(CLONE_NEWUSER) works here{}",
                    if basis.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", basis.join(", "))
                    }
                ),
                None,
            ),
            Probe::UnshareFailed(e) => row(
                "user namespaces",
                Mark::No,
                format!("unshare(CLONE_NEWUSER) fails with {e}"),
                Some(if e == "ENOSPC" {
                    "sysctl -w user.max_user_namespaces=15000"
                } else if apparmor == Some(1) {
                    "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
                } else {
                    "allow user namespaces: in a container, run it with --privileged or a seccomp profile that allows unshare."
                }),
            ),
            Probe::UidMapFailed(e) => row(
                "user namespaces",
                Mark::No,
                format!("unshare(CLONE_NEWUSER) works but writing uid_map fails with {e}"),
                Some(if apparmor == Some(1) {
                    "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
                } else {
                    "allow uid_map writes: in a container, run it with --privileged."
                }),
            ),
            Probe::NotRun(why) => row(
                "user namespaces",
                Mark::Info,
                format!("not probed: {why}"),
                None,
            ),
        }
    };
    host.push(userns);

    host.push(if f.container.is_empty() {
        row(
            "container",
            Mark::Info,
            "none seen (a bare host or a VM)",
            None,
        )
    } else {
        row(
            "container",
            Mark::Info,
            format!("yes: {}", f.container.join(", ")),
            None,
        )
    });

    let kind_text = match f.cgroup_kind.as_str() {
        "v2" => "v2 (one unified hierarchy)",
        "v1" => "v1 (one hierarchy per controller)",
        "hybrid" => "hybrid (v1 controllers, a cgroup2 mount beside them)",
        _ => "none mounted",
    };
    host.push(if f.cgroup_kind == "none" {
        row(
            "cgroups",
            Mark::No,
            kind_text,
            Some("mount cgroup2 on /sys/fs/cgroup (lesson 10 needs it)."),
        )
    } else {
        row("cgroups", Mark::Info, kind_text, None)
    });
    if let Some(dir) = &f.cgroup_dir {
        host.push(if f.cgroup_unwritable.is_empty() {
            row(
                "cgroup subtree",
                Mark::Yes,
                format!("{} is writable by this user", dir.display()),
                None,
            )
        } else {
            row(
                "cgroup subtree",
                Mark::No,
                format!(
                    "{} is not writable ({})",
                    dir.display(),
                    f.cgroup_unwritable.join(", ")
                ),
                Some(if root {
                    "mount /sys/fs/cgroup read-write (a container: --privileged or --cgroupns=private)."
                } else {
                    "run as root (sudo), or in a delegated scope: systemd-run --user --scope -p Delegate=yes."
                }),
            )
        });
    }
    host.push(if f.overlayfs {
        row("overlayfs", Mark::Yes, "yes (in /proc/filesystems)", None)
    } else {
        row(
            "overlayfs",
            Mark::No,
            "not in /proc/filesystems",
            Some("modprobe overlay (lesson 11 needs it)."),
        )
    });
    host.push(match f.seccomp_mode {
        Some(m) => row(
            "seccomp",
            Mark::Yes,
            format!("yes (this process: mode {m}, {})", seccomp_mode_name(m)),
            None,
        ),
        None => row(
            "seccomp",
            Mark::No,
            "the kernel has no seccomp",
            Some("use a kernel built with CONFIG_SECCOMP_FILTER (lesson 15 needs it)."),
        ),
    });

    let builders = f
        .recipes
        .iter()
        .map(|r| match &r.problem {
            None => row(
                &r.name,
                Mark::Yes,
                format!("ready ({} builder)", r.builder),
                None,
            ),
            Some(p) => row(
                &r.name,
                Mark::No,
                format!("not here ({} builder)", r.builder),
                Some(p),
            ),
        })
        .collect();

    let recipe_ok = |name: &str| {
        f.recipes
            .iter()
            .any(|r| r.name == name && r.problem.is_none())
    };
    let mut lesson_rows = Vec::new();
    let mut tour_problems = Vec::new();
    for l in &f.lessons {
        let r = if let Some(b) = &l.broken {
            row(
                &l.id,
                Mark::No,
                "does not load",
                Some(&format!("{b} (fromscratch check names the fix)")),
            )
        } else if l.root && !privileged {
            row(
                &l.id,
                Mark::No,
                "needs root",
                Some(if root {
                    "start the container with --privileged."
                } else {
                    "run as root (sudo)."
                }),
            )
        } else if !l.missing_tools.is_empty() {
            let mut pkgs: Vec<&str> = l.missing_tools.iter().map(|t| package_of(t)).collect();
            pkgs.dedup();
            row(
                &l.id,
                Mark::No,
                format!("missing {}", l.missing_tools.join(", ")),
                Some(&format!("apt install {}", pkgs.join(" "))),
            )
        } else if !recipe_ok(&l.rootfs) {
            row(
                &l.id,
                Mark::No,
                format!("its rootfs `{}` cannot be built here", l.rootfs),
                Some("see the rootfs builders above."),
            )
        } else {
            row(&l.id, Mark::Yes, "runs here", None)
        };
        if TOUR.iter().any(|p| l.id.starts_with(p)) && r.mark == Mark::No {
            tour_problems.push(format!("{} {}", l.id, r.answer));
        }
        lesson_rows.push(r);
    }
    let tour_found = f
        .lessons
        .iter()
        .filter(|l| TOUR.iter().any(|p| l.id.starts_with(p)))
        .count();
    if tour_found < TOUR.len() {
        tour_problems.push(format!(
            "only {tour_found} of lessons 01-04 found in {}",
            crate::paths::lessons_dir().display()
        ));
    }
    if !recipe_ok("host") {
        tour_problems.push("the host rootfs cannot be built".to_string());
    }
    let (summary, exit_code) = if tour_problems.is_empty() {
        (
            "The default tour (lessons 01-04 on the host rootfs) runs here: fromscratch tour"
                .to_string(),
            0,
        )
    } else {
        (
            format!(
                "The default tour (lessons 01-04) cannot run here: {}.",
                tour_problems.join("; ")
            ),
            EXIT_HOST_CANNOT,
        )
    };
    Report {
        sections: vec![
            Section {
                title: "host".to_string(),
                rows: host,
            },
            Section {
                title: "rootfs builders".to_string(),
                rows: builders,
            },
            Section {
                title: "lessons".to_string(),
                rows: lesson_rows,
            },
        ],
        summary,
        exit_code,
    }
}

fn seccomp_mode_name(m: u32) -> &'static str {
    match m {
        0 => "no filter",
        1 => "strict",
        2 => "filtered",
        _ => "unknown",
    }
}

/// Greedy word wrap to `width` columns, the first line starting at column `first` and the
/// next ones indented `indent`; each line ends with a newline.
fn wrap(text: &str, first: usize, indent: usize, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut start = first;
    for word in text.split_whitespace() {
        let room = width.saturating_sub(start).max(20);
        if !line.is_empty() && term::display_width(&line) + 1 + term::display_width(word) > room {
            lines.push(std::mem::take(&mut line));
            start = indent;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Write the report as aligned text, at most 80 columns (less on a narrower terminal):
/// `  LABEL  ✓ answer`, a fix under each no (`→ fix`), coloured only where
/// [`term::init`] turned colour on.
///
/// # Errors
/// Only a failed write.
pub fn print(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let width = term::width().min(80);
    let label_w = report
        .sections
        .iter()
        .flat_map(|s| s.rows.iter())
        .map(|r| term::display_width(&r.label))
        .max()
        .unwrap_or(0)
        .min(24);
    let col = 2 + label_w + 2;
    writeln!(
        out,
        "{}",
        term::title("fromscratch doctor: what this host can do")
    )?;
    for s in &report.sections {
        writeln!(out)?;
        writeln!(out, "{}", term::heading(&s.title))?;
        for r in &s.rows {
            let pad = label_w.saturating_sub(term::display_width(&r.label));
            write!(out, "  {}{}  ", r.label, " ".repeat(pad))?;
            let (sign, paint): (&str, fn(&str) -> String) = match r.mark {
                Mark::Yes => ("✓ ", term::green),
                Mark::No => ("✗ ", term::red),
                Mark::Info => ("· ", term::dim),
            };
            for (i, line) in wrap(&r.answer, col + 2, col + 2, width).iter().enumerate() {
                if i == 0 {
                    writeln!(out, "{}", paint(&format!("{sign}{line}")))?;
                } else {
                    writeln!(out, "{}{line}", " ".repeat(col + 2))?;
                }
            }
            if let Some(fix) = &r.fix {
                for (i, line) in wrap(fix, col + 4, col + 4, width).iter().enumerate() {
                    let lead = if i == 0 { "→ " } else { "  " };
                    writeln!(out, "{}{lead}{line}", " ".repeat(col + 2))?;
                }
            }
        }
    }
    writeln!(out)?;
    for line in wrap(&report.summary, 0, 0, width) {
        writeln!(
            out,
            "{}",
            if report.exit_code == 0 {
                term::green(&line)
            } else {
                term::red(&line)
            }
        )?;
    }
    Ok(())
}

/// `fromscratch doctor [--json]`: gather the facts, print the verdict (as JSON with
/// `json`: `{"facts": …, "report": …}`), and return its exit status.
///
/// # Errors
/// Only a failed write.
pub fn main(json: bool, out: &mut dyn Write) -> anyhow::Result<u8> {
    let facts = Facts::gather();
    let report = verdict(&facts);
    if json {
        let v = serde_json::json!({ "facts": facts, "report": report });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        print(&report, out)?;
    }
    Ok(report.exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host where everything is there, as root.
    fn good() -> Facts {
        let lesson = |id: &str| LessonNeeds {
            id: id.to_string(),
            root: true,
            rootfs: "host".to_string(),
            missing_tools: Vec::new(),
            broken: None,
        };
        Facts {
            euid: 0,
            cap_sys_admin: true,
            userns_clone: None,
            max_user_namespaces: Some("96365\n".to_string()),
            apparmor_restrict: None,
            userns_probe: Probe::Works,
            container: Vec::new(),
            cgroup_kind: "v2".to_string(),
            cgroup_dir: Some(PathBuf::from("/sys/fs/cgroup/user.slice")),
            cgroup_unwritable: Vec::new(),
            overlayfs: true,
            seccomp_mode: Some(0),
            recipes: vec![RecipeFacts {
                name: "host".to_string(),
                builder: "host".to_string(),
                problem: None,
            }],
            lessons: [
                "01-rootfs",
                "02-chroot",
                "03-host-processes",
                "04-pid-namespace",
                "16-pod",
            ]
            .iter()
            .map(|i| lesson(i))
            .collect(),
        }
    }

    fn find<'a>(r: &'a Report, label: &str) -> &'a Row {
        r.sections
            .iter()
            .flat_map(|s| s.rows.iter())
            .find(|row| row.label == label)
            .unwrap_or_else(|| panic!("no row {label}: {r:#?}"))
    }

    #[test]
    fn sysctl_values_parse_trimmed_and_nothing_else() {
        assert_eq!(parse_sysctl("96365\n"), Some(96365));
        assert_eq!(parse_sysctl(" 0 "), Some(0));
        assert_eq!(parse_sysctl("1"), Some(1));
        assert_eq!(parse_sysctl(""), None);
        assert_eq!(parse_sysctl("yes\n"), None);
        assert_eq!(parse_sysctl("-1"), None);
    }

    #[test]
    fn seccomp_and_capeff_come_from_proc_status_lines() {
        let status = "Name:\tx\nCapEff:\t000001ffffffffff\nSeccomp:\t2\nSeccomp_filters:\t1\n";
        assert_eq!(parse_seccomp(status), Some(2));
        assert_eq!(parse_seccomp("Name:\tx\n"), None);
        assert_ne!(parse_cap_eff(status) & (1 << 21), 0);
        assert_eq!(parse_cap_eff("CapEff:\t0000000000000000\n"), 0);
    }

    #[test]
    fn proc_masks_are_mounts_under_proc() {
        let mi = "22 1 0:5 / /proc rw - proc proc rw\n\
                  30 22 0:6 /null /proc/kcore rw - devtmpfs udev rw\n\
                  31 22 0:7 / /proc/acpi ro - tmpfs tmpfs ro\n\
                  32 1 0:8 / /sys rw - sysfs sysfs rw\n";
        assert_eq!(proc_masks(mi), ["/proc/kcore", "/proc/acpi"]);
    }

    #[test]
    fn everything_there_as_root_exits_0_and_every_lesson_runs() {
        let r = verdict(&good());
        assert_eq!(r.exit_code, 0, "{r:#?}");
        assert_eq!(find(&r, "root").mark, Mark::Yes);
        assert_eq!(find(&r, "user namespaces").mark, Mark::Yes);
        assert!(
            find(&r, "user namespaces")
                .answer
                .contains("user.max_user_namespaces = 96365")
        );
        assert_eq!(find(&r, "16-pod").answer, "runs here");
        assert!(r.summary.contains("runs here"), "{}", r.summary);
    }

    #[test]
    fn not_root_makes_root_lessons_need_root_and_exits_3() {
        let mut f = good();
        f.euid = 65534;
        f.cap_sys_admin = false;
        let r = verdict(&f);
        assert_eq!(r.exit_code, EXIT_HOST_CANNOT);
        let root = find(&r, "root");
        assert_eq!(root.mark, Mark::No);
        assert!(
            root.fix
                .as_deref()
                .unwrap()
                .starts_with("run as root (sudo)")
        );
        let l = find(&r, "04-pid-namespace");
        assert_eq!((l.mark, l.answer.as_str()), (Mark::No, "needs root"));
        assert_eq!(l.fix.as_deref(), Some("run as root (sudo)."));
        assert!(
            r.summary.contains("04-pid-namespace needs root"),
            "{}",
            r.summary
        );
        // A lesson that does not need root runs as anyone.
        f.lessons[4].root = false;
        assert_eq!(find(&verdict(&f), "16-pod").mark, Mark::Yes);
    }

    #[test]
    fn root_without_cap_sys_admin_is_told_to_run_privileged() {
        let mut f = good();
        f.cap_sys_admin = false;
        let r = verdict(&f);
        assert_eq!(r.exit_code, EXIT_HOST_CANNOT);
        assert!(
            find(&r, "root")
                .fix
                .as_deref()
                .unwrap()
                .contains("--privileged")
        );
        assert!(
            find(&r, "01-rootfs")
                .fix
                .as_deref()
                .unwrap()
                .contains("--privileged")
        );
    }

    #[test]
    fn each_userns_sysctl_that_says_no_names_its_own_fix() {
        let mut f = good();
        f.max_user_namespaces = Some("0\n".to_string());
        let u = verdict(&f);
        let u = find(&u, "user namespaces");
        assert_eq!(u.mark, Mark::No);
        assert_eq!(
            u.fix.as_deref(),
            Some("sysctl -w user.max_user_namespaces=15000")
        );

        let mut f = good();
        f.euid = 1000;
        f.userns_clone = Some("0\n".to_string());
        let r = verdict(&f);
        assert_eq!(
            find(&r, "user namespaces").fix.as_deref(),
            Some("sysctl -w kernel.unprivileged_userns_clone=1")
        );

        let mut f = good();
        f.euid = 1000;
        f.apparmor_restrict = Some("1\n".to_string());
        f.userns_probe = Probe::UidMapFailed("EPERM".to_string());
        let r = verdict(&f);
        let u = find(&r, "user namespaces");
        assert!(
            u.answer.contains("writing uid_map fails with EPERM"),
            "{}",
            u.answer
        );
        assert_eq!(
            u.fix.as_deref(),
            Some("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0")
        );

        let mut f = good();
        f.userns_probe = Probe::UnshareFailed("ENOSPC".to_string());
        let r = verdict(&f);
        assert_eq!(
            find(&r, "user namespaces").fix.as_deref(),
            Some("sysctl -w user.max_user_namespaces=15000")
        );
        // User namespaces are not part of the default tour.
        assert_eq!(r.exit_code, 0);
    }

    #[test]
    fn missing_tools_name_the_package_and_fail_the_tour_only_for_01_to_04() {
        let mut f = good();
        f.lessons[4].missing_tools = vec!["ip".to_string(), "ss".to_string()];
        let r = verdict(&f);
        let l = find(&r, "16-pod");
        assert_eq!(l.answer, "missing ip, ss");
        assert_eq!(l.fix.as_deref(), Some("apt install iproute2"));
        assert_eq!(r.exit_code, 0);
        f.lessons[3].missing_tools = vec!["unshare".to_string()];
        let r = verdict(&f);
        assert_eq!(r.exit_code, EXIT_HOST_CANNOT);
        assert_eq!(
            find(&r, "04-pid-namespace").fix.as_deref(),
            Some("apt install util-linux")
        );
    }

    #[test]
    fn an_unbuildable_host_rootfs_or_a_missing_tour_lesson_fails_the_tour() {
        let mut f = good();
        f.recipes[0].problem = Some("cannot".to_string());
        let r = verdict(&f);
        assert_eq!(r.exit_code, EXIT_HOST_CANNOT);
        assert_eq!(find(&r, "host").mark, Mark::No);
        assert!(find(&r, "01-rootfs").answer.contains("rootfs `host`"));

        let mut f = good();
        f.lessons.remove(0);
        let r = verdict(&f);
        assert_eq!(r.exit_code, EXIT_HOST_CANNOT);
        assert!(
            r.summary.contains("only 3 of lessons 01-04"),
            "{}",
            r.summary
        );
    }

    #[test]
    fn unwritable_cgroup_and_missing_overlay_or_seccomp_are_noes_with_fixes() {
        let mut f = good();
        f.cgroup_unwritable = vec!["cgroup.procs: EROFS".to_string()];
        f.overlayfs = false;
        f.seccomp_mode = None;
        let r = verdict(&f);
        assert!(
            find(&r, "cgroup subtree")
                .fix
                .as_deref()
                .unwrap()
                .contains("read-write")
        );
        assert_eq!(
            find(&r, "overlayfs").fix.as_deref(),
            Some("modprobe overlay (lesson 11 needs it).")
        );
        assert_eq!(find(&r, "seccomp").mark, Mark::No);
        assert_eq!(r.exit_code, 0, "none of these is needed by lessons 01-04");
    }

    #[test]
    fn printed_lines_fit_80_columns_and_align() {
        let mut f = good();
        f.euid = 65534;
        f.cap_sys_admin = false;
        f.recipes[0].problem = Some("a long message ".repeat(20));
        let mut out = Vec::new();
        print(&verdict(&f), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            assert!(term::display_width(line) <= 80, "too wide: {line:?}");
        }
        // The answers start in one column: after the widest label and two spaces.
        let col = |label: &str| {
            let line = text
                .lines()
                .find(|l| l.starts_with(&format!("  {label} ")))
                .unwrap();
            line.find(['✓', '✗', '·']).unwrap()
        };
        assert_eq!(col("04-pid-namespace"), col("03-host-processes"));
        assert_eq!(col("root"), col("03-host-processes"));
        assert!(text.contains("04-pid-namespace   ✗ needs root\n"), "{text}");
        assert!(text.contains("→ run as root (sudo)."), "{text}");
    }
}
