#!/usr/bin/env python3
"""A deliberately broken SMTP server, played in addition to the real Postfix.

usage: smtp_hostile.py [--port-file FILE] [--log FILE] [--spool DIR]
                       [--host ADDR] MODE

Listens on 127.0.0.1 (ephemeral port, written to --port-file via FILE.tmp
and a rename; printed without --port-file), a thread per connection,
until SIGTERM/SIGINT or 300 s.  --log appends "3 OPEN", "3 C: RCPT TO:<a>"
("AUTH PLAIN ********" and "********" for credentials, never a secret),
"3 S: <first reply line>", "3 EARLY <command>" (a command arrived before
the reply to the previous one, i.e. pipelined), "3 BARE-LF" (a bare LF in
DATA), "3 MESSAGE <file> <bytes>", "3 CLOSED".  --spool DIR keeps each
message received, dot-unstuffed, CRLF as on the wire.

Outside its mode the server follows RFC 5321: EHLO announces PIPELINING,
SIZE 1000000, 8BITMIME, ENHANCEDSTATUSCODES, AUTH PLAIN LOGIN XOAUTH2 (no
STARTTLS); the password "secret-pw" and the XOAUTH2 token "good-token"
are accepted, anything else gets 535 (XOAUTH2: first a 334 error
challenge, which must be answered with an empty line).  Recipients whose
local part starts with "reject" get 550 5.1.1, with "busy" 452 4.2.2.
DATA without an accepted recipient gets 554 5.5.1.  Modes:

  good               as above
  nopipelining       EHLO without PIPELINING
  noext              EHLO answers 502: the client must fall back to HELO
  lf-only            every reply line ends with LF alone
  slow-drip          replies go out 1 byte at a time, 2 ms apart
  small-size         EHLO announces SIZE 1000
  no-starttls        the same as good (no STARTTLS), for tls "starttls"
  starttls-454       STARTTLS offered, but refused with 454 4.7.0
  starttls-inject    STARTTLS offered; "220 ready" comes with a second,
                     injected reply in the same write
  endless-line       the greeting is "220 " then "x" forever, no CRLF
  endless-ehlo-line  the same in the reply to EHLO
  huge-ehlo          EHLO is answered with 1,000,000 "250-" lines
  garbage-code       the greeting is "abc garbage"
  bad-multiline      the EHLO reply's lines have different codes
  silence            never sends a byte; reads until the client closes
  silence-rcpt       normal until RCPT, then never answers again
  close-after-rcpt   closes the connection when RCPT arrives
  close-mid-data     after 354, reads some of the message and closes
  greeting-421       "421 4.3.2 Service shutting down", then closes
  greeting-554       "554 5.7.1 No SMTP service here", then waits for QUIT
  mail-553           MAIL gets 553 5.7.1; then RCPT and DATA 503 5.5.1
  mail-421           MAIL gets 421 4.4.2, then the connection closes
  data-554           the final dot gets 554 5.7.1 (spam)
  data-451           the final dot gets 451 4.3.0 (try again later)
  early-554          during DATA, answers 554 5.3.4 at once, then reads
                     until the client closes
  busy-once          every RCPT of the first transaction gets 452 4.3.1,
                     later ones are accepted

Endless streams go in 64 KiB writes until the client closes.
"""
import argparse
import base64
import itertools
import os
import time

import hostile_server as hs

CHUNK = 64 * 1024
LINE_MAX = 64 * 1024
HUGE_LINES = 1000000

MSG_COUNTER = itertools.count(1)


def masked(line):
    """A command line fit for the log: no credentials, printable."""
    up = line.upper()
    if up.startswith("AUTH "):
        parts = line.split(" ")
        return " ".join(parts[:2] + ["********"] * (len(parts) > 2))
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in line)


class Closed(Exception):
    pass


class Session:
    def __init__(self, sock, num, mode, spool):
        self.sock = sock
        self.mode = mode
        self.spool = spool
        self.n = num
        self.buf = b""
        self.secret_next = False
        self.accepted = 0
        self.mail_failed = False
        self.transactions = 0

    # --- I/O ---
    def send(self, text):
        eol = "\n" if self.mode == "lf-only" else "\r\n"
        data = "".join(l + eol for l in text.split("\n")).encode()
        hs.log(self.n, "S: " + text.split("\n")[0][:200])
        if self.mode == "slow-drip":
            for i in range(len(data)):
                self.sock.sendall(data[i:i + 1])
                time.sleep(0.002)
        else:
            self.sock.sendall(data)

    def recv_more(self):
        data = self.sock.recv(CHUNK)
        if not data:
            raise Closed()
        self.buf += data

    def readline(self):
        while b"\n" not in self.buf:
            if len(self.buf) > LINE_MAX:
                raise Closed()
            self.recv_more()
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def endless(self, prefix):
        self.sock.sendall(prefix)
        block = b"x" * CHUNK
        while True:
            self.sock.sendall(block)

    def linger(self):
        """Read until the client closes."""
        while True:
            self.recv_more()
            self.buf = b""

    # --- the protocol ---
    def ehlo_lines(self):
        lines = ["hostile.test greets you"]
        if self.mode != "nopipelining":
            lines.append("PIPELINING")
        lines.append("SIZE %d" % (1000 if self.mode == "small-size"
                                  else 1000000))
        if self.mode in ("starttls-454", "starttls-inject"):
            lines.append("STARTTLS")
        lines += ["8BITMIME", "ENHANCEDSTATUSCODES",
                  "AUTH PLAIN LOGIN XOAUTH2"]
        return lines

    def reply_multi(self, code, lines):
        self.send("\n".join("%d%s%s" % (code, "-" if i < len(lines) - 1
                                         else " ", l)
                            for i, l in enumerate(lines)))

    def auth(self, args):
        mech = args[0].upper() if args else ""
        if mech == "PLAIN":
            if len(args) > 1:
                resp = args[1]
            else:
                self.send("334 ")
                resp = self.readline()
                hs.log(self.n, "C: ********")
            try:
                _, user, pw = base64.b64decode(resp).split(b"\0")
            except Exception:
                self.send("501 5.5.2 bad PLAIN response")
                return
            ok = pw == b"secret-pw"
        elif mech == "LOGIN":
            self.send("334 VXNlcm5hbWU6")
            user = base64.b64decode(self.readline())
            hs.log(self.n, "C: ********")
            self.send("334 UGFzc3dvcmQ6")
            pw = base64.b64decode(self.readline())
            hs.log(self.n, "C: ********")
            ok = pw == b"secret-pw"
        elif mech == "XOAUTH2":
            raw = base64.b64decode(args[1]) if len(args) > 1 else b""
            fields = dict(f.split(b"=", 1) for f in raw.split(b"\x01")
                          if b"=" in f)
            ok = fields.get(b"auth") == b"Bearer good-token" and \
                raw.endswith(b"\x01\x01")
            user = fields.get(b"user", b"")
            if not ok:
                self.send("334 " + base64.b64encode(
                    b'{"status":"401","schemes":"bearer"}').decode())
                empty = self.readline()
                hs.log(self.n, "XOAUTH2-ANSWER %r" % empty)
        else:
            self.send("504 5.5.4 unrecognized mechanism")
            return
        hs.log(self.n, "AUTH-%s %s %s" % ("OK" if ok else "FAIL", mech,
                                      user.decode("ascii", "replace")))
        if ok:
            self.send("235 2.7.0 Authentication successful")
        else:
            self.send("535 5.7.8 Error: authentication failed")

    def data(self):
        if self.mail_failed:
            self.send("503 5.5.1 Error: need MAIL command")
            return
        if self.accepted == 0:
            self.send("554 5.5.1 Error: no valid recipients")
            return
        self.send("354 End data with <CR><LF>.<CR><LF>")
        if self.mode == "early-554":
            self.send("554 5.3.4 Message too big for system")
            self.linger()
        got = 0
        lines = []
        bare_lf = False
        while True:
            while b"\n" not in self.buf:
                self.recv_more()
                if self.mode == "close-mid-data" and len(self.buf) > 1000:
                    raise Closed()
            line, self.buf = self.buf.split(b"\n", 1)
            got += len(line) + 1
            if not line.endswith(b"\r"):
                bare_lf = True
            if line == b".\r" or line == b".":
                break
            if line.startswith(b"."):
                line = line[1:]
            lines.append(line + b"\n")
        if bare_lf:
            hs.log(self.n, "BARE-LF")
        body = b"".join(lines)
        name = "none"
        if self.spool:
            name = os.path.join(self.spool, "msg-%04d.eml" %
                                next(MSG_COUNTER))
            with open(name, "wb") as f:
                f.write(body)
        hs.log(self.n, "MESSAGE %s %d" % (name, len(body)))
        if self.mode == "data-554":
            self.send("554 5.7.1 Message rejected as spam")
        elif self.mode == "data-451":
            self.send("451 4.3.0 Error: queue file write error")
        else:
            self.send("250 2.0.0 Ok: queued as H%d" % self.n)

    def command(self, line):
        verb = line.split(" ", 1)[0].upper()
        args = line.split(" ")[1:]
        if verb == "EHLO":
            if self.mode == "noext":
                self.send("502 5.5.1 Error: command not implemented")
            elif self.mode == "endless-ehlo-line":
                self.endless(b"250-")
            elif self.mode == "huge-ehlo":
                block = b"250-X-FILLER some extension\r\n" * 1000
                for _ in range(HUGE_LINES // 1000):
                    self.sock.sendall(block)
                self.send("250 SIZE 1000")
            elif self.mode == "bad-multiline":
                self.send("250-hostile.test\n251 PIPELINING")
            else:
                self.reply_multi(250, self.ehlo_lines())
        elif verb == "HELO":
            self.send("250 hostile.test")
        elif verb == "STARTTLS":
            if self.mode == "starttls-454":
                self.send("454 4.7.0 TLS not available due to local "
                          "problem")
            elif self.mode == "starttls-inject":
                self.send("220 2.0.0 Ready to start TLS\n"
                          "250 injected before the handshake")
                self.linger()
            else:
                self.send("502 5.5.1 Error: command not implemented")
        elif verb == "AUTH":
            self.auth(args)
        elif verb == "MAIL":
            self.accepted = 0
            self.mail_failed = False
            self.transactions += 1
            if self.mode == "mail-553":
                self.mail_failed = True
                self.send("553 5.7.1 <%s>: Sender address rejected" %
                          line[10:].split(">")[0].lstrip("<"))
            elif self.mode == "mail-421":
                self.send("421 4.4.2 hostile.test Error: timeout "
                          "exceeded")
                raise Closed()
            else:
                self.send("250 2.1.0 Ok")
        elif verb == "RCPT":
            addr = line[8:].split(">")[0].lstrip("<")
            if self.mode == "silence-rcpt":
                self.linger()
            if self.mode == "close-after-rcpt":
                raise Closed()
            if self.mail_failed:
                self.send("503 5.5.1 Error: need MAIL command")
            elif addr.startswith("reject"):
                self.send("550 5.1.1 <%s>: Recipient address rejected: "
                          "User unknown" % addr)
            elif self.mode == "busy-once" and self.transactions == 1:
                self.send("452 4.3.1 Insufficient system storage")
            elif addr.startswith("busy"):
                self.send("452 4.2.2 <%s>: Mailbox full, try later" %
                          addr)
            else:
                self.accepted += 1
                self.send("250 2.1.5 Ok")
        elif verb == "DATA":
            self.data()
        elif verb == "RSET":
            self.accepted = 0
            self.mail_failed = False
            self.send("250 2.0.0 Ok")
        elif verb == "NOOP":
            self.send("250 2.0.0 Ok")
        elif verb == "QUIT":
            self.send("221 2.0.0 Bye")
            raise Closed()
        else:
            self.send("502 5.5.2 Error: command not recognized")

    def run(self):
        """Serve the connection; hs.guarded logs OPEN and CLOSED and
        closes it."""
        try:
            if self.mode == "silence":
                self.linger()
            if self.mode == "endless-line":
                self.endless(b"220 ")
            if self.mode == "garbage-code":
                self.send("abc garbage")
                self.linger()
            if self.mode == "greeting-421":
                self.send("421 4.3.2 Service shutting down")
                return
            if self.mode == "greeting-554":
                self.send("554 5.7.1 No SMTP service here")
            else:
                self.send("220 hostile.test ESMTP")
            early = self.mode in ("nopipelining", "noext")
            while True:
                line = self.readline()
                hs.log(self.n, "C: " + masked(line))
                if early and self.buf:
                    hs.log(self.n, "EARLY " + masked(line))
                if self.mode == "greeting-554" and \
                        line.upper() != "QUIT":
                    self.send("503 5.5.1 no service")
                    continue
                self.command(line)
        except Closed:
            pass


def main():
    ap = argparse.ArgumentParser()
    hs.add_arguments(ap, messages=False)
    ap.add_argument("--spool")
    ap.add_argument("mode")
    a = ap.parse_args()
    if a.spool:
        os.makedirs(a.spool, exist_ok=True)
    hs.serve(a, "smtp_hostile",
             lambda sock, num: Session(sock, num, a.mode, a.spool).run())


if __name__ == "__main__":
    main()
