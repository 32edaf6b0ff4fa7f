#!/usr/bin/env bash
# Rootfs build times on this machine: the `debian` recipe (fromscratch, which runs
# mmdebstrap and then the recipe's smoke check) against bare mmdebstrap and bare
# debootstrap on the same suite and package set; then the `host` recipe cold and a cache
# hit. Run as root from the repository: `sudo benches/rootfs.sh` (network, ~3 minutes).
#
# RESULTS=FILE also writes the medians there (benches/run.sh reads them).
# ROUNDS=N repeats the three Debian builds N times, interleaved (default 1). Each build
# downloads its packages afresh (no tool shares a package cache with another), so the
# network is most of what these numbers measure: compare them within one run only.
# Everything made here lives under one directory in /var/tmp (not /tmp, which may be
# mounted noexec: pitfall R2) that is removed on exit, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "benches/rootfs.sh needs root (debootstrap and mmdebstrap --mode=root): run it with sudo" >&2
  exit 3
fi
for tool in mmdebstrap debootstrap unshare; do
  if ! PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null; then
    echo "$tool is not installed: install the Debian package \`$tool\` (util-linux for unshare)" >&2
    exit 3
  fi
done
export PATH=$PATH:/usr/sbin:/sbin

SUITE=bookworm
MIRROR=http://deb.debian.org/debian
INCLUDE=python3,procps,iproute2,iputils-ping
ROUNDS=${ROUNDS:-1}
HOST_RUNS=5
HIT_RUNS=20

cargo build --release -q
B=$PWD/target/release/fromscratch

WORK=$(mktemp -d /var/tmp/fromscratch-bench.XXXXXX)
cleanup() {
  # Never delete through a mount a killed tool left behind: unmount first, deepest first.
  awk -v w="$WORK/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export FROMSCRATCH_CACHE=$WORK/cache NO_COLOR=1

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m }'; }

# run NAME LOG CMD...: time CMD (output to LOG); on failure show the log's end and stop.
run() {
  local name=$1 log=$2 t0
  shift 2
  t0=$(now)
  if ! "$@" >"$log" 2>&1; then
    echo "$name failed; its last lines:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  since "$t0"
}

echo "== $(nproc) CPUs; $(mmdebstrap --version); debootstrap $(dpkg-query -W -f='${Version}' debootstrap)"
echo "== Debian $SUITE minbase + $INCLUDE from $MIRROR, $ROUNDS round(s)"
# The bare tools run in a private mount namespace, as fromscratch runs them, so a killed
# run cannot leave proc or sys mounted on the host; that costs about a millisecond.
declare -a T_FS T_MM T_DB
for ((r = 1; r <= ROUNDS; r++)); do
  T_FS+=("$(run "fromscratch rootfs build debian" "$WORK/fs.log" "$B" rootfs build debian --force)")
  "$B" rootfs rm debian >/dev/null
  echo "  round $r: fromscratch debian recipe ${T_FS[-1]} s"

  T_MM+=("$(run "mmdebstrap" "$WORK/mm.log" unshare --mount --propagation private -- \
    mmdebstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$WORK/mm" "$MIRROR")")
  rm -rf --one-file-system "$WORK/mm"
  echo "  round $r: bare mmdebstrap          ${T_MM[-1]} s"

  T_DB+=("$(run "debootstrap" "$WORK/db.log" unshare --mount --propagation private -- \
    debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$WORK/db" "$MIRROR")")
  rm -rf --one-file-system "$WORK/db"
  echo "  round $r: bare debootstrap         ${T_DB[-1]} s"
done

echo "== host recipe: cold (empty cache, then --force) x$HOST_RUNS, cache hit x$HIT_RUNS"
declare -a T_HOST T_HIT
T_HOST+=("$(run "fromscratch rootfs build host" "$WORK/host.log" "$B" rootfs build host)")
for ((i = 2; i <= HOST_RUNS; i++)); do
  T_HOST+=("$(run "fromscratch rootfs build host --force" "$WORK/host.log" "$B" rootfs build host --force)")
done
for ((i = 1; i <= HIT_RUNS; i++)); do
  T_HIT+=("$(run "fromscratch rootfs build host (cached)" "$WORK/hit.log" "$B" rootfs build host)")
done
grep -q '^cached: ' "$WORK/hit.log" || { echo "the last host build was not a cache hit" >&2; exit 1; }

fs=$(printf '%s\n' "${T_FS[@]}" | median)
mm=$(printf '%s\n' "${T_MM[@]}" | median)
db=$(printf '%s\n' "${T_DB[@]}" | median)
host=$(printf '%s\n' "${T_HOST[@]}" | median)
hit=$(printf '%s\n' "${T_HIT[@]}" | median)
echo "== results (median)"
awk -v fs="$fs" -v mm="$mm" -v db="$db" -v host="$host" -v hit="$hit" -v n="$ROUNDS" 'BEGIN {
  printf "debian recipe (fromscratch: mmdebstrap + smoke check): %7.1f s  (%.2fx bare mmdebstrap, %.2fx bare debootstrap)\n", fs, fs / mm, fs / db
  printf "bare mmdebstrap:                                       %7.1f s\n", mm
  printf "bare debootstrap:                                      %7.1f s  (%.2fx mmdebstrap)\n", db, db / mm
  printf "host recipe, cold:                                     %7.2f s\n", host
  printf "host recipe, cache hit:                                %7.1f ms\n", hit * 1000
}'
# For benches/run.sh's report: the medians, one `name seconds` a line.
if [ -n "${RESULTS:-}" ]; then
  printf 'rounds %s\ndebian %s\nmmdebstrap %s\ndebootstrap %s\nhost_cold %s\nhost_hit %s\n' \
    "$ROUNDS" "$fs" "$mm" "$db" "$host" "$hit" >"$RESULTS"
fi
