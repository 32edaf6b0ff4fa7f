#!/usr/bin/env python3
"""The REPL on a terminal: time from start to its first prompt, and its peak memory.

Starts `fromscratch` (no arguments: the REPL) on a pseudo-terminal RUNS times; each
time, measures from just before the fork to the moment `fromscratch> ` arrives, types
`quit`, and takes the process's peak resident set (ru_maxrss from wait4(2)). The same
harness runs `printf 'fromscratch> '` as a baseline: its time is the harness's own
(pty.fork, exec, a dynamically linked program's start), printed so the figure can be
read net of it. Usage (as root, from the repo):
    python3 benches/repl.py target/release/fromscratch [RUNS]
Prints: `repl MEDIAN_MS MIN_MS BASELINE_MEDIAN_MS MAXRSS_KIB_MEDIAN MAXRSS_KIB_MAX`.
"""
import os, pty, select, shutil, statistics, sys, tempfile, time

binary = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 50
PROMPT = b"fromscratch> "


def once(argv, env):
    t0 = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(env)
        os.execv(argv[0], argv)
    buf = b""
    done = 0
    end = time.time() + 30
    while PROMPT not in buf:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                buf += os.read(fd, 65536)
            except OSError:
                break
        if time.time() > end:
            os.kill(pid, 9)
            sys.exit(f"timed out waiting for the prompt; got {buf[-300:]!r}")
    t = (time.perf_counter() - t0) * 1000
    try:
        os.write(fd, b"quit\r")
    except OSError:
        pass  # the baseline has exited already
    # Drain until the child is gone (a pty whose reader stops can block the writer).
    while True:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                if not os.read(fd, 65536):
                    break
            except OSError:
                break
        done, status, ru = os.wait4(pid, os.WNOHANG)
        if done:
            break
    if not done:
        _, status, ru = os.wait4(pid, 0)
    os.close(fd)
    return t, ru.ru_maxrss


run_dir = tempfile.mkdtemp(prefix="fs-bench-run-")
state_dir = tempfile.mkdtemp(prefix="fs-bench-state-")
env = dict(NO_COLOR="1", FROMSCRATCH_RUN=run_dir, XDG_STATE_HOME=state_dir, TERM="xterm")
try:
    once([binary], env)  # warm the page cache
    times, rss = [], []
    for _ in range(runs):
        t, m = once([binary], env)
        times.append(t)
        rss.append(m)
    printf = shutil.which("printf") or "/usr/bin/printf"
    base = [once([printf, "fromscratch> "], env)[0] for _ in range(runs)]
    print(f"repl {statistics.median(times):.2f} {min(times):.2f} {statistics.median(base):.2f} "
          f"{statistics.median(rss):.0f} {max(rss)}")
finally:
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(state_dir, ignore_errors=True)
