#!/bin/bash
# hooks.new_mail: argv without a shell, placeholders and MAILCTL_* values
# right, a subject full of shell metacharacters arrives verbatim and runs
# nothing, a hook that hangs is killed at its timeout, a failing hook is
# logged and disturbs nothing.
. "$(dirname "$0")/lib.sh"
use_mail_servers

ms_add_user alice 'alice-Pw1'
mkdir -p "$T/src"
printf 'From: Eve <eve@example.org>\nSubject: $(touch %s/pwned) `touch %s/pwned2`; rm -rf "$HOME" | cat\n\nx\n' "$T" "$T" >"$T/src/m1"
printf 'From: Bob <bob@example.org>\nSubject: plain one\n\ny\n' >"$T/src/m2"
ms_inject_dir alice "$T/src" >/dev/null
ms_start_dovecot >/dev/null

ACCT=$(pop3_account personal alice alice-Pw1 none "$MS_POP3_PORT")
# The script is ours and fixed; the message's values only ever arrive as
# positional arguments and environment values.
cat >"$T/config.json" <<EOC
{ "data_dir": "$T/data", "socket": "$SOCK", "poll_at_start": false,
  "accounts": [ $ACCT ],
  "hooks": { "new_mail": ["sh", "-c",
      "printf '%s\\\\n' \"\$1|\$2|\$3|\$4|\$5|\$MAILCTL_FROM|\$MAILCTL_SUBJECT|\$MAILCTL_FOLDER|\$MAILCTL_ACCOUNT|\$MAILCTL_ID\" >>$T/hook.out",
      "hook", "{from}", "{subject}", "{folder}", "{account}", "id={id}"],
    "timeout": 2 } }
EOC
start_daemon "$T/config.json"
expect_rc 0 "fetch 2 messages" mailctl fetch
for i in $(seq 50); do [ "$(wc -l <"$T/hook.out" 2>/dev/null)" = 2 ] && break; sleep 0.1; done
check "the hook ran once per message" test "$(wc -l <"$T/hook.out")" -eq 2
line=$(grep Eve "$T/hook.out")
subject='$(touch '"$T"'/pwned) `touch '"$T"'/pwned2`; rm -rf "$HOME" | cat'
check "placeholders: from, subject verbatim, folder, account, id" \
	test "${line%%|Eve*}" = "Eve <eve@example.org>|$subject|Inbox|personal|id=$(sed -n 's/.*|\([0-9]*\)$/\1/p' <<<"$line")"
check "MAILCTL_* values match" test "${line#*|id=*|}" = "Eve <eve@example.org>|$subject|Inbox|personal|$(sed -n 's/.*|\([0-9]*\)$/\1/p' <<<"$line")"
check "nothing in the subject was run" test ! -e "$T/pwned" -a ! -e "$T/pwned2"
check "HOME is still there" test -d "$HOME"

# A hook that hangs is killed at its timeout; one that fails is logged.
python3 - "$T/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["hooks"] = {"new_mail": ["sleep", "30"], "timeout": 1}
json.dump(c, open(sys.argv[1], "w"))
PY
expect_rc 0 "reload with a hanging hook" mailctl reload
printf 'From: c@example.org\nSubject: three\n\nz\n' >"$T/src/m3" && rm "$T/src/m1" "$T/src/m2"
ms_inject_dir alice "$T/src" >/dev/null
expect_rc 0 "fetch with a hanging hook" mailctl fetch
contains "$OUT" "1 new" "the message was fetched"
for i in $(seq 60); do grep -q "timed out and was killed" "$T/daemon.log" && break; sleep 0.1; done
check "the hanging hook was killed at its timeout" grep -q 'hook "sleep" timed out and was killed' "$T/daemon.log"
check "no sleep left behind" eval '! pgrep -x -P "$DAEMON_PID" sleep >/dev/null'
check "no zombie children" eval '! ps -o stat= --ppid "$DAEMON_PID" | grep -q Z'

python3 - "$T/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["hooks"] = {"new_mail": ["false"]}
json.dump(c, open(sys.argv[1], "w"))
PY
expect_rc 0 "reload with a failing hook" mailctl reload
printf 'From: d@example.org\nSubject: four\n\nw\n' >"$T/src/m4" && rm "$T/src/m3"
ms_inject_dir alice "$T/src" >/dev/null
expect_rc 0 "fetch with a failing hook" mailctl fetch
contains "$OUT" "1 new" "the message was fetched"
for i in $(seq 30); do grep -q 'hook "false" failed' "$T/daemon.log" && break; sleep 0.1; done
check "the failing hook was logged" grep -q 'hook "false" failed (exit status 1)' "$T/daemon.log"
expect_rc 0 "status still answers" mailctl status
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0
