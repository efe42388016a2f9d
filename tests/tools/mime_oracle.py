#!/usr/bin/env python3
"""An independent oracle for daemon/mime*.c: Python's email package.

  mime_oracle.py generate DIR   write DIR/NN.eml and, for each, DIR/NN.json:
                                what email (policy=default) reads from it
  mime_oracle.py compare EXPECTED.json ACTUAL.json
                                print one "ok FIELD" or "not ok FIELD: why"
                                line per field; exit 1 on any difference

The messages are built by hand (not by email's generator) so that they cover
what other mailers write: encoded words in four charsets, split across
adjacent words, RFC 2231 file names with continuations, nested multiparts,
quoted-printable and base64, binary attachments, LF and CRLF line ends.

Besides these 40, generate writes the cases of CASES, each aimed at one
thing real mail does (a charset label browsers read otherwise, an mbox
envelope line among the headers, a broken boundary, a limit): DIR/c-NAME.eml
with Python's answer, where Python is right, overridden by the text we
expect where we choose to do better.

The oracle's answer: subject, from, to, cc, message_id as str(header)
(None when absent), date in ISO 8601 UTC;
body = get_body(('plain',)), else get_body(('html',)) (its HTML source),
.get_content() with CRLF turned to LF (mailctl's body text has LF line
ends); attachments = every leaf that is not the body and is an attachment,
not text, or has a file name: [filename, content type, decoded size, sha256
of the decoded bytes], where a message/* part is a leaf (a forwarded
message is one attachment), its content as written. Header text is one
line: a control character decoded from an encoded word is a space. Where
Python's parser refuses an address field, the older email.utils one reads
it.
"""
import base64
import datetime
import email
import email.generator
import email.policy
import email.utils
import hashlib
import io
import json
import os
import quopri
import random
import re
import sys
import urllib.parse

TEXTS = {
    "utf-8": "Grüße aus Köln — 日本語 ✓ naïve façade",
    "iso-8859-1": "Café crème à la française, ça va? Øre æble",
    "windows-1258": "Đơn hàng Ông Đô ăn ưa",
    "iso-2022-jp": "会議の報告書について",
}
NAMES = {
    "utf-8": "Jörg Müller",
    "iso-8859-1": "Renée Dupré",
    "windows-1258": "Đăng Ơn",
    "iso-2022-jp": "山田太郎",
}
FILENAMES = ["résumé.pdf", "Übersicht 2024.xlsx", "日本語の資料.png",
             "naïve façade notes.txt", "a very long file name with ünïcödé "
             "characters that needs continuations.bin"]
TYPES = ["application/pdf", "image/png", "application/octet-stream",
         "application/zip", "text/csv", "audio/mpeg"]


def ew(text, charset, enc, split=1):
    """Encode text as encoded words (split: how many, cut at byte level)."""
    data = text.encode(charset)
    if charset == "iso-2022-jp":
        split = 1  # each word must stand alone in a stateful charset
    step = max(1, -(-len(data) // split))
    words = []
    for i in range(0, len(data), step):
        chunk = data[i:i + step]
        if enc == "B":
            payload = base64.b64encode(chunk).decode()
        else:
            payload = "".join(
                "_" if b == 0x20 else chr(b) if chr(b).isalnum() and b < 128
                else "=%02X" % b for b in chunk)
        words.append("=?%s?%s?%s?=" % (charset, enc, payload))
    return "\n ".join(words)


def encode_body(data, cte):
    """Apply a content transfer encoding to bytes."""
    if cte == "base64":
        return base64.encodebytes(data)
    if cte == "quoted-printable":
        return quopri.encodestring(data)
    return data


def leaf(ctype, data, cte, params="", disp=None):
    """One leaf entity as bytes."""
    head = "Content-Type: %s%s\n" % (ctype, params)
    if cte:
        head += "Content-Transfer-Encoding: %s\n" % cte
    if disp:
        head += "Content-Disposition: %s\n" % disp
    body = encode_body(data, cte)
    if not body.endswith(b"\n"):
        body += b"\n"
    return head.encode() + b"\n" + body


def multipart(sub, parts, rnd):
    """A multipart entity around already built parts."""
    b = "=_b%d_%s" % (rnd.randrange(10**6), sub)
    out = ("Content-Type: multipart/%s; boundary=\"%s\"\n\n" % (sub, b) +
           "This is a multi-part message in MIME format.\n").encode()
    for p in parts:
        out += ("--%s\n" % b).encode() + p
    return out + ("--%s--\nepilogue\n" % b).encode()


def filename_params(name, style, rnd):
    """The file name parameter in one of several encodings."""
    if style == "2231":
        return "; filename*=utf-8''" + urllib.parse.quote(name)
    if style == "2231-cont":
        enc = urllib.parse.quote(name)
        cut = [enc[i:i + 20] for i in range(0, len(enc), 20)]
        return "".join(";\n filename*%d*=%s%s" % (
            i, "utf-8'en'" if i == 0 else "", c) for i, c in enumerate(cut))
    if style == "2231-latin1":
        try:
            return "; filename*=iso-8859-1''" + urllib.parse.quote(
                name.encode("iso-8859-1"))
        except UnicodeEncodeError:
            return filename_params(name, "2231", rnd)
    if style == "ascii":
        return '; filename="%s"' % name.encode("ascii", "replace").decode()
    return '; filename="%s"' % ew(name, "utf-8", "Q")


def attachment(rnd, i):
    """A random attachment part."""
    ctype = rnd.choice(TYPES)
    if ctype == "text/csv":
        data = "name;city\nJörg;Köln\nRenée;Paris\n".encode("utf-8")
        cte = rnd.choice(["quoted-printable", "base64", "8bit"])
        ctype += "; charset=utf-8"
    else:
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 3000)))
        cte = "base64"
    style = ["2231", "2231-cont", "2231-latin1", "ascii", "2047",
             "none"][i % 6]
    name = rnd.choice(FILENAMES)
    if style == "none":
        return leaf(ctype, data, cte, "", rnd.choice([None, "attachment"]))
    if style == "2047" and rnd.random() < 0.5:
        return leaf(ctype, data, cte, '; name="%s"' % ew(name, "utf-8", "B"))
    return leaf(ctype, data, cte, "", "attachment" +
                filename_params(name, style, rnd))


def message(rnd, n):
    """Message number n: headers, then a structure chosen by n."""
    charsets = list(TEXTS)
    cs = charsets[n % 4]
    hcs = charsets[(n // 4) % 4]
    enc = "B" if hcs == "iso-2022-jp" or n % 3 == 0 else "Q"
    subject = "Re: " + ew(TEXTS[hcs], hcs, enc, split=1 + n % 3)
    if n % 7 == 3:
        subject = "Plain subject folded\n over two lines"
    frm = "%s <sender%d@example.test>" % (ew(NAMES[hcs], hcs, enc), n)
    head = "Date: Mon, 1 Jan 2024 10:00:00 +0000\nFrom: %s\n" % frm
    if n % 9 != 8:
        head += "Subject: %s\n" % subject
    head += "To: you@example.test\nMessage-ID: <m%d@example.test>\n" % n
    if n % 3 == 1:
        head += "Cc: %s <cc%d@example.test>, other@example.test\n" % (
            ew(NAMES[cs], cs, "Q"), n)
    head += "MIME-Version: 1.0\n"

    lines = [TEXTS[cs]] * (1 + n % 4)
    if n % 5 == 1:
        lines.append("A long line " + "x" * 120 + " " + TEXTS[cs])
    if n % 6 == 2:
        lines.append("ends with spaces   ")
    text = "\n".join(lines) + "\n"
    cte = ["quoted-printable", "base64", "8bit", "quoted-printable"][n % 4]
    if cs == "iso-2022-jp":
        cte = ["7bit", "base64"][n % 2]
    plain = leaf("text/plain", text.encode(cs), cte,
                 "; charset=%s" % (cs.upper() if n % 2 else cs))
    html = leaf("text/html", ("<p>%s</p>\n" % TEXTS[cs]).encode(cs),
                "quoted-printable", "; charset=%s" % cs)

    shape = n % 5
    if shape == 0:
        body = plain
    elif shape == 1:
        body = multipart("mixed", [plain] + [attachment(rnd, n + i)
                                             for i in range(1 + n % 3)], rnd)
    elif shape == 2:
        body = multipart("mixed", [multipart("alternative", [plain, html],
                                             rnd), attachment(rnd, n)], rnd)
    elif shape == 3:
        body = multipart("alternative", [plain, html], rnd)
    else:
        inner = multipart("mixed", [attachment(rnd, n + 1),
                                    attachment(rnd, n + 2)], rnd)
        body = multipart("mixed", [multipart("alternative", [plain, html],
                                             rnd), inner,
                                   attachment(rnd, n + 3)], rnd)
    data = head.encode() + body
    if n % 5 == 4 or n % 8 == 5:
        data = data.replace(b"\n", b"\r\n")
    return data


def unfold(value):
    """A header value as one line (RFC 5322 section 2.2.3)."""
    return re.sub(r"\r?\n(?=[ \t])", "", value)


def one_line(text):
    """Header text as mailctl gives it: control characters (a CR or LF
    decoded from an encoded word, say) as spaces, for a field body is one
    line of printable characters and white space (RFC 5322 section 2.2)."""
    return None if text is None else re.sub(r"[\x00-\x08\x0a-\x1f\x7f]",
                                            " ", text)


def header_text(msg, raw, key):
    """str() of a header, or when Python's parser refuses it (a decoded CR
    or LF in a display name), its unfolded value with encoded words
    decoded, as the unstructured header Python reads it as."""
    try:
        return str(msg[key]) if msg[key] is not None else None
    except ValueError:
        return str(email.policy.default.header_factory("x-" + key,
                                                       unfold(raw[key])))


def header_addresses(msg, raw, key):
    """[{name, addr}] of an address field; when Python's parser refuses it,
    the same package's older parser (email.utils.getaddresses)."""
    try:
        h = msg[key]
        return [{"name": a.display_name, "addr": a.addr_spec}
                for a in (h.addresses if h is not None else ())]
    except ValueError:
        return [{"name": str(email.policy.default.header_factory("x-name",
                                                                 n)),
                 "addr": a}
                for n, a in email.utils.getaddresses([unfold(raw[key])])]


def raw_messages(raw):
    """The bytes of each message/* part of a compat32 parse, in walk order,
    as its content is written (the compat32 generator writes header fields
    as they came): a forwarded message is one attachment, as mailctl,
    Thunderbird and mutt list it, not a tree to look into."""
    sep = "\r\n" if b"\r\n" in raw.as_bytes()[:200] else "\n"
    out = []
    for p in raw.walk():
        if p.get_content_maintype() != "message" or not p.is_multipart():
            continue
        b = io.BytesIO()
        gen = email.generator.BytesGenerator(b, mangle_from_=False,
                                             maxheaderlen=0)
        for sub in p.get_payload():
            gen.flatten(sub, linesep=sep)
        data = b.getvalue()
        # Python keeps the blocks of a delivery status, not the blank
        # lines between them: its generator ends the last with one more
        # line break than the part had (RFC 3464 section 2.1).
        if p.get_content_type() == "message/delivery-status":
            data = data[:-len(sep)] if data.endswith(sep.encode() * 2) \
                else data
        out.append((p, data))
    return out


def oracle(data):
    """What Python's email package reads from a message."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    raw = email.message_from_bytes(data, policy=email.policy.compat32)
    out = {}
    for key in ("subject", "from", "to", "cc", "message-id"):
        out[key.replace("-", "_")] = one_line(header_text(msg, raw, key))
    # A date without a zone (Python: naive) is read as UTC; one Python
    # cannot read is null, with the header as written in date_raw.
    dt = msg["date"].datetime if msg["date"] is not None else None
    if dt is not None and dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    out["date"] = (dt.astimezone(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ") if dt is not None else None)
    if msg["date"] is not None and dt is None:
        out["date_raw"] = str(msg["date"])
    # The body: text/plain, else text/html (its source here; the tests
    # say what text they expect of it).
    part = msg.get_body(("plain",))
    if part is None:
        part = msg.get_body(("html",))
    try:
        # "is not None": a part without header fields is false (len() 0).
        out["body"] = (part.get_content().replace("\r\n", "\n")
                       if part is not None else "")
    except LookupError:     # a charset Python does not know
        out["body"] = part.get_payload(decode=True).decode(
            "utf-8", "replace").replace("\r\n", "\n")

    # The parse of each message/* part as written, matched by walk order.
    forwarded = iter(raw_messages(raw))

    def leaves(p):
        if p.get_content_maintype() == "message" and p.is_multipart():
            yield p, next(forwarded)[1]
        elif p.is_multipart():
            for sp in p.iter_parts():
                yield from leaves(sp)
        else:
            yield p, None
    atts = []
    for p, written in leaves(msg):
        if p is part:
            continue
        if not (p.is_attachment() or p.get_content_maintype() != "text" or
                p.get_filename()):
            continue
        payload = (written if written is not None else
                   p.get_payload(decode=True) or b"")
        atts.append({"filename": p.get_filename(),
                     "content_type": p.get_content_type(),
                     "size": len(payload),
                     "sha256": hashlib.sha256(payload).hexdigest()})
    out["attachments"] = atts
    out["warnings"] = []
    for key in ("from", "to", "cc"):
        out[key + "_addresses"] = [
            dict(a, name=one_line(a["name"]))
            for a in header_addresses(msg, raw, key)]
    out["body_type"] = (part.get_content_type() if part is not None
                        else None)
    ids = re.findall(r"<[^<>]*>", str(msg["in-reply-to"] or ""))
    out["in_reply_to"] = ids[0] if ids else None
    out["references"] = re.findall(r"<[^<>]*>", str(msg["references"] or ""))
    return out


def simple(head, body, ctype=None, cte=None):
    """A one-part message: header lines (str or bytes) and a body."""
    if isinstance(head, str):
        head = head.encode()
    if isinstance(body, str):
        body = body.encode()
    top = (b"Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
           b"From: Case <case@example.test>\nTo: you@example.test\n"
           b"Message-ID: <case@example.test>\n")
    if ctype:
        top += b"MIME-Version: 1.0\nContent-Type: " + ctype.encode() + b"\n"
    if cte:
        top += b"Content-Transfer-Encoding: " + cte.encode() + b"\n"
    return top + head + b"\n" + body


def w1252(text):
    """What browsers read from windows-1252 bytes (WHATWG)."""
    return text.decode("cp1252")


# Each case: name, message bytes, what we expect where Python's answer is
# not what a reader should show (None: Python's answer as it is).
CASES = [
    # Charsets: ISO-8859-1, US-ASCII and no label read as windows-1252.
    ("latin1-pure", simple("Subject: caf\xc3\xa9\n",
                           "Caf\xe9 cr\xe8me, \xe0 bient\xf4t\n".encode("latin1"),
                           "text/plain; charset=iso-8859-1", "8bit"), None),
    ("latin1-w1252", simple("Subject: quotes\n",
                            b"\x93Quoted\x94 \x96 it costs \x80 5\x85\n",
                            "text/plain; charset=ISO-8859-1", "8bit"),
     {"body": w1252(b"\x93Quoted\x94 \x96 it costs \x80 5\x85\n")}),
    ("ascii-w1252", simple("Subject: ascii\n", b"It\x92s done\n",
                           "text/plain; charset=us-ascii", "8bit"),
     {"body": "It\u2019s done\n"}),
    ("nolabel-w1252", simple("Subject: none\n", b"na\xefve \x84tsch\x93\n"),
     {"body": w1252(b"na\xefve \x84tsch\x93\n")}),
    ("nolabel-utf8", simple("Subject: none\n", "Grüße ✓\n".encode()),
     {"body": "Grüße ✓\n"}),
    ("qp-latin1-w1252", simple("Subject: qp\n", b"=93hi=94 =E9t=E9\n",
                               "text/plain; charset=iso-8859-1",
                               "quoted-printable"),
     {"body": "\u201chi\u201d \u00e9t\u00e9\n"}),
    # Raw 8-bit header text: UTF-8 when valid, else the message's charset,
    # else windows-1252.
    ("hdr8-utf8", simple("Subject: Grüße aus Köln\n".encode(), "x\n",
                         "text/plain; charset=utf-8"),
     {"subject": "Grüße aus Köln"}),
    ("hdr8-koi8", simple("Subject: ".encode() + "Привет мир".encode("koi8-r") +
                         b"\n", "Текст\n".encode("koi8-r"),
                         "text/plain; charset=koi8-r", "8bit"),
     {"subject": "Привет мир"}),
    ("hdr8-w1252", simple(b"Subject: \x93Caf\xe9\x94\n", "x\n"),
     {"subject": "\u201cCaf\u00e9\u201d"}),
]


# An mbox envelope line among the headers (mail copied between mailboxes):
# skipped, and the headers after it read.
ENVELOPE = (b"Return-Path: <list@example.test>\n"
            b"From list@example.test  Tue Feb  6 09:15:02 2024\n"
            b"Received: from mx.example.test by mail.example.test\n"
            b"From: =?utf-8?q?Ren=C3=A9e?= <renee@example.test>\n"
            b"To: you@example.test\nSubject: After the envelope\n"
            b"Date: Tue, 6 Feb 2024 10:15:00 +0100\n"
            b"Message-ID: <env@example.test>\n\nThe body.\n")
CASES.append(("envelope", ENVELOPE, {
    "subject": "After the envelope", "from": "Renée <renee@example.test>",
    "to": "you@example.test", "message_id": "<env@example.test>",
    "date": "2024-02-06T09:15:00Z", "body": "The body.\n"}))


def dated(value):
    """A message with the Date header value given."""
    return (b"Date: " + value.encode() + b"\nFrom: d@example.test\n"
            b"Subject: date\n\nx\n")


# Dates: the forms Python reads too, and those where we do better.
DATES = [
    ("rfc", "Wed, 03 Apr 2002 07:56:00 +0200 (CEST)", None),
    ("long-names", "Wednesday, April 03, 2002 5:56 AM", None),
    ("no-zone", "03 Apr 2002 05:56:00", None),
    ("asctime", "Mon Apr  3 05:56:00 2002", None),
    ("two-digit-year", "Wed, 3 Apr 02 00:56:00 EST", None),
    ("lower-pdt", "2 apr 2002 22:56 pdt", None),
    ("spaces", "  Wed ,  3   Apr  2002   05:56:00  (c)  +0000 ",
     {"date": "2002-04-03T05:56:00Z"}),
    ("ut", "3 Apr 99 05:56:00 UT", None),
    ("iso-z", "2002-04-03T05:56:00Z", {"date": "2002-04-03T05:56:00Z"}),
    ("iso-zone", "2002-04-03 07:56:00 +0200",
     {"date": "2002-04-03T05:56:00Z"}),
    ("three-digit-year", "3 Apr 102 05:56:00 +0000",
     {"date": "2002-04-03T05:56:00Z"}),
    ("garbage", "sometime last week", None),
]
for _name, _value, _better in DATES:
    if _better is not None:
        _better = dict(_better, date_raw=None)
    CASES.append(("date-" + _name, dated(_value), _better))


def att_want(name, ctype, data):
    """An attachment as the oracle lists it."""
    return {"filename": name, "content_type": ctype, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


# Delimiters matched as a prefix: a close delimiter with text after it ends
# the multipart (Python takes it for content), an open one with text after
# it opens a part; the epilogue never reaches a part.
_BIN = bytes(range(256)) * 3
CASES.append(("close-trailing", (
    b"Subject: close\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=\"=_x\"\n\n--=_x\n"
    b"Content-Type: text/plain\n\nhello\n--=_x\n"
    b"Content-Type: application/octet-stream\n"
    b"Content-Transfer-Encoding: base64\n"
    b"Content-Disposition: attachment; filename=a.bin\n\n" +
    base64.encodebytes(_BIN) +
    b"--=_x-- end of message, thanks\nepilogue AAAA\n"),
    {"attachments": [att_want("a.bin", "application/octet-stream",
                              _BIN)]}))
CASES.append(("open-trailing", (
    b"Subject: open\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=b\n\n--b  text\n"
    b"Content-Type: text/plain\n\nhello\n--b--\n"),
    {"body": "hello", "body_type": "text/plain", "attachments": []}))
CASES.append(("nested-prefix", (
    b"Subject: nested\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=b\n\n--b\n"
    b"Content-Type: multipart/alternative; boundary=b-alt\n\n--b-alt\n"
    b"Content-Type: text/plain\n\nplain\n--b-alt\n"
    b"Content-Type: text/html\n\n<p>html</p>\n--b-alt--\n--b\n"
    b"Content-Type: image/png; name=p.png\n\nPNG\n--b--\n"), None))


# Damage and limits announce themselves.
CASES.append(("unclosed", (
    b"Subject: unclosed\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=u\n\n--u\n"
    b"Content-Type: text/plain\n\nhello\n--u\n"
    b"Content-Type: application/pdf; name=cut.pdf\n\n%PDF-1.4\n"), {
    # No delimiter claims the last line break: it stays (Python drops it).
    "attachments": [att_want("cut.pdf", "application/pdf", b"%PDF-1.4\n")],
    "warnings": ['boundary "u" of a multipart/mixed part never closed']}))
CASES.append(("no-boundary", (
    b"Subject: lost\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=gone\n\n--other\n"
    b"Content-Type: text/plain\n\nhello\n--other--\n"), {
    "attachments": [att_want(None, "multipart/mixed",
                             b"--other\nContent-Type: text/plain\n\nhello\n"
                             b"--other--\n")],
    "warnings": ['boundary "gone" of a multipart/mixed part not found']}))
CASES.append(("bad-charset", simple("Subject: x\n", "plain words\n",
                                    "text/plain; charset=x-unheard-of"),
              {"warnings": ['unknown charset "x-unheard-of"']}))
CASES.append(("bad-cte", simple("Subject: x\n", "begin 644 a\n`\nend\n",
                                "text/plain", "x-uuencode"),
              {"body": "begin 644 a\n`\nend\n",
               "warnings": ['unknown transfer encoding "x-uuencode"']}))
CASES.append(("not-base64", simple("Subject: x\n",
                                   "Dear all, this was never base64.\n",
                                   "text/plain; charset=utf-8", "base64"),
              {"body": "Dear all, this was never base64.\n",
               "warnings": ["a text/plain part labelled base64 is not"]}))


# Address lists, threads, the body's type.
CASES.append(("addresses", simple(
    "Cc: \"Last, First\" <first.last@example.test>, plain@example.test,\n"
    " =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <jorg@example.test>,\n"
    " Team: one@example.test, \"Two \\\"2\\\" Too\" <two@example.test>;,\n"
    " undisclosed-recipients:;, <bare@example.test>\n"
    "In-Reply-To: <parent@example.test> (Alice's message)\n"
    "References: <root@example.test>\n <mid@example.test>"
    " <parent@example.test>\nSubject: addresses\n", "hi\n"),
    # cc: the field as written, decoded (Python rewrites "<a>" as "a").
    {"cc": '"Last, First" <first.last@example.test>, plain@example.test, '
           'Jörg Müller <jorg@example.test>, Team: one@example.test, '
           '"Two \\"2\\" Too" <two@example.test>;, undisclosed-recipients:;, '
           '<bare@example.test>'}))
CASES.append(("html-only", simple(
    "Subject: html\n", "<p>Hello <b>there</b></p>\n",
    "text/html; charset=utf-8"), {"body": "Hello there",
                                  "body_type": "text/html"}))


# A forwarded message without a name: filename null, saved as .eml.
_INNER = b"Subject: inner\nFrom: a@example.test\n\ninner text\n"
CASES.append(("rfc822-noname", (
    b"Subject: fwd\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=f\n\n--f\n"
    b"Content-Type: text/plain\n\nsee below\n--f\n"
    b"Content-Type: message/rfc822\n\n" + _INNER + b"--f--\n"),
    # The oracle lists the message as one leaf, as it is written.
    {"attachments": [att_want(None, "message/rfc822", _INNER[:-1])]}))


# Bidi and zero-width characters leave the name listed and saved.
CASES.append(("bidi-name", (
    b"Subject: invoice\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=i\n\n--i\n"
    b"Content-Type: text/plain\n\nsee attached\n--i\n"
    b"Content-Type: application/octet-stream\n"
    b"Content-Disposition: attachment;\n"
    b" filename*=utf-8''invoice%E2%80%AE%E2%80%8Bfdp.exe\n\nMZ\n--i--\n"),
    {"attachments": [att_want("invoicefdp.exe", "application/octet-stream",
                              b"MZ")]}))


# Broken header blocks and fields as the corpus has them (tests/corpus):
# read as the sender meant, where Python drops or mistakes something.
CASES.append(("indented-first", (
    b" From: Ann Example <ann@example.test>\nSubject: indented\n"
    b"To: you@example.test\n\nbody\n"),
    # Python drops the line (and mutt takes it all for body).
    {"from": "Ann Example <ann@example.test>",
     "from_addresses": [{"name": "Ann Example", "addr": "ann@example.test"}]}))
CASES.append(("indented-no-header", b"  an indented line\nmore text\n",
              # Python drops the first line and reads the rest as body.
              {"body": "  an indented line\nmore text\n"}))
_ZIP = b"PK\x03\x04 not really a zip"
CASES.append(("unindented-param", (
    b"Subject: param\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=u\n\n--u\n"
    b"Content-Type: text/plain\n\nhello\n--u\n"
    b"Content-Type: application/zip; x-unix-mode=0600;\n"
    b"name=\"a.zip\"\nContent-Transfer-Encoding: base64\n\n" +
    base64.encodebytes(_ZIP) + b"--u--\n"),
    # Python ends the header at "name=" and decodes the rest as base64.
    {"attachments": [att_want("a.zip", "application/zip", _ZIP)]}))
CASES.append(("no-comma", simple(
    "Cc: Bob One <bob@example.test> \"Two, B.\" <two@example.test>"
    " <three@example.test> (Three)\nSubject: no comma\n", "x\n"),
    # Python keeps the first mailbox only (and the field as written).
    {"cc": "Bob One <bob@example.test> \"Two, B.\" <two@example.test>"
           " <three@example.test> (Three)",
     "cc_addresses": [{"name": "Bob One", "addr": "bob@example.test"},
                      {"name": "Two, B.", "addr": "two@example.test"},
                      {"name": "", "addr": "three@example.test"}]}))
CASES.append(("comment-name", simple(
    "Cc: ann@example.test (Ann =?utf-8?q?M=C3=BCller?=),\n"
    " Bob <bob@example.test> (not a name)\nSubject: comments\n", "x\n"),
    # The legacy "addr (Name)" form (RFC 5322 section 3.4): Python drops it.
    {"cc": "ann@example.test (Ann Müller), Bob <bob@example.test> "
           "(not a name)",
     "cc_addresses": [{"name": "Ann Müller", "addr": "ann@example.test"},
                      {"name": "Bob", "addr": "bob@example.test"}]}))
CASES.append(("ew-newline", simple(
    "Subject: =?utf-8?q?one=0Atwo=0D=0AX-Forged:_yes?=\n"
    "Cc: =?utf-8?q?Ann=0A_=0D=0A_Example?= <ann@example.test>\n", "x\n"),
    {"subject": "one two  X-Forged: yes",
     # A display name's white space is collapsed after decoding too.
     "cc_addresses": [{"name": "Ann Example", "addr": "ann@example.test"}]}))
CASES.append(("base64-stray", (
    b"Subject: stray\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=s\n\n--s\n"
    b"Content-Type: text/plain\n\nhi\n--s\n"
    b"Content-Type: application/msword; name=a.doc\n"
    b"Content-Transfer-Encoding: base64\n\nPGh0*bWw+Cg==\n--s--\n"), None))
CASES.append(("adjacent-delims", (
    b"Subject: adjacent\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=d\n\n--d\n--d\n"
    b"Content-Type: text/x-one\n\nBlah\n--d\n--d\n"
    b"Content-Type: image/gif; name=g.gif\n\nGIF\n--d--\n"), None))


def generate(outdir, count=40):
    rnd = random.Random(4)
    for n in range(count):
        data = message(rnd, n)
        with open(os.path.join(outdir, "%02d.eml" % n), "wb") as f:
            f.write(data)
        with open(os.path.join(outdir, "%02d.json" % n), "w") as f:
            json.dump(oracle(data), f, ensure_ascii=False, sort_keys=True)
    for name, data, better in CASES:
        want = oracle(data)
        want.update(better or {})
        with open(os.path.join(outdir, "c-%s.eml" % name), "wb") as f:
            f.write(data)
        with open(os.path.join(outdir, "c-%s.json" % name), "w") as f:
            json.dump(want, f, ensure_ascii=False, sort_keys=True)


def compare(expected, actual):
    with open(expected) as f:
        want = json.load(f)
    with open(actual) as f:
        got = json.load(f)
    failed = 0

    def report(field, good, why=""):
        nonlocal failed
        failed += not good
        print("%s %s%s" % ("ok" if good else "not ok", field,
                           "" if good else ": " + why))
    for key in ("date_raw",):
        report(key, want.get(key) == got.get(key),
               "want %r, got %r" % (want.get(key), got.get(key)))
    for key in ("subject", "from", "to", "cc", "message_id", "date",
                "from_addresses", "to_addresses", "cc_addresses",
                "body_type", "in_reply_to", "references"):
        report(key, want[key] == got.get(key),
               "want %r, got %r" % (want[key], got.get(key)))
    # Notices: the expected ones are the beginnings of those given.
    ww, gw = want["warnings"], got.get("warnings")
    report("warnings", isinstance(gw, list) and len(ww) == len(gw) and
           all(g.startswith(w) for w, g in zip(ww, gw)),
           "want %r, got %r" % (ww, gw))
    wb, gb = want["body"].rstrip(), got.get("body", "").rstrip()
    report("body", wb == gb, "want %r, got %r" % (wb, gb))
    wa, ga = want["attachments"], got.get("attachments", [])
    report("attachment count", len(wa) == len(ga),
           "want %d, got %d" % (len(wa), len(ga)))
    for i, (w, g) in enumerate(zip(wa, ga)):
        for key in ("filename", "content_type", "size", "sha256"):
            report("attachment %d %s" % (i, key), w[key] == g.get(key),
                   "want %r, got %r" % (w[key], g.get(key)))
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "generate":
        generate(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
