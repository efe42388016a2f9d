#!/usr/bin/env python3
"""An independent reader for daemon/compose.c: Python's email package.

  compose_oracle.py DUMP DIR    compose varied messages with DUMP
                                (tests/unit/compose-dump), working in DIR,
                                and print one "ok CASE: CHECK" or
                                "not ok CASE: CHECK: why" line per check

Each message is read with email.message_from_bytes(policy=default), which
must find no defect and give back exactly what went in: the From display
name and address, To and Cc, the subject, the body text (line ends made LF,
one final line end added when missing), every attachment's file name, media
type and bytes. The raw message must have no Bcc header, no line over 998
octets, header lines of at most 78 and base64 or quoted-printable lines of
at most 76 characters. Some inputs must be refused, with a clear message
and nothing written.
"""
import email
import email.header
import email.policy
import email.utils
import os
import random
import re
import struct
import subprocess
import sys
import zlib

NAMES = ["Alice Nguyễn", "Renée Dupré", "山田太郎", "Doe, John",
         'O\'Brien "The Boss"', "Plain Name", "", None,
         "Ông Đỗ Văn Bảy " * 5 + "end", "Zoë (work)", "J. Smith",
         "x" * 80]
SUBJECTS = ["Báo cáo cuộc họp tuần này", "会議の報告書について",
            "Café crème à la française, ça va?", "Quarterly report",
            "Re: [project] meeting at 10:00", "Is =?utf-8?q?this?= a word?",
            "Long plain subject that goes on and on about many details of "
            "the project status and the meeting next week and more",
            "Mixed " + "naïve façade 日本語 Tiếng Việt " * 6 + "end",
            "🎉 party on Friday 🎉", "tab\tinside", "a" * 150, ""]
TEXTS = ["Hello Bob,\n\nsee you tomorrow.\n\n-- \nAlice\n",
         "Grüße aus Köln — 日本語 ✓ naïve façade\nSecond line.\n",
         "From the start: a line beginning with From\n.\n..\nend\n",
         "CRLF lines\r\nsecond\r\n",
         "no final newline",
         "trailing spaces   \nand tabs\t\nx=1\n",
         "long line " + "word " * 300 + "\n",
         "Tiếng Việt " * 120 + "\n" + "日本語" * 200 + "\n",
         "",
         "=?utf-8?q?not a header?= and --=_mailctl_ in the body\n"]
FILENAMES = ["notes.txt", "résumé.pdf", "日本語の資料.png",
             'a "quoted" name.txt', "back\\slash.csv", "report.docx",
             "übersicht 2024.xlsx", "data.json", "archive.tar.gz",
             "Đây là một tên tệp rất dài với nhiều ký tự có dấu.bin",
             "unknown.xyz", "noext"]
TYPES = {"txt": "text/plain", "pdf": "application/pdf", "png": "image/png",
         "csv": "text/csv", "json": "application/json",
         "gz": "application/gzip",
         "docx": "application/vnd.openxmlformats-officedocument."
                 "wordprocessingml.document",
         "xlsx": "application/vnd.openxmlformats-officedocument."
                 "spreadsheetml.sheet"}


def phrase_bug():
    """Python before gh-128110 (fixed in 2025) keeps the whitespace between
    adjacent encoded words in a display name, which RFC 2047 6.2 says to
    ignore: a long name, cut into several words, reads back with spaces."""
    m = email.message_from_bytes(b"From: =?utf-8?q?a?= =?utf-8?q?b?= "
                                 b"<x@y.test>\n\n", policy=email.policy.default)
    return m["from"].addresses[0].display_name != "ab"


PHRASE_BUG = phrase_bug()


def rfc2047_phrase(raw):
    """The From display name read by email.header, which follows 6.2."""
    m = email.message_from_bytes(raw, policy=email.policy.compat32)
    phrase = re.sub(r"\s*<[^<>]*>\s*$", "", m["from"])
    if phrase.startswith('"'):
        return None
    return str(email.header.make_header(email.header.decode_header(phrase)))


def png():
    """A small valid PNG: 8x8 pixels, RGB."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data)))
    raw = b"".join(b"\0" + b"".join(bytes([x * 30, y * 30, 128])
                                    for x in range(8)) for y in range(8))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class Oracle:
    def __init__(self, dump, work):
        self.dump = dump
        self.work = work
        self.failed = 0

    def check(self, case, what, cond, why=""):
        if cond:
            print("ok %s: %s" % (case, what))
        else:
            self.failed += 1
            print("not ok %s: %s: %s" % (case, what, why))

    def file(self, name, data):
        d = os.path.join(self.work, "f%d" % len(os.listdir(self.work)))
        os.mkdir(d)
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def run(self, args):
        p = subprocess.run([self.dump] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")

    def args(self, inp):
        a = ["--from", inp["from"]]
        if inp["name"] is not None:
            a += ["--from-name", inp["name"]]
        for t in inp["to"]:
            a += ["--to", t]
        for c in inp["cc"]:
            a += ["--cc", c]
        a += ["--subject", inp["subject"]]
        a += ["--body-file", self.file("body", inp["body"].encode())]
        for name, data in inp["attach"]:
            a += ["--attach", self.file(name, data)]
        return a

    def compose(self, case, inp):
        """Compose one message and check everything about it."""
        rc, out, err = self.run(self.args(inp))
        self.check(case, "composed", rc == 0, err.strip())
        if rc != 0:
            return
        msg = email.message_from_bytes(out, policy=email.policy.default)
        defects = [(p.get_content_type(), d) for p in msg.walk()
                   for d in p.defects]
        self.check(case, "no defects", not defects, repr(defects))
        self.lines(case, out)
        self.check(case, "no Bcc", msg["bcc"] is None and
                   b"\nbcc:" not in out.lower(), "Bcc found")
        frm = msg["from"].addresses
        want = inp["name"] or ""
        name = frm[0].display_name if len(frm) == 1 else None
        what = "From"
        if name != want and PHRASE_BUG:
            name = rfc2047_phrase(out)
            what = "From (RFC 2047 6.2 reading, Python gh-128110)"
        self.check(case, what, len(frm) == 1 and name == want and
                   frm[0].addr_spec == inp["from"],
                   "%r, want %r <%s>" % (frm, want, inp["from"]))
        for key in ("to", "cc"):
            got = ([a.addr_spec for a in msg[key].addresses]
                   if msg[key] is not None else [])
            want_list = inp[key]
            if key == "to" and not inp["to"] and not inp["cc"]:
                want_list = []
            self.check(case, key, got == want_list,
                       "%r, want %r" % (got, want_list))
        self.check(case, "Subject", str(msg["subject"]) == inp["subject"],
                   "%r, want %r" % (str(msg["subject"]), inp["subject"]))
        mid = msg["message-id"]
        self.check(case, "Message-ID", mid is not None and re.fullmatch(
            r"<[0-9a-f]{32}@" + re.escape(inp["from"].split("@")[1]) + ">",
            str(mid)) is not None, repr(mid))
        try:
            date = email.utils.parsedate_to_datetime(str(msg["date"]))
            self.check(case, "Date", date.tzinfo is not None, "no zone")
        except (TypeError, ValueError) as e:
            self.check(case, "Date", False, "%s: %r" % (e, msg["date"]))
        self.check(case, "MIME-Version", msg["mime-version"] == "1.0",
                   repr(msg["mime-version"]))
        body = msg.get_body(("plain",))
        got = body.get_content() if body is not None else None
        want = inp["body"].replace("\r\n", "\n")
        if want and not want.endswith("\n"):
            want += "\n"
        self.check(case, "body", got == want, "%r, want %r" %
                   (got and got[:200], want[:200]))
        atts = list(msg.iter_attachments())
        self.check(case, "attachment count", len(atts) == len(inp["attach"]),
                   "%d, want %d" % (len(atts), len(inp["attach"])))
        for (name, data), part in zip(inp["attach"], atts):
            ext = name.rsplit(".", 1)[-1] if "." in name else ""
            ctype = TYPES.get(ext, "application/octet-stream")
            self.check(case, "attachment %r" % name,
                       part.get_filename() == name and
                       part.get_content_type() == ctype and
                       part.get_content_disposition() == "attachment" and
                       part["content-transfer-encoding"] == "base64" and
                       part.get_payload(decode=True) == data,
                       "filename %r, type %s, %d bytes" % (
                           part.get_filename(), part.get_content_type(),
                           len(part.get_payload(decode=True) or b"")))

    def lines(self, case, raw):
        """Line lengths: headers 78, encoded bodies 76, anything 998."""
        bad = []
        in_header, cte = True, None
        for line in raw.split(b"\n"):
            if len(line) > 998:
                bad.append("over 998: %d" % len(line))
            if line.startswith(b"--=_mailctl_"):
                in_header, cte = True, None
                continue
            if in_header:
                if line == b"":
                    in_header = False
                    continue
                if line.lower().startswith(b"content-transfer-encoding:"):
                    cte = line.split(b":", 1)[1].strip().lower()
                if len(line) > 78:
                    bad.append("header line of %d: %r" % (len(line),
                                                          line[:40]))
            elif cte in (b"base64", b"quoted-printable") and len(line) > 76:
                bad.append("%s line of %d" % (cte.decode(), len(line)))
        self.check(case, "line lengths", not bad, "; ".join(bad[:3]))

    def refuse(self, case, args, want):
        """An input that must be refused with a message containing want."""
        rc, out, err = self.run(args)
        self.check(case, "refused", rc == 1 and out == b"" and want in err,
                   "rc %d, %d bytes out, stderr %r" % (rc, len(out), err))


def inputs(rnd):
    """Forty varied messages."""
    binary = bytes(rnd.randrange(256) for _ in range(2000))
    big = os.urandom(int(2.9 * 1024 * 1024))
    for n in range(40):
        attach = []
        for i in range([0, 1, 2, 0, 3][n % 5]):
            name = FILENAMES[(n + i) % len(FILENAMES)]
            if name.endswith(".png"):
                data = png()
            elif name.endswith((".txt", ".csv", ".json")):
                data = ("Grüße,text;%d\n" % n).encode() * (1 + n)
            else:
                data = binary[:rnd.randrange(len(binary))]
            attach.append((name, data))
        if n % 13 == 6:
            attach.append(("big.bin", big))
        if n % 11 == 4:
            attach.append(("empty.csv", b""))
        yield "m%02d" % n, {
            "name": NAMES[n % len(NAMES)],
            "from": "sender%d@example.test" % n,
            "to": ["bob@example.test", "carol.long.name@sub.example.test",
                   "dave@example.test"][:n % 4],
            "cc": [] if n % 3 else ["erin@example.test",
                                    "frank+tag@example.test"][:1 + n % 2],
            "subject": SUBJECTS[n % len(SUBJECTS)],
            "body": TEXTS[n % len(TEXTS)] + ("\n" + TEXTS[(n + 3) % len(
                TEXTS)] if n % 4 == 1 else ""),
            "attach": attach,
        }


def main():
    dump, work = sys.argv[1], sys.argv[2]
    o = Oracle(dump, work)
    ncase = 0
    for case, inp in inputs(random.Random(2231)):
        o.compose(case, inp)
        ncase += 1
    base = ["--from", "a@example.test", "--to", "b@example.test"]
    limit = o.file("limit.bin", b"\0" * 1000)
    over = o.file("over.bin", b"\0" * 1001)
    rc, out, err = o.run(base + ["--max", "1000", "--attach", limit])
    o.check("limit", "exactly the limit passes", rc == 0, err)
    o.refuse("limit", base + ["--max", "1000", "--attach", over],
             "(1001 bytes), more than the 1000 bytes limit")
    o.refuse("missing", base + ["--attach", "/nonexistent/file.pdf"],
             "cannot read attachment /nonexistent/file.pdf: No such file")
    o.refuse("directory", base + ["--attach", work], "is a directory")
    o.refuse("crlf-subject", base + ["--subject", "hi\r\nBcc: x@y.test"],
             "subject contains a line break")
    o.refuse("lf-name", base + ["--from-name", "A\nB"],
             "from name contains a line break")
    o.refuse("bad-to", ["--from", "a@example.test", "--to", "b@x\nBcc: c@y"],
             "bad To address")
    o.refuse("latin1-subject", base + ["--subject", "caf\udce9"],
             "subject is not valid UTF-8")
    print("cases %d" % ncase)
    return 1 if o.failed else 0


if __name__ == "__main__":
    sys.exit(main())
