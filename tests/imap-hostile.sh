#!/bin/bash
# IMAP against a hostile server of our own (tests/tools/imap_hostile.py),
# in addition to the real Dovecot: a literal that lies about its size
# either way, a 2 GB literal announced, an endless line, an untagged flood,
# 10,000 nested parentheses, BYE in the middle of a FETCH, no greeting,
# an IDLE whose DONE is never answered, folder names in broken modified
# UTF-7 and UTF-8.
# Each is a clear error (or a correct sync where the server is merely
# odd), never a partial file in the store, memory bounded; the daemon
# keeps answering. The normal mode is the control: its messages arrive
# byte for byte.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip_all "python3 is not installed"
HOSTILE_PROTO=imap HOSTILE_KEYS=',"idle":false'
. "$(dirname "$0")/hostile-lib.sh"

write_config "$T/config.json"
start_daemon "$T/config.json"
RSS_START=$(daemon_kb VmRSS)

# The control: a well-behaved server, its messages byte for byte.
want=$(dump_lf "$T/dump" --messages 5 normal)
run_mode normal 0 '5 new' --messages 5
check "normal: the 5 messages byte for byte (CRLF as LF)" \
	test "$(stored normal | sums)" = "$want"

run_mode lying-literal 75 "closed the connection"
run_mode lying-literal-more 1 "bad response"
run_mode huge-literal 1 "more than the limit"
run_mode endless-line 1 "longer than 65536 bytes"
run_mode untagged-flood 1 "responses to one command"
run_mode deep-nesting 1 "nesting"
run_mode bye-midway 75 "closed the session"
run_mode slow-greeting 75 "timed out"
# Unasked LIST and STATUS lines naming folders in broken modified UTF-7
# and UTF-8 (after SELECT, and to LIST): names the server sends are never
# decoded, so they change nothing.
want=$(dump_lf "$T/dump-mutf7" --messages 3 bad-mutf7)
run_mode bad-mutf7 0 '3 new' --messages 3
check "bad-mutf7: the 3 messages byte for byte" \
	test "$(stored bad-mutf7 | sums)" = "$want"

# IDLE whose DONE is never answered: the renewal finds it out.
start_hostile no-done
use_account no-done ',"idle":true,"idle_renew":2'
expect_rc 0 "no-done: the first sync works" mailctl fetch no-done
# The renewal (2 s), DONE unanswered for the timeout (2 s), then a
# reconnection 2 to 3 s later clears the error: look at status while it
# shows, every 0.2 s for up to 15 s (a single look at 6 s missed it when
# the run was slow).
for i in $(seq 75); do
	OUT=$(mailctl status --json)
	[ "$(json 'j["accounts"][0]["poll"]["watch"][0].get("error_kind")')" = network ] && break
	sleep 0.2
done
jcheck "no-done: the unanswered DONE is a network error in status" \
	'j["accounts"][0]["poll"]["watch"][0]["error_kind"] == "network"'
contains "$(cat "$T/daemon.log")" "failed in IDLE_DONE: timed out" "no-done: logged"
hostile_stop

# A server without IDLE: the watched account falls back to polling.
start_hostile normal --no-idle --messages 3
use_account no-idle ',"idle":true'
expect_rc 0 "no IDLE: the first fetch syncs" mailctl fetch no-idle --json
jcheck "no IDLE: its 3 messages" 'j["accounts"][0]["new"] == 3'
contains "$(cat "$T/daemon.log")" "does not offer IDLE: polling instead" "no IDLE: logged"
expect_rc 0 "no IDLE: the next fetch is a plain sync" mailctl fetch no-idle --json
jcheck "no IDLE: nothing new" 'j["accounts"][0]["new"] == 0'
OUT=$(mailctl status --json)
jcheck "no IDLE: no watch in status" '"watch" not in j["accounts"][0]["poll"]'
hostile_stop

RSS_END=$(daemon_kb VmRSS)
check "memory bounded through it all (RSS ${RSS_START} -> ${RSS_END} kB)" \
	test "$RSS_END" -lt $((RSS_START + 65536 * RSS_SCALE))
stop_clean
