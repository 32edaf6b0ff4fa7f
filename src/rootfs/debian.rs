//! The `debian` builder: a real Debian system installed from the archive.
//!
//! mmdebstrap (or the classic debootstrap) downloads the suite's essential packages,
//! verifies them against the Debian archive keyring, unpacks them into the target and
//! configures them chrooted there. That needs root, the network, and a target filesystem
//! that allows exec; each is checked before anything is downloaded, and a package the
//! suite lacks (pitfall R1) is reported by name. The tool runs in its own mount namespace
//! (`unshare --mount`), so the proc, sys and dev mounts it makes in the target vanish with
//! it even when it is killed, and never show on the host.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use indicatif::{ProgressBar, ProgressStyle};

use super::recipe::{DebianParams, DebianTool};
use super::{BuildOptions, RootfsError, say};

/// Where debootstrap keeps one script per suite it knows.
const SCRIPTS_DIR: &str = "/usr/share/debootstrap/scripts";
/// The keyring every Debian build is verified against.
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
/// How many output lines an error keeps.
const TAIL_LINES: usize = 50;
/// Extra directories searched for the tools (sudo's PATH may lack the sbin ones).
const TOOL_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Root and the tool: checked before anything else.
pub(crate) fn preflight_host(params: &DebianParams) -> Result<(), RootfsError> {
    if !crate::paths::is_root() {
        return Err(RootfsError::NotRoot {
            what: "building a Debian rootfs (debootstrap and mmdebstrap create device nodes, change file owners and chroot)".to_string(),
        });
    }
    choose_tool(params.tool)?;
    find_unshare().map(|_| ())
}

/// util-linux `unshare`, which gives the tool a private mount namespace.
fn find_unshare() -> Result<PathBuf, RootfsError> {
    which::which_in("unshare", Some(TOOL_PATH), "/").map_err(|_| RootfsError::ToolMissing {
        tool: "unshare".to_string(),
        package: "util-linux".to_string(),
    })
}

/// The suite and the keyring: checked once the target is known to allow exec.
pub(crate) fn preflight_suite(params: &DebianParams) -> Result<(), RootfsError> {
    let (tool, _) = choose_tool(params.tool)?;
    let scripts = Path::new(SCRIPTS_DIR);
    // mmdebstrap does not need debootstrap's scripts; check them whenever they exist.
    if tool == DebianTool::Debootstrap || scripts.is_dir() {
        let script = scripts.join(&params.suite);
        if !script.exists() {
            return Err(RootfsError::UnknownSuite {
                suite: params.suite.clone(),
                script,
            });
        }
    }
    if !Path::new(KEYRING).is_file() {
        return Err(RootfsError::KeyringMissing {
            path: PathBuf::from(KEYRING),
        });
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
                tool: "neither mmdebstrap nor debootstrap".to_string(),
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
    let (tool, tool_path) = choose_tool(params.tool)?;
    // `unshare --mount` makes a mount namespace whose propagation is private: the mounts the
    // tool makes inside the target are gone when its last process exits, however it exits.
    let mut cmd = Command::new(find_unshare()?);
    cmd.args(["--mount", "--propagation", "private", "--"])
        .arg(&tool_path);
    if tool == DebianTool::Mmdebstrap {
        cmd.arg("--mode=root");
    }
    cmd.arg(format!("--variant={}", params.variant));
    if !params.include.is_empty() {
        cmd.arg(format!("--include={}", params.include.join(",")));
    }
    cmd.arg(format!("--keyring={KEYRING}"))
        .arg(&params.suite)
        .arg(root)
        .arg(&params.mirror);
    // English messages, so the failure lines can be recognised.
    cmd.env("LC_ALL", "C.UTF-8")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null());

    // One pipe for stdout and stderr: lines arrive in order, read by this thread alone.
    let (reader, writer) =
        std::io::pipe().map_err(|e| RootfsError::io("create a pipe for", &tool_path, e))?;
    let writer2 = writer
        .try_clone()
        .map_err(|e| RootfsError::io("create a pipe for", &tool_path, e))?;
    cmd.stdout(writer).stderr(writer2);

    say(
        out,
        &format!(
            "running {} in a private mount namespace for `{}` ({} variant{}) from {}",
            tool.as_str(),
            params.suite,
            params.variant,
            if params.include.is_empty() {
                String::new()
            } else {
                format!(", with {}", params.include.join(" "))
            },
            params.mirror
        ),
    );
    let mut child = cmd
        .spawn()
        .map_err(|e| RootfsError::io("start", &tool_path, e))?;
    // Close our copies of the pipe's write end, or the read below never sees EOF.
    drop(cmd);

    let pb = progress(opts, tool);
    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
    let mut missing: Vec<String> = Vec::new();
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
        let text = String::from_utf8_lossy(&buf);
        // apt redraws progress with \r: keep the last segment
        let line = text
            .trim_end()
            .rsplit('\r')
            .next()
            .unwrap_or_default()
            .trim_end()
            .to_string();
        if line.is_empty() {
            continue;
        }
        for p in missing_packages_in(&line) {
            if !missing.contains(&p) {
                missing.push(p);
            }
        }
        pb.inc(1);
        pb.set_message(shorten(&line, 80));
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(shorten(&line, 300));
    }
    let status = child
        .wait()
        .map_err(|e| RootfsError::io("wait for", &tool_path, e))?;
    pb.finish_and_clear();

    if !missing.is_empty() {
        return Err(RootfsError::MissingPackages {
            suite: params.suite.clone(),
            packages: missing,
        });
    }
    if !status.success() {
        return Err(RootfsError::BuilderFailed {
            tool: tool.as_str().to_string(),
            status: status.to_string(),
            tail: tail.into(),
        });
    }
    say(
        out,
        &format!("{} finished: {} output lines", tool.as_str(), pb.position()),
    );
    Ok(())
}

/// A spinner that advances as output lines arrive (no ticker thread), or a hidden bar.
fn progress(opts: &BuildOptions, tool: DebianTool) -> ProgressBar {
    if opts.quiet || !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {msg}") {
        pb.set_style(style);
    }
    pb.set_prefix(tool.as_str());
    pb
}

fn shorten(line: &str, max: usize) -> String {
    if line.chars().count() <= max {
        line.to_string()
    } else {
        let mut s: String = line.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
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
