#!/bin/bash
# The store opened by another real tool: Dovecot's doveadm reads our
# Maildirs (same subjects, \Seen exactly where mailctl marked read), sets
# and clears flags and expunges; a file renamed by hand as neomutt does.
# reindex follows all of it and keeps every id; read and mark find a file
# another program renamed even before reindex; Dovecot's own files
# (dovecot-uidlist, dovecot.index*, dovecot-uidvalidity*) are never taken
# for messages or folders.
. "$(dirname "$0")/lib.sh"
use_mail_servers

ms_add_user alice 'alice-Pw1'
mkdir -p "$T/src"
for i in 1 2 3 4 5 6 7; do
	subject="i0$i note number $i"
	[ "$i" = 5 ] && subject="i05 Weekly report"
	printf 'From: Sender %s <s%s@example.org>\nTo: alice@mail.test\nSubject: %s\nDate: Tue, 4 Jun 2024 09:0%s:00 +0000\nMessage-ID: <i0%s@test>\nX-Test-Id: i0%s\n\nbody of message i0%s\n' \
		"$i" "$i" "$subject" "$i" "$i" "$i" "$i" >"$T/src/i0$i"
done
ms_inject_dir alice "$T/src" >/dev/null
ms_start_dovecot >/dev/null

ACCT=$(pop3_account alice alice alice-Pw1 none "$MS_POP3_PORT")
write_config "$T/config.json" "$ACCT"
start_daemon "$T/config.json"

LS= DV=
# LS: the store as "token folder id read flags" lines.
snapshot() {
	"$MAILCTL" --socket "$SOCK" ls --json >"$T/ls.json" || return 1
	LS=$(python3 -c '
import json, sys
for m in sorted(json.load(open(sys.argv[1])), key=lambda m: m["subject"]):
    print(m["subject"].split()[0], m["folder"], m["id"], m["read"],
          m["flags"] or "-")
' "$T/ls.json")
}
field() { awk -v t="$1" -v f="$2" '$1 == t { print $f }' <<<"$LS"; }
id_of() { field "$1" 3; }
ids() { awk '{ print $1, $3 }' <<<"$LS"; }
# The message file holding TOKEN (Dovecot's caches hold the header too).
file_of() {
	grep -rlx "X-Test-Id: $1" "$T/data/alice" 2>/dev/null |
	    grep -E '/(new|cur)/[^/]+$'
}
# The unique base name of a Maildir file (before ":2,").
base_of() { local b; b=$(basename "$1"); echo "${b%%:2,*}"; }

# doveadm on our store, with a throwaway config and no running Dovecot
# (no userdb lookup: USER and HOME say who). Dovecot never touches mail as
# root, so it runs as the mail user, as a user running both mailctl and
# Dovecot on their own mail would: the tree is handed over first.
DV_UID=$(id -u "$MS_VMAIL_USER")
DV_GID=$(id -g "$MS_VMAIL_USER")
mkdir -p "$T/dv"
cat >"$T/dv/doveadm.conf" <<EOF
base_dir = $T/dv/run
state_dir = $T/dv/state
first_valid_uid = $DV_UID
last_valid_uid = $DV_UID
first_valid_gid = $DV_GID
last_valid_gid = $DV_GID
mail_uid = $DV_UID
mail_gid = $DV_GID
# The whole account is one Dovecot mail root: INBOX is Inbox/, every other
# folder of ours is a mailbox of the same name.
mail_location = maildir:$T/data/alice:LAYOUT=fs:INBOX=$T/data/alice/Inbox
EOF
dv() {
	chmod o+x "$T" "$T/data"
	chown -R "$DV_UID:$DV_GID" "$T/data/alice"
	# Checked on its own below ("owner rwx"); repaired here so that the
	# doveadm checks test what they are about.
	chmod -R u+rwX "$T/data/alice"
	local rc=0
	USER=alice HOME=$T/data/alice doveadm -c "$T/dv/doveadm.conf" "$@" \
	    2>"$T/dv/err" || rc=$?
	if [ -s "$T/dv/err" ]; then
		echo "# doveadm $*: exit $rc:"
		sed 's/^/#   /' "$T/dv/err"
		[ $rc -ne 0 ] || rc=1
	fi
	return $rc
}
# DV: what doveadm sees, as "token MAILBOX flags..." lines.
dv_snapshot() {
	dv -f json fetch 'mailbox flags hdr.x-test-id hdr.subject' all >"$T/dv.json" ||
	    return 1
	DV=$(python3 -c '
import json, sys
for m in sorted(json.load(open(sys.argv[1])), key=lambda m: m["hdr.x-test-id"]):
    fl = [f for f in m["flags"].split() if f != "\\Recent"]
    print(m["hdr.x-test-id"].strip(), m["mailbox"], *sorted(fl))
' "$T/dv.json")
}
dv_field() { awk -v t="$1" '$1 == t { $1 = ""; print substr($0, 2) }' <<<"$DV"; }
# mailctl's view in the same form.
mc_view() {
	python3 -c '
import json, sys
letters = {"S": "\\Seen", "F": "\\Flagged", "R": "\\Answered", "T": "\\Deleted", "D": "\\Draft"}
for m in sorted(json.load(open(sys.argv[1])), key=lambda m: m["subject"]):
    fl = sorted(letters[c] for c in m["flags"] if c in letters)
    print(m["subject"].split()[0], "INBOX" if m["folder"] == "Inbox" else m["folder"], *fl)
' "$T/ls.json"
}

expect_rc 0 "fetch 7 messages" mailctl fetch --json
check "7 new" test "$(json 'j["accounts"][0]["new"]')" = 7
snapshot || bail "ls --json failed"
check "i05 was filed into Work, the rest into Inbox" \
	test "$(awk '{print $2}' <<<"$LS" | sort | uniq -c | xargs)" = "6 Inbox 1 Work"
ids0=$(ids)
# Every directory mailctl made must be usable by its owner: Dovecot (and
# mailctld itself, when not root) cannot enter a directory without x.
nox=$(find "$T/data" -type d ! -perm -u=rwx | sed "s|^$T/data/||" | xargs)
check "every store directory is owner rwx (without: '$nox')" test -z "$nox"

# --- doveadm reads what mailctl wrote ------------------------------------------
expect_rc 0 "mailctl mark i02 --read" mailctl mark "$(id_of i02)" --read
check "i02's file is now cur/NAME:2,S" eval 'case $(file_of i02) in */Inbox/cur/*:2,S) true ;; *) false ;; esac'
snapshot
if dv_snapshot; then ok "doveadm fetch over our store"
else not_ok "doveadm fetch over our store failed"; fi
check "doveadm sees the same 6 subjects in INBOX" \
	test "$(python3 -c '
import json, sys
print(sorted(m["hdr.subject"].strip() for m in json.load(open(sys.argv[1])) if m["mailbox"] == "INBOX"))' "$T/dv.json")" \
	= "$(python3 -c '
import json, sys
print(sorted(m["subject"] for m in json.load(open(sys.argv[1])) if m["folder"] == "Inbox"))' "$T/ls.json")"
check "doveadm sees i05 in the mailbox Work" test "$(dv_field i05)" = Work
seen=$(awk '/\\Seen/ { print $1 }' <<<"$DV" | xargs)
check "doveadm: \\Seen exactly on i02 (got: '$seen')" test "$seen" = i02
check "doveadm's view equals mailctl's" test "$DV" = "$(mc_view)"
check "doveadm left its own files in Inbox/" \
	test -n "$(find "$T/data/alice/Inbox" -maxdepth 1 -name 'dovecot*' -type f)"

# --- a flag set by doveadm ---------------------------------------------------------
check "doveadm flags add \\Seen on i03" \
	dv flags add '\Seen' mailbox INBOX header X-Test-Id i03
i03file=$(file_of i03)
echo "# doveadm renamed i03 to ${i03file#"$T"/data/}"
expect_rc 0 "reindex after doveadm" mailctl reindex --json
check "reindex: nothing added or removed (Dovecot's files are no messages)" \
	test "$(json '"%d/%d" % (j["added"], j["removed"])')" = 0/0
check "reindex: at least i03 updated" test "$(json 'j["updated"]')" -ge 1
snapshot
check "i03 is read now" test "$(field i03 4)" = True
check "the read ones are exactly i02 and i03" \
	test "$(awk '$4 == "True" { print $1 }' <<<"$LS" | xargs)" = "i02 i03"
check "every id is unchanged" test "$(ids)" = "$ids0"
expect_rc 0 "mailctl read i03 (file renamed by doveadm)" \
	mailctl read "$(id_of i03)" --json
contains "$OUT" "body of message i03" "read shows i03's body"
expect_rc 0 "mailctl mark i03 --unread" mailctl mark "$(id_of i03)" --unread
dv_snapshot
check "doveadm no longer sees \\Seen on i03" test "$(dv_field i03)" = INBOX

# --- a message expunged by doveadm -------------------------------------------------
check "doveadm expunge i04" dv expunge mailbox INBOX header X-Test-Id i04
check "i04's file is gone" test -z "$(file_of i04)"
expect_rc 0 "reindex after the expunge" mailctl reindex --json
check "reindex: removed 1, added 0" \
	test "$(json '"%d/%d" % (j["removed"], j["added"])')" = 1/0
snapshot
check "i04 is no longer listed" test -z "$(field i04 1)"
check "the other ids are unchanged" test "$(ids)" = "$(grep -v '^i04 ' <<<"$ids0")"

# --- renamed by hand, as neomutt does ----------------------------------------------
f=$(file_of i01)
mv "$f" "$T/data/alice/Inbox/cur/$(base_of "$f"):2,S"
expect_rc 0 "reindex after new/X -> cur/X:2,S by hand" mailctl reindex --json
check "reindex: 1 updated, 0 added, 0 removed" \
	test "$(json '"%d/%d/%d" % (j["updated"], j["added"], j["removed"])')" = 1/0/0
snapshot
check "i01 is read, same id" test "$(field i01 4)/$(id_of i01)" = "True/$(awk '$1 == "i01" { print $2 }' <<<"$ids0")"

# read and mark find a renamed file before any reindex.
f=$(file_of i06)
mv "$f" "$T/data/alice/Inbox/cur/$(base_of "$f"):2,S"
expect_rc 0 "mailctl read i06 after a rename, before reindex" \
	mailctl read "$(id_of i06)" --json
contains "$OUT" "body of message i06" "read shows i06's body"
expect_rc 0 "read --raw --json i06" mailctl read "$(id_of i06)" --raw --json
check "read --raw names the file where it is now" \
	test "$(json 'j["path"]')" = "$(file_of i06)"
snapshot
check "i06 is listed read" test "$(field i06 4)" = True
f=$(file_of i07)
mv "$f" "$T/data/alice/Inbox/cur/$(base_of "$f"):2,F"
expect_rc 0 "mailctl mark i07 --read after a rename to :2,F" \
	mailctl mark "$(id_of i07)" --read
check "i07's file is cur/NAME:2,FS (the other program's flag kept)" \
	eval 'case $(file_of i07) in */Inbox/cur/*:2,FS) true ;; *) false ;; esac'
snapshot
check "i07 is listed read with flags FS" test "$(field i07 4)/$(field i07 5)" = True/FS
check "no id changed" test "$(ids)" = "$(grep -v '^i04 ' <<<"$ids0")"

# --- mailctl moves, doveadm follows -------------------------------------------------
expect_rc 0 "mailctl mv i06 Work" mailctl mv "$(id_of i06)" Work
snapshot
dv_snapshot
check "doveadm sees i06 in Work, \\Seen" test "$(dv_field i06)" = 'Work \Seen'
check "doveadm sees i07 \\Flagged \\Seen" test "$(dv_field i07)" = 'INBOX \Flagged \Seen'
check "doveadm's view equals mailctl's at the end" test "$DV" = "$(mc_view)"

# --- a recorded file a crash left in Inbox/tmp ----------------------------------------
# As after step 3 of a delivery (recorded, not yet renamed): reindex finds
# it by its name in tmp/ (its final name up to ",S=") and moves it back.
f=$(file_of i05)
b=$(base_of "$f")
d=$(dirname "$(dirname "$f")")
id5=$(id_of i05)
mv "$f" "$T/data/alice/Inbox/tmp/${b%%,S=*}"
expect_rc 0 "reindex with i05 back in Inbox/tmp" mailctl reindex --json
check "reindex: 0 added, 0 removed" \
	test "$(json '"%d/%d" % (j["added"], j["removed"])')" = 0/0
check "i05 is back in $(basename "$d")/new under its final name" \
	test -f "$d/new/$b" -a ! -e "$T/data/alice/Inbox/tmp/${b%%,S=*}"
snapshot
check "i05 keeps its id" test "$(id_of i05)" = "$id5"

# --- Dovecot's own files -----------------------------------------------------------
expect_rc 0 "reindex once more" mailctl reindex --json
check "nothing to do: 0 added, 0 removed, 0 updated" \
	test "$(json '"%d/%d/%d" % (j["added"], j["removed"], j["updated"])')" = 0/0/0
snapshot
check "6 messages listed" test "$(wc -l <<<"$LS")" -eq 6
check "Dovecot's files are still there (mailctl leaves them alone)" \
	test -f "$T/data/alice/Inbox/dovecot-uidlist"
expect_rc 0 "folders --json" mailctl folders --json
bogus=$(json '" ".join(f["folder"] for f in j if f["folder"].startswith("dovecot"))')
echo "# Dovecot files at the account level: $(cd "$T/data/alice" && find . -maxdepth 1 -type f | xargs)"
check "folders lists no Dovecot file as a folder (got: '$bogus')" test -z "$bogus"
check "folders lists directories only" python3 -c '
import json, os, sys
bad = [f["folder"] for f in json.loads(sys.argv[1]) if not os.path.isdir(os.path.join(sys.argv[2], f["account"], f["folder"]))]
sys.exit("not directories: %s" % bad if bad else 0)' "$OUT" "$T/data"
check "doveadm made dovecot-uidvalidity at the account level" \
	test -f "$T/data/alice/dovecot-uidvalidity"
expect_rc 65 "mv into Dovecot's file dovecot-uidvalidity: no folder is made over it" \
	mailctl mv "$(id_of i02)" dovecot-uidvalidity
contains "$ERR" "in the way" "the error says a file is in the way"
check "dovecot-uidvalidity is still a plain file" \
	test -f "$T/data/alice/dovecot-uidvalidity"

expect_rc 0 "the daemon still answers status" mailctl status
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0

# --- the default folders of fresh stores -------------------------------------------
# The folders are made on the store's writer thread while the daemon
# starts: every one must come out mode 0700 (owner rwx), in every start.
nox=
mkdir -p "$T/race"
for i in $(seq 25); do
	cat >"$T/race.json" <<EOC
{ "data_dir": "$T/race/$i", "socket": "$SOCK", "poll_at_start": false,
  "accounts": [ $ACCT, $(pop3_account bob bob x none "$MS_POP3_PORT") ] }
EOC
	start_daemon "$T/race.json"
	for _ in $(seq 100); do
		[ -d "$T/race/$i/alice/Trash/cur" ] && [ -d "$T/race/$i/bob/Trash/cur" ] && break
		sleep 0.02
	done
	stop_daemon
	nox="$nox $(find "$T/race/$i" -type d ! -perm -u=rwx | sed "s|^$T/race/||" | xargs)"
done
set -- $nox
if [ $# -eq 0 ]; then ok "25 fresh stores: every directory is owner rwx"
else not_ok "25 fresh stores: $# directories without owner rwx, in $(printf '%s\n' "$@" | cut -d/ -f1 | sort -u | wc -l) stores: ${*:1:8} ..."; fi
check "25 fresh stores: all 7 default folders of both accounts made" \
	test "$(find "$T"/race/*/*/ -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq $((25 * 2 * 7))
