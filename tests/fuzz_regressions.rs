//! The fuzz corpora as regression tests, on stable Rust in the normal test run: every file
//! of `fuzz/corpus/TARGET/` (the seeds of `fuzz/seeds.py` and what fuzz runs kept) and of
//! `fuzz/artifacts/TARGET/` (inputs that once crashed a target) goes through the same
//! function the fuzz target calls (`fromscratch::fuzzing`), which panics when an invariant
//! breaks: a parser that panics, or an unpack that writes outside its tree.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

/// Where the corpora are: `fuzz/` of the checkout, or `FROMSCRATCH_FUZZ_DIR` when
/// [`unpack_corpus_as_a_user_never_writes_outside_the_tree`] runs this binary as the user
/// on a copy it can read.
fn fuzz_dir() -> PathBuf {
    std::env::var_os("FROMSCRATCH_FUZZ_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz"),
        PathBuf::from,
    )
}

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = fuzz_dir();
    let mut files = Vec::new();
    for dir in ["corpus", "artifacts"] {
        let Ok(rd) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        for e in rd {
            let p = e.expect("read a corpus directory").path();
            if p.is_file() {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// Feed every input of `target` to `f`; a panic names the file.
#[track_caller]
fn each(target: &str, min: usize, f: impl Fn(&[u8])) -> usize {
    let files = inputs(target);
    assert!(
        files.len() >= min,
        "fuzz/corpus/{target} holds {} files, expected at least {min} (run python3 fuzz/seeds.py)",
        files.len()
    );
    for p in &files {
        let data = std::fs::read(p).expect("read a corpus file");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&data)));
        assert!(
            r.is_ok(),
            "{} broke an invariant (see the panic above)",
            p.display()
        );
    }
    files.len()
}

#[test]
fn lesson_corpus_parses_or_is_refused_without_panic() {
    each("lesson", 16, |d| {
        fromscratch::fuzzing::lesson(d);
    });
    // The seeds copied from lessons/ are accepted through the same harness: it reaches
    // every check of a real lesson, not only the first refusal.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/lesson");
    for n in 1..=16 {
        let seed = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .find(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("seed-{n:02}-"))
            })
            .unwrap_or_else(|| panic!("no seed for lesson {n:02}: run python3 fuzz/seeds.py"));
        assert!(
            fromscratch::fuzzing::lesson(&std::fs::read(seed.path()).unwrap()),
            "{} is refused",
            seed.path().display()
        );
    }
}

#[test]
fn recipe_corpus_parses_or_is_refused_without_panic() {
    each("recipe", 5, |d| {
        fromscratch::fuzzing::recipe(d);
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/recipe");
    for name in ["seed-host.toml", "seed-busybox.toml", "seed-debian.toml"] {
        assert!(
            fromscratch::fuzzing::recipe(&std::fs::read(dir.join(name)).unwrap()),
            "{name} is refused"
        );
    }
}

/// A recipe whose `archive` is a FIFO or `/dev/zero` is parsed at once: the archive's
/// hash is only read from a regular file (it once read /dev/zero for ever, and blocked on
/// a FIFO until a writer came).
#[test]
fn a_recipe_archive_that_is_a_fifo_or_a_device_does_not_hang_the_parse() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    for archive in [fifo.to_str().unwrap(), "/dev/zero"] {
        let text = format!(
            "format_version = 1\nname = \"img\"\ndescription = \"d\"\n[builder]\nkind = \"oci-archive\"\narchive = \"{archive}\"\n"
        );
        let r = fromscratch::rootfs::parse_recipe(&text, &dir.path().join("r.toml")).unwrap();
        match r.builder {
            fromscratch::rootfs::Builder::OciArchive(p) => {
                assert_eq!(p.archive, Path::new(archive));
                assert_eq!(p.archive_sha256, "", "a non-regular file has no hash");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn unpack_corpus_never_writes_outside_the_tree() {
    let n = each("unpack", 20, |d| {
        let _ = fromscratch::fuzzing::unpack(d);
    });
    assert!(n >= 20);
}

/// The crafted layers of `fuzz/seeds.py` meet the guards they were written for: the real
/// result of each, not only "no panic".
#[test]
fn crafted_layers_are_refused_or_confined() {
    let seed = |name: &str| {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus/unpack")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    for ext in ["tar", "tar.gz"] {
        fromscratch::fuzzing::unpack(&seed(&format!("seed-normal.{ext}")))
            .expect("a normal layer unpacks");
        let e = fromscratch::fuzzing::unpack(&seed(&format!("seed-dotdot.{ext}"))).unwrap_err();
        assert!(e.contains("`..` component"), "{e}");
        let e = fromscratch::fuzzing::unpack(&seed(&format!("seed-absolute.{ext}"))).unwrap_err();
        assert!(e.contains("absolute path"), "{e}");
        let e = fromscratch::fuzzing::unpack(&seed(&format!("seed-hardlink-outside.{ext}")))
            .unwrap_err();
        assert!(e.contains("hard link"), "{e}");
        // Written inside the tree (the sentinel check in `unpack` proves nothing went out);
        // the self-referencing `d/loop` ends it with ELOOP-like refusal or an error.
        let _ = fromscratch::fuzzing::unpack(&seed(&format!("seed-symlink-then-write.{ext}")));
        fromscratch::fuzzing::unpack(&seed(&format!("seed-devices-fifo.{ext}")))
            .expect("device nodes and FIFOs are skipped, not refused");
    }
}

/// The same corpus unpacked by an ordinary user (`FROMSCRATCH_TEST_UID`, else nobody), where
/// the unpacker takes its rootless path (no chown, setuid bits cleared) and a layer's mode-0
/// directories stop even their owner: this test binary, copied where the user can run it,
/// runs `unpack_corpus_never_writes_outside_the_tree` under setpriv on a copy of the corpus.
#[test]
fn unpack_corpus_as_a_user_never_writes_outside_the_tree() {
    use std::os::unix::fs::PermissionsExt;
    let uid = common::test_user();
    let (dir, _) = common::user_dir("fromscratch-fuzz-user-", &["tmp"], uid, uid);
    let exe = dir.path().join("fuzz_regressions");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut copied = 0;
    for sub in ["corpus", "artifacts"] {
        let to = dir.path().join("fuzz").join(sub).join("unpack");
        std::fs::create_dir_all(&to).unwrap();
        let from = fuzz_dir().join(sub).join("unpack");
        for e in std::fs::read_dir(&from).into_iter().flatten() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            copied += 1;
        }
    }
    for d in [
        "fuzz",
        "fuzz/corpus",
        "fuzz/corpus/unpack",
        "fuzz/artifacts",
        "fuzz/artifacts/unpack",
    ] {
        std::fs::set_permissions(dir.path().join(d), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }
    assert!(copied >= 20, "{copied} inputs copied");
    let out = Command::new("setpriv")
        .args([
            format!("--reuid={uid}"),
            format!("--regid={uid}"),
            "--clear-groups".to_string(),
        ])
        .arg(&exe)
        .args([
            "--exact",
            "unpack_corpus_never_writes_outside_the_tree",
            "--nocapture",
        ])
        .env("FROMSCRATCH_FUZZ_DIR", dir.path().join("fuzz"))
        .env("TMPDIR", dir.path().join("tmp"))
        .current_dir("/")
        .output()
        .expect("run setpriv");
    let (stdout, stderr) = common::text(&out);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "as uid {uid}: {stdout}\n{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path().join("tmp")).unwrap().collect();
    assert!(left.is_empty(), "scratch directories left: {left:?}");
}
