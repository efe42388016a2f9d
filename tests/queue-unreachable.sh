#!/bin/bash
# The outbox when an account's SMTP server cannot be reached: every due
# message counts the failed try and is deferred with the reason, and a
# send --wait hears that first delay (EX_TEMPFAIL), even when its message
# was queued while another message of the account was being tried and
# the session that failed was that other message's.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip_all "python3 is not installed"

# A port nothing listens on: bound once, then closed.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The password comes from a command that takes a second: the second mail
# is queued while the first one's session waits for it.
cat >"$T/config.json" <<EOC
{ "data_dir": "$T/data", "socket": "$SOCK", "poll_at_start": false,
  "accounts": [ { "name": "down", "email": "me@down.test",
    "smtp": { "host": "127.0.0.1", "port": $PORT, "tls": "none",
              "user": "me", "password_command": ["sh", "-c", "sleep 1; echo pw"],
              "timeout": 5 } } ],
  "queue": { "retry_min": 60, "retry_max": 120, "expire": 3600 } }
EOC
start_daemon "$T/config.json"

expect_rc 0 "queue a first mail" mailctl send --account down --to a@x.test --subject one --body x
expect_rc 75 "send --wait a second while the first is being tried: deferred (EX_TEMPFAIL)" \
	timeout 30 "$MAILCTL" --socket "$SOCK" send --account down --to b@x.test --subject two --body x --wait
contains "$ERR" "deferred, still queued as" "it says the mail stays queued"
contains "$ERR" "refused" "and why"
expect_rc 0 "the queue" mailctl queue --json
check "both deferred, each with a failed try and the reason" python3 -c '
import json, sys
q = json.loads(sys.argv[1])
assert len(q) == 2, q
for m in q:
    assert m["state"] == "deferred" and m["attempts"] == 1, m
    assert "refused" in m["last_error"], m
' "$OUT"
check "the daemon logged each deferral" \
	test "$(grep -c 'queue: account=[^ ]* msg=[0-9]* deferred until' "$T/daemon.log")" -eq 2
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0
