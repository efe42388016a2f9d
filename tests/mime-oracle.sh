#!/bin/bash
# Check daemon/mime*.c against an independent reader, Python's email package:
# tests/tools/mime_oracle.py writes varied messages with what Python reads
# from each, tests/unit/mime-dump prints what mime_parse reads; every field
# of every message must agree.
. "$(dirname "$0")/lib.sh"
DUMP=$top_builddir/tests/unit/mime-dump
[ -x "$DUMP" ] || "$MAKE" -C "$top_builddir" tests/unit/mime-dump >/dev/null ||
	bail "cannot build tests/unit/mime-dump"
mkdir -p "$T/msgs"
python3 "$TOOLS/mime_oracle.py" generate "$T/msgs" ||
	bail "mime_oracle.py generate failed"
n=0
for eml in "$T/msgs"/*.eml; do
	name=$(basename "$eml" .eml)
	n=$((n + 1))
	if ! "$DUMP" "$eml" >"$T/$name.got" 2>"$T/$name.err"; then
		not_ok "$name: mime-dump failed: $(cat "$T/$name.err")"
		continue
	fi
	python3 "$TOOLS/mime_oracle.py" compare "${eml%.eml}.json" \
	    "$T/$name.got" >"$T/$name.cmp"
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "$name: ${line#ok }" ;;
		*) not_ok "$name: ${line#not ok }" ;;
		esac
	done <"$T/$name.cmp"
done
check "the oracle wrote 40 messages and its cases ($n)" \
    test "$n" -gt 40 -a "$n" -eq "$(ls "$T/msgs"/*.json | wc -l)"
