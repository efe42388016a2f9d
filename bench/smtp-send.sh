#!/bin/bash
# smtp-send.sh — compare mailctld's SMTP outbox with one Python smtplib
# connection (the floor) and with msmtp run once per mail, on the same real
# Postfix (submission: STARTTLS + AUTH through Dovecot) in the same run.
#
# Usage (as root; bash bench/install-deps first):
#   bash bench/smtp-send.sh [--scenario drain|bigmsg] [--mails N]
#        [--size BYTES] [--reps R] [--only TOOL,...] [--msmtp-mails M]
#        [--parallel P] [--attach-mb MB] [--build DIR] [--base DIR]
#        [--json FILE] [--timeout S] [--keep]
#
# Scenarios (see bench/README.md):
#   drain   (default) N=1000 mails of ~10 KiB. smtplib sends them over one
#           connection; msmtp runs once per mail (on M = min(N, 50) of
#           them by default, its rate extrapolated to N); mailctld gets
#           them queued while Postfix is down (not timed), then the time
#           from `mailctl queue flush` until `mailctl watch --json` has
#           shown a `sent` event for every one is measured.
#   bigmsg  one mail with a 20 MiB attachment; mailctld's peak RSS
#           (VmHWM of a fresh daemon) against the 16 MiB target, and the
#           others' for reference.
# Tools: smtplib (bench/smtplib-send.py), msmtp, mailctld (default: all).
# With --base DIR, also base (in the default tools too): mailctld and
# mailctl from that other built tree, run exactly as mailctld, so that
# mailctld / base is the ratio of two builds measured in the same run.
#
# Every mail goes to one user of a real Postfix started through
# tests/servers/mailservers.sh, and the run checks afterwards that the
# recipient's Maildir got every one (Postfix's local delivery is waited for,
# not timed). Tools alternate within each repetition (the order rotates),
# and `sync` runs (not timed) before each timed run. Work files live under
# /var/tmp/mailctl-bench (disk, not tmpfs) and go at exit (EXIT trap), with
# Postfix, Dovecot and mailctld stopped.
#
# Exit status: 0 when every run of every tool succeeded, 1 when some tool
# failed or is not working, 2 on a usage or setup error.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
WORK=/var/tmp/mailctl-bench
SENDER=bench
SENDER_PASS=bench-smtp-pw-3
RCPT=rcpt
RCPT_PASS=rcpt-pw-5
ALL_TOOLS="smtplib msmtp mailctld"

SCENARIO=drain
MAILS=
SIZE=10240
REPS=3
ONLY=
MSMTP_MAILS=
PARALLEL=4
ATTACH_MB=20
BUILD=$TOP
BASE=
JSON_OUT=
TIMEOUT=600
KEEP=0

BENCH_NAME=smtp-send
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

# --- options ----------------------------------------------------------------

parse_opts "--scenario:SCENARIO --mails:MAILS --size:SIZE --reps:REPS
    --only:ONLY --msmtp-mails:MSMTP_MAILS --parallel:PARALLEL
    --attach-mb:ATTACH_MB --build:BUILD --base:BASE --json:JSON_OUT
    --timeout:TIMEOUT --keep:KEEP=1" "$@"

case $SCENARIO in
drain)
	: "${MAILS:=1000}"
	is_uint "$MAILS" && [ "$MAILS" -ge 1 ] ||
	    die "--mails: expected a positive integer"
	# msmtp takes ~0.1-0.2 s a mail: by default only the first 50 mails,
	# its rate extrapolated to N. 0 = all N.
	: "${MSMTP_MAILS:=50}"
	is_uint "$MSMTP_MAILS" || die "--msmtp-mails: expected an integer"
	if [ "$MSMTP_MAILS" = 0 ] || [ "$MSMTP_MAILS" -gt "$MAILS" ]; then
		MSMTP_MAILS=$MAILS
	fi
	ATTACH_BYTES=0 ;;
bigmsg)
	: "${MAILS:=1}"
	[ "$MAILS" = 1 ] || die "--scenario bigmsg: --mails must be 1"
	is_uint "$ATTACH_MB" && [ "$ATTACH_MB" -ge 1 ] ||
	    die "--attach-mb: expected a positive integer"
	MSMTP_MAILS=1
	ATTACH_BYTES=$((ATTACH_MB * 1048576)) ;;
*) die "--scenario: expected drain or bigmsg" ;;
esac
is_uint "$SIZE" && [ "$SIZE" -ge 1024 ] || die "--size: expected bytes >= 1024"
is_uint "$REPS" && [ "$REPS" -ge 1 ] || die "--reps: expected a positive integer"
is_uint "$PARALLEL" && [ "$PARALLEL" -ge 1 ] ||
    die "--parallel: expected a positive integer"
is_uint "$TIMEOUT" && [ "$TIMEOUT" -ge 1 ] || die "--timeout: expected seconds"
select_tools "$ONLY" "$ALL_TOOLS base" "$(plus_base "$ALL_TOOLS")"
base_check
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || die "--build: no such directory"

[ "$(id -u)" = 0 ] || die "must run as root (the servers are started as root)"
case :$PATH: in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac
command -v dovecot >/dev/null && command -v postfix >/dev/null &&
    command -v python3 >/dev/null ||
    die "Dovecot, Postfix or python3 missing: run bash bench/install-deps"
case " $TOOLS " in
*" msmtp "*) command -v msmtp >/dev/null ||
    die "msmtp is not installed: run bash bench/install-deps" ;;
esac
case " $TOOLS " in
*" mailctld "*)
	[ -x "$BUILD/daemon/mailctld" ] && [ -x "$BUILD/client/mailctl" ] ||
	    die "not built: no $BUILD/daemon/mailctld or $BUILD/client/mailctl (use --build DIR)" ;;
esac

# --- state of the run -------------------------------------------------------

RUN=            # this run's directory (removed at exit)
MSD=            # the mail server instance directory
RESULTS=        # one line per run, read by smtp-report.py
META=           # key<TAB>value facts for smtp-report.py
MAILCTLD=       # copies of the binaries in $RUN/bin (see main)
MAILCTL=
BASE_MAILCTLD=  # --base: copies of its binaries in $RUN/bin-base
BASE_MAILCTL=
MC_PID=         # a running mailctld, if any
MC_SOCK=
CORPUS=
declare -A BROKEN   # tool -> reason, once a tool cannot work at all
ANY_FAILED=0

# shellcheck source=tests/servers/mailservers.sh
. "$TOP/tests/servers/mailservers.sh"

# --- helpers ----------------------------------------------------------------

# The value of integer or float member $2 in the JSON line of file $1.
json_num()
{
	grep -o "\"$2\": *[0-9.]*" "$1" 2>/dev/null | head -n 1 |
	    grep -o '[0-9.]*$'
}

# Seconds since the epoch, with nanoseconds.
now()
{
	date +%s.%N
}

# Difference of two now() values, in seconds.
since()
{
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'
}

# One untimed STARTTLS + AUTH connection, so that Postfix has its smtpd,
# tlsmgr and Dovecot's auth running before a timed run (after a restart
# they start on the first connection).
warm_up()
{
	python3 "$HERE/smtplib-send.py" --warm-up --port "$MS_SMTP_PORT" \
	    --user "$SENDER" --password "$SENDER_PASS" --ca-file "$MS_CA_FILE" \
	    --from "$SENDER@$MS_DOMAIN" --to "$RCPT@$MS_DOMAIN" >/dev/null
}

# Wait (not timed) until the recipient has $1 messages; R_COUNT = how many
# of this run's $2 arrived.
wait_delivered()
{
	local want=$1 n=$2 before
	before=$((want - n))
	ms_wait_delivered "$RCPT" "$want" $((60 + n / 10)) 2>/dev/null
	R_COUNT=$(($(ms_deliver_count "$RCPT") - before))
}

# --- the tools --------------------------------------------------------------
# Each tool_X DIR sets R_STATUS (ok|failed|broken), R_SECS (seconds for
# R_MAILS mails), R_MAILS, R_COUNT (mails delivered), R_RSS (KiB), R_NOTE
# and R_EXTRA (key=value;... facts for the report). DIR is the tool's
# directory for this run, empty at the start.

tool_smtplib()
{
	local dir=$1 before secs sent
	before=$(ms_deliver_count "$RCPT")
	R_MAILS=$MAILS
	warm_up || { R_STATUS=failed R_NOTE="warm-up connection failed"; return; }
	sync
	timed "$dir/time" "$dir/out" "$dir/err" \
	    python3 "$HERE/smtplib-send.py" --port "$MS_SMTP_PORT" \
	    --user "$SENDER" --password "$SENDER_PASS" --ca-file "$MS_CA_FILE" \
	    --from "$SENDER@$MS_DOMAIN" --to "$RCPT@$MS_DOMAIN" \
	    --timeout "$TIMEOUT" "$CORPUS/eml"
	secs=$(json_num "$dir/out" seconds)
	sent=$(json_num "$dir/out" sent)
	R_SECS=$secs R_RSS=$T_RSS
	R_EXTRA="process_s=$T_SECS"
	wait_delivered $((before + MAILS)) "$MAILS"
	if [ "$T_RC" != 0 ]; then
		R_STATUS=failed R_NOTE="exit $T_RC: $(first_line "$dir/err")"
	elif [ "${sent:-x}" != "$MAILS" ] || [ -z "$secs" ]; then
		R_STATUS=failed R_NOTE="sent ${sent:-?} mails, expected $MAILS"
	elif [ "$R_COUNT" != "$MAILS" ]; then
		R_STATUS=failed
		R_NOTE="$R_COUNT mails delivered, expected $MAILS"
	else
		R_STATUS=ok
	fi
}

tool_msmtp()
{
	local dir=$1 before files
	before=$(ms_deliver_count "$RCPT")
	R_MAILS=$MSMTP_MAILS
	# msmtp refuses a configuration file that others can read.
	(umask 077 && cat >"$dir/msmtprc") <<-EOF
	defaults
	account bench
	host $MS_HOST
	port $MS_SMTP_PORT
	from $SENDER@$MS_DOMAIN
	tls on
	tls_starttls on
	tls_trust_file $MS_CA_FILE
	auth on
	user $SENDER
	password $SENDER_PASS
	timeout 120
	syslog off
	EOF
	files=$(find "$CORPUS/eml" -name '*.eml' | sort | head -n "$MSMTP_MAILS")
	warm_up || { R_STATUS=failed R_NOTE="warm-up connection failed"; return; }
	sync
	# One msmtp process per mail, one after another, as a mail user agent
	# or a shell loop would run it.
	# shellcheck disable=SC2016,SC2086
	timed "$dir/time" "$dir/out" "$dir/err" \
	    bash -c 'rc=$1; to=$2; shift 2
		for f; do msmtp -C "$rc" -a bench "$to" <"$f" || exit; done' \
	    _ "$dir/msmtprc" "$RCPT@$MS_DOMAIN" $files
	R_SECS=$T_SECS R_RSS=$T_RSS
	R_EXTRA="extrapolated_from=$MSMTP_MAILS"
	wait_delivered $((before + MSMTP_MAILS)) "$MSMTP_MAILS"
	if [ "$T_RC" != 0 ]; then
		R_STATUS=failed R_NOTE="exit $T_RC: $(first_line "$dir/err")"
	elif [ "$R_COUNT" != "$MSMTP_MAILS" ]; then
		R_STATUS=failed
		R_NOTE="$R_COUNT mails delivered, expected $MSMTP_MAILS"
	else
		R_STATUS=ok
	fi
}

# Start mailctld with a fresh data_dir under DIR; wait until `mailctl
# status` answers. On failure set R_NOTE and fail.
mc_start()
{
	local dir=$1
	MC_SOCK=$dir/s.sock
	(umask 077 && cat >"$dir/config.json") <<-EOF
	{
	  "data_dir": "$dir/data",
	  "socket": "$MC_SOCK",
	  "poll_at_start": false,
	  "attachment_max_bytes": $((64 * 1048576)),
	  "queue": {"retry_min": 3600, "retry_max": 3600, "expire": 86400},
	  "accounts": [
	    {
	      "name": "bench",
	      "email": "$SENDER@$MS_DOMAIN",
	      "smtp": {"host": "$MS_HOST", "port": $MS_SMTP_PORT,
	               "tls": "starttls", "ca_file": "$MS_CA_FILE",
	               "user": "$SENDER", "password": "$SENDER_PASS"}
	    }
	  ]
	}
	EOF
	"$MAILCTLD" --config "$dir/config.json" </dev/null \
	    >>"$dir/mailctld.log" 2>&1 &
	MC_PID=$!
	mc_wait_up "$MC_SOCK" "$dir/mailctld.log"
}

# Queue mail I of the corpus (used through xargs: one mailctl per mail).
# Prints nothing; the answer goes to DIR/sends/I.json.
queue_one()
{
	local dir=$1 i=$2 f
	f=$(printf '%06d' "$i")
	"$MAILCTL" --socket "$MC_SOCK" send --account bench \
	    --to "$RCPT@$MS_DOMAIN" --subject "Bench mail $i of $MAILS" \
	    --body-file "$CORPUS/body/$f.txt" --json \
	    >"$dir/sends/$f.json" 2>"$dir/sends/$f.err"
}

# Wait (at most 30 s) until `queue --json` lists N mails, all deferred.
# Succeed or set R_NOTE.
wait_all_deferred()
{
	local dir=$1 n=$2 got
	for _ in $(seq 300); do
		"$MAILCTL" --socket "$MC_SOCK" queue --json >"$dir/queue.json" \
		    2>/dev/null
		got=$(python3 -c '
import json, sys
q = json.load(open(sys.argv[1]))
print(len(q), sum(m["state"] == "deferred" for m in q))' "$dir/queue.json" 2>/dev/null)
		[ "$got" = "$n $n" ] && return 0
		sleep 0.1
	done
	R_NOTE="queue --json lists ${got% *} mails, ${got#* } deferred; expected $n, all deferred"
	return 1
}

tool_mailctld()
{
	local dir=$1 t0 queued before n files
	R_MAILS=$MAILS
	# Postfix down: every mail is queued durably, tried once, deferred.
	ms_stop_postfix
	mc_start "$dir" || { R_STATUS=broken; ms_start_postfix >/dev/null; return; }
	mkdir -p "$dir/sends"
	export -f queue_one
	export MAILCTL MC_SOCK CORPUS RCPT MS_DOMAIN MAILS
	t0=$(now)
	seq "$MAILS" | xargs -P "$PARALLEL" -I{} bash -c 'queue_one "$1" {}' _ "$dir"
	queued=$(since "$t0")
	n=$(cat "$dir"/sends/*.json 2>/dev/null | grep -c '"state": *"queued"')
	files=$(find "$dir/data/queue" -type f 2>/dev/null | wc -l)
	R_EXTRA="queue_s=$queued;parallel=$PARALLEL;queue_files=$files"
	if [ "$n" != "$MAILS" ]; then
		R_STATUS=failed
		R_NOTE="send answered \"queued\" for $n of $MAILS mails: $(cat "$dir"/sends/*.err 2>/dev/null | first_line /dev/stdin)"
		mc_stop
		ms_start_postfix >/dev/null
		return
	fi
	if ! wait_all_deferred "$dir" "$MAILS"; then
		R_STATUS=failed
		mc_stop
		ms_start_postfix >/dev/null
		return
	fi
	ms_start_postfix >/dev/null || die "Postfix did not start again"
	before=$(ms_deliver_count "$RCPT")
	warm_up || { R_STATUS=failed R_NOTE="warm-up connection failed"; mc_stop; return; }
	sync
	python3 "$HERE/smtp-drain.py" --mailctl "$MAILCTL" --socket "$MC_SOCK" \
	    --mails "$MAILS" --timeout "$TIMEOUT" --pid "$MC_PID" \
	    >"$dir/out" 2>"$dir/err"
	T_RC=$?
	R_SECS=$(json_num "$dir/out" seconds)
	R_RSS=$(mc_hwm)
	R_EXTRA="$R_EXTRA;events=$(json_num "$dir/out" events);half_s=$(json_num "$dir/out" half_s);flushed=$(json_num "$dir/out" flushed)"
	if ! kill -0 "$MC_PID" 2>/dev/null; then
		R_NOTE="the daemon died"
	fi
	mc_stop
	if [ "$T_RC" = 0 ]; then
		wait_delivered $((before + MAILS)) "$MAILS"
	else
		R_COUNT=$(($(ms_deliver_count "$RCPT") - before))
	fi
	n=$(count_msgs "$dir/data/bench/Sent")
	if [ "$T_RC" != 0 ] || [ -z "$R_SECS" ]; then
		R_STATUS=failed
		R_NOTE="drain: $(first_line "$dir/err")${R_NOTE:+; $R_NOTE}"
	elif [ "$R_COUNT" != "$MAILS" ]; then
		R_STATUS=failed
		R_NOTE="$R_COUNT mails delivered, expected $MAILS"
	elif [ "$n" != "$MAILS" ]; then
		R_STATUS=failed
		R_NOTE="$n mails in Sent, expected $MAILS"
	elif [ -n "$R_NOTE" ]; then
		R_STATUS=failed
	else
		R_STATUS=ok
	fi
}

# mailctld from the --base tree, run exactly as mailctld.
tool_base()
{
	as_base tool_mailctld "$@"
}

# --- bigmsg -------------------------------------------------------------------

# With one mail (bigmsg's --mails 1) the drain's runs of smtplib and
# msmtp are the big mail's.
big_smtplib()
{
	tool_smtplib "$1"
}

big_msmtp()
{
	tool_msmtp "$1"
}

big_mailctld()
{
	local dir=$1 before start_hwm watch anon file
	R_MAILS=1
	before=$(ms_deliver_count "$RCPT")
	mc_start "$dir" || { R_STATUS=broken; return; }
	start_hwm=$(mc_hwm)
	warm_up || { R_STATUS=failed R_NOTE="warm-up connection failed"; mc_stop; return; }
	sync
	# Which kind of memory makes the peak: anonymous, or file pages
	# mapped (sampled every millisecond, not timed).
	python3 "$HERE/rss-watch.py" "$MC_PID" "$dir/rss" &
	watch=$!
	timed "$dir/time" "$dir/out" "$dir/err" \
	    "$MAILCTL" --socket "$MC_SOCK" send --account bench \
	    --to "$RCPT@$MS_DOMAIN" --subject "Bench mail 1 of 1" \
	    --body-file "$CORPUS/body/000001.txt" --attach "$CORPUS/attach.bin" \
	    --wait --json
	R_SECS=$T_SECS
	R_RSS=$(mc_hwm)
	kill -TERM "$watch" 2>/dev/null
	wait "$watch" 2>/dev/null
	read -r anon file _ <"$dir/rss" 2>/dev/null
	R_EXTRA="start_hwm_kb=$start_hwm;size=$(json_num "$dir/out" size);anon_peak_kb=${anon:-};file_peak_kb=${file:-}"
	kill -0 "$MC_PID" 2>/dev/null || R_NOTE="the daemon died"
	mc_stop
	wait_delivered $((before + 1)) 1
	if [ "$T_RC" != 0 ]; then
		R_STATUS=failed
		R_NOTE="send --wait: exit $T_RC: $(first_line "$dir/err")${R_NOTE:+; $R_NOTE}"
	elif ! grep -q '"state": *"sent"' "$dir/out"; then
		R_STATUS=failed R_NOTE="send --wait: $(first_line "$dir/out")"
	elif [ "$R_COUNT" != 1 ]; then
		R_STATUS=failed R_NOTE="$R_COUNT mails delivered, expected 1"
	elif [ -n "$R_NOTE" ]; then
		R_STATUS=failed
	else
		R_STATUS=ok
	fi
}

big_base()
{
	as_base big_mailctld "$@"
}

# Let the Postfix instance take the big mail: its default message_size_limit
# is 10,240,000 bytes. Written into the instance's main.cf (the harness
# rewrites that file at the next ms_start_postfix) and reloaded.
postfix_allow_big()
{
	local p=$MS_DIR/postfix limit=$(((ATTACH_MB * 2 + 16) * 1048576))
	postconf -c "$p" -e "message_size_limit = $limit" \
	    "virtual_mailbox_limit = $((limit * 4))" || return 1
	# Postfix programs pause when main.cf changed in the last seconds.
	touch -d "@$(($(date +%s) - 60))" "$p/main.cf"
	postfix -c "$p" reload >>"$(ms_log postfix-ctl)" 2>&1 || return 1
	sleep 1
}

# --- one run ----------------------------------------------------------------

# run_one TOOL REP: run the tool in a fresh directory, record the result
# line, print a progress line.
run_one()
{
	local tool=$1 rep=$2 dir label fn rate
	dir=$RUN/$tool
	label="[$SCENARIO $rep/$REPS]"
	[ -n "${BROKEN[$tool]:-}" ] && return 0
	trash "$dir"
	mkdir -p "$dir"
	R_STATUS='' R_SECS='' R_MAILS='' R_COUNT='' R_RSS='' R_NOTE='' R_EXTRA=''
	fn=tool_$tool
	[ "$SCENARIO" = bigmsg ] && fn=big_$tool
	"$fn" "$dir"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$rep" \
	    "$R_STATUS" "$R_SECS" "$R_MAILS" "$R_COUNT" "$R_RSS" \
	    "$(printf '%s' "$R_NOTE" | tr '\t\n' '  ')" "$R_EXTRA" >>"$RESULTS"
	case $R_STATUS in
	ok)
		rate=$(awk -v n="$R_MAILS" -v s="$R_SECS" \
		    'BEGIN { if (s > 0) printf "%.1f", n / s }')
		log "$(printf '%-16s %-9s %8.3f s  %5s mails  %8s mails/s  %s' \
		    "$label" "$tool" "$R_SECS" "$R_MAILS" "$rate" \
		    "${R_RSS:+peak RSS $((R_RSS / 1024)) MiB}")"
		;;
	*)
		run_failed "$label" "$tool" "$tool"
		;;
	esac
	mkdir -p "$RUN/logs"
	for f in out err mailctld.log queue.json; do
		[ -s "$dir/$f" ] && cp "$dir/$f" "$RUN/logs/$tool-$rep.$f"
	done
	trash "$dir"
	return 0
}

# --- main -------------------------------------------------------------------

main()
{
	local rep tool bytes
	mkdir -p "$WORK" && chmod 755 "$WORK" || die "cannot create $WORK"
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	if [ "$SCENARIO" = drain ]; then
		CORPUS=$WORK/smtp-mails-$MAILS-$SIZE
	else
		CORPUS=$WORK/smtp-big-$ATTACH_BYTES
	fi
	python3 "$HERE/gen-smtp-mails.py" --out "$CORPUS" --mails "$MAILS" \
	    --size "$SIZE" --attach-bytes "$ATTACH_BYTES" \
	    --from "$SENDER@mail.test" --to "$RCPT@mail.test" ||
	    die "mail generation failed"
	bytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["eml_bytes"])' "$CORPUS.json")

	make_run smtp-run tool rep status seconds mails count rss_kb note extra

	# This run's own copy of the binaries (and of --base's): a rebuild
	# while it runs cannot mix two versions.
	mkdir -p "$RUN/bin"
	if [ -x "$BUILD/daemon/mailctld" ]; then
		cp "$BUILD/daemon/mailctld" "$BUILD/client/mailctl" "$RUN/bin/" ||
		    die "cannot copy the binaries"
	fi
	MAILCTLD=$RUN/bin/mailctld
	MAILCTL=$RUN/bin/mailctl
	base_copy

	say "starting Dovecot and Postfix"
	ms_setup "$MSD" >/dev/null || die "ms_setup failed"
	ms_add_user "$SENDER" "$SENDER_PASS" || die "ms_add_user failed"
	ms_add_user "$RCPT" "$RCPT_PASS" || die "ms_add_user failed"
	ms_start >/dev/null || die "Dovecot or Postfix did not start"
	if [ "$SCENARIO" = bigmsg ]; then
		postfix_allow_big || die "cannot raise Postfix's message_size_limit"
	fi
	warm_up || die "STARTTLS + AUTH to Postfix failed (warm-up)"

	{
		printf 'scenario\t%s\nmails\t%s\neml_bytes\t%s\n' "$SCENARIO" \
		    "$MAILS" "$bytes"
		printf 'attach_bytes\t%s\nmsmtp_mails\t%s\nparallel\t%s\n' \
		    "$ATTACH_BYTES" "$MSMTP_MAILS" "$PARALLEL"
		printf 'reps\t%s\ntools\t%s\ncorpus\t%s\n' "$REPS" "$TOOLS" "$CORPUS"
		printf 'date\t%s\nmachine\t%s cores, %s\n' \
		    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "$(uname -sr)"
		printf 'postfix\t%s\n' "$(postconf -d -h mail_version 2>/dev/null)"
		printf 'dovecot\t%s\n' "$(dovecot --version 2>/dev/null)"
		printf 'msmtp\t%s\n' "$(msmtp --version 2>/dev/null | head -n 1)"
		printf 'python\t%s\n' "$(python3 --version 2>&1)"
		printf 'mailctld\t%s\n' "$("$MAILCTLD" --version 2>/dev/null | head -n 1)"
		base_meta
		printf 'smtp_port\t%s\n' "$MS_SMTP_PORT"
	} >"$META"

	for rep in $(seq "$REPS"); do
		# Rotate the order: rep 1 a b c, rep 2 b c a, ...
		for tool in $(rotate "$TOOLS" "$rep"); do
			run_one "$tool" "$rep"
		done
	done

	cp "$RESULTS" "$WORK/last-smtp-$SCENARIO.tsv"
	python3 "$HERE/smtp-report.py" --results "$RESULTS" --meta "$META" \
	    ${JSON_OUT:+--json "$JSON_OUT"}
	for tool in $TOOLS; do
		[ -n "${BROKEN[$tool]:-}" ] &&
		    echo "$tool: not working: ${BROKEN[$tool]}"
	done
	return "$ANY_FAILED"
}

main
