# shellcheck shell=bash
# Driving a hostile server of our own (tests/tools/*_hostile.py) against
# the daemon: sourced after lib.sh by pop3-hostile.sh and imap-hostile.sh.
#
# HOSTILE_PROTO (pop3 or imap) names the server, tests/tools/
# HOSTILE_PROTO_hostile.py, and the account block; HOSTILE_KEYS holds the
# keys every account gets unless the test gives its own (',"idle":false').
: "${HOSTILE_KEYS:=}"
HOSTILE_PID=

# Stop the server started last, if any.
hostile_stop() {
	[ -n "$HOSTILE_PID" ] || return 0
	kill "$HOSTILE_PID" 2>/dev/null; wait "$HOSTILE_PID" 2>/dev/null
	HOSTILE_PID=
}
t_at_exit hostile_stop

# start_hostile MODE [ARGS...]: the HOSTILE_PROTO server in MODE, logging
# to $T/hostile.log.
start_hostile() {
	local mode=$1; shift
	tool_start "${HOSTILE_PROTO}_hostile.py" --log "$T/hostile.log" "$@" "$mode"
	HOSTILE_PID=$TOOL_PID PORT=$TOOL_PORT
}

# use_account NAME [KEYS]: reload the daemon with the one account NAME at
# the hostile server ($HOST, default 127.0.0.1; $PORT), tls "none" (or
# $TLS), with KEYS (',"key":value...'; default $HOSTILE_KEYS) in its
# HOSTILE_PROTO block.
use_account() {
	write_config "$T/config.json" "{\"name\":\"$1\",\"email\":\"u@hostile.test\",\"$HOSTILE_PROTO\":{\"host\":\"${HOST:-127.0.0.1}\",\"port\":$PORT,\"tls\":\"${TLS:-none}\",\"user\":\"u\",\"password\":\"secret-pw\",\"timeout\":2,\"poll_interval\":3600${2:-$HOSTILE_KEYS}}}"
	kill -HUP "$DAEMON_PID"
	sleep 0.2
}

# run_mode MODE EXPECT-RC TEXT [SERVER-ARGS...]: one server in MODE, one
# account of its own (and Maildir; $NAME, default the mode) at it ($HOST:
# where it listens), one fetch: it exits EXPECT-RC saying TEXT, leaves
# nothing half written in tmp/, and the daemon still answers.
run_mode() {
	local mode=$1 want=$2 text=$3; shift 3
	start_hostile "$mode" --host "${HOST:-127.0.0.1}" "$@"
	mode=${NAME:-$mode}
	use_account "$mode"
	expect_rc "$want" "$mode: fetch exits $want" mailctl fetch "$mode"
	contains "$OUT$ERR" "$text" "$mode: says \"$text\""
	check "$mode: nothing half written in tmp/" tmp_empty "$mode"
	check "$mode: the daemon still answers" eval "mailctl status >/dev/null"
	hostile_stop
}

# dump_lf DIR TOOL-ARGS...: the messages the server would serve, written
# by the tool's --dump into DIR, one file each with CRLF as LF (as a
# Maildir holds them); print their sums.
dump_lf() {
	local dir=$1 f; shift
	mkdir -p "$dir"
	python3 "$TOOLS/${HOSTILE_PROTO}_hostile.py" --dump "$dir" "$@" >/dev/null 2>&1
	for f in "$dir"/*; do sed 's/\r$//' "$f" | sha256sum; done | awk '{print $1}' | sort
}
