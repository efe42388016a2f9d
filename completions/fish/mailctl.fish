# fish completion for mailctl(1): commands, options, and the folder and
# account names of the running mailctld (asked with --json).

function __mailctl_names
    if test "$argv[1]" = folders
        command mailctl folders --json 2>/dev/null | string match -ra '"folder":"[^"]*"' | string replace -r '"folder":"([^"]*)"' '$1' | sort -u
    else
        command mailctl status --json 2>/dev/null | string match -ra '"name":"[^"]*"' | string replace -r '"name":"([^"]*)"' '$1'
    end
end

set -l cmds status fetch ls read mark mv rm attachments send queue sendmail folders reindex refilter reload watch thread help
complete -c mailctl -f
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -s s -l socket -r -F -d "the daemon's socket"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -s c -l config -r -F -d "the configuration to read the socket from"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -s h -l help -d "show the help"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -s V -l version -d "show the version"

complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a status -d "show the daemon, accounts, polls, queue"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a fetch -d "poll now and wait"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a ls -d "list messages"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a read -d "show a message"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a mark -d "mark read or unread"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a mv -d "move messages"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a rm -d "move to Trash, or remove"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a attachments -d "list or save attachments"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a send -d "queue a mail"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a queue -d "the outbox"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a sendmail -d "queue a message from stdin"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a folders -d "list folders"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a reindex -d "rebuild the index"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a refilter -d "apply the rules again"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a reload -d "reread the configuration"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a watch -d "print events"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a thread -d "a message's conversation"
complete -c mailctl -n "not __fish_seen_subcommand_from $cmds" -a help -d "usage of a command"

complete -c mailctl -n "__fish_seen_subcommand_from status fetch ls read mark mv rm attachments send queue folders reindex refilter reload watch thread" -l json -d "print JSON"
complete -c mailctl -n "__fish_seen_subcommand_from fetch reindex" -a "(__mailctl_names accounts)"
complete -c mailctl -n "__fish_seen_subcommand_from ls refilter mv" -a "(__mailctl_names folders)"
complete -c mailctl -n "__fish_seen_subcommand_from ls" -l unread -d "only unread"
complete -c mailctl -n "__fish_seen_subcommand_from ls send" -l account -x -a "(__mailctl_names accounts)" -d "account"
complete -c mailctl -n "__fish_seen_subcommand_from ls" -l limit -x -d "at most N"
complete -c mailctl -n "__fish_seen_subcommand_from ls" -l offset -x -d "skip N"
complete -c mailctl -n "__fish_seen_subcommand_from ls thread" -l no-pager -d "never page"
complete -c mailctl -n "__fish_seen_subcommand_from ls" -l threads -d "one line per conversation"
complete -c mailctl -n "__fish_seen_subcommand_from read" -l raw -d "stored bytes"
complete -c mailctl -n "__fish_seen_subcommand_from read" -s k -l keep-unread -d "do not mark it read"
complete -c mailctl -n "__fish_seen_subcommand_from mark" -l read -d "mark read"
complete -c mailctl -n "__fish_seen_subcommand_from mark" -l unread -d "mark unread"
complete -c mailctl -n "__fish_seen_subcommand_from rm" -l purge -d "remove for good"
complete -c mailctl -n "__fish_seen_subcommand_from refilter" -s n -l dry-run -d "show what would move"
complete -c mailctl -n "__fish_seen_subcommand_from attachments" -l save -x -a "(__fish_complete_directories)" -d "save into DIR"
complete -c mailctl -n "__fish_seen_subcommand_from attachments" -l index -x -d "only attachment N"
complete -c mailctl -n "__fish_seen_subcommand_from send" -l to -x -d "recipient"
complete -c mailctl -n "__fish_seen_subcommand_from send" -l cc -x -d "copy to"
complete -c mailctl -n "__fish_seen_subcommand_from send" -l bcc -x -d "blind copy to"
complete -c mailctl -n "__fish_seen_subcommand_from send" -l subject -x -d "subject"
complete -c mailctl -n "__fish_seen_subcommand_from send" -l body -x -d "body text"
complete -c mailctl -n "__fish_seen_subcommand_from send" -l body-file -r -F -d "body from FILE"
complete -c mailctl -n "__fish_seen_subcommand_from send" -l attach -r -F -d "attach FILE"
complete -c mailctl -n "__fish_seen_subcommand_from send" -l wait -d "wait for the verdict"
complete -c mailctl -n "__fish_seen_subcommand_from queue" -a "list flush cancel"
complete -c mailctl -n "__fish_seen_subcommand_from sendmail" -s t -d "recipients from the message"
complete -c mailctl -n "__fish_seen_subcommand_from sendmail" -s f -x -d "envelope sender"
complete -c mailctl -n "__fish_seen_subcommand_from sendmail" -l account -x -a "(__mailctl_names accounts)" -d "the account to send from"
complete -c mailctl -n "__fish_seen_subcommand_from help" -a "$cmds"
complete -c mailctl -n "__fish_seen_subcommand_from $cmds" -l help -d "show usage"
