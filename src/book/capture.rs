//! `book/captures/NN-id.txt`: the plain text of a real `fromscratch run NN --yes
//! --no-color` (as root, `COLUMNS=80`), behind a header that says what ran, where and
//! when.
//!
//! ```text
//! fromscratch book capture v1
//! lesson: 02-chroot
//! lesson-sha256: 3f0c…   (of the lesson file's bytes when it ran)
//! date: 2025-06-01       (UTC)
//! kernel: 6.1.0-28-amd64
//! fromscratch: 0.1.0
//! user: root
//! command: fromscratch run 02-chroot --yes --no-color (COLUMNS=80, NO_COLOR=1)
//!
//! 02-chroot — chroot: the same kernel, a different /
//! …
//! ```
//!
//! Paths of the machine it ran on never appear: the rootfs is `$ROOTFS`, the lab's
//! scratch directory `$LAB`, the fromscratch binary `$FROMSCRATCH` ([`substitute`]);
//! [`leaks`] names any other that is left.

use sha2::{Digest, Sha256};

/// The first line of every capture.
pub const MAGIC: &str = "fromscratch book capture v1";

/// A capture file, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// The lesson's id.
    pub lesson: String,
    /// sha256 (hex) of the lesson file the run read.
    pub lesson_sha256: String,
    /// `YYYY-MM-DD`, UTC.
    pub date: String,
    /// The kernel release (uname -r).
    pub kernel: String,
    /// fromscratch's version.
    pub version: String,
    /// Who ran it: `root`.
    pub user: String,
    /// The run's plain text, paths substituted.
    pub transcript: String,
}

impl Capture {
    /// The file's text: the header, a blank line, the transcript.
    #[must_use]
    pub fn to_text(&self) -> String {
        format!(
            "{MAGIC}\nlesson: {}\nlesson-sha256: {}\ndate: {}\nkernel: {}\nfromscratch: {}\nuser: {}\ncommand: fromscratch run {} --yes --no-color (COLUMNS=80, NO_COLOR=1)\n\n{}",
            self.lesson,
            self.lesson_sha256,
            self.date,
            self.kernel,
            self.version,
            self.user,
            self.lesson,
            self.transcript
        )
    }

    /// Read a capture file's text.
    ///
    /// # Errors
    /// One sentence when the first line is not [`MAGIC`] or a header field is missing.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (head, transcript) = text
            .split_once("\n\n")
            .ok_or("it has no blank line after its header")?;
        let mut lines = head.lines();
        if lines.next() != Some(MAGIC) {
            return Err(format!("its first line is not `{MAGIC}`"));
        }
        let fields: std::collections::BTreeMap<&str, &str> =
            lines.filter_map(|l| l.split_once(": ")).collect();
        let get = |k: &str| {
            fields
                .get(k)
                .map(|v| (*v).to_string())
                .ok_or_else(|| format!("its header has no `{k}:` line"))
        };
        Ok(Self {
            lesson: get("lesson")?,
            lesson_sha256: get("lesson-sha256")?,
            date: get("date")?,
            kernel: get("kernel")?,
            version: get("fromscratch")?,
            user: get("user")?,
            transcript: transcript.to_string(),
        })
    }
}

/// sha256 of `bytes`, in hex.
#[must_use]
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Today's date (UTC) as `YYYY-MM-DD`.
#[must_use]
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    civil_date(secs / 86_400)
}

/// The date `days` after 1970-01-01 (proleptic Gregorian; Howard Hinnant's algorithm).
#[must_use]
pub fn civil_date(days: u64) -> String {
    // The date part of progress.rs's RFC 3339 time: one civil-from-days, not two.
    let mut s = crate::progress::rfc3339(days.saturating_mul(86_400));
    s.truncate(10);
    s
}

/// What the capture says instead of a path of this machine.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    /// The lesson's rootfs directory: `$ROOTFS`.
    pub rootfs: Option<String>,
    /// The run directory the child lab used: `RUN/lab-PID` becomes `$LAB`.
    pub run: Option<String>,
    /// The fromscratch binary: `$FROMSCRATCH`.
    pub exe: Option<String>,
}

/// `text` with the paths in `paths` replaced by `$ROOTFS`, `$LAB` and `$FROMSCRATCH`.
#[must_use]
pub fn substitute(text: &str, paths: &Paths) -> String {
    let mut text = text.to_string();
    if let Some(r) = paths.rootfs.as_deref().filter(|r| r.len() > 1) {
        text = text.replace(r, "$ROOTFS");
    }
    if let Some(run) = paths.run.as_deref().filter(|r| r.len() > 1) {
        let re = regex::Regex::new(&format!(r"{}/lab-\d+", regex::escape(run)))
            .expect("an escaped path is a valid regex");
        text = re.replace_all(&text, "$$LAB").into_owned();
    }
    if let Some(exe) = paths.exe.as_deref().filter(|r| r.len() > 1) {
        text = text.replace(exe, "$FROMSCRATCH");
    }
    text
}

/// Each of `paths` (this machine's: the cache, the run directory, the data directory,
/// the binary) that `text` still contains, with the first line holding it (1-based).
#[must_use]
pub fn leaks(text: &str, paths: &[String]) -> Vec<(String, usize)> {
    paths
        .iter()
        .filter(|p| p.len() > 1 && *p != "/")
        .filter_map(|p| {
            text.lines()
                .position(|l| l.contains(p.as_str()))
                .map(|at| (p.clone(), at + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_reads_back_as_written() {
        let c = Capture {
            lesson: "02-chroot".into(),
            lesson_sha256: sha256(b"x"),
            date: "2025-06-01".into(),
            kernel: "6.1.0".into(),
            version: "0.1.0".into(),
            user: "root".into(),
            transcript: "02-chroot — t\n\n━━ Step 1/1 · a ━━\n".into(),
        };
        assert_eq!(Capture::parse(&c.to_text()).unwrap(), c);
        assert!(Capture::parse("nope\n\nx").unwrap_err().contains(MAGIC));
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_723), "2024-01-01");
        assert_eq!(civil_date(19_782), "2024-02-29");
        assert_eq!(civil_date(20_240), "2025-06-01");
    }

    #[test]
    fn paths_become_names_and_leftovers_are_found() {
        let p = Paths {
            rootfs: Some("/var/cache/fs/rootfs/host-ab".into()),
            run: Some("/run/fs/book-x/run".into()),
            exe: Some("/src/target/release/fromscratch".into()),
        };
        let t = "chroot /var/cache/fs/rootfs/host-ab ls /run/fs/book-x/run/lab-123/empty\nexecve(\"/src/target/release/fromscratch\")\n/run/fs/book-x/run/state";
        let s = substitute(t, &p);
        assert_eq!(
            s,
            "chroot $ROOTFS ls $LAB/empty\nexecve(\"$FROMSCRATCH\")\n/run/fs/book-x/run/state"
        );
        assert_eq!(
            leaks(&s, &["/var/cache/fs".into(), "/run/fs/book-x".into()]),
            vec![("/run/fs/book-x".to_string(), 3)]
        );
    }
}
