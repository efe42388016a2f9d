#!/bin/bash
# A full disk is a temporary failure: with data_dir on a small tmpfs filled
# to the last block and inode, send, mv, reindex and fetch (from a real
# Dovecot, keep=false) exit 75 with "no space left on DATA_DIR", nothing
# queued or stored is damaged (the message that could not move is where it
# was, and the index says so; the server still has every message); once
# space is freed the same commands succeed, without a restart.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "mounting a small tmpfs needs root"
use_mail_servers
ms_add_user alice 'alice-Pw1'
python3 "$TOOLS/gen_messages.py" 20 "$T/src" --big 2 --big-size 200000
ms_inject_dir alice "$T/src" >/dev/null
ms_start_dovecot >/dev/null || bail "cannot start dovecot"
mkdir -p "$T/full"
mount -t tmpfs -o size=3m,nr_inodes=400 tmpfs "$T/full" 2>/dev/null ||
	skip_all "cannot mount a tmpfs here"
t_at_exit "umount -l '$T/full'"
DATA=$T/full/data

cat >"$T/config.json" <<EOC
{"data_dir": "$DATA", "socket": "$SOCK", "poll_at_start": false,
 "accounts": [{"name": "a", "email": "a@example.test",
   "smtp": {"host": "127.0.0.1", "port": 1, "tls": "none"},
   "pop3": {"host": "127.0.0.1", "port": $MS_POP3_PORT, "tls": "none",
     "user": "alice", "password": "alice-Pw1", "keep": false,
     "poll_interval": 3600}}]}
EOC
python3 "$top_srcdir/bench/gen-store.py" --out "$DATA" --messages 40 \
	--account a >/dev/null 2>&1 || bail "cannot generate the store"
start_daemon "$T/config.json"
expect_rc 0 "reindex the store" mailctl reindex a
ID=$(mailctl ls Inbox --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
FILE=$(find "$DATA/a/Inbox" -type f -name '*M'"$ID"'P*' | head -1)
# A message reindex has yet to find, put there while there is room.
cp "$FILE" "$DATA/a/Work/new/1700000000.M99999P1Q1.host,S=100"

# Fill every block, then every inode.
dd if=/dev/zero of="$T/full/filler" bs=16k 2>/dev/null
i=0; while : >"$T/full/f$i" 2>/dev/null; do i=$((i + 1)); done
check "the filesystem is full" test "$(df --output=avail "$T/full" | tail -1)" -eq 0

expect_rc 75 "send on a full disk exits 75" mailctl send --to b@example.test \
	--subject full --body hello
contains "$ERR" "no space left on $DATA" "it says there is no space on the data_dir"
expect_rc 75 "mv on a full disk exits 75" mailctl mv "$ID" Work
contains "$ERR" "no space left on $DATA" "it says so too"
check "the message is still where it was" test -f "$FILE"
expect_rc 0 "ls after the failed mv" mailctl ls Inbox --json
jcheck "the index still has it in Inbox" "any(m['id'] == $ID for m in j)"
expect_rc 75 "reindex on a full disk exits 75" mailctl reindex a
contains "$ERR" "no space left on $DATA" "it says so too"
expect_rc 75 "fetch on a full disk exits 75" mailctl fetch a
contains "$ERR" "no space left on $DATA" "it says so too"
expect_rc 0 "status --json" mailctl status --json
jcheck "status shows error_kind space" \
	"j['accounts'][0]['poll']['last_poll']['error_kind'] == 'space'"
check "the server still has every message" test "$(ms_deliver_count alice)" -eq 20
expect_rc 0 "the daemon still answers" mailctl status

rm -f "$T/full/filler" "$T/full"/f*
expect_rc 0 "send once there is room" mailctl send --to b@example.test \
	--subject room --body hello
expect_rc 0 "mv once there is room" mailctl mv "$ID" Work
check "the message moved" eval '[ ! -f "$FILE" ] && [ -n "$(find "$DATA/a/Work" -name "*M${ID}P*")" ]'
expect_rc 0 "reindex once there is room" mailctl reindex a
contains "$OUT" "1 added" "it finds the new message"
expect_rc 0 "fetch once there is room" mailctl fetch a --json
jcheck "20 new" "j['new'] == 20"
check "the server is emptied (keep false)" test "$(ms_deliver_count alice)" -eq 0
expect_rc 0 "queue" mailctl queue --json
jcheck "one message queued, none lost" "len(j) == 1 and j[0]['subject'] == 'room'"
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0
