#!/bin/bash
# POP3 fetching against a real Dovecot over plain POP3, STLS and POP3S:
# 200 messages (some with large binary attachments) fetched once each and
# byte-identical to the server's copies; a second poll fetches nothing; one
# new message is fetched alone; keep=false empties the server mailbox, but
# nothing is deleted when delivery fails. A poll of that many new messages
# runs over two connections (unless the account says "connections": 1),
# and with keep=false each deletes what it fetched. A poll after one that
# handled the whole mailbox checks only the count and the last UIDL
# (unless "quick_check": false); when either changed it lists again.
. "$(dirname "$0")/lib.sh"
use_mail_servers

ms_add_user alice 'alice-Pw1'
ms_add_user bob 'bob-Pw2'
ms_add_user carol 'carol-Pw3'
ms_add_user dave 'dave-Pw4'
python3 "$TOOLS/gen_messages.py" 200 "$T/src" --big 4
python3 "$TOOLS/gen_messages.py" 5 "$T/src-bob" --prefix bob --big 0
ms_inject_dir alice "$T/src" >/dev/null
ms_inject_dir bob "$T/src-bob" >/dev/null
ms_inject_dir carol "$T/src-bob" >/dev/null
python3 "$TOOLS/gen_messages.py" 300 "$T/src-dave" --prefix dave --big 3
ms_inject_dir dave "$T/src-dave" >/dev/null
ms_start_dovecot >/dev/null
check "dovecot holds 200 messages for alice" test "$(ms_deliver_count alice)" -eq 200

ACCTS="$(pop3_account plain alice alice-Pw1 none "$MS_POP3_PORT" ',"connections":1'),
$(pop3_account stls alice alice-Pw1 starttls "$MS_POP3_PORT"),
$(pop3_account pop3s alice alice-Pw1 implicit "$MS_POP3S_PORT"),
$(pop3_account drain bob bob-Pw2 implicit "$MS_POP3S_PORT" ',"keep":false'),
$(pop3_account drain2 dave dave-Pw4 starttls "$MS_POP3_PORT" ',"keep":false'),
$(pop3_account broken carol carol-Pw3 implicit "$MS_POP3S_PORT" ',"keep":false'),
$(pop3_account fullcheck carol carol-Pw3 implicit "$MS_POP3S_PORT" ',"quick_check":false'),
$(pop3_account timer carol carol-Pw3 implicit "$MS_POP3S_PORT" | sed 's/"poll_interval":3600/"poll_interval":2/')"
write_config "$T/config.json" "$ACCTS"
# carol's store cannot be written: her Inbox is a file, not a Maildir.
mkdir -p "$T/data/broken" && echo "in the way" >"$T/data/broken/Inbox"
start_daemon "$T/config.json"

src_sums=$(find "$T/src" -type f | sums)
for a in plain stls pop3s; do
	fetch_all "$a" 200 "$src_sums" "CRLF -> LF"
done
check "the big attachments came through (4 files over 2 MB)" \
	test "$(find "$T/data/pop3s" -type f -size +2M | wc -l)" -eq 4
check "STLS was used" grep -q 'account=stls session=[0-9]* STLS -> HANDSHAKE' "$T/daemon.log"
check "plain: one connection, as its account says" \
	eval '! grep -q "account=plain session=[0-9]* opening a second connection" "$T/daemon.log"'
for a in stls pop3s; do
	check "$a: a second connection shared the poll" \
		grep -q "account=$a session=$(pop3_second $a) done: [0-9]* messages, [0-9]* bytes\$" "$T/daemon.log"
done
check "stls: the second connection went through STLS too" \
	grep -q "account=stls session=$(pop3_second stls) STLS -> HANDSHAKE" "$T/daemon.log"
check "no password in the log" eval '! grep -q "alice-Pw1\|bob-Pw2" "$T/daemon.log"'

for a in plain stls pop3s; do
	expect_rc 0 "second poll of $a" mailctl fetch "$a" --json
	check "second poll of $a fetches 0" test "$(json 'j["accounts"][0]["new"]')" -eq 0
	check "second poll of $a checked the count and the last UIDL only" \
		grep -q "account=$a session=[0-9]* 200 messages on the server, none new (the count and the last UIDL" "$T/daemon.log"
	expect_rc 0 "status after the second poll of $a" mailctl status --json
	jcheck "status: $a's last poll did not list the mailbox, which holds 200" \
		'[(p["listed"], p["on_server"]) for a in j["accounts"] if a["name"] == "'$a'" for p in [a["poll"]["last_poll"]]] == [(False, 200)]'
done
check "store still holds 200 per account" test "$(stored plain | wc -l)" -eq 200

python3 "$TOOLS/gen_messages.py" 1 "$T/src-new" --prefix late --big 0
ms_inject_dir alice "$T/src-new" >/dev/null
expect_rc 0 "poll after one new message" mailctl fetch stls --json
check "exactly 1 new" test "$(json 'j["accounts"][0]["new"]')" -eq 1
check "and it is the new one" test "$(stored stls | sums)" = "$(find "$T/src" "$T/src-new" -type f | sums)"
check "that poll listed the mailbox: the count had changed" \
	grep -q "account=stls session=[0-9]* 201 messages on the server, 1 new, 200 seen" "$T/daemon.log"
# Another client deletes the first message, and a new one arrives: the
# count is as before, the last UIDL is not.
rm "$(ms_maildir alice)"/*/1000000001.M1P*
python3 "$TOOLS/gen_messages.py" 1 "$T/src-new2" --prefix later --big 0
ms_inject_dir alice "$T/src-new2" >/dev/null
expect_rc 0 "poll after one gone and one new" mailctl fetch stls --json
check "exactly 1 new again" test "$(json 'j["accounts"][0]["new"]')" -eq 1
check "and it is the newer one" test "$(stored stls | sums)" = "$(find "$T/src" "$T/src-new" "$T/src-new2" -type f | sums)"
check "that poll listed the mailbox: the last UIDL had changed" \
	test "$(grep -c "account=stls session=[0-9]* 201 messages on the server, 1 new, 200 seen" "$T/daemon.log")" -eq 2

# keep=false: bob's mailbox is emptied after the messages are stored.
expect_rc 0 "fetch with keep=false" mailctl fetch drain --json
check "5 new" test "$(json 'j["accounts"][0]["new"]')" -eq 5
check "bob's mailbox was emptied by the poll" test "$(ms_deliver_count bob)" -eq 0
check "bob's 5 messages are in the store" test "$(stored drain | wc -l)" -eq 5
check "5 DELE sent" test "$(grep -c 'account=drain session=[0-9]* C: DELE' "$T/daemon.log")" -eq 5
expect_rc 0 "fetch 300 with keep=false over two connections" mailctl fetch drain2 --json
check "300 new" test "$(json 'j["accounts"][0]["new"]')" -eq 300
check "dave's mailbox was emptied by the poll" test "$(ms_deliver_count dave)" -eq 0
check "dave's messages are in the store, byte-identical" \
	test "$(stored drain2 | sums)" = "$(find "$T/src-dave" -type f | sums)"
dele1=$(grep -c "account=drain2 session=$(pop3_lead drain2) C: DELE" "$T/daemon.log")
dele2=$(grep -c "account=drain2 session=$(pop3_second drain2) C: DELE" "$T/daemon.log")
check "each connection deleted what it fetched ($dele1 + $dele2 DELE)" \
	test "$dele1" -gt 0 -a "$dele2" -gt 0 -a $((dele1 + dele2)) -eq 300

# Delivery fails for carol: nothing may be deleted on the server.
expect_rc 1 "fetch with an unwritable store fails" mailctl fetch broken
contains "$ERR" "cannot" "the error says why"
check "carol still has her 5 messages on the server" test "$(ms_deliver_count carol)" -eq 5
check "no DELE sent for carol" eval '! grep -q "account=broken session=[0-9]* C: DELE" "$T/daemon.log"'

# "quick_check": false lists the mailbox at every poll.
expect_rc 0 "fetch with quick_check false" mailctl fetch fullcheck
expect_rc 0 "again" mailctl fetch fullcheck
contains "$OUT" "fullcheck: 0 new" "the second poll finds nothing new"
check "both polls listed the mailbox (UIDL), neither sent STAT" \
	test "$(grep -c 'account=fullcheck session=[0-9]* C: UIDL$' "$T/daemon.log"):$(grep -c 'account=fullcheck session=[0-9]* C: STAT' "$T/daemon.log")" = 2:0

# The timer polls by itself: carol's mail arrives without a fetch.
for i in $(seq 100); do [ "$(stored timer | wc -l)" -eq 5 ] && break; sleep 0.1; done
check "the poll timer fetched carol's 5 messages by itself" test "$(stored timer | wc -l)" -eq 5
check "and polls again on its interval" eval '[ "$(grep -c "account=timer poll starts" "$T/daemon.log")" -ge 2 ] || { sleep 3; [ "$(grep -c "account=timer poll starts" "$T/daemon.log")" -ge 2 ]; }'
expect_rc 0 "status after the polls" mailctl status --json
check "status: last poll of plain ok" test "$(json '[a for a in j["accounts"] if a["name"]=="plain"][0]["poll"]["last_poll"]["ok"]')" = True
check "status: broken account shows its error" \
	test "$(json '[a for a in j["accounts"] if a["name"]=="broken"][0]["poll"]["last_poll"]["error_kind"]')" = local
check "status: store counts" test "$(json '[a for a in j["accounts"] if a["name"]=="stls"][0]["store"]["messages"]')" -eq 202
expect_rc 0 "human status" mailctl status
contains "$OUT" "0 new, 5 on the server" "human status: a poll's new and on-server counts"
stop_clean
