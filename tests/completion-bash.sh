#!/bin/bash
# The bash completion, sourced in a bash with the bash-completion framework:
# commands, options, and the folder and account names the running daemon
# gives.
. "$(dirname "$0")/lib.sh"

FW=/usr/share/bash-completion/bash_completion
[ -f "$FW" ] || skip_all "bash-completion is not installed ($FW)"
COMP=$top_srcdir/completions/bash/mailctl

# complete LINE: what completing the end of LINE offers, one per line.
complete_line() {
	PATH=$top_builddir/client:$PATH bash --norc --noprofile -c '
		. "$1" && . "$2" || exit 1
		COMP_LINE=$3 COMP_POINT=${#3}
		read -ra COMP_WORDS <<<"$COMP_LINE"
		[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		fn=$(complete -p mailctl | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
		"$fn" mailctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$FW" "$COMP" "$1"
}

# offers LINE WORDS...: completing LINE offers exactly WORDS.
offers() {
	local line=$1 got want; shift
	got=$(complete_line "$line" | sort | paste -sd' ')
	want=$(printf '%s\n' "$@" | sort | paste -sd' ')
	if [ "$got" = "$want" ]; then ok "'$line' offers $want"
	else not_ok "'$line' offers '$got', expected '$want'"; fi
}

check "the completion registers for mailctl" \
	bash --norc --noprofile -c ". $FW && . $COMP && complete -p mailctl >/dev/null"
offers "mailctl l" ls
offers "mailctl re" read reindex refilter reload reply
offers "mailctl --s" --socket
offers "mailctl ls --n" --no-pager
offers "mailctl ls --un" --unread
offers "mailctl send --b" --bcc --body --body-file
offers "mailctl queue " list flush cancel
offers "mailctl help wa" watch
offers "mailctl mark 3 --" --json --help --read --unread --flag --unflag
offers "mailctl reply 3 --a" --all --attach
offers "mailctl forward 3 --i" --inline
offers "mailctl refilter --d" --dry-run
offers "mailctl read 3 --k" --keep-unread
offers "mailctl sea" search
offers "mailctl search cafe --l" --limit
offers "mailctl search su" subject:
offers "mailctl th" thread
offers "mailctl ls --th" --threads
offers "mailctl thread 3 --" --json --help --no-pager

# Names from the running daemon (none when it does not answer).
export MAILCTL_SOCKET=$SOCK
offers "mailctl fetch " 
CFG=$T/config.json
write_config "$CFG" '{"name":"home","email":"me@example.test","smtp":{"host":"127.0.0.1","auth":"none"}},
{"name":"work","email":"me@work.test","smtp":{"host":"127.0.0.1","auth":"none"}}'
start_daemon "$CFG"
offers "mailctl fetch " home work
offers "mailctl send --account w" work
offers "mailctl ls I" Important Inbox
offers "mailctl mv 3 S" Sent Spam

# The other shells' files, when those shells are here.
if command -v zsh >/dev/null; then
	check "zsh reads _mailctl" zsh -n "$top_srcdir/completions/zsh/_mailctl"
fi
if command -v fish >/dev/null; then
	check "fish reads mailctl.fish" fish -n "$top_srcdir/completions/fish/mailctl.fish"
fi
