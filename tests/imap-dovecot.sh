#!/bin/bash
# IMAP syncing against a real Dovecot over IMAPS, STARTTLS and plain
# IMAP: 200 messages (some with multi-MB bodies, two with raw 8-bit
# header bytes) stored
# once each and byte-identical to the server's copies; a second sync
# fetches nothing; one new message is fetched alone; a second server folder
# lands in its local twin ("Lists/dev" as Lists.dev) while INBOX is filed
# by the rules; keep=false empties the server folders once the messages
# are stored; a wrong password is an "auth" error and a certificate for
# another name a "tls" one, and the daemon goes on serving.
. "$(dirname "$0")/lib.sh"
use_mail_servers

ms_add_user alice 'alice-Pw1'
ms_add_user bob 'bob-Pw2'
python3 "$TOOLS/gen_messages.py" 200 "$T/src" --big 4
# Raw 8-bit header bytes in two of them (UTF-8, and Latin-1): stored as
# they are, byte for byte.
python3 - "$T/src" <<'PY'
import os, sys
d = sys.argv[1]
names = sorted(os.listdir(d))
for name, subj in ((names[2], "caf\u00e9 \u00fcn\u00efcode".encode()),
                   (names[4], b"caf\xe9 latin-1")):
    p = os.path.join(d, name)
    data = open(p, "rb").read()
    head, sep, body = data.partition(b"\n\n")
    lines = [b"Subject: " + subj if l.startswith(b"Subject:") else l
             for l in head.split(b"\n")]
    open(p, "wb").write(b"\n".join(lines) + sep + body)
PY
python3 "$TOOLS/gen_messages.py" 5 "$T/src-bob" --prefix bob --big 0
ms_inject_dir alice "$T/src" >/dev/null
ms_inject_dir bob "$T/src-bob" >/dev/null
# Three messages in a folder below Lists, one of them for a rule.
mkdir -p "$T/src-lists"
for i in 1 2 3; do
	printf 'From: list%d@example.test\nTo: alice@mail.test\nSubject: list mail %d\nMessage-ID: <l%d@example.test>\n\nbody %d\n' \
		"$i" "$i" "$i" "$i" >"$T/src-lists/$i.eml"
done
ms_inject_folder alice Lists/dev "$T/src-lists"/*.eml >/dev/null
ms_inject_folder bob Archive "$T/src-lists"/*.eml >/dev/null
ms_start_dovecot >/dev/null
ms_start_dovecot_wrong >/dev/null
check "dovecot holds 200 messages for alice" test "$(ms_deliver_count alice)" -ge 200

NOIDLE=',"idle":false'	# polled: fetch syncs (imap-idle.sh tests the push)
ACCTS="$(imap_account imaps alice alice-Pw1 implicit "$MS_IMAPS_PORT" "$NOIDLE"),
$(imap_account starttls alice alice-Pw1 starttls "$MS_IMAP_PORT" "$NOIDLE"),
$(imap_account plain alice alice-Pw1 none "$MS_IMAP_PORT" "$NOIDLE"),
$(imap_account lists alice alice-Pw1 implicit "$MS_IMAPS_PORT" ',"folders":["INBOX","Lists/dev"]'"$NOIDLE"),
$(imap_account drain bob bob-Pw2 implicit "$MS_IMAPS_PORT" ',"keep":false,"folders":["INBOX","Archive"]'"$NOIDLE"),
$(imap_account badpw alice wrong implicit "$MS_IMAPS_PORT" "$NOIDLE"),
$(imap_account wrongcert alice alice-Pw1 implicit "$MS_IMAPS_WRONG_PORT" "$NOIDLE")"
write_config "$T/config.json" "$ACCTS" \
	',"filters":[{"folder":"Work","subject":["list mail 2"]}]'
start_daemon "$T/config.json"

src_sums=$(find "$T/src" -type f | sums)
for a in imaps starttls plain; do
	fetch_all "$a" 200 "$src_sums"
done
eightbit=$(stored imaps | xargs grep -l -a -F "$(printf 'caf\xe9 latin-1')" | wc -l)
check "the raw Latin-1 header byte came through as it is ($eightbit file)" test "$eightbit" -eq 1
check "the big bodies came through (4 files over 2 MB)" \
	test "$(find "$T/data/imaps" -type f -size +2M | wc -l)" -eq 4
check "STARTTLS was used" \
	grep -q 'account=starttls session=[0-9]* STARTTLS -> HANDSHAKE' "$T/daemon.log"
check "the password never reached the log" \
	eval '! grep -q "alice-Pw1" "$T/daemon.log"'

expect_rc 0 "a second sync" mailctl fetch imaps --json
check "the second sync fetches nothing" test "$(json 'j["accounts"][0]["new"]')" -eq 0
printf 'From: new@example.test\nTo: alice@mail.test\nSubject: one more\n\nnew\n' >"$T/new.eml"
ms_inject alice "$T/new.eml" >/dev/null
expect_rc 0 "a sync after one new message" mailctl fetch imaps --json
check "exactly 1 new" test "$(json 'j["accounts"][0]["new"]')" -eq 1
OUT=$(mailctl ls Inbox --account imaps --json --limit 1)
jcheck "it is listed first, decoded" 'j[0]["subject"] == "one more"'

expect_rc 0 "fetch lists (INBOX and Lists/dev)" mailctl fetch lists --json
check "lists: 200 + 1 + 3 new" test "$(json 'j["accounts"][0]["new"]')" -eq 204
OUT=$(mailctl ls Lists.dev --account lists --json)
jcheck "Lists/dev's three messages are in Lists.dev (not filed by rules)" \
	'sorted(m["subject"] for m in j) == ["list mail 1", "list mail 2", "list mail 3"]'
check "the Maildir is data/lists/Lists.dev" test -d "$T/data/lists/Lists.dev/new"

expect_rc 0 "fetch drain (keep false)" mailctl fetch drain --json
check "drain: 5 + 3 new" test "$(json 'j["accounts"][0]["new"]')" -eq 8
OUT=$(mailctl ls Work --account drain --json)
jcheck "INBOX is filed by the rules" 'len(j) == 0'
check "drain: INBOX emptied on the server" \
	test "$(ms_doveadm bob search mailbox INBOX all | wc -l)" -eq 0
check "drain: Archive emptied on the server" \
	test "$(ms_doveadm bob search mailbox Archive all | wc -l)" -eq 0
expect_rc 0 "fetch drain again" mailctl fetch drain --json
check "nothing new, nothing lost" test "$(json 'j["accounts"][0]["new"]')" -eq 0
check "drain: 8 files stored" test "$(stored drain | wc -l)" -eq 8

expect_rc 1 "fetch with a wrong password fails (exit 1)" mailctl fetch badpw --json
jcheck "a wrong password is an auth error" \
	'not j["accounts"][0]["ok"] and j["accounts"][0]["error_kind"] == "auth"'
expect_rc 1 "fetch from a server with a certificate for another name fails" \
	mailctl fetch wrongcert --json
jcheck "a certificate for another name is a tls error" \
	'not j["accounts"][0]["ok"] and j["accounts"][0]["error_kind"] == "tls"'

OUT=$(mailctl status --json)
jcheck "status describes the imap account" \
	'[a for a in j["accounts"] if a["name"] == "lists"][0]["imap"]["folders"] == ["INBOX", "Lists/dev"]'
jcheck "status shows each folder's UIDVALIDITY and last sync" \
	'all(f["uidvalidity"] and f["last_sync"] for f in [a for a in j["accounts"] if a["name"] == "lists"][0]["poll"]["folders"])'
jcheck "status shows its last sync" \
	'[a for a in j["accounts"] if a["name"] == "imaps"][0]["poll"]["last_poll"]["ok"]'
stop_clean
