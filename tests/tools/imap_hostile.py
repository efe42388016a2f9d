#!/usr/bin/env python3
"""A deliberately broken IMAP server, played in addition to the real Dovecot.

usage: imap_hostile.py [--port-file FILE] [--log FILE] [--messages N]
                       [--size BYTES] [--dump DIR] [--uidvalidity N]
                       [--depth N] [--host ADDR] MODE

Listens on 127.0.0.1 (ephemeral port, written to --port-file via FILE.tmp
and a rename; printed without --port-file), a thread per connection,
until SIGTERM/SIGINT or 300 s.  --log appends "3 OPEN", "3 C: a1 SELECT
INBOX" ("a0 LOGIN user ********", never the secret), "3 S: <first line of
the reply>", "3 CLOSED".  The mailbox INBOX: --messages (3) deterministic
RFC 5322 messages of exactly --size (2000) bytes, CRLF, UIDs 1..N under
UIDVALIDITY --uidvalidity (1700000000); flags live as long as the process.
--dump DIR writes the messages to DIR/uid-K.eml and exits.  No TLS.

Outside its mode the server speaks enough IMAP4rev1 (RFC 3501) for a
client's fetch: CAPABILITY, NOOP, LOGOUT, LOGIN (any password but "wrong"),
AUTHENTICATE PLAIN (with SASL-IR), ENABLE, ID, SELECT/EXAMINE INBOX
(EXISTS, RECENT, FLAGS, UIDVALIDITY, UIDNEXT), STATUS, LIST/LSUB (INBOX
only), [UID] FETCH (UID FLAGS RFC822.SIZE INTERNALDATE BODY[] BODY.PEEK[]
BODY[HEADER] BODY.PEEK[HEADER] RFC822 RFC822.HEADER; sequence sets with
"*"), [UID] STORE [+-]FLAGS[.SILENT], [UID] SEARCH (ALL, or a UID set),
EXPUNGE, CLOSE, CHECK, IDLE/DONE.  Client literals ({N} and {N+}) are
accepted in commands.  Modes:

  normal             behaves (the positive control)
  lying-literal      FETCH of a body: announces {1000}, sends 10 bytes and
                     closes the connection
  lying-literal-more FETCH of a body: announces {10}, then sends the whole
                     message (the rest arrives where a response should)
  huge-literal       FETCH of a body: announces {2147483648}, then trickles
                     "x" one byte every 100 ms, forever
  endless-line       the reply to the first command after login is
                     "* OK " and "x" forever, no CRLF
  untagged-flood     the reply to SELECT/EXAMINE is "* N EXISTS" and
                     "* OK flood N" lines forever, never the tagged reply
  deep-nesting       each FETCH response starts with an unasked
                     BODYSTRUCTURE of --depth (10,000) nested lists; the
                     rest of the response is correct
  no-done            IDLE is accepted ("+ idling"), DONE never answered;
                     later commands are read and ignored
  bye-midway         a FETCH of several messages: the first is answered,
                     then "* BYE" and the connection is closed
  bad-mutf7          LIST and LSUB add folders whose names are invalid
                     modified UTF-7 ("&Jjo" unterminated, "&AGEAYgBj-"
                     encoding ASCII, "&2D3eAA-" an unpaired surrogate,
                     "&AAA-" a NUL) and 8-bit bytes that are not UTF-8
                     ("\\xff\\xfe") or raw UTF-8 ("caf\\xc3\\xa9")
  slow-greeting      never sends the greeting; reads until the client
                     closes

Endless streams go in 64 KiB writes until the client closes.
"""
import argparse
import base64
import re
import threading
import time
from functools import partial

import hostile_server as hs

CAPS = ("IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UIDPLUS AUTH=PLAIN")
FLAGS = r"\Answered \Flagged \Deleted \Seen \Draft"
INTERNALDATE = "01-Jan-2024 12:00:00 +0000"
LITERAL_MAX = 16 * 1024 * 1024    # largest literal accepted in a command
HUGE = 2147483648                 # the huge-literal announcement

MAILBOX = []              # [uid, raw bytes, set of flags], UID order
MAILBOX_LOCK = threading.Lock()
BAD_NAMES = [b"&Jjo", b"&AGEAYgBj-", b"&2D3eAA-", b"&AAA-",
             b"\xff\xfe", b"caf\xc3\xa9"]


class Quit(Exception):
    """Raised by a handler to end the session (after LOGOUT, a BYE...)."""


def masked(line):
    """Return a command line fit for the log: no secret, no control bytes."""
    m = re.match(r"(\S+ (?:LOGIN \S+|AUTHENTICATE \S+)) .*", line, re.I)
    return hs.printable(m.group(1) + " ********" if m else line)


def group_end(text, i):
    """Return the index just past the bracket group opening at text[i]."""
    depth = 0
    while i < len(text):
        depth += text[i] in "(["
        depth -= text[i] in ")]"
        i += 1
        if depth == 0:
            break
    return i


def tokens(text):
    """Split command arguments: atoms, "quoted strings" (unquoted), and
    parenthesized lists (kept whole, as one string with the parens)."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == " ":
            i += 1
        elif c == '"':
            j, val = i + 1, []
            while j < len(text) and text[j] != '"':
                if text[j] == "\\":
                    j += 1
                val.append(text[j:j + 1])
                j += 1
            out.append("".join(val))
            i = j + 1
        else:
            # An atom, which may hold a group: BODY.PEEK[HEADER.FIELDS (A)]
            j = i
            while j < len(text) and (text[j] != " " or j == i):
                j = group_end(text, j) if text[j] in "([" else j + 1
            out.append(text[i:j])
            i = j
    return out


def parse_set(text, largest):
    """Return the numbers of an IMAP sequence set ("1:3,7,9:*")."""
    nums = set()
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        lo = largest if lo == "*" else int(lo)
        hi = lo if not hi else largest if hi == "*" else int(hi)
        lo, hi = min(lo, hi), max(lo, hi)
        nums.update(range(lo, min(hi, max(largest, lo)) + 1))
    return nums


def quoted(name):
    return b'"' + name.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


class Session(hs.Conn):
    """One client connection and its IMAP state."""

    def __init__(self, sock, num, mode, args):
        super().__init__(sock, num)
        self.mode = mode
        self.args = args
        self.user = None
        self.selected = False
        self.readonly = False
        self.fresh_login = False

    def send(self, data):
        """Send data (str or bytes); log its first line."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.log("S: " + hs.printable(data.split(b"\r\n", 1)[0]
                                      .decode("latin-1"))[:200])
        self.sock.sendall(data)

    def read_command(self):
        """Return a command line with its literals inlined, or None."""
        line = self.readline()
        if line is None:
            return None
        parts = []
        while True:
            m = re.search(r"\{(\d+)(\+?)\}$", line)
            if not m:
                parts.append(line)
                break
            n = int(m.group(1))
            if n > LITERAL_MAX:
                raise Quit("literal of %d bytes refused" % n)
            if not m.group(2):
                self.send("+ go ahead\r\n")
            data = self.read_exact(n)
            if data is None:
                return None
            # Inline as a quoted string, which tokens() understands.
            esc = data.decode("latin-1").replace("\\", "\\\\")
            parts.append(line[:m.start()] + '"' + esc.replace('"', '\\"') +
                         '"')
            line = self.readline()
            if line is None:
                return None
        return "".join(parts)

    def snapshot(self):
        with MAILBOX_LOCK:
            return [(uid, raw, set(fl)) for uid, raw, fl in MAILBOX]


# Commands.  Each handler takes (session, tag, args string) and returns
# nothing; it raises Quit to end the session.

def ok(s, tag, text="completed"):
    s.send("%s OK %s\r\n" % (tag, text))


def cmd_capability(s, tag, arg):
    s.send("* CAPABILITY %s\r\n" % CAPS)
    ok(s, tag, "CAPABILITY completed")


def cmd_noop(s, tag, arg):
    ok(s, tag, "NOOP completed")


def cmd_logout(s, tag, arg):
    s.send("* BYE logging out\r\n")
    ok(s, tag, "LOGOUT completed")
    raise Quit("logout")


def login_done(s, tag, user, password):
    if password == "wrong":
        s.send("%s NO [AUTHENTICATIONFAILED] invalid credentials\r\n" % tag)
        return
    s.user = user
    s.fresh_login = True
    ok(s, tag, "[CAPABILITY %s] logged in" % CAPS)


def cmd_login(s, tag, arg):
    t = tokens(arg)
    if len(t) != 2:
        s.send("%s BAD LOGIN needs a user and a password\r\n" % tag)
        return
    login_done(s, tag, t[0], t[1])


def cmd_authenticate(s, tag, arg):
    t = tokens(arg)
    if not t or t[0].upper() != "PLAIN":
        s.send("%s NO unsupported mechanism\r\n" % tag)
        return
    if len(t) > 1:
        resp = t[1]
    else:
        s.send("+ \r\n")
        resp = s.readline()
        if resp is None:
            raise Quit("eof")
    try:
        _, user, password = base64.b64decode(resp).decode().split("\0")
    except ValueError:
        s.send("%s BAD bad PLAIN response\r\n" % tag)
        return
    login_done(s, tag, user, password)


def cmd_enable(s, tag, arg):
    s.send("* ENABLED\r\n")
    ok(s, tag, "ENABLE completed")


def cmd_id(s, tag, arg):
    s.send('* ID ("name" "imap_hostile")\r\n')
    ok(s, tag, "ID completed")


def cmd_select(s, tag, arg, verb="SELECT"):
    t = tokens(arg)
    if not t or t[0].upper() != "INBOX":
        s.selected = False
        s.send("%s NO [NONEXISTENT] no such mailbox\r\n" % tag)
        return
    box = s.snapshot()
    s.selected, s.readonly = True, verb == "EXAMINE"
    if s.mode == "bad-mutf7":
        # Names no one asked about, broken modified UTF-7 and UTF-8.
        s.send(b"".join(b'* LIST (\\HasNoChildren) "/" %s\r\n'
                        b"* STATUS %s (MESSAGES 1)\r\n"
                        % (quoted(n), quoted(n)) for n in BAD_NAMES))
    s.send("* %d EXISTS\r\n* 0 RECENT\r\n* FLAGS (%s)\r\n"
           "* OK [PERMANENTFLAGS (%s \\*)] ok\r\n"
           "* OK [UIDVALIDITY %d] ok\r\n* OK [UIDNEXT %d] ok\r\n"
           % (len(box), FLAGS, FLAGS, s.args.uidvalidity,
              (box[-1][0] if box else 0) + 1))
    ok(s, tag, "[READ-%s] %s completed"
       % ("ONLY" if s.readonly else "WRITE", verb))


def cmd_status(s, tag, arg):
    t = tokens(arg)
    box = s.snapshot()
    if not t or t[0].upper() != "INBOX":
        s.send("%s NO [NONEXISTENT] no such mailbox\r\n" % tag)
        return
    values = {"MESSAGES": len(box), "RECENT": 0,
              "UIDNEXT": (box[-1][0] if box else 0) + 1,
              "UIDVALIDITY": s.args.uidvalidity,
              "UNSEEN": sum("\\Seen" not in fl for _, _, fl in box)}
    want = t[1].strip("()").upper().split() if len(t) > 1 else []
    s.send("* STATUS INBOX (%s)\r\n" % " ".join(
        "%s %d" % (w, values[w]) for w in want if w in values))
    ok(s, tag, "STATUS completed")


def cmd_list(s, tag, arg, verb="LIST"):
    out = b'* %s (\\HasNoChildren) "/" INBOX\r\n' % verb.encode()
    if s.mode == "bad-mutf7":
        out += b"".join(b'* %s (\\HasNoChildren) "/" %s\r\n'
                        % (verb.encode(), quoted(n)) for n in BAD_NAMES)
    s.send(out)
    ok(s, tag, "%s completed" % verb)


def fetch_items(text):
    """Return the upper-cased FETCH items of "(A B)" or "A" or a macro."""
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    macros = {"ALL": "FLAGS INTERNALDATE RFC822.SIZE",
              "FAST": "FLAGS INTERNALDATE RFC822.SIZE",
              "FULL": "FLAGS INTERNALDATE RFC822.SIZE"}
    return tokens(macros.get(text.upper(), text).upper())


def literal_for(s, prefix, raw):
    """Return a body literal: right, or as the mode makes it lie. The
    modes that never finish the response send prefix (the response so
    far) themselves."""
    if s.mode == "lying-literal":
        s.send(prefix + b"{1000}\r\n" + raw[:10])
        s.log("S: (10 of the 1000 bytes announced, closing)")
        raise Quit("lying literal")
    if s.mode == "lying-literal-more":
        return b"{10}\r\n" + raw
    if s.mode == "huge-literal":
        s.send(prefix + b"{%d}\r\n" % HUGE)
        s.log("S: (1 byte per 100 ms)")
        while True:
            s.sock.sendall(b"x")
            time.sleep(0.1)
    return b"{%d}\r\n" % len(raw) + raw


def fetch_one(s, seq, uid, raw, flags, items, by_uid):
    """Send one "* SEQ FETCH (...)" response."""
    out = []
    if s.mode == "deep-nesting":
        d = s.args.depth
        out.append(b"BODYSTRUCTURE " + b"(" * d + b'"x"' + b")" * d)
    if by_uid and "UID" not in items:
        items = ["UID"] + items
    head = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    start = b"* %d FETCH (" % seq
    for it in items:
        peek = it.startswith("BODY.PEEK")
        sect = it.replace(".PEEK", "")
        if it == "UID":
            out.append(b"UID %d" % uid)
        elif it == "FLAGS":
            out.append(b"FLAGS (%s)" % " ".join(sorted(flags)).encode())
        elif it == "RFC822.SIZE":
            out.append(b"RFC822.SIZE %d" % len(raw))
        elif it == "INTERNALDATE":
            out.append(b'INTERNALDATE "%s"' % INTERNALDATE.encode())
        elif sect in ("BODY[]", "RFC822"):
            prefix = start + b" ".join(out + [sect.encode()]) + b" "
            out.append(sect.encode() + b" " + literal_for(s, prefix, raw))
            if not peek and not s.readonly:
                set_flags(uid, "+FLAGS", {"\\Seen"})
        elif sect in ("BODY[HEADER]", "RFC822.HEADER"):
            out.append(sect.encode() + b" {%d}\r\n" % len(head) + head)
        else:
            raise ValueError(it)
    s.send(start + b" ".join(out) + b")\r\n")


def set_flags(uid, how, flags):
    with MAILBOX_LOCK:
        for m in MAILBOX:
            if m[0] == uid:
                if how.startswith("+"):
                    m[2] |= flags
                elif how.startswith("-"):
                    m[2] -= flags
                else:
                    m[2] = set(flags)


def pick(s, text, by_uid):
    """Return [(seq, uid, raw, flags)] of a sequence or UID set."""
    box = s.snapshot()
    largest = (box[-1][0] if by_uid else len(box)) if box else 0
    want = parse_set(text, largest)
    return [(seq, uid, raw, fl) for seq, (uid, raw, fl) in enumerate(box, 1)
            if (uid if by_uid else seq) in want]


def cmd_fetch(s, tag, arg, by_uid=False):
    t = tokens(arg)
    try:
        items = fetch_items(" ".join(t[1:]))
        chosen = pick(s, t[0], by_uid)
    except (ValueError, IndexError):
        s.send("%s BAD bad FETCH arguments\r\n" % tag)
        return
    for k, m in enumerate(chosen):
        if s.mode == "bye-midway" and k == 1:
            s.send("* BYE going away in the middle of a FETCH\r\n")
            raise Quit("bye")
        try:
            fetch_one(s, *m, items, by_uid)
        except ValueError as e:
            s.send("%s BAD unsupported FETCH item %s\r\n" % (tag, e))
            return
    ok(s, tag, "FETCH completed")


def cmd_store(s, tag, arg, by_uid=False):
    t = tokens(arg)
    if len(t) < 3 or s.readonly:
        s.send("%s NO bad or read-only STORE\r\n" % tag)
        return
    flags = set(t[2].strip("()").split())
    for seq, uid, raw, _ in pick(s, t[0], by_uid):
        set_flags(uid, t[1].upper(), flags)
        if ".SILENT" not in t[1].upper():
            fl = [m[2] for m in s.snapshot() if m[0] == uid][0]
            s.send("* %d FETCH (%sFLAGS (%s))\r\n"
                   % (seq, "UID %d " % uid if by_uid else "",
                      " ".join(sorted(fl))))
    ok(s, tag, "STORE completed")


def cmd_search(s, tag, arg, by_uid=False):
    t = tokens(arg.upper())
    box = s.snapshot()
    if len(t) == 2 and t[0] == "UID":
        hits = pick(s, t[1], True)
    else:
        hits = [(seq, uid, None, None) for seq, (uid, _, _) in
                enumerate(box, 1)]
    s.send("* SEARCH%s\r\n" % "".join(
        " %d" % (uid if by_uid else seq) for seq, uid, _, _ in hits))
    ok(s, tag, "SEARCH completed")


def cmd_uid(s, tag, arg):
    verb, _, rest = arg.partition(" ")
    handler = {"FETCH": cmd_fetch, "STORE": cmd_store,
               "SEARCH": cmd_search}.get(verb.upper())
    if handler is None:
        s.send("%s BAD unsupported UID command\r\n" % tag)
        return
    handler(s, tag, rest, by_uid=True)


def cmd_expunge(s, tag, arg, quiet=False):
    with MAILBOX_LOCK:
        gone = [k for k, m in enumerate(MAILBOX) if "\\Deleted" in m[2]]
        for k in reversed(gone):
            del MAILBOX[k]
    if not quiet:
        s.send("".join("* %d EXPUNGE\r\n" % (k + 1)
                       for k in reversed(gone)))
    ok(s, tag, "EXPUNGE completed")


def cmd_close(s, tag, arg):
    if not s.readonly:
        cmd_expunge(s, tag, arg, quiet=True)
    else:
        ok(s, tag, "CLOSE completed")
    s.selected = False


def cmd_idle(s, tag, arg):
    s.send("+ idling\r\n")
    line = s.readline()
    if line is None:
        raise Quit("eof")
    s.log("C: " + hs.printable(line))
    if s.mode == "no-done":
        s.log("S: (DONE never answered)")
        s.drain(masked)
        raise Quit("eof")
    if line.upper() != "DONE":
        s.send("%s BAD expected DONE\r\n" % tag)
        return
    ok(s, tag, "IDLE terminated")


def flood(s, tag, arg):
    s.log("S: * N EXISTS / * OK flood N ... (endless, never tagged)")
    n = 0
    while True:
        chunk = []
        for _ in range(1000):
            n += 1
            chunk.append("* %d EXISTS\r\n* OK flood %d\r\n" % (n, n))
        s.sock.sendall("".join(chunk).encode())


ANY_STATE = {"CAPABILITY": cmd_capability, "NOOP": cmd_noop,
             "LOGOUT": cmd_logout, "ID": cmd_id}
NOT_AUTH = {"LOGIN": cmd_login, "AUTHENTICATE": cmd_authenticate}
AUTH = {"SELECT": cmd_select,
        "EXAMINE": partial(cmd_select, verb="EXAMINE"),
        "STATUS": cmd_status, "LIST": cmd_list,
        "LSUB": partial(cmd_list, verb="LSUB"), "ENABLE": cmd_enable,
        "IDLE": cmd_idle}
SELECTED = {"FETCH": cmd_fetch, "STORE": cmd_store, "SEARCH": cmd_search,
            "UID": cmd_uid, "EXPUNGE": cmd_expunge, "CLOSE": cmd_close,
            "CHECK": cmd_noop}
MODES = ("normal", "lying-literal", "lying-literal-more", "huge-literal",
         "endless-line", "untagged-flood", "deep-nesting", "no-done",
         "bye-midway", "bad-mutf7", "slow-greeting")


def handler_for(s, verb):
    """Return the handler of verb in the session's state, or None."""
    if verb in ANY_STATE:
        return ANY_STATE[verb]
    if s.user is None:
        return NOT_AUTH.get(verb)
    if s.mode == "untagged-flood" and verb in ("SELECT", "EXAMINE"):
        return flood
    if verb in AUTH:
        return AUTH[verb]
    return SELECTED.get(verb) if s.selected else None


def serve(s):
    """Run one IMAP session until either side closes."""
    if s.mode == "slow-greeting":
        s.log("S: (no greeting)")
        s.drain(masked)
        return
    s.send("* OK [CAPABILITY %s] imap_hostile ready\r\n" % CAPS)
    while True:
        line = s.read_command()
        if line is None:
            return
        s.log("C: " + masked(line))
        tag, _, rest = line.partition(" ")
        verb, _, arg = rest.partition(" ")
        verb = verb.upper()
        if s.fresh_login and s.mode == "endless-line":
            s.endless("* OK ")
        s.fresh_login = False
        handler = handler_for(s, verb)
        if not tag or not verb:
            s.send("* BAD empty command\r\n")
        elif handler is None:
            s.send("%s BAD unknown command or wrong state\r\n" % tag)
        else:
            handler(s, tag, arg)


def handle(sock, num, mode, args):
    """Connection thread: serve, end quietly on Quit."""
    s = Session(sock, num, mode, args)
    try:
        serve(s)
    except Quit as e:
        s.log("S: (session over: %s)" % e)
    return False


def main():
    ap = argparse.ArgumentParser(description="Broken IMAP server for tests.")
    hs.add_arguments(ap)
    ap.add_argument("--uidvalidity", type=int, default=1700000000)
    ap.add_argument("--depth", type=int, default=10000,
                    help="nesting of the deep-nesting BODYSTRUCTURE")
    ap.add_argument("--no-idle", action="store_true",
                    help="leave IDLE out of the capabilities")
    ap.add_argument("mode", choices=MODES)
    args = ap.parse_args()
    if args.no_idle:
        global CAPS
        CAPS = CAPS.replace(" IDLE", "")
    MAILBOX.extend([k, raw, set()] for k, raw in
                   enumerate(hs.make_mailbox(ap, args), 1))
    hs.serve(args, "imap_hostile", partial(handle, mode=args.mode,
                                           args=args))


if __name__ == "__main__":
    main()
