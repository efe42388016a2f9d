#!/bin/bash
# POP3 failures against real servers: wrong password, unknown host, refused
# port, a certificate for another name, an untrusted certificate, plaintext
# without TLS. Each is a clear error from mailctl fetch and in status; the
# daemon keeps running and serving, and no password goes out in clear.
. "$(dirname "$0")/lib.sh"
use_mail_servers

ms_add_user alice 'alice-Pw1'
python3 "$TOOLS/gen_messages.py" 3 "$T/src" --big 0
ms_inject_dir alice "$T/src" >/dev/null
ms_start_dovecot >/dev/null
ms_start_dovecot_wrong >/dev/null

# A port nothing listens on: bind one, note it, close it.
closed_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

ACCTS="$(pop3_account wrongpw alice not-the-password implicit "$MS_POP3S_PORT"),
{\"name\":\"nohost\",\"email\":\"a@mail.test\",\"pop3\":{\"host\":\"no-such-host.invalid\",\"port\":995,\"user\":\"a\",\"password\":\"x\",\"timeout\":20}},
$(pop3_account refused alice alice-Pw1 none "$closed_port"),
$(pop3_account wrongname alice alice-Pw1 implicit "$MS_POP3S_WRONG_PORT"),
$(pop3_account wrongname_stls alice alice-Pw1 starttls "$MS_POP3_WRONG_PORT"),
{\"name\":\"untrusted\",\"email\":\"a@mail.test\",\"pop3\":{\"host\":\"127.0.0.1\",\"port\":$MS_POP3S_PORT,\"user\":\"alice\",\"password\":\"alice-Pw1\"}},
{\"name\":\"pwcmd_fails\",\"email\":\"a@mail.test\",\"pop3\":{\"host\":\"127.0.0.1\",\"port\":$MS_POP3_PORT,\"tls\":\"none\",\"user\":\"alice\",\"password_command\":[\"sh\",\"-c\",\"echo oops >&2; exit 3\"]}},
{\"name\":\"pwcmd_hangs\",\"email\":\"a@mail.test\",\"pop3\":{\"host\":\"127.0.0.1\",\"port\":$MS_POP3_PORT,\"tls\":\"none\",\"user\":\"alice\",\"timeout\":2,\"password_command\":[\"sleep\",\"30\"]}},
{\"name\":\"pwcmd_missing\",\"email\":\"a@mail.test\",\"pop3\":{\"host\":\"127.0.0.1\",\"port\":$MS_POP3_PORT,\"tls\":\"none\",\"user\":\"alice\",\"password_command\":[\"/nonexistent/pass\"]}},
{\"name\":\"pwcmd\",\"email\":\"a@mail.test\",\"pop3\":{\"host\":\"127.0.0.1\",\"port\":$MS_POP3_PORT,\"tls\":\"none\",\"user\":\"alice\",\"password_command\":[\"sh\",\"-c\",\"printf 'alice-Pw1\\\\nsecond line\\\\n'\"]}},
{\"name\":\"good\",\"email\":\"a@mail.test\",\"pop3\":{\"host\":\"localhost\",\"port\":$MS_POP3S_PORT,\"ca_file\":\"$MS_CA_FILE\",\"user\":\"alice\",\"password\":\"alice-Pw1\"}}"
write_config "$T/config.json" "$ACCTS"
start_daemon "$T/config.json"

# fetch_fails ACCOUNT STATUS TEXT: the fetch fails with that exit status and
# an error containing TEXT.
fetch_fails() {
	expect_rc "$2" "fetch $1 fails" mailctl fetch "$1"
	contains "$ERR" "$3" "$1: error says \"$3\""
	check "$1: one line on stderr" test "$(wc -l <<<"$ERR")" -eq 1
}
fetch_fails wrongpw 1 'login failed: "-ERR [AUTH] Authentication failed."'
fetch_fails nohost 75 "cannot resolve no-such-host.invalid"
fetch_fails refused 75 "cannot connect to 127.0.0.1:$closed_port: Connection refused"
fetch_fails wrongname 1 "certificate verification failed: IP address mismatch"
fetch_fails wrongname_stls 1 "certificate verification failed: IP address mismatch"
fetch_fails untrusted 1 "certificate verification failed"
check "no password was sent to the wrong-name server" \
	eval '! grep -q "account=wrongname.*C: \(PASS\|AUTH\)" "$T/daemon.log"'

expect_rc 0 "the daemon still serves" mailctl status --json
for a in wrongpw nohost refused wrongname untrusted; do
	check "status shows the error of $a" \
		test -n "$(json "[a for a in j['accounts'] if a['name']=='$a'][0]['poll']['last_poll']['error']")"
done
check "status: error kinds" test "$(json "[a['poll']['last_poll']['error_kind'] for a in j['accounts'] if a['name'] in ('wrongpw','refused','wrongname')]")" = "['auth', 'network', 'tls']"
check "status: a network failure is retried sooner (next poll within 60 s)" \
	python3 -c "
import json,sys,datetime
j=json.loads(sys.argv[1]); a=[a for a in j['accounts'] if a['name']=='refused'][0]
n=datetime.datetime.strptime(a['poll']['next_poll'],'%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
sys.exit(0 if (n-datetime.datetime.now(datetime.timezone.utc)).total_seconds() < 60 else 1)" "$OUT"
fetch_fails pwcmd_fails 1 "password_command exited with status 3"
fetch_fails pwcmd_missing 1 'cannot run "/nonexistent/pass"'
t0=$(date +%s)
fetch_fails pwcmd_hangs 1 "password_command timed out"
check "the hanging password_command was stopped at its timeout" test $(( $(date +%s) - t0 )) -lt 10
# Killed at the timeout, then reaped when it exits: give a loaded machine
# a moment, and look only at the daemon's own children.
gone() {
	local i
	for i in $(seq 50); do
		pgrep -P "$DAEMON_PID" -f "^sleep 30$" >/dev/null || return 0
		sleep 0.1
	done
	return 1
}
check "and it is gone (killed and reaped)" gone
check "no zombie children" eval '! ps -o stat= --ppid "$DAEMON_PID" | grep -q Z'
expect_rc 0 "password_command: the first line of its output is the password" mailctl fetch pwcmd
contains "$OUT" "pwcmd: 3 new" "fetched with the password from the command"
expect_rc 0 "a good account still fetches" mailctl fetch good
contains "$OUT" "good: 3 new" "3 new for the good account"
check "daemon still running" kill -0 "$DAEMON_PID"
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0
