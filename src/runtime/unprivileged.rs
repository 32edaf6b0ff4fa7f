//! The unprivileged user a lesson's demo command runs as (`unprivileged = true` on a
//! probe or a challenge's shell): what the kernel lets a process without capabilities
//! do, shown for real.
//!
//! - As root, the lab drops to the overflow user `nobody`, uid and gid [`NOBODY`], with no
//!   supplementary groups, in the forked child, last before exec: setgroups(2) with an
//!   empty list, setresgid(2), then setresuid(2) (the group first: once the uid is not 0,
//!   CAP_SETGID is gone; credentials(7), capabilities(7)). This is what
//!   `setpriv --reuid=65534 --regid=65534 --clear-groups` does.
//! - As a user, there is nothing to drop: the learner already is the unprivileged user
//!   the lesson shows. The command runs as that user itself, outside the lab's user
//!   namespace (where the user would be root, with capabilities over the lab's
//!   namespaces) and without the lab's guard namespaces. The guard is not needed: a
//!   process without capabilities in the initial user namespace cannot mount on the
//!   host's mount table nor set the host's name (mount(2), sethostname(2): EPERM), so
//!   whatever it tries there fails as it would for any user; the namespaces it makes
//!   itself (`unshare --user`) are its own, and die with it.
//!
//! Either way the command's uid is [`Unprivileged::uid`]: 65534 as root, the user's own
//! as a user. Lessons name it with the templates `{unprivileged.uid}`,
//! `{unprivileged.gid}` and, for a line a learner types, `{unprivileged.setpriv}`.

use nix::unistd::{getegid, geteuid};

use super::spawn::SetupResult;
use super::spec::ContainerSpec;
use super::syscalls::{Sys, Syscalls};

/// The overflow uid and gid, `nobody` and `nogroup` on Debian (the kernel's
/// `/proc/sys/kernel/overflowuid`, user_namespaces(7)): the user root drops to.
pub const NOBODY: u32 = 65534;

/// Who a command marked unprivileged runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unprivileged {
    /// Its user id, as the host sees it.
    pub uid: u32,
    /// Its group id.
    pub gid: u32,
    /// The lab drops to these ids itself (it runs as root); false when the lab already
    /// runs as this user.
    pub dropped: bool,
}

impl Unprivileged {
    /// For a lab whose effective uid is root (`is_root`) or the user `uid`/`gid`.
    #[must_use]
    pub fn for_lab(is_root: bool, uid: u32, gid: u32) -> Self {
        if is_root {
            Self {
                uid: NOBODY,
                gid: NOBODY,
                dropped: true,
            }
        } else {
            Self {
                uid,
                gid,
                dropped: false,
            }
        }
    }

    /// For this process: [`NOBODY`] as root, else its own effective ids.
    #[must_use]
    pub fn current() -> Self {
        Self::for_lab(geteuid().is_root(), geteuid().as_raw(), getegid().as_raw())
    }

    /// The words a learner types before a command to run it as this user, with a
    /// trailing space: `setpriv --reuid=65534 --regid=65534 --clear-groups ` as root
    /// (setpriv(1)); empty as a user, who runs the command as it is.
    #[must_use]
    pub fn setpriv_prefix(&self) -> String {
        if self.dropped {
            format!(
                "setpriv --reuid={} --regid={} --clear-groups ",
                self.uid, self.gid
            )
        } else {
            String::new()
        }
    }

    /// The value of template `{unprivileged.NAME}` (`uid`, `gid`, `setpriv`), if known.
    #[must_use]
    pub fn template(&self, name: &str) -> Option<String> {
        match name {
            "uid" => Some(self.uid.to_string()),
            "gid" => Some(self.gid.to_string()),
            "setpriv" => Some(self.setpriv_prefix()),
            _ => None,
        }
    }
}

/// The names `{unprivileged.NAME}` may take.
pub const TEMPLATE_NAMES: [&str; 3] = ["uid", "gid", "setpriv"];

/// In the forked child, last before exec: when `spec.unprivileged` and the process is
/// root (`is_root`, outside any user namespace of the lab's), drop to [`NOBODY`] with no
/// supplementary groups: setgroups(2) `[]`, setresgid(2), setresuid(2), each traced.
/// Nothing otherwise (a user has nothing to drop).
///
/// # Errors
/// The failing call's name and errno (EPERM without CAP_SETGID/CAP_SETUID; EINVAL for an
/// id the process's user namespace does not map).
pub fn drop_ids(sys: &dyn Syscalls, spec: &ContainerSpec, is_root: bool) -> SetupResult {
    if !spec.unprivileged || !is_root || spec.user.is_some() {
        return Ok(());
    }
    sys.sys(Sys::Setgroups(&[])).map_err(|e| ("setgroups", e))?;
    sys.sys(Sys::Setresgid(NOBODY, NOBODY, NOBODY))
        .map_err(|e| ("setresgid", e))?;
    sys.sys(Sys::Setresuid(NOBODY, NOBODY, NOBODY))
        .map_err(|e| ("setresuid", e))
}

/// As a user: `spec` as that user may run it, without what only privilege sets up (the
/// lab's user namespace, guard namespaces, the read-only rootfs and `/dev` binds that
/// need a mount namespace). See the module header for why nothing is lost. A `root` is
/// kept: chroot(2) then fails with EPERM, as it would for the user by hand (`check`
/// refuses such a lesson before it runs).
#[must_use]
pub fn as_the_user(spec: &ContainerSpec) -> ContainerSpec {
    ContainerSpec {
        namespaces: super::spec::Namespaces::default(),
        guard: false,
        protect: None,
        minimal_dev: false,
        user: None,
        ..spec.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::syscalls::RecordingSyscalls;
    use nix::errno::Errno;

    fn spec() -> ContainerSpec {
        ContainerSpec {
            command: vec!["id".into()],
            unprivileged: true,
            ..Default::default()
        }
    }

    #[test]
    fn root_drops_groups_then_gid_then_uid_to_nobody() {
        let rec = RecordingSyscalls::new();
        drop_ids(&rec, &spec(), true).unwrap();
        assert_eq!(
            rec.lines(),
            vec![
                "setgroups(0, []) = 0",
                "setresgid(65534, 65534, 65534) = 0",
                "setresuid(65534, 65534, 65534) = 0",
            ]
        );
    }

    #[test]
    fn a_refused_drop_stops_before_the_uid_changes() {
        let rec = RecordingSyscalls::new();
        rec.fail_on("setresgid", Errno::EINVAL);
        assert_eq!(
            drop_ids(&rec, &spec(), true),
            Err(("setresgid", Errno::EINVAL))
        );
        assert_eq!(rec.names(), vec!["setgroups", "setresgid"]);
    }

    #[test]
    fn a_user_or_a_plain_command_drops_nothing() {
        let rec = RecordingSyscalls::new();
        drop_ids(&rec, &spec(), false).unwrap();
        let plain = ContainerSpec {
            unprivileged: false,
            ..spec()
        };
        drop_ids(&rec, &plain, true).unwrap();
        assert!(rec.lines().is_empty(), "{:?}", rec.lines());
    }

    #[test]
    fn the_ids_and_the_typed_prefix_follow_who_runs_the_lab() {
        let root = Unprivileged::for_lab(true, 0, 0);
        assert_eq!((root.uid, root.gid), (65534, 65534));
        assert_eq!(
            root.template("setpriv").unwrap(),
            "setpriv --reuid=65534 --regid=65534 --clear-groups "
        );
        let user = Unprivileged::for_lab(false, 999, 998);
        assert_eq!(user.template("uid").as_deref(), Some("999"));
        assert_eq!(user.template("gid").as_deref(), Some("998"));
        assert_eq!(user.template("setpriv").as_deref(), Some(""));
        assert_eq!(user.template("home"), None);
    }

    #[test]
    fn as_the_user_a_shell_keeps_its_command_and_loses_what_needs_privilege() {
        let shell = ContainerSpec {
            namespaces: crate::runtime::spec::Namespaces {
                mount: true,
                uts: true,
                ..Default::default()
            },
            protect: Some("/cache/rootfs".into()),
            minimal_dev: true,
            user: Some(crate::runtime::userns::IdMap { uid: 999, gid: 999 }),
            ..spec()
        };
        let plain = as_the_user(&shell);
        assert!(plain.effective_namespaces().is_empty());
        assert!(plain.guard_namespaces().is_empty());
        assert_eq!((plain.protect.as_ref(), plain.user), (None, None));
        assert_eq!(plain.command, vec!["id".to_string()]);
        assert!(crate::runtime::userns::rootless_spec(&plain).is_none());
    }
}
