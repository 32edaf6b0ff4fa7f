#!/usr/bin/env bash
# Every benchmark of issue 8, in one run: `sudo benches/run.sh` from a fresh clone.
#
# Each figure is printed as a ratio against its peer measured in the same run (same
# machine, same rootfs, same command, minutes apart), and everything goes into a
# Markdown report, target/bench/report.md. Medians throughout.
#
#   1. container start: fromscratch spawn vs unshare+chroot, bubblewrap, runc (host and
#      debian rootfs), with the cost of the lab's guard shown apart;
#   2. a lesson step's round trip (benches/step.rs, in-process) and whole lessons;
#   3. the REPL: start to first prompt, peak resident memory (benches/repl.py, a pty);
#   4. rootfs builds: host cold and cached; debian vs bare mmdebstrap and debootstrap
#      (benches/rootfs.sh; network-bound, ROOTFS_ROUNDS rounds, default 2; SKIP_ROOTFS=1
#      leaves it out);
#   5. scale: 1, 10 and 100 live containers in one lab (benches/scale.rs).
#
# Needs root. Installs hyperfine, bubblewrap, runc, mmdebstrap and debootstrap with apt
# when missing. Everything it makes lives under target/ (the rootfs cache the spawn
# figures use, target/bench-cache, kept between runs) or in temporary directories removed
# on exit; runc keeps its state in one of those (--root), never in /run/runc. At the end
# it checks that the host's mounts, runc state and cgroups are as they were and that
# `fromscratch cleanup --check` finds nothing left.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/sbin:/sbin

if [ "$(id -u)" != 0 ]; then
  echo "benches/run.sh needs root (namespaces, mounts, runc): run it with sudo" >&2
  exit 3
fi

need=()
for t in hyperfine:hyperfine bwrap:bubblewrap runc:runc mmdebstrap:mmdebstrap debootstrap:debootstrap; do
  command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]} (apt)"
  apt-get install -y -q "${need[@]}" >/dev/null
fi

B=$PWD/target/release/fromscratch
REPORT_DIR=$PWD/target/bench
mkdir -p "$REPORT_DIR"
echo "== building (release)"
cargo build --release -q
cargo bench --no-run -q --bench step --bench scale 2>/dev/null ||
  cargo bench --no-run --bench step --bench scale
# The same binary linked statically and not position-independent: no shared libraries to
# load and no relocations at start (the profile: the dynamic build's start is the gap to
# unshare+chroot, not its syscalls). crt-static forbids proc-macros on the host target,
# so it is built for the host's triple named explicitly, into its own directory.
HOST_TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
echo "== building (release, static, $HOST_TRIPLE)"
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
  cargo build --release -q --target "$HOST_TRIPLE" --target-dir target/static
BS=$PWD/target/static/$HOST_TRIPLE/release/fromscratch

export FROMSCRATCH_CACHE=${FROMSCRATCH_CACHE:-$PWD/target/bench-cache}
export NO_COLOR=1
WORK=$(mktemp -d /var/tmp/fromscratch-bench.XXXXXX)
export FROMSCRATCH_RUN=$WORK/run XDG_STATE_HOME=$WORK/state
mkdir -p "$FROMSCRATCH_RUN" "$XDG_STATE_HOME"
RUNC_ROOT=$WORK/runc-state
RUNC_CGROUP=/fromscratch-bench-runc
cleanup() {
  # runc's own state and cgroups: `runc run` (not detached) deletes its container when
  # the command exits; a run killed midway leaves one, removed here.
  runc --root "$RUNC_ROOT" delete --force fsbench >/dev/null 2>&1 || true
  awk -v w="$WORK/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The host before: mount points, runc's state directory, cgroup directories.
host_state() {
  awk '{ print $5 }' /proc/self/mountinfo | sort
  echo "-- /run/runc"
  ls -A /run/runc 2>/dev/null || true
  echo "-- cgroups named like ours"
  find /sys/fs/cgroup -maxdepth 3 -type d -name 'fromscratch-bench*' 2>/dev/null | sort
}
host_state >"$WORK/host-before"

OUT=$WORK/out
mkdir -p "$OUT"
{
  echo "date $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "cpus $(nproc)"
  echo "cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "kernel $(uname -r)"
  echo "os $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "tools $(hyperfine --version); $(bwrap --version); runc $(runc --version | head -1 | awk '{print $3}'); $(unshare --version)"
} >"$OUT/machine"

echo "== rootfs: host and debian in $FROMSCRATCH_CACHE (debian: mmdebstrap, ~1 min the first time)"
H=$("$B" rootfs build host | tail -n 1)
D=$("$B" rootfs build debian | tail -n 1)
# A copy of the host tree outside the cache: fromscratch gives a tree of its own (not the
# shared cache) no read-only guard, no minimal /dev and no UTS guard, so spawn on it shows
# what that safety work costs.
P=$WORK/plain-host
cp -a "$H/." "$P/"

# runc bundles: `runc spec`, then the closest equivalent of the others (see the report).
bundle() {
  local dir=$1 root=$2
  mkdir -p "$dir"
  runc spec --bundle "$dir"
  python3 - "$dir/config.json" "$root" "$RUNC_CGROUP" <<'PY'
import json, sys
path, root, cg = sys.argv[1:]
c = json.load(open(path))
c["root"] = {"path": root, "readonly": True}
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c.pop("hostname", None)
c["mounts"] = [m for m in c["mounts"] if m["destination"] in ("/proc", "/dev")]
lx = c["linux"]
lx["namespaces"] = [{"type": t} for t in ("pid", "mount", "uts")]
lx.pop("maskedPaths", None)
lx.pop("readonlyPaths", None)
lx["cgroupsPath"] = cg
json.dump(c, open(path, "w"), indent=1)
PY
}
bundle "$WORK/runc-host" "$H"
bundle "$WORK/runc-debian" "$D"

RUNS=${RUNS:-200}
start_bench() {
  local name=$1 R=$2
  local -a extra=()
  if [ "$name" = host ]; then
    extra=(-n "spawn, no guard" "$B spawn --pid --mount-proc --rootfs $P -- /bin/true"
      -n "spawn, static build" "$BS spawn --pid --mount-proc --rootfs $R -- /bin/true")
  fi
  hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$OUT/start-$name.json" \
    -n "chroot" "chroot $R /bin/true" \
    -n "unshare+chroot" "unshare --pid --fork --mount-proc=$R/proc chroot $R /bin/true" \
    -n "spawn" "$B spawn --pid --mount-proc --rootfs $R -- /bin/true" \
    "${extra[@]}" \
    -n "bwrap" "bwrap --unshare-pid --unshare-uts --die-with-parent --ro-bind $R / --dev /dev --proc /proc /bin/true" \
    -n "runc" "runc --root $RUNC_ROOT run --bundle $WORK/runc-$name fsbench" >/dev/null
}
echo "== container start, /bin/true, $RUNS runs each: host rootfs"
start_bench host "$H"
echo "== container start, /bin/true, $RUNS runs each: debian rootfs"
start_bench debian "$D"

echo "== a lesson step's round trip (benches/step.rs: lessons 02 and 04, 30 rounds)"
"$(ls -t target/release/deps/step-* | grep -v '\.d$' | head -1)" 30 02 04 >"$OUT/step.txt"
echo "== whole lessons unattended (fromscratch run NN --yes), 20 runs each"
hyperfine -N --warmup 2 --runs 20 --export-json "$OUT/lesson.json" \
  -n "run 02" "$B run 02 --yes" \
  -n "run 04" "$B run 04 --yes" >/dev/null

echo "== the REPL: start to first prompt on a pty, peak memory (benches/repl.py, 50 runs)"
python3 benches/repl.py "$B" 50 >"$OUT/repl.txt"
echo quit >"$WORK/quit"
hyperfine --warmup 10 --runs 100 --style none --export-json "$OUT/repl.json" \
  -n "repl, stdin piped" "$B < $WORK/quit" >/dev/null

echo "== scale: 1, 10, 100 live containers in one lab (benches/scale.rs, 3 rounds each)"
"$(ls -t target/release/deps/scale-* | grep -v '\.d$' | head -1)" 3 1 10 100 >"$OUT/scale.txt"

if [ "${SKIP_ROOTFS:-0}" != 1 ]; then
  echo "== rootfs builds (benches/rootfs.sh, ${ROOTFS_ROUNDS:-2} round(s); network-bound)"
  ROUNDS=${ROOTFS_ROUNDS:-2} RESULTS=$OUT/rootfs.txt benches/rootfs.sh | sed 's/^/   /'
fi

echo "== the host afterwards"
host_state >"$WORK/host-after"
if diff "$WORK/host-before" "$WORK/host-after" >"$OUT/host-diff"; then
  echo "host ok: same mounts, /run/runc as before, no cgroup of ours left" >"$OUT/host"
else
  echo "host CHANGED:" >"$OUT/host"
  cat "$OUT/host-diff" >>"$OUT/host"
fi
if "$B" cleanup --check >"$OUT/cleanup" 2>&1; then
  echo "fromscratch cleanup --check: exit 0 (nothing left)" >>"$OUT/host"
else
  echo "fromscratch cleanup --check: exit $? — $(cat "$OUT/cleanup")" >>"$OUT/host"
fi
cat "$OUT/host"

python3 benches/report.py "$OUT" "$REPORT_DIR/report.md"
echo
echo "report: $REPORT_DIR/report.md"
