#!/usr/bin/env python3
"""Time whole runs of a short command, many times: start to exit.

    store-time.py --out JSON --runs N [--warmup K] [--stdout FILE]
                  [--timeout S] [--name NAME] [--label TEXT]
                  [--target SECONDS] [--stat median|single] -- COMMAND...

Runs COMMAND K times untimed, then N times timed, one after the other
(stdin /dev/null, stdout to FILE, truncated for each run (default
/dev/null), stderr inherited). Each run is timed with time.monotonic from
just before posix_spawn to the end of waitpid: process creation, exec,
dynamic linking, the work and the exit, as a shell user sees it. No GNU
time or shell sits in between (store.sh's targets are a few milliseconds).
A run longer than S seconds is killed and counts as exit 124.

Writes JSON: name, label, target_s, stat, cmd, runs (seconds), rcs, and
median, p90, min, max. Prints one progress line on stderr.
"""

import argparse
import json
import os
import signal
import statistics
import sys
import threading
import time


def pct(values, p):
    """The p-th percentile (nearest rank) of values."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, -(-len(v) * p // 100) - 1))
    return v[k]


def run_once(cmd, stdout, timeout):
    """(rc, seconds) of one run."""
    fa = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
          (os.POSIX_SPAWN_OPEN, 1, stdout,
           os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
    killed = threading.Event()
    t0 = time.monotonic()
    pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=fa)

    def kill():
        killed.set()
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    timer = threading.Timer(timeout, kill)
    timer.start()
    _, status = os.waitpid(pid, 0)
    secs = time.monotonic() - t0
    timer.cancel()
    if killed.is_set():
        return 124, secs
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status), secs
    return 128 + os.WTERMSIG(status), secs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--stdout", default="/dev/null")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--name", default="")
    ap.add_argument("--label", default="")
    ap.add_argument("--target", type=float)
    ap.add_argument("--stat", default="median", choices=("median", "single"))
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd or a.runs < 1:
        ap.error("need a COMMAND and --runs >= 1")
    for _ in range(a.warmup):
        run_once(cmd, a.stdout, a.timeout)
    runs, rcs = [], []
    for _ in range(a.runs):
        rc, secs = run_once(cmd, a.stdout, a.timeout)
        runs.append(secs)
        rcs.append(rc)
    ok = [s for s, rc in zip(runs, rcs) if rc == 0]
    res = {"name": a.name, "label": a.label, "target_s": a.target,
           "stat": a.stat, "cmd": cmd, "runs": runs, "rcs": rcs,
           "ok_runs": len(ok)}
    if ok:
        res.update(median=statistics.median(ok), p90=pct(ok, 90),
                   min=min(ok), max=max(ok))
    with open(a.out, "w") as fp:
        json.dump(res, fp, indent=1)
        fp.write("\n")
    if ok:
        print("store: %-34s median %9.4f s  p90 %9.4f s  (%d/%d ok)" % (
            a.label or a.name, res["median"], res["p90"], len(ok), a.runs),
            file=sys.stderr)
    else:
        print("store: %-34s FAILED: exit %s" % (a.label or a.name, rcs[0]),
              file=sys.stderr)
    return 0 if len(ok) == a.runs else 1


if __name__ == "__main__":
    sys.exit(main())
