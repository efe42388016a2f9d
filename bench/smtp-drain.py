#!/usr/bin/env python3
"""Time how long mailctld takes to drain its outbox after `queue flush`.

    smtp-drain.py --mailctl BIN --socket S --mails N [--timeout T] [--pid PID]

Subscribes with `mailctl --socket S watch --json` first, then runs
`mailctl --socket S queue --json flush` and reads the event stream until
it has seen a `sent` event for every mail that was queued. The daemon
announces `sent` only once the server accepted the mail and the daemon
filed it into Sent, so the last one marks the end of the drain. Events
cost the daemon one line per mail; polling `queue --json` (as an earlier
version of this script did) cost it a whole listing of the queue per poll
and slowed the very thing measured.

The figure is from just before spawning `queue flush` to the reading of
the last `sent` event: it includes the flush client and the event's trip
through the watch client, so it errs against mailctld. Afterwards
`queue --json` must print an empty list.

Prints one JSON line: seconds, flushed (what queue flush reported),
events (sent events seen), the seconds at which half of the mails had
gone, and the daemon's largest VmRSS sampled along the way (--pid). Exits
1 when the flush fails, when a queued mail is announced `deferred` or
`send_failed` (the server refused or the session broke), when the queue is
not empty at the end, or at the timeout (default 600 s); the reason is on
stderr and in the JSON as "error".
"""

import argparse
import json
import os
import select
import subprocess
import sys
import time

from benchlib import proc_status_kb, watch_start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mailctl", required=True)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--mails", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--pid", type=int, default=0)
    a = ap.parse_args()
    mc = [a.mailctl, "--socket", a.socket]
    res = {"mails": a.mails}
    watch = None

    def fail(msg):
        res["error"] = msg
        print("smtp-drain: " + msg, file=sys.stderr)
        print(json.dumps(res))
        if watch is not None:
            watch.kill()
        return 1

    p = subprocess.run(mc + ["queue", "--json"], capture_output=True)
    if p.returncode != 0:
        return fail("queue --json before the flush: exit %d: %s" % (
            p.returncode, p.stderr.decode(errors="replace").strip()))
    queued = {m["id"] for m in json.loads(p.stdout)}
    if len(queued) != a.mails:
        return fail("%d mails queued, expected %d" % (len(queued), a.mails))

    watch = watch_start(mc)
    if watch is None:
        return fail("mailctl watch did not subscribe")

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

    fd = watch.stdout.fileno()
    buf = b""
    sent = set()
    half = None
    peak_rss = None
    while len(sent) < len(queued):
        left = a.timeout - (time.monotonic() - t0)
        if left <= 0:
            res["left"] = len(queued) - len(sent)
            return fail("%d mails not sent after %.0f s" % (
                res["left"], a.timeout))
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return fail("mailctl watch ended (the daemon went away?)")
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            ev = json.loads(line)
            if ev.get("id") not in queued:
                continue
            if ev.get("type") in ("deferred", "send_failed"):
                return fail("message %s %s after the flush: %s" % (
                    ev.get("id"), ev["type"], ev.get("reply")))
            if ev.get("type") == "sent":
                sent.add(ev["id"])
        now = time.monotonic()
        if half is None and len(sent) >= a.mails / 2:
            half = now - t0
        if a.pid:
            r = proc_status_kb(a.pid, "VmRSS")
            if r is not None and (peak_rss is None or r > peak_rss):
                peak_rss = r
    res["seconds"] = round(now - t0, 6)
    res["events"] = len(sent)
    res["half_s"] = round(half, 3) if half is not None else None
    if peak_rss is not None:
        res["rss_kb"] = peak_rss
    watch.kill()
    watch.wait()
    watch = None
    p = subprocess.run(mc + ["queue", "--json"], capture_output=True)
    if p.returncode != 0 or json.loads(p.stdout) != []:
        return fail("the queue is not empty after every mail was announced "
                    "sent: %s" % p.stdout.decode(errors="replace")[:200])
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
