#!/bin/bash
# password_command and a rotated password, against a REAL Dovecot (POP3S)
# and Postfix (submission, STARTTLS + AUTH through Dovecot's auth): one
# account whose pop3 and smtp blocks both read the secret with
# ["cat", FILE]. Once mail has gone both ways (the daemon holds the
# secret), the user's password is changed in Dovecot's passwd-file and in
# FILE, without "mailctl reload": the very next send --wait and fetch
# succeed (the refused cached secret is dropped and the command asked again
# before the attempt counts as failed). With a wrong password in FILE (and
# yet another one on the server) fetch fails with error_kind auth and
# send --wait does not succeed, both in bounded time and without retrying
# in the background; putting the right one in FILE then works at once. No
# password, old, new or wrong, ever appears in the daemon's (verbose) log or
# in an RPC result.
. "$(dirname "$0")/lib.sh"
use_mail_servers
for p in postfix doveadm; do
	command -v $p >/dev/null ||
	    skip_all "$p is not installed (tests/servers/install-deps)"
done

# Distinctive, of different lengths (Dovecot's passwd-file notices a change
# by mtime or size), and found nowhere else.
PW_OLD='RotOld-7fK2qLx9vW'
PW_NEW='RotNew-Zp4mT8rHc3Ny'
PW_WRONG='RotWrong-Gd5sJ1bXeQ0u'
PW_THIRD='RotThird-Vk6wB2nFy7Ma4t'
ALL_PW="$PW_OLD $PW_NEW $PW_WRONG $PW_THIRD"

DOVECONF=$MS_DIR/dovecot/dovecot.conf
ms_add_user alice "$PW_OLD" >/dev/null
ms_start >/dev/null || bail "cannot start dovecot and postfix"

# The file password_command reads; only the test writes it.
PWFILE=$T/alice.pw
install -m 600 /dev/null "$PWFILE"
printf '%s\n' "$PW_OLD" >"$PWFILE"

# One account, both blocks reading the same file, no shell.
python3 - "$T/config.json" "$T" "$SOCK" "$MS_CA_FILE" "$MS_POP3S_PORT" \
	"$MS_SMTP_PORT" "$PWFILE" <<'EOF'
import json, sys
out, t, sock, ca, pop3s, smtp, pwfile = sys.argv[1:]
cmd = ["cat", pwfile]
c = {
    "data_dir": t + "/data",
    "socket": sock,
    "poll_at_start": False,
    # No retry by the timer while the test runs: every attempt is one the
    # test asked for, so the server's count of refusals is the daemon's.
    "queue": {"retry_min": 3600, "retry_max": 3600, "expire": 86400},
    "accounts": [{
        "name": "alice", "email": "alice@mail.test",
        "pop3": {"host": "127.0.0.1", "port": int(pop3s), "tls": "implicit",
                 "ca_file": ca, "user": "alice", "password_command": cmd,
                 "poll_interval": 3600, "timeout": 20},
        "smtp": {"host": "127.0.0.1", "port": int(smtp), "tls": "starttls",
                 "ca_file": ca, "user": "alice", "password_command": cmd,
                 "timeout": 20},
    }],
}
json.dump(c, open(out, "w"), indent=1)
EOF
# shellcheck disable=SC2086
check "the config holds no password" \
	eval '! printf "%s\n" $ALL_PW | grep -qFf - "$T/config.json"'
start_daemon "$T/config.json"

mc() { "$MAILCTL" --socket "$SOCK" "$@"; }
# Nothing the daemon is asked may hang the test.
mcw() { timeout 60 "$MAILCTL" --socket "$SOCK" "$@"; }
# run RC DESCRIPTION ARGS...: expect_rc on mailctl, keeping every answer
# (stdout and stderr) for the check that no secret is in an RPC result.
run() {
	local want=$1 what=$2; shift 2
	expect_rc "$want" "$what" mcw "$@"
	cat "$T/out" "$T/err" >>"$T/rpc.log"
}
# mismatches pop3|smtp: Dovecot's refusals of alice's password so far.
# POP3 logins and Postfix's SASL requests both go through its auth process,
# which logs each refusal: a POP3 login's with its session id, Postfix's
# with the client's address only (doveadm's with neither).
mismatches() {
	local re
	case $1 in
	pop3) re='passwd-file(alice,[0-9.]*,<[^>]*>): Password mismatch' ;;
	smtp) re='passwd-file(alice,[0-9.]*): Password mismatch' ;;
	esac
	grep -c "$re" "$(ms_log dovecot)"
}
# auth_ok PASSWORD: Dovecot's auth accepts alice with PASSWORD now.
auth_ok() {
	doveadm -c "$DOVECONF" auth test alice "$1" >/dev/null 2>&1
}
# rotate_server PASSWORD: change alice's password in Dovecot's passwd-file
# (ms_add_user rewrites her line). The passwd-file driver stats the file at
# most once a second and re-reads it when its mtime or size changed, so no
# restart or reload is needed; the harness configures no auth cache (check
# it, and flush it anyway). Then wait until Dovecot's auth answers with the
# new password.
rotate_server() {
	ms_add_user alice "$1" >/dev/null || return 1
	[ "$(doveconf -c "$DOVECONF" -h auth_cache_size)" = 0 ] || return 1
	doveadm -c "$DOVECONF" auth cache flush >/dev/null 2>&1 || return 1
	for _ in $(seq 50); do
		auth_ok "$1" && return 0
		sleep 0.1
	done
	return 1
}
# set_file PASSWORD: what password_command prints from now on.
set_file() {
	printf '%s\n' "$1" >"$PWFILE"
}
# delivered N: wait until alice's server mailbox holds N messages; long
# only when the send just answered (in $OUT) said "sent", so that a failed
# send does not cost the whole wait (the check fails all the same).
delivered() {
	local wait=1
	[ "$(json 'j.get("state")' 2>/dev/null)" = sent ] && wait=15
	ms_wait_delivered alice "$1" "$wait"
}
# arrived SUBJECT: a message with SUBJECT is in the local Inbox.
arrived() {
	mc ls Inbox --account alice --json >"$T/ls.json" 2>/dev/null &&
	    python3 -c '
import json, sys
ls = json.load(open(sys.argv[1]))
sys.exit(0 if any(m["subject"] == sys.argv[2] for m in ls) else 1)
' "$T/ls.json" "$1"
}

# --- 1. the setup works, and the daemon now holds the secret ------------------
check "Dovecot's auth accepts the first password" auth_ok "$PW_OLD"
run 0 "send --wait with the first password" send --account alice \
	--to alice@mail.test --subject "rotation one" --body "before" --wait --json
jcheck "send --wait with the first password: sent" 'j["state"] == "sent"'
check "Postfix delivered it" ms_wait_delivered alice 1 20
run 0 "fetch with the first password" fetch alice --json
jcheck "fetch with the first password: ok, 1 new" \
	'j["accounts"][0]["ok"] and j["accounts"][0]["new"] == 1'
check "the first message is in the Inbox" arrived "rotation one"
check "both sides logged in (SMTP AUTH in the verbose log)" \
	grep -q 'authenticated as "alice"' "$T/daemon.log"

# --- 2. rotation: server and file, no reload ----------------------------------
check "rotation on the server: Dovecot accepts the new password" \
	rotate_server "$PW_NEW"
check "rotation on the server: Dovecot refuses the old one" \
	eval '! auth_ok "$PW_OLD"'
set_file "$PW_NEW"
check "the password file is still 0600" test "$(stat -c %a "$PWFILE")" = 600
pid_before=$DAEMON_PID
p0=$(mismatches pop3) s0=$(mismatches smtp)

# --- 3. the very next attempts succeed ----------------------------------------
run 0 "send --wait right after the rotation (no reload)" send --account alice \
	--to alice@mail.test --subject "rotation two" --body "after" --wait --json
jcheck "send --wait right after the rotation: sent" 'j["state"] == "sent"'
check "Postfix delivered the mail sent after the rotation" delivered 2
run 0 "fetch right after the rotation (no reload)" fetch alice --json
jcheck "fetch right after the rotation: ok, 1 new" \
	'j["accounts"][0]["ok"] and j["accounts"][0]["new"] == 1'
check "the mail sent after the rotation is in the Inbox" arrived "rotation two"
check "the same daemon did it (no restart)" kill -0 "$pid_before"
# The scenario really happened: the daemon first offered the secret it had
# kept from before (the file already held the new one), and each server
# refused it once.
check "POP3: the kept old secret was offered and refused once" \
	test $(($(mismatches pop3) - p0)) -eq 1
check "SMTP: the kept old secret was offered and refused once" \
	test $(($(mismatches smtp) - s0)) -eq 1

# --- 4. a wrong password: fails, in bounded time, no loop ---------------------
# The server moves on again, and the file holds a password that is not the
# server's: the cached secret is refused, and so is the command's answer.
check "rotation to a third password on the server" rotate_server "$PW_THIRD"
set_file "$PW_WRONG"
p0=$(mismatches pop3) s0=$(mismatches smtp)
t0=$(date +%s)
run 1 "fetch with a wrong password in the file fails" fetch alice --json
jcheck "fetch with a wrong password: error_kind auth" \
	'not j["accounts"][0]["ok"] and j["accounts"][0]["error_kind"] == "auth"'
rc=0
mcw send --account alice --to alice@mail.test --subject "rotation wrong" \
	--body "never" --wait >"$T/out" 2>"$T/err" || rc=$?
cat "$T/out" "$T/err" >>"$T/rpc.log"
check "send --wait with a wrong password does not succeed (exit $rc)" \
	test "$rc" -ne 0 -a "$rc" -ne 124
contains "$(cat "$T/err")" "535" \
	"send --wait with a wrong password: says the server refused AUTH"
check "both answered within 30 s" test $(( $(date +%s) - t0 )) -lt 30
# The kept secret, then at most once the command's answer: no more.
p1=$(mismatches pop3) s1=$(mismatches smtp)
check "POP3: refused once or twice, not more ($((p1 - p0)))" \
	test $((p1 - p0)) -ge 1 -a $((p1 - p0)) -le 2
check "SMTP: refused once or twice, not more ($((s1 - s0)))" \
	test $((s1 - s0)) -ge 1 -a $((s1 - s0)) -le 2
sleep 3
check "and no more afterwards (nothing retries in a loop)" \
	test "$(mismatches pop3):$(mismatches smtp)" = "$p1:$s1"
# Trouble with credentials keeps the mail for a later try, as before.
WID=$(sed -n 's/.*still queued as \([0-9][0-9]*\).*/\1/p' "$T/err")
run 0 "queue --json after the refusal" queue --json
jcheck "the mail is still in the queue, deferred, not lost" \
	'[x["state"] for x in j if str(x["id"]) == "'"$WID"'"] == ["deferred"]'

# --- 5. the right password in the file works at the next attempt --------------
set_file "$PW_THIRD"
run 0 "fetch once the file holds the server's password" fetch alice --json
jcheck "fetch once the file holds the server's password: ok" \
	'j["accounts"][0]["ok"]'
run 0 "send --wait once the file holds the server's password" send \
	--account alice --to alice@mail.test --subject "rotation three" \
	--body "again" --wait --json
jcheck "send --wait once the file holds the server's password: sent" \
	'j["state"] == "sent"'
run 0 "queue flush sends the mail deferred by the wrong password" \
	queue flush
for _ in $(seq 100); do
	[ "$(mc queue --json 2>/dev/null)" = "[]" ] && break
	sleep 0.1
done
qwait=1
check "the queue empties" eval '[ "$(mc queue --json)" = "[]" ] && qwait=15'
check "Postfix delivered both" ms_wait_delivered alice 4 "$qwait"
run 0 "fetch them" fetch alice --json
check "both are in the Inbox" \
	eval 'arrived "rotation three" && arrived "rotation wrong"'

# --- 6. secrets never logged, never in a result -------------------------------
run 0 "status --json" status --json
run 0 "queue --json" queue --json
check "the daemon log is not empty" test -s "$T/daemon.log"
for pw in $ALL_PW; do
	check "the daemon log never holds ${pw%%-*}'s password" \
		eval '! grep -qF -- "$pw" "$T/daemon.log"'
	check "no RPC answer holds ${pw%%-*}'s password" \
		eval '! grep -qF -- "$pw" "$T/rpc.log"'
done

# The servers' logs, for a look with MAILCTL_TEST_KEEP=1 (the harness's
# directory is gone at exit).
cp "$(ms_log dovecot)" "$(ms_log postfix)" "$T/" 2>/dev/null

# --- 7. still serving ---------------------------------------------------------
run 0 "the daemon still answers status" status
contains "$OUT" "alice" "status names the account"
stop_daemon
check "clean exit" test "$DAEMON_RC" -eq 0
