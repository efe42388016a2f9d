#!/bin/bash
# Replay the fuzz corpora (fuzz/corpus/TARGET/*) through each fuzz target
# built with the plain driver: a crash found once stays fixed.
. "$(dirname "$0")/lib.sh"
for target in jsonrpc config mime pop3-wire imap-wire reply draft query crlf; do
	files=("$top_srcdir/fuzz/corpus/$target"/*)
	"$top_builddir/fuzz/replay-$target" "${files[@]}" >"$T/$target.out" 2>&1 && rc=0 || rc=$?
	check "fuzz target $target survives its ${#files[@]} corpus files" test $rc -eq 0
	check "fuzz target $target ran every file" test "$(grep -c '^ok' "$T/$target.out")" -eq ${#files[@]}
done
