#!/bin/bash
# Check daemon/compose.c against an independent reader, Python's email
# package: tests/tools/compose_oracle.py composes varied messages with
# tests/unit/compose-dump (UTF-8 names and subjects, awkward bodies, binary
# and non-ASCII-named attachments, inputs that must be refused) and checks
# that Python reads back exactly what went in, without a defect.
. "$(dirname "$0")/lib.sh"
DUMP=$top_builddir/tests/unit/compose-dump
[ -x "$DUMP" ] || "$MAKE" -C "$top_builddir" tests/unit/compose-dump >/dev/null ||
	bail "cannot build tests/unit/compose-dump"
mkdir -p "$T/work"
python3 "$TOOLS/compose_oracle.py" "$DUMP" "$T/work" >"$T/oracle.out" 2>"$T/oracle.err"
rc=$?
n=0
while IFS= read -r line; do
	case $line in
	"ok "*) ok "${line#ok }" ;;
	"not ok "*) not_ok "${line#not ok }" ;;
	"cases "*) n=${line#cases } ;;
	esac
done <"$T/oracle.out"
check "compose_oracle.py ran to the end (exit $rc) $(head -c 300 "$T/oracle.err")" \
	test "$rc" -le 1 -a -s "$T/oracle.out"
check "the oracle composed 40 messages ($n)" test "$n" -eq 40
