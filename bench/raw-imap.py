#!/usr/bin/env python3
"""The floor: the least work an IMAP client can do to download a mailbox.

    raw-imap.py --port P --user U --password PW [--host H]
                [--tls --ca-file PEM] [--state-file FILE [--list]]

Logs in (LOGIN), EXAMINEs INBOX, sends one "UID FETCH 1:* BODY.PEEK[]" and
reads the responses, throwing the bytes away: no parsing beyond the
literals' sizes and the lines around them, no files, no fsync. With --tls
the connection is IMAPS (implicit TLS), the certificate verified against
--ca-file and the host name.

With --state-file it behaves like a client that keeps mail on the server
and remembers what it saw:
  - alone: FILE holds the folder's UIDVALIDITY and UIDNEXT; when EXAMINE
    reports the same two, nothing is new and nothing is sent but LOGOUT;
    otherwise "UID FETCH <old UIDNEXT>:* BODY.PEEK[]" (the least a
    sync that finds nothing new can cost);
  - with --list: FILE holds every UID seen; "UID FETCH 1:* (UID)" lists the
    folder, and the UIDs not in FILE are fetched (what a client that lists
    the folder at every sync pays).
FILE is rewritten (only when it changed) after the fetch.

With --maildir DIR it also keeps what it downloads, in the least durable
way a Maildir allows: each message is written as it comes (as the server
sends it: no parsing, CRLF kept) into its own file in DIR/tmp/, its
writing started at once (sync_file_range); after the fetch one syncfs
flushes them all, each is renamed into DIR/new/, and
new/ is flushed. That is the floor of a client that stores mail, with no
index, no rules and no crash-safe order between batches (rawdisk in
imap-sync.sh).

Prints one JSON line: {"messages": fetched, "bytes": bytes received (whole
session), "exists": message count of INBOX}. Exits non-zero on any
protocol error. Python's own start-up (~30-40 ms) is part of its time.
"""

import ctypes
import json
import os
import re

from rawlib import Conn, ProtoError, arg_parser, run, write_state

LITERAL = re.compile(rb"\{(\d+)\}$")
LIBC = ctypes.CDLL(None, use_errno=True)
SYNC_FILE_RANGE_WRITE = 2
FETCH_UID = re.compile(rb"^\* \d+ FETCH \(UID (\d+)\)$")


class ImapConn(Conn):
    """An IMAP connection: tagged commands, responses with literals."""

    tags = 0
    maildir = None
    files = 0

    def skip(self, n):
        """Consume n bytes (a literal): thrown away, or with --maildir
        written into a new file in its tmp/."""
        out = None
        if self.maildir is not None and n > 0:
            self.files += 1
            out = open(os.path.join(self.maildir, "tmp", "%d" % self.files),
                       "wb", buffering=0)
        while len(self.buf) < n:
            n -= len(self.buf)
            if out:
                out.write(self.buf)
            self.buf.clear()
            self.fill()
        if out:
            out.write(memoryview(self.buf)[:n])
            # Start writing it out now (as mailctld does for a batch), so
            # the flush at the end waits only for the last ones.
            LIBC.sync_file_range(out.fileno(), ctypes.c_int64(0),
                                 ctypes.c_int64(0), SYNC_FILE_RANGE_WRITE)
            out.close()
        del self.buf[:n]

    def deliver(self):
        """--maildir: flush every file, then move them into new/."""
        tmp = os.path.join(self.maildir, "tmp")
        new = os.path.join(self.maildir, "new")
        fd = os.open(tmp, os.O_RDONLY)
        if LIBC.syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), "syncfs")
        os.close(fd)
        for i in range(1, self.files + 1):
            os.rename(os.path.join(tmp, "%d" % i),
                      os.path.join(new, "%d" % i))
        for d in (new, tmp):
            fd = os.open(d, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)

    def command(self, cmd, untagged):
        """Send cmd; call untagged(line, literals) for each untagged
        response (line without its literals, literals their total size,
        skipped) until the tagged one, which must be OK."""
        self.tags += 1
        tag = b"a%d" % self.tags
        self.send(tag + b" " + cmd + b"\r\n")
        while True:
            parts = []
            literals = 0
            while True:
                line = self.line()
                parts.append(line)
                m = LITERAL.search(line)
                if not m:
                    break
                self.skip(int(m.group(1)))
                literals += 1
            line = b"".join(parts)
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise ProtoError("%s: %s" % (
                        cmd.split()[0].decode(),
                        line.decode("utf-8", "replace")))
                return
            if line.startswith(b"* "):
                untagged(line, literals)


def uid_set(uids):
    """An IMAP sequence set of the numbers uids (bytes, ascending), as
    ranges: a command line of 50,000 single UIDs would be too long."""
    out = []
    nums = [int(u) for u in uids]
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(b"%d" % nums[i] if i == j else
                   b"%d:%d" % (nums[i], nums[j]))
        i = j + 1
    return b",".join(out)


def quote(s):
    """An IMAP quoted string."""
    return b'"' + s.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') \
        + b'"'


def main():
    ap = arg_parser(__doc__)
    ap.add_argument("--state-file")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--maildir")
    a = ap.parse_args()

    conn = ImapConn(a.host, a.port, a.tls, a.ca_file)
    if a.maildir is not None:
        for d in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(a.maildir, d), exist_ok=True)
        conn.maildir = a.maildir
    if not conn.line().startswith(b"* OK"):
        raise ProtoError("no greeting")
    conn.command(b"LOGIN " + quote(a.user) + b" " + quote(a.password),
                 lambda *_: None)
    box = {}

    def examine(line, _):
        m = re.match(rb"\* (\d+) EXISTS", line)
        if m:
            box["exists"] = int(m.group(1))
        m = re.match(rb"\* OK \[(UIDVALIDITY|UIDNEXT) (\d+)\]", line)
        if m:
            box[m.group(1).decode().lower()] = int(m.group(2))

    conn.command(b"EXAMINE INBOX", examine)
    exists = box.get("exists", 0)

    fetched = 0

    def count(_, literals):
        nonlocal fetched
        if literals:
            fetched += 1

    state = None
    new_state = None
    if a.state_file is not None:
        try:
            with open(a.state_file, "rb") as fp:
                state = fp.read()
        except FileNotFoundError:
            state = b""
    if a.state_file is None:
        if exists:
            conn.command(b"UID FETCH 1:* BODY.PEEK[]", count)
    elif not a.list:
        new_state = b"%d %d\n" % (box["uidvalidity"], box["uidnext"])
        old = state.split()
        start = 1
        if len(old) == 2 and int(old[0]) == box["uidvalidity"]:
            start = int(old[1])
        if exists and start < box["uidnext"]:
            # "n:*" also names the last message when its UID is below n,
            # which cannot happen here: UIDNEXT moved, so there is a new one.
            conn.command(b"UID FETCH %d:* BODY.PEEK[]" % start, count)
    else:
        seen = set(state.split())
        uids = []

        def listed(line, _):
            m = FETCH_UID.match(line)
            if m:
                uids.append(m.group(1))

        if exists:
            conn.command(b"UID FETCH 1:* (UID)", listed)
        new = [u for u in uids if u not in seen]
        if new:
            conn.command(b"UID FETCH " + uid_set(new) + b" BODY.PEEK[]", count)
        new_state = b"\n".join(uids) + b"\n"
    if a.maildir is not None:
        conn.deliver()
    conn.command(b"LOGOUT", lambda *_: None)
    conn.close()

    if new_state is not None and new_state != state:
        write_state(a.state_file, new_state)
    print(json.dumps({"messages": fetched, "bytes": conn.received,
                      "exists": exists}))
    return 0


if __name__ == "__main__":
    run(main, "raw-imap")
