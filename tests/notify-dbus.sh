#!/bin/bash
# Desktop notifications on a private session bus, recorded by our own
# notification server (tests/tools/notify-recorder): one message makes one
# notification (decoded sender and subject), a poll of 20 one summary, mail
# a rule keeps quiet ("notify": false) is neither shown nor counted,
# desktop_notifications: false turns it off; without a bus the daemon works
# and says so once; a bus that appears later, or comes back after going
# away, is used at the next new mail; a server rendering markup gets the
# subject escaped; a server that hangs costs at most 16 pending calls.
. "$(dirname "$0")/lib.sh"
command -v dbus-daemon >/dev/null || skip_all "dbus-daemon is not installed"
RECORDER=$top_builddir/tests/tools/notify-recorder
[ -x "$RECORDER" ] || bail "$RECORDER is not built (make check builds it)"
use_mail_servers

ms_add_user alice 'alice-Pw1'
ms_add_user bob 'bob-Pw1'
ms_add_user carol 'carol-Pw1'
ms_start_dovecot >/dev/null || bail "dovecot did not start"
mkdir -p "$T/src"

# mail USER NAME FROM SUBJECT: inject one message into USER's mailbox.
mail() {
	printf 'From: %s\nTo: x@mail.test\nSubject: %s\n\nHello.\n' "$3" "$4" \
		>"$T/src/$2"
	ms_inject "$1" "$T/src/$2" >/dev/null
}

# start_bus PATH NOTES [--markup]: a private session bus listening at PATH
# (no systemd, no X, no service activation) and the recorder on it,
# writing to NOTES. Sets BUS_PID and REC_PID.
start_bus() {
	local path=$1 notes=$2 i; shift 2
	dbus_start "$path" || return 1
	: >"$T/recorder.out"
	DBUS_SESSION_BUS_ADDRESS=unix:path=$path "$RECORDER" "$@" "$notes" \
		>"$T/recorder.out" 2>>"$T/recorder.log" &
	REC_PID=$!
	t_at_exit "kill $REC_PID 2>/dev/null"
	for i in $(seq 100); do
		grep -q '^ready$' "$T/recorder.out" && return 0
		sleep 0.05
	done
	return 1
}

# stop_bus: stop the bus and the recorder, and wait for both.
stop_bus() {
	kill "$BUS_PID" "$REC_PID" 2>/dev/null
	wait "$BUS_PID" "$REC_PID" 2>/dev/null
	return 0
}

# count NOTES: the number of notifications recorded.
count() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# wait_count NOTES N: wait (at most 10 s) until N notifications are there.
wait_count() { count_reaches "count $1" "$2" 10; }

# stays NOTES N: the count is N and still N a second later.
stays() { count_stays "count $1" "$2"; }

# note NOTES N: put notification N (from 1) in $OUT for jcheck.
note() { OUT=$(sed -n "$2p" "$1"); }

# config FILE ACCOUNT [EXTRA-JSON]: a config with one account.
config() {
	cat >"$1" <<EOC
{ "data_dir": "$T/data", "socket": "$SOCK", "poll_at_start": false,
  "accounts": [ $2 ]${3:+, $3} }
EOC
}

# --- a bus with a notification server ---------------------------------------
NOTES=$T/notes.jsonl
start_bus "$T/bus" "$NOTES" || bail "the session bus or the recorder did not start"
export DBUS_SESSION_BUS_ADDRESS=unix:path=$T/bus
config "$T/a.json" "$(pop3_account personal alice alice-Pw1 none "$MS_POP3_PORT")"
start_daemon "$T/a.json"

# (1) One message: one notification, sender's display name and subject,
# both decoded (RFC 2047) to UTF-8.
subject='Grüße aus Köln ☕ <b>'
mail alice m01 '=?UTF-8?Q?Zo=C3=AB_M=C3=BCller?= <zoe@example.org>' \
	"=?UTF-8?B?$(printf '%s' "$subject" | base64 -w0)?="
expect_rc 0 "fetch one message" mailctl fetch
contains "$OUT" "1 new" "one message fetched"
check "one notification arrives" wait_count "$NOTES" 1
check "exactly one" stays "$NOTES" 1
note "$NOTES" 1
jcheck "app_name is mailctl" 'j["app_name"] == "mailctl"'
jcheck "summary: the sender's display name" 'j["summary"] == "Zoë Müller"'
jcheck "body: the decoded subject, verbatim (no markup)" \
	"j['body'] == '$subject'"
jcheck "replaces_id 0, expire_timeout -1, no actions" \
	'j["replaces_id"] == 0 and j["expire_timeout"] == -1 and j["actions"] == []'
jcheck "icon mail-unread, category email.arrived" \
	'j["app_icon"] == "mail-unread" and j["hints"] == {"category": "email.arrived"}'

# (2) Twenty messages in one poll: one summary.
for i in $(seq -w 1 20); do
	mail alice "m2$i" "Sender $i <s$i@example.org>" "Subject $i"
done
expect_rc 0 "fetch 20 messages" mailctl fetch
contains "$OUT" "20 new" "20 messages fetched"
check "one more notification arrives" wait_count "$NOTES" 2
check "exactly one for the 20" stays "$NOTES" 2
note "$NOTES" 2
jcheck "summary: 20 new messages in personal" \
	'j["summary"] == "20 new messages in personal"'
jcheck "body: the first five, then how many more" \
	'j["body"].split("\n") == ["Sender %02d: Subject %02d" % (i, i) for i in range(1, 6)] + ["and 15 more"]'
# A byte that is not UTF-8, and a sender and a subject too long to show:
# cut at a character boundary, marked with an ellipsis.
long=$(printf '%0300d' 0 | tr 0 Z)
printf 'From: %s <l@example.org>\nSubject: caf\351 %s\n\nx\n' "$long" \
	"$(printf '%0150d' 0 | sed 's/0/ö/g')" >"$T/src/m3"
ms_inject alice "$T/src/m3" >/dev/null
expect_rc 0 "fetch long fields and a byte that is not UTF-8" mailctl fetch
check "its notification arrives" wait_count "$NOTES" 3
note "$NOTES" 3
jcheck "the sender is cut to 200 bytes" 'j["summary"] == "Z" * 200 + "…"'
jcheck "the subject is valid UTF-8, cut to 200 bytes between characters" \
	'j["body"] == "café " + "ö" * 97 + "…"'

# (3) A rule with "notify": false: such mail is neither shown nor counted.
config "$T/a.json" "$(pop3_account personal alice alice-Pw1 none "$MS_POP3_PORT")" \
	'"filters": [{"folder": "Spam", "subject": ["viagra"], "notify": false}]'
expect_rc 0 "reload with a quiet Spam rule" mailctl reload
mail alice m41 'Spammer <spam@example.org>' 'Cheap viagra'
expect_rc 0 "fetch a spam message" mailctl fetch
contains "$OUT" "1 new" "the spam message was fetched"
check "no notification for it" stays "$NOTES" 3
mail alice m42 'Spammer <spam@example.org>' 'More viagra'
mail alice m43 'Dan <dan@example.org>' 'Lunch?'
expect_rc 0 "fetch spam and a normal message together" mailctl fetch
contains "$OUT" "2 new" "both were fetched"
check "one notification arrives" wait_count "$NOTES" 4
check "exactly one" stays "$NOTES" 4
note "$NOTES" 4
jcheck "it is the normal message's, alone (spam not counted)" \
	'j["summary"] == "Dan" and j["body"] == "Lunch?"'
expect_rc 0 "the spam is in Spam" mailctl ls Spam --json
jcheck "two messages in Spam" 'len(j) == 2'

# (6) desktop_notifications: false turns them off.
config "$T/a.json" "$(pop3_account personal alice alice-Pw1 none "$MS_POP3_PORT")" \
	'"desktop_notifications": false'
expect_rc 0 "reload with desktop_notifications false" mailctl reload
mail alice m61 'Erin <erin@example.org>' 'Quiet please'
expect_rc 0 "fetch with notifications off" mailctl fetch
contains "$OUT" "1 new" "the message was fetched"
check "no notification" stays "$NOTES" 4
config "$T/a.json" "$(pop3_account personal alice alice-Pw1 none "$MS_POP3_PORT")"
expect_rc 0 "reload with notifications on again" mailctl reload
mail alice m62 'Frank <frank@example.org>' 'Loud again'
expect_rc 0 "fetch with notifications on" mailctl fetch
check "one notification arrives" wait_count "$NOTES" 5
check "exactly one" stays "$NOTES" 5
note "$NOTES" 5
jcheck "it is the new message's (nothing was held back)" \
	'j["summary"] == "Frank" and j["body"] == "Loud again"'
expect_rc 0 "status answers" mailctl status
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0
stop_bus

# (4) No session bus at all: the daemon fetches and answers; one quiet line.
mkdir -p "$T/xdg"
unset DBUS_SESSION_BUS_ADDRESS
export XDG_RUNTIME_DIR=$T/xdg
: >"$T/daemon.log"
config "$T/b.json" "$(pop3_account other bob bob-Pw1 none "$MS_POP3_PORT")"
start_daemon "$T/b.json"
mail bob m71 'Gina <gina@example.org>' 'Nobody listens'
expect_rc 0 "fetch without a bus" mailctl fetch
contains "$OUT" "1 new" "the message was fetched"
mail bob m72 'Gina <gina@example.org>' 'Still nobody'
expect_rc 0 "fetch again without a bus" mailctl fetch
contains "$OUT" "1 new" "the message was fetched"
expect_rc 0 "status answers" mailctl status
check "no bus is said once, at info level" \
	test "$(grep -c '^<6>desktop notifications: no session bus' "$T/daemon.log")" -eq 1
check "no warning or error" eval '! grep -q "^<[0-4]>" "$T/daemon.log"'
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0

# (5) A bus that appears later is used; one that goes away and comes back
# too. This server renders markup: the subject is escaped.
mkdir -p "$T/late"
export DBUS_SESSION_BUS_ADDRESS=unix:path=$T/late/bus
LATE=$T/late.jsonl
: >"$T/daemon.log"
config "$T/c.json" "$(pop3_account third carol carol-Pw1 none "$MS_POP3_PORT")"
start_daemon "$T/c.json"
mail carol m81 'Hal <hal@example.org>' 'Before the bus'
expect_rc 0 "fetch before the bus exists" mailctl fetch
contains "$OUT" "1 new" "the message was fetched"
expect_rc 0 "status answers" mailctl status
start_bus "$T/late/bus" "$LATE" --markup || bail "the late bus did not start"
mail carol m82 'Ivy <ivy@example.org>' 'Q&A <draft>'
expect_rc 0 "fetch once the bus is there" mailctl fetch
check "the notification arrives" wait_count "$LATE" 1
check "only the new message's" stays "$LATE" 1
note "$LATE" 1
jcheck "markup escaped in the body" \
	'j["summary"] == "Ivy" and j["body"] == "Q&amp;A &lt;draft&gt;"'
check "the bus was found (logged)" grep -q 'session bus found' "$T/daemon.log"
stop_bus
for i in $(seq 100); do grep -q 'connection lost' "$T/daemon.log" && break; sleep 0.05; done
check "the lost connection is noticed" grep -q '^<6>desktop notifications: session bus connection lost' "$T/daemon.log"
start_bus "$T/late/bus" "$LATE" || bail "the bus did not start again"
mail carol m83 'Jo <jo@example.org>' 'After the comeback'
expect_rc 0 "fetch once the bus is back" mailctl fetch
check "the notification arrives" wait_count "$LATE" 2
note "$LATE" 2
jcheck "it is the new message's" \
	'j["summary"] == "Jo" and j["body"] == "After the comeback"'

# A notification server that hangs: mail still comes in, at most 16
# notifications wait for it, the next is dropped with a log line.
kill -STOP "$REC_PID"
for i in $(seq 1 17); do
	mail carol "m9$i" 'Kim <kim@example.org>' "Stuck $i"
	mailctl fetch >/dev/null || break
done
check "17 polls while the server hangs" test "$i" -eq 17
check "the 17th notification is dropped, logged at info level" \
	grep -q '^<6>account=third desktop notification dropped: 16 are still waiting' "$T/daemon.log"
kill -CONT "$REC_PID"
check "no warning or error" eval '! grep -q "^<[0-4]>" "$T/daemon.log"'
expect_rc 0 "status answers" mailctl status
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0
stop_bus
