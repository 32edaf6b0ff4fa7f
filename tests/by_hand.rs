//! The by-hand lines (`$ …` under an action, `by hand: $ …` under an explanation) run as
//! shown and have the lab's effect: these tests take them from a real run's output and
//! run them as a learner would paste them, as root, inside a throwaway
//! `unshare --mount --net --uts --ipc --pid --fork --kill-child` where they start
//! something that stays, and assert what they did (cgroup membership, an OOM kill, a
//! fork refused at pids.max, an overlay root, a hostname, an escape), never their text.

mod common;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use common::{Lab, require_root, text, wait_for};

/// Whether `s` ends outside any quote (a whole shell command): single quotes, double
/// quotes, backslashes and `#` comments, as sh(1) reads them.
fn complete(s: &str) -> bool {
    let (mut single, mut double, mut esc, mut comment) = (false, false, false, false);
    let mut prev = ' ';
    for c in s.chars() {
        if comment {
            comment = c != '\n';
        } else if esc {
            esc = false;
        } else if single {
            single = c != '\'';
        } else if c == '\\' {
            esc = true;
        } else if double {
            double = c != '"';
        } else if c == '\'' {
            single = true;
        } else if c == '"' {
            double = true;
        } else if c == '#' && prev.is_whitespace() {
            comment = true;
        }
        prev = c;
    }
    !single && !double && !esc
}

/// The commands after `marker` (`"  $ "` or `"  by hand: $ "`) in `out`, each taken
/// whole across the lines a quoted script spans.
fn commands(out: &str, marker: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut cur: Option<String> = None;
    for l in out.lines() {
        if let Some(c) = cur.as_mut() {
            c.push('\n');
            c.push_str(l);
        } else if let Some(rest) = l.strip_prefix(marker) {
            cur = Some(rest.to_string());
        }
        if cur.as_deref().is_some_and(complete) {
            v.push(cur.take().unwrap());
        }
    }
    v
}

/// `line` without what a learner's shell would not run: a trailing `&` and the
/// `   # note`.
fn runnable(line: &str) -> String {
    let l = line.split_once("   # ").map_or(line, |(c, _)| c).trim_end();
    l.strip_suffix('&').unwrap_or(l).trim_end().to_string()
}

/// Every process whose parent chain leads to `pid` (not `pid` itself).
fn descendants(pid: i32) -> Vec<i32> {
    let mut parent = std::collections::HashMap::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let ppid: i32 = after.split(' ').nth(1).unwrap().parse().unwrap();
        parent.insert(p, ppid);
    }
    parent
        .keys()
        .copied()
        .filter(|&p| {
            let mut q = p;
            while let Some(&pp) = parent.get(&q) {
                if pp == pid {
                    return true;
                }
                if pp <= 1 {
                    break;
                }
                q = pp;
            }
            false
        })
        .collect()
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A process started in the background by a test: killed (SIGKILL) when dropped, so a
/// failed assertion leaves nothing running.
struct Throwaway(Option<Child>);

impl Throwaway {
    fn id(&self) -> u32 {
        self.0.as_ref().unwrap().id()
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `line` started in the background the way `LINE &` does, inside a throwaway set of
/// namespaces whose first process takes everything with it when killed.
fn start_in_throwaway(line: &str) -> Throwaway {
    Throwaway(Some(
        Command::new("unshare")
            .args([
                "--mount",
                "--net",
                "--uts",
                "--ipc",
                "--pid",
                "--fork",
                "--kill-child",
                "bash",
                "-c",
            ])
            .arg(format!("exec {line}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ))
}

/// Kill `t` (SIGKILL: it is `unshare --fork --kill-child`) and wait until nothing it
/// started is left.
fn kill_all(mut t: Throwaway) {
    let mut child = t.0.take().unwrap();
    let pid = child.id() as i32;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(wait_for(10, || descendants(pid).is_empty()));
}

/// The lab's REPL on pipes, read up to markers.
struct Repl {
    child: Child,
    stdin: ChildStdin,
    out: BufReader<std::process::ChildStdout>,
}

impl Repl {
    fn start(lab: &Lab) -> Self {
        let mut child = lab
            .cmd(&[])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        Self { child, stdin, out }
    }

    /// Send `input`, then read until a line contains `marker`; the text read.
    fn until(&mut self, input: &str, marker: &str) -> String {
        self.stdin.write_all(input.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
        let mut all = String::new();
        loop {
            let mut l = String::new();
            assert!(
                self.out.read_line(&mut l).unwrap() > 0,
                "the REPL ended before {marker:?}:\n{all}"
            );
            all.push_str(&l);
            if l.contains(marker) {
                return all;
            }
        }
    }

    fn quit(mut self) {
        self.stdin.write_all(b"quit\n").unwrap();
        drop(self.stdin);
        std::thread::spawn(move || for _ in self.out.lines() {});
        let st = self.child.wait().unwrap();
        assert_eq!(st.code(), Some(0));
    }
}

/// The cgroup directories a step printed (`  cgroup `c`: DIR (v1: pids)`), with what
/// each serves.
fn cgroup_dirs(out: &str) -> Vec<(PathBuf, String)> {
    out.lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("cgroup `c`: ")?;
            let (dir, what) = rest.split_once(" (")?;
            Some((PathBuf::from(dir), what.to_string()))
        })
        .collect()
}

fn dir_serving(dirs: &[(PathBuf, String)], controller: &str) -> PathBuf {
    dirs.iter()
        .find(|(_, w)| w.contains(controller))
        .map(|(d, _)| d.clone())
        .unwrap_or_else(|| panic!("no cgroup directory serves {controller}: {dirs:?}"))
}

fn counter(path: &Path, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} "))?.trim().parse().ok())
        .unwrap_or(0)
}

fn oom_kills(memory: &Path) -> u64 {
    counter(&memory.join("memory.events"), "oom_kill")
        + counter(&memory.join("memory.oom_control"), "oom_kill")
}

fn bash(line: &str) -> (Option<i32>, String) {
    let out = Command::new("timeout")
        .args(["120", "bash", "-c", line])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (o, e) = text(&out);
    // As a shell's `$?` says it: 128 + the signal for a command a signal ended (nsenter
    // ends itself with its child's signal, and timeout(1) with its command's).
    let code = out
        .status
        .code()
        .or_else(|| std::os::unix::process::ExitStatusExt::signal(&out.status).map(|s| 128 + s));
    (code, format!("{o}{e}"))
}

/// Lesson 10: the start line makes and enters the container's cgroups; the exec_in
/// lines enter them before nsenter, so the OOM demo is OOM-killed and the fork bomb
/// stops at pids.max, by hand as in the lab.
#[test]
fn lesson_10_by_hand_lines_enter_the_cgroup() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut repl = Repl::start(&lab);
    let step2 = repl.until("start 10\n\n\n", "Step 3/7");
    let dirs = cgroup_dirs(&step2);
    assert!(!dirs.is_empty(), "{step2}");
    let memory = dir_serving(&dirs, "memory");
    let pids = dir_serving(&dirs, "pids");

    // The start line, by hand: a second container in the same cgroups.
    let start = commands(&step2, "  $ ");
    let start = runnable(start.last().expect("the start line"));
    assert!(start.starts_with("sh -c 'mkdir -p "), "{start}");
    let lab_pid1 = regex::Regex::new(r"container `c` is running: PID (\d+)")
        .unwrap()
        .captures(&step2)
        .map(|c| c[1].to_string());
    let child = start_in_throwaway(&start);
    let wrapper = child.id() as i32;
    assert!(
        wait_for(10, || descendants(wrapper)
            .into_iter()
            .any(|p| comm(p) == "sleep")),
        "the by-hand container's sleep runs: {start}"
    );
    let sleep = descendants(wrapper)
        .into_iter()
        .find(|&p| comm(p) == "sleep")
        .unwrap();
    let theirs = std::fs::read_to_string(format!("/proc/{sleep}/cgroup")).unwrap();
    for (d, _) in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l == sleep.to_string()),
            "the by-hand sleep {sleep} is in {}: {theirs}",
            d.display()
        );
    }
    if let Some(p) = lab_pid1 {
        let lab_cg = std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap();
        assert_eq!(theirs, lab_cg, "the same cgroups as the lab's container");
    }
    assert_eq!(
        std::fs::read_to_string(pids.join("pids.max"))
            .unwrap()
            .trim(),
        "20"
    );
    // `kill -KILL $!` ends it all (--kill-child).
    kill_all(child);

    // Step 3 in the lab, then its exec_in line by hand: OOM-killed in the cgroup.
    let step3 = repl.until("\n", "Step 4/7");
    let oom = commands(&step3, "  $ ");
    let oom = oom.last().expect("the exec_in line");
    assert!(oom.starts_with("sh -c 'echo $$ > "), "{oom}");
    let kills = oom_kills(&memory);
    let (code, output) = bash(oom);
    assert_eq!(code, Some(137), "{oom}\n{output}");
    assert!(!output.contains("still alive"), "{output}");
    assert_eq!(oom_kills(&memory), kills + 1, "{oom}");

    // Step 4 in the lab (its bomb fills the cgroup up to pids.max), then its line by
    // hand: it enters the same cgroup, so its forks are refused there too, and counted.
    let step4 = repl.until("\n", "Step 5/7");
    let bomb = commands(&step4, "  $ ");
    let bomb = bomb.last().expect("the fork bomb line");
    assert!(bomb.starts_with("sh -c 'echo $$ > "), "{bomb}");
    let events = counter(&pids.join("pids.events"), "max");
    let (code, output) = bash(bomb);
    assert_eq!(code, Some(0), "{bomb}\n{output}");
    assert!(
        output.contains("failed: [Errno 11] Resource temporarily unavailable"),
        "{output}"
    );
    assert!(counter(&pids.join("pids.events"), "max") > events);
    repl.quit();
    lab.snapshot().assert_same(&before);
}

/// `line` run to its end inside a throwaway set of namespaces: its status as `$?` says
/// it, and what it printed.
fn run_in_throwaway(line: &str) -> (Option<i32>, String) {
    bash(&format!(
        "unshare --mount --net --uts --ipc --pid --fork --kill-child bash -c {}",
        fromscratch::term::shell_join(&[line.to_string()])
    ))
}

/// The `$ ` lines of a `run --yes` of `lesson`, which must exit 0.
fn run_lines(lab: &Lab, lesson: &str, marker: &str) -> Vec<String> {
    let out = lab.run(&["run", lesson, "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    commands(&stdout, marker)
}

/// The last argument-ish path in `line` that ends with `suffix`.
fn path_ending(line: &str, suffix: &str) -> PathBuf {
    line.split([' ', '\'', '='])
        .find(|w| w.ends_with(suffix))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no path ending {suffix} in {line}"))
}

fn hostname_of(pid: i32) -> String {
    let out = Command::new("nsenter")
        .args(["--target", &pid.to_string(), "--uts", "hostname"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Lesson 11's `overlay = true` container: the line mounts the tmpfs and the overlay in
/// its own mount namespace, then chroots into the merged directory; the host's side of
/// the overlay's directory stays empty.
#[test]
fn lesson_11_overlay_container_line_mounts_its_root_first() {
    require_root();
    let rootfs = common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let lines = run_lines(&lab, "11-overlayfs", "  $ ");
    let line = lines
        .iter()
        .find(|l| l.contains("overlay-box"))
        .expect("the overlay container's line");
    let line = runnable(line);
    assert!(
        line.starts_with("unshare --mount sh -c 'mount -t tmpfs"),
        "{line}"
    );
    // The lab's scratch space is gone with the run: the mount point again, empty.
    let base = path_ending(&line, "/overlay-box");
    std::fs::create_dir_all(&base).unwrap();
    let child = start_in_throwaway(&line);
    let wrapper = child.id() as i32;
    assert!(
        wait_for(10, || descendants(wrapper)
            .into_iter()
            .any(|p| comm(p) == "sleep")),
        "its sleep runs: {line}"
    );
    let sleep = descendants(wrapper)
        .into_iter()
        .find(|&p| comm(p) == "sleep")
        .unwrap();
    let root = std::fs::read_link(format!("/proc/{sleep}/root")).unwrap();
    assert_eq!(root, base.join("merged"));
    // Its mountinfo, seen from its root: `/` is the overlay, with its upper layer on the
    // tmpfs at the overlay's directory.
    let mountinfo = std::fs::read_to_string(format!("/proc/{sleep}/mountinfo")).unwrap();
    let upper = format!("upperdir={}/upper,", base.display());
    assert!(
        mountinfo.lines().any(|l| l.split(' ').nth(4) == Some("/")
            && l.contains(" - overlay ")
            && l.contains(&upper)),
        "{mountinfo}"
    );
    // Its root is the rootfs, seen through the overlay.
    assert!(Path::new(&format!("/proc/{sleep}/root/bin/sh")).exists());
    assert!(rootfs.join("bin/sh").exists());
    // On the host, the directory holds nothing: the tmpfs is in its namespace only.
    assert_eq!(std::fs::read_dir(&base).unwrap().count(), 0);
    kill_all(child);
    std::fs::remove_dir_all(base.parent().unwrap()).unwrap();
    lab.snapshot().assert_same(&before);
}

/// Lesson 09's containers with the lab's init and no command: by hand, `sleep infinity`
/// holds the namespaces open after the hostname is set (without a PID namespace, and
/// with one, where `--kill-child` lets `kill -KILL $!` end it).
#[test]
fn lesson_09_init_containers_stay_up_by_hand() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let lines = run_lines(&lab, "09-network-namespace", "  $ ");
    let a = lines
        .iter()
        .find(|l| l.contains("'hostname a && exec sleep infinity'"))
        .expect("container a's line");
    assert!(a.contains("not PID 1"), "{a}");
    let child = start_in_throwaway(&runnable(a));
    let wrapper = child.id() as i32;
    assert!(
        wait_for(10, || descendants(wrapper)
            .into_iter()
            .any(|p| comm(p) == "sleep" && hostname_of(p) == "a")),
        "a's namespaces are held open with hostname a: {a}"
    );
    kill_all(child);

    // node: a PID namespace; its `unshare` killed with SIGKILL takes its PID 1 along.
    let node = lines
        .iter()
        .find(|l| l.contains("'hostname node && exec sleep infinity'"))
        .expect("container node's line");
    assert!(node.contains("--fork --kill-child"), "{node}");
    let child = start_in_throwaway(&runnable(node));
    let wrapper = child.id() as i32;
    let sleep = || {
        descendants(wrapper)
            .into_iter()
            .find(|&p| comm(p) == "sleep" && hostname_of(p) == "node")
    };
    assert!(wait_for(10, || sleep().is_some()), "{node}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", sleep().unwrap())).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("NSpid:") && l.ends_with("\t1")),
        "sleep is PID 1 of its namespace: {status}"
    );
    let unshare = descendants(wrapper)
        .into_iter()
        .find(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .unwrap_or_default()
                .contains("--kill-child\0")
        })
        .expect("the line's unshare");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(unshare),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_for(10, || sleep().is_none()), "its PID 1 went with it");
    kill_all(child);
    lab.snapshot().assert_same(&before);
}

/// Lesson 06's by-hand lines for the climb and for chroot as nobody define their
/// scripts in the line: pasted as shown, the first escapes, the second gets EPERM.
#[test]
fn lesson_06_escape_lines_run_as_shown() {
    require_root();
    let rootfs = common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let lines = run_lines(&lab, "06-pivot-root", "  by hand: $ ");
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("$CLIMB") || l.contains("$AS_NOBODY"))
    );
    let climb = lines
        .iter()
        .find(|l| l.contains("escape-marker") && l.contains("os.chroot"))
        .expect("the climb's line");
    // The marker the lesson made, gone with the run: made again where the line looks.
    let scratch = PathBuf::from(climb.rsplit(' ').next().unwrap());
    std::fs::create_dir_all(scratch.join("escape-marker")).unwrap();
    let tmp_before = std::fs::read_dir(rootfs.join("tmp")).unwrap().count();
    let (code, output) = run_in_throwaway(climb);
    assert_eq!(code, Some(0), "{climb}\n{output}");
    assert_eq!(output.trim(), "ESCAPED", "{climb}");
    std::fs::remove_dir_all(&scratch).unwrap();

    let nobody = lines
        .iter()
        .find(|l| l.contains("setpriv --bounding-set -sys_chroot") && l.contains("os.chroot"))
        .expect("the line without CAP_SYS_CHROOT");
    let (code, output) = run_in_throwaway(nobody);
    assert_ne!(code, Some(0), "{output}");
    assert!(
        output.contains("PermissionError: [Errno 1] Operation not permitted"),
        "{nobody}\n{output}"
    );
    assert_eq!(
        std::fs::read_dir(rootfs.join("tmp")).unwrap().count(),
        tmp_before,
        "the rootfs's /tmp is untouched (the tmpfs took /tmp/x)"
    );

    // The pivot (step 6's line): binds, /dev, pivot_root, /proc, the old root detached.
    let pivots = run_lines(&lab, "06-pivot-root", "  $ ");
    let pivot = pivots
        .iter()
        .find(|l| l.contains("pivot_root . .") && l.contains("exec findmnt"))
        .expect("the pivot line");
    let (code, output) = run_in_throwaway(pivot);
    assert_eq!(code, Some(0), "{pivot}\n{output}");
    let targets: Vec<&str> = output
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for t in ["/", "/dev", "/dev/null", "/proc"] {
        assert!(targets.contains(&t), "{t} is mounted: {output}");
    }
    assert!(
        !output.contains(&rootfs.display().to_string()),
        "the old root is detached: {output}"
    );
    lab.snapshot().assert_same(&before);
}

/// Lesson 16's by-hand lines, run while the lab's pod is up: web's server line listens
/// in the pod (and `kill -KILL $!` ends it), the client's fails while lo is down and
/// connects once it is up, and the outsider's reaches nothing.
#[test]
fn lesson_16_pod_lines_run_as_shown() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut repl = Repl::start(&lab);
    repl.until("start 16\n\n", "Step 2/7");
    let web = repl.until("", "  by hand: $ ");
    let web = runnable(commands(&web, "  by hand: $ ").last().unwrap());
    let pause = regex::Regex::new(r"^nsenter --target (\d+) ")
        .unwrap()
        .captures(&web)
        .unwrap_or_else(|| panic!("{web}"))[1]
        .to_string();
    let listening = || {
        let out = Command::new("nsenter")
            .args(["--target", &pause, "--net", "ss", "-Htln"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("127.0.0.1:8000")
    };
    assert!(!listening());
    // As pasted: `LINE &`, then `kill -KILL $!` (the line's unshare has --kill-child).
    let server = Throwaway(Some(
        Command::new("bash")
            .args(["-c", &format!("exec {web}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    assert!(wait_for(20, listening), "{web}");
    kill_all(server);
    assert!(wait_for(10, || !listening()));

    // Step 2 runs web; step 3's client line, lo still down.
    repl.until("\n", "Step 3/7");
    let client = repl.until("", "  by hand: $ ");
    let client = commands(&client, "  by hand: $ ").last().unwrap().clone();
    let (code, output) = bash(&client);
    assert_ne!(code, Some(0), "{output}");
    assert!(
        output.contains("Network is unreachable"),
        "{client}\n{output}"
    );
    // Steps 3 and 4 (lo up); step 5's client line connects.
    repl.until("\n", "Step 4/7");
    repl.until("\n", "Step 5/7");
    let member = repl.until("", "  by hand: $ ");
    let member = commands(&member, "  by hand: $ ").last().unwrap().clone();
    let (code, output) = bash(&member);
    assert_eq!(code, Some(0), "{member}\n{output}");
    assert!(output.contains("connected to 127.0.0.1:8000"), "{output}");
    // Step 6's outsider: its own network namespace, its own (down) lo.
    repl.until("\n", "Step 6/7");
    let outsider = repl.until("", "  by hand: $ ");
    let outsider = commands(&outsider, "  by hand: $ ").last().unwrap().clone();
    let (code, output) = bash(&outsider);
    assert_ne!(code, Some(0), "{output}");
    assert!(
        output.contains("Network is unreachable"),
        "{outsider}\n{output}"
    );
    repl.quit();
    lab.snapshot().assert_same(&before);
}

/// The commands of a chapter's "Try it yourself" block (its `# ` lines).
fn try_it_yourself(chapter: &str) -> String {
    let md = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("book/src/lessons")
            .join(chapter),
    )
    .unwrap();
    let from = md.find("## Try it yourself").unwrap();
    let block = &md[from..];
    let start = block.find("```console\n").unwrap() + "```console\n".len();
    let end = start + block[start..].find("```").unwrap();
    block[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `script` run by bash in a throwaway set of namespaces with a /proc of their own, then
/// a look for anything it left running.
fn run_script_in_throwaway(script: &str, leftovers: &str) -> (Option<i32>, String) {
    let script = format!(
        "{script}\nfor i in $(seq 100); do pgrep -f {q} >/dev/null || break; sleep 0.1; done\npgrep -af {q} && echo LEFT RUNNING || echo ALL GONE\n",
        q = fromscratch::term::shell_join(&[leftovers.to_string()])
    );
    // From a file: a `bash -c SCRIPT` would match its own patterns in /proc/PID/cmdline.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), script).unwrap();
    bash(&format!(
        "unshare --mount --net --uts --ipc --pid --fork --kill-child --mount-proc bash {}",
        file.path().display()
    ))
}

/// Chapter 16's "Try it yourself", as printed: the server answers in the pod, and
/// `kill -KILL %2 %1` leaves nothing running (unshare --fork blocks SIGTERM; SIGKILL
/// with --kill-child takes the server with it).
#[test]
fn chapter_16_try_it_yourself_runs_and_leaves_nothing() {
    require_root();
    let mut script = try_it_yourself("16-pod.md");
    // The server needs a moment before the client connects: wait for its socket.
    script = script.replace(
        "\nnsenter --target $pause --net python3",
        "\nfor i in $(seq 100); do nsenter --target $pause --net ss -Htln | grep -q 127.0.0.1:8000 && break; sleep 0.1; done\nnsenter --target $pause --net python3",
    );

    assert!(script.contains("kill -KILL %2 %1"), "{script}");
    let (code, output) = run_script_in_throwaway(&script, "http.server|sleep 600");
    assert_eq!(code, Some(0), "{output}");
    assert!(output.lines().any(|l| l.trim() == "200"), "{output}");
    assert!(output.lines().any(|l| l == "ALL GONE"), "{output}");
}

/// Chapter 09's "Try it yourself", as printed: the ping through the veth pair answers,
/// and `kill $a $n` ends both namespaces.
#[test]
fn chapter_09_try_it_yourself_runs_and_leaves_nothing() {
    require_root();
    let script = try_it_yourself("09-network-namespace.md");
    let (code, output) = run_script_in_throwaway(&script, "sleep 600");
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("1 received"), "{output}");
    assert!(output.lines().any(|l| l == "ALL GONE"), "{output}");
}

/// Lesson 15's bind line, once elided as `...bind(80)...`: pasted as shown, it binds
/// port 80 in a network namespace of its own without CAP_SYS_ADMIN.
#[test]
fn lesson_15_bind_line_runs_as_shown() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let lines = run_lines(&lab, "15-caps-seccomp", "  by hand: $ ");
    let bind = lines
        .iter()
        .find(|l| l.contains("s.bind(("))
        .expect("the bind line");
    assert!(!bind.contains('…') && !bind.contains("..."), "{bind}");
    let (code, output) = run_in_throwaway(bind);
    assert_eq!(code, Some(0), "{bind}\n{output}");
    assert_eq!(output.trim(), "bound TCP port 80", "{bind}");
    lab.snapshot().assert_same(&before);
}

/// Lesson 11's step 2 line, once elided: run in the lab's live `outer`, it makes the
/// layers with their files in outer's mount namespace.
#[test]
fn lesson_11_layers_line_runs_as_shown() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut repl = Repl::start(&lab);
    repl.until("start 11\n\n", "Step 2/");
    let text = repl.until("", "  by hand: $ ");
    let line = commands(&text, "  by hand: $ ").last().unwrap().clone();
    assert!(!line.contains('…'), "{line}");
    let outer = regex::Regex::new(r"^nsenter --target (\d+) --mount ")
        .unwrap()
        .captures(&line)
        .unwrap_or_else(|| panic!("{line}"))[1]
        .to_string();
    let (code, output) = bash(&line);
    assert_eq!(code, Some(0), "{line}\n{output}");
    let ov = path_ending(&line, "/ov");
    let read = |f: &str| {
        let out = Command::new("nsenter")
            .args(["--target", &outer, "--mount", "cat"])
            .arg(ov.join(f))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(read("lower/greeting"), "hello from the lower layer");
    assert_eq!(read("lower/config"), "version 1");
    assert_eq!(read("lower/old"), "delete me");
    // The host sees none of it: the tmpfs is in outer's namespace.
    assert!(!ov.join("lower").exists());
    repl.quit();
    lab.snapshot().assert_same(&before);
}

/// A fixture lesson's container and exec with every part at once (overlay root, volume,
/// PID namespace and /proc, hostname, init, cgroup; the exec with pivot_root too): their
/// `$` lines, run while the lab is up, build the same thing.
#[test]
fn every_part_at_once_runs_as_shown() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/by-hand-all.toml");
    let mut repl = Repl::start(&lab);
    let step2 = repl.until(&format!("start {}\n\n\n", fixture.display()), "Step 3/4");
    let all = runnable(commands(&step2, "  $ ").last().expect("the start line"));
    let vol = path_ending(&all, "/vol");
    std::fs::write(vol.join("marker"), "through the volume\n").unwrap();
    let cg: Vec<PathBuf> = step2
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("cgroup `all`: "))
        .map(|l| PathBuf::from(l.split_once(" (").unwrap().0))
        .collect();
    assert!(!cg.is_empty(), "{step2}");

    let child = start_in_throwaway(&all);
    let wrapper = child.id() as i32;
    let sleep = || {
        descendants(wrapper)
            .into_iter()
            .find(|&p| comm(p) == "sleep" && hostname_of(p) == "all")
    };
    assert!(wait_for(10, || sleep().is_some()), "{all}");
    let s = sleep().unwrap();
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{s}/root/root/marker")).unwrap(),
        "through the volume\n"
    );
    let status = std::fs::read_to_string(format!("/proc/{s}/status")).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("NSpid:") && l.ends_with("\t1")),
        "{status}"
    );
    let mountinfo = std::fs::read_to_string(format!("/proc/{s}/mountinfo")).unwrap();
    assert!(
        mountinfo
            .lines()
            .any(|l| l.split(' ').nth(4) == Some("/") && l.contains(" - overlay ")),
        "{mountinfo}"
    );
    assert!(
        mountinfo
            .lines()
            .any(|l| l.split(' ').nth(4) == Some("/proc") && l.contains(" - proc ")),
        "{mountinfo}"
    );
    for d in &cg {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l == s.to_string()),
            "{s} in {}",
            d.display()
        );
    }
    kill_all(child);

    // The exec, pivoted: its line run once prints what the lab's did.
    let step3 = repl.until("\n", "Step 4/4");
    let once = commands(&step3, "  $ ")
        .last()
        .expect("the exec line")
        .clone();
    assert!(once.contains("pivot_root . ."), "{once}");
    let (code, output) = run_in_throwaway(&once);
    assert_eq!(code, Some(0), "{once}\n{output}");
    assert_eq!(
        output.lines().collect::<Vec<_>>(),
        ["marker", "once", "proc", "overlay"],
        "{once}"
    );
    repl.quit();
    lab.snapshot().assert_same(&before);
}
