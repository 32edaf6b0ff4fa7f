//! Taking power away from a container's process, last thing before exec: no_new_privs,
//! capabilities, a seccomp filter.
//!
//! Root is not one power but about forty: capabilities(7) splits it into bits
//! (`CAP_SYS_ADMIN` for sethostname and mount, `CAP_NET_BIND_SERVICE` for ports below
//! 1024…), held in five sets per thread: effective (checked now), permitted (what may be
//! made effective), inheritable, ambient, and bounding (the ceiling an execve(2) can
//! give back). A seccomp filter (seccomp(2)) is a BPF program the kernel runs on every
//! system call, before any permission check, that may refuse it with an errno.
//!
//! The order is runc's and youki's, and each position has a reason:
//!
//! 1. `prctl(PR_SET_NO_NEW_PRIVS, 1)` (prctl(2)): from here on no execve(2) may grant
//!    privileges (setuid bits and file capabilities are ignored); inherited by every
//!    child and kept across execve, never cleared.
//! 2. `prctl(PR_CAPBSET_DROP, CAP)` for each dropped capability: out of the bounding set
//!    first, because that needs `CAP_SETPCAP`, which the next call may remove. Without
//!    this, root gets the capability back at its next execve: for a root process the
//!    kernel computes the new permitted set from the bounding set (capabilities(7),
//!    "Capabilities and execution of programs by root").
//! 3. `capset(2)`: one call writes effective, permitted and inheritable, each without
//!    the dropped capabilities (dropping from effective alone is no drop: permitted
//!    lets the process raise it again).
//! 4. `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP)`: out of the ambient set too
//!    (the kernel has already lowered it with permitted and inheritable; this says so).
//! 5. `seccomp(SECCOMP_SET_MODE_FILTER)`: last, so the filter never refuses the
//!    runtime's own setup calls. The kernel allows it only to a thread that has
//!    no_new_privs set or `CAP_SYS_ADMIN` in its user namespace (seccomp(2)): with step
//!    1 it always works; without it, it works only while `CAP_SYS_ADMIN` is still held,
//!    and a container that dropped it in step 2-3 gets EACCES (the lesson's pitfall;
//!    runc, when no_new_privs is off, installs the filter before dropping capabilities
//!    for this reason).
//!
//! The filter is compiled by the `seccompiler` crate (rust-vmm) from syscall names, for
//! this machine's architecture (`x86_64` here): the program first checks the
//! architecture in `seccomp_data` and kills the process for any other ABI (an i386
//! `int 0x80` call uses other numbers: sethostname is 170 on x86_64 and 74 on i386), then
//! refuses x32 calls (same architecture, numbers with bit 30 set) with EPERM, then
//! returns EPERM for each denied call and allows every other one. It is compiled in the
//! lab process, long before fork, when the lesson's spec is made; the child only hands
//! the finished program to the kernel.
//!
//! Capability names come from the `caps` crate (its parser and its bit numbers); the
//! calls themselves are made by [`LinuxSyscalls`](super::syscalls::LinuxSyscalls)
//! through the functions at the foot of this file, so each one is traced with its errno
//! as every other call between fork and exec is.

use std::collections::BTreeSet;
use std::str::FromStr;

use caps::Capability;
use nix::errno::Errno;
use seccompiler::sock_filter;

use super::spawn::SetupResult;
use super::syscalls::{Sys, Syscalls};

/// The effective, permitted and inheritable sets of one thread, as capget(2) and
/// capset(2) take them: bit N for capability N (`CAP_SYS_ADMIN` is 21, mask `0x200000`),
/// the same bits `/proc/PID/status` shows in `CapEff`, `CapPrm` and `CapInh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapSets {
    /// Checked by the kernel for each privileged operation.
    pub effective: u64,
    /// The most the process may make effective (or inheritable) again.
    pub permitted: u64,
    /// Kept across execve(2) into programs whose file inheritable set allows them.
    pub inheritable: u64,
}

impl CapSets {
    /// These sets with the bits of `mask` cleared in all three.
    #[must_use]
    pub fn without(self, mask: u64) -> Self {
        Self {
            effective: self.effective & !mask,
            permitted: self.permitted & !mask,
            inheritable: self.inheritable & !mask,
        }
    }
}

/// A compiled seccomp filter that refuses some system calls with EPERM and allows all
/// others, for one architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompDeny {
    /// The denied calls, by name, as syscalls(2) lists them: `sethostname`.
    pub names: Vec<String>,
    /// The architecture the numbers are for: `x86_64` here (`std::env::consts::ARCH`).
    pub arch: &'static str,
    /// The BPF program, ready for seccomp(2).
    pub program: Vec<sock_filter>,
    /// What the program does, in words, for the trace.
    pub summary: String,
}

/// What is taken away from a container's process before exec. The default takes
/// nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Security {
    /// Set no_new_privs (prctl(2) `PR_SET_NO_NEW_PRIVS`).
    pub no_new_privs: bool,
    /// Capabilities to drop from every set, bounding included.
    pub cap_drop: Vec<Capability>,
    /// A seccomp filter to install last.
    pub seccomp: Option<SeccompDeny>,
}

/// Why a capability or system call name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityError {
    /// Not a name the `caps` crate knows.
    #[error(
        "`{name}` is not a capability: write it as capabilities(7) names it, in capitals with its prefix, like `CAP_SYS_ADMIN`"
    )]
    UnknownCapability {
        /// The name as written.
        name: String,
    },
    /// Not a system call of this architecture.
    #[error(
        "`{name}` is not a system call on {arch}: write the name syscalls(2) lists, like `sethostname` or `mkdirat`"
    )]
    UnknownSyscall {
        /// The name as written.
        name: String,
        /// This machine's architecture.
        arch: &'static str,
    },
    /// A call the runtime itself needs after the filter is installed.
    #[error(
        "denying `{name}` would stop the container's own command from starting: the filter is installed just before execve"
    )]
    NeededByRuntime {
        /// The name as written.
        name: String,
    },
    /// seccompiler has no table for this architecture, or refused the program.
    #[error("the seccomp filter cannot be built on {arch}: {reason}")]
    Unsupported {
        /// This machine's architecture.
        arch: &'static str,
        /// seccompiler's reason.
        reason: String,
    },
}

/// Parse a capability name as capabilities(7) writes it (`CAP_SYS_ADMIN`), with the
/// `caps` crate's parser.
///
/// # Errors
/// [`SecurityError::UnknownCapability`].
pub fn parse_capability(name: &str) -> Result<Capability, SecurityError> {
    Capability::from_str(name).map_err(|_| SecurityError::UnknownCapability {
        name: name.to_string(),
    })
}

/// The calls the runtime makes after the filter is installed: denying them would stop
/// the container before its command runs.
const NEEDED_AFTER_FILTER: [&str; 2] = ["execve", "execveat"];

/// The errno a denied call returns: EPERM, as Docker's default profile returns.
pub const DENIED_ERRNO: u32 = libc::EPERM as u32;

/// Compile a filter that refuses each call in `names` with EPERM and allows every other
/// call, for this machine's architecture. Names are checked against seccompiler's table
/// for the architecture; an empty list gives `Ok(None)`.
///
/// # Errors
/// [`SecurityError::UnknownSyscall`] naming the first unknown name,
/// [`SecurityError::NeededByRuntime`] for `execve`, [`SecurityError::Unsupported`] on an
/// architecture seccompiler has no table for.
pub fn compile_deny(names: &[String]) -> Result<Option<SeccompDeny>, SecurityError> {
    if names.is_empty() {
        return Ok(None);
    }
    let arch = std::env::consts::ARCH;
    if let Some(n) = names
        .iter()
        .find(|n| NEEDED_AFTER_FILTER.contains(&n.as_str()))
    {
        return Err(SecurityError::NeededByRuntime { name: n.clone() });
    }
    let unique: Vec<String> = names
        .iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .cloned()
        .collect();
    let program = match compile(&unique, arch) {
        Ok(p) => p,
        Err(reason) => {
            // Find the culprit: the table lookup is the only per-name failure.
            for n in &unique {
                if compile(std::slice::from_ref(n), arch).is_err() {
                    return Err(SecurityError::UnknownSyscall {
                        name: n.clone(),
                        arch,
                    });
                }
            }
            return Err(SecurityError::Unsupported { arch, reason });
        }
    };
    let program = with_x32_guard(program, arch);
    let summary = format!(
        "{arch}: {} -> EPERM, every other call allowed",
        names.join(", ")
    );
    Ok(Some(SeccompDeny {
        names: names.to_vec(),
        arch,
        program,
        summary,
    }))
}

/// seccompiler's JSON front end resolves names for `arch`: mismatch (any other call)
/// allows, a match returns EPERM.
fn compile(names: &[String], arch: &str) -> Result<Vec<sock_filter>, String> {
    let target = seccompiler::TargetArch::try_from(arch).map_err(|e| e.to_string())?;
    let filter: Vec<serde_json::Value> = names
        .iter()
        .map(|n| serde_json::json!({ "syscall": n }))
        .collect();
    let doc = serde_json::json!({
        "deny": {
            "mismatch_action": "allow",
            "match_action": { "errno": DENIED_ERRNO },
            "filter": filter,
        }
    });
    let mut map = seccompiler::compile_from_json(doc.to_string().as_bytes(), target)
        .map_err(|e| e.to_string())?;
    map.remove("deny")
        .ok_or_else(|| "seccompiler returned no program".to_string())
}

// BPF opcodes (linux/bpf_common.h) for the x32 guard: class | op | source.
/// `BPF_LD | BPF_W | BPF_ABS` (0x00 | 0x00 | 0x20): load a word of seccomp_data.
const BPF_LD_W_ABS: u16 = 0x20;
/// `BPF_JMP | BPF_JGE | BPF_K` (0x05 | 0x30 | 0x00): jump if A >= k.
const BPF_JMP_JGE_K: u16 = 0x35;
/// `BPF_RET | BPF_K` (0x06 | 0x00): return k.
const BPF_RET_K: u16 = 0x06;
/// `__X32_SYSCALL_BIT`: x32 calls arrive with AUDIT_ARCH_X86_64 and this bit set in the
/// number, so a deny list keyed on x86_64 numbers would miss them.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// On x86_64, refuse every x32-ABI call with EPERM right after seccompiler's
/// architecture check and its load of the call number (instructions 0-3), so that
/// `sethostname` cannot slip through under its x32 number. Jumps in BPF are relative
/// and forward, so inserting two instructions after the load moves no target.
fn with_x32_guard(mut program: Vec<sock_filter>, arch: &str) -> Vec<sock_filter> {
    let loads_nr = program
        .get(3)
        .is_some_and(|i| i.code == BPF_LD_W_ABS && i.k == 0);
    if arch != "x86_64" || !loads_nr {
        return program;
    }
    let guard = [
        sock_filter {
            code: BPF_JMP_JGE_K,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | DENIED_ERRNO,
        },
    ];
    program.splice(4..4, guard);
    program
}

impl Security {
    /// Build from a lesson's fields: capability names as capabilities(7) writes them,
    /// system call names as syscalls(2) lists them. The filter is compiled here, in the
    /// lab process, before any fork.
    ///
    /// # Errors
    /// The first name that is not a capability or not a system call here.
    pub fn new(
        no_new_privs: bool,
        cap_drop: &[String],
        seccomp_deny: &[String],
    ) -> Result<Self, SecurityError> {
        let cap_drop = cap_drop
            .iter()
            .map(|c| parse_capability(c))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            no_new_privs,
            cap_drop,
            seccomp: compile_deny(seccomp_deny)?,
        })
    }

    /// True when nothing is taken away (no call is made).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        !self.no_new_privs && self.cap_drop.is_empty() && self.seccomp.is_none()
    }

    /// The bits of the dropped capabilities.
    #[must_use]
    pub fn drop_mask(&self) -> u64 {
        self.cap_drop.iter().fold(0, |m, c| m | c.bitmask())
    }
}

/// Take away what `sec` says, in the order runc uses (see the module header):
/// no_new_privs, bounding set, capset, ambient set, seccomp. `current` reads the
/// thread's capability sets (capget(2)); it is called only when capabilities are
/// dropped, after the bounding set is done.
///
/// Runs in the forked child just before exec. It allocates nothing: the filter was
/// compiled before fork, and the sets are three integers.
///
/// # Errors
/// The failing call's name and errno (`seccomp` and `EACCES` when the filter comes
/// after `CAP_SYS_ADMIN` was dropped without no_new_privs).
pub fn apply(
    sys: &dyn Syscalls,
    sec: &Security,
    current: impl FnOnce() -> Result<CapSets, Errno>,
) -> SetupResult {
    if sec.no_new_privs {
        sys.sys(Sys::SetNoNewPrivs).map_err(|e| ("prctl", e))?;
    }
    if !sec.cap_drop.is_empty() {
        for cap in &sec.cap_drop {
            sys.sys(Sys::CapbsetDrop(*cap)).map_err(|e| ("prctl", e))?;
        }
        let now = current().map_err(|e| ("capget", e))?;
        sys.sys(Sys::Capset(now.without(sec.drop_mask())))
            .map_err(|e| ("capset", e))?;
        for cap in &sec.cap_drop {
            sys.sys(Sys::AmbientLower(*cap)).map_err(|e| ("prctl", e))?;
        }
    }
    if let Some(f) = &sec.seccomp {
        sys.sys(Sys::SeccompFilter {
            program: &f.program,
            summary: &f.summary,
        })
        .map_err(|e| ("seccomp", e))?;
    }
    Ok(())
}

// The kernel's interfaces, for LinuxSyscalls. nix has no wrapper for these, and the
// `caps` crate's own calls report failures as strings (no errno to trace) and write one
// set per capset(2), so the runtime makes them itself.

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets, as two 32-bit halves (capget(2)).
const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn errno_of(rc: libc::c_long) -> Result<(), Errno> {
    if rc == -1 { Err(Errno::last()) } else { Ok(()) }
}

/// capget(2) for the calling thread.
///
/// # Errors
/// The kernel's errno.
pub fn capget() -> Result<CapSets, Errno> {
    let mut hdr = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: hdr and data are valid, writable and laid out as the kernel's
    // __user_cap_header_struct and two __user_cap_data_struct (version 3).
    #[allow(unsafe_code)]
    let rc = unsafe { libc::syscall(libc::SYS_capget, &raw mut hdr, data.as_mut_ptr()) };
    errno_of(rc)?;
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok(CapSets {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// Split a 64-bit set into the two 32-bit halves version 3 uses; truncation is the point.
#[allow(clippy::cast_possible_truncation)]
fn halves(v: u64) -> (u32, u32) {
    (v as u32, (v >> 32) as u32)
}

/// capset(2) for the calling thread: all three sets in one call.
pub(crate) fn sys_capset(sets: CapSets) -> Result<(), Errno> {
    let mut hdr = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let (e0, e1) = halves(sets.effective);
    let (p0, p1) = halves(sets.permitted);
    let (i0, i1) = halves(sets.inheritable);
    let data = [
        CapData {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        CapData {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: as in capget; the kernel only reads `data`.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::syscall(libc::SYS_capset, &raw mut hdr, data.as_ptr()) };
    errno_of(rc)
}

fn prctl(option: libc::c_int, a: libc::c_ulong, b: libc::c_ulong) -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments only; unused ones are 0 as prctl(2) requires.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::prctl(option, a, b, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    errno_of(libc::c_long::from(rc))
}

/// prctl(PR_CAPBSET_DROP, cap): needs CAP_SETPCAP.
pub(crate) fn sys_capbset_drop(cap: Capability) -> Result<(), Errno> {
    prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap.index()), 0)
}

/// prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap).
pub(crate) fn sys_ambient_lower(cap: Capability) -> Result<(), Errno> {
    #[allow(clippy::cast_sign_loss)]
    let lower = libc::PR_CAP_AMBIENT_LOWER as libc::c_ulong;
    prctl(
        libc::PR_CAP_AMBIENT,
        lower,
        libc::c_ulong::from(cap.index()),
    )
}

/// seccomp(SECCOMP_SET_MODE_FILTER, 0, prog) for the calling thread.
pub(crate) fn sys_seccomp_filter(program: &[sock_filter]) -> Result<(), Errno> {
    #[repr(C)]
    struct SockFprog {
        len: libc::c_ushort,
        filter: *const sock_filter,
    }
    let len = libc::c_ushort::try_from(program.len()).map_err(|_| Errno::EINVAL)?;
    let prog = SockFprog {
        len,
        filter: program.as_ptr(),
    };
    // SAFETY: `prog` points at `program`, alive for the call; the kernel copies the
    // program in and keeps no pointer to it. sock_filter is #[repr(C)] as in
    // linux/filter.h.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0 as libc::c_ulong,
            &raw const prog,
        )
    };
    errno_of(rc)
}

/// The setpriv(1) words that do by hand what `no_new_privs` and `cap_drop` do, placed
/// before the command: `setpriv --no-new-privs --bounding-set -sys_admin`. For a root
/// process, the bounding set is enough: at execve the kernel gives root the bounding
/// set as its new permitted and effective sets (its inheritable set is empty).
/// `None` when neither is asked for.
#[must_use]
pub fn setpriv_prefix(no_new_privs: bool, cap_drop: &[String]) -> Option<String> {
    if !no_new_privs && cap_drop.is_empty() {
        return None;
    }
    let mut words = vec!["setpriv".to_string()];
    if no_new_privs {
        words.push("--no-new-privs".into());
    }
    if !cap_drop.is_empty() {
        let list: Vec<String> = cap_drop
            .iter()
            .map(|c| format!("-{}", c.trim_start_matches("CAP_").to_lowercase()))
            .collect();
        words.push("--bounding-set".into());
        words.push(list.join(","));
    }
    Some(words.join(" "))
}

/// A note for the shown command when a filter is asked for: no standard command
/// installs one (`docker run --security-opt seccomp=PROFILE.json` does, from JSON).
#[must_use]
pub fn seccomp_note(seccomp_deny: &[String]) -> Option<String> {
    (!seccomp_deny.is_empty()).then(|| {
        format!(
            "with a seccomp filter refusing {} with EPERM (no standard command; Docker: --security-opt seccomp=PROFILE.json)",
            seccomp_deny.join(", ")
        )
    })
}

/// A capability set as `/proc/PID/status` shows it: 16 hex digits.
#[must_use]
pub fn hex(set: u64) -> String {
    format!("{set:016x}")
}

/// The names of the capabilities in `set`, as capabilities(7) writes them, lowest bit
/// first; bits the `caps` crate has no name for are shown as `bit N`.
#[must_use]
pub fn names(set: u64) -> Vec<String> {
    let mut all: Vec<Capability> = caps::all().into_iter().collect();
    all.sort_by_key(Capability::index);
    let mut out: Vec<String> = all
        .iter()
        .filter(|c| set & c.bitmask() != 0)
        .map(ToString::to_string)
        .collect();
    let known = all.iter().fold(0u64, |m, c| m | c.bitmask());
    for bit in 0..64 {
        if set & !known & (1u64 << bit) != 0 {
            out.push(format!("bit {bit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::syscalls::RecordingSyscalls;

    const FULL: CapSets = CapSets {
        effective: 0x1ff_ffff_ffff,
        permitted: 0x1ff_ffff_ffff,
        inheritable: 0,
    };

    fn all_three() -> Security {
        Security::new(
            true,
            &["CAP_SYS_ADMIN".to_string()],
            &["sethostname".to_string()],
        )
        .expect("valid names")
    }

    #[test]
    fn no_new_privs_then_capabilities_then_seccomp_last() {
        let rec = RecordingSyscalls::new();
        apply(&rec, &all_three(), || Ok(FULL)).unwrap();
        let lines = rec.lines();
        assert_eq!(
            lines[..4].to_vec(),
            vec![
                "prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0",
                "prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) = 0",
                "capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=0x000001ffffdfffff, permitted=0x000001ffffdfffff, inheritable=0x0000000000000000}) = 0",
                "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_SYS_ADMIN, 0, 0) = 0",
            ]
        );
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert!(
            lines[4].starts_with("seccomp(SECCOMP_SET_MODE_FILTER, 0, {len="),
            "{lines:?}"
        );
        assert!(
            lines[4].ends_with(
                "filter=/* x86_64: sethostname -> EPERM, every other call allowed */}) = 0"
            ) || std::env::consts::ARCH != "x86_64",
            "{lines:?}"
        );
    }

    #[test]
    fn nothing_asked_nothing_called() {
        let rec = RecordingSyscalls::new();
        apply(&rec, &Security::default(), || panic!("no capget")).unwrap();
        assert!(rec.lines().is_empty());
        assert!(Security::default().is_empty());
    }

    #[test]
    fn seccomp_after_dropping_cap_sys_admin_without_no_new_privs_fails_with_eacces() {
        // What the kernel does (seccomp(2)): neither no_new_privs nor CAP_SYS_ADMIN.
        let rec = RecordingSyscalls::new();
        rec.fail_on("seccomp(", Errno::EACCES);
        let sec = Security {
            no_new_privs: false,
            ..all_three()
        };
        let err = apply(&rec, &sec, || Ok(FULL)).unwrap_err();
        assert_eq!(err, ("seccomp", Errno::EACCES));
        assert_eq!(rec.names(), vec!["prctl", "capset", "prctl", "seccomp"]);
        assert!(rec.lines()[3].ends_with("= -1 EACCES (Permission denied)"));
    }

    #[test]
    fn a_failed_bounding_drop_stops_before_capset() {
        let rec = RecordingSyscalls::new();
        rec.fail_on("PR_CAPBSET_DROP", Errno::EPERM);
        let err = apply(&rec, &all_three(), || Ok(FULL)).unwrap_err();
        assert_eq!(err, ("prctl", Errno::EPERM));
        assert_eq!(rec.names(), vec!["prctl", "prctl"]);
    }

    #[test]
    fn names_are_checked_with_one_sentence() {
        assert_eq!(
            parse_capability("CAP_SYS_ADMIN").unwrap(),
            Capability::CAP_SYS_ADMIN
        );
        let e = parse_capability("sys_admin").unwrap_err().to_string();
        assert_eq!(
            e,
            "`sys_admin` is not a capability: write it as capabilities(7) names it, in capitals with its prefix, like `CAP_SYS_ADMIN`"
        );
        if std::env::consts::ARCH == "x86_64" {
            let e = compile_deny(&["sethostname".into(), "sethostnam".into()])
                .unwrap_err()
                .to_string();
            assert_eq!(
                e,
                "`sethostnam` is not a system call on x86_64: write the name syscalls(2) lists, like `sethostname` or `mkdirat`"
            );
        }
        let e = compile_deny(&["execve".into()]).unwrap_err();
        assert!(matches!(e, SecurityError::NeededByRuntime { .. }), "{e}");
        assert_eq!(compile_deny(&[]).unwrap(), None);
    }

    #[test]
    fn the_x86_64_program_checks_the_arch_then_x32_then_denies_with_eperm() {
        if std::env::consts::ARCH != "x86_64" {
            return;
        }
        let f = compile_deny(&["sethostname".into()]).unwrap().unwrap();
        let p = &f.program;
        // AUDIT_ARCH_X86_64 = EM_X86_64 (62) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
        assert_eq!(p[1].k, 0xc000_003e, "{p:?}");
        assert_eq!(p[2].k, libc::SECCOMP_RET_KILL_PROCESS, "{p:?}");
        assert_eq!((p[3].code, p[3].k), (BPF_LD_W_ABS, 0), "{p:?}");
        assert_eq!((p[4].code, p[4].k), (BPF_JMP_JGE_K, X32_SYSCALL_BIT));
        assert_eq!(p[5].k, libc::SECCOMP_RET_ERRNO | 1);
        // sethostname is 170 on x86_64; it is compared, and a match returns EPERM.
        assert!(p.iter().any(|i| i.k == 170), "{p:?}");
        assert_eq!(
            p.iter()
                .filter(|i| i.code == BPF_RET_K && i.k == libc::SECCOMP_RET_ERRNO | 1)
                .count(),
            2,
            "{p:?}"
        );
        assert_eq!(
            p.last().map(|i| (i.code, i.k)),
            Some((BPF_RET_K, libc::SECCOMP_RET_ALLOW))
        );
    }

    #[test]
    fn sets_without_a_capability_and_their_names() {
        let s = FULL.without(Capability::CAP_SYS_ADMIN.bitmask());
        assert_eq!(hex(s.effective), "000001ffffdfffff");
        assert_eq!(s.inheritable, 0);
        assert_eq!(names(0x20_0001), vec!["CAP_CHOWN", "CAP_SYS_ADMIN"]);
        assert_eq!(names(1 << 63), vec!["bit 63"]);
    }

    #[test]
    fn capget_reads_this_thread() {
        // Anyone may read their own sets; the harness's sets are whatever they are, but
        // effective is always within permitted (capabilities(7)).
        let s = capget().expect("capget");
        assert_eq!(s.effective & !s.permitted, 0, "{s:?}");
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let eff = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .unwrap()
            .trim();
        assert_eq!(hex(s.effective), eff);
    }
}
