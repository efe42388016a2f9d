#!/bin/bash
# Load: 100 clients at once, each pipelining 100 requests on one connection;
# every reply correct and matched to its id; no descriptors leaked.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip_all "python3 is not installed"

write_config "$T/config.json"
start_daemon "$T/config.json"
before=$(fd_count "$DAEMON_PID")
python3 "$TOOLS/rpc_load.py" "$SOCK" "$DAEMON_PID" >"$T/load.out" 2>&1 && rc=0 || rc=$?
sed 's/^/#   /' "$T/load.out"
check "rpc_load.py: every check passed" test $rc -eq 0
check "no 'not ok' in its output" eval '! grep -q "^not ok" "$T/load.out"'
expect_rc 0 "daemon still answers status" mailctl status
after=$(fd_count "$DAEMON_PID")
check "descriptors: $before before, $after after" test "$after" -le "$before"
stop_daemon
check "clean stop after the load" test "$DAEMON_RC" -eq 0
