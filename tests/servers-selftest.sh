#!/bin/bash
# Self-test of tests/servers/mailservers.sh: start a real Dovecot and a real
# Postfix on 127.0.0.1 and check them with Python's stdlib clients (poplib,
# imaplib, smtplib, ssl), so a later test failure is never the harness's
# fault.
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
import email, hashlib, imaplib, json, os, poplib, smtplib, socket, ssl, sys
import time, uuid

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


# --- IMAP -------------------------------------------------------------------

IMAP_CAPS = ("IDLE", "UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC")
IMAP_STATE = os.path.join(E["MS_DIR"], "imap-state.json")


def injected(name):
    with open(os.path.join(E["MS_DIR"], "msgs", name), "rb") as f:
        return f.read()


def crlf_to_lf(data):
    """Dovecot sends CRLF whatever the Maildir holds: compare as LF."""
    return data.replace(b"\r\n", b"\n")


def imap_login(m, user="alice"):
    """Log in; fail unless CAPABILITY (asked again after login) is full."""
    m.login(user, "alice-Secret1")
    caps = m.capability()[1][0].decode().upper().split()
    missing = [c for c in IMAP_CAPS if c not in caps]
    if missing:
        fail("CAPABILITY lacks %s: %s" % (" ".join(missing), " ".join(caps)))
    return caps


def imap_fetch(m, uid, items):
    """UID FETCH one message: return (response line, literal or None)."""
    typ, data = m.uid("FETCH", str(uid), "(%s)" % items)
    if typ != "OK" or not data or data[0] is None:
        fail("UID FETCH %s %s: %s %r" % (uid, items, typ, data))
    if isinstance(data[0], tuple):
        return data[0][0], data[0][1]
    return data[0], None


def imap_body(m, uid):
    return imap_fetch(m, uid, "BODY.PEEK[]")[1]


def imap_uids(m):
    typ, data = m.uid("SEARCH", "ALL")
    return [int(u) for u in data[0].split()]


def imap_plain():
    m = imaplib.IMAP4(HOST, port("IMAP"), timeout=10)
    if "STARTTLS" not in m.capabilities:
        fail("STARTTLS not offered: %r" % (m.capabilities,))
    if "LOGINDISABLED" in m.capabilities:
        fail("LOGIN disabled in clear")
    caps = imap_login(m)
    n = int(m.select("INBOX")[1][0])
    for uid, name in enumerate(("m1", "m2", "m3"), 1):
        got = imap_body(m, uid)
        if crlf_to_lf(got) != injected(name):
            fail("UID %d differs from injected %s: %r" % (uid, name, got))
    m.logout()
    ok("IMAP plain LOGIN in clear, %d messages, UIDs 1-3 are the injected "
       "files, byte for byte (CRLF -> LF); %d capabilities include %s"
       % (n, len(caps), " ".join(IMAP_CAPS)))


def imap_starttls():
    m = imaplib.IMAP4(HOST, port("IMAP"), timeout=10)
    m.starttls(ssl_context=ctx())
    imap_login(m, "alice@mail.test")
    n = int(m.select("INBOX", readonly=True)[1][0])
    m.logout()
    ok("IMAP STARTTLS, certificate verified for 127.0.0.1, login as "
       "alice@mail.test, EXISTS=%d" % n)


def imaps():
    m = imaplib.IMAP4_SSL("localhost", port("IMAPS"), ssl_context=ctx(),
                          timeout=10)
    imap_login(m)
    m.logout()
    ok("IMAPS, certificate verified for localhost")


def imap_wrongpass():
    m = imaplib.IMAP4(HOST, port("IMAP"), timeout=10)
    try:
        m.login("alice", "not-the-password")
    except imaplib.IMAP4.error as e:
        ok("IMAP wrong password refused: %s" % str(e)[:40])
        return
    fail("IMAP wrong password accepted")


def imap_wrongname():
    try:
        imaplib.IMAP4_SSL(HOST, port("IMAPS_WRONG"), ssl_context=ctx(),
                          timeout=10)
    except ssl.SSLCertVerificationError:
        m = imaplib.IMAP4(HOST, port("IMAP_WRONG"), timeout=10)
        try:
            m.starttls(ssl_context=ctx())
        except ssl.SSLCertVerificationError:
            ok("IMAPS and IMAP STARTTLS with the wrong.test certificate "
               "refused")
            return
    fail("certificate for wrong.test accepted by an IMAP client")


def imap_idle():
    """IDLE, mail through Postfix, time until "* N EXISTS"."""
    m = imaplib.IMAP4(HOST, port("IMAP"), timeout=10)
    imap_login(m)
    n0 = int(m.select("INBOX")[1][0])
    m.send(b"I1 IDLE\r\n")
    line = m.readline()
    if not line.startswith(b"+"):
        fail("IDLE refused: %r" % line)
    t0 = time.monotonic()
    submit("SMTP_PLAIN", ["alice@mail.test"], "none")
    t1, wall1 = time.monotonic(), time.time()
    while True:
        line = m.readline()
        if not line:
            fail("connection closed while idling")
        w = line.split()
        if len(w) == 3 and w[2] == b"EXISTS" and int(w[1]) > n0:
            break
        if time.monotonic() - t1 > 10:
            fail("no EXISTS 10 s after the mail was accepted")
    t2 = time.monotonic()
    m.send(b"DONE\r\n")
    while not line.startswith(b"I1 "):
        line = m.readline()
    if not line.startswith(b"I1 OK"):
        fail("IDLE ended with %r" % line)
    m.logout()
    if t2 - t1 > 5:
        fail("IDLE took %.2f s to report the new mail" % (t2 - t1))
    # When virtual(8) wrote the file: the rest is Dovecot's (inotify, then
    # a 500 ms delay that gathers changes before it tells the client).
    md = os.path.join(E["MS_DIR"], "mail", "alice")
    wrote = max(os.stat(os.path.join(md, d, f)).st_mtime
                for d in ("new", "cur") for f in os.listdir(os.path.join(md, d)))
    ok("IDLE: * %d EXISTS %.0f ms after Postfix accepted the mail (file "
       "written into the Maildir after %.0f ms; %.0f ms from the SMTP "
       "connect)" % (n0 + 1, (t2 - t1) * 1000, (wrote - wall1) * 1000,
                     (t2 - t0) * 1000))


def imap_flags(uid, want):
    """Check that UID uid does (want "yes") or does not have \\Seen."""
    m = imaplib.IMAP4(HOST, port("IMAP"), timeout=10)
    imap_login(m)
    m.select("INBOX", readonly=True)
    line = imap_fetch(m, uid, "FLAGS")[0]
    m.logout()
    if (b"\\Seen" in line) != (want == "yes"):
        fail("UID %s: %r" % (uid, line))
    ok("FETCH FLAGS of UID %s %s \\Seen: %s"
       % (uid, "has" if want == "yes" else "lacks", line.decode()))


def imap_mailbox_state(m):
    """Return UIDVALIDITY, then [uid, sha256, seen] in UID order."""
    m.select("INBOX", readonly=True)
    uv = int(m.response("UIDVALIDITY")[1][0])
    rows = []
    for uid in imap_uids(m):
        line, body = imap_fetch(m, uid, "FLAGS BODY.PEEK[]")
        rows.append([uid, hashlib.sha256(body).hexdigest(),
                     b"\\Seen" in line])
    return uv, rows


def imap_uidvalidity(what, first=None, printed=None):
    m = imaplib.IMAP4(HOST, port("IMAP"), timeout=10)
    imap_login(m)
    uv, rows = imap_mailbox_state(m)
    m.logout()
    if what == "save":
        with open(IMAP_STATE, "w") as f:
            json.dump([uv, rows], f)
        return
    with open(IMAP_STATE) as f:
        uv0, rows0 = json.load(f)
    if uv == uv0 or uv != int(printed):
        fail("UIDVALIDITY %d -> %d (ms_uidvalidity_reset said %s)"
             % (uv0, uv, printed))
    want = [[int(first) + k] + r[1:] for k, r in enumerate(rows0)]
    if rows != want:
        fail("after the reset %r, expected %r" % (rows, want))
    ok("UIDVALIDITY %d -> %d; the same %d messages (bodies, \\Seen) in the "
       "same order, UIDs %d-%d before, %d-%d after"
       % (uv0, uv, len(rows), rows0[0][0], rows0[-1][0], rows[0][0],
          rows[-1][0]))


def imap_folders():
    m = imaplib.IMAP4(HOST, port("IMAP"), timeout=10)
    imap_login(m)
    names = [l.decode().rsplit(' "/" ', 1)[1].strip('"')
             for l in m.list()[1]]
    subscribed = [l.decode().rsplit(' "/" ', 1)[1].strip('"')
                  for l in m.lsub()[1]]
    for folder, name in (("Archive", "m1"), ("Lists/test", "m2")):
        if folder not in names:
            fail("LIST lacks %s: %r" % (folder, names))
        n = int(m.select('"%s"' % folder, readonly=True)[1][0])
        if n != 1 or crlf_to_lf(imap_body(m, 1)) != injected(name):
            fail("%s: %d messages, or UID 1 is not %s" % (folder, n, name))
    m.logout()
    if "Archive" not in subscribed:
        fail("ms_imap_create did not subscribe Archive: %r" % subscribed)
    ok("folders listed (%s), subscribed (%s), each one's injected message "
       "fetched byte for byte" % (" ".join(names), " ".join(subscribed)))


globals()[sys.argv[1]](*sys.argv[2:])
EOF
check()
{
	python3 "$PY" "$@"
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
check imap_wrongname
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

step "IMAP (Dovecot)"
check imap_plain
check imap_starttls
check imaps
check imap_wrongpass
n=$(ms_deliver_count alice)
check imap_idle
ms_wait_delivered alice $((n + 1)) 20

step "doveadm, folders, UIDVALIDITY"
check imap_flags 1 no
ms_doveadm alice flags add '\Seen' mailbox INBOX uid 1
ms_doveadm alice fetch 'uid flags' mailbox INBOX uid 1 | grep -q 'Seen' ||
    { echo "FAIL: ms_doveadm fetch does not show the flag"; exit 1; }
check imap_flags 1 yes
ms_imap_create alice Archive
ms_inject_folder alice Archive "$MSGS/m1"
ms_inject_folder alice Lists/test "$MSGS/m2"
check imap_folders
check imap_uidvalidity save
uv=$(ms_uidvalidity_reset alice INBOX 100)
check imap_uidvalidity compare 100 "$uv"
