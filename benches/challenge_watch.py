#!/usr/bin/env python3
"""The lab's own CPU while a learner's challenge shell sits idle at its prompt.

The REPL watches the session (to see the goal reached the moment it is), so it polls
while the shell is open; this measures what that costs. Usage (as root, from the repo):
    python3 benches/challenge_watch.py target/release/fromscratch [SECONDS]
Drives the REPL on a pseudo-terminal: `start 4`, `run` (up to the challenge), `shell`,
then reads the REPL's utime+stime from /proc/PID/stat over SECONDS (default 10).
"""
import os, pty, select, shutil, sys, tempfile, time

binary = sys.argv[1]
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
run_dir = tempfile.mkdtemp(prefix="fs-bench-run-")
state_dir = tempfile.mkdtemp(prefix="fs-bench-state-")
pid, fd = pty.fork()
if pid == 0:
    os.environ.update(NO_COLOR="1", FROMSCRATCH_RUN=run_dir, XDG_STATE_HOME=state_dir, TERM="xterm")
    os.execv(binary, [binary])
buf = b""


def expect(s, t=120):
    global buf
    end = time.time() + t
    while s.encode() not in buf:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            buf += os.read(fd, 65536)
        if time.time() > end:
            sys.exit(f"timed out waiting for {s!r}")
    buf = buf[buf.index(s.encode()) + len(s):]


def line(s):
    os.write(fd, (s + "\r").encode())


def cpu(p):
    f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


try:
    expect("fromscratch> ")
    line("start 4")
    expect("] > ")
    line("run")
    expect("7/7] > ")
    line("shell")
    expect("# ")
    n = len([d for d in os.listdir("/proc") if d.isdigit()])
    c0, t0 = cpu(pid), time.time()
    time.sleep(seconds)
    c1, t1 = cpu(pid), time.time()
    print(f"challenge shell idle for {t1 - t0:.0f} s, {n} processes on the host: "
          f"the lab used {100 * (c1 - c0) / (t1 - t0):.1f}% of one core")
    line("exit")
    expect("7/7] > ")
    line("quit")
    os.waitpid(pid, 0)
finally:
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(state_dir, ignore_errors=True)
