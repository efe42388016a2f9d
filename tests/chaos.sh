#!/bin/bash
# Chaos: SIGKILL the daemon at random moments, restart it, and count.
#
# Against the suite's real Dovecot and Postfix:
#   fetch  a POP3 mailbox with keep=false is fetched while the daemon is
#          killed CHAOS_KILLS times at random moments of its polls; at the
#          end every message is stored exactly once and the server is empty
#          (none lost, none stored twice, none deleted before it was stored);
#   imap   the same for an IMAP mailbox (keep=false) synced while the
#          daemon is killed;
#   drain  an outbox of mails is sent while the daemon is killed
#          CHAOS_KILLS times at random moments of the drain; at the end the
#          recipient has every mail, at most one delivered twice per kill,
#          and Sent holds each once.
# make check runs the short form (CHAOS_KILLS=10, a few hundred messages);
# `make chaos` the long one (CHAOS_KILLS=100, CHAOS_MESSAGES=2000), which
# prints a table. CHAOS_SEED makes a run repeatable.
. "$(dirname "$0")/lib.sh"
use_mail_servers
command -v postfix >/dev/null || skip_all "postfix is not installed (tests/servers/install-deps)"

KILLS=${CHAOS_KILLS:-10}
N=${CHAOS_MESSAGES:-600}
RANDOM=${CHAOS_SEED:-$$}
echo "# kills=$KILLS messages=$N seed=${CHAOS_SEED:-$$}"

ms_add_user alice 'alice-Pw1'
ms_add_user bob 'bob-Pw2'
ms_add_user carol 'carol-Pw3'
python3 "$TOOLS/gen_messages.py" "$N" "$T/src" --big 10 --big-size 300000 \
	--prefix chaos
ms_inject_dir alice "$T/src" >/dev/null
ms_inject_dir carol "$T/src" >/dev/null
ms_start >/dev/null || bail "cannot start dovecot and postfix"

POP=$(pop3_account alice alice alice-Pw1 none "$MS_POP3_PORT" ', "keep": false')
SMTP=$(printf '{"host":"127.0.0.1","port":%s,"tls":"starttls","ca_file":"%s","user":"bob","password":"bob-Pw2","timeout":20}' \
	"$MS_SMTP_PORT" "$MS_CA_FILE")
IMAP=$(imap_account carol carol carol-Pw3 none "$MS_IMAP_PORT" ', "keep": false, "idle": false')
write_config "$T/config.json" "${POP%\}}, \"smtp\": $SMTP}, $IMAP"
python3 - "$T/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["accounts"][0]["email"] = "bob@mail.test"
c["queue"] = {"retry_min": 1, "retry_max": 2, "expire": 3600}
json.dump(c, open(sys.argv[1], "w"))
EOF
mc() { "$MAILCTL" --socket "$SOCK" "$@"; }

# kill_at MS: SIGKILL the daemon MS milliseconds from now.
kill_at() {
	sleep "$(printf '0.%03d' "$1")"
	kill -KILL "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}

# --- fetch -------------------------------------------------------------
fkills=0
for k in $(seq "$KILLS"); do
	[ "$(ms_deliver_count alice)" -eq 0 ] && break
	start_daemon "$T/config.json"
	mc fetch alice >/dev/null 2>&1 &
	kill_at $((RANDOM % 150))
	wait
	fkills=$((fkills + 1))
done
start_daemon "$T/config.json"
for _ in $(seq 20); do
	mc fetch alice --json >"$T/out" 2>/dev/null
	[ "$(ms_deliver_count alice)" -eq 0 ] && break
done
stored_n=$(stored alice | wc -l)
twice=$(stored alice | xargs -r grep -h '^Message-ID:' | sort | uniq -d | wc -l)
lost=$(comm -23 <(find "$T/src" -type f | sums | sort -u) \
	<(stored alice | sums | sort -u) | wc -l)
check "fetch: $fkills kills, the server is emptied" test "$(ms_deliver_count alice)" -eq 0
check "fetch: none lost ($lost)" test "$lost" -eq 0
check "fetch: none stored twice ($twice)" test "$twice" -eq 0
check "fetch: $N stored ($stored_n)" test "$stored_n" -eq "$N"
left=$(find "$T/data/alice" -path "$T/data/alice/*/tmp/*" -type f)
[ -n "$left" ] && ls -l $left | sed 's/^/# tmp: /'
check "fetch: nothing left in tmp/" test -z "$left"
stop_daemon

# --- imap --------------------------------------------------------------
# The same against IMAP: carol's mailbox synced with keep=false, killed
# during the sync; the UIDs stored but not yet expunged go at the next.
ikills=0
for k in $(seq "$KILLS"); do
	[ "$(ms_deliver_count carol)" -eq 0 ] && break
	start_daemon "$T/config.json"
	"$MAILCTL" --socket "$SOCK" fetch carol >/dev/null 2>&1 &
	kill_at $((RANDOM % 150))
	wait
	ikills=$((ikills + 1))
done
start_daemon "$T/config.json"
for _ in $(seq 20); do
	mc fetch carol --json >"$T/out" 2>/dev/null
	[ "$(ms_deliver_count carol)" -eq 0 ] && break
done
istored=$(stored carol | wc -l)
itwice=$(stored carol | xargs -r grep -h '^Message-ID:' | sort | uniq -d | wc -l)
ilost=$(comm -23 <(find "$T/src" -type f | sums | sort -u) \
	<(stored carol | sums | sort -u) | wc -l)
check "imap: $ikills kills, the server is emptied" test "$(ms_deliver_count carol)" -eq 0
check "imap: none lost ($ilost)" test "$ilost" -eq 0
check "imap: none stored twice ($itwice)" test "$itwice" -eq 0
check "imap: $N stored ($istored)" test "$istored" -eq "$N"
left=$(find "$T/data/carol" -path "$T/data/carol/*/tmp/*" -type f)
check "imap: nothing left in tmp/" test -z "$left"

# --- drain -------------------------------------------------------------
ms_stop_postfix >/dev/null
fails=0
for i in $(seq "$N"); do
	mc send --to alice@mail.test --subject "chaos mail $i" \
		--body "mail $i of $N" >/dev/null 2>&1 || fails=$((fails + 1))
done
check "drain: $N mails queued" test "$fails" -eq 0
ms_start_postfix >/dev/null || bail "cannot restart postfix"
dkills=0
for k in $(seq "$KILLS"); do
	[ -n "$DAEMON_PID" ] || start_daemon "$T/config.json"
	[ "$(mc queue --json 2>/dev/null)" = "[]" ] && break
	mc queue flush >/dev/null 2>&1
	kill_at $((RANDOM % 60))
	dkills=$((dkills + 1))
done
[ -n "$DAEMON_PID" ] || start_daemon "$T/config.json"
mc queue flush >/dev/null 2>&1
for _ in $(seq 600); do
	[ "$(mc queue --json 2>/dev/null)" = "[]" ] && break
	sleep 0.1
done
check "drain: the queue empties" eval '[ "$(mc queue --json)" = "[]" ]'
ms_wait_delivered alice "$N" 60 >/dev/null 2>&1
sleep 1	# let Postfix finish what it accepted

read -r dlost dtwice _ <<<"$(count_subjects "$(ms_maildir alice)" "chaos mail" "$N")"
read -r slost stwice _ <<<"$(count_subjects "$T/data/alice/Sent" "chaos mail" "$N")"
check "drain: $dkills kills, none lost ($dlost)" test "$dlost" -eq 0
check "drain: at most one delivered twice per kill ($dtwice for $dkills)" \
	test "$dtwice" -le "$dkills"
check "drain: Sent holds each once ($slost missing, $stwice twice)" \
	eval '[ "$slost" -eq 0 ] && [ "$stwice" -eq 0 ]'
expect_rc 0 "the daemon answers" mc status
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0

printf '# %-6s %6s %9s %6s %6s %8s\n' path kills messages lost twice resends
printf '# %-6s %6s %9s %6s %6s %8s\n' fetch "$fkills" "$N" "$lost" "$twice" -
printf '# %-6s %6s %9s %6s %6s %8s\n' imap "$ikills" "$N" "$ilost" "$itwice" -
printf '# %-6s %6s %9s %6s %6s %8s\n' drain "$dkills" "$N" "$dlost" 0 "$dtwice"
