//! `fromscratch doctor` on this host, for real: as root and as an unprivileged user
//! (`FROMSCRATCH_TEST_UID`, else nobody), every answer checked against the host read
//! here another way: the cgroup mounts and /proc masks from /proc/self/mountinfo, the
//! sysctls from /proc/sys, user namespaces with util-linux `unshare`, writability with
//! `test -w` as that user, each lesson's `[requires] root` from its file. As the user the
//! output fits one screen and says each fix once. Only reads: the host is the same after.

mod common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Lab, require_root, text, unwrapped};

/// The unprivileged user: `FROMSCRATCH_TEST_UID` (CI's own user), or nobody.
fn user() -> u32 {
    common::test_user()
}

/// `setpriv` to [`user`], no supplementary groups, then `argv`.
fn as_user(argv: &[&str]) -> Command {
    let u = user();
    let mut c = Command::new("setpriv");
    c.args([
        format!("--reuid={u}"),
        format!("--regid={u}"),
        "--clear-groups".to_string(),
        "--".to_string(),
    ])
    .args(argv)
    .current_dir("/")
    .stdin(std::process::Stdio::null());
    c
}

/// The row of `label` in the doctor's output (its first line).
fn row<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("  {label} ")))
        .unwrap_or_else(|| panic!("no row {label}:\n{out}"))
}

fn mountinfo() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo")
}

/// `hybrid`, `v2` or `v1`, from the cgroup mounts in /proc/self/mountinfo.
fn cgroup_kind() -> &'static str {
    let mi = mountinfo();
    let v2 = mi.lines().any(|l| l.contains(" - cgroup2 "));
    let v1 = mi.lines().any(|l| l.contains(" - cgroup "));
    match (v1, v2) {
        (true, true) => "hybrid",
        (false, true) => "v2",
        _ => "v1",
    }
}

/// Mount points of cgroup filesystems, from mountinfo.
fn cgroup_mounts() -> Vec<PathBuf> {
    mountinfo()
        .lines()
        .filter(|l| l.contains(" - cgroup2 ") || l.contains(" - cgroup "))
        .filter_map(|l| l.split(' ').nth(4).map(PathBuf::from))
        .collect()
}

/// Mounts under /proc (not /proc itself, not binfmt_misc): a container runtime's masks.
fn proc_mask_count() -> usize {
    mountinfo()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|t| t.starts_with("/proc/") && !t.starts_with("/proc/sys/fs/binfmt_misc"))
        .count()
}

/// The real value of user.max_user_namespaces here.
fn max_user_namespaces() -> String {
    std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .expect("user.max_user_namespaces")
        .trim()
        .to_string()
}

/// Each lesson file's id and `[requires] root`, read here with the toml crate.
fn lessons() -> Vec<(String, bool)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons");
    let mut out: Vec<(String, bool)> = std::fs::read_dir(dir)
        .expect("lessons/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let t: toml::Table = std::fs::read_to_string(&p).unwrap().parse().unwrap();
            let id = t["id"].as_str().unwrap().to_string();
            let root = t
                .get("requires")
                .and_then(|r| r.get("root"))
                .and_then(toml::Value::as_bool)
                .unwrap_or(true);
            (id, root)
        })
        .collect();
    out.sort();
    out
}

/// The lessons of the default tour, as `fromscratch tour` takes them.
const TOUR: [&str; 4] = ["01-", "02-", "03-", "04-"];

/// A world-readable directory with a copy of the binary and a cache, run and state
/// directory owned by [`user`].
struct UserWorld {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl UserWorld {
    fn new() -> Self {
        let (dir, bin) = common::user_dir("fs-doctor-", &["cache", "run", "state"], user(), user());
        Self { dir, bin }
    }

    /// `fromscratch doctor ARGS` as the user.
    fn doctor(&self, args: &[&str]) -> Output {
        let mut argv = vec![self.bin.to_str().unwrap(), "doctor"];
        argv.extend(args);
        as_user(&argv)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
            .env("FROMSCRATCH_CACHE", self.dir.path().join("cache"))
            .env("FROMSCRATCH_RUN", self.dir.path().join("run"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env("NO_COLOR", "1")
            .output()
            .expect("setpriv")
    }
}

#[test]
fn doctor_as_root_finds_root_userns_cgroups_overlay_seccomp_and_every_lesson_runs() {
    require_root();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = lab.run(&["doctor"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        row(&stdout, "root").contains("✓ yes (uid 0, CAP_SYS_ADMIN)"),
        "{stdout}"
    );
    let flat = unwrapped(&stdout);
    assert!(
        flat.contains("✓ allowed: unshare(CLONE_NEWUSER), its uid_map and a mount namespace"),
        "{stdout}"
    );
    assert!(
        flat.contains(&format!(
            "(user.max_user_namespaces = {})",
            max_user_namespaces()
        )),
        "{stdout}"
    );
    // The layout, read here from the mount table the way a person would.
    let kind = cgroup_kind();
    assert!(
        row(&stdout, "cgroups").contains(&format!("· {kind}")),
        "{kind}:\n{stdout}"
    );
    assert!(
        row(&stdout, "cgroup subtree").contains("✓ writable by uid 0"),
        "{stdout}"
    );
    if Path::new("/.dockerenv").exists() {
        assert!(
            row(&stdout, "container").contains("/.dockerenv exists"),
            "{stdout}"
        );
    }
    // Root needs no user namespace, so masks under /proc do not matter to it.
    assert!(!stdout.contains("  new /proc "), "{stdout}");
    assert!(
        row(&stdout, "overlayfs").contains("✓ yes (in /proc/filesystems)"),
        "{stdout}"
    );
    assert!(row(&stdout, "seccomp").contains("✓ yes"), "{stdout}");
    // Every lesson runs as root: one group, every id in it.
    let all = lessons();
    assert!(
        flat.contains(&format!(
            "✓ runs here ({}): {}",
            all.len(),
            all.iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        )),
        "{stdout}"
    );
    assert!(!stdout.contains('✗'), "{stdout}");
    assert!(
        stdout.contains("The default tour (lessons 01-04 on the host rootfs) runs here"),
        "{stdout}"
    );
    for line in stdout.lines() {
        assert!(
            unicode_width::UnicodeWidthStr::width(line) <= 80,
            "{line:?}"
        );
    }
    lab.snapshot().assert_same(&before);
}

#[test]
fn doctor_as_the_user_fits_one_screen_says_each_fix_once_and_exits_by_the_tour() {
    let w = UserWorld::new();
    let lab = Lab::new();
    let before = lab.snapshot();
    let out = w.doctor(&[]);
    let (stdout, stderr) = text(&out);
    let flat = unwrapped(&stdout);
    let json = w.doctor(&["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let facts = &v["facts"];

    // One screen, 80 columns.
    let lines = stdout.lines().count();
    assert!(lines <= 40, "{lines} lines:\n{stdout}");
    for line in stdout.lines() {
        assert!(
            unicode_width::UnicodeWidthStr::width(line) <= 80,
            "{line:?}"
        );
    }
    // Each fix sentence once, numbered, and every row that needs it points at it.
    let fixes = v["report"]["fixes"].as_array().expect("fixes");
    for (i, fix) in fixes.iter().enumerate() {
        let sentence = fix["fix"].as_str().unwrap();
        assert_eq!(flat.matches(sentence).count(), 1, "{sentence}:\n{stdout}");
        assert!(
            flat.contains(&format!("[{}] {sentence}", i + 1)),
            "{stdout}"
        );
    }
    for section in v["report"]["sections"].as_array().unwrap() {
        for r in section["rows"].as_array().unwrap() {
            if r["mark"] == "no" {
                let fix = r["fix"].as_str().expect("every no has a fix");
                assert!(fixes.iter().any(|f| f["fix"] == fix), "{r}");
            }
        }
    }

    assert!(
        row(&stdout, "root").contains(&format!("· no, uid {}", user())),
        "{stdout}"
    );
    // User namespaces: what util-linux unshare says as the same user, a mount
    // namespace inside included.
    let unshare_ok = as_user(&["unshare", "--user", "--map-root-user", "--mount", "true"])
        .status()
        .is_ok_and(|s| s.success());
    assert_eq!(
        row(&stdout, "user namespaces").contains("✓ allowed"),
        unshare_ok,
        "{stdout}"
    );
    assert!(
        flat.contains(&format!(
            "user.max_user_namespaces = {}",
            max_user_namespaces()
        )),
        "{stdout}"
    );
    // Ubuntu's AppArmor knob: named exactly when its file exists.
    assert_eq!(
        flat.contains("kernel.apparmor_restrict_unprivileged_userns"),
        Path::new("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").exists(),
        "{stdout}"
    );
    assert!(
        row(&stdout, "cgroups").contains(&format!("· {}", cgroup_kind())),
        "{stdout}"
    );
    // The cgroups the runtime would use are on the cgroup mounts, and each is writable
    // for the doctor exactly when `test -w` as the same user says so.
    let mounts = cgroup_mounts();
    let unwritable: Vec<&str> = facts["cgroup_unwritable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let parents = facts["cgroup_parents"].as_array().unwrap();
    assert!(!parents.is_empty(), "{facts}");
    for p in parents {
        let p = p.as_str().unwrap();
        assert!(mounts.iter().any(|m| Path::new(p).starts_with(m)), "{p}");
        let writable = as_user(&["test", "-w", p])
            .status()
            .is_ok_and(|s| s.success());
        assert_eq!(
            !unwritable.iter().any(|u| u.starts_with(&format!("{p}: "))),
            writable,
            "{p}: {unwritable:?}"
        );
    }
    assert_eq!(
        row(&stdout, "cgroup subtree").contains('✓'),
        unwritable.is_empty(),
        "{stdout}"
    );
    // Masks under /proc forbid a fresh /proc in a user namespace.
    let masks = proc_mask_count();
    assert_eq!(stdout.contains("  new /proc "), masks > 0, "{stdout}");
    if Path::new("/.dockerenv").exists() {
        assert!(
            row(&stdout, "container").contains("/.dockerenv exists"),
            "{stdout}"
        );
    }
    // Builders say what they found, never "ready"; nothing is built in a fresh cache.
    assert!(!stdout.contains("ready"), "{stdout}");
    assert!(
        row(&stdout, "host").ends_with("✓ copies this host's programs; not built yet"),
        "{stdout}"
    );
    let dnf = ["/usr/bin/dnf", "/usr/sbin/dnf", "/bin/dnf"]
        .iter()
        .any(|p| Path::new(p).exists());
    assert!(
        row(&stdout, "fedora").contains(if dnf {
            "✗ dnf found; building needs root"
        } else {
            "✗ dnf not installed"
        }),
        "{stdout}"
    );

    // The lessons: root = true ones need root; root = false ones run when user
    // namespaces do (and, for those that mount /proc, when nothing masks it).
    let all = lessons();
    let need_root: Vec<&str> = all
        .iter()
        .filter(|(_, r)| *r)
        .map(|(id, _)| id.as_str())
        .collect();
    assert!(
        flat.contains(&format!(
            "✗ needs root [{}] ({}): {}",
            1 + fixes
                .iter()
                .position(|f| f["fix"] == "run as root (sudo).")
                .unwrap(),
            need_root.len(),
            need_root.join(" ")
        )),
        "{stdout}"
    );
    let rootless_ok = unshare_ok && masks == 0;
    if rootless_ok {
        let run: Vec<&str> = all
            .iter()
            .filter(|(_, r)| !*r)
            .map(|(id, _)| id.as_str())
            .collect();
        assert!(
            flat.contains(&format!("✓ runs here ({}): {}", run.len(), run.join(" "))),
            "{stdout}"
        );
    }
    // The exit status follows the tour's lessons, read from their files.
    let tour_root: Vec<&str> = all
        .iter()
        .filter(|(id, r)| *r && TOUR.iter().any(|p| id.starts_with(p)))
        .map(|(id, _)| id.as_str())
        .collect();
    let tour_runs = tour_root.is_empty() && rootless_ok;
    assert_eq!(
        out.status.code(),
        Some(if tour_runs { 0 } else { 3 }),
        "{stdout}\n{stderr}"
    );
    if let Some(first) = tour_root.first() {
        assert!(
            flat.contains(&format!("cannot run here: {first} needs root")),
            "{stdout}"
        );
    }
    assert_eq!(json.status.code(), out.status.code());
    lab.snapshot().assert_same(&before);
}

#[test]
fn doctor_verbose_as_the_user_gives_each_row_its_fix_and_the_full_messages() {
    let w = UserWorld::new();
    let out = w.doctor(&["--verbose"]);
    let (stdout, _) = text(&out);
    let flat = unwrapped(&stdout);
    for (id, root) in lessons().iter().filter(|(_, r)| *r) {
        assert!(*root);
        assert!(
            row(&stdout, id).ends_with("✗ needs root"),
            "{id}:\n{stdout}"
        );
    }
    assert!(
        flat.matches("→ run as root (sudo).").count() >= lessons().iter().filter(|l| l.1).count()
    );
    // The builders' full preflight messages, which the one-screen view leaves out.
    if Path::new("/usr/bin/dnf").exists() {
        assert!(
            flat.contains("building a Fedora-family rootfs with dnf --installroot"),
            "{stdout}"
        );
    }
    for line in stdout.lines() {
        assert!(
            unicode_width::UnicodeWidthStr::width(line) <= 80 || !line.trim().contains(" "),
            "{line:?}"
        );
    }
}

/// Every key of the JSON, at every depth, is named in the doctor's section of the
/// command-line reference, so the schema stays documented.
#[test]
fn doctor_json_has_the_facts_and_every_key_is_documented() {
    require_root();
    let lab = Lab::new();
    let out = lab.run(&["doctor", "--json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(v["facts"]["euid"], 0);
    assert_eq!(v["facts"]["cgroup_kind"], cgroup_kind());
    assert_eq!(v["facts"]["overlayfs"], true);
    assert_eq!(
        v["facts"]["proc_masks"].as_array().unwrap().len(),
        proc_mask_count()
    );
    assert_eq!(
        v["facts"]["max_user_namespaces"].as_str().map(str::trim),
        Some(max_user_namespaces().as_str())
    );
    assert_eq!(v["report"]["exit_code"], 0);

    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/reference/command-line.md"),
    )
    .unwrap();
    let start = page
        .find("## `fromscratch doctor`")
        .expect("doctor section");
    let section = &page[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let mut keys = std::collections::BTreeSet::new();
    fn walk(v: &serde_json::Value, keys: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    keys.insert(k.clone());
                    walk(v, keys);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, keys)),
            _ => {}
        }
    }
    walk(&v, &mut keys);
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !section.contains(&format!("`{k}`")))
        .collect();
    assert!(missing.is_empty(), "undocumented JSON keys: {missing:?}");
}

/// Under a /proc with a masked path (a bind mount over /proc/uptime, made in a private
/// mount namespace of this test's own, as container engines mask /proc/kcore), the user
/// is told a fresh /proc is refused, and the rootless lessons that mount one (read from
/// their files) say so with the same fix.
#[test]
fn doctor_as_the_user_under_a_masked_proc_refuses_the_lessons_that_mount_one() {
    let w = UserWorld::new();
    let inner = as_user(&[w.bin.to_str().unwrap(), "doctor", "--json"]);
    let argv: Vec<String> = std::iter::once(inner.get_program())
        .chain(inner.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect();
    let script = format!(
        "mount --bind /dev/null /proc/uptime && exec {}",
        argv.join(" ")
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("FROMSCRATCH_DATA", env!("CARGO_MANIFEST_DIR"))
        .env("FROMSCRATCH_CACHE", w.dir.path().join("cache"))
        .env("FROMSCRATCH_RUN", w.dir.path().join("run"))
        .env("XDG_STATE_HOME", w.dir.path().join("state"))
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect(&stderr);
    assert!(
        v["facts"]["proc_masks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "/proc/uptime"),
        "{stdout}"
    );
    let rows: Vec<&serde_json::Value> = v["report"]["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["rows"].as_array().unwrap())
        .collect();
    let find = |label: &str| *rows.iter().find(|r| r["label"] == label).unwrap();
    assert_eq!(find("new /proc")["mark"], "no");
    let fix = find("new /proc")["fix"].clone();
    let mut refused = 0;
    for l in v["facts"]["lessons"].as_array().unwrap() {
        if l["root"] == false && l["mounts_proc"] == true {
            let r = find(l["id"].as_str().unwrap());
            assert_eq!(r["answer"], "mounts a new /proc, refused here without root");
            assert_eq!(r["fix"], fix);
            refused += 1;
        }
    }
    assert!(refused > 0, "no rootless lesson mounts /proc: {stdout}");
    assert_eq!(out.status.code(), Some(3));
    // The mask lived and died in the test's own mount namespace.
    assert!(!mountinfo().contains("/proc/uptime"));
}
