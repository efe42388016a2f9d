#!/bin/bash
# The larger corpus comparison: third-party messages from Debian packages,
# fetched and unpacked here at test time (nothing of them is kept in the
# repository), read through a daemon with a reindexed store, as a user
# reads them (`mailctl read --json`), and compared field by field with
# Python's email package (tests/tools/mime_oracle.py, tests/corpus/
# compare.py). Prints the agreement, each class of disagreement with its
# count and every disagreement; fails below CORPUS_MIN percent (99).
# tests/corpus/README.md explains each one. `make corpus` runs it.
#
# Packages (CORPUS_PACKAGES to change): the test data of Python's email
# package (libpython3.X-testsuite), of Go's enmime library, and of Go's jwz
# threading library, whose 2,403 messages are real mailing-list mail of
# 2002 (every CORPUS_JWZ_EVERY-th is taken, default 8: about 300).
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/tests/lib.sh"

py=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
PACKAGES=${CORPUS_PACKAGES:-"libpython$py-testsuite golang-github-jhillyerd-enmime-dev golang-github-gatherstars-com-jwz-dev"}
CORPUS_MIN=${CORPUS_MIN:-99}
mkdir -p "$T/debs" "$T/root" "$T/msgs"
(cd "$T/debs" && apt-get download $PACKAGES >"$T/apt.log" 2>&1) ||
	skip_all "cannot download $PACKAGES: $(tail -1 "$T/apt.log")"
for deb in "$T/debs"/*.deb; do
	dpkg-deb -x "$deb" "$T/root" || bail "cannot unpack $deb"
done
# Each message file, and each message of an mbox, becomes one message.
python3 - "$T/root" "$T/msgs" "${CORPUS_JWZ_EVERY:-8}" <<'PY' ||
import mailbox, os, re, sys
root, out, every = sys.argv[1], sys.argv[2], int(sys.argv[3])
jwz = 0
n = 0
def put(data, origin):
    global n
    with open(os.path.join(out, "%04d.eml" % n), "wb") as f:
        f.write(data)
    with open(os.path.join(out, "%04d.origin" % n), "w") as f:
        f.write(origin)
    n += 1
for d, _, files in sorted(os.walk(root)):
    for name in sorted(files):
        path = os.path.join(d, name)
        rel = os.path.relpath(path, root)
        if re.search(r"test_email/data/msg_\d+\.txt$", rel) or \
           re.search(r"enmime/testdata/(mail|low-quality|parts)/.*\.raw$", rel):
            put(open(path, "rb").read(), rel)
        elif re.search(r"jwz/test/testdata/ham/.*\.eml$", rel):
            if jwz % every == 0:
                put(open(path, "rb").read(), rel)
            jwz += 1
        elif name.endswith(".mbox"):
            for i, m in enumerate(mailbox.mbox(path)):
                put(m.as_bytes(), "%s#%d" % (rel, i))
print("# %d messages" % n)
PY
	bail "cannot assemble the corpus"

CFG=$T/config.json
write_config "$CFG" '{"name":"alice","email":"alice@mail.test","pop3":{"host":"127.0.0.1","port":1,"tls":"none","user":"a","password":"x"}}'
start_daemon "$CFG"
for eml in "$T/msgs"/*.eml; do
	n=$(basename "$eml" .eml)
	cp "$eml" "$T/data/alice/Inbox/new/17000000$n.M${n}P1.corpus"
done
nmsgs=$(ls "$T/msgs"/*.eml | wc -l)
OUT=$(mailctl reindex --json)
check "reindex added the $nmsgs messages" test "$(json 'j["added"]')" = "$nmsgs"
OUT=$(mailctl ls --json)
for id in $(json '" ".join(str(m["id"]) for m in j)'); do
	# The file name says which message it is: 17000000NNNN.MNNNNP1.corpus
	n=$(mailctl read "$id" --raw --json --keep-unread |
	    sed -n 's/.*"path":"[^"]*\.M\([0-9]*\)P1\.corpus[":].*/\1/p')
	[ -n "$n" ] || { not_ok "message $id: no corpus path"; continue; }
	mailctl read "$id" --json >"$T/msgs/$n.read" 2>"$T/msgs/$n.err" ||
		not_ok "message $n ($(cat "$T/msgs/$n.origin")): read failed"
done
python3 "$top_srcdir/tests/corpus/compare.py" "$T/msgs" "$CORPUS_MIN" \
    >"$T/report" || not_ok "agreement below $CORPUS_MIN%"
cat "$T/report"
OUT=$(mailctl status)
contains "$OUT" "mailctld" "the daemon still answers status"
stop_daemon
check "clean stop" test "$DAEMON_RC" = 0
