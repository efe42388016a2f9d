#!/bin/bash
# The outbox survives SIGKILL: 100 mails queued while Postfix is down, then
# the daemon killed in the middle of sending them and started again. Every
# mail reaches the recipient (none lost), at most one is delivered twice
# (the one whose final dot was sent and whose reply was not yet recorded:
# the floor SMTP allows), and the sender's Sent folder holds each once.
# Then the states a crash can leave between the outbox and Sent, planted by
# hand: a sent file already in Sent/cur while its row remains, a row whose
# file is gone, a file no row names.
. "$(dirname "$0")/lib.sh"
use_mail_servers
command -v postfix >/dev/null || skip_all "postfix is not installed (tests/servers/install-deps)"

ms_add_user alice 'alice-Pw1'
ms_add_user bob 'bob-Pw2'
ms_start >/dev/null || bail "cannot start dovecot and postfix"

write_config "$T/config.json" "$(printf '{"name":"alice","email":"alice@mail.test","smtp":{"host":"127.0.0.1","port":%s,"tls":"starttls","ca_file":"%s","user":"alice","password":"alice-Pw1","timeout":20}}' "$MS_SMTP_PORT" "$MS_CA_FILE")"
python3 - "$T/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["queue"] = {"retry_min": 1, "retry_max": 2, "expire": 3600}
json.dump(c, open(sys.argv[1], "w"))
EOF
start_daemon "$T/config.json"
mc() { "$MAILCTL" --socket "$SOCK" "$@"; }

ms_stop_postfix >/dev/null
N=100
fails=0
for i in $(seq 1 $N); do
	mc send --to bob@mail.test --subject "crash test $i" \
		--body "mail number $i of $N" >/dev/null 2>"$T/err" || fails=$((fails + 1))
done
check "$N mails queued (send returned after each was durable)" test "$fails" = 0
mc queue --json >"$T/out"
OUT=$(cat "$T/out")
jcheck "the queue holds $N mails" "len(j) == $N and all(m['state'] in ('queued', 'deferred', 'sending') for m in j)"

# A restart loads the outbox again: queue.list, even the first call the
# daemon answers, waits for that load rather than answer an empty list.
stop_daemon
start_asking "$T/config.json" queue --json
jcheck "the first queue list after a restart has the $N mails" "len(j) == $N"

ms_start_postfix >/dev/null || bail "cannot restart postfix"
mc queue flush >/dev/null
# Kill it while it sends: once about a third has gone out.
for _ in $(seq 300); do
	[ "$(ms_deliver_count bob)" -ge $((N / 3)) ] && break
	sleep 0.02
done
kill_daemon
before=$(ms_deliver_count bob)
check "the kill came in the middle ($before of $N delivered)" test "$before" -lt "$N"

start_daemon "$T/config.json"
mc queue flush >/dev/null
for _ in $(seq 600); do
	[ "$(mc queue --json 2>/dev/null)" = "[]" ] && break
	sleep 0.1
done
check "the queue empties after the restart" eval '[ "$(mc queue --json)" = "[]" ]'
check "bob has every mail" ms_wait_delivered bob "$N" 60
sleep 1	# let Postfix finish what it accepted

read -r missing dups list <<<"$(count_subjects "$(ms_maildir bob)" "crash test" "$N")"
check "none lost (missing: ${list:-none})" test "$missing" = 0
check "at most one delivered twice for the one kill ($dups)" test "$dups" -le 1
read -r missing dups list <<<"$(count_subjects "$T/data/alice/Sent" "crash test" "$N")"
check "Sent holds each mail once (missing ${list:-none}, $dups duplicates)" \
	eval '[ "$missing" = 0 ] && [ "$dups" = 0 ]'
expect_rc 0 "the index knows the Sent copies" mc ls Sent --account alice --limit 1000 --json
jcheck "index: $N in Sent" "len(j) == $N"
check "no file left in the queue directory" eval '[ -z "$(ls -A "$T/data/queue")" ]'
stop_daemon
check "clean exit" eval '[ "$DAEMON_RC" = 0 ]'

# --- what a crash can leave behind, repaired at start --------------------------
ms_stop_postfix >/dev/null
start_daemon "$T/config.json"
for x in A B C; do
	expect_rc 0 "queue repair mail $x" mc send --to bob@mail.test --subject "repair $x" --body "$x"
done
stop_daemon
qfile() { grep -l "^Subject: repair $1\$" "$T"/data/queue/* | head -1; }
fa=$(qfile A) fb=$(qfile B)
check "the three mails are queue files" eval '[ -n "$fa" ] && [ -n "$fb" ] && [ -n "$(qfile C)" ]'
# A: the rename into Sent happened, the commit did not.
mv "$fa" "$T/data/alice/Sent/cur/$(basename "$fa"):2,S"
# B: its file is gone. An orphan: a file no row names.
rm -f "$fb"
printf 'Subject: half written\n\n' >"$T/data/queue/orphan-1"
before=$(ms_deliver_count bob)
start_daemon "$T/config.json"
expect_rc 0 "queue after the repair" mc queue --json
jcheck "A was filed, not left in the queue" '"repair A" not in [x["subject"] for x in j]'
jcheck "B is shown failed, its file missing" '[x["state"] for x in j if x["subject"] == "repair B"] == ["failed"] and "missing" in [x for x in j if x["subject"] == "repair B"][0]["last_error"]'
jcheck "C still waits" '[x["state"] for x in j if x["subject"] == "repair C"] in (["queued"], ["deferred"], ["sending"])'
check "the orphan file was removed" test ! -e "$T/data/queue/orphan-1"
expect_rc 0 "A is indexed in Sent" mc ls Sent --account alice --limit 1000 --json
jcheck "A is indexed in Sent once, read" '[x["read"] for x in j if x["subject"] == "repair A"] == [True]'
ms_start_postfix >/dev/null || bail "cannot restart postfix"
expect_rc 0 "flush after the repair" mc queue flush
check "C is delivered" ms_wait_delivered bob $((before + 1)) 30
sleep 1
check "A was not sent again (only C arrived)" test "$(ms_deliver_count bob)" = $((before + 1))
idb=$(mc queue --json | python3 -c 'import json,sys; print([x["id"] for x in json.load(sys.stdin) if x["subject"] == "repair B"][0])')
expect_rc 0 "cancel the failed B" mc queue cancel "$idb"
expect_rc 0 "queue empty at last" mc queue --json
jcheck "queue empty at last: result" 'j == []'
stop_daemon
check "clean exit after the repair" eval '[ "$DAEMON_RC" = 0 ]'
