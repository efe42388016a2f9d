#!/bin/bash
# A stop never waits for a long store job: SIGTERM in the middle of a
# reindex of 30,000 messages ends it at once (its client told the daemon
# went away), the index is left as it was (one transaction), and
# a reindex after the restart finds every message.
. "$(dirname "$0")/lib.sh"

N=30000
write_config "$T/config.json" '{"name":"big","email":"big@x.test","smtp":{"host":"h"}}'
python3 - "$T/data/big/Inbox/cur" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
for i in range(n):
    with open("%s/%d.M%dP1.test:2,S" % (d, 1700000000 + i, i), "w") as f:
        f.write("From: s%d@example.org\nSubject: message %d\n"
                "Date: Mon, 1 Jan 2024 10:00:00 +0000\n\nbody %d\n" % (i, i, i))
PY
start_daemon "$T/config.json"
mailctl reindex --json >"$T/reindex.out" 2>"$T/reindex.err" &
CLIENT=$!
# Stop it once the reindex is under way (a fixed wait was longer than the
# whole reindex on a fast run).
for _ in $(seq 200); do
	grep -q 'method=reindex' "$T/daemon.log" && break
	sleep 0.01
done
sleep 0.05
start=$(date +%s%N)
stop_daemon
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "clean exit on SIGTERM during reindex" test "$DAEMON_RC" = 0
check "the reindex was interrupted, not waited for" grep -q "reindex interrupted: the daemon is stopping" "$T/daemon.log"
wait "$CLIENT"; rc=$?
check "the reindex client was let go: the daemon is unavailable (exit $rc, 69)" test "$rc" = 69
contains "$(cat "$T/reindex.err")" "closed the connection" "and was told why"
echo "# stopped in $elapsed_ms ms"

start_daemon "$T/config.json"
expect_rc 0 "the index is as it was: empty" mailctl ls --account big --json
jcheck "the index is as it was: empty (result)" 'j == []'
expect_rc 0 "reindex after the restart" mailctl reindex --json
jcheck "reindex after the restart adds all $N" "j['added'] == $N"
expect_rc 0 "folders counts them" mailctl folders --json
jcheck "folders counts them (result)" "[f['total'] for f in j if f['folder'] == 'Inbox'] == [$N]"
stop_daemon
check "clean exit" test "$DAEMON_RC" = 0
