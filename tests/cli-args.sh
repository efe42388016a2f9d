#!/bin/bash
# Every mailctl command with --help, with no arguments and with a wrong
# argument: a clean exit with the documented status (0, 64 usage, 65 no
# recipients, 75 temporary failure), never a crash. Options go anywhere on the line. Runs
# in the sanitizer build too, where a leak or an overflow is a failure.
. "$(dirname "$0")/lib.sh"

CMDS="status fetch ls read mark mv rm attachments send reply forward queue
sendmail folders reindex refilter reload watch"

# No crash, no sanitizer report: exit below 128 and a quiet stderr.
clean() {
	case $ERR in
	*Sanitizer*|*"runtime error"*) not_ok "$1: sanitizer report: $ERR" ;;
	*) ok "$1: no sanitizer report" ;;
	esac
}

# Without a daemon, the client says so (69) but --help still works.
expect_rc 69 "status without a daemon" mailctl status
expect_rc 0 "--help without a daemon" mailctl ls --help

# Two POP3 accounts on ports nobody listens on: every poll fails on the
# network, so fetch is a temporary failure.
CFG=$T/config.json
ACCTS='{"name":"one","email":"one@example.test","pop3":{"host":"127.0.0.1","port":1,"tls":"none","user":"u","password":"p","timeout":5}},
{"name":"two","email":"two@example.test","pop3":{"host":"127.0.0.1","port":1,"tls":"none","user":"u","password":"p","timeout":5}}'
write_config "$CFG" "$ACCTS"
start_daemon "$CFG"

# The command line itself.
expect_rc 64 "mailctl without a command" mailctl
contains "$ERR" "usage: mailctl" "says how to use it"
expect_rc 0 "mailctl --help" mailctl --help
for c in $CMDS; do
	contains "$OUT" "  $c " "--help lists $c"
done
expect_rc 0 "mailctl --version" mailctl --version
expect_rc 64 "mailctl --bogus" mailctl --bogus
expect_rc 64 "an unknown command" mailctl bogus
contains "$ERR" '"bogus"' "names the unknown command"
expect_rc 0 "mailctl help" mailctl help
expect_rc 0 "mailctl help ls" mailctl help ls
contains "$OUT" "usage: mailctl ls" "help COMMAND shows its usage"
expect_rc 64 "mailctl help bogus" mailctl help bogus

# Every command with --help: usage on stdout, exit 0, no daemon asked.
for c in $CMDS; do
	expect_rc 0 "$c --help" mailctl "$c" --help
	contains "$OUT" "usage: mailctl $c" "$c --help prints its usage"
	clean "$c --help"
	expect_rc 0 "$c -h" mailctl "$c" -h
done

# Every command with no arguments.
declare -A noargs=([status]=0 [fetch]=75 [ls]=0 [read]=64 [mark]=64 [mv]=64
	[rm]=64 [attachments]=64 [send]=65 [reply]=64 [forward]=64 [queue]=0 [sendmail]=65 [folders]=0
	[reindex]=0 [refilter]=0 [reload]=0)
for c in $CMDS; do
	[ "$c" = watch ] && continue
	expect_rc "${noargs[$c]}" "$c without arguments" mailctl "$c" </dev/null
	clean "$c without arguments"
	if [ "${noargs[$c]}" = 64 ] || [ "${noargs[$c]}" = 65 ]; then
		contains "$ERR" "usage: mailctl $c" "$c without arguments shows its usage"
	fi
done
# watch without arguments streams until stopped.
mailctl watch >"$T/watch.out" 2>"$T/watch.err" &
wpid=$!
sleep 0.5
check "watch without arguments runs" kill -0 "$wpid"
kill -TERM "$wpid"
wait "$wpid" && wrc=0 || wrc=$?
check "watch stops on SIGTERM (exit $wrc)" test "$wrc" -eq 143

# Every command with an unknown option.
for c in $CMDS; do
	[ "$c" = sendmail ] && continue
	expect_rc 64 "$c --bogus" mailctl "$c" --bogus </dev/null
	clean "$c --bogus"
done
expect_rc 64 "sendmail -Z" mailctl sendmail -Z </dev/null

# Every command with a wrong argument.
while IFS='|' read -r what args; do
	# shellcheck disable=SC2086
	expect_rc 64 "$what" mailctl $args </dev/null
	clean "$what"
done <<'EOT'
status with an argument|status extra
fetch with two accounts|fetch one two
ls with two folders|ls Inbox Work
ls --limit not a number|ls --limit many
ls --offset negative|ls --offset -1
ls --account without a name|ls --account
read with a bad id|read abc
read with two ids|read 1 2
read id 0|read 0
mark without --read or --unread|mark 1
mark with a bad id|mark x --read
mark --flag without an id|mark --flag
reply with a bad id|reply x
reply with two ids|reply 1 2
reply --inline (forward's)|reply 1 --inline
forward without an id|forward --to a@example.test
forward with a bad id|forward x --to a@example.test
forward --all (reply's)|forward 1 --all --to a@example.test
mv without a folder|mv 1
mv with a bad id|mv x Work
rm with a bad id|rm 1 x
attachments with a bad id|attachments x
attachments --index 0|attachments 1 --index 0
send with an extra argument|send --to a@example.test extra
send --to without an address|send --to
queue with an unknown subcommand|queue bogus
queue cancel without an id|queue cancel
queue cancel with a bad id|queue cancel x
queue flush with an argument|queue flush 1
sendmail -f without an address|sendmail -f
folders with an argument|folders extra
reindex with two accounts|reindex a b
refilter with two folders|refilter a b
reload with an argument|reload extra
watch with an argument|watch extra
EOT

# An account the daemon does not know: usage, naming it.
expect_rc 64 "fetch an unknown account" mailctl fetch nosuch
contains "$ERR" "nosuch" "the error names the account"
expect_rc 64 "send from an unknown account" mailctl send --to a@example.test \
	--subject s --body b --account nosuch
contains "$ERR" "nosuch" "the error names the account"
expect_rc 64 "ls an unknown account" mailctl ls --account nosuch
contains "$ERR" "nosuch" "ls: the error names the account"
expect_rc 64 "reindex an unknown account" mailctl reindex nosuch
contains "$ERR" "nosuch" "reindex: the error names the account"
expect_rc 0 "ls a known account" mailctl ls --account one --json
jcheck "ls --account one: an empty list" 'j == []'

# Options anywhere on the line.
expect_rc 64 "fetch --json ACCOUNT is parsed (unknown account)" mailctl fetch --json nosuch
contains "$ERR" "nosuch" "fetch --json ACCOUNT: the account reached the daemon"
expect_rc 75 "fetch --json ACCOUNT" mailctl fetch --json one
jcheck "fetch --json ACCOUNT prints JSON for that account" \
	'[a["account"] for a in j["accounts"]] == ["one"] and j["accounts"][0]["error_kind"] == "network"'
expect_rc 75 "fetch ACCOUNT --json" mailctl fetch one --json
expect_rc 75 "fetch: every account unreachable" mailctl fetch
contains "$ERR" "one:" "fetch names the first failed account"
contains "$ERR" "two:" "fetch names the second failed account"
expect_rc 0 "ls --json FOLDER" mailctl ls --json Inbox
jcheck "ls --json FOLDER is JSON" 'j == []'
expect_rc 0 "queue --json list" mailctl queue --json list
expect_rc 0 "reindex --json ACCOUNT" mailctl reindex --json one
jcheck "reindex --json is JSON" '"added" in j'
expect_rc 0 "status --json" mailctl status --json

expect_rc 0 "the daemon still answers" mailctl status
