#!/usr/bin/env python3
"""Send mails over ONE SMTP connection with Python's smtplib: the floor.

    smtplib-send.py --port P --user U --password PW --ca-file CA
                    --from ADDR --to ADDR [--host H] [--limit N]
                    [--warm-up] FILE_OR_DIR...

Reads every message first (the files named, or every *.eml of each
directory, in name order) - that is not timed. Then, timed: connect, EHLO,
STARTTLS (certificate checked against CA), EHLO, AUTH (smtplib's login:
PLAIN here), one MAIL/RCPT/DATA transaction per message, QUIT. smtplib
waits for each reply in turn and converts LF line ends to CRLF and
dot-stuffs each message itself, as any client must.

Prints one JSON line: {"sent": n, "seconds": s, "bytes": b} where seconds
is time.monotonic() from just before connecting to QUIT's reply (Python's
own start-up and reading the files are left out). Exit 1 if the server
refused anything.

--warm-up only connects, does STARTTLS and AUTH, and quits, so that the
server has its processes running and its TLS and auth caches filled before
a timed run (sends nothing).
"""

import argparse
import json
import os
import smtplib
import ssl
import sys
import time


def load(paths, limit):
    files = []
    for p in paths:
        if os.path.isdir(p):
            files.extend(os.path.join(p, f) for f in sorted(os.listdir(p))
                         if f.endswith(".eml"))
        else:
            files.append(p)
    if limit:
        files = files[:limit]
    msgs = []
    for f in files:
        with open(f, "rb") as fp:
            msgs.append(fp.read())
    return msgs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--ca-file", required=True)
    ap.add_argument("--from", dest="sender", required=True)
    ap.add_argument("--to", dest="rcpt", required=True)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--warm-up", action="store_true")
    ap.add_argument("paths", nargs="*")
    a = ap.parse_args()

    msgs = [] if a.warm_up else load(a.paths, a.limit)
    if not a.warm_up and not msgs:
        print("smtplib-send: no messages", file=sys.stderr)
        return 2
    ctx = ssl.create_default_context(cafile=a.ca_file)
    sent = 0
    nbytes = 0
    t0 = time.monotonic()
    smtp = smtplib.SMTP(a.host, a.port, timeout=a.timeout)
    try:
        smtp.ehlo("bench.mail.test")
        smtp.starttls(context=ctx)
        smtp.ehlo("bench.mail.test")
        smtp.login(a.user, a.password)
        for m in msgs:
            refused = smtp.sendmail(a.sender, [a.rcpt], m)
            if refused:
                print("smtplib-send: refused: %r" % refused, file=sys.stderr)
                return 1
            sent += 1
            nbytes += len(m)
        smtp.quit()
    except (smtplib.SMTPException, OSError) as e:
        print("smtplib-send: after %d mails: %s" % (sent, e), file=sys.stderr)
        return 1
    secs = time.monotonic() - t0
    print(json.dumps({"sent": sent, "seconds": round(secs, 6),
                      "bytes": nbytes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
