//! The load lessons (issue 7, issue 8): a pod of `n` members, generated, shared by
//! tests/load.rs (100 members, every answer checked) and benches/scale.rs (1, 10 and 100
//! members, timed). Nothing here asserts or times anything.

use std::fmt::Write as _;

/// A lesson with a pause container, `n` members started one step each, a step whose
/// probes run inside every member, and a step that counts the lab's processes and
/// sums their VmRSS and their Pss (KiB, proc(5): smaps_rollup) while all are up.
pub fn load_lesson(n: usize) -> String {
    let mut t = String::from(
        r#"format_version = 1
id = "load"
title = "Load: a pod of many members"
summary = "A pause container and many members that join its namespaces."
objectives = ["Start many containers, probe each, tear all down."]

[requires]
root = false
rootfs = "host"
tools = ["sh"]

[[steps]]
id = "pause"
title = "The pause container"
explain = "Network, IPC and UTS namespaces, held open by the lab's init."
why = "A namespace lives while a process is in it."
man = ["namespaces(7)"]
action = { kind = "start", container = "pause" }

[containers.pause]
root = "rootfs"
net = true
ipc = true
uts = true
hostname = "pod"
init = true
"#,
    );
    for i in 0..n {
        let _ = write!(
            t,
            r#"
[[steps]]
id = "start-{i:03}"
title = "Member {i:03}"
explain = "Joins pause's net, IPC and UTS namespaces; its own PID and mount namespaces."
why = "setns(2) joins; unshare(2) makes the rest."
man = ["setns(2)"]
action = {{ kind = "start", container = "m{i:03}" }}

[containers.m{i:03}]
root = "rootfs"
pid = true
mount_proc = true
share = {{ container = "pause", namespaces = ["net", "ipc", "uts"] }}
command = ["sleep", "3600"]
"#
        );
    }
    t.push_str(
        r#"
[[steps]]
id = "probe-all"
title = "Every member answers"
explain = "A probe inside each member: its PID 1 and the pod's hostname."
why = "Each member is its own PID namespace in the pod's UTS namespace."
man = ["pid_namespaces(7)"]
action = { kind = "observe" }
"#,
    );
    for i in 0..n {
        let _ = write!(
            t,
            r#"
[[steps.after]]
label = "m{i:03}"
context = "m{i:03}"
command = ["sh", "-c", "echo \"$(cat /proc/1/comm) $(uname -n)\""]
expect = {{ exit = 0, matches = ['^sleep pod$'] }}
"#
        );
    }
    t.push_str(
        r#"
[[steps]]
id = "count"
title = "The lab's processes and their memory"
explain = "Every process carrying this lab's mark, and the sum of their resident sets."
why = "VmRSS in /proc/PID/status, proc(5)."
man = ["proc(5)"]
action = { kind = "observe" }

[[steps.after]]
label = "lab processes and KiB resident"
context = "host"
command = ["sh", "-c", "n=0; kib=0; pss=0; for p in /proc/[0-9]*; do if grep -qz '^FROMSCRATCH_LAB={lab}$' $p/environ 2>/dev/null; then r=$(sed -n 's/^VmRSS:[^0-9]*\\([0-9]*\\).*/\\1/p' $p/status 2>/dev/null); s=$(sed -n 's/^Pss:[^0-9]*\\([0-9]*\\).*/\\1/p' $p/smaps_rollup 2>/dev/null); n=$((n+1)); kib=$((kib+${r:-0})); pss=$((pss+${s:-0})); fi; done; echo \"processes $n rss_kib $kib pss_kib $pss\""]
expect = { exit = 0, matches = ['^processes \d+ rss_kib \d+ pss_kib \d+$'] }
"#,
    );
    t
}
