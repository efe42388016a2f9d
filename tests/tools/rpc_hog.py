#!/usr/bin/env python3
"""A client that writes requests as fast as it can and never reads.

usage: rpc_hog.py SOCKET DAEMON_PID MAX_RSS_MB

The daemon must stop reading from it once its unread replies pile up
(backpressure) instead of buffering them without bound: the hog's writes
then block. Checks that the daemon's RSS stays under MAX_RSS_MB and that a
fresh client is still answered while the hog is connected.
"""
import json
import socket
import sys
import time


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def status_ok(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(b'{"jsonrpc":"2.0","method":"status","id":"fresh"}\n')
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    reply = json.loads(buf.split(b"\n")[0])
    return reply.get("id") == "fresh" and "result" in reply


def main():
    path, pid, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    req = b'{"jsonrpc":"2.0","method":"status","id":1}\n' * 1000
    hog = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    hog.connect(path)
    hog.setblocking(False)
    sent, stalled_since, peak = 0, None, 0.0
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            sent += hog.send(req)
            stalled_since = None
        except BlockingIOError:
            if stalled_since is None:
                stalled_since = time.time()
            elif time.time() - stalled_since > 1.0:
                break          # writes blocked for a second: backpressure
            time.sleep(0.01)
        peak = max(peak, rss_mb(pid))
    peak = max(peak, rss_mb(pid))
    failures = 0
    print(f"# hog wrote {sent} bytes before blocking; daemon peak RSS {peak:.1f} MB")
    if stalled_since is None:
        print("not ok - the daemon never stopped reading from a client that does not read")
        failures += 1
    else:
        print("ok - the daemon stopped reading from the hog (its writes block)")
    if peak > limit:
        print(f"not ok - daemon RSS {peak:.1f} MB over {limit} MB")
        failures += 1
    else:
        print(f"ok - daemon RSS stayed under {limit} MB")
    if status_ok(path):
        print("ok - a fresh client is answered while the hog is connected")
    else:
        print("not ok - a fresh client was not answered")
        failures += 1
    hog.close()
    time.sleep(0.2)
    if status_ok(path):
        print("ok - answered after the hog left")
    else:
        print("not ok - not answered after the hog left")
        failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
