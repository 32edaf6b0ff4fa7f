//! A lesson's `[containers.NAME]` with `runtime = "runc"`, started by a `start` action:
//! the OCI container the lab asks runc(8) for (see [`crate::lab::oci`]), with a fault
//! planted when the definition says `plant`.

use std::io::Write;

use crate::lab::oci::{self, OciContainer};
use crate::lab::runner::{RunError, Runner};
use crate::lesson::ContainerDef;
use crate::runtime::{ContainerSpec, Namespaces};
use crate::term;

/// The PATH a runc container's process gets (runc spec's).
const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Runner {
    /// Start `[containers.NAME]` (`runtime = "runc"`) with runc: its bundle from the
    /// lesson's rootfs, a fault planted when it has `plant`, and the `runc run -d` a
    /// person would type shown first. Returns the runc commands as the trace.
    ///
    /// # Errors
    /// No rootfs, a bad memory size, or runc refused (its error in one sentence).
    pub(crate) fn start_runc(
        &mut self,
        name: &str,
        def: &ContainerDef,
        out: &mut dyn Write,
    ) -> Result<(Vec<String>, Vec<crate::observe::Verdict>), RunError> {
        let rootfs = self
            .lab
            .rootfs
            .clone()
            .ok_or_else(|| RunError::BadInput("no rootfs built yet".into()))?;
        let memory_max = def
            .cgroup
            .as_ref()
            .and_then(|g| g.memory_max.as_deref())
            .map(crate::runtime::cgroup::parse_size)
            .transpose()
            .map_err(|e| RunError::BadInput(format!("container `{name}`: memory_max {e}")))?;
        let c = OciContainer {
            rootfs: rootfs.clone(),
            args: def.command.iter().map(|s| self.expand(s)).collect(),
            env: vec![PATH.to_string()],
            hostname: def.hostname.clone(),
            pid: def.pid,
            mount: true,
            uts: def.uts,
            ipc: def.ipc,
            net: def.net,
            memory_max,
            pids_max: def.cgroup.as_ref().and_then(|g| g.pids_max),
            tmpfs: def.tmpfs.clone(),
            cgroups_path: String::new(),
        };
        let fault = oci::choose_fault(&def.plant);
        let c = match &fault {
            Some(f) => oci::plant(c, f),
            None => c,
        };
        let spec = ContainerSpec {
            root: Some(rootfs),
            namespaces: Namespaces {
                pid: def.pid,
                mount: true,
                uts: def.uts,
                ipc: def.ipc,
                net: def.net,
            },
            hostname: c.hostname.clone(),
            command: c.args.clone(),
            ..Default::default()
        };
        let me = std::process::id();
        let lab = self.lab.scratch.display().to_string();
        let id = format!("fromscratch-{me}-{name}");
        writeln!(
            out,
            "  {}",
            term::command(&format!(
                "runc --root {lab}/runc run -d --bundle {lab}/bundle-{name} --pid-file {lab}/bundle-{name}/pid {id} </dev/null >/dev/null"
            ))
        )?;
        writeln!(
            out,
            "  {}",
            term::dim(&format!(
                "(the bundle is one file, {lab}/bundle-{name}/config.json, written by the lab from [containers.{name}]: the rootfs read-only, the namespaces, the hostname, the limits in cgroup /fromscratch-{me}/runc-{name}, the mounts)"
            ))
        )?;
        if fault.is_some() {
            writeln!(
                out,
                "  {}",
                term::dim(
                    "(one of its settings was changed on purpose: finding which is the challenge)"
                )
            )?;
        }
        let (live, trace) = self.lab.start_runc(name, c, &spec, fault)?;
        writeln!(
            out,
            "  runc container `{name}` (id {id}) is running: {}",
            live.describe()
        )?;
        Ok((trace, Vec::new()))
    }
}
