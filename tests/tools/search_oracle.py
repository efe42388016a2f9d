#!/usr/bin/env python3
"""Ground truth for tests/search.sh: mailctl search against Python.

    search_oracle.py generate DIR N [--seed S]
        Write N messages as DIR/NNNNN.eml plus DIR/meta.json (where each
        one goes: account, folder, flags). Varied on purpose: encoded-word
        subjects and names (UTF-8 B, ISO-8859-1 Q), UTF-8 8bit, Latin-1
        quoted-printable and base64 bodies, HTML-only bodies, CJK text,
        café/CAFÉ/cafe and other accents, attachments with plain and
        RFC 2231 names, dates over 2019-2026 in several zones (some shared
        to the second, some on period edges), two accounts, several
        folders and flags. Every Subject ends in a tag "tNNNNN" that names
        the message, so a listing's ids map to files.

    search_oracle.py place DIR DATA [--skip-account A]
        Put the messages into DATA's Maildirs as meta.json says (those of
        account A are left out: they come through POP3 instead).

    search_oracle.py check DATA MAILCTL SOCKET PHASE
        Read every stored file under DATA (Python's email package), map
        ids through `mailctl ls --json`, and compare `mailctl search --json`
        with the answer computed here for each query of QUERIES. Prints
        one "ok"/"not ok" line per query (TAP, numbered by the caller).

The model of the index: text is NFKD-decomposed, combining marks dropped,
lowercased; a token is a run of letters and digits, or one CJK character.
A word matches a token of any column (From, To, Cc, Subject, body,
attachment names); a phrase matches consecutive tokens of one column; a
prefix matches a token that starts with it. The body is the text/plain
part (or the text of a text/html one) cut at 1 MiB.
"""

import base64
import email
import email.policy
import email.utils
import json
import os
import random
import re
import subprocess
import sys
import unicodedata
from datetime import datetime, timezone

BODY_MAX = 1024 * 1024

COMMON = ["meeting", "report", "project", "budget", "update", "review",
          "team", "schedule", "client", "invoice", "draft", "status"]
RARE = ["zeppelin", "quokka", "xylophone", "marmalade", "obelisk",
        "kumquat", "fjord", "glacier", "saxophone", "tundra"]
ACCENTED = ["café", "CAFÉ", "cafe", "naïve", "résumé", "Zürich", "piñata",
            "façade", "crème", "brûlée"]
CJK = ["東京", "会議", "報告書", "こんにちは", "서울", "회의"]
PEOPLE = [("José Café", "jose@example.org"), ("Zoë Müller", "zoe@example.net"),
          ("李雷", "lilei@example.cn"), ("Alice Smith", "alice@example.test"),
          ("Bob Jones", "bob@example.test"), ("Carol", "carol@example.test"),
          ("Dan O'Brien", "dan@example.com"), ("Ève Durand", "eve@example.fr")]
PHRASES = ["quarterly report", "action items", "see attached",
           "best regards", "happy birthday"]
ATTACH = ["report-2024.pdf", "photo.jpg", "facture été.pdf", "東京地図.png",
          "notes_q3.txt", "budget.xlsx"]
ZONES = ["+0000", "+0200", "-0500", "+0900", "-0800", "+0530"]
FOLDERS = {"alice": ["Inbox"], "bob": ["Inbox", "Work", "Archive", "Spam"]}
FLAGS = ["", "", "S", "S", "S", "FS", "RS", "PS", "F", "RS"]


def hdr_encode(text, rnd):
    """An RFC 2047 encoded word (UTF-8 B, or ISO-8859-1 Q when it fits)."""
    if all(ord(c) < 128 for c in text):
        return text
    try:
        raw = text.encode("iso-8859-1")
        if rnd.random() < 0.5:
            q = "".join(c if c.isalnum() and ord(c) < 128 else
                        "_" if c == " " else "=%02X" % b
                        for c, b in zip(raw.decode("iso-8859-1"), raw))
            return "=?ISO-8859-1?Q?%s?=" % q
    except UnicodeEncodeError:
        pass
    return "=?UTF-8?B?%s?=" % base64.b64encode(text.encode()).decode()


def addr(person, rnd):
    name, a = person
    if rnd.random() < 0.15:
        return a
    return "%s <%s>" % (hdr_encode(name, rnd) if rnd.random() < 0.7 else
                        '"%s"' % name.replace('"', ''), a)


def words(rnd, n):
    out = []
    for _ in range(n):
        r = rnd.random()
        if r < 0.55:
            out.append(rnd.choice(COMMON))
        elif r < 0.62:
            out.append(rnd.choice(RARE))
        elif r < 0.72:
            out.append(rnd.choice(ACCENTED))
        elif r < 0.77:
            out.append(rnd.choice(CJK))
        elif r < 0.82:
            out.append(rnd.choice(PHRASES))
        else:
            out.append("w%d" % rnd.randrange(400))
    return out


def gen_date(rnd, i):
    if i % 97 == 0:
        # Shared to the second: keys must probe past each other.
        ts = 1700000000
    elif i % 89 == 0:
        # On the edges of periods (UTC).
        ts = rnd.choice([1704067200, 1704067199, 1706745600, 1706745599,
                         1577836800, 1577836799])
    else:
        ts = rnd.randrange(1546300800, 1798761600)   # 2019 .. 2026
    zone = rnd.choice(ZONES)
    sign = 1 if zone[0] == "+" else -1
    off = sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)
    local = datetime.fromtimestamp(ts + off, timezone.utc)
    return local.strftime("%a, %d %b %Y %H:%M:%S ") + zone


def generate(out, n, seed):
    rnd = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    meta = []
    for i in range(n):
        account = "alice" if i % 10 == 0 else "bob"
        folder = rnd.choice(FOLDERS[account])
        flags = "" if account == "alice" else rnd.choice(FLAGS)
        frm = rnd.choice(PEOPLE)
        tos = rnd.sample(PEOPLE, rnd.randrange(1, 3))
        ccs = rnd.sample(PEOPLE, rnd.randrange(0, 3))
        subject = " ".join(words(rnd, rnd.randrange(1, 5))) + " t%05d" % i
        body_words = words(rnd, rnd.randrange(5, 60))
        body = ""
        for k, w in enumerate(body_words):
            body += w + ("\n" if k % 9 == 8 else ". " if k % 7 == 6 else " ")
        body += "\n"
        h = ["From: " + addr(frm, rnd),
             "To: " + ", ".join(addr(p, rnd) for p in tos)]
        if ccs:
            h.append("Cc: " + ", ".join(addr(p, rnd) for p in ccs))
        h += ["Subject: " + hdr_encode(subject, rnd),
              "Date: " + gen_date(rnd, i),
              "Message-ID: <m%05d@search.test>" % i,
              "MIME-Version: 1.0"]
        if i == 7:
            # A body over the cap: the word after it is not indexed.
            body = ("filler " * 160000) + "\nbeyondthecap\n"
        kind = rnd.random()
        atts = []
        if rnd.random() < 0.15:
            atts = rnd.sample(ATTACH, rnd.randrange(1, 3))
        text_part = []
        if kind < 0.1 and i != 7:
            # HTML only.
            html = "<html><body><p>" + body.replace("\n", "</p>\n<p>") + \
                "</p></body></html>\n"
            text_part = ["Content-Type: text/html; charset=utf-8",
                         "Content-Transfer-Encoding: base64", "",
                         base64.encodebytes(html.encode()).decode()]
        elif kind < 0.3 and i != 7:
            try:
                raw = body.encode("iso-8859-1")
                import quopri
                text_part = ["Content-Type: text/plain; charset=iso-8859-1",
                             "Content-Transfer-Encoding: quoted-printable", "",
                             quopri.encodestring(raw).decode()]
            except UnicodeEncodeError:
                text_part = ["Content-Type: text/plain; charset=utf-8",
                             "Content-Transfer-Encoding: base64", "",
                             base64.encodebytes(body.encode()).decode()]
        else:
            text_part = ["Content-Type: text/plain; charset=utf-8",
                         "Content-Transfer-Encoding: 8bit", "", body]
        if atts:
            b = "b%05d" % i
            lines = h + ['Content-Type: multipart/mixed; boundary="%s"' % b,
                         "", "--" + b] + text_part
            for name in atts:
                if all(ord(c) < 128 for c in name) and " " not in name:
                    disp = 'attachment; filename="%s"' % name
                else:
                    disp = "attachment; filename*=UTF-8''%s" % "".join(
                        c if c.isalnum() and ord(c) < 128 or c in "._-" else
                        "".join("%%%02X" % x for x in c.encode())
                        for c in name)
                lines += ["--" + b, "Content-Type: application/octet-stream",
                          "Content-Disposition: " + disp,
                          "Content-Transfer-Encoding: base64", "",
                          base64.encodebytes(bytes(rnd.randrange(256)
                                                   for _ in range(60))).decode()]
            lines += ["--" + b + "--", ""]
        else:
            lines = h + text_part
        with open(os.path.join(out, "%05d.eml" % i), "w",
                  encoding="utf-8") as f:
            f.write("\n".join(lines))
        meta.append({"n": i, "account": account, "folder": folder,
                     "flags": flags})
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f)


def place(src, data, skip):
    meta = json.load(open(os.path.join(src, "meta.json")))
    for m in meta:
        if m["account"] == skip:
            continue
        d = os.path.join(data, m["account"], m["folder"])
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        name = "17%08d.M%dP1Q%d.searchtest" % (m["n"], m["n"], m["n"])
        if m["flags"] or m["n"] % 3 == 0:
            path = os.path.join(d, "cur", name + ":2," + m["flags"])
        else:
            path = os.path.join(d, "new", name)
        with open(os.path.join(src, "%05d.eml" % m["n"]), "rb") as f:
            data_ = f.read()
        with open(path, "wb") as f:
            f.write(data_)


def norm(s):
    """Accents off (NFKD, marks dropped), composed again (hangul), lower."""
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", s).lower()


def is_cjk(c):
    o = ord(c)
    return (0x2e80 <= o <= 0x2fdf or 0x3040 <= o <= 0x31ff or
            0x3400 <= o <= 0x4dbf or 0x4e00 <= o <= 0x9fff or
            0xac00 <= o <= 0xd7af or 0xf900 <= o <= 0xfaff or
            0xff66 <= o <= 0xff9f or 0x20000 <= o <= 0x3134f)


def tokens(s):
    out, cur = [], ""
    for c in norm(s or ""):
        if is_cjk(c):
            if cur:
                out.append(cur)
                cur = ""
            out.append(c)
        elif c.isalnum():
            cur += c
        elif cur:
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


class Msg:
    """A stored message as the model sees it."""

    def __init__(self, path, account, folder):
        raw = open(path, "rb").read()
        m = email.message_from_bytes(raw, policy=email.policy.default)
        self.account, self.folder = account, folder
        base = os.path.basename(path)
        self.flags = base.split(":2,", 1)[1] if ":2," in base else ""
        self.date = email.utils.parsedate_to_datetime(
            str(m["Date"])).timestamp()
        cols = {}
        for h in ("from", "to", "cc", "subject"):
            cols[h] = tokens(str(m[h]) if m[h] is not None else "")
        body = m.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if body is not None else ""
        if body is not None and body.get_content_type() == "text/html":
            text = re.sub(r"<[^>]*>", " ", text)
        text = text.encode()[:BODY_MAX].decode("utf-8", "ignore")
        cols["body"] = tokens(text)
        names = [p.get_filename() for p in m.iter_attachments()
                 if p.get_filename()]
        cols["names"] = tokens("\n".join(names))
        self.attachments = len(list(m.iter_attachments()))
        self.cols = cols
        self.tag = re.search(r"t(\d{5})", str(m["Subject"])).group(0)

    def word(self, w, col=None):
        t = tokens(w)
        return self.phrase(t, col)

    def phrase(self, t, col=None):
        if isinstance(t, str):
            t = tokens(t)
        n = len(t)
        for c, toks in self.cols.items():
            if col is not None and c != col:
                continue
            for i in range(len(toks) - n + 1):
                if toks[i:i + n] == t:
                    return True
        return False

    def prefix(self, p, col=None):
        p = norm(p)
        return any(tok.startswith(p) for c, toks in self.cols.items()
                   if col in (None, c) for tok in toks)


def ts(s):
    return datetime.fromisoformat(s).replace(tzinfo=timezone.utc).timestamp()


# (query, predicate): the query as mailctl takes it, the answer in Python.
QUERIES = [
    ("meeting", lambda m: m.word("meeting")),
    ("MEETING", lambda m: m.word("meeting")),
    ("zeppelin", lambda m: m.word("zeppelin")),
    ("kumquat", lambda m: m.word("kumquat")),
    ("nosuchwordanywhere", lambda m: False),
    ('"quarterly report"', lambda m: m.phrase("quarterly report")),
    ('"report quarterly"', lambda m: m.phrase("report quarterly")),
    ("inv*", lambda m: m.prefix("inv")),
    ("w1*", lambda m: m.prefix("w1")),
    ("café", lambda m: m.word("cafe")),
    ("CAFE", lambda m: m.word("cafe")),
    ("cafe", lambda m: m.word("cafe")),
    ("naive", lambda m: m.word("naïve")),
    ("zurich", lambda m: m.word("zurich")),
    ("brûlée", lambda m: m.word("brulee")),
    ("東京", lambda m: m.phrase(["東", "京"])),
    ("報告書", lambda m: m.phrase(["報", "告", "書"])),
    ("서울", lambda m: m.phrase(["서", "울"])),
    ("from:jose", lambda m: m.word("jose", "from")),
    ("from:café", lambda m: m.word("cafe", "from")),
    ("from:zoe@example.net", lambda m: m.phrase("zoe@example.net", "from")),
    ("from:李雷", lambda m: m.phrase(["李", "雷"], "from")),
    ('from:"Alice Smith"', lambda m: m.phrase("alice smith", "from")),
    ("to:bob", lambda m: m.word("bob", "to")),
    ("cc:carol", lambda m: m.word("carol", "cc")),
    ("subject:invoice", lambda m: m.word("invoice", "subject")),
    ("body:invoice", lambda m: m.word("invoice", "body")),
    ("subject:t00042", lambda m: m.tag == "t00042"),
    ("facture", lambda m: m.word("facture")),
    ("report-2024.pdf", lambda m: m.phrase("report 2024 pdf")),
    ("地図", lambda m: m.phrase(["地", "図"])),
    ("beyondthecap", lambda m: m.word("beyondthecap")),
    ("filler", lambda m: m.word("filler")),
    ("folder:Work", lambda m: m.folder == "Work"),
    ("folder:archive", lambda m: m.folder == "Archive"),
    ("folder:Trash", lambda m: m.folder == "Trash"),
    ("account:alice", lambda m: m.account == "alice"),
    ("is:unread", lambda m: "S" not in m.flags),
    ("is:read", lambda m: "S" in m.flags),
    ("is:flagged", lambda m: "F" in m.flags),
    ("is:replied", lambda m: "R" in m.flags),
    ("is:forwarded", lambda m: "P" in m.flags),
    ("has:attachment", lambda m: m.attachments > 0),
    ("date:2024", lambda m: ts("2024-01-01") <= m.date < ts("2025-01-01")),
    ("date:2024-02", lambda m: ts("2024-02-01") <= m.date < ts("2024-03-01")),
    ("date:2023-12-31", lambda m: ts("2023-12-31") <= m.date <
     ts("2024-01-01")),
    ("date:2020..2021", lambda m: ts("2020-01-01") <= m.date <
     ts("2022-01-01")),
    ("date:2025-06..", lambda m: m.date >= ts("2025-06-01")),
    ("date:..2019-03", lambda m: m.date < ts("2019-04-01")),
    ("before:2020", lambda m: m.date < ts("2020-01-01")),
    ("after:2024-02-01", lambda m: m.date >= ts("2024-02-01")),
    ("-meeting", lambda m: not m.word("meeting")),
    ("NOT meeting", lambda m: not m.word("meeting")),
    ("meeting -report", lambda m: m.word("meeting") and not m.word("report")),
    ("meeting NOT report", lambda m: m.word("meeting") and
     not m.word("report")),
    ("zeppelin OR quokka", lambda m: m.word("zeppelin") or m.word("quokka")),
    ("zeppelin OR is:flagged", lambda m: m.word("zeppelin") or
     "F" in m.flags),
    ("(zeppelin OR quokka) -folder:Spam",
     lambda m: (m.word("zeppelin") or m.word("quokka")) and
     m.folder != "Spam"),
    ("cafe is:unread", lambda m: m.word("cafe") and "S" not in m.flags),
    ("cafe has:attachment date:2021..2024",
     lambda m: m.word("cafe") and m.attachments > 0 and
     ts("2021-01-01") <= m.date < ts("2025-01-01")),
    ("from:jose OR from:zoe subject:budget",
     lambda m: m.word("jose", "from") or (m.word("zoe", "from") and
                                          m.word("budget", "subject"))),
    ("-(meeting OR report) folder:Inbox",
     lambda m: not (m.word("meeting") or m.word("report")) and
     m.folder == "Inbox"),
    ("account:bob -is:unread -has:attachment before:2021",
     lambda m: m.account == "bob" and "S" in m.flags and
     m.attachments == 0 and m.date < ts("2021-01-01")),
    ("NOT folder:Inbox NOT is:read", lambda m: m.folder != "Inbox" and
     "S" not in m.flags),
    ('"best regards" OR 東京 OR inv*', lambda m: m.phrase("best regards") or
     m.phrase(["東", "京"]) or m.prefix("inv")),
]


def run(mailctl, sock, args):
    p = subprocess.run([mailctl, "--socket", sock] + args,
                       capture_output=True)
    return p.returncode, p.stdout, p.stderr


def check(data, mailctl, sock, phase):
    rc, out, err = run(mailctl, sock, ["ls", "--json"])
    listing = json.loads(out)
    by_tag = {}
    for e in listing:
        t = re.search(r"t(\d{5})", e["subject"] or "")
        by_tag[t.group(0)] = e["id"]
    msgs = {}
    for account in sorted(os.listdir(data)):
        adir = os.path.join(data, account)
        if not os.path.isdir(adir):
            continue
        for folder in sorted(os.listdir(adir)):
            for sub in ("new", "cur"):
                d = os.path.join(adir, folder, sub)
                if not os.path.isdir(d):
                    continue
                for f in os.listdir(d):
                    m = Msg(os.path.join(d, f), account, folder)
                    msgs[by_tag[m.tag]] = m
    fails = 0
    print("# %s: %d messages on disk, %d listed" % (phase, len(msgs),
                                                      len(listing)))
    for q, pred in QUERIES:
        want = {i for i, m in msgs.items() if pred(m)}
        rc, out, err = run(mailctl, sock, ["search", "--json", "--", q])
        if rc != 0:
            print("not ok - %s: search %s: exit %d: %s" % (
                phase, q, rc, err.decode(errors="replace").strip()))
            fails += 1
            continue
        hits = json.loads(out)
        got = [h["id"] for h in hits]
        dates = [msgs[i].date if i in msgs else None for i in got]
        problems = []
        if set(got) != want:
            problems.append("missing %s, extra %s" % (
                sorted(want - set(got))[:8], sorted(set(got) - want)[:8]))
        if len(got) != len(set(got)):
            problems.append("an id twice")
        if None not in dates and any(a < b for a, b in zip(dates,
                                                             dates[1:])):
            problems.append("not newest first")
        if any("snippet" not in h for h in hits):
            problems.append("a hit without snippet")
        if problems:
            fails += 1
            print("not ok - %s: search %s (%d hits, want %d): %s" % (
                phase, q, len(got), len(want), "; ".join(problems)))
        else:
            print("ok - %s: search %s (%d hits)" % (phase, q, len(got)))
    return fails


def main():
    cmd = sys.argv[1]
    if cmd == "generate":
        seed = 20
        if "--seed" in sys.argv:
            seed = int(sys.argv[sys.argv.index("--seed") + 1])
        generate(sys.argv[2], int(sys.argv[3]), seed)
    elif cmd == "place":
        skip = None
        if "--skip-account" in sys.argv:
            skip = sys.argv[sys.argv.index("--skip-account") + 1]
        place(sys.argv[2], sys.argv[3], skip)
    elif cmd == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        sys.exit("usage: search_oracle.py generate|place|check ...")


if __name__ == "__main__":
    main()
