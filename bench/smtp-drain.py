#!/usr/bin/env python3
"""Time how long mailctld takes to drain its outbox after `queue flush`.

    smtp-drain.py --mailctl BIN --socket S --mails N [--interval 0.02]
                  [--timeout T] [--pid PID]

Runs `mailctl --socket S queue --json flush` and, from just before it was
spawned, polls `mailctl --socket S queue --json` every INTERVAL seconds
(default 0.02: the sleep between the end of one poll and the start of the
next) until it prints an empty list. A mail leaves that list only once the
server accepted it and the daemon filed it into Sent, so an empty list
means every mail went out.

The figure is from just before spawning `queue flush` to the end of the
first poll that saw the empty list: it includes the flush client, the
last poll and up to one interval of waiting, so it errs against mailctld.

Prints one JSON line: seconds, flushed (what queue flush reported), polls,
the median and largest duration of one poll in ms, the seconds at which
half of the mails had left, and the daemon's VmRSS at its largest among
the polls (--pid). Exits 1 when the flush fails, when a mail turns
"failed" or is deferred again (attempts went up: the server refused or
the session broke), or at the timeout (default 600 s); the reason is on
stderr and in the JSON as "error".
"""

import argparse
import json
import statistics
import subprocess
import sys
import time


def vmrss(pid):
    try:
        with open("/proc/%d/status" % pid) as fp:
            for line in fp:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mailctl", required=True)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--mails", type=int, required=True)
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--pid", type=int, default=0)
    a = ap.parse_args()
    mc = [a.mailctl, "--socket", a.socket]
    res = {"mails": a.mails}

    def fail(msg):
        res["error"] = msg
        print("smtp-drain: " + msg, file=sys.stderr)
        print(json.dumps(res))
        return 1

    # Each mail's attempts before the flush: one more means it was tried
    # again and did not go (deferred anew).
    p = subprocess.run(mc + ["queue", "--json"], capture_output=True)
    if p.returncode != 0:
        return fail("queue --json before the flush: exit %d: %s" % (
            p.returncode, p.stderr.decode(errors="replace").strip()))
    before = {m["id"]: m.get("attempts", 0) for m in json.loads(p.stdout)}

    t0 = time.monotonic()
    # Options go before the sub-command: `queue flush --json` is refused
    # (the client parses "+jh" and stops at "flush").
    p = subprocess.run(mc + ["queue", "--json", "flush"], capture_output=True)
    if p.returncode != 0:
        return fail("queue flush: exit %d: %s" % (
            p.returncode, p.stderr.decode(errors="replace").strip()))
    try:
        res["flushed"] = json.loads(p.stdout).get("flushed")
    except ValueError:
        res["flushed"] = None
    polls = []
    half = None
    peak_rss = None
    while True:
        t = time.monotonic()
        p = subprocess.run(mc + ["queue", "--json"], capture_output=True)
        now = time.monotonic()
        polls.append(now - t)
        if a.pid:
            r = vmrss(a.pid)
            if r is not None and (peak_rss is None or r > peak_rss):
                peak_rss = r
        if p.returncode != 0:
            return fail("queue --json: exit %d: %s" % (
                p.returncode, p.stderr.decode(errors="replace").strip()))
        items = json.loads(p.stdout)
        if half is None and len(items) <= a.mails / 2:
            half = now - t0
        if not items:
            break
        for m in items:
            if m.get("state") == "failed" or (
                    m.get("state") == "deferred" and
                    m.get("attempts", 0) > before.get(m.get("id"), 0)):
                res["left"] = len(items)
                return fail("message %s %s after the flush: %s" % (
                    m.get("id"), m.get("state"), m.get("last_error")))
        if now - t0 > a.timeout:
            res["left"] = len(items)
            return fail("%d mails still queued after %.0f s" % (
                len(items), a.timeout))
        time.sleep(a.interval)
    res["seconds"] = round(now - t0, 6)
    res["polls"] = len(polls)
    res["poll_ms_median"] = round(statistics.median(polls) * 1000, 2)
    res["poll_ms_max"] = round(max(polls) * 1000, 2)
    res["half_s"] = round(half, 3) if half is not None else None
    if peak_rss is not None:
        res["rss_kb"] = peak_rss
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
