#!/usr/bin/env python3
"""A TCP proxy that can turn into a black hole, like a NAT that forgets a
connection: nothing is closed, nothing arrives any more.

usage: blackhole_proxy.py [--port-file FILE] [--log FILE] [--host ADDR]
                          [--target-host ADDR] [--rate BYTES] --target PORT

Listens on --host (127.0.0.1), ephemeral port, written to --port-file via
FILE.tmp and a rename (printed without --port-file); forwards each
connection to --target-host (127.0.0.1):--target, both ways, a FIN passed
on as a FIN, until SIGTERM/SIGINT or 300 s. With --rate, what the target
sends reaches the client at no more than BYTES a second on each
connection (a slow link: a sync that lasts long enough to be interrupted
in its middle).

Control, by signal to the proxy's PID:
  SIGUSR1  black hole: every open connection stops forwarding in both
           directions, and so does every connection accepted from now on
           (accepted, connected to the target, never forwarded). No socket
           is closed and nothing is sent: the two ends see silence. At most
           one read per direction already under way when the signal came
           is swallowed; everything after stays in the kernel's buffers.
  SIGUSR2  connections accepted from now on are forwarded again; the
           black-holed ones stay so until the proxy exits.
Unlike a real NAT, the kernel still answers TCP keepalives on both sides:
a client finds the hole only by a timeout of its own.

--log appends "3 OPEN", "3 CONNECTED", "3 BLACKHOLED", "3 CLOSED" per
connection and "0 SIGUSR1: N connections black-holed", "0 SIGUSR2".
"""
import argparse
import signal
import socket
import threading
import time
from functools import partial

import hostile_server as hs

HOLE = {"on": False}          # SIGUSR1 .. SIGUSR2
LIVE = {}                     # connection number -> its "holed" Event
LIVE_LOCK = threading.Lock()


def park(num, holed):
    """Block this direction for good once the connection is black-holed."""
    if holed.is_set():
        hs.log(num, "BLACKHOLED")
        threading.Event().wait()


def pump(src, dst, num, holed, rate=0):
    """Copy src to dst until EOF (passed on as a FIN) or the black hole,
    at most rate bytes a second when rate is not 0."""
    start, sent = time.monotonic(), 0
    size = min(65536, max(1024, rate // 50)) if rate else 65536
    while True:
        park(num, holed)
        data = src.recv(size)
        park(num, holed)
        if not data:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        if rate:
            sent += len(data)
            ahead = sent / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
            elif ahead < -0.1:
                # Idle a while: no more than 0.1 s of credit, no burst.
                start += -0.1 - ahead
        dst.sendall(data)


def pump_quietly(src, dst, num, holed, rate=0):
    try:
        pump(src, dst, num, holed, rate)
    except OSError:
        pass


def proxy(sock, num, target, rate):
    """Connection thread: forward sock <-> target both ways."""
    holed = threading.Event()
    with LIVE_LOCK:
        LIVE[num] = holed
        if HOLE["on"]:
            holed.set()
    up = socket.create_connection(target, timeout=10)
    up.settimeout(None)
    try:
        hs.log(num, "CONNECTED")
        back = threading.Thread(target=pump_quietly,
                                args=(up, sock, num, holed, rate),
                                daemon=True)
        back.start()
        pump_quietly(sock, up, num, holed)
        back.join()
    finally:
        with LIVE_LOCK:
            LIVE.pop(num, None)
        up.close()
    return False


def on_usr1(signum, frame):
    with LIVE_LOCK:
        HOLE["on"] = True
        for holed in LIVE.values():
            holed.set()
        hs.log(0, "SIGUSR1: %d connections black-holed" % len(LIVE))


def on_usr2(signum, frame):
    with LIVE_LOCK:
        HOLE["on"] = False
    hs.log(0, "SIGUSR2")


def main():
    ap = argparse.ArgumentParser(description="TCP proxy that can go silent.")
    hs.add_arguments(ap, messages=False)
    ap.add_argument("--target-host", default="127.0.0.1")
    ap.add_argument("--target", type=int, required=True)
    ap.add_argument("--rate", type=int, default=0, metavar="BYTES",
                    help="bytes a second from the target to the client")
    args = ap.parse_args()
    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGUSR2, on_usr2)
    hs.serve(args, "blackhole_proxy",
             partial(proxy, target=(args.target_host, args.target),
                     rate=args.rate))


if __name__ == "__main__":
    main()
