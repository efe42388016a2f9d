#!/bin/bash
# imap-sync.sh — compare mailctld's IMAP sync with mbsync, getmail6,
# fetchmail, offlineimap3 and a raw floor, on the same real Dovecot mailbox
# in the same run.
#
# Usage (as root; bash bench/install-deps first):
#   bash bench/imap-sync.sh [--scenario fetch|noop|bigmsg]
#        [--messages N] [--total-mb M] [--reps R] [--tls none|implicit|both]
#        [--only TOOL,...] [--build DIR] [--base DIR] [--json FILE]
#        [--timeout S] [--keep]
#
# Scenarios (see bench/README.md):
#   fetch   (default) N=5000 messages of 2 KiB..1 MiB, ~200 MiB in all (the
#           corpus of pop3-fetch.sh); every run is a full first sync into a
#           fresh local Maildir.
#   noop    N=50000 messages of 1..2 KiB; each tool first syncs everything
#           once (not timed), then the timed syncs find nothing new.
#   bigmsg  one message of M=100 MiB; time and peak RSS (mailctld's is the
#           daemon's VmHWM).
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
# Inbox. With --base DIR, also base (in the default tools too): mailctld
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
KNOWN_TOOLS="raw rawlist mbsync getmail6 fetchmail offlineimap3 mailctld norules base"
LAST_PREFIX=imap-

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
	*) echo "raw mbsync getmail6 fetchmail offlineimap3 mailctld" ;;
	esac
}

fetch_opts "$@"
case " $TOOLS " in
*" rawlist "*) [ "$SCENARIO" = noop ] ||
	die "--only: rawlist is only for the noop scenario" ;;
esac
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
# a sync is all the daemon does.
mc_server_json()
{
	printf '"imap": {"host": "%s", "port": %s, "tls": "%s", "ca_file": "%s", "user": "%s", "password": "%s", "keep": true, "idle": false}' \
	    "$MS_HOST" "$(port_of "$2")" "$2" "$MS_CA_FILE" "$USER_NAME" \
	    "$USER_PASS"
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
}

# --- the tools (see fetchlib.sh for the contract) ---------------------------

tool_raw()
{
	local dir=$1 mode=$2 phase=$3
	raw_args "$mode"
	[ "$SCENARIO" = noop ] && RAW_ARGS+=(--state-file "$dir/state")
	run_raw raw-imap.py "$dir" "$phase" "${RAW_ARGS[@]}" ${RAW_LIST:+--list}
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

fetch_main
