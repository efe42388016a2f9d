#!/bin/bash
# Crash safety: mailctld killed with SIGKILL in the middle of a large poll,
# several times at different moments, then restarted: in the end every
# message is in the store exactly once, nothing is half written in new/ or
# left in tmp/, and the index agrees with the Maildir.
. "$(dirname "$0")/lib.sh"
use_mail_servers

ms_add_user alice 'alice-Pw1'
python3 "$TOOLS/gen_messages.py" 3000 "$T/src" --big 60 --big-size 600000
ms_inject_dir alice "$T/src" >/dev/null
ms_start_dovecot >/dev/null
write_config "$T/config.json" "$(pop3_account crash alice alice-Pw1 none "$MS_POP3_PORT")"

# Each time: start a poll, SIGKILL the daemon once it has committed
# messages to the store.
crash_fetch crash commit 0
n=$(stored crash | wc -l)
check "killed during the first poll with $n messages stored" test "$n" -gt 0 -a "$n" -lt 3000
crash_fetch crash commit 0
ok "killed during the second poll with $(stored crash | wc -l) messages stored"
crash_fetch crash commit 0
n=$(stored crash | wc -l)
ok "killed during the third poll with $n messages stored"

start_daemon "$T/config.json"
# While that poll runs, the daemon answers other requests at once, and a
# second fetch joins the running poll instead of starting another.
mailctl fetch crash --json >"$T/fetch1.out" 2>&1 &
fetch1=$!
sleep 0.05
mailctl fetch crash --json >"$T/fetch2.out" 2>&1 &
fetch2=$!
slow=0 busy=0
for i in $(seq 5); do
	t0=$(date +%s%N)
	mailctl status --json >"$T/st.out" || slow=$((slow + 100))
	t1=$(date +%s%N)
	[ $(( (t1 - t0) / 1000000 )) -lt 500 ] || slow=$((slow + 1))
	grep -q '"polling":true' "$T/st.out" && busy=$((busy + 1))
done
check "status answered within 0.5 s, 5 times, during the poll" test "$slow" -eq 0
check "status saw the poll running" test "$busy" -gt 0
wait $fetch1 $fetch2
check "one poll, joined by the second fetch" test "$(grep -c 'account=crash poll starts' "$T/daemon.log")" -eq 4
check "both fetches report the same result" cmp -s "$T/fetch1.out" "$T/fetch2.out"
OUT=$(cat "$T/fetch1.out")
ok "a poll after the crashes"
# Files recorded but not yet renamed at the kill are recovered, not fetched.
check "it fetched the rest: at most $((3000 - n)) new" test "$(json 'j["accounts"][0]["new"]')" -le $((3000 - n))
check "3000 messages stored" test "$(stored crash | wc -l)" -eq 3000
check "each message exactly once, byte-identical" \
	test "$(stored crash | sums)" = "$(find "$T/src" -type f | sums)"
check "recovery removed half-written files after a kill" grep -q "removing unfinished" "$T/daemon.log"
check "nothing left in tmp/" tmp_empty crash
expect_rc 0 "status" mailctl status --json
check "the index counts 3000 messages" test "$(json 'j["accounts"][0]["store"]["messages"]')" -eq 3000
expect_rc 0 "one more poll" mailctl fetch crash --json
check "nothing new" test "$(json 'j["accounts"][0]["new"]')" -eq 0
stop_clean
