//! A lesson's `share`: the running container whose namespaces a new one joins, turned
//! into the runtime's [`Share`] (its first process's host PID), and the nsenter(1)
//! command a learner would type for the same joins. See `runtime/share.rs`.

use crate::lab::runner::{RunError, Runner};
use crate::lesson::ContainerDef;
use crate::runtime::share::{Share, namespaces_named};

impl Runner {
    /// The runtime share of `c`, if it has one: the named container must be running.
    ///
    /// # Errors
    /// [`RunError::BadInput`] naming the container that is not running.
    pub fn share_of(&self, c: &ContainerDef) -> Result<Option<Share>, RunError> {
        let Some(sh) = &c.share else {
            return Ok(None);
        };
        let holder = self.lab.container(&sh.container).ok_or_else(|| {
            RunError::BadInput(format!(
                "this container shares namespaces with `{}`, which is not running: start it in an earlier step",
                sh.container
            ))
        })?;
        Ok(Some(Share {
            pid: holder.pid1,
            namespaces: namespaces_named(&sh.namespaces),
        }))
    }

    /// `nsenter --target PID --net --ipc --uts --` for `c`'s share (the namespaces in
    /// the lesson's order), or `None` without one.
    #[must_use]
    pub fn nsenter_prefix(&self, c: &ContainerDef) -> Option<String> {
        let sh = c.share.as_ref()?;
        let pid = self.lab.container(&sh.container).map_or_else(
            || format!("{{container.{}}}", sh.container),
            |l| l.pid1.to_string(),
        );
        let mut parts = vec!["nsenter".to_string(), "--target".to_string(), pid];
        parts.extend(sh.namespaces.iter().map(|n| format!("--{n}")));
        parts.push("--".into());
        Some(parts.join(" "))
    }
}
