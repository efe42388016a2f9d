# Shared helpers for mailctl's integration tests (sourced by tests/*.sh).
#
# Each test gets its own temp directory ($T), socket and config, so tests run
# in parallel. Everything started here is stopped by the EXIT trap.
set -u

: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
MAILCTLD=${MAILCTLD_WRAPPER:-$top_builddir/daemon/mailctld}
MAILCTL=$top_builddir/client/mailctl
TOOLS=$top_srcdir/tests/tools

# A sanitizer build keeps freed memory in quarantine: allow for it in
# memory bounds (the bound still catches unbounded growth).
RSS_SCALE=1
ldd "$MAILCTLD" 2>/dev/null | grep -q libasan && RSS_SCALE=8

T=$(mktemp -d "${TMPDIR:-/tmp}/mctl.XXXXXX")
# mailctld notifies the desktop on the session bus and hears logind on
# the system bus: no test may reach the user's or the machine's own. A test
# that wants a bus starts one (dbus_start) and sets these itself.
export DBUS_SESSION_BUS_ADDRESS="unix:path=$T/no-session-bus"
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$T/no-system-bus"
SOCK=$T/run/mailctl/mailctld.sock
DAEMON_PID=
t_failed=0
t_count=0
t_cleanups=

# Run a command at exit (after the daemon is stopped).
t_at_exit() { t_cleanups="$t_cleanups
$*"; }

t_exit() {
	local rc=$?
	[ -n "$DAEMON_PID" ] && kill -9 "$DAEMON_PID" 2>/dev/null
	eval "$t_cleanups"
	if [ "$t_failed" -gt 0 ] || [ $rc -ne 0 ]; then
		echo "# daemon log ($T/daemon.log):"
		sed 's/^/#   /' "$T/daemon.log" 2>/dev/null | tail -40
		[ -n "${MAILCTL_TEST_KEEP:-}" ] || rm -rf "$T"
		echo "1..$t_count"
		[ $rc -ne 0 ] && exit $rc
		exit 1
	fi
	[ -n "${MAILCTL_TEST_KEEP:-}" ] || rm -rf "$T"
	echo "1..$t_count"
	exit 0
}
trap t_exit EXIT

ok() { t_count=$((t_count + 1)); echo "ok $t_count - $*"; }
not_ok() { t_count=$((t_count + 1)); t_failed=$((t_failed + 1)); echo "not ok $t_count - $*"; }
# Skip the whole test (TAP: a plan of 0 with a reason).
skip_all() { echo "1..0 # SKIP $*"; trap - EXIT; rm -rf "$T"; exit 0; }
bail() { not_ok "$*"; echo "Bail out! $*"; exit 1; }

# check DESCRIPTION COMMAND...: pass when the command succeeds.
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# expect_rc RC DESCRIPTION COMMAND...: run, compare the exit status; the
# output is kept in $OUT (stdout) and $ERR (stderr).
expect_rc() {
	local want=$1 what=$2 rc; shift 2
	"$@" >"$T/out" 2>"$T/err" && rc=0 || rc=$?
	OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
	if [ "$rc" -eq "$want" ]; then ok "$what (exit $rc)"
	else not_ok "$what: exit $rc, expected $want; stdout: $OUT; stderr: $ERR"; fi
}

# contains HAYSTACK NEEDLE DESCRIPTION
contains() {
	case $1 in
	*"$2"*) ok "$3" ;;
	*) not_ok "$3: '$2' not in: $1" ;;
	esac
}

# json EXPR: evaluate a Python expression over the JSON in $OUT (as j).
json() {
	python3 -c 'import json,sys; j=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$1" <<<"$OUT"
}

# jcheck DESCRIPTION EXPR: pass when EXPR (Python, over $OUT as j) is true.
jcheck() {
	if [ "$(json "$2" 2>&1)" = True ]; then ok "$1"
	else not_ok "$1: $2 is not true of: $(head -c 2000 <<<"$OUT")"; fi
}

mailctl() { "$MAILCTL" --socket "$SOCK" "$@"; }

# write_config FILE [ACCOUNTS-JSON [MORE-KEYS]]: a config using this test's
# paths; MORE-KEYS (',"filters":[...]') goes after the accounts.
write_config() {
	install -m 600 /dev/null "$1"	# it may hold a password
	cat >"$1" <<EOC
{
  "data_dir": "$T/data",
  "socket": "$SOCK",
  "poll_at_start": false,
  "accounts": [${2:-}]${3:-}
}
EOC
}

# Wait until the daemon answers status (bounded); fail if it died.
wait_ready() {
	local i
	for i in $(seq 1 100); do
		"$MAILCTL" --socket "$SOCK" status >/dev/null 2>&1 && return 0
		if [ -n "$DAEMON_PID" ] && ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			return 1
		fi
		sleep 0.05
	done
	return 1
}

# start_daemon CONFIG [ARGS...]: start mailctld in the background.
start_daemon() {
	local cfg=$1; shift
	chmod 600 "$cfg"	# a config with a password must be private
	"$MAILCTLD" --config "$cfg" --verbose "$@" >>"$T/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_ready || bail "mailctld did not become ready"
}

# start_asking CONFIG ARGS...: start mailctld and send it "mailctl ARGS"
# from the first moment it answers at all (5 s at most), not once it is
# ready; the output in OUT. Returns once the daemon is ready.
start_asking() {
	local cfg=$1 i; shift
	chmod 600 "$cfg"
	"$MAILCTLD" --config "$cfg" --verbose >>"$T/daemon.log" 2>&1 &
	DAEMON_PID=$!
	for i in $(seq 500); do
		OUT=$("$MAILCTL" --socket "$SOCK" "$@" 2>/dev/null) && break
		sleep 0.01
	done
	wait_ready || bail "mailctld did not become ready"
}

# stop_daemon [SIGNAL]: stop it and wait; sets DAEMON_RC.
stop_daemon() {
	local sig=${1:-TERM}
	kill -"$sig" "$DAEMON_PID"
	wait "$DAEMON_PID" && DAEMON_RC=0 || DAEMON_RC=$?
	DAEMON_PID=
}

# stop_clean [DESCRIPTION]: stop the daemon (SIGTERM); check that it exits 0.
stop_clean() {
	stop_daemon
	check "${1:-clean stop}" test "$DAEMON_RC" -eq 0
}

# kill_daemon: SIGKILL the daemon and reap it.
kill_daemon() {
	kill -KILL "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}

# commits: how many group commits the store made, by the daemon's log.
commits() {
	local n
	n=$(grep -c 'store commit of' "$T/daemon.log" 2>/dev/null)
	echo "${n:-0}"
}

# crash_fetch ACCOUNT WHEN MS [CONFIG]: start the daemon (with CONFIG,
# default $T/config.json), fetch ACCOUNT in the background, and SIGKILL
# the daemon MS milliseconds after WHEN: "start" (at once) or "commit"
# (once it has committed messages to the store; 5 s at most). Return once
# the fetch has ended.
crash_fetch() {
	local before i fetch
	before=$(commits)
	start_daemon "${4:-$T/config.json}"
	"$MAILCTL" --socket "$SOCK" fetch "$1" >/dev/null 2>&1 &
	fetch=$!
	if [ "$2" = commit ]; then
		for i in $(seq 200); do
			[ "$(commits)" -gt "$before" ] && break
			sleep 0.025
		done
	fi
	sleep "$(printf '%d.%03d' $(($3 / 1000)) $(($3 % 1000)))"
	kill_daemon
	wait "$fetch"
}

# count_reaches COMMAND N SECONDS: wait (at most SECONDS) until the number
# COMMAND prints (evaluated) is N or more.
count_reaches() {
	local i
	for i in $(seq $(($3 * 20))); do
		[ "$(eval "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# count_stays COMMAND N: the number COMMAND prints is N, and still N a
# second later.
count_stays() {
	local i
	for i in $(seq 10); do
		[ "$(eval "$1")" -eq "$2" ] || return 1
		sleep 0.1
	done
}

# dbus_start PATH: a private D-Bus bus listening at PATH (no systemd, no
# X, no service activation; anyone may own any name and send anything),
# stopped at exit. Sets BUS_PID; returns once it listens.
dbus_start() {
	local path=$1 i
	cat >"$path.conf" <<EOC
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$path</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOC
	: >"$path.addr"
	dbus-daemon --config-file="$path.conf" --nofork --print-address \
		>"$path.addr" 2>>"$T/bus.log" &
	BUS_PID=$!
	t_at_exit "kill $BUS_PID 2>/dev/null"
	for i in $(seq 100); do [ -s "$path.addr" ] && return 0; sleep 0.05; done
	return 1
}

# tool_start TOOL [ARGS...]: run tests/tools/TOOL, a server or proxy of
# ours (the options of hostile_server.py: it writes its port to
# --port-file), in the background, its output in $T/tools.out; set
# TOOL_PID and, once it listens (5 s at most), TOOL_PORT. The caller
# stops it.
tool_start() {
	local tool=$1 i; shift
	rm -f "$T/tool.port"
	python3 "$TOOLS/$tool" --port-file "$T/tool.port" "$@" >>"$T/tools.out" 2>&1 &
	TOOL_PID=$!
	for i in $(seq 100); do [ -s "$T/tool.port" ] && break; sleep 0.05; done
	TOOL_PORT=$(cat "$T/tool.port" 2>/dev/null)
}

# daemon_kb FIELD: the daemon's FIELD (VmRSS, VmHWM) of /proc/PID/status,
# in kB.
daemon_kb() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$DAEMON_PID/status"; }

# Count the daemon's open descriptors.
fd_count() { ls "/proc/$1/fd" | wc -l; }

# Start the real Dovecot/Postfix harness (tests/servers/mailservers.sh), or
# skip the test when they cannot run here. Cleaned up at exit.
use_mail_servers() {
	[ "$(id -u)" -eq 0 ] || skip_all "real mail servers need root"
	PATH=$PATH:/usr/sbin
	command -v dovecot >/dev/null || skip_all "dovecot is not installed (tests/servers/install-deps)"
	# shellcheck source=servers/mailservers.sh
	. "$top_srcdir/tests/servers/mailservers.sh"
	ms_setup >/dev/null
	t_at_exit "ms_cleanup >/dev/null 2>&1"
}

# pop3_account NAME USER PASSWORD TLS PORT [EXTRA-JSON]: an account object.
pop3_account() {
	printf '{"name":"%s","email":"%s@mail.test","pop3":{"host":"127.0.0.1","port":%s,"tls":"%s","ca_file":"%s","user":"%s","password":"%s","poll_interval":3600%s}}' \
		"$1" "$2" "$5" "$4" "$MS_CA_FILE" "$2" "$3" "${6:-}"
}

# imap_account NAME USER PASSWORD TLS PORT [EXTRA-JSON]: an account object.
imap_account() {
	printf '{"name":"%s","email":"%s@mail.test","imap":{"host":"127.0.0.1","port":%s,"tls":"%s","ca_file":"%s","user":"%s","password":"%s","poll_interval":3600%s}}' \
		"$1" "$2" "$5" "$4" "$MS_CA_FILE" "$2" "$3" "${6:-}"
}

# stored ACCOUNT: list the message files of an account (new and cur).
stored() { find "$T/data/$1" -path '*/new/*' -type f -o -path '*/cur/*' -type f 2>/dev/null; }

# count_subjects MAILDIR PREFIX N: of the mails whose Subject is "PREFIX
# NUMBER" (NUMBER 1 to N) in MAILDIR's new/ and cur/, print how many numbers
# are missing, how many copies are extra, and the first missing numbers.
count_subjects() {
	python3 - "$1" "$2" "$3" <<'PY'
import collections, email, email.policy, glob, sys
md, prefix, n = sys.argv[1], sys.argv[2] + " ", int(sys.argv[3])
c = collections.Counter()
for f in glob.glob(md + "/new/*") + glob.glob(md + "/cur/*"):
    m = email.message_from_binary_file(open(f, "rb"), policy=email.policy.default)
    s = str(m["Subject"] or "")
    if s.startswith(prefix):
        c[int(s.split()[-1])] += 1
missing = [i for i in range(1, n + 1) if c[i] == 0]
extra = sum(v - 1 for v in c.values() if v > 1)
print(len(missing), extra, ",".join(map(str, missing[:10])))
PY
}

# tmp_empty ACCOUNT: nothing is left in the tmp/ of any of ACCOUNT's
# folders (a message half written, or written and never moved).
tmp_empty() {
	test -z "$(find "$T/data/$1" -path "$T/data/$1/*/tmp/*" -type f 2>/dev/null)"
}

# fetch_all ACCOUNT N SUMS [NOTE]: fetch ACCOUNT: it exits 0 with N new,
# N files in the store, byte-identical to the server's copies (SUMS, as
# sums prints them; NOTE says how they compare), nothing left in tmp/.
fetch_all() {
	expect_rc 0 "fetch $1" mailctl fetch "$1" --json
	check "$1: $2 new" test "$(json 'j["accounts"][0]["new"]')" -eq "$2"
	check "$1: $2 files in the store" test "$(stored "$1" | wc -l)" -eq "$2"
	check "$1: files byte-identical to the server's${4:+ ($4)}" \
		test "$(stored "$1" | sums)" = "$3"
	check "$1: nothing left in tmp/" tmp_empty "$1"
}

# sums: sha256 of each file named on stdin (one a line), sorted.
sums() { xargs -r -d '\n' sha256sum | awk '{print $1}' | sort; }

# pop3_second ACCOUNT: the session id (session=N in the daemon log) of the
# account's last second POP3 connection; pop3_lead ACCOUNT: that of the
# first connection whose poll it shared.
pop3_second() {
	sed -n "s/^.*account=$1 session=\([0-9]*\) opening a second connection .*/\1/p" "$T/daemon.log" | tail -1
}
pop3_lead() {
	sed -n "s/^.*account=$1 session=[0-9]* opening a second connection .* of session=\([0-9]*\)\$/\1/p" "$T/daemon.log" | tail -1
}
