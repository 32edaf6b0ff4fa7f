//! Lesson 05, the mount namespace: it runs for real and passes every check; its pitfall
//! (M1, a mount leaking out of a nested namespace through shared propagation) happens in
//! a stand-in namespace the lab made, never on the host; its challenge fails before the
//! work and passes after, and a mount made without a nested namespace does not pass.

mod common;
use common::pty::Pty;
use common::{Lab, require_root, text};

use common::unwrapped;

/// The lab's scratch directory, as the lesson printed it (`{lab}`).
fn lab_dir(out: &str) -> String {
    let re = regex::Regex::new(r"(/\S+/lab-\d+)/stage").expect("regex");
    re.captures(out)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| panic!("no {{lab}}/stage in the output:\n{out}"))
}

#[test]
fn lesson_05_runs_and_the_leak_stays_in_the_stand_in() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["run", "05-mount-namespace", "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("05-mount-namespace: every check held"),
        "{stdout}"
    );
    assert!(!stdout.contains('✗'), "a check failed:\n{stdout}");
    let lab_dir = lab_dir(&stdout);

    // The checks that carry the lesson, by name, with the real values they matched.
    for check in [
        "✓ findmnt in box: a line matches /^/proc\\s+private$/",
        "✓ findmnt in box: a line matches /^/tmp\\s+private$/",
        "✓ host: mounts under the rootfs: output contains \"no mount under the rootfs on the host\"",
        "✓ propagation of /: a line matches /^/\\s+private$/",
        "✓ two mount namespaces: exit status is 0 (got 0)",
        "✓ host: mounts under the lab: output contains \"no mount under the lab on the host\"",
        "✓ kept is a directory in outer: output contains \"kept\"",
        "✓ findmnt in outer: output does not contain \"kept\"",
    ] {
        assert!(stdout.contains(check), "missing `{check}`:\n{stdout}");
    }
    assert!(
        stdout.contains(&format!(
            "✓ findmnt in outer: a line matches /^{lab_dir}/stage/leak leak shared$/"
        )),
        "{stdout}"
    );

    // Every mount namespace the runtime made was private before anything was mounted.
    let unshares = stdout.matches("unshare(CLONE_NEWNS) = 0").count();
    assert_eq!(unshares, 2, "box and outer:\n{stdout}");
    for (at, _) in stdout.match_indices("unshare(CLONE_NEWNS) = 0") {
        let next = stdout[at..].lines().nth(1).unwrap_or_default();
        assert!(
            next.contains("mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0"),
            "the call right after unshare makes / private:\n{stdout}"
        );
    }

    // The pitfall: the nested namespace's mount showed up in outer, as a peer of the
    // nested one (the same shared:N), and only in outer.
    let peer = |ctx: &str| -> String {
        let re = regex::Regex::new(&format!(
            r" {}/stage/leak \S+ (shared:\d+) - tmpfs leak ",
            regex::escape(&lab_dir)
        ))
        .expect("regex");
        let found: Vec<String> = re.captures_iter(ctx).map(|c| c[1].to_string()).collect();
        assert_eq!(found.len(), 1, "one leak line expected:\n{ctx}");
        found[0].clone()
    };
    let leak = stdout
        .split("━━ Step 5/7")
        .nth(1)
        .and_then(|s| s.split("━━ Step 6/7").next())
        .expect("step 5");
    let (nested, outer) = leak
        .split_once("── syscalls made ──")
        .expect("action output, then probes");
    let outer = outer.split("── difference").next().expect("after probes");
    assert_eq!(
        peer(nested),
        peer(outer),
        "the leaked mount is in the nested namespace's peer group:\n{leak}"
    );
    assert!(
        leak.contains(&format!(
            "── difference: findmnt in outer ──\n  + {lab_dir}/stage/leak leak shared"
        )),
        "{leak}"
    );

    // The fix: the same mount under --propagation private stays in the nested namespace.
    let fix = stdout
        .split("━━ Step 6/7")
        .nth(1)
        .and_then(|s| s.split("━━ Step 7/7").next())
        .expect("step 6");
    assert!(
        fix.contains("── difference: findmnt in outer ──\n    (no difference)"),
        "{fix}"
    );

    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_05_challenge_fails_before_the_work_and_passes_after() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let stdout = common::check_then_skip(&lab, "5");
    let lab_dir = lab_dir(&stdout);

    let (check, skip) = stdout
        .split_once("── the lab types the reference solution ──")
        .expect("check, then skip");
    // Before the work: the tmpfs is private, nothing is mounted on mine, the host is clean.
    assert!(
        check.contains(&format!(
            "✗ not yet: the tmpfs on {lab_dir}/yours is shared in outer"
        )),
        "{check}"
    );
    assert!(
        check.contains(&format!("it printed: {lab_dir}/yours private")),
        "{check}"
    );
    assert!(
        check.contains(&format!(
            "✗ not yet: a mount on {lab_dir}/yours/mine in a nested namespace of yours is a peer of one in outer"
        )),
        "{check}"
    );
    assert!(
        check.contains("it printed: outer has nothing mounted on yours/mine"),
        "{check}"
    );
    assert!(
        check.contains(&format!(
            "✓ the host's mount table has nothing under {lab_dir}"
        )),
        "{check}"
    );

    // After the reference solution: every condition at once, the peer found in a nested
    // namespace while its shell was open.
    assert!(
        skip.contains(&format!(
            "✓ a mount on {lab_dir}/yours/mine in a nested namespace of yours is a peer of one in outer"
        )),
        "{skip}"
    );
    // The reference solution's own findmnt, in the nested namespace: mine is shared.
    let mine = regex::Regex::new(&format!(
        r"{}/yours/mine +mine +shared",
        regex::escape(&lab_dir)
    ))
    .expect("regex");
    assert!(mine.is_match(skip), "{skip}");
    let done = skip
        .split("── challenge ──")
        .nth(1)
        .expect("the verdict after skip");
    assert!(
        done.contains("the reference solution reached the goal"),
        "{done}"
    );
    assert!(!done.contains('✗'), "{done}");

    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_05_challenge_is_not_passed_by_a_mount_without_a_nested_peer() {
    // The lab looks at mount tables, not at what was typed: a tmpfs made shared and a
    // mount on mine made in outer itself (no nested namespace), or in a nested namespace
    // made with unshare's default private propagation, is not a shared subtree across
    // namespaces, and the report says which part is missing.
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut cmd = lab.cmd(&[]);
    cmd.env("TERM", "xterm").env("COLUMNS", "400");
    let mut t = Pty::spawn(cmd, 400, 50);
    t.open_challenge("5", "[05-mount-namespace 7/7] > ");

    let prompt = "[fromscratch container:outer] # ";
    t.line("shell");
    t.expect(prompt);
    for line in [
        "mount --make-shared $FROMSCRATCH_LAB/yours",
        // A nested namespace with unshare's default: its copy is private.
        "unshare --mount /bin/sh",
        "mount -t tmpfs nested $FROMSCRATCH_LAB/yours/mine",
    ] {
        t.line(line);
        t.expect(prompt);
    }
    t.line("echo nested=$(findmnt -n -o PROPAGATION $FROMSCRATCH_LAB/yours/mine)");
    t.expect("nested=private");
    t.expect(prompt);
    // A person pauses at a prompt; the lab looks whenever the session settles.
    t.line("sleep 2");
    t.expect(prompt);
    t.line("exit");
    t.expect(prompt);
    // Then a mount made in outer itself: shared, but with no peer anywhere else.
    t.line("mount -t tmpfs direct $FROMSCRATCH_LAB/yours/mine");
    t.expect(prompt);
    t.line("sleep 2");
    t.expect(prompt);
    t.line("exit");
    let report = unwrapped(&t.expect("[05-mount-namespace 7/7] > "));
    assert!(
        report.contains("✓ the tmpfs on ") && report.contains("/yours is shared in outer"),
        "{report}"
    );
    assert!(
        report.contains("✗ not yet: a mount on ")
            && report
                .contains("/yours/mine in a nested namespace of yours is a peer of one in outer"),
        "{report}"
    );
    assert!(
        report.contains("but no other mount namespace has a peer of it"),
        "{report}"
    );
    assert!(!report.contains("reached"), "{report}");
    t.line("quit");
    t.wait();
    lab.snapshot().assert_same(&before);
}
