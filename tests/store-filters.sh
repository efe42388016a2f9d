#!/bin/bash
# Filing rules at delivery, against a real Dovecot: the default rules and
# their priority; body keywords found only in decoded body text (base64,
# quoted-printable with soft breaks, HTML-only, charset conversion) and
# never in attachments or headers; in large bodies only within their first
# MiB, with U+0130 folded; from/subject/body each on its own with a
# custom rule set, encoded-word subjects and Unicode case folding; rule
# folders created on first use; refilter after a reload (moved counts,
# folders not governed by the rules left alone, ids kept), --dry-run, and a
# message filed by hand (mv) left where it was put; every file in its
# folder's new/ and nothing left in tmp/.
. "$(dirname "$0")/lib.sh"
use_mail_servers

ms_add_user alice 'alice-Pw1'
ms_start_dovecot >/dev/null

# Messages: every one carries a unique token at the start of its Subject
# (mNN) and in an X-Test-Id header, so a listing entry and a file can both
# be traced back to the message.
mkmsgs() {
	python3 - "$@" <<'PY'
import base64, os, sys

out, phase = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)

def b64(data):
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i + 76] for i in range(0, len(s), 76))

def msg(tok, frm, subject, body, headers=""):
    return ("From: %s\nTo: alice@mail.test\nSubject: %s %s\n"
            "Date: Mon, 3 Jun 2024 10:00:00 +0000\n"
            "Message-ID: <%s.%s@test>\nX-Test-Id: %s\nMIME-Version: 1.0\n%s"
            "\n%s" % (frm, tok, subject, tok, phase, tok, headers, body))

M = {}
if phase == "1":
    # Spam AND Work: Spam comes first.
    M["m01"] = msg("m01", "Friend <friend@example.org>",
                   "You won a seat at the meeting", "See you.\n")
    M["m02"] = msg("m02", "The Boss <boss@example.test>", "lunch plans",
                   "Noon?\n")
    M["m03"] = msg("m03", "carol@example.org", "[Project] kickoff",
                   "Agenda attached later.\n")
    M["m04"] = msg("m04", "dave@example.org", "Weekly REPORT", "Numbers.\n")
    M["m05"] = msg("m05", "erin@example.org", "hello there",
                   "Nothing to see here.\n")
    # Project (2nd rule) beats Important (3rd) for the boss.
    M["m06"] = msg("m06", "The Boss <boss@example.test>", "[PROJECT] status",
                   "On track.\n")
    # Body keyword only, in a base64 text/plain body.
    M["m07"] = msg("m07", "agent@example.net", "account notice",
                   b64(b"Hello,\nplease confirm the WIRE TRANSFER by "
                       b"Friday.\nRegards\n") + "\n",
                   "Content-Type: text/plain; charset=utf-8\n"
                   "Content-Transfer-Encoding: base64\n")
    # Quoted-printable, the keyword split by a soft line break.
    M["m08"] = msg("m08", "agent@example.net", "second notice",
                   "Dear customer, the caf=C3=A9 needs the Wire Trans=\n"
                   "fer confirmed today.\n",
                   "Content-Type: text/plain; charset=utf-8\n"
                   "Content-Transfer-Encoding: quoted-printable\n")
    # HTML only.
    M["m09"] = msg("m09", "agent@example.net", "third notice",
                   "<html><body><p>Please arrange the <b>wire</b> transfer "
                   "today.</p></body></html>\n",
                   "Content-Type: text/html; charset=utf-8\n")
    # The words only in an attachment: not body text.
    M["m10"] = msg("m10", "frank@example.org", "the file you asked for",
                   "--XYZ\nContent-Type: text/plain; charset=us-ascii\n\n"
                   "Please see the attached file.\n"
                   "--XYZ\nContent-Type: application/octet-stream; "
                   "name=\"data.bin\"\nContent-Disposition: attachment; "
                   "filename=\"data.bin\"\nContent-Transfer-Encoding: "
                   "base64\n\n" + b64(b"wire transfer WIRE TRANSFER\n") +
                   "\n--XYZ--\n",
                   "Content-Type: multipart/mixed; boundary=\"XYZ\"\n")
    # multipart/alternative: text/plain is the body text, not the HTML.
    M["m11"] = msg("m11", "grace@example.org", "newsletter",
                   "--ALT\nContent-Type: text/plain; charset=utf-8\n\n"
                   "Nothing special this week.\n"
                   "--ALT\nContent-Type: text/html; charset=utf-8\n\n"
                   "<p>wire transfer</p>\n--ALT--\n",
                   "Content-Type: multipart/alternative; boundary=\"ALT\"\n")
    # From keyword, upper case in the address.
    M["m12"] = msg("m12", "Lottery Office <LOTTERY@prizes.example>",
                   "claim now", "Hurry.\n")
    # The words in a header only: not body text.
    M["m13"] = msg("m13", "heidi@example.org", "about the header",
                   "Plain body.\n", "X-Note: wire transfer\n")
    # The words only in a text/plain attachment after the inline text.
    M["m14"] = msg("m14", "ivy@example.org", "notes",
                   "--MIX\nContent-Type: text/plain; charset=us-ascii\n\n"
                   "Please find my notes.\n"
                   "--MIX\nContent-Type: text/plain; charset=us-ascii; "
                   "name=\"notes.txt\"\nContent-Disposition: attachment; "
                   "filename=\"notes.txt\"\n\nAsk about the wire transfer.\n"
                   "--MIX--\n",
                   "Content-Type: multipart/mixed; boundary=\"MIX\"\n")
    # As mail clients send it: mixed > alternative > base64 text/plain
    # (upper-case encoding name, quoted charset) + html, and an attachment.
    M["m15"] = msg("m15", "agent@example.net", "fourth notice",
                   "--OUT\nContent-Type: multipart/alternative; "
                   "boundary=\"IN\"\n\n--IN\nContent-Type: text/plain; "
                   "charset=\"UTF-8\"\nContent-Transfer-Encoding: BASE64\n\n"
                   + b64("Merci, the wire transfer is due.\n".encode()) +
                   "\n--IN\nContent-Type: text/html; charset=UTF-8\n\n"
                   "<p>Merci</p>\n--IN--\n--OUT\nContent-Type: "
                   "application/pdf; name=\"a.pdf\"\nContent-Disposition: "
                   "attachment\nContent-Transfer-Encoding: base64\n\n"
                   + b64(b"%PDF-1.4 nothing") + "\n--OUT--\n",
                   "Content-Type: multipart/mixed; boundary=\"OUT\"\n")
    # Large bodies (read from a mapping of the file, not into memory):
    # the keyword at the end of 600 KB, past the first MiB of 1.2 MB (not
    # looked at), and with a dotted capital I (folded before the search).
    filler = "Nothing to report, all is quiet here at the farm.\n" * 12000
    plain = "Content-Type: text/plain; charset=utf-8\n"
    M["m16"] = msg("m16", "kim@example.org", "long letter",
                   filler + "PS: the WIRE TRANSFER went out.\n", plain)
    M["m17"] = msg("m17", "kim@example.org", "longer letter",
                   filler * 2 + "PS: the wire transfer went out.\n", plain)
    M["m18"] = msg("m18", "kim@example.org", "letter from Izmir",
                   filler[:400000] + "W\u0130RE TRANSFER yarın.\n", plain)
elif phase == "2":
    M["m20"] = msg("m20", "Shop <shop@store.example>", "Your order",
                   "Thanks.\n")
    M["m21"] = msg("m21", "airline@example.com", "Flight confirmation",
                   "Seat 12A.\n")
    M["m22"] = msg("m22", "mum@example.org", "news",
                   "Grandma says hi!\n")
    M["m23"] = ("From: deals@example.com\nTo: alice@mail.test\n"
                "Subject: m23 =?utf-8?q?Cheap_FLIGHT_deals?=\n"
                "X-Test-Id: m23\n\nBook now.\n")
    M["m24"] = ("From: chef@example.fr\nTo: alice@mail.test\n"
                "Subject: m24 =?utf-8?q?R=C3=89UNION_d=27=C3=A9quipe?=\n"
                "X-Test-Id: m24\n\nA 10h.\n")
    M["m25"] = msg("m25", "tante@example.fr", "Lettre",
                   "Une lettre de GRAND-M=C8RE.\n",
                   "Content-Type: text/plain; charset=iso-8859-1\n"
                   "Content-Transfer-Encoding: quoted-printable\n")
    # The from keyword in the subject only: no match.
    M["m26"] = msg("m26", "ivan@example.org", "write to shop@store.example",
                   "Ask them.\n")
    # The subject keyword in the body only: no match.
    M["m27"] = msg("m27", "judy@example.org", "plans",
                   "I booked a flight; the boarding pass is attached.\n")
    # Receipts (1st rule) beats Travel (2nd).
    M["m28"] = msg("m28", "Shop <shop@store.example>", "Your flight receipt",
                   "Paid.\n")
    # The default rules are gone.
    M["m29"] = msg("m29", "friend@example.org", "You won a meeting",
                   "wire transfer\n")
    M["m30"] = msg("m30", "airline@example.com", "Flight confirmation #2",
                   "Seat 3C.\n")
    M["m31"] = ("From: chef@example.fr\nTo: alice@mail.test\n"
                "Subject: m31 =?UTF-8?B?%s?=\nX-Test-Id: m31\n\nBientot.\n"
                % base64.b64encode("Prochaine RÉUNION".encode()).decode())
    # Two adjacent encoded words: decoded as one word "RÉUNION".
    M["m32"] = ("From: chef@example.fr\nTo: alice@mail.test\n"
                "Subject: m32 =?utf-8?q?Quick_R=C3=89UN?= =?utf-8?q?ION?=\n"
                "X-Test-Id: m32\n\nVite.\n")
    # An ISO-8859-1 encoded word.
    M["m34"] = ("From: chef@example.fr\nTo: alice@mail.test\n"
                "Subject: m34 =?iso-8859-1?q?R=C9UNION_mardi?=\n"
                "X-Test-Id: m34\n\nMardi.\n")
    # A folded Subject header.
    M["m33"] = ("From: airline@example.com\nTo: alice@mail.test\n"
                "Subject: m33 Your\n flight confirmation\n"
                "X-Test-Id: m33\n\nGate 4.\n")
for tok, text in M.items():
    with open(os.path.join(out, tok), "wb") as fp:
        fp.write(text.encode("utf-8"))
PY
}

# LS: the whole store as "token folder id read" lines.
snapshot() {
	"$MAILCTL" --socket "$SOCK" ls --json >"$T/ls.json" || return 1
	LS=$(python3 -c '
import json, sys
for m in json.load(open(sys.argv[1])):
    print(m["subject"].split()[0], m["folder"], m["id"], m["read"])
' "$T/ls.json")
}
folder_of() { awk -v t="$1" '$1 == t { print $2 }' <<<"$LS"; }
id_of() { awk -v t="$1" '$1 == t { print $3 }' <<<"$LS"; }

# expect_folder TOKEN FOLDER WHY
expect_folder() {
	local got
	got=$(folder_of "$1")
	if [ "$got" = "$2" ]; then ok "$1 ($3) -> $2"
	else not_ok "$1 ($3): in '$got', expected $2"; fi
}

# The file holding message TOKEN (the only one with its X-Test-Id).
file_of() { grep -rlx "X-Test-Id: $1" "$T/data/alice" 2>/dev/null; }

ACCT=$(pop3_account alice alice alice-Pw1 none "$MS_POP3_PORT")
write_config "$T/config.json" "$ACCT"
start_daemon "$T/config.json"

# --- (a), (b): the default rules ---------------------------------------------
mkmsgs "$T/src1" 1
ms_inject_dir alice "$T/src1" >/dev/null
expect_rc 0 "fetch 18 messages (default rules)" mailctl fetch --json
check "18 new" test "$(json 'j["accounts"][0]["new"]')" = 18
snapshot || bail "ls --json failed"
check "18 messages listed" test "$(wc -l <<<"$LS")" -eq 18
expect_folder m01 Spam "'you won' + 'meeting': Spam has priority"
expect_folder m02 Important "from boss@example.test only"
expect_folder m03 Project "'[Project] kickoff'"
expect_folder m04 Work "'Weekly REPORT', case-insensitive"
expect_folder m05 Inbox "no rule matches"
expect_folder m06 Project "boss + '[PROJECT]': Project before Important"
expect_folder m07 Spam "'WIRE TRANSFER' in a base64 text/plain body"
expect_folder m08 Spam "'Wire Trans=<soft break>fer' in quoted-printable"
expect_folder m09 Spam "'wire</b> transfer' in an HTML-only message"
expect_folder m10 Inbox "keyword only inside a base64 attachment"
expect_folder m11 Inbox "keyword only in the HTML alternative; text/plain wins"
expect_folder m12 Spam "from 'LOTTERY@' matched case-insensitively"
expect_folder m13 Inbox "keyword only in a header, not the body"
expect_folder m14 Inbox "keyword only in a text/plain attachment"
expect_folder m15 Spam "base64 text/plain nested in mixed > alternative"
expect_folder m16 Spam "'WIRE TRANSFER' at the end of a 600 KB body"
expect_folder m17 Inbox "keyword only past the first MiB of the body"
expect_folder m18 Spam "'WİRE TRANSFER' (U+0130) in a 400 KB body"
expect_rc 0 "ls spam (folder name case-insensitive)" mailctl ls spam --json
check "ls spam lists exactly the 8 Spam messages" \
	test "$(json 'sorted(m["subject"].split()[0] for m in j)')" = \
	"['m01', 'm07', 'm08', 'm09', 'm12', 'm15', 'm16', 'm18']"

# --- (c), (d): a custom rule set -------------------------------------------------
rules2='[
  { "folder": "Receipts", "from": ["shop@"] },
  { "folder": "Travel", "subject": ["flight"] },
  { "folder": "Family", "body": ["grandma", "grand-mère"] },
  { "folder": "Team", "subject": ["réunion"] }
]'
setrules() {
	python3 - "$T/config.json" "$1" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["filters"] = json.loads(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"), ensure_ascii=False, indent=1)
PY
}
setrules "$rules2"
expect_rc 0 "reload with a custom rule set" mailctl reload
for f in Receipts Travel Family Team; do
	check "folder $f does not exist before its first message" \
		test ! -e "$T/data/alice/$f"
done
mkmsgs "$T/src2" 2
ms_inject_dir alice "$T/src2" >/dev/null
expect_rc 0 "fetch 15 messages (custom rules)" mailctl fetch --json
check "15 new" test "$(json 'j["accounts"][0]["new"]')" = 15
snapshot || bail "ls --json failed"
expect_folder m20 Receipts "from-only match 'shop@'"
expect_folder m21 Travel "subject-only match 'flight'"
expect_folder m22 Family "body-only match 'grandma'"
expect_folder m23 Travel "encoded-word subject 'Cheap FLIGHT deals'"
expect_folder m24 Team "encoded-word 'RÉUNION d'équipe' vs rule 'réunion'"
expect_folder m25 Family "ISO-8859-1 QP body 'GRAND-MÈRE' vs rule 'grand-mère'"
expect_folder m26 Inbox "from keyword in the subject only"
expect_folder m27 Inbox "subject keyword in the body only"
expect_folder m28 Receipts "shop@ + 'flight': Receipts before Travel"
expect_folder m29 Inbox "default rules replaced by the custom set"
expect_folder m30 Travel "subject 'Flight confirmation #2'"
expect_folder m31 Team "B-encoded 'Prochaine RÉUNION'"
expect_folder m32 Team "'RÉUN' + 'ION' in two adjacent encoded words"
expect_folder m33 Travel "folded Subject header"
expect_folder m34 Team "ISO-8859-1 encoded word 'RÉUNION'"
check "the old messages kept their folders" \
	test "$(folder_of m01)/$(folder_of m02)/$(folder_of m05)" = Spam/Important/Inbox
subj24=$(python3 -c 'import json,sys; print([m["subject"] for m in json.load(open(sys.argv[1])) if m["subject"].startswith("m24")][0])' "$T/ls.json")
check "the encoded-word subject is listed decoded" \
	test "$subj24" = "m24 RÉUNION d'équipe"
for f in Receipts Travel Family Team; do
	check "folder $f was created as a Maildir (new, cur, tmp)" \
		test -d "$T/data/alice/$f/new" -a -d "$T/data/alice/$f/cur" \
		-a -d "$T/data/alice/$f/tmp"
done
expect_rc 0 "folders --json" mailctl folders --json
check "folders lists the new folders with their counts" \
	test "$(json '";".join("%s=%d/%d" % (f["folder"], f["total"], f["unread"]) for f in j if f["folder"] in ("Receipts", "Travel", "Family", "Team"))')" \
	= "Family=2/2;Receipts=2/2;Team=4/4;Travel=4/4"
check "folders still lists the default folders" \
	test "$(json '",".join(f["folder"] for f in j if f["account"] == "alice")' |
	tr , '\n' | grep -cxE 'Inbox|Important|Work|Project|Spam|Sent|Trash')" -eq 7

# --- (e): refilter after a reload ---------------------------------------------
check "no Later directory yet" test ! -e "$T/data/alice/Later"
expect_rc 0 "mv to a folder that does not exist yet makes it" \
	mailctl mv "$(id_of m30)" Later --json
check "m30 is in Later" test "$(snapshot && folder_of m30)" = Later
check "Later is a Maildir (new, cur, tmp)" test -d "$T/data/alice/Later/new" \
	-a -d "$T/data/alice/Later/cur" -a -d "$T/data/alice/Later/tmp"
check "no Archive directory yet" test ! -e "$T/data/alice/Archive"
mkdir -p "$T/data/alice/Archive/new" "$T/data/alice/Archive/cur" \
	"$T/data/alice/Archive/tmp"
expect_rc 0 "mv to a user's own Maildir (typed 'archive')" \
	mailctl mv "$(id_of m30)" archive --json
snapshot
check "m30 is in Archive" test "$(folder_of m30)" = Archive

rules3='[
  { "folder": "Travel", "subject": ["confirmation"], "body": ["boarding pass"] },
  { "folder": "Greetings", "subject": ["hello there"] },
  { "folder": "Shopping", "from": ["shop@"] }
]'
setrules "$rules3"
expect_rc 0 "reload with a third rule set" mailctl reload
snapshot
ids_before=$LS
checked=$(awk '$2 ~ /^(Inbox|Travel|Greetings|Shopping)$/' <<<"$LS" | wc -l)
expect_rc 0 "refilter (Inbox and the rules' folders)" mailctl refilter --json
check "refilter reports 3 moved" test "$(json 'j["moved"]')" = 3
check "refilter reports $checked checked" test "$(json 'j["checked"]')" = "$checked"
snapshot
expect_folder m05 Greetings "Inbox -> Greetings (new rule)"
expect_folder m27 Travel "Inbox -> Travel (body 'boarding pass')"
expect_folder m23 Inbox "Travel -> Inbox (no longer matches)"
expect_folder m21 Travel "still matches Travel"
expect_folder m33 Travel "still matches Travel (folded subject)"
expect_folder m30 Archive "a user folder is not refiltered"
expect_folder m20 Receipts "Receipts is no rule folder any more: left alone"
expect_folder m28 Receipts "Receipts is no rule folder any more: left alone"
expect_folder m01 Spam "Spam is no rule folder any more: left alone"
expect_folder m22 Family "Family is no rule folder any more: left alone"
expect_folder m10 Inbox "still no match"
check "every id is unchanged by refilter" \
	test "$(awk '{print $1, $3}' <<<"$LS" | sort)" = "$(awk '{print $1, $3}' <<<"$ids_before" | sort)"
check "folder Greetings was created" test -d "$T/data/alice/Greetings/new"

expect_rc 0 "refilter Receipts explicitly" mailctl refilter Receipts --json
check "refilter Receipts: 2 checked, 2 moved" \
	test "$(json '"%d/%d" % (j["checked"], j["moved"])')" = 2/2
snapshot
expect_folder m20 Shopping "refilter Receipts: shop@ -> Shopping"
expect_folder m28 Shopping "refilter Receipts: shop@ -> Shopping"
n_inbox=$(awk '$2 == "Inbox"' <<<"$LS" | wc -l)
expect_rc 0 "refilter inbox (case-insensitive)" mailctl refilter inbox --json
check "refilter inbox: $n_inbox checked, 0 moved" \
	test "$(json '"%d/%d" % (j["checked"], j["moved"])')" = "$n_inbox/0"
expect_rc 0 "refilter again" mailctl refilter --json
check "a second refilter moves nothing" test "$(json 'j["moved"]')" = 0
expect_rc 65 "refilter of an unknown folder fails" mailctl refilter Nowhere
contains "$ERR" "Nowhere" "the error names the folder"

# --- (e2): refilter --dry-run, and what the user filed by hand --------------------
expect_folder m05 Greetings "before: the rules filed it"
expect_rc 0 "mv m05 back to Inbox by hand" mailctl mv "$(id_of m05)" Inbox
expect_rc 0 "refilter after mv" mailctl refilter --json
check "refilter leaves m05 where the user put it (by_hand 1, moved 0)" \
	test "$(json '"%d/%d" % (j["by_hand"], j["moved"])')" = 1/0
check "m05 is still in Inbox" test "$(snapshot && folder_of m05)" = Inbox
setrules "$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
r[1]["from"] = ["shop@"]
print(json.dumps(r))' "$rules3")"
expect_rc 0 "reload: shop@ now files into Greetings" mailctl reload
snapshot
before=$LS
shopping=$(awk '$2 == "Shopping" { print $3 }' <<<"$LS" | sort -n | tr '\n' ' ')
check "Shopping holds m20 and m28" test "$(folder_of m20)/$(folder_of m28)" = Shopping/Shopping
files_before=$(stored alice | sort)
expect_rc 0 "refilter --dry-run" mailctl refilter --dry-run --json
check "dry run: lists each Shopping message as Shopping -> Greetings" \
	test "$(json '" ".join(str(m["id"]) for m in sorted(j["moves"], key=lambda m: m["id"]) if (m["from_folder"], m["to_folder"]) == ("Shopping", "Greetings")) + " "')" = "$shopping"
check "dry run: nothing else listed, nothing moved, m05 left alone" \
	test "$(json '"%d/%d/%s/%d" % (len(j["moves"]), j["moved"], j["dry_run"], j["by_hand"])')" = "$(wc -w <<<"$shopping")/0/True/1"
check "dry run: the listing is unchanged" test "$(snapshot && echo "$LS")" = "$before"
check "dry run: no file moved" test "$(stored alice | sort)" = "$files_before"
expect_rc 0 "refilter --dry-run, for people" mailctl refilter -n
contains "$OUT" "would move $(printf '%6d' "$(id_of m20)")  Shopping -> Greetings" "shows id, from and to folders"
contains "$OUT" "dry run: nothing moved" "says nothing moved"
contains "$OUT" "1 filed by hand left alone" "says what it left alone"
check "still nothing moved" test "$(snapshot && folder_of m20)" = Shopping
expect_rc 0 "refilter" mailctl refilter --json
check "refilter moves them: moved = the dry run's count" \
	test "$(json 'j["moved"]')" -eq "$(wc -w <<<"$shopping")"
snapshot
expect_folder m20 Greetings "shop@ -> Greetings"
expect_folder m28 Greetings "shop@ -> Greetings"
expect_folder m05 Inbox "filed by hand: left in Inbox"

# --- (f): the files themselves ----------------------------------------------------
snapshot
bad=
while read -r tok folder id read; do
	f=$(file_of "$tok")
	if [ "$(wc -l <<<"$f")" -ne 1 ] || [ -z "$f" ]; then
		bad="$bad $tok:not-exactly-one-file($f)"
	elif [ "$(dirname "$f")" != "$T/data/alice/$folder/new" ]; then
		bad="$bad $tok:${f#"$T"/data/}(listed-in-$folder)"
	fi
done <<<"$LS"
if [ -z "$bad" ]; then ok "each of the 33 messages is one file in its folder's new/"
else not_ok "misplaced files:$bad"; fi
check "33 message files in the store" test "$(stored alice | wc -l)" -eq 33
check "no file name carries Maildir flags (all unread)" \
	test -z "$(stored alice | grep ':2,')"
left=$(find "$T/data" -path "$T/data/*/tmp/*")
if [ -z "$left" ]; then ok "nothing left in any tmp/"
else not_ok "left in tmp/: $left"; fi
check "file sizes match the listing" python3 -c '
import json, os, subprocess, sys
for m in json.load(open(sys.argv[1])):
    tok = m["subject"].split()[0]
    f = subprocess.run(["grep", "-rlx", "X-Test-Id: " + tok, sys.argv[2]],
                       capture_output=True, text=True).stdout.split()
    if len(f) != 1 or os.path.getsize(f[0]) != m["size"]:
        sys.exit("%s: %s size %s" % (tok, f, m["size"]))
' "$T/ls.json" "$T/data/alice"

expect_rc 0 "the daemon still answers status" mailctl status --json
check "status: the store holds 33 messages" \
	test "$(json 'j["accounts"][0]["store"]["messages"]')" = 33
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0
