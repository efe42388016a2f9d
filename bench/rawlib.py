"""What the raw clients (raw-pop3.py, raw-imap.py) share: a connection,
plain or TLS, that reads into one fixed buffer and splits lines.

The clients import it from their own directory (python3 puts a script's
directory first on sys.path).
"""

import argparse
import os
import socket
import ssl
import sys

RECV = 256 * 1024


def arg_parser(doc):
    """The options every raw client takes (--host, --port, --user,
    --password, --tls, --ca-file), described by the first line of doc."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--ca-file")
    return ap


def write_state(path, data):
    """Replace the file path by data (bytes) in one rename."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as fp:
        fp.write(data)
    os.replace(tmp, path)


def run(main, name):
    """Exit with main()'s status; an error is one line "name: error" on
    stderr and status 1."""
    try:
        sys.exit(main())
    except (OSError, ProtoError, ValueError, IndexError, KeyError) as e:
        print("%s: %s" % (name, e), file=sys.stderr)
        sys.exit(1)


class ProtoError(Exception):
    """The server said no, or closed the connection."""


class Conn:
    """A client connection to host:port, TLS (implicit, the certificate
    verified against ca_file and the host name) when tls is true; buf holds
    what was received and not yet consumed, received counts every byte."""

    def __init__(self, host, port, tls=False, ca_file=None):
        sock = socket.create_connection((host, port), timeout=120)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            ctx = ssl.create_default_context(cafile=ca_file)
            sock = ctx.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.buf = bytearray()
        self.received = 0
        # recv_into one fixed buffer: recv(n) would allocate (mmap) and
        # free an n-byte object per call, which costs more than the data.
        self.chunk = memoryview(bytearray(RECV))

    def fill(self):
        """Append what the socket has (at least one byte) to buf."""
        n = self.sock.recv_into(self.chunk, RECV)
        if not n:
            raise ProtoError("connection closed by the server")
        self.received += n
        self.buf += self.chunk[:n]

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        """One response line, without CRLF."""
        while True:
            e = self.buf.find(b"\r\n")
            if e >= 0:
                line = bytes(self.buf[:e])
                del self.buf[:e + 2]
                return line
            self.fill()

    def close(self):
        self.sock.close()
