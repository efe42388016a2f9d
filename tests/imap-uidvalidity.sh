#!/bin/bash
# A server that renumbers a folder (a new UIDVALIDITY, the same messages:
# ms_uidvalidity_reset rebuilds Dovecot's index) costs no download: what
# was stored is found again by Message-ID (unique on both sides) and
# recorded under its new UID; only a message without a Message-ID comes
# again. Read states then follow the new UIDs.
. "$(dirname "$0")/lib.sh"
use_mail_servers
ms_add_user alice 'alice-Pw1'
python3 "$TOOLS/gen_messages.py" 20 "$T/src" --prefix uv --big 0
printf 'From: x@example.test\nTo: alice@mail.test\nSubject: no id\n\nno Message-ID here\n' >"$T/src/zz-noid.eml"
ms_inject_dir alice "$T/src" >/dev/null
ms_start_dovecot >/dev/null || bail "cannot start dovecot"
write_config "$T/config.json" "$(imap_account uv alice alice-Pw1 implicit "$MS_IMAPS_PORT" ',"idle":false')"
start_daemon "$T/config.json"

expect_rc 0 "first sync" mailctl fetch uv --json
check "21 new" test "$(json 'j["accounts"][0]["new"]')" -eq 21
v=$(ms_uidvalidity_reset alice INBOX 100) || bail "cannot reset the UIDVALIDITY"
echo "# new UIDVALIDITY $v, UIDs from 100"
expect_rc 0 "a sync after the renumbering" mailctl fetch uv --json
check "only the message without a Message-ID is downloaded again" \
	test "$(json 'j["accounts"][0]["new"]')" -eq 1
check "the log says what was matched" \
	grep -q "account=uv session=[0-9]* INBOX: 20 messages found again by Message-ID, 1 to download" "$T/daemon.log"
check "22 files in the store" test "$(stored uv | wc -l)" -eq 22
expect_rc 0 "another sync" mailctl fetch uv --json
check "nothing new" test "$(json 'j["accounts"][0]["new"]')" -eq 0

OUT=$(mailctl ls --account uv --json)
ID=$(json '[m["id"] for m in j if m["subject"] == "uv message 3"][0]')
mailctl read "$ID" >/dev/null
expect_rc 0 "a sync after reading a renumbered message" mailctl fetch uv
seen3() { ms_doveadm alice search mailbox INBOX SEEN HEADER Subject "uv message 3" | grep -q .; }
check "its \\Seen reached the server under the new UID" seen3
stop_daemon
check "clean stop" test "$DAEMON_RC" = 0
