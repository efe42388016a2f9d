#!/bin/bash
# One daemon per data_dir: a second mailctld on the same data_dir (another
# config, another socket) exits at once with 75, naming the directory and
# the first daemon's pid, and creates nothing; the first keeps serving;
# after a SIGKILL of the first (its lock goes with it) a new one starts.
# A data_dir whose parents are missing is made, parents and all.
. "$(dirname "$0")/lib.sh"

write_config "$T/a.json"
SOCK2=$T/other/s.sock
sed "s|\"socket\": \"$SOCK\"|\"socket\": \"$SOCK2\"|" "$T/a.json" >"$T/b.json"
check "the second config differs only in its socket" \
	eval 'grep -q "$SOCK2" "$T/b.json" && ! grep -q "\"$SOCK\"" "$T/b.json"'

start_daemon "$T/a.json"
FIRST=$DAEMON_PID
check "data_dir/lock records the daemon's pid" \
	test "$(tr -d '\n' <"$T/data/lock")" = "$FIRST"

expect_rc 75 "a second mailctld on the same data_dir exits 75" \
	timeout 10 "$MAILCTLD" --config "$T/b.json"
contains "$ERR" "$T/data is in use by another mailctld (pid $FIRST)" \
	"it names the data_dir and the holder's pid"
check "its reason is one line" test "$(grep -c . <<<"$ERR")" -eq 1
check "it made no socket" test ! -e "$SOCK2"
expect_rc 0 "the first still answers" mailctl status
check "the lock still names the first" \
	test "$(tr -d '\n' <"$T/data/lock")" = "$FIRST"

stop_daemon KILL
check "the first is gone (SIGKILL)" test "$DAEMON_RC" -eq 137
SOCK1=$SOCK SOCK=$SOCK2
start_daemon "$T/b.json"
check "after the SIGKILL a new daemon starts on the data_dir" \
	kill -0 "$DAEMON_PID"
check "the lock names the new one" \
	test "$(tr -d '\n' <"$T/data/lock")" = "$DAEMON_PID"
expect_rc 0 "the new one answers" mailctl status
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0

# A data_dir under parents that do not exist yet.
sed "s|\"data_dir\": \"$T/data\"|\"data_dir\": \"$T/new/deep/data\"|" \
	"$T/a.json" >"$T/c.json"
SOCK=$SOCK1
start_daemon "$T/c.json"
check "data_dir and its missing parents are made, 0700" \
	test "$(stat -c %a "$T/new/deep/data")" = 700
expect_rc 0 "it answers" mailctl status
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0
