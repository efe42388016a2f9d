#!/bin/bash
# What a user reads with mailctl checked against an independent reader,
# Python's email package: the messages of tests/tools/mime_oracle.py
# (several charsets, encoded words, RFC 2231 names, nested multiparts,
# binary attachments) are put in a Maildir; for each, `mailctl read --json`
# and the bytes `mailctl attachments --save` writes must agree with what
# Python reads from the same file.
. "$(dirname "$0")/lib.sh"

CFG=$T/config.json
write_config "$CFG" '{"name":"alice","email":"alice@mail.test","pop3":{"host":"127.0.0.1","port":1,"tls":"none","user":"a","password":"x"}}'
mkdir -p "$T/msgs"
python3 "$TOOLS/mime_oracle.py" generate "$T/msgs" ||
	bail "mime_oracle.py generate failed"
start_daemon "$CFG"
# Maildir names carry the oracle's message number.
for eml in "$T/msgs"/*.eml; do
	n=$(basename "$eml" .eml)
	cp "$eml" "$T/data/alice/Inbox/new/17000000$n.M${n}P1.oracle"
done
nmsgs=$(ls "$T/msgs"/*.eml | wc -l)
OUT=$(mailctl reindex --json)
check "reindex added the $nmsgs messages" test "$(json 'j["added"]')" = "$nmsgs"
OUT=$(mailctl ls --json)
ids=$(json '" ".join(str(m["id"]) for m in j)')
echo "$OUT" >"$T/ls.json"
for id in $ids; do
	OUT=$(mailctl read "$id" --raw --json)
	n=$(json 'j["path"].rsplit("/", 1)[1].split(".M")[1].split("P")[0]')
	mailctl read "$id" --json >"$T/read.json" ||
		{ not_ok "message $n: read failed"; continue; }
	mkdir -p "$T/save/$id"
	mailctl attachments "$id" --save "$T/save/$id" --json >"$T/att.json" ||
		{ not_ok "message $n: attachments failed"; continue; }
	# The oracle's format: attachment bytes as saved on disk.
	python3 - "$T/read.json" "$T/att.json" >"$T/$n.got" <<'PY'
import hashlib, json, os, re, sys
r = json.load(open(sys.argv[1]))
saved = json.load(open(sys.argv[2]))
atts = []
for a in saved:
    # Saved as save_as, or with "-N" before the extension when taken.
    base, stem, ext = a["saved"].rsplit("/", 1)[1], *os.path.splitext(a["save_as"])
    assert base == a["save_as"] or re.fullmatch(re.escape(stem) + r"-\d+" +
                                                re.escape(ext), base), base
    if a["filename"] is None and a["content_type"] == "message/rfc822":
        assert a["save_as"] == "attachment-%d.eml" % a["index"], a["save_as"]
    data = open(a["saved"], "rb").read()
    atts.append({"filename": a["filename"], "content_type": a["content_type"],
                 "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
listed = [(a["filename"], a["content_type"], a["size"]) for a in r["attachments"]]
assert listed == [(a["filename"], a["content_type"], a["size"]) for a in atts], \
    "read and attachments disagree"
r["attachments"] = atts
print(json.dumps(r))
PY
	[ -s "$T/$n.got" ] || { not_ok "message $n: read and attachments disagree"; continue; }
	# The human view prints each notice after the headers.
	nw=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["warnings"]))' "$T/read.json")
	check "message $n: the human view shows its $nw notices" \
	    test "$(mailctl read "$id" | sed '/^$/q' | grep -c '^Warning  : ')" = "$nw"
	# The index decodes From and Subject as read does (raw 8-bit headers
	# in the message's charset), so ls shows what read shows.
	check "message $n: ls shows read's From and Subject" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
l = [m for m in json.load(open(sys.argv[2])) if m["id"] == r["id"]][0]
clean = lambda s: s if s is None else "".join(" " if ord(c) < 32 or c == "\x7f" else c for c in s)
sys.exit(not (l["from"] == clean(r["from"]) and l["subject"] == clean(r["subject"])))
' "$T/read.json" "$T/ls.json"
	# A date not understood is shown as written, and said so.
	if grep -q '"date_raw"' "$T/read.json"; then
		check "message $n: the human view shows the raw date" \
		    test "$(mailctl read "$id" | grep -c '^Date     : .* (not understood)$')" = 1
	fi
	python3 "$TOOLS/mime_oracle.py" compare "$T/msgs/$n.json" "$T/$n.got" \
	    >"$T/$n.cmp"
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "message $n: ${line#ok }" ;;
		*) not_ok "message $n: ${line#not ok }" ;;
		esac
	done <"$T/$n.cmp"
done
OUT=$(mailctl ls --unread --json)
check "every message read is marked read" test "$(json 'len(j)')" = 0
OUT=$(mailctl status)
contains "$OUT" "mailctld" "the daemon still answers status"
stop_daemon
check "clean stop" test "$DAEMON_RC" = 0
