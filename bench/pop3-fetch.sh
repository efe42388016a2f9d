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
PROTO=pop3
KNOWN_TOOLS="raw mpop fetchmail mailctld norules fulllist base"

BENCH_NAME=pop3-fetch
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
# shellcheck source=bench/fetchlib.sh
. "$HERE/fetchlib.sh"
TOOL_CMD=([mpop]=mpop [fetchmail]=fetchmail)

# The tools of $SCENARIO when --only does not name them.
default_tools()
{
	case $SCENARIO in
	noop) echo "raw mpop mailctld fulllist" ;;
	*) echo "raw mpop fetchmail mailctld" ;;
	esac
}

fetch_opts "$@"
case " $TOOLS " in
*" fulllist "*) [ "$SCENARIO" = noop ] ||
	die "--only: fulllist is only for the noop scenario" ;;
esac

# Port for a TLS mode.
port_of()
{
	if [ "$1" = implicit ]; then echo "$MS_POP3S_PORT"; else echo "$MS_POP3_PORT"; fi
}

# mailctld's "pop3" server (fulllist: listing every UIDL at every poll).
mc_server_json()
{
	local pextra=
	[ -z "${MC_FULLLIST:-}" ] || pextra=', "quick_check": false'
	printf '"pop3": {"host": "%s", "port": %s, "tls": "%s", "ca_file": "%s", "user": "%s", "password": "%s", "keep": true%s}' \
	    "$MS_HOST" "$(port_of "$2")" "$2" "$MS_CA_FILE" "$USER_NAME" \
	    "$USER_PASS" "$pextra"
}

# One untimed pass of the raw client.
fetch_warm_up()
{
	local tlsargs=()
	[ "$1" = implicit ] && tlsargs=(--tls --ca-file "$MS_CA_FILE")
	python3 "$HERE/raw-pop3.py" --port "$(port_of "$1")" \
	    --user "$USER_NAME" --password "$USER_PASS" "${tlsargs[@]}" \
	    >/dev/null
}

# The meta lines of this driver.
fetch_meta()
{
	printf 'mpop\t%s\n' "$(mpop --version 2>/dev/null | head -n 1)"
	printf 'pop3_port\t%s\npop3s_port\t%s\n' "$MS_POP3_PORT" "$MS_POP3S_PORT"
}

# --- the tools (see fetchlib.sh for the contract) ---------------------------

tool_raw()
{
	local dir=$1 mode=$2 phase=$3 args
	args=(--port "$(port_of "$mode")" --user "$USER_NAME" --password "$USER_PASS")
	[ "$mode" = implicit ] && args+=(--tls --ca-file "$MS_CA_FILE")
	[ "$SCENARIO" = noop ] && args+=(--seen-file "$dir/seen")
	run_raw raw-pop3.py "$dir" "$phase" "${args[@]}"
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
	R_SECS=$T_SECS R_RSS=$T_RSS
	R_COUNT=$(count_msgs "$dir/maildir")
	judge_store "$dir/err"
}

tool_fetchmail()
{
	run_fetchmail "$@"
}

# mailctld listing the whole mailbox at every poll.
tool_fulllist()
{
	MC_FULLLIST=1 tool_mailctld "$@"
}

fetch_main
