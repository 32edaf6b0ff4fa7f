#!/usr/bin/env python3
"""benches/run.sh's last part: read the raw results of one run (OUT), print each figure
with its ratio against its peer and the issue's target, and write the Markdown report.
Usage: python3 benches/report.py OUT REPORT.md
"""
import json, os, sys

out, report = sys.argv[1], sys.argv[2]


def read(name):
    p = os.path.join(out, name)
    return open(p).read() if os.path.exists(p) else None


def hyper(name):
    d = json.load(open(os.path.join(out, name)))
    return {r["command"]: r for r in d["results"]}


machine = dict(l.split(" ", 1) for l in read("machine").splitlines())
ms = lambda r: r["median"] * 1000
lines = []  # Markdown
say = []  # terminal
verdicts = []


def target(ok, text):
    verdicts.append(("met" if ok else "MISSED", text))


lines += [
    "# Benchmark report",
    "",
    f"{machine['date']}, commit {machine['commit']}: {machine['cpus']} CPUs ({machine['cpu']}), "
    f"kernel {machine['kernel']}, {machine['os']}. Tools: {machine['tools']}.",
    "",
    "All figures are medians, measured in this one run by `sudo benches/run.sh`; each ratio is",
    "against its peer measured minutes apart on the same machine, rootfs and command.",
    "",
    "## Container start",
    "",
    "`/bin/true` in a new PID and mount namespace with a fresh `/proc`, on a cached rootfs;",
    "hyperfine, no shell, the whole command from exec to exit.",
    "",
    "| peer | host rootfs | ratio (spawn / peer) | debian rootfs | ratio (spawn / peer) |",
    "|---|---|---|---|---|",
]
starts = {n: hyper(f"start-{n}.json") for n in ("host", "debian")}
for peer in ("spawn", "spawn, no guard", "spawn, static build", "unshare+chroot", "bwrap", "runc", "chroot"):
    cells = []
    for n in ("host", "debian"):
        s = starts[n]
        if peer not in s:
            cells += ["", ""]
            continue
        v = ms(s[peer])
        cells += [f"{v:.2f} ms", "" if peer == "spawn" else f"{ms(s['spawn']) / v:.2f}x"]
    lines.append(f"| `{peer}` | " + " | ".join(cells) + " |")
for n in ("host", "debian"):
    s = starts[n]
    sp, un, rc, bw = ms(s["spawn"]), ms(s["unshare+chroot"]), ms(s["runc"]), ms(s["bwrap"])
    say.append(
        f"start ({n}): spawn {sp:.2f} ms; unshare+chroot {un:.2f} ms (spawn/unshare {sp / un:.2f}x); "
        f"bwrap {bw:.2f} ms (spawn/bwrap {sp / bw:.2f}x); runc {rc:.2f} ms (runc/spawn {rc / sp:.1f}x)"
    )
    target(sp <= un, f"spawn no slower than unshare+chroot ({n}): {sp / un:.2f}x")
    target(rc >= 5 * sp, f"spawn at least 5x faster than runc ({n}): {rc / sp:.1f}x")
g = starts["host"]
if "spawn, no guard" in g:
    cost = ms(g["spawn"]) - ms(g["spawn, no guard"])
    say.append(f"  the lab's guard (read-only bind, minimal /dev, UTS namespace) costs {cost:.2f} ms per start")
    lines += ["", f"The lab's guard costs {cost:.2f} ms per start here (`spawn` minus `spawn, no guard`, host rootfs)."]
if "spawn, static build" in g:
    st, un = ms(g["spawn, static build"]), ms(g["unshare+chroot"])
    say.append(f"  the static build: spawn {st:.2f} ms, {st / un:.2f}x unshare+chroot (host rootfs)")
    target(st <= un, f"static build no slower than unshare+chroot (host): {st / un:.2f}x")
    lines += ["", f"Linked statically (no shared libraries, no relocations at start), the same spawn takes {st:.2f} ms: {st / un:.2f}x unshare+chroot (host rootfs)."]
lines += [
    "",
    "What each does, beyond the common work (fork, new PID and mount namespaces, a fresh",
    "procfs, change root, exec):",
    "",
    "- `spawn`: `fromscratch spawn --pid --mount-proc --rootfs R -- /bin/true`. On a tree",
    "  of the rootfs cache it adds the lab's guard: a UTS namespace, the tree bound",
    "  read-only, a minimal `/dev` (tmpfs, six device nodes bound from the host);",
    "  `PR_SET_PDEATHSIG` in both processes; `/` made private; a syscall trace read over a",
    "  pipe; chroot.",
    "- `spawn, no guard`: the same on a copy of the host tree outside the cache (a tree of",
    "  the user's own): no read-only bind, no `/dev`, no UTS namespace.",
    "- `spawn, static build`: `spawn` (with the guard) from a binary built with",
    "  `RUSTFLAGS='-C target-feature=+crt-static -C relocation-model=static' cargo build",
    "  --release --target HOST-TRIPLE`: glibc linked in, no PIE, so the loader maps no",
    "  library and applies no relocation (the default build applies about 19,000 at every",
    "  start). It is not the default: it gives up address randomisation of the binary.",
    "- `unshare+chroot`: `unshare --pid --fork --mount-proc=R/proc chroot R /bin/true`",
    "  (util-linux): `/` made private, no guard, no `/dev`; two programs exec'd before",
    "  `true` (unshare, chroot).",
    "- `bwrap`: `bwrap --unshare-pid --unshare-uts --die-with-parent --ro-bind R / --dev",
    "  /dev --proc /proc /bin/true` (bubblewrap, as root, so no user namespace): a tmpfs",
    "  root and `pivot_root`, R bound read-only, a `/dev` tmpfs with device nodes and",
    "  `/dev/pts`, `/dev/shm`; its own PID 1 that reaps and a second process for the",
    "  command; `no_new_privs`.",
    "- `runc`: `runc --root STATE run --bundle B fsbench` on a bundle from `runc spec`,",
    "  `root.path` R read-only, `/bin/true`, no terminal, namespaces pid, mount and uts",
    "  (network, ipc and cgroup removed), mounts `/proc` and `/dev` only (the rest and",
    "  masked/read-only paths removed); what runc does anyway: a cgroup on every v1",
    "  hierarchy (and the v2 one) with the device rules, created and removed each run,",
    "  `pivot_root`, default devices, capabilities, rlimits, `no_new_privs`, its state",
    "  files, and the re-exec of `runc init`. A foreground `runc run` deletes its",
    "  container when the command exits, so one id serves every run.",
    "- `chroot`: `chroot R /bin/true`, no namespaces (for scale).",
]

# Steps.
lines += ["", "## A lesson step", ""]
steps = [l.split() for l in read("step.txt").splitlines()]
lines += [
    "`Runner::run_step` on each step, in process (benches/step.rs, 30 rounds, a fresh lab",
    "each round): before probes, action, after probes, diff, rendering into a buffer.",
    "",
    "| lesson | step | action | median | min | max |",
    "|---|---|---|---|---|---|",
]
plain = []
for s in steps:
    if s[0] == "step":
        _, lesson, sid, kind, med, lo, hi = s
        lines.append(f"| {lesson} | {sid} | {kind} | {float(med):.2f} ms | {float(lo):.2f} ms | {float(hi):.2f} ms |")
        if "challenge" not in kind:
            plain.append((float(med), f"{lesson} {sid}"))
    elif s[0] == "lookup":
        lines.append(f"| {s[1]} | (rootfs cache lookup, before step 1) | | {float(s[2]):.2f} ms | | |")
worst = max(plain)
plain_sorted = sorted(m for m, _ in plain)
med_step = plain_sorted[len(plain_sorted) // 2]
say.append(f"step (no challenge): median {med_step:.2f} ms, slowest {worst[0]:.2f} ms ({worst[1]}); target 15 ms")
target(worst[0] < 15, f"every step under 15 ms (slowest {worst[1]}: {worst[0]:.2f} ms)")
lines += [
    "",
    "A challenge step's time is mostly the lab typing its reference solution into a shell",
    "and waiting for quiet (10 ms) after each line, as a learner's terminal would; the",
    "target (15 ms) is for the other steps.",
]
les = hyper("lesson.json")
lines += ["", "Whole lessons, unattended (`fromscratch run NN --yes`, hyperfine, 20 runs):", ""]
for name, n in (("run 02", 5), ("run 04", 7)):
    v = ms(les[name])
    lines.append(f"- `{name} --yes`: {v:.0f} ms ({n} steps, process start and teardown included)")
    say.append(f"lesson {name[-2:]} unattended: {v:.0f} ms for {n} steps")

# REPL.
r = read("repl.txt").split()
t_med, t_min, base, rss_med, rss_max = map(float, r[1:])
piped = ms(hyper("repl.json")["repl, stdin piped"])
say.append(
    f"REPL: first prompt on a pty {t_med:.2f} ms (harness baseline {base:.2f} ms); "
    f"start+quit with stdin piped {piped:.2f} ms; peak RSS {rss_med / 1024:.1f} MiB"
)
target(t_med < 25, f"REPL start to first prompt under 25 ms: {t_med:.2f} ms")
target(rss_max < 15 * 1024, f"REPL under 15 MB resident: {rss_max / 1024:.1f} MiB peak")
lines += [
    "",
    "## The REPL",
    "",
    f"- start to first prompt on a pseudo-terminal (benches/repl.py, 50 runs): {t_med:.2f} ms",
    f"  median, {t_min:.2f} ms best; the same harness running `printf` takes {base:.2f} ms;",
    f"- start, prompt, `quit` with stdin piped (hyperfine, shell subtracted): {piped:.2f} ms;",
    f"- peak resident memory (ru_maxrss): {rss_med / 1024:.1f} MiB median, {rss_max / 1024:.1f} MiB max.",
]

# Scale.
lines += [
    "",
    "## Scale",
    "",
    "One lab, a pause container and N members (benches/scale.rs, 3 runs each): each member",
    "joins the pause container's network, IPC and UTS namespaces, makes its own PID and",
    "mount namespaces with a fresh `/proc`, and runs `sleep`; one lesson step starts each.",
    "",
    "| members | start, per member | start, all | memory per member (Pss) | (VmRSS) | the lab's VmRSS | teardown | processes |",
    "|---|---|---|---|---|---|---|---|",
]
for l in read("scale.txt").splitlines():
    _, n, per, tot, pss, rss, lab, down, procs = l.split()
    lines.append(
        f"| {n} | {float(per):.1f} ms | {float(tot):.0f} ms | {float(pss):.0f} KiB | {float(rss):.0f} KiB | "
        f"{float(lab) / 1024:.1f} MiB | {float(down):.0f} ms | {procs} |"
    )
    say.append(f"scale {n}: {float(per):.1f} ms per member to start, {float(pss):.0f} KiB Pss per member, teardown {float(down):.0f} ms")
lines += [
    "",
    "Start per member is a whole lesson step (trace, rendering, checks); teardown runs from",
    "the count's answer to the lab's exit. Pss divides each shared page among the processes",
    "that map it (proc(5)); VmRSS counts it in each. Processes: those carrying the lab's",
    "mark (the pause container's init and each member's PID 1); the process between the",
    "lab and each PID 1 (it relays the exit status, as `unshare --fork` does) is a fork",
    "of the lab, unmarked and not in these sums.",
]

# Rootfs.
rf = read("rootfs.txt")
if rf:
    f = dict(l.split() for l in rf.splitlines())
    deb, mm, db = float(f["debian"]), float(f["mmdebstrap"]), float(f["debootstrap"])
    cold, hit = float(f["host_cold"]), float(f["host_hit"])
    lines += [
        "",
        "## Rootfs builds",
        "",
        f"benches/rootfs.sh, {f['rounds']} round(s), each build downloading its packages from",
        "deb.debian.org (network-bound: compare within one run only).",
        "",
        "| build | time | ratio |",
        "|---|---|---|",
        f"| `debian` recipe (mmdebstrap + smoke check) | {deb:.1f} s | {deb / mm:.2f}x bare mmdebstrap, {deb / db:.2f}x bare debootstrap |",
        f"| bare `mmdebstrap --variant=minbase`, same packages | {mm:.1f} s | |",
        f"| bare `debootstrap --variant=minbase`, same packages | {db:.1f} s | {db / mm:.2f}x mmdebstrap |",
        f"| `host` recipe, cold | {cold:.2f} s | |",
        f"| `host` recipe, cache hit (whole process) | {hit * 1000:.1f} ms | {cold / hit:.0f}x faster than cold |",
    ]
    say.append(
        f"rootfs: debian {deb:.1f} s = {deb / mm:.2f}x mmdebstrap ({mm:.1f} s), {deb / db:.2f}x debootstrap ({db:.1f} s); "
        f"host cold {cold:.2f} s, cache hit {hit * 1000:.1f} ms"
    )

lines += ["", "## Targets (issue 8)", ""]
lines += [f"- {v}: {t}" for v, t in verdicts]
lines += ["", "## The host afterwards", "", "```", read("host").rstrip(), "```", ""]
open(report, "w").write("\n".join(lines))

print()
print("\n".join(say))
print()
for v, t in verdicts:
    print(f"target {v}: {t}")
