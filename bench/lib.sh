# shellcheck shell=bash disable=SC2034  # (globals set for the drivers)
# lib.sh — helpers shared by the benchmark drivers (pop3-fetch.sh,
# imap-sync.sh, store.sh, smtp-send.sh; the first two also source
# fetchlib.sh). Source it after setting HERE (this directory) and
# BENCH_NAME (the prefix of the driver's messages):
#
#	BENCH_NAME=pop3-fetch
#	. "$HERE/lib.sh"
#
# Sourcing defines functions, and sets MC_STOP_S and MC_TERMS (see
# mc_stop), MC_PIDS, MC_DIR and MC_PID (see mc_drop). Some functions use
# the driver's globals: TIMEOUT (timed), RUN and KEEP (trash, cleanup),
# MSD (cleanup), MAILCTL (the mc_* helpers), R_STATUS, R_NOTE,
# ANY_FAILED and BROKEN (run_failed, mc_wait_up).

# Print the header comment of the driver (its usage) and exit with $1
# (default 0).
usage()
{
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
	exit "${1:-0}"
}

# A line on stderr.
log()
{
	echo "$*" >&2
}

# A line on stderr, prefixed with the driver's name.
say()
{
	log "$BENCH_NAME: $*"
}

# Say what went wrong and exit 2 (a usage or setup error).
die()
{
	say "$*"
	exit 2
}

# Parse the command line: $1 lists the options as OPTION:VAR (the option
# takes a value, as "OPTION V" or "OPTION=V", stored in VAR) or
# OPTION:VAR=VALUE (a flag that sets VAR to VALUE), then come the
# arguments. -h and --help print the usage; anything else is an error.
parse_opts()
{
	local specs=$1 spec found
	shift
	while [ $# -gt 0 ]; do
		case $1 in -h | --help) usage 0 ;; esac
		found=
		for spec in $specs; do
			case ${spec#*:} in
			*=*)
				[ "$1" = "${spec%%:*}" ] || continue
				eval "${spec#*:}"
				;;
			*)
				case $1 in
				"${spec%%:*}") eval "${spec#*:}=\${2:-}"; shift ;;
				"${spec%%:*}"=*) eval "${spec#*:}=\${1#*=}" ;;
				*) continue ;;
				esac
				;;
			esac
			found=1
			break
		done
		if [ -z "$found" ]; then
			say "unknown option $1"
			usage 2 >&2
		fi
		shift
	done
}

# Whether $1 is a whole number (digits only), or a number with an
# optional fraction.
is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }
is_num() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }

# Set TOOLS from --only's comma-separated list $1, each of which must be
# one of the tools in $2; when $1 is empty, TOOLS is $3.
select_tools()
{
	local t
	if [ -z "$1" ]; then
		TOOLS=$3
		return
	fi
	TOOLS=
	for t in ${1//,/ }; do
		case " $2 " in
		*" $t "*) TOOLS="$TOOLS $t" ;;
		*) die "--only: unknown tool $t (known: $2)" ;;
		esac
	done
	TOOLS=${TOOLS# }
}

# --base DIR: the tool "base" is mailctld and mailctl from that other built
# tree, run exactly as the tool "mailctld" (see as_base), to compare two
# builds in one run. When BASE is set, make it absolute and check that it
# holds both binaries; a "base" in TOOLS without --base is an error.
base_check()
{
	if [ -z "$BASE" ]; then
		case " $TOOLS " in
		*" base "*) die "--only: the tool base needs --base DIR" ;;
		esac
		return 0
	fi
	BASE=$(cd "$BASE" 2>/dev/null && pwd) || die "--base: no such directory"
	[ -x "$BASE/daemon/mailctld" ] && [ -x "$BASE/client/mailctl" ] ||
	    die "--base: no $BASE/daemon/mailctld or $BASE/client/mailctl (build that tree first)"
}

# The list of tools $1, with base at the end when --base is given (the
# default tools of a driver that has --base).
plus_base()
{
	echo "$1${BASE:+ base}"
}

# This run's own copy of the two binaries of tree $1, in $RUN/$2: a rebuild
# while the run goes on cannot mix two versions.
copy_bins()
{
	mkdir -p "$RUN/$2" &&
	    cp "$1/daemon/mailctld" "$1/client/mailctl" "$RUN/$2/" ||
	    die "cannot copy the binaries of $1"
}

# With --base: copy its binaries (copy_bins) into $RUN/bin-base and set
# BASE_MAILCTLD and BASE_MAILCTL to the copies.
base_copy()
{
	[ -n "$BASE" ] || return 0
	copy_bins "$BASE" bin-base
	BASE_MAILCTLD=$RUN/bin-base/mailctld
	BASE_MAILCTL=$RUN/bin-base/mailctl
}

# A tree for the meta file: its directory and, if it is a git checkout,
# its commit (git describe --always --dirty).
tree_desc()
{
	local c
	c=$(git -C "$1" describe --always --dirty 2>/dev/null)
	echo "$1${c:+ ($c)}"
}

# With --base, the meta lines that say which two builds were compared:
# base (its mailctld --version), mailctld_tree and base_tree.
base_meta()
{
	[ -n "$BASE" ] || return 0
	printf 'base\t%s\n' "$("$BASE_MAILCTLD" --version 2>/dev/null | head -n 1)"
	printf 'mailctld_tree\t%s\n' "$(tree_desc "$BUILD")"
	printf 'base_tree\t%s\n' "$(tree_desc "$BASE")"
}

# Run a driver's mailctld tool function and its arguments ("$@") with
# MAILCTLD and MAILCTL switched to the --base tree's copies: that is the
# tool "base". The switch is local to this call.
as_base()
{
	local MAILCTLD=$BASE_MAILCTLD MAILCTL=$BASE_MAILCTL
	"$@"
}

# The words of $1 rotated by repetition $2: rep 1 a b c, rep 2 b c a, ...
rotate()
{
	local n i order=
	n=$(echo "$1" | wc -w)
	for i in $(seq 0 $((n - 1))); do
		order="$order $(echo "$1" | cut -d' ' -f$(((i + $2 - 1) % n + 1)))"
	done
	echo "$order"
}

# A run of tool $2 (progress label $1) did not succeed: set ANY_FAILED,
# note a tool that is not working (R_STATUS broken) in BROKEN[$3], and
# say so.
run_failed()
{
	ANY_FAILED=1
	if [ "$R_STATUS" = broken ]; then
		BROKEN[$3]=$R_NOTE
		log "$1 $2: not working: $R_NOTE"
	else
		log "$1 $2: FAILED: $R_NOTE"
	fi
}

# Make this run's directory RUN ($WORK/$1.XXXXXX) and the mail servers'
# MSD, and in RUN the results file RESULTS, whose header line holds the
# other arguments, tab-separated, and the name of the META file.
make_run()
{
	local name=$1
	shift
	freed_wait
	RUN=$(mktemp -d "$WORK/$name.XXXXXX") || die "mktemp failed"
	MSD=$(mktemp -d "$WORK/ms.XXXXXX") || die "mktemp failed"
	RESULTS=$RUN/results.tsv
	META=$RUN/meta.tsv
	(IFS=$(printf '\t') && echo "$*") >"$RESULTS"
}

# At exit (EXIT trap): stop mailctld (mc_stop_all), the mail servers if
# the driver started them, and remove their directory $MSD; then remove
# $RUN, or say where it is with --keep.
cleanup()
{
	trap - EXIT INT TERM
	mc_stop_all
	if [ -n "${MS_DIR:-}" ] && declare -F ms_cleanup >/dev/null; then
		ms_cleanup
	fi
	[ -n "${MSD:-}" ] && rm -rf "$MSD"
	if [ -n "$RUN" ] && [ "$KEEP" = 0 ]; then
		rm -rf "$RUN"
	elif [ -n "$RUN" ]; then
		say "kept $RUN"
	fi
	touch "$WORK/.freed" 2>/dev/null
	return 0
}

# Wait until the files the last benchmark removed (the stamp $WORK/.freed,
# touched at its exit) were removed FREED_WAIT_S seconds ago (default 360;
# 0 waits not). On an ext4 without a journal (these VMs) every file
# creation steps one by one over the inodes freed in the last 60 s, or
# 360 s while their table block is not yet written back (the kernel's
# recently_deleted()): a run started right after another one's clean-up of
# 5,000 messages times that scan in every tool that writes files, and not
# in the raw floors. See trash() for the same within one run.
freed_wait()
{
	local age left
	[ -e "$WORK/.freed" ] || return 0
	age=$(( $(date +%s) - $(stat -c %Y "$WORK/.freed") ))
	left=$(( ${FREED_WAIT_S:-360} - age ))
	[ "$left" -gt 0 ] || return 0
	say "waiting ${left} s: the last benchmark freed its files ${age} s ago (FREED_WAIT_S=0 to skip; see freed_wait in bench/lib.sh)"
	sleep "$left"
}

# Number of message files in the Maildirs under $1 (any depth: mailctld
# keeps one Maildir per folder).
count_msgs()
{
	find "$1" -type f \( -path '*/new/*' -o -path '*/cur/*' \) 2>/dev/null |
	    wc -l
}

# Set a finished run's directory aside instead of deleting it: on an ext4
# without a journal (these VMs), inodes freed in the last minutes are
# skipped one by one by every later file creation (ext4's recently_deleted
# scan), so deleting 5,000 messages between runs would make the next tool's
# creates pay for the previous tool's deletes. Everything set aside goes
# with $RUN at exit.
trash()
{
	[ -e "$1" ] || return 0
	mkdir -p "$RUN/trash"
	mv "$1" "$RUN/trash/${1##*/}.$RANDOM$RANDOM"
}

# Run a command under timed.py: $1 = where timed.py writes "rc secs rss",
# $2 = stdout file, $3 = stderr file, then the command. Sets T_RC, T_SECS,
# T_RSS.
timed()
{
	local res=$1 out=$2 err=$3
	shift 3
	rm -f "$res"
	python3 "$HERE/timed.py" "$res" "$TIMEOUT" "$@" >"$out" 2>"$err"
	if [ -s "$res" ]; then
		read -r T_RC T_SECS T_RSS _ <"$res"
	else
		T_RC=125 T_SECS='' T_RSS=''
	fi
}

# First non-empty line of a file, tabs and newlines flattened, for notes.
first_line()
{
	grep -m1 -v '^[[:space:]]*$' "$1" 2>/dev/null | tr '\t' ' ' | cut -c1-200
}

# Stop the running mailctld, $MC_PID: SIGTERM, then SIGKILL after
# MC_STOP_S seconds. Clears MC_PID; MC_TERMS counts the SIGTERMs sent
# (store.sh tells them from others').
MC_STOP_S=10
MC_TERMS=0
mc_stop()
{
	[ -n "$MC_PID" ] || return 0
	MC_TERMS=$((MC_TERMS + 1))
	kill -TERM "$MC_PID" 2>/dev/null
	for _ in $(seq $((MC_STOP_S * 10))); do
		kill -0 "$MC_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$MC_PID" 2>/dev/null
	wait "$MC_PID" 2>/dev/null
	MC_PID=
}

# A driver that keeps several daemons running (one per tool and TLS mode,
# in fetchlib.sh's noop scenario) records each in MC_PIDS, by its
# directory, and selects one by setting MC_DIR and MC_PID.
declare -A MC_PIDS
MC_DIR= MC_PID=

# Stop the mailctld in use (mc_stop) and forget it (MC_PIDS).
mc_drop()
{
	[ -n "$MC_PID" ] || return 0
	mc_stop
	unset 'MC_PIDS[$MC_DIR]'
}

# Stop every mailctld still running: those of MC_PIDS, then MC_PID.
mc_stop_all()
{
	local d
	for d in "${!MC_PIDS[@]}"; do
		MC_DIR=$d MC_PID=${MC_PIDS[$d]}
		mc_drop
	done
	mc_stop
}

# Wait (at most 15 s) until `mailctl status` answers on socket $1 from the
# mailctld just started as MC_PID, whose output goes to $2. When it exits
# or does not answer, stop it, set R_NOTE and fail.
mc_wait_up()
{
	local sock=$1 mclog=$2
	for _ in $(seq 150); do
		if ! kill -0 "$MC_PID" 2>/dev/null; then
			wait "$MC_PID" 2>/dev/null
			MC_PID=
			R_NOTE="daemon exited at start: $(tail -n 1 "$mclog" | cut -c1-200)"
			return 1
		fi
		"$MAILCTL" --socket "$sock" status >/dev/null 2>&1 &&
		    return 0
		sleep 0.1
	done
	mc_stop
	R_NOTE="mailctl status got no answer within 15 s"
	return 1
}

# Field $1 (VmRSS, VmHWM, ...) of /proc/$MC_PID/status, in KiB.
mc_status_kb()
{
	awk -v f="$1:" '$1 == f { print $2 }' "/proc/$MC_PID/status" 2>/dev/null
}

# The peak RSS of mailctld $MC_PID so far (KiB).
mc_hwm()
{
	mc_status_kb VmHWM
}

# The CPU time mailctld $MC_PID has used so far, user and system, all its
# threads: utime + stime of /proc/PID/stat, in clock ticks (getconf
# CLK_TCK). The name, field 2, has no space in it ("(mailctld)").
mc_cpu_ticks()
{
	awk '{ print $14 + $15 }' "/proc/$MC_PID/stat" 2>/dev/null
}

# The run time of mailctld $MC_PID's threads so far, in ms to the
# microsecond (the sum of se.sum_exec_runtime of /proc/PID/task/*/sched):
# finer than the ticks, but only where the kernel has CONFIG_SCHED_DEBUG,
# and without threads that have ended. Empty when there is none.
mc_cpu_ms()
{
	cat "/proc/$MC_PID"/task/*/sched 2>/dev/null | awk '
	    $1 == "se.sum_exec_runtime" { s += $3; n++ }
	    END { if (n) printf "%.3f", s }'
}
