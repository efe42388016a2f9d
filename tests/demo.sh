#!/bin/bash
# The README's first command ends in tools/demo: it must keep working. Run
# it as CI would (stdin not a terminal: it stops everything itself) and
# check that every step it shows worked.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "tools/demo starts Dovecot and Postfix: it needs root"
command -v dovecot >/dev/null || skip_all "dovecot is not installed (tests/servers/install-deps)"
expect_rc 0 "tools/demo runs to its end" timeout 300 \
	"$top_srcdir/tools/demo" </dev/null
contains "$OUT" "== done" "it says it is done"
contains "$OUT" "notes.txt" "the mail sent with an attachment came back with it"
contains "$OUT" "> Re: Lunch on Friday?" "the reply to Ana is in the conversation, indented"
contains "$OUT" "by the [river]" "the search finds it, the word marked"
