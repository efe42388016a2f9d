#!/bin/bash
# Self-test of tests/servers/mailservers.sh: start a real Dovecot and a real
# Postfix on 127.0.0.1 and check them with Python's stdlib clients (poplib,
# smtplib, ssl), so a later test failure is never the harness's fault.
#
# Automake test: exit 0 pass, 77 skip (not root, servers not installed),
# anything else fail. Install the servers with tests/servers/install-deps.
set -eu

# Speak TAP for the test driver: run the body through a filter that turns
# FAIL and SKIP lines into TAP and adds the plan.
if [ -z "${MS_TAP_WRAPPED:-}" ]; then
	export MS_TAP_WRAPPED=1
	bash "$0" "$@" 2>&1 | awk '
	    /^ok - / { n++ }
	    /^FAIL: / { print "not ok - " substr($0, 7); n++; next }
	    /^SKIP: / { print "1..0 # SKIP " substr($0, 7); skip = 1; next }
	    { print }
	    END { if (!skip) print "1.." n }'
	rc=${PIPESTATUS[0]}
	[ "$rc" = 77 ] && rc=0
	exit "$rc"
fi

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=servers/mailservers.sh
. "$HERE/servers/mailservers.sh"

skip()
{
	echo "SKIP: $*"
	exit 77
}

step()
{
	echo "== $*"
}

[ "$(id -u)" = 0 ] || skip "needs root to run dovecot and postfix"
for b in dovecot postfix openssl python3 setpriv flock; do
	command -v "$b" >/dev/null || PATH=$PATH:/usr/sbin command -v "$b" \
	    >/dev/null || skip "$b not installed (run tests/servers/install-deps)"
done
export PATH=$PATH:/usr/sbin

# Stop everything, then make sure no server process of this DIR is left.
finish()
{
	local rc=$? dir=${MS_DIR:-} left f
	if [ -n "$dir" ] && { [ "$rc" != 0 ] || [ -n "${MS_VERBOSE:-}" ]; }; then
		for f in "$dir"/log/*.log; do
			echo "--- $f"
			tail -n "${MS_VERBOSE:-30}" "$f"
		done
	fi
	ms_cleanup
	if [ -n "$dir" ]; then
		left=$(ms_pids)
		if [ -n "$left" ]; then
			echo "FAIL: processes of $dir still running:" >&2
			ps -o pid,args -p "$(echo "$left" | paste -sd,)" >&2
			rc=1
		elif [ -e "$dir" ]; then
			echo "FAIL: $dir not removed" >&2
			rc=1
		else
			echo "ok - cleanup left no process and no files"
		fi
	fi
	[ "$rc" = 0 ] && echo "PASS: servers-selftest" ||
	    echo "FAIL: servers-selftest (rc=$rc)"
	exit "$rc"
}
trap finish EXIT

step "setup and start"
# shellcheck disable=SC2119 # no DIR: ms_setup makes /tmp/ms.XXXXXX
ms_setup
ms_add_user alice 'alice-Secret1'
ms_add_user bob 'bob-Secret2'
ms_add_reject reject@mail.test
MSGS=$MS_DIR/msgs
mkdir -p "$MSGS"
for i in 1 2 3; do
	printf 'From: x@example.org\nSubject: injected %s\n\nbody %s\n' \
	    "$i" "$i" >"$MSGS/m$i"
done
ms_inject_dir alice "$MSGS"
[ "$(ms_deliver_count alice)" = 3 ] || { echo "inject failed"; exit 1; }
ms_start
echo "ok - dovecot pop3=$MS_POP3_PORT pop3s=$MS_POP3S_PORT;" \
    "postfix smtp=$MS_SMTP_PORT smtps=$MS_SMTPS_PORT" \
    "plain=$MS_SMTP_PLAIN_PORT in $MS_DIR"

# The Python checks, one function per step: python3 - STEP.
PY=$MS_DIR/check.py
cat >"$PY" <<'EOF'
import email, os, poplib, smtplib, socket, ssl, sys, uuid

E = os.environ
HOST = "127.0.0.1"
CA = E["MS_CA_FILE"]
STATE = os.path.join(E["MS_DIR"], "sent-body")


def ok(msg):
    print("ok - " + msg, flush=True)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def ctx():
    c = ssl.create_default_context(cafile=CA)
    # What Python 3.13 does by default: the certificate must pass too.
    c.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)
    return c


def port(name):
    return int(E["MS_%s_PORT" % name])


def pop3_plain():
    p = poplib.POP3(HOST, port("POP3"), timeout=10)
    p.user("alice")
    p.pass_("alice-Secret1")
    n, size = p.stat()
    if n != 3:
        fail("STAT says %d messages, expected 3" % n)
    uidls = [l.split()[1] for l in p.uidl()[1]]
    if len(uidls) != 3 or len(set(uidls)) != 3 or \
            any(len(u) != 16 for u in uidls):
        fail("bad UIDLs %r" % uidls)
    body = b"\n".join(p.retr(2)[1])
    if b"Subject: injected 2" not in body:
        fail("message 2 is not the second injected file")
    p.quit()
    ok("POP3 plain USER/PASS, STAT=%d (%d bytes), UIDL %s, injection order"
       % (n, size, uidls[0].decode()))


def pop3_stls():
    p = poplib.POP3(HOST, port("POP3"), timeout=10)
    p.stls(ctx())
    p.user("alice@mail.test")
    p.pass_("alice-Secret1")
    n = p.stat()[0]
    p.quit()
    ok("POP3 STLS, certificate verified for 127.0.0.1, login as "
       "alice@mail.test, STAT=%d" % n)


def pop3s():
    p = poplib.POP3_SSL("localhost", port("POP3S"), context=ctx(), timeout=10)
    p.user("alice")
    p.pass_("alice-Secret1")
    p.quit()
    ok("POP3S, certificate verified for localhost")


def pop3_untrusted():
    try:
        poplib.POP3_SSL(HOST, port("POP3S"), timeout=10,
                        context=ssl.create_default_context())
    except ssl.SSLCertVerificationError:
        ok("POP3S certificate refused without MS_CA_FILE")
        return
    fail("the system store trusted the test certificate")


def pop3_wrongpass():
    p = poplib.POP3(HOST, port("POP3"), timeout=10)
    p.user("alice")
    try:
        p.pass_("not-the-password")
    except poplib.error_proto as e:
        ok("wrong password refused: %s" % e.args[0].decode()[:40])
        return
    fail("wrong password accepted")


def pop3_wrongname():
    try:
        poplib.POP3_SSL(HOST, port("POP3S_WRONG"), context=ctx(), timeout=10)
    except ssl.SSLCertVerificationError as e:
        if "match" not in str(e) and "mismatch" not in str(e):
            fail("unexpected verification error: %s" % e)
        c = ctx()
        c.check_hostname = False
        poplib.POP3_SSL(HOST, port("POP3S_WRONG"), context=c,
                        timeout=10).quit()
        ok("wrong.test certificate: chain trusted, name refused")
        return
    fail("certificate for wrong.test accepted for 127.0.0.1")


def smtp_wrongname():
    try:
        smtplib.SMTP_SSL(HOST, port("SMTPS_WRONG"), context=ctx(), timeout=10)
    except ssl.SSLCertVerificationError:
        s = smtplib.SMTP(HOST, port("SMTP_WRONG"), timeout=10)
        try:
            s.starttls(context=ctx())
        except ssl.SSLCertVerificationError:
            ok("SMTPS and STARTTLS with the wrong.test certificate refused")
            return
    fail("certificate for wrong.test accepted by an SMTP client")


def submit(port_name, rcpts, tls):
    if tls == "implicit":
        s = smtplib.SMTP_SSL(HOST, port(port_name), context=ctx(), timeout=10)
    else:
        s = smtplib.SMTP(HOST, port(port_name), timeout=10)
        s.ehlo("client.test")
        if tls == "starttls":
            if s.has_extn("auth"):
                fail("AUTH offered before STARTTLS")
            s.starttls(context=ctx())
    s.ehlo("client.test")
    s.user, s.password = "alice", "alice-Secret1"
    code, resp = s.auth("PLAIN", s.auth_plain)
    token = uuid.uuid4().hex
    msg = ("From: Alice <alice@mail.test>\r\nTo: %s\r\n"
           "Subject: selftest %s\r\nMessage-ID: <%s@client.test>\r\n\r\n"
           "Hello %s.\r\nSecond line.\r\n.leading dot\r\n"
           % (", ".join(rcpts), token, token, token))
    refused = s.sendmail("alice@mail.test", rcpts, msg)
    s.quit()
    if refused:
        fail("refused: %r" % refused)
    return token


def smtp_send():
    token = submit("SMTP", ["alice@mail.test", "bob@mail.test"], "starttls")
    with open(STATE, "w") as f:
        f.write(token)
    ok("SMTP submission: STARTTLS verified, AUTH PLAIN, one mail to "
       "alice and bob")
    submit("SMTPS", ["someone@example.org"], "implicit")
    ok("SMTPS (implicit TLS) AUTH + mail to an outside address")
    submit("SMTP_PLAIN", ["bob@mail.test"], "none")
    ok("SMTP without TLS on MS_SMTP_PLAIN_PORT, AUTH PLAIN")


def fetch_back():
    token = open(STATE).read()
    p = poplib.POP3(HOST, port("POP3"), timeout=10)
    p.user("bob")
    p.pass_("bob-Secret2")
    found = None
    for i in range(1, p.stat()[0] + 1):
        m = email.message_from_bytes(b"\r\n".join(p.retr(i)[1]) + b"\r\n")
        if m["Message-ID"] == "<%s@client.test>" % token:
            found = m
    p.quit()
    if found is None:
        fail("sent message not found in bob's POP3 mailbox")
    want = "Hello %s.\r\nSecond line.\r\n.leading dot\r\n" % token
    if found.get_payload() != want:
        fail("body differs: %r" % found.get_payload())
    ok("fetched back over POP3 with an identical body")


def rcpt_code(authenticated, rcpt):
    s = smtplib.SMTP(HOST, port("SMTP"), timeout=10)
    s.starttls(context=ctx())
    s.ehlo("client.test")
    if authenticated:
        s.login("alice", "alice-Secret1")
    s.mail("alice@mail.test")
    code, resp = s.rcpt(rcpt)
    s.quit()
    return code, resp.decode()


def smtp_refusals():
    for rcpt in ("someone@example.org", "bob@mail.test"):
        code, resp = rcpt_code(False, rcpt)
        if code < 500:
            fail("unauthenticated RCPT %s got %d" % (rcpt, code))
        ok("unauthenticated RCPT TO:<%s> refused: %d %s"
           % (rcpt, code, resp[:30]))
    code, resp = rcpt_code(True, "reject@mail.test")
    if code != 550:
        fail("reject@mail.test got %d %s" % (code, resp))
    ok("ms_add_reject recipient refused: %d %s" % (code, resp[:30]))
    code, resp = rcpt_code(True, "nobody@mail.test")
    if code != 550:
        fail("unknown user got %d %s" % (code, resp))
    ok("unknown mail.test user refused: %d" % code)


def smtp_down():
    try:
        socket.create_connection((HOST, port("SMTP")), timeout=5)
    except ConnectionRefusedError:
        ok("postfix stopped: connection refused")
        return
    fail("port still accepts connections")


def smtp_again():
    submit("SMTP", ["alice@mail.test"], "starttls")
    ok("postfix restarted: submission works again")


def smtp_newuser():
    submit("SMTP", ["carol@mail.test"], "starttls")
    ok("user added while postfix runs: accepted")


globals()[sys.argv[1]]()
EOF
check()
{
	python3 "$PY" "$1"
}

step "POP3 (Dovecot)"
check pop3_plain
check pop3_stls
check pop3s
check pop3_untrusted
check pop3_wrongpass

step "certificate for another name"
ms_start_dovecot_wrong
check pop3_wrongname
ms_stop_dovecot_wrong
check smtp_wrongname

step "SMTP submission (Postfix) and delivery"
check smtp_send
ms_wait_delivered alice 4 20
ms_wait_delivered bob 2 20
ms_wait_delivered catchall 1 20
echo "ok - delivered: alice=$(ms_deliver_count alice)" \
    "bob=$(ms_deliver_count bob) catchall=$(ms_deliver_count catchall)"
check fetch_back
check smtp_refusals

step "stop and restart postfix in the same DIR"
ms_stop_postfix
[ -z "$(ms_pids postfix)" ] || { echo "FAIL: postfix left running"; exit 1; }
check smtp_down
ms_start_postfix
check smtp_again
ms_wait_delivered alice 5 20
echo "ok - delivered after restart: alice=$(ms_deliver_count alice)"

step "user added while the servers run"
ms_add_user carol 'carol-Secret3'
check smtp_newuser
ms_wait_delivered carol 1 20
echo "ok - delivered to carol"
