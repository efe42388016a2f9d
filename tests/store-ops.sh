#!/bin/bash
# The mailbox commands on a store built straight in the Maildir (no server
# needed): reindex, ls (filters, limit, offset, unread), read (marks read,
# --raw, --keep-unread), mark, mv (into a new folder too), rm (Trash, --purge), folders, attachments --save with
# hostile file names, clear errors for unknown ids and folders, and a flag
# set by another program picked up by reindex.
. "$(dirname "$0")/lib.sh"

CFG=$T/config.json
write_config "$CFG" '{"name":"alice","email":"alice@mail.test","pop3":{"host":"127.0.0.1","port":1,"tls":"none","user":"a","password":"x"}}'
start_daemon "$CFG"
INBOX=$T/data/alice/Inbox

# Every account has its folders from the start.
for f in Inbox Important Work Project Spam Sent Trash; do
	check "folder $f exists with new/ cur/ tmp/" \
	    test -d "$T/data/alice/$f/new" -a -d "$T/data/alice/$f/cur" -a -d "$T/data/alice/$f/tmp"
done

# Messages written by "another program": plain ones and one with hostile
# attachment names.
python3 - "$INBOX/new" <<'EOF'
import base64, os, sys
d = sys.argv[1]
def put(n, text):
    with open(os.path.join(d, "1700000%03d.M%dP1.other,S=%d" % (n, n, len(text))), "wb") as f:
        f.write(text)
for n in range(1, 6):
    put(n, ("From: Sender %d <s%d@example.test>\nTo: alice@mail.test\n"
            "Subject: message %d\nDate: Mon, %d Jan 2024 10:00:00 +0000\n"
            "Message-ID: <m%d@example.test>\n\nbody %d\n" % (n, n, n, n, n, n)).encode())
names = ["../../escape.txt", "/etc/passwd", ".bashrc", "ctl\x01\x1b[2J.txt",
         "x" * 10000 + ".txt", "report.pdf", "report.pdf", "", ".."]
parts = []
for i, name in enumerate(names):
    data = ("attachment %d\n" % i).encode() + bytes(range(256))
    if "\x01" in name or len(name) > 100:
        import urllib.parse
        disp = "attachment; filename*=utf-8''%s" % urllib.parse.quote(name, safe="")
    elif name:
        disp = 'attachment; filename="%s"' % name
    else:
        disp = "attachment"
    parts.append("--B\nContent-Type: application/octet-stream\n"
                 "Content-Disposition: %s\nContent-Transfer-Encoding: base64\n\n%s\n"
                 % (disp, base64.encodebytes(data).decode()))
msg = ("From: Mallory <m@evil.test>\nTo: alice@mail.test\nSubject: hostile names\n"
       "Date: Tue, 2 Jan 2024 10:00:00 +0000\nMIME-Version: 1.0\n"
       "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\n"
       "see attached\n" + "".join(parts) + "--B--\n")
put(6, msg.encode())
EOF

OUT=$(mailctl reindex --json)
check "reindex adds the 6 messages ($OUT)" test "$(json 'j["added"]')" = 6
OUT=$(mailctl ls --json)
check "ls lists 6" test "$(json 'len(j)')" = 6
check "newest first" test "$(json 'j[0]["subject"]')" = "hostile names"
check "all unread" test "$(json 'sum(1 for m in j if not m["read"])')" = 6
check "attachment count in the listing" test "$(json 'j[0]["attachments"]')" = 9
check "date as ISO 8601 UTC" test "$(json 'j[1]["date"]')" = "2024-01-05T10:00:00Z"
check "decoded from" test "$(json 'j[1]["from"]')" = "Sender 5 <s5@example.test>"
ID1=$(json '[m["id"] for m in j if m["subject"] == "message 1"][0]')
ID2=$(json '[m["id"] for m in j if m["subject"] == "message 2"][0]')
ID3=$(json '[m["id"] for m in j if m["subject"] == "message 3"][0]')
HOSTILE=$(json 'j[0]["id"]')
OUT=$(mailctl ls --limit 2 --offset 1 --json)
check "limit and offset" test "$(json '[m["subject"] for m in j]')" = "['message 5', 'message 4']"
OUT=$(mailctl ls inbox --json)
check "folder names ignore case" test "$(json 'len(j)')" = 6
OUT=$(mailctl ls)
contains "$OUT" "message 3" "human listing shows a subject"
contains "$OUT" " N   Inbox" "human listing marks unread"

# read: decoded, marks read; --raw: the stored bytes.
OUT=$(mailctl read "$ID2" --json)
check "read: subject" test "$(json 'j["subject"]')" = "message 2"
check "read: to" test "$(json 'j["to"]')" = "alice@mail.test"
check "read: message_id" test "$(json 'j["message_id"]')" = "<m2@example.test>"
check "read: body" test "$(json 'j["body"]')" = "body 2"
OUT=$(mailctl ls --json)
check "read marked it read" test "$(json '[m["read"] for m in j if m["id"] == '"$ID2"'][0]')" = True
check "a read message lives in cur/ with the S flag" test -n "$(ls "$INBOX/cur" | grep ':2,S$')"
cp "$(ls "$INBOX"/new/1700000001.*)" "$T/orig1"
mailctl read "$ID1" --raw >"$T/raw1"
check "read --raw prints the stored bytes" cmp -s "$T/raw1" "$T/orig1"
OUT=$(mailctl read "$ID3")
contains "$OUT" "Subject  : message 3" "human read shows headers"
contains "$OUT" "body 3" "human read shows the body"

# read --keep-unread: shown, not marked read (the file keeps its place).
ID5=$(mailctl ls --json | python3 -c 'import json,sys; print([m["id"] for m in json.load(sys.stdin) if m["subject"] == "message 5"][0])')
f5_before=$(find "$T/data/alice" -type f -name '*M5P1*')
OUT=$(mailctl read "$ID5" --keep-unread --json)
check "read --keep-unread: the body" test "$(json 'j["body"]')" = "body 5"
check "read --keep-unread: says it is unread" test "$(json 'j["read"]')" = False
OUT=$(mailctl ls --json)
check "read --keep-unread left it unread" \
	test "$(json '[m["read"] for m in j if m["id"] == '"$ID5"'][0]')" = False
check "its file did not move or change flags" \
	test "$(find "$T/data/alice" -type f -name '*M5P1*')" = "$f5_before"
OUT=$(mailctl read "$ID5" --keep-unread)
contains "$OUT" "body 5" "human read --keep-unread shows the body"
OUT=$(mailctl read "$ID5" --raw --keep-unread)
check "read --raw --keep-unread prints the stored bytes" \
	test "$(cat "$f5_before")" = "$OUT"
OUT=$(mailctl ls --json)
check "still unread after --raw --keep-unread" \
	test "$(json '[m["read"] for m in j if m["id"] == '"$ID5"'][0]')" = False

# mark
OUT=$(mailctl mark "$ID2" "$ID3" --unread --json)
check "mark --unread reports 2 changed" test "$(json 'j["changed"]')" = 2
OUT=$(mailctl ls --unread --json)
check "ls --unread (read --raw marked one read)" test "$(json 'len(j)')" = 5
ID4=$(json '[m["id"] for m in j if m["subject"] == "message 4"][0]')
mailctl mark "$ID4" --read >/dev/null
OUT=$(mailctl ls --unread --json)
check "mark --read" test "$(json 'len(j)')" = 4
expect_rc 64 "mark without --read/--unread is a usage error" mailctl mark "$ID1"

# mv
OUT=$(mailctl mv "$ID1" "$ID2" work --json)
check "mv reports the folder's own name" test "$(json 'j["folder"]')" = Work
OUT=$(mailctl ls Work --json)
check "mv moved both" test "$(json 'sorted(m["id"] for m in j)')" = "[$ID1, $ID2]"
check "the moved files are in Work" test "$(find "$T/data/alice/Work" -type f | wc -l)" = 2
check "the read one keeps its flag" test -n "$(ls "$T/data/alice/Work/cur" | grep ':2,S$')"
# mv into a folder that does not exist yet makes it.
check "no Receipts folder yet" test ! -e "$T/data/alice/Receipts"
OUT=$(mailctl mv "$ID1" Receipts --json)
check "mv into a new folder: moved" test "$(json 'j["changed"]')" = 1
check "mv into a new folder: its name" test "$(json 'j["folder"]')" = Receipts
check "the new folder is a Maildir holding the file" \
	test -d "$T/data/alice/Receipts/tmp" -a -d "$T/data/alice/Receipts/new" \
	-a "$(find "$T/data/alice/Receipts/cur" -type f | wc -l)" = 1
OUT=$(mailctl ls Receipts --json)
check "ls shows it in the new folder" test "$(json '[m["id"] for m in j]')" = "[$ID1]"
OUT=$(mailctl folders --json)
check "folders lists the new folder" \
	test "$(json '[f["total"] for f in j if f["folder"] == "Receipts"]')" = "[1]"
OUT=$(mailctl mv "$ID1" receipts --json)
check "mv to it again, case as typed, finds it" test "$(json 'j["folder"]')" = Receipts
mailctl mv "$ID1" Work >/dev/null
OUT=$(mailctl ls NoSuchFolder 2>&1)
contains "$OUT" 'no folder named "NoSuchFolder"' "ls names an unknown folder"
expect_rc 65 "ls of an unknown folder exits 65 (ls does not create it)" mailctl ls NoSuchFolder
check "and no folder was made" test ! -e "$T/data/alice/NoSuchFolder"
expect_rc 64 "a folder name with a slash is refused" mailctl mv "$ID1" ../Work
expect_rc 64 "a new folder's name with a leading dash is refused" mailctl mv "$ID1" -- -x
contains "$ERR" "bad folder name" "the error says why"
expect_rc 64 "a new folder's name with a leading dot is refused" mailctl mv "$ID1" .hidden
check "no folder made for a refused name" \
	test ! -e "$T/data/alice/-x" -a ! -e "$T/data/alice/.hidden"

# folders
OUT=$(mailctl folders --json)
check "folders: Inbox counts" test "$(json '[(f["total"], f["unread"]) for f in j if f["folder"] == "Inbox"][0]')" = "(4, 3)"
check "folders: Work counts" test "$(json '[(f["total"], f["unread"]) for f in j if f["folder"] == "Work"][0]')" = "(2, 1)"
check "folders: Trash listed, empty" test "$(json '[f["total"] for f in j if f["folder"] == "Trash"][0]')" = 0
check "folders: Inbox first" test "$(json 'j[0]["folder"]')" = Inbox

# rm: to Trash, then for good.
OUT=$(mailctl rm "$ID3" --json)
check "rm moves to Trash" test "$(json 'j["changed"]')" = 1
OUT=$(mailctl ls Trash --json)
check "the message is in Trash" test "$(json '[m["id"] for m in j]')" = "[$ID3]"
expect_rc 65 "a second rm of a message in Trash is refused" mailctl rm "$ID3"
contains "$ERR" "in Trash already" "it says the message is in Trash"
contains "$ERR" "--purge" "and asks for --purge"
expect_rc 65 "rm of one in Trash and one elsewhere is refused too" \
	mailctl rm "$ID2" "$ID3"
OUT=$(mailctl ls --json)
check "nothing was removed or moved" \
	test "$(json '" ".join(dict((m["id"], m["folder"]) for m in j)[i] for i in ('"$ID2, $ID3"'))')" = \
	"Work Trash"
check "its file is still in Trash" test "$(find "$T/data/alice/Trash" -type f | wc -l)" = 1
OUT=$(mailctl rm "$ID3" --purge --json)
check "rm --purge in Trash removes for good" test "$(json 'j["purged"]')" = "[$ID3]"
check "no file left in Trash" test "$(find "$T/data/alice/Trash" -type f | wc -l)" = 0
expect_rc 65 "the purged id is unknown now" mailctl read "$ID3"
OUT=$(mailctl rm "$ID1" --purge --json)
check "rm --purge removes at once" test "$(json 'j["purged"]')" = "[$ID1]"

# Unknown ids and bad arguments.
OUT=$(mailctl read 999999 2>&1)
contains "$OUT" "no message with id 999999" "unknown id: clear error"
expect_rc 65 "unknown id exits 65" mailctl read 999999
expect_rc 65 "mark of a known and an unknown id fails" mailctl mark "$ID2" 999999 --read
OUT=$(mailctl ls --json Work)
check "...and changes nothing" test "$(json '[m["read"] for m in j]')" = "[False]"
expect_rc 64 "id 0 is a usage error" mailctl read 0
expect_rc 64 "a word is not an id" mailctl read abc
expect_rc 65 "ls of an unknown folder" mailctl ls Nowhere

# Attachments with hostile names: nothing lands outside the target.
mkdir -p "$T/save/inner" "$T/outside"
echo "outside" >"$T/outside/report.pdf"
ln -s "$T/outside/report.pdf" "$T/save/inner/report.pdf"
echo "existing" >"$T/save/inner/passwd"
touch "$T/marker"
OUT=$(mailctl attachments "$HOSTILE" --json)
check "9 attachments listed" test "$(json 'len(j)')" = 9
check "names are decoded as sent" test "$(json 'j[0]["filename"]')" = "../../escape.txt"
OUT=$(mailctl attachments "$HOSTILE" --save "$T/save/inner" --json)
check "all 9 saved" test "$(json 'sum(1 for a in j if "saved" in a)')" = 9
check "every saved path is directly in the target" \
    test "$(json 'all(a["saved"].rsplit("/", 1)[0] == "'"$T"'/save/inner" for a in j)')" = True
check "nothing new outside the target directory" \
    test -z "$(find "$T" -newer "$T/marker" -type f ! -path "$T/save/inner/*" ! -path "$T/data/*" ! -name daemon.log)"
check "the symlink was not followed" test "$(cat "$T/outside/report.pdf")" = outside
check "an existing file was not overwritten" test "$(cat "$T/save/inner/passwd")" = existing
check "../../escape.txt saved as escape.txt" test -f "$T/save/inner/escape.txt"
check "/etc/passwd saved as passwd-1" test -f "$T/save/inner/passwd-1"
check ".bashrc saved without its leading dot" test -f "$T/save/inner/_bashrc"
check "no hidden file created" test -z "$(ls -A "$T/save/inner" | grep '^\.')"
check "control characters replaced" test -f "$T/save/inner/ctl__[2J.txt"
check "the long name is cut to 200 bytes" test "$(ls "$T/save/inner" | awk 'length($0) == 200' | wc -l)" = 1
check "report.pdf twice beside a symlink: -1 and -2" test -f "$T/save/inner/report-1.pdf" -a -f "$T/save/inner/report-2.pdf"
check "nameless parts get attachment-N" test -f "$T/save/inner/attachment-8" -a -f "$T/save/inner/attachment-9"
python3 - "$T/save/inner" "$OUT" >"$T/bytes.out" <<'EOF'
import json, sys
ok = True
for a in json.loads(sys.argv[2]):
    want = ("attachment %d\n" % (a["index"] - 1)).encode() + bytes(range(256))
    got = open(a["saved"], "rb").read()
    ok = ok and got == want and a["size"] == len(want)
print("same" if ok else "different")
EOF
check "saved bytes are exactly the decoded content" test "$(cat "$T/bytes.out")" = same
OUT=$(mailctl attachments "$HOSTILE" --index 2 --save "$T/save" --json)
check "--index saves one" test "$(json 'len(j)')" = 1
expect_rc 65 "--index past the end" mailctl attachments "$HOSTILE" --index 10
expect_rc 73 "--save into a missing directory" mailctl attachments "$HOSTILE" --save "$T/nope"

# Another program sets flags (as neomutt does, new/X -> cur/X:2,FS),
# removes a message, drops a new one in.
OUT=$(mailctl ls --json)
before=$(json 'sorted(m["id"] for m in j)')
ID4=$(json '[m["id"] for m in j if m["subject"] == "message 4"][0]')
ID5=$(json '[m["id"] for m in j if m["subject"] == "message 5"][0]')
f5=$(ls "$INBOX"/new/1700000005.*)
mv "$f5" "$INBOX/cur/$(basename "$f5"):2,FS"
OUT=$(mailctl read "$ID5" --json)
check "a renamed file is still found before reindex" test "$(json 'j["subject"]')" = "message 5"
rm "$INBOX"/cur/1700000004.*
printf 'From: new@x\nSubject: dropped in\n\nhi\n' >"$INBOX/new/1700000099.M99P1.other"
OUT=$(mailctl reindex --json)
check "reindex: one added, one removed ($OUT)" test "$(json '(j["added"], j["removed"])')" = "(1, 1)"
OUT=$(mailctl ls --json)
check "the renamed message kept its id and has the flags" \
    test -n "$(json '[m for m in j if m["id"] == '"$ID5"' and m["read"] and m["flags"] == "FS"]')"
f2=$(ls "$T"/data/alice/Work/*/1700000002.*)
mv "$f2" "$T/data/alice/Work/cur/$(basename "${f2%%:2,*}"):2,F"
mailctl mark "$ID2" --read >/dev/null
check "mark after another program flagged it keeps that flag" \
    test -f "$T/data/alice/Work/cur/$(basename "${f2%%:2,*}"):2,FS"
check "the other ids are unchanged" test "$(json 'sorted(m["id"] for m in j if m["subject"] != "dropped in")')" = \
    "$(python3 -c "print(sorted(set($before) - {$ID4}))")"
OUT=$(mailctl reindex --json)
check "a second reindex changes nothing" test "$(json '(j["added"], j["removed"], j["updated"])')" = "(0, 0, 0)"

OUT=$(mailctl status)
contains "$OUT" "mailctld" "the daemon still answers status"
stop_daemon
check "clean stop" test "$DAEMON_RC" = 0
