//! Which TCP ports a process listens on, read from kernel state in /proc (proc(5)).
//!
//! `/proc/PID/net/tcp` and `tcp6` list the TCP sockets of the network namespace `PID` is
//! in, one line each, with the local address as `HEXIP:HEXPORT`, the state (`0A` is
//! LISTEN) and the socket's inode. A socket belongs to the processes that hold a
//! descriptor for it: `/proc/PID/fd/N` links to `socket:[INODE]`. A process listens on a
//! port when one of its descriptors is a LISTEN socket bound to that port, in its own
//! network namespace: what `ss -tlnp` prints, without running it.

use std::collections::{BTreeMap, BTreeSet};

/// TCP state LISTEN in /proc/net/tcp (include/net/tcp_states.h: TCP_LISTEN = 10).
const TCP_LISTEN: &str = "0A";

/// Listening sockets in a /proc/net/tcp text: inode → local port.
#[must_use]
pub fn listening(table: &str) -> BTreeMap<u64, u16> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (local, state, inode) = (f.get(1)?, f.get(3)?, f.get(9)?);
            if *state != TCP_LISTEN {
                return None;
            }
            let port = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
            Some((inode.parse().ok()?, port))
        })
        .collect()
}

/// The socket inodes `pid` holds open (its /proc/PID/fd links `socket:[N]`).
#[must_use]
pub fn socket_inodes(pid: i32) -> BTreeSet<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|t| {
            t.to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// The TCP ports `pid` listens on (IPv4 and IPv6), sorted; empty when it listens on none
/// or is gone.
#[must_use]
pub fn listening_ports(pid: i32) -> Vec<u16> {
    let mine = socket_inodes(pid);
    if mine.is_empty() {
        return Vec::new();
    }
    let mut ports = BTreeSet::new();
    for t in ["tcp", "tcp6"] {
        let table = std::fs::read_to_string(format!("/proc/{pid}/net/{t}")).unwrap_or_default();
        for (inode, port) in listening(&table) {
            if mine.contains(&inode) {
                ports.insert(port);
            }
        }
    }
    ports.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_lines_are_read_by_state_port_and_inode() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123456 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F40 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 654321 1 0000000000000000 20 4 30 10 -1
";
        assert_eq!(listening(table), BTreeMap::from([(123_456, 8080)]));
    }

    #[test]
    fn a_listener_of_this_process_is_found_and_its_port_named() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let me = std::process::id().cast_signed();
        assert!(listening_ports(me).contains(&port));
        drop(l);
        assert!(!listening_ports(me).contains(&port));
        assert!(listening_ports(i32::MAX).is_empty());
    }
}
