#!/usr/bin/env python3
"""The floor: the least work a POP3 client can do to download a mailbox.

    raw-pop3.py --port P --user U --password PW [--host H]
                [--tls --ca-file PEM] [--window W] [--seen-file FILE]

Logs in (USER/PASS), sends "RETR i" commands pipelined, at most W
outstanding (default 256), reads the responses and throws the bytes away:
no parsing beyond finding each response's end, no files, no fsync. With
--tls the connection is POP3S (implicit TLS), the certificate verified
against --ca-file and the host name.

Without --seen-file it retrieves every message that STAT counts. With
--seen-file it behaves like a keep-on-server client: UIDL first, RETR only
the messages whose UIDL is not in FILE, then rewrite FILE with the server's
UIDLs (only when it changed). That is the reference for a poll that finds
nothing new (Python's own start-up, ~30-40 ms, is part of it).

Prints one JSON line: {"messages": retrieved, "bytes": bytes received
(whole session), "stat": message count on the server}. Exits non-zero on
any protocol error.
"""

import json

from rawlib import Conn, ProtoError, arg_parser, run, write_state


class Pop3Conn(Conn):
    """A POP3 connection: +OK lines and multiline bodies."""

    def ok(self, what):
        line = self.line()
        if not line.startswith(b"+OK"):
            raise ProtoError("%s: %s" % (what, line.decode("utf-8", "replace")))
        return line

    def multiline(self):
        """The body of a multiline response (after its +OK line)."""
        start = 0
        while True:
            e = self.buf.find(b".\r\n", start)
            if e == 0:
                del self.buf[:3]
                return b""
            e = self.buf.find(b"\r\n.\r\n", max(start - 4, 0))
            if e >= 0:
                body = bytes(self.buf[:e + 2])
                del self.buf[:e + 5]
                return body
            start = len(self.buf)
            self.fill()


def retr_pipelined(conn, numbers, window):
    """RETR each message number, W outstanding at most; discard the data."""
    total = len(numbers)
    sent = done = 0

    def send_more():
        nonlocal sent
        upto = min(done + window, total)
        if upto > sent:
            conn.send(b"".join(b"RETR %d\r\n" % n
                               for n in numbers[sent:upto]))
            sent = upto

    send_more()
    buf = conn.buf
    in_body = False
    while done < total:
        p = 0
        while done < total:
            if not in_body:
                e = buf.find(b"\r\n", p)
                if e < 0:
                    break
                if not buf.startswith(b"+OK", p):
                    raise ProtoError("RETR: %s" % bytes(buf[p:e]).decode(
                        "utf-8", "replace"))
                p = e           # the terminator may reuse this CRLF
                in_body = True
            e = buf.find(b"\r\n.\r\n", p)
            if e < 0:
                break
            p = e + 5
            in_body = False
            done += 1
        # Throw away what was parsed; inside a body keep the last 4 bytes,
        # which may be the start of the terminator.
        keep_from = max(p, len(buf) - 4) if in_body else p
        del buf[:keep_from]
        if sent - done < window // 2:
            send_more()
        if done < total:
            conn.fill()
    return done


def main():
    ap = arg_parser(__doc__)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--seen-file")
    a = ap.parse_args()

    conn = Pop3Conn(a.host, a.port, a.tls, a.ca_file)
    conn.ok("greeting")
    conn.send(b"USER %s\r\n" % a.user.encode())
    conn.ok("USER")
    conn.send(b"PASS %s\r\n" % a.password.encode())
    conn.ok("PASS")
    conn.send(b"STAT\r\n")
    stat = int(conn.ok("STAT").split()[1])

    if a.seen_file is None:
        wanted = list(range(1, stat + 1))
    else:
        try:
            with open(a.seen_file, "rb") as fp:
                seen = set(fp.read().split())
        except FileNotFoundError:
            seen = set()
        conn.send(b"UIDL\r\n")
        conn.ok("UIDL")
        uidls = [ln.split(b" ", 1) for ln in conn.multiline().splitlines()]
        wanted = [int(n) for n, uid in uidls if uid not in seen]

    got = retr_pipelined(conn, wanted, max(a.window, 2)) if wanted else 0
    conn.send(b"QUIT\r\n")
    conn.ok("QUIT")
    conn.close()

    if a.seen_file is not None and (got or len(seen) != len(uidls)):
        write_state(a.seen_file,
                    b"\n".join(uid for _, uid in uidls) + b"\n")
    print(json.dumps({"messages": got, "bytes": conn.received,
                      "stat": stat}))
    return 0


if __name__ == "__main__":
    run(main, "raw-pop3")
