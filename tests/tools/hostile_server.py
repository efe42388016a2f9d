"""Plumbing shared by the test servers pop3_hostile.py, imap_hostile.py,
smtp_hostile.py and blackhole_proxy.py: the command-line options they have in common, the
deterministic test messages, the connection log, reading lines with a
limit, closing with a FIN or a reset, and the accept loop (a thread per
connection, the port file, SIGTERM/SIGINT and a safety lifetime).
"""
import os
import re
import signal
import socket
import struct
import sys
import threading
import traceback

LIFETIME = 300            # seconds before a server stops by itself
CHUNK = 64 * 1024         # size of each write of an endless stream
LINE_MAX = 64 * 1024      # longest command line accepted from the client

HEADERS = ("From: Hostile Sender <sender@hostile.test>\r\n"
           "To: Test User <user@hostile.test>\r\n"
           "Subject: Hostile test message %d of %d\r\n"
           "Message-ID: <uid-%d@hostile.test>\r\n"
           "Date: Mon, 01 Jan 2024 12:00:%02d +0000\r\n"
           "\r\n")
FILLER = "the quick brown fox jumps over the lazy dog 0123456789 "

LOG = None
LOG_LOCK = threading.Lock()


class Stop(Exception):
    """Raised by the signal handlers to leave the accept loop."""


def head_of(num, total):
    return HEADERS % (num, total, num, num % 60)


def make_message(num, total, size):
    """Return message num of total: size bytes, CRLF, lines of <= 70,
    some starting with a dot."""
    out = [head_of(num, total)]
    left = size - len(out[0])
    k = 0
    while left > 0:
        # A line costs its text plus CRLF; never leave 1 byte, which no
        # line can fill.
        take = min(72, left)
        if left - take == 1:
            take -= 1
        k += 1
        if k % 10 == 7 and take == 72:
            line = "."
        else:
            line = "." if k % 10 == 3 else ""
            line += "line %d of message %d: " % (k, num)
            line = (line + FILLER * 2)[:take - 2]
        out.append(line + "\r\n")
        left -= len(line) + 2
    return "".join(out).encode("ascii")


def printable(text):
    """Return text with control bytes escaped, fit for one log line."""
    return re.sub(r"[^ -~]", lambda m: "\\x%02x" % ord(m.group()), text)


def log(num, text):
    """Append "NUM TEXT" to the --log file, if any."""
    if LOG is not None:
        with LOG_LOCK:
            LOG.write("%d %s\n" % (num, text))
            LOG.flush()


def add_arguments(ap, messages=True):
    """Add the options every server has (and the mailbox's, by default)."""
    ap.add_argument("--port-file")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--log")
    if messages:
        ap.add_argument("--messages", type=int, default=3)
        ap.add_argument("--size", type=int, default=2000)
        ap.add_argument("--dump", metavar="DIR",
                        help="write the messages to DIR/uid-K.eml and exit")


def make_mailbox(ap, args):
    """Return the --messages messages of --size bytes; with --dump, write
    them to DIR/uid-K.eml and exit."""
    smallest = len(head_of(args.messages, args.messages)) + 2
    if args.messages < 0 or args.size < smallest:
        ap.error("need --messages >= 0 and --size >= %d" % smallest)
    box = [make_message(n, args.messages, args.size)
           for n in range(1, args.messages + 1)]
    if args.dump:
        for k, raw in enumerate(box):
            with open(os.path.join(args.dump, "uid-%d.eml" % (k + 1)),
                      "wb") as f:
                f.write(raw)
        sys.exit(0)
    return box


class Conn:
    """One client connection: its socket, number and input buffer."""

    def __init__(self, sock, num):
        self.sock = sock
        self.num = num
        self.buf = b""
        self.abort = False        # close with a reset rather than a FIN

    def log(self, text):
        log(self.num, text)

    def readline(self):
        """Return one line without CRLF as str, or None at EOF (or past
        LINE_MAX bytes)."""
        while b"\n" not in self.buf:
            if len(self.buf) > LINE_MAX:
                self.log("C: (line over %d bytes, closing)" % LINE_MAX)
                return None
            data = self.sock.recv(4096)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("latin-1")

    def read_exact(self, n):
        """Return the next n bytes, or None at EOF."""
        while len(self.buf) < n:
            data = self.sock.recv(max(4096, n - len(self.buf)))
            if not data:
                return None
            self.buf += data
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def drain(self, show=printable):
        """Read and log (through show) until the client closes; answer
        nothing."""
        while True:
            line = self.readline()
            if line is None:
                return False
            self.log("C: " + show(line))

    def endless(self, first):
        """Send first, then "x" forever (no CRLF) until the client closes."""
        self.log("S: %s xxx... (endless, no CRLF)" % printable(first))
        self.sock.sendall(first.encode("latin-1"))
        while True:
            self.sock.sendall(b"x" * CHUNK)


def close(sock, abort=False):
    """Close with a FIN after the data, or with a reset when abort."""
    try:
        if abort:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
        else:
            # FIN after the data even if unread commands are queued
            # (a bare close() would then send a reset instead).
            sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    sock.close()


def guarded(body, sock, num):
    """Run body(sock, num) in a connection thread: log OPEN and CLOSED,
    swallow the peer going away, close the socket (with a reset if body
    returned True)."""
    log(num, "OPEN")
    abort = False
    try:
        abort = bool(body(sock, num))
    except OSError:
        pass                    # reset, broken pipe: the client went away
    except Exception:
        traceback.print_exc()
    finally:
        close(sock, abort)
        log(num, "CLOSED")


def on_signal(signum, frame):
    raise Stop(signum)


def serve(args, name, body):
    """Listen on --host (ephemeral port, written to --port-file via
    FILE.tmp and a rename, or printed), run body(sock, num) in a thread
    per connection (see guarded), until SIGTERM/SIGINT or LIFETIME s;
    then exit at once, whatever the threads are doing."""
    global LOG
    if args.log:
        LOG = open(args.log, "a")
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(args.port_file + ".tmp", args.port_file)
    else:
        print(port, flush=True)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
        signal.signal(sig, on_signal)
    signal.alarm(LIFETIME)
    num = 0
    try:
        while True:
            conn, _ = listener.accept()
            num += 1
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=guarded, args=(body, conn, num),
                             daemon=True).start()
    except Stop as e:
        if e.args[0] == signal.SIGALRM:
            print("%s: stopping after the %d s safety limit"
                  % (name, LIFETIME), file=sys.stderr)
    listener.close()
    # Connection threads may be blocked in a send forever: leave without
    # waiting for them, but never in the middle of a log line.
    LOG_LOCK.acquire()
    if LOG is not None:
        LOG.close()
    os._exit(0)
