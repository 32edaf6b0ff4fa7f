//! Lesson format v1: the TOML a lesson file holds, field by field.
//!
//! These types mirror the file exactly (`deny_unknown_fields` everywhere, so a typo is
//! an error with its line and column). The reference for authors is
//! `book/src/reference/lesson-format.md`; a test keeps it in step with these types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The format this build reads. A file must say `format_version = 1`.
pub const FORMAT_VERSION: u32 = 1;

/// A whole lesson file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LessonFile {
    /// Must be 1.
    pub format_version: u32,
    /// Short id, also the file name without `.toml`: `02-chroot`.
    pub id: String,
    /// One-line title shown in menus.
    pub title: String,
    /// Two or three sentences: what the learner will see happen.
    pub summary: String,
    /// What the learner can do afterwards, one sentence each.
    pub objectives: Vec<String>,
    /// What the lesson needs from the host.
    #[serde(default)]
    pub requires: Requires,
    /// Named containers that live across steps; started by a `start` action.
    #[serde(default)]
    pub containers: BTreeMap<String, ContainerDef>,
    /// The steps, in order.
    pub steps: Vec<StepDef>,
}

/// Host requirements.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requires {
    /// True when the lesson needs real root (no user-namespace fallback).
    #[serde(default = "yes")]
    pub root: bool,
    /// The rootfs recipe name the lesson uses by default (`--rootfs` overrides it).
    #[serde(default = "default_recipe")]
    pub rootfs: String,
    /// Host programs the lesson's host probes run, checked with `which` before step 1.
    #[serde(default)]
    pub tools: Vec<String>,
    /// With `root = true`: why this lesson cannot run in a user namespace, said in the
    /// refusal a user gets ("cgroup directories belong to root…"). Without it, a general
    /// reason about CAP_SYS_CHROOT and CAP_SYS_ADMIN on the host.
    #[serde(default)]
    pub root_because: Option<String>,
}

fn yes() -> bool {
    true
}

fn default_recipe() -> String {
    "host".to_string()
}

impl Default for Requires {
    fn default() -> Self {
        Self {
            root: true,
            rootfs: default_recipe(),
            tools: Vec::new(),
            root_because: None,
        }
    }
}

/// A named container's definition: the flags of `fromscratch spawn`.
#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ContainerDef {
    /// Root to chroot into: `"rootfs"` (the lesson's rootfs, the default), `"host"` (stay
    /// in the host's root: a decoy), or `"lab:DIR"` (a directory the lesson made in the
    /// lab's scratch space).
    #[serde(default = "rootfs_root")]
    pub root: String,
    /// New PID namespace (the PID fork is implied).
    #[serde(default)]
    pub pid: bool,
    /// New mount namespace, with `/` made private first.
    #[serde(default)]
    pub mount: bool,
    /// Mount a fresh /proc inside (implies `mount`).
    #[serde(default)]
    pub mount_proc: bool,
    /// New UTS namespace.
    #[serde(default)]
    pub uts: bool,
    /// New IPC namespace.
    #[serde(default)]
    pub ipc: bool,
    /// New network namespace.
    #[serde(default)]
    pub net: bool,
    /// Hostname to set (needs `uts`).
    #[serde(default)]
    pub hostname: Option<String>,
    /// Our init as PID 1, the command as its child.
    #[serde(default)]
    pub init: bool,
    /// Run on an overlay of the root: the root is the read-only lowerdir, upperdir and
    /// workdir live on a tmpfs in the container's own mount namespace (mounted on
    /// `{lab}/overlay-NAME`), so the container's writes never reach the rootfs and go
    /// with it. Implies `mount`; needs a root other than `"host"`.
    #[serde(default)]
    pub overlay: bool,
    /// argv; may be empty only with `init` (a pause container). Templates allowed.
    #[serde(default)]
    pub command: Vec<String>,
    /// Directories of the lab's bind-mounted inside the root before the chroot, as
    /// `docker run -v` does (implies `mount`). See [`VolumeDef`].
    #[serde(default)]
    pub volumes: Vec<VolumeDef>,
    /// Namespaces joined from a running container instead of made new, as a pod member
    /// joins the pause container's. See [`ShareDef`].
    #[serde(default)]
    pub share: Option<ShareDef>,
    /// Capabilities to drop from every set, bounding included, just before exec, named
    /// as capabilities(7) names them: `["CAP_SYS_ADMIN"]`. The rest are kept (a drop
    /// list, as `docker run --cap-drop`).
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// Set no_new_privs (prctl(2) `PR_SET_NO_NEW_PRIVS`) just before exec: no execve
    /// from then on may grant privileges.
    #[serde(default)]
    pub no_new_privs: bool,
    /// System calls a seccomp filter refuses with EPERM, installed last before exec,
    /// named as syscalls(2) lists them for this machine's architecture: `["sethostname"]`.
    #[serde(default)]
    pub seccomp_deny: Vec<String>,
    /// Change root with pivot_root(2) instead of chroot(2): bind the root onto itself,
    /// a minimal `/dev`, pivot, detach the old root. Needs `mount` or `mount_proc`, and
    /// a root other than `host`.
    #[serde(default)]
    pub pivot_root: bool,
    /// Put it in a cgroup of the lab's, with these limits, before it execs.
    #[serde(default)]
    pub cgroup: Option<CgroupDef>,
    /// Who makes it: absent, the lab's own runtime; `"runc"`, the real runtime runc(8),
    /// from an OCI bundle the lab writes (`config.json`: the lesson's rootfs read-only,
    /// the namespaces, `hostname`, `cgroup`'s limits, `tmpfs` mounts and `command`),
    /// started detached in a state directory of the lab's (`runc --root {lab}/runc run
    /// -d`) and deleted with `runc delete --force`. Only `root = "rootfs"`, the
    /// namespace flags, `hostname`, `command`, `cgroup`, `tmpfs` and `plant` apply.
    #[serde(default)]
    pub runtime: Option<String>,
    /// With `runtime = "runc"`: directories of the rootfs that get a tmpfs of their own
    /// (an OCI `mounts` entry each, as `docker run --tmpfs`): absolute paths, no `..`.
    #[serde(default)]
    pub tmpfs: Vec<String>,
    /// With `runtime = "runc"`: faults the lab may plant, one chosen at random per run
    /// (`FROMSCRATCH_PLANT=NAME` chooses it): `"memory"` (the memory limit an eighth of
    /// `cgroup.memory_max`), `"mount"` (the first `tmpfs` left out), `"hostname"` (the
    /// hostname `localhost`, not `hostname`). `{fault.NAME}` names the one planted.
    #[serde(default)]
    pub plant: Vec<String>,
}

/// One volume: `{ source = "lab:data", target = "/data", read_only = true }`.
#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VolumeDef {
    /// A directory of the lab's scratch space, `"lab:DIR"` (made by an earlier step);
    /// never a host path.
    pub source: String,
    /// Where it appears inside the container: an absolute path, no `..`, an existing
    /// directory of the rootfs (the lab never writes into the shared rootfs; in a
    /// `lab:DIR` root it is made when missing).
    pub target: String,
    /// Remount the bind read-only (MS_REMOUNT|MS_BIND|MS_RDONLY, a second mount(2)).
    #[serde(default)]
    pub read_only: bool,
}

/// Namespaces shared with a running container:
/// `{ container = "pause", namespaces = ["net", "ipc", "uts"] }`.
#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ShareDef {
    /// The running container whose namespaces are joined (its name, not a template).
    pub container: String,
    /// Which of its namespaces: `net`, `ipc`, `uts` (for a container's `share`); any
    /// namespace name for a process condition's `shares_namespaces_with`.
    pub namespaces: Vec<String>,
}

/// A cgroup for a container (or an `exec`): its name and limits. On v1 hosts it is one
/// directory per controller, on v2 one directory (cgroups(7)).
#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CgroupDef {
    /// The directory's name below the lab's cgroup directory, for `{cgroup.NAME}`;
    /// default: the container's name (for `exec`, the step's id). Letters, digits, `-`
    /// and `_`.
    #[serde(default)]
    pub name: Option<String>,
    /// Memory limit: bytes, or a number with K, M or G (binary: `"32M"`), at least 1M.
    /// v2 `memory.max` (and `memory.swap.max` 0), v1 `memory.limit_in_bytes` (and
    /// `memory.memsw.limit_in_bytes`).
    #[serde(default)]
    pub memory_max: Option<String>,
    /// Most processes and threads at once: `pids.max`, 1 to 4194304.
    #[serde(default)]
    pub pids_max: Option<u64>,
}

fn rootfs_root() -> String {
    "rootfs".to_string()
}

/// One step.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    /// Unique within the lesson: `mount-proc`.
    pub id: String,
    /// Heading.
    pub title: String,
    /// Shown first: what is about to happen and what to look for.
    pub explain: String,
    /// The shell command a learner could type for the same effect.
    #[serde(default)]
    pub equivalent: Option<String>,
    /// A nudge, for `hint`.
    #[serde(default)]
    pub hint: Option<String>,
    /// The deeper reason, for `why`.
    #[serde(default)]
    pub why: Option<String>,
    /// Man pages: `unshare(2)`.
    #[serde(default)]
    pub man: Vec<String>,
    /// Probes run before the action.
    #[serde(default)]
    pub before: Vec<ProbeDef>,
    /// What the step does.
    pub action: ActionDef,
    /// Probes run after the action. A probe with the same `label` as a `before` probe is
    /// shown as a difference.
    #[serde(default)]
    pub after: Vec<ProbeDef>,
    /// Makes the step a challenge: after the action (the setup), the learner reaches a
    /// goal by hand in `shell`, and the lab checks the state they leave.
    #[serde(default)]
    pub challenge: Option<ChallengeDef>,
}

/// A challenge: a goal the learner reaches by typing real commands in `shell`, checked
/// by looking at the state of the machine (processes, namespaces, mounts, files), never
/// at the words typed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeDef {
    /// The goal, as the state to reach: "make a shell PID 1 of a new PID namespace".
    /// Templates allowed.
    pub goal: String,
    /// Where `shell` opens: `"host"` (the host's root, in private mount and UTS
    /// namespaces of the lab's, so a mount or hostname typed there never reaches the
    /// host), `"rootfs"` (chrooted into the rootfs, with the same guard) or a running
    /// container's name (joined).
    #[serde(default = "host_ctx")]
    pub shell: String,
    /// Nudges, revealed one at a time by `hint`, gentlest first. Templates allowed.
    #[serde(default)]
    pub hints: Vec<String>,
    /// The reference solution: lines typed into the challenge's shell, in order (a line
    /// may start a nested shell or program that reads the lines after it). Shown after
    /// success or on request; `run`, `tour` and `skip` type it for the learner.
    /// Templates allowed.
    pub solution: Vec<String>,
    /// What must be true, all at the same moment: while the shell is open (the lab
    /// looks each time the session settles at a prompt) or after it closes.
    pub verify: Vec<VerifyDef>,
    /// What changes for a learner without root, where the kernel makes the root way
    /// impossible (a lab run as a user is rootless: a user namespace of its own, see
    /// user_namespaces(7)). Applied when the lesson is loaded by a user; the verify
    /// conditions stay the same.
    #[serde(default)]
    pub as_user: Option<AsUserDef>,
    /// Open the shell with the learner's own user id, in the host's user namespace
    /// (`shell = "host"` only): as root, the root shell it always is (in the lab's
    /// guard namespaces); as a user, the user's own shell, outside the lab's user
    /// namespace (where the user would already be root) and without the guard
    /// namespaces. For a challenge about becoming root in a user namespace.
    #[serde(default)]
    pub as_learner: bool,
}

/// A challenge's rootless variant: `note` says why it differs; each field given replaces
/// the challenge's own for a learner who is not root.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AsUserDef {
    /// Why the challenge is done differently as a user, in one or two sentences, shown
    /// after the goal. Templates allowed.
    pub note: String,
    /// Where `shell` opens for a user: as [`ChallengeDef::shell`].
    #[serde(default)]
    pub shell: Option<String>,
    /// The hints for a user, gentlest first. Templates allowed.
    #[serde(default)]
    pub hints: Option<Vec<String>>,
    /// The reference solution for a user. Templates allowed.
    #[serde(default)]
    pub solution: Option<Vec<String>>,
}

impl ChallengeDef {
    /// This challenge as a learner who is not root meets it: [`Self::as_user`]'s fields in
    /// place of the challenge's own, its note after the goal. Unchanged without one.
    #[must_use]
    pub fn for_user(mut self) -> Self {
        if let Some(u) = self.as_user.take() {
            self.goal = format!("{}\n\nAs a user: {}", self.goal.trim_end(), u.note.trim());
            if let Some(s) = u.shell {
                self.shell = s;
            }
            if let Some(h) = u.hints {
                self.hints = h;
            }
            if let Some(s) = u.solution {
                self.solution = s;
            }
        }
        self
    }
}

/// One condition of a challenge. Exactly one of `process` or `command` is given.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyDef {
    /// The condition in words, shown with a tick or a cross: "a shell is PID 1".
    pub says: String,
    /// Holds when some process the learner started from the challenge's shell has
    /// every property given.
    #[serde(default)]
    pub process: Option<ProcessMatch>,
    /// Holds when this command (argv, run in `context`) meets `expect`. Templates allowed.
    #[serde(default)]
    pub command: Vec<String>,
    /// Where `command` runs: as [`ProbeDef::context`].
    #[serde(default = "host_ctx")]
    pub context: String,
    /// Checks on `command`'s result.
    #[serde(default)]
    pub expect: Option<ExpectDef>,
}

/// Properties of a process, read from /proc/PID (proc(5)). Every field given must hold.
#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProcessMatch {
    /// Its command name (/proc/PID/comm) is one of these: `["sh", "bash", "dash"]`.
    #[serde(default)]
    pub comm: Vec<String>,
    /// Its root directory (/proc/PID/root) is this path. Templates allowed: `"{rootfs}"`.
    #[serde(default)]
    pub root: Option<String>,
    /// Its PID inside its own PID namespace (the last number of NSpid in
    /// /proc/PID/status): 1 for a namespace's init.
    #[serde(default)]
    pub pid_in_ns: Option<u32>,
    /// Namespaces it must not share with the lab: any of `pid`, `mnt`, `uts`, `ipc`,
    /// `net`, `user`, `cgroup` (compared by /proc/PID/ns/* inode, namespaces(7)).
    #[serde(default)]
    pub new_namespaces: Vec<String>,
    /// A procfs is mounted on /proc inside its root, and shows its own PID namespace
    /// (so `ps` inside lists what the process can really see).
    #[serde(default)]
    pub proc_mounted: Option<bool>,
    /// Its hostname is this: the nodename uname(2) returns in its UTS namespace
    /// (uts_namespaces(7)). Kernel state, not a file: the lab reads it by joining the
    /// process's UTS namespace in a forked child.
    #[serde(default)]
    pub hostname: Option<String>,
    /// It is inside the running container whose first process this is: it shares each
    /// namespace of that process that the lab does not share (what `nsenter --all`
    /// joins). Written `"{container.NAME}"`.
    #[serde(default)]
    pub same_namespaces_as: Option<String>,
    /// It has a handler installed for each of these signals (`SIGTERM`…): the `SigCgt`
    /// mask of /proc/PID/status. A PID 1 receives only the signals it has a handler for.
    #[serde(default)]
    pub catches: Vec<String>,
    /// Its effective user ID, as the host sees it (the `Uid` line of /proc/PID/status,
    /// read by the lab from the initial user namespace): `65534` for nobody.
    #[serde(default)]
    pub host_uid: Option<u32>,
    /// Its effective user ID as the host sees it is the unprivileged user's
    /// (`{unprivileged.uid}`): 65534 when the lab runs as root, the user's own when it
    /// runs as a user. Not with `host_uid`.
    #[serde(default)]
    pub host_uid_unprivileged: bool,
    /// Its effective user ID inside its own user namespace: the host UID mapped through
    /// /proc/PID/uid_map (user_namespaces(7)). `0`: root in there.
    #[serde(default)]
    pub uid_in_ns: Option<u32>,
    /// It is in these namespaces of a running container (compared by /proc/PID/ns/*
    /// inode): `{ container = "pause", namespaces = ["net"] }`.
    #[serde(default)]
    pub shares_namespaces_with: Option<ShareDef>,
    /// It holds a TCP socket listening on this port: a LISTEN line of the
    /// /proc/PID/net/tcp (or tcp6) of its network namespace whose inode is one of its
    /// open files, /proc/PID/fd/* (proc(5)).
    #[serde(default)]
    pub listens_tcp: Option<u16>,
    /// It holds none of these capabilities (`CAP_SYS_ADMIN`…) in any set: not in
    /// `CapEff`, `CapPrm`, `CapInh` nor `CapBnd` of /proc/PID/status (capabilities(7)).
    /// A process that still has one in permitted or bounding could take it back.
    #[serde(default)]
    pub lacks_caps: Vec<String>,
    /// Its no_new_privs flag (`NoNewPrivs` in /proc/PID/status, prctl(2)) is this.
    #[serde(default)]
    pub no_new_privs: Option<bool>,
    /// Its seccomp mode (`Seccomp` in /proc/PID/status, proc(5)) is this: `"disabled"`
    /// (0), `"strict"` (1) or `"filter"` (2).
    #[serde(default)]
    pub seccomp: Option<String>,
    /// Whether its mount namespace holds mounts outside its root: `true` for a chroot
    /// (the host's tree is still above it) or an old root left mounted after
    /// pivot_root(2); `false` once its root is its mount namespace's root, with no
    /// mount of the lab's own `/` left in it (pivot_root, then the old root detached).
    #[serde(default)]
    pub mounts_outside_root: Option<bool>,
    /// It is in a cgroup whose own limits are these: for each limit given, the cgroup
    /// the process is directly in (from /proc/PID/cgroup) on the hierarchy carrying that
    /// controller has this value in `pids.max` / `memory.max` (v1:
    /// `memory.limit_in_bytes`).
    #[serde(default)]
    pub in_cgroup_with: Option<CgroupLimitsDef>,
}

/// Cgroup limits a process's cgroup must have (see [`ProcessMatch::in_cgroup_with`]).
#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CgroupLimitsDef {
    /// `pids.max` is this number.
    #[serde(default)]
    pub pids_max: Option<u64>,
    /// The memory limit is this size (`"64M"`, as in [`CgroupDef::memory_max`]).
    #[serde(default)]
    pub memory_max: Option<String>,
}

/// A command run to observe state, in a context.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeDef {
    /// Short name; pairs a before probe with an after probe for the difference.
    pub label: String,
    /// `"host"`, `"rootfs"` (chrooted, no namespaces) or a container's name (joined).
    #[serde(default = "host_ctx")]
    pub context: String,
    /// argv. Templates allowed.
    pub command: Vec<String>,
    /// Checks on the result.
    #[serde(default)]
    pub expect: Option<ExpectDef>,
    /// Run the command as the unprivileged user, on the host only: as root, the lab
    /// drops to uid and gid 65534 with no supplementary groups just before exec (what
    /// `setpriv --reuid=65534 --regid=65534 --clear-groups` does); as a user, it runs
    /// as that user, outside the lab's user namespace. `{unprivileged.uid}` names the
    /// uid it runs as.
    #[serde(default)]
    pub unprivileged: bool,
}

fn host_ctx() -> String {
    "host".to_string()
}

/// Checks on a command's exit status and output (stdout and stderr together).
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ExpectDef {
    /// The exit status must equal this.
    #[serde(default)]
    pub exit: Option<i32>,
    /// The exit status must not be 0.
    #[serde(default)]
    pub fails: bool,
    /// Each string must appear in the output. Templates allowed.
    #[serde(default)]
    pub contains: Vec<String>,
    /// No string may appear in the output. Templates allowed.
    #[serde(default)]
    pub not_contains: Vec<String>,
    /// Each regex must match some line (multi-line mode). Templates allowed.
    #[serde(default)]
    pub matches: Vec<String>,
    /// No regex may match any line. Templates allowed.
    #[serde(default)]
    pub not_matches: Vec<String>,
    /// The output has at most this many lines.
    #[serde(default)]
    pub max_lines: Option<usize>,
    /// Retry the command for up to this many milliseconds until the checks hold (a
    /// signalled process takes a moment to die).
    #[serde(default)]
    pub settle_ms: Option<u64>,
}

/// What a step does. `kind` selects the variant.
// `exec` carries a whole container definition and is much larger than the rest; a
// lesson holds a few dozen actions, parsed once, so boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionDef {
    /// Build (or take from the cache) the lesson's rootfs.
    BuildRootfs {},
    /// List the ELF interpreter and shared libraries a program needs, resolved inside the
    /// rootfs (or a lab directory).
    ElfNeeds {
        /// The program's path inside the root.
        program: String,
        /// `"rootfs"` or `"lab:DIR"`.
        #[serde(default = "rootfs_root")]
        root: String,
        /// Checks on the listing.
        #[serde(default)]
        expect: Option<ExpectDef>,
    },
    /// Make a directory in the lab's scratch space and copy host files into it, at the
    /// same paths, and nothing else (no libraries).
    MakeTree {
        /// Directory name inside the scratch space.
        dir: String,
        /// Host files to copy.
        #[serde(default)]
        copy: Vec<String>,
    },
    /// Run a command in a new container (flags as in `containers`) and wait for it.
    Exec {
        /// As [`ContainerDef::root`].
        #[serde(default = "rootfs_root")]
        root: String,
        /// As [`ContainerDef::pid`].
        #[serde(default)]
        pid: bool,
        /// As [`ContainerDef::mount`].
        #[serde(default)]
        mount: bool,
        /// As [`ContainerDef::mount_proc`].
        #[serde(default)]
        mount_proc: bool,
        /// As [`ContainerDef::uts`].
        #[serde(default)]
        uts: bool,
        /// As [`ContainerDef::ipc`].
        #[serde(default)]
        ipc: bool,
        /// As [`ContainerDef::net`].
        #[serde(default)]
        net: bool,
        /// As [`ContainerDef::hostname`].
        #[serde(default)]
        hostname: Option<String>,
        /// As [`ContainerDef::init`].
        #[serde(default)]
        init: bool,
        /// As [`ContainerDef::overlay`]; its directory is `{lab}/overlay-STEP_ID`.
        #[serde(default)]
        overlay: bool,
        /// As [`ContainerDef::volumes`].
        #[serde(default)]
        volumes: Vec<VolumeDef>,
        /// As [`ContainerDef::share`].
        #[serde(default)]
        share: Option<ShareDef>,
        /// As [`ContainerDef::pivot_root`].
        #[serde(default)]
        pivot_root: bool,
        /// argv. Templates allowed.
        command: Vec<String>,
        /// As [`ContainerDef::cap_drop`].
        #[serde(default)]
        cap_drop: Vec<String>,
        /// As [`ContainerDef::no_new_privs`].
        #[serde(default)]
        no_new_privs: bool,
        /// As [`ContainerDef::seccomp_deny`].
        #[serde(default)]
        seccomp_deny: Vec<String>,
        /// Checks on the result.
        #[serde(default)]
        expect: Option<ExpectDef>,
        /// As [`ContainerDef::cgroup`]; its name defaults to the step's id.
        #[serde(default)]
        cgroup: Option<CgroupDef>,
    },
    /// Start a named container from `[containers.NAME]`; it lives until `stop` or the end.
    Start {
        /// The name.
        container: String,
    },
    /// Run a command inside a running container, joining its namespaces with setns.
    ExecIn {
        /// The container's name.
        container: String,
        /// argv. Templates allowed.
        command: Vec<String>,
        /// Checks on the result.
        #[serde(default)]
        expect: Option<ExpectDef>,
    },
    /// Start a host process the lab owns (a `sleep`), for a lesson to find and signal.
    Decoy {
        /// Its name, for `{decoy.NAME}`.
        name: String,
        /// argv; default `["sleep", "3600"]`.
        #[serde(default)]
        command: Vec<String>,
        /// Instead of running `command`, show as it (in `ps`) and, when a catchable
        /// signal arrives, write who sent it and from which root to
        /// `{lab}/decoy-NAME.killer` before dying.
        #[serde(default)]
        notes_killer: bool,
    },
    /// Stop a named container or decoy.
    Stop {
        /// The name.
        name: String,
    },
    /// Send a signal from the host to a running container's PID 1 (or a decoy), as
    /// `kill -SIG PID` would, but only while that PID still names the process the lab
    /// started (its start time is checked, so a reused PID is never signalled).
    Signal {
        /// The container's or decoy's name.
        name: String,
        /// The signal's name as signal(7) writes it: `SIGTERM`, `SIGKILL`, `SIGINT`…
        signal: String,
    },
    /// Make an empty cgroup the lab owns, below the lab's cgroup directory, for
    /// processes to be put in by hand (a challenge): on v2 its controllers are enabled
    /// for its children, so it holds cgroups, not processes.
    Cgroup {
        /// Its name, for `{cgroup.NAME}`.
        name: String,
        /// As [`CgroupDef::memory_max`].
        #[serde(default)]
        memory_max: Option<String>,
        /// As [`CgroupDef::pids_max`].
        #[serde(default)]
        pids_max: Option<u64>,
    },
    /// Nothing: the step only explains and observes.
    Observe {},
    /// Change network namespaces of running containers through rtnetlink(7): veth pairs,
    /// addresses, links up, routes, forwarding. Never the host's own namespace.
    Net {
        /// The operations, in order; each names the container it runs in.
        ops: Vec<NetOpDef>,
    },
}

/// One operation of a `net` action, run in the network namespace of a running container
/// (joined with setns(2) by a forked child). `op` selects which.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum NetOpDef {
    /// A veth pair: made in `container`'s namespace as `ifname` and `peer_ifname`, then
    /// `peer_ifname` moved into `peer_container`'s namespace. Both ends start down.
    Veth {
        /// Where the pair is made and `ifname` stays.
        container: String,
        /// This end's name (at most 15 characters: letters, digits, `-`, `_`).
        ifname: String,
        /// Where the other end goes.
        peer_container: String,
        /// The other end's name there.
        peer_ifname: String,
    },
    /// Give an interface an IPv4 address, `A.B.C.D/N` in a private range.
    Address {
        /// The container whose namespace holds the interface.
        container: String,
        /// The interface.
        ifname: String,
        /// Address and prefix length: `10.9.1.2/24`.
        address: String,
    },
    /// Bring an interface up (`lo` too).
    Up {
        /// The container whose namespace holds the interface.
        container: String,
        /// The interface.
        ifname: String,
    },
    /// Add a route: to `to` (`"default"` or a private `A.B.C.D/N`) through `via`, or out
    /// of `dev`.
    Route {
        /// The container whose namespace gets the route.
        container: String,
        /// `"default"` or a private subnet.
        to: String,
        /// The gateway, a private address.
        #[serde(default)]
        via: Option<String>,
        /// The interface to send out of.
        #[serde(default)]
        dev: Option<String>,
    },
    /// Turn on IPv4 forwarding in the container's network namespace (a per-namespace
    /// sysctl, `net.ipv4.ip_forward`), so it routes between its interfaces.
    IpForward {
        /// The container.
        container: String,
    },
    /// Delete an interface (one end of a veth pair deletes both).
    Delete {
        /// The container whose namespace holds the interface.
        container: String,
        /// The interface.
        ifname: String,
    },
}

impl NetOpDef {
    /// The container whose network namespace the operation runs in.
    #[must_use]
    pub fn container(&self) -> &str {
        match self {
            Self::Veth { container, .. }
            | Self::Address { container, .. }
            | Self::Up { container, .. }
            | Self::Route { container, .. }
            | Self::IpForward { container }
            | Self::Delete { container, .. } => container,
        }
    }
}

impl ActionDef {
    /// For `exec`: the container it describes, as a [`ContainerDef`].
    #[must_use]
    pub fn exec_container(&self) -> Option<ContainerDef> {
        match self {
            Self::Exec {
                root,
                pid,
                mount,
                mount_proc,
                uts,
                ipc,
                net,
                hostname,
                init,
                overlay,
                command,
                volumes,
                share,
                cap_drop,
                no_new_privs,
                seccomp_deny,
                pivot_root,
                cgroup,
                ..
            } => Some(ContainerDef {
                root: root.clone(),
                pid: *pid,
                mount: *mount,
                mount_proc: *mount_proc,
                uts: *uts,
                ipc: *ipc,
                net: *net,
                hostname: hostname.clone(),
                init: *init,
                overlay: *overlay,
                command: command.clone(),
                volumes: volumes.clone(),
                share: share.clone(),
                cap_drop: cap_drop.clone(),
                no_new_privs: *no_new_privs,
                seccomp_deny: seccomp_deny.clone(),
                pivot_root: *pivot_root,
                cgroup: cgroup.clone(),
                runtime: None,
                tmpfs: Vec::new(),
                plant: Vec::new(),
            }),
            _ => None,
        }
    }

    /// The `kind` as written in the file.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BuildRootfs {} => "build_rootfs",
            Self::ElfNeeds { .. } => "elf_needs",
            Self::MakeTree { .. } => "make_tree",
            Self::Exec { .. } => "exec",
            Self::Start { .. } => "start",
            Self::ExecIn { .. } => "exec_in",
            Self::Decoy { .. } => "decoy",
            Self::Stop { .. } => "stop",
            Self::Signal { .. } => "signal",
            Self::Cgroup { .. } => "cgroup",
            Self::Observe {} => "observe",
            Self::Net { .. } => "net",
        }
    }
}
