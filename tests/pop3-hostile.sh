#!/bin/bash
# POP3 against a hostile server of our own (tests/tools/pop3_hostile.py), in
# addition to the real Dovecot: endless lines, garbage, silence, a connection
# closed or reset mid-RETR, LIST sizes that lie, a message that never ends,
# a huge listing. Each is a clear error (or, where the server is merely odd,
# a correct fetch); never a partial file in the store, never a crash, memory
# bounded; the daemon keeps answering.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip_all "python3 is not installed"
HOSTILE_PROTO=pop3
. "$(dirname "$0")/hostile-lib.sh"

write_config "$T/config.json"
start_daemon "$T/config.json"

# Odd but valid servers: a correct fetch.
run_mode good 0 "good: 3 new"
check "good: stored messages equal the server's (CRLF -> LF, unstuffed)" \
	test "$(stored good | sums)" = "$(dump_lf "$T/expect" --messages 3 good)"
run_mode nocapa 0 "nocapa: 3 new"
run_mode apop 0 "apop: 3 new"
check "apop: logged in with APOP" grep -q "account=apop session=[0-9]* C: APOP" "$T/daemon.log"
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	HOST=::1 NAME=ipv6 run_mode good 0 "ipv6: 3 new"
else
	ok "# SKIP no IPv6 loopback here"
fi
run_mode nouidl 0 "nouidl: 3 new"
start_hostile nouidl
use_account nouidl
expect_rc 0 "nouidl: second poll" mailctl fetch nouidl
contains "$OUT" "nouidl: 0 new" "nouidl: content hashes drop what is already stored"
check "nouidl: still 3 messages stored" test "$(stored nouidl | wc -l)" -eq 3
hostile_stop
# tls starttls against a server without STLS: no password may go out.
start_hostile good
TLS=starttls use_account nostls
: >"$T/hostile.log"
expect_rc 1 "nostls: fetch fails" mailctl fetch nostls
contains "$ERR" "does not offer STLS" "nostls: says the server does not offer STLS"
check "nostls: no USER or PASS went out" eval '! grep -q "C: \(USER\|PASS\)" "$T/hostile.log"'
hostile_stop
# A poll that handled the whole mailbox leaves a mark (the count and the
# last UIDL): up to 11 polls in a row then check only that (STAT and
# "UIDL n", pipelined when the server allows) before the next lists the
# mailbox again. A server that files new mail in the middle, in place of a
# message gone meanwhile, keeps both: that mail waits for the full listing,
# or comes at once with "quick_check": false.
want_mid=$(dump_lf "$T/expect-mid" --messages 4 good)
start_hostile middle-new --messages 4
use_account quick
: >"$T/hostile.log"
expect_rc 0 "quick: first poll" mailctl fetch quick
contains "$OUT" "quick: 3 new" "quick: the first poll fetches the 3 there are"
news=
for i in $(seq 2 13); do
	news="$news $(mailctl fetch quick | grep -o '[0-9]* new')"
done
check "quick: polls 2-12 find nothing, poll 13 lists and finds the new one ($news)" \
	test "$(echo $news)" = "0 new 0 new 0 new 0 new 0 new 0 new 0 new 0 new 0 new 0 new 0 new 1 new"
check "quick: 11 polls checked the count and the last UIDL only" \
	test "$(grep -c 'account=quick session=[0-9]* 3 messages on the server, none new (the count and the last UIDL are as the last poll left them)' "$T/daemon.log")" -eq 11
check "quick: with STAT and UIDL 3 pipelined" \
	test "$(grep -c '^[0-9]* C: UIDL 3$' "$T/hostile.log")" -eq 11
check "quick: two full listings in 13 polls" \
	test "$(grep -c '^[0-9]* C: UIDL$' "$T/hostile.log")" -eq 2
check "quick: each message once, as the server has it" \
	test "$(stored quick | sums)" = "$want_mid"
# The same account told keep=false: the mark of a full mailbox is no use,
# the seen messages are to be deleted.
use_account quick ',"keep":false'
: >"$T/hostile.log"
expect_rc 0 "quick: a poll with keep=false" mailctl fetch quick
check "quick: it listed the mailbox and deleted the 3 messages there" \
	test "$(grep -c '^[0-9]* C: UIDL$' "$T/hostile.log"):$(grep -c '^[0-9]* C: DELE' "$T/hostile.log")" = 1:3
hostile_stop
start_hostile middle-new --messages 4
use_account full ',"quick_check":false'
expect_rc 0 "full: first poll" mailctl fetch full
expect_rc 0 "full: second poll" mailctl fetch full
contains "$OUT" "full: 1 new" "full: without quick_check the second poll finds the new one"
check "full: each message once, as the server has it" \
	test "$(stored full | sums)" = "$want_mid"
hostile_stop
# Without PIPELINING (no CAPA), "UIDL n" waits for STAT's answer.
start_hostile nocapa
use_account nocapa
: >"$T/hostile.log"
expect_rc 0 "nocapa: a poll that lists" mailctl fetch nocapa
expect_rc 0 "nocapa: a poll that checks the mark" mailctl fetch nocapa
check "nocapa: STAT, its answer, then UIDL 3" \
	test "$(grep -A2 'C: STAT$' "$T/hostile.log" | cut -d' ' -f2- | tr '\n' '|')" = "C: STAT|S: +OK 3 6000|C: UIDL 3|"
contains "$OUT" "nocapa: 0 new" "nocapa: nothing new"
hostile_stop
run_mode slow-drip 0 "slow-drip: 3 new" --messages 3 --size 1500
run_mode list-lies 0 "list-lies: 2 new" --messages 2 --size 5000000
check "list-lies: the 5 MB messages are whole" test "$(find "$T/data/list-lies" -type f -size +4M | wc -l)" -eq 2
run_mode list-lies-small 0 "list-lies-small: 3 new"

# A poll of 200 new messages runs over two connections. A server that
# locks the maildrop refuses the second login; one whose second connection
# dies mid-message gets that connection's share fetched by the first.
# Either way every message is stored once, whole.
want200=$(dump_lf "$T/expect200" --messages 200 --size 1000 good)
run_mode in-use 0 "in-use: 200 new" --messages 200 --size 1000
check "in-use: the second login was refused, the first went on alone" \
	grep -q "account=in-use session=$(pop3_second in-use) failed in PASS: login failed: \"-ERR \\[IN-USE\\]" "$T/daemon.log"
check "in-use: each message once, as the server has it" \
	test "$(stored in-use | sums)" = "$want200"
run_mode second-dies 0 "second-dies: 200 new" --messages 200 --size 1000
# Closed by the server: seen as the end of the stream, or as an error (a
# broken pipe, a reset) when RETRs still going out meet the closed socket.
check "second-dies: the second connection fetched some, then died" \
	grep -q "account=second-dies session=$(pop3_second second-dies) done: 2 messages, .*ended early: \\(the server closed the connection\\|connection error in TRANSFER\\)" "$T/daemon.log"
check "second-dies: what it had asked for went back to the first" \
	grep -q "account=second-dies session=$(pop3_second second-dies) [0-9]* messages go back to the first connection" "$T/daemon.log"
check "second-dies: each message once, as the server has it" \
	test "$(stored second-dies | sums)" = "$want200"

# Broken servers: a clear error.
run_mode endless-greeting 1 "line longer than 8192 bytes"
run_mode endless-line 1 "line longer than 8192 bytes"
run_mode endless-line-retr 1 "line longer than 8192 bytes"
run_mode garbage 1 "the server"
run_mode bad-greeting 1 'refused the connection: "-ERR go away"'
run_mode silence 75 "timed out after 2 s waiting for the server (in GREETING)"
run_mode silence-retr 75 "timed out after 2 s waiting for the server (in TRANSFER)"
run_mode close-mid-retr 75 "the server closed the connection (in TRANSFER)"
check "close-mid-retr: the complete message 1 was kept, not the half" test "$(stored close-mid-retr | wc -l)" -eq 1
run_mode reset-mid-retr 75 "connection error in TRANSFER"
run_mode err-retr 1 "refused message 1 (RETR)"
run_mode never-ending 1 "larger than 268435456 bytes"
check "never-ending: nothing stored" test "$(stored never-ending | wc -l)" -eq 0
run_mode huge-multiline 1 "more than 500000 messages"

hwm=$(($(daemon_kb VmHWM) / 1024))
check "peak memory ${hwm} MB stayed under $((96 * RSS_SCALE)) MB" test "$hwm" -lt $((96 * RSS_SCALE))
check "no password in the log" eval '! grep -q secret-pw "$T/daemon.log"'
stop_clean "clean stop after all that"
