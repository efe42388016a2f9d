#!/bin/bash
# Read state in step with the real Dovecot (sync_seen): a message read
# here gets \Seen there at once (the change queued makes its account
# sync); one read elsewhere (doveadm)
# becomes read here; unread here clears it there; a read while the server
# is down is pushed once it is back (never lost); while idling, a flag set
# elsewhere is applied within a second or so (QRESYNC); an unchanged folder
# is not listed again; with delete_on_server, rm here removes it there
# (and without, it does not).
. "$(dirname "$0")/lib.sh"
use_mail_servers
ms_add_user alice 'alice-Pw1'
mkdir -p "$T/src"
for i in 1 2 3 4 5; do
	printf 'From: s%d@example.test\nTo: alice@mail.test\nSubject: seen test %d\nMessage-ID: <s%d@example.test>\n\nbody %d\n' \
		"$i" "$i" "$i" "$i" >"$T/src/$i.eml"
done
ms_inject_dir alice "$T/src" >/dev/null
ms_add_user bob 'bob-Pw2'
ms_inject_dir bob "$T/src" >/dev/null
ms_start_dovecot >/dev/null || bail "cannot start dovecot"

ACCTS="$(imap_account polled alice alice-Pw1 implicit "$MS_IMAPS_PORT" ',"idle":false'),
$(imap_account watched alice alice-Pw1 implicit "$MS_IMAPS_PORT" ',"idle":true'),
$(imap_account deleter bob bob-Pw2 implicit "$MS_IMAPS_PORT" ',"idle":false,"delete_on_server":true')"
write_config "$T/config.json" "$ACCTS"
start_daemon "$T/config.json"

# msg_id ACCOUNT N: the local id of "seen test N".
msg_id() {
	OUT=$(mailctl ls --account "$1" --json)
	json '[m["id"] for m in j if m["subject"] == "seen test '"$2"'"][0]'
}
# is_read ACCOUNT N
is_read() {
	OUT=$(mailctl ls --account "$1" --json)
	[ "$(json '[m["read"] for m in j if m["subject"] == "seen test '"$2"'"][0]')" = True ]
}
# server_seen N: is "seen test N" \Seen on the server?
server_seen() {
	ms_doveadm alice search mailbox INBOX SEEN HEADER Subject "seen test $1" | grep -q .
}

expect_rc 0 "first sync" mailctl fetch polled --json
check "5 new, unread here" test "$(json 'j["accounts"][0]["new"]')" -eq 5

# within CMD: until CMD succeeds (10 s at most); prints the milliseconds.
within() {
	local t0 i
	t0=$(date +%s%N)
	for i in $(seq 200); do
		"$@" && { echo $(( ($(date +%s%N) - t0) / 1000000 )); return 0; }
		sleep 0.05
	done
	return 1
}

mailctl read "$(msg_id polled 1)" >/dev/null
MS=$(within server_seen 1) || MS=
check "read here -> \\Seen there at once, with no fetch (${MS:-never} ms)" test -n "$MS"

ms_doveadm alice flags add '\Seen' mailbox INBOX HEADER Subject "seen test 2"
expect_rc 0 "a sync" mailctl fetch polled
check "\\Seen set elsewhere -> read here" is_read polled 2

not_seen() { ! server_seen "$1"; }
mailctl mark --unread "$(msg_id polled 1)" >/dev/null
MS=$(within not_seen 1) || MS=
check "unread here -> \\Seen cleared there (${MS:-never} ms)" test -n "$MS"

ms_stop_dovecot >/dev/null
mailctl read "$(msg_id polled 3)" >/dev/null
sleep 0.5
expect_rc 75 "a sync with the server down fails, temporarily" mailctl fetch polled
queued=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM imap_flag_queue WHERE seen = 1").fetchone()[0])' "$T/data/index.sqlite")
check "the read waits in the index's queue ($queued)" test "$queued" -eq 1
ms_start_dovecot >/dev/null 2>"$T/restart.err" || { sed "s/^/# /" "$T/restart.err"; bail "dovecot did not start again"; }
expect_rc 0 "a sync once it is back" mailctl fetch polled
check "the read made offline reached the server" server_seen 3

expect_rc 0 "a sync with nothing changed" mailctl fetch polled
check "an unchanged folder is not listed again" \
	grep -q "account=polled session=[0-9]* INBOX unchanged since the last sync" "$T/daemon.log"

# The watched account: its first fetch starts the watch.
expect_rc 0 "the watched account's first sync" mailctl fetch watched
for i in $(seq 50); do
	OUT=$(mailctl status --json)
	[ "$(json '[a for a in j["accounts"] if a["name"] == "watched"][0]["poll"]["watch"][0]["state"]')" = idle ] && break
	sleep 0.1
done
check "watched: server read states applied at the first sync" is_read watched 2
T0=$(date +%s.%N)
ms_doveadm alice flags add '\Seen' mailbox INBOX HEADER Subject "seen test 4"
ok_by=
for i in $(seq 100); do
	is_read watched 4 && { ok_by=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", (b - a) * 1000 }'); break; }
	sleep 0.05
done
check "watched: \\Seen set elsewhere while idling is read here (${ok_by:-never} ms)" test -n "$ok_by"
# delete_on_server: rm here (to Trash, or --purge) removes it there; the
# polled account (delete_on_server false) left its messages alone.
expect_rc 0 "the deleting account's first sync" mailctl fetch deleter
on_bob() { ms_doveadm bob search mailbox INBOX HEADER Subject "seen test $1" | grep -q .; }
off_bob() { ! on_bob "$1"; }
mailctl rm "$(msg_id deleter 1)" >/dev/null
MS=$(within off_bob 1) || MS=
check "rm here -> removed there, with no fetch (${MS:-never} ms)" test -n "$MS"
mailctl rm --purge "$(msg_id deleter 2)" >/dev/null
MS=$(within off_bob 2) || MS=
check "rm --purge here -> removed there (${MS:-never} ms)" test -n "$MS"
check "the others stay there" eval 'on_bob 3 && on_bob 4 && on_bob 5'
expect_rc 0 "another sync" mailctl fetch deleter --json
check "nothing comes back" test "$(json 'j["accounts"][0]["new"]')" -eq 0
mailctl rm "$(msg_id polled 5)" >/dev/null
sleep 1
expect_rc 0 "a sync of the account without delete_on_server" mailctl fetch polled
check "its rm left the server alone" \
	eval 'ms_doveadm alice search mailbox INBOX HEADER Subject "seen test 5" | grep -q .'
stop_daemon
check "clean stop" test "$DAEMON_RC" = 0
