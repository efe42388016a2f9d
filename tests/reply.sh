#!/bin/bash
# mailctl reply, reply --all and forward through a REAL Postfix (STARTTLS +
# AUTH through Dovecot) into the Dovecot users' Maildirs: each recipient
# gets the mail once (every mailbox is looked at), our own addresses and
# aliases are left out, the Subject has one "Re: " ("Re: Re:", "AW:",
# "RE: Re[2]:") or "Fwd: ", In-Reply-To and References are set (and
# trimmed when long), the original is quoted (format=flowed unflowed,
# HTML-only as text); forward carries the original as message/rfc822 or,
# --inline, its text and its attachments, byte for byte; Python's email
# package finds no defect anywhere; the original gets R or P in its
# Maildir file name; --wait exits as send --wait does. Also mark
# --flag/--unflag (F in the file name, flagged in ls --json) and the flag
# column of ls.
. "$(dirname "$0")/lib.sh"
use_mail_servers
command -v postfix >/dev/null || skip_all "postfix is not installed (tests/servers/install-deps)"

for u in alice bob carol dave erin; do ms_add_user "$u" "$u-Pw1"; done
ms_add_reject nobody@mail.test
ms_start >/dev/null || bail "cannot start dovecot and postfix"

CHECK="python3 $TOOLS/reply_check.py"
write_config "$T/config.json" "$(printf '{"name":"alice","email":"alice@mail.test","display_name":"Alice Nguyễn","aliases":["alice.alias@mail.test"],"smtp":{"host":"127.0.0.1","port":%s,"tls":"starttls","ca_file":"%s","user":"alice","password":"alice-Pw1","timeout":20}}' "$MS_SMTP_PORT" "$MS_CA_FILE")"
start_daemon "$T/config.json"
mc() { timeout 60 "$MAILCTL" --socket "$SOCK" "$@"; }

# --- the originals, dropped into alice's Inbox ----------------------------------
INBOX=$T/data/alice/Inbox
mkdir -p "$INBOX/new" "$INBOX/cur" "$INBOX/tmp" "$T/att"
head -c 70000 /dev/urandom >"$T/att/report.pdf"
printf 'first line\r\nsecond line with a trailing space \n' >"$T/att/notes.txt"
python3 - "$INBOX/new" "$T/att" <<'EOF'
import email.message, email.policy, sys
new, att = sys.argv[1], sys.argv[2]
def put(name, text):
    open("%s/%s.M1P1.host" % (new, name), "wb").write(text.encode())

put("1001", """From: Bob <bob@mail.test>
To: Alice <alice@mail.test>, carol@mail.test
Cc: dave@mail.test, "Alice Alias" <alice.alias@mail.test>, Bob <bob@mail.test>
Subject: Re: Re: plan
Date: Mon, 1 Jun 2026 10:00:00 +0000
Message-ID: <orig1@mail.test>
In-Reply-To: <a2@mail.test>
References: <a1@mail.test> <a2@mail.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8; format=flowed

This paragraph is long and so it was 
flowed over two lines by the sender.

> an older quote
plain last line
""")
put("1002", """From: Bob <bob@mail.test>
Reply-To: Carol <carol@mail.test>
To: alice@mail.test
Subject: AW: Sitzung
Date: Tue, 2 Jun 2026 10:00:00 +0200
Message-ID: <orig2@mail.test>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><body><p>Die <b>Sitzung</b> ist verschoben.</p><p>Grüße</p></body></html>
""")
m = email.message.EmailMessage(policy=email.policy.SMTP)
m["From"] = "Dave <dave@mail.test>"
m["To"] = "alice@mail.test"
m["Subject"] = "Fwd: report"
m["Date"] = "Wed, 3 Jun 2026 10:00:00 +0000"
m["Message-ID"] = "<orig3@mail.test>"
m.set_content("Here is the report, and my notes.\n")
m.add_attachment(open(att + "/report.pdf", "rb").read(), maintype="application",
                 subtype="pdf", filename="report.pdf")
m.add_attachment(open(att + "/notes.txt", "rb").read(), maintype="text",
                 subtype="plain", filename="notes – été.txt")
open(new + "/1003.M1P1.host", "wb").write(m.as_bytes().replace(b"\r\n", b"\n"))
refs = " ".join("<r%d@mail.test>" % i for i in range(30))
put("1004", """From: erin@mail.test
To: alice@mail.test
Subject: RE: Re[2]: long thread
Date: Thu, 4 Jun 2026 10:00:00 +0000
Message-ID: <orig4@mail.test>
References: %s

the long one
""" % refs)
put("1005", """From: nobody@mail.test
To: alice@mail.test
Subject: from a refused address
Message-ID: <orig5@mail.test>

bounce me
""")
put("1006", """From: Alice <alice@mail.test>
To: Erin <erin@mail.test>
Subject: my own
Message-ID: <orig6@mail.test>

I wrote this one
""")
EOF
expect_rc 0 "reindex takes the originals in" mc reindex alice
id_of() { # MESSAGE-ID: the id of the original with that Message-ID
	python3 - "$T/data" "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1] + "/index.sqlite")
print(db.execute("SELECT id FROM messages WHERE message_id = ?", (sys.argv[2],)).fetchone()[0])
EOF
}
ID1=$(id_of '<orig1@mail.test>')
ID2=$(id_of '<orig2@mail.test>')
ID3=$(id_of '<orig3@mail.test>')
ID4=$(id_of '<orig4@mail.test>')
ID5=$(id_of '<orig5@mail.test>')
ID6=$(id_of '<orig6@mail.test>')
check "every original has an id" test -n "$ID1$ID2$ID3$ID4$ID5$ID6"

# arrived USER SUBJECT N: wait until USER's Maildir holds N mails with that
# Subject (Postfix delivers after it answered), then print their files.
arrived() {
	local md i
	md=$(ms_maildir "$1")
	for i in $(seq 100); do
		[ "$($CHECK find "$md" "$2" | wc -l)" -ge "$3" ] && break
		sleep 0.1
	done
	$CHECK find "$md" "$2"
}
# none USER SUBJECT: USER got no mail with that Subject (after a pause).
none() { sleep 0.5; [ -z "$($CHECK find "$(ms_maildir "$1")" "$2")" ]; }
hdr() { $CHECK header "$1" "$2"; }
# flags ID: the Maildir flags of message ID's file name.
flags() { find "$INBOX" -name "$(python3 - "$T/data" "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1] + "/index.sqlite")
print(db.execute("SELECT file FROM messages WHERE id = ?", (int(sys.argv[2]),)).fetchone()[0])
EOF
)*" | sed -n 's/.*:2,//p'; }

# --- reply -----------------------------------------------------------------------
expect_rc 0 "reply --wait: sent" mc reply "$ID1" --body "Sounds good." --wait --json
jcheck "reply went to bob alone" '[r["address"] for r in j["recipients"]] == ["bob@mail.test"] and j["state"] == "sent"'
F=$(arrived bob "Re: plan" 1)
check "bob got the reply once" test "$(wc -l <<<"$F")" -eq 1
check "carol did not get the reply" none carol "Re: plan"
check "dave did not get the reply" none dave "Re: plan"
check "alice did not get the reply" none alice "Re: plan"
check "Subject: one Re: for Re: Re:" test "$(hdr "$F" Subject)" = "Re: plan"
check "In-Reply-To is the original's Message-ID" test "$(hdr "$F" In-Reply-To)" = "<orig1@mail.test>"
check "References: the original's, then its Message-ID" test "$(hdr "$F" References)" = "<a1@mail.test> <a2@mail.test> <orig1@mail.test>"
check "From: the account it came to" test "$(hdr "$F" From)" = "Alice Nguyễn <alice@mail.test>"
check "To: the sender, with his name" test "$(hdr "$F" To)" = "Bob <bob@mail.test>"
check "no Cc on a plain reply" test -z "$(hdr "$F" Cc)"
B=$($CHECK body "$F")
check "the user's text comes first" test "$(head -1 <<<"$B")" = "Sounds good."
contains "$B" "On Mon, 1 Jun 2026 10:00:00 +0000, Bob wrote:" "attribution line with date and name"
contains "$B" "> This paragraph is long and so it was flowed over two lines by the sender." "format=flowed unflowed before quoting"
contains "$B" ">> an older quote" "a quoted line quoted again"
contains "$B" "> plain last line" "last line quoted"
check "no defects in the reply" $CHECK defects "$F"
check "the original is marked answered (R)" grep -q R <<<"$(flags "$ID1")"
expect_rc 0 "ls --json" mc ls --json
jcheck "ls --json: replied true, forwarded false" "[(m['replied'], m['forwarded'], m['flagged']) for m in j if m['id'] == $ID1] == [(True, False, False)]"
expect_rc 0 "mark it read" mc mark "$ID1" --read
check "marked read, R kept" grep -q 'RS' <<<"$(flags "$ID1")"
COLUMNS=120 expect_rc 0 "ls for people" mc ls
check "ls shows r for a replied message" grep -qE "^ *$ID1 r " <<<"$OUT"

# --- reply --all -------------------------------------------------------------------
expect_rc 0 "reply --all --wait: sent" mc reply "$ID1" --all --body "To all." --attach "$T/att/notes.txt" --wait --json
jcheck "reply --all: bob, carol, dave, each once; none of ours" 'sorted(r["address"] for r in j["recipients"]) == ["bob@mail.test", "carol@mail.test", "dave@mail.test"]'
for u in bob carol dave; do
	F=$(arrived "$u" "Re: plan" 2)
	check "$u got the reply to all once" test "$($CHECK find "$(ms_maildir "$u")" "Re: plan" | xargs grep -l '^To all' | wc -l)" -eq 1
done
check "alice did not get the reply to all" none alice "Re: plan"
F=$($CHECK find "$(ms_maildir carol)" "Re: plan")
check "reply --all: To is the sender" test "$(hdr "$F" To)" = "Bob <bob@mail.test>"
check "reply --all: Cc the others, without our address and alias" test "$(hdr "$F" Cc)" = "carol@mail.test, dave@mail.test"
check "no defects in the reply to all" $CHECK defects "$F"
check "reply --attach: the file goes along, byte for byte" test "$($CHECK attachments "$F")" = "notes.txt $(sha256sum <"$T/att/notes.txt" | cut -d' ' -f1)"

# --- Reply-To, an HTML-only original, a localized prefix -----------------------
expect_rc 0 "reply to an HTML-only mail with Reply-To" mc reply "$ID2" --body "Gut." --wait
F=$(arrived carol "Re: Sitzung" 1)
check "Reply-To wins over From" test "$(wc -l <<<"$F")" -eq 1
check "bob (From) did not get it" none bob "Re: Sitzung"
check "AW: becomes Re:" test "$(hdr "$F" Subject)" = "Re: Sitzung"
B=$($CHECK body "$F")
contains "$B" "> Die Sitzung ist verschoben." "HTML-only original quoted as its text"
check "no HTML tags quoted" test -z "$(grep '<' <<<"$B")"

# --- long References, "RE: Re[2]:" ---------------------------------------------
expect_rc 0 "reply to a long thread" mc reply "$ID4" --body x --wait
F=$(arrived erin "Re: long thread" 1)
check "RE: Re[2]: becomes one Re:" test -n "$F"
R=$(hdr "$F" References)
check "References trimmed to 20 ids" test "$(wc -w <<<"$R")" -eq 20
check "References keep the first id" test "$(cut -d' ' -f1 <<<"$R")" = "<r0@mail.test>"
check "References end with the last ones and the Message-ID" test "$(awk '{print $(NF-1), $NF}' <<<"$R")" = "<r29@mail.test> <orig4@mail.test>"
check "no defects in the reply to a long thread" $CHECK defects "$F"

# --- a reply to our own mail goes to its recipients --------------------------------
expect_rc 0 "reply to our own mail" mc reply "$ID6" --body again --wait
F=$(arrived erin "Re: my own" 1)
check "a reply to our own mail goes to its To" test "$(hdr "$F" To)" = "Erin <erin@mail.test>"

# --- --wait exit codes ---------------------------------------------------------------
expect_rc 1 "reply --wait to a refused address: exit 1, as send" mc reply "$ID5" --body x --wait
contains "$OUT$ERR" "550" "the server's reply is shown"
expect_rc 0 "reply without --wait: queued" mc reply "$ID6" --body "later" --json
jcheck "reply without --wait answers queued" 'j["state"] == "queued" and j["recipients"] == 1'
expect_rc 65 "reply to a message that does not exist" mc reply 999999 --body x
contains "$ERR" "no message with id 999999" "says which"

# --- forward, attached -------------------------------------------------------------
expect_rc 0 "forward --wait: sent" mc forward "$ID3" --to "Carol <carol@mail.test>" --cc dave@mail.test --body "FYI" --wait
F=$(arrived carol "Fwd: report" 1)
check "carol got the forward once" test "$(wc -l <<<"$F")" -eq 1
check "dave got the forward once (Cc)" test "$(arrived dave "Fwd: report" 1 | wc -l)" -eq 1
check "bob did not get the forward" none bob "Fwd: report"
check "Fwd: once" test "$(hdr "$F" Subject)" = "Fwd: report"
check "a forward has no In-Reply-To" test -z "$(hdr "$F" In-Reply-To)"
check "no defects in the forward, inside and out" $CHECK defects "$F"
WANT=$($CHECK attachments "$INBOX/new/1003.M1P1.host" 2>/dev/null || $CHECK attachments "$(find "$INBOX" -name '1003.M1P1.host*')")
check "the original has two attachments" test "$(wc -l <<<"$WANT")" -eq 2
check "forward: the attached original carries them byte for byte" test "$($CHECK attachments "$F" --inner)" = "$WANT"
python3 - "$F" "$(find "$INBOX" -name '1003.M1P1.host*')" <<'EOF' && ok "forward: the attached original is the stored message byte for byte" || not_ok "forward: attached original differs"
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.compat32)
part = [p for p in m.walk() if p.get_content_type() == "message/rfc822"][0]
inner = part.get_payload()[0].as_bytes()
orig = open(sys.argv[2], "rb").read()
norm = lambda b: b.replace(b"\r\n", b"\n").rstrip(b"\n")
sys.exit(0 if norm(inner) == norm(orig) else 1)
EOF
check "the original is marked passed (P)" grep -q P <<<"$(flags "$ID3")"

# --- forward of an 8-bit original: message/rfc822 in 8bit ---------------------
expect_rc 0 "forward an 8-bit original --wait" mc forward "$ID2" --to erin@mail.test --body "8bit" --wait
F=$(arrived erin "Fwd: AW: Sitzung" 1)
check "erin got it once" test "$(wc -l <<<"$F")" -eq 1
check "no defects in the 8-bit forward" $CHECK defects "$F"
check "the part is 8bit" grep -q "^Content-Transfer-Encoding: 8bit" "$F"
check "its UTF-8 text arrived as it was" grep -q "Grüße" "$F"
check "AW: stays after Fwd:" test "$(hdr "$F" Subject)" = "Fwd: AW: Sitzung"

# --- forward --inline ------------------------------------------------------------
expect_rc 0 "forward --inline --wait: sent" mc forward "$ID3" --inline --to erin@mail.test --body "See below." --wait
F=$(arrived erin "Fwd: report" 1)
check "erin got the inline forward once" test "$(wc -l <<<"$F")" -eq 1
check "no defects in the inline forward" $CHECK defects "$F"
check "forward --inline: the attachments again, byte for byte" test "$($CHECK attachments "$F")" = "$WANT"
B=$($CHECK body "$F")
check "forward --inline: the user's text first" test "$(head -1 <<<"$B")" = "See below."
contains "$B" "---------- Forwarded message ----------" "forwarded-message block"
contains "$B" "From: Dave <dave@mail.test>" "the block names the sender"
contains "$B" "Subject: Fwd: report" "the block names the subject"
contains "$B" "Here is the report, and my notes." "the original text"
expect_rc 65 "forward without recipients" mc forward "$ID3" --body x
expect_rc 0 "ls --json after the forwards" mc ls --json
jcheck "ls --json: forwarded true" "[m['forwarded'] for m in j if m['id'] == $ID3] == [True]"
expect_rc 0 "mark the forwarded one read" mc mark "$ID3" --read
COLUMNS=120 expect_rc 0 "ls for people" mc ls
check "ls shows f for a forwarded message" grep -qE "^ *$ID3 f " <<<"$OUT"

# --- --wait while Postfix is down: deferred, as send ----------------------------
ms_stop_postfix >/dev/null
expect_rc 75 "forward --wait while Postfix is down: deferred (EX_TEMPFAIL)" \
	mc forward "$ID4" --to erin@mail.test --body "while down" --wait
contains "$ERR" "deferred, still queued as" "says it stays queued"
check "the original is marked passed already (queued)" grep -q P <<<"$(flags "$ID4")"
ms_start_postfix >/dev/null || bail "cannot restart postfix"
expect_rc 0 "queue flush once Postfix is back" mc queue flush
check "the deferred forward arrives" test "$(arrived erin "Fwd: RE: Re[2]: long thread" 1 | wc -l)" -eq 1

# --- mark --flag / --unflag ----------------------------------------------------------
expect_rc 0 "mark --flag" mc mark "$ID2" --flag
contains "$OUT" "1 marked flagged" "mark --flag says so"
check "the file name has F" grep -q F <<<"$(flags "$ID2")"
expect_rc 0 "ls --json" mc ls --json
jcheck "ls --json: flagged true" "[m['flagged'] for m in j if m['id'] == $ID2] == [True]"
COLUMNS=120 expect_rc 0 "ls for people" mc ls
check "ls shows F for a flagged message" grep -qE "^ *$ID2 .F " <<<"$OUT"
expect_rc 0 "mark --unflag" mc mark "$ID2" --unflag
check "the file name has no F" test -z "$(flags "$ID2" | tr -cd F)"
expect_rc 0 "ls --json" mc ls --json
jcheck "ls --json: flagged false, replied kept" "[(m['flagged'], m['replied']) for m in j if m['id'] == $ID2] == [(False, True)]"
expect_rc 64 "mark without a flag option" mc mark "$ID2"
check "the daemon still answers" mc status
stop_daemon
check "clean stop (no leak in the sanitizer build)" test "$DAEMON_RC" = 0
