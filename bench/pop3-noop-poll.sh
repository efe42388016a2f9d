#!/bin/bash
# pop3-noop-poll.sh — the "poll that finds nothing new" benchmark: a
# 50,000-message mailbox every tool has already seen (each tool's first,
# untimed poll fetches everything), then timed polls that fetch nothing.
# mailctld vs mpop (target: mailctld <= 0.8x mpop), raw as reference;
# fetchmail only with --only ...,fetchmail.
#
# Same as: bash bench/pop3-fetch.sh --scenario noop [OPTIONS]
# (all of pop3-fetch.sh's options apply; see bench/README.md).
exec bash "$(dirname "$0")/pop3-fetch.sh" --scenario noop "$@"
