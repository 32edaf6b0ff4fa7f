#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (fuzz/corpus/TARGET/), from real inputs.

- lesson: every lessons/*.toml and the lesson fixtures of tests/fixtures/;
- recipe: every rootfs-recipes/*.toml, plus one oci-archive recipe (the image builders);
- unpack: small image layers crafted here with Python's tarfile, each a tar and a gzip'd
  tar: a normal tree; `../` entries; absolute paths; a symlink then a write through it
  (relative, absolute, to `..` and to the sentinel beside the tree); a hard link to a path
  outside; a character and a block device; a FIFO; very long names (GNU and PAX);
  whiteouts and an opaque directory; a file then a directory of the same name.

Run from anywhere: `python3 fuzz/seeds.py`. It rewrites only the seed files it names
(seed-*), never what a fuzz run added to the corpora.
"""

import gzip
import io
import pathlib
import shutil
import tarfile

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent


def entry(name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644, **kw):
    return (name, kind, data, link, mode, kw)


def layer(entries, fmt=tarfile.GNU_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, kind, data, link, mode, kw in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.mode = mode
            info.linkname = link
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            info.mtime = 1_700_000_000
            for k, v in kw.items():
                setattr(info, k, v)
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return buf.getvalue()


D, F, SYM, HARD = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE

LAYERS = {
    "normal": [
        entry("./", D, mode=0o755),
        entry("etc/", D, mode=0o755),
        entry("etc/passwd", F, b"root:x:0:0:root:/root:/bin/sh\n"),
        entry("bin/", D, mode=0o755),
        entry("bin/sh", F, b"\x7fELF", mode=0o755),
        entry("bin/ash", HARD, link="bin/sh"),
        entry("usr/bin/env", SYM, link="/bin/sh"),
        entry("ro/", D, mode=0o555),
        entry("ro/file", F, b"read-only dir\n"),
        entry("setuid", F, b"x", mode=0o4755, uid=1000, gid=1000),
    ],
    "dotdot": [
        entry("a/", D),
        entry("a/../../escape", F, b"outside\n"),
        entry("../outside/file", F, b"overwritten\n"),
    ],
    "absolute": [
        entry("/tmp/fromscratch-fuzz-absolute", F, b"host\n"),
        entry("/etc/", D),
    ],
    "symlink-then-write": [
        entry("up", SYM, link="../outside"),
        entry("up/file", F, b"through a relative link\n"),
        entry("abs", SYM, link="/tmp"),
        entry("abs/fromscratch-fuzz-escape", F, b"through an absolute link\n"),
        entry("dots", SYM, link="../../../../../../.."),
        entry("dots/tmp/fromscratch-fuzz-escape", F, b"through .. x7\n"),
        entry("d/", D),
        entry("d/loop", SYM, link="loop"),
        entry("d/loop/x", F, b"ELOOP\n"),
    ],
    "symlink-then-same-name": [
        entry("x", SYM, link="../outside/file"),
        entry("x", F, b"written over the symlink, not through it\n"),
        entry("y", SYM, link="/proc/self/cwd/../outside/file"),
        entry("y", HARD, link="x"),
    ],
    "symlink-dir-then-file": [
        entry("etc", SYM, link="../outside/dir"),
        entry("etc/passwd", F, b"root\n"),
        entry("etc", D),
        entry("etc/shadow", F, b"x\n"),
    ],
    "hardlink-outside": [
        entry("h1", HARD, link="../outside/file"),
        entry("h2", HARD, link="/etc/passwd"),
        entry("s", SYM, link="../outside"),
        entry("h3", HARD, link="s/file"),
        entry("h4", HARD, link="s"),
    ],
    "devices-fifo": [
        entry("dev/", D),
        entry("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666),
        entry("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0, mode=0o660),
        entry("dev/fifo", tarfile.FIFOTYPE),
        entry("dev/cont", tarfile.CONTTYPE, b""),
    ],
    "long-names": [
        entry("d" * 100 + "/", D),
        entry("d" * 100 + "/" + "f" * 200, F, b"long\n"),
        entry("x" * 255, SYM, link="y" * 4000),
        entry("z" * 300, F, b"name over NAME_MAX\n"),
    ],
    "whiteouts": [
        entry("etc/", D),
        entry("etc/gone", F, b"x"),
        entry("etc/.wh.gone", F),
        entry("opt/", D),
        entry("opt/.wh..wh..opq", F),
        entry(".wh..wh.plnk/1.2", F),
    ],
    "whiteout-of-dot": [
        entry("x/", D),
        entry("x/.wh..", F),
    ],
    "too-deep": [
        entry("/".join(["n"] * 600), F, b"deep\n"),
    ],
    "file-then-dir": [
        entry("a", F, b"file\n"),
        entry("a/b", F, b"under a file\n"),
    ],
    "mode-0-dir": [
        entry("c/", D, mode=0),
        entry("c/d", F, b"in a mode-0 dir\n"),
        entry("c/e/", D, mode=0o555),
        entry("c/e/f", F, b"in a read-only dir\n", mode=0),
    ],
}


def main():
    unpack = FUZZ / "corpus" / "unpack"
    unpack.mkdir(parents=True, exist_ok=True)
    for name, entries in LAYERS.items():
        fmt = tarfile.PAX_FORMAT if name == "long-names" else tarfile.GNU_FORMAT
        raw = layer(entries, fmt)
        (unpack / f"seed-{name}.tar").write_bytes(raw)
        (unpack / f"seed-{name}.tar.gz").write_bytes(gzip.compress(raw, mtime=0))

    lesson = FUZZ / "corpus" / "lesson"
    lesson.mkdir(parents=True, exist_ok=True)
    for src in sorted((ROOT / "lessons").glob("*.toml")):
        shutil.copyfile(src, lesson / f"seed-{src.name}")
    for src in sorted((ROOT / "tests" / "fixtures").glob("*.toml")):
        shutil.copyfile(src, lesson / f"seed-fixture-{src.name}")

    recipe = FUZZ / "corpus" / "recipe"
    recipe.mkdir(parents=True, exist_ok=True)
    for src in sorted((ROOT / "rootfs-recipes").glob("*.toml")):
        shutil.copyfile(src, recipe / f"seed-{src.name}")
    (recipe / "seed-oci.toml").write_text(
        'format_version = 1\nname = "img"\ndescription = "an image"\n'
        'smoke = ["/bin/true"]\n\n[builder]\nkind = "oci-archive"\n'
        'archive = "/dev/zero"\nimage = "alpine:3"\n'
    )


if __name__ == "__main__":
    main()
