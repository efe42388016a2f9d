#!/bin/bash
# Events: mailctl watch (human and --json) sees new_mail for every stored
# message with its id, account, folder, sender and subject; poll_failed with
# the error; reloaded. A subscriber that never reads is dropped and never
# stops the daemon from serving the others.
. "$(dirname "$0")/lib.sh"
use_mail_servers

ms_add_user alice 'alice-Pw1'
python3 "$TOOLS/gen_messages.py" 3 "$T/src" --big 0
ms_inject_dir alice "$T/src" >/dev/null
# One more whose sender and subject are RFC 2047 encoded words.
mkdir -p "$T/enc"
printf 'From: =?UTF-8?B?Tmd1eeG7hW4gVsSDbiBBbg==?= <an@example.org>\nSubject: =?ISO-8859-1?Q?Caf=E9_=E0_midi?=\n\nbody\n' >"$T/enc/m"
ms_inject_dir alice "$T/enc" >/dev/null
ms_start_dovecot >/dev/null
write_config "$T/config.json" "$(pop3_account personal alice alice-Pw1 none "$MS_POP3_PORT"),
$(pop3_account broken alice wrong-password none "$MS_POP3_PORT")"
start_daemon "$T/config.json"

mailctl watch --json >"$T/watch.json" 2>"$T/watch.err" &
WATCH=$!
mailctl watch >"$T/watch.txt" 2>&1 &
WATCH2=$!
t_at_exit "kill $WATCH $WATCH2 2>/dev/null"
for i in $(seq 50); do [ "$(mailctl status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["clients"])')" -ge 3 ] && break; sleep 0.1; done

expect_rc 0 "fetch 4 messages" mailctl fetch personal
expect_rc 1 "a failing poll" mailctl fetch broken
expect_rc 0 "reload" mailctl reload
for i in $(seq 50); do grep -q '"reloaded"' "$T/watch.json" && break; sleep 0.1; done

OUT=$(grep '"new_mail"' "$T/watch.json")
check "watch --json saw 4 new_mail events" test "$(grep -c . <<<"$OUT")" -eq 4
check "encoded sender and subject are decoded to UTF-8" python3 -c '
import json,sys
ev=[json.loads(l) for l in open(sys.argv[1]) if "new_mail" in l]
e=[e for e in ev if "an@example.org" in e["from"]][0]
assert e["from"]=="Nguyễn Văn An <an@example.org>", e["from"]
assert e["subject"]=="Café à midi", e["subject"]' "$T/watch.json"
check "one JSON document per line" python3 -c '
import json,sys
for l in open(sys.argv[1]): json.loads(l)' "$T/watch.json"
check "new_mail fields: account, folder, ids, sender, subject" python3 -c '
import json,sys
ev=[json.loads(l) for l in open(sys.argv[1]) if "new_mail" in l and "an@example.org" not in l]
assert all(e["account"]=="personal" and e["folder"]=="Inbox" for e in ev), ev
ids=sorted(e["id"] for e in ev); assert len(set(ids))==3 and all(type(i)==int for i in ids), ids
subj=sorted(e["subject"] for e in ev); assert subj==["test message %d" % i for i in (1,2,3)], subj
frm=sorted(e["from"] for e in ev); assert frm==["Sender %d <sender%d@example.org>" % (i,i) for i in (1,2,3)], frm
assert all(e["time"].endswith("Z") for e in ev)' "$T/watch.json"
check "poll_failed with the server's reason" grep -q '"type":"poll_failed".*Authentication failed\|Authentication failed.*"type":"poll_failed"' "$T/watch.json"
check "reloaded event" grep -q '"type":"reloaded"' "$T/watch.json"
check "events in order: new_mail, poll_failed, reloaded" python3 -c '
import json,sys
t=[json.loads(l)["type"] for l in open(sys.argv[1])]
assert t==["new_mail"]*4+["poll_failed","reloaded"], t' "$T/watch.json"
check "human watch: a new mail line" grep -q "new mail  personal/Inbox #[0-9]*  Sender 1 <sender1@example.org>: test message 1" "$T/watch.txt"
check "human watch: the failed poll" grep -q "poll failed  broken: login failed" "$T/watch.txt"
check "human watch: the reload" grep -q "configuration reloaded (2 accounts)" "$T/watch.txt"

# A subscriber that never reads, while 3,000 messages arrive.
python3 - "$SOCK" >"$T/stuck.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'{"jsonrpc":"2.0","method":"subscribe","id":1}\n')
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
time.sleep(60)
PY
STUCK=$!
t_at_exit "kill $STUCK 2>/dev/null"
sleep 0.3
python3 "$TOOLS/gen_messages.py" 3000 "$T/many" --prefix many --big 0
ms_inject_dir alice "$T/many" >/dev/null
expect_rc 0 "fetch 3,000 more while a subscriber reads nothing" mailctl fetch personal --json
check "3000 new" test "$(json 'j["accounts"][0]["new"]')" -eq 3000
for i in $(seq 150); do [ "$(grep -c '"new_mail"' "$T/watch.json")" -ge 3004 ] && break; sleep 0.1; done
check "the reading watcher got all 3,004 new_mail events" test "$(grep -c '"new_mail"' "$T/watch.json")" -eq 3004
# The stuck one has read nothing for 5 s (RPC_SUBSCRIBER_STUCK) once this
# sleep is over: the next event drops it; the readers stay.
sleep 5.5
expect_rc 0 "one more event (reload)" mailctl reload
check "the stuck subscriber was dropped, with a reason in the log" grep -q "does not read its events; dropping it" "$T/daemon.log"
check "only the stuck one" test "$(grep -c "does not read its events" "$T/daemon.log")" -eq 1
expect_rc 0 "status still answers" mailctl status
check "the watchers are still running" kill -0 "$WATCH" "$WATCH2"
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0
for i in $(seq 20); do kill -0 "$WATCH" 2>/dev/null || break; sleep 0.1; done
check "watch ends when the daemon stops" eval '! kill -0 "$WATCH" 2>/dev/null'
check "and says why" grep -q "closed the connection" "$T/watch.err"
