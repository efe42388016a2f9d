#!/bin/bash
# Folders whose names are not ASCII, against the real Dovecot: an account
# lists "Entwürfe", "Работа", "日本語/子", "A&B" and 'Ärger "quoted"' in
# UTF-8; on the wire they are modified UTF-7 (RFC 3501 5.1.3), as
# Dovecot's own LIST shows, the last a quoted string with escapes. Four
# were made by doveadm, one by an IMAP CREATE of its wire name; each
# holds mail saved by doveadm. Every message lands in the local folder of
# the same UTF-8 name ("/" as "."), byte for byte; status --json names the
# folders in UTF-8; a second sync fetches nothing; a new message comes
# alone; a folder the server lacks is a clear error naming it; \Seen goes
# both ways; and a folder watched in IDLE gets its new mail by push.
. "$(dirname "$0")/lib.sh"
use_mail_servers
ms_add_user alice 'alice-Pw1'
ms_start_dovecot >/dev/null || bail "cannot start dovecot"

# Each folder: its UTF-8 name, its wire name, its local folder.
FOLDERS=("Entwürfe" "Работа" "日本語/子" "A&B" 'Ärger "quoted"')
WIRE=("Entw&APw-rfe" "&BCAEMAQxBD4EQgQw-" "&ZeVnLIqe-/&W1A-" "A&-B" '&AMQ-rger "quoted"')
LOCAL=("Entwürfe" "Работа" "日本語.子" "A&B" 'Ärger "quoted"')

# imap_py CODE: run Python with an imaplib connection "c" logged in as
# alice over plain IMAP.
imap_py() {
	python3 - "$MS_IMAP_PORT" "$@" <<PY
import imaplib, sys
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
c.login("alice", "alice-Pw1")
$(cat)
c.logout()
PY
}

for i in 0 1 2 4; do
	ms_imap_create alice "${FOLDERS[$i]}" || bail "cannot create ${FOLDERS[$i]}"
done
imap_py <<'PY' || bail "cannot CREATE A&-B"
typ, data = c.create("A&-B")
assert typ == "OK", data
PY
# Dovecot's LIST is the oracle for the wire names (parent "日本語" too).
imap_py >"$T/list" <<'PY'
typ, data = c.list()
for item in data:
    if isinstance(item, tuple):         # the name as a literal
        print(item[1].decode("ascii"))
    elif item and b' "/" ' in item:
        name = item.decode("ascii").split(' "/" ', 1)[1]
        if name.startswith('"'):
            name = name[1:-1].replace('\\"', '"').replace('\\\\', '\\')
        print(name)
PY
for i in "${!FOLDERS[@]}"; do
	check "Dovecot lists \"${FOLDERS[$i]}\" as ${WIRE[$i]}" grep -qxF "${WIRE[$i]}" "$T/list"
done

# save FOLDER FILE...: doveadm saves each file into FOLDER (its UTF-8 name).
save() {
	local f=$1 m; shift
	for m in "$@"; do
		ms_doveadm alice save -m "$f" <"$m" || return 1
	done
}
for i in "${!FOLDERS[@]}"; do
	python3 "$TOOLS/gen_messages.py" 3 "$T/src$i" --prefix "f$i" \
		--big $((i == 1)) --big-size 300000
	save "${FOLDERS[$i]}" "$T/src$i"/* || bail "cannot save into ${FOLDERS[$i]}"
done
# The INBOX has one too: the account's INBOX is filed by the rules.
python3 "$TOOLS/gen_messages.py" 1 "$T/inbox" --prefix inbox --big 0
save INBOX "$T/inbox"/*
check "doveadm holds 3 messages in each folder" \
	test "$(for f in "${FOLDERS[@]}"; do ms_doveadm alice search mailbox "$f" all | wc -l; done | tr '\n' ' ')" = "3 3 3 3 3 "

# holds MAILDIR FILE: MAILDIR's new/ or cur/ has a copy of FILE.
holds() {
	find "$1/new" "$1/cur" -type f | sums | grep -qx "$(echo "$2" | sums)"
}

flist=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:], ensure_ascii=False))' INBOX "${FOLDERS[@]}")
write_config "$T/config.json" \
	"$(imap_account intl alice alice-Pw1 implicit "$MS_IMAPS_PORT" ",\"folders\":$flist,\"idle\":false"),
$(imap_account push alice alice-Pw1 none "$MS_IMAP_PORT" ',"folders":["Работа","日本語/子"],"idle":true,"timeout":5'),
$(imap_account missing alice alice-Pw1 none "$MS_IMAP_PORT" ',"folders":["A&B","Gibt’s nicht ü"],"idle":false')"
start_daemon "$T/config.json"

expect_rc 0 "fetch the account" mailctl fetch intl --json
check "16 new (3 in each folder, 1 in INBOX)" test "$(json 'j["accounts"][0]["new"]')" -eq 16
for i in "${!FOLDERS[@]}"; do
	d=$T/data/intl/${LOCAL[$i]}
	check "${FOLDERS[$i]}: its 3 messages in ${LOCAL[$i]}, byte for byte" \
		test "$(find "$d/new" "$d/cur" -type f 2>/dev/null | sums)" = "$(find "$T/src$i" -type f | sums)"
	q=${WIRE[$i]//\"/\\\"}	# quoted as in a command
	check "${FOLDERS[$i]}: selected as \"$q\"" \
		eval 'grep -F " SELECT \"$q\"" "$T/daemon.log" | grep -q "account=intl session=[0-9]* C: "'
done
check "nothing left in tmp/" \
	test -z "$(find "$T/data/intl" -path "$T/data/intl/*/tmp/*" -type f)"
check "the log names the folders in UTF-8" grep -q 'Работа' "$T/daemon.log"
OUT=$(mailctl ls "日本語.子" --account intl --json)
jcheck "ls 日本語.子 lists its messages" \
	'sorted(m["subject"] for m in j) == ["f2 message 1", "f2 message 2", "f2 message 3"]'
OUT=$(mailctl folders --json)
jcheck "folders lists the five in UTF-8" \
	'{"Entwürfe", "Работа", "日本語.子", "A&B", "Ärger \"quoted\""} <= {f["folder"] for f in j if f["account"] == "intl"}'

OUT=$(mailctl status --json)
jcheck "status --json: the imap block's folders in UTF-8" \
	'[a for a in j["accounts"] if a["name"] == "intl"][0]["imap"]["folders"] == ["INBOX", "Entwürfe", "Работа", "日本語/子", "A&B", "Ärger \"quoted\""]'
jcheck "status --json: each folder synced under its UTF-8 name, with its UIDVALIDITY" \
	'[(f["folder"], f["uidvalidity"] > 0, f["uidnext"]) for f in [a for a in j["accounts"] if a["name"] == "intl"][0]["poll"]["folders"]] == [("INBOX", True, 2), ("Entwürfe", True, 4), ("Работа", True, 4), ("日本語/子", True, 4), ("A&B", True, 4), ("Ärger \"quoted\"", True, 4)]'

expect_rc 0 "a second sync" mailctl fetch intl --json
check "the second sync fetches nothing" test "$(json 'j["accounts"][0]["new"]')" -eq 0
printf 'From: x@example.test\nTo: alice@mail.test\nSubject: one more\nMessage-ID: <more@example.test>\n\nmore\n' >"$T/more.eml"
save "A&B" "$T/more.eml"
expect_rc 0 "a sync after one new message in A&B" mailctl fetch intl --json
check "exactly 1 new" test "$(json 'j["accounts"][0]["new"]')" -eq 1
check "it is in A&B, byte for byte" holds "$T/data/intl/A&B" "$T/more.eml"

# A folder the server does not have: a clear error naming it in UTF-8;
# the folder before it was synced.
expect_rc 1 "fetch an account listing a folder the server lacks" mailctl fetch missing --json
jcheck "a protocol error naming the folder in UTF-8" \
	'j["accounts"][0]["error_kind"] == "protocol" and "cannot select \"Gibt’s nicht ü\"" in j["accounts"][0]["error"]'
check "A&B, before it, was synced (4 messages)" test "$(stored missing | wc -l)" -eq 4

# Read state under such names: a message read here gets \Seen in Работа
# on the server; one given \Seen by doveadm in Entwürfe is read here after
# the next sync.
OUT=$(mailctl ls "Работа" --account intl --json)
mailctl read "$(json '[m["id"] for m in j if m["subject"] == "f1 message 2"][0]')" >/dev/null
seen_there() {
	ms_doveadm alice search mailbox "$1" SEEN HEADER Subject "$2" | grep -q .
}
for _ in $(seq 100); do seen_there "Работа" "f1 message 2" && break; sleep 0.1; done
check "read here -> \\Seen in Работа on the server" seen_there "Работа" "f1 message 2"
check "and on no other message there" \
	test "$(ms_doveadm alice search mailbox "Работа" SEEN | wc -l)" -eq 1
ms_doveadm alice flags add '\Seen' mailbox "Entwürfe" HEADER Subject "f0 message 3"
expect_rc 0 "a sync after a \\Seen set in Entwürfe elsewhere" mailctl fetch intl --json
OUT=$(mailctl ls "Entwürfe" --account intl --json)
jcheck "it is read here, the others not" \
	'sorted((m["subject"], m["read"]) for m in j) == [("f0 message 1", False), ("f0 message 2", False), ("f0 message 3", True)]'

# IDLE on two such folders: each has its own connection; a message saved
# into one is pushed, with no fetch and no poll.
mailctl watch --json >"$T/watch.json" 2>"$T/watch.err" &
WATCH_PID=$!
t_at_exit "kill $WATCH_PID 2>/dev/null"
expect_rc 0 "the first sync of the watched account" mailctl fetch push --json
check "it fetched Работа and 日本語/子 (6)" test "$(json 'j["accounts"][0]["new"]')" -eq 6

# idle_states: the state of each of push's watches, "folder=state ...".
idle_states() {
	OUT=$(mailctl status --json)
	json '" ".join(w["folder"] + "=" + w["state"] for w in [a for a in j["accounts"] if a["name"] == "push"][0]["poll"]["watch"])'
}
for _ in $(seq 100); do
	[ "$(idle_states)" = "Работа=idle 日本語/子=idle" ] && break
	sleep 0.1
done
check "both folders in IDLE, named in UTF-8 ($(idle_states))" \
	test "$(idle_states)" = "Работа=idle 日本語/子=idle"
printf 'From: x@example.test\nTo: alice@mail.test\nSubject: pushed here\nMessage-ID: <pushed@example.test>\n\npush\n' >"$T/pushed.eml"
T0=$(date +%s%N)
save "日本語/子" "$T/pushed.eml"
pushed() {
	python3 - "$T/watch.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("type") == "new_mail" and e.get("subject") == "pushed here":
        print(e.get("account"), e.get("folder"), e.get("via"))
        break
PY
}
for _ in $(seq 200); do [ -n "$(pushed)" ] && break; sleep 0.05; done
T1=$(date +%s%N)
check "the mail saved into 日本語/子 is pushed to 日本語.子 ($(( (T1 - T0) / 1000000 )) ms after doveadm saved it)" \
	test "$(pushed)" = "push 日本語.子 idle"
check "the pushed mail is in 日本語.子, byte for byte" holds "$T/data/push/日本語.子" "$T/pushed.eml"
contains "$(mailctl status)" "日本語/子: idle since" "status (text) names the watched folders in UTF-8"

expect_rc 0 "the daemon still answers" mailctl status
stop_daemon
check "clean stop" test "$DAEMON_RC" = 0
