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
#   first  the first sync of an IMAP mailbox (keep=true) is killed
#          CHAOS_KILLS times, each a random moment after a group commit
#          (so in the middle of the sync): every message stored exactly
#          once, nothing in tmp/;
#   uidval then the server renumbers that mailbox (a new UIDVALIDITY, the
#          same messages) and the sync that follows is killed a few times:
#          nothing is downloaded again;
#   drain  an outbox of mails is sent while the daemon is killed
#          CHAOS_KILLS times at random moments of the drain; at the end the
#          recipient has every mail, at most one delivered twice per kill,
#          and Sent holds each once.
# make check runs the short form (CHAOS_KILLS=10, 600 messages); `make
# chaos` the long one (CHAOS_KILLS=100, CHAOS_MESSAGES=2000), which prints
# a table. CHAOS_SEED makes a run repeatable.
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
ms_add_user dave 'dave-Pw4'
python3 "$TOOLS/gen_messages.py" "$N" "$T/src" --big 10 --big-size 300000 \
	--prefix chaos
ms_inject_dir alice "$T/src" >/dev/null
ms_inject_dir carol "$T/src" >/dev/null
ms_inject_dir dave "$T/src" >/dev/null
ms_start >/dev/null || bail "cannot start dovecot and postfix"

POP=$(pop3_account alice alice alice-Pw1 none "$MS_POP3_PORT" ', "keep": false')
SMTP=$(printf '{"host":"127.0.0.1","port":%s,"tls":"starttls","ca_file":"%s","user":"bob","password":"bob-Pw2","timeout":20}' \
	"$MS_SMTP_PORT" "$MS_CA_FILE")
IMAP="$(imap_account carol carol carol-Pw3 none "$MS_IMAP_PORT" ', "keep": false, "idle": false'),
$(imap_account dave dave dave-Pw4 none "$MS_IMAP_PORT" ', "idle": false')"
write_config "$T/config.json" "${POP%\}}, \"smtp\": $SMTP}, $IMAP"
python3 - "$T/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["accounts"][0]["email"] = "bob@mail.test"
c["queue"] = {"retry_min": 1, "retry_max": 2, "expire": 3600}
json.dump(c, open(sys.argv[1], "w"))
EOF
mc() { "$MAILCTL" --socket "$SOCK" "$@"; }

# chaos_fetch ACCOUNT DONE WHEN MAXMS: until DONE (a shell command) holds,
# at most $KILLS times: start the daemon, fetch ACCOUNT, SIGKILL the
# daemon at a random moment (0 to MAXMS ms after WHEN, as crash_fetch);
# after each kill, count it in KILLED, and in MID when fewer than $N
# messages are stored. Then start the daemon for good and fetch until DONE
# holds (20 fetches at most).
chaos_fetch() {
	local account=$1 done=$2 when=$3 max=$4 k
	KILLED=0 MID=0
	for k in $(seq "$KILLS"); do
		eval "$done" && break
		crash_fetch "$account" "$when" $((RANDOM % (max + 1)))
		KILLED=$((KILLED + 1))
		[ "$(stored "$account" | wc -l)" -lt "$N" ] && MID=$((MID + 1))
	done
	start_daemon "$T/config.json"
	for k in $(seq 20); do
		eval "$done" && break
		mc fetch "$account" --json >"$T/out" 2>/dev/null
	done
}

# row PATH KILLS LOST TWICE RESENDS: a line of the closing table.
TABLE=$(printf '# %-6s %6s %9s %6s %6s %8s' path kills messages lost twice resends)
row() {
	TABLE=$TABLE$'\n'$(printf '# %-6s %6s %9s %6s %6s %8s' "$1" "$2" "$N" "$3" "$4" "$5")
}

# chaos_count LABEL ACCOUNT: check that every message of $T/src is stored
# in ACCOUNT exactly once, byte for byte, and nothing is left in tmp/; add
# a row for LABEL with the kills of the last chaos_fetch (or $3).
chaos_count() {
	local label=$1 account=$2 n left
	n=$(stored "$account" | wc -l)
	TWICE=$(stored "$account" | xargs -r grep -h '^Message-ID:' | sort | uniq -d | wc -l)
	LOST=$(comm -23 <(find "$T/src" -type f | sums | sort -u) \
		<(stored "$account" | sums | sort -u) | wc -l)
	check "$label: none lost ($LOST)" test "$LOST" -eq 0
	check "$label: none stored twice ($TWICE)" test "$TWICE" -eq 0
	check "$label: $N stored ($n)" test "$n" -eq "$N"
	left=$(find "$T/data/$account" -path "$T/data/$account/*/tmp/*" -type f)
	[ -n "$left" ] && ls -l $left | sed 's/^/# tmp: /'
	check "$label: nothing left in tmp/" tmp_empty "$account"
	row "$label" "${3:-$KILLED}" "$LOST" "$TWICE" -
}

# chaos_emptied LABEL ACCOUNT: ACCOUNT's mailbox (keep=false) fetched
# while the daemon is killed at random moments, until the server is empty;
# then counted.
chaos_emptied() {
	chaos_fetch "$2" "[ \"\$(ms_deliver_count $2)\" -eq 0 ]" start 150
	check "$1: $KILLED kills, the server is emptied" test "$(ms_deliver_count "$2")" -eq 0
	chaos_count "$1" "$2"
	stop_daemon
}

# --- fetch -------------------------------------------------------------
# alice's POP3 mailbox.
chaos_emptied fetch alice

# --- imap --------------------------------------------------------------
# The same against IMAP: carol's mailbox; the UIDs stored but not yet
# expunged go at the next sync.
chaos_emptied imap carol

# --- first -------------------------------------------------------------
# dave's first IMAP sync (keep=true), killed at random moments. On the
# loopback a sync of 2,000 messages takes well under a second: dave's
# connections go through a proxy passing 2 MB/s from Dovecot, so that the
# sync lasts long enough to be killed many times in its middle. Then the
# server gives the mailbox a new UIDVALIDITY with the same messages, and
# the daemon is killed during the sync that finds them again: nothing is
# downloaded twice.
tool_start blackhole_proxy.py --log "$T/proxy.log" --target "$MS_IMAP_PORT" \
	--rate 2000000
SLOW_PID=$TOOL_PID
t_at_exit "kill $SLOW_PID 2>/dev/null"
python3 - "$T/config.json" "$TOOL_PORT" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
[a for a in c["accounts"] if a["name"] == "dave"][0]["imap"]["port"] = int(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"))
EOF
chaos_fetch dave '[ "$(stored dave | wc -l)" -ge "$N" ]' start 600
check "first: $MID of $KILLED kills in the middle of the sync" \
	test "$MID" -ge $((KILLS < 3 ? KILLS : 3))
chaos_count first dave
stop_daemon
ms_uidvalidity_reset dave >/dev/null || bail "cannot renumber dave's INBOX"
before=$(commits)
rkills=0
for k in $(seq $((KILLS < 5 ? KILLS : 5))); do
	crash_fetch dave start $((RANDOM % 300))
	rkills=$((rkills + 1))
done
start_daemon "$T/config.json"
expect_rc 0 "uidval: a sync after $rkills kills" mc fetch dave --json
check "uidval: it downloads nothing" test "$(json 'j["accounts"][0]["new"]')" -eq 0
check "uidval: no group commit since the renumbering ($(( $(commits) - before )))" \
	test "$(commits)" -eq "$before"
check "uidval: the messages were found again by Message-ID" \
	grep -q "account=dave session=[0-9]* INBOX: $N messages found again by Message-ID, 0 to download" "$T/daemon.log"
chaos_count uidval dave "$rkills"

# --- drain -------------------------------------------------------------
ms_stop_postfix >/dev/null
fails=0
for i in $(seq "$N"); do
	mc send --to alice@mail.test --subject "chaos mail $i" \
		--body "mail $i of $N" >/dev/null 2>&1 || fails=$((fails + 1))
done
check "drain: $N mails queued" test "$fails" -eq 0
# Restarted, the daemon loads the outbox again: the first queue list it
# answers waits for that (the kills below count on it).
stop_daemon
start_asking "$T/config.json" queue --json
jcheck "drain: the first queue list after a restart has the $N mails" "len(j) == $N"
ms_start_postfix >/dev/null || bail "cannot restart postfix"
dkills=0
for k in $(seq "$KILLS"); do
	[ -n "$DAEMON_PID" ] || start_daemon "$T/config.json"
	[ "$(mc queue --json 2>/dev/null)" = "[]" ] && break
	mc queue flush >/dev/null 2>&1
	sleep "$(printf '0.%03d' $((RANDOM % 60)))"
	kill_daemon
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
stop_clean

row drain "$dkills" "$dlost" 0 "$dtwice"
echo "$TABLE"
