#!/bin/bash
# Hostile clients: garbage, half requests, a 5 MiB line, bad versions, unknown
# methods, wrong params, mixed batches, byte-by-byte writes, clients that never
# read. Each gets the right error and the daemon keeps serving.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip_all "python3 is not installed"

write_config "$T/config.json"
start_daemon "$T/config.json"
python3 "$TOOLS/rpc_hostile.py" "$SOCK" >"$T/hostile.out" 2>&1 && rc=0 || rc=$?
sed 's/^/#   /' "$T/hostile.out"
check "rpc_hostile.py: every check passed" test $rc -eq 0
check "no 'not ok' in its output" eval '! grep -q "^not ok" "$T/hostile.out"'
check "it ran its checks" test "$(grep -c '^ok' "$T/hostile.out")" -ge 30
python3 "$TOOLS/rpc_hog.py" "$SOCK" "$DAEMON_PID" $((64 * RSS_SCALE)) >"$T/hog.out" 2>&1 && rc=0 || rc=$?
sed 's/^/#   /' "$T/hog.out"
check "a client that never reads is held back, memory bounded" test $rc -eq 0
expect_rc 0 "daemon still answers status" mailctl status
check "daemon still running" kill -0 "$DAEMON_PID"
check "oversized line logged" grep -q "longer than 4194304 bytes" "$T/daemon.log"
stop_daemon
check "clean stop after the abuse" test "$DAEMON_RC" -eq 0
