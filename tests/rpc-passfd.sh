#!/bin/bash
# attachments --save under a sandbox that makes the target read-only for
# the daemon (what ProtectHome=read-only or PrivateTmp do to a unit): the
# daemon runs in a mount namespace of its own where the save directory is
# mounted read-only, the client outside, where it is writable. The client
# sends the directory open with its request (SCM_RIGHTS) and the daemon
# writes through it. Then the edges of descriptor passing: a path alone is
# refused by the read-only mount (so the descriptor is what worked), a
# descriptor that is not a directory is refused, descriptors sent with a
# request that takes none, with a batch, or too many at once are closed
# (the daemon's descriptor count comes back to where it was).
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "a private mount namespace needs root"
command -v unshare >/dev/null || skip_all "unshare (util-linux) is not installed"
unshare --mount --propagation private true 2>/dev/null ||
	skip_all "cannot create a mount namespace here"

SAVE=$T/home/downloads
mkdir -p "$SAVE" "$T/data/alice/Inbox/new"
python3 - "$T/data/alice/Inbox/new" <<'EOF'
import base64, os, sys
d = sys.argv[1]
parts = ""
for i, name in enumerate(["report.pdf", "photo.jpg"]):
    data = ("attachment %d\n" % i).encode() + bytes(range(256))
    parts += ('--B\nContent-Type: application/octet-stream\n'
              'Content-Disposition: attachment; filename="%s"\n'
              'Content-Transfer-Encoding: base64\n\n%s\n'
              % (name, base64.encodebytes(data).decode()))
msg = ("From: Bob <bob@example.test>\nTo: alice@mail.test\nSubject: files\n"
       "Date: Tue, 2 Jan 2024 10:00:00 +0000\nMIME-Version: 1.0\n"
       "Content-Type: multipart/mixed; boundary=B\n\n--B\n"
       "Content-Type: text/plain\n\nsee attached\n" + parts + "--B--\n")
with open(os.path.join(d, "1700000001.M1P1.other"), "wb") as f:
    f.write(msg.encode())
EOF

CFG=$T/config.json
write_config "$CFG" '{"name":"alice","email":"alice@mail.test","pop3":{"host":"127.0.0.1","port":1,"tls":"none","user":"a","password":"x"}}'
chmod 600 "$CFG"
# The daemon's view: SAVE read-only. exec keeps the daemon's pid.
unshare --mount --propagation private -- sh -c '
	mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 71
	shift; exec "$@"' sh "$SAVE" \
	"$MAILCTLD" --config "$CFG" --verbose >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
wait_ready || bail "mailctld did not become ready in its namespace"

check "the daemon sees the save directory read-only" \
	grep -q " $SAVE .*\bro\b" "/proc/$DAEMON_PID/mountinfo"
check "the client sees it writable" test -w "$SAVE"

OUT=$(mailctl reindex --json)
OUT=$(mailctl ls --json)
ID=$(json 'j[0]["id"]')

expect_rc 0 "attachments --save into the daemon's read-only directory" \
	mailctl attachments "$ID" --save "$SAVE" --json
jcheck "both saved, named by the client's path ($OUT)" \
	'[a["saved"] for a in j] == ["'"$SAVE"'/report.pdf", "'"$SAVE"'/photo.jpg"]'
python3 - "$SAVE" <<'EOF' && ok "the saved bytes are the attachments'" || not_ok "the saved bytes are the attachments'"
import sys
for i, name in enumerate(["report.pdf", "photo.jpg"]):
    want = ("attachment %d\n" % i).encode() + bytes(range(256))
    with open(sys.argv[1] + "/" + name, "rb") as f:
        assert f.read() == want, name
EOF

# The same over the socket by hand: path alone, a file, extra descriptors.
FDS_BEFORE=$(fd_count "$DAEMON_PID")
python3 - "$SOCK" "$SAVE" "$ID" "$T/plain" "$DAEMON_PID" >"$T/passfd.out" 2>&1 <<'EOF'
import json, os, socket, sys, time
sock_path, save, mid, plain, pid = sys.argv[1:]
mid = int(mid)
open(plain, "w").close()

def call(req, fds=()):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    data = (json.dumps(req) + "\n").encode()
    if fds:
        socket.send_fds(s, [data], list(fds))
    else:
        s.sendall(data)
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)

def opened(path, flags=os.O_RDONLY):
    return os.open(path, flags)

fails = 0
def check(cond, what):
    global fails
    print(("ok" if cond else "FAIL") + ": " + what)
    fails += 0 if cond else 1

r = call({"jsonrpc": "2.0", "id": 1, "method": "attachments",
          "params": {"id": mid, "index": 1, "save": save}})
msg = r.get("error", {}).get("message", "")
check("Read-only" in msg, "a path alone cannot be written by the daemon: " + msg)

fd = opened(plain)
r = call({"jsonrpc": "2.0", "id": 2, "method": "attachments",
          "params": {"id": mid, "index": 1, "save": save}}, [fd])
msg = r.get("error", {}).get("message", "")
check("not a directory" in msg, "a file sent as the directory is refused: " + msg)
os.close(fd)

# A request that takes no descriptor, a batch, and five at once.
fds = [opened(save) for _ in range(5)]
r = call({"jsonrpc": "2.0", "id": 3, "method": "status"}, fds[:1])
check("result" in r, "status with a descriptor still answers")
r = call([{"jsonrpc": "2.0", "id": 4, "method": "attachments",
           "params": {"id": mid, "index": 2, "save": save + "/none"}}], fds[1:2])
check(isinstance(r, list) and "error" in r[0],
      "a batch member does not get the descriptor (%s)" % r)
r = call({"jsonrpc": "2.0", "id": 5, "method": "attachments",
          "params": {"id": mid, "index": 2, "save": save}}, fds)
check("result" in r and r["result"][0]["saved"] == save + "/photo-1.jpg",
      "five descriptors at once: the first is used (%s)" % r)
for fd in fds:
    os.close(fd)
sys.exit(1 if fails else 0)
EOF
rc=$?
sed 's/^/# /' "$T/passfd.out"
check "descriptor passing edges (see above)" test $rc -eq 0
sleep 0.2
check "no descriptor left open in the daemon ($FDS_BEFORE before, $(fd_count "$DAEMON_PID") after)" \
	test "$(fd_count "$DAEMON_PID")" -le "$FDS_BEFORE"
check "the daemon is still serving" mailctl status
stop_daemon
check "clean stop" test "$DAEMON_RC" = 0
