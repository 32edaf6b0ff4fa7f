//! pivot_root: give a whole mount namespace a new root, so that nothing of the host's
//! tree is left above the container's `/` (pivot_root(2), mount_namespaces(7)).
//!
//! chroot(2) changes one process's idea of `/` and nothing else: the mount tree above
//! it is still there, and a process that may call chroot (CAP_SYS_CHROOT) climbs out by
//! chrooting into a subdirectory while its working directory stays above, then `..`
//! until the real root, then `chroot(".")` (chroot(2), NOTES). pivot_root(2) moves the
//! mount namespace's root to `new_root` and the old root to `put_old`; once the old root
//! is unmounted, no mount of the namespace lies above the new `/`: `..` of `/` is `/`,
//! and there is nothing to climb to.
//!
//! The order, crun's and the one pivot_root(2)'s NOTES give, in a new mount namespace
//! whose `/` spawn.rs has already made `MS_REC|MS_PRIVATE`:
//!
//! 1. `mount(R, R, MS_BIND|MS_REC)`: new_root must be a mount point, and a bind mount of
//!    the rootfs onto itself makes it one;
//! 2. a minimal `/dev` ([`DEVICES`]): a tmpfs on `R/dev` with the host's devices
//!    bind-mounted onto empty files, as runc does in a user namespace, made before the
//!    pivot while the host's `/dev` can still be reached. The tmpfs lives in the
//!    container's mount namespace, so a write to `/dev/null` never lands in the rootfs;
//! 3. with `/proc` asked for, `mount("proc", R/proc)` now, before the pivot, as runc
//!    does: in a user namespace the kernel gives a new procfs only to a mount namespace
//!    that already holds a fully visible one (mount_too_revealing(), mount_namespaces(7)
//!    and user_namespaces(7)), and the host's `/proc` is in this namespace only until
//!    the old root is detached; mounted after, it is EPERM;
//! 4. `chdir(R)`, `pivot_root(".", ".")`: the old root is stacked on top of the new
//!    one at `/`;
//! 5. `umount2(".", MNT_DETACH)`: resolving `.` climbs that stack to the old root, which
//!    is detached (lazily: busy files keep working, nothing new can reach it);
//! 6. `chdir("/")`.
//!
//! When pivot_root still fails, [`diagnose_now`] reads /proc/self/mountinfo (proc(5))
//! and names the rule of pivot_root(2) that was broken, not just the errno.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

use super::spawn::SetupResult;
use super::syscalls::Syscalls;

/// The devices a pivoted container gets in its `/dev` (devfs.rs: what runc gives every
/// container, besides `/dev/pts`, `/dev/shm` and `/dev/mqueue`).
pub use super::devfs::{DEVICES, TMPFS_OPTIONS as DEV_TMPFS_OPTIONS};

/// Make `root` the root of the calling process's mount namespace, the old root
/// detached, the working directory `/`; with `dev`, give it a minimal `/dev` first. Every
/// call goes through `sys`, so the learner sees each one traced.
///
/// The caller must be in a new mount namespace with `/` already `MS_REC|MS_PRIVATE`
/// (spawn.rs does it right after unshare): pivot_root(2) changes the root of every
/// process of the namespace whose root is the old one.
///
/// # Errors
/// The failing call's name and errno. A failed pivot_root is first diagnosed
/// ([`diagnose_now`]): the diagnosis is traced as a comment, and the name returned is
/// the condition's tag ([`PivotCondition::tag`]), which
/// [`super::error::explain_setup_failure`] turns into a sentence naming the rule.
pub fn pivot_into(sys: &dyn Syscalls, root: &Path, dev: bool) -> SetupResult {
    pivot_into_then(sys, root, dev, &mut || Ok(()))
}

/// As [`pivot_into`], calling `before_pivot` once the rootfs is bound and its `/dev`
/// made, and before the pivot: where spawn.rs mounts `R/proc` (step 3 of the module
/// header: a procfs mounted after the pivot is refused in a user namespace).
///
/// # Errors
/// As [`pivot_into`]; `before_pivot`'s failure stops the sequence there.
pub fn pivot_into_then(
    sys: &dyn Syscalls,
    root: &Path,
    dev: bool,
    before_pivot: &mut dyn FnMut() -> SetupResult,
) -> SetupResult {
    let root_s = root.to_string_lossy();
    sys.mount(
        Some(&root_s),
        root,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| ("mount", e))?;
    if dev {
        super::devfs::mount_minimal(sys, root)?;
    }
    before_pivot()?;
    sys.chdir(root).map_err(|e| ("chdir", e))?;
    let dot = Path::new(".");
    if let Err(e) = sys.pivot_root(dot, dot) {
        if e == Errno::EPERM {
            return Err(("pivot_root", e));
        }
        let d = diagnose_now(root, root);
        sys.note(&format!("/* pivot_root refused: {} */", d.detail));
        return Err((d.condition.tag(), e));
    }
    sys.umount2(dot, MntFlags::MNT_DETACH)
        .map_err(|e| ("umount2", e))?;
    sys.chdir(Path::new("/")).map_err(|e| ("chdir", e))?;
    Ok(())
}

/// A rule of pivot_root(2) that a failed call broke, as [`diagnose`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PivotCondition {
    /// new_root or put_old does not exist or is not a directory (ENOTDIR, ENOENT).
    NotADirectory,
    /// new_root is the current root, `/` (EBUSY).
    NewRootIsCurrentRoot,
    /// The mount at put_old, the parent of the mount at new_root, or the parent of the
    /// current root's mount is MS_SHARED (EINVAL): a pivot would propagate elsewhere.
    SharedPropagation,
    /// The current root is not a mount point: the caller is chrooted (EINVAL).
    CurrentRootNotMountPoint,
    /// The current root is the initial ramfs, which cannot be pivoted away (EINVAL).
    CurrentRootIsRamfs,
    /// new_root is not a mount point (EINVAL; EBUSY when it lies on the current root's
    /// mount).
    NewRootNotMountPoint,
    /// put_old is not at or underneath new_root (EINVAL).
    PutOldOutsideNewRoot,
    /// None of the rules above seems broken.
    Unknown,
}

impl PivotCondition {
    /// Every condition, in the order [`diagnose`] tries them.
    pub const ALL: [Self; 8] = [
        Self::NotADirectory,
        Self::NewRootIsCurrentRoot,
        Self::SharedPropagation,
        Self::CurrentRootNotMountPoint,
        Self::CurrentRootIsRamfs,
        Self::NewRootNotMountPoint,
        Self::PutOldOutsideNewRoot,
        Self::Unknown,
    ];

    /// The name a failed setup reports in place of the syscall's (one word, no spaces:
    /// it travels on the trace pipe): `pivot_root/new-root-not-a-mount-point`.
    #[must_use]
    pub fn tag(self) -> &'static str {
        match self {
            Self::NotADirectory => "pivot_root/not-a-directory",
            Self::NewRootIsCurrentRoot => "pivot_root/new-root-is-current-root",
            Self::SharedPropagation => "pivot_root/shared-propagation",
            Self::CurrentRootNotMountPoint => "pivot_root/current-root-not-a-mount-point",
            Self::CurrentRootIsRamfs => "pivot_root/current-root-is-ramfs",
            Self::NewRootNotMountPoint => "pivot_root/new-root-not-a-mount-point",
            Self::PutOldOutsideNewRoot => "pivot_root/put-old-outside-new-root",
            Self::Unknown => "pivot_root/unknown",
        }
    }

    /// The condition a [`PivotCondition::tag`] names; `None` for any other call name.
    #[must_use]
    pub fn from_tag(tag: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.tag() == tag)
    }

    /// The rule broken and what to do, in one clause (pivot_root(2), ERRORS and the
    /// restrictions in DESCRIPTION).
    #[must_use]
    pub fn rule(self) -> &'static str {
        match self {
            Self::NotADirectory => {
                "new_root or put_old does not exist or is not a directory: point it at the rootfs directory"
            }
            Self::NewRootIsCurrentRoot => {
                "new_root is the current root `/`, and a root cannot be pivoted onto itself: name the rootfs"
            }
            Self::SharedPropagation => {
                "a mount involved is shared (MS_SHARED), so the pivot would propagate to other mount namespaces: make `/` private first (mount --make-rprivate /)"
            }
            Self::CurrentRootNotMountPoint => {
                "the current root is not a mount point, because of an earlier chroot: pivot from the namespace's real root, not from inside a chroot"
            }
            Self::CurrentRootIsRamfs => {
                "the current root is the initial ramfs, which cannot be pivoted away: switch_root(8) is the tool there"
            }
            Self::NewRootNotMountPoint => {
                "new_root is not a mount point: bind-mount the rootfs onto itself first (mount --bind R R)"
            }
            Self::PutOldOutsideNewRoot => {
                "put_old is not at or underneath new_root: use a directory inside the rootfs, or `.` for both"
            }
            Self::Unknown => "no rule of pivot_root(2) that /proc/self/mountinfo shows was broken",
        }
    }
}

impl std::fmt::Display for PivotCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.rule())
    }
}

/// What [`diagnose`] found: the rule broken, and the facts behind it in a sentence
/// (paths, the mountinfo line that shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// The rule broken.
    pub condition: PivotCondition,
    /// The facts, for the trace.
    pub detail: String,
}

/// One line of /proc/PID/mountinfo (proc(5)), the fields a diagnosis needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountLine {
    /// Field 1: the mount's unique ID.
    pub id: u64,
    /// Field 2: its parent's ID (itself, or a mount not shown, for the top of the tree).
    pub parent: u64,
    /// Field 5: where it is mounted, relative to the reader's root, unescaped.
    pub mount_point: PathBuf,
    /// An optional field `shared:N`: its propagation type is MS_SHARED.
    pub shared: bool,
    /// The filesystem type, after the ` - ` separator.
    pub fstype: String,
}

/// Parse /proc/PID/mountinfo text; lines that do not parse are skipped.
#[must_use]
pub fn parse_mountinfo(text: &str) -> Vec<MountLine> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            Some(MountLine {
                id: f.first()?.parse().ok()?,
                parent: f.get(1)?.parse().ok()?,
                mount_point: PathBuf::from(unescape(f.get(4)?)),
                shared: f.iter().skip(6).any(|o| o.starts_with("shared:")),
                fstype: right.split(' ').next().unwrap_or("").to_string(),
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\\ooo` octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match octal {
            Some(v) if b[i] == b'\\' => {
                out.push(v);
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The top mount (the last listed) whose mount point is exactly `p`.
fn mount_at<'a>(mounts: &'a [MountLine], p: &Path) -> Option<&'a MountLine> {
    mounts.iter().rev().find(|m| m.mount_point == p)
}

/// The mount `p` lies on: the longest mount point that is a prefix of it, the top one.
fn mount_of<'a>(mounts: &'a [MountLine], p: &Path) -> Option<&'a MountLine> {
    let best = mounts
        .iter()
        .filter(|m| p.starts_with(&m.mount_point))
        .map(|m| m.mount_point.components().count())
        .max()?;
    mounts
        .iter()
        .rev()
        .find(|m| p.starts_with(&m.mount_point) && m.mount_point.components().count() == best)
}

fn parent_of<'a>(mounts: &'a [MountLine], m: &MountLine) -> Option<&'a MountLine> {
    mounts.iter().find(|p| p.id == m.parent && p.id != m.id)
}

/// Which rule of pivot_root(2) a call `pivot_root(new_root, put_old)` breaks, given the
/// caller's mount table (`mounts`, from its /proc/self/mountinfo) and whether both
/// paths are existing directories. The paths are absolute and canonical, as the caller
/// sees them. Tries the rules in the kernel's order (fs/namespace.c): propagation, then
/// the current root, then new_root, then put_old.
#[must_use]
pub fn diagnose(
    mounts: &[MountLine],
    new_root: &Path,
    put_old: &Path,
    both_dirs: bool,
) -> Diagnosis {
    let d = |condition: PivotCondition, detail: String| Diagnosis { condition, detail };
    let nr = new_root.display();
    if !both_dirs {
        return d(
            PivotCondition::NotADirectory,
            format!(
                "{nr} or {} is missing or not a directory (ENOTDIR or ENOENT)",
                put_old.display()
            ),
        );
    }
    if new_root == Path::new("/") {
        return d(
            PivotCondition::NewRootIsCurrentRoot,
            "new_root is / itself, the current root (EBUSY)".to_string(),
        );
    }
    let root_mount = mount_at(mounts, Path::new("/"));
    let new_mount = mount_at(mounts, new_root);
    // The kernel checks these three for MS_SHARED before anything else.
    let shared = [
        mount_of(mounts, put_old).map(|m| (m, "the mount holding put_old")),
        new_mount
            .and_then(|m| parent_of(mounts, m))
            .map(|m| (m, "the parent of the mount at new_root")),
        root_mount
            .and_then(|m| parent_of(mounts, m))
            .map(|m| (m, "the parent of the current root's mount")),
    ];
    if let Some((m, what)) = shared.into_iter().flatten().find(|(m, _)| m.shared) {
        return d(
            PivotCondition::SharedPropagation,
            format!(
                "{what}, mount {} at {}, is shared (a shared:N field in /proc/self/mountinfo) (EINVAL)",
                m.id,
                m.mount_point.display()
            ),
        );
    }
    let Some(root_mount) = root_mount else {
        return d(
            PivotCondition::CurrentRootNotMountPoint,
            "no mount in /proc/self/mountinfo is at /: this process is chrooted (EINVAL)"
                .to_string(),
        );
    };
    if root_mount.fstype == "rootfs" {
        return d(
            PivotCondition::CurrentRootIsRamfs,
            "the mount at / is the initial rootfs (EINVAL)".to_string(),
        );
    }
    if new_mount.is_none() {
        let on = mount_of(mounts, new_root).map_or_else(
            || "an unknown mount".to_string(),
            |m| format!("mount {} at {}", m.id, m.mount_point.display()),
        );
        let errno = if mount_of(mounts, new_root).is_some_and(|m| m.id == root_mount.id) {
            "EBUSY: it lies on the current root's mount"
        } else {
            "EINVAL"
        };
        return d(
            PivotCondition::NewRootNotMountPoint,
            format!("no mount in /proc/self/mountinfo is at {nr}, which lies on {on} ({errno})"),
        );
    }
    if !put_old.starts_with(new_root) {
        return d(
            PivotCondition::PutOldOutsideNewRoot,
            format!(
                "put_old {} is not under new_root {nr} (EINVAL)",
                put_old.display()
            ),
        );
    }
    d(
        PivotCondition::Unknown,
        format!("{nr} is a mount point, nothing involved is shared, and / is a mount point"),
    )
}

/// [`diagnose`] for the calling process, now: its /proc/self/mountinfo, the two paths
/// canonicalized (relative ones against the working directory).
#[must_use]
pub fn diagnose_now(new_root: &Path, put_old: &Path) -> Diagnosis {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let canon = |p: &Path| p.canonicalize().ok();
    match (canon(new_root), canon(put_old)) {
        (Some(n), Some(o)) if n.is_dir() && o.is_dir() => {
            diagnose(&parse_mountinfo(&text), &n, &o, true)
        }
        _ => diagnose(&[], new_root, put_old, false),
    }
}

/// The commands a learner types for the same pivot, for a step's `by hand:` line:
/// `mount --rbind R R` (recursive, as the runtime's `MS_BIND|MS_REC`: a volume or /proc
/// already mounted below R comes along), the tmpfs on `R/dev` and its devices, a procfs
/// on `R/proc` before the pivot (as the runtime mounts it, step 3 of the module header;
/// umount(8) reads /proc/self/mountinfo to find what to unmount), `cd R`,
/// `pivot_root . .`, `umount -l .`, and `cd /`. Without `keep_proc`, the procfs is
/// unmounted again.
#[must_use]
pub fn by_hand(root: &Path, keep_proc: bool) -> Vec<String> {
    let r = crate::term::shell_join(&[root.display().to_string()]);
    let mut v = vec![
        format!("mount --rbind {r} {r}"),
        format!("mount -t tmpfs -o {DEV_TMPFS_OPTIONS},nosuid,strictatime tmpfs {r}/dev"),
        format!(
            "for d in {}; do touch {r}/dev/$d && mount --bind /dev/$d {r}/dev/$d; done",
            DEVICES.join(" ")
        ),
        format!("mount -t proc proc {r}/proc"),
        format!("cd {r}"),
        "pivot_root . .".to_string(),
        "umount -l .".to_string(),
    ];
    if !keep_proc {
        v.push("umount /proc".to_string());
    }
    v.push("cd /".to_string());
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::syscalls::RecordingSyscalls;

    #[test]
    fn the_pivot_binds_pivots_detaches_and_goes_home_in_that_order() {
        let rec = RecordingSyscalls::new();
        pivot_into(&rec, Path::new("/r"), false).unwrap();
        assert_eq!(
            rec.lines(),
            vec![
                "mount(\"/r\", \"/r\", NULL, MS_BIND|MS_REC, NULL) = 0",
                "chdir(\"/r\") = 0",
                "pivot_root(\".\", \".\") = 0",
                "umount2(\".\", MNT_DETACH) = 0",
                "chdir(\"/\") = 0",
            ]
        );
    }

    #[test]
    fn a_pivoted_spec_gets_a_private_mount_namespace_and_proc_before_the_pivot() {
        use crate::runtime::spawn::{enter_namespaces, prepare_root};
        use crate::runtime::spec::ContainerSpec;
        let spec = ContainerSpec {
            root: Some("/r".into()),
            pivot_root: true,
            mount_proc: true,
            command: vec!["sh".into()],
            ..ContainerSpec::default()
        };
        let rec = RecordingSyscalls::new();
        enter_namespaces(&rec, &spec).unwrap();
        prepare_root(&rec, &spec).unwrap();
        // The recorder's tree has no /dev: a comment in place of the /dev mounts.
        let names: Vec<String> = rec
            .names()
            .into_iter()
            .map(|n| if n.starts_with("/*") { "/*".into() } else { n })
            .collect();
        assert_eq!(
            names,
            vec![
                "prctl",
                "unshare",
                "mount",
                "mount",
                "/*",
                "mount",
                "chdir",
                "pivot_root",
                "umount2",
                "chdir",
            ]
        );
        let lines = rec.lines();
        assert_eq!(lines[1], "unshare(CLONE_NEWNS) = 0");
        // /proc inside the rootfs, while the old root (and the host's /proc) is still
        // in the namespace; once only, never again after the pivot.
        assert_eq!(
            lines[5],
            "mount(\"proc\", \"/r/proc\", \"proc\", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL) = 0"
        );
        assert_eq!(lines.iter().filter(|l| l.contains("\"proc\"")).count(), 1);
        // Without a mount namespace asked for, pivot_root adds one: never the host's.
        let bare = ContainerSpec {
            mount_proc: false,
            ..spec
        };
        assert!(bare.effective_namespaces().mount);
        let rec = RecordingSyscalls::new();
        prepare_root(&rec, &bare).unwrap();
        assert!(!rec.lines().iter().any(|l| l.contains("\"proc\"")));
    }

    #[test]
    fn in_a_user_namespace_a_refused_proc_stops_before_the_pivot_and_names_the_rule() {
        use crate::runtime::spawn::prepare_root;
        use crate::runtime::spec::{ContainerSpec, Namespaces};
        let spec = ContainerSpec {
            root: Some("/r".into()),
            pivot_root: true,
            mount_proc: true,
            namespaces: Namespaces {
                pid: true,
                ..Namespaces::default()
            },
            user: Some(crate::runtime::userns::IdMap { uid: 999, gid: 999 }),
            command: vec!["sh".into()],
            ..ContainerSpec::default()
        };
        let rec = RecordingSyscalls::new();
        rec.fail_on("\"proc\"", Errno::EPERM);
        let err = prepare_root(&rec, &spec).unwrap_err();
        assert_eq!(err, (crate::runtime::userns::PROC_MASKED_TAG, Errno::EPERM));
        assert!(
            !rec.names().contains(&"pivot_root".to_string()),
            "{:?}",
            rec.lines()
        );
    }

    #[test]
    fn dev_is_a_tmpfs_with_host_devices_bound_before_the_pivot() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("dev")).unwrap();
        let r = root.path().display().to_string();
        let rec = RecordingSyscalls::new();
        pivot_into(&rec, root.path(), true).unwrap();
        // The trace's comments (`/* … */`) are left out: the calls are what count.
        let lines: Vec<String> = rec
            .lines()
            .into_iter()
            .filter(|l| !l.starts_with("/*"))
            .collect();
        assert_eq!(
            lines[1],
            format!(
                "mount(\"tmpfs\", \"{r}/dev\", \"tmpfs\", MS_NOSUID|MS_STRICTATIME, \"mode=755,size=65536k\") = 0"
            )
        );
        assert_eq!(
            lines[2],
            format!("mknod(\"{r}/dev/null\", S_IFREG|0666, 0) = 0")
        );
        assert_eq!(
            lines[3],
            format!("mount(\"/dev/null\", \"{r}/dev/null\", NULL, MS_BIND, NULL) = 0")
        );
        let pivot = lines
            .iter()
            .position(|l| l.starts_with("pivot_root"))
            .unwrap();
        let last_dev = lines.iter().rposition(|l| l.contains("/dev/")).unwrap();
        assert!(last_dev < pivot, "{lines:?}");
        // Without a dev directory there is nothing to mount on: said, not failed.
        let bare = tempfile::tempdir().unwrap();
        let rec = RecordingSyscalls::new();
        pivot_into(&rec, bare.path(), true).unwrap();
        assert!(
            rec.lines()[1].contains("no /dev directory"),
            "{:?}",
            rec.lines()
        );
    }

    /// Pitfall M2: a refused pivot_root is reported by the condition it broke, not the errno.
    #[test]
    fn pitfall_m2_a_refused_pivot_is_diagnosed_in_the_trace_and_named_by_its_condition() {
        let rec = RecordingSyscalls::new();
        rec.fail_on("pivot_root", Errno::EINVAL);
        let root = tempfile::tempdir().unwrap();
        let (tag, errno) = pivot_into(&rec, root.path(), false).unwrap_err();
        assert_eq!(errno, Errno::EINVAL);
        // The recorder mounted nothing, so the diagnosis reads this host's real table:
        // a condition by its tag (which one depends on the host's propagation; the real
        // conditions are tested one by one in tests/lesson_06.rs).
        assert!(PivotCondition::from_tag(tag).is_some(), "{tag}");
        let lines = rec.lines();
        assert!(
            lines[2].ends_with("= -1 EINVAL (Invalid argument)"),
            "{lines:?}"
        );
        assert!(lines[3].starts_with("/* pivot_root refused: "), "{lines:?}");
        assert_eq!(lines.len(), 4, "nothing after a failed pivot: {lines:?}");
        // EPERM is a missing capability, not a broken rule: the plain name.
        let rec = RecordingSyscalls::new();
        rec.fail_on("pivot_root", Errno::EPERM);
        assert_eq!(
            pivot_into(&rec, root.path(), false).unwrap_err(),
            ("pivot_root", Errno::EPERM)
        );
    }

    const HOST: &str = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:21 / /proc rw,relatime shared:2 - proc proc rw
30 22 0:40 / /srv/my\\040root rw,relatime - tmpfs tmpfs rw
";

    fn diag(text: &str, new_root: &str, put_old: &str) -> PivotCondition {
        diagnose(
            &parse_mountinfo(text),
            Path::new(new_root),
            Path::new(put_old),
            true,
        )
        .condition
    }

    #[test]
    fn mountinfo_fields_are_read_and_unescaped() {
        let m = parse_mountinfo(HOST);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].id, 22);
        assert!(m[0].shared && !m[2].shared);
        assert_eq!(m[2].mount_point, PathBuf::from("/srv/my root"));
        assert_eq!(m[1].fstype, "proc");
    }

    #[test]
    fn each_condition_is_named_from_the_mount_table() {
        let private = HOST.replace(" shared:1", "").replace(" shared:2", "");
        assert_eq!(
            diagnose(&[], Path::new("/x"), Path::new("/x"), false).condition,
            PivotCondition::NotADirectory
        );
        assert_eq!(
            diag(&private, "/", "/"),
            PivotCondition::NewRootIsCurrentRoot
        );
        // The tmpfs at /srv/my root is a mount point, but its parent (/) is shared.
        assert_eq!(
            diag(HOST, "/srv/my root", "/srv/my root"),
            PivotCondition::SharedPropagation
        );
        let d = diagnose(
            &parse_mountinfo(HOST),
            Path::new("/srv/my root"),
            Path::new("/srv/my root"),
            true,
        );
        assert!(d.detail.contains("mount 22 at /"), "{d:?}");
        assert_eq!(
            diag(&private, "/var/r", "/var/r"),
            PivotCondition::NewRootNotMountPoint
        );
        assert_eq!(
            diag(&private, "/srv/my root", "/tmp"),
            PivotCondition::PutOldOutsideNewRoot
        );
        assert_eq!(
            diag(&private, "/srv/my root", "/srv/my root/old"),
            PivotCondition::Unknown
        );
        // Chrooted into a directory: no mount is at the reader's /.
        let chrooted = "40 22 0:21 / /proc rw - proc proc rw\n";
        assert_eq!(
            diag(chrooted, "/r", "/r"),
            PivotCondition::CurrentRootNotMountPoint
        );
        let ramfs = "1 1 0:1 / / rw - rootfs rootfs rw\n2 1 0:40 / /new rw - tmpfs t rw\n";
        assert_eq!(
            diag(ramfs, "/new", "/new"),
            PivotCondition::CurrentRootIsRamfs
        );
    }

    #[test]
    fn every_tag_is_one_word_and_round_trips() {
        for c in PivotCondition::ALL {
            assert!(!c.tag().contains(char::is_whitespace), "{c:?}");
            assert_eq!(PivotCondition::from_tag(c.tag()), Some(c));
            assert!(!c.rule().is_empty());
        }
        assert_eq!(PivotCondition::from_tag("mount"), None);
    }
}
