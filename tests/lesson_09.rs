//! Lesson 09, network namespaces: it runs for real and unattended, its challenge fails
//! before the work (naming the first missing checklist item) and passes after it, the
//! links it makes are recorded and removed (also by `cleanup` after `kill -9`), and the
//! host's links and ip_forward are left as found.

mod common;
use common::pty::Pty;
use common::{Lab, require_root, text, unwrapped};

fn host_ip_forward() -> String {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").expect("read ip_forward")
}

#[test]
fn lesson_09_walks_the_checklist_and_pings_across_namespaces_only() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let forward = host_ip_forward();
    let out = lab.run(&["run", "09-network-namespace", "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("09-network-namespace: every check held"),
        "{stdout}"
    );
    assert!(!stdout.contains("  ✗"), "a check failed:\n{stdout}");

    // The pitfall, three times (lo down, links down, no route), and once more in the
    // routes step's difference.
    assert_eq!(
        stdout
            .matches("    ping: connect: Network is unreachable")
            .count(),
        3,
        "{stdout}"
    );
    assert!(
        stdout.contains("RTNETLINK answers: Network is unreachable"),
        "{stdout}"
    );
    // After lo up, 127.0.0.1 answers; across the veth, node answers; through node, b.
    assert!(
        stdout.contains("64 bytes from 127.0.0.1: icmp_seq=1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("64 bytes from 10.9.1.1: icmp_seq=1"),
        "{stdout}"
    );
    assert!(
        regex::Regex::new(r"64 bytes from 10\.9\.2\.2: icmp_seq=1 ttl=63 ")
            .expect("regex")
            .is_match(&stdout),
        "{stdout}"
    );
    // Without forwarding, the packet to b was lost at node.
    assert!(
        stdout.contains("1 packets transmitted, 0 received, 100% packet loss"),
        "{stdout}"
    );
    // The calls really made, in the joined namespace.
    for call in [
        "CLONE_NEWNET) = 0",
        "sendmsg(NETLINK_ROUTE, RTM_NEWLINK{IFLA_IFNAME=\"veth-a\", IFLA_INFO_KIND=\"veth\", VETH_INFO_PEER{IFLA_IFNAME=\"eth0\"}}, NLM_F_CREATE|NLM_F_EXCL|NLM_F_ACK) = 0",
        "RTM_NEWADDR{ifa_index=if_nametoindex(\"eth0\"), ifa_prefixlen=24, IFA_LOCAL=10.9.1.2}",
        "RTM_NEWROUTE{RT_TABLE_MAIN, RTA_DST=0.0.0.0/0, RTA_GATEWAY=10.9.1.1}",
        "write(\"/proc/sys/net/ipv4/ip_forward\", \"1\\n\", 2) = 0",
        "RTM_DELLINK{IFLA_IFNAME=\"veth-a\"}, NLM_F_ACK) = 0",
    ] {
        assert!(stdout.contains(call), "{call} missing:\n{stdout}");
    }
    // The equivalent ip commands are shown.
    assert!(
        regex::Regex::new(r"nsenter --target \d+ --net ip link set eth0 netns \d+")
            .expect("regex")
            .is_match(&stdout),
        "{stdout}"
    );
    // The host's links, addresses, routes and ip_forward: no difference, read by the
    // lesson itself.
    for label in [
        "the host's links",
        "the host's addresses",
        "the host's routes",
        "the host's ip_forward",
    ] {
        assert!(
            stdout.contains(&format!("── difference: {label} ──\n    (no difference)")),
            "{label}:\n{stdout}"
        );
    }
    // node's own ip_forward went from 0 to 1.
    assert!(
        stdout.contains("── difference: node: ip_forward ──\n  - 0\n  + 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ challenge: 5. b at 10.9.2.2 answers a ping from c"),
        "{stdout}"
    );
    assert_eq!(host_ip_forward(), forward);
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_09_challenge_fails_before_the_work_and_passes_after() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let stdout = common::check_then_skip(&lab, "09");
    let check = stdout
        .find("✗ not yet: 1. lo is up in c: ping 127.0.0.1 answers")
        .unwrap_or_else(|| panic!("check did not fail first:\n{stdout}"));
    let skip = stdout
        .find("the lab types the reference solution")
        .expect("skip");
    assert!(check < skip, "{stdout}");
    let typed = &stdout[skip..];
    for n in [
        "✓ 1. lo is up in c",
        "✓ 2. eth0 is up in c",
        "✓ 3. eth0 has an address in 10.9.3.0/24",
        "✓ 4. a route takes 10.9.2.2 through node",
        "✓ 5. b at 10.9.2.2 answers a ping from c",
        "the reference solution reached the goal",
    ] {
        assert!(typed.contains(n), "{n} missing:\n{typed}");
    }
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_09_challenge_by_hand_names_the_first_missing_item() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut cmd = lab.cmd(&[]);
    cmd.env("TERM", "xterm");
    let mut t = Pty::spawn(cmd, 100, 30);
    t.open_challenge("9", "[09-network-namespace 13/14] > ");

    // Half the checklist: lo and the link up, but no address and no route.
    t.line("shell");
    t.expect("[fromscratch pid-ns:c] # ");
    t.line("ip link set lo up");
    t.expect("[fromscratch pid-ns:c] # ");
    t.line("ip link set eth0 up");
    t.expect("[fromscratch pid-ns:c] # ");
    t.line("ping -c1 -W1 10.9.2.2");
    t.expect("Network is unreachable");
    t.expect("[fromscratch pid-ns:c] # ");
    t.line("exit");
    let report = unwrapped(&t.expect("[09-network-namespace 13/14] > "));
    for line in [
        "✓ 1. lo is up in c",
        "✓ 2. eth0 is up in c",
        "✗ not yet: 3. eth0 has an address in 10.9.3.0/24",
        "✗ not yet: 4. a route takes 10.9.2.2 through node",
        "✗ not yet: 5. b at 10.9.2.2 answers a ping from c",
    ] {
        assert!(report.contains(line), "{line} missing:\n{report}");
    }
    // The first ✗ is the address: the checklist's next item.
    let first_bad = report.find("✗ not yet:").expect("a ✗");
    assert!(
        report[first_bad..].starts_with("✗ not yet: 3. eth0 has an address"),
        "{report}"
    );
    assert!(!report.contains("challenge passed"), "{report}");

    // The rest of the checklist.
    t.line("shell");
    t.expect("[fromscratch pid-ns:c] # ");
    t.line("ip addr add 10.9.3.7/24 dev eth0");
    t.expect("[fromscratch pid-ns:c] # ");
    t.line("ip route add default via 10.9.3.1");
    t.expect("the goal is reached");
    t.line("exit");
    let report = unwrapped(&t.expect("✓ challenge passed"));
    assert!(
        report.contains("✓ 5. b at 10.9.2.2 answers a ping from c"),
        "{report}"
    );
    t.line("quit");
    assert!(t.wait().success(), "{}", t.seen);
    lab.snapshot().assert_same(&before);
}

#[test]
fn lesson_09_links_are_recorded_before_they_exist_and_cleanup_after_kill_9_leaves_nothing() {
    require_root();
    common::host_rootfs();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut child = lab
        .cmd(&["run", "09-network-namespace"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Enter through the pauses until the state file records veth-a.
    let state = || {
        std::fs::read_dir(lab.run.path())
            .into_iter()
            .flatten()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .and_then(|e| std::fs::read_to_string(e.path()).ok())
            .unwrap_or_default()
    };
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().expect("stdin");
        let seen = common::wait_for(120, || {
            let _ = stdin.write_all(b"\n");
            std::thread::sleep(std::time::Duration::from_millis(200));
            state().contains("\"veth-a\"")
        });
        assert!(seen, "the state file never recorded veth-a:\n{}", state());
    }
    let recorded = state();
    assert!(recorded.contains("\"container\": \"node\""), "{recorded}");
    child.kill().expect("kill -9 the lab");
    child.wait().expect("reap");
    let out = lab.run(&["cleanup"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // The containers die with the lab (PR_SET_PDEATHSIG), and their namespaces with
    // them, veth-a included; a holder still dying when cleanup looks is joined and the
    // link deleted (or found gone: it is recorded before it is made).
    assert!(
        [
            "gone with its network namespace",
            "gone already",
            "deleted link `veth-a`"
        ]
        .iter()
        .any(|s| stdout.contains(&format!("link `veth-a` of `node`: {s}")) || stdout.contains(s)),
        "{stdout}"
    );
    let (again, _) = text(&lab.run(&["cleanup"]));
    assert!(again.contains("nothing to clean up"), "{again}");
    lab.snapshot().assert_same(&before);
}

#[test]
fn cleanup_deletes_a_recorded_link_whose_namespace_is_still_alive() {
    require_root();
    let lab = Lab::new();
    let before = lab.snapshot();
    // A network namespace of the test's own, holding one end of a veth pair.
    let mut holder = std::process::Command::new("unshare")
        .args([
            "--net",
            "sh",
            "-c",
            "ip link add fs-t0 type veth peer name fs-t1 && exec sleep 60",
        ])
        .spawn()
        .expect("unshare");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(holder.id()).expect("pid"));
    let links = || {
        let o = std::process::Command::new("nsenter")
            .args(["--target", &pid.to_string(), "--net", "ip", "-o", "link"])
            .output()
            .expect("nsenter");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(
        common::wait_for(10, || links().contains("fs-t0@fs-t1")),
        "{}",
        links()
    );
    // The state file of a lab that died: its owner is gone, the link is recorded.
    let holder_rec = fromscratch::lab::state::ProcessRecord::new("t", pid, "netns");
    let stale = serde_json::json!({
        "owner": { "name": "lab", "pid": i32::MAX, "start_time": 1, "kind": "lab" },
        "scratch": lab.run.path().join("lab-424242"),
        "processes": [],
        "links": [ { "ifname": "fs-t0", "container": "t", "holder": holder_rec } ],
    });
    std::fs::write(
        lab.run.path().join("lab-424242.json"),
        serde_json::to_string(&stale).expect("json"),
    )
    .expect("write the state file");
    let out = lab.run(&["cleanup"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "deleted link `fs-t0` in the network namespace of `t` (PID {pid})"
        )),
        "{stdout}"
    );
    // Both ends are gone from that namespace; only lo is left.
    let left = links();
    assert!(!left.contains("fs-t"), "{left}");
    assert!(left.contains("1: lo:"), "{left}");
    let _ = holder.kill();
    let _ = holder.wait();
    lab.snapshot().assert_same(&before);
}

#[test]
fn check_refuses_long_interface_names_public_addresses_and_containers_not_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lesson = r#"format_version = 1
id = "netbad"
title = "bad net ops"
summary = "Every op here is wrong."
objectives = ["none"]

[containers.a]
net = true
init = true

[[steps]]
id = "start"
title = "start"
explain = "start a"
action = { kind = "start", container = "a" }

[[steps]]
id = "bad"
title = "bad"
explain = "bad ops"

[steps.action]
kind = "net"

[[steps.action.ops]]
op = "veth"
container = "a"
ifname = "a-name-far-too-long"
peer_container = "b"
peer_ifname = "eth0"

[[steps.action.ops]]
op = "address"
container = "a"
ifname = "lo"
address = "8.8.8.8/24"

[[steps.action.ops]]
op = "route"
container = "a"
to = "default"
"#;
    let path = dir.path().join("netbad.toml");
    std::fs::write(&path, lesson).expect("write");
    let lab = Lab::new();
    let out = lab.run(&["check", path.to_str().expect("utf-8")]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let all = format!("{stdout}{stderr}");
    for msg in [
        "`net` op `veth`: interface name `a-name-far-too-long` is 19 characters; Linux allows at most 15 (IFNAMSIZ is 16 with the NUL), so shorten it",
        "`net` op `veth` runs in container `b`, which is not running at this point: start it in an earlier step",
        "`net` op `address`: address 8.8.8.8 is not in a private range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)",
        "`net` op `route` needs `via` (a gateway) or `dev` (an interface), or both",
    ] {
        assert!(all.contains(msg), "{msg} missing:\n{all}");
    }
    // Each problem points at the step's line.
    assert!(all.contains("netbad.toml:18:1: `net` op"), "{all}");
}
