#!/bin/bash
# The SMTP client session (daemon/smtp.c, driven by tests/tools/smtp-send)
# against a hostile server of our own (tests/tools/smtp_hostile.py), in
# addition to the real Postfix: odd but valid servers deliver correctly;
# endless lines, garbage codes, silence, connections closed mid-way,
# refusals at every step are each a clear result with the right class
# (exit 75 temporary, 1 permanent), never a crash or a hang; no secret is
# sent where it must not be, or logged.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip_all "python3 is not installed"
SEND=$top_builddir/tests/tools/smtp-send
[ -x "$SEND" ] || bail "$SEND not built (make check builds it)"

# start_hostile MODE: run the server, set PORT; its log is $T/MODE.log.
start_hostile() {
	rm -rf "$T/spool-$1"
	: >"$T/$1.log"
	tool_start smtp_hostile.py --log "$T/$1.log" --spool "$T/spool-$1" "$1"
	HOSTILE_PID=$TOOL_PID PORT=$TOOL_PORT
}
stop_hostile() {
	[ -n "${HOSTILE_PID:-}" ] || return 0
	kill "$HOSTILE_PID" 2>/dev/null; wait "$HOSTILE_PID" 2>/dev/null
	HOSTILE_PID=
}
t_at_exit 'stop_hostile'

# Messages: LF ends with dot lines, CRLF ends, no final line end, 8-bit.
mkdir -p "$T/msgs"
printf 'From: me@test\nTo: you@test\nSubject: lf\n\nline 1\n.leading dot\n..two dots\n.\n. space\nend\n' >"$T/msgs/lf.eml"
printf 'From: me@test\r\nTo: you@test\r\nSubject: crlf\r\n\r\nline 1\r\n.dot\r\n\r\nend\r\n' >"$T/msgs/crlf.eml"
printf 'From: me@test\nSubject: no end\n\nlast line without LF\n.' >"$T/msgs/noeol.eml"
printf 'From: me@test\nSubject: =?utf-8?q?caf=C3=A9?=\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9 \xe2\x82\xac\n' >"$T/msgs/8bit.eml"
python3 -c 'import sys; sys.stdout.write("Subject: big\n\n" + "".join("line %d of a big message\n" % i for i in range(20000)))' >"$T/msgs/big.eml"
MSG=$T/msgs/lf.eml

# send MODE ARGS...: run the driver against the server (bounded in time);
# the defaults come first, so ARGS override them (--to adds a recipient).
send() {
	local mode=$1; shift
	expect_rc "$WANT" "$mode: exit $WANT" timeout 60 "$SEND" --verbose \
		--host 127.0.0.1 --port "$PORT" --tls none --user u \
		--password secret-pw --timeout 2 --from me@test "$@"
	check "$mode: no sanitizer report, no crash" \
		eval '! grep -q "AddressSanitizer\|runtime error\|LeakSanitizer" "$T/err"'
	check "$mode: the secret is not logged" eval '! grep -q "secret-pw\|good-token" "$T/err"'
}

# run_mode MODE EXPECT-RC TEXT [ARGS...]: one server, one run, one message
# to you@test unless ARGS say otherwise; TEXT must be in the output.
run_mode() {
	local mode=$1 text=$3; WANT=$2; shift 3
	start_hostile "$mode"
	send "$mode" --to you@test "$@" "$MSG"
	contains "$OUT" "$text" "$mode: says \"$text\""
	stop_hostile
}

# Normalize a file to what must arrive: CRLF line ends, a final CRLF.
crlf() { python3 -c 'import re,sys; d=open(sys.argv[1],"rb").read(); d=re.sub(rb"(?<!\r)\n", b"\r\n", d); d += b"" if d.endswith(b"\r\n") or not d else (b"\n" if d.endswith(b"\r") else b"\r\n"); sys.stdout.buffer.write(d)' "$1"; }

# --- Valid servers: delivered, byte for byte -------------------------------
start_hostile good
WANT=0 send good --to you@test --to other@test "$T/msgs/lf.eml" "$T/msgs/crlf.eml" "$T/msgs/noeol.eml" "$T/msgs/8bit.eml"
check "good: 4 messages accepted" test "$(grep -c '"type":"message","file":[^,]*,"error":"ok"' <<<"$OUT")" -eq 4
check "good: every recipient accepted" test "$(grep -c '"accepted":true' <<<"$OUT")" -eq 8
check "good: one connection for all" test "$(grep -c ' OPEN' "$T/good.log")" -eq 1
check "good: pipelined" grep -q "pipelined MAIL, 2 RCPT, DATA" "$T/err"
check "good: no bare LF on the wire" eval '! grep -q BARE-LF "$T/good.log"'
i=0
for f in lf crlf noeol 8bit; do
	i=$((i + 1))
	check "good: $f.eml arrived intact (CRLF, dots unstuffed)" \
		cmp -s "$T/spool-good/msg-000$i.eml" <(crlf "$T/msgs/$f.eml")
done
check "good: SIZE= sent" grep -q "C: MAIL FROM:<me@test> SIZE=[0-9]" "$T/good.log"
check "good: BODY=8BITMIME only for the 8-bit message" \
	test "$(grep -c 'BODY=8BITMIME' "$T/good.log")" -eq 1
check "good: AUTH PLAIN logged masked" grep -q "C: AUTH PLAIN \*\*\*\*\*\*\*\*$" "$T/err"
check "good: QUIT at the end" grep -q "C: QUIT" "$T/good.log"
stop_hostile

run_mode nopipelining 0 '"error":"ok"' --to other@test
check "nopipelining: one command at a time" eval '! grep -q EARLY "$T/nopipelining.log"'
run_mode noext 0 '"error":"ok"' --auth none
check "noext: fell back to HELO" grep -q "C: HELO" "$T/noext.log"
check "noext: no EARLY command" eval '! grep -q EARLY "$T/noext.log"'
run_mode noext 1 'does not offer AUTH (it answered HELO, not EHLO)'
run_mode lf-only 0 '"error":"ok"'
run_mode slow-drip 0 '"error":"ok"'
run_mode good 0 '"error":"ok"' --auth login
check "login: AUTH LOGIN went through" grep -q "AUTH-OK LOGIN u" "$T/good.log"
run_mode good 0 '"error":"ok"' --auth xoauth2 --password good-token
check "xoauth2: accepted" grep -q "AUTH-OK XOAUTH2 u" "$T/good.log"
run_mode good 1 'authentication as \"u\" (XOAUTH2) failed: 127.0.0.1:' --auth xoauth2 --password bad-token
check "xoauth2: the error challenge was answered with an empty line" grep -q "XOAUTH2-ANSWER ''" "$T/good.log"
contains "$OUT" "said 535 5.7.8" "xoauth2: with the server's 535 5.7.8"
run_mode good 1 'said 535 5.7.8 Error: authentication failed' --password wrong
contains "$OUT" '"error":"auth","temporary":false' "wrong password: a permanent auth error"

# --- Refusals: per recipient, per message ----------------------------------
run_mode good 75 '"addr":"busy@test","code":452,"enhanced":"4.2.2"' --to busy@test
contains "$OUT" '"addr":"you@test","code":250' "452 on one RCPT: the other recipient got it"
contains "$OUT" '"addr":"busy@test","code":452,"enhanced":"4.2.2","text":"<busy@test>: Mailbox full, try later","temporary":true' "452: the recipient's failure is temporary, with the server's text"
run_mode good 1 '"addr":"reject@test","code":550,"enhanced":"5.1.1"' --to reject@test
contains "$OUT" '"error":"ok"' "550 on one RCPT: the message still went to the other"
run_mode good 1 'refused 2 of 3 recipients: <reject@test> 550 5.1.1 <reject@test>: Recipient address rejected' --to reject@test --to reject2@test
WANT=1
start_hostile good
send all-refused --to reject@test --to reject2@test "$MSG"
contains "$OUT" '"error":"rejected","temporary":false' "all recipients refused: rejected, permanent"
contains "$OUT" 'refused every recipient: <reject@test> 550 5.1.1' "all refused: each recipient's reply in the message"
stop_hostile
start_hostile busy-once
WANT=75 send busy-once --to you@test "$T/msgs/lf.eml" "$T/msgs/crlf.eml"
contains "$OUT" '"file":"'"$T/msgs/lf.eml"'","error":"rejected","temporary":true' "busy-once: first message failed temporarily"
contains "$OUT" '"file":"'"$T/msgs/crlf.eml"'","error":"ok"' "busy-once: second message sent over the same connection"
check "busy-once: RSET before the second transaction" grep -q "C: RSET" "$T/busy-once.log"
check "busy-once: one connection" test "$(grep -c ' OPEN' "$T/busy-once.log")" -eq 1
stop_hostile
MSG=$T/msgs/big.eml run_mode small-size 1 "bytes, 127.0.0.1:"
contains "$OUT" "accepts at most 1000" "small-size: names the server's limit"
check "small-size: no MAIL was sent" eval '! grep -q "C: MAIL" "$T/small-size.log"'
run_mode mail-553 1 'said 553 5.7.1 <me@test>: Sender address rejected'
run_mode mail-421 75 'said 421 4.4.2'
run_mode data-554 1 'said 554 5.7.1 Message rejected as spam'
run_mode data-451 75 'said 451 4.3.0'
MSG=$T/msgs/big.eml run_mode early-554 1 'said 554 5.3.4 Message too big for system'
run_mode greeting-421 75 'said 421 4.3.2 Service shutting down'
run_mode greeting-554 1 'refused the connection: 127.0.0.1:'
check "greeting-554: said QUIT" grep -q "C: QUIT" "$T/greeting-554.log"

# --- Broken servers: clear errors, no hang -----------------------------------
run_mode endless-line 75 'line longer than 4096 bytes (in GREETING)'
run_mode endless-ehlo-line 75 'line longer than 4096 bytes (in EHLO)'
run_mode huge-ehlo 75 'too many lines'
run_mode garbage-code 75 'bad reply in GREETING (no valid reply code): \"abc garbage\"'
run_mode bad-multiline 75 'different codes'
run_mode silence 75 'timed out after 2 s waiting for the server (in GREETING)'
run_mode silence-rcpt 75 'timed out after 2 s waiting for the server (in RCPT)'
run_mode close-after-rcpt 75 'the server closed the connection (in RCPT)'
MSG=$T/msgs/big.eml run_mode close-mid-data 75 '"error":"network","temporary":true'
contains "$OUT" '"closed":true' "close-mid-data: the session is over"

# --- TLS policy: never downgrade, never leak -----------------------------------
run_mode no-starttls 1 'does not offer STARTTLS (tls is \"starttls\"); nothing was sent' --tls starttls
check "no-starttls: no AUTH was sent" eval '! grep -q "C: AUTH" "$T/no-starttls.log"'
check "no-starttls: no MAIL was sent" eval '! grep -q "C: MAIL" "$T/no-starttls.log"'
run_mode starttls-454 75 'STARTTLS refused: 127.0.0.1:' --tls starttls
run_mode starttls-inject 1 'sent data before the TLS handshake' --tls starttls
check "starttls-inject: no AUTH was sent" eval '! grep -q "C: AUTH" "$T/starttls-inject.log"'

# --- Local problems: before any connection -------------------------------------
start_hostile good
WANT=1 send bad-address --to "$(printf 'x@test>\r\nRSET')" "$MSG"
contains "$OUT" 'bad recipient address' "a recipient with CRLF is refused"
check "bad-address: no connection was made" eval '! grep -q "OPEN" "$T/good.log"'
stop_hostile
WANT=75 send refused-port --port 1 --to you@test "$MSG"
contains "$OUT" '"error":"network","temporary":true' "connection refused: a temporary network error"
contains "$OUT" 'cannot connect to 127.0.0.1:1' "connection refused: says so"
