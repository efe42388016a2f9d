#!/bin/bash
# store.sh — the mail store benchmark (issue #4): listing, folders and
# reindex with 100,000 messages in one account, and the per-message cost
# of filing and indexing at delivery (through pop3-fetch.sh).
#
# Usage:
#   bash bench/store.sh [--messages N] [--runs R] [--json-runs R]
#        [--reindex-runs R] [--build DIR] [--json FILE] [--cold]
#        [--no-fetch] [--fetch-reps R] [--fetch-tls none|implicit|both]
#        [--timeout S] [--keep]
#
#   --messages N    messages in the store (default 100000: 50,000 in Inbox,
#                   the rest in Important, Work, Project, Spam)
#   --runs R        timed runs of each short command (default 20)
#   --json-runs R   timed runs of `ls INBOX --json` (default 5)
#   --reindex-runs R  timed runs of the reindex with nothing changed
#                   (default 1; it runs last, see below)
#   --build DIR     tree with daemon/mailctld and client/mailctl (default:
#                   this checkout)
#   --json FILE     write every run and figure as JSON
#   --cold          drop the page cache (echo 3 > drop_caches, root) before
#                   the first reindex, so that it reads every file from disk
#   --no-fetch      skip the delivery measurement (pop3-fetch.sh; it is
#                   skipped anyway, with a note, unless run as root with
#                   Dovecot installed: bash bench/install-deps)
#   --fetch-reps R  pop3-fetch.sh --reps (default 3)
#   --fetch-tls T   pop3-fetch.sh --tls (default both)
#   --timeout S     kill one command after S seconds (default 3600); a
#                   killed run counts as BROKEN
#   --keep          keep the run directory
#
# Targets (100,000 messages): `mailctl ls --limit 50`, a whole process,
# median < 20 ms; `mailctl ls INBOX --json` (50,000 entries) median < 1 s;
# `mailctl reindex` from an empty index < 60 s. Also timed, without a
# target: reindex with nothing changed, `mailctl folders`,
# `mailctl ls --unread --limit 50`, the daemon's start with a full index,
# `mailctl ls --threads --limit 50` and `mailctl thread ID`.
# Order: reindex from empty (it builds the index), restart, ls, ls INBOX,
# folders, ls --unread, then the reindex with nothing changed (last, so
# that a run killed by --timeout, which leaves the daemon busy, spoils
# nothing else), then pop3-fetch.sh.
#
# The two binaries are copied into the run directory first (and
# pop3-fetch.sh gets that copy with --build), so a rebuild of the tree
# during the run does not mix versions.
#
# The store is generated once (bench/gen-store.py, seeded) into
# /var/tmp/mailctl-bench/store-N and hard-linked (cp -al) into a fresh
# data_dir for each run; nothing here writes into a message file (reindex
# and ls only read them). The run directory (data_dir, index, private
# socket) is /var/tmp/mailctl-bench/store-run.XXXXXX, removed at exit.
#
# Exit status: 0 when everything ran (whether or not the targets were
# met), 1 when something broke (daemon did not start, a command failed, a
# count was wrong), 2 on a usage or setup error.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
WORK=/var/tmp/mailctl-bench
ACCOUNT=alice

MESSAGES=100000
RUNS=20
JSON_RUNS=5
REINDEX_RUNS=1
BUILD=$TOP
JSON_OUT=
COLD=0
FETCH=1
FETCH_REPS=3
FETCH_TLS=both
TIMEOUT=3600
KEEP=0

BENCH_NAME=store
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

parse_opts "--messages:MESSAGES --runs:RUNS --json-runs:JSON_RUNS
    --reindex-runs:REINDEX_RUNS --build:BUILD --json:JSON_OUT --cold:COLD=1
    --no-fetch:FETCH=0 --fetch-reps:FETCH_REPS --fetch-tls:FETCH_TLS
    --timeout:TIMEOUT --keep:KEEP=1" "$@"

is_uint "$MESSAGES" && [ "$MESSAGES" -ge 10 ] ||
    die "--messages: expected an integer >= 10"
is_uint "$RUNS" && [ "$RUNS" -ge 1 ] || die "--runs: expected a positive integer"
is_uint "$JSON_RUNS" && [ "$JSON_RUNS" -ge 1 ] ||
    die "--json-runs: expected a positive integer"
is_uint "$REINDEX_RUNS" && [ "$REINDEX_RUNS" -ge 1 ] ||
    die "--reindex-runs: expected a positive integer"
is_uint "$FETCH_REPS" && [ "$FETCH_REPS" -ge 1 ] ||
    die "--fetch-reps: expected a positive integer"
is_uint "$TIMEOUT" && [ "$TIMEOUT" -ge 1 ] || die "--timeout: expected seconds"
case $FETCH_TLS in none | implicit | both) ;;
*) die "--fetch-tls: expected none, implicit or both" ;; esac
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || die "--build: no such directory"
[ -x "$BUILD/daemon/mailctld" ] && [ -x "$BUILD/client/mailctl" ] ||
    die "not built: no $BUILD/daemon/mailctld or $BUILD/client/mailctl (make, or --build DIR)"
MAILCTLD=       # the copies in the run directory
MAILCTL=
command -v python3 >/dev/null || die "python3 is missing"
if [ "$COLD" = 1 ] && [ "$(id -u)" != 0 ]; then
	die "--cold needs root (it writes /proc/sys/vm/drop_caches)"
fi

RUN=            # this run's directory: data_dir, config, socket, results
DATA=
SOCK=
CFG=
MC_PID=
MC_STOP_S=20    # mc_stop: SIGKILL after 20 s (SIGTERM lets a store job finish)
BROKE=0

# Note a fact for the report.
meta() { printf '%s\t%s\n' "$1" "$2" >>"$RUN/meta.tsv"; }

# Record the outcome of a check of measurement $1: ok|failed, note.
check()
{
	printf '%s\t%s\t%s\n' "$1" "$2" "$(printf '%s' "$3" | tr '\t\n' '  ')" \
	    >>"$RUN/checks.tsv"
	if [ "$2" != ok ]; then
		BROKE=1
		say "CHECK FAILED ($1): $3"
	fi
}

mc() { "$MAILCTL" --socket "$SOCK" "$@"; }

# Start mailctld; wait until `mailctl status` answers. Sets START_S, the
# seconds from the fork to the first answer (polled every 5 ms).
mc_start()
{
	local t0 t1
	t0=$(date +%s.%N)
	"$MAILCTLD" --config "$CFG" </dev/null >>"$RUN/mailctld.log" 2>&1 &
	MC_PID=$!
	for _ in $(seq 6000); do
		if ! kill -0 "$MC_PID" 2>/dev/null; then
			wait "$MC_PID" 2>/dev/null
			MC_PID=
			die "mailctld exited at start: $(tail -n 1 "$RUN/mailctld.log")"
		fi
		if mc status >/dev/null 2>&1; then
			t1=$(date +%s.%N)
			START_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
			return 0
		fi
		sleep 0.005
	done
	mc_stop
	die "mailctl status got no answer within 30 s"
}

# Why a call may have failed, as far as the daemon's state tells: gone,
# or stopped by a signal this script did not send (mailctld closes every
# connection at SIGTERM, then waits for the store's job in progress).
mc_why()
{
	local terms
	terms=$(grep -c 'SIGTERM: stopping' "$RUN/mailctld.log" 2>/dev/null)
	if [ "${terms:-0}" -gt "$MC_TERMS" ]; then
		printf '; mailctld got a SIGTERM from outside this benchmark during the call (mailctld.log)'
	fi
	if ! kill -0 "$MC_PID" 2>/dev/null || [ -z "$(mc_hwm)" ]; then
		printf '; mailctld is no longer running'
	fi
}

# timeit NAME LABEL TARGET|- RUNS WARMUP STDOUT COMMAND...: time a command
# with store-time.py into $RUN/m/NN-NAME.json; fails when a run failed.
SEQ=0
timeit()
{
	local name=$1 label=$2 target=$3 runs=$4 warm=$5 out=$6 stat=median
	shift 6
	SEQ=$((SEQ + 1))
	[ "$runs" = 1 ] && stat=single
	python3 "$HERE/store-time.py" --out "$RUN/m/$(printf %02d $SEQ)-$name.json" \
	    --name "$name" --label "$label" ${target:+--target "$target"} \
	    --stat "$stat" --runs "$runs" --warmup "$warm" --stdout "$out" \
	    --timeout "$TIMEOUT" -- "$@"
}

# A Python expression over the JSON document in file $1 (as j).
jq_py()
{
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

main()
{
	local corpus inbox t0 t1 got want
	mkdir -p "$WORK" && chmod 755 "$WORK" || die "cannot create $WORK"

	# --- the store, generated once --------------------------------------
	corpus=$WORK/store-$MESSAGES
	python3 "$HERE/gen-store.py" --out "$corpus" --messages "$MESSAGES" \
	    --account "$ACCOUNT" || die "store generation failed"
	inbox=$(jq_py "$corpus.json" 'j["folders"]["Inbox"]["total"]')
	is_uint "$inbox" || die "$corpus.json: no Inbox count"

	trap cleanup EXIT
	trap 'exit 130' INT TERM
	RUN=$(mktemp -d "$WORK/store-run.XXXXXX") || die "mktemp failed"
	DATA=$RUN/data
	SOCK=$RUN/s.sock
	CFG=$RUN/config.json
	mkdir -p "$RUN/m" "$DATA" "$RUN/build/daemon" "$RUN/build/client"
	cp "$BUILD/daemon/mailctld" "$RUN/build/daemon/" &&
	    cp "$BUILD/client/mailctl" "$RUN/build/client/" ||
	    die "cannot copy the binaries"
	MAILCTLD=$RUN/build/daemon/mailctld
	MAILCTL=$RUN/build/client/mailctl
	: >"$RUN/checks.tsv"
	: >"$RUN/meta.tsv"
	meta messages "$MESSAGES"
	meta account "$ACCOUNT"
	meta folders "$(jq_py "$corpus.json" '", ".join("%s %d" % (k, v["total"]) for k, v in j["folders"].items())')"
	meta corpus "$corpus"
	meta corpus_bytes "$(jq_py "$corpus.json" 'j["bytes"]')"
	meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	meta machine "$(nproc) cores, $(uname -sr)"
	meta mailctld "$("$MAILCTLD" --version 2>/dev/null | head -n 1)"

	# --- a fresh data_dir: hard links to the cached store ----------------
	say "linking the store into $DATA"
	t0=$(date +%s.%N)
	cp -al "$corpus/$ACCOUNT" "$DATA/$ACCOUNT" || die "cp -al failed"
	t1=$(date +%s.%N)
	meta copy_s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
	cat >"$CFG" <<-EOF
	{
	  "data_dir": "$DATA",
	  "socket": "$SOCK",
	  "poll_at_start": false,
	  "accounts": [
	    {"name": "$ACCOUNT", "email": "$ACCOUNT@example.test",
	     "smtp": {"host": "127.0.0.1", "port": 9}}
	  ]
	}
	EOF
	chmod 600 "$CFG"

	# --- 3. reindex from an empty index ----------------------------------
	# The daemon starts on a data_dir with no index (it creates an empty
	# one); the seen table goes with the index, which is fine here.
	rm -f "$DATA"/index.sqlite*
	mc_start
	if [ "$COLD" = 1 ]; then
		sync
		echo 3 >/proc/sys/vm/drop_caches
		meta cold_cache "yes (page cache dropped before the first reindex)"
	else
		meta cold_cache "no (files as the page cache has them)"
	fi
	say "reindex of $MESSAGES messages from an empty index"
	timeit reindex "reindex, empty index ($MESSAGES msgs)" 60 1 0 \
	    "$RUN/reindex.out" "$MAILCTL" --socket "$SOCK" reindex --json ||
	    BROKE=1
	got=$(jq_py "$RUN/reindex.out" 'j["added"]')
	if [ "$got" = "$MESSAGES" ]; then
		check reindex ok "added=$got"
	else
		check reindex failed "reindex reported added=${got:-?}, expected $MESSAGES$(mc_why)"
	fi
	meta daemon_rss_after_reindex_kb "$(mc_hwm)"

	# A restart: how long the daemon takes to answer with a full index
	# (and the measurements below run on a daemon that only did that).
	mc_stop
	mc_start
	printf '{"name": "start", "label": "mailctld start, full index (to 1st answer)", "target_s": null, "stat": "single", "cmd": ["mailctld"], "runs": [%s], "rcs": [0], "ok_runs": 1}\n' \
	    "$START_S" >"$RUN/m/90-start.json"

	# --- 1. ls --limit 50 ------------------------------------------------
	timeit ls50 "ls --limit 50 (whole process)" 0.020 "$RUNS" 2 /dev/null \
	    "$MAILCTL" --socket "$SOCK" ls --limit 50 || BROKE=1
	mc ls --limit 50 --json >"$RUN/ls50.json" 2>&1
	got=$(jq_py "$RUN/ls50.json" 'len(j)')
	if [ "$got" = 50 ]; then
		check ls50 ok ""
	else
		check ls50 failed "ls --limit 50 --json gave ${got:-no} entries: $(head -c 200 "$RUN/ls50.json")"
	fi

	# --- 2. ls INBOX --json, every entry ---------------------------------
	mc ls INBOX --json >"$RUN/inbox.json" 2>"$RUN/inbox.err"
	got=$(jq_py "$RUN/inbox.json" 'len(j) if all(e["folder"] == "Inbox" and "id" in e and "from" in e and "subject" in e and "date" in e for e in j) else "bad"')
	if [ "$got" = "$inbox" ]; then
		check lsinbox ok "$got entries, every one in Inbox"
	else
		check lsinbox failed "ls INBOX --json gave ${got:-no} entries, expected $inbox: $(head -c 200 "$RUN/inbox.err")"
	fi
	meta inbox_json_bytes "$(stat -c %s "$RUN/inbox.json")"
	rm -f "$RUN/inbox.json"
	timeit lsinbox "ls INBOX --json ($inbox entries)" 1 "$JSON_RUNS" 1 \
	    /dev/null "$MAILCTL" --socket "$SOCK" ls INBOX --json || BROKE=1

	# --- 4. folders and ls --unread --------------------------------------
	timeit folders "folders" "" "$RUNS" 2 /dev/null \
	    "$MAILCTL" --socket "$SOCK" folders || BROKE=1
	mc folders --json >"$RUN/folders.json" 2>&1
	got=$(jq_py "$RUN/folders.json" 'sum(e["total"] for e in j if e["account"] == "'"$ACCOUNT"'")')
	want=$(jq_py "$corpus.json" 'sum(v["total"] for v in j["folders"].values())')
	if [ -n "$got" ] && [ "$got" = "$want" ]; then
		check folders ok "$got messages in all"
	else
		check folders failed "folders --json counts ${got:-?} messages, expected $want"
	fi
	timeit lsunread "ls --unread --limit 50" "" "$RUNS" 2 /dev/null \
	    "$MAILCTL" --socket "$SOCK" ls --unread --limit 50 || BROKE=1
	mc ls --unread --limit 50 --json >"$RUN/unread.json" 2>&1
	got=$(jq_py "$RUN/unread.json" 'len(j) if not any(e["read"] for e in j) else "read ones"')
	if [ "$got" = 50 ]; then
		check lsunread ok ""
	else
		check lsunread failed "ls --unread --limit 50 --json: ${got:-no} entries"
	fi

	# Conversations (issue #20), without a target: ls --threads, and
	# the thread of the newest unread message.
	timeit lsthreads "ls --threads --limit 50" "" "$RUNS" 2 /dev/null \
	    "$MAILCTL" --socket "$SOCK" ls --threads --limit 50 || BROKE=1
	timeit thread "thread ID" "" "$RUNS" 2 /dev/null "$MAILCTL" \
	    --socket "$SOCK" thread "$(jq_py "$RUN/unread.json" 'j[0]["id"]')" ||
	    BROKE=1

	# The floor of any whole-process figure here: spawning a trivial C
	# program the same way.
	timeit floor "/bin/true (spawn floor)" "" "$RUNS" 2 /dev/null /bin/true

	# --- 4. reindex with nothing changed (last: see the header) ---------
	timeit reindex_inc "reindex, nothing changed" "" "$REINDEX_RUNS" 0 \
	    "$RUN/reindex2.out" "$MAILCTL" --socket "$SOCK" reindex --json ||
	    BROKE=1
	got=$(jq_py "$RUN/reindex2.out" '"%d %d %d" % (j["added"], j["removed"], j["updated"])')
	if [ "$got" = "0 0 0" ]; then
		check reindex_inc ok ""
	else
		check reindex_inc failed "added/removed/updated: ${got:-?} (expected 0 0 0)$(mc_why)"
	fi

	meta daemon_rss_end_kb "$(mc_hwm)"
	mc_stop
	meta index_bytes "$(du -cb "$DATA"/index.sqlite* 2>/dev/null | tail -n 1 | cut -f1)"

	# --- delivery: filing and indexing cost per message ------------------
	case :$PATH: in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac
	if [ "$FETCH" = 1 ] && { [ "$(id -u)" != 0 ] ||
	    ! command -v dovecot >/dev/null; }; then
		say "delivery: skipped (pop3-fetch.sh needs root and Dovecot: bash bench/install-deps)"
		meta fetch "skipped: needs root and Dovecot (bash bench/install-deps)"
		FETCH=0
	fi
	if [ "$FETCH" = 1 ]; then
		say "delivery: bash bench/pop3-fetch.sh --scenario fetch --only raw,mpop,mailctld"
		bash "$HERE/pop3-fetch.sh" --scenario fetch \
		    --only raw,mpop,mailctld \
		    --reps "$FETCH_REPS" --tls "$FETCH_TLS" --build "$RUN/build" \
		    --timeout "$TIMEOUT" --json "$RUN/fetch.json" \
		    2>&1 | tee "$RUN/fetch.log" >&2
		echo "${PIPESTATUS[0]}" >"$RUN/fetch.rc"
	fi

	python3 "$HERE/store-report.py" --dir "$RUN" \
	    ${JSON_OUT:+--json "$JSON_OUT"} || BROKE=1
	return "$BROKE"
}

main
