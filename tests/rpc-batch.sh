#!/bin/bash
# Bounded batches on a populated store (2,000 messages): a batch of 10,000
# status calls is answered in full, every id once; a batch of 10,000 list
# calls (each the whole Inbox) spends the output budget: the calls that did
# not fit answer with an error that names the budget, the rest are not run
# and say so; the daemon's peak RSS stays under 256 MiB and its RSS after
# the batch within 64 MiB of what it was before, and it still answers.
. "$(dirname "$0")/lib.sh"

ACCT='{"name":"a","email":"a@example.test","smtp":{"host":"127.0.0.1","port":1}}'
write_config "$T/config.json" "$ACCT"
python3 "$top_srcdir/bench/gen-store.py" --out "$T/data" --messages 2000 \
	--account a >/dev/null 2>&1 || bail "cannot generate the store"
start_daemon "$T/config.json"
expect_rc 0 "reindex the generated store" mailctl reindex a
check "2,000 messages indexed" test "$(mailctl ls --json | python3 -c \
	'import json,sys; print(len(json.load(sys.stdin)))')" -eq 2000

# Under a sanitizer, freed memory sits in quarantine: RSS_SCALE (lib.sh).
python3 - "$SOCK" "$DAEMON_PID" "$RSS_SCALE" >"$T/batch.out" 2>&1 <<'PY' && rc=0 || rc=$?
import json, socket, sys

path, pid, scale = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
n = 0
def ok(cond, what):
    global n
    n += 1
    print(("ok" if cond else "not ok"), n, "-", what)
    return cond

def mem(key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0

def call(batch):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)
    s.connect(path)
    s.sendall((json.dumps(batch) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)

base = mem("VmRSS")
r = call([{"jsonrpc": "2.0", "method": "status", "id": i} for i in range(10000)])
ok(isinstance(r, list) and len(r) == 10000, "10,000 status calls: 10,000 answers")
ok(sorted(a["id"] for a in r) == list(range(10000)), "every id answered once")
ok(all("result" in a for a in r), "every status call has its result")

r = call([{"jsonrpc": "2.0", "method": "list", "params": {"folder": "Inbox"},
           "id": i} for i in range(10000)])
res = [a for a in r if "result" in a]
over = [a for a in r if "error" in a and "not sent" in a["error"]["message"]]
notrun = [a for a in r if "error" in a and "not run" in a["error"]["message"]]
ok(len(r) == 10000, "10,000 list calls: 10,000 answers (%d)" % len(r))
ok(sorted(a["id"] for a in r) == list(range(10000)), "every id answered once")
ok(len(res) > 10 and len(res[0]["result"]) == 1000,
   "the first lists are answered in full (%d of them)" % len(res))
ok(len(over) >= 1 and "64 MiB" in over[0]["error"]["message"],
   "an answer past the budget is an error naming it: %s" %
   (over[0]["error"]["message"] if over else "none"))
ok(len(notrun) > 9000 and "64 MiB" in notrun[0]["error"]["message"],
   "the calls after it were not run, and say so (%d)" % len(notrun))
ok(len(res) + len(over) + len(notrun) == 10000, "nothing else")
peak, after = mem("VmHWM"), mem("VmRSS")
print("# RSS before %.0f MiB, peak %.0f MiB, after %.0f MiB" % (base, peak, after))
ok(peak < 256 * scale, "peak RSS under %d MiB (%.0f MiB)" % (256 * scale, peak))
# What the batch took is given back: measured from the RSS before it, as a
# sanitizer build starts high (reindex's freed memory sits in quarantine).
ok(after < base + 64 * scale, "RSS after the batch under %d MiB (%.0f MiB)" %
   (base + 64 * scale, after))
r = call({"jsonrpc": "2.0", "method": "status", "id": "after"})
ok(r.get("id") == "after" and "result" in r, "the daemon still answers")
print("1..%d" % n)
PY
sed 's/^/#   /' "$T/batch.out"
check "batch checks: all passed" test $rc -eq 0
check "no 'not ok' among them" eval '! grep -q "^not ok" "$T/batch.out"'
expect_rc 0 "daemon still answers status" mailctl status
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0
