#!/bin/bash
# What a new user meets first: a fresh $HOME without ~/.local/share (the
# daemon makes data_dir and its parents), everything under data_dir private
# (0600 files, 0700 directories) although the user's umask is 022; a config
# that holds a password and that others can read is refused, naming the
# file, the key and "chmod 600"; mailctld --check-config says 0 or 78.
. "$(dirname "$0")/lib.sh"

H=$T/home
mkdir -p "$H/.config/mailctl" "$T/rt"
chmod 700 "$T/rt"
CFG=$H/.config/mailctl/config.json
cat >"$CFG" <<'EOC'
{"poll_at_start": false,
 "accounts": [{"name": "a", "email": "a@example.test",
   "smtp": {"host": "127.0.0.1", "port": 1, "tls": "none", "user": "a",
            "password": "s3cret-pw"}}]}
EOC
chmod 644 "$CFG"
run() { env -u XDG_CONFIG_HOME -u XDG_DATA_HOME HOME="$H" \
	XDG_RUNTIME_DIR="$T/rt" "$@"; }

expect_rc 78 "a 0644 config holding a password is refused" \
	run "$MAILCTLD" --check-config
contains "$ERR" "$CFG" "the refusal names the file"
contains "$ERR" "accounts[0].smtp.password" "and the key"
contains "$ERR" "chmod 600 $CFG" "and says chmod 600"
check "and never the password" eval '! grep -q s3cret-pw "$T/err"'
expect_rc 78 "the daemon does not start on it" run timeout 10 "$MAILCTLD"
chmod 600 "$CFG"
expect_rc 0 "--check-config on the good file" run "$MAILCTLD" --check-config
contains "$OUT" "good: 1 account" "it says the file is good"
check "--check-config made nothing" test ! -e "$H/.local"
echo '{"poll_interval": 0, "accounts": [{"name": "b", "email": "nope", "smtp": {"host": "h"}}]}' >"$T/bad.json"
expect_rc 78 "--check-config on a bad file" run "$MAILCTLD" --check-config \
	--config "$T/bad.json"
contains "$ERR" "$T/bad.json: poll_interval: expected" "it names the first bad key"
contains "$ERR" "$T/bad.json: accounts[0].email: expected" "and the second, on a line of its own"

# The first start, umask 022, no ~/.local at all.
(umask 022; exec env -u XDG_CONFIG_HOME -u XDG_DATA_HOME HOME="$H" \
	XDG_RUNTIME_DIR="$T/rt" "$MAILCTLD" >>"$T/daemon.log" 2>&1) &
DAEMON_PID=$!
SOCK=$T/rt/mailctl/mailctld.sock
wait_ready || bail "mailctld did not start in a fresh home"
D=$H/.local/share/mailctl
check "data_dir and its parents are made" test -d "$D"
expect_rc 0 "send a mail (queued: its server is down)" mailctl send \
	--to b@example.test --subject first --body hello
loose=$(find "$D" \( -type f -perm /077 \) -o \( -type d -perm /077 \) | head -5)
check "every file and directory under data_dir is private ($loose)" \
	test -z "$loose"
check "the index is 0600" test "$(stat -c %a "$D/index.sqlite")" = 600
check "data_dir is 0700" test "$(stat -c %a "$D")" = 700
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0
