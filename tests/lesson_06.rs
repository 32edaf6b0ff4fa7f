//! Lesson 06, pivot_root: it runs for real and unattended, the chroot is escaped and the
//! pivot is not, the rootfs cache is unchanged, its challenge fails before the work and
//! passes after it, a chroot fails the challenge's condition, a refused pivot_root is
//! named by the rule it broke, and the host is left as found.

mod common;
use common::{Lab, require_root, text};

use std::path::Path;
use std::process::{Child, Command, Stdio};

use fromscratch::observe::process::{self, Outside};
use fromscratch::runtime::pivot::{PivotCondition, diagnose_now};

#[test]
fn lesson_06_escapes_the_chroot_not_the_pivot_and_leaves_the_rootfs_as_it_was() {
    require_root();
    let rootfs = common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let tree = common::manifest(&rootfs);
    let out = lab.run(&["run", "06-pivot-root", "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("06-pivot-root: every check held"),
        "{stdout}"
    );
    assert!(!stdout.contains('✗'), "a check failed:\n{stdout}");

    // The pitfall: the chrooted climb reaches the marker outside the rootfs.
    let escape = stdout.find("━━ Step 2/8").expect("step 2");
    let pivot = stdout.find("━━ Step 5/8").expect("step 5");
    let again = stdout.find("━━ Step 6/8").expect("step 6");
    let dev = stdout.find("━━ Step 7/8").expect("step 7");
    let chrooted = &stdout[escape..pivot];
    assert!(
        regex::Regex::new(r"(?m)^\s+after the climb: / has [0-9]+ entries; \S+/lab-[0-9]+/escape-marker exists: True$")
            .expect("regex")
            .is_match(chrooted),
        "{chrooted}"
    );
    assert!(
        chrooted.contains("    ESCAPED: this is the host tree"),
        "{chrooted}"
    );
    // It needs CAP_SYS_CHROOT, not uid 0: without it (cap_drop), root is refused.
    assert!(
        chrooted.contains("    CAP_SYS_CHROOT in the bounding set: False\n"),
        "{chrooted}"
    );
    assert!(
        chrooted.contains(
            "chroot as uid 0, without CAP_SYS_CHROOT: [Errno 1] Operation not permitted: '/tmp/x'"
        ),
        "{chrooted}"
    );
    assert!(
        chrooted.contains("child  prctl(PR_CAPBSET_DROP, CAP_SYS_CHROOT) = 0"),
        "{chrooted}"
    );
    // M2 on purpose: EBUSY without the bind (as root: the rootfs is on the root's
    // mount), EINVAL with a shared mount.
    assert!(
        chrooted
            .contains("pivot_root: failed to change root from `.' to `.': Device or resource busy"),
        "{chrooted}"
    );
    assert!(
        chrooted.contains("pivot_root: failed to change root from `.' to `.': Invalid argument"),
        "{chrooted}"
    );

    // The runtime's pivot, in order: bind, /dev, /proc inside the rootfs (before the
    // pivot, as a user namespace needs), chdir, pivot, detach, chdir.
    let trace = &stdout[pivot..again];
    let at = |s: &str| {
        trace
            .find(s)
            .unwrap_or_else(|| panic!("{s} missing from the trace:\n{trace}"))
    };
    let r = rootfs.display().to_string();
    let order = [
        at("child  unshare(CLONE_NEWNS|CLONE_NEWPID) = 0"),
        at("child  mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0"),
        at(&format!(
            "pid 1  mount(\"{r}\", \"{r}\", NULL, MS_BIND|MS_REC, NULL) = 0"
        )),
        at(&format!(
            "pid 1  mount(\"/dev/null\", \"{r}/dev/null\", NULL, MS_BIND, NULL) = 0"
        )),
        at(&format!(
            "pid 1  mount(\"proc\", \"{r}/proc\", \"proc\", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL) = 0"
        )),
        at(&format!("pid 1  chdir(\"{r}\") = 0")),
        at("pid 1  pivot_root(\".\", \".\") = 0"),
        at("pid 1  umount2(\".\", MNT_DETACH) = 0"),
        at("pid 1  chdir(\"/\") = 0"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{trace}");
    assert!(!trace.contains("mount(\"proc\", \"/proc\""), "{trace}");
    // Inside, the whole mount table: the rootfs, /dev and /proc, nothing of the host.
    for line in [
        r"(?m)^\s+/\s+\S+$",
        r"(?m)^\s+/dev\s+tmpfs$",
        r"(?m)^\s+/dev/null\s+\S+$",
        r"(?m)^\s+/proc\s+proc$",
    ] {
        assert!(
            regex::Regex::new(line).expect("regex").is_match(trace),
            "{line}\n{trace}"
        );
    }
    assert!(!trace.contains("    /sys"), "{trace}");
    // The same climb after the pivot stays inside.
    let after = &stdout[again..dev];
    assert!(
        after.contains("    still inside: the climb stopped at the root"),
        "{after}"
    );
    assert!(!after.contains("    ESCAPED"), "{after}");
    // /dev/null is the device, and the cached rootfs got no file for it.
    assert!(
        stdout.contains("    /dev/null character special file 1,3"),
        "{stdout}"
    );
    // The challenge's reference solution passed, typed by the lab.
    assert!(
        stdout.contains("✓ challenge: a shell of yours has the rootfs as the root of its own mount namespace, with no mount outside it"),
        "{stdout}"
    );

    // Nothing was written into the cached rootfs: no x, no /dev/null file, no mtime moved.
    let now = common::manifest(&rootfs);
    let changed: Vec<_> = now
        .iter()
        .filter(|(k, v)| tree.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .chain(tree.keys().filter(|k| !now.contains_key(*k)))
        .collect();
    assert!(changed.is_empty(), "the rootfs changed: {changed:?}");
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_06_challenge_fails_before_the_work_and_passes_after() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let stdout = common::check_then_skip(&lab, "06");
    let check = stdout
        .find("✗ not yet: a shell of yours has the rootfs as the root of its own mount namespace, with no mount outside it")
        .unwrap_or_else(|| panic!("check did not fail first:\n{stdout}"));
    let skip = stdout
        .find("the lab types the reference solution")
        .expect("skip");
    assert!(check < skip, "{stdout}");
    let typed = &stdout[skip..];
    assert!(typed.contains("# pivot_root . ."), "{typed}");
    assert!(
        typed.contains("✓ a shell of yours has the rootfs as the root of its own mount namespace"),
        "{typed}"
    );
    assert!(
        typed.contains("the reference solution reached the goal"),
        "{typed}"
    );
    lab.snapshot().assert_same(&before);
}

/// A long-lived process started by `unshare --mount sh -c SCRIPT`, whose last command
/// is `exec sleep 60`: the child's PID is the sleep's once it has exec'd.
struct Held(Child);

impl Held {
    fn start(script: &str) -> Self {
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("unshare");
        let pid = child.id();
        assert!(
            common::wait_for(10, || std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "sleep")),
            "sleep did not start: {script}"
        );
        Self(child)
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.0.id()).expect("pid")
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_chroot_or_a_stacked_old_root_fails_the_challenge_condition_and_a_detached_pivot_passes() {
    require_root();
    let rootfs = common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let r = rootfs.display().to_string();
    let m = fromscratch::lesson::ProcessMatch {
        root: Some(r.clone()),
        new_namespaces: vec!["mnt".into()],
        mounts_outside_root: Some(false),
        ..Default::default()
    };
    let w = process::Wanted::new(&m, &str::to_string);
    let lab_ns = process::own_namespaces();
    let cases = [
        (
            format!("exec chroot {r} sleep 60"),
            Outside::AboveRoot,
            false,
        ),
        (
            format!("mount --bind {r} {r} && cd {r} && pivot_root . . && exec sleep 60"),
            Outside::AboveRoot,
            false,
        ),
        (
            format!("mount --bind {r} {r} && cd {r} && pivot_root . tmp && exec sleep 60"),
            Outside::HostRootMounted,
            false,
        ),
        (
            format!(
                "mount --bind {r} {r} && cd {r} && pivot_root . . && mount -t proc proc /proc && umount -l . && exec sleep 60"
            ),
            Outside::None,
            true,
        ),
    ];
    for (script, outside, passes) in cases {
        let held = Held::start(&script);
        assert_eq!(
            process::mounts_outside_root(held.pid()),
            Some(outside),
            "{script}"
        );
        let p = process::read(held.pid()).expect("read");
        let found = process::find(&w, &[p], &lab_ns);
        let (_, props) = found.closest.clone().expect("closest");
        assert_eq!(found.ok, passes, "{script}: {props:?}");
        // The root is the rootfs in every case: by path for the chroot, by inode after
        // a pivot (where /proc/PID/root reads `/`).
        assert!(props[0].ok, "{script}: {props:?}");
    }
    lab.snapshot().assert_same(&before);
}

#[test]
fn a_refused_pivot_root_is_named_by_the_rule_it_broke() {
    require_root();
    let lab = Lab::new();
    let before = lab.snapshot();
    let dir = tempfile::tempdir().expect("tempdir");
    let t = dir.path().to_path_buf();
    std::fs::create_dir_all(t.join("sub/proc")).expect("mkdir");
    std::fs::create_dir_all(t.join("sub/nr")).expect("mkdir");
    let (r, w) = nix::unistd::pipe().expect("pipe");
    // The child makes each condition for real in a mount namespace of its own (made
    // private first, so nothing reaches the host), calls pivot_root, and writes
    // `errno tag` per case. The test harness's other thread only waits meanwhile.
    // SAFETY: the child only makes system calls and small writes, then _exit.
    #[allow(unsafe_code)]
    let forked = unsafe { nix::unistd::fork() }.expect("fork");
    match forked {
        nix::unistd::ForkResult::Child => {
            use nix::mount::{MsFlags, mount};
            let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
            let mut report = String::new();
            let mut case = |new_root: &Path, put_old: &Path| {
                let e = nix::unistd::pivot_root(new_root, put_old)
                    .err()
                    .map_or_else(|| "OK".to_string(), |e| format!("{e:?}"));
                let d = diagnose_now(new_root, put_old);
                report.push_str(&format!("{e} {}\n", d.condition.tag()));
            };
            let ok = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).is_ok()
                && mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                    None::<&str>,
                )
                .is_ok();
            if ok {
                // 1. A directory that is no mount point, on the root's filesystem.
                case(&t, &t);
                // 2. Bound onto itself, but shared.
                let _ = mount(Some(&t), &t, None::<&str>, MsFlags::MS_BIND, None::<&str>);
                let _ = mount(
                    None::<&str>,
                    &t,
                    None::<&str>,
                    MsFlags::MS_SHARED,
                    None::<&str>,
                );
                case(&t, &t);
                let _ = mount(
                    None::<&str>,
                    &t,
                    None::<&str>,
                    MsFlags::MS_PRIVATE,
                    None::<&str>,
                );
                // 3. put_old outside new_root.
                case(&t, Path::new("/tmp"));
                // 4. new_root is / itself.
                case(Path::new("/"), Path::new("/"));
                // 5. From inside a chroot (with a /proc there to read mountinfo from).
                let sub = t.join("sub");
                let nr = sub.join("nr");
                let _ = mount(Some(&nr), &nr, None::<&str>, MsFlags::MS_BIND, None::<&str>);
                let _ = mount(
                    Some("proc"),
                    &sub.join("proc"),
                    Some("proc"),
                    MsFlags::empty(),
                    None::<&str>,
                );
                if nix::unistd::chroot(&sub).is_ok() && nix::unistd::chdir("/").is_ok() {
                    case(Path::new("/nr"), Path::new("/nr"));
                }
            }
            let _ = nix::unistd::write(&w, report.as_bytes());
            // SAFETY: _exit skips the harness's atexit handlers.
            #[allow(unsafe_code)]
            unsafe {
                libc::_exit(0)
            }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let mut out = String::new();
            let mut f = std::fs::File::from(r);
            std::io::Read::read_to_string(&mut f, &mut out).expect("read");
            let _ = nix::sys::wait::waitpid(child, None);
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(
                lines,
                vec![
                    "EBUSY pivot_root/new-root-not-a-mount-point",
                    "EINVAL pivot_root/shared-propagation",
                    "EBUSY pivot_root/put-old-outside-new-root",
                    "EBUSY pivot_root/new-root-is-current-root",
                    "EINVAL pivot_root/current-root-not-a-mount-point",
                ],
                "{out}"
            );
            // And the sentence the learner reads names the rule, not only the errno.
            let msg = fromscratch::runtime::error::explain_setup_failure(
                PivotCondition::SharedPropagation.tag(),
                nix::errno::Errno::EINVAL,
                Some(Path::new("/r")),
            );
            assert_eq!(
                msg,
                "pivot_root into /r failed with EINVAL (Invalid argument): a mount involved is shared (MS_SHARED), so the pivot would propagate to other mount namespaces: make `/` private first (mount --make-rprivate /)"
            );
        }
    }
    lab.snapshot().assert_same(&before);
}
