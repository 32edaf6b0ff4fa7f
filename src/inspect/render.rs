//! `inspect`'s text output: one line per fact, with a short explanation, and under it the
//! command a person would type to see the same thing. The fragments other code may
//! match (`process PID (COMM)`, the namespace lines' `its own` / `shared with the host`,
//! `oom_kill N`, `no_new_privs 0|1`, `hostname NAME`, `NAME state up|down ADDR/PREFIX`)
//! are fixed by the contract in book/src/reference/inspect.md.

use std::io::{self, Write};

use super::{Capabilities, CgroupInfo, Diff, IDENTITY_MAP, Interface, Report, full_cap_mask};
use crate::term;

/// What a field shows when this user may not read it: `unreadable (needs root)`; as
/// root, denied all the same (the target holds a capability this process lacks).
#[must_use]
pub fn unreadable() -> &'static str {
    if crate::paths::is_root() {
        "unreadable (denied even to root: it holds capabilities this process lacks)"
    } else {
        "unreadable (needs root)"
    }
}

/// What each namespace isolates, in a phrase.
fn ns_meaning(name: &str) -> &'static str {
    match name {
        "cgroup" => "which cgroup it sees as the root",
        "ipc" => "System V queues, semaphores, shared memory",
        "mnt" => "its mount table",
        "net" => "interfaces, addresses, routes, ports",
        "pid" => "which PIDs it can see",
        "time" => "its boot and monotonic clocks",
        "user" => "whose IDs and capabilities it has",
        "uts" => "its hostname",
        _ => "",
    }
}

/// A capability set as text: `all`, `none`, or the names, comma-separated.
#[must_use]
pub fn cap_set(c: &Capabilities, i: usize) -> String {
    let full = full_cap_mask();
    let mask = c.masks[i] & full;
    let names = [&c.effective, &c.permitted, &c.bounding][i];
    let missing = full & !mask;
    if mask == full {
        format!("all ({})", names.len())
    } else if mask == 0 {
        "none".into()
    } else if missing.count_ones() <= 8 {
        format!(
            "all but {}",
            crate::runtime::security::names(missing).join(", ")
        )
    } else {
        names.join(", ")
    }
}

/// `NAME state up|down ADDR/PREFIX…`.
#[must_use]
pub fn interface_summary(i: &Interface) -> String {
    let mut s = format!("{} state {}", i.name, if i.up { "up" } else { "down" });
    for a in &i.addresses {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// The command line under a fact, dimmed.
fn cmd(out: &mut dyn Write, command: &str) -> io::Result<()> {
    writeln!(out, "          {}", term::dim(&format!("$ {command}")))
}

/// `bytes` with a binary unit when it is a whole number of them.
fn bytes(n: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{n} ({} {unit})", n >> shift);
        }
    }
    n.to_string()
}

/// Write `r` as text.
///
/// # Errors
/// Writing to `out` failed.
pub fn write_report(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let pid = r.pid;
    let inner = match r.pid_in_ns {
        Some(n) if r.namespaces.get("pid").and_then(|n| n.shared_with_host) == Some(false) => {
            format!(": PID {n} in its own PID namespace")
        }
        _ => String::new(),
    };
    writeln!(
        out,
        "{}",
        term::title(&format!("process {pid} ({}){inner}", r.comm))
    )?;
    match r.host_reference {
        1 => writeln!(out, "  compared with the host's PID 1")?,
        2 => writeln!(
            out,
            "  compared with kthreadd (PID 2), always in the host's namespaces (PID 1's are {})",
            unreadable()
        )?,
        _ => writeln!(
            out,
            "  compared with this command's own namespaces (PID 1's are {})",
            unreadable()
        )?,
    }
    writeln!(out)?;
    writeln!(out, "{}", term::heading("namespaces"))?;
    for (name, ns) in &r.namespaces {
        let Some(inode) = ns.inode else {
            writeln!(out, "  {name:<7} {}", unreadable())?;
            continue;
        };
        let whose = match ns.shared_with_host {
            Some(true) => "shared with the host",
            Some(false) => "its own",
            None => "unknown",
        };
        let also = match ns.other_pids.as_slice() {
            [] => "also: no other process".to_string(),
            few @ ([_] | [_, _] | [_, _, _]) => format!(
                "also: {}",
                few.iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            many => format!(
                "also: {} other processes ({}, …)",
                many.len(),
                many[..3]
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        writeln!(
            out,
            "  {name:<7} {inode:<11} {whose:<21} {also:<36}  {}",
            ns_meaning(name)
        )?;
        cmd(out, &ns.enter)?;
    }
    writeln!(out)?;

    match &r.root {
        Some(root) => {
            let on = match (&root.mount_point, &root.fstype) {
                (Some(m), Some(t)) => format!(
                    " on the mount at {m} ({t}, from {})",
                    root.source.as_deref().unwrap_or("none")
                ),
                _ => String::new(),
            };
            writeln!(out, "root      {}{on}  what it sees as /", root.path)?;
            cmd(
                out,
                &format!("ls /proc/{pid}/root/; cat /proc/{pid}/mountinfo"),
            )?;
        }
        None => writeln!(out, "root      {}", unreadable())?,
    }

    match &r.cgroup {
        Some(c) => write_cgroup(c, pid, out)?,
        None => writeln!(out, "cgroup    {}", unreadable())?,
    }

    for (label, map) in [("uid_map", &r.uid_map), ("gid_map", &r.gid_map)] {
        let text = match map.as_deref() {
            None => unreadable().to_string(),
            Some([one]) if *one == IDENTITY_MAP => {
                "identity (no user namespace of its own)".to_string()
            }
            Some(rows) => rows
                .iter()
                .map(|r| format!("{} {} {}", r[0], r[1], r[2]))
                .collect::<Vec<_>>()
                .join(", "),
        };
        writeln!(
            out,
            "{label:<9} {text}  inside-ID outside-ID count: how its IDs map to the host's"
        )?;
        cmd(out, &format!("cat /proc/{pid}/{label}"))?;
    }

    match &r.capabilities {
        Some(c) => {
            writeln!(out, "capabilities  the pieces of root's power it holds")?;
            for (i, (set, meaning)) in [
                ("effective", "what the kernel checks now"),
                ("permitted", "what it may make effective"),
                ("bounding", "the most it or its children can ever gain"),
            ]
            .iter()
            .enumerate()
            {
                writeln!(out, "  {set:<10} {}  {meaning}", cap_set(c, i))?;
            }
            cmd(out, &format!("grep Cap /proc/{pid}/status"))?;
        }
        None => writeln!(out, "capabilities {}", unreadable())?,
    }
    let seccomp = r.seccomp.as_deref().unwrap_or(unreadable());
    let meaning = match seccomp {
        "disabled" => "every system call is allowed",
        "strict" => "only read, write, exit and sigreturn",
        "filter" => "a BPF filter decides each system call",
        _ => "",
    };
    writeln!(out, "seccomp   {seccomp}  {meaning}")?;
    cmd(out, &format!("grep Seccomp /proc/{pid}/status"))?;
    match r.no_new_privs {
        Some(n) => writeln!(
            out,
            "no_new_privs {}  {}",
            u8::from(n),
            if n {
                "execve can never raise its privileges (setuid bits are ignored)"
            } else {
                "a setuid program can still raise its privileges"
            }
        )?,
        None => writeln!(out, "no_new_privs {}", unreadable())?,
    }
    cmd(out, &format!("grep NoNewPrivs /proc/{pid}/status"))?;

    writeln!(
        out,
        "hostname  {}  the name its UTS namespace holds",
        r.hostname.as_deref().unwrap_or(unreadable())
    )?;
    cmd(out, &format!("nsenter -t {pid} --uts hostname"))?;
    match &r.interfaces {
        Some(ifs) => {
            writeln!(out, "interfaces  the devices of its network namespace")?;
            for i in ifs {
                writeln!(out, "  {}", interface_summary(i))?;
            }
        }
        None => writeln!(out, "interfaces {}", unreadable())?,
    }
    cmd(out, &format!("nsenter -t {pid} -n ip addr"))?;
    Ok(())
}

fn write_cgroup(c: &CgroupInfo, pid: i32, out: &mut dyn Write) -> io::Result<()> {
    // The paths, each with the hierarchies it is on: `/a (memory); / (cpu, unified)`.
    let mut by_path: Vec<(&String, Vec<&String>)> = Vec::new();
    for (k, v) in &c.paths {
        match by_path.iter_mut().find(|(p, _)| *p == v) {
            Some((_, ks)) => ks.push(k),
            None => by_path.push((v, vec![k])),
        }
    }
    let paths = by_path
        .iter()
        .map(|(p, ks)| {
            let ks: Vec<&str> = ks.iter().map(|k| k.as_str()).collect();
            format!("{p} ({})", ks.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    writeln!(
        out,
        "cgroup    {} {paths}  the groups whose limits it lives under",
        c.layout
    )?;
    cmd(out, &format!("cat /proc/{pid}/cgroup"))?;
    let file = |k: &str| c.files.get(k).map(|f| f.display().to_string());
    let limit = |name: &'static str, value: Option<String>, meaning: &str, out: &mut dyn Write| {
        if let Some(f) = file(name) {
            writeln!(
                out,
                "  {name} {}  {meaning}",
                value.unwrap_or_else(|| "none".into())
            )?;
            cmd(out, &format!("cat {f}"))?;
        }
        Ok::<(), io::Error>(())
    };
    let mem = if c.files.contains_key("memory.max") {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    limit(
        mem,
        c.memory_max_bytes.map(bytes),
        "the most memory its group may use, in bytes",
        out,
    )?;
    limit(
        "pids.max",
        c.pids_max.map(|n| n.to_string()),
        "the most processes its group may hold",
        out,
    )?;
    let cpu = if c.files.contains_key("cpu.max") {
        "cpu.max"
    } else {
        "cpu.cfs_quota_us"
    };
    limit(
        cpu,
        c.cpu_max.clone(),
        "CPU time its group may use per period, in µs",
        out,
    )?;
    if let (Some(n), Some(f)) = (c.oom_kills, file("oom_kill")) {
        writeln!(
            out,
            "  oom_kill {n}  processes of its group the kernel killed for want of memory"
        )?;
        cmd(out, &format!("grep oom_kill {f}"))?;
    }
    Ok(())
}

/// Write `d` as text.
///
/// # Errors
/// Writing to `out` failed.
pub fn write_diff(d: &Diff, a: &Report, b: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        term::title(&format!(
            "process {} ({}) and process {} ({})",
            a.pid, a.comm, b.pid, b.comm
        ))
    )?;
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(" ")
        }
    };
    if a.pid == b.pid {
        writeln!(
            out,
            "  (the same process twice: everything it can read is shared)"
        )?;
    }
    if d.shared.is_empty() && d.not_shared.is_empty() {
        writeln!(
            out,
            "  namespaces   unreadable (needs root, or a capability this root lacks)"
        )?;
    } else {
        writeln!(out, "  shared       {}  (the same inode)", list(&d.shared))?;
        writeln!(out, "  not shared   {}", list(&d.not_shared))?;
    }
    cmd(out, &format!("ls -l /proc/{}/ns /proc/{}/ns", a.pid, b.pid))?;
    writeln!(
        out,
        "  root         {}",
        if a.root_id.is_none() || b.root_id.is_none() {
            "unreadable (needs root, or a capability this root lacks)"
        } else if d.same_root {
            "the same directory"
        } else {
            "not the same directory"
        }
    )?;
    cmd(
        out,
        &format!(
            "stat -L -c '%d %i' /proc/{}/root /proc/{}/root",
            a.pid, b.pid
        ),
    )?;
    writeln!(
        out,
        "  cgroup       {}",
        if d.same_cgroup {
            "the same on every hierarchy"
        } else {
            "not the same"
        }
    )?;
    cmd(
        out,
        &format!("cat /proc/{}/cgroup /proc/{}/cgroup", a.pid, b.pid),
    )?;
    if d.differences.is_empty() {
        writeln!(out, "no other differences")?;
    } else {
        writeln!(out, "{}", term::heading("differences"))?;
        for x in &d.differences {
            writeln!(out, "  {}", x.what)?;
            writeln!(out, "    {:<7} {}", a.pid, x.a)?;
            writeln!(out, "    {:<7} {}", b.pid, x.b)?;
        }
    }
    Ok(())
}
