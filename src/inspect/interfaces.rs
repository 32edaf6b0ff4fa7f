//! A process's network interfaces and their addresses, read through rtnetlink(7) in its
//! network namespace: what `nsenter -t PID -n ip addr` shows.
//!
//! A NETLINK_ROUTE socket answers for the network namespace of the process that opened
//! it, and /proc holds no addresses or link flags for another namespace's interfaces
//! (/sys/class/net is the mounter's). So a forked child joins the target's namespace with
//! setns(2) ([`crate::observe::process::read_in_namespace_upto`]), sends two dump
//! requests built here before the fork (RTM_GETLINK, then RTM_GETADDR: a socket runs one
//! dump at a time), and copies the kernel's raw answers into a buffer allocated before the
//! fork too; this process parses them. The child makes only raw system calls. When the
//! target shares this process's network namespace no child is needed.

use std::net::IpAddr;

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use nix::sched::CloneFlags;
use serde::Serialize;

/// The most bytes of netlink answers read (1 MiB: a few hundred interfaces).
const MAX_ANSWER: usize = 1 << 20;

/// Room a recv(2) must have left: a dump's datagram is at most 32 KiB (netlink(7)).
const DATAGRAM_ROOM: usize = 64 << 10;

/// One network interface of a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interface {
    /// Its name (`lo`, `eth0`, `veth-c`).
    pub name: String,
    /// True when it is administratively up (`IFF_UP`, what `ip link set NAME up` sets).
    pub up: bool,
    /// Its addresses as `ADDR/PREFIX`, IPv4 first, in the kernel's order.
    pub addresses: Vec<String>,
}

/// The interfaces of `pid`'s network namespace; `None` when it cannot be joined (not
/// root, and not a namespace of this user's) or the process is gone. `same_as_ours`: the
/// target is in this process's network namespace, read without a child.
#[must_use]
pub fn of(pid: i32, same_as_ours: bool) -> Option<Vec<Interface>> {
    let requests = [
        request(RouteNetlinkMessage::GetLink(LinkMessage::default()), 1),
        request(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            2,
        ),
    ];
    let bytes = if same_as_ours {
        let mut buf = vec![0u8; MAX_ANSWER];
        let n = dump(&requests, &mut buf)?;
        buf.truncate(n);
        buf
    } else {
        crate::observe::process::read_in_namespace_upto(
            pid,
            "net",
            CloneFlags::CLONE_NEWNET,
            MAX_ANSWER,
            &|buf| dump(&requests, buf),
        )?
    };
    Some(parse(&bytes))
}

/// A dump request for `msg`, serialized.
fn request(msg: RouteNetlinkMessage, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
    packet.finalize();
    let mut buf = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut buf[..]);
    buf
}

/// Send each request on a new NETLINK_ROUTE socket and copy every answer datagram into
/// `out` until the dump's NLMSG_DONE (or an error message); the bytes written. Only
/// raw system calls: it runs in a forked child.
fn dump(requests: &[Vec<u8>], out: &mut [u8]) -> Option<usize> {
    let mut socket = Socket::new(NETLINK_ROUTE).ok()?;
    socket.bind_auto().ok()?;
    socket.connect(&SocketAddr::new(0, 0)).ok()?;
    let mut at = 0;
    for req in requests {
        socket.send(req, 0).ok()?;
        loop {
            if out.len() - at < DATAGRAM_ROOM {
                return None;
            }
            let n = socket.recv(&mut &mut out[at..], 0).ok()?;
            let ends = ends_dump(&out[at..at + n]);
            at += n;
            if ends || n == 0 {
                break;
            }
        }
    }
    Some(at)
}

/// True when a datagram holds NLMSG_DONE or NLMSG_ERROR (netlink(7): each message starts
/// with a 16-byte header, its length a u32 then its type a u16, native endian).
fn ends_dump(mut d: &[u8]) -> bool {
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    while d.len() >= 16 {
        let len = u32::from_ne_bytes([d[0], d[1], d[2], d[3]]) as usize;
        let kind = u16::from_ne_bytes([d[4], d[5]]);
        if kind == NLMSG_DONE || kind == NLMSG_ERROR {
            return true;
        }
        let step = (len + 3) & !3;
        if len < 16 || step > d.len() {
            break;
        }
        d = &d[step..];
    }
    false
}

/// The interfaces in a stream of RTM_NEWLINK and RTM_NEWADDR answers, by index.
fn parse(mut bytes: &[u8]) -> Vec<Interface> {
    let mut links: Vec<(u32, Interface)> = Vec::new();
    let mut addrs: Vec<(u32, bool, String)> = Vec::new();
    while bytes.len() >= 16 {
        let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes) else {
            break;
        };
        let len = msg.header.length as usize;
        match msg.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                let name = l.attributes.iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n.clone()),
                    _ => None,
                });
                if let Some(name) = name {
                    links.push((
                        l.header.index,
                        Interface {
                            name,
                            up: l.header.flags.contains(LinkFlags::Up),
                            addresses: Vec::new(),
                        },
                    ));
                }
            }
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(a)) => {
                // IPv4: IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer on
                // a point-to-point link); IPv6 has only IFA_ADDRESS.
                let pick = |want_local: bool| {
                    a.attributes.iter().find_map(|x| match x {
                        AddressAttribute::Local(ip) if want_local => Some(*ip),
                        AddressAttribute::Address(ip) if !want_local => Some(*ip),
                        _ => None,
                    })
                };
                if let Some(ip) = pick(true).or_else(|| pick(false)) {
                    addrs.push((
                        a.header.index,
                        matches!(ip, IpAddr::V4(_)),
                        format!("{ip}/{}", a.header.prefix_len),
                    ));
                }
            }
            _ => {}
        }
        let step = (len + 3) & !3;
        if len < 16 || step > bytes.len() {
            break;
        }
        bytes = &bytes[step..];
    }
    links.sort_by_key(|(i, _)| *i);
    // IPv4 first, each family in the kernel's order (a stable sort).
    addrs.sort_by_key(|(_, v4, _)| !*v4);
    for (index, _, addr) in addrs {
        if let Some((_, l)) = links.iter_mut().find(|(i, _)| *i == index) {
            l.addresses.push(addr);
        }
    }
    links.into_iter().map(|(_, l)| l).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_namespace_has_lo_with_its_loopback_address() {
        let ifs = of(std::process::id().cast_signed(), true).expect("rtnetlink dump");
        let lo = ifs.iter().find(|i| i.name == "lo").expect("lo");
        // The host's lo: up, 127.0.0.1/8 (every Linux host configures it at boot).
        assert!(lo.up, "{ifs:?}");
        assert!(lo.addresses.iter().any(|a| a == "127.0.0.1/8"), "{ifs:?}");
    }

    #[test]
    fn a_dump_ends_at_done_or_error() {
        let mut done = [0u8; 16];
        done[..4].copy_from_slice(&16u32.to_ne_bytes());
        done[4..6].copy_from_slice(&3u16.to_ne_bytes());
        assert!(ends_dump(&done));
        let mut link = done;
        link[4..6].copy_from_slice(&16u16.to_ne_bytes());
        assert!(!ends_dump(&link));
        assert!(ends_dump(&[link, done].concat()));
    }
}
