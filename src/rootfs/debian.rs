//! The `debian` builder (recipe kinds `debian`, `debootstrap`, `mmdebstrap`): a real Debian
//! system installed from the archive.
//!
//! mmdebstrap (or the classic debootstrap) downloads the suite's essential packages,
//! verifies them against the archive keyring, unpacks them into the target and configures
//! them chrooted there. Everything that can be checked is checked before anything is
//! downloaded: the tool, root when the chosen way needs it, the keyring (a build is never
//! unverified), the suite, a target filesystem that allows exec (pitfall R2). A package the
//! suite lacks (pitfall R1) is reported by name, with the suite.
//!
//! Three ways to run, decided by the recipe's `tool` and `mode` and by who is building:
//!
//! - **debootstrap**, always as root;
//! - **mmdebstrap `--mode=root`** (the default for root), or `--mode=unshare` run by root,
//!   which unshares every namespace but the user one;
//! - **mmdebstrap `--mode=unshare` without root** (the default for a user): mmdebstrap maps
//!   the user's subordinate ids from /etc/subuid and /etc/subgid into a user namespace, so
//!   package scripts run as a "root" that owns nothing on the host. Its tarball is unpacked
//!   here as the user (device nodes left out: a runtime mounts /dev), so every file of the
//!   cached tree belongs to the user, who can run it rootless and delete it; a directory
//!   written from inside the namespace would belong to subordinate ids the user cannot
//!   remove.
//!
//! As root the tool runs in its own mount namespace (`unshare --mount`), so the proc, sys
//! and dev mounts it makes in the target vanish with it even when it is killed, and never
//! show on the host.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use indicatif::{ProgressBar, ProgressStyle};

use super::recipe::{DebianMode, DebianParams, DebianTool};
use super::{BuildOptions, RootfsError, ToolLine, ToolLines, say, shorten};

/// Where debootstrap keeps one script per suite it knows.
const SCRIPTS_DIR: &str = "/usr/share/debootstrap/scripts";
/// The keyring every Debian build is verified against, unless the recipe names another.
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
/// How many output lines an error keeps.
const TAIL_LINES: usize = 50;
/// Extra directories searched for the tools (sudo's PATH may lack the sbin ones).
const TOOL_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Subordinate ids a user needs: Debian packages use ids up to 65534 (`nobody`).
const SUBID_COUNT: u64 = 65536;

/// How the tree gets built: which tool, in which mode, by whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// debootstrap, as root.
    Debootstrap,
    /// `mmdebstrap --mode=root`, as root.
    MmdebstrapRoot,
    /// `mmdebstrap --mode=unshare` run by root: no user namespace, the others unshared.
    MmdebstrapUnshareAsRoot,
    /// `mmdebstrap --mode=unshare` run by a user: a user namespace with subordinate ids,
    /// tar output unpacked as the user.
    MmdebstrapRootless,
}

impl Way {
    fn tool(self) -> DebianTool {
        match self {
            Self::Debootstrap => DebianTool::Debootstrap,
            _ => DebianTool::Mmdebstrap,
        }
    }

    /// The command as a learner would type it, for messages.
    fn describe(self) -> &'static str {
        match self {
            Self::Debootstrap => "debootstrap",
            Self::MmdebstrapRoot => "mmdebstrap --mode=root",
            Self::MmdebstrapUnshareAsRoot | Self::MmdebstrapRootless => "mmdebstrap --mode=unshare",
        }
    }
}

/// Decide the way and find the tool.
fn plan(params: &DebianParams) -> Result<(Way, PathBuf), RootfsError> {
    let root = crate::paths::is_root();
    // unshare mode is mmdebstrap's: with tool = "auto" it must not fall back to debootstrap
    let wanted = match (params.tool, params.mode) {
        (DebianTool::Auto, DebianMode::Unshare) => DebianTool::Mmdebstrap,
        (t, _) => t,
    };
    let (tool, path) = choose_tool(wanted)?;
    let way = match (tool, params.mode, root) {
        (DebianTool::Debootstrap, _, _) => Way::Debootstrap,
        (_, DebianMode::Root, _) | (_, DebianMode::Auto, true) => Way::MmdebstrapRoot,
        (_, DebianMode::Unshare, true) => Way::MmdebstrapUnshareAsRoot,
        (_, _, false) => Way::MmdebstrapRootless,
    };
    Ok((way, path))
}

/// The keyring to verify with: the recipe's, or Debian's.
fn keyring(params: &DebianParams) -> PathBuf {
    params
        .keyring
        .clone()
        .unwrap_or_else(|| PathBuf::from(KEYRING))
}

/// The tool, root when the way needs it, the keyring, and for a rootless build what
/// mmdebstrap's unshare mode needs: checked before anything is written.
pub(crate) fn preflight_host(params: &DebianParams) -> Result<(), RootfsError> {
    let (way, _) = plan(params)?;
    let root = crate::paths::is_root();
    match way {
        Way::Debootstrap if !root => {
            return Err(RootfsError::NotRoot {
                what: "building a Debian rootfs with debootstrap (it creates device nodes, changes file owners and chroots)".to_string(),
                instead: "build the `debian` recipe (or any with kind = \"mmdebstrap\"), which makes the same tree without root in mmdebstrap's unshare mode".to_string(),
            });
        }
        Way::MmdebstrapRoot if !root => {
            return Err(RootfsError::NotRoot {
                what: "building a Debian rootfs with mmdebstrap --mode=root (the recipe says mode = \"root\")".to_string(),
                instead: "write mode = \"unshare\" in the recipe, which builds the same tree without root where user namespaces are allowed".to_string(),
            });
        }
        _ => {}
    }
    if way == Way::MmdebstrapRootless {
        check_tool("tar", "tar")?;
    } else {
        find_unshare()?;
    }

    let keyring = keyring(params);
    if !keyring.is_file() {
        return Err(
            if params.keyring.is_some() && keyring != Path::new(KEYRING) {
                RootfsError::KeyringNotFound { path: keyring }
            } else {
                RootfsError::KeyringMissing { path: keyring }
            },
        );
    }
    // debootstrap checks the Release signature with gpgv; apt (under mmdebstrap) too
    check_tool("gpgv", "gpgv")?;

    if way == Way::MmdebstrapRootless {
        let subids = check_subordinate_ids();
        if check_tool("newuidmap", "uidmap").is_err() || check_tool("newgidmap", "uidmap").is_err()
        {
            return Err(uidmap_missing(subids.err()));
        }
        subids?;
        check_primary_group()?;
        check_user_namespaces()?;
        // mmdebstrap builds in $TMPDIR before writing the tarball (pitfall R2 there too)
        let tmp = std::env::var_os("TMPDIR")
            .filter(|t| !t.is_empty())
            .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
        if let Err(RootfsError::NoexecMount { mount_point, .. }) =
            super::cache::check_exec_mount(&tmp)
        {
            return Err(RootfsError::UnshareTmpNoexec {
                dir: tmp,
                mount_point,
            });
        }
    }
    Ok(())
}

/// util-linux `unshare`, which gives the tool a private mount namespace.
fn find_unshare() -> Result<PathBuf, RootfsError> {
    check_tool("unshare", "util-linux")
}

/// A helper program, or [`RootfsError::ToolMissing`] naming its Debian package.
fn check_tool(tool: &str, package: &str) -> Result<PathBuf, RootfsError> {
    let mut path = std::env::var("PATH").unwrap_or_default();
    path.push(':');
    path.push_str(TOOL_PATH);
    which::which_in(tool, Some(&path), "/").map_err(|_| RootfsError::ToolMissing {
        tool: tool.to_string(),
        package: package.to_string(),
    })
}

/// mmdebstrap's unshare mode maps the user's first /etc/subuid and /etc/subgid range
/// (looked up by user name) into its namespace; without one it cannot start.
fn check_subordinate_ids() -> Result<(), RootfsError> {
    let uid = nix::unistd::getuid();
    let user = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name);
    let mut problems = Vec::new();
    let mut next_free = 100_000u64;
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                problems.push(format!("{file} does not exist"));
                continue;
            }
            Err(e) => {
                problems.push(format!("{file} cannot be read: {e}"));
                continue;
            }
        };
        let ranges = parse_subids(&text);
        for (_, start, count) in &ranges {
            next_free = next_free.max(start.saturating_add(*count));
        }
        match ranges.iter().find(|(name, _, _)| *name == user) {
            None => problems.push(format!("{file} has no line for {user}")),
            Some((_, _, count)) if *count < SUBID_COUNT => problems.push(format!(
                "{file} gives {user} {count} ids, and a Debian tree needs {SUBID_COUNT}"
            )),
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(RootfsError::NoSubordinateIds {
        user,
        problem: problems.join("; "),
        range: format!("{next_free}-{}", next_free + SUBID_COUNT - 1),
    })
}

/// newuidmap and newgidmap map ids only for a process whose real gid is the user's group
/// in the password database (after `newgrp`, `sg` or `setpriv --regid` it is not).
fn check_primary_group() -> Result<(), RootfsError> {
    let gid = nix::unistd::getgid();
    match nix::unistd::User::from_uid(nix::unistd::getuid()) {
        Ok(Some(u)) if u.gid != gid => Err(RootfsError::NotPrimaryGroup {
            gid: gid.as_raw(),
            primary: u.gid.as_raw(),
        }),
        _ => Ok(()),
    }
}

/// newuidmap or newgidmap is missing: one sentence for both fixes when the user has no
/// subordinate ids either (`subids` is what [`check_subordinate_ids`] said).
fn uidmap_missing(subids: Option<RootfsError>) -> RootfsError {
    let also = match subids {
        Some(RootfsError::NoSubordinateIds { user, range, .. }) => format!(
            " and give {user} a range of subordinate ids with `usermod --add-subuids {range} --add-subgids {range} {user}`"
        ),
        _ => String::new(),
    };
    RootfsError::UidmapMissing { also }
}

/// `name:start:count` lines; anything else is skipped.
fn parse_subids(text: &str) -> Vec<(&str, u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let name = f.next()?;
            let start = f.next()?.trim().parse().ok()?;
            let count = f.next()?.trim().parse().ok()?;
            Some((name, start, count))
        })
        .collect()
}

/// The kernel knobs that refuse user namespaces, in the order they are checked, then a
/// real attempt (a container runtime may forbid them with seccomp).
fn check_user_namespaces() -> Result<(), RootfsError> {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    let refused = |reason: &str, fix: &str| RootfsError::UserNamespacesRefused {
        reason: reason.to_string(),
        fix: fix.to_string(),
    };
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Err(refused(
            "user.max_user_namespaces is 0",
            "allow them with `sysctl -w user.max_user_namespaces=15000` (as root)",
        ));
    }
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Err(refused(
            "kernel.unprivileged_userns_clone is 0",
            "allow them with `sysctl -w kernel.unprivileged_userns_clone=1` (as root)",
        ));
    }
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return Err(refused(
            "AppArmor restricts unprivileged user namespaces: kernel.apparmor_restrict_unprivileged_userns is 1",
            "allow them with `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (as root)",
        ));
    }
    let unshare = find_unshare()?;
    let probe = Command::new(&unshare)
        .args(["--user", "--", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| RootfsError::io("run", &unshare, e))?;
    if !probe.status.success() {
        let said = String::from_utf8_lossy(&probe.stderr);
        let said = said
            .lines()
            .next()
            .unwrap_or("no output")
            .trim()
            .to_string();
        return Err(refused(
            &format!("`unshare --user true` failed: {said}"),
            "if fromscratch runs inside a container, its runtime forbids nested user namespaces: build on the host",
        ));
    }
    Ok(())
}

/// The suite: checked once the target is known to allow exec.
///
/// debootstrap's per-suite scripts are the offline list of suites; mmdebstrap needs none,
/// but the list (when installed) still catches a misspelt suite before anything is
/// downloaded.
pub(crate) fn preflight_suite(params: &DebianParams) -> Result<(), RootfsError> {
    let (way, _) = plan(params)?;
    let scripts = Path::new(SCRIPTS_DIR);
    if way == Way::Debootstrap || scripts.is_dir() {
        let script = scripts.join(&params.suite);
        if !script.exists() {
            return Err(if way == Way::Debootstrap {
                RootfsError::UnknownSuite {
                    suite: params.suite.clone(),
                    script,
                }
            } else {
                RootfsError::SuiteNotListed {
                    tool: way.describe().to_string(),
                    suite: params.suite.clone(),
                    script,
                }
            });
        }
    }
    Ok(())
}

/// The tool to run and where it is.
fn choose_tool(wanted: DebianTool) -> Result<(DebianTool, PathBuf), RootfsError> {
    let mut path = std::env::var("PATH").unwrap_or_default();
    path.push(':');
    path.push_str(TOOL_PATH);
    let find = |t: DebianTool| which::which_in(t.as_str(), Some(&path), "/").ok();
    let missing = |t: DebianTool| RootfsError::ToolMissing {
        tool: t.as_str().to_string(),
        package: t.as_str().to_string(),
    };
    match wanted {
        DebianTool::Auto => find(DebianTool::Mmdebstrap)
            .map(|p| (DebianTool::Mmdebstrap, p))
            .or_else(|| find(DebianTool::Debootstrap).map(|p| (DebianTool::Debootstrap, p)))
            .ok_or_else(|| RootfsError::ToolMissing {
                tool: "mmdebstrap (nor debootstrap)".to_string(),
                package: "mmdebstrap".to_string(),
            }),
        t => find(t).map(|p| (t, p)).ok_or_else(|| missing(t)),
    }
}

/// Install the suite into the empty directory `root`.
pub(crate) fn build(
    params: &DebianParams,
    root: &Path,
    opts: &BuildOptions,
    out: &mut dyn Write,
) -> Result<(), RootfsError> {
    let (way, tool_path) = plan(params)?;
    let keyring = keyring(params);
    let mut tool = if way == Way::MmdebstrapRootless {
        // no mount namespace of ours: mmdebstrap makes a user namespace, then the others
        Command::new(&tool_path)
    } else {
        // `unshare --mount` makes a mount namespace whose propagation is private: the mounts
        // the tool makes inside the target are gone when its last process exits, however
        // it exits.
        let mut c = Command::new(find_unshare()?);
        c.args(["--mount", "--propagation", "private", "--"])
            .arg(&tool_path);
        c
    };
    match way {
        Way::Debootstrap => {}
        Way::MmdebstrapRoot => {
            tool.arg("--mode=root");
        }
        Way::MmdebstrapUnshareAsRoot => {
            tool.arg("--mode=unshare");
        }
        Way::MmdebstrapRootless => {
            tool.args(["--mode=unshare", "--format=tar"]);
        }
    }
    tool.arg(format!("--variant={}", params.variant));
    if !params.include.is_empty() {
        tool.arg(format!("--include={}", params.include.join(",")));
    }
    tool.arg(format!("--keyring={}", keyring.display()))
        .arg(&params.suite);
    if way == Way::MmdebstrapRootless {
        // the tarball goes to stdout, straight into tar
        tool.arg("-");
    } else {
        tool.arg(root);
    }
    tool.arg(&params.mirror);
    // English messages, so the failure lines can be recognised.
    tool.env("LC_ALL", "C.UTF-8")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null());

    // One pipe for every stderr (and debootstrap's stdout): lines arrive in order, read by
    // this thread alone.
    let (reader, writer) =
        std::io::pipe().map_err(|e| RootfsError::io("create a pipe for", &tool_path, e))?;
    let clone = |w: &std::io::PipeWriter| {
        w.try_clone()
            .map_err(|e| RootfsError::io("create a pipe for", &tool_path, e))
    };

    say(
        out,
        &format!(
            "running {} {}for `{}` ({} variant{}, verified with {}) from {}",
            way.describe(),
            match way {
                Way::MmdebstrapRootless =>
                    "without root, in a user namespace with your subordinate ids, ",
                Way::MmdebstrapUnshareAsRoot => "in its own namespaces ",
                _ => "in a private mount namespace ",
            },
            params.suite,
            params.variant,
            if params.include.is_empty() {
                String::new()
            } else {
                format!(", with {}", params.include.join(" "))
            },
            keyring.display(),
            params.mirror
        ),
    );

    let mut unpacker = None;
    let mut child = if way == Way::MmdebstrapRootless {
        tool.stdout(Stdio::piped()).stderr(clone(&writer)?);
        let mut child = tool
            .spawn()
            .map_err(|e| RootfsError::io("start", &tool_path, e))?;
        let tar_path = check_tool("tar", "tar")?;
        let Some(tarball) = child.stdout.take() else {
            return Err(RootfsError::io(
                "read the tarball of",
                &tool_path,
                std::io::Error::other("no stdout pipe"),
            ));
        };
        // As the user: every file ends up owned by the user. Device nodes cannot be made
        // without root and are not needed (a runtime mounts /dev).
        let mut tar = Command::new(&tar_path);
        tar.args([
            "--extract",
            "--file=-",
            "--preserve-permissions",
            "--no-same-owner",
        ])
        .arg("--exclude=./dev/*")
        .arg("--directory")
        .arg(root)
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::from(tarball))
        .stdout(Stdio::null())
        .stderr(writer);
        match tar.spawn() {
            Ok(t) => unpacker = Some(t),
            Err(e) => {
                // mmdebstrap gets EPIPE and stops; reap it
                let _ = child.wait();
                return Err(RootfsError::io("start", &tar_path, e));
            }
        }
        drop(tar);
        child
    } else {
        tool.stdout(clone(&writer)?).stderr(writer);
        tool.spawn()
            .map_err(|e| RootfsError::io("start", &tool_path, e))?
    };
    // Close our copies of the pipe's write end, or the read below never sees EOF.
    drop(tool);

    let pb = progress(opts, way.tool());
    let (tail, missing, lines) = follow(reader, &pb);
    if crate::lab::interrupted() {
        // Ctrl-C or SIGTERM: stop the tool now; the caller removes the temporary tree.
        let _ = child.kill();
        if let Some(t) = unpacker.as_mut() {
            let _ = t.kill();
        }
    }
    let status = child
        .wait()
        .map_err(|e| RootfsError::io("wait for", &tool_path, e))?;
    let tar_status = match unpacker.as_mut() {
        Some(t) => Some(
            t.wait()
                .map_err(|e| RootfsError::io("wait for", Path::new("tar"), e))?,
        ),
        None => None,
    };
    pb.finish_and_clear();

    if crate::lab::interrupted() {
        return Err(RootfsError::Interrupted);
    }
    if !missing.is_empty() {
        return Err(RootfsError::MissingPackages {
            suite: params.suite.clone(),
            packages: missing,
        });
    }
    if !status.success() {
        if way == Way::MmdebstrapRootless
            && let Some(e) = unshare_failure(&tail)
        {
            return Err(e);
        }
        return Err(failed(way.describe(), status, tail));
    }
    if let Some(st) = tar_status
        && !st.success()
    {
        return Err(failed("tar (unpacking mmdebstrap's tarball)", st, tail));
    }
    say(
        out,
        &format!("{} finished: {lines} output lines", way.describe()),
    );
    if way == Way::MmdebstrapRootless {
        let cleared = clear_set_id_bits(root)?;
        say(
            out,
            &format!(
                "unpacked mmdebstrap's tarball as you: every file is yours on the host and root's inside the lab's user namespace; /dev is left empty for a runtime to fill; the setuid/setgid bits of {cleared} programs were cleared, since on the host they would run as you for whoever started them"
            ),
        );
    }
    Ok(())
}

/// Clear the setuid and setgid bits of every regular file under `root` (symlinks are not
/// followed); returns how many files had them.
fn clear_set_id_bits(root: &Path) -> Result<usize, RootfsError> {
    use std::os::unix::fs::PermissionsExt;
    let mut cleared = 0;
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_path_buf();
            RootfsError::io("read", &path, e.into())
        })?;
        let Ok(meta) = entry.metadata() else { continue };
        let mode = meta.permissions().mode();
        if meta.is_file() && mode & 0o6000 != 0 {
            std::fs::set_permissions(
                entry.path(),
                std::fs::Permissions::from_mode(mode & !0o6000 & 0o7777),
            )
            .map_err(|e| RootfsError::io("clear the setuid bit of", entry.path(), e))?;
            cleared += 1;
        }
    }
    Ok(cleared)
}

fn failed(tool: &str, status: ExitStatus, tail: VecDeque<String>) -> RootfsError {
    RootfsError::BuilderFailed {
        tool: tool.to_string(),
        status: status.to_string(),
        tail: tail.into(),
    }
}

/// Read the tools' output to EOF: drive the progress bar, keep the last lines, collect the
/// packages said to be missing. Returns (tail, missing packages, line count).
fn follow(reader: std::io::PipeReader, pb: &ProgressBar) -> (VecDeque<String>, Vec<String>, u64) {
    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
    let mut missing: Vec<String> = Vec::new();
    let mut lines = 0u64;
    for line in ToolLines::new(reader) {
        // Ctrl-C: stop reading; the tool dies with us (PR_SET_PDEATHSIG) or is killed
        // by the caller, and the temporary tree is removed.
        let ToolLine::Line(line) = line else { break };
        for p in missing_packages_in(&line) {
            if !missing.contains(&p) {
                missing.push(p);
            }
        }
        lines += 1;
        pb.inc(1);
        pb.set_message(shorten(&line, 80));
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(shorten(&line, 300));
    }
    (tail, missing, lines)
}

/// mmdebstrap's own words when its user namespace could not be set up, as one sentence.
fn unshare_failure(tail: &VecDeque<String>) -> Option<RootfsError> {
    let line = tail.iter().find(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("e:")
            && [
                "newuidmap",
                "newgidmap",
                "unshare",
                "subuid",
                "subgid",
                "user namespace",
            ]
            .iter()
            .any(|w| l.contains(w))
    })?;
    if line.contains("/etc/subuid") || line.contains("/etc/subgid") {
        return check_subordinate_ids().err();
    }
    // newuidmap's own line: "Target process N is owned by a different user: ... gid:G pw_gid:P"
    if tail
        .iter()
        .any(|l| l.contains("is owned by a different user"))
        && let Err(e) = check_primary_group()
    {
        return Some(e);
    }
    Some(RootfsError::UserNamespacesRefused {
        reason: format!("mmdebstrap said \"{}\"", line.trim()),
        fix: "check that `unshare --user --map-root-user true` works and that /etc/subuid and /etc/subgid give you a range of 65536 ids".to_string(),
    })
}

/// A spinner that advances as output lines arrive (no ticker thread), or a hidden bar.
fn progress(opts: &BuildOptions, tool: DebianTool) -> ProgressBar {
    if opts.quiet || !crate::term::progress_bars() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {msg}") {
        pb.set_style(style);
    }
    pb.set_prefix(tool.as_str());
    pb
}

/// Package names an output line says the suite does not have.
///
/// debootstrap: `E: Couldn't find these debs: a b`; apt (under mmdebstrap):
/// `E: Unable to locate package a`, `E: Package 'a' has no installation candidate`.
fn missing_packages_in(line: &str) -> Vec<String> {
    let line = line.trim();
    if let Some(rest) = line.split("Couldn't find these debs:").nth(1) {
        return rest.split_whitespace().map(str::to_string).collect();
    }
    if let Some(rest) = line.split("Unable to locate package ").nth(1) {
        return rest
            .split_whitespace()
            .next()
            .map(|p| vec![p.to_string()])
            .unwrap_or_default();
    }
    if let Some(rest) = line.split("E: Package '").nth(1)
        && let Some((pkg, after)) = rest.split_once('\'')
        && after.contains("has no installation candidate")
    {
        return vec![pkg.to_string()];
    }
    Vec::new()
}

/// The package a learner most likely meant, for names that Debian renamed or never had.
pub(crate) fn suggest_package(name: &str) -> Option<String> {
    let fixed = match name {
        "python" | "python2" => "python3",
        "pip" | "pip3" | "python-pip" => "python3-pip",
        "ping" | "iputils" => "iputils-ping",
        "ip" | "iproute" => "iproute2",
        "ps" | "kill" | "top" | "free" => "procps",
        "ifconfig" | "netstat" | "route" => "net-tools",
        "dig" | "nslookup" | "dnsutils" => "bind9-dnsutils",
        "ssh" => "openssh-client",
        "vim-minimal" | "vi" => "vim-tiny",
        "docker" => "docker.io",
        "gcc-c++" => "g++",
        _ => {
            return name
                .strip_prefix("python-")
                .map(|rest| format!("python3-{rest}"));
        }
    };
    Some(fixed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_missing_package_lines() {
        assert_eq!(
            missing_packages_in("E: Couldn't find these debs: python foo"),
            ["python", "foo"]
        );
        assert_eq!(
            missing_packages_in("E: Unable to locate package pythn"),
            ["pythn"]
        );
        assert_eq!(
            missing_packages_in("E: Package 'python' has no installation candidate"),
            ["python"]
        );
        assert!(missing_packages_in("I: Retrieving Packages").is_empty());
        assert!(missing_packages_in("E: setup failed: E: apt-get ... failed").is_empty());
    }

    #[test]
    fn subordinate_id_lines_are_parsed_and_the_message_says_how_to_add_a_range() {
        assert_eq!(
            parse_subids("alice:100000:65536\n# comment\nbob:165536:65536\nbroken\n"),
            [("alice", 100_000, 65_536), ("bob", 165_536, 65_536)]
        );
        let e = RootfsError::NoSubordinateIds {
            user: "carol".into(),
            problem: "/etc/subuid has no line for carol".into(),
            range: "231072-296607".into(),
        };
        assert_eq!(
            e.to_string(),
            "mmdebstrap's unshare mode needs a range for carol in /etc/subuid and /etc/subgid (/etc/subuid has no line for carol): add one with `usermod --add-subuids 231072-296607 --add-subgids 231072-296607 carol` (as root), or build as root"
        );
        use crate::error::Classify;
        assert_eq!(e.exit_code(), 3);
    }

    #[test]
    fn without_uidmap_one_sentence_names_the_package_and_usermod_when_ids_are_missing_too() {
        use crate::error::Classify;
        let both = uidmap_missing(Some(RootfsError::NoSubordinateIds {
            user: "carol".into(),
            problem: "/etc/subuid has no line for carol".into(),
            range: "100000-165535".into(),
        }));
        assert_eq!(
            both.to_string(),
            "mmdebstrap's unshare mode needs newuidmap and newgidmap to map your subordinate ids, and they are not installed: install them with `apt install uidmap` and give carol a range of subordinate ids with `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 carol` (as root), or build as root"
        );
        assert_eq!(both.exit_code(), 3);
        let only = uidmap_missing(None);
        assert_eq!(
            only.to_string(),
            "mmdebstrap's unshare mode needs newuidmap and newgidmap to map your subordinate ids, and they are not installed: install them with `apt install uidmap` (as root), or build as root"
        );
    }

    #[test]
    fn a_failed_user_namespace_is_explained_in_one_sentence() {
        let tail: VecDeque<String> = [
            "I: chroot architecture amd64 is equal to the host's architecture",
            "E: newuidmap 4242 0 100000 65536 failed: Operation not permitted",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let e = unshare_failure(&tail).unwrap();
        let msg = e.to_string();
        assert!(
            msg.starts_with("mmdebstrap's unshare mode needs user namespaces, which this host refuses (mmdebstrap said \"E: newuidmap 4242"),
            "{msg}"
        );
        let other: VecDeque<String> = ["E: apt-get update failed".to_string()].into();
        assert!(unshare_failure(&other).is_none());
    }

    #[test]
    fn missing_package_message_names_package_suite_and_fix() {
        let e = RootfsError::MissingPackages {
            suite: "bookworm".into(),
            packages: vec!["python".into()],
        };
        let msg = e.to_string();
        assert!(
            msg.starts_with("the suite `bookworm` has no package `python` (did you mean `python3`?): nothing was installed and no rootfs was cached"),
            "{msg}"
        );
        use crate::error::Classify;
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            suggest_package("python-yaml").as_deref(),
            Some("python3-yaml")
        );
        assert_eq!(suggest_package("zzz"), None);
    }
}
