# shellcheck shell=bash
# mailservers.sh — run a REAL Dovecot (POP3 and IMAP) and a REAL Postfix
# (SMTP submission) on 127.0.0.1 for the integration tests, as root, without
# systemd or syslog, entirely from files in one temp directory.
#
# Source it; sourcing has no side effects. Install the servers first with
# tests/servers/install-deps. See tests/servers-selftest.sh for a full use.
#
#	. "$(dirname "$0")/servers/mailservers.sh"
#	[ "$(id -u)" = 0 ] && command -v dovecot >/dev/null || exit 77
#	ms_setup                       # or: ms_setup /tmp/ms.XXXXXX
#	trap ms_cleanup EXIT
#	ms_add_user alice secret
#	ms_inject_dir alice "$srcdir/tests/data/mails"
#	ms_start
#	... mailctl with host 127.0.0.1, port $MS_POP3S_PORT,
#	    tls "implicit", ca_file "$MS_CA_FILE", user alice ...
#	ms_wait_delivered alice 1 10
#
# Functions (all return non-zero with a message on stderr on failure):
#   ms_setup [DIR]          Prepare DIR (default: a new /tmp/ms.XXXXXX): the
#                           mail user, certificates, free ports, user
#                           "catchall". Exports the MS_* variables below
#                           (and adds /usr/sbin to PATH if missing).
#   ms_load DIR             Re-export the MS_* variables of an instance set
#                           up earlier (e.g. in another shell): DIR/ms.env.
#   ms_add_user NAME PASS   Dovecot passwd-file user NAME (POP3 and IMAP login
#                           NAME or NAME@mail.test) whose home is a Maildir
#                           (its INBOX; folders are Maildir++); Postfix
#                           delivers NAME@mail.test there. Before or after
#                           start (after: Postfix is reloaded).
#   ms_maildir NAME         Print NAME's Maildir path.
#   ms_add_reject ADDR      Make Postfix refuse RCPT TO:<ADDR> with a
#                           permanent "550 5.1.1". Before or after start.
#   ms_start_dovecot, ms_start_postfix, ms_start (both)
#                           Write the configs, start in the background, wait
#                           (at most MS_START_TIMEOUT s, default 15) until
#                           every port accepts connections. Postfix's AUTH
#                           needs the main Dovecot running.
#   ms_start_dovecot_wrong  A second Dovecot on MS_POP3_WRONG_PORT (STLS),
#                           MS_POP3S_WRONG_PORT, MS_IMAP_WRONG_PORT (STARTTLS)
#                           and MS_IMAPS_WRONG_PORT whose certificate is valid
#                           (signed by MS_CA_FILE) but names only wrong.test.
#   ms_stop_dovecot, ms_stop_dovecot_wrong, ms_stop_postfix, ms_stop
#                           Idempotent; wait until every process is gone.
#                           A stopped server can be started again.
#   ms_cleanup              ms_stop, release the ports, rm -rf DIR. Safe in
#                           an EXIT trap, and when ms_setup never ran.
#   ms_pids [WHICH]         PIDs of this DIR's processes; WHICH is dovecot,
#                           dovecot-wrong or postfix (default: all).
#   ms_inject NAME FILE...  Put message files straight into NAME's new/,
#                           owned by the mail user. UIDs follow the order
#                           given; file names carry S= and W= sizes so
#                           Dovecot never has to read them to answer STAT.
#                           Files are copied verbatim: use LF line ends,
#                           as in any Maildir (Dovecot sends CRLF).
#   ms_inject_dir NAME SRC  Same for every file of SRC, in name order (one
#                           python3 process: 50,000 messages in seconds).
#   ms_inject_folder NAME FOLDER FILE...
#                           ms_inject into IMAP folder FOLDER (not INBOX;
#                           letters, digits, " _-", "/" between levels) of
#                           NAME: Maildir++ .FOLDER/new ("Lists/a" is
#                           .Lists.a), created (unsubscribed) if missing.
#   ms_imap_create NAME FOLDER
#                           Create and subscribe IMAP folder FOLDER of NAME
#                           (doveadm mailbox create -s: Dovecot must run).
#                           Any name Dovecot takes, "/" between levels.
#   ms_doveadm NAME ARGS... Run "doveadm ARGS... -u NAME" with the main
#                           Dovecot's config; it must run (doveadm asks its
#                           auth process for NAME), e.g. ms_doveadm alice fetch
#                           'uid flags' mailbox INBOX; ms_doveadm alice flags
#                           add '\Seen' mailbox INBOX uid 2; ms_doveadm alice
#                           mailbox status 'uidvalidity uidnext' INBOX.
#                           doveadm's getopt takes -u from the end: put no
#                           "--" in ARGS.
#   ms_uidvalidity_reset NAME [FOLDER [FIRST_UID]]
#                           Give FOLDER (default INBOX) of NAME a new
#                           UIDVALIDITY (the old one + 1) with the same
#                           messages, flags included, renumbered from
#                           FIRST_UID (default 1) in their old order. Stops
#                           the main Dovecot if it runs (its IMAP sessions
#                           are cut, as a server rebuilding a mailbox would)
#                           and starts it again. Prints the new UIDVALIDITY.
#   ms_deliver_count NAME   Number of messages in NAME's new/ + cur/.
#   ms_wait_delivered NAME N TIMEOUT
#                           Wait up to TIMEOUT s until NAME has >= N messages.
#   ms_log WHICH            Print the log file path: dovecot, postfix, ...
#
# Exported by ms_setup:
#   MS_DIR            the instance directory
#   MS_DOMAIN         mail.test (users are NAME@mail.test)
#   MS_HOST           127.0.0.1 (the only address the servers listen on)
#   MS_CA_FILE        PEM to trust (clients' ca_file). It is the servers'
#                     own self-signed certificate, valid for IP:127.0.0.1,
#                     DNS:localhost and DNS:mail.test.
#   MS_WRONG_CERT, MS_WRONG_KEY
#                     a certificate signed by MS_CA_FILE for wrong.test only
#                     (the "certificate for another name" case).
#   MS_POP3_PORT      POP3, plain and STLS
#   MS_POP3S_PORT     POP3S (implicit TLS)
#   MS_SMTP_PORT      submission: STARTTLS required, then AUTH required
#   MS_SMTPS_PORT     submission over implicit TLS (port-465 style), AUTH
#   MS_SMTP_PLAIN_PORT submission without TLS, AUTH allowed in clear
#                     (for tls "none")
#   MS_SMTP_WRONG_PORT, MS_SMTPS_WRONG_PORT
#                     as MS_SMTP_PORT / MS_SMTPS_PORT but presenting the
#                     wrong.test certificate
#   MS_IMAP_PORT      IMAP, plain and STARTTLS (LOGIN allowed in clear, for
#                     tls "none"); IDLE sees new mail within about 1 s
#   MS_IMAPS_PORT     IMAPS (implicit TLS)
#   MS_POP3_WRONG_PORT, MS_POP3S_WRONG_PORT, MS_IMAP_WRONG_PORT,
#   MS_IMAPS_WRONG_PORT
#                     used by ms_start_dovecot_wrong
#   MS_VMAIL_USER     the system user owning the Maildirs
#
# IMAP (Dovecot 2.3): IMAP4rev1 with IDLE, UIDPLUS, MOVE, CONDSTORE, QRESYNC,
# ENABLE, LITERAL+, SPECIAL-USE...; "/" is the hierarchy separator; folders
# named Sent, Drafts, Trash and Junk get their special-use flag once
# created. Messages go out with CRLF line ends whatever the Maildir holds.
#
# Mail to any domain other than mail.test is never relayed: it lands in
# the Maildir of user "catchall" (password "catchall"), as do postmaster
# and bounces. Unknown users of mail.test are refused with 550.
#
# Several instances (different DIRs) can run at once: ports are reserved
# under /tmp/.ms-ports, and every name, socket and pid file is inside DIR.

MS_DOMAIN=mail.test
MS_HOST=127.0.0.1
MS_VMAIL_USER=mailctl-vmail
MS_START_TIMEOUT=${MS_START_TIMEOUT:-15}
MS_PORT_NAMES="POP3 POP3S SMTP SMTPS SMTP_PLAIN SMTP_WRONG SMTPS_WRONG
POP3_WRONG POP3S_WRONG IMAP IMAPS IMAP_WRONG IMAPS_WRONG"

# Print an error and fail.
ms__die()
{
	echo "mailservers: $*" >&2
	return 1
}

# Fail unless ms_setup or ms_load ran in this shell.
ms__need()
{
	if [ -z "${MS_DIR:-}" ] || [ ! -f "$MS_DIR/ms.env" ]; then
		ms__die "no instance: call ms_setup DIR first"
	fi
}

# Set mtimes a minute into the past: Postfix programs pause about 2 s
# when main.cf or a lookup table changed within the last seconds.
ms__age()
{
	touch -d "@$(($(date +%s) - 60))" "$@"
}

# --- setup ------------------------------------------------------------------

# Create the system user owning the Maildirs. Dovecot refuses to access
# mail as uid 0, and Postfix's virtual(8) refuses to deliver as root.
# flock: parallel tests would otherwise race on /etc/passwd's lock.
ms__vmail_user()
{
	id -u "$MS_VMAIL_USER" >/dev/null 2>&1 && return 0
	(
		flock 9
		id -u "$MS_VMAIL_USER" >/dev/null 2>&1 ||
		    useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin "$MS_VMAIL_USER"
	) 9>/run/lock/mailservers-useradd.lock
}

# Check that the dovecot, postfix and mail users can reach DIR: login and
# auth processes run as those users and open sockets and Maildirs there.
ms__check_reachable()
{
	local u
	[ "${#MS_DIR}" -le 40 ] ||
	    ms__die "$MS_DIR: path too long (UNIX sockets max 108 bytes)" ||
	    return 1
	for u in dovecot postfix "$MS_VMAIL_USER"; do
		setpriv --reuid="$u" --regid="$u" --clear-groups \
		    test -x "$MS_DIR" ||
		    ms__die "$MS_DIR: not traversable by user $u" || return 1
	done
}

# Make the self-signed server certificate (also the CA clients trust) and
# a certificate it signs for wrong.test only. Extensions are explicit
# (SKID/AKID, key usages) so strict verifiers (Python 3.13's
# VERIFY_X509_STRICT, OpenSSL 3) accept them.
ms__make_certs()
{
	local t=$MS_DIR/tls
	mkdir -p "$t" && chmod 755 "$t"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -days 3650 -subj "/CN=mail.test" \
	    -keyout "$t/key.pem" -out "$t/cert.pem" \
	    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:mail.test" \
	    -addext "keyUsage=critical,digitalSignature,keyCertSign" \
	    -addext "extendedKeyUsage=serverAuth" \
	    >"$t/openssl.log" 2>&1 ||
	    ms__die "openssl req failed: $(cat "$t/openssl.log")" || return 1
	cat >"$t/wrong.ext" <<-EOF
	basicConstraints=critical,CA:FALSE
	keyUsage=critical,digitalSignature
	extendedKeyUsage=serverAuth
	subjectKeyIdentifier=hash
	authorityKeyIdentifier=keyid
	subjectAltName=DNS:wrong.test
	EOF
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -subj "/CN=wrong.test" -keyout "$t/wrong-key.pem" \
	    -out "$t/wrong.csr" >>"$t/openssl.log" 2>&1 &&
	openssl x509 -req -in "$t/wrong.csr" -days 3650 -CA "$t/cert.pem" \
	    -CAkey "$t/key.pem" -CAcreateserial -extfile "$t/wrong.ext" \
	    -out "$t/wrong-cert.pem" >>"$t/openssl.log" 2>&1 ||
	    ms__die "openssl (wrong cert) failed: $(cat "$t/openssl.log")" ||
	    return 1
	chmod 600 "$t"/*key.pem
	chmod 644 "$t"/*cert.pem
}

# Print the lowest ephemeral port: listening ports are picked below it so
# that no outgoing connection can hold them.
ms__ephemeral_low()
{
	local low
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	echo "${low:-32768}"
}

# Succeed when something listens on TCP port $1 (any address).
ms__port_listening()
{
	local hex
	hex=$(printf ':%04X' "$1")
	awk -v h="$hex" '$4 == "0A" && substr($2, length($2) - 4) == h \
	    { found = 1 } END { exit !found }' /proc/net/tcp /proc/net/tcp6
}

# Reserve a free port for this DIR and print it. The reservation is a
# symlink /tmp/.ms-ports/PORT -> DIR, created atomically; it is stale
# (and reusable) once DIR is gone.
ms__reserve_port()
{
	local lo=20000 hi p link
	hi=$(($(ms__ephemeral_low) - 1))
	[ "$hi" -gt $((lo + 1000)) ] || lo=10000
	mkdir -p /tmp/.ms-ports
	for _ in $(seq 200); do
		p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
		link=/tmp/.ms-ports/$p
		[ -L "$link" ] && [ ! -e "$link" ] && rm -f "$link"
		ms__port_listening "$p" && continue
		ln -s "$MS_DIR" "$link" 2>/dev/null || continue
		echo "$p"
		return 0
	done
	ms__die "no free port found"
}

# Reserve every port and export MS_<NAME>_PORT.
ms__pick_ports()
{
	local n p
	for n in $MS_PORT_NAMES; do
		p=$(ms__reserve_port) || return 1
		export "MS_${n}_PORT=$p"
	done
}

# Release this DIR's port reservations, and stale ones (DIR gone).
ms__release_ports()
{
	local l
	for l in /tmp/.ms-ports/*; do
		[ -L "$l" ] || continue
		if [ "$(readlink "$l")" = "$MS_DIR" ] || [ ! -e "$l" ]; then
			rm -f "$l"
		fi
	done
	return 0
}

# Write DIR/ms.env so that another shell can ms_load the instance.
ms__write_env()
{
	local n v
	{
		for n in MS_DIR MS_DOMAIN MS_HOST MS_CA_FILE MS_WRONG_CERT \
		    MS_WRONG_KEY MS_VMAIL_USER; do
			printf 'export %s=%q\n' "$n" "${!n}"
		done
		for n in $MS_PORT_NAMES; do
			v=MS_${n}_PORT
			printf 'export %s=%q\n' "$v" "${!v}"
		done
	} >"$MS_DIR/ms.env"
}

# Prepare an instance directory; see the header.
ms_setup()
{
	local dir=${1:-}
	[ "$(id -u)" = 0 ] || ms__die "ms_setup must run as root" || return 1
	# dovecot, postfix and useradd live in sbin, missing from some PATHs.
	case :$PATH: in
	*:/usr/sbin:*) ;;
	*) PATH=$PATH:/usr/sbin:/sbin ;;
	esac
	if [ -z "$dir" ]; then
		dir=$(mktemp -d /tmp/ms.XXXXXX) || return 1
	fi
	mkdir -p "$dir" && chmod 755 "$dir" || return 1
	export MS_DIR
	MS_DIR=$(cd "$dir" && pwd -P) || return 1
	export MS_DOMAIN MS_HOST MS_VMAIL_USER
	export MS_CA_FILE=$MS_DIR/tls/cert.pem
	export MS_WRONG_CERT=$MS_DIR/tls/wrong-cert.pem
	export MS_WRONG_KEY=$MS_DIR/tls/wrong-key.pem
	ms__vmail_user || return 1
	ms__check_reachable || return 1
	mkdir -p "$MS_DIR/log" "$MS_DIR/mail" "$MS_DIR/dovecot" \
	    "$MS_DIR/postfix" "$MS_DIR/seq" || return 1
	chmod 755 "$MS_DIR/mail" "$MS_DIR/dovecot" "$MS_DIR/postfix"
	ms__make_certs || return 1
	ms__pick_ports || return 1
	: >"$MS_DIR/postfix/vmailbox"
	: >"$MS_DIR/postfix/reject"
	ms__write_env
	ms_add_user catchall catchall
}

# Re-export the variables of instance DIR.
ms_load()
{
	[ -f "$1/ms.env" ] || ms__die "$1: not an instance directory" ||
	    return 1
	# shellcheck disable=SC1091
	. "$1/ms.env"
}

# --- users ------------------------------------------------------------------

# Print NAME's Maildir.
ms_maildir()
{
	echo "$MS_DIR/mail/$1"
}

# Replace the line of file $1 starting with $2 by $3 (append if absent).
ms__set_line()
{
	local f=$1 key=$2 line=$3
	awk -v k="$key" -v l="$line" 'index($0, k) == 1 { next } { print }
	    END { print l }' "$f" >"$f.new" && mv "$f.new" "$f"
}

# Add (or change the password of) a user; see the header.
ms_add_user()
{
	local name=$1 pass=$2 md uid gid users
	ms__need || return 1
	case $name$pass in
	*:* | *' '* | */* | '') ms__die "bad user name or password" ||
	    return 1 ;;
	esac
	md=$(ms_maildir "$name")
	uid=$(id -u "$MS_VMAIL_USER") gid=$(id -g "$MS_VMAIL_USER")
	mkdir -p "$md/cur" "$md/new" "$md/tmp"
	chown -R "$uid:$gid" "$md" && chmod 700 "$md" "$md/cur" "$md/new" \
	    "$md/tmp"
	# The auth process runs as "dovecot": the file must be readable by
	# its group, and by nobody else (plain-text passwords).
	users=$MS_DIR/dovecot/users
	[ -f "$users" ] || install -m 640 -g dovecot /dev/null "$users"
	ms__set_line "$users" "$name:" \
	    "$name:{PLAIN}$pass:$uid:$gid::$md::"
	chgrp dovecot "$users" && chmod 640 "$users"
	ms__set_line "$MS_DIR/postfix/vmailbox" "$name@$MS_DOMAIN " \
	    "$name@$MS_DOMAIN $name/"
	ms__postfix_changed
}

# Make Postfix refuse ADDR with 550; see the header.
ms_add_reject()
{
	local addr=$1
	ms__need || return 1
	ms__set_line "$MS_DIR/postfix/reject" "$addr " \
	    "$addr 550 5.1.1 <$addr>: Recipient address rejected (test)"
	ms__postfix_changed
}

# After a map changed: age it, and make a running Postfix re-read it
# (texthash tables are read once when each process starts).
ms__postfix_changed()
{
	ms__age "$MS_DIR"/postfix/*
	if ms__running postfix; then
		postfix -c "$MS_DIR/postfix" reload \
		    >>"$(ms_log postfix-ctl)" 2>&1 || true
		# reload is asynchronous: idle smtpd processes exit at once,
		# new ones read the new tables.
		sleep 0.5
	fi
	return 0
}

# --- processes --------------------------------------------------------------

# Print the log file of WHICH.
ms_log()
{
	echo "$MS_DIR/log/$1.log"
}

# Print the PIDs of this DIR's server processes (WHICH or all), found in
# /proc, so that children left behind by a dead master are found too.
ms_pids()
{
	case ${1:-} in
	postfix) ms__pids_postfix ;;
	dovecot | dovecot-wrong) ms__pids_dovecot "$1" ;;
	*) ms__pids_postfix; ms__pids_dovecot dovecot
	    ms__pids_dovecot dovecot-wrong ;;
	esac
	return 0
}

# Postfix processes carry MS_TAG=DIR:postfix in their environment
# (import_environment in main.cf).
ms__pids_postfix()
{
	local files=(/proc/[0-9]*/environ)
	grep -lzxF -- "MS_TAG=$MS_DIR:postfix" "${files[@]}" 2>/dev/null |
	    cut -d/ -f3
	return 0
}

# Dovecot overwrites its environment with its process title, so match the
# title instead: "dovecot-INSTANCE/service", and the master's command line
# "dovecot -c DIR/dovecot/WHICH.conf". The file list is expanded here, not
# in the forked grep, which would otherwise find the pattern in its own
# command line.
ms__pids_dovecot()
{
	local files=(/proc/[0-9]*/cmdline)
	grep -laF -e "dovecot-$(ms__instance "$1")/" \
	    -e "$MS_DIR/dovecot/$1.conf" "${files[@]}" 2>/dev/null |
	    cut -d/ -f3
	return 0
}

# Print the Dovecot instance_name of WHICH: unique per DIR.
ms__instance()
{
	local t=${MS_DIR//\//_}
	echo "ms$t-$1"
}

# Succeed when the master of WHICH runs.
ms__running()
{
	local pid
	pid=$(ms__master_pid "$1") && [ -n "$pid" ] && ms__alive "$pid"
}

# Succeed when process $1 exists and is not a zombie. A killed daemon's
# master is an orphan of pid 1, which may reap it only seconds later:
# kill -0 would still succeed on it.
ms__alive()
{
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# Print the master PID recorded by WHICH (empty if none).
ms__master_pid()
{
	local f
	case $1 in
	dovecot) f=$MS_DIR/dr/master.pid ;;
	dovecot-wrong) f=$MS_DIR/dw/master.pid ;;
	postfix) f=$MS_DIR/pq/pid/master.pid ;;
	esac
	[ -f "$f" ] && tr -d ' \n' <"$f"
	return 0
}

# Wait until TCP port $2 on 127.0.0.1 accepts connections; on timeout,
# show the end of the log of $1.
ms__wait_port()
{
	local which=$1 port=$2
	for _ in $(seq $((MS_START_TIMEOUT * 10))); do
		if (exec 3<>"/dev/tcp/$MS_HOST/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "mailservers: $which: port $port not accepting connections" \
	    "after ${MS_START_TIMEOUT}s; end of its logs:" >&2
	tail -n 30 "$MS_DIR/log/$which"*.log >&2
	return 1
}

# Stop WHICH: SIGTERM to its master, then wait until every tagged process
# is gone (SIGKILL after 10 s). Idempotent.
ms__stop()
{
	local which=$1 pid left orphaned=0
	ms__need 2>/dev/null || return 0
	pid=$(ms__master_pid "$which")
	# Only a PID that is still ours: a stale pid file may name a
	# recycled, unrelated process.
	if [ -n "$pid" ] && ms_pids "$which" | grep -qx "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
	fi
	for _ in $(seq 100); do
		left=$(ms_pids "$which")
		[ -z "$left" ] && return 0
		# Dovecot's master exits, but its auth process stays as long
		# as Postfix's smtpd processes keep their SASL connections
		# open (up to max_idle, 100 s), and log and stats with it.
		# A second after the master is gone, those orphans are told
		# to go too.
		if [ "$which" != postfix ] && ! ms__running "$which"; then
			orphaned=$((orphaned + 1))
			# shellcheck disable=SC2086
			[ "$orphaned" != 10 ] || kill -TERM $left 2>/dev/null ||
			    true
		fi
		sleep 0.1
	done
	echo "mailservers: $which did not stop; killing $left" >&2
	# shellcheck disable=SC2086
	kill -KILL $left 2>/dev/null || true
	sleep 0.2
	return 0
}

ms_stop_dovecot() { ms__stop dovecot; }
ms_stop_dovecot_wrong() { ms__stop dovecot-wrong; }
ms_stop_postfix() { ms__stop postfix; }

# Stop every server of this DIR.
ms_stop()
{
	ms_stop_postfix
	ms_stop_dovecot_wrong
	ms_stop_dovecot
}

# Stop everything, release the ports and delete DIR. Never fails, even
# under set -e -o pipefail: it runs from EXIT traps, where an early exit
# would leave servers running.
ms_cleanup()
{
	[ -n "${MS_DIR:-}" ] || return 0
	if [ -f "$MS_DIR/ms.env" ]; then
		ms_stop || true
		ms__release_ports || true
	fi
	case $MS_DIR in
	/tmp/* | /var/tmp/*) rm -rf "$MS_DIR" || true ;;
	*) echo "mailservers: not removing $MS_DIR (not in /tmp)" >&2 ;;
	esac
	return 0
}

# --- Dovecot ----------------------------------------------------------------

# Write a Dovecot config to $1: instance $2, base_dir $3, ports
# MS_POP3$4_PORT, MS_POP3S$4_PORT, MS_IMAP$4_PORT and MS_IMAPS$4_PORT ($4 is
# "" or "_WRONG"), certificate $5, key $6, and whether to offer the auth
# socket for Postfix ($7 = yes|no).
ms__dovecot_conf()
{
	local uid pop3=MS_POP3$4_PORT pop3s=MS_POP3S$4_PORT imap=MS_IMAP$4_PORT
	local imaps=MS_IMAPS$4_PORT
	uid=$(id -u "$MS_VMAIL_USER")
	cat >"$1" <<EOF
# Written by tests/servers/mailservers.sh. Reads nothing from /etc/dovecot.
# Distinct instance_name and every path inside $MS_DIR: parallel test
# instances never share a socket, pid file or log.
instance_name = $(ms__instance "$2")
base_dir = $3
state_dir = $3-state
log_path = $MS_DIR/log/$2.log
info_log_path = $MS_DIR/log/$2.log
debug_log_path = $MS_DIR/log/$2.log
protocols = pop3 imap
listen = 127.0.0.1
# Dovecot refuses mail access as root: mail belongs to $MS_VMAIL_USER.
first_valid_uid = $uid
last_valid_uid = $uid
mail_location = maildir:~
# IMAP folders: "/" separates levels (Maildir++ keeps "Lists/a" in
# ~/.Lists.a). Special-use folders are announced once they exist; none is
# created on its own, so a fresh account has INBOX only.
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
  }
  mailbox Drafts {
    special_use = \\Drafts
  }
  mailbox Trash {
    special_use = \\Trash
  }
  mailbox Junk {
    special_use = \\Junk
  }
}
# On 127.0.0.1 Dovecot treats plaintext logins as secure anyway; say so
# explicitly so a change of address does not silently change behaviour
# (POP3 USER/PASS and IMAP LOGIN in clear, for tls "none").
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
# Tests fail logins on purpose: answer at once (default: 2 s) ...
auth_failure_delay = 0
# %n: "alice" and "alice@mail.test" are the same user.
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $MS_DIR/dovecot/users
}
userdb {
  driver = passwd-file
  args = username_format=%n $MS_DIR/dovecot/users
}
ssl = yes
ssl_cert = <$5
ssl_key = <$6
protocol pop3 {
  # Keep-on-server polls must not rename files (new/ -> cur/ with flags).
  pop3_no_flag_updates = yes
  # Stable UIDLs from UID + UIDVALIDITY.
  pop3_uidl_format = %08Xu%08Xv
}
protocol imap {
  # Tests open many sessions of one user at once (default: 10).
  mail_max_userip_connections = 100
}
# IDLE learns of new mail through inotify on new/ and cur/ (Postfix's
# virtual delivery and ms_inject both rename into new/); this is the
# fallback poll, 30 s by default; either way Dovecot waits a fixed 500 ms
# to gather changes before it tells the client. imap_idle_notify_interval
# (2 min) only paces the "* OK Still here" keepalives.
mailbox_idle_check_interval = 1 secs
# pop3 and imap: plain, STLS/STARTTLS offered, USER/PASS and LOGIN allowed
# in clear; pop3s and imaps: implicit TLS.
$(ms__login_service pop3 "${!pop3}" "${!pop3s}")
$(ms__login_service imap "${!imap}" "${!imaps}")
EOF
	cat >>"$1" <<EOF
# ... and never make later logins from 127.0.0.1 wait: after one failed
# login, anvil's auth penalty delays every authentication from that IP
# (Postfix's SASL requests included) by 4-15 s for 29 s. The auth process
# cannot connect to a mode 0 listener, which disables the penalty.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
EOF
	[ "$7" = yes ] || return 0
	cat >>"$1" <<EOF
# Postfix's SASL (smtpd_sasl_type = dovecot) talks to this socket.
service auth {
  unix_listener auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF
}

# Print Dovecot's login service for protocol $1: listeners on 127.0.0.1,
# port $2 plain and port $3 with TLS.
ms__login_service()
{
	cat <<EOF
service $1-login {
  inet_listener $1 {
    address = 127.0.0.1
    port = $2
  }
  inet_listener $1s {
    address = 127.0.0.1
    port = $3
    ssl = yes
  }
}
EOF
}

# Start a Dovecot from config $2 as WHICH=$1, wait for its ports
# MS_*$3_PORT ($3 is "" or "_WRONG").
ms__dovecot_run()
{
	local which=$1 conf=$2 log v
	log=$(ms_log "$which-start")
	ms__running "$which" && return 0
	# dovecot forks into the background; its stdout/stderr must not be
	# the caller's, or a test reading our output through a pipe hangs.
	dovecot -c "$conf" </dev/null >>"$log" 2>&1 ||
	    { cat "$log" >&2; ms__die "$which failed to start"; return 1; }
	for v in POP3 POP3S IMAP IMAPS; do
		v=MS_$v$3_PORT
		ms__wait_port "$which" "${!v}" || return 1
	done
}

# Write the main Dovecot's config (ms_start_dovecot, ms_doveadm).
ms__dovecot_main_conf()
{
	ms__dovecot_conf "$MS_DIR/dovecot/dovecot.conf" dovecot \
	    "$MS_DIR/dr" "" "$MS_CA_FILE" "$MS_DIR/tls/key.pem" yes
}

# Start the main Dovecot (POP3 and IMAP).
ms_start_dovecot()
{
	ms__need || return 1
	ms__dovecot_main_conf || return 1
	ms__dovecot_run dovecot "$MS_DIR/dovecot/dovecot.conf" ""
}

# Start the Dovecot with the wrong.test certificate (same users and mail).
ms_start_dovecot_wrong()
{
	ms__need || return 1
	ms__dovecot_conf "$MS_DIR/dovecot/dovecot-wrong.conf" dovecot-wrong \
	    "$MS_DIR/dw" _WRONG "$MS_WRONG_CERT" "$MS_WRONG_KEY" no
	ms__dovecot_run dovecot-wrong "$MS_DIR/dovecot/dovecot-wrong.conf" \
	    _WRONG
}

# --- Postfix ----------------------------------------------------------------

# Write DIR/postfix/main.cf.
ms__postfix_main()
{
	local d=$MS_DIR p=$MS_DIR/postfix uid gid
	uid=$(id -u "$MS_VMAIL_USER") gid=$(id -g "$MS_VMAIL_USER")
	cat >"$p/main.cf" <<EOF
# Written by tests/servers/mailservers.sh. Run as postfix -c $p.
compatibility_level = 3.6
queue_directory = $d/pq
data_directory = $d/pd
# Marks every process of this instance (see ms_pids).
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C
    POSTLOG_SERVICE POSTLOG_HOSTNAME MS_TAG=$d:postfix
# No syslog here: log through postlogd (master.cf "postlog") to a file.
maillog_file = $d/log/postfix.log
maillog_file_prefixes = $d
myhostname = mail.test
mydomain = mail.test
myorigin = mail.test
mydestination =
# Debian's defaults would open /etc/aliases.db and NIS.
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
# Never use the network or DNS: this machine has only loopback.
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
relayhost =
# Nothing may leave the machine: every domain but mail.test is rewritten
# to catchall@mail.test, and any transport that would relay is an error.
default_transport = error:tests never relay
relay_transport = error:tests never relay
virtual_alias_maps = texthash:$p/aliases, regexp:$p/catchall.regexp
# The default (\$virtual_alias_maps) would look the bare domain "mail.test"
# up in the catch-all regexp, match, and make mail.test an alias-only
# domain: every user would be "unknown in virtual alias table".
virtual_alias_domains =
# Delivery into the Dovecot users' Maildirs ("alice/" = Maildir).
# virtual(8) refuses uid 0, hence the mail user.
virtual_mailbox_domains = mail.test
virtual_mailbox_base = $d/mail
virtual_mailbox_maps = texthash:$p/vmailbox
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
virtual_minimum_uid = $uid
# Tests send many bad commands on purpose: never slow them down.
smtpd_error_sleep_time = 0s
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
in_flow_delay = 0s
# No permit_mynetworks anywhere: 127.0.0.1 gets no relay rights.
mynetworks = 127.0.0.1/32
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:$p/reject,
    permit_sasl_authenticated, reject
smtpd_sasl_type = dovecot
smtpd_sasl_path = $d/dr/auth-postfix
smtpd_sasl_security_options = noanonymous
smtpd_tls_cert_file = $MS_CA_FILE
smtpd_tls_key_file = $d/tls/key.pem
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
EOF
}

# Write DIR/postfix/master.cf: only the services needed, none chrooted
# (a chroot would need copies of /etc files and the sockets inside it).
ms__postfix_master()
{
	local p=$MS_DIR/postfix sub
	sub="-o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=yes"
	cat >"$p/master.cf" <<EOF
# service type private unpriv chroot wakeup maxproc command
127.0.0.1:$MS_SMTP_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt
  $sub
127.0.0.1:$MS_SMTPS_PORT inet n - n - - smtpd
  -o syslog_name=postfix/smtps -o smtpd_tls_wrappermode=yes $sub
127.0.0.1:$MS_SMTP_PLAIN_PORT inet n - n - - smtpd
  -o syslog_name=postfix/plain -o smtpd_tls_security_level=none
  -o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=no
127.0.0.1:$MS_SMTP_WRONG_PORT inet n - n - - smtpd
  -o syslog_name=postfix/wrong -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_cert_file=$MS_WRONG_CERT -o smtpd_tls_key_file=$MS_WRONG_KEY
  $sub
127.0.0.1:$MS_SMTPS_WRONG_PORT inet n - n - - smtpd
  -o syslog_name=postfix/wrongs -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_cert_file=$MS_WRONG_CERT -o smtpd_tls_key_file=$MS_WRONG_KEY
  $sub
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
proxywrite unix - - n -    1 proxymap
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
virtual   unix  - n n -    - virtual
postlog   unix-dgram n - n - 1 postlogd
EOF
}

# Write the lookup tables that ms_add_user / ms_add_reject do not.
ms__postfix_maps()
{
	local p=$MS_DIR/postfix
	printf 'postmaster@%s catchall@%s\n' "$MS_DOMAIN" "$MS_DOMAIN" \
	    >"$p/aliases"
	printf '!/@mail\\.test$/ catchall@%s\n' "$MS_DOMAIN" \
	    >"$p/catchall.regexp"
}

# Start Postfix (submission ports); needs Dovecot's auth socket for AUTH.
ms_start_postfix()
{
	local p=$MS_DIR/postfix log
	ms__need || return 1
	ms__running postfix && return 0
	log=$(ms_log postfix-ctl)
	ms__postfix_main && ms__postfix_master && ms__postfix_maps || return 1
	mkdir -p "$MS_DIR/pq" "$MS_DIR/pd"
	chown postfix "$MS_DIR/pd"
	ms__age "$p"/*
	# "postfix start" checks and creates the queue directories, then
	# runs "master -w", which returns once the master is ready.
	MS_TAG=$MS_DIR:postfix postfix -c "$p" start </dev/null >>"$log" 2>&1 ||
	    { tail -n 30 "$log" "$(ms_log postfix)" >&2 2>/dev/null;
	    ms__die "postfix failed to start"; return 1; }
	ms__wait_port postfix "$MS_SMTP_PORT" &&
	    ms__wait_port postfix "$MS_SMTPS_PORT" &&
	    ms__wait_port postfix "$MS_SMTP_PLAIN_PORT"
}

# Start Dovecot, then Postfix.
ms_start()
{
	ms_start_dovecot && ms_start_postfix
}

# --- mailboxes --------------------------------------------------------------

# Print the number of messages in NAME's Maildir (new + cur).
ms_deliver_count()
{
	local md
	md=$(ms_maildir "$1")
	find "$md/new" "$md/cur" -maxdepth 1 -type f 2>/dev/null | wc -l
}

# Wait until NAME has at least N messages, at most TIMEOUT seconds.
ms_wait_delivered()
{
	local name=$1 n=$2 timeout=${3:-10} c
	for _ in $(seq $((timeout * 10))); do
		c=$(ms_deliver_count "$name")
		[ "$c" -ge "$n" ] && return 0
		sleep 0.1
	done
	echo "mailservers: $name has $c messages, expected $n;" \
	    "end of the postfix log:" >&2
	tail -n 20 "$(ms_log postfix)" >&2
	return 1
}

# Inject files into Maildir $2 of user $1, in the order given (python3,
# one process for any number of files).
ms__inject()
{
	local name=$1 md=$2
	shift 2
	python3 -c "$MS__INJECT_PY" "$md" "$MS_DIR/seq/$name" \
	    "$(id -u "$MS_VMAIL_USER")" "$(id -g "$MS_VMAIL_USER")" "$@"
}

# Inject files into NAME's INBOX; see the header.
ms_inject()
{
	local name=$1
	shift
	ms__need || return 1
	[ -d "$(ms_maildir "$name")/new" ] ||
	    ms__die "ms_inject: no user $name" || return 1
	ms__inject "$name" "$(ms_maildir "$name")" "$@"
}

# Inject files into folder FOLDER of NAME; see the header.
ms_inject_folder()
{
	local name=$1 folder=$2 md d
	shift 2
	ms__need || return 1
	md=$(ms_maildir "$name")
	[ -d "$md/new" ] || ms__die "ms_inject_folder: no user $name" ||
	    return 1
	case $folder in
	'' | INBOX | /* | */ | *//* | *[!A-Za-z0-9\ _/-]*)
		ms__die "ms_inject_folder: unsupported folder name '$folder'"
		return 1 ;;
	esac
	# Maildir++: one directory per folder, levels joined with ".".
	md=$md/.${folder//\//.}
	for d in "$md" "$md/cur" "$md/new" "$md/tmp"; do
		[ -d "$d" ] || install -d -m 700 -o "$MS_VMAIL_USER" \
		    -g "$(id -g "$MS_VMAIL_USER")" "$d" || return 1
	done
	[ -f "$md/maildirfolder" ] || install -m 600 -o "$MS_VMAIL_USER" \
	    -g "$(id -g "$MS_VMAIL_USER")" /dev/null "$md/maildirfolder"
	ms__inject "$name" "$md" "$@"
}

# Run doveadm for user NAME with the main Dovecot's config.
ms_doveadm()
{
	local name=$1
	shift
	ms__need || return 1
	ms__running dovecot || ms__die "ms_doveadm: start Dovecot first" \
	    "(doveadm asks its auth process for the user)" || return 1
	doveadm -c "$MS_DIR/dovecot/dovecot.conf" "$@" -u "$name"
}

# Create and subscribe an IMAP folder of NAME.
ms_imap_create()
{
	ms_doveadm "$1" mailbox create -s "$2"
}

# Give a folder a new UIDVALIDITY, same messages; see the header.
# Dovecot keeps UIDs in dovecot-uidlist (header "3 V<uidvalidity>
# N<next uid> G<guid>", then "<uid> :<file name>" lines) and caches them in
# the dovecot.index* and dovecot.list.index* files. With those gone and a
# header alone in the uidlist, Dovecot numbers every file from N under the
# V given, sorted by the time in the file name (the injection order). Only
# with Dovecot stopped: a running session would write its old view back.
ms_uidvalidity_reset()
{
	local name=$1 folder=${2:-INBOX} first=${3:-1} md old running=
	ms__need || return 1
	md=$(ms_maildir "$name")
	[ "$folder" = INBOX ] || md=$md/.${folder//\//.}
	[ -d "$md/cur" ] ||
	    ms__die "ms_uidvalidity_reset: no folder $folder of $name" ||
	    return 1
	# A folder Dovecot never opened has no uidlist: open it, so that
	# the old UIDVALIDITY is known.
	if [ ! -f "$md/dovecot-uidlist" ] && ms__running dovecot; then
		ms_doveadm "$name" mailbox status uidvalidity "$folder" \
		    >/dev/null || return 1
	fi
	old=$(sed -n '1s/^3 V\([0-9]*\) .*/\1/p' "$md/dovecot-uidlist" \
	    2>/dev/null)
	# No UIDVALIDITY yet: no client can have seen one; take the time.
	[ -n "$old" ] || old=$(date +%s)
	if ms__running dovecot; then
		running=1
		ms_stop_dovecot
	fi
	rm -f "$md/dovecot-uidlist" "$md"/dovecot.index* \
	    "$md"/dovecot.list.index* "$(ms_maildir "$name")"/dovecot.list.index*
	printf '3 V%d N%d\n' $((old + 1)) "$first" >"$md/dovecot-uidlist"
	chown "$MS_VMAIL_USER:" "$md/dovecot-uidlist" &&
	    chmod 600 "$md/dovecot-uidlist" || return 1
	[ -z "$running" ] || ms_start_dovecot || return 1
	echo $((old + 1))
}

# Inject every file of SRCDIR (sorted by name) into NAME's Maildir.
ms_inject_dir()
{
	ms_inject "$1" --dir "$2"
}

# The injector run by ms_inject. Names: "<1000000000+seq>.M<seq>P<pid>.
# mstest,S=<size>,W=<size with CRLF>": Dovecot sorts new files by the
# leading number when assigning UIDs (so UIDs follow injection order), and
# takes sizes from S=/W= instead of reading 50,000 files at first login.
MS__INJECT_PY='
import os, sys
md, seqf, uid, gid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
files = sys.argv[5:]
if files[:1] == ["--dir"]:
    src = files[1]
    files = [os.path.join(src, f) for f in sorted(os.listdir(src))]
    files = [f for f in files if os.path.isfile(f)]
try:
    seq = int(open(seqf).read())
except FileNotFoundError:
    seq = 0
pid = os.getpid()
for f in files:
    with open(f, "rb") as fp:
        data = fp.read()
    seq += 1
    w = len(data) + data.count(b"\n") - data.count(b"\r\n")
    name = "%d.M%dP%d.mstest,S=%d,W=%d" % (1000000000 + seq, seq, pid,
                                          len(data), w)
    tmp = os.path.join(md, "tmp", name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchown(fd, uid, gid)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.rename(tmp, os.path.join(md, "new", name))
with open(seqf, "w") as fp:
    fp.write("%d\n" % seq)
'
