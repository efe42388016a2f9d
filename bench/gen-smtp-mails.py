#!/usr/bin/env python3
"""Generate the deterministic mails that bench/smtp-send.sh sends.

    gen-smtp-mails.py --out DIR --mails N [--size BYTES] [--attach-bytes B]
                      [--from ADDR] [--to ADDR] [--seed S]

Writes, for i = 1..N:

  DIR/body/NNNNNN.txt   the body text, for `mailctl send --body-file`
                        (mailctld composes the header itself)
  DIR/eml/NNNNNN.eml    a complete RFC 5322 message with that same body and
                        the header mailctld would write (Date, From, To,
                        Subject, Message-ID, MIME-Version, User-Agent,
                        Content-Type, Content-Transfer-Encoding), for
                        smtplib and msmtp
  DIR/subjects          one subject a line (line i is mail i's): always
                        "Bench mail I of N", so a shell can make it too

so every tool puts the same bytes on the wire, give or take a few header
characters. A body is plain ASCII lines of at most 76 characters (mailctld
sends it as 7bit, without re-encoding) with some lines that start with "."
and a lone "." line, so the dot stuffing of every client is exercised. Its
length is chosen so that the whole message comes to about BYTES (default
10,240) with LF line ends.

With --attach-bytes B (the bigmsg scenario; N must be 1) the generator
also writes DIR/attach.bin, B random bytes, and makes eml/000001.eml a
multipart/mixed message with that file as a base64 attachment, the way
`mailctl send --attach` does.

Everything comes from random.Random(seed): the same arguments always give
byte-identical files. The tree is built in DIR.tmp-PID and renamed into
place, with DIR.json (the parameters and sizes) written last: a DIR with a
matching DIR.json is complete and is reused as is.
"""

import argparse
import base64
import json
import os
import random
import shutil
import sys
import time

VERSION = 1

WORDS = (
    "the of and to in is that for it as was with be by on not this are or "
    "from at which but have an they you were there been one all we their "
    "has would when if so no will more other its into time only could new "
    "them some these than first two may any like then such over our after "
    "most also made many before must through back years where much your "
    "way well down should because each just those people how too little "
    "state good very make world still own see work long get here between "
    "both life being under never day same another know while last might "
    "great old year off come since against go came right used take three "
    "outbox queue relay submission envelope recipient sender transaction "
    "greeting handshake certificate deferred retry pipelining durable"
).split()


def text_lines(rng, size):
    """About size bytes of LF-terminated ASCII lines, each <= 76 chars."""
    out = []
    n = 0
    i = 0
    while n < size:
        words = []
        width = 0
        limit = rng.randint(30, 72)
        while width < limit:
            w = rng.choice(WORDS)
            words.append(w)
            width += len(w) + 1
        line = " ".join(words)[:76]
        i += 1
        if i % 29 == 0:
            line = "." + line[:75]      # dot-stuffed on the wire
        elif i % 61 == 0:
            line = "."                  # a lone dot
        elif i % 17 == 0:
            line = ""
        out.append(line + "\n")
        n += len(line) + 1
    text = "".join(out)
    # Trim to the size asked for, at a line end.
    if len(text) > size:
        cut = text.rfind("\n", 0, size)
        text = text[:cut + 1] if cut > 0 else text[:size - 1] + "\n"
    return text


def header(i, seed, sender, rcpt, subject, extra):
    """The header mailctld writes for such a mail (compose.c)."""
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000",
                         time.gmtime(1790000000 + i))
    mid = "<%032x@mail.test>" % random.Random(seed * 1000003 + i).getrandbits(128)
    lines = ["Date: " + date, "From: " + sender, "To: " + rcpt,
             "Subject: " + subject, "Message-ID: " + mid,
             "MIME-Version: 1.0", "User-Agent: smtp-send.sh/%d" % VERSION]
    lines.extend(extra)
    return "\n".join(lines) + "\n\n"


def build(tmp, a):
    os.makedirs(os.path.join(tmp, "body"))
    os.makedirs(os.path.join(tmp, "eml"))
    rng = random.Random(a.seed)
    subjects = []
    total_eml = 0
    total_body = 0
    for i in range(1, a.mails + 1):
        subject = "Bench mail %d of %d" % (i, a.mails)
        subjects.append(subject)
        name = "%06d" % i
        if a.attach_bytes:
            boundary = "=_bench_%032x" % rng.getrandbits(128)
            head = header(i, a.seed, a.sender, a.rcpt, subject, [
                'Content-Type: multipart/mixed; boundary="%s"' % boundary])
            body = text_lines(rng, 1000)
        else:
            head = header(i, a.seed, a.sender, a.rcpt, subject, [
                "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: 7bit"])
            body = text_lines(rng, max(a.size - len(head), 200))
        with open(os.path.join(tmp, "body", name + ".txt"), "w") as fp:
            fp.write(body)
        total_body += len(body)
        with open(os.path.join(tmp, "eml", name + ".eml"), "wb") as fp:
            if not a.attach_bytes:
                fp.write((head + body).encode())
                total_eml += len(head) + len(body)
                continue
            # The attachment is written and encoded in pieces: a 20 MiB
            # file must not need 50 MiB of this script's memory.
            n = 0
            att_path = os.path.join(tmp, "attach.bin")
            with open(att_path, "wb") as att:
                left = a.attach_bytes
                while left > 0:
                    chunk = rng.randbytes(min(left, 57 * 16384))
                    att.write(chunk)
                    left -= len(chunk)
            parts = [head,
                     "--%s\nContent-Type: text/plain; charset=utf-8\n"
                     "Content-Transfer-Encoding: 7bit\n\n" % boundary, body,
                     "\n--%s\nContent-Type: application/octet-stream; "
                     "name=\"attach.bin\"\nContent-Disposition: attachment; "
                     "filename=\"attach.bin\"\n"
                     "Content-Transfer-Encoding: base64\n\n" % boundary]
            for p in parts:
                fp.write(p.encode())
                n += len(p)
            with open(att_path, "rb") as att:
                while True:
                    chunk = att.read(57 * 16384)
                    if not chunk:
                        break
                    enc = base64.encodebytes(chunk)
                    fp.write(enc)
                    n += len(enc)
            tail = "\n--%s--\n" % boundary
            fp.write(tail.encode())
            total_eml += n + len(tail)
    with open(os.path.join(tmp, "subjects"), "w") as fp:
        fp.write("\n".join(subjects) + "\n")
    return total_eml, total_body


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--mails", type=int, default=1000)
    ap.add_argument("--size", type=int, default=10240)
    ap.add_argument("--attach-bytes", type=int, default=0)
    ap.add_argument("--from", dest="sender", default="bench@mail.test")
    ap.add_argument("--to", dest="rcpt", default="rcpt@mail.test")
    ap.add_argument("--seed", type=int, default=20261122)
    a = ap.parse_args()
    if a.mails < 1 or a.size < 1024:
        ap.error("need --mails >= 1 and --size >= 1024")
    if a.attach_bytes and a.mails != 1:
        ap.error("--attach-bytes needs --mails 1")

    params = {"version": VERSION, "mails": a.mails, "size": a.size,
              "attach_bytes": a.attach_bytes, "from": a.sender,
              "to": a.rcpt, "seed": a.seed}
    out = os.path.abspath(a.out)
    meta = out + ".json"
    try:
        with open(meta) as fp:
            old = json.load(fp)
        if old.get("params") == params and os.path.isdir(out):
            return 0
    except (OSError, ValueError):
        pass
    shutil.rmtree(out, ignore_errors=True)
    if os.path.exists(meta):
        os.unlink(meta)
    tmp = "%s.tmp-%d" % (out, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.monotonic()
    total_eml, total_body = build(tmp, a)
    os.rename(tmp, out)
    with open(meta + ".tmp", "w") as fp:
        json.dump({"params": params, "eml_bytes": total_eml,
                   "body_bytes": total_body,
                   "attach_bytes": a.attach_bytes}, fp, indent=1)
        fp.write("\n")
    os.rename(meta + ".tmp", meta)
    print("gen-smtp-mails: %d mail%s, %.1f KiB on average, in %.1f s -> %s"
          % (a.mails, "" if a.mails == 1 else "s",
             total_eml / a.mails / 1024, time.monotonic() - t0, out),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
