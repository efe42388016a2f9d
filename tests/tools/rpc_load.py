#!/usr/bin/env python3
"""Concurrent-load and fd-leak check for the mailctld JSON-RPC control socket.

Usage: rpc_load.py SOCKET DAEMON_PID

Each round opens 100 connections (all connected before anything is
written), pipelines 100 "status" requests with unique integer and string
ids on each, reads all 10,000 replies through one selector loop and
checks them; then closes everything and checks that the daemon's open
file descriptor count (/proc/PID/fd) returns to its value before the
first round.  Three rounds.  Prints "ok - ..." / "not ok - ... : details"
lines; exits 0 only if all checks passed.  Python 3 stdlib only.
"""
import json
import os
import selectors
import socket
import sys
import time

TIMEOUT = 5.0          # seconds: connect, and max time without any progress
CLIENTS = 100
PER_CLIENT = 100
ROUNDS = 3

FAILED = 0


def report(ok, name, details=""):
    global FAILED
    if ok:
        print("ok - %s" % name, flush=True)
    else:
        FAILED += 1
        print("not ok - %s : %s" % (name, details), flush=True)
    return ok


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def wait_fds(pid, want, timeout=TIMEOUT):
    """Poll until the daemon's fd count is <= want; return the last count."""
    deadline = time.monotonic() + timeout
    while True:
        n = fd_count(pid)
        if n <= want or time.monotonic() >= deadline:
            return n
        time.sleep(0.05)


class Client:
    def __init__(self, path, idx):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(path)
        self.sock.setblocking(False)
        # unique ids across the whole run: even -> integer, odd -> string
        self.ids = set()
        for j in range(PER_CLIENT):
            n = idx * PER_CLIENT + j
            self.ids.add(n if j % 2 == 0 else "c%d-r%d" % (idx, j))
        self.out = "".join(json.dumps({"jsonrpc": "2.0", "method": "status",
                                       "id": i}) + "\n"
                           for i in self.ids).encode()
        self.inbuf = b""
        self.seen = set()
        self.problems = []
        self.writes = 0


def check_reply(cl, line, pid):
    """Validate one reply line for client cl; record problems."""
    try:
        rep = json.loads(line)
    except ValueError:
        cl.problems.append("not JSON: %r" % line[:200])
        return
    if not isinstance(rep, dict) or rep.get("jsonrpc") != "2.0":
        cl.problems.append("not a JSON-RPC 2.0 object: %r" % (rep,))
        return
    rid = rep.get("id")
    if type(rid) not in (int, str) or rid not in cl.ids:
        cl.problems.append("unexpected id %r" % (rid,))
    elif rid in cl.seen:
        cl.problems.append("duplicate reply for id %r" % (rid,))
    else:
        cl.seen.add(rid)
    res = rep.get("result")
    if "error" in rep or not isinstance(res, dict):
        cl.problems.append("not a success reply: %r" % (rep,))
    elif res.get("pid") != pid or isinstance(res.get("pid"), bool):
        cl.problems.append("result.pid %r != %d" % (res.get("pid"), pid))


def run_round(path, pid, rnd, base_fds):
    tag = "round %d" % rnd
    clients = []
    try:
        for i in range(CLIENTS):
            clients.append(Client(path, (rnd - 1) * CLIENTS + i))
    except OSError as e:
        report(False, tag + ": open %d connections" % CLIENTS,
               "connection %d: %s: %s" % (len(clients), type(e).__name__, e))
        for cl in clients:
            cl.sock.close()
        return
    report(True, tag + ": %d clients connected concurrently" % CLIENTS)

    sel = selectors.DefaultSelector()
    for cl in clients:
        sel.register(cl.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, cl)
    pending = len(clients)               # clients still expecting replies
    total = 0
    start = time.monotonic()
    last_progress = start
    stall = None
    while pending:
        events = sel.select(timeout=0.5)
        now = time.monotonic()
        if not events and now - last_progress > TIMEOUT:
            stall = "no progress for %.0f s; %d replies of %d" % (
                TIMEOUT, total, CLIENTS * PER_CLIENT)
            break
        for key, mask in events:
            cl = key.data
            try:
                if mask & selectors.EVENT_WRITE and cl.out:
                    n = cl.sock.send(cl.out)
                    cl.out = cl.out[n:]
                    cl.writes += 1
                    last_progress = now
                    if not cl.out:
                        sel.modify(cl.sock, selectors.EVENT_READ, cl)
                if mask & selectors.EVENT_READ:
                    chunk = cl.sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("EOF from daemon")
                    last_progress = now
                    cl.inbuf += chunk
                    *lines, cl.inbuf = cl.inbuf.split(b"\n")
                    for line in lines:
                        total += 1
                        check_reply(cl, line, pid)
                    if len(cl.seen) >= PER_CLIENT:
                        sel.unregister(cl.sock)
                        pending -= 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                cl.problems.append("%s: %s after %d replies" % (
                    type(e).__name__, e, len(cl.seen)))
                sel.unregister(cl.sock)
                pending -= 1
    elapsed = time.monotonic() - start
    sel.close()
    print("# %s: %d requests, %d replies in %.3f s (%.0f replies/s), "
          "%d writes" % (tag, CLIENTS * PER_CLIENT, total, elapsed,
                         total / elapsed if elapsed > 0 else 0,
                         sum(cl.writes for cl in clients)), flush=True)

    probs = ["client %d: %s" % (i, p) for i, cl in enumerate(clients)
             for p in cl.problems[:3]]
    if stall:
        probs.insert(0, stall)
    report(not probs, tag + ": all replies are status successes with pid %d"
           % pid, "; ".join(probs[:5]) + (" ..." if len(probs) > 5 else ""))
    missing = [(i, len(cl.ids - cl.seen)) for i, cl in enumerate(clients)
               if cl.seen != cl.ids]
    report(not missing, tag + ": reply ids equal request ids on every "
           "connection (no missing, duplicate or extra)",
           "clients with missing ids (client, count): %r" % missing[:10])

    # Give late/extra replies a moment to show up, then look for them.
    time.sleep(0.2)
    extra = []
    for i, cl in enumerate(clients):
        try:
            data = cl.inbuf + cl.sock.recv(65536)
            if data:
                extra.append((i, data[:80]))
        except (BlockingIOError, OSError):
            if cl.inbuf:
                extra.append((i, cl.inbuf[:80]))
    report(not extra, tag + ": no extra data after the last reply",
           "%r" % extra[:3])

    during = fd_count(pid)
    report(during >= base_fds + CLIENTS, tag + ": daemon holds all %d "
           "connections at once" % CLIENTS,
           "fd count %d, expected >= %d + %d" % (during, base_fds, CLIENTS))
    for cl in clients:
        cl.sock.close()
    after = wait_fds(pid, base_fds)
    report(after <= base_fds, tag + ": daemon fd count back to %d after "
           "close" % base_fds, "still %d fds after %.0f s (leak of %d)"
           % (after, TIMEOUT, after - base_fds))


def main():
    if len(sys.argv) != 3:
        print("usage: %s SOCKET DAEMON_PID" % sys.argv[0], file=sys.stderr)
        return 1
    path = sys.argv[1]
    try:
        pid = int(sys.argv[2])
        before = fd_count(pid)
    except (ValueError, OSError) as e:
        report(False, "read daemon fd count", "%s: %s" % (type(e).__name__, e))
        return 1
    print("# daemon pid %d has %d open fds before" % (pid, before), flush=True)
    for rnd in range(1, ROUNDS + 1):
        try:
            run_round(path, pid, rnd, before)
        except OSError as e:      # e.g. the daemon died: /proc/PID vanished
            report(False, "round %d" % rnd, "%s: %s" % (type(e).__name__, e))
            break
    try:
        final = wait_fds(pid, before)
        report(final <= before, "fd count after %d rounds: %d (before: %d)"
               % (ROUNDS, final, before), "leak of %d fds" % (final - before))
    except OSError as e:
        report(False, "daemon still alive at the end", str(e))
    print("# %d check(s) failed" % FAILED if FAILED else "# all checks passed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
