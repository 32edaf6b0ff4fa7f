//! The `check` rules for what a container is given from outside its root: `volumes`
//! (only lab directories, mounted inside the root) and `share` (namespaces joined from a
//! running container), and for a process condition's `shares_namespaces_with` and
//! `listens_tcp`. Each problem is one sentence naming cause and fix.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

use super::format::{ContainerDef, ProcessMatch};
use crate::runtime::share::SHAREABLE;
use crate::runtime::volumes::target_problem;

/// Why a volume source is refused, if it is: only `lab:DIR`, a plain relative path in the
/// lab's scratch space.
#[must_use]
pub fn source_problem(source: &str) -> Option<String> {
    let refused = || {
        Some(format!(
            "volume source `{source}` is not a directory of the lab's: write `lab:DIR` (made by an earlier step); a lesson never mounts `/`, a host system directory or any host path"
        ))
    };
    let Some(d) = source.strip_prefix("lab:") else {
        return refused();
    };
    let p = Path::new(d);
    if d.is_empty()
        || p.is_absolute()
        || p.components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return refused();
    }
    None
}

/// The rules for `c.volumes` (of a `[containers.NAME]` or an `exec`).
pub fn check_volumes(c: &ContainerDef, at: &str, out: &mut Vec<String>) {
    if c.volumes.is_empty() {
        return;
    }
    if c.root == "host" {
        out.push(format!("{at}: volumes need a root of the container's own (rootfs or lab:DIR): with root = \"host\" the target would be a host directory"));
    }
    for v in &c.volumes {
        if let Some(p) = source_problem(&v.source) {
            out.push(format!("{at}: {p}"));
        }
        if let Some(p) = target_problem(&v.target) {
            out.push(format!("{at}: volume target `{}` {p}", v.target));
        }
    }
}

/// Whether `c` asks for a new namespace of this name.
fn asks_new(c: &ContainerDef, n: &str) -> bool {
    match n {
        "uts" => c.uts,
        "ipc" => c.ipc,
        "net" => c.net,
        _ => false,
    }
}

/// The rules for `c.share` that need no step order: known, shareable names; not both
/// shared and new; a holder defined in `[containers]`, not `c` itself (`name`), with each
/// shared namespace of its own.
pub fn check_share(
    name: Option<&str>,
    c: &ContainerDef,
    containers: &BTreeMap<String, ContainerDef>,
    at: &str,
    out: &mut Vec<String>,
) {
    let Some(sh) = &c.share else { return };
    if sh.namespaces.is_empty() {
        out.push(format!(
            "{at}: share names no namespace: list some of {}",
            SHAREABLE.join(", ")
        ));
    }
    let holder = containers.get(&sh.container);
    if name == Some(sh.container.as_str()) {
        out.push(format!(
            "{at}: container `{}` cannot share namespaces with itself: name the pause container",
            sh.container
        ));
    } else if holder.is_none() {
        out.push(format!(
            "{at}: share names container `{}`, which [containers] does not define",
            sh.container
        ));
    }
    for n in &sh.namespaces {
        if !SHAREABLE.contains(&n.as_str()) {
            out.push(format!(
                "{at}: share: `{n}` cannot be shared here; a pod member shares {} and keeps its own PID and mount namespaces",
                SHAREABLE.join(", ")
            ));
            continue;
        }
        if asks_new(c, n) {
            out.push(format!(
                "{at}: `{n}` is both shared with `{}` and asked new ({n} = true): keep one",
                sh.container
            ));
        }
        if let Some(h) = holder
            && !asks_new(h, n)
        {
            out.push(format!(
                "{at}: share: `{}` has no {n} namespace of its own ({n} = true there): joining it would join the host's",
                sh.container
            ));
        }
    }
}

/// The holder of `c.share` must be running when `c` starts.
pub fn check_share_started(
    c: &ContainerDef,
    started: &BTreeSet<String>,
    at: &str,
    out: &mut Vec<String>,
) {
    if let Some(sh) = &c.share
        && !started.contains(&sh.container)
    {
        out.push(format!(
            "{at}: share needs container `{}` started by an earlier step and not stopped since",
            sh.container
        ));
    }
}

/// The rules for a process condition's `shares_namespaces_with` and `listens_tcp`.
pub fn check_process_match(
    m: &ProcessMatch,
    says: &str,
    started: &BTreeSet<String>,
    at: &str,
    out: &mut Vec<String>,
) {
    if let Some(sh) = &m.shares_namespaces_with {
        if !started.contains(&sh.container) {
            out.push(format!(
                "{at}: verify `{says}`: shares_namespaces_with names `{}`, which is not a container running at this step",
                sh.container
            ));
        }
        if sh.namespaces.is_empty() {
            out.push(format!(
                "{at}: verify `{says}`: shares_namespaces_with lists no namespace"
            ));
        }
        for n in &sh.namespaces {
            if !super::NAMESPACE_NAMES.contains(&n.as_str()) {
                out.push(format!(
                    "{at}: verify `{says}`: `{n}` is not a namespace; use one of {}",
                    super::NAMESPACE_NAMES.join(", ")
                ));
            }
        }
    }
    if m.listens_tcp == Some(0) {
        out.push(format!(
            "{at}: verify `{says}`: listens_tcp = 0 is no port a server listens on: give 1 to 65535"
        ));
    }
}

/// The rules for `runtime`, `tmpfs` and `plant`: `runtime` is absent or `"runc"`; a
/// runc container takes only what its OCI bundle says (the lesson's rootfs, the
/// namespace flags, `hostname`, `command`, `cgroup` limits, `tmpfs`, `plant`), and the
/// lesson lists `runc` in `[requires] tools`; each planted fault has the setting it
/// changes.
pub fn check_runc(name: &str, c: &ContainerDef, tools: &[String], at: &str, out: &mut Vec<String>) {
    let runc = match c.runtime.as_deref() {
        None => false,
        Some("runc") => true,
        Some(other) => {
            out.push(format!(
                "{at}: container `{name}`: runtime `{other}` is not one the lab drives: write runtime = \"runc\", or leave it out for the lab's own runtime"
            ));
            return;
        }
    };
    if !runc {
        if !c.tmpfs.is_empty() || !c.plant.is_empty() {
            out.push(format!(
                "{at}: container `{name}`: tmpfs and plant are settings of a runc container: add runtime = \"runc\" or remove them"
            ));
        }
        return;
    }
    if c.root != "rootfs" {
        out.push(format!(
            "{at}: container `{name}`: a runc container's root is the lesson's rootfs: write root = \"rootfs\" (or leave root out)"
        ));
    }
    let lab_only: [(&str, bool); 10] = [
        ("mount_proc", c.mount_proc),
        ("init", c.init),
        ("overlay", c.overlay),
        ("volumes", !c.volumes.is_empty()),
        ("share", c.share.is_some()),
        ("cap_drop", !c.cap_drop.is_empty()),
        ("no_new_privs", c.no_new_privs),
        ("seccomp_deny", !c.seccomp_deny.is_empty()),
        ("pivot_root", c.pivot_root),
        (
            "cgroup.name",
            c.cgroup.as_ref().is_some_and(|g| g.name.is_some()),
        ),
    ];
    let given: Vec<&str> = lab_only
        .iter()
        .filter(|(_, on)| *on)
        .map(|(k, _)| *k)
        .collect();
    if !given.is_empty() {
        out.push(format!(
            "{at}: container `{name}`: these keys are the lab's own runtime's, not a runc container's: {}; remove them (runc always mounts /proc and pivots, and its cgroup is named after the container)",
            given.join(", ")
        ));
    }
    if c.command.is_empty() {
        out.push(format!(
            "{at}: container `{name}`: a runc container needs a command"
        ));
    }
    if !tools.iter().any(|t| t == "runc") {
        out.push(format!(
            "{at}: container `{name}` is made by runc: add \"runc\" to [requires] tools, so a host without it is told before step 1"
        ));
    }
    for t in &c.tmpfs {
        let p = Path::new(t);
        if !p.is_absolute()
            || p.components().any(|c| matches!(c, Component::ParentDir))
            || p == Path::new("/")
        {
            out.push(format!(
                "{at}: container `{name}`: tmpfs `{t}` must be an absolute path inside the container, not `/`, without `..`"
            ));
        }
    }
    for f in &c.plant {
        let missing = match f.as_str() {
            "memory" => c
                .cgroup
                .as_ref()
                .and_then(|g| g.memory_max.as_ref())
                .is_none()
                .then_some("cgroup = { memory_max = ... }"),
            "mount" => c.tmpfs.is_empty().then_some("a tmpfs"),
            "hostname" => c.hostname.is_none().then_some("a hostname"),
            _ => {
                out.push(format!(
                    "{at}: container `{name}`: plant `{f}` is not a fault the lab plants: use {}",
                    crate::lab::oci::FAULTS.join(", ")
                ));
                continue;
            }
        };
        if let Some(m) = missing {
            out.push(format!(
                "{at}: container `{name}`: plant `{f}` changes a setting it does not have: give it {m}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn problems(containers: &str, steps: &str) -> String {
        let text = format!(
            "format_version = 1\nid = \"t\"\ntitle = \"T\"\nsummary = \"S\"\nobjectives = [\"o\"]\n\n{containers}\n{steps}"
        );
        match crate::lesson::parse(&text, Path::new("t.toml")) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    const PAUSE: &str = "[containers.pause]\nnet = true\nipc = true\nuts = true\ninit = true\n";

    fn step(id: &str, action: &str) -> String {
        format!("[[steps]]\nid = \"{id}\"\ntitle = \"X\"\nexplain = \"E\"\naction = {action}\n")
    }

    #[test]
    fn a_volume_source_must_be_a_lab_directory() {
        let ok = step(
            "v",
            r#"{ kind = "exec", volumes = [{ source = "lab:data", target = "/tmp", read_only = true }], command = ["true"] }"#,
        );
        assert_eq!(problems("", &ok), "");
        for bad in ["/", "/etc", "lab:../etc", "lab:/etc", "lab:", "data"] {
            let s = step(
                "v",
                &format!(
                    r#"{{ kind = "exec", volumes = [{{ source = "{bad}", target = "/tmp" }}], command = ["true"] }}"#
                ),
            );
            let e = problems("", &s);
            assert!(
                e.ends_with(&format!("volume source `{bad}` is not a directory of the lab's: write `lab:DIR` (made by an earlier step); a lesson never mounts `/`, a host system directory or any host path")),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn a_volume_target_stays_inside_a_root_of_the_containers_own() {
        let s = step(
            "v",
            r#"{ kind = "exec", volumes = [{ source = "lab:d", target = "/tmp/../etc" }], command = ["true"] }"#,
        );
        assert!(
            problems("", &s).contains("volume target `/tmp/../etc` may not hold `..` or `.`"),
            "{}",
            problems("", &s)
        );
        let s = step(
            "v",
            r#"{ kind = "exec", root = "host", volumes = [{ source = "lab:d", target = "/tmp" }], command = ["true"] }"#,
        );
        assert!(
            problems("", &s).contains("volumes need a root of the container's own"),
            "{}",
            problems("", &s)
        );
    }

    #[test]
    fn a_shared_namespace_is_joined_from_a_running_holder_and_not_also_made_new() {
        let member = |extra: &str| {
            format!(
                "{PAUSE}[containers.m]\npid = true\n{extra}share = {{ container = \"pause\", namespaces = [\"net\", \"uts\"] }}\ncommand = [\"true\"]\n"
            )
        };
        let start_both = format!(
            "{}{}",
            step("a", r#"{ kind = "start", container = "pause" }"#),
            step("b", r#"{ kind = "start", container = "m" }"#)
        );
        assert_eq!(problems(&member(""), &start_both), "");
        // Both shared and new.
        let e = problems(&member("net = true\n"), &start_both);
        assert!(
            e.contains("`net` is both shared with `pause` and asked new (net = true): keep one"),
            "{e}"
        );
        // The holder not started first.
        let e = problems(
            &member(""),
            &step("b", r#"{ kind = "start", container = "m" }"#),
        );
        assert!(
            e.contains("share needs container `pause` started by an earlier step"),
            "{e}"
        );
        // A namespace that cannot be shared, and one the holder does not have.
        let c = "[containers.pause]\nnet = true\ninit = true\n[containers.m]\nshare = { container = \"pause\", namespaces = [\"pid\", \"uts\"] }\ncommand = [\"true\"]\n";
        let e = problems(c, &start_both);
        assert!(e.contains("share: `pid` cannot be shared here"), "{e}");
        assert!(
            e.contains("share: `pause` has no uts namespace of its own (uts = true there): joining it would join the host's"),
            "{e}"
        );
    }

    #[test]
    fn process_conditions_name_a_running_container_and_a_real_port() {
        let challenge = |process: &str| {
            format!(
                "{}[steps.challenge]\ngoal = \"g\"\nsolution = [\"true\"]\n[[steps.challenge.verify]]\nsays = \"s\"\nprocess = {process}\n",
                step("a", r#"{ kind = "start", container = "pause" }"#)
            )
        };
        let ok = challenge(
            r#"{ shares_namespaces_with = { container = "pause", namespaces = ["net"] }, listens_tcp = 8080 }"#,
        );
        assert_eq!(problems(PAUSE, &ok), "");
        let bad = challenge(
            r#"{ shares_namespaces_with = { container = "web", namespaces = ["nett"] }, listens_tcp = 0 }"#,
        );
        let e = problems(PAUSE, &bad);
        assert!(
            e.contains(
                "shares_namespaces_with names `web`, which is not a container running at this step"
            ),
            "{e}"
        );
        assert!(e.contains("`nett` is not a namespace"), "{e}");
        assert!(e.contains("listens_tcp = 0 is no port"), "{e}");
    }
}
