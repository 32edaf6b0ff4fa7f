//! `check` for the `net` action: every name and address a lesson gives the kernel is
//! checked before anything runs.
//!
//! Interface names fit IFNAMSIZ (netdevice(7)); addresses and routes stay in the private
//! ranges, so no packet the lab makes could be meant for a machine elsewhere; every
//! container an operation names is running at that step (a `net` operation runs in a
//! container's network namespace, never the host's).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use super::format::NetOpDef;
use crate::runtime::net::{Cidr, address_problem, ifname_problem};

/// Problems with one `net` action at `at` (`FILE:LINE:COLUMN`), given the containers
/// running at that step, as one sentence each.
pub fn check(ops: &[NetOpDef], started: &BTreeSet<String>, at: &str, out: &mut Vec<String>) {
    if ops.is_empty() {
        out.push(format!(
            "{at}: `net` has no ops: add at least one [[steps.action.ops]] table"
        ));
    }
    for op in ops {
        let kind = kind(op);
        let mut running = |c: &str| {
            if !started.contains(c) {
                out.push(format!(
                    "{at}: `net` op `{kind}` runs in container `{c}`, which is not running at this point: start it in an earlier step (the lab never changes the host's own network namespace)"
                ));
            }
        };
        running(op.container());
        if let NetOpDef::Veth { peer_container, .. } = op {
            running(peer_container);
        }
        let mut names: Vec<&str> = Vec::new();
        match op {
            NetOpDef::Veth {
                container,
                ifname,
                peer_container,
                peer_ifname,
            } => {
                names.extend([ifname.as_str(), peer_ifname.as_str()]);
                if container == peer_container {
                    out.push(format!(
                        "{at}: `net` op `veth`: a veth pair joins two namespaces, so `peer_container` must differ from `container` (both are `{container}`)"
                    ));
                }
            }
            NetOpDef::Address {
                ifname, address, ..
            } => {
                names.push(ifname);
                match address.parse::<Cidr>() {
                    Ok(c) => {
                        if let Some(p) = address_problem(c.addr) {
                            out.push(format!("{at}: `net` op `address`: {p}"));
                        }
                    }
                    Err(e) => out.push(format!("{at}: `net` op `address`: {e}")),
                }
            }
            NetOpDef::Up { ifname, .. } | NetOpDef::Delete { ifname, .. } => names.push(ifname),
            NetOpDef::Route { to, via, dev, .. } => {
                if to != "default" {
                    match to.parse::<Cidr>() {
                        Ok(c) => {
                            if let Some(p) = address_problem(c.addr) {
                                out.push(format!("{at}: `net` op `route`: {p}"));
                            }
                        }
                        Err(e) => out.push(format!(
                            "{at}: `net` op `route`: `to` is \"default\" or a subnet A.B.C.D/N: {e}"
                        )),
                    }
                }
                if let Some(v) = via {
                    match v.parse::<Ipv4Addr>() {
                        Ok(a) => {
                            if let Some(p) = address_problem(a) {
                                out.push(format!("{at}: `net` op `route`: {p}"));
                            }
                        }
                        Err(_) => out.push(format!(
                            "{at}: `net` op `route`: `via` `{v}` is not an IPv4 address A.B.C.D"
                        )),
                    }
                }
                if let Some(d) = dev {
                    names.push(d);
                }
                if via.is_none() && dev.is_none() {
                    out.push(format!(
                        "{at}: `net` op `route` needs `via` (a gateway) or `dev` (an interface), or both"
                    ));
                }
            }
            NetOpDef::IpForward { .. } => {}
        }
        for n in names {
            if let Some(p) = ifname_problem(n) {
                out.push(format!("{at}: `net` op `{kind}`: {p}"));
            }
        }
    }
}

/// The `op` as written in the file.
#[must_use]
pub fn kind(op: &NetOpDef) -> &'static str {
    match op {
        NetOpDef::Veth { .. } => "veth",
        NetOpDef::Address { .. } => "address",
        NetOpDef::Up { .. } => "up",
        NetOpDef::Route { .. } => "route",
        NetOpDef::IpForward { .. } => "ip_forward",
        NetOpDef::Delete { .. } => "delete",
    }
}

/// Every container a `net` op acts in, or moves a veth end into, must have a network
/// namespace of its own (`net = true`, or `share` of a container that has one): any
/// other container is in the host's network namespace, which the lab never changes.
pub fn check_own_netns(
    ops: &[NetOpDef],
    containers: &std::collections::BTreeMap<String, crate::lesson::ContainerDef>,
    at: &str,
    out: &mut Vec<String>,
) {
    let own = |name: &str| {
        containers.get(name).is_some_and(|c| {
            c.net
                || c.share.as_ref().is_some_and(|s| {
                    s.namespaces.iter().any(|n| n == "net")
                        && containers.get(&s.container).is_some_and(|h| h.net)
                })
        })
    };
    for op in ops {
        let mut names = vec![op.container()];
        if let NetOpDef::Veth { peer_container, .. } = op {
            names.push(peer_container);
        }
        for n in names {
            if containers.contains_key(n) && !own(n) {
                out.push(format!(
                    "{at}: `net` op `{}` acts in container `{n}`, which has no network namespace of its own (it is the host's): give `{n}` net = true",
                    kind(op)
                ));
            }
        }
    }
}
