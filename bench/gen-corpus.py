#!/usr/bin/env python3
"""Generate a deterministic corpus of RFC 5322 messages for the benchmarks.

    gen-corpus.py --out DIR --messages N --total-mb M
                  [--min-bytes A] [--max-bytes B] [--seed S]

Writes N files DIR/000001.eml ... (LF line ends, as in any Maildir) whose
sizes lie between A and B bytes (default 2 KiB .. 1 MiB) and add up to about
M MiB. Sizes follow a skewed log-uniform law: size = A * (B/A) ** (u ** k)
with u uniform in [0, 1); k is chosen by bisection so that the total comes
out at M MiB (k = 1 is plain log-uniform, whose mean, ~168 KiB for the
default range, is far above what 5,000 messages in 200 MiB allow). Many small
messages and a tail up to B, like a real mailbox.

Messages of 16 KiB and more carry, with probability 0.4 (--attach-prob),
a base64 attachment of random bytes making up most of their size
(multipart/mixed); the others are text/plain. Text bodies include lines
starting with "." so that clients' dot-unstuffing is exercised.

Everything comes from random.Random(seed): the same arguments always give
byte-identical files, so runs on different days are comparable.

The directory is written under DIR.tmp-PID and renamed into place at the
end, with DIR.json beside it (the parameters, the count and total bytes):
a directory with a matching DIR.json is a complete corpus. Nothing else is
put inside DIR, since every file there is injected as a message.
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
KIB = 1024
MIB = 1024 * 1024

WORDS = (
    "the of and to in is that for it as was with be by on not he this are "
    "or his from at which but have an they you were her she there been one "
    "all we their has would when if so no will more other its into time "
    "only could new them man some these than first two may any like then "
    "such over our after most also made many before must through back "
    "years where much your way well down should because each just those "
    "people how too little state good very make world still own see men "
    "work long get here between both life being under never day same "
    "another know while last might great old year off come since against "
    "go came right used take three mailbox server client message poll "
    "delivery queue folder attachment header maildir socket daemon fetch "
    "naïve café résumé Größe jalapeño Ελλάδα Україна 日本語 ✓"
).split()

NAMES = ("Alice Nguyễn", "Bob Martin", "Chloé Dubois", "Dmitri Ivanov",
         "Eve Example", "Fatima Zahra", "Günther Weiß", "Hiro Tanaka",
         "Ingrid Berg", "José Álvarez", "Kofi Mensah", "Li Wei")


def sizes_for(rng, n, lo, hi, total):
    """n sizes in [lo, hi] adding up to about total (see module doc)."""
    if n <= 0:
        return []
    if lo >= hi:
        return [lo] * n
    us = [rng.random() for _ in range(n)]
    ratio = hi / lo

    def tot(k):
        return sum(lo * ratio ** (u ** k) for u in us)

    # tot(k) decreases from ~n*hi (k -> 0) to ~n*lo (k -> inf).
    target = min(max(total, n * lo), n * hi)
    klo, khi = 1e-3, 1e3
    for _ in range(100):
        k = (klo * khi) ** 0.5
        if tot(k) > target:
            klo = k
        else:
            khi = k
    k = (klo * khi) ** 0.5
    return [int(lo * ratio ** (u ** k)) for u in us]


def make_line_pool(rng, count=4096):
    """Text lines (with LF) to build bodies from, some starting with '.'."""
    pool = []
    for i in range(count):
        words = []
        width = 0
        limit = rng.randint(20, 76)
        while width < limit:
            w = rng.choice(WORDS)
            words.append(w)
            width += len(w) + 1
        line = " ".join(words)
        if i % 97 == 0:
            line = "." + line           # dot-stuffed on the wire
        elif i % 211 == 0:
            line = "."                  # a lone dot: the classic trap
        elif i % 113 == 0:
            line = "From " + line       # mbox's trap, harmless in Maildir
        elif i % 53 == 0:
            line = ""
        pool.append((line + "\n").encode())
    return pool


def text_of(rng, pool, size):
    """About size bytes of text lines (at least one line)."""
    out = []
    n = 0
    while n < size:
        chunk = rng.choices(pool, k=64)
        for line in chunk:
            out.append(line)
            n += len(line)
            if n >= size:
                break
    return b"".join(out)


def header_block(rng, i, seed, ctype, extra=()):
    sender = rng.choice(NAMES)
    addr = "user%d@example.test" % (i % 97)
    when = time.gmtime(1700000000 + i * 613)
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", when)
    subj_words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8)))
    subject = "Bench message %d: %s" % (i, subj_words)
    if i % 7 == 0 or not subject.isascii():
        enc = base64.b64encode(subject.encode()).decode()
        subject = "=?UTF-8?B?%s?=" % enc
    from_name = sender
    if not from_name.isascii():
        from_name = "=?UTF-8?B?%s?=" % base64.b64encode(
            from_name.encode()).decode()
    lines = [
        "Return-Path: <%s>" % addr,
        "Received: from relay.example.test (relay.example.test [192.0.2.%d])"
        % (i % 250 + 1),
        "\tby mail.test with ESMTPS id B%08d; %s" % (i, date),
        "Date: %s" % date,
        "From: %s <%s>" % (from_name, addr),
        "To: Bench <bench@mail.test>",
        "Subject: %s" % subject,
        "Message-ID: <bench.%d.%d@example.test>" % (seed, i),
        "MIME-Version: 1.0",
        "Content-Type: %s" % ctype,
    ]
    lines.extend(extra)
    return ("\n".join(lines) + "\n\n").encode()


def message(rng, pool, i, seed, size, attach_prob):
    """(bytes, has_attachment): one message of about size bytes."""
    attach = size >= 16 * KIB and rng.random() < attach_prob
    if not attach:
        head = header_block(rng, i, seed, "text/plain; charset=utf-8",
                            ["Content-Transfer-Encoding: 8bit"])
        body = text_of(rng, pool, max(size - len(head), 1))
        return head + body, False
    boundary = "=_bench_%d_%d" % (seed, i)
    head = header_block(rng, i, seed,
                        'multipart/mixed; boundary="%s"' % boundary)
    text = text_of(rng, pool, rng.randint(200, 4000))
    part1 = ("--%s\nContent-Type: text/plain; charset=utf-8\n"
             "Content-Transfer-Encoding: 8bit\n\n" % boundary).encode() + text
    kind = rng.choice((("application/pdf", "report.pdf"),
                       ("image/jpeg", "photo.jpg"),
                       ("application/zip", "archive.zip"),
                       ("application/octet-stream", "data.bin")))
    part2 = ("\n--%s\nContent-Type: %s; name=\"%s\"\n"
             "Content-Disposition: attachment; filename=\"%s\"\n"
             "Content-Transfer-Encoding: base64\n\n"
             % (boundary, kind[0], kind[1], kind[1])).encode()
    tail = ("\n--%s--\n" % boundary).encode()
    room = size - len(head) - len(part1) - len(part2) - len(tail)
    # base64 with 76-column lines: 77 bytes of output per 57 input bytes.
    nbin = max(room * 57 // 77, 57)
    b64 = base64.encodebytes(rng.randbytes(nbin))
    return head + part1 + part2 + b64.rstrip(b"\n") + tail, True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--total-mb", type=float, default=200)
    ap.add_argument("--min-bytes", type=int, default=2 * KIB)
    ap.add_argument("--max-bytes", type=int, default=1 * MIB)
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--attach-prob", type=float, default=0.4,
                    help="share of messages >= 16 KiB with an attachment")
    a = ap.parse_args()
    if a.messages < 1 or a.min_bytes < 512 or a.max_bytes < a.min_bytes:
        ap.error("need --messages >= 1 and 512 <= --min-bytes <= --max-bytes")

    params = {"version": VERSION, "messages": a.messages,
              "total_mb": a.total_mb, "min_bytes": a.min_bytes,
              "max_bytes": a.max_bytes, "seed": a.seed,
              "attach_prob": a.attach_prob}
    out = os.path.abspath(a.out.rstrip("/"))
    meta_path = out + ".json"
    try:
        with open(meta_path) as fp:
            meta = json.load(fp)
        if meta.get("params") == params and os.path.isdir(out):
            print("gen-corpus: %s is up to date" % out, file=sys.stderr)
            return 0
    except (OSError, ValueError):
        pass

    rng = random.Random(a.seed)
    sizes = sizes_for(rng, a.messages, a.min_bytes, a.max_bytes,
                      int(a.total_mb * MIB))
    pool = make_line_pool(rng)
    tmp = "%s.tmp-%d" % (out, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    total = 0
    attachments = 0
    t0 = time.monotonic()
    for i, size in enumerate(sizes, 1):
        data, attached = message(rng, pool, i, a.seed, size,
                                 a.attach_prob)
        attachments += attached
        total += len(data)
        with open(os.path.join(tmp, "%06d.eml" % i), "wb") as fp:
            fp.write(data)
    shutil.rmtree(out, ignore_errors=True)
    try:
        os.unlink(meta_path)
    except FileNotFoundError:
        pass
    os.rename(tmp, out)
    meta = {"params": params, "messages": a.messages, "bytes": total,
            "with_attachments": attachments,
            "smallest": min(sizes), "largest": max(sizes)}
    with open(meta_path + ".tmp", "w") as fp:
        json.dump(meta, fp, indent=1)
        fp.write("\n")
    os.rename(meta_path + ".tmp", meta_path)
    print("gen-corpus: %d messages, %.1f MiB (%d with attachments) in %s "
          "(%.1f s)" % (a.messages, total / MIB, attachments, out,
                        time.monotonic() - t0), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
