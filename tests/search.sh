#!/bin/bash
# Full-text search against ground truth computed from the stored files by
# Python (tests/tools/search_oracle.py): a generated store of a few
# thousand messages (encoded-word and Latin-1 headers, UTF-8, Latin-1 and
# base64 bodies, HTML-only mail, CJK, café/CAFÉ/cafe, attachments with
# names, dates over eight years, two accounts, several folders and flags).
# One account's mail comes through the daemon from a real Dovecot over
# POP3 (indexed in the background right after delivery), the other's is
# put into the Maildirs and added by reindex. Every query of the oracle (each operator alone and
# combined: words, phrases, prefixes, accents, CJK, columns, folders,
# accounts, flags, attachments, dates, negation, OR, parentheses) must
# find exactly the messages Python finds, newest first. The index follows
# mv, rm (to Trash and for good), mark and reindex; a store from before
# the search index gets one built in the background. Bad queries exit 65
# with an error naming the term.
. "$(dirname "$0")/lib.sh"
use_mail_servers
export TZ=UTC
N=${SEARCH_MESSAGES:-2000}
ORACLE=$TOOLS/search_oracle.py

python3 "$ORACLE" generate "$T/src" "$N" || bail "generate failed"
mkdir -p "$T/pop"
for f in "$T/src"/*.eml; do
	n=$(basename "$f" .eml)
	# The oracle files every tenth message (n % 10 == 0) under alice.
	[ $((10#$n % 10)) -eq 0 ] && cp "$f" "$T/pop/"
done
ms_add_user alice 'alice-Pw1'
ms_inject_dir alice "$T/pop" >/dev/null
ms_start_dovecot >/dev/null
npop=$(ls "$T/pop" | wc -l)
check "dovecot holds alice's $npop messages" test "$(ms_deliver_count alice)" -eq "$npop"

ACCTS="$(pop3_account alice alice alice-Pw1 none "$MS_POP3_PORT"),
{\"name\":\"bob\",\"email\":\"bob@mail.test\",\"pop3\":{\"host\":\"127.0.0.1\",\"port\":1,\"tls\":\"none\",\"user\":\"b\",\"password\":\"x\"}}"
write_config "$T/config.json" "$ACCTS"
start_daemon "$T/config.json"
expect_rc 0 "fetch alice's mail over POP3" mailctl fetch alice --json
check "alice: $npop new" test "$(json 'j["accounts"][0]["new"]')" -eq "$npop"
# The delivered mail reaches the search index in the background, a slice
# at a time behind the delivery: every tag (t0NNNN) of alice's is found.
indexed() { mailctl search --json -- 't0*' account:alice | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
for i in $(seq 1 100); do
	[ "$(indexed)" -eq "$npop" ] && break
	sleep 0.1
done
check "the delivered mail is in the search index ($(indexed) of $npop)" test "$(indexed)" -eq "$npop"
python3 "$ORACLE" place "$T/src" "$T/data" --skip-account alice ||
	bail "place failed"
expect_rc 0 "reindex adds bob's mail" mailctl reindex --json
check "reindex added $((N - npop))" test "$(json 'j["added"]')" -eq $((N - npop))

# oracle PHASE: every query of the oracle, as TAP lines of this test.
oracle() {
	local line
	python3 "$ORACLE" check "$T/data" "$MAILCTL" "$SOCK" "$1" >"$T/oracle.out" 2>&1 ||
		not_ok "$1: the oracle failed: $(tail -3 "$T/oracle.out")"
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*) not_ok "${line#not ok - }" ;;
		*) echo "$line" ;;
		esac
	done <"$T/oracle.out"
}
oracle delivered
# Prefixes of a few words were ORs of the index's words; t0* (a tag per
# message) stays FTS5's prefix query.
contains "$(cat "$T/daemon.log")" "search: inv* stands for" "a prefix of few words is an OR of them"
contains "$(cat "$T/daemon.log")" "search: t0* is left to FTS5: too many words" "a prefix of many words is left to FTS5"

# Snippets, limit and offset, the human view.
OUT=$(mailctl search --json zeppelin)
jcheck "a snippet marks every time the word is found in it" \
	'all("zeppelin" not in __import__("re").sub(r"\[[^]]*\]", "", h["snippet"].lower()) for h in j) and any("[zeppelin" in h["snippet"].lower() for h in j)'
jcheck "hits carry what ls shows" \
	'all(set(h) >= {"id","account","folder","from","subject","date","size","read","attachments","flags","snippet"} for h in j)'
all=$(mailctl search --json meeting | python3 -c 'import json,sys; print([h["id"] for h in json.load(sys.stdin)][5:10])')
page=$(mailctl search --json --limit 5 --offset 5 meeting | python3 -c 'import json,sys; print([h["id"] for h in json.load(sys.stdin)])')
check "--limit 5 --offset 5 is the second page ($page)" test "$all" = "$page"
OUT=$(mailctl search --json --limit=3 -- -meeting)
jcheck "--limit=N, and -- before a negated word" 'len(j) == 3'
OUT=$(mailctl search zeppelin OR quokka --limit 2 --no-pager)
contains "$OUT" "zeppelin" "the human view shows the snippet"
check "the human view has two lines per hit" test "$(printf '%s\n' "$OUT" | wc -l)" -eq 4
# A message with a hundred thousand hits: its snippet is cut at once.
expect_rc 0 "a body of 160,000 hits answers within 5 s" timeout 5 "$MAILCTL" --socket "$SOCK" search --json filler
jcheck "its snippet is short and marked" 'len(j) == 1 and len(j[0]["snippet"]) < 300 and j[0]["snippet"].startswith("[filler filler")'
OUT=$(mailctl search --json -- '"café" -zeppelin')
jcheck "snippets of accented words mark them" 'all("[" in h["snippet"] for h in j if "cafe" in h["snippet"].lower().replace("é", "e"))'
OUT=$(mailctl search --json --limit 20 東京)
jcheck "a CJK word is marked in its snippet, its characters together again" \
	'all("[東京" in h["snippet"] or "東京" not in h["snippet"].replace("[", "").replace("]", "") for h in j) and any("[東京]" in h["snippet"] for h in j) and not any("東 京" in h["snippet"] for h in j)'
OUT=$(mailctl search --json --limit 5 is:flagged)
jcheck "without a word the snippet is the start of the body" \
	'len(j) == 5 and all(isinstance(h["snippet"], str) and len(h["snippet"]) > 0 and "[" not in h["snippet"] for h in j)'
OUT=$(mailctl search nosuchwordanywhere)
contains "$OUT" "no messages" "no hits: no messages"

# Bad queries: exit 65, the term named.
for q in 'frm:alice|unknown field '"'"'frm:'"'"' at column 1' \
	'cafe after:2026-13-01|bad date '"'"'2026-13-01'"'"' in '"'"'after:2026-13-01'"'"' at column 6' \
	'(cafe OR tea|unbalanced parenthesis at column 1' \
	'is:new|not '"'"'is:new'"'"' at column 1' \
	'cafe OR|OR needs a term on each side at column 6' \
	'"open|unbalanced quote'; do
	expect_rc 65 "bad query ${q%%|*}" mailctl search -- "${q%%|*}"
	contains "$ERR" "mailctl: search: " "its error says search:"
	contains "$ERR" "${q#*|}" "its error: ${q#*|}"
done
expect_rc 64 "no query is a usage error" mailctl search
expect_rc 64 "an unknown option is a usage error" mailctl search --limti 3 cafe
long=$(head -c 5000 /dev/zero | tr '\0' 'a')
expect_rc 65 "a query over 4096 bytes" mailctl search "$long"
contains "$ERR" "query too long" "its error says so"
# rpc PARAMS-JSON: call search over the socket, print the reply.
rpc() {
	python3 - "$SOCK" "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "search",
                      "params": json.loads(sys.argv[2])}).encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
print(buf.decode().strip())
PY
}
OUT=$(rpc '{"query":"cafe","limit":-1}')
jcheck "RPC: a negative limit is refused" 'j["error"]["code"] == -32602'
OUT=$(rpc '{"limit":3}')
jcheck "RPC: query is required" 'j["error"]["code"] == -32602'
OUT=$(rpc '{"query":"cafe frm:x"}')
jcheck "RPC: a bad query is bad data (-32001) naming the term" \
	'j["error"]["code"] == -32001 and "frm:" in j["error"]["message"]'
OUT=$(rpc '{"query":"zeppelin","limit":2}')
jcheck "RPC: search answers an array of at most limit hits" \
	'isinstance(j["result"], list) and len(j["result"]) <= 2'

# The index follows mv, rm, mark.
ids() { mailctl search --json -- "$@" | python3 -c 'import json,sys; print(" ".join(str(h["id"]) for h in json.load(sys.stdin)))'; }
set -- $(ids cafe)
mv_ids="${*:1:20}"
shift 20
trash_ids="${*:1:10}"
shift 10
purge_ids="${*:1:10}"
expect_rc 0 "mv 20 cafe messages to Archive" mailctl mv $mv_ids Archive
expect_rc 0 "rm 10 (to Trash)" mailctl rm $trash_ids
expect_rc 0 "rm --purge 10" mailctl rm --purge $purge_ids
set -- $(ids is:unread)
expect_rc 0 "mark 30 read" mailctl mark ${*:1:30} --read
set -- $(ids is:read)
expect_rc 0 "mark 30 unread" mailctl mark ${*:1:30} --unread
got=" $(ids folder:archive cafe) "
missing=
for i in $mv_ids; do case $got in *" $i "*) ;; *) missing="$missing $i" ;; esac; done
check "the moved ones are found in Archive${missing:+ (not:$missing)}" test -z "$missing"
left=$(ids cafe)
gone=
for i in $purge_ids; do case " $left " in *" $i "*) gone="$gone $i" ;; esac; done
check "purged messages are gone from the index" test -z "$gone"
oracle changed

# Reindex with nothing changed: the same answers.
expect_rc 0 "reindex" mailctl reindex --json
oracle reindexed

# An index from before search_words (schema 8): its words are taken from
# FTS5 at the upgrade.
stop_daemon
python3 - "$T/data/index.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("DROP TABLE search_words; PRAGMA user_version = 8;")
db.commit()
PY
start_daemon "$T/config.json"
words=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM search_words").fetchone()[0])' "$T/data/index.sqlite")
check "the upgrade took the index's words ($words)" test "$words" -gt 1000
: >"$T/daemon.log"
oracle words
contains "$(cat "$T/daemon.log")" "search: inv* stands for" "prefixes are ORs of words after the upgrade"

# A word longer than search_words keeps (64 bytes): a prefix reaching it
# is left to FTS5, and finds it.
long=zyzzogeton$(printf 'q%.0s' $(seq 1 90))
mkdir -p "$T/data/bob/Inbox/new"
printf 'From: x@mail.test\nSubject: long word\nMessage-ID: <long@mail.test>\n\n%s here\n' "$long" >"$T/data/bob/Inbox/new/1700000000.long.host"
expect_rc 0 "reindex adds a message with a 100-byte word" mailctl reindex --json
: >"$T/daemon.log"
OUT=$(mailctl search --json -- 'zyzzo*')
jcheck "its prefix finds it" 'len(j) == 1 and j[0]["subject"] == "long word"'
contains "$(cat "$T/daemon.log")" "search: zyzzo* is left to FTS5: a word of it is cut" "through FTS5's own prefix query"
OUT=$(mailctl search --json -- "${long:0:80}*")
jcheck "a prefix longer than what is kept finds it too" 'len(j) == 1'
expect_rc 0 "rm --purge it" mailctl rm --purge "$(mailctl search --json zyzzo* | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"

# A store from before the search index (schema 6): built in the background.
stop_daemon
python3 - "$T/data/index.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("""
DROP TRIGGER messages_search_gone; DROP TRIGGER messages_search_rekey;
DROP TABLE search; DROP TABLE search_text;
DROP INDEX messages_search_key;
ALTER TABLE messages DROP COLUMN search_key;
PRAGMA user_version = 6;
""")
db.commit()
PY
start_daemon "$T/config.json"
for i in $(seq 1 200); do
	grep -q "search index built" "$T/daemon.log" && break
	sleep 0.1
done
contains "$(cat "$T/daemon.log")" "search index built" "the daemon built the index of an older store"
oracle migrated

expect_rc 0 "the daemon still answers status" mailctl status
