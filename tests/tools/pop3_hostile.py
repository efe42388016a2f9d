#!/usr/bin/env python3
"""A deliberately broken POP3 server, played in addition to the real Dovecot.

usage: pop3_hostile.py [--port-file FILE] [--log FILE] [--messages N]
                       [--size BYTES] [--dump DIR] MODE

Listens on 127.0.0.1 (ephemeral port, written to --port-file via FILE.tmp
and a rename; printed without --port-file), a thread per connection,
until SIGTERM/SIGINT or 300 s.  --log appends "3 OPEN", "3 C: RETR 1"
("PASS ********", never the secret), "3 S: <first reply line>", "3 CLOSED".
The mailbox: --messages (3) deterministic RFC 5322 messages of exactly
--size (2000) bytes, CRLF, some lines dot-stuffed on the wire, UIDL
"uid-K"; --dump DIR writes them to DIR/uid-K.eml and exits.  Outside its
mode the server follows RFC 1939 (any password but "wrong" is accepted;
DELE applies at QUIT, for the life of the process).  Modes:

  good               fully correct
  nocapa             CAPA answers "-ERR unknown command"
  nouidl             no UIDL capability; UIDL answers "-ERR unknown command"
  endless-greeting   the greeting is "+OK " then "x" forever, no CRLF
  endless-line       so is the reply to the first command after login
  endless-line-retr  so is the reply to RETR
  garbage            random bytes (NUL, 0xff, CR, LF...) forever, from the
                     first byte (NUL) of the greeting on
  silence            never sends a byte; reads until the client closes
  silence-retr       normal until RETR, then never answers again
  close-mid-retr     RETR 2: "+OK", half the message, close (FIN)
  reset-mid-retr     the same, but closed with a TCP reset (RST)
  list-lies          LIST and STAT claim 100 octets a message
  list-lies-small    LIST and STAT claim 50,000,000 octets a message
  never-ending       RETR: "+OK", headers, 70-char lines forever, no "."
  err-retr           RETR answers "-ERR message locked"
  bad-greeting       the greeting is "-ERR go away", then close
  slow-drip          the RETR reply goes 1 byte at a time, 1 ms apart
  huge-multiline     UIDL without argument lists 1,000,000 entries
  apop               APOP only: the greeting carries a timestamp, CAPA
                     has no USER, USER is refused, APOP needs the digest
                     of the timestamp and the password "secret-pw"
  in-use             a login while another session is logged in gets
                     "-ERR [IN-USE] ..." (a maildrop lock, RFC 2449)
  second-dies        every connection but the first: the third RETR gets
                     "+OK", half the message, and a close
In those two modes the first connection answers each RETR 5 ms late, so
that a client's second connection always comes while the first is busy.
  middle-new         the last message of the mailbox is new mail that only
                     connections after the first see, numbered 2 in place
                     of message 2 (as if it was deleted meanwhile): the
                     count and the last UIDL stay the same

--host ADDR listens on another address (for example ::1 for IPv6).

Endless streams go in 64 KiB writes until the client closes.
"""
import argparse
import hashlib
import random
import re
import threading
import time
from functools import partial

import hostile_server as hs
from hostile_server import CHUNK, FILLER, head_of

HUGE_ENTRIES = 1000000    # entries in the huge-multiline UIDL listing

MAILBOX = []              # raw message bytes; MAILBOX[k] has UIDL uid-(k+1)
DELETED = set()           # MAILBOX indexes removed by a QUIT
DELETED_LOCK = threading.Lock()
LOCKED = set()            # connection numbers logged in (in-use mode)


def stuff(raw):
    """Return raw as a multi-line reply body: dot-stuffed, "." terminated."""
    return re.sub(rb"(?m)^\.", b"..", raw) + b".\r\n"


def listing(lines):
    return "".join(line + "\r\n" for line in lines).encode() + b".\r\n"


def masked(text):
    """Return a command line fit for the log: no secret, no control bytes."""
    verb, sep, arg = text.partition(" ")
    if verb.upper() == "PASS" and sep:
        text = verb + " ********"
    elif verb.upper() in ("APOP", "AUTH") and sep:
        text = verb + " " + arg.split(" ")[0] + " ********"
    return hs.printable(text)


class Session(hs.Conn):
    """One client connection: its socket, input buffer and POP3 state."""

    def __init__(self, sock, num, hooks):
        super().__init__(sock, num)
        self.hooks = hooks
        self.user = None
        self.msgs = None          # MAILBOX indexes, once logged in
        self.dele = set()         # message numbers marked by DELE
        self.fresh_login = False  # the next command is the first after PASS

    def reply(self, first, body=b""):
        self.log("S: " + first)
        self.sock.sendall(first.encode() + b"\r\n" + body)

    def live(self):
        """Return (number, MAILBOX index) of every message not marked."""
        return [(n, k) for n, k in enumerate(self.msgs, 1)
                if n not in self.dele]

    def pick(self, arg):
        """Return the MAILBOX index for message number arg, or reply -ERR."""
        try:
            n = int(arg.split()[0])
        except (ValueError, IndexError):
            n = 0
        if not 1 <= n <= len(self.msgs):
            self.reply("-ERR no such message")
        elif n in self.dele:
            self.reply("-ERR message %d already deleted" % n)
        else:
            return self.msgs[n - 1]
        return None


# Behaviours.  Every handler takes the session and the argument string
# and returns False to close the connection.

def fixed(first, body=b"", close=False):
    """Return a handler that always sends the same reply."""
    def handler(s, arg):
        s.reply(first, body)
        return not close
    return handler


def cmd_user(s, arg):
    s.user = arg or None
    s.reply("+OK send PASS" if arg else "-ERR USER needs a name")
    return True


def cmd_pass(s, arg):
    if s.user is None:
        s.reply("-ERR send USER first")
    elif arg == "wrong":
        s.user = None
        s.reply("-ERR [AUTH] invalid password")
    else:
        with DELETED_LOCK:
            s.msgs = [k for k in range(len(MAILBOX)) if k not in DELETED]
        s.fresh_login = True
        s.reply("+OK logged in")
    return True


def cmd_stat(s, arg, octets=None):
    live = s.live()
    total = sum(octets or len(MAILBOX[k]) for _, k in live)
    s.reply("+OK %d %d" % (len(live), total))
    return True


def scan(s, arg, what, value):
    """LIST or UIDL: one "N value" line, or all of them."""
    if arg:
        k = s.pick(arg)
        if k is not None:
            s.reply("+OK %s %s" % (arg.split()[0], value(k)))
        return True
    s.reply("+OK %s follows" % what,
            listing(["%d %s" % (n, value(k)) for n, k in s.live()]))
    return True


def cmd_list(s, arg, octets=None):
    return scan(s, arg, "scan listing",
                lambda k: octets or len(MAILBOX[k]))


def cmd_uidl(s, arg):
    return scan(s, arg, "unique-id listing", lambda k: "uid-%d" % (k + 1))


def cmd_retr(s, arg):
    k = s.pick(arg)
    if k is not None:
        s.reply("+OK %d octets" % len(MAILBOX[k]), stuff(MAILBOX[k]))
    return True


def cmd_top(s, arg):
    try:
        lines = int(arg.split()[1])
    except (ValueError, IndexError):
        s.reply("-ERR usage: TOP msg lines")
        return True
    k = s.pick(arg)
    if k is not None:
        head, sep, body = MAILBOX[k].partition(b"\r\n\r\n")
        body = b"".join(b + b"\r\n" for b in body.split(b"\r\n")[:-1][:lines])
        s.reply("+OK top of message follows", stuff(head + sep + body))
    return True


def cmd_dele(s, arg):
    if s.pick(arg) is not None:
        s.dele.add(int(arg.split()[0]))
        s.reply("+OK message deleted")
    return True


def cmd_rset(s, arg):
    s.dele.clear()
    s.reply("+OK")
    return True


def cmd_quit(s, arg):
    if s.msgs is not None:
        with DELETED_LOCK:
            DELETED.update(s.msgs[n - 1] for n in s.dele)
    s.reply("+OK bye")
    return False


def endless_line(s, arg):
    s.endless("+OK ")


def garbage(s, arg):
    s.log("S: (binary garbage, endless)")
    rng = random.Random(s.num)
    # Starting with NUL makes sure even the first "line" is no reply.
    s.sock.sendall(b"\x00\xff\r\n" + rng.randbytes(CHUNK - 4))
    while True:
        s.sock.sendall(rng.randbytes(CHUNK))


def silence(s, arg):
    s.log("S: (silence)")
    return s.drain(masked)


def close_mid_retr(s, arg, reset=False):
    if arg.split()[:1] != ["2"]:
        return cmd_retr(s, arg)
    k = s.pick(arg)
    if k is None:
        return True
    s.abort = reset
    s.reply("+OK %d octets" % len(MAILBOX[k]),
            stuff(MAILBOX[k])[:len(MAILBOX[k]) // 2])
    s.log("S: (closing mid-message)")
    return False


def never_ending(s, arg):
    line = ("never-ending " + FILLER * 2)[:70] + "\r\n"
    s.reply("+OK message follows", head_of(1, 1).encode())
    s.log("S: (70-char lines forever, no terminating dot)")
    chunk = (line * (CHUNK // len(line))).encode()
    while True:
        s.sock.sendall(chunk)


def slow_drip(s, arg):
    k = s.pick(arg)
    if k is None:
        return True
    first = "+OK %d octets" % len(MAILBOX[k])
    data = first.encode() + b"\r\n" + stuff(MAILBOX[k])
    s.log("S: " + first + " (1 byte per ms)")
    for i in range(len(data)):
        s.sock.sendall(data[i:i + 1])
        time.sleep(0.001)
    return True


def huge_uidl(s, arg):
    if arg:
        return cmd_uidl(s, arg)
    s.reply("+OK %d entries follow" % HUGE_ENTRIES)
    for start in range(1, HUGE_ENTRIES + 1, 10000):
        stop = min(start + 10000, HUGE_ENTRIES + 1)
        s.sock.sendall("".join("%d uid-%d\r\n" % (n, n)
                               for n in range(start, stop)).encode())
    s.sock.sendall(b".\r\n")
    return True


greet_ok = fixed("+OK hostile ready")
APOP_TS = "<1896.697170952@hostile.test>"
APOP_SECRET = "secret-pw"


def cmd_apop(s, arg):
    """APOP name digest (RFC 1939 section 7), against APOP_SECRET."""
    name, _, digest = arg.partition(" ")
    want = hashlib.md5((APOP_TS + APOP_SECRET).encode()).hexdigest()
    if name and digest.lower() == want:
        s.user = name
        return cmd_pass(s, APOP_SECRET)
    s.reply("-ERR [AUTH] APOP digest refused")
    return True


def locked_pass(s, arg):
    """PASS that takes the maildrop lock, or refuses while it is held."""
    login = s.user is not None and arg != "wrong"
    with DELETED_LOCK:
        busy = login and bool(LOCKED)
        if login and not busy:
            LOCKED.add(s.num)
    if busy:
        s.user = None
        s.reply("-ERR [IN-USE] maildrop already in use")
        return True
    return cmd_pass(s, arg)


def first_slow_retr(s, arg):
    """RETR, 5 ms late on the first connection."""
    if s.num == 1:
        time.sleep(0.005)
    return cmd_retr(s, arg)


def second_dies(s, arg):
    """RETR: after the first connection's, the third dies mid-message."""
    s.retrs = getattr(s, "retrs", 0) + 1
    if s.num == 1 or s.retrs != 3:
        return first_slow_retr(s, arg)
    k = s.pick(arg)
    if k is None:
        return True
    s.reply("+OK %d octets" % len(MAILBOX[k]),
            stuff(MAILBOX[k])[:len(MAILBOX[k]) // 2])
    s.log("S: (closing mid-message)")
    return False


def middle_new_pass(s, arg):
    """PASS; the last message shows up later, in the middle (middle-new)."""
    cmd_pass(s, arg)
    if s.msgs:
        late = s.msgs.pop()
        if s.num > 1 and len(s.msgs) >= 2:
            s.msgs[1] = late
    return True


reply_unknown = fixed("-ERR unknown command")
COMMANDS = {
    "CAPA": fixed("+OK capability list follows",
                  listing(["USER", "UIDL", "TOP", "PIPELINING"])),
    "USER": cmd_user, "PASS": cmd_pass, "STAT": cmd_stat, "LIST": cmd_list,
    "UIDL": cmd_uidl, "RETR": cmd_retr, "TOP": cmd_top, "DELE": cmd_dele,
    "RSET": cmd_rset, "NOOP": fixed("+OK"), "QUIT": cmd_quit,
}
AUTH_ONLY = ("USER", "PASS", "APOP")
ANY_STATE = ("CAPA", "QUIT")

# Mode -> {hook: handler}.  A hook is a command verb, "greeting" (called
# once on connect) or "after-login" (called instead of the first command
# that follows a successful PASS).
MODES = {
    "good": {},
    "nocapa": {"CAPA": reply_unknown},
    "nouidl": {"CAPA": fixed("+OK capability list follows",
                             listing(["USER", "TOP", "PIPELINING"])),
               "UIDL": reply_unknown},
    "endless-greeting": {"greeting": endless_line},
    "endless-line": {"after-login": endless_line},
    "endless-line-retr": {"RETR": endless_line},
    "garbage": {"greeting": garbage},
    "silence": {"greeting": silence},
    "silence-retr": {"RETR": silence},
    "close-mid-retr": {"RETR": close_mid_retr},
    "reset-mid-retr": {"RETR": partial(close_mid_retr, reset=True)},
    "list-lies": {"STAT": partial(cmd_stat, octets=100),
                  "LIST": partial(cmd_list, octets=100)},
    "list-lies-small": {"STAT": partial(cmd_stat, octets=50000000),
                        "LIST": partial(cmd_list, octets=50000000)},
    "never-ending": {"RETR": never_ending},
    "err-retr": {"RETR": fixed("-ERR message locked")},
    "bad-greeting": {"greeting": fixed("-ERR go away", close=True)},
    "slow-drip": {"RETR": slow_drip},
    "huge-multiline": {"UIDL": huge_uidl},
    "apop": {"greeting": fixed("+OK hostile ready " + APOP_TS),
             "CAPA": fixed("+OK capability list follows",
                           listing(["UIDL", "TOP", "PIPELINING"])),
             "USER": fixed("-ERR use APOP"), "APOP": cmd_apop},
    "in-use": {"PASS": locked_pass, "RETR": first_slow_retr},
    "second-dies": {"RETR": second_dies},
    "middle-new": {"PASS": middle_new_pass},
}


def serve(s):
    """Run one POP3 session until either side closes."""
    if not s.hooks.get("greeting", greet_ok)(s, ""):
        return
    while True:
        line = s.readline()
        if line is None:
            return
        s.log("C: " + masked(line))
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        handler = s.hooks.get(verb, COMMANDS.get(verb))
        if s.fresh_login and "after-login" in s.hooks:
            handler = s.hooks["after-login"]
        elif handler is None:
            handler = reply_unknown
        elif verb in AUTH_ONLY and s.msgs is not None:
            handler = fixed("-ERR already logged in")
        elif verb not in AUTH_ONLY + ANY_STATE and s.msgs is None:
            handler = fixed("-ERR not logged in")
        s.fresh_login = False
        if not handler(s, arg):
            return


def handle(sock, num, hooks):
    """Connection thread: serve; return whether to close with a reset."""
    s = Session(sock, num, hooks)
    try:
        serve(s)
    finally:
        with DELETED_LOCK:
            LOCKED.discard(num)
    return s.abort


def main():
    ap = argparse.ArgumentParser(description="Broken POP3 server for tests.")
    hs.add_arguments(ap)
    ap.add_argument("mode", choices=sorted(MODES))
    args = ap.parse_args()
    MAILBOX.extend(hs.make_mailbox(ap, args))
    hs.serve(args, "pop3_hostile", partial(handle, hooks=MODES[args.mode]))


if __name__ == "__main__":
    main()
