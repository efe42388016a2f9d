#!/bin/bash
# Composing in $EDITOR: reply, forward and send with no body and a
# terminal on stdin (run under a pseudo-terminal) open $VISUAL, else
# $EDITOR, on a draft in data_dir/drafts (0600) holding To, Cc, Bcc,
# Subject and the quoted original; what the editor saves is queued (the
# header block edited too) and the draft removed; a draft saved unchanged
# or emptied queues nothing (exit 1); an editor that fails keeps the draft
# and says where; a header line the draft cannot have is refused (65),
# the draft kept. Without a terminal the body is read from stdin. The
# outbox's SMTP server is down, so what was queued stays to be looked at.
. "$(dirname "$0")/lib.sh"

write_config "$T/config.json" '{"name":"home","email":"me@example.test","display_name":"Me","smtp":{"host":"127.0.0.1","port":1,"tls":"none","auth":"none"}},
{"name":"fetchonly","email":"fo@example.test","pop3":{"host":"127.0.0.1","port":1,"tls":"none","user":"fo","password":"x","poll_interval":86400}}'
start_daemon "$T/config.json"
INBOX=$T/data/home/Inbox
mkdir -p "$INBOX/new" "$INBOX/cur" "$INBOX/tmp"
printf 'From: Bob <bob@example.test>\nTo: me@example.test\nSubject: hello\nMessage-ID: <h1@example.test>\nDate: Mon, 1 Jun 2026 10:00:00 +0000\n\noriginal text\n' \
	>"$INBOX/new/2001.M1P1.host"
FO=$T/data/fetchonly/Inbox
mkdir -p "$FO/new" "$FO/cur" "$FO/tmp"
printf 'From: x@example.test\nTo: fo@example.test\nSubject: to the other\nMessage-ID: <fo1@example.test>\n\nhi\n' \
	>"$FO/new/2002.M1P1.host"
expect_rc 0 "reindex" mailctl reindex
ID=$(mailctl ls --account home --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
FOID=$(mailctl ls --account fetchonly --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

# --- refused before anything is queued ----------------------------------------------
expect_rc 65 "reply to a mail of an account without SMTP" mailctl reply "$FOID" --body x
contains "$ERR" "fetchonly, which message $FOID came to, has no SMTP server" "says which account and why"
expect_rc 65 "mark --flag of a message that does not exist" mailctl mark 999999 --flag
expect_rc 65 "forward to a malformed address" mailctl forward "$ID" --to 'bad@@example.test' --body x
contains "$ERR" "to[0]" "names the entry"
check "nothing queued" test "$(mailctl queue --json)" = "[]"

# The test editor: ED_MODE says what it does to the draft ($1).
cat >"$T/ed.py" <<'EOF'
import os, shutil, stat, sys
path, mode, t = sys.argv[1], os.environ["ED_MODE"], os.environ["T"]
shutil.copy(path, t + "/seen")
open(t + "/seen.mode", "w").write("%o" % stat.S_IMODE(os.stat(path).st_mode))
text = open(path).read()
if mode == "write":
    head, body = text.split("\n\n", 1)
    head = head.replace("Subject: Re: hello", "Subject: Re: changed")
    head = head.replace("Bcc:", "Bcc: hidden@example.test")
    open(path, "w").write(head + "\n\nMy answer." + body)
elif mode == "send":
    open(path, "w").write("To: Zed <zed@example.test>\nCc:\nBcc:\nSubject: typed\n\nhello there\n")
elif mode == "empty":
    open(path, "w").close()
elif mode == "fail":
    open(path, "a").write("half written\n")
    sys.exit(3)
elif mode == "bad":
    open(path, "w").write("To: x@example.test\nX-Nope: y\n\nbody\n")
EOF
export T
# tty CMD...: run CMD on a pseudo-terminal (stdin, stdout and stderr);
# its output in $OUT, its exit status returned.
tty() {
	python3 -c '
import os, pty, sys
out = open(sys.argv[1], "wb")
def read(fd):
    data = os.read(fd, 1024)
    out.write(data)
    return data
status = pty.spawn(sys.argv[2:], read, lambda fd: b"")
sys.exit(os.waitstatus_to_exitcode(status))' "$T/tty.out" "$@" </dev/null
}
# etty RC WHAT CMD...: tty, with the exit status checked.
etty() {
	local want=$1 what=$2 rc; shift 2
	tty "$@" && rc=0 || rc=$?
	OUT=$(tr -d '\r' <"$T/tty.out")
	if [ "$rc" -eq "$want" ]; then ok "$what (exit $rc)"
	else not_ok "$what: exit $rc, expected $want; output: $OUT"; fi
}
queued() { mailctl queue --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
drafts() { find "$T/data/drafts" -type f 2>/dev/null | wc -l; }
MC="$MAILCTL --socket $SOCK"

# --- a reply written in the editor ---------------------------------------------------
ED_MODE=write EDITOR="python3 $T/ed.py" VISUAL= etty 0 "reply in the editor: queued" $MC reply "$ID"
contains "$OUT" "queued as" "says it is queued"
S=$(cat "$T/seen")
contains "$S" "To: Bob <bob@example.test>" "the draft has To"
contains "$S" "Subject: Re: hello" "the draft has the subject"
contains "$S" "Bcc:" "the draft has an empty Bcc to fill in"
contains "$S" "> original text" "the draft quotes the original"
contains "$S" "Bob wrote:" "the draft has the attribution"
check "the draft was 0600" test "$(cat "$T/seen.mode")" = 600
check "the draft is removed once queued" test "$(drafts)" -eq 0
check "one message queued" test "$(queued)" -eq 1
Q=$(cat "$T"/data/queue/*)
contains "$Q" "Subject: Re: changed" "the edited subject went"
contains "$Q" "My answer." "the text written went"
contains "$Q" "> original text" "the quote went, once"
check "the quote is there once" test "$(grep -c '^> original text' <<<"$Q")" -eq 1
check "Bcc is not in the header" test -z "$(grep -i '^bcc' <<<"$Q")"
contains "$(mailctl queue --json)" "hidden@example.test" "the Bcc added in the draft is a recipient"
contains "$Q" "In-Reply-To: <h1@example.test>" "In-Reply-To set"
expect_rc 0 "ls --json" mailctl ls --json
jcheck "the original is marked replied" "[m['replied'] for m in j if m['id'] == $ID] == [True]"

# --- aborted drafts ---------------------------------------------------------------------
ED_MODE=empty EDITOR="python3 $T/ed.py" etty 1 "an emptied draft: nothing sent" $MC reply "$ID"
contains "$OUT" "emptied: nothing was sent" "says the draft was emptied"
ED_MODE=same EDITOR="python3 $T/ed.py" etty 1 "a draft saved unchanged: nothing sent" $MC reply "$ID"
contains "$OUT" "saved unchanged: nothing was sent" "says the draft was unchanged"
check "nothing more queued" test "$(queued)" -eq 1
check "no draft left behind" test "$(drafts)" -eq 0

ED_MODE=fail EDITOR="python3 $T/ed.py" etty 1 "an editor that fails: nothing sent" $MC forward "$ID" --to x@example.test
contains "$OUT" "exited with 3" "says how the editor ended"
contains "$OUT" "your draft is kept in $T/data/drafts/forward-" "says where the draft is"
check "nothing more queued" test "$(queued)" -eq 1
check "the draft survives" test "$(drafts)" -eq 1
check "with what was written" grep -q "half written" "$T"/data/drafts/forward-*
rm -f "$T"/data/drafts/forward-*

ED_MODE=bad EDITOR="python3 $T/ed.py" etty 65 "a draft with an unknown header line" $MC reply "$ID"
contains "$OUT" "line 2: expected To:, Cc:, Bcc: or Subject:" "names the line"
check "the draft is kept" test "$(drafts)" -eq 1
rm -f "$T"/data/drafts/*

EDITOR=true etty 65 "the editor's draft of a message that does not exist" $MC reply 999999
contains "$OUT" "no message with id 999999" "says so, before any editor"

# --- send and VISUAL ------------------------------------------------------------------
ED_MODE=send VISUAL="python3 $T/ed.py" EDITOR=false etty 0 "send in the editor (VISUAL before EDITOR)" $MC send
check "two queued" test "$(queued)" -eq 2
contains "$(mailctl queue --json)" "zed@example.test" "the recipient typed in the draft"
check "no draft left" test "$(drafts)" -eq 0

# --- no terminal: the body from stdin --------------------------------------------------
expect_rc 0 "reply without a terminal reads stdin" mailctl reply "$ID" <<<"from a pipe"
check "three queued" test "$(queued)" -eq 3
check "the daemon still answers" mailctl status
stop_daemon
check "clean stop (no leak in the sanitizer build)" test "$DAEMON_RC" = 0
