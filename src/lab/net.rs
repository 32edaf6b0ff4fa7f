//! The lab's side of the `net` action: which container each operation runs in, the
//! links recorded before they exist, and their removal at teardown and by `cleanup`.
//!
//! A veth end lives in a network namespace the lab made (a container's), so it would go
//! with that namespace when the container stops; the lab still records each link in its
//! state file BEFORE creating it and deletes it explicitly at teardown (RTM_DELLINK, in
//! a child joined to that namespace), tolerating ENODEV (gone already: deleting one end
//! of a pair deletes the other, and a namespace that dies takes its links). After a
//! `kill -9` of the lab, `fromscratch cleanup` does the same for every recorded link
//! whose namespace is still held by a process the lab started.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::state::ProcessRecord;
use super::{Lab, LabError};
use crate::lesson::format::NetOpDef;
use crate::observe::Verdict;
use crate::runtime::RuntimeError;
use crate::runtime::net::{self, Cidr, NetOp, NetRun};
use crate::term;

/// A link the lab made (or is about to make), as the state file keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LinkRecord {
    /// The interface's name in the namespace where it was made.
    pub ifname: String,
    /// The container holding that namespace, as the lesson names it.
    pub container: String,
    /// The process holding the namespace (the container's first process), with its start
    /// time, so a reused PID is never joined.
    pub holder: ProcessRecord,
}

/// The runtime operations for one lesson operation, and the container they run in.
///
/// # Errors
/// A container not running, or an address that does not parse or is not private (the
/// checker refuses both first; this is the run-time guard).
fn plan(lab: &Lab, op: &NetOpDef) -> Result<(String, Pid, Vec<NetOp>), LabError> {
    let pid_of = |name: &str| {
        lab.container(name)
            .map(|c| c.pid1)
            .ok_or_else(|| LabError::UnknownName {
                name: name.to_string(),
            })
    };
    let bad = |m: String| LabError::OutsideLab { path: m };
    let cidr = |s: &str| -> Result<Cidr, LabError> {
        let c: Cidr = s.parse().map_err(bad)?;
        match net::address_problem(c.addr) {
            Some(p) => Err(bad(p)),
            None => Ok(c),
        }
    };
    let container = op.container().to_string();
    let pid = pid_of(&container)?;
    let ops = match op {
        NetOpDef::Veth {
            ifname,
            peer_container,
            peer_ifname,
            ..
        } => {
            let peer = pid_of(peer_container)?;
            vec![
                NetOp::AddVeth {
                    name: ifname.clone(),
                    peer: peer_ifname.clone(),
                },
                NetOp::MoveToNetns {
                    ifname: peer_ifname.clone(),
                    netns: PathBuf::from(format!("/proc/{peer}/ns/net")),
                },
            ]
        }
        NetOpDef::Address {
            ifname, address, ..
        } => vec![NetOp::AddAddress {
            ifname: ifname.clone(),
            cidr: cidr(address)?,
        }],
        NetOpDef::Up { ifname, .. } => vec![NetOp::SetUp {
            ifname: ifname.clone(),
        }],
        NetOpDef::Route { to, via, dev, .. } => {
            let to = if to == "default" {
                None
            } else {
                Some(cidr(to)?)
            };
            let via = match via {
                Some(v) => {
                    let a: Ipv4Addr = v
                        .parse()
                        .map_err(|_| bad(format!("`via` `{v}` is not an IPv4 address")))?;
                    if let Some(p) = net::address_problem(a) {
                        return Err(bad(p));
                    }
                    Some(a)
                }
                None => None,
            };
            vec![NetOp::AddRoute {
                to,
                via,
                dev: dev.clone(),
            }]
        }
        NetOpDef::IpForward { .. } => vec![NetOp::IpForward],
        NetOpDef::Delete { ifname, .. } => vec![NetOp::DelLink {
            ifname: ifname.clone(),
        }],
    };
    Ok((container, pid, ops))
}

/// Consecutive operations in one container: its name, the PID holding its network
/// namespace, and the calls, each with the index of the lesson operation it comes from.
type Group = (String, Pid, Vec<(usize, NetOp)>);

/// Perform a `net` action's operations in order, printing the `ip` command each one is
/// (run through `nsenter --target PID --net`). Consecutive operations in the same
/// container share one child (one setns). Returns the trace and, when an operation
/// failed, one failed check naming it (the operations after it are not tried).
///
/// # Errors
/// A container not running, a runtime failure (fork, pipe), or output failed.
pub fn act(
    lab: &mut Lab,
    ops: &[NetOpDef],
    out: &mut dyn Write,
) -> Result<(Vec<String>, Vec<Verdict>), LabError> {
    // Groups of consecutive operations in one container: (container, pid, [(op, call)]).
    let mut groups: Vec<Group> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let (container, pid, calls) = plan(lab, op)?;
        match groups.last_mut() {
            Some((c, _, v)) if *c == container => v.extend(calls.into_iter().map(|n| (i, n))),
            _ => groups.push((container, pid, calls.into_iter().map(|n| (i, n)).collect())),
        }
    }
    let mut trace = Vec::new();
    for (container, pid, calls) in groups {
        for (_, n) in &calls {
            let _ = writeln!(
                out,
                "  {}",
                term::command(&format!("nsenter --target {pid} --net {}", n.ip_command()))
            );
        }
        // Each link goes into the state file before it exists.
        for (_, n) in &calls {
            if let NetOp::AddVeth { name, .. } = n {
                lab.record_link(&container, pid, name)?;
            }
        }
        let netops: Vec<NetOp> = calls.iter().map(|(_, n)| n.clone()).collect();
        let run = net::run_in(pid, &netops)?;
        trace.extend(run.trace);
        let done = run
            .failure
            .map_or(netops.len(), |(i, _)| i.min(netops.len()));
        for (k, n) in netops.iter().enumerate() {
            match n {
                // Deleted: forget it. Never made (failed, or not tried): forget it too.
                NetOp::DelLink { ifname } if k < done => lab.forget_link(&container, ifname)?,
                NetOp::AddVeth { name, .. } if k >= done => lab.forget_link(&container, name)?,
                _ => {}
            }
        }
        if let Some((i, errno)) = run.failure {
            let what = netops.get(i).map_or_else(
                || {
                    format!(
                        "joining the network namespace of `{container}` failed with {}",
                        crate::runtime::syscalls::errno_name(errno)
                    )
                },
                |n| net::explain_failure(n, errno),
            );
            let _ = writeln!(out, "  fromscratch: {what}");
            return Ok((
                trace,
                vec![Verdict {
                    what: format!("action: {what}"),
                    ok: false,
                }],
            ));
        }
    }
    Ok((trace, Vec::new()))
}

impl Lab {
    /// Record a link before it is made, in the state file.
    ///
    /// # Errors
    /// The state file cannot be written.
    pub fn record_link(
        &mut self,
        container: &str,
        holder: Pid,
        ifname: &str,
    ) -> Result<(), RuntimeError> {
        self.state.add_link(LinkRecord {
            ifname: ifname.to_string(),
            container: container.to_string(),
            holder: ProcessRecord::new(container, holder, "netns"),
        })
    }

    /// Forget a link (deleted, or never made).
    ///
    /// # Errors
    /// The state file cannot be written.
    pub fn forget_link(&mut self, container: &str, ifname: &str) -> Result<(), RuntimeError> {
        self.state.forget_link(container, ifname)
    }

    /// Delete every recorded link, newest first, in the namespace that holds it, while
    /// its holder is alive (ENODEV is fine: gone with its peer or its namespace), then
    /// forget it. Returns one line per link.
    pub fn delete_links(&mut self) -> Vec<String> {
        let links = self.state.links();
        let done = delete_recorded(&links);
        for l in links.iter().rev() {
            let _ = self.state.forget_link(&l.container, &l.ifname);
        }
        done
    }
}

/// Delete each recorded link whose namespace holder is still alive and ours, newest
/// first; say what happened to each. Used at teardown and by `fromscratch cleanup`.
#[must_use]
pub fn delete_recorded(links: &[LinkRecord]) -> Vec<String> {
    let mut done = Vec::new();
    for l in links.iter().rev() {
        let pid = Pid::from_raw(l.holder.pid);
        if !l.holder.is_alive_and_ours() {
            done.push(format!(
                "link `{}` of `{}`: gone with its network namespace",
                l.ifname, l.container
            ));
            continue;
        }
        let op = NetOp::DelLink {
            ifname: l.ifname.clone(),
        };
        let gone = || {
            format!(
                "link `{}` of `{}`: gone with its network namespace",
                l.ifname, l.container
            )
        };
        match net::run_in(pid, std::slice::from_ref(&op)) {
            // The holder died between the look and the join: its namespace went with it.
            Err(RuntimeError::NoSuchContainer { .. }) => done.push(gone()),
            Ok(NetRun {
                failure: Some((usize::MAX, Errno::ENOENT | Errno::ESRCH | Errno::EINVAL)),
                ..
            }) => done.push(gone()),
            Ok(r) => match r.failure {
                None => done.push(format!(
                    "deleted link `{}` in the network namespace of `{}` (PID {pid})",
                    l.ifname, l.container
                )),
                Some((_, Errno::ENODEV)) => done.push(format!(
                    "link `{}` of `{}`: gone already",
                    l.ifname, l.container
                )),
                Some((_, e)) => done.push(format!(
                    "link `{}` of `{}`: {}",
                    l.ifname,
                    l.container,
                    net::explain_failure(&op, e)
                )),
            },
            Err(e) => done.push(format!("link `{}` of `{}`: {e}", l.ifname, l.container)),
        }
    }
    done
}
