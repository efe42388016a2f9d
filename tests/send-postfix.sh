#!/bin/bash
# mailctl send and the outbox against a REAL Postfix (STARTTLS + AUTH
# through Dovecot) and Dovecot: a round trip with To, Cc and Bcc, a UTF-8
# subject and display name and three attachments, fetched back over POP3
# by mailctl and checked with Python's email package; refusals before
# queueing; Postfix down -> deferred with the reason, then delivered after
# the retry (send --wait: EX_TEMPFAIL at the first delay); a recipient
# refused with 550 while the others get it; the copy in Sent; queue cancel;
# hooks.sent and hooks.send_failed; watch --json sees sent, new_mail and
# send_failed in order.
. "$(dirname "$0")/lib.sh"
use_mail_servers
command -v postfix >/dev/null || skip_all "postfix is not installed (tests/servers/install-deps)"

ms_add_user alice 'alice-Pw1'
ms_add_user bob 'bob-Pw2'
ms_add_user carol 'carol-Pw3'
ms_add_user dave 'dave-Pw4'
ms_add_reject nobody@mail.test
ms_start >/dev/null || bail "cannot start dovecot and postfix"

# smtp_account NAME USER PASSWORD [POP3-JSON]: alice's sending account.
account() {
	printf '{"name":"%s","email":"%s@mail.test","display_name":"%s","smtp":{"host":"127.0.0.1","port":%s,"tls":"starttls","ca_file":"%s","user":"%s","password":"%s","timeout":20}' \
		"$1" "$2" "$4" "$MS_SMTP_PORT" "$MS_CA_FILE" "$2" "$3"
	printf ',"pop3":{"host":"127.0.0.1","port":%s,"tls":"implicit","ca_file":"%s","user":"%s","password":"%s","poll_interval":3600}}' \
		"$MS_POP3S_PORT" "$MS_CA_FILE" "$2" "$3"
}
write_config "$T/config.json" "$(account alice alice alice-Pw1 'Alice Nguyễn'),$(account bob bob bob-Pw2 Bob),$(account carol carol carol-Pw3 Carol),$(account dave dave dave-Pw4 Dave)"
# Short retries for the Postfix-down case.
python3 - "$T/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["queue"] = {"retry_min": 1, "retry_max": 2, "expire": 3600}
# hooks.sent and hooks.send_failed: argv and MAILCTL_* values, one line each.
line = ('printf "%s\\n" "$0|$1|$2|$3|$4|$5|$MAILCTL_ID|$MAILCTL_ACCOUNT|'
        '$MAILCTL_RECIPIENTS|$MAILCTL_SUBJECT|$MAILCTL_REPLY" >>"$HOOKS_OUT"')
args = ["{id}", "{account}", "{recipients}", "{subject}", "{reply}"]
c["hooks"] = {"sent": ["sh", "-c", line, "sent"] + args,
              "send_failed": ["sh", "-c", line, "failed"] + args}
json.dump(c, open(sys.argv[1], "w"))
EOF
export HOOKS_OUT=$T/hooks.out
start_daemon "$T/config.json"
mc() { "$MAILCTL" --socket "$SOCK" "$@"; }
# A send --wait that never hears back fails the test instead of hanging it.
mcw() { timeout 60 "$MAILCTL" --socket "$SOCK" "$@"; }
mc watch --json >"$T/watch.json" 2>"$T/watch.err" &
WATCH=$!
mc watch >"$T/watch.txt" 2>&1 &
WATCH2=$!
t_at_exit "kill $WATCH $WATCH2 2>/dev/null"
for _ in $(seq 50); do
	[ "$(mc status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["clients"])')" -ge 3 ] && break
	sleep 0.1
done

# --- attachments ------------------------------------------------------------
mkdir -p "$T/att" "$T/saved"
printf 'plain text attachment\nline two\n' >"$T/att/notes.txt"
head -c 3040870 /dev/urandom >"$T/att/data.bin"		# 2.9 MB
python3 - "$T/att/pixel.png" <<'EOF'
import sys, zlib, struct
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
raw = b"".join(b"\0" + bytes([x % 256, 64, 200] * 1) * 1 for x in range(16))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 16, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
EOF
head -c 3250586 /dev/urandom >"$T/att/big.bin"		# 3.1 MB

# --- refused before queueing --------------------------------------------------
refused() { # WHAT NEEDLE ARGS...
	local what=$1 needle=$2; shift 2
	expect_rc 65 "refused: $what" mc send --subject x --body y "$@"
	contains "$(cat "$T/err")" "$needle" "refused: $what: says why"
}
refused "3.1 MB attachment" "big.bin" --to bob@mail.test --attach "$T/att/big.bin"
refused "bad address" "to[0]" --to 'bob@@mail.test'
refused "CR/LF in the subject" "subject" --to bob@mail.test --subject $'hi\r\nBcc: x@mail.test'
refused "no recipient" "no recipients"
expect_rc 66 "refused: missing attachment" mc send --to bob@mail.test --subject x --body y --attach "$T/att/missing.pdf"
contains "$(cat "$T/err")" "missing.pdf" "refused: missing attachment: names it"
check "nothing was queued by the refusals" eval '[ "$(mc queue --json)" = "[]" ]'
check "no file in the queue directory" eval '[ -z "$(ls -A "$T/data/queue" 2>/dev/null)" ]'

# --- round trip -----------------------------------------------------------------
SUBJ='Bewerbung für die Stelle — 履歴書'
expect_rc 0 "send with To, Cc, Bcc and three attachments, --wait" \
	mcw send --account alice --to bob@mail.test --cc carol@mail.test --bcc dave@mail.test \
	--subject "$SUBJ" --body $'Hello Bob,\n\nplease find my documents attached.\n.\nAlice\n' \
	--attach "$T/att/notes.txt" --attach "$T/att/data.bin" --attach "$T/att/pixel.png" --wait --json
jcheck "send with To, Cc, Bcc and three attachments, --wait: result" 'j["state"] == "sent" and sorted(x["address"] for x in j["recipients"]) == ["bob@mail.test", "carol@mail.test", "dave@mail.test"]'
jcheck "send with To, Cc, Bcc and three attachments, --wait: result" 'all(x["state"] == "sent" and x["reply"].startswith("250") for x in j["recipients"])'
RT_ID=$(json 'j["id"]') RT_SUBJECT=$SUBJ
for u in bob carol dave; do
	check "$u got it" ms_wait_delivered "$u" 1 20
done
check "the queue is empty once sent" eval '[ "$(mc queue --json)" = "[]" ]'

# Each recipient fetches it back with mailctl and saves the attachments.
for u in bob carol dave; do
	expect_rc 0 "$u: fetch" mc fetch "$u" --json
	jcheck "$u: fetch: result" 'j["accounts"][0]["new"] == 1'
	expect_rc 0 "$u: ls" mc ls Inbox --account "$u" --json
	jcheck "$u: ls: result" 'len(j) == 1 and j[0]["attachments"] == 3'
	ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$T/out")
	expect_rc 0 "$u: read" mc read "$ID" --json
	jcheck "$u: read: result" 'j["subject"] == "Bewerbung für die Stelle — 履歴書" and j["from"] == "Alice Nguyễn <alice@mail.test>"'
	jcheck "$u: read: result" '"dave" not in (j.get("to") or "") + (j.get("cc") or "") and j["to"] == "bob@mail.test" and j["cc"] == "carol@mail.test"'
	jcheck "$u: read: result" '"please find my documents attached." in j["body"]'
	mkdir -p "$T/saved/$u"
	expect_rc 0 "$u: save attachments" mc attachments "$ID" --save "$T/saved/$u" --json
	for f in notes.txt data.bin pixel.png; do
		check "$u: $f byte-identical" cmp "$T/att/$f" "$T/saved/$u/$f"
	done
	mc read "$ID" --raw >"$T/out"
	check "$u: no Bcc header, Python's email finds no defects" python3 - "$T/out" <<'EOF'
import sys, email, email.policy
msg = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
assert msg["Bcc"] is None, "Bcc header present"
head = open(sys.argv[1], "rb").read().split(b"\n\n")[0]
assert b"dave@mail.test" not in head or b"Delivered-To: dave@mail.test" in head, "Bcc address in the header"
defects = list(msg.defects)
for part in msg.walk():
    defects += part.defects
assert not defects, defects
names = [p.get_filename() for p in msg.iter_attachments()]
assert names == ["notes.txt", "data.bin", "pixel.png"], names
types = [p.get_content_type() for p in msg.iter_attachments()]
assert types[2] == "image/png", types
assert msg["User-Agent"].startswith("mailctl/")
assert msg["Message-ID"].endswith("@mail.test>")
EOF
done

# The sender's copy in Sent, read.
expect_rc 0 "alice: Sent holds the message" mc ls Sent --account alice --json
jcheck "alice: Sent holds the message: result" 'len(j) == 1 and j[0]["read"] and j[0]["subject"] == "Bewerbung für die Stelle — 履歴書" and j[0]["attachments"] == 3'

# --- a refused recipient ------------------------------------------------------
expect_rc 1 "send to bob and a refused address: exit 1 (one refused)" \
	mcw send --account alice --to bob@mail.test --to nobody@mail.test --subject "partial" --body x --wait --json
jcheck "send to bob and a refused address" 'j["state"] == "sent"'
jcheck "send to bob and a refused address" '[x["state"] for x in sorted(j["recipients"], key=lambda x: x["address"])] == ["sent", "failed"]'
jcheck "send to bob and a refused address" 'any(x["address"] == "nobody@mail.test" and x["reply"].startswith("550") for x in j["recipients"])'
check "bob got the partial one" ms_wait_delivered bob 2 20
PID_PARTIAL=$(json 'j["id"]')

# hook_line KIND ID: the hooks' line for that outbox message (bounded wait).
hook_line() {
	local i
	for i in $(seq 50); do
		grep -q "^$1|$2|" "$HOOKS_OUT" 2>/dev/null && break
		sleep 0.1
	done
	grep "^$1|$2|" "$HOOKS_OUT"
}
h=$(hook_line sent "$RT_ID")
check "hooks.sent for the round trip: argv and MAILCTL_* values" \
	test "$h" = "sent|$RT_ID|alice|bob@mail.test,carol@mail.test,dave@mail.test|$RT_SUBJECT|${h##*|}|$RT_ID|alice|bob@mail.test,carol@mail.test,dave@mail.test|$RT_SUBJECT|${h##*|}"
contains "${h##*|}" "250" "hooks.sent: the server's reply"
h=$(hook_line sent "$PID_PARTIAL")
check "hooks.sent for the partial one names bob only" test "$(cut -d'|' -f4 <<<"$h")" = "bob@mail.test"
h=$(hook_line failed "$PID_PARTIAL")
check "hooks.send_failed for the partial one names the refused address" test "$(cut -d'|' -f4 <<<"$h")" = "nobody@mail.test"
contains "$(cut -d'|' -f6 <<<"$h")" "550" "hooks.send_failed: the 550 reply"

# --- everyone refused: failed for good ------------------------------------------
expect_rc 1 "send --wait to a refused address only" \
	mcw send --account alice --to nobody@mail.test --subject "refused" --body x --wait
contains "$(cat "$T/err")" "550" "the server's reply is shown"
expect_rc 0 "the failed message stays in the queue" mc queue --json
jcheck "the failed message stays in the queue: result" 'len(j) == 1 and j[0]["state"] == "failed" and j[0]["recipients"][0]["state"] == "failed"'
FID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$T/out")
h=$(hook_line failed "$FID")
check "hooks.send_failed for the refused one" test "$(cut -d'|' -f3,4,5 <<<"$h")" = "alice|nobody@mail.test|refused"
check "hooks.sent did not run for it" test -z "$(grep "^sent|$FID|" "$HOOKS_OUT")"
expect_rc 0 "queue cancel removes it" mc queue cancel "$FID"
check "the queue is empty again" eval '[ "$(mc queue --json)" = "[]" ]'
expect_rc 65 "queue cancel of an unknown id" mc queue cancel 999999

# --- Postfix down: deferred, then delivered -----------------------------------
ms_stop_postfix >/dev/null
expect_rc 0 "send while Postfix is down" mc send --account alice --to carol@mail.test --subject "while down" --body x --json
jcheck "send while Postfix is down: result" 'j["state"] == "queued"'
sleep 1.5
expect_rc 0 "queue shows it deferred with the reason" mc queue --json
jcheck "queue shows it deferred with the reason: result" 'len(j) == 1 and j[0]["state"] in ("deferred", "sending", "queued")'
for _ in $(seq 50); do
	mc queue --json >"$T/q.json" 2>/dev/null
	grep -q '"deferred"' "$T/q.json" && break
	sleep 0.1
done
OUT=$(cat "$T/q.json")
jcheck "queue shows it deferred with the reason: result" 'j[0]["state"] == "deferred" and j[0]["last_error"] and j[0]["attempts"] >= 1'
# send --wait does not wait days for a deferred mail: EX_TEMPFAIL, the
# reason, and the mail stays queued.
expect_rc 75 "send --wait while Postfix is down: deferred (EX_TEMPFAIL)" \
	mcw send --account alice --to carol@mail.test --subject "waited while down" --body x --wait
contains "$ERR" "deferred, still queued as" "send --wait while down: says it stays queued"
contains "$ERR" "127.0.0.1" "send --wait while down: gives the reason"
expect_rc 0 "both mails wait in the queue" mc queue --json
jcheck "both mails wait in the queue: result" 'len(j) == 2 and all(x["state"] == "deferred" for x in j)'
ms_start_postfix >/dev/null || bail "cannot restart postfix"
expect_rc 0 "queue flush once Postfix is back" mc queue flush
check "both delivered after Postfix is back" ms_wait_delivered carol 3 30
for _ in $(seq 100); do
	[ "$(mc queue --json 2>/dev/null)" = "[]" ] && break
	sleep 0.1
done
check "the queue empties" eval '[ "$(mc queue --json)" = "[]" ]'

# --- sendmail ---------------------------------------------------------------------
printf 'From: Alice <alice@mail.test>\nTo: Bob <bob@mail.test>\nCc: "Carol, C." <carol@mail.test> (work)\nBcc: dave@mail.test\nSubject: sendmail -t test\n\nsent by mailctl sendmail -t\n.\n..dots stay\n' >"$T/sm.eml"
expect_rc 0 "sendmail -t with a message from a file" mc sendmail -t -i <"$T/sm.eml"
check "bob got it" ms_wait_delivered bob 3 20
check "carol got it" ms_wait_delivered carol 4 20
check "dave (Bcc) got it" ms_wait_delivered dave 2 20
check "the delivered copy: no Bcc, Date and Message-ID added, body unchanged" python3 - "$(ms_maildir dave)" <<'EOF'
import glob, os, sys, email, email.policy
md = sys.argv[1]
files = sorted(glob.glob(md + "/new/*") + glob.glob(md + "/cur/*"), key=os.path.getmtime)
raw = open(files[-1], "rb").read()
m = email.message_from_bytes(raw, policy=email.policy.default)
assert m["Subject"] == "sendmail -t test", m["Subject"]
assert m["Bcc"] is None and b"Bcc:" not in raw
assert m["Date"] is not None and m["Message-ID"].endswith("@mail.test>")
assert m.get_content() == "sent by mailctl sendmail -t\n.\n..dots stay\n", repr(m.get_content())
EOF
printf 'Subject: sendmail args\n\nto bob only\n' >"$T/sm2.eml"
expect_rc 0 "sendmail with a recipient argument and -f" mc sendmail -f alice@mail.test bob@mail.test <"$T/sm2.eml"
check "bob got the second one" ms_wait_delivered bob 4 20
expect_rc 65 "sendmail with no recipient at all" mc sendmail <"$T/sm2.eml"
expect_rc 65 "sendmail -t without To, Cc or Bcc" mc sendmail -t <"$T/sm2.eml"
contains "$ERR" "no recipients" "sendmail -t without recipients: says so"
check "no spool file left beside the socket" eval '[ -z "$(ls "$(dirname "$SOCK")" | grep sendmail)" ]'

expect_rc 0 "queue flush --json (options after the sub-command)" mc queue flush --json
jcheck "queue flush: nothing left to retry" 'j["flushed"] == 0'
expect_rc 0 "the daemon is still serving" mc status --json
jcheck "status shows the queue empty" 'j["queue"] == {"queued": 0, "sending": 0, "deferred": 0, "failed": 0}'
expect_rc 0 "status for people shows the queue" mc status
contains "$OUT" "queue:    0 queued" "status for people: queue line"
check "no password in the daemon log" eval '! grep -q "alice-Pw1" "$T/daemon.log"'
check "watch --json saw sent, new_mail and send_failed in order" python3 - "$T/watch.json" "$RT_ID" "$PID_PARTIAL" "$FID" "$SUBJ" <<'EOF'
import json, sys
path, rt, partial, fid, subj = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ev = [json.loads(l)["params"] if "params" in l else json.loads(l) for l in open(path)]
first = [(e["type"], e.get("id") if e["type"] != "new_mail" else e["account"]) for e in ev[:6]]
assert first == [("sent", rt), ("new_mail", "bob"), ("new_mail", "carol"), ("new_mail", "dave"),
                 ("sent", partial), ("send_failed", fid)], first
assert ev[0]["recipients"] == ["bob@mail.test", "carol@mail.test", "dave@mail.test"], ev[0]
assert all(e["subject"] == subj for e in ev[1:4]), ev[1:4]
assert ev[4]["failed"] == ["nobody@mail.test"] and ev[5]["recipients"] == ["nobody@mail.test"], ev[4:6]
assert ev[5]["reply"].startswith("550"), ev[5]
types = [e["type"] for e in ev[6:]]
assert types.index("deferred") < types.index("sent"), types
EOF
check "human watch: the round trip sent" grep -q "  sent  alice #$RT_ID to bob@mail.test, carol@mail.test, dave@mail.test$" "$T/watch.txt"
check "human watch: the partial one, with the refused address" grep -q "  sent  alice #$PID_PARTIAL to bob@mail.test (refused: nobody@mail.test)$" "$T/watch.txt"
check "human watch: send failed with the reply" grep -q "  send failed  alice #$FID to nobody@mail.test: 550" "$T/watch.txt"
check "human watch: deferred with the next try and reason" grep -q "  deferred  alice #[0-9]* to carol@mail.test until [0-9: -]*: .*127.0.0.1" "$T/watch.txt"
stop_daemon
check "clean exit" eval '[ "$DAEMON_RC" = 0 ]'
