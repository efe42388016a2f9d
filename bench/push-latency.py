#!/usr/bin/env python3
"""Push latency: how soon after Postfix accepted a mail mailctld announces
it, against the floor, a minimal imaplib client idling on the same mailbox.

    push-latency.py --port P --user U --password PW [--tls --ca-file PEM]
        --smtp-port SP --mails N --interval S --results TSV --mode M
        --rep R [--mailctl BIN --socket S --account NAME --daemon-pid PID]
        [--no-floor] [--wait S]

Both watchers are on the same INBOX at once:
  - mailctld (with --mailctl): `mailctl watch --json`, subscribed before
    the first mail; a reader thread stamps each line with time.monotonic()
    as it reads it, and the new_mail event of the account whose subject is
    the mail's marks its arrival (it must say "via": "idle");
  - the floor (unless --no-floor): a second login, imaplib (--tls: IMAPS,
    the certificate checked against --ca-file), SELECT INBOX, then IDLE;
    a reader thread stamps each "* N EXISTS": mail k has arrived once N
    reaches the count SELECT gave plus k.

Then N+1 mails go through Postfix, one smtplib connection (AUTH PLAIN on
--smtp-port, no TLS), one at a time: mail 0 is a warm-up (not in the
figures), and each mail is sent only when both watchers have seen the one
before and --interval seconds have passed. A latency runs from the return
of sendmail() (Postfix has queued it) to the arrival; a watcher that has
not seen a mail within --wait seconds fails it.

Appends one line per mail and watcher to the results file, in the format
of fetchlib.sh: mode tool phase rep status seconds count rss_kb note, with
tool "mailctld" or "floor", phase "warm" (mail 0) or "rep", count the mail's
number and rss_kb the daemon's VmHWM at the end (mailctld's lines). Prints
one JSON line: the medians in ms. Exits 1 when some mail was missed.
"""

import imaplib
import json
import os
import re
import smtplib
import ssl
import statistics
import sys
import threading
import time
import uuid

from benchlib import proc_status_kb, watch_start
from rawlib import arg_parser

EXISTS = re.compile(rb"^\* (\d+) EXISTS")


class Arrivals:
    """What the reader threads saw, each with the time it was read."""

    def __init__(self):
        self.cond = threading.Condition()
        self.events = {}        # subject -> (time, via), mailctld's
        self.exists = []        # (time, count), the floor's
        self.failed = None      # a reader's error
        self.stopping = False   # the end: a closed watch is no error

    def add(self, fn):
        with self.cond:
            fn()
            self.cond.notify_all()

    def floor_time(self, count):
        """When the floor's EXISTS first reached count, or None."""
        for t, n in self.exists:
            if n >= count:
                return t
        return None


def floor_start(a, arr):
    """Log in, select INBOX, enter IDLE; a thread records EXISTS. Returns
    (imap, tag of the IDLE, EXISTS after SELECT, thread)."""
    if a.tls:
        ctx = ssl.create_default_context(cafile=a.ca_file)
        imap = imaplib.IMAP4_SSL(a.host, a.port, ssl_context=ctx)
    else:
        imap = imaplib.IMAP4(a.host, a.port)
    imap.login(a.user, a.password)
    typ, data = imap.select("INBOX")
    if typ != "OK":
        raise OSError("SELECT INBOX: %s" % data)
    start = int(data[0])
    # imaplib (before Python 3.14) has no IDLE: sent by hand, its
    # responses read with imaplib's own reader.
    tag = imap._new_tag()
    imap.send(tag + b" IDLE\r\n")
    line = imap.readline()
    if not line.startswith(b"+"):
        raise OSError("IDLE refused: %r" % line)

    def read():
        try:
            while True:
                line = imap.readline()
                t = time.monotonic()
                if not line:
                    raise OSError("the floor's connection closed")
                if line.startswith(tag):
                    return
                m = EXISTS.match(line)
                if m:
                    arr.add(lambda: arr.exists.append((t, int(m.group(1)))))
        except OSError as e:
            arr.add(lambda: setattr(arr, "failed", "floor: %s" % e))

    th = threading.Thread(target=read, daemon=True)
    th.start()
    return imap, tag, start, th


def mailctld_start(a, arr):
    """Subscribe with `mailctl watch --json`; a thread records the account's
    new_mail events. Returns the watch process."""
    watch = watch_start([a.mailctl, "--socket", a.socket])
    if watch is None:
        raise OSError("mailctl watch did not subscribe")

    def read():
        fd = watch.stdout.fileno()
        buf = b""
        while True:
            chunk = os.read(fd, 65536)
            t = time.monotonic()
            if not chunk:
                if not arr.stopping:
                    arr.add(lambda: setattr(
                        arr, "failed", arr.failed or "mailctl watch ended"))
                return
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                ev = json.loads(line)
                if ev.get("type") == "new_mail" and \
                        ev.get("account") == a.account:
                    arr.add(lambda ev=ev: arr.events.setdefault(
                        ev.get("subject", ""), (t, ev.get("via"))))

    threading.Thread(target=read, daemon=True).start()
    return watch


def main():
    ap = arg_parser(__doc__)
    ap.add_argument("--smtp-port", type=int, required=True)
    ap.add_argument("--mails", type=int, required=True)
    ap.add_argument("--interval", type=float, default=0.6)
    ap.add_argument("--wait", type=float, default=10)
    ap.add_argument("--results", required=True)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--rep", type=int, default=1)
    ap.add_argument("--mailctl")
    ap.add_argument("--socket")
    ap.add_argument("--account")
    ap.add_argument("--daemon-pid", type=int, default=0)
    ap.add_argument("--no-floor", action="store_true")
    a = ap.parse_args()

    arr = Arrivals()
    floor = None if a.no_floor else floor_start(a, arr)
    watch = mailctld_start(a, arr) if a.mailctl else None
    token = uuid.uuid4().hex[:10]
    smtp = smtplib.SMTP(a.host, a.smtp_port, timeout=30)
    smtp.ehlo("bench.test")
    smtp.login(a.user, a.password)
    addr = "%s@mail.test" % a.user
    lat = {"mailctld": [], "floor": []}   # per mail: seconds or a reason
    for k in range(a.mails + 1):
        subject = "push %s %d" % (token, k)
        smtp.sendmail(addr, [addr], "From: %s\r\nTo: %s\r\nSubject: %s\r\n"
                      "Message-ID: <%s.%d@bench.test>\r\n\r\npush %d\r\n" % (
                          addr, addr, subject, token, k, k))
        sent = time.monotonic()

        def seen():
            return ((watch is None or subject in arr.events) and
                    (floor is None or
                     arr.floor_time(floor[2] + k + 1) is not None) or
                    arr.failed is not None)

        with arr.cond:
            arr.cond.wait_for(seen, timeout=a.wait)
            if watch is not None:
                t, via = arr.events.get(subject, (None, None))
                lat["mailctld"].append(
                    "not announced within %g s" % a.wait if t is None else
                    "announced via %s, not idle" % via if via != "idle" else
                    t - sent)
            if floor is not None:
                t = arr.floor_time(floor[2] + k + 1)
                lat["floor"].append(
                    "no EXISTS within %g s" % a.wait if t is None else
                    t - sent)
            if arr.failed:
                break
        time.sleep(a.interval)
    smtp.quit()
    if floor is not None:
        imap, tag, _, th = floor
        imap.send(b"DONE\r\n")
        th.join(10)
        imap.logout()
    if watch is not None:
        arr.stopping = True
        watch.kill()
        watch.wait()

    hwm = proc_status_kb(a.daemon_pid, "VmHWM") if a.daemon_pid else None
    missed = 0
    summary = {"mails": a.mails}
    with open(a.results, "a") as out:
        for tool, vals in lat.items():
            for k, v in enumerate(vals):
                ok = not isinstance(v, str)
                missed += not ok
                out.write("\t".join(str(x) for x in (
                    a.mode, tool, "warm" if k == 0 else "rep", a.rep,
                    "ok" if ok else "failed", "%.6f" % v if ok else "", k,
                    (hwm or "") if tool == "mailctld" else "",
                    "" if ok else v)) + "\n")
            good = [v for v in vals[1:] if not isinstance(v, str)]
            if good:
                summary[tool + "_median_ms"] = round(
                    statistics.median(good) * 1000, 1)
    if arr.failed:
        summary["error"] = arr.failed
    print(json.dumps(summary))
    return 1 if missed or arr.failed else 0


if __name__ == "__main__":
    sys.exit(main())
