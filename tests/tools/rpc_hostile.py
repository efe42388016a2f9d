#!/usr/bin/env python3
"""Hostile-client checks for the mailctld JSON-RPC control socket.

Usage: rpc_hostile.py SOCKET

Every case uses a fresh connection; afterwards a fresh client's "status"
must still succeed with the same daemon pid.  Prints one "ok - ..." or
"not ok - ... : details" line per check; exits 0 only if all passed.
Every blocking socket operation has a timeout, so a broken daemon makes
the script fail rather than hang.  Python 3 stdlib only.
"""
import json
import select
import socket
import sys
import time

TIMEOUT = 5.0             # seconds, for every blocking operation
QUIET = 0.3               # how long "no reply" must stay quiet
LINE_LIMIT = 4 * 1024 * 1024  # the daemon's documented limit, in bytes

SOCK_PATH = None
FAILED = 0
DAEMON_PID = None


def report(ok, name, details=""):
    global FAILED
    if ok:
        print("ok - %s" % name, flush=True)
    else:
        FAILED += 1
        print("not ok - %s : %s" % (name, details), flush=True)
    return ok


class Conn:
    """One client connection with a line buffer and deadline-based reads."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(SOCK_PATH)
        self.buf = b""
        self.eof = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def readline(self, timeout=TIMEOUT):
        """Return one line without "\\n", or None on EOF; raise on timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete reply line within %.1f s" % timeout)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("no complete reply line within %.1f s" % timeout)
            if not chunk:
                self.eof = True
                if self.buf:
                    raise ValueError("EOF after partial line %r" % self.buf[:200])
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def reply(self, timeout=TIMEOUT):
        """Read and decode one reply; EOF is an error."""
        line = self.readline(timeout)
        if line is None:
            raise ValueError("connection closed without a reply")
        try:
            return json.loads(line)
        except ValueError:
            raise ValueError("reply is not JSON: %r" % line[:200])

    def quiet(self, wait=QUIET):
        """True if nothing (not even EOF) arrives within `wait` seconds."""
        if self.buf:
            return False
        r, _, _ = select.select([self.sock], [], [], wait)
        return not r

    def close(self):
        self.sock.close()


def call(req, conn=None):
    """Send one request (object, or raw str/bytes with newline) and read one reply."""
    own = conn is None
    c = Conn() if own else conn
    try:
        c.send(req if isinstance(req, (bytes, str)) else json.dumps(req) + "\n")
        return c.reply()
    finally:
        if own:
            c.close()


def same_id(got, want):
    return got == want and type(got) is type(want)


def error_problem(rep, code, rid, null_ok=False, mention=None):
    """Describe what is wrong with an expected error reply, or return None."""
    if not isinstance(rep, dict) or rep.get("jsonrpc") != "2.0":
        return "not a JSON-RPC 2.0 object: %r" % (rep,)
    err = rep.get("error")
    if "result" in rep or not isinstance(err, dict):
        return "not an error reply: %r" % (rep,)
    if err.get("code") != code or type(err.get("code")) is not int:
        return "code %r, expected %d: %r" % (err.get("code"), code, rep)
    msg = err.get("message")
    if not isinstance(msg, str) or not msg.strip():
        return "missing or empty message: %r" % (rep,)
    if mention and not any(w in msg.lower() for w in mention):
        return "message %r does not mention any of %r" % (msg, mention)
    if "id" not in rep:
        return "no id member: %r" % (rep,)
    if not same_id(rep["id"], rid) and not (null_ok and rep["id"] is None):
        return "id %r, expected %r" % (rep["id"], rid)
    return None


def status_problem(rep, rid):
    if not isinstance(rep, dict) or rep.get("jsonrpc") != "2.0":
        return "not a JSON-RPC 2.0 object: %r" % (rep,)
    if "error" in rep or "result" not in rep:
        return "not a success reply: %r" % (rep,)
    if not same_id(rep.get("id"), rid):
        return "id %r, expected %r" % (rep.get("id"), rid)
    res = rep["result"]
    if not isinstance(res, dict):
        return "result is not an object: %r" % (res,)
    types = {"version": (str,), "pid": (int,), "uptime": (int, float),
             "config": (str,), "accounts": (list,)}
    for key, ty in types.items():
        if not isinstance(res.get(key), ty) or isinstance(res.get(key), bool):
            return "result.%s missing or of wrong type: %r" % (key, res)
    if DAEMON_PID is not None and res["pid"] != DAEMON_PID:
        return "pid changed from %d to %r (daemon restarted?)" % (DAEMON_PID, res["pid"])
    return None


def fresh_status(name):
    """A new client's status must work; bail out if the daemon is gone."""
    try:
        prob = status_problem(call({"jsonrpc": "2.0", "method": "status", "id": 9999}), 9999)
    except Exception as e:
        prob = "%s: %s" % (type(e).__name__, e)
    if not report(prob is None, "daemon still serves after: " + name, prob):
        print("Bail out! daemon stopped serving; skipping the other cases")
        sys.exit(1)


def case(name):
    """Decorator: run the case, report exceptions, then check the daemon."""
    def wrap(fn):
        def run():
            try:
                prob = fn()
            except Exception as e:
                prob = "%s: %s" % (type(e).__name__, e)
            report(prob is None, name, prob)
            fresh_status(name)
        CASES.append(run)
        return fn
    return wrap


CASES = []
ST = {"jsonrpc": "2.0", "method": "status"}


def req(rid, **kw):
    d = dict(ST, id=rid)
    d.update(kw)
    return d


# (name, request, expected code or None for a status success, id,
#  null id also accepted, words of which the message must contain one)
SIMPLE = [
    ("garbage bytes -> -32700, id null", b"\x00\xff\xfe garbage\n",
     -32700, None, False, None),
    ('jsonrpc "1.0" -> -32600, id echoed', req(11, jsonrpc="1.0"),
     -32600, 11, False, None),
    ("missing method -> -32600 (id echoed or null)",
     {"jsonrpc": "2.0", "id": 12}, -32600, 12, True, None),
    ("method 42 -> -32600 (id echoed or null)", req(13, method=42),
     -32600, 13, True, None),
    ("id {} -> -32600, id null", req({}), -32600, None, False, None),
    ("id true -> -32600, id null", req(True), -32600, None, False, None),
    ('unknown method "nope" -> -32601, id echoed, message names it',
     req(14, method="nope"), -32601, 14, False, ["nope"]),
    ('status params "x" -> -32602', req(15, params="x"), -32602, 15, False, None),
    ('status params {"bogus":1} -> -32602', req(16, params={"bogus": 1}),
     -32602, 16, False, None),
    ("status params {} accepted", req(17, params={}), None, 17, False, None),
    ("status params [] accepted", req(18, params=[]), None, 18, False, None),
    ("empty batch [] -> single -32600 object, id null", b"[]\n",
     -32600, None, False, None),
    ('string id "abc" echoed', req("abc"), None, "abc", False, None),
    ("null id echoed", req(None), None, None, False, None),
]


def simple_case(name, request, code, rid, null_ok, mention):
    def fn():
        rep = call(request if isinstance(request, bytes)
                   else json.dumps(request) + "\n")
        if code is None:
            return status_problem(rep, rid)
        return error_problem(rep, code, rid, null_ok, mention)
    case(name)(fn)


for args in SIMPLE:
    simple_case(*args)


@case("half a JSON text then close")
def _():
    c = Conn()
    c.send(b'{"jsonrpc":"2.0","method":"sta')
    c.close()


@case("5 MiB line -> one -32600 (id null, mentions limit) then EOF")
def _():
    c = Conn()
    data = b'{"jsonrpc":"2.0","method":"status","id":1,"params":{"x":"'
    data += b"a" * (5 * 1024 * 1024 - len(data))
    got, sent = b"", 0
    c.sock.setblocking(False)
    deadline = time.monotonic() + 4 * TIMEOUT
    while b"\n" not in got:          # write and read at once: no deadlock
        left = deadline - time.monotonic()
        if left <= 0:
            return "no reply (sent %d of %d bytes)" % (sent, len(data))
        w = [c.sock] if sent < len(data) else []
        r, w, _ = select.select([c.sock], w, [], min(left, TIMEOUT))
        if not r and not w:
            return "stalled for %.0f s (sent %d bytes)" % (TIMEOUT, sent)
        if w:
            try:
                sent += c.sock.send(data[sent:sent + 262144])
            except (BrokenPipeError, ConnectionResetError):
                sent = len(data)     # daemon hung up; read what it said
        if r:
            chunk = c.sock.recv(65536)
            if not chunk:
                return "EOF without a reply (sent %d bytes)" % sent
            got += chunk
    if sent < LINE_LIMIT:
        return "replied after only %d bytes, before the limit" % sent
    c.buf = got
    c.sock.setblocking(True)
    rep = c.reply()
    prob = error_problem(rep, -32600, None, mention=[
        "limit", "4194304", "4 mib", "4mib", "long", "large", "exceed", "size"])
    if prob:
        return prob
    try:
        extra = c.readline()
    except (ConnectionResetError, BrokenPipeError):
        extra = None
    c.close()
    if extra is not None:
        return "expected EOF after the error, got %r" % extra[:200]


def no_reply_then(payload, rid):
    """Send payload that must get no reply, then a request with id rid."""
    c = Conn()
    c.send(json.dumps(payload) + "\n")
    time.sleep(0.1)
    prob = status_problem(call(req(rid), c), rid)
    if not prob and not c.quiet():
        prob = "unexpected extra data after the reply"
    c.close()
    return prob


case("notification gets no reply; next request is answered")(
    lambda: no_reply_then(ST, 21))
case("batch of only notifications -> no reply")(
    lambda: no_reply_then([ST, ST, dict(ST, method="nope")], 31))


@case("mixed batch -> array of 4 replies with right codes per id")
def _():
    batch = [req(1), req(2, method="nope"), ST, 5, req(3, jsonrpc="1.0")]
    rep = call(json.dumps(batch) + "\n")
    if not isinstance(rep, list) or len(rep) != 4:
        return "expected an array of 4, got %r" % (rep,)
    by_id = {}
    for r in rep:
        key = repr(r.get("id")) if isinstance(r, dict) else "?"
        if key in by_id:
            return "duplicate/odd id %s in %r" % (key, rep)
        by_id[key] = r
    if set(by_id) != {"1", "2", "3", "None"}:
        return "ids %s, expected 1, 2, 3, null" % sorted(by_id)
    return (status_problem(by_id["1"], 1)
            or error_problem(by_id["2"], -32601, 2)
            or error_problem(by_id["3"], -32600, 3)
            or error_problem(by_id["None"], -32600, None))


@case("request split into 1-byte writes")
def _():
    c = Conn()
    for b in (json.dumps(req(41)) + "\n").encode():
        c.send(bytes([b]))
        time.sleep(0.002)
    prob = status_problem(c.reply(), 41)
    c.close()
    return prob


@case("three pipelined requests in one write -> three replies by id")
def _():
    c = Conn()
    c.send("".join(json.dumps(r) + "\n" for r in
                   (req(51), req("p52"), req(53, method="nope"))))
    reps = {}
    for _ in range(3):
        r = c.reply()
        if not isinstance(r, dict) or repr(r.get("id")) in reps:
            return "bad or duplicate reply %r" % (r,)
        reps[repr(r.get("id"))] = r
    quiet = c.quiet()
    c.close()
    if set(reps) != {"51", "'p52'", "53"}:
        return "reply ids %s" % sorted(reps)
    return (status_problem(reps["51"], 51) or status_problem(reps["'p52'"], "p52")
            or error_problem(reps["53"], -32601, 53)
            or (None if quiet else "unexpected extra data"))


@case("50 connections opened and closed without sending")
def _():
    conns = [Conn() for _ in range(50)]
    for c in conns:
        c.close()
    time.sleep(0.1)


@case("client pipelining 1000 requests and never reading")
def _():
    hog = Conn()
    data = "".join(json.dumps(req(i)) + "\n" for i in range(1000)).encode()
    sent = 0
    try:                      # the daemon may stop reading: that is fine
        while sent < len(data):
            sent += hog.sock.send(data[sent:])
    except (socket.timeout, BrokenPipeError, ConnectionResetError):
        pass
    print("# hog wrote %d of %d bytes and reads nothing" % (sent, len(data)))
    time.sleep(0.5)
    try:
        prob = status_problem(call(req(61)), 61)
        if prob:
            prob = "while hog connected: " + prob
    except Exception as e:
        prob = "while hog connected (sent %d bytes): %s: %s" % (sent, type(e).__name__, e)
    hog.close()
    return prob


def main():
    global SOCK_PATH, DAEMON_PID
    if len(sys.argv) != 2:
        print("usage: %s SOCKET" % sys.argv[0], file=sys.stderr)
        return 1
    SOCK_PATH = sys.argv[1]
    try:
        rep = call(req(0))
        prob = status_problem(rep, 0)
    except Exception as e:
        prob = "%s: %s" % (type(e).__name__, e)
    if not report(prob is None, "initial status", prob):
        print("Bail out! daemon does not answer status")
        return 1
    DAEMON_PID = rep["result"]["pid"]
    for run in CASES:
        run()
    print("# %d check(s) failed" % FAILED if FAILED else "# all checks passed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
