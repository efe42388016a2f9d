#!/bin/bash
# Sleep and wake-up from logind on a private system bus: PrepareForSleep(true)
# is logged, PrepareForSleep(false) makes every account poll at once (an
# account whose timer is an hour away and that did not poll at start);
# the same signal from a stranger, who does not own org.freedesktop.login1,
# changes nothing; with no system bus the daemon serves and says so once;
# a bus that goes away is noticed, and one that comes back at the same
# address is used again within the backoff (1 s, 2 s, ...); a logind that
# serves Inhibit gets a delay lock, given back before the sleep and taken
# anew after it. Each latency is printed.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip_all "python3 is not installed"
command -v dbus-daemon >/dev/null || skip_all "dbus-daemon is not installed"
FAKE=$top_builddir/tests/tools/logind-fake
[ -x "$FAKE" ] || bail "$FAKE is not built (make check builds it)"

# A POP3 server with 3 messages; each connection is an "N OPEN" line.
python3 "$TOOLS/pop3_hostile.py" --port-file "$T/port" --log "$T/pop3.log" good \
	>>"$T/pop3.out" 2>&1 &
POP3_PID=$!
t_at_exit "kill $POP3_PID 2>/dev/null"
for i in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
[ -s "$T/port" ] || bail "the POP3 server did not start"
write_config "$T/config.json" "{\"name\":\"acct\",\"email\":\"u@x.test\",\"pop3\":{\"host\":\"127.0.0.1\",\"port\":$(cat "$T/port"),\"tls\":\"none\",\"user\":\"u\",\"password\":\"pw\",\"poll_interval\":3600}}"

# now: seconds since the epoch, to the millisecond.
now() { date +%s.%3N; }
# since T0: seconds from T0 to now.
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.3f\n", a - b }'; }
# opens: connections the POP3 server saw.
opens() { grep -c ' OPEN$' "$T/pop3.log" 2>/dev/null || true; }
# logged PATTERN: the number of daemon log lines matching PATTERN.
logged() { grep -c -- "$1" "$T/daemon.log" || true; }
# sleep_signal true|false [--stranger]: send PrepareForSleep.
sleep_signal() { "$FAKE" ${2:-} "$1"; }
# last_poll: accounts[0].poll.last_poll of status, as Python sees it.
last_poll() { OUT=$(mailctl status --json) && json 'j["accounts"][0]["poll"]["last_poll"]'; }

# --- a system bus with logind on it ------------------------------------------
mkdir -p "$T/sys"
dbus_start "$T/sys/bus" || bail "the private system bus did not start"
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/sys/bus
start_daemon "$T/config.json"
check "the daemon watches for sleep on the private system bus" \
	count_reaches "logged 'logind: watching for sleep on the system bus at \"unix:path=$T/sys/bus\"'" 1 5
check "no poll at start" test "$(last_poll)" = None

# A stranger's signal: the bus does not deliver it (the match names logind).
check "a stranger's PrepareForSleep(false) is sent" sleep_signal false --stranger
check "and changes nothing" count_stays opens 0
check "no resume is logged" test "$(logged 'resumed from sleep')" -eq 0

check "PrepareForSleep(true) is sent" sleep_signal true
check "\"going to sleep\" is logged" count_reaches "logged '^<6>going to sleep$'" 1 5
check "no poll before sleeping" count_stays opens 0

t0=$(now)
check "PrepareForSleep(false) is sent" sleep_signal false
check "the resume is logged" count_reaches "logged '^<6>resumed from sleep: polling every account$'" 1 5
for i in $(seq 200); do [ "$(last_poll)" != None ] && break; sleep 0.05; done
lat=$(since "$t0")
echo "# wake-up to the end of the poll: $lat s (bound 10 s)"
check "the account polled after the wake-up" test "$(last_poll)" != None
check "within 10 s" awk -v l="$lat" 'BEGIN { exit !(l < 10) }'
expect_rc 0 "status --json" mailctl status --json
jcheck "the poll fetched the 3 messages" \
	'j["accounts"][0]["poll"]["fetched_messages"] == 3 and j["accounts"][0]["poll"]["last_poll"]["ok"]'
check "one connection to the server" test "$(opens)" -eq 1

# --- the bus goes away, and comes back at the same address -------------------
kill "$BUS_PID"; wait "$BUS_PID" 2>/dev/null
check "the lost bus is noticed, at info level" \
	count_reaches "logged '^<6>logind: system bus connection lost'" 1 5
expect_rc 0 "status answers without a system bus" mailctl status
t0=$(now)
dbus_start "$T/sys/bus" || bail "the private system bus did not start again"
check "the bus is found again, at info level" \
	count_reaches "logged '^<6>logind: system bus found at'" 1 10
echo "# bus back to watching again: $(since "$t0") s (bound 10 s; retries 1 s, 2 s, ...)"
check "the loss is said once" test "$(logged '^<6>logind:.*connection lost')" -eq 1
t0=$(now)
check "PrepareForSleep(false) is sent on the new bus" sleep_signal false
check "the account polls again" count_reaches opens 2 10
echo "# wake-up to the second poll's connection: $(since "$t0") s (bound 10 s)"
check "the resume is logged twice in all" \
	test "$(logged '^<6>resumed from sleep')" -eq 2
expect_rc 0 "status answers" mailctl status
check "no warning or error" eval '! grep -q "^<[0-4]>" "$T/daemon.log"'
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0

# --- a delay lock from a logind that serves Inhibit --------------------------
# The fake owns logind's name, answers Inhibit with a pipe and says when
# its holder closed it: the daemon takes a delay lock, gives it back once
# it is ready for the sleep, and takes a new one after the wake-up.
mkfifo "$T/fake.in"
"$FAKE" serve <"$T/fake.in" >"$T/fake.out" 2>"$T/fake.err" &
FAKE_PID=$!
exec 7>"$T/fake.in"
t_at_exit "kill $FAKE_PID 2>/dev/null"
# fake_said PATTERN: lines of the serving fake matching PATTERN.
fake_said() { grep -c -- "$1" "$T/fake.out" || true; }
check "the serving fake logind owns the name" count_reaches "fake_said '^ready$'" 1 5
: >"$T/daemon.log"
start_daemon "$T/config.json"
check "the daemon takes a delay lock on sleep" \
	count_reaches "fake_said '^inhibit sleep mailctld delay$'" 1 5
check "and keeps it" count_stays "fake_said '^released'" 0
echo true >&7
check "PrepareForSleep(true) is logged" count_reaches "logged '^<6>going to sleep$'" 1 5
check "the lock is given back for the sleep" \
	count_reaches "fake_said '^released mailctld$'" 1 5
check "after the daemon got ready for it" eval \
	"grep -n 'going to sleep\|delay lock released' \"\$T/daemon.log\" | tail -2 | grep -q 'delay lock released'"
echo false >&7
check "the wake-up is logged" count_reaches "logged '^<6>resumed from sleep'" 1 5
check "a new lock is taken after the wake-up" \
	count_reaches "fake_said '^inhibit sleep mailctld delay$'" 2 5
check "one lock held at a time" count_stays "fake_said '^released mailctld$'" 1
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0
check "the lock goes with the daemon" \
	count_reaches "fake_said '^released mailctld$'" 2 5
check "the fake saw no error" test ! -s "$T/fake.err"
exec 7>&-
kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null

# --- no system bus at all ----------------------------------------------------
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent
: >"$T/daemon.log"
start_daemon "$T/config.json"
expect_rc 0 "the daemon serves without a system bus" mailctl fetch
contains "$OUT" "acct:" "and fetches"
sleep 2.5	# retries at 1 s and 3 s, quietly
check "no system bus is said once, at info level" \
	test "$(logged '^<6>logind: no system bus')" -eq 1
check "no other line about it above debug level" \
	test "$(grep '^<[0-6]>logind:' "$T/daemon.log" | wc -l)" -eq 1
check "retries are logged at debug level" \
	test "$(logged '^<7>logind: next try to reach the system bus in')" -ge 2
check "no warning or error" eval '! grep -q "^<[0-4]>" "$T/daemon.log"'
expect_rc 0 "status answers" mailctl status
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0
