#!/bin/bash
# systemd integration: sd_notify (READY, STATUS, RELOADING, STOPPING,
# WATCHDOG) seen on a NOTIFY_SOCKET we listen on; socket activation through
# systemd-socket-activate; the unit files pass systemd-analyze verify.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip_all "python3 is not installed"

write_config "$T/config.json" '{"name":"a","email":"a@x.test","smtp":{"host":"h"}}'
NOTES=$T/notify.out

# wait_for FILE PATTERN: bounded wait for a line matching PATTERN.
wait_for() {
	local i
	for i in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}

python3 "$TOOLS/notify_listen.py" "$T/notify.sock" "$NOTES" &
LISTENER=$!
t_at_exit "kill $LISTENER 2>/dev/null"
wait_for "$NOTES" LISTENING=1 || bail "notify listener did not start"

# WATCHDOG_PID must name the daemon itself: exec keeps the shell's pid.
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=200000 \
	bash -c 'export WATCHDOG_PID=$$; exec "$0" --config "$1" --verbose' \
	"$MAILCTLD" "$T/config.json" >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
wait_ready || bail "mailctld did not become ready"

check "READY=1 sent" wait_for "$NOTES" '^READY=1$'
check "STATUS= sent" wait_for "$NOTES" '^STATUS=Serving 1 account$'
check "WATCHDOG=1 sent (watchdog 200 ms)" wait_for "$NOTES" '^WATCHDOG=1$'
sleep 0.5
check "WATCHDOG=1 repeated" test "$(grep -c '^WATCHDOG=1$' "$NOTES")" -ge 3
expect_rc 0 "reload" mailctl reload
check "RELOADING=1 around reload" wait_for "$NOTES" '^RELOADING=1$'
check "READY=1 again after reload" test "$(grep -c '^READY=1$' "$NOTES")" -ge 2
stop_daemon TERM
check "STOPPING=1 at stop" wait_for "$NOTES" '^STOPPING=1$'
check "clean exit" test "$DAEMON_RC" -eq 0

# Socket activation: systemd-socket-activate holds the socket and starts the
# daemon on the first connection.
if command -v systemd-socket-activate >/dev/null; then
	mkdir -p "$(dirname "$SOCK")" && chmod 700 "$(dirname "$SOCK")"
	systemd-socket-activate -l "$SOCK" \
		"$MAILCTLD" --config "$T/config.json" --verbose >>"$T/daemon.log" 2>&1 &
	DAEMON_PID=$!
	for i in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
	expect_rc 0 "status through an activated socket" mailctl status --json
	check "the daemon took the passed socket" grep -q "using the socket passed by systemd" "$T/daemon.log"
	check "it answers as the activated process" test "$(json 'j["pid"]')" = "$DAEMON_PID"
	expect_rc 0 "a second request on the activated socket" mailctl status
	stop_daemon TERM
	check "activated daemon stops cleanly" test "$DAEMON_RC" -eq 0
else
	ok "# SKIP systemd-socket-activate is not installed"
fi

# The unit files are valid for a user manager.
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/units" "$T/xdg" && chmod 700 "$T/xdg"
	sed -e "s|@bindir@|$top_builddir/daemon|" -e "s|@docdir@|/usr/share/doc/mailctl|" \
		"$top_srcdir/systemd/mailctld.service.in" >"$T/units/mailctld.service"
	cp "$top_srcdir/systemd/mailctld.socket" "$T/units/"
	expect_rc 0 "systemd-analyze --user verify" env XDG_RUNTIME_DIR="$T/xdg" \
		systemd-analyze --user verify "$T/units/mailctld.service" "$T/units/mailctld.socket"
	check "verify printed nothing" test -z "$OUT$ERR"
	check "service is Type=notify with a watchdog" grep -q '^WatchdogSec=' "$T/units/mailctld.service"
	env XDG_RUNTIME_DIR="$T/xdg" systemd-analyze security --offline=true \
		"$T/units/mailctld.service" >"$T/security.out" 2>&1
	score=$(sed -n 's/.*Overall exposure level for mailctld.service: \([0-9.]*\) .*/\1/p' "$T/security.out")
	check "systemd-analyze security: exposure ${score:-?} (at most 2.0)" \
		awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'
	for d in NoNewPrivileges ProtectSystem=strict PrivateUsers \
	    SystemCallFilter MemoryDenyWriteExecute RestrictAddressFamilies \
	    ProtectHome=read-only PrivateTmp=yes; do
		check "the unit sets $d" grep -q "^$d" "$T/units/mailctld.service"
	done
else
	ok "# SKIP systemd-analyze is not installed"
fi
