#!/bin/bash
# The SMTP client session (daemon/smtp.c, driven by tests/tools/smtp-send)
# against a REAL Postfix (tests/servers/mailservers.sh) with Dovecot SASL:
# STARTTLS + AUTH PLAIN and LOGIN on submission, implicit TLS, AUTH in
# clear with tls "none"; messages reach every recipient once, byte for
# byte (dot lines, CRLF and LF files, 8-bit); 20 messages over one
# connection; a refused recipient does not stop the others; wrong
# password, missing STARTTLS, wrong certificate, SIZE limit, Postfix down
# each give a clear result of the right class; a 20 MB message is sent
# with bounded memory.
. "$(dirname "$0")/lib.sh"
use_mail_servers
command -v postfix >/dev/null || skip_all "postfix is not installed (tests/servers/install-deps)"
SEND=$top_builddir/tests/tools/smtp-send
[ -x "$SEND" ] || bail "$SEND not built (make check builds it)"

ms_add_user alice 'alice-Pw1'
ms_add_user bob 'bob-Pw2'
ms_add_user carol 'carol-Pw3'
ms_add_reject nobody@mail.test
ms_start >/dev/null || bail "cannot start dovecot and postfix"
PFLOG=$(ms_log postfix)

# submit WANT WHAT ARGS...: the driver against 127.0.0.1, trusting the
# servers' certificate; ARGS override the defaults.
submit() {
	local want=$1 what=$2; shift 2
	expect_rc "$want" "$what" timeout 300 "$SEND" --verbose --host 127.0.0.1 \
		--ca-file "$MS_CA_FILE" --timeout 20 --from alice@mail.test "$@"
	check "$what: no sanitizer report" \
		eval '! grep -q "AddressSanitizer\|runtime error\|LeakSanitizer" "$T/err"'
	check "$what: no password in the log" eval '! grep -q "alice-Pw1\|bob-Pw2\|carol-Pw3" "$T/err"'
}
STARTTLS_ALICE=(--port "$MS_SMTP_PORT" --tls starttls --user alice --password alice-Pw1)

# Test messages: full headers (Postfix adds none of its own then), dot
# lines, CRLF or LF, 8-bit, no final line end.
gen() { # FILE ID EOL [EXTRA-BODY]
	python3 - "$@" <<'EOF'
import sys
path, mid, eol = sys.argv[1], sys.argv[2], sys.argv[3]
extra = sys.argv[4] if len(sys.argv) > 4 else ""
lines = ["From: Alice <alice@mail.test>", "To: Bob <bob@mail.test>",
         "Subject: smtp test %s" % mid, "Message-ID: <%s@mail.test>" % mid,
         "Date: Mon, 02 Nov 2026 10:00:00 +0000", "MIME-Version: 1.0",
         "Content-Type: text/plain; charset=utf-8",
         "Content-Transfer-Encoding: 8bit", "",
         "Hello,", ".a line starting with a dot", "..two dots", ".",
         ". dot space", "", "end of " + mid]
text = eol.encode().join(l.encode() for l in lines) + eol.encode()
text += extra.encode("utf-8")
open(path, "wb").write(text)
EOF
}
mkdir -p "$T/m"
gen "$T/m/lf.eml" lf-1 $'\n'
gen "$T/m/crlf.eml" crlf-1 $'\r\n'
gen "$T/m/8bit.eml" 8bit-1 $'\n' $'caf\u00e9 \u20ac \u00fc\n'
gen "$T/m/noeol.eml" noeol-1 $'\n' 'no final line end'
gen "$T/m/reject.eml" reject-1 $'\n'

# delivered USER ID FILE: USER got exactly one message with Message-ID ID,
# and it ends with FILE (LF line ends; Postfix only prepends Return-Path,
# Delivered-To and Received).
delivered() {
	python3 - "$(ms_maildir "$1")" "$2" "$3" <<'EOF'
import glob, sys
md, mid, orig = sys.argv[1:4]
o = open(orig, "rb").read().replace(b"\r\n", b"\n")
if not o.endswith(b"\n"):
    o += b"\n"
hits = []
for f in glob.glob(md + "/new/*") + glob.glob(md + "/cur/*"):
    if ("<%s@mail.test>" % mid).encode() in open(f, "rb").read():
        hits.append(f)
if len(hits) != 1:
    print("# %s: %d copies of %s" % (md, len(hits), mid))
    sys.exit(1)
d = open(hits[0], "rb").read()
if not d.endswith(o):
    print("# %s: %s differs from %s" % (hits[0], mid, orig))
    sys.exit(1)
EOF
}
# wait_all COUNT USER...: wait until each USER has COUNT messages.
wait_all() {
	local n=$1 u; shift
	for u in "$@"; do ms_wait_delivered "$u" "$n" 30 || return 1; done
}

# --- STARTTLS + AUTH PLAIN, three recipients -------------------------------
submit 0 "STARTTLS + AUTH PLAIN to 3 users" "${STARTTLS_ALICE[@]}" \
	--to alice@mail.test --to bob@mail.test --to carol@mail.test "$T/m/lf.eml"
contains "$OUT" '"error":"ok","temporary":false,"message":null,"accepted":3' "accepted for all 3"
contains "$OUT" '"code":250,"enhanced":"2.0.0","text":"Ok: queued as' "each recipient has Postfix's queue id"
check "STARTTLS was used" grep -q "STARTTLS -> HANDSHAKE" "$T/err"
check "authenticated with PLAIN over TLS" grep -q 'ready (TLS, AUTH PLAIN)' "$T/err"
check "AUTH logged masked" grep -q 'C: AUTH PLAIN \*\*\*\*\*\*\*\*$' "$T/err"
check "MAIL, RCPT, DATA pipelined" grep -q "pipelined MAIL, 3 RCPT, DATA" "$T/err"
check "delivered to alice, bob and carol" wait_all 1 alice bob carol
for u in alice bob carol; do
	check "$u got it once, intact (dot lines too)" delivered $u lf-1 "$T/m/lf.eml"
done

# --- AUTH LOGIN, a CRLF file ---------------------------------------------------
submit 0 "STARTTLS + AUTH LOGIN" "${STARTTLS_ALICE[@]}" --auth login \
	--to bob@mail.test "$T/m/crlf.eml"
check "authenticated with LOGIN" grep -q 'authenticated as "alice" (LOGIN)' "$T/err"
check "bob got the CRLF file intact" eval 'wait_all 2 bob && delivered bob crlf-1 "$T/m/crlf.eml"'

# --- Implicit TLS: 8-bit and a file without a final line end ---------------
submit 0 "implicit TLS (SMTPS) to 3 users" --port "$MS_SMTPS_PORT" --tls implicit \
	--user alice --password alice-Pw1 --to alice@mail.test --to bob@mail.test \
	--to carol@mail.test "$T/m/8bit.eml" "$T/m/noeol.eml"
check "BODY=8BITMIME for the 8-bit file" grep -q "C: MAIL FROM:<alice@mail.test> SIZE=[0-9]* BODY=8BITMIME" "$T/err"
check "no STARTTLS on the implicit port" eval '! grep -q "C: STARTTLS" "$T/err"'
check "delivered" wait_all 3 alice carol
check "delivered to bob" wait_all 4 bob
for u in alice bob carol; do
	check "$u: 8-bit bytes intact" delivered $u 8bit-1 "$T/m/8bit.eml"
	check "$u: missing final line end added" delivered $u noeol-1 "$T/m/noeol.eml"
done

# --- tls "none": AUTH in clear where the server allows it -------------------
submit 0 "tls none on the plain port (AUTH in clear)" --port "$MS_SMTP_PLAIN_PORT" \
	--tls none --user carol --password carol-Pw3 --from carol@mail.test \
	--to carol@mail.test "$T/m/reject.eml"
check "authenticated without TLS, as configured" grep -q 'ready (no TLS, AUTH PLAIN)' "$T/err"
check "delivered" wait_all 4 carol

# --- 20 messages over one connection -------------------------------------
for i in $(seq -w 1 20); do gen "$T/m/many-$i.eml" "many-$i" $'\n'; done
before=$(grep -c 'postfix/submission/smtpd\[[0-9]*\]: connect from' "$PFLOG")
submit 0 "20 messages in one session" "${STARTTLS_ALICE[@]}" --to alice@mail.test "$T"/m/many-*.eml
check "20 accepted" test "$(grep -c '"type":"message".*"error":"ok"' <<<"$OUT")" -eq 20
contains "$OUT" '"type":"end","sessions":1' "one session"
check "20 delivered" wait_all 23 alice
sleep 0.5
after=$(grep -c 'postfix/submission/smtpd\[[0-9]*\]: connect from' "$PFLOG")
check "Postfix saw one connection for the 20 ($((after - before)))" test $((after - before)) -eq 1
check "no RSET after successful messages" eval '! grep -q "C: RSET" "$T/err"'
check "each message intact" eval 'for i in 01 10 20; do delivered alice many-$i "$T/m/many-$i.eml" || exit 1; done'

# --- A refused recipient -------------------------------------------------------
submit 1 "one recipient refused (550 5.1.1)" "${STARTTLS_ALICE[@]}" \
	--to alice@mail.test --to nobody@mail.test --to bob@mail.test "$T/m/reject.eml"
contains "$OUT" '"addr":"nobody@mail.test","code":550,"enhanced":"5.1.1","text":"<nobody@mail.test>: Recipient address rejected: <nobody@mail.test>: Recipient address rejected (test)","temporary":false,"accepted":false' \
	"nobody@mail.test: 550 5.1.1 with Postfix's text"
contains "$OUT" '"error":"ok","temporary":false,"message":"127.0.0.1:'"$MS_SMTP_PORT"' refused 1 of 3 recipients: <nobody@mail.test> 550 5.1.1' \
	"the message went to the others; the refusal is summarized"
check "alice and bob got it" eval 'wait_all 24 alice && wait_all 5 bob && delivered alice reject-1 "$T/m/reject.eml" && delivered bob reject-1 "$T/m/reject.eml"'

# --- Failures: each clear, each classified -------------------------------------
submit 1 "wrong password" --port "$MS_SMTP_PORT" --tls starttls --user alice \
	--password wrong-password --to alice@mail.test "$T/m/lf.eml"
contains "$OUT" '"error":"auth","temporary":false' "wrong password: a permanent auth error"
contains "$OUT" 'authentication as \"alice\" (PLAIN) failed: 127.0.0.1:'"$MS_SMTP_PORT"' said 535 5.7.8' "wrong password: with Postfix's 535 5.7.8"
check "wrong password: not logged" eval '! grep -q wrong-password "$T/err"'

sleep 0.3
submit 1 "tls starttls on a port without STARTTLS" --port "$MS_SMTP_PLAIN_PORT" \
	--tls starttls --user alice --password alice-Pw1 --to alice@mail.test "$T/m/lf.eml"
contains "$OUT" 'does not offer STARTTLS (tls is \"starttls\")' "no STARTTLS: refused"
contains "$OUT" '"error":"tls","temporary":false' "no STARTTLS: a permanent TLS error"
sleep 1
check "no STARTTLS: Postfix saw EHLO and QUIT, no AUTH" eval \
	'grep "postfix/plain/smtpd\[[0-9]*\]: disconnect from" "$PFLOG" | tail -1 | grep -q " ehlo=1 quit=1 commands=2"'

submit 1 "certificate for another name (STARTTLS)" --port "$MS_SMTP_WRONG_PORT" \
	--tls starttls --user alice --password alice-Pw1 --to alice@mail.test "$T/m/lf.eml"
contains "$OUT" 'TLS certificate verification failed' "wrong certificate: verification failed"
check "wrong certificate: no AUTH sent" eval '! grep -q "C: AUTH" "$T/err"'
submit 1 "certificate for another name (implicit)" --port "$MS_SMTPS_WRONG_PORT" \
	--tls implicit --user alice --password alice-Pw1 --to alice@mail.test "$T/m/lf.eml"
contains "$OUT" '"error":"tls","temporary":false' "wrong certificate: a permanent TLS error"

python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    f.write("From: alice@mail.test\nSubject: big\nMessage-ID: <big-%s@mail.test>\n\n" % sys.argv[2])
    line = "%s\n" % ("0123456789abcdef" * 4)
    f.write(line * (int(sys.argv[3]) // len(line)))
' "$T/m/11m.eml" 11m 11000000
submit 1 "11 MB over Postfix's SIZE limit" "${STARTTLS_ALICE[@]}" --to alice@mail.test "$T/m/11m.eml"
contains "$OUT" "bytes, 127.0.0.1:$MS_SMTP_PORT accepts at most 10240000" "SIZE: refused before MAIL, with the limit"
check "SIZE: no MAIL sent" eval '! grep -q "C: MAIL" "$T/err"'

# --- A 20 MB message: bounded memory ---------------------------------------
postconf -c "$MS_DIR/postfix" -e message_size_limit=40000000
touch -d "@$(($(date +%s) - 60))" "$MS_DIR/postfix/main.cf"
postfix -c "$MS_DIR/postfix" reload >/dev/null 2>&1
sleep 1
python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    f.write("From: alice@mail.test\nTo: bob@mail.test\nSubject: big\n"
            "Message-ID: <big-20m@mail.test>\n"
            "Date: Mon, 02 Nov 2026 10:00:00 +0000\n\n")
    i = 0
    while f.tell() < 20 * 1024 * 1024:
        f.write(".%08d line of a big message, dot-stuffed on the wire ....\n" % i)
        i += 1
' "$T/m/20m.eml"
submit 0 "a 20 MB message over STARTTLS" "${STARTTLS_ALICE[@]}" --to bob@mail.test "$T/m/20m.eml"
hwm=$(sed -n 's/.*"vmhwm_kb":\([0-9]*\).*/\1/p' <<<"$OUT")
echo "# peak RSS sending 20 MB: ${hwm} KiB (limit $((16 * RSS_SCALE)) MiB)"
check "peak RSS ${hwm} KiB stays under $((16 * RSS_SCALE)) MiB" test "${hwm:-999999}" -lt $((16 * 1024 * RSS_SCALE))
check "the 20 MB message arrived intact" eval 'wait_all 6 bob && delivered bob big-20m "$T/m/20m.eml"'
submit 0 "a 20 MB message over implicit TLS" --port "$MS_SMTPS_PORT" --tls implicit \
	--user alice --password alice-Pw1 --to carol@mail.test "$T/m/20m.eml"
hwm=$(sed -n 's/.*"vmhwm_kb":\([0-9]*\).*/\1/p' <<<"$OUT")
echo "# peak RSS sending 20 MB over implicit TLS: ${hwm} KiB"
check "implicit TLS: peak RSS ${hwm} KiB stays under $((16 * RSS_SCALE)) MiB" test "${hwm:-999999}" -lt $((16 * 1024 * RSS_SCALE))
check "implicit TLS: arrived intact" eval 'wait_all 5 carol && delivered carol big-20m "$T/m/20m.eml"'

# --- Postfix down ----------------------------------------------------------------
ms_stop_postfix
submit 75 "Postfix stopped" "${STARTTLS_ALICE[@]}" --to alice@mail.test "$T/m/lf.eml"
contains "$OUT" '"error":"network","temporary":true' "Postfix stopped: a temporary network error"
contains "$OUT" "cannot connect to 127.0.0.1:$MS_SMTP_PORT" "Postfix stopped: says it cannot connect"
