//! `fromscratch doctor`: one screen that says what this host can do, and which lessons
//! will run here.
//!
//! Two halves, so the verdict is testable without changing the host:
//!
//! - [`Facts::gather`] reads the host, and changes nothing on it: the euid and
//!   `CapEff` (credentials(7), proc(5)); the user-namespace sysctls
//!   (`kernel.unprivileged_userns_clone`, Debian's; `user.max_user_namespaces`,
//!   user_namespaces(7); `kernel.apparmor_restrict_unprivileged_userns`, Ubuntu's, when
//!   the file exists) and a real probe, a forked single-threaded child that calls
//!   unshare(2) with `CLONE_NEWUSER`, writes its own uid_map and then unshares a mount
//!   namespace inside (what AppArmor's restriction forbids); container marks
//!   (`/.dockerenv`, `/run/.containerenv`, /proc/1/cgroup, `container=` in PID 1's
//!   environment, `systemd-detect-virt --container`, mounts masking paths under /proc);
//!   the cgroup layout ([`Layout`]) and whether this user may write the cgroups the
//!   runtime would make its own in ([`LabCgroups::plan`]; access(2) with `W_OK`);
//!   overlayfs in /proc/filesystems; seccomp from the `Seccomp:` line of
//!   /proc/self/status (proc(5)); each rootfs recipe's builder preflight
//!   ([`crate::rootfs::preflight`]) and whether it is in the cache; each lesson's
//!   `[requires]`.
//! - [`verdict`] turns [`Facts`] into [`Report`]: rows of label, answer and, for each
//!   "no", the fix in one sentence; the fixes folded, each said once with what it
//!   unlocks; and the exit status: 0 when the default tour (lessons 01-04 on the `host`
//!   rootfs) can run, [`EXIT_HOST_CANNOT`] (3) otherwise.
//!
//! [`print`] shows it on one screen: lessons grouped by answer, each fix once, numbered,
//! with the rows it unlocks; `--verbose` shows every row with its fix and the builders'
//! full messages.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::EXIT_HOST_CANNOT;
use crate::rootfs::{Builder, DebianTool, Recipe, RootfsError};
use crate::runtime::cgroup::{LabCgroups, Layout, Membership};
use crate::term;

/// The lessons of the default tour (`fromscratch tour`): their id prefixes.
pub const TOUR: [&str; 4] = ["01-", "02-", "03-", "04-"];

/// The fix for what needs root, when this is not root.
const FIX_ROOT: &str = "run as root (sudo).";
/// The fix for what needs root, when this is root without `CAP_SYS_ADMIN`.
const FIX_PRIVILEGED: &str = "start the container with --privileged (or --cap-add SYS_ADMIN).";
/// The fix for a fresh /proc refused in a user namespace because paths under /proc are
/// masked (proc(5): the kernel mounts one only where the existing one is fully visible).
const FIX_PROC_MASKED: &str =
    "run as root, or start the container with --security-opt systempaths=unconfined.";

/// What the probe child got from unshare(2), the uid_map write and the namespace inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Probe {
    /// unshare(CLONE_NEWUSER), writing `/proc/self/uid_map` and unshare(CLONE_NEWNS)
    /// inside the new namespace all worked.
    Works,
    /// unshare(2) failed with this errno name (`EPERM`, `ENOSPC`, `EINVAL`).
    UnshareFailed(String),
    /// unshare(2) worked but writing uid_map failed with this errno name.
    UidMapFailed(String),
    /// The user namespace was made and mapped, but unshare(CLONE_NEWNS) inside it failed
    /// with this errno name: it grants no capabilities (AppArmor's restriction on Ubuntu
    /// 24.04 shows as `EPERM` here).
    InsideFailed(String),
    /// The probe could not be run (fork failed, or the child died oddly).
    NotRun(String),
}

/// One lesson's needs, from its `[requires]` and its steps.
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
    /// Some step or container of the lesson sets `mount_proc = true`: it mounts a fresh
    /// /proc, which a user namespace may not do while paths under /proc are masked.
    pub mounts_proc: bool,
    /// Set when the lesson file does not load: the loader's message.
    pub broken: Option<String>,
}

/// One rootfs recipe: what its builder's preflight found, and whether it is built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipeFacts {
    /// The recipe name (`debian`).
    pub name: String,
    /// The builder kind (`host`, `debian`, `dnf`, `busybox`…).
    pub builder: String,
    /// What the builder runs or reads, as found here: `mmdebstrap`, `debootstrap`,
    /// `dnf` (when on `PATH` or in the sbin directories), the busybox or archive path;
    /// `None` for `host`, which needs nothing, and for a tool that is not installed.
    pub tool: Option<String>,
    /// A tree for this recipe's current hash is in the cache (`<name>-<hash>/` with its
    /// metadata file).
    pub built: bool,
    /// `None` when the preflight passes; otherwise its full message (it names its fix).
    pub problem: Option<String>,
    /// The preflight's refusal, short ([`blocker`]); `None` when it passes.
    pub blocker: Option<Blocker>,
}

/// A builder preflight's refusal, short.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocker {
    /// What was found and what is missing (`dnf found; building needs root`).
    pub answer: String,
    /// The fix, one sentence (`run as root (sudo).`).
    pub fix: String,
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
    /// The raw text of /proc/sys/kernel/apparmor_restrict_unprivileged_userns, if the
    /// file exists (only on kernels with Ubuntu's AppArmor patches).
    pub apparmor_restrict: Option<String>,
    /// The real probe: unshare(CLONE_NEWUSER) in a forked child.
    pub userns_probe: Probe,
    /// Signs of a container, each a short phrase (`/.dockerenv exists`); empty on a bare
    /// host.
    pub container: Vec<String>,
    /// Mount points under /proc other than /proc itself ([`proc_masks`]).
    pub proc_masks: Vec<String>,
    /// `v1`, `v2`, `hybrid` or `none` ([`Layout::kind`]).
    pub cgroup_kind: String,
    /// The cgroups the runtime would make its `fromscratch-PID` directory in, one per
    /// hierarchy it uses ([`LabCgroups::plan`] for this process); empty when it has none.
    pub cgroup_parents: Vec<PathBuf>,
    /// Files and directories of [`Facts::cgroup_parents`] this user may not write, each
    /// `PATH: ERRNO` (`/sys/fs/cgroup/cgroup.procs: EACCES`); empty when the subtree is
    /// writable.
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
    /// Neither: a fact worth knowing (the cgroup layout, a container, not root).
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
    /// More, shown only with `--verbose`: the full message a check gave.
    pub detail: Option<String>,
}

/// A titled group of rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// `host`, `rootfs builders`, `lessons`.
    pub title: String,
    /// Its rows.
    pub rows: Vec<Row>,
}

/// One fix, said once, and the rows whose "no" it turns into a yes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// The fix, one sentence, as in [`Row::fix`].
    pub fix: String,
    /// Labels of the host rows that carry it (`cgroup subtree`).
    pub host: Vec<String>,
    /// Names of the recipes that carry it.
    pub recipes: Vec<String>,
    /// Ids of the lessons that carry it.
    pub lessons: Vec<String>,
}

/// The doctor's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The sections, in the order shown.
    pub sections: Vec<Section>,
    /// Every distinct fix of the rows, in the order first met.
    pub fixes: Vec<Fix>,
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
    /// --container` if installed, runs each recipe's preflight (which may run
    /// `unshare --user true`), calls access(2), and forks one child that makes a user
    /// namespace and a mount namespace of its own and exits.
    #[must_use]
    pub fn gather() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let status = read("/proc/self/status").unwrap_or_default();
        let mountinfo = read("/proc/self/mountinfo").unwrap_or_default();
        let layout = Layout::parse(&mountinfo);
        let (cgroup_parents, cgroup_unwritable) = delegated(&layout);
        Self {
            euid: nix::unistd::geteuid().as_raw(),
            cap_sys_admin: parse_cap_eff(&status) & (1 << 21) != 0,
            userns_clone: read("/proc/sys/kernel/unprivileged_userns_clone"),
            max_user_namespaces: read("/proc/sys/user/max_user_namespaces"),
            apparmor_restrict: read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
            userns_probe: probe_userns(),
            container: container_signs(),
            proc_masks: proc_masks(&mountinfo),
            cgroup_kind: layout.kind().to_string(),
            cgroup_parents,
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

/// Fork a child that calls unshare(CLONE_NEWUSER), writes `0 EUID 1` to its own uid_map
/// (user_namespaces(7)) and unshares a mount namespace inside; it exits with 0, the
/// unshare errno, 100 + the uid_map errno, or 200 + the inner unshare's errno. The
/// namespaces die with the child: the host is untouched.
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
            use nix::sched::{CloneFlags, unshare};
            let code = match unshare(CloneFlags::CLONE_NEWUSER) {
                Err(e) => e as i32,
                Ok(()) => match nix::fcntl::open(
                    c"/proc/self/uid_map",
                    nix::fcntl::OFlag::O_WRONLY,
                    nix::sys::stat::Mode::empty(),
                ) {
                    Err(e) => 100 + e as i32,
                    Ok(fd) => match nix::unistd::write(&fd, map.as_bytes()) {
                        Err(e) => 100 + e as i32,
                        Ok(_) => match unshare(CloneFlags::CLONE_NEWNS) {
                            Err(e) => 200 + e as i32,
                            Ok(()) => 0,
                        },
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
            Ok(WaitStatus::Exited(_, c)) if c >= 200 => {
                Probe::InsideFailed(format!("{:?}", nix::errno::Errno::from_raw(c - 200)))
            }
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

/// Signs that this process runs in a container (the /proc masks are a fact of their
/// own, [`Facts::proc_masks`]).
fn container_signs() -> Vec<String> {
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
    // systemd-nspawn, LXC and podman set `container=` for PID 1 (readable by root only).
    if let Ok(env) = std::fs::read("/proc/1/environ")
        && let Some(v) = env
            .split(|b| *b == 0)
            .find_map(|kv| kv.strip_prefix(b"container="))
    {
        out.push(format!(
            "PID 1 has container={}",
            String::from_utf8_lossy(v)
        ));
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
    out
}

/// The cgroups the runtime would make its directory in ([`LabCgroups::plan`] for this
/// process, which reads and writes nothing but the cgroup files it looks at), and what
/// of them this user may not write (access(2), `W_OK`): the directory itself (mkdir),
/// and on v2 its `cgroup.procs` (moving a process needs write access to the common
/// ancestor's, cgroups(7) "Cgroups v2 delegation") and, when the runtime enables a
/// controller there, its `cgroup.subtree_control`.
fn delegated(layout: &Layout) -> (Vec<PathBuf>, Vec<String>) {
    let Ok(plan) = LabCgroups::plan(layout, &Membership::of("self"), std::process::id()) else {
        return (Vec::new(), Vec::new());
    };
    let mut parents = Vec::new();
    let mut bad = Vec::new();
    for h in &plan.hierarchies {
        let mut paths = vec![h.parent.clone()];
        if h.v2 {
            paths.push(h.parent.join("cgroup.procs"));
            if !h.enable.is_empty() {
                paths.push(h.parent.join("cgroup.subtree_control"));
            }
        }
        for p in paths {
            if let Err(e) = nix::unistd::access(&p, nix::unistd::AccessFlags::W_OK) {
                bad.push(format!("{}: {e:?}", p.display()));
            }
        }
        parents.push(h.parent.clone());
    }
    (parents, bad)
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
            Ok(r) => {
                let tool = tool_of(&r);
                let err = crate::rootfs::preflight(&r).err();
                RecipeFacts {
                    name: r.name.clone(),
                    builder: r.builder.kind().to_string(),
                    built: is_built(&r),
                    problem: err.as_ref().map(ToString::to_string),
                    blocker: err.as_ref().map(|e| blocker(e, tool.as_deref())),
                    tool,
                }
            }
            Err(e) => RecipeFacts {
                name: f
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                builder: "?".to_string(),
                tool: None,
                built: false,
                blocker: Some(Blocker {
                    answer: "the recipe does not load".to_string(),
                    fix: format!("{e}."),
                }),
                problem: Some(e.to_string()),
            },
        })
        .collect()
}

/// What the recipe's builder runs or reads, if it is here: the tool found on `PATH`
/// plus the sbin directories (where sudo's `PATH` may not look), or the input file.
fn tool_of(recipe: &Recipe) -> Option<String> {
    let find = |t: &str| {
        let mut path = std::env::var("PATH").unwrap_or_default();
        path.push_str(":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        which::which_in(t, Some(path), "/")
            .ok()
            .map(|_| t.to_string())
    };
    match &recipe.builder {
        Builder::Host(_) => None,
        Builder::Debian(p) => match p.tool {
            DebianTool::Auto => find("mmdebstrap").or_else(|| find("debootstrap")),
            t => find(t.as_str()),
        },
        Builder::Dnf(_) => find("dnf"),
        Builder::Busybox(p) => p.busybox.exists().then(|| p.busybox.display().to_string()),
        Builder::OciArchive(p) | Builder::DockerArchive(p) => {
            p.archive.exists().then(|| p.archive.display().to_string())
        }
    }
}

/// The cache holds a tree for the recipe's current hash: `<cache>/rootfs/<name>-<hash>/`
/// is a directory and `<name>-<hash>.json` names that hash (what `rootfs build` checks
/// before building; read here, the cache is not swept).
fn is_built(recipe: &Recipe) -> bool {
    let hash = crate::rootfs::recipe_hash(recipe);
    let root = crate::paths::cache_dir().join("rootfs");
    let entry = format!("{}-{hash}", recipe.name);
    let tree = std::fs::symlink_metadata(root.join(&entry)).is_ok_and(|m| m.is_dir());
    tree && std::fs::read_to_string(root.join(format!("{entry}.json")))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["hash"] == hash.as_str())
}

/// A preflight's refusal, short: (what is missing, the fix in one sentence). `tool` is
/// what [`tool_of`] found. Refusals without a short form keep their message, which
/// names its own fix.
#[must_use]
pub fn blocker(e: &RootfsError, tool: Option<&str>) -> Blocker {
    let found = tool.map_or_else(String::new, |t| format!("{t} found; "));
    let (answer, fix) = match e {
        RootfsError::NotRoot { .. } => (format!("{found}building needs root"), FIX_ROOT.into()),
        RootfsError::ToolMissing { tool, package } => (
            format!(
                "{} not installed",
                tool.split(" (").next().unwrap_or(tool.as_str())
            ),
            format!("apt install {package}."),
        ),
        RootfsError::NoSubordinateIds { user, range, .. } => (
            format!("{found}unshare mode needs /etc/subuid and /etc/subgid ranges for {user}"),
            format!("usermod --add-subuids {range} --add-subgids {range} {user} (as root)."),
        ),
        RootfsError::UserNamespacesRefused { reason, fix } => (
            format!("{found}unshare mode refused: {reason}"),
            format!("{fix}."),
        ),
        RootfsError::KeyringMissing { path } => (
            format!("{found}no keyring at {}", path.display()),
            "apt install debian-archive-keyring.".into(),
        ),
        RootfsError::BusyboxNotStatic { path, .. } => (
            format!("{} is dynamically linked", path.display()),
            "apt install busybox-static.".into(),
        ),
        RootfsError::ArchiveMissing { path } => (
            format!("no archive at {}", path.display()),
            "write it with docker save -o FILE IMAGE.".into(),
        ),
        other => (format!("{found}preflight refused"), format!("{other}.")),
    };
    Blocker { answer, fix }
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
                    mounts_proc: std::fs::read_to_string(f)
                        .ok()
                        .and_then(|t| t.parse::<toml::Table>().ok())
                        .is_some_and(|t| sets_true(&toml::Value::Table(t), "mount_proc")),
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
                mounts_proc: false,
                broken: Some(e.to_string()),
            },
        })
        .collect()
}

/// Some table anywhere in `v` has `key = true`.
fn sets_true(v: &toml::Value, key: &str) -> bool {
    match v {
        toml::Value::Table(t) => t
            .iter()
            .any(|(k, v)| (k == key && v.as_bool() == Some(true)) || sets_true(v, key)),
        toml::Value::Array(a) => a.iter().any(|v| sets_true(v, key)),
        _ => false,
    }
}

fn row(label: &str, mark: Mark, answer: impl Into<String>, fix: Option<&str>) -> Row {
    Row {
        label: label.to_string(),
        mark,
        answer: answer.into(),
        fix: fix.map(str::to_string),
        detail: None,
    }
}

/// The user-namespace row: the sysctls first (each one that says no is the fix), then
/// the probe.
fn userns_row(f: &Facts, root: bool) -> Row {
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
    let apparmor_fix = "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0";
    let label = "user namespaces";
    if max == Some(0) {
        return row(
            label,
            Mark::No,
            "off: user.max_user_namespaces = 0",
            Some("sysctl -w user.max_user_namespaces=15000"),
        );
    }
    if clone == Some(0) && !root {
        return row(
            label,
            Mark::No,
            "off for unprivileged users: kernel.unprivileged_userns_clone = 0",
            Some("sysctl -w kernel.unprivileged_userns_clone=1"),
        );
    }
    match &f.userns_probe {
        Probe::Works => row(
            label,
            Mark::Yes,
            format!(
                "allowed: unshare(CLONE_NEWUSER), its uid_map and a mount namespace in it work{}",
                if basis.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", basis.join(", "))
                }
            ),
            None,
        ),
        Probe::UnshareFailed(e) => row(
            label,
            Mark::No,
            format!("unshare(CLONE_NEWUSER) fails with {e}"),
            Some(if e == "ENOSPC" {
                "sysctl -w user.max_user_namespaces=15000"
            } else if apparmor == Some(1) {
                apparmor_fix
            } else {
                "allow user namespaces: in a container, run it with --privileged or a seccomp profile that allows unshare."
            }),
        ),
        Probe::UidMapFailed(e) => row(
            label,
            Mark::No,
            format!("unshare(CLONE_NEWUSER) works but writing uid_map fails with {e}"),
            Some(if apparmor == Some(1) {
                apparmor_fix
            } else {
                "allow uid_map writes: in a container, run it with --privileged."
            }),
        ),
        Probe::InsideFailed(e) if apparmor == Some(1) => row(
            label,
            Mark::No,
            format!(
                "restricted by AppArmor: kernel.apparmor_restrict_unprivileged_userns = 1 (unshare(CLONE_NEWNS) inside fails with {e})"
            ),
            Some(
                "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or give fromscratch an AppArmor profile with `userns,`).",
            ),
        ),
        Probe::InsideFailed(e) => row(
            label,
            Mark::No,
            format!("made and mapped, but unshare(CLONE_NEWNS) inside fails with {e}"),
            Some("allow namespaces in user namespaces: in a container, run it with --privileged."),
        ),
        Probe::NotRun(why) => row(label, Mark::Info, format!("not probed: {why}"), None),
    }
}

/// The host rows: root, user namespaces, container, cgroups, overlayfs, seccomp.
fn host_rows(f: &Facts, root: bool) -> Vec<Row> {
    let mut host = Vec::new();
    host.push(match (root, f.cap_sys_admin) {
        (true, true) => row("root", Mark::Yes, "yes (uid 0, CAP_SYS_ADMIN)", None),
        (true, false) => row(
            "root",
            Mark::No,
            "uid 0 but without CAP_SYS_ADMIN",
            Some(FIX_PRIVILEGED),
        ),
        (false, _) => row(
            "root",
            Mark::Info,
            format!("no, uid {}: lessons with root = false run rootless", f.euid),
            None,
        ),
    });
    host.push(userns_row(f, root));
    let mut signs = f.container.clone();
    if !f.proc_masks.is_empty() {
        signs.push(format!(
            "{} mounts mask paths under /proc",
            f.proc_masks.len()
        ));
    }
    host.push(if signs.is_empty() {
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
            format!("yes: {}", signs.join(", ")),
            None,
        )
    });
    if !root && !f.proc_masks.is_empty() {
        let mut r = row(
            "new /proc",
            Mark::No,
            format!(
                "refused in a user namespace: {} paths under /proc are masked",
                f.proc_masks.len()
            ),
            Some(FIX_PROC_MASKED),
        );
        r.detail = Some(f.proc_masks.join(", "));
        host.push(r);
    }
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
    // Lesson 17 uses runc; crun, the other common OCI runtime, refuses this layout. Said
    // to root only: lesson 17 needs root, and a user's screen has no line to spare.
    if f.euid == 0 && crate::lab::oci::crun_problem(&f.cgroup_kind).is_some() {
        host.push(row(
            "crun",
            Mark::Info,
            "refuses a hybrid cgroup host: lesson 17 uses runc",
            None,
        ));
    }
    if !f.cgroup_parents.is_empty() {
        let n = f.cgroup_parents.len();
        let where_ = if n == 1 {
            "1 hierarchy".to_string()
        } else {
            format!("{n} hierarchies")
        };
        host.push(if f.cgroup_unwritable.is_empty() {
            let mut r = row(
                "cgroup subtree",
                Mark::Yes,
                format!("writable by uid {} (in {where_})", f.euid),
                None,
            );
            r.detail = Some(
                f.cgroup_parents
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            r
        } else {
            let mut errnos: Vec<&str> = f
                .cgroup_unwritable
                .iter()
                .filter_map(|u| u.rsplit(": ").next())
                .collect();
            errnos.sort_unstable();
            errnos.dedup();
            let mut r = row(
                "cgroup subtree",
                Mark::No,
                format!(
                    "not writable by uid {} ({} in {where_})",
                    f.euid,
                    errnos.join(", ")
                ),
                Some(if root {
                    "mount /sys/fs/cgroup read-write (a container: --privileged or --cgroupns=private)."
                } else {
                    "run as root (sudo), or in a delegated scope: systemd-run --user --scope -p Delegate=yes."
                }),
            );
            r.detail = Some(f.cgroup_unwritable.join(", "));
            r
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
    host
}

/// A recipe's row: what its preflight found or refused, and whether it is built. A
/// passing preflight promises nothing about the build (the network, the mirror, the
/// packages' scripts): the row says what was checked.
fn recipe_row(r: &RecipeFacts) -> Row {
    let state = if r.built {
        "built (in the cache)"
    } else {
        "not built yet"
    };
    match &r.blocker {
        None => {
            let found = match (r.builder.as_str(), &r.tool) {
                ("host", _) => "copies this host's programs".to_string(),
                ("busybox", Some(t)) => format!("static {t} found"),
                (_, Some(t)) => format!("{t} found"),
                (_, None) => "preflight passed".to_string(),
            };
            row(&r.name, Mark::Yes, format!("{found}; {state}"), None)
        }
        Some(b) => {
            // What is already cached still runs, even where it could not be built.
            let answer = if r.built {
                format!("{} (a built tree is cached)", b.answer)
            } else {
                b.answer.clone()
            };
            let mut row = row(&r.name, Mark::No, answer, Some(&b.fix));
            row.detail.clone_from(&r.problem);
            row
        }
    }
}

/// The verdict: rows for the host, the rootfs builders and the lessons, the fixes
/// folded, a summary line and the exit status (0 when lessons 01-04 and the `host`
/// recipe they use can run here, [`EXIT_HOST_CANNOT`] otherwise).
#[must_use]
pub fn verdict(f: &Facts) -> Report {
    let root = f.euid == 0;
    // Root in a container without CAP_SYS_ADMIN cannot make namespaces or mounts.
    let privileged = root && f.cap_sys_admin;
    let host = host_rows(f, root);
    let userns = host
        .iter()
        .find(|r| r.label == "user namespaces")
        .filter(|r| r.mark == Mark::No);
    let builders: Vec<Row> = f.recipes.iter().map(recipe_row).collect();

    let recipe = |name: &str| f.recipes.iter().find(|r| r.name == name);
    let recipe_ok = |name: &str| recipe(name).is_some_and(|r| r.blocker.is_none() || r.built);
    let mut lesson_rows = Vec::new();
    let mut tour_problems = Vec::new();
    for l in &f.lessons {
        let r = if let Some(b) = &l.broken {
            let mut r = row(
                &l.id,
                Mark::No,
                "does not load",
                Some("fix the lesson file: fromscratch check names what is wrong."),
            );
            r.detail = Some(b.clone());
            r
        } else if l.root && !privileged {
            row(
                &l.id,
                Mark::No,
                "needs root",
                Some(if root { FIX_PRIVILEGED } else { FIX_ROOT }),
            )
        } else if !root && let Some(u) = userns {
            row(&l.id, Mark::No, "needs user namespaces", u.fix.as_deref())
        } else if !root && l.mounts_proc && !f.proc_masks.is_empty() {
            row(
                &l.id,
                Mark::No,
                "mounts a new /proc, refused here without root",
                Some(FIX_PROC_MASKED),
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
            let fix = recipe(&l.rootfs)
                .and_then(|r| r.blocker.as_ref())
                .map_or_else(
                    || format!("add the recipe {}.toml to rootfs-recipes/.", l.rootfs),
                    |b| b.fix.clone(),
                );
            row(
                &l.id,
                Mark::No,
                format!("its rootfs `{}` cannot be built here", l.rootfs),
                Some(&fix),
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
    let sections = vec![
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
    ];
    Report {
        fixes: fold(&sections),
        sections,
        summary,
        exit_code,
    }
}

/// Every distinct fix of the rows, in the order first met, with the rows that carry it.
fn fold(sections: &[Section]) -> Vec<Fix> {
    let mut fixes: Vec<Fix> = Vec::new();
    for (s, section) in sections.iter().enumerate() {
        for r in &section.rows {
            let Some(text) = &r.fix else { continue };
            let i = fixes
                .iter()
                .position(|x| &x.fix == text)
                .unwrap_or_else(|| {
                    fixes.push(Fix {
                        fix: text.clone(),
                        host: Vec::new(),
                        recipes: Vec::new(),
                        lessons: Vec::new(),
                    });
                    fixes.len() - 1
                });
            let into = match s {
                0 => &mut fixes[i].host,
                1 => &mut fixes[i].recipes,
                _ => &mut fixes[i].lessons,
            };
            into.push(r.label.clone());
        }
    }
    fixes
}

fn seccomp_mode_name(m: u32) -> &'static str {
    match m {
        0 => "no filter",
        1 => "strict",
        2 => "filtered",
        _ => "unknown",
    }
}

/// Lesson ids, short: their number prefixes, runs of consecutive numbers as ranges
/// (`03, 05-16`); an id without a number prefix stays whole.
#[must_use]
pub fn short_ids(ids: &[String]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(u32, u32, usize)> = None; // first, last, digits
    let flush = |run: &mut Option<(u32, u32, usize)>, parts: &mut Vec<String>| {
        if let Some((a, b, w)) = run.take() {
            parts.push(if a == b {
                format!("{a:0w$}")
            } else {
                format!("{a:0w$}-{b:0w$}")
            });
        }
    };
    for id in ids {
        let digits = id.split('-').next().unwrap_or("");
        match digits.parse::<u32>() {
            Ok(n) if !digits.is_empty() => match &mut run {
                Some((_, last, _)) if *last + 1 == n => *last = n,
                _ => {
                    flush(&mut run, &mut parts);
                    run = Some((n, n, digits.len()));
                }
            },
            _ => {
                flush(&mut run, &mut parts);
                parts.push(id.clone());
            }
        }
    }
    flush(&mut run, &mut parts);
    parts.join(", ")
}

/// What a fix unlocks, as a phrase: `lessons 03, 05-16; recipes fedora`.
fn unlocks(fix: &Fix) -> String {
    let mut parts = Vec::new();
    if !fix.lessons.is_empty() {
        let noun = if fix.lessons.len() == 1 {
            "lesson"
        } else {
            "lessons"
        };
        parts.push(format!("{noun} {}", short_ids(&fix.lessons)));
    }
    if !fix.recipes.is_empty() {
        let noun = if fix.recipes.len() == 1 {
            "recipe"
        } else {
            "recipes"
        };
        parts.push(format!("{noun} {}", fix.recipes.join(", ")));
    }
    if parts.is_empty() {
        parts.push(fix.host.join(", "));
    }
    parts.join("; ")
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

/// Text as it is (for [`write_wrapped`]'s paint).
fn plain(s: &str) -> String {
    s.to_string()
}

/// The sign and colour of a mark.
fn sign(mark: Mark) -> (&'static str, fn(&str) -> String) {
    match mark {
        Mark::Yes => ("✓ ", term::green),
        Mark::No => ("✗ ", term::red),
        Mark::Info => ("· ", term::dim),
    }
}

/// Write `text` wrapped: the first line at column `col` (the caller wrote what comes
/// before it), painted; the next lines indented to `indent`.
fn write_wrapped(
    out: &mut dyn Write,
    text: &str,
    col: usize,
    indent: usize,
    width: usize,
    paint: fn(&str) -> String,
) -> std::io::Result<()> {
    for (i, line) in wrap(text, col, indent, width).iter().enumerate() {
        if i == 0 {
            writeln!(out, "{}", paint(line))?;
        } else {
            writeln!(out, "{}{line}", " ".repeat(indent))?;
        }
    }
    Ok(())
}

/// Write the report as aligned text, at most 80 columns (less on a narrower terminal),
/// coloured only where [`term::init`] turned colour on.
///
/// The default is one screen: host and builder rows (`  LABEL  ✓ answer`, a no ending
/// in `[N]`, the number of its fix), the lessons grouped by answer, then each fix once,
/// numbered, with what it unlocks. With `verbose`, every row is on a line of its own
/// with its fix under it (`→ fix`) and the full message of a check under that.
///
/// # Errors
/// Only a failed write.
pub fn print(report: &Report, verbose: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let width = term::width().min(80);
    let shown = |s: &Section| verbose || s.title != "lessons";
    let label_w = report
        .sections
        .iter()
        .filter(|s| shown(s))
        .flat_map(|s| s.rows.iter())
        .map(|r| term::display_width(&r.label))
        .max()
        .unwrap_or(0)
        .min(24);
    let col = 2 + label_w + 2;
    let number = |fix: &Option<String>| {
        fix.as_ref()
            .and_then(|t| report.fixes.iter().position(|x| &x.fix == t))
            .map_or_else(String::new, |i| format!(" [{}]", i + 1))
    };
    let title = if verbose {
        "fromscratch doctor: what this host can do"
    } else {
        "fromscratch doctor: what this host can do (more: --verbose)"
    };
    writeln!(out, "{}", term::title(title))?;
    for s in &report.sections {
        writeln!(out)?;
        writeln!(out, "{}", term::heading(&s.title))?;
        if !shown(s) {
            // Lessons grouped by what the doctor says of them, in the order first met.
            let mut groups: Vec<(&Row, Vec<&str>)> = Vec::new();
            for r in &s.rows {
                match groups
                    .iter_mut()
                    .find(|(g, _)| g.mark == r.mark && g.answer == r.answer && g.fix == r.fix)
                {
                    Some((_, ids)) => ids.push(&r.label),
                    None => groups.push((r, vec![&r.label])),
                }
            }
            for (r, ids) in groups {
                let (sign, paint) = sign(r.mark);
                let head = format!("{sign}{}{} ({}):", r.answer, number(&r.fix), ids.len());
                write!(out, "  {}", paint(&head))?;
                let first = 2 + term::display_width(&head) + 1;
                let lines = wrap(&ids.join(" "), first, 4, width);
                for (i, line) in lines.iter().enumerate() {
                    if i == 0 && first + term::display_width(line) <= width {
                        writeln!(out, " {line}")?;
                    } else {
                        if i == 0 {
                            writeln!(out)?;
                        }
                        writeln!(out, "    {line}")?;
                    }
                }
            }
            continue;
        }
        for r in &s.rows {
            let pad = label_w.saturating_sub(term::display_width(&r.label));
            write!(out, "  {}{}  ", r.label, " ".repeat(pad))?;
            let (sign, paint) = sign(r.mark);
            let answer = if verbose {
                format!("{sign}{}", r.answer)
            } else {
                format!("{sign}{}{}", r.answer, number(&r.fix))
            };
            write_wrapped(out, &answer, col, col + 2, width, paint)?;
            if !verbose {
                continue;
            }
            if let Some(fix) = &r.fix {
                write!(out, "{}→ ", " ".repeat(col + 2))?;
                write_wrapped(out, fix, col + 4, col + 4, width, plain)?;
            }
            if let Some(detail) = &r.detail {
                write!(out, "{}", " ".repeat(col + 4))?;
                write_wrapped(out, detail, col + 4, col + 4, width, term::dim)?;
            }
        }
    }
    if !verbose && !report.fixes.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", term::heading("fixes"))?;
        for (i, fix) in report.fixes.iter().enumerate() {
            let n = format!("[{}] ", i + 1);
            write!(out, "  {n}")?;
            let indent = 2 + n.len();
            write_wrapped(out, &fix.fix, indent, indent, width, plain)?;
            write!(out, "{}", " ".repeat(indent))?;
            write_wrapped(
                out,
                &format!("unlocks: {}", unlocks(fix)),
                indent,
                indent,
                width,
                term::dim,
            )?;
        }
    }
    writeln!(out)?;
    let paint = if report.exit_code == 0 {
        term::green
    } else {
        term::red
    };
    write_wrapped(out, &report.summary, 0, 0, width, paint)
}

/// `fromscratch doctor [--verbose] [--json]`: gather the facts, print the verdict (as
/// JSON with `json`: `{"facts": …, "report": …}`, every row and fix whatever `verbose`
/// says), and return its exit status.
///
/// # Errors
/// Only a failed write.
pub fn main(json: bool, verbose: bool, out: &mut dyn Write) -> anyhow::Result<u8> {
    let facts = Facts::gather();
    let report = verdict(&facts);
    if json {
        let v = serde_json::json!({ "facts": facts, "report": report });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        print(&report, verbose, out)?;
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
            mounts_proc: false,
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
            proc_masks: Vec::new(),
            cgroup_kind: "v2".to_string(),
            cgroup_parents: vec![PathBuf::from("/sys/fs/cgroup/user.slice")],
            cgroup_unwritable: Vec::new(),
            overlayfs: true,
            seccomp_mode: Some(0),
            recipes: vec![RecipeFacts {
                name: "host".to_string(),
                builder: "host".to_string(),
                tool: None,
                built: false,
                problem: None,
                blocker: None,
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
        // Not being root is a fact, not a fault: the lessons that need it carry the fix.
        let root = find(&r, "root");
        assert_eq!((root.mark, root.fix.as_deref()), (Mark::Info, None));
        assert!(root.answer.contains("uid 65534"), "{}", root.answer);
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
    fn as_a_user_the_tour_runs_when_its_lessons_say_root_false() {
        let mut f = good();
        f.euid = 1000;
        f.cap_sys_admin = false;
        for l in &mut f.lessons[..4] {
            l.root = false;
        }
        let r = verdict(&f);
        assert_eq!(r.exit_code, 0, "{r:#?}");
        assert_eq!(find(&r, "16-pod").answer, "needs root");
        // One lesson of the tour back to root = true: the tour no longer runs.
        f.lessons[2].root = true;
        let r = verdict(&f);
        assert_eq!(r.exit_code, EXIT_HOST_CANNOT);
        assert!(r.summary.contains("03-host-processes needs root"));
    }

    #[test]
    fn as_a_user_rootless_lessons_need_user_namespaces_and_an_unmasked_proc() {
        let mut f = good();
        f.euid = 1000;
        f.cap_sys_admin = false;
        for l in &mut f.lessons {
            l.root = false;
        }
        f.lessons[3].mounts_proc = true;
        f.userns_probe = Probe::UnshareFailed("EPERM".to_string());
        let r = verdict(&f);
        let u = find(&r, "user namespaces").fix.clone();
        let l = find(&r, "01-rootfs");
        assert_eq!((l.answer.as_str(), &l.fix), ("needs user namespaces", &u));
        assert_eq!(r.exit_code, EXIT_HOST_CANNOT);
        // The fix is said once, and unlocks the lessons and nothing on the host itself.
        let fix = r.fixes.iter().find(|x| Some(&x.fix) == u.as_ref()).unwrap();
        assert_eq!(fix.host, ["user namespaces"]);
        assert_eq!(fix.lessons.len(), 5);

        f.userns_probe = Probe::Works;
        f.proc_masks = vec!["/proc/kcore".to_string(), "/proc/acpi".to_string()];
        let r = verdict(&f);
        let l = find(&r, "04-pid-namespace");
        assert_eq!(l.fix.as_deref(), Some(FIX_PROC_MASKED));
        assert_eq!(find(&r, "new /proc").mark, Mark::No);
        assert_eq!(find(&r, "02-chroot").mark, Mark::Yes);
        assert_eq!(r.exit_code, EXIT_HOST_CANNOT);
        // As root, the masks do not matter: no user namespace.
        f.euid = 0;
        f.cap_sys_admin = true;
        let r = verdict(&f);
        assert_eq!(find(&r, "04-pid-namespace").mark, Mark::Yes);
        assert!(r.sections[0].rows.iter().all(|x| x.label != "new /proc"));
    }

    #[test]
    fn a_restricted_apparmor_shows_in_the_probe_and_an_absent_file_is_no_restriction() {
        let mut f = good();
        f.euid = 1000;
        f.apparmor_restrict = Some("1\n".to_string());
        f.userns_probe = Probe::InsideFailed("EPERM".to_string());
        let r = verdict(&f);
        let u = find(&r, "user namespaces");
        assert_eq!(u.mark, Mark::No);
        assert!(u.answer.contains("restricted by AppArmor"), "{}", u.answer);
        assert!(
            u.fix
                .as_deref()
                .unwrap()
                .starts_with("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0")
        );
        // The sysctl is 1 but this program may (a profile with `userns,`): the probe says so.
        f.userns_probe = Probe::Works;
        let r = verdict(&f);
        let u = find(&r, "user namespaces");
        assert_eq!(u.mark, Mark::Yes);
        assert!(
            u.answer
                .contains("kernel.apparmor_restrict_unprivileged_userns = 1")
        );
        // No file (not Ubuntu): nothing said of AppArmor.
        f.apparmor_restrict = None;
        let r = verdict(&f);
        assert!(!find(&r, "user namespaces").answer.contains("apparmor"));
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
        f.recipes[0].blocker = Some(Blocker {
            answer: "cannot".to_string(),
            fix: "do this.".to_string(),
        });
        let r = verdict(&f);
        assert_eq!(r.exit_code, EXIT_HOST_CANNOT);
        assert_eq!(find(&r, "host").mark, Mark::No);
        assert!(find(&r, "01-rootfs").answer.contains("rootfs `host`"));
        assert_eq!(find(&r, "01-rootfs").fix.as_deref(), Some("do this."));
        // Built before: what is cached still runs.
        f.recipes[0].built = true;
        assert_eq!(verdict(&f).exit_code, 0);

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
        f.recipes[0].blocker = Some(Blocker {
            answer: "a long answer ".repeat(10),
            fix: "a long fix ".repeat(10),
        });
        f.recipes[0].problem = Some("a long message ".repeat(20));
        let mut out = Vec::new();
        print(&verdict(&f), true, &mut out).unwrap();
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
        assert!(text.contains("a long message"), "{text}");
    }

    #[test]
    fn folded_output_says_each_fix_once_and_numbers_the_rows_that_need_it() {
        let mut f = good();
        f.euid = 1000;
        f.cap_sys_admin = false;
        f.recipes.push(RecipeFacts {
            name: "fedora".to_string(),
            builder: "dnf".to_string(),
            tool: Some("dnf".to_string()),
            built: false,
            problem: Some("long message".to_string()),
            blocker: Some(blocker(
                &RootfsError::NotRoot {
                    what: "dnf".to_string(),
                    instead: "an oci-archive recipe".to_string(),
                },
                Some("dnf"),
            )),
        });
        let r = verdict(&f);
        assert_eq!(r.fixes.len(), 1, "{:#?}", r.fixes);
        assert_eq!(r.fixes[0].fix, FIX_ROOT);
        assert_eq!(r.fixes[0].recipes, ["fedora"]);
        assert_eq!(short_ids(&r.fixes[0].lessons), "01-04, 16");
        let mut out = Vec::new();
        print(&r, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches(FIX_ROOT).count(), 1, "{text}");
        assert!(
            text.lines().any(|l| l.starts_with("  fedora ")
                && l.ends_with("  ✗ dnf found; building needs root [1]")),
            "{text}"
        );
        assert!(
            text.contains("  ✗ needs root [1] (5): 01-rootfs 02-chroot 03-host-processes"),
            "{text}"
        );
        assert!(
            text.contains("unlocks: lessons 01-04, 16; recipe fedora\n"),
            "{text}"
        );
        assert!(!text.contains("long message"), "{text}");
        for line in text.lines() {
            assert!(term::display_width(line) <= 80, "too wide: {line:?}");
        }
    }

    #[test]
    fn short_ids_make_ranges_of_consecutive_numbers() {
        let ids = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        assert_eq!(
            short_ids(&ids(&["03-a", "05-b", "06-c", "07-d"])),
            "03, 05-07"
        );
        assert_eq!(
            short_ids(&ids(&["01-a", "02-b", "my-lesson", "09-x"])),
            "01-02, my-lesson, 09"
        );
        assert_eq!(short_ids(&[]), "");
    }

    #[test]
    fn preflight_refusals_are_short_with_one_fix_sentence() {
        let b = blocker(
            &RootfsError::NotRoot {
                what: "building".to_string(),
                instead: "the debian recipe".to_string(),
            },
            Some("dnf"),
        );
        assert_eq!(
            (b.answer.as_str(), b.fix.as_str()),
            ("dnf found; building needs root", FIX_ROOT)
        );
        let b = blocker(
            &RootfsError::ToolMissing {
                tool: "dnf (on Fedora and RHEL, the package `dnf`)".to_string(),
                package: "dnf".to_string(),
            },
            None,
        );
        assert_eq!(
            (b.answer.as_str(), b.fix.as_str()),
            ("dnf not installed", "apt install dnf.")
        );
        let b = blocker(
            &RootfsError::NoSubordinateIds {
                user: "ann".to_string(),
                problem: "/etc/subuid has no line for ann".to_string(),
                range: "100000-165535".to_string(),
            },
            Some("mmdebstrap"),
        );
        assert!(
            b.answer
                .starts_with("mmdebstrap found; unshare mode needs /etc/subuid")
        );
        assert_eq!(
            b.fix,
            "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ann (as root)."
        );
    }

    #[test]
    fn mount_proc_is_found_anywhere_in_a_lesson() {
        let t: toml::Table = "[[steps]]\naction = { kind = \"exec\", mount_proc = true }\n"
            .parse()
            .unwrap();
        assert!(sets_true(&toml::Value::Table(t), "mount_proc"));
        let t: toml::Table = "[[steps]]\naction = { mount_proc = false }\n"
            .parse()
            .unwrap();
        assert!(!sets_true(&toml::Value::Table(t), "mount_proc"));
    }
}
