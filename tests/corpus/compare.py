"""Compare `mailctl read --json` (NNNN.read) with Python's email package on
the corpus messages (NNNN.eml, NNNN.origin) in a directory; print the
agreement, each class of disagreement (the field, and what kind of
difference) with its count, then every disagreement (origin, field, both
values cut short). Exit 1 when the agreement is below the minimum given
(percent).

What is compared is what Python reads (tests/tools/mime_oracle.py), turned
into what mailctl should show by the rules below, each written out where
Python's answer is not what a reader shows or only writes it differently.
Every rule gives an exact expected value: none accepts whatever came.
- From, To and Cc are shown as written, unfolded, encoded words decoded
  (Python rewrites them: '"A" <a@b>' as 'A <a@b>', '<a@b>' as 'a@b').
- A comment is the display name of an address that has no other, as mutt
  and Thunderbird read the legacy "addr (Name)" form (RFC 5322 section 3.4
  notes that this is what such comments meant); Python drops it.
- The null address "<>" is "" (Python writes it "<>").
- A display name is its words: white space inside its quoted parts is
  collapsed and trimmed ('"" Angles " Puglisi"' shows "Angles Puglisi"),
  and an encoded word inside a word is decoded ("H=?ISO-8859-1?B?9g==?=hn"
  is "Höhn"; Python's address parser keeps it, its text parser decodes it).
- Header text ends at its last printable character: trailing white space
  is not shown (Python keeps it). Raw 8-bit header text is UTF-8 when it is
  valid, else in the charset the message declares, else windows-1252.
- A body with no text/plain part is the text of its text/html part: the
  words are compared, as the layout of that text is ours (EXPECT_HTML).
- Text labelled ISO-8859-1 or windows-1252 is windows-1252, and text with
  no charset, US-ASCII or one not known is UTF-8 when it is valid UTF-8,
  else windows-1252 (WHATWG Encoding Standard; Python replaces each 8-bit
  byte with U+FFFD). A NUL is U+FFFD (mime.h: text has no NUL bytes).
- A content type is the type/subtype token: what follows a space is not
  part of it (RFC 2045 section 5.1; Python keeps 'application/pdf name=x').
- A multipart whose boundary is not found is one attachment; the line
  break before the next delimiter is the delimiter's (RFC 2046 section
  5.1.1), where Python keeps it in the part.
- EXPECT lists, message by message, where we read a broken message
  otherwise than Python, and why.
"""
import collections
import email
import email.policy
import html.parser
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from mime_oracle import one_line, oracle, unfold  # noqa: E402

FIELDS = ("subject", "from", "to", "cc", "message_id", "date", "date_raw",
          "from_addresses", "to_addresses", "cc_addresses", "body_type",
          "in_reply_to", "references", "body")

# Messages read otherwise than Python, on purpose: origin suffix -> the
# fields expected, with the reason.
EXPECT = {
    # The first header line is indented: read as a header (the others
    # follow it); Python drops it, mutt takes the whole message as body.
    "low-quality/bad-header-start.raw": {
        "from": "James Hillyerd <james@makita.skynet>",
        "from_addresses": [{"name": "James Hillyerd",
                            "addr": "james@makita.skynet"}]},
    # Two mailboxes without the comma between them: both kept, as mutt
    # does; Python keeps the first and drops the other.
    "mail/malformed-multiple-address-header-values.raw": {
        "from_addresses": [{"name": "Bob Dunite", "addr": "bob@extern"},
                           {"name": "Bobby Dunite", "addr": "bobby@extern"}]},
    # A parameter line of Content-Type that lost its indentation after a
    # ';': read as the continuation it is (enmime does too), so the part's
    # name and base64 body are found; Python ends the header there and
    # decodes the header lines after it as base64 (63 bytes of noise).
    "low-quality/bad-header-wrap.raw": {
        "attachments": [("7DDA4_foo_9E5D72.zip",
                         "application/x-zip-compressed", 7)]},
    # A text part labelled base64 that is plainly not base64 is shown as
    # it is (issue 18); Python decodes the letters as base64.
    "mail/mime-bad-content-transfer-encoding.raw": {"body": "AS IS"},
}

# HTML elements whose content is not text (mime-html.c: head matter).
HTML_RAW = {"title", "style", "script", "template", "iframe", "noembed",
            "noframes"}
HTML_URL_MAX = 2048


def bare(s):
    """A URL or link text without http://, https://, mailto: or a final /,
    lowercased: a link whose text is its URL shows it once."""
    s = re.sub(r"^(https?://|mailto:)", "", s, flags=re.I)
    return s.rstrip("/").lower()


class HtmlWords(html.parser.HTMLParser):
    """The words mime-html.c is expected to show of HTML: text outside
    head matter, "<url>" after a link's text unless the text is the URL,
    list items marked "-" or "N.", quoted lines marked ">" (the words are
    compared, so where a line starts does not matter for them)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.words, self.raw, self.href, self.start = [], 0, None, 0
        self.lists = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in HTML_RAW:
            self.raw += 1
        elif tag == "a":
            self.end_link()
            href = re.sub(r"[\x00-\x20\x7f]", "", attrs.get("href") or "")
            if (href and not href.startswith("#") and
                    len(href) <= HTML_URL_MAX and
                    not re.match(r"(javascript|vbscript|data):", href,
                                 re.I)):
                self.href = href
            self.start = len(self.words)
        elif tag in ("ul", "ol"):
            n = 0
            if tag == "ol":
                try:
                    n = int(attrs.get("start") or 1)
                except ValueError:
                    n = 1
                n = n if 0 < n < 10**9 else 1
            self.lists.append(n)
        elif tag == "li":
            if self.lists and self.lists[-1] > 0:
                self.words.append("%d." % self.lists[-1])
                self.lists[-1] += 1
            else:
                self.words.append("-")

    def handle_endtag(self, tag):
        if tag in HTML_RAW:
            self.raw = max(0, self.raw - 1)
        elif tag == "a":
            self.end_link()
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()

    def end_link(self):
        if self.href is None:
            return
        text = " ".join(self.words[self.start:])
        if not text or bare(text) != bare(self.href):
            self.words.append("<%s>" % self.href)
        self.href = None

    def handle_data(self, data):
        if not self.raw:
            self.words.extend(data.replace("\xad", "").split())

    def text(self, s):
        self.feed(s)
        self.close()
        self.end_link()
        return self.words


def w1252(data):
    """Bytes as windows-1252 (WHATWG: 0x81, 0x8d, 0x8f, 0x90 and 0x9d are
    the C1 controls of the same number)."""
    return "".join(chr(b) if b in (0x81, 0x8d, 0x8f, 0x90, 0x9d) else
                   bytes([b]).decode("cp1252") for b in data)


UTF8_SEQ = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|"
                      rb"\xe0[\xa0-\xbf][\x80-\xbf]|"
                      rb"[\xe1-\xec\xee\xef][\x80-\xbf]{2}|"
                      rb"\xed[\x80-\x9f][\x80-\xbf]|"
                      rb"\xf0[\x90-\xbf][\x80-\xbf]{2}|"
                      rb"[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}")


def guess(data):
    """Text of unknown charset: UTF-8 when valid, else its UTF-8 sequences
    kept and the other bytes as windows-1252."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    out, i = [], 0
    for m in UTF8_SEQ.finditer(data):
        out.append(w1252(data[i:m.start()]))
        out.append(m.group().decode("utf-8"))
        i = m.end()
    out.append(w1252(data[i:]))
    return "".join(out)


W1252 = {"iso-8859-1", "iso8859-1", "iso_8859-1", "iso_8859-1:1987",
         "latin1", "l1", "cp819", "ibm819", "iso-ir-100", "csisolatin1",
         "windows-1252", "cp1252", "x-cp1252"}


def body_text(part):
    """The text of a body part, decoded as mailctl is expected to."""
    cs = (part.get_param("charset") or "").lower()
    if cs in W1252 or cs in ("", "us-ascii", "ascii"):
        data = part.get_payload(decode=True) or b""
        text = w1252(data) if cs in W1252 else guess(data)
    else:
        try:
            text = part.get_content()
        except LookupError:
            text = guess(part.get_payload(decode=True) or b"")
    return text.replace("\r\n", "\n").replace("\x00", "\ufffd")


def comment_names(value, addrs):
    """Give an address without a display name the first comment of its
    mailbox as one, encoded words decoded and white space collapsed."""
    from email import _header_value_parser as parser
    try:
        tokens = parser.get_address_list(unfold(value))[0]
    except Exception:   # Python's own parse failed: nothing to add
        return addrs
    mailboxes = [mb for a in tokens.addresses for mb in a.all_mailboxes]
    if len(mailboxes) != len(addrs):
        return addrs
    out = []
    for a, mb in zip(addrs, mailboxes):
        if not a["name"] and mb[0].token_type == "addr-spec" and \
                mb.comments:
            name = str(email.policy.default.header_factory(
                "x-name", mb.comments[0]))
            a = dict(a, name=one_line(" ".join(name.split())))
        out.append(a)
    return out


def words(name):
    """A display name with the encoded words Python's address parser
    leaves inside a word ('H=?ISO-8859-1?B?9g==?=hn') decoded, as it
    decodes them in unstructured text and as Thunderbird shows them."""
    return re.sub(r"(?<=[^\s])=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=",
                  lambda m: str(email.policy.default.header_factory(
                      "x-name", m.group())), name)


def header_charset(msg):
    """The charset raw 8-bit header text is read in when it is not UTF-8:
    the message's, else its first text part's (mime.c), else none."""
    for p in msg.walk():
        cs = p.get_param("charset")
        if (p is msg or p.get_content_maintype() == "text") and cs:
            return str(cs).lower()
    return None


def raw_header(raw, key, fb):
    """A header field as written, its raw 8-bit bytes read as UTF-8 when
    they are valid, else in the message's charset, else windows-1252
    (Python makes each such byte U+FFFD)."""
    for k, v in raw.raw_items():
        if k.lower() != key:
            continue
        if isinstance(v, str) and not v.isascii():
            data = v.encode("ascii", "surrogateescape")
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                pass
            if fb and fb not in W1252 and fb not in ("us-ascii", "ascii"):
                try:
                    return data.decode(fb, "replace")
                except LookupError:
                    pass
            return guess(data)
        return str(v)
    return None


def expect(data, origin):
    """What mailctl should show of a message (see the top of this file)."""
    want = oracle(data)
    msg = email.message_from_bytes(data, policy=email.policy.default)
    raw = email.message_from_bytes(data, policy=email.policy.compat32)
    fb = header_charset(msg)
    for key in ("subject", "from", "to", "cc"):
        value = raw_header(raw, key, fb)
        if value is None:
            continue
        want[key] = one_line(str(email.policy.default.header_factory(
            "x-" + key, unfold(value)))).rstrip()
        if key != "subject":
            want[key + "_addresses"] = [
                dict(a, addr="" if a["addr"] == "<>" else a["addr"],
                     name=" ".join(words(a["name"]).split()))
                for a in comment_names(value, want[key + "_addresses"])]
    part = msg.get_body(("plain",))
    if part is None:
        part = msg.get_body(("html",))
    if part is not None and part.get_content_type() == "text/html":
        want["body"] = HtmlWords().text(body_text(part))
    elif part is not None:
        want["body"] = body_text(part)
    for a in want["attachments"]:
        a["content_type"] = a["content_type"].split()[0]
    for p in msg.walk():
        if p.get_content_maintype() == "multipart" and \
                not p.is_multipart() and p is not msg:
            for a in want["attachments"]:
                if a["content_type"] == p.get_content_type() and \
                        a["size"] > 0:
                    payload = p.get_payload(decode=True)
                    if payload.endswith(b"\n"):
                        a["size"] -= 2 if payload.endswith(b"\r\n") else 1
    for suffix, fields in EXPECT.items():
        if origin.endswith(suffix):
            want.update(fields)
    return want


def differences(want, got, origin):
    """[(class, field, want, got)] for each field that differs."""
    diffs = []
    for key in FIELDS:
        w, g = want.get(key), got.get(key)
        if key == "body" and w == "AS IS":
            continue    # checked below, against the part as it is
        if key == "body" and isinstance(w, list):
            w, g = " ".join(w), " ".join((g or "").split())
        elif key == "body":
            w, g = (w or "").rstrip(), (g or "").rstrip()
        if w != g:
            if w is None or g is None:
                c = "%s: one side null" % key
            elif key == "body" and w.split() == g.split():
                c = "body: white space only"
            else:
                c = "%s: different" % key
            diffs.append((c, key, w, g))
    wa = [tuple(a) if isinstance(a, tuple) else
          (a["filename"], a["content_type"], a["size"])
          for a in want["attachments"]]
    ga = [(a["filename"], a["content_type"], a["size"])
          for a in got.get("attachments", [])]
    if len(wa) != len(ga):
        diffs.append(("attachments: count", "attachments", wa, ga))
    else:
        for w, g in zip(wa, ga):
            for i, what in enumerate(("filename", "content_type", "size")):
                if w[i] != g[i]:
                    diffs.append(("attachments: " + what,
                                  "attachment " + what, w[i], g[i]))
    return diffs


def as_is_body(data, got):
    """The check of a body expected as it is written: the words of the
    text part's undecoded content."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    part = msg.get_body(("plain",))
    content = part.get_payload(decode=False) if part is not None else ""
    if content.split() == (got.get("body") or "").split():
        return []
    return [("body: different", "body", content, got.get("body"))]


def main(d, minimum):
    total = agree = 0
    classes = collections.Counter()
    listing = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".eml"):
            continue
        base = os.path.join(d, name[:-4])
        origin = open(base + ".origin").read()
        data = open(base + ".eml", "rb").read()
        total += 1
        try:
            want = expect(data, origin)
        except Exception as e:  # Python itself fails on it
            diffs = [("python fails (%s)" % type(e).__name__, "all",
                      str(e), None)]
        else:
            try:
                got = json.load(open(base + ".read"))
            except (OSError, ValueError):
                got = None
            if got is None:
                diffs = [("read failed", "all", None, None)]
            else:
                diffs = differences(want, got, origin)
                if want.get("body") == "AS IS":
                    diffs += as_is_body(data, got)
        if not diffs:
            agree += 1
        for c, key, w, g in diffs:
            classes[c] += 1
            listing.append("%s %s: want %.100r got %.100r" % (origin, key,
                                                              w, g))
    rate = 100.0 * agree / total if total else 0.0
    print("# corpus: %d messages, %d agree in every field: %.1f%%" %
          (total, agree, rate))
    for c, n in classes.most_common():
        print("# %5d  %s" % (n, c))
    print("# every disagreement (origin field: want, got):")
    for line in listing:
        print("#   " + line)
    return 0 if rate >= minimum else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
