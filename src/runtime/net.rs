//! Network links, addresses and routes, made through rtnetlink(7) inside a network
//! namespace the lab made, never in the host's.
//!
//! A new network namespace holds only `lo`, down (network_namespaces(7)). To connect two
//! namespaces, a runtime makes a veth pair, a virtual cable whose two ends are network
//! devices (veth(4)), moves one end into the other namespace, gives each end an address,
//! brings both up, and adds routes: what `ip link add … type veth peer name …`, `ip link
//! set … netns …`, `ip addr add`, `ip link set … up` and `ip route add` send as
//! RTM_NEWLINK, RTM_SETLINK, RTM_NEWADDR and RTM_NEWROUTE messages (rtnetlink(7)).
//!
//! The messages are built with the `netlink-packet-route` crate and sent on a blocking
//! `netlink-sys` socket: no async runtime, no thread. A netlink socket acts on the network
//! namespace of the process that opened it, so every operation here runs in a forked,
//! single-threaded child that first joins the target's network namespace with setns(2)
//! ([`run_in`]). The child refuses to go on when it finds itself in the lab's own network
//! namespace, so no link, address, route or sysctl of the host is ever changed. The one
//! sysctl, `net.ipv4.ip_forward`, is per network namespace: the child writes
//! `/proc/sys/net/ipv4/ip_forward` after the setns, which changes only the joined one.
//!
//! Every operation is a [`NetOp`] performed through the [`Syscalls`] seam
//! ([`Sys::Net`](super::syscalls::Sys::Net)), so the learner sees it traced and unit tests
//! can record the order without root.

use std::fmt;
use std::io::Read;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::unistd::{ForkResult, Pid};

use super::error::RuntimeError;
use super::syscalls::{Call, LinuxSyscalls, Sys, Syscalls};

/// Linux's longest interface name: IFNAMSIZ is 16 bytes with the terminating NUL
/// (netdevice(7)).
pub const IFNAME_MAX: usize = 15;

/// Why an interface name cannot be used, if it cannot: empty, longer than
/// [`IFNAME_MAX`] bytes, or holding anything but ASCII letters, digits, `-` and `_` (the
/// kernel also refuses `/`, `:` and whitespace; the lab keeps to what every tool prints
/// unquoted).
#[must_use]
pub fn ifname_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("an interface name cannot be empty".into());
    }
    if name.len() > IFNAME_MAX {
        return Some(format!(
            "interface name `{name}` is {} characters; Linux allows at most {IFNAME_MAX} (IFNAMSIZ is 16 with the NUL), so shorten it",
            name.len()
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Some(format!(
            "interface name `{name}` may hold only letters, digits, `-` and `_`"
        ));
    }
    None
}

/// An IPv4 address with its prefix length, `10.9.1.2/24`: the address an interface gets
/// and, through the prefix, the subnet it reaches directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The address.
    pub addr: Ipv4Addr,
    /// Prefix length, 0 to 32.
    pub prefix: u8,
}

impl Cidr {
    /// True inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, the private ranges of
    /// RFC 1918, which no machine elsewhere owns.
    #[must_use]
    pub fn is_private(&self) -> bool {
        self.addr.is_private()
    }

    /// The network part: `10.9.1.0` for `10.9.1.2/24`.
    #[must_use]
    pub fn network(&self) -> Ipv4Addr {
        let mask = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        };
        Ipv4Addr::from(u32::from(self.addr) & mask)
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// Parse `A.B.C.D/N`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, p) = s.split_once('/').ok_or_else(|| {
            format!("address `{s}` needs a prefix length: write it as A.B.C.D/N, e.g. 10.9.1.2/24")
        })?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("address `{s}` is not an IPv4 address A.B.C.D/N"))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("address `{s}`: the prefix length must be 0 to 32"))?;
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The private ranges, as a sentence for errors.
pub const PRIVATE_RANGES: &str = "10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16";

/// Why an address may not be used by a lesson, if it may not: it must lie in a private
/// range (RFC 1918), so nothing the lab makes could ever be meant for a machine
/// elsewhere.
#[must_use]
pub fn address_problem(addr: Ipv4Addr) -> Option<String> {
    if addr.is_private() {
        None
    } else {
        Some(format!(
            "address {addr} is not in a private range ({PRIVATE_RANGES}): the lab uses only private addresses, on links between namespaces it made, so no packet can be meant for a machine elsewhere"
        ))
    }
}

/// One change to a network namespace, made in the namespace the calling process is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetOp {
    /// RTM_NEWLINK with `IFLA_LINKINFO` kind `veth`: a veth pair, both ends here, down.
    AddVeth {
        /// This end's name.
        name: String,
        /// The other end's name (`VETH_INFO_PEER`).
        peer: String,
    },
    /// RTM_SETLINK with `IFLA_NET_NS_FD`: move an interface into the network namespace
    /// behind `netns` (a `/proc/PID/ns/net` file). It arrives down and without addresses.
    MoveToNetns {
        /// The interface.
        ifname: String,
        /// The target namespace file.
        netns: PathBuf,
    },
    /// RTM_NEWADDR: give an interface an IPv4 address. While the interface is up, the
    /// kernel also adds the route to its subnet.
    AddAddress {
        /// The interface.
        ifname: String,
        /// Address and prefix length.
        cidr: Cidr,
    },
    /// RTM_SETLINK with `IFF_UP` in flags and change mask: bring an interface up.
    SetUp {
        /// The interface.
        ifname: String,
    },
    /// RTM_NEWROUTE in the main table: `to` (none: the default route, 0.0.0.0/0) through
    /// the gateway `via`, or directly out of `dev`.
    AddRoute {
        /// The destination; `None` is the default route.
        to: Option<Cidr>,
        /// The next hop.
        via: Option<Ipv4Addr>,
        /// The interface to send out of.
        dev: Option<String>,
    },
    /// RTM_DELLINK: delete an interface; deleting one end of a veth pair deletes both.
    DelLink {
        /// The interface.
        ifname: String,
    },
    /// Write `1` to `/proc/sys/net/ipv4/ip_forward`: this namespace forwards IPv4
    /// packets between its interfaces (a router). Each network namespace has its own
    /// copy of the files under /proc/sys/net (network_namespaces(7)): this writes the
    /// one of the namespace the calling process is in.
    IpForward,
}

impl NetOp {
    /// The call as the trace shows it, in the terms of rtnetlink(7).
    #[must_use]
    pub fn call(&self) -> Call {
        let send = |msg: String, flags: &str| Call {
            name: "sendmsg",
            args: vec!["NETLINK_ROUTE".into(), msg, flags.into()],
        };
        match self {
            Self::AddVeth { name, peer } => send(
                format!(
                    "RTM_NEWLINK{{IFLA_IFNAME={name:?}, IFLA_INFO_KIND=\"veth\", VETH_INFO_PEER{{IFLA_IFNAME={peer:?}}}}}"
                ),
                "NLM_F_CREATE|NLM_F_EXCL|NLM_F_ACK",
            ),
            Self::MoveToNetns { ifname, netns } => send(
                format!(
                    "RTM_SETLINK{{IFLA_IFNAME={ifname:?}, IFLA_NET_NS_FD=/* {} */}}",
                    netns.display()
                ),
                "NLM_F_ACK",
            ),
            Self::AddAddress { ifname, cidr } => send(
                format!(
                    "RTM_NEWADDR{{ifa_index=if_nametoindex({ifname:?}), ifa_prefixlen={}, IFA_LOCAL={}}}",
                    cidr.prefix, cidr.addr
                ),
                "NLM_F_CREATE|NLM_F_EXCL|NLM_F_ACK",
            ),
            Self::SetUp { ifname } => send(
                format!(
                    "RTM_SETLINK{{IFLA_IFNAME={ifname:?}, ifi_flags=IFF_UP, ifi_change=IFF_UP}}"
                ),
                "NLM_F_ACK",
            ),
            Self::AddRoute { to, via, dev } => {
                let mut parts = vec![match to {
                    Some(c) => format!("RTA_DST={}/{}", c.network(), c.prefix),
                    None => "RTA_DST=0.0.0.0/0".to_string(),
                }];
                if let Some(v) = via {
                    parts.push(format!("RTA_GATEWAY={v}"));
                }
                if let Some(d) = dev {
                    parts.push(format!("RTA_OIF=if_nametoindex({d:?})"));
                }
                send(
                    format!("RTM_NEWROUTE{{RT_TABLE_MAIN, {}}}", parts.join(", ")),
                    "NLM_F_CREATE|NLM_F_EXCL|NLM_F_ACK",
                )
            }
            Self::DelLink { ifname } => send(
                format!("RTM_DELLINK{{IFLA_IFNAME={ifname:?}}}"),
                "NLM_F_ACK",
            ),
            Self::IpForward => Call {
                name: "write",
                args: vec![
                    "\"/proc/sys/net/ipv4/ip_forward\"".into(),
                    "\"1\\n\"".into(),
                    "2".into(),
                ],
            },
        }
    }

    /// The ip(8) command a learner would type for it, run in the same namespace.
    #[must_use]
    pub fn ip_command(&self) -> String {
        match self {
            Self::AddVeth { name, peer } => {
                format!("ip link add {name} type veth peer name {peer}")
            }
            Self::MoveToNetns { ifname, netns } => {
                let pid = netns
                    .strip_prefix("/proc")
                    .ok()
                    .and_then(|p| p.components().next())
                    .map_or_else(
                        || netns.display().to_string(),
                        |c| c.as_os_str().to_string_lossy().into_owned(),
                    );
                format!("ip link set {ifname} netns {pid}")
            }
            Self::AddAddress { ifname, cidr } => format!("ip addr add {cidr} dev {ifname}"),
            Self::SetUp { ifname } => format!("ip link set {ifname} up"),
            Self::AddRoute { to, via, dev } => {
                let mut s = format!(
                    "ip route add {}",
                    to.map_or_else(
                        || "default".to_string(),
                        |c| format!("{}/{}", c.network(), c.prefix)
                    )
                );
                if let Some(v) = via {
                    s.push_str(&format!(" via {v}"));
                }
                if let Some(d) = dev {
                    s.push_str(&format!(" dev {d}"));
                }
                s
            }
            Self::DelLink { ifname } => format!("ip link del {ifname}"),
            Self::IpForward => "sysctl -w net.ipv4.ip_forward=1".to_string(),
        }
    }
}

/// Perform one operation in the calling process's network namespace. Called only by
/// [`LinuxSyscalls`] for [`Sys::Net`], in a child that joined a lab namespace.
///
/// # Errors
/// The kernel's errno: `EEXIST` (a name or address taken), `ENODEV` (no such
/// interface), `ENETUNREACH` (a gateway not on any connected subnet), `EPERM` (not root).
pub fn perform(op: &NetOp) -> Result<(), Errno> {
    let msg = match op {
        NetOp::AddVeth { name, peer } => {
            let mut peer_msg = LinkMessage::default();
            peer_msg
                .attributes
                .push(LinkAttribute::IfName(peer.clone()));
            let mut m = LinkMessage::default();
            m.attributes.push(LinkAttribute::IfName(name.clone()));
            m.attributes.push(LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
            ]));
            return request(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL);
        }
        NetOp::MoveToNetns { ifname, netns } => {
            let fd = open(
                netns.as_path(),
                OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            let mut m = LinkMessage::default();
            m.attributes.push(LinkAttribute::IfName(ifname.clone()));
            m.attributes.push(LinkAttribute::NetNsFd(fd.as_raw_fd()));
            let r = request(RouteNetlinkMessage::SetLink(m), 0);
            drop(fd);
            return r;
        }
        NetOp::AddAddress { ifname, cidr } => {
            let mut m = AddressMessage::default();
            m.header.family = AddressFamily::Inet;
            m.header.prefix_len = cidr.prefix;
            m.header.index = ifindex(ifname)?;
            m.attributes.push(AddressAttribute::Local(cidr.addr.into()));
            m.attributes
                .push(AddressAttribute::Address(cidr.addr.into()));
            if cidr.prefix < 31 {
                let host_bits = u32::MAX >> cidr.prefix;
                let bcast = Ipv4Addr::from(u32::from(cidr.addr) | host_bits);
                m.attributes.push(AddressAttribute::Broadcast(bcast));
            }
            RouteNetlinkMessage::NewAddress(m)
        }
        NetOp::SetUp { ifname } => {
            let mut m = LinkMessage::default();
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
            m.attributes.push(LinkAttribute::IfName(ifname.clone()));
            RouteNetlinkMessage::SetLink(m)
        }
        NetOp::AddRoute { to, via, dev } => {
            let mut m = RouteMessage::default();
            m.header = RouteHeader {
                address_family: AddressFamily::Inet,
                destination_prefix_length: to.map_or(0, |c| c.prefix),
                table: RouteHeader::RT_TABLE_MAIN,
                protocol: RouteProtocol::Boot,
                scope: if via.is_some() {
                    RouteScope::Universe
                } else {
                    RouteScope::Link
                },
                kind: RouteType::Unicast,
                ..RouteHeader::default()
            };
            if let Some(c) = to {
                m.attributes
                    .push(RouteAttribute::Destination(RouteAddress::Inet(c.network())));
            }
            if let Some(v) = via {
                m.attributes
                    .push(RouteAttribute::Gateway(RouteAddress::Inet(*v)));
            }
            if let Some(d) = dev {
                m.attributes.push(RouteAttribute::Oif(ifindex(d)?));
            }
            RouteNetlinkMessage::NewRoute(m)
        }
        NetOp::DelLink { ifname } => {
            let mut m = LinkMessage::default();
            m.attributes.push(LinkAttribute::IfName(ifname.clone()));
            return request(RouteNetlinkMessage::DelLink(m), 0);
        }
        NetOp::IpForward => {
            return std::fs::write("/proc/sys/net/ipv4/ip_forward", "1\n")
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)));
        }
    };
    request(msg, NLM_F_CREATE | NLM_F_EXCL)
}

/// The index of interface `name` in this namespace: RTM_GETLINK by `IFLA_IFNAME`.
fn ifindex(name: &str) -> Result<u32, Errno> {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    let mut index = None;
    exchange(RouteNetlinkMessage::GetLink(m), 0, &mut |reply| {
        if let RouteNetlinkMessage::NewLink(l) = reply {
            index = Some(l.header.index);
        }
    })?;
    index.ok_or(Errno::ENODEV)
}

/// Send one request that wants only an acknowledgement.
fn request(msg: RouteNetlinkMessage, flags: u16) -> Result<(), Errno> {
    exchange(msg, flags | NLM_F_ACK, &mut |_| {})
}

/// Send `msg` on a new NETLINK_ROUTE socket and read the answers until the ack (or a
/// single reply, for a GET), handing each inner message to `seen`.
fn exchange(
    msg: RouteNetlinkMessage,
    flags: u16,
    seen: &mut dyn FnMut(RouteNetlinkMessage),
) -> Result<(), Errno> {
    let io = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    let mut socket = Socket::new(NETLINK_ROUTE).map_err(io)?;
    socket.bind_auto().map_err(io)?;
    socket.connect(&SocketAddr::new(0, 0)).map_err(io)?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | flags;
    header.sequence_number = 1;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
    packet.finalize();
    let mut buf = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut buf[..]);
    socket.send(&buf, 0).map_err(io)?;
    let wants_ack = flags & NLM_F_ACK != 0;
    loop {
        let (data, _) = socket.recv_from_full().map_err(io)?;
        let mut at = 0;
        while at < data.len() {
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[at..])
                .map_err(|_| Errno::EBADMSG)?;
            let len = reply.header.length as usize;
            match reply.payload {
                NetlinkPayload::Error(e) => {
                    return match e.code {
                        None => Ok(()),
                        Some(code) => Err(Errno::from_raw(-code.get())),
                    };
                }
                NetlinkPayload::Done(_) => return Ok(()),
                NetlinkPayload::InnerMessage(m) => {
                    seen(m);
                    if !wants_ack {
                        return Ok(());
                    }
                }
                _ => {}
            }
            if len == 0 {
                break;
            }
            at += len;
        }
    }
}

/// The inode of a `/proc/.../ns/net` file: which network namespace it is.
fn netns_inode(path: &Path) -> Option<u64> {
    std::fs::metadata(path)
        .ok()
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
}

/// What [`run_in`] did.
#[derive(Debug, Clone, Default)]
pub struct NetRun {
    /// The syscall trace, one rendered line each, prefixed by the child's role.
    pub trace: Vec<String>,
    /// The first operation that failed (by index in the ops given) and its errno; the
    /// operations after it were not tried.
    pub failure: Option<(usize, Errno)>,
}

/// Perform `ops`, in order, inside the network namespace of `target` (a host PID of a
/// process the lab started): fork; the single-threaded child sets PR_SET_PDEATHSIG,
/// opens `/proc/TARGET/ns/net`, joins it with setns(2), makes sure it is no longer in the
/// lab's own network namespace, then makes each call; the parent reads the trace and
/// reaps it. The lab process itself never changes namespace.
///
/// # Errors
/// The lab is multi-threaded, `target` is gone or shares the lab's network namespace
/// (the host's: refused before any fork), or a pipe or fork failed. A failed operation is
/// not an error here: it is in [`NetRun::failure`].
pub fn run_in(target: Pid, ops: &[NetOp]) -> Result<NetRun, RuntimeError> {
    let theirs = PathBuf::from(format!("/proc/{target}/ns/net"));
    let their_ino = netns_inode(&theirs).ok_or(RuntimeError::NoSuchContainer {
        pid: target.as_raw(),
    })?;
    let our_ino = netns_inode(Path::new("/proc/self/ns/net")).unwrap_or(0);
    if their_ino == our_ino {
        return Err(RuntimeError::HostNetns {
            what: format!("change the network namespace of PID {target}"),
        });
    }
    // A veth end is never moved into the lab's own namespace either (a peer container
    // without a network namespace of its own would be the host's).
    for op in ops {
        if let NetOp::MoveToNetns { ifname, netns } = op
            && netns_inode(netns).is_none_or(|i| i == our_ino)
        {
            return Err(RuntimeError::HostNetns {
                what: format!("move `{ifname}` into {}", netns.display()),
            });
        }
    }
    super::spawn::ensure_single_threaded()?;
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys("pipe2", e))?;
    // SAFETY: the process is single-threaded (checked above), so the child may allocate
    // and take locks; it makes its calls, then leaves with _exit.
    #[allow(unsafe_code)]
    let forked = unsafe { nix::unistd::fork() }.map_err(|e| RuntimeError::sys("fork", e))?;
    match forked {
        ForkResult::Child => {
            drop(r);
            let code = child(target, &theirs, our_ino, ops, w.as_raw_fd());
            // SAFETY: _exit skips atexit handlers and stdio flushing that belong to the parent.
            #[allow(unsafe_code)]
            unsafe {
                libc::_exit(code)
            }
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut text = String::new();
            let mut f = std::fs::File::from(r);
            let _ = f.read_to_string(&mut text);
            let _ = super::spawn::wait_exit(child);
            Ok(parse(&text))
        }
    }
}

/// The child's work; returns its exit status.
fn child(target: Pid, theirs: &Path, lab_ino: u64, ops: &[NetOp], trace: RawFd) -> i32 {
    let sys = LinuxSyscalls::new(Some(trace), "child");
    let fail = |what: &str, e: Errno| {
        send(trace, &format!("F {what} {}\n", e as i32));
        1
    };
    if let Err(e) = sys.set_pdeathsig(Signal::SIGKILL) {
        return fail("prctl", e);
    }
    let fd = match open(theirs, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => return fail("open", e),
    };
    // As a user, the namespace is owned by the lab's user namespace: join that first, or
    // setns(CLONE_NEWNET) is refused (EPERM), setns(2).
    if let Some(user) = super::userns::foreign_user_namespace(target.as_raw()) {
        let path = PathBuf::from(format!("/proc/{target}/ns/user"));
        if let Err(e) = sys.setns(user.as_fd(), CloneFlags::CLONE_NEWUSER, &path) {
            return fail("setns", e);
        }
    }
    if let Err(e) = sys.setns(fd.as_fd(), CloneFlags::CLONE_NEWNET, theirs) {
        return fail("setns", e);
    }
    drop(fd);
    // Belt and braces: after the setns, this process must be in a namespace other than
    // the lab's (the host's) before it sends one message.
    if netns_inode(Path::new("/proc/self/ns/net")).is_none_or(|i| i == lab_ino) {
        return fail("setns", Errno::EPERM);
    }
    run_ops(&sys, ops, &mut |i, e| {
        send(trace, &format!("F {i} {}\n", e as i32));
    })
}

/// Make each call through `sys`, stopping at the first failure (reported to `failed`
/// with its index). Returns 0 when all held, 1 otherwise.
pub fn run_ops(sys: &dyn Syscalls, ops: &[NetOp], failed: &mut dyn FnMut(usize, Errno)) -> i32 {
    for (i, op) in ops.iter().enumerate() {
        if let Err(e) = sys.sys(Sys::Net(op)) {
            failed(i, e);
            return 1;
        }
    }
    0
}

fn send(fd: RawFd, msg: &str) {
    // SAFETY: `fd` is the trace pipe's write end, open in this process until _exit; the
    // OwnedFd is forgotten so it is not closed twice.
    #[allow(unsafe_code)]
    let f = unsafe { OwnedFd::from_raw_fd(fd) };
    let _ = nix::unistd::write(&f, msg.as_bytes());
    std::mem::forget(f);
}

/// Trace lines `T role<TAB>call`, failures `F INDEX errno` (or `F call errno` before the
/// first operation, reported as index `usize::MAX`).
fn parse(text: &str) -> NetRun {
    let mut run = NetRun::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("T ") {
            let (role, call) = rest.split_once('\t').unwrap_or(("", rest));
            run.trace.push(format!("{role:>7}  {call}"));
        } else if let Some(rest) = line.strip_prefix("F ") {
            let mut it = rest.split_whitespace();
            let idx = it.next().and_then(|s| s.parse().ok()).unwrap_or(usize::MAX);
            let errno = it
                .next()
                .and_then(|e| e.parse().ok())
                .map_or(Errno::UnknownErrno, Errno::from_raw);
            run.failure = Some((idx, errno));
        }
    }
    run
}

/// One sentence for a failed operation, in the kernel's terms, with the fix.
#[must_use]
pub fn explain_failure(op: &NetOp, errno: Errno) -> String {
    let cmd = op.ip_command();
    let why = match (op, errno) {
        (NetOp::AddVeth { .. }, Errno::EEXIST) => {
            "an interface of that name exists in this namespace already; pick another name".to_string()
        }
        (NetOp::MoveToNetns { .. }, Errno::EEXIST) => {
            "the target namespace has an interface of that name already; name this end differently".to_string()
        }
        (NetOp::AddAddress { .. }, Errno::EEXIST) => {
            "the interface has that address already".to_string()
        }
        (NetOp::AddRoute { .. }, Errno::EEXIST) => "that route exists already".to_string(),
        (NetOp::AddRoute { .. }, Errno::ENETUNREACH) => {
            "the gateway is on no subnet this namespace reaches: give an interface an address in the gateway's subnet and bring it up first".to_string()
        }
        (_, Errno::ENODEV) => "no interface of that name in this namespace".to_string(),
        (_, Errno::EPERM) => "it needs CAP_NET_ADMIN: run fromscratch as root (sudo)".to_string(),
        _ => format!("{} ({})", super::syscalls::errno_name(errno), errno.desc()),
    };
    format!(
        "`{cmd}` failed with {}: {why}",
        super::syscalls::errno_name(errno)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::RecordingSyscalls;

    #[test]
    fn cidr_parses_prints_and_knows_private_ranges() {
        let c: Cidr = "10.9.1.2/24".parse().unwrap();
        assert_eq!(c.to_string(), "10.9.1.2/24");
        assert_eq!(c.network(), Ipv4Addr::new(10, 9, 1, 0));
        assert!(c.is_private());
        assert!(address_problem(Ipv4Addr::new(192, 168, 3, 1)).is_none());
        assert!(address_problem(Ipv4Addr::new(172, 31, 0, 1)).is_none());
        let p = address_problem(Ipv4Addr::new(8, 8, 8, 8)).unwrap();
        assert!(
            p.starts_with("address 8.8.8.8 is not in a private range (10.0.0.0/8"),
            "{p}"
        );
        assert!(address_problem(Ipv4Addr::new(172, 32, 0, 1)).is_some());
        assert!(
            "10.9.1.2"
                .parse::<Cidr>()
                .unwrap_err()
                .contains("needs a prefix length")
        );
        assert!(
            "10.9.1.2/33"
                .parse::<Cidr>()
                .unwrap_err()
                .contains("0 to 32")
        );
        assert!("10.9.1/24".parse::<Cidr>().is_err());
    }

    #[test]
    fn interface_names_follow_ifnamsiz() {
        assert!(ifname_problem("veth-a_1").is_none());
        assert!(ifname_problem("a23456789012345").is_none());
        let p = ifname_problem("a234567890123456").unwrap();
        assert!(
            p.contains("is 16 characters; Linux allows at most 15"),
            "{p}"
        );
        assert!(ifname_problem("eth0:1").is_some());
        assert!(ifname_problem("").is_some());
    }

    #[test]
    fn operations_render_as_rtnetlink_and_as_ip_commands() {
        let ops = [
            NetOp::AddVeth {
                name: "veth-a".into(),
                peer: "eth0".into(),
            },
            NetOp::MoveToNetns {
                ifname: "eth0".into(),
                netns: "/proc/4711/ns/net".into(),
            },
            NetOp::AddAddress {
                ifname: "eth0".into(),
                cidr: "10.9.1.2/24".parse().unwrap(),
            },
            NetOp::SetUp {
                ifname: "eth0".into(),
            },
            NetOp::AddRoute {
                to: None,
                via: Some(Ipv4Addr::new(10, 9, 1, 1)),
                dev: None,
            },
            NetOp::AddRoute {
                to: Some("10.9.2.7/24".parse().unwrap()),
                via: None,
                dev: Some("eth0".into()),
            },
            NetOp::IpForward,
            NetOp::DelLink {
                ifname: "veth-a".into(),
            },
        ];
        let ip: Vec<String> = ops.iter().map(NetOp::ip_command).collect();
        assert_eq!(
            ip,
            [
                "ip link add veth-a type veth peer name eth0",
                "ip link set eth0 netns 4711",
                "ip addr add 10.9.1.2/24 dev eth0",
                "ip link set eth0 up",
                "ip route add default via 10.9.1.1",
                "ip route add 10.9.2.0/24 dev eth0",
                "sysctl -w net.ipv4.ip_forward=1",
                "ip link del veth-a",
            ]
        );
        let rec = RecordingSyscalls::new();
        rec.fail_on("RTM_NEWROUTE", Errno::ENETUNREACH);
        let mut failed = None;
        let code = run_ops(&rec, &ops, &mut |i, e| failed = Some((i, e)));
        assert_eq!(code, 1);
        assert_eq!(failed, Some((4, Errno::ENETUNREACH)));
        let lines = rec.lines();
        assert_eq!(lines.len(), 5, "stops at the first failure: {lines:?}");
        assert_eq!(
            lines[0],
            "sendmsg(NETLINK_ROUTE, RTM_NEWLINK{IFLA_IFNAME=\"veth-a\", IFLA_INFO_KIND=\"veth\", VETH_INFO_PEER{IFLA_IFNAME=\"eth0\"}}, NLM_F_CREATE|NLM_F_EXCL|NLM_F_ACK) = 0"
        );
        assert!(
            lines[1].contains(
                "RTM_SETLINK{IFLA_IFNAME=\"eth0\", IFLA_NET_NS_FD=/* /proc/4711/ns/net */}"
            )
        );
        assert!(lines[3].contains("ifi_flags=IFF_UP"));
        assert!(
            lines[4].ends_with("= -1 ENETUNREACH (Network is unreachable)"),
            "{}",
            lines[4]
        );
        assert_eq!(
            explain_failure(&ops[4], Errno::ENETUNREACH),
            "`ip route add default via 10.9.1.1` failed with ENETUNREACH: the gateway is on no subnet this namespace reaches: give an interface an address in the gateway's subnet and bring it up first"
        );
    }

    #[test]
    fn the_lab_own_namespace_is_refused_before_any_fork() {
        let me = nix::unistd::getpid();
        let e = run_in(
            me,
            &[NetOp::SetUp {
                ifname: "lo".into(),
            }],
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with(&format!(
                "refusing to change the network namespace of PID {me}: that network namespace is the host's own"
            )),
            "{e}"
        );
    }
}
