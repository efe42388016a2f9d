#!/bin/bash
# IMAP push against the real Dovecot and Postfix: with idle true each
# folder's session waits in IDLE, and a mail sent through Postfix reaches
# `watch --json` as new_mail (via "idle") with no fetch and no poll, within
# a bound (printed). The push survives: Dovecot restarted (the connection
# reset: reconnected 2 s later), and a proxy that silently black-holes the
# connection (noticed at the next IDLE renewal, idle_renew 3 s, whose DONE
# gets no answer within the timeout, 2 s), and a PrepareForSleep(true) and
# (false) pair from a fake logind on a private system bus (the connections
# closed, then opened anew). status shows each folder's IDLE state. No
# connection is leaked.
. "$(dirname "$0")/lib.sh"
use_mail_servers
ms_add_user alice 'alice-Pw1'
ms_start >/dev/null || bail "cannot start the mail servers"

tool_start blackhole_proxy.py --log "$T/proxy.log" --target "$MS_IMAP_PORT"
PROXY_PID=$TOOL_PID PPORT=$TOOL_PORT
t_at_exit "kill $PROXY_PID 2>/dev/null"

ACCTS="$(imap_account push alice alice-Pw1 implicit "$MS_IMAPS_PORT" ',"idle":true,"idle_renew":3,"timeout":2'),
$(imap_account hole alice alice-Pw1 none "$PPORT" ',"idle":true,"idle_renew":3,"timeout":2')"
write_config "$T/config.json" "$ACCTS"
# A private system bus with a fake logind, for the sleep at the end.
mkdir -p "$T/sys"
dbus_start "$T/sys/bus" || bail "the private system bus did not start"
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/sys/bus
start_daemon "$T/config.json"
mailctl watch --json >"$T/watch.json" 2>"$T/watch.err" &
WATCH_PID=$!
t_at_exit "kill $WATCH_PID 2>/dev/null"

expect_rc 0 "the first fetch starts the watches" mailctl fetch --json

# wait_idle ACCOUNT: until status says its INBOX is in IDLE (10 s at most).
wait_idle() {
	local i
	for i in $(seq 100); do
		OUT=$(mailctl status --json)
		[ "$(json '[a for a in j["accounts"] if a["name"] == "'"$1"'"][0]["poll"]["watch"][0]["state"]')" = idle ] && return 0
		sleep 0.1
	done
	return 1
}
check "push: INBOX is in IDLE" wait_idle push
check "hole: INBOX is in IDLE" wait_idle hole
OUT=$(mailctl status)
contains "$OUT" "imap  127.0.0.1:$MS_IMAPS_PORT tls=implicit user=alice" "status names the imap server"
contains "$OUT" "INBOX: idle since" "status shows the folder in IDLE"

# push_one ACCOUNT LABEL: send a mail to alice through Postfix, wait for its
# new_mail event for ACCOUNT (via idle); print the latency in ms.
push_one() {
	python3 - "$T/watch.json" "$1" "$MS_HOST" "$MS_SMTP_PLAIN_PORT" <<'PY'
import json, smtplib, sys, time, uuid
watch, account, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
token = uuid.uuid4().hex[:12]
s = smtplib.SMTP(host, port, timeout=10)
s.ehlo("client.test")
s.login("alice", "alice-Pw1")
s.sendmail("alice@mail.test", ["alice@mail.test"],
           "From: alice@mail.test\r\nTo: alice@mail.test\r\nSubject: push %s\r\n\r\nhi\r\n" % token)
s.quit()
t0 = time.monotonic()
while time.monotonic() - t0 < 30:
    with open(watch) as f:
        for line in f:
            e = json.loads(line)
            if e.get("type") == "new_mail" and e.get("account") == account \
               and token in e.get("subject", ""):
                print("%d %s" % ((time.monotonic() - t0) * 1000, e.get("via")))
                sys.exit(0)
    time.sleep(0.02)
print("timeout")
sys.exit(1)
PY
}

# pushed ACCOUNT TEXT: push_one ACCOUNT, and check that the mail came by
# IDLE within 5 s.
pushed() {
	local r
	r=$(push_one "$1") || r="timeout"
	check "$2 (${r%% *} ms after Postfix accepted it, via ${r#* })" \
		test "${r#* }" = idle -a "${r%% *}" -lt 5000
}

pushed push "a mail through Postfix is pushed to watch (Dovecot waits ~500 ms)"
OUT=$(mailctl status --json)
jcheck "status: INBOX idling, with its UIDVALIDITY and syncs" \
	'[a for a in j["accounts"] if a["name"] == "push"][0]["poll"]["watch"][0]["uidvalidity"] > 0'

# Dovecot restarted: the connection is reset; the watch comes back.
ms_stop_dovecot >/dev/null
ms_start_dovecot >/dev/null
sleep 1
check "push: INBOX back in IDLE after Dovecot restarted" wait_idle push
pushed push "push still works after the restart"
OUT=$(mailctl status --json)
jcheck "status counts the reconnect" \
	'[a for a in j["accounts"] if a["name"] == "push"][0]["poll"]["watch"][0]["reconnects"] >= 1'

# The proxy black-holes the connection; new connections go through again.
kill -USR1 "$PROXY_PID"
sleep 0.2
kill -USR2 "$PROXY_PID"
T0=$(date +%s.%N)
R=$(push_one hole) || R="timeout"
T1=$(date +%s.%N)
check "through a black hole: noticed, reconnected, pushed (${R%% *} ms after Postfix, via ${R#* }; renewal 3 s + timeout 2 s + retry 2 s)" \
	test "${R#* }" = idle -o "${R#* }" = poll
check "within 15 s" awk -v a="$T0" -v b="$T1" 'BEGIN { exit !(b - a < 15) }'
check "the daemon logged the dead connection" \
	grep -q "account=hole session=[0-9]* failed in IDLE_DONE: timed out" "$T/daemon.log"

# A sleep closes the IDLE connections; the wake-up opens them anew and
# syncs at once; push works again.
"$top_builddir/tests/tools/logind-fake" true
for i in $(seq 50); do grep -q "account=push closing its IDLE connections for the sleep" "$T/daemon.log" && break; sleep 0.1; done
OUT=$(mailctl status --json)
jcheck "asleep: the watches are closed" \
	'[a for a in j["accounts"] if a["name"] == "push"][0]["poll"]["watch"][0]["state"] == "down"'
"$top_builddir/tests/tools/logind-fake" false
check "awake: INBOX back in IDLE" wait_idle push
pushed push "push works after the wake-up"

# No connection leaked: one per watch, to the servers' ports.
conns=$(ls -l "/proc/$DAEMON_PID/fd" 2>/dev/null | grep -c socket)
check "no socket leaked ($conns sockets: listener, clients, 2 watches)" test "$conns" -le 8
stop_clean
