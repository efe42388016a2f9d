#!/usr/bin/env python3
"""Generate a deterministic mail store (Maildirs) for bench/store.sh.

    gen-store.py --out DIR [--messages N] [--account NAME] [--seed S]

Writes N message files straight into the Maildirs of one account, as
mailctld lays them out under its data_dir:

    DIR/ACCOUNT/FOLDER/{new,cur,tmp}/

with the folders Inbox (50 %), Important (10 %), Work (15 %), Project
(15 %) and Spam (10 %): 100,000 messages give 50,000 in Inbox. Names are
Maildir-style unique names, "T.M<n>P1Q<n>.benchhost,S=<size>", where T is
the message's delivery time (10 digits, increasing with n, so that the
names sort in delivery order); read messages are in cur/ with ":2,S",
unread ones in new/ (most old mail is read, the newest and Spam mostly
not).

The messages are realistic, 2-8 KiB, LF line ends: Return-Path,
Received, Date (various zones), From (display names, some RFC 2047
B- or Q-encoded), To, Cc on some, Subject (some RFC 2047 encoded),
Message-ID, MIME-Version, text/plain in 8bit or quoted-printable, and
10 % multipart/mixed with a small base64 attachment. The sender and
subject of each folder's messages match mailctl's default rules (Spam:
lottery@, Project: "[project]", Important: boss@example.test, Work:
"meeting"/"report"), so `mailctl refilter` would leave them where they are.

Everything comes from random.Random(seed): the same arguments give
byte-identical files. The tree is written under DIR.tmp-PID and renamed
into place at the end, with DIR.json beside it (parameters, counts,
bytes); a DIR with a matching DIR.json is complete and is left as it is.
"""

import argparse
import base64
import binascii
import datetime
import json
import os
import quopri
import random
import shutil
import sys
import time

VERSION = 1
FOLDERS = (("Inbox", 50), ("Important", 10), ("Work", 15), ("Project", 15),
           ("Spam", 10))
T0 = 1640995200          # 2022-01-01: the first delivery
GAP = 600                # seconds between deliveries, on average

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
    "budget release draft review customer invoice schedule server backup "
    "deadline summary proposal contract travel lunch quarterly roadmap"
).split()
UWORDS = ("naïve", "café", "résumé", "Größe", "jalapeño", "Ελλάδα",
          "Україна", "日本語", "señor", "smörgåsbord", "Zürich", "✓")

PEOPLE = (
    ("Alice Nguyễn", "alice.nguyen"), ("Bob Martin", "bob.martin"),
    ("Chloé Dubois", "chloe.dubois"), ("Dmitri Ivanov", "dmitri"),
    ("Дмитрий Иванов", "d.ivanov"), ("Eve Example", "eve"),
    ("Fatima Zahra", "fatima.zahra"), ("Günther Weiß", "guenther.weiss"),
    ("Hiro Tanaka", "hiro"), ("田中 宏", "h.tanaka"),
    ("Ingrid Berg", "ingrid.berg"), ("José Álvarez", "jose.alvarez"),
    ("Kofi Mensah", "kofi"), ("Li Wei", "li.wei"), ("李伟", "liwei"),
    ("Marta Nowak", "marta.nowak"), ("Søren Kierkegaard", "soren.k"),
    ("Zoë Brontë", "zoe"), ("Ahmed Hassan", "ahmed.hassan"),
    ("Οδυσσέας Ελύτης", "odysseas"),
)
DOMAINS = ("example.test", "example.org", "mail.example.net", "corp.test",
           "university.example", "lists.example.com")
ZONES = (0, 60, 120, -300, -240, 330, 540, -420, 600)
SPAM_SENDERS = (("Mega Lottery", "lottery@winners.example"),
                ("Claims Department", "lottery@prize-center.example"),
                ("Ms. Grace", "lottery@intl-transfers.example"))
SPAM_SUBJECTS = ("You won {n} EUR", "Congratulations, you won!",
                 "URGENT: you won the draw #{n}", "Final notice: you won")
WORK_SUBJECTS = ("Meeting on {w}", "Re: meeting notes {w} {w}",
                 "Weekly report: {w} {w}", "Fwd: report for {w}",
                 "Re: Re: meeting tomorrow about {w}")


def qp_word(b):
    """RFC 2047 Q-encoding of bytes (the encoded-text only)."""
    out = []
    for c in b:
        ch = chr(c)
        if c == 0x20:
            out.append("_")
        elif ch.isalnum() and c < 0x80:
            out.append(ch)
        else:
            out.append("=%02X" % c)
    return "".join(out)


def encode_words(text, rng):
    """RFC 2047 encoded-words for text (B or Q), folded as needed."""
    kind = "B" if rng.random() < 0.6 else "Q"
    chunks, cur = [], b""
    for ch in text:
        e = ch.encode()
        if len(cur) + len(e) > (45 if kind == "B" else 22):
            chunks.append(cur)
            cur = b""
        cur += e
    if cur:
        chunks.append(cur)
    words = []
    for c in chunks:
        if kind == "B":
            words.append("=?UTF-8?B?%s?=" % base64.b64encode(c).decode())
        else:
            words.append("=?UTF-8?Q?%s?=" % qp_word(c))
    return "\n ".join(words)


def display(name, addr, rng):
    """An address with its display name, as a mail program writes it."""
    if name is None:
        return addr
    if name.isascii():
        if rng.random() < 0.3:
            return '"%s" <%s>' % (name, addr)
        return "%s <%s>" % (name, addr)
    return "%s <%s>" % (encode_words(name, rng), addr)


def person(rng):
    name, local = rng.choice(PEOPLE)
    addr = "%s@%s" % (local, rng.choice(DOMAINS))
    if rng.random() < 0.08:
        name = None
    return name, addr


def sentence(rng, n):
    ws = []
    for _ in range(n):
        ws.append(rng.choice(UWORDS) if rng.random() < 0.03
                  else rng.choice(WORDS))
    return " ".join(ws)


def subject_for(folder, rng, n):
    w = lambda: rng.choice(WORDS)     # noqa: E731
    if folder == "Spam":
        s = rng.choice(SPAM_SUBJECTS).format(n=rng.randint(1000, 999999))
    elif folder == "Project":
        s = "[project] " + sentence(rng, rng.randint(2, 7))
    elif folder == "Work":
        s = rng.choice(WORK_SUBJECTS).format(w=w(), n=n)
        s = s.replace("{w}", w())
    else:
        s = sentence(rng, rng.randint(2, 9))
        # Keep the other rules' keywords out of Inbox and Important.
        for k in ("meeting", "report", "[project]", "you won"):
            s = s.replace(k, "note")
        if rng.random() < 0.25:
            s = "Re: " + s
        s = s[0].upper() + s[1:]
    return s


def text_body(rng, size):
    """About size bytes of text lines (at least one line)."""
    lines, n = [], 0
    while n < size:
        if rng.random() < 0.12:
            line = ""
        else:
            line = sentence(rng, rng.randint(4, 13))
        lines.append(line)
        n += len(line.encode()) + 1
    return "\n".join(lines) + "\n"


def message(rng, n, folder, when, seed):
    """The bytes of message n of folder, delivered at time when."""
    target = int(2048 * 4 ** rng.random())          # 2..8 KiB, log-uniform
    zone = datetime.timezone(datetime.timedelta(minutes=rng.choice(ZONES)))
    sent = when - rng.randint(2, 300)
    date = datetime.datetime.fromtimestamp(sent, zone).strftime(
        "%a, %d %b %Y %H:%M:%S %z")
    rdate = datetime.datetime.fromtimestamp(
        when, datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
    if folder == "Spam":
        name, addr = rng.choice(SPAM_SENDERS)
    elif folder == "Important":
        name, addr = rng.choice((("Barbara Boss", "boss@example.test"),
                                 ("Börje Boß", "boss@example.test"),
                                 (None, "boss@example.test")))
    else:
        name, addr = person(rng)
    subj = subject_for(folder, rng, n)
    if not subj.isascii() or rng.random() < 0.05:
        subj = encode_words(subj, rng)
    heads = [
        "Return-Path: <%s>" % addr,
        "Delivered-To: alice@example.test",
        "Received: from mx%d.%s (mx%d.%s [198.51.100.%d])\n"
        "\tby mail.example.test (Postfix) with ESMTPS id %08X\n"
        "\tfor <alice@example.test>; %s"
        % (n % 4, addr.split("@")[1], n % 4, addr.split("@")[1],
           n % 250 + 1, n * 2654435761 % 2 ** 32, rdate),
        "Date: %s" % date,
        "From: %s" % display(name, addr, rng),
        "To: %s" % display("Alice Nguyễn", "alice@example.test", rng),
    ]
    if rng.random() < 0.2:
        ccs = [display(*person(rng), rng) for _ in range(rng.randint(1, 3))]
        heads.append("Cc: %s" % ",\n\t".join(ccs))
    heads.append("Subject: %s" % subj)
    heads.append("Message-ID: <%d.%08x.%d@%s>"
                 % (sent, binascii.crc32(b"%d" % n), seed, addr.split("@")[1]))
    if rng.random() < 0.3:
        heads.append("In-Reply-To: <%d.%08x@example.test>"
                     % (sent - 86400, rng.getrandbits(32)))
    if rng.random() < 0.4:
        heads.append("X-Mailer: %s" % rng.choice(
            ("Thunderbird 115.3", "Apple Mail (2.3731)", "mutt/2.2.12",
             "Microsoft Outlook 16.0")))
    heads.append("MIME-Version: 1.0")

    qp = rng.random() < 0.2
    cte = "quoted-printable" if qp else "8bit"
    attach = rng.random() < 0.10
    head_len = len("\n".join(heads).encode()) + 200
    if not attach:
        text = text_body(rng, max(target - head_len, 200))
        body = quopri.encodestring(text.encode()) if qp else text.encode()
        heads.append("Content-Type: text/plain; charset=utf-8")
        heads.append("Content-Transfer-Encoding: %s" % cte)
        return ("\n".join(heads) + "\n\n").encode() + body
    boundary = "----=_Part_%d_%d" % (seed, n)
    heads.append('Content-Type: multipart/mixed;\n\tboundary="%s"' % boundary)
    nbin = rng.randint(600, 2400)
    room = max(target - head_len - nbin * 4 // 3 - 400, 300)
    text = text_body(rng, room)
    body = quopri.encodestring(text.encode()) if qp else text.encode()
    kind, fname = rng.choice((("application/pdf", "report-%d.pdf"),
                              ("image/png", "screenshot-%d.png"),
                              ("text/calendar", "invite-%d.ics"),
                              ("application/zip", "files-%d.zip")))
    fname = fname % (n % 1000)
    if rng.random() < 0.1:
        disp = "attachment; filename*=UTF-8''%s" % (
            "r%C3%A9sum%C3%A9-" + fname)
    else:
        disp = 'attachment; filename="%s"' % fname
    b64 = base64.encodebytes(rng.randbytes(nbin))
    parts = [
        ("\n".join(heads) + "\n\nThis is a multi-part message in MIME "
         "format.\n\n--%s\nContent-Type: text/plain; charset=utf-8\n"
         "Content-Transfer-Encoding: %s\n\n" % (boundary, cte)).encode(),
        body,
        ("\n--%s\nContent-Type: %s; name=\"%s\"\nContent-Disposition: %s\n"
         "Content-Transfer-Encoding: base64\n\n" % (boundary, kind, fname,
                                                   disp)).encode(),
        b64,
        ("\n--%s--\n" % boundary).encode(),
    ]
    return b"".join(parts)


def plan(total):
    """Folder of each message, in delivery order (shuffled, exact counts)."""
    counts = [(f, total * p // 100) for f, p in FOLDERS]
    counts[0] = (counts[0][0], total - sum(c for _, c in counts[1:]))
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--account", default="alice")
    ap.add_argument("--seed", type=int, default=20261122)
    a = ap.parse_args()
    if a.messages < 1:
        ap.error("--messages: expected a positive integer")
    out = a.out.rstrip("/")
    params = {"version": VERSION, "messages": a.messages,
              "account": a.account, "seed": a.seed}
    meta_path = out + ".json"
    if os.path.isdir(out) and os.path.exists(meta_path):
        try:
            with open(meta_path) as fp:
                meta = json.load(fp)
            if all(meta.get(k) == v for k, v in params.items()):
                print("gen-store: using the cached store %s" % out,
                      file=sys.stderr)
                return 0
        except (OSError, ValueError):
            pass
    if os.path.exists(out):
        shutil.rmtree(out)
    stage = "%s.tmp-%d" % (out, os.getpid())
    if os.path.exists(stage):
        shutil.rmtree(stage)
    rng = random.Random(a.seed)
    counts = plan(a.messages)
    order = [f for f, c in counts for _ in range(c)]
    rng.shuffle(order)
    for f, _ in counts:
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(stage, a.account, f, sub))
    print("gen-store: writing %d messages into %s (takes a while)"
          % (a.messages, stage), file=sys.stderr)
    t_start = time.monotonic()
    total_bytes = 0
    per = {f: {"total": 0, "unread": 0, "attachments": 0, "bytes": 0}
           for f, _ in counts}
    recent = a.messages - max(a.messages * 3 // 100, 1)
    when = T0
    for n, folder in enumerate(order, 1):
        when += rng.randint(1, 2 * GAP - 1)
        data = message(rng, n, folder, when, a.seed)
        if folder == "Spam":
            read = rng.random() < 0.05
        elif n > recent:
            read = rng.random() < 0.4
        else:
            read = rng.random() < 0.97
        name = "%010d.M%dP1Q%d.benchhost,S=%d" % (when, n, n, len(data))
        if read:
            path = os.path.join(stage, a.account, folder, "cur",
                                name + ":2,S")
        else:
            path = os.path.join(stage, a.account, folder, "new", name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.close(fd)
        os.utime(path, (when, when))
        p = per[folder]
        p["total"] += 1
        p["unread"] += 0 if read else 1
        p["attachments"] += 1 if b"Content-Disposition: attachment" in data \
            else 0
        p["bytes"] += len(data)
        total_bytes += len(data)
        if n % 10000 == 0:
            print("gen-store: %d/%d (%.0f s)" % (
                n, a.messages, time.monotonic() - t_start), file=sys.stderr)
    os.rename(stage, out)
    meta = dict(params, bytes=total_bytes, folders=per,
                seconds=round(time.monotonic() - t_start, 1))
    with open(meta_path + ".tmp", "w") as fp:
        json.dump(meta, fp, indent=1)
        fp.write("\n")
    os.rename(meta_path + ".tmp", meta_path)
    print("gen-store: %d messages, %.1f MiB in %.0f s" % (
        a.messages, total_bytes / 1048576, time.monotonic() - t_start),
        file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
