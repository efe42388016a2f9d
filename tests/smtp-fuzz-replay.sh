#!/bin/bash
# Replay the SMTP wire-format corpus (fuzz/corpus/smtp-reply/*) through the
# fuzz target built with the plain driver, as tests/fuzz-replay.sh does for
# the other targets.
. "$(dirname "$0")/lib.sh"
files=("$top_srcdir/fuzz/corpus/smtp-reply"/*)
"$top_builddir/fuzz/replay-smtp-reply" "${files[@]}" >"$T/out" 2>&1 && rc=0 || rc=$?
check "fuzz target smtp-reply survives its ${#files[@]} corpus files" test $rc -eq 0
check "fuzz target smtp-reply ran every file" test "$(grep -c '^ok' "$T/out")" -eq ${#files[@]}
