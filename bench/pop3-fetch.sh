#!/bin/bash
# pop3-fetch.sh — compare mailctld's POP3 fetching with mpop, fetchmail and
# a raw pipelined floor, on the same real Dovecot mailbox in the same run.
#
# Usage (as root; bash bench/install-deps first):
#   bash bench/pop3-fetch.sh [--scenario fetch|noop|bigmsg]
#        [--messages N] [--total-mb M] [--reps R] [--tls none|implicit|both]
#        [--only TOOL,...] [--build DIR] [--base DIR] [--json FILE]
#        [--timeout S] [--keep]
#
# Scenarios (see bench/README.md):
#   fetch   (default) N=5000 messages of 2 KiB..1 MiB, ~200 MiB in all;
#           every run is a full first poll into a fresh local Maildir.
#   noop    N=50000 messages of 1..2 KiB; each tool first fetches everything
#           once (not timed), then the timed polls find nothing new.
#   bigmsg  one message of M=100 MiB; time and peak RSS.
# Tools: raw (bench/raw-pop3.py, the floor), mpop, fetchmail, mailctld
# (default: all four; in noop fetchmail only when named in --only, since its
# one-MDA-process-per-message first poll of 50,000 messages takes minutes),
# and norules (only when named, not in noop): mailctld with "filters": [],
# so that mailctld / norules is what filing by the default rules costs;
# in noop also fulllist: mailctld with "quick_check": false, which lists
# the whole mailbox at every poll (mailctld checks STAT and the last UIDL
# for up to 11 polls in a row after one that saw the whole mailbox).
# With --base DIR, also base (in the default tools too): mailctld and
# mailctl from that other built tree, run exactly as mailctld, so that
# mailctld / base is the ratio of two builds measured in the same run.
#
# The mailbox is served by a real Dovecot started through
# tests/servers/mailservers.sh, on plain POP3 and POP3S (--tls both). The
# corpus is generated once (deterministic, seeded) into
# /var/tmp/mailctl-bench/corpus-*; every run's files live under
# /var/tmp/mailctl-bench (disk, not tmpfs) and are removed on exit (EXIT
# trap), with Dovecot stopped.
#
# Tools alternate within each repetition (the order rotates from one
# repetition to the next), local state is wiped and `sync` run (not timed)
# before each timed run, so disk write-back of one run does not land in the
# next. Each tool's fetched count is checked against the mailbox; a tool
# that fails is reported (FAILED / not working) and the others go on.
#
# Exit status: 0 when every measured run of every tool succeeded, 1 when
# some tool failed or is not working, 2 on a usage or setup error.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
WORK=/var/tmp/mailctl-bench
USER_NAME=bench
USER_PASS=bench-pw-7
ALL_TOOLS="raw mpop fetchmail mailctld"
KNOWN_TOOLS="$ALL_TOOLS norules fulllist base"

SCENARIO=fetch
MESSAGES=
TOTAL_MB=
REPS=3
TLS=both
ONLY=
BUILD=$TOP
BASE=
JSON_OUT=
TIMEOUT=600
KEEP=0

BENCH_NAME=pop3-fetch
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

# --- options ----------------------------------------------------------------

parse_opts "--scenario:SCENARIO --messages:MESSAGES --total-mb:TOTAL_MB
    --reps:REPS --tls:TLS --only:ONLY --build:BUILD --base:BASE
    --json:JSON_OUT --timeout:TIMEOUT --keep:KEEP=1" "$@"

case $SCENARIO in
fetch)
	: "${MESSAGES:=5000}" "${TOTAL_MB:=200}"
	MIN_BYTES=2048 MAX_BYTES=1048576 ATTACH=0.4
	DEFAULT_TOOLS=$ALL_TOOLS ;;
noop)
	: "${MESSAGES:=50000}"
	is_uint "$MESSAGES" || die "--messages: expected a positive integer"
	: "${TOTAL_MB:=$(awk -v n="$MESSAGES" 'BEGIN { printf "%.2f", n * 1536 / 1048576 }')}"
	MIN_BYTES=1024 MAX_BYTES=2048 ATTACH=0
	DEFAULT_TOOLS="raw mpop mailctld fulllist" ;;
bigmsg)
	: "${MESSAGES:=1}" "${TOTAL_MB:=100}"
	[ "$MESSAGES" = 1 ] || die "--scenario bigmsg: --messages must be 1"
	is_num "$TOTAL_MB" || die "--total-mb: expected a number"
	MIN_BYTES=$(awk -v m="$TOTAL_MB" 'BEGIN { printf "%d", m * 1048576 }')
	MAX_BYTES=$MIN_BYTES ATTACH=1
	DEFAULT_TOOLS=$ALL_TOOLS ;;
*) die "--scenario: expected fetch, noop or bigmsg" ;;
esac
is_uint "$MESSAGES" && [ "$MESSAGES" -ge 1 ] ||
    die "--messages: expected a positive integer"
is_num "$TOTAL_MB" || die "--total-mb: expected a number"
is_uint "$REPS" && [ "$REPS" -ge 1 ] || die "--reps: expected a positive integer"
is_uint "$TIMEOUT" && [ "$TIMEOUT" -ge 1 ] || die "--timeout: expected seconds"
case $TLS in
none | implicit) MODES=$TLS ;;
both) MODES="none implicit" ;;
*) die "--tls: expected none, implicit or both" ;;
esac
select_tools "$ONLY" "$KNOWN_TOOLS" "$(plus_base "$DEFAULT_TOOLS")"
base_check
case " $TOOLS " in
*" norules "*) [ "$SCENARIO" != noop ] ||
	die "--only: norules is not for the noop scenario" ;;
esac
case " $TOOLS " in
*" fulllist "*) [ "$SCENARIO" = noop ] ||
	die "--only: fulllist is only for the noop scenario" ;;
esac
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || die "--build: no such directory"
MAILCTLD=$BUILD/daemon/mailctld
MAILCTL=$BUILD/client/mailctl
BASE_MAILCTLD=  # --base: the copies of its binaries (see main)
BASE_MAILCTL=

[ "$(id -u)" = 0 ] || die "must run as root (Dovecot is started as root)"
case :$PATH: in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac
command -v dovecot >/dev/null && command -v python3 >/dev/null ||
    die "Dovecot or python3 missing: run bash bench/install-deps"

# --- state of the run -------------------------------------------------------

RUN=            # this run's directory (removed at exit)
MSD=            # the mail server instance directory
RESULTS=        # one line per run, read by report.py
META=           # key<TAB>value facts for report.py
declare -A MC_PIDS  # data dir -> its mailctld (noop keeps them running)
MC_DIR= MC_PID=     # the one in use
CORPUS_BYTES=0
declare -A BROKEN   # "mode tool" -> reason, once a tool cannot work at all
ANY_FAILED=0

# shellcheck source=tests/servers/mailservers.sh
. "$TOP/tests/servers/mailservers.sh"

# --- helpers ----------------------------------------------------------------

# Make $1 an empty Maildir.
new_maildir()
{
	rm -rf "$1"
	mkdir -p "$1/tmp" "$1/new" "$1/cur"
}

# Port for a TLS mode.
port_of()
{
	if [ "$1" = implicit ]; then echo "$MS_POP3S_PORT"; else echo "$MS_POP3_PORT"; fi
}

# The count a run must end with: what is in the local store afterwards,
# and what the tool itself says it fetched this time.
expected_store() { echo "$MESSAGES"; }
expected_new() { if [ "$1" = warm ] || [ "$SCENARIO" != noop ]; then echo "$MESSAGES"; else echo 0; fi; }

# --- the tools --------------------------------------------------------------
# Each tool_X DIR MODE PHASE sets R_STATUS (ok|failed|broken), R_SECS,
# R_COUNT (messages in the local store, or fetched for raw), R_RSS (KiB)
# and R_NOTE. DIR is the tool's state directory for this TLS mode: wiped
# before each run in the fetch and bigmsg scenarios, kept in noop.

tool_raw()
{
	local dir=$1 mode=$2 phase=$3 args got want
	args=(--port "$(port_of "$mode")" --user "$USER_NAME" --password "$USER_PASS")
	[ "$mode" = implicit ] && args+=(--tls --ca-file "$MS_CA_FILE")
	[ "$SCENARIO" = noop ] && args+=(--seen-file "$dir/seen")
	timed "$dir/time" "$dir/out" "$dir/err" \
	    python3 "$HERE/raw-pop3.py" "${args[@]}"
	R_SECS=$T_SECS R_RSS=$T_RSS R_NOTE=
	got=$(grep -o '"messages": [0-9]*' "$dir/out" | grep -o '[0-9]*$')
	want=$(expected_new "$phase")
	R_COUNT=${got:-}
	if [ "$T_RC" != 0 ]; then
		R_STATUS=failed R_NOTE="exit $T_RC: $(first_line "$dir/err")"
	elif [ "${got:-x}" != "$want" ]; then
		R_STATUS=failed R_NOTE="fetched ${got:-?} messages, expected $want"
	else
		R_STATUS=ok
	fi
}

tool_mpop()
{
	local dir=$1 mode=$2 phase=$3 tls=off
	[ "$mode" = implicit ] && tls=on
	[ -d "$dir/maildir" ] || new_maildir "$dir/maildir"
	# mpop refuses a configuration file with a password that others can read.
	(umask 077 && cat >"$dir/mpoprc") <<-EOF
	defaults
	account bench
	host $MS_HOST
	port $(port_of "$mode")
	timeout 120
	tls $tls
	tls_starttls off
	tls_trust_file $MS_CA_FILE
	auth user
	user $USER_NAME
	password $USER_PASS
	keep on
	only_new on
	uidls_file $dir/uidls
	delivery maildir $dir/maildir
	EOF
	timed "$dir/time" "$dir/out" "$dir/err" \
	    mpop --quiet -C "$dir/mpoprc" bench
	R_SECS=$T_SECS R_RSS=$T_RSS R_NOTE=
	R_COUNT=$(count_msgs "$dir/maildir")
	if [ "$T_RC" != 0 ]; then
		R_STATUS=failed R_NOTE="exit $T_RC: $(first_line "$dir/err")"
	elif [ "$R_COUNT" != "$(expected_store)" ]; then
		R_STATUS=failed
		R_NOTE="$R_COUNT messages delivered, expected $(expected_store)"
	else
		R_STATUS=ok
	fi
}

tool_fetchmail()
{
	local dir=$1 mode=$2 phase=$3 tlsopt md
	md=$dir/maildir
	[ -d "$md" ] || new_maildir "$md"
	mkdir -p "$dir/home"
	if [ "$mode" = implicit ]; then
		# On 127.0.0.1 fetchmail matches the certificate against the
		# name given here, not the address (see shared notes).
		tlsopt="ssl sslcertfile $MS_CA_FILE sslcertck sslcommonname $MS_DOMAIN"
	else
		# '' disables fetchmail's opportunistic STLS: really plain.
		tlsopt="sslproto ''"
	fi
	# The MDA: write the message to tmp/ (fsync'd, as mpop and mailctld
	# do), then rename it into new/. One sh + dd + mv per message: that
	# is what delivering through an MDA costs.
	(umask 077 && cat >"$dir/fetchmailrc") <<-EOF
	set no syslog
	poll $MS_HOST port $(port_of "$mode") proto pop3 timeout 120
	    user "$USER_NAME" password "$USER_PASS"
	    keep $( [ "$SCENARIO" = noop ] || echo fetchall ) no rewrite $tlsopt
	    mda "t=$md/tmp/\$\$.fm; dd bs=64k conv=fsync status=none of=\$t && mv \$t $md/new/"
	EOF
	timed "$dir/time" "$dir/out" "$dir/err" \
	    env HOME="$dir/home" FETCHMAILHOME="$dir/home" \
	    fetchmail -f "$dir/fetchmailrc" --nodetach --nosyslog \
	    --pidfile "$dir/fetchmail.pid" --idfile "$dir/fetchmail.ids"
	R_SECS=$T_SECS R_RSS=$T_RSS R_NOTE=
	R_COUNT=$(count_msgs "$md")
	# fetchmail: 0 = mail fetched, 1 = no new mail.
	if [ "$T_RC" != 0 ] && [ "$T_RC" != 1 ]; then
		R_STATUS=failed
		R_NOTE="exit $T_RC: $(cat "$dir/err" "$dir/out" |
		    grep -v 'Running as root' | first_line /dev/stdin)"
	elif [ "$R_COUNT" != "$(expected_store)" ]; then
		R_STATUS=failed
		R_NOTE="$R_COUNT messages delivered, expected $(expected_store)"
	else
		R_STATUS=ok
	fi
}

# Stop the mailctld in use (mc_stop) and forget it: the next run of its
# tool starts a new one.
mc_drop()
{
	[ -n "$MC_PID" ] || return 0
	mc_stop
	unset 'MC_PIDS[$MC_DIR]'
}

# Stop every mailctld still running (lib.sh's cleanup calls this).
mc_stop_all()
{
	local d
	for d in "${!MC_PIDS[@]}"; do
		MC_DIR=$d MC_PID=${MC_PIDS[$d]}
		mc_drop
	done
}

# Start mailctld for DIR and MODE; wait until `mailctl status` answers.
# On failure set R_NOTE and fail.
mc_start()
{
	local dir=$1 mode=$2 tls extra= pextra=
	tls=$mode
	[ -z "${MC_NORULES:-}" ] || extra=' "filters": [],'
	[ -z "${MC_FULLLIST:-}" ] || pextra=', "quick_check": false'
	if [ ! -x "$MAILCTLD" ] || [ ! -x "$MAILCTL" ]; then
		R_NOTE="not built: no $MAILCTLD or $MAILCTL (use --build DIR)"
		return 1
	fi
	cat >"$dir/config.json" <<-EOF
	{
	  "data_dir": "$dir/data",
	  "socket": "$dir/s.sock",
	  "poll_interval": 86400,$extra
	  "accounts": [
	    {
	      "name": "bench",
	      "email": "$USER_NAME@$MS_DOMAIN",
	      "pop3": {"host": "$MS_HOST", "port": $(port_of "$mode"),
	               "tls": "$tls", "ca_file": "$MS_CA_FILE",
	               "user": "$USER_NAME", "password": "$USER_PASS",
	               "keep": true$pextra}
	    }
	  ]
	}
	EOF
	chmod 600 "$dir/config.json"
	"$MAILCTLD" --config "$dir/config.json" ${MAILCTLD_ARGS:-} </dev/null \
	    >>"$dir/mailctld.log" 2>&1 &
	MC_PID=$! MC_DIR=$dir
	MC_PIDS[$dir]=$MC_PID
	mc_wait_up "$dir/s.sock" "$dir/mailctld.log" || {
		unset 'MC_PIDS[$dir]'
		return 1
	}
}

tool_mailctld()
{
	local dir=$1 mode=$2 phase=$3 before want_before=0 new want
	R_SECS='' R_RSS='' R_COUNT='' R_NOTE=''
	# In noop the daemon started for the warm-up poll stays up for the
	# timed ones; otherwise every run starts it on an empty data_dir.
	MC_DIR=$dir MC_PID=${MC_PIDS[$dir]:-}
	if [ -z "$MC_PID" ]; then
		mc_start "$dir" "$mode" || { R_STATUS=broken; return; }
	fi
	if [ "$SCENARIO" = noop ] && [ "$phase" = rep ]; then
		want_before=$MESSAGES
	fi
	before=$(count_msgs "$dir/data")
	if [ "$before" != "$want_before" ]; then
		R_STATUS=failed
		R_NOTE="$before messages in data_dir before the timed fetch, expected $want_before (a poll at start-up?): timing invalid"
		mc_drop
		return
	fi
	timed "$dir/time" "$dir/out" "$dir/err" \
	    "$MAILCTL" --socket "$dir/s.sock" fetch bench --json
	R_SECS=$T_SECS
	# The daemon's own peak RSS (the client's is irrelevant).
	R_RSS=$(mc_hwm)
	if [ "$SCENARIO" != noop ]; then
		mc_drop
	elif ! kill -0 "$MC_PID" 2>/dev/null; then
		R_NOTE="daemon died during the fetch"
		mc_drop
	fi
	R_COUNT=$(count_msgs "$dir/data")
	new=$(grep -o '"new"[[:space:]]*:[[:space:]]*[0-9]*' "$dir/out" |
	    head -n 1 | grep -o '[0-9]*$')
	want=$(expected_new "$phase")
	if [ "$T_RC" != 0 ]; then
		R_STATUS=broken
		R_NOTE="fetch: exit $T_RC: $(first_line "$dir/err")${R_NOTE:+; $R_NOTE}"
		[ -n "$(first_line "$dir/err")" ] || R_NOTE="fetch: exit $T_RC: $(first_line "$dir/out")"
		mc_drop
	elif [ "$R_COUNT" != "$(expected_store)" ]; then
		R_STATUS=failed
		R_NOTE="$R_COUNT messages in data_dir, expected $(expected_store)${R_NOTE:+; $R_NOTE}"
	elif [ -n "$new" ] && [ "$new" != "$want" ]; then
		R_STATUS=failed
		R_NOTE="fetch reported new=$new, expected $want"
	elif [ -n "$R_NOTE" ]; then
		R_STATUS=failed
	else
		R_STATUS=ok
		[ -n "$new" ] || R_NOTE="no \"new\" count in the fetch output"
	fi
}

# mailctld without filing rules: everything into the Inbox.
tool_norules()
{
	MC_NORULES=1 tool_mailctld "$@"
}

# mailctld listing the whole mailbox at every poll.
tool_fulllist()
{
	MC_FULLLIST=1 tool_mailctld "$@"
}

# mailctld from the --base tree, run exactly as mailctld.
tool_base()
{
	as_base tool_mailctld "$@"
}

# --- one run ----------------------------------------------------------------

# run_one MODE TOOL PHASE REP: wipe (fetch, bigmsg) the tool's state, sync,
# run it, record the result line, print a progress line.
run_one()
{
	local mode=$1 tool=$2 phase=$3 rep=$4 dir label
	dir=$RUN/$mode-$tool
	label="[$mode ${phase/rep/$rep/$REPS}]"
	if [ -n "${BROKEN[$mode $tool]:-}" ]; then
		return 0
	fi
	if [ "$SCENARIO" != noop ]; then
		trash "$dir"
	fi
	mkdir -p "$dir"
	sync
	R_STATUS='' R_SECS='' R_COUNT='' R_RSS='' R_NOTE=''
	"tool_$tool" "$dir" "$mode" "$phase"
	# In noop a tool whose first (untimed) poll failed has no state to
	# poll against: leave it out of this mode.
	if [ "$phase" = warm ] && [ "$R_STATUS" = failed ]; then
		R_STATUS=broken R_NOTE="first poll (warm-up) failed: $R_NOTE"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$tool" \
	    "$phase" "$rep" "$R_STATUS" "$R_SECS" "$R_COUNT" "$R_RSS" \
	    "$(printf '%s' "$R_NOTE" | tr '\t\n' '  ')" >>"$RESULTS"
	case $R_STATUS in
	ok)
		log "$(printf '%-18s %-9s %8.3f s  %6s msgs  %s' "$label" "$tool" \
		    "$R_SECS" "$R_COUNT" "${R_RSS:+peak RSS $((R_RSS / 1024)) MiB}")"
		;;
	*)
		run_failed "$label" "$tool" "$mode $tool"
		;;
	esac
	# Keep what the tool said (see --keep); the fetched mail is not needed
	# any more (except in noop, where the local state is what the next
	# poll compares with).
	mkdir -p "$RUN/logs"
	for f in out err mailctld.log; do
		[ -s "$dir/$f" ] &&
		    cp "$dir/$f" "$RUN/logs/$mode-$tool-$phase$rep.$f"
	done
	if [ "$SCENARIO" != noop ]; then
		trash "$dir"
	fi
	return 0
}

# --- main -------------------------------------------------------------------

main()
{
	local corpus mode rep tool tlsargs
	mkdir -p "$WORK" && chmod 755 "$WORK" || die "cannot create $WORK"
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	for tool in $TOOLS; do
		case $tool in
		mpop | fetchmail)
			command -v "$tool" >/dev/null ||
			    die "$tool is not installed: run bash bench/install-deps" ;;
		esac
	done

	corpus=$WORK/corpus-$MESSAGES-$TOTAL_MB
	[ "$SCENARIO" = fetch ] || corpus=$corpus-$MIN_BYTES-$MAX_BYTES
	python3 "$HERE/gen-corpus.py" --out "$corpus" --messages "$MESSAGES" \
	    --total-mb "$TOTAL_MB" --min-bytes "$MIN_BYTES" \
	    --max-bytes "$MAX_BYTES" --attach-prob "$ATTACH" ||
	    die "corpus generation failed"
	CORPUS_BYTES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes"])' "$corpus.json")

	make_run run mode tool phase rep status seconds count rss_kb note
	# With --base, this run's own copy of both trees' binaries: a rebuild
	# of either while it runs cannot mix two versions.
	if [ -n "$BASE" ]; then
		base_copy
		if [ -x "$MAILCTLD" ] && [ -x "$MAILCTL" ]; then
			copy_bins "$BUILD" bin
			MAILCTLD=$RUN/bin/mailctld MAILCTL=$RUN/bin/mailctl
		fi
	fi

	say "starting Dovecot, injecting $MESSAGES messages"
	ms_setup "$MSD" >/dev/null || die "ms_setup failed"
	ms_add_user "$USER_NAME" "$USER_PASS" || die "ms_add_user failed"
	ms_inject_dir "$USER_NAME" "$corpus" || die "injection failed"
	ms_start_dovecot || die "Dovecot did not start"

	{
		printf 'scenario\t%s\nmessages\t%s\ncorpus_bytes\t%s\n' \
		    "$SCENARIO" "$MESSAGES" "$CORPUS_BYTES"
		printf 'reps\t%s\nmodes\t%s\ntools\t%s\n' "$REPS" "$MODES" "$TOOLS"
		printf 'corpus\t%s\ndate\t%s\nmachine\t%s cores, %s\n' "$corpus" \
		    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "$(uname -sr)"
		printf 'dovecot\t%s\n' "$(dovecot --version 2>/dev/null)"
		printf 'mpop\t%s\n' "$(mpop --version 2>/dev/null | head -n 1)"
		printf 'fetchmail\t%s\n' "$(fetchmail --version 2>/dev/null |
		    grep -m1 'release' | sed 's/^This is //')"
		printf 'mailctld\t%s\n' "$("$MAILCTLD" --version 2>/dev/null | head -n 1)"
		base_meta
		printf 'pop3_port\t%s\npop3s_port\t%s\n' "$MS_POP3_PORT" "$MS_POP3S_PORT"
	} >"$META"

	for mode in $MODES; do
		say "--- $mode ($(port_of "$mode")) ---"
		if [ "$SCENARIO" = noop ]; then
			# Every tool sees every message once, not timed.
			for tool in $TOOLS; do
				run_one "$mode" "$tool" warm 0
			done
		else
			# One untimed pass so that Dovecot's index and the
			# page cache are warm for every tool alike.
			tlsargs=()
			[ "$mode" = implicit ] &&
			    tlsargs=(--tls --ca-file "$MS_CA_FILE")
			python3 "$HERE/raw-pop3.py" --port "$(port_of "$mode")" \
			    --user "$USER_NAME" --password "$USER_PASS" \
			    "${tlsargs[@]}" >/dev/null || die "warm-up poll failed"
		fi
		for rep in $(seq "$REPS"); do
			# Rotate the order: rep 1 a b c d, rep 2 b c d a, ...
			for tool in $(rotate "$TOOLS" "$rep"); do
				run_one "$mode" "$tool" rep "$rep"
			done
		done
		mc_stop_all
	done

	cp "$RESULTS" "$WORK/last-$SCENARIO.tsv"
	python3 "$HERE/report.py" --results "$RESULTS" --meta "$META" \
	    ${JSON_OUT:+--json "$JSON_OUT"}
	for tool in $TOOLS; do
		for mode in $MODES; do
			[ -n "${BROKEN[$mode $tool]:-}" ] &&
			    echo "$tool: not working ($mode): ${BROKEN[$mode $tool]}"
		done
	done
	return "$ANY_FAILED"
}

main
