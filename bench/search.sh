#!/bin/bash
# search.sh — full-text search beside notmuch, in one run (issue #20).
#
# Usage:
#   bash bench/search.sh [--messages N] [--rounds R] [--json FILE] [--keep]
#
#   --messages N  messages in the store (default 100000; bench/gen-store.py,
#                 one account, folders Inbox, Important, Work, Project, Spam)
#   --rounds R    timed rounds of the 20 queries (default 11), after one
#                 warm-up round
#   --json FILE   write every figure as JSON
#   --keep        keep the run directory (/var/tmp/mailctl-bench/search-run.*)
#
# Indexes the same Maildirs with `notmuch new` and with `mailctl reindex`
# from an empty index (time, peak memory, index size beside the Xapian
# database), then runs 20 queries (common and rare words, a phrase, a
# prefix, from:/to:/subject:/folder:/date:/is:unread, AND/OR/NOT, a
# non-ASCII word, an attachment name, combinations, one that matches
# nothing), alternating `notmuch search --limit=50` and `mailctl search
# --limit 50` as whole processes, and prints per-query medians and
# ratios. Targets: each query <= 0.5x notmuch and <= 10 ms, median <= 5
# ms; reindex <= 0.2x notmuch new. Needs notmuch (apt-get install
# notmuch) and a built tree (make). bench/search.py does the work.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH_NAME=search
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
MESSAGES=100000
ROUNDS=11
JSON_OUT=
KEEP=0
parse_opts "--messages:MESSAGES --rounds:ROUNDS --json:JSON_OUT --keep:KEEP=1" "$@"
is_uint "$MESSAGES" && [ "$MESSAGES" -ge 100 ] || die "--messages: expected an integer >= 100"
is_uint "$ROUNDS" && [ "$ROUNDS" -ge 1 ] || die "--rounds: expected a positive integer"
command -v notmuch >/dev/null || die "notmuch is missing (apt-get install notmuch)"
[ -x "$HERE/../daemon/mailctld" ] && [ -x "$HERE/../client/mailctl" ] ||
	die "not built: run make first"
SEARCH_BENCH_MESSAGES=$MESSAGES SEARCH_BENCH_ROUNDS=$ROUNDS \
SEARCH_BENCH_JSON=$JSON_OUT SEARCH_BENCH_KEEP=$KEEP \
	exec python3 "$HERE/search.py"
