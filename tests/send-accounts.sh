#!/bin/bash
# Which account sends, against a real Postfix (STARTTLS + AUTH through
# Dovecot), with two accounts, alice (the default) and bob (an alias
# robert@, save_sent false):
#   sendmail -f bob@ logs in as bob (Postfix logs sasl_username=bob), and a
#   message without From gets bob's; a From of bob's alias picks bob too; a
#   From no account owns goes out from the default, alice; --account
#   overrides; bob's sent mail is not filed into Sent (save_sent false),
#   alice's is; send --to takes RFC 5322 address lists, names kept in To.
. "$(dirname "$0")/lib.sh"
use_mail_servers
command -v postfix >/dev/null || skip_all "postfix is not installed (tests/servers/install-deps)"
ms_add_user alice 'alice-Pw1'
ms_add_user bob 'bob-Pw2'
ms_add_user carol 'carol-Pw3'
ms_start >/dev/null || bail "cannot start dovecot and postfix"

acct() {	# NAME PASSWORD EXTRA-JSON
	printf '{"name":"%s","email":"%s@mail.test","display_name":"%s B.","smtp":{"host":"127.0.0.1","port":%s,"tls":"starttls","ca_file":"%s","user":"%s","password":"%s","timeout":20}%s}' \
		"$1" "$1" "${1^}" "$MS_SMTP_PORT" "$MS_CA_FILE" "$1" "$2" "$3"
}
write_config "$T/config.json" "$(acct alice alice-Pw1 ''),$(acct bob bob-Pw2 ',"aliases":["robert@mail.test"],"default":false,"save_sent":false')"
python3 - "$T/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["accounts"][0]["default"] = True
json.dump(c, open(sys.argv[1], "w"))
PY
start_daemon "$T/config.json"
PLOG=$(ms_log postfix)

# sasl_logins USER: how many logins Postfix logged for USER.
sasl_logins() { grep -c "sasl_username=$1\$" "$PLOG" 2>/dev/null || true; }
# sendmail_to SUBJECT FROM-HEADER [ARGS...]: pipe a message to sendmail.
sendmail_to() {
	local subject=$1 from=$2; shift 2
	{ [ -n "$from" ] && echo "From: $from"
	  echo "To: carol@mail.test"; echo "Subject: $subject"; echo
	  echo "body of $subject"; } | timeout 60 "$MAILCTL" --socket "$SOCK" \
		sendmail "$@" carol@mail.test
}
# delivered SUBJECT [USER]: print the delivered copy's file in USER's
# (carol's) Maildir, waiting up to 20 s.
delivered() {
	local f
	for _ in $(seq 200); do
		f=$(grep -l "^Subject: $1\$" "$(ms_maildir "${2:-carol}")"/new/* 2>/dev/null | head -1)
		[ -n "$f" ] && { echo "$f"; return 0; }
		sleep 0.1
	done
	return 1
}
wait_queue_empty() {
	for _ in $(seq 300); do
		[ "$(mailctl queue --json 2>/dev/null)" = "[]" ] && return 0
		sleep 0.1
	done
	return 1
}

b0=$(sasl_logins bob) a0=$(sasl_logins alice)
check "sendmail -f bob@, no From: queued" sendmail_to one "" -f bob@mail.test
check "it went out" wait_queue_empty
F=$(delivered one) || F=/nonexistent
check "carol has it" test -f "$F"
check "it got bob's From" grep -q '^From: "Bob B." <bob@mail.test>$' "$F"
check "and a Date and a Message-ID" eval 'grep -q "^Date: " "$F" && grep -q "^Message-ID: <.*@mail.test>" "$F"'
check "Postfix logged in bob (sasl_username=bob)" test "$(sasl_logins bob)" -gt "$b0"
check "not alice" test "$(sasl_logins alice)" -eq "$a0"

b0=$(sasl_logins bob)
check "From: bob's alias, no -f: queued" sendmail_to two "Robert <robert@mail.test>"
check "it went out" wait_queue_empty
check "as bob" test "$(sasl_logins bob)" -gt "$b0"
F=$(delivered two) || F=/nonexistent
check "its From is kept" grep -q '^From: Robert <robert@mail.test>$' "$F"

a0=$(sasl_logins alice) b0=$(sasl_logins bob)
check "From: a stranger: queued" sendmail_to three "stranger@else.test"
check "it went out" wait_queue_empty
check "from the default account, alice" test "$(sasl_logins alice)" -gt "$a0"
check "not bob" test "$(sasl_logins bob)" -eq "$b0"

b0=$(sasl_logins bob)
check "--account bob with alice's From: queued" \
	sendmail_to four "alice@mail.test" --account bob
check "it went out" wait_queue_empty
check "as bob, as asked" test "$(sasl_logins bob)" -gt "$b0"

expect_rc 0 "ls Sent --json" mailctl ls Sent --json
jcheck "alice's Sent holds three (save_sent), bob's none (save_sent false)" \
	"sorted(m['account'] for m in j) == ['alice']"
# RFC 5322 address lists on send: names, a quoted comma, two --to, a Bcc
# with a name; each delivered, the names in To, no Bcc in any header.
check "send --to 'Carol <carol@…>, \"Bob, B.\" <bob@…>': queued" \
	mailctl send --account bob --to 'Carol <carol@mail.test>, "Bob, B." <bob@mail.test>' \
	--to 'team: Ann <carol@mail.test>;' --bcc 'Secret Al <alice@mail.test>' \
	--subject five --body 'to a list'
check "it went out" wait_queue_empty
F=$(delivered five) || F=/nonexistent
check "carol has it" test -f "$F"
check "bob has it" delivered five bob
check "alice (Bcc) has it" delivered five alice
check "carol got one copy (listed twice, sent once)" \
	test "$(grep -l "^Subject: five\$" "$(ms_maildir carol)"/new/* | wc -l)" -eq 1
check "Python's email package reads To as the names and addresses given" \
	python3 - "$F" <<'PY'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
got = [(a.display_name, a.addr_spec) for a in m["To"].addresses]
want = [("Carol", "carol@mail.test"), ("Bob, B.", "bob@mail.test"),
        ("Ann", "carol@mail.test")]
print("# To:", m["To"], got)
sys.exit(0 if got == want and m["Cc"] is None and m["Bcc"] is None else 1)
PY
check "the Bcc appears in no header" eval '! sed "/^\$/q" "$F" | grep -qi "alice\|Secret"'
expect_rc 65 "send --to 'Name a@b' (no angle brackets) is refused" \
	mailctl send --to 'Name carol@mail.test' --subject x --body y
contains "$ERR" "to[0]" "the error names the entry"
expect_rc 65 "send --to 'Team:;' (no address) is refused" \
	mailctl send --to 'Team:;' --subject x --body y
contains "$ERR" "no address" "the error says there is no address"

check "no file left in the queue directory" eval '[ -z "$(ls -A "$T/data/queue")" ]'
expect_rc 0 "the daemon answers" mailctl status
stop_daemon
check "clean stop" test "$DAEMON_RC" -eq 0
