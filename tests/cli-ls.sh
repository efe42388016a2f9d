#!/bin/bash
# mailctl ls for people: lines fit the terminal's width ($COLUMNS when
# stdout is not a terminal), an account column only when the list holds
# several accounts, flags for unread and attachments, a sender cut at a
# character boundary and by name rather than mid-address; a pager only on a
# terminal and for a list longer than the screen, never with --no-pager.
. "$(dirname "$0")/lib.sh"

CFG=$T/config.json
write_config "$CFG" '{"name":"home","email":"me@example.test","smtp":{"host":"127.0.0.1","auth":"none"}},
{"name":"work","email":"me@work.test","smtp":{"host":"127.0.0.1","auth":"none"}}'
start_daemon "$CFG"

# msg ACCOUNT N FROM SUBJECT [EXTRA-HEADERS]: a message dropped into the
# account's Inbox, as another program would; reindex takes it in.
msg() {
	local d=$T/data/$1/Inbox
	mkdir -p "$d/new" "$d/cur" "$d/tmp"
	printf 'From: %s\nTo: me@example.test\nSubject: %s\nDate: Mon, 1 Jun 2026 10:%02d:00 +0000\nMessage-ID: <%s@example.test>\n%s\n' \
		"$3" "$4" "$2" "$2" "${5:-}" >"$d/new/100$2.M1P1.host"
	printf 'body\n' >>"$d/new/100$2.M1P1.host"
}
msg home 1 'Alice Nguyễn <alice.with.a.very.long.address@subdomain.example.test>' \
	'A fairly long subject line that will not fit in a narrow terminal at all'
msg work 2 'bob@example.test' 'short'
msg home 3 '"Last, First" <first.last@example.test>' 'Re: 日本語の件名 wide characters, and more words to cut'
msg home 4 'carol@example.test' 'with a file' 'MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

see the file
--b
Content-Type: application/pdf; name=a.pdf
Content-Disposition: attachment; filename=a.pdf

JVBERi0=
--b--'
expect_rc 0 "reindex takes the messages in" mailctl reindex

# widest: the widest line of $OUT in columns (wide characters count two).
widest() {
	python3 -c 'import sys, unicodedata as u
print(max(sum(2 if u.east_asian_width(c) in "WF" else 1 for c in l.rstrip("\n")) for l in sys.stdin))' <<<"$OUT"
}

for cols in 100 80 72; do
	COLUMNS=$cols expect_rc 0 "ls with COLUMNS=$cols" mailctl ls
	check "every line fits $cols columns ($(widest))" test "$(widest)" -le "$cols"
done
COLUMNS=100 expect_rc 0 "ls, two accounts" mailctl ls
check "an account column when there are several accounts" \
	grep -qE '^ *[0-9]+ N   work +Inbox .* bob@example.test ' <<<"$OUT"
check "unread flag N" grep -qE '^ *[0-9]+ N   .* short ' <<<"$OUT"
check "attachment flag @" grep -qE '^ *[0-9]+ N @ .* carol@example.test ' <<<"$OUT"
check "a long sender is shown by its name, not cut mid-address" \
	grep -qE '  Alice Nguyễn  ' <<<"$OUT"
check "a quoted name loses its quotes" grep -qE '  Last, First  ' <<<"$OUT"
check "a cut subject ends with an ellipsis" grep -q 'A fairly long.*…' <<<"$OUT"
check "no line cut in the middle of a character" python3 -c 'import sys; sys.stdin.buffer.read().decode("utf-8")' <<<"$OUT"
COLUMNS=100 expect_rc 0 "ls --account home" mailctl ls --account home
check "no account column for one account" grep -qE '^ *[0-9]+ N   Inbox ' <<<"$OUT"
expect_rc 0 "ls --json" mailctl ls --json
id=$(json '[m["id"] for m in j if m["from"] == "carol@example.test"][0]')
expect_rc 0 "read marks a message read" mailctl read "$id"
COLUMNS=100 expect_rc 0 "ls after read" mailctl ls
check "a read message has no unread flag" grep -qE '^ *[0-9]+   @ .* carol@example.test ' <<<"$OUT"
expect_rc 0 "ls --json is untouched by the layout" mailctl ls --json
jcheck "ls --json: every message" 'len(j) == 4 and j[-1]["from"].startswith("Alice")'

# The pager: only on a terminal, only for a list longer than the screen.
for i in $(seq 10 40); do msg home "$i" "x$i@example.test" "message $i"; done
expect_rc 0 "reindex" mailctl reindex
onpty() { script -qec "stty rows $1 cols 100; $2" /dev/null </dev/null; }
export PAGER='sed s/^/PAGED:/'
OUT=$(onpty 10 "$MAILCTL --socket $SOCK ls")
check "a long list on a terminal goes through \$PAGER" grep -q '^PAGED:' <<<"$OUT"
OUT=$(onpty 10 "$MAILCTL --socket $SOCK ls --no-pager")
check "--no-pager: no pager" test -n "$OUT" -a -z "$(grep '^PAGED:' <<<"$OUT")"
OUT=$(onpty 100 "$MAILCTL --socket $SOCK ls")
check "a list that fits the screen: no pager" test -n "$OUT" -a -z "$(grep '^PAGED:' <<<"$OUT")"
expect_rc 0 "ls into a pipe" mailctl ls
check "not a terminal: no pager" test -z "$(grep '^PAGED:' <<<"$OUT")"
unset PAGER
expect_rc 0 "the daemon still answers" mailctl status
