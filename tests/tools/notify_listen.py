#!/usr/bin/env python3
"""Listen on a NOTIFY_SOCKET like systemd does and record what arrives.

usage: notify_listen.py SOCKET_PATH OUTPUT_FILE

Binds a UNIX datagram socket at SOCKET_PATH and appends every datagram to
OUTPUT_FILE, one assignment (KEY=VALUE) per line, flushing each, until it is
killed or 120 s pass.
"""
import os
import socket
import sys
import time

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.5)
end = time.time() + 120
with open(out, "a") as f:
    f.write("LISTENING=1\n")
    f.flush()
    while time.time() < end:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        for line in data.decode("utf-8", "replace").split("\n"):
            if line:
                f.write(line + "\n")
        f.flush()
os.unlink(path)
