# shellcheck shell=bash disable=SC2034  # (globals set for the drivers)
# fetchlib.sh — what the mailbox-download benchmarks (pop3-fetch.sh,
# imap-sync.sh) share beyond lib.sh: the options and scenarios, the corpus
# and the real Dovecot serving it, mailctld as a tool (and norules, base),
# fetchmail, one run of a tool, the rotation of tools and TLS modes, and
# the report. Source it after lib.sh, with HERE, TOP and BENCH_NAME set,
# and these set by the driver:
#
#   PROTO        pop3 or imap (report.py's titles and ratios, fetchmail's
#                proto)
#   KNOWN_TOOLS  every tool --only accepts
#
# The driver defines these functions:
#
#   default_tools            the tools of $SCENARIO without --only
#   port_of MODE             Dovecot's port for TLS mode none or implicit
#   mc_server_json DIR MODE  the "pop3": {...} or "imap": {...} member of
#                            mailctld's account (one line)
#   fetch_warm_up MODE       an untimed download of the whole mailbox
#                            (fetch and bigmsg: Dovecot's index and the
#                            page cache warm for every tool alike)
#   fetch_meta               its own meta lines (clients' versions, ports)
#   tool_X DIR MODE PHASE    one run of each of its own tools X (the
#                            contract is above run_raw below), and
#                            tool_fetchmail, which calls run_fetchmail
#
# and sets TOOL_CMD[X]=COMMAND for each tool that needs a program
# installed. Then it calls fetch_opts "$@" and, once its own checks are
# done, fetch_main.
#
# A driver may add scenarios of its own, which do not run the tools in
# turn: it lists them in DRIVER_SCENARIOS, its extra options (parse_opts
# specs) in DRIVER_OPTS, and defines for each such scenario S:
#
#   scenario_opts_S          set MESSAGES, TOTAL_MB, MIN_BYTES, MAX_BYTES,
#                            ATTACH and REPS (when not given) for S, check
#                            its own options
#   prepare_S CORPUS         users and mailboxes, before Dovecot starts
#   run_S MODE               the whole of S in TLS mode MODE: it writes
#                            the rows of RESULTS itself (report.py knows S)

WORK=/var/tmp/mailctl-bench
USER_NAME=bench     # the Dovecot user whose INBOX is the mailbox
USER_PASS=bench-pw-7
SCENARIO=fetch
MESSAGES=
TOTAL_MB=
REPS=
TLS=both
ONLY=
BUILD=$TOP
BASE=
JSON_OUT=
TIMEOUT=600
KEEP=0
declare -A TOOL_CMD

# --- options ----------------------------------------------------------------

# Parse the command line; set the scenario's sizes (MESSAGES, TOTAL_MB,
# MIN_BYTES, MAX_BYTES, ATTACH), MODES, TOOLS and the binaries' paths;
# check that this can run at all.
fetch_opts()
{
	parse_opts "--scenario:SCENARIO --messages:MESSAGES --total-mb:TOTAL_MB
	    --reps:REPS --tls:TLS --only:ONLY --build:BUILD --base:BASE
	    --json:JSON_OUT --timeout:TIMEOUT --keep:KEEP=1
	    ${DRIVER_OPTS:-}" "$@"

	case $SCENARIO in
	fetch)
		: "${MESSAGES:=5000}" "${TOTAL_MB:=200}"
		MIN_BYTES=2048 MAX_BYTES=1048576 ATTACH=0.4 ;;
	noop)
		: "${MESSAGES:=50000}"
		small_mailbox ;;
	bigmsg)
		: "${MESSAGES:=1}" "${TOTAL_MB:=100}"
		[ "$MESSAGES" = 1 ] ||
		    die "--scenario bigmsg: --messages must be 1"
		is_num "$TOTAL_MB" || die "--total-mb: expected a number"
		MIN_BYTES=$(awk -v m="$TOTAL_MB" 'BEGIN { printf "%d", m * 1048576 }')
		MAX_BYTES=$MIN_BYTES ATTACH=1 ;;
	*)
		case " ${DRIVER_SCENARIOS:-} " in
		*" $SCENARIO "*) "scenario_opts_$SCENARIO" ;;
		*) die "--scenario: expected one of fetch, noop, bigmsg${DRIVER_SCENARIOS:+, ${DRIVER_SCENARIOS// /, }}" ;;
		esac ;;
	esac
	: "${REPS:=3}"
	is_uint "$MESSAGES" && [ "$MESSAGES" -ge 1 ] ||
	    die "--messages: expected a positive integer"
	is_num "$TOTAL_MB" || die "--total-mb: expected a number"
	is_uint "$REPS" && [ "$REPS" -ge 1 ] ||
	    die "--reps: expected a positive integer"
	is_uint "$TIMEOUT" && [ "$TIMEOUT" -ge 1 ] ||
	    die "--timeout: expected seconds"
	case $TLS in
	none | implicit) MODES=$TLS ;;
	both) MODES="none implicit" ;;
	*) die "--tls: expected none, implicit or both" ;;
	esac
	select_tools "$ONLY" "$KNOWN_TOOLS" "$(plus_base "$(default_tools)")"
	base_check
	case " $TOOLS " in
	*" norules "*) [ "$SCENARIO" != noop ] ||
		die "--only: norules is not for the noop scenario" ;;
	esac
	BUILD=$(cd "$BUILD" 2>/dev/null && pwd) ||
	    die "--build: no such directory"
	MAILCTLD=$BUILD/daemon/mailctld
	MAILCTL=$BUILD/client/mailctl
	BASE_MAILCTLD=  # --base: the copies of its binaries (see fetch_main)
	BASE_MAILCTL=

	[ "$(id -u)" = 0 ] ||
	    die "must run as root (Dovecot is started as root)"
	case :$PATH: in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac
	command -v dovecot >/dev/null && command -v python3 >/dev/null ||
	    die "Dovecot or python3 missing: run bash bench/install-deps"
}

# The sizes of a mailbox of MESSAGES small messages: 1-2 KiB, no
# attachment, TOTAL_MB (unless given) what that comes to.
small_mailbox()
{
	is_uint "$MESSAGES" || die "--messages: expected a positive integer"
	: "${TOTAL_MB:=$(awk -v n="$MESSAGES" 'BEGIN { printf "%.2f", n * 1536 / 1048576 }')}"
	MIN_BYTES=1024 MAX_BYTES=2048 ATTACH=0
}

# --- state of the run -------------------------------------------------------

RUN=            # this run's directory (removed at exit)
MSD=            # the mail server instance directory
RESULTS=        # one line per run, read by report.py
META=           # key<TAB>value facts for report.py
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

# The count a run must end with: what is in the local store afterwards,
# and what the tool itself says it fetched this time.
expected_store() { echo "$MESSAGES"; }
expected_new() { if [ "$1" = warm ] || [ "$SCENARIO" != noop ]; then echo "$MESSAGES"; else echo 0; fi; }

# Set R_STATUS and R_NOTE for a tool that delivers into a local store
# holding R_COUNT messages, from its exit status T_RC (and $2, another
# status that means success, if any); its first error line is in $1.
judge_store()
{
	R_NOTE=
	if [ "$T_RC" != 0 ] && [ "$T_RC" != "${2:-0}" ]; then
		R_STATUS=failed R_NOTE="exit $T_RC: $(first_line "$1")"
	elif [ "$R_COUNT" != "$(expected_store)" ]; then
		R_STATUS=failed
		R_NOTE="$R_COUNT messages delivered, expected $(expected_store)"
	else
		R_STATUS=ok
	fi
}

# --- tools ------------------------------------------------------------------
# Each tool_X DIR MODE PHASE sets R_STATUS (ok|failed|broken), R_SECS,
# R_COUNT (messages in the local store, or fetched for raw), R_RSS (KiB)
# and R_NOTE. DIR is the tool's state directory for this TLS mode: wiped
# before each run in the fetch and bigmsg scenarios, kept in noop. PHASE
# is warm (noop's first, untimed download) or rep.

# Run a raw client, python3 $HERE/$1 with the arguments after DIR ($2)
# and PHASE ($3): it must exit 0 and have fetched (its JSON line's
# "messages") what PHASE expects.
run_raw()
{
	local script=$1 dir=$2 phase=$3 got want
	shift 3
	timed "$dir/time" "$dir/out" "$dir/err" python3 "$HERE/$script" "$@"
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

# fetchmail (the driver's tool_fetchmail runs this, and what its protocol
# needs after it).
run_fetchmail()
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
		# '' disables fetchmail's opportunistic STLS/STARTTLS: really
		# plain.
		tlsopt="sslproto ''"
	fi
	# The MDA: write the message to tmp/ (fsync'd, as mailctld and the
	# other clients do), then rename it into new/. One sh + dd + mv per
	# message: that is what delivering through an MDA costs.
	(umask 077 && cat >"$dir/fetchmailrc") <<-EOF
	set no syslog
	poll $MS_HOST port $(port_of "$mode") proto $PROTO timeout 120
	    user "$USER_NAME" password "$USER_PASS"
	    keep $( [ "$SCENARIO" = noop ] || echo fetchall ) no rewrite $tlsopt
	    mda "t=$md/tmp/\$\$.fm; dd bs=64k conv=fsync status=none of=\$t && mv \$t $md/new/"
	EOF
	timed "$dir/time" "$dir/out" "$dir/err" \
	    env HOME="$dir/home" FETCHMAILHOME="$dir/home" \
	    fetchmail -f "$dir/fetchmailrc" --nodetach --nosyslog \
	    --pidfile "$dir/fetchmail.pid" --idfile "$dir/fetchmail.ids"
	R_SECS=$T_SECS R_RSS=$T_RSS
	R_COUNT=$(count_msgs "$md")
	# fetchmail: 0 = mail fetched, 1 = no new mail.
	cat "$dir/err" "$dir/out" | grep -v 'Running as root' >"$dir/msgs"
	judge_store "$dir/msgs" 1
}

# Start mailctld for DIR and MODE; wait until `mailctl status` answers.
# On failure set R_NOTE and fail. Its accounts are the users MC_USERS
# (default USER_NAME, all with the password USER_PASS), each named after
# its user.
mc_start()
{
	local dir=$1 mode=$2 extra= accounts= sep= u
	[ -z "${MC_NORULES:-}" ] || extra=' "filters": [],'
	for u in ${MC_USERS:-$USER_NAME}; do
		accounts+="$sep    {\"name\": \"$u\", \"email\": \"$u@$MS_DOMAIN\",
	      $(USER_NAME=$u mc_server_json "$dir" "$mode")}"
		sep=$',\n'
	done
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
	$accounts
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
	local dir=$1 mode=$2 phase=$3 before want_before=0 new want idle0 idle1
	R_SECS='' R_RSS='' R_COUNT='' R_NOTE=''
	# In noop the daemon started for the warm-up download stays up for
	# the timed ones; otherwise every run starts it on an empty data_dir.
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
	[ -z "${MC_THREADS:-}" ] || idle0=$(awk '/^cpu / {print $5 + $6}' /proc/stat)
	timed "$dir/time" "$dir/out" "$dir/err" \
	    "$MAILCTL" --socket "$dir/s.sock" fetch bench --json
	R_SECS=$T_SECS
	# MC_THREADS=FILE: the machine's idle ticks during the fetch, each
	# thread's CPU ticks (user, system) so far, its voluntary and forced
	# context switches, its time on a CPU and waiting for one (ns, from
	# schedstat), the server's.
	if [ -n "${MC_THREADS:-}" ]; then
		idle1=$(awk '/^cpu / {print $5 + $6}' /proc/stat)
		echo "${dir##*/} $T_SECS idle $((idle1 - idle0))" >>"$MC_THREADS"
		for t in /proc/"$MC_PID"/task/*; do
			echo "${dir##*/} $T_SECS $(cat "$t/comm")" \
			    "$(awk '{print $14, $15}' "$t/stat")" \
			    "$(awk '/ctxt_switches/ {print $2}' "$t/status" |
			    tr '\n' ' ')" "$(cut -d' ' -f1,2 "$t/schedstat")"
		done >>"$MC_THREADS"
		for t in $(pgrep -x dovecot); do
			echo "$T_SECS dovecot-children" \
			    "$(awk '{print $16, $17}' /proc/"$t"/stat)"
		done >>"$MC_THREADS"
	fi
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

# mailctld from the --base tree, run exactly as mailctld.
tool_base()
{
	as_base tool_mailctld "$@"
}

# --- one run ----------------------------------------------------------------

# Append the result of one run (R_STATUS, R_SECS, R_COUNT, R_RSS, R_NOTE)
# of tool $2 in TLS mode $1, phase $3, repetition $4 to RESULTS.
result_row()
{
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" \
	    "$R_STATUS" "$R_SECS" "$R_COUNT" "$R_RSS" \
	    "$(printf '%s' "$R_NOTE" | tr '\t\n' '  ')" >>"$RESULTS"
}

# Keep what a run in directory $1 said (out, err, mailctld.log) under
# $RUN/logs, named $2.* (see --keep).
keep_logs()
{
	local f
	mkdir -p "$RUN/logs"
	for f in out err mailctld.log; do
		[ -s "$1/$f" ] && cp "$1/$f" "$RUN/logs/$2.$f"
	done
	return 0
}

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
	# In noop a tool whose first (untimed) download failed has no state
	# to compare with: leave it out of this mode.
	if [ "$phase" = warm ] && [ "$R_STATUS" = failed ]; then
		R_STATUS=broken R_NOTE="first download (warm-up) failed: $R_NOTE"
	fi
	result_row "$mode" "$tool" "$phase" "$rep"
	case $R_STATUS in
	ok)
		log "$(printf '%-18s %-12s %8.3f s  %6s msgs  %s' "$label" "$tool" \
		    "$R_SECS" "$R_COUNT" "${R_RSS:+peak RSS $((R_RSS / 1024)) MiB}")"
		;;
	*)
		run_failed "$label" "$tool" "$mode $tool"
		;;
	esac
	# Keep what the tool said (see --keep); the fetched mail is not needed
	# any more (except in noop, where the local state is what the next
	# download compares with).
	keep_logs "$dir" "$mode-$tool-$phase$rep"
	if [ "$SCENARIO" != noop ]; then
		trash "$dir"
	fi
	return 0
}

# --- main -------------------------------------------------------------------

fetch_main()
{
	local corpus mode rep tool
	mkdir -p "$WORK" && chmod 755 "$WORK" || die "cannot create $WORK"
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	for tool in $TOOLS; do
		[ -z "${TOOL_CMD[$tool]:-}" ] ||
		    command -v "${TOOL_CMD[$tool]}" >/dev/null ||
		    die "$tool is not installed: run bash bench/install-deps"
	done

	corpus=$WORK/corpus-$MESSAGES-$TOTAL_MB
	[ "$SCENARIO" = fetch ] || corpus=$corpus-$MIN_BYTES-$MAX_BYTES
	python3 "$HERE/gen-corpus.py" --out "$corpus" --messages "$MESSAGES" \
	    --total-mb "$TOTAL_MB" --min-bytes "$MIN_BYTES" \
	    --max-bytes "$MAX_BYTES" --attach-prob "$ATTACH" ||
	    die "corpus generation failed"
	CORPUS_BYTES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes"])' "$corpus.json")

	make_run "$BENCH_NAME" mode tool phase rep status seconds count rss_kb note
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
	if declare -F "prepare_$SCENARIO" >/dev/null; then
		"prepare_$SCENARIO" "$corpus" || die "$SCENARIO: setup failed"
	fi
	ms_start_dovecot || die "Dovecot did not start"

	{
		printf 'protocol\t%s\n' "$PROTO"
		printf 'scenario\t%s\nmessages\t%s\ncorpus_bytes\t%s\n' \
		    "$SCENARIO" "$MESSAGES" "$CORPUS_BYTES"
		printf 'reps\t%s\nmodes\t%s\ntools\t%s\n' "$REPS" "$MODES" "$TOOLS"
		printf 'corpus\t%s\ndate\t%s\nmachine\t%s cores, %s\n' "$corpus" \
		    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "$(uname -sr)"
		printf 'load\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
		printf 'dovecot\t%s\n' "$(dovecot --version 2>/dev/null)"
		printf 'fetchmail\t%s\n' "$(fetchmail --version 2>/dev/null |
		    grep -m1 'release' | sed 's/^This is //')"
		printf 'mailctld\t%s\n' "$("$MAILCTLD" --version 2>/dev/null | head -n 1)"
		base_meta
		fetch_meta
	} >"$META"

	for mode in $MODES; do
		say "--- $mode ($(port_of "$mode")) ---"
		if declare -F "run_$SCENARIO" >/dev/null; then
			"run_$SCENARIO" "$mode"
			mc_stop_all
			continue
		fi
		if [ "$SCENARIO" = noop ]; then
			# Every tool sees every message once, not timed.
			for tool in $TOOLS; do
				run_one "$mode" "$tool" warm 0
			done
		else
			fetch_warm_up "$mode" || die "warm-up download failed"
		fi
		for rep in $(seq "$REPS"); do
			# Rotate the order: rep 1 a b c d, rep 2 b c d a, ...
			for tool in $(rotate "$TOOLS" "$rep"); do
				run_one "$mode" "$tool" rep "$rep"
			done
		done
		mc_stop_all
	done

	cp "$RESULTS" "$WORK/last-${LAST_PREFIX:-}$SCENARIO.tsv"
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
