//! Lesson 11, overlayfs: it runs for real and unattended, every mount in a stand-in
//! namespace the lab made (never on the host); the merged view, copy-up and the whiteout
//! are checked on the real files of each layer; its pitfall (O1, an upperdir on an
//! overlayfs) fails as the kernel makes it fail; its challenge fails before the work and
//! passes after; the host is left as found.

mod common;
use common::pty::Pty;
use common::{Lab, require_root, text};

use common::unwrapped;

/// The lab's scratch directory, as the lesson printed it (`{lab}`).
fn lab_dir(out: &str) -> String {
    let re = regex::Regex::new(r"(/\S+/lab-\d+)/(ov|yours)\b").expect("regex");
    re.captures(out)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| panic!("no {{lab}}/ov in the output:\n{out}"))
}

/// The text of step `n` of `total`.
fn step(out: &str, n: usize, total: usize) -> &str {
    let s = out
        .split(&format!("━━ Step {n}/{total}"))
        .nth(1)
        .unwrap_or_else(|| panic!("no step {n}:\n{out}"));
    s.split(&format!("━━ Step {}/{total}", n + 1))
        .next()
        .expect("split")
}

#[test]
fn lesson_11_runs_and_every_layer_holds_what_the_lesson_says() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["run", "11-overlayfs", "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("11-overlayfs: every check held"),
        "{stdout}"
    );
    assert!(!stdout.contains('✗'), "a check failed:\n{stdout}");
    let lab_dir = lab_dir(&stdout);

    // The stand-in: a mount namespace made private before anything was mounted in it.
    let s1 = step(&stdout, 1, 10);
    assert!(
        s1.contains("unshare(CLONE_NEWNS) = 0\n    child  mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0"),
        "{s1}"
    );

    // The mount: merged was empty, then lists lower's three files; an overlay in outer.
    let s3 = step(&stdout, 3, 10);
    assert!(
        s3.contains("── difference: ls merged ──\n  + config\n  + greeting\n  + old"),
        "{s3}"
    );
    assert!(
        s3.contains(&format!(
            "overlay rw,relatime,lowerdir={lab_dir}/ov/lower,upperdir={lab_dir}/ov/upper,workdir={lab_dir}/ov/work"
        )),
        "{s3}"
    );

    // A new file lands in upper only.
    let s4 = step(&stdout, 4, 10);
    assert!(
        s4.contains("── difference: lower and upper ──\n  - upper: \n  + upper: new \n"),
        "{s4}"
    );

    // Copy-up: upper gets the whole file, lower keeps one line.
    let s5 = step(&stdout, 5, 10);
    let after5 = s5.split("── after ──").nth(1).expect("after probes");
    assert!(
        after5.contains(
            "    lower/config:version 1\n    upper/config:version 1\n    upper/config:version 2\n    merged/config:version 1\n    merged/config:version 2\n"
        ),
        "{s5}"
    );

    // The whiteout: a 0,0 character device in upper, lower untouched, merged without it.
    let s6 = step(&stdout, 6, 10);
    let after6 = s6.split("── after ──").nth(1).expect("after probes");
    for line in [
        "lower/old: regular file 0,0",
        "upper/old: character special file 0,0",
        "'merged/old': No such file or directory",
    ] {
        assert!(after6.contains(line), "{line} missing:\n{s6}");
    }
    assert!(
        regex::Regex::new(r"(?m)^\s+c--------- \d+ root root 0, 0 .* old$")
            .expect("regex")
            .is_match(after6),
        "{s6}"
    );

    // Stacked layers: app's motd over base's, base's os-release through, read-only.
    let s7 = step(&stdout, 7, 10);
    assert!(
        s7.contains("    app:the app\n    motd:motd from app\n    os-release:NAME=base layer\n"),
        "{s7}"
    );
    assert!(s7.contains("Read-only file system"), "{s7}");

    // The runtime's overlay root: tmpfs, then the layer dirs, then the overlay, then the
    // chroot into merged; box's write and deletion land in its upper layer only.
    let s8 = step(&stdout, 8, 10);
    let order: Vec<usize> = [
        "mount(\"tmpfs\", \"",
        "mkdir(\"",
        "mount(\"overlay\", \"",
        "chroot(\"",
    ]
    .iter()
    .map(|c| s8.find(c).unwrap_or_else(|| panic!("no {c} in:\n{s8}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{s8}");
    assert!(
        s8.contains(&format!("chroot(\"{lab_dir}/overlay-box/merged\") = 0")),
        "{s8}"
    );
    assert!(s8.contains(" box-was-here\n"), "{s8}");
    assert!(s8.contains(" 0, 0 "), "no whiteout in box's upper:\n{s8}");
    assert!(s8.contains("no mount on the host at"), "{s8}");
    // The cached rootfs keeps /etc/hostname and never got box's file.
    let cached = std::fs::read_dir(common::host_rootfs().join("etc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    assert!(cached.contains(&"hostname".to_string()), "{cached:?}");
    assert!(!cached.contains(&"box-was-here".to_string()), "{cached:?}");

    // The pitfall: mount(8)'s generic message, exit status 32, and the upper is overlayfs.
    let s8 = step(&stdout, 9, 10);
    assert!(s8.contains("wrong fs type, bad option"), "{s8}");
    assert!(s8.contains("(exit status 32)"), "{s8}");
    assert!(s8.contains("    merged/u2: overlayfs\n"), "{s8}");
    assert!(s8.contains("    no mount on m2\n"), "{s8}");

    // The host never saw a mount under the lab.
    assert_eq!(
        stdout
            .matches("    no mount under the lab on the host\n")
            .count(),
        2,
        "{stdout}"
    );

    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_11_challenge_fails_before_the_work_and_passes_after() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let stdout = common::check_then_skip(&lab, "11");
    let lab_dir = lab_dir(&stdout);

    let (check, skip) = stdout
        .split_once("── the lab types the reference solution ──")
        .expect("check, then skip");
    // Before the work: nothing mounted on merged, no whiteout, lower intact, host clean.
    assert!(
        check.contains(&format!(
            "✗ not yet: an overlay is mounted on {lab_dir}/yours/merged in outer"
        )),
        "{check}"
    );
    assert!(check.contains("nothing mounted on merged"), "{check}");
    assert!(
        check.contains("✗ not yet: upper holds a whiteout for notes.txt: a character device 0,0"),
        "{check}"
    );
    assert!(
        check.contains("✓ lower still holds notes.txt, unchanged"),
        "{check}"
    );
    assert!(
        check.contains(&format!(
            "✓ the host's mount table has nothing under {lab_dir}"
        )),
        "{check}"
    );

    // After the reference solution: the whiteout, listed by the solution's own ls -l.
    assert!(
        regex::Regex::new(r"c--------- \d+ root root 0, 0 .* notes\.txt")
            .expect("regex")
            .is_match(skip),
        "{skip}"
    );
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
fn lesson_11_challenge_is_not_passed_by_deleting_the_file_in_lower() {
    // The lab looks at the layers, not at what was typed: a whiteout made by hand with
    // mknod and an overlay mounted over it hide notes.txt in merged, but with the file
    // removed from lower itself the layer is changed, and the report says so.
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut cmd = lab.cmd(&[]);
    cmd.env("TERM", "xterm").env("COLUMNS", "400");
    let mut t = Pty::spawn(cmd, 400, 50);
    t.open_challenge("11", "[11-overlayfs 10/10] > ");

    let prompt = "[fromscratch container:outer] # ";
    t.line("shell");
    t.expect(prompt);
    for line in [
        "cd $FROMSCRATCH_LAB/yours",
        "rm lower/notes.txt",
        "mknod upper/notes.txt c 0 0",
        "mount -t overlay overlay -o lowerdir=lower,upperdir=upper,workdir=work merged",
    ] {
        t.line(line);
        t.expect(prompt);
    }
    t.line("echo type=$(stat -c %F upper/notes.txt)");
    t.expect("type=character special file");
    t.expect(prompt);
    // A person pauses at a prompt; the lab looks whenever the session settles.
    t.line("sleep 2");
    t.expect(prompt);
    t.line("exit");
    let report = unwrapped(&t.expect("[11-overlayfs 10/10] > "));
    assert!(
        report.contains("✓ an overlay is mounted on ") && report.contains("/yours/merged in outer"),
        "{report}"
    );
    assert!(
        report.contains("✓ upper holds a whiteout for notes.txt: a character device 0,0"),
        "{report}"
    );
    assert!(
        report.contains("✗ not yet: lower still holds notes.txt, unchanged"),
        "{report}"
    );
    assert!(!report.contains("reached"), "{report}");
    t.line("quit");
    t.wait();
    lab.snapshot().assert_same(&before);
}
