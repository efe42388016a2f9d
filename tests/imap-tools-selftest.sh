#!/bin/bash
# Self-test of the IMAP test tools, with Python's imaplib (or a bare socket
# where imaplib itself would hang) as the client: tests/tools/imap_hostile.py
# serves correct messages in mode "normal" and misbehaves as documented in
# every other mode, within bounded time; tests/tools/blackhole_proxy.py
# forwards, goes silent on SIGUSR1 without closing anything, and forwards new
# connections again after SIGUSR2.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip_all "python3 is not installed"

# start_tool VAR SCRIPT ARGS...: run a tool, set VAR_PORT and VAR_PID.
start_tool() {
	local var=$1 script=$2 i; shift 2
	rm -f "$T/$var.port"
	python3 "$TOOLS/$script" --port-file "$T/$var.port" --log "$T/$var.log" "$@" \
		>>"$T/$var.out" 2>&1 &
	eval "${var}_PID=$!"
	t_at_exit "kill $! 2>/dev/null"
	for i in $(seq 100); do [ -s "$T/$var.port" ] && break; sleep 0.05; done
	eval "${var}_PORT=$(cat "$T/$var.port")"
}
stop_tool() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

cat >"$T/check.py" <<'PYEOF'
import imaplib, os, signal, socket, sys, time

HOST = "127.0.0.1"
PORT = int(sys.argv[2])
DUMP = os.environ["DUMP"]


def note(msg):
    print("# " + msg, flush=True)


def fail(msg):
    note("FAILED: " + msg)
    sys.exit(1)


def client(timeout=3, port=None):
    m = imaplib.IMAP4(HOST, port or PORT, timeout=timeout)
    m.login("user", "imap-Secret9")
    return m


def selected(timeout=3, port=None):
    m = client(timeout, port)
    typ, data = m.select("INBOX")
    if typ != "OK":
        fail("SELECT: %s %r" % (typ, data))
    return m


def dumped(uid):
    with open(os.path.join(DUMP, "uid-%d.eml" % uid), "rb") as f:
        return f.read()


def raises(what, fn, *exc):
    """Run fn; return the exception of a type in exc, raised within 5 s."""
    t0 = time.monotonic()
    try:
        r = fn()
    except exc as e:
        dt = time.monotonic() - t0
        if dt > 5:
            fail("%s: %s after %.1f s" % (what, type(e).__name__, dt))
        note("%s: %s after %.2f s: %s"
             % (what, type(e).__name__, dt, str(e)[:80]))
        return e
    fail("%s: no error, got %r" % (what, r))


def raw_session(cmd):
    """Log in and select over a bare socket, send cmd; return the socket."""
    s = socket.create_connection((HOST, PORT), timeout=3)
    s.sendall(b"a LOGIN user pw\r\nb SELECT INBOX\r\n" + cmd)
    return s


def read_for(s, seconds):
    """Return what arrives in the next seconds (or until EOF)."""
    data, end = b"", time.monotonic() + seconds
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data


def normal():
    m = selected()
    uv = int(m.response("UIDVALIDITY")[1][0])
    un = int(m.response("UIDNEXT")[1][0])
    if (uv, un) != (1700000000, 4):
        fail("UIDVALIDITY %d UIDNEXT %d" % (uv, un))
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[])")
    bodies = [d[1] for d in data if isinstance(d, tuple)]
    if typ != "OK" or bodies != [dumped(k) for k in (1, 2, 3)]:
        fail("UID FETCH: %s %r" % (typ, data))
    m.uid("STORE", "2", "+FLAGS", r"(\Seen)")
    flags = m.uid("FETCH", "1:2", "(FLAGS)")[1]
    if flags != [b"1 (UID 1 FLAGS ())", b"2 (UID 2 FLAGS (\\Seen))"]:
        fail("FLAGS after UID STORE: %r" % flags)
    m.send(b"I1 IDLE\r\n")
    if not m.readline().startswith(b"+ "):
        fail("IDLE refused")
    m.send(b"DONE\r\n")
    if not m.readline().startswith(b"I1 OK"):
        fail("DONE not answered")
    m.noop()
    if m.logout()[0] != "BYE":
        fail("LOGOUT")
    a = imaplib.IMAP4(HOST, PORT, timeout=3)
    a.authenticate("PLAIN", lambda _: b"\0user\0imap-Secret9")
    a.logout()
    note("3 messages as dumped, UIDVALIDITY %d UIDNEXT %d, STORE, IDLE/DONE, "
         "NOOP, LOGOUT, AUTHENTICATE PLAIN" % (uv, un))


def lying_literal():
    m = selected()
    raises("{1000} then 10 bytes", lambda: m.uid("FETCH", "1",
           "(BODY.PEEK[])"), imaplib.IMAP4.abort)


def lying_literal_more():
    m = selected()
    raises("{10} then 2000 bytes", lambda: m.uid("FETCH", "1:*",
           "(BODY.PEEK[])"), imaplib.IMAP4.error)


def huge_literal():
    s = raw_session(b"c UID FETCH 1 (BODY.PEEK[])\r\n")
    head = b""
    while b"{2147483648}\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk or len(head) > 10000:
            fail("no {2147483648}: %r" % head)
        head += chunk
    got = len(head.split(b"{2147483648}\r\n", 1)[1]) + len(read_for(s, 1))
    if not 3 <= got <= 30:
        fail("%d bytes of the literal in 1 s" % got)
    note("{2147483648} announced, then %d bytes in 1 s" % got)


def endless_line():
    m = client()
    e = raises("reply after login", lambda: m.select("INBOX"),
               imaplib.IMAP4.error)
    if "more than" not in str(e):
        fail("not imaplib's line limit: %s" % e)


def untagged_flood():
    s = raw_session(b"")
    data = read_for(s, 1)
    lines = data.split(b"\r\n")
    tagged = [l for l in lines if l.startswith(b"b ")]
    exists = sum(l.endswith(b" EXISTS") for l in lines)
    if tagged or exists < 10000:
        fail("%d EXISTS lines, tagged %r" % (exists, tagged))
    note("%d untagged EXISTS lines in 1 s, no tagged reply to SELECT" % exists)


def deep_nesting():
    m = selected()
    typ, data = m.uid("FETCH", "1", "(UID BODY.PEEK[])")
    line, body = data[0]
    depth = line.count(b"(") - 1
    if typ != "OK" or depth < 10000 or body != dumped(1):
        fail("%s, %d levels, body ok: %s" % (typ, depth, body == dumped(1)))
    note("%d nested lists before a correct BODY[]" % depth)


def no_done():
    m = selected()
    m.send(b"I1 IDLE\r\n")
    if not m.readline().startswith(b"+ "):
        fail("IDLE refused")
    m.send(b"DONE\r\n")
    m.sock.settimeout(1)
    raises("DONE", m.readline, socket.timeout)


def bye_midway():
    m = selected()
    e = raises("UID FETCH 1:*", lambda: m.uid("FETCH", "1:*",
               "(BODY.PEEK[])"), imaplib.IMAP4.abort)
    if "BYE" not in str(e) and "middle" not in str(e):
        fail("not the BYE: %s" % e)


def bad_mutf7():
    m = client()
    names = [l.rsplit(b' "/" ', 1)[1] for l in m.list()[1]]
    for want in (b'"&Jjo"', b'"&2D3eAA-"', b'"\xff\xfe"', b'"caf\xc3\xa9"'):
        if want not in names:
            fail("LIST lacks %r: %r" % (want, names))
    note("LIST names: %r" % names)


def slow_greeting():
    raises("greeting", lambda: imaplib.IMAP4(HOST, PORT, timeout=1),
           socket.timeout)


def proxy():
    """Through the proxy (PORT; its PID and the server's port follow)."""
    pid = int(sys.argv[3])
    old = selected(port=PORT)
    if old.uid("FETCH", "1", "(BODY.PEEK[])")[1][0][1] != dumped(1):
        fail("a message through the proxy differs")
    note("forwarded: login, select, a message")
    os.kill(pid, signal.SIGUSR1)
    time.sleep(0.3)
    old.sock.settimeout(1)
    old.send(b"n1 NOOP\r\n")
    # The bare socket: a file object that timed out cannot be read again.
    raises("NOOP on a black-holed connection", lambda: old.sock.recv(1),
           socket.timeout)
    raises("a new connection while black-holed",
           lambda: imaplib.IMAP4(HOST, PORT, timeout=1), socket.timeout)
    os.kill(pid, signal.SIGUSR2)
    time.sleep(0.3)
    new = selected(port=PORT)
    new.logout()
    note("after SIGUSR2: a new connection works")
    raises("the old connection after SIGUSR2", lambda: old.sock.recv(1),
           socket.timeout)
    old.sock.close()


globals()[sys.argv[1].replace("-", "_")]()
PYEOF

mkdir -p "$T/dump"
python3 "$TOOLS/imap_hostile.py" --dump "$T/dump" normal
export DUMP=$T/dump

# run_mode MODE: start the server in MODE, run the client's check of it.
run_mode() {
	start_tool H imap_hostile.py "$1"
	check "$1: $2" python3 "$T/check.py" "$1" "$H_PORT"
	stop_tool "$H_PID"
}

run_mode normal "serves the dumped messages; STORE, IDLE, NOOP, LOGOUT work"
check "normal: the password is not in the log" eval '! grep -q imap-Secret9 "$T/H.log"'
check "normal: AUTHENTICATE's response is not in the log" \
	eval '! grep -q "$(printf "\0user\0imap-Secret9" | base64)" "$T/H.log"'
run_mode lying-literal "imaplib aborts when the literal is cut short"
run_mode lying-literal-more "imaplib fails on the bytes past the literal"
run_mode huge-literal "{2147483648}, then a trickle"
run_mode endless-line "imaplib stops at its line limit"
run_mode untagged-flood "untagged lines forever, no tagged reply"
run_mode deep-nesting "10,000 nested lists, then a correct body"
run_mode no-done "DONE is never answered"
run_mode bye-midway "BYE in the middle of UID FETCH 1:*"
run_mode bad-mutf7 "LIST returns invalid modified UTF-7 and 8-bit names"
run_mode slow-greeting "no greeting: imaplib times out"

start_tool H imap_hostile.py normal
start_tool P blackhole_proxy.py --target "$H_PORT"
check "proxy: forwards, black-holes on SIGUSR1, forwards new connections after SIGUSR2" \
	python3 "$T/check.py" proxy "$P_PORT" "$P_PID"
check "proxy: the log tells" grep -q "SIGUSR1: 1 connections black-holed" "$T/P.log"
check "proxy: the NOOP sent into the hole never reached the server" \
	eval '! grep -q "C: n1 NOOP" "$T/H.log"'
check "proxy: still running" kill -0 "$P_PID"
stop_tool "$P_PID"
stop_tool "$H_PID"
