#!/usr/bin/env bash
# Benchmarks: each figure is a ratio measured in one run, against its peer on the same
# rootfs and command. Run as root from the repository: `sudo benches/run.sh`.
# Needs hyperfine (Debian package `hyperfine`); installs it when missing and root.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v hyperfine >/dev/null; then
  apt-get install -y -q hyperfine >/dev/null
fi
cargo build --release -q
B=$PWD/target/release/fromscratch
export FROMSCRATCH_CACHE=${FROMSCRATCH_CACHE:-$PWD/target/bench-cache}
export FROMSCRATCH_RUN=$(mktemp -d)
trap 'rm -rf "$FROMSCRATCH_RUN"' EXIT
export NO_COLOR=1
R=$("$B" rootfs build host | tail -n 1)
OUT=$(mktemp -d)

echo "== container start: PID + mount namespaces, fresh /proc, /bin/true, on the host rootfs"
hyperfine -N --warmup 20 --runs 300 --export-json "$OUT/spawn.json" \
  -n "chroot" "chroot $R /bin/true" \
  -n "unshare+chroot" "unshare --pid --fork --mount-proc=$R/proc chroot $R /bin/true" \
  -n "fromscratch spawn" "$B spawn --pid --mount-proc --rootfs $R -- /bin/true" >/dev/null

echo "== a whole lesson, unattended (02-chroot, 5 steps; 04-pid-namespace, 7 steps; each ends"
echo "   with the lab typing its challenge's solution)"
hyperfine -N --warmup 3 --runs 30 --export-json "$OUT/lesson.json" \
  -n "run 02" "$B run 02 --yes" \
  -n "run 04" "$B run 04 --yes" >/dev/null

echo "== REPL start to first prompt and quit (stdin piped)"
hyperfine --warmup 10 --runs 200 --export-json "$OUT/repl.json" \
  -n "repl" "echo quit | $B" >/dev/null
rss=$( { echo quit | /usr/bin/time -f '%M' "$B" >/dev/null; } 2>&1 | tail -n 1)

python3 - "$OUT" "$rss" <<'PY'
import json, sys
out, rss = sys.argv[1], int(sys.argv[2])
def load(n):
    return {r["command"]: r for r in json.load(open(f"{out}/{n}.json"))["results"]}
s = load("spawn"); l = load("lesson"); r = load("repl")
ms = lambda x: x["median"] * 1000
c, u, f = ms(s["chroot"]), ms(s["unshare+chroot"]), ms(s["fromscratch spawn"])
print(f"spawn (median of 300): chroot {c:.2f} ms, unshare+chroot {u:.2f} ms, fromscratch spawn {f:.2f} ms")
print(f"  fromscratch spawn / (unshare --pid --fork --mount-proc + chroot) = {f/u:.2f}x")
r2, r4 = ms(l["run 02"]), ms(l["run 04"])
print(f"lesson 02 (5 steps): {r2:.0f} ms = {r2/5:.1f} ms per step; lesson 04 (7 steps): {r4:.0f} ms = {r4/7:.1f} ms per step")
print(f"REPL start to prompt and quit: {ms(r['repl']):.1f} ms (median), max RSS {rss/1024:.1f} MiB")
PY

echo "== watching a challenge shell (the REPL's CPU while the learner's shell idles)"
python3 benches/challenge_watch.py "$B" 10
