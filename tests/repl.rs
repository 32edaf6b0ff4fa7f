//! The REPL driven through a pipe, as scripts and tests drive it.

mod common;
use common::{Lab, require_root, text};

#[test]
fn piped_start_run_quit_runs_lesson_02_and_leaves_nothing() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    // `run` stops at the challenge (the learner's turn); `skip` lets the lab type the
    // reference solution, which reaches the goal, and the lesson is done.
    let out = lab.run_with_input(&[], "start 02-chroot\nrun\nskip\nstatus\nquit\n");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("── your turn ──"), "{stdout}");
    assert!(
        stdout.contains("the reference solution reached the goal (skipped"),
        "{stdout}"
    );
    assert!(stdout.contains("✓ 02-chroot done"), "{stdout}");
    assert!(
        stdout.contains("[02-chroot 1/4] > start")
            || stdout.contains("fromscratch> start 02-chroot"),
        "{stdout}"
    );
    lab.snapshot().assert_same(&before);
}

#[test]
fn enter_runs_the_next_step_and_trace_why_hint_answer() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run_with_input(
        &[],
        "start 4\n\nnext\ntrace\nwhy\nhint\nback\nstatus\nreset\nquit\n",
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // Enter ran step 1 (the decoy), `next` ran step 2 (echo $$ in a PID namespace).
    assert!(stdout.contains("decoy `victim` is running"), "{stdout}");
    assert!(stdout.contains("a line matches /^1$/"), "{stdout}");
    // trace repeats step 2's syscalls; why gives its deeper note.
    assert!(
        stdout
            .matches("unshare(CLONE_NEWNS|CLONE_NEWPID) = 0")
            .count()
            >= 2,
        "{stdout}"
    );
    assert!(stdout.contains("does not move the caller"), "{stdout}");
    assert!(
        stdout.contains("everything the lesson started was stopped; back at step 1"),
        "{stdout}"
    );
    lab.snapshot().assert_same(&before);
}

#[test]
fn help_lists_every_command_of_the_table_and_unknown_ones_are_named() {
    let lab = Lab::new();
    let out = lab.run_with_input(&[], "help\nfrobnicate\nquit\n");
    let (stdout, _) = text(&out);
    for name in fromscratch::repl::command_names() {
        assert!(
            stdout.contains(&format!("  {name}")),
            "help lacks {name}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("unknown command `frobnicate`: type `help` for the list"),
        "{stdout}"
    );
}

#[test]
fn start_with_an_unknown_lesson_lists_the_real_ones() {
    let lab = Lab::new();
    let out = lab.run_with_input(&[], "start 99-nothing\nquit\n");
    let (stdout, _) = text(&out);
    assert!(stdout.contains("no lesson `99-nothing`"), "{stdout}");
    assert!(
        stdout.contains("01-rootfs, 02-chroot, 03-host-processes, 04-pid-namespace"),
        "{stdout}"
    );
}

#[test]
fn a_script_that_cannot_start_its_lesson_ends_non_zero_and_shell_says_it_needs_a_terminal() {
    let lab = Lab::new();
    let out = lab.run_with_input(&[], "shell\nstart 4 nosuchrecipe\nquit\n");
    let (stdout, stderr) = text(&out);
    assert!(
        stdout.contains("`shell` needs a terminal, and stdin is not one"),
        "{stdout}"
    );
    assert!(stdout.contains("nosuchrecipe"), "{stdout}");
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
}
