#!/bin/bash
# The daemon's modules are floors (docs/ARCHITECTURE.md): a file includes
# the headers of its own floor and those below, never above; a session
# (pop3, smtp, imap) includes no owner, consumer, bus or main header;
# nothing but main.c includes main.h or calls up into main; and the
# include graph between modules has no cycle. A new module must be given
# a floor here (and in docs/ARCHITECTURE.md) or this test fails.
set -u
cd "${top_srcdir:-$(dirname "$0")/..}"

n=0 failed=0
# ok COND-STATUS MESSAGE: one TAP line.
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"
	else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

# floor MODULE: the floor of a module (a file name without .c/.h), or
# nothing when it has none.
floor() {
	case $1 in
	autoconf) echo 0 ;;
	config | uidset | crlf | mime | mime-* | filter | compose | compose-* | *-wire | bus | query) echo 1 ;;
	conn | tls | proc | secret | store | store-* | dbus-loop | logind) echo 2 ;;
	session | pop3 | pop3-* | smtp | smtp-* | imap | imap-*) echo 3 ;;
	account | queue) echo 4 ;;
	hook | desktop | rpc | rpc-*) echo 5 ;;
	main) echo 6 ;;
	esac
}

# The daemon's own includes, as "FILE HEADER-MODULE" lines. A private
# header (NAME-int.h) belongs to its module NAME.
includes() {
	local f h
	for f in daemon/*.c daemon/*.h; do
		sed -n 's/^#include "\([^"]*\)\.h".*/\1/p' "$f" |
		while read -r h; do
			case $h in common/*) continue ;; esac
			h=${h#daemon/}
			echo "$(basename "$f") ${h%-int}"
		done
	done
}

# Every module has a floor.
bad=
for f in daemon/*.c daemon/*.h; do
	m=$(basename "$f"); m=${m%.[ch]}
	[ -n "$(floor "$m")" ] || bad="$bad $m"
done
ok "$([ -z "$bad" ]; echo $?)" "every daemon module has a floor${bad:+ (none for:$bad)}"

# Includes go down or stay on the floor.
up=$(includes | while read -r f h; do
	m=${f%.[ch]}
	fm=$(floor "$m"); fh=$(floor "$h")
	[ -n "$fm" ] && [ -n "$fh" ] && [ "$fh" -gt "$fm" ] &&
		echo "$f includes $h.h (floor $fh above $fm)"
done)
[ -n "$up" ] && echo "$up" | sed 's/^/# /'
ok "$([ -z "$up" ]; echo $?)" "no file includes a module from a floor above it"

# Sessions are leaves.
leaf=$(includes | while read -r f h; do
	case ${f%.[ch]} in pop3 | pop3-* | smtp | smtp-* | imap | imap-*) ;; *) continue ;; esac
	case $h in main | account | queue | bus | desktop | hook | rpc | rpc-*)
		echo "$f includes $h.h" ;;
	esac
done)
[ -n "$leaf" ] && echo "$leaf" | sed 's/^/# /'
ok "$([ -z "$leaf" ]; echo $?)" "sessions include no main, owner, bus, consumer or rpc header"

# main.h is main.c's own, and nothing calls up into main.
mainh=$(includes | awk '$2 == "main" && $1 != "main.c" { print $1 }')
ok "$([ -z "$mainh" ]; echo $?)" "only main.c includes main.h${mainh:+ (also: $mainh)}"
upcalls=$(grep -l -E '\bdaemon_(base|config|store|reload|uptime|started|update_status)\(' \
	$(ls daemon/*.c tests/tools/*.c tests/unit/*.c | grep -v "^daemon/main.c$") 2>/dev/null | tr '\n' ' ')
ok "$([ -z "$upcalls" ]; echo $?)" "nothing calls up into main for its context${upcalls:+ ($upcalls)}"

# No cycle between modules: tsort finds any.
cycle=$(includes | while read -r f h; do
	m=${f%.[ch]}; m=${m%-int}
	[ "$m" != "$h" ] && echo "$m $h"
done | tsort 2>&1 >/dev/null)
[ -n "$cycle" ] && echo "$cycle" | sed 's/^/# /'
ok "$([ -z "$cycle" ]; echo $?)" "the include graph between modules has no cycle"

# The check itself can fail: a made-up upward include is seen.
fake=$(echo "pop3.c account" | while read -r f h; do
	[ "$(floor "$h")" -gt "$(floor "${f%.c}")" ] && echo up
done)
ok "$([ "$fake" = up ]; echo $?)" "the floor check sees an include that goes up"

echo "1..$n"
[ "$failed" -eq 0 ]
