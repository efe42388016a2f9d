#!/bin/bash
# Where mailctl looks for the daemon: --socket, else $MAILCTL_SOCKET, else
# the configuration's "socket" (--config FILE, else
# $XDG_CONFIG_HOME/mailctl/config.json, ~/ expanded as mailctld does), else
# $XDG_RUNTIME_DIR/mailctl/mailctld.sock, else /tmp/mailctl-UID/.
. "$(dirname "$0")/lib.sh"

# The daemon listens where its configuration says, under a fresh $HOME.
export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config
unset MAILCTL_SOCKET XDG_RUNTIME_DIR
mkdir -p "$XDG_CONFIG_HOME/mailctl" "$HOME/run"
CFG=$XDG_CONFIG_HOME/mailctl/config.json
cat >"$CFG" <<EOC
{ "data_dir": "$T/data", "socket": "~/run/mailctld.sock", "poll_at_start": false }
EOC
SOCK=$HOME/run/mailctld.sock
start_daemon "$CFG"
check "the daemon expanded ~/ in socket" test -S "$SOCK"

m() { "$MAILCTL" "$@"; }
expect_rc 0 "no --socket, no \$MAILCTL_SOCKET: the default config's socket" m status --json
jcheck "...is the daemon's" "j['socket'] == '$SOCK'"
cp "$CFG" "$T/other.json"
XDG_CONFIG_HOME=$T/nowhere expect_rc 0 "--config FILE names the config to read" \
	m --config "$T/other.json" status
XDG_CONFIG_HOME=$T/nowhere expect_rc 0 "-c FILE too" m -c "$T/other.json" status
XDG_CONFIG_HOME=$T/nowhere XDG_RUNTIME_DIR=$T/rt expect_rc 69 \
	"without a config: \$XDG_RUNTIME_DIR/mailctl/mailctld.sock" m status
contains "$ERR" "$T/rt/mailctl/mailctld.sock" "the error names that path"
XDG_CONFIG_HOME=$T/nowhere expect_rc 69 "without \$XDG_RUNTIME_DIR: /tmp/mailctl-UID" m status
contains "$ERR" "/tmp/mailctl-$(id -u)/mailctld.sock" "the error names that path"

# --socket and $MAILCTL_SOCKET come first, before the configuration.
expect_rc 69 "--socket wins over the config" m --socket "$T/none.sock" status
contains "$ERR" "$T/none.sock" "...and is the one tried"
MAILCTL_SOCKET=$T/env.sock expect_rc 69 "\$MAILCTL_SOCKET wins over the config" m status
contains "$ERR" "$T/env.sock" "...and is the one tried"
MAILCTL_SOCKET=$T/env.sock expect_rc 0 "--socket wins over \$MAILCTL_SOCKET" m --socket "$SOCK" status

# A config without "socket": the default path.
echo '{ "poll_interval": 60 }' >"$T/nosock.json"
XDG_RUNTIME_DIR=$T/rt expect_rc 69 "a config without socket: the default path" \
	m --config "$T/nosock.json" status
contains "$ERR" "$T/rt/mailctl/mailctld.sock" "the error names the default path"

# A configuration that cannot be used: exit 78, as mailctld, naming it.
expect_rc 78 "--config FILE that does not exist" m --config "$T/missing.json" status
contains "$ERR" "$T/missing.json" "the error names the file"
echo '{ "socket": ' >"$T/broken.json"
expect_rc 78 "a config that is not JSON" m --config "$T/broken.json" status
contains "$ERR" "$T/broken.json: line" "the error says where"
echo '{ "socket": 42 }' >"$T/num.json"
expect_rc 78 "socket that is not a string" m --config "$T/num.json" status
contains "$ERR" "socket: expected a non-empty string" "the error names the key"
echo '{ "socket": "relative.sock" }' >"$T/rel.json"
expect_rc 78 "a relative socket" m --config "$T/rel.json" status
contains "$ERR" "socket: expected an absolute path" "the error says why"
expect_rc 0 "--help needs no config" m --config "$T/missing.json" ls --help

expect_rc 0 "the daemon still answers" m status
