//! The `dnf` builder: a Fedora/RHEL-family tree made with `dnf --installroot`.
//!
//! dnf resolves the recipe's packages against the recipe's repositories (and only those:
//! the host's own configuration, repositories and plugins are shut out), downloads them
//! into a private cache beside the build, and has rpm unpack them into the target and run
//! their scripts chrooted there. That needs root and, for a real distribution, the network.
//! A package the repositories lack (pitfall R1) is reported by name, with the release.
//!
//! dnf runs in its own mount namespace, so anything a package script mounts vanishes with
//! it, and with PR_SET_PDEATHSIG, so it dies with fromscratch (Ctrl-C, kill -9): the half
//! tree is then a `.tmp-*` directory the next build removes.
//!
//! Two things differ from dnf on Fedora when it runs on Debian, and are handled here:
//! Debian's rpm keeps its database in `~/.rpmdb` (Debian is no rpm system), which would
//! put the new tree's database in `TREE/root/.rpmdb`, so dnf runs with `HOME` set to a
//! private directory whose `.rpmmacros` puts it where Fedora keeps it,
//! [`RPMDB`]; and Debian's `/etc/dnf/dnf.conf` says `skip_if_unavailable=True`, which
//! would turn a broken mirror into a silently smaller tree, so dnf reads an empty private
//! configuration file instead.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use indicatif::{ProgressBar, ProgressStyle};

use super::recipe::DnfParams;
use super::{BuildOptions, RootfsError, ToolLine, ToolLines, cache, say, shorten};

/// How many output lines an error keeps.
const TAIL_LINES: usize = 50;
/// Extra directories searched for dnf (sudo's PATH may lack the sbin ones).
const TOOL_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Where the tree's rpm database goes: Fedora's place since Fedora 36 (and rpm's default).
const RPMDB: &str = "/usr/lib/sysimage/rpm";
/// Environment variables passed on to dnf (a proxy the learner needs); the rest is cleared.
const PASSED_ENV: [&str; 7] = [
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "all_proxy",
];

/// Everything checked before a byte is written: the tool, root, the repository files.
pub(crate) fn preflight(params: &DnfParams) -> Result<(), RootfsError> {
    find_dnf()?;
    if !crate::paths::is_root() {
        return Err(RootfsError::NotRoot {
            what: "building a Fedora-family rootfs with dnf --installroot (rpm gives files their owners and runs package scripts chrooted in the tree)".to_string(),
            instead: "unpack a Fedora image without root: save one with `skopeo copy docker://registry.fedoraproject.org/fedora:40 oci-archive:fedora-40.tar` and build a recipe with kind = \"oci-archive\" and archive = \"fedora-40.tar\"".to_string(),
        });
    }
    for file in &params.repo_files {
        let readable = std::fs::File::open(file).and_then(|f| {
            if f.metadata()?.is_file() {
                Ok(())
            } else {
                Err(io::Error::other("it is not a regular file"))
            }
        });
        if let Err(err) = readable {
            return Err(RootfsError::RepoFile {
                path: file.clone(),
                err,
            });
        }
    }
    check_verifiable(params)
}

/// With signature checks on, some repository must come from a .repo file: one given by
/// base URL has no gpgkey, and the new tree's rpm database holds no key yet, so dnf would
/// download everything and then refuse every package.
fn check_verifiable(params: &DnfParams) -> Result<(), RootfsError> {
    if params.gpgcheck && params.repo_files.is_empty() {
        return Err(RootfsError::UnverifiableRepos {
            repos: params.repos.clone(),
        });
    }
    Ok(())
}

/// The dnf program.
fn find_dnf() -> Result<PathBuf, RootfsError> {
    let mut path = std::env::var("PATH").unwrap_or_default();
    path.push(':');
    path.push_str(TOOL_PATH);
    which::which_in("dnf", Some(&path), "/").map_err(|_| RootfsError::ToolMissing {
        tool: "dnf (on Fedora and RHEL, the package `dnf`)".to_string(),
        package: "dnf".to_string(),
    })
}

/// dnf's private files, beside the build directory: `<tmp>.dnf.<pid>/` holding
/// `dnf.conf`, `repos.d/`, `home/.rpmmacros` and `cache/`. Removed when dropped; the
/// name ends in `.<pid>`, so after a crash the next build's stale-tree sweep removes it.
struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    fn create(root: &Path) -> Result<Self, RootfsError> {
        let (Some(parent), Some(name)) = (root.parent(), root.file_name()) else {
            return Err(RootfsError::io(
                "make dnf's private directory beside",
                root,
                io::Error::other("the build directory has no parent"),
            ));
        };
        let path = parent.join(format!(
            "{}.dnf.{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        if std::fs::symlink_metadata(&path).is_ok() {
            cache::remove_tree(&path)?;
        }
        let work = Self { path };
        for dir in ["repos.d", "home", "cache"] {
            let d = work.path.join(dir);
            std::fs::create_dir_all(&d)
                .map_err(|e| RootfsError::io("create dnf's private directory", &d, e))?;
        }
        work.write(
            "dnf.conf",
            "# fromscratch: dnf reads this instead of the host's /etc/dnf/dnf.conf.\n\
             # A repository that cannot be reached, or a package it lacks, fails the build.\n\
             [main]\nskip_if_unavailable=False\nstrict=True\n",
        )?;
        // Debian's rpm puts its database in ~/.rpmdb; inside the tree it belongs here.
        work.write(
            "home/.rpmmacros",
            &format!("%_dbpath {RPMDB}\n%_db_backend sqlite\n"),
        )?;
        Ok(work)
    }

    fn write(&self, rel: &str, text: &str) -> Result<(), RootfsError> {
        let p = self.path.join(rel);
        std::fs::write(&p, text).map_err(|e| RootfsError::io("write", &p, e))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = cache::remove_tree(&self.path);
    }
}

/// The dnf arguments for `params`, installing into `root`, with private files in `work`.
fn dnf_args(params: &DnfParams, root: &Path, work: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut arg = |s: String| args.push(s.into());
    let work_name = work
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    arg(format!("--config={}", work.join("dnf.conf").display()));
    arg("--noplugins".into());
    arg("--color=never".into());
    arg(format!("--installroot={}", root.display()));
    arg(format!("--releasever={}", params.releasever));
    arg(format!(
        "--setopt=install_weak_deps={}",
        if params.install_weak_deps {
            "True"
        } else {
            "False"
        }
    ));
    arg(format!(
        "--setopt=reposdir={}",
        work.join("repos.d").display()
    ));
    // Relative to dnf's working directory, the tree: dnf writes most of its cache to the
    // path given but one file (expired_repos.json) to INSTALLROOT/path, so an absolute
    // path would leave a copy of the host's directory chain in the tree. `../` makes both
    // land in the same private directory, outside the tree.
    arg(format!("--setopt=cachedir=../{work_name}/cache"));
    arg("--setopt=keepcache=False".into());
    for (i, url) in params.repos.iter().enumerate() {
        let id = repo_id(i);
        arg(format!("--repofrompath={id},{url}"));
        // `--repo` disables every other repository: only when no .repo file adds some.
        if params.repo_files.is_empty() {
            arg(format!("--repo={id}"));
        }
    }
    if params.gpgcheck {
        // Every repository checks signatures, whatever a .repo file says.
        arg("--setopt=gpgcheck=True".into());
        arg("--setopt=*.gpgcheck=True".into());
    } else {
        arg("--nogpgcheck".into());
    }
    arg("-y".into());
    arg("install".into());
    for p in &params.packages {
        arg(p.clone());
    }
    for g in &params.groups {
        arg(format!("@{g}"));
    }
    args
}

fn repo_id(i: usize) -> String {
    format!("fromscratch-{}", i + 1)
}

/// The index into `repos` of a repository id made by [`repo_id`].
fn repo_index(id: &str) -> Option<usize> {
    id.strip_prefix("fromscratch-")?
        .parse::<usize>()
        .ok()?
        .checked_sub(1)
}

/// Copy the recipe's .repo files into the private repository directory (dnf reads only
/// names ending in `.repo` there).
fn copy_repo_files(params: &DnfParams, work: &Path) -> Result<(), RootfsError> {
    for (i, file) in params.repo_files.iter().enumerate() {
        let stem = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "repo".to_string());
        let name = if stem.ends_with(".repo") {
            format!("{:02}-{stem}", i + 1)
        } else {
            format!("{:02}-{stem}.repo", i + 1)
        };
        let dest = work.join("repos.d").join(name);
        std::fs::copy(file, &dest).map_err(|err| RootfsError::RepoFile {
            path: file.clone(),
            err,
        })?;
    }
    Ok(())
}

/// Install the recipe's packages into the empty directory `root`.
pub(crate) fn build(
    params: &DnfParams,
    root: &Path,
    opts: &BuildOptions,
    out: &mut dyn Write,
) -> Result<(), RootfsError> {
    let dnf = find_dnf()?;
    let work = WorkDir::create(root)?;
    copy_repo_files(params, &work.path)?;
    let args = dnf_args(params, root, &work.path);

    let mut cmd = Command::new(&dnf);
    cmd.args(&args)
        .current_dir(root)
        .env_clear()
        .env("PATH", TOOL_PATH)
        .env("HOME", work.path.join("home"))
        // English messages, so the failure lines can be recognised; lines as they come.
        .env("LC_ALL", "C.UTF-8")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null());
    for key in PASSED_ENV {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    let parent = nix::unistd::getpid();
    #[allow(unsafe_code)]
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe work is allowed. It allocates nothing (`c"/"` is static, `parent`
    // was read before the fork) and makes only the prctl(2), getppid(2), unshare(2) and
    // mount(2) system calls; errors become io::Error from a raw errno, which does not
    // allocate.
    unsafe {
        cmd.pre_exec(move || {
            // Die with fromscratch; if it already died, do not run at all.
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(io::Error::from)?;
            if nix::unistd::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            // A private mount namespace: whatever a package script mounts dies with dnf.
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).map_err(io::Error::from)?;
            nix::mount::mount::<std::ffi::CStr, std::ffi::CStr, std::ffi::CStr, std::ffi::CStr>(
                None,
                c"/",
                None,
                nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
                None,
            )
            .map_err(io::Error::from)?;
            Ok(())
        });
    }

    // One pipe for stdout and stderr: lines arrive in order, read by this thread alone.
    let (reader, writer) = io::pipe().map_err(|e| RootfsError::io("create a pipe for", &dnf, e))?;
    let writer2 = writer
        .try_clone()
        .map_err(|e| RootfsError::io("create a pipe for", &dnf, e))?;
    cmd.stdout(writer).stderr(writer2);

    let what = params
        .packages
        .iter()
        .cloned()
        .chain(params.groups.iter().map(|g| format!("@{g}")))
        .collect::<Vec<_>>()
        .join(" ");
    say(
        out,
        &format!(
            "running dnf in a private mount namespace for release {}: {what}",
            params.releasever
        ),
    );
    if !params.gpgcheck {
        say(
            out,
            "warning: the recipe says gpgcheck = false: package signatures are not checked",
        );
    }
    say(out, &format!("$ {}", command_line(&dnf, &args)));

    let mut child = cmd.spawn().map_err(|e| RootfsError::io("start", &dnf, e))?;
    // Close our copies of the pipe's write end, or the read below never sees EOF.
    drop(cmd);

    let pb = progress(opts);
    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
    let mut missing: Vec<String> = Vec::new();
    let mut keyless: Vec<String> = Vec::new();
    let mut lines = 0usize;
    let mut interrupted = false;
    for line in ToolLines::new(reader) {
        let ToolLine::Line(line) = line else {
            // Ctrl-C or SIGTERM where fromscratch catches them (the REPL, `run`):
            // stop dnf now rather than wait for it.
            let _ = child.kill();
            interrupted = true;
            break;
        };
        lines += 1;
        for p in missing_in(&line) {
            if !missing.contains(&p) {
                missing.push(p);
            }
        }
        // With gpgcheck on and no key for a repository, dnf explains at length and then
        // dumps that repository's whole configuration: keep the name, not the dump.
        if let Some(id) = keyless_repo_in(&line) {
            let named = repo_index(&id)
                .and_then(|i| params.repos.get(i))
                .cloned()
                .unwrap_or_else(|| format!("`{id}`"));
            if !keyless.contains(&named) {
                keyless.push(named);
            }
        }
        show(&pb, &line);
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(shorten(&line, 300));
    }
    let status = child
        .wait()
        .map_err(|e| RootfsError::io("wait for", &dnf, e))?;
    pb.finish_and_clear();
    drop(work);

    if interrupted {
        return Err(RootfsError::Interrupted);
    }
    if !keyless.is_empty() {
        return Err(RootfsError::UnverifiableRepos { repos: keyless });
    }
    if !missing.is_empty() {
        return Err(RootfsError::DnfMissingPackages {
            releasever: params.releasever.clone(),
            packages: missing,
        });
    }
    if !status.success() {
        return Err(RootfsError::BuilderFailed {
            tool: "dnf".to_string(),
            status: status.to_string(),
            tail: tail.into(),
        });
    }
    compat_rpmdb_link(root)?;
    say(out, &format!("dnf finished: {lines} output lines"));
    Ok(())
}

/// `var/lib/rpm -> ../../usr/lib/sysimage/rpm` when the packages did not make
/// `var/lib/rpm` themselves, so an rpm that still looks there (EL9) finds the database.
fn compat_rpmdb_link(root: &Path) -> Result<(), RootfsError> {
    let db = root.join(RPMDB.trim_start_matches('/'));
    if !db.is_dir() {
        return Ok(());
    }
    let link = root.join("var/lib/rpm");
    if std::fs::symlink_metadata(&link).is_ok() {
        return Ok(());
    }
    let lib = root.join("var/lib");
    std::fs::create_dir_all(&lib).map_err(|e| RootfsError::io("create", &lib, e))?;
    std::os::unix::fs::symlink("../../usr/lib/sysimage/rpm", &link)
        .map_err(|e| RootfsError::io("create the symlink", &link, e))
}

/// The command as a learner would type it (arguments with spaces or quotes are quoted).
fn command_line(program: &Path, args: &[OsString]) -> String {
    let quote = |s: &str| {
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_=./:,@+%".contains(c))
        {
            s.to_string()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    let name = program
        .file_name()
        .map_or_else(|| "dnf".into(), |n| n.to_string_lossy().into_owned());
    std::iter::once(name)
        .chain(args.iter().map(|a| quote(&a.to_string_lossy())))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A spinner that advances as output lines arrive (no ticker thread), turning into a bar
/// while dnf counts downloads or transaction steps; hidden when quiet or not a terminal.
fn progress(opts: &BuildOptions) -> ProgressBar {
    if opts.quiet || !crate::term::progress_bars() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} dnf [{elapsed}] {wide_msg}") {
        pb.set_style(style);
    }
    pb
}

/// Move the progress display on for one output line.
fn show(pb: &ProgressBar, line: &str) {
    match counted(line) {
        Some(step) => {
            if pb.length() != Some(step.of) {
                if let Ok(style) = ProgressStyle::with_template(
                    "dnf [{elapsed}] [{bar:30}] {pos}/{len} {wide_msg}",
                ) {
                    pb.set_style(style.progress_chars("=> "));
                }
                pb.set_length(step.of);
            }
            pb.set_position(step.done);
            pb.set_message(shorten(&format!("{} {}", step.phase, step.what), 70));
        }
        None => {
            pb.set_message(shorten(line, 80));
            pb.tick();
        }
    }
}

/// One counted step in dnf's output.
#[derive(Debug, PartialEq, Eq)]
struct Step {
    phase: &'static str,
    what: String,
    done: u64,
    of: u64,
}

/// `(3/20): name.rpm  1.2 MB/s | 300 kB  00:00` (a download) or
/// `Installing : name-1.0-1.x86_64   3/20` (a transaction step).
fn counted(line: &str) -> Option<Step> {
    let line = line.trim();
    let ratio = |s: &str| -> Option<(u64, u64)> {
        let (a, b) = s.split_once('/')?;
        let (done, of) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        (of > 0 && done <= of).then_some((done, of))
    };
    if let Some(rest) = line.strip_prefix('(')
        && let Some((count, after)) = rest.split_once("): ")
    {
        let (done, of) = ratio(count)?;
        let what = after.split_whitespace().next().unwrap_or_default();
        return Some(Step {
            phase: "downloaded",
            what: what.to_string(),
            done,
            of,
        });
    }
    let (head, body) = line.split_once(':')?;
    let phase = match head.trim() {
        "Preparing" => "preparing",
        "Installing" | "Upgrading" | "Reinstalling" | "Downgrading" => "installing",
        "Running scriptlet" => "running the scripts of",
        "Verifying" => "verifying",
        "Cleanup" | "Erasing" | "Obsoleting" => "cleaning up",
        _ => return None,
    };
    let body = body.trim();
    let (what, count) = body.rsplit_once(char::is_whitespace).unwrap_or(("", body));
    let (done, of) = ratio(count)?;
    Some(Step {
        phase,
        what: what.trim().to_string(),
        done,
        of,
    })
}

/// Packages (and `@groups`) an output line says the repositories do not have.
///
/// dnf 4: `No match for argument: NAME`, `Error: Unable to find a match: A B`,
/// `Module or Group 'NAME' is not available.` / `... does not exist.`
fn missing_in(line: &str) -> Vec<String> {
    let line = line.trim();
    if let Some(rest) = line.split("No match for argument:").nth(1) {
        return rest
            .split_whitespace()
            .take(1)
            .map(str::to_string)
            .collect();
    }
    if let Some(rest) = line.split("Unable to find a match:").nth(1) {
        return rest.split_whitespace().map(str::to_string).collect();
    }
    if let Some(rest) = line.strip_prefix("Module or Group '")
        && let Some((name, after)) = rest.split_once('\'')
        && (after.contains("is not available") || after.contains("does not exist"))
    {
        return vec![format!("@{name}")];
    }
    Vec::new()
}

/// `Problem repository: [ID]`: dnf found no key to check that repository's packages with.
fn keyless_repo_in(line: &str) -> Option<String> {
    let id = line
        .trim()
        .strip_prefix("Problem repository: [")?
        .strip_suffix(']')?;
    (!id.is_empty()).then(|| id.to_string())
}

/// The subject of [`RootfsError::UnverifiableRepos`]: "the repository X names" or
/// "the repositories X, Y name".
pub(crate) fn unverifiable_message(repos: &[String]) -> String {
    let list = repos.join(", ");
    if repos.len() == 1 {
        format!("the repository {list} names")
    } else {
        format!("the repositories {list} name")
    }
}

/// The Fedora name of a package a learner coming from Debian may write.
fn suggest_package(name: &str) -> Option<&'static str> {
    Some(match name {
        "python" | "python2" => "python3",
        "iproute2" | "ip" => "iproute",
        "procps" | "ps" => "procps-ng",
        "iputils-ping" | "ping" => "iputils",
        "vim-tiny" | "vi" => "vim-minimal",
        "g++" => "gcc-c++",
        "build-essential" => "@development-tools",
        "openssh-client" => "openssh-clients",
        "dnsutils" | "bind9-dnsutils" => "bind-utils",
        _ => return None,
    })
}

/// The message of [`RootfsError::DnfMissingPackages`].
pub(crate) fn missing_packages_message(releasever: &str, packages: &[String]) -> String {
    let named = packages
        .iter()
        .map(|p| match suggest_package(p) {
            Some(s) => format!("`{p}` (did you mean `{s}`?)"),
            None => format!("`{p}`"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let noun = match (packages.len(), packages.iter().all(|p| p.starts_with('@'))) {
        (1, true) => "group",
        (_, true) => "groups",
        (1, false) => "package",
        _ => "packages",
    };
    format!(
        "the recipe's repositories have no {noun} {named} for release {releasever} (--releasever={releasever}): nothing was installed and no rootfs was cached; fix `packages` or `groups` in the recipe, or add the repository that has it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> DnfParams {
        DnfParams {
            releasever: "40".into(),
            packages: vec!["python3".into(), "procps-ng".into()],
            groups: vec!["core".into()],
            repos: vec!["https://example.org/fedora/40/x86_64/os/".into()],
            repo_files: vec![],
            install_weak_deps: false,
            gpgcheck: false,
        }
    }

    #[test]
    fn command_line_isolates_dnf_from_the_host() {
        let args = dnf_args(
            &params(),
            Path::new("/c/rootfs/.tmp-f-7"),
            Path::new("/c/rootfs/.tmp-f-7.dnf.7"),
        );
        let line = command_line(Path::new("/usr/bin/dnf"), &args);
        assert_eq!(
            line,
            "dnf --config=/c/rootfs/.tmp-f-7.dnf.7/dnf.conf --noplugins --color=never \
             --installroot=/c/rootfs/.tmp-f-7 --releasever=40 \
             --setopt=install_weak_deps=False \
             --setopt=reposdir=/c/rootfs/.tmp-f-7.dnf.7/repos.d \
             --setopt=cachedir=../.tmp-f-7.dnf.7/cache --setopt=keepcache=False \
             --repofrompath=fromscratch-1,https://example.org/fedora/40/x86_64/os/ \
             --repo=fromscratch-1 --nogpgcheck -y install python3 procps-ng @core"
        );
    }

    #[test]
    fn repo_files_keep_their_repositories_enabled_and_gpgcheck_is_forced() {
        let mut p = params();
        p.repo_files = vec!["/r/fedora.repo".into()];
        p.gpgcheck = true;
        p.install_weak_deps = true;
        let args = dnf_args(&p, Path::new("/c/.tmp-f-7"), Path::new("/c/.tmp-f-7.dnf.7"));
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(!args.iter().any(|a| a.starts_with("--repo=")), "{args:?}");
        assert!(!args.contains(&"--nogpgcheck".to_string()));
        assert!(args.contains(&"--setopt=*.gpgcheck=True".to_string()));
        assert!(args.contains(&"--setopt=install_weak_deps=True".to_string()));
    }

    #[test]
    fn recognises_missing_package_lines() {
        assert_eq!(missing_in("No match for argument: pythn"), ["pythn"]);
        assert_eq!(
            missing_in("Error: Unable to find a match: pythn iproute2"),
            ["pythn", "iproute2"]
        );
        assert_eq!(
            missing_in("Module or Group 'nosuch' is not available."),
            ["@nosuch"]
        );
        assert!(missing_in("Error: Nothing to do.").is_empty());
        assert!(missing_in("Installing : python3-3.12.2-2.fc40.x86_64  3/20").is_empty());
        assert_eq!(
            keyless_repo_in("Problem repository: [local]").as_deref(),
            Some("local")
        );
        assert_eq!(keyless_repo_in("baseurl: file:///srv/repo"), None);
        assert_eq!(repo_index(&repo_id(0)), Some(0));
        assert_eq!(repo_index("fromscratch-0"), None);
        assert_eq!(repo_index("local"), None);
    }

    #[test]
    fn reads_progress_counts() {
        assert_eq!(
            counted("  Installing       : fromscratch-hello-1.0-1.x86_64                  1/2 "),
            Some(Step {
                phase: "installing",
                what: "fromscratch-hello-1.0-1.x86_64".into(),
                done: 1,
                of: 2
            })
        );
        assert_eq!(
            counted("(3/20): python3-3.12.2-2.fc40.x86_64.rpm   1.2 MB/s |  27 kB     00:00"),
            Some(Step {
                phase: "downloaded",
                what: "python3-3.12.2-2.fc40.x86_64.rpm".into(),
                done: 3,
                of: 20
            })
        );
        assert_eq!(
            counted("  Preparing        :        1/1").map(|s| s.of),
            Some(1)
        );
        assert_eq!(counted("Total size: 1.0 M"), None);
        assert_eq!(counted("Error: Unable to find a match: x"), None);
    }

    #[test]
    fn missing_package_message_names_package_release_and_fix() {
        let e = RootfsError::DnfMissingPackages {
            releasever: "40".into(),
            packages: vec!["iproute2".into()],
        };
        let msg = e.to_string();
        assert!(
            msg.starts_with("the recipe's repositories have no package `iproute2` (did you mean `iproute`?) for release 40"),
            "{msg}"
        );
        use crate::error::Classify;
        assert_eq!(e.exit_code(), 2);
        let e = RootfsError::DnfMissingPackages {
            releasever: "40".into(),
            packages: vec!["@nosuch".into()],
        };
        assert!(e.to_string().contains("no group `@nosuch`"), "{e}");
    }

    #[test]
    fn unverifiable_repositories_are_refused_before_anything_runs() {
        let mut p = params();
        assert!(
            check_verifiable(&p).is_ok(),
            "gpgcheck = false needs no key"
        );
        p.gpgcheck = true;
        let e = check_verifiable(&p).unwrap_err();
        assert!(matches!(e, RootfsError::UnverifiableRepos { .. }), "{e}");
        use crate::error::Classify;
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().starts_with("the recipe keeps gpgcheck on, but the repository https://example.org/fedora/40/x86_64/os/ names no signing key"),
            "{e}"
        );
        p.repo_files = vec!["/r/fedora.repo".into()];
        assert!(
            check_verifiable(&p).is_ok(),
            "a .repo file can name its gpgkey"
        );
    }
}
