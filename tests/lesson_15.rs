//! Lesson 15, capabilities, seccomp and no_new_privs: it runs for real and unattended
//! with the real masks and errnos asserted, its challenge fails before the work and
//! passes after it, a bad capability or system call name is one sentence from `check`,
//! and the host is left as found.

mod common;
use common::pty::Pty;
use common::{Lab, require_root, text, unwrapped};

/// CAP_SYS_ADMIN's bit (capabilities(7), linux/capability.h).
const SYS_ADMIN: u64 = 1 << 21;

/// The text of step `n` of a run's output, up to the next step.
fn step(out: &str, n: usize) -> &str {
    let start = out
        .find(&format!("━━ Step {n}/"))
        .unwrap_or_else(|| panic!("no step {n}:\n{out}"));
    let from = start + "━━ Step ".len();
    let end = out[from..].find("━━ Step ").map_or(out.len(), |e| from + e);
    &out[start..end]
}

/// The hex mask on the first line `NAME:\tHEX` of `text`.
#[track_caller]
fn mask(text: &str, name: &str) -> u64 {
    let re = regex::Regex::new(&format!(r"(?m)^\s*{name}:\s+([0-9a-f]{{16}})$")).expect("regex");
    let hex = re
        .captures(text)
        .unwrap_or_else(|| panic!("no {name} line:\n{text}"))[1]
        .to_string();
    u64::from_str_radix(&hex, 16).expect("hex")
}

fn hostname() -> String {
    nix::sys::utsname::uname()
        .expect("uname")
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// The position of `needle` in `hay`, or a panic naming it.
#[track_caller]
fn at(hay: &str, needle: &str) -> usize {
    hay.find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not found:\n{hay}"))
}

#[test]
fn lesson_15_drops_a_capability_filters_a_call_and_sets_no_new_privs_for_real() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let host_name = hostname();
    // The lab is this test's child: its bounding set is ours.
    let own = std::fs::read_to_string("/proc/self/status").expect("status");
    let own_bnd = mask(&own, "CapBnd");
    assert_ne!(own_bnd & SYS_ADMIN, 0, "the suite runs with CAP_SYS_ADMIN");

    let out = lab.run(&["run", "15-caps-seccomp", "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("15-caps-seccomp: every check held"),
        "{stdout}"
    );
    assert!(!stdout.contains('✗'), "a check failed:\n{stdout}");

    // Root with every capability the lab has renames its own UTS namespace.
    let s1 = step(&stdout, 1);
    assert!(s1.contains("    uid 0\n"), "{s1}");
    assert_eq!(mask(s1, "CapBnd"), own_bnd, "{s1}");
    assert_ne!(mask(s1, "CapEff") & SYS_ADMIN, 0, "{s1}");
    assert!(s1.contains("hostname is now fifteen"), "{s1}");

    // cap_drop: exactly bit 21 leaves effective and bounding; the calls in order; EPERM.
    let s2 = step(&stdout, 2);
    let without = own_bnd & !SYS_ADMIN;
    assert_eq!(mask(s2, "CapBnd"), without, "{s2}");
    assert_eq!(mask(s2, "CapEff"), without, "{s2}");
    let drop = at(s2, "pid 1  prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) = 0");
    let capset = at(
        s2,
        &format!(
            "pid 1  capset({{version=_LINUX_CAPABILITY_VERSION_3, pid=0}}, {{effective=0x{without:016x}, permitted=0x{without:016x}, inheritable=0x0000000000000000}}) = 0"
        ),
    );
    let ambient = at(
        s2,
        "pid 1  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_SYS_ADMIN, 0, 0) = 0",
    );
    let exec = at(s2, "pid 1  execve(");
    assert!(drop < capset && capset < ambient && ambient < exec, "{s2}");
    assert!(s2.contains("    uid 0\n"), "{s2}");
    assert!(
        s2.contains("sethostname: [Errno 1] Operation not permitted"),
        "{s2}"
    );
    assert!(
        s2.contains(&format!("hostname is still {host_name}")),
        "{s2}"
    );

    // Root without CAP_SYS_ADMIN still binds port 80 (CAP_NET_BIND_SERVICE).
    let s3 = step(&stdout, 3);
    assert_eq!(mask(s3, "CapEff"), without, "{s3}");
    assert!(s3.contains("uid 0 bound TCP port 80"), "{s3}");

    // The filter: CAP_SYS_ADMIN held, sethostname refused, unshare allowed, Seccomp 2.
    let s4 = step(&stdout, 4);
    assert_ne!(mask(s4, "CapEff") & SYS_ADMIN, 0, "{s4}");
    assert!(s4.contains("Seccomp:\t2\n"), "{s4}");
    assert!(s4.contains("Seccomp_filters:\t1\n"), "{s4}");
    assert!(
        regex::Regex::new(
            r"pid 1  seccomp\(SECCOMP_SET_MODE_FILTER, 0, \{len=\d+, filter=/\* x86_64: sethostname -> EPERM, every other call allowed \*/\}\) = 0"
        )
        .expect("regex")
        .is_match(s4)
            || std::env::consts::ARCH != "x86_64",
        "{s4}"
    );
    assert!(s4.contains("unshare(CLONE_NEWUTS) allowed"), "{s4}");
    assert!(
        s4.contains(&format!("hostname is still {host_name}")),
        "{s4}"
    );

    // no_new_privs: 0 for the lab, 1 in the container's exec'd child, cannot be cleared.
    let s5 = step(&stdout, 5);
    assert!(
        s5.contains("pid 1  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0"),
        "{s5}"
    );
    let lab_nnp = at(s5, "NoNewPrivs:\t0");
    let inside = at(s5, "NoNewPrivs:\t1");
    assert!(lab_nnp < inside, "{s5}");
    assert!(
        s5.contains("prctl(PR_SET_NO_NEW_PRIVS, 0): -1 Invalid argument"),
        "{s5}"
    );

    // The pitfall: after the drop and without no_new_privs, seccomp(2) says EACCES.
    let s6 = step(&stdout, 6);
    let capset = at(s6, "pid 1  capset(");
    let refused = at(s6, "= -1 EACCES (Permission denied)");
    assert!(capset < refused, "{s6}");
    assert!(
        s6[..refused].rfind("pid 1  seccomp(SECCOMP_SET_MODE_FILTER") > Some(capset),
        "{s6}"
    );
    assert!(!s6.contains("execve(\"/usr/bin/hostname\""), "{s6}");
    assert!(s6.contains("(exit status 125)"), "{s6}");

    // All three, in runc's order, and every effect visible inside.
    let s7 = step(&stdout, 7);
    let order = [
        "pid 1  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0",
        "pid 1  prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) = 0",
        "pid 1  capset(",
        "pid 1  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_SYS_ADMIN, 0, 0) = 0",
        "pid 1  seccomp(SECCOMP_SET_MODE_FILTER, 0, {len=",
        "pid 1  execve(",
    ];
    let places: Vec<usize> = order.iter().map(|n| at(s7, n)).collect();
    assert!(places.windows(2).all(|w| w[0] < w[1]), "{s7}");
    assert_eq!(mask(s7, "CapEff"), without, "{s7}");
    assert_eq!(mask(s7, "CapBnd"), without, "{s7}");
    assert!(
        s7.contains("NoNewPrivs:\t1\n") && s7.contains("Seccomp:\t2\n"),
        "{s7}"
    );

    // The reference solution: setpriv leaves bash without the bit, with the flag.
    let s8 = step(&stdout, 8);
    assert_eq!(mask(s8, "CapBnd"), without, "{s8}");
    assert!(s8.contains("refused: root without CAP_SYS_ADMIN"), "{s8}");

    assert_eq!(hostname(), host_name, "the host was renamed");
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_15_challenge_fails_before_the_work_and_passes_after() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let stdout = common::check_then_skip(&lab, "15");
    let says =
        "a shell of yours runs as root without CAP_SYS_ADMIN in any set, with no_new_privs set";
    let check = stdout
        .find(&format!("✗ not yet: {says}"))
        .unwrap_or_else(|| panic!("check did not fail first:\n{stdout}"));
    let skip = at(&stdout, "the lab types the reference solution");
    assert!(check < skip, "{stdout}");
    let typed = &stdout[skip..];
    assert!(typed.contains(&format!("✓ {says}")), "{typed}");
    assert!(
        typed.contains("the reference solution reached the goal"),
        "{typed}"
    );
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_15_challenge_by_hand_a_shell_with_the_capability_in_its_bounding_set_is_named() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut cmd = lab.cmd(&[]);
    cmd.env("TERM", "xterm");
    let mut t = Pty::spawn(cmd, 80, 24);
    t.expect("fromscratch> ");
    t.line("start 15");
    t.expect("[15-caps-seccomp 1/8] > ");
    t.line("run");
    t.expect("── your turn ──");
    t.expect("[15-caps-seccomp 8/8] > ");

    // A wrong attempt: no_new_privs, but CAP_SYS_ADMIN kept in every set.
    t.line("shell");
    t.expect("[fromscratch host] # ");
    t.line("setpriv --no-new-privs sh");
    t.expect("[fromscratch host] # ");
    t.line("grep NoNewPrivs /proc/$$/status");
    t.expect("NoNewPrivs:\t1");
    t.expect("[fromscratch host] # ");
    // A person pauses at a prompt; the lab looks whenever the session settles.
    t.line("sleep 2");
    t.expect("[fromscratch host] # ");
    t.line("exit");
    t.expect("[fromscratch host] # ");
    t.line("exit");
    let report = unwrapped(&t.expect("[15-caps-seccomp 8/8] > "));
    assert!(
        report.contains("✗ not yet: a shell of yours runs as root without CAP_SYS_ADMIN"),
        "{report}"
    );
    assert!(
        report.contains("✓ has the user ID 0 in its user namespace (it has 0)"),
        "{report}"
    );
    assert!(
        report.contains("✗ has CAP_SYS_ADMIN in none of its capability sets (it has it in effective, permitted, bounding:"),
        "{report}"
    );
    assert!(
        regex::Regex::new(r"✓ has no_new_privs set \(NoNewPrivs in /proc/\d+/status is 1\)")
            .expect("regex")
            .is_match(&report),
        "{report}"
    );
    assert!(!report.contains("challenge passed"), "{report}");

    // The right one, by capsh this time: the lab says so while the shell is open.
    t.line("shell");
    t.expect("[fromscratch host] # ");
    t.line("capsh --drop=cap_sys_admin --no-new-privs --shell=/bin/sh --");
    t.expect("[fromscratch host] # ");
    t.line("hostname x || echo refused");
    t.expect("the goal is reached");
    t.line("exit");
    t.expect("[fromscratch host] # ");
    t.line("exit");
    let report = unwrapped(&t.expect("15-caps-seccomp done"));
    assert!(report.contains("✓ challenge passed"), "{report}");
    t.line("quit");
    assert!(t.wait().success(), "{}", t.seen);
    lab.snapshot().assert_same(&before);
}

#[test]
fn a_bad_capability_or_system_call_name_is_one_sentence_from_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/lessons/15-caps-seccomp.toml"
    ))
    .expect("lesson");
    let path = dir.path().join("15-caps-seccomp.toml");
    for (from, to, sentence) in [
        (
            r#"cap_drop = ["CAP_SYS_ADMIN"], command = ["sh""#,
            r#"cap_drop = ["sys_admin"], command = ["sh""#,
            "cap_drop: `sys_admin` is not a capability: write it as capabilities(7) names it, in capitals with its prefix, like `CAP_SYS_ADMIN`",
        ),
        (
            r#"seccomp_deny = ["sethostname"], command = ["sh""#,
            r#"seccomp_deny = ["set_hostname"], command = ["sh""#,
            "seccomp_deny: `set_hostname` is not a system call on x86_64: write the name syscalls(2) lists, like `sethostname` or `mkdirat`",
        ),
        (
            "lacks_caps = [\"CAP_SYS_ADMIN\"]",
            "lacks_caps = [\"CAP_SYSADMIN\"]",
            "lacks_caps: `CAP_SYSADMIN` is not a capability",
        ),
    ] {
        if std::env::consts::ARCH != "x86_64" && sentence.contains("x86_64") {
            continue;
        }
        assert!(good.contains(from), "{from}");
        std::fs::write(&path, good.replacen(from, to, 1)).expect("write");
        let out = Lab::new().run(&["check", path.to_str().expect("utf-8")]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
        assert!(stdout.contains(sentence), "{sentence}\n{stdout}");
    }
}
