#!/bin/bash
# imap-sync.sh — compare mailctld's IMAP sync with mbsync, getmail6,
# fetchmail, offlineimap3 and a raw floor, on the same real Dovecot mailbox
# in the same run.
#
# Usage (as root; bash bench/install-deps first):
#   bash bench/imap-sync.sh [--scenario fetch|noop|bigmsg|push|idle10]
#        [--messages N] [--total-mb M] [--reps R] [--tls none|implicit|both]
#        [--only TOOL,...] [--build DIR] [--base DIR] [--json FILE]
#        [--timeout S] [--keep] [--mails N] [--interval S] [--accounts A]
#        [--window S]
#
# Scenarios (see bench/README.md):
#   fetch   (default) N=5000 messages of 2 KiB..1 MiB, ~200 MiB in all (the
#           corpus of pop3-fetch.sh); every run is a full first sync into a
#           fresh local Maildir.
#   noop    N=50000 messages of 1..2 KiB; each tool first syncs everything
#           once (not timed), then the timed syncs find nothing new.
#   bigmsg  one message of M=100 MiB; time and peak RSS (mailctld's is the
#           daemon's VmHWM).
#   push    push latency: --mails N=100 mails sent through Postfix one at a
#           time (--interval 0.6 s after the previous one was seen) to the
#           user whose INBOX (N=20 small messages) both mailctld (idle
#           true, `mailctl watch --json`) and the floor (floor: an imaplib
#           client in IDLE, a second login) watch at once; latency from
#           the return of sendmail() to new_mail / EXISTS
#           (bench/push-latency.py). mbsync has no push. --reps batches.
#   idle10  --accounts A=10 IMAP accounts (A users, N=20 small messages
#           each) watched by one mailctld (idle true): once every INBOX is
#           in IDLE, the daemon's VmRSS and its CPU ticks over --window
#           S=60 s, with idle_renew at its default (300 s: no renewal in
#           the window), then again with "idle_renew": 10.
#           Only mailctld runs; no --base in push and idle10.
# Tools: raw (bench/raw-imap.py: LOGIN, EXAMINE, one UID FETCH 1:*
# BODY.PEEK[], everything read and thrown away: the floor), mbsync (isync,
# Sync Pull into a Maildir, its default FSync), getmail6 (Maildir
# destination), fetchmail (proto imap, the Maildir-writing MDA of
# pop3-fetch.sh), offlineimap3 (one-shot -o, Maildir local repository) and
# mailctld; by default all six, but in noop only raw, rawlist, mbsync and
# mailctld: getmail6, fetchmail and offlineimap3 fetch 50,000 messages one
# by one (minutes for the untimed first sync), so they run there only when
# named in --only. rawlist (noop only) is raw listing every UID (UID FETCH
# 1:* (UID)) instead of comparing UIDNEXT, as mailctld does at every sync;
# norules (not in noop) is mailctld with "filters": [], everything into the
# Inbox. rawdisk (fetch, only when named in --only) is raw that also
# writes each message into its own file of a Maildir's tmp/, then one
# syncfs, the renames into new/ and a flush of the directories: the floor
# of a client that keeps its mail on disk. With --base DIR, also base (in the default tools too): mailctld
# and mailctl from that other built tree, run exactly as mailctld, so that
# mailctld / base is the ratio of two builds measured in the same run.
#
# The mailbox is served by a real Dovecot started through
# tests/servers/mailservers.sh, on plain IMAP (no STARTTLS) and IMAPS
# (--tls both). The corpus is generated once (deterministic, seeded) into
# /var/tmp/mailctl-bench/corpus-*; every run's files live under
# /var/tmp/mailctl-bench (disk, not tmpfs) and are removed on exit (EXIT
# trap), with Dovecot stopped.
#
# Tools alternate within each repetition (the order rotates from one
# repetition to the next), local state is wiped and `sync` run (not timed)
# before each timed run, so disk write-back of one run does not land in the
# next. Every tool leaves the mailbox as it was (EXAMINE, BODY.PEEK, a
# read-only remote; fetchmail's \Seen flags are taken away again, untimed).
# Each tool's count of messages written is checked against the mailbox; a
# tool that fails is reported (FAILED / not working) and the others go on.
#
# Exit status: 0 when every measured run of every tool succeeded, 1 when
# some tool failed or is not working, 2 on a usage or setup error.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
PROTO=imap
KNOWN_TOOLS="raw rawdisk rawlist mbsync getmail6 fetchmail offlineimap3 mailctld norules base floor"
LAST_PREFIX=imap-
# push and idle10 (see below): their own options.
DRIVER_SCENARIOS="push idle10"
DRIVER_OPTS="--mails:MAILS --interval:INTERVAL --accounts:ACCOUNTS --window:WINDOW"
MAILS=100
INTERVAL=0.6
ACCOUNTS=10
WINDOW=60

BENCH_NAME=imap-sync
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
# shellcheck source=bench/fetchlib.sh
. "$HERE/fetchlib.sh"
TOOL_CMD=([mbsync]=mbsync [getmail6]=getmail [fetchmail]=fetchmail
    [offlineimap3]=offlineimap)

# The tools of $SCENARIO when --only does not name them.
default_tools()
{
	case $SCENARIO in
	noop) echo "raw rawlist mbsync mailctld" ;;
	push) echo "floor mailctld" ;;
	idle10) echo "mailctld" ;;
	*) echo "raw mbsync getmail6 fetchmail offlineimap3 mailctld" ;;
	esac
}

# push and idle10: a mailbox of small messages, one batch or window pair
# by default.
scenario_opts_push()
{
	: "${MESSAGES:=20}" "${REPS:=1}"
	small_mailbox
	[ -z "$BASE" ] || die "--base: not for the $SCENARIO scenario"
	is_uint "$MAILS" && [ "$MAILS" -ge 1 ] ||
	    die "--mails: expected a positive integer"
	is_num "$INTERVAL" || die "--interval: expected seconds"
}

scenario_opts_idle10()
{
	scenario_opts_push
	is_uint "$ACCOUNTS" && [ "$ACCOUNTS" -ge 1 ] ||
	    die "--accounts: expected a positive integer"
	is_uint "$WINDOW" && [ "$WINDOW" -ge 1 ] ||
	    die "--window: expected seconds"
	# The users: USER_NAME, then USER_NAME2, USER_NAME3, ...
	IDLE_USERS="$USER_NAME $(seq -f "$USER_NAME%g" 2 "$ACCOUNTS" | paste -sd' ')"
}

fetch_opts "$@"
case " $TOOLS " in
*" rawlist "*) [ "$SCENARIO" = noop ] ||
	die "--only: rawlist is only for the noop scenario" ;;
esac
for t in $TOOLS; do
	case $SCENARIO:$t in
	push:floor | push:mailctld | idle10:mailctld) ;;
	push:* | idle10:*) die "--only: $t does not run in $SCENARIO" ;;
	*:floor) die "--only: floor is only for the push scenario" ;;
	esac
done
# fetchmail remembers what it fetched over IMAP by setting \Seen on the
# server. In noop it keeps those flags (see tool_fetchmail), so it makes
# its first sync before any other tool's: the others then find the same
# flags at every sync.
case " $TOOLS " in
*" fetchmail "*) [ "$SCENARIO" != noop ] ||
	TOOLS="fetchmail $(echo " $TOOLS " | sed 's/ fetchmail / /; s/^ //; s/ $//')" ;;
esac

# Port for a TLS mode.
port_of()
{
	if [ "$1" = implicit ]; then echo "$MS_IMAPS_PORT"; else echo "$MS_IMAP_PORT"; fi
}

# mailctld's "imap" server: INBOX, kept on the server; no IDLE, so that
# a sync is all the daemon does, unless MC_IDLE says otherwise (push,
# idle10: true, and what follows it in the block, as "idle_renew").
mc_server_json()
{
	printf '"imap": {"host": "%s", "port": %s, "tls": "%s", "ca_file": "%s", "user": "%s", "password": "%s", "keep": true, "idle": %s}' \
	    "$MS_HOST" "$(port_of "$2")" "$2" "$MS_CA_FILE" "$USER_NAME" \
	    "$USER_PASS" "${MC_IDLE:-false}"
}

# The raw client's arguments for TLS mode $1.
raw_args()
{
	RAW_ARGS=(--port "$(port_of "$1")" --user "$USER_NAME" --password "$USER_PASS")
	[ "$1" = implicit ] && RAW_ARGS+=(--tls --ca-file "$MS_CA_FILE")
}

# One untimed pass of the raw client.
fetch_warm_up()
{
	raw_args "$1"
	python3 "$HERE/raw-imap.py" "${RAW_ARGS[@]}" >/dev/null
}

# The meta lines of this driver.
fetch_meta()
{
	printf 'mbsync\t%s\n' "$(mbsync --version 2>/dev/null | head -n 1)"
	printf 'getmail6\t%s\n' "$(getmail --version 2>/dev/null | head -n 1)"
	printf 'offlineimap3\t%s\n' "$(offlineimap --version 2>/dev/null | head -n 1)"
	printf 'imap_port\t%s\nimaps_port\t%s\n' "$MS_IMAP_PORT" "$MS_IMAPS_PORT"
	case $SCENARIO in
	push) printf 'mails\t%s\ninterval_s\t%s\n' "$MAILS" "$INTERVAL" ;;
	idle10) printf 'accounts\t%s\nwindow_s\t%s\nclk_tck\t%s\n' \
	    "$ACCOUNTS" "$WINDOW" "$(getconf CLK_TCK)" ;;
	esac
}

# --- the tools (see fetchlib.sh for the contract) ---------------------------

tool_raw()
{
	local dir=$1 mode=$2 phase=$3
	raw_args "$mode"
	[ "$SCENARIO" = noop ] && RAW_ARGS+=(--state-file "$dir/state")
	run_raw raw-imap.py "$dir" "$phase" "${RAW_ARGS[@]}" ${RAW_LIST:+--list}
}

# raw that also writes each message into a Maildir and flushes them
# (raw-imap.py --maildir): the floor of any client that keeps mail.
tool_rawdisk()
{
	local dir=$1 mode=$2 phase=$3
	raw_args "$mode"
	run_raw raw-imap.py "$dir" "$phase" "${RAW_ARGS[@]}" --maildir "$dir/md"
	if [ "$R_STATUS" = ok ] && [ "$(count_msgs "$dir/md")" != "$R_COUNT" ]; then
		R_STATUS=failed R_NOTE="$(count_msgs "$dir/md") files in its Maildir, fetched $R_COUNT"
	fi
}

# raw listing every UID at every sync (noop).
tool_rawlist()
{
	RAW_LIST=1 tool_raw "$@"
}

tool_mbsync()
{
	local dir=$1 mode=$2 phase=$3 ssl=None
	[ "$mode" = implicit ] && ssl=IMAPS
	[ -d "$dir/maildir" ] || new_maildir "$dir/maildir"
	mkdir -p "$dir/state" "$dir/home"
	# Host localhost: mbsync matches the certificate's DNS names only,
	# not its IP address (localhost's ::1 is refused, then 127.0.0.1).
	(umask 077 && cat >"$dir/mbsyncrc") <<-EOF
	IMAPAccount bench
	Host localhost
	Port $(port_of "$mode")
	User $USER_NAME
	Pass $USER_PASS
	SSLType $ssl
	CertificateFile $MS_CA_FILE
	SystemCertificates no

	IMAPStore remote
	Account bench

	MaildirStore local
	Path $dir/maildir/
	Inbox $dir/maildir/

	Channel bench
	Far :remote:
	Near :local:
	Sync Pull
	Create Near
	SyncState $dir/state/
	EOF
	timed "$dir/time" "$dir/out" "$dir/err" \
	    env HOME="$dir/home" mbsync -q -c "$dir/mbsyncrc" bench
	R_SECS=$T_SECS R_RSS=$T_RSS
	R_COUNT=$(count_msgs "$dir/maildir")
	judge_store "$dir/err"
}

tool_getmail6()
{
	local dir=$1 mode=$2 phase=$3 type=SimpleIMAPRetriever ca=
	if [ "$mode" = implicit ]; then
		type=SimpleIMAPSSLRetriever ca="ca_certs = $MS_CA_FILE"
	fi
	[ -d "$dir/maildir" ] || new_maildir "$dir/maildir"
	mkdir -p "$dir/gm"
	# getmail refuses to deliver as root: its delivery child (one per
	# message) runs as the mail user, who must reach the Maildir.
	chmod 711 "$RUN"
	chown -R "$MS_VMAIL_USER:" "$dir/maildir"
	# read_all = false: only what this getmaildir has not seen (noop);
	# use_peek (the default) leaves \Seen alone.
	(umask 077 && cat >"$dir/getmailrc") <<-EOF
	[retriever]
	type = $type
	server = $MS_HOST
	port = $(port_of "$mode")
	username = $USER_NAME
	password = $USER_PASS
	mailboxes = ("INBOX",)
	$ca

	[destination]
	type = Maildir
	path = $dir/maildir/
	user = $MS_VMAIL_USER

	[options]
	verbose = 0
	read_all = false
	delete = false
	message_log_syslog = false
	EOF
	# getmail-run.py: getmail without the lost-SIGCHLD hang of this
	# version (see there), run by getmail's own Python.
	timed "$dir/time" "$dir/out" "$dir/err" \
	    "$(sed -n '1s/^#! *//p' "$(command -v getmail)")" \
	    "$HERE/getmail-run.py" --rcfile "$dir/getmailrc" \
	    --getmaildir "$dir/gm"
	R_SECS=$T_SECS R_RSS=$T_RSS
	R_COUNT=$(count_msgs "$dir/maildir")
	judge_store "$dir/err"
}

# Take \Seen away from every message of the mailbox (untimed).
unseen_all()
{
	ms_doveadm "$USER_NAME" flags remove '\Seen' mailbox INBOX all
}

# fetchmail sets \Seen on every message it fetched (its memory over IMAP,
# even with fetchall): taken away again, untimed, outside noop, so that the
# next tool finds the mailbox as it was.
tool_fetchmail()
{
	# noop: its first sync in a TLS mode starts from no \Seen at all (the
	# other mode's left them), and the timed ones keep what it set.
	[ "$3" != warm ] || unseen_all
	run_fetchmail "$@"
	[ "$SCENARIO" = noop ] || unseen_all ||
	    R_STATUS=broken R_NOTE="doveadm could not take \Seen away again"
}

tool_offlineimap3()
{
	local dir=$1 mode=$2 phase=$3 ssl=no
	[ "$mode" = implicit ] && ssl=yes
	mkdir -p "$dir/maildir" "$dir/meta"
	# readonly: never a flag written to the server. Host localhost for
	# the certificate's name, as for mbsync.
	(umask 077 && cat >"$dir/offlineimaprc") <<-EOF
	[general]
	accounts = bench
	metadata = $dir/meta
	maxsyncaccounts = 1

	[Account bench]
	localrepository = local
	remoterepository = remote

	[Repository local]
	type = Maildir
	localfolders = $dir/maildir

	[Repository remote]
	type = IMAP
	remotehost = localhost
	remoteport = $(port_of "$mode")
	remoteuser = $USER_NAME
	remotepass = $USER_PASS
	ssl = $ssl
	starttls = no
	sslcacertfile = $MS_CA_FILE
	readonly = True
	folderfilter = lambda folder: folder == 'INBOX'
	EOF
	timed "$dir/time" "$dir/out" "$dir/err" \
	    env HOME="$dir/home" offlineimap -c "$dir/offlineimaprc" -o -u quiet
	R_SECS=$T_SECS R_RSS=$T_RSS
	R_COUNT=$(count_msgs "$dir/maildir")
	judge_store "$dir/err"
}

# --- push and idle10 ---------------------------------------------------------

# "IDLE RENEWED RECONNECTS" of the daemon on socket $1: how many of its
# folder watches are in IDLE, have renewed their IDLE at least once, and
# the reconnects of all of them (`mailctl status --json`).
mc_watches()
{
	"$MAILCTL" --socket "$1" status --json 2>/dev/null | python3 -c '
import json, sys
w = [w for a in json.load(sys.stdin)["accounts"]
     for w in (a.get("poll") or {}).get("watch") or []]
print(sum(x["state"] == "idle" for x in w),
      sum(x.get("last_renewal") is not None for x in w),
      sum(x.get("reconnects", 0) for x in w))' 2>/dev/null || echo 0 0 0
}

# Wait (at most 30 s) until $2 folder watches of the daemon on socket $1
# are in IDLE; otherwise set R_NOTE and fail.
mc_wait_idle()
{
	local n
	for _ in $(seq 300); do
		read -r n _ <<<"$(mc_watches "$1")"
		[ "$n" -ge "$2" ] && return 0
		sleep 0.1
	done
	R_NOTE="$n of $2 watches in IDLE after 30 s"
	return 1
}

# Start mailctld for DIR and MODE on the users MC_USERS with IDLE, the
# rest of its imap block MC_IDLE; its first fetch starts the watches; wait
# until all are in IDLE. On failure set R_STATUS broken and R_NOTE.
mc_start_idle()
{
	local dir=$1 mode=$2 users=${MC_USERS:-$USER_NAME}
	R_STATUS=broken
	MC_IDLE="true${MC_IDLE:-}" mc_start "$dir" "$mode" || return 1
	if ! "$MAILCTL" --socket "$dir/s.sock" fetch --json >"$dir/fetch.out" \
	    2>"$dir/err"; then
		R_NOTE="fetch: $(first_line "$dir/err")"
		return 1
	fi
	mc_wait_idle "$dir/s.sock" "$(echo "$users" | wc -w)" || return 1
	R_STATUS=ok
}

# push in TLS mode $1: for each repetition, mailctld (a fresh data_dir) and
# the floor watch the INBOX while push-latency.py sends the mails and
# writes one result line per mail and watcher.
run_push()
{
	local mode=$1 dir=$RUN/$1-push rep args
	ms_start_postfix >/dev/null || die "Postfix did not start"
	for rep in $(seq "$REPS"); do
		trash "$dir"
		mkdir -p "$dir"
		raw_args "$mode"
		args=("${RAW_ARGS[@]}")
		case " $TOOLS " in *" floor "*) ;; *) args+=(--no-floor) ;; esac
		case " $TOOLS " in
		*" mailctld "*)
			if ! mc_start_idle "$dir" "$mode"; then
				result_row "$mode" mailctld rep "$rep"
				run_failed "[$mode push $rep/$REPS]" mailctld "$mode mailctld"
				mc_drop
				keep_logs "$dir" "$mode-push$rep"
				continue
			fi
			args+=(--mailctl "$MAILCTL" --socket "$dir/s.sock"
			    --account "$USER_NAME" --daemon-pid "$MC_PID") ;;
		esac
		python3 "$HERE/push-latency.py" "${args[@]}" \
		    --smtp-port "$MS_SMTP_PLAIN_PORT" --mails "$MAILS" \
		    --interval "$INTERVAL" --results "$RESULTS" --mode "$mode" \
		    --rep "$rep" >"$dir/out" 2>"$dir/err" ||
		    { ANY_FAILED=1; log "[$mode push $rep/$REPS] FAILED: $(first_line "$dir/err")"; }
		log "[$mode push $rep/$REPS] $(first_line "$dir/out")"
		mc_drop
		keep_logs "$dir" "$mode-push$rep"
	done
}

# Users and mailboxes of idle10: the users after USER_NAME, each with the
# corpus $1 in its INBOX.
prepare_idle10()
{
	local u
	for u in ${IDLE_USERS#"$USER_NAME"}; do
		ms_add_user "$u" "$USER_PASS" && ms_inject_dir "$u" "$1" || return 1
	done
}

# idle10 in TLS mode $1: each repetition, one window with idle_renew at its
# default, one with 10 s.
run_idle10()
{
	local mode=$1 rep renew
	for rep in $(seq "$REPS"); do
		for renew in 300 10; do
			idle_window "$mode" "$rep" "$renew"
		done
	done
}

# One window: mailctld watching every user's INBOX (idle_renew $3; 300 is
# left out, the default), all in IDLE; its VmRSS, then its CPU ticks over
# WINDOW seconds. The result line: seconds = CPU seconds in the window,
# count = watches still in IDLE at its end, rss_kb = VmRSS at its start,
# note = "ticks= wall_s= rss_end_kb= hwm_kb= renewed= reconnects=
# [run_ms=]" (run_ms: see mc_cpu_ms).
idle_window()
{
	local mode=$1 rep=$2 renew=$3 dir=$RUN/$1-renew$3 extra='' c0 c1 t0 t1 m0 m1
	local rss idle renewed reconnects
	trash "$dir"
	mkdir -p "$dir"
	R_SECS='' R_COUNT='' R_RSS='' R_NOTE=''
	[ "$renew" = 300 ] || extra=", \"idle_renew\": $renew"
	if MC_USERS=$IDLE_USERS MC_IDLE=$extra mc_start_idle "$dir" "$mode"; then
		R_RSS=$(mc_status_kb VmRSS)
		c0=$(mc_cpu_ticks) m0=$(mc_cpu_ms) t0=$(date +%s.%N)
		sleep "$WINDOW"
		c1=$(mc_cpu_ticks) m1=$(mc_cpu_ms) t1=$(date +%s.%N)
		rss=$(mc_status_kb VmRSS)
		read -r idle renewed reconnects <<<"$(mc_watches "$dir/s.sock")"
		R_COUNT=$idle
		R_SECS=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
		    'BEGIN { printf "%.3f", t / hz }')
		R_NOTE="ticks=$((c1 - c0)) wall_s=$(awk -v a="$t0" -v b="$t1" \
		    'BEGIN { printf "%.3f", b - a }') rss_end_kb=$rss hwm_kb=$(mc_hwm) renewed=$renewed reconnects=$reconnects"
		[ -z "$m0" ] || [ -z "$m1" ] || R_NOTE+=" run_ms=$(awk -v a="$m0" \
		    -v b="$m1" 'BEGIN { printf "%.3f", b - a }')"
		if [ "$idle" != "$ACCOUNTS" ]; then
			R_STATUS=failed
			R_NOTE="$idle of $ACCOUNTS watches in IDLE at the end; $R_NOTE"
		fi
	fi
	mc_drop
	result_row "$mode" mailctld "renew$renew" "$rep"
	case $R_STATUS in
	ok) log "[$mode idle_renew $renew $rep/$REPS] VmRSS $R_RSS KiB, $R_NOTE" ;;
	*) run_failed "[$mode idle_renew $renew $rep/$REPS]" mailctld "$mode renew$renew" ;;
	esac
	keep_logs "$dir" "$mode-renew$renew-$rep"
}

fetch_main
