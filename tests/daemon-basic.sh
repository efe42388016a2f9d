#!/bin/bash
# mailctld + mailctl end to end: start-up, status, reload (good and bad,
# by RPC and SIGHUP), socket permissions, peer credentials, client errors,
# clean stop.
. "$(dirname "$0")/lib.sh"

ACCT1='{"name":"personal","email":"alice@example.test","display_name":"Alice",
  "pop3":{"host":"127.0.0.1","port":1110,"tls":"none","user":"alice","password":"hunter2-secret"}}'
ACCT2='{"name":"work","email":"bob@example.test",
  "smtp":{"host":"localhost","user":"bob","password_command":["echo","pw-secret"]}}'
CFG=$T/config.json
write_config "$CFG" "$ACCT1"

# The client without a daemon: one line, exit 69.
expect_rc 69 "mailctl without a daemon" mailctl status
contains "$ERR" "mailctld is not running" "says the daemon is not running"
check "that is one line" test "$(wc -l <<<"$ERR")" -eq 1

# A bad configuration keeps the daemon from starting, naming the key.
echo '{"accounts":[{"name":"x","email":"x@y.test","pop3":{"host":"h","port":99999,"user":"u","password":"p"}}]}' >"$T/bad.json"
expect_rc 78 "mailctld refuses a bad config" "$MAILCTLD" --config "$T/bad.json"
contains "$ERR" "accounts[0].pop3.port: expected an integer 1–65535" "start-up error names the key"
expect_rc 78 "mailctld refuses a missing --config file" "$MAILCTLD" --config "$T/none.json"

# Started with a low soft limit on open files, the daemon raises it to
# the hard one (at most 65,536): a big sync holds many files open.
HARD_NOFILE=$(ulimit -Hn)
[ "$HARD_NOFILE" = unlimited ] || [ "$HARD_NOFILE" -gt 65536 ] && HARD_NOFILE=65536
ulimit -Sn 256
start_daemon "$CFG"
check "the open files limit raised from 256 to $HARD_NOFILE" test \
    "$(awk '/^Max open files/ {print $4}' /proc/$DAEMON_PID/limits)" = "$HARD_NOFILE"
check "socket is mode 0600" test "$(stat -c %a "$SOCK")" = 600
check "socket directory is mode 0700" test "$(stat -c %a "$(dirname "$SOCK")")" = 700

expect_rc 0 "status" mailctl status
contains "$OUT" "mailctld 0." "status shows the version"
contains "$OUT" "personal <alice@example.test>" "status shows the account"
contains "$OUT" "pop3  127.0.0.1:1110 tls=none" "status shows the server"
expect_rc 0 "status --json" mailctl status --json
check "status --json is one JSON document with pid and accounts" \
	test "$(json 'j["pid"]')" = "$DAEMON_PID"
check "status --json: config path" test "$(json 'j["config"]')" = "$CFG"
check "status --json: uptime is a number" test "$(json 'type(j["uptime"]).__name__')" = float
check "status --json: one account" test "$(json 'len(j["accounts"])')" = 1
check "status --json: account settings" test "$(json 'j["accounts"][0]["pop3"]["user"]')" = alice
check "no secret in status" eval '! grep -q secret "$T/out" || ! grep -q "hunter2" "$T/out"'
check "status names where the secret comes from" test "$(json 'j["accounts"][0]["pop3"]["secret"]')" = password
MAILCTL_SOCKET=$SOCK expect_rc 0 "MAILCTL_SOCKET finds the daemon" "$MAILCTL" status

# Reload by RPC: a good file changes the accounts.
write_config "$CFG" "$ACCT1,$ACCT2"
expect_rc 0 "reload a good config" mailctl reload
contains "$OUT" "2 accounts" "reload reports the new account count"
expect_rc 0 "status after reload" mailctl status --json
check "two accounts after reload" test "$(json 'len(j["accounts"])')" = 2
check "smtp secret source shown, not the command" test "$(json 'j["accounts"][1]["smtp"]["secret"]')" = password_command
check "no secret in status after reload" eval '! grep -q "pw-secret\|hunter2" "$T/out"'

# Reload by RPC: a bad file is refused, the old one stays.
cp "$CFG" "$T/good.json"
echo '{"poll_interval": "often"}' >"$CFG"
expect_rc 65 "reload a bad config fails with exit 65" mailctl reload
contains "$ERR" "poll_interval: expected an integer" "reload error names the key"
contains "$ERR" "previous one stays" "reload error says the old config stays"
expect_rc 0 "status after a refused reload" mailctl status --json
check "old config still in force" test "$(json 'len(j["accounts"])')" = 2
check "reload refusal logged" grep -q "reload refused" "$T/daemon.log"

# SIGHUP: same rules.
write_config "$CFG" "$ACCT2"
kill -HUP "$DAEMON_PID"
for i in $(seq 50); do
	mailctl status --json >"$T/out" 2>/dev/null; OUT=$(cat "$T/out")
	[ "$(json 'len(j["accounts"])')" = 1 ] && break; sleep 0.1
done
check "SIGHUP reloads a good config" test "$(json 'j["accounts"][0]["name"]')" = work
echo '{"accounts":[{"name":"a"}]}' >"$CFG"
kill -HUP "$DAEMON_PID"
for i in $(seq 50); do
	[ "$(grep -c 'reload refused' "$T/daemon.log")" -ge 2 ] && break; sleep 0.1
done
check "SIGHUP with a bad config is logged with the key" grep -q 'accounts\[0\].email: missing' "$T/daemon.log"
expect_rc 0 "daemon still serves after a bad SIGHUP" mailctl status --json
check "SIGHUP with a bad config keeps the old one" test "$(json 'j["accounts"][0]["name"]')" = work
check "no secret in the log" eval '! grep -q "pw-secret\|hunter2" "$T/daemon.log"'

# A second daemon on the same socket (with a data_dir of its own: on the
# same one the data_dir lock refuses it first, tests/daemon-lock.sh) is
# refused; the first keeps serving.
cp "$T/good.json" "$CFG"
sed "s|\"data_dir\": \"$T/data\"|\"data_dir\": \"$T/data2\"|" "$CFG" >"$T/second.json"
chmod 600 "$T/second.json"
expect_rc 69 "a second daemon on the same socket is refused" "$MAILCTLD" --config "$T/second.json"
contains "$ERR" "already listening" "it says another daemon is listening"
expect_rc 0 "the first daemon still serves" mailctl status

# Peer credentials: another uid is refused even when the socket is open to it.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 755 "$T" "$T/run" "$(dirname "$SOCK")"; chmod 666 "$SOCK"
	expect_rc 77 "another uid is refused (EX_NOPERM)" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$MAILCTL" --socket "$SOCK" status
	contains "$ERR" "permission denied: uid 65534" "refusal names the uid"
	check "refusal logged" grep -q "refused: uid 65534" "$T/daemon.log"
	chmod 700 "$T" "$T/run" "$(dirname "$SOCK")"; chmod 600 "$SOCK"
else
	ok "# SKIP peer credential check needs root and setpriv"
fi

# Client usage.
expect_rc 64 "unknown command" mailctl frobnicate
contains "$ERR" 'unknown command "frobnicate"' "names the unknown command"
expect_rc 64 "unexpected argument" mailctl status extra
expect_rc 64 "unknown option" mailctl status --frob
expect_rc 0 "--help" "$MAILCTL" --help
contains "$OUT" "status" "--help lists commands"
expect_rc 0 "status --help" mailctl status --help
contains "$OUT" "usage: mailctl status [--json]" "per-command help"
expect_rc 0 "help reload" mailctl help reload
contains "$OUT" "usage: mailctl reload" "help COMMAND"
expect_rc 0 "--version" "$MAILCTL" --version
contains "$OUT" "mailctl 0." "version printed"
expect_rc 0 "mailctld --version" "$MAILCTLD" --version
expect_rc 64 "mailctld with a bad option" "$MAILCTLD" --frob

# Clean stop.
stop_daemon TERM
check "SIGTERM: exit 0" test "$DAEMON_RC" -eq 0
check "socket removed at stop" test ! -e "$SOCK"
check "stop logged" grep -q "stopped" "$T/daemon.log"
expect_rc 69 "mailctl after the stop" mailctl status

# SIGINT stops too, and a stale socket left by a killed daemon is reused.
start_daemon "$CFG"
kill_daemon
check "a killed daemon leaves its socket" test -S "$SOCK"
start_daemon "$CFG"
ok "a new daemon starts over a stale socket"
stop_daemon INT
check "SIGINT: exit 0" test "$DAEMON_RC" -eq 0
