#!/usr/bin/env python3
"""Run getmail (/usr/bin/getmail, getmail6) without its lost-child hang.

    getmail-run.py [GETMAIL ARGS...]

getmail forks a child for every delivery (a Maildir delivery too: the child
changes to the mail user and writes the file), then waits on a condition
that its SIGCHLD handler notifies. Both ends race with a child that exits
at once, as a Maildir delivery of a small message often does: the handler
is installed only after the fork returns, and it may notify before
getmail waits. Either way the notification is lost, getmail waits for its
timeout (180 s) and gives up with "waiting child pid N timed out"
(getmail6 6.18.11 of Debian 12; getmail6 issues #52 and #226). Over a few
thousand messages this happens in nearly every run.

This wrapper installs no handler: getmail's wait reaps its child with a
blocking waitpid, then checks the status as getmail does. Nothing else
changes: getmail does the same work, and its time is what it would be
when no child is lost.
"""

import os
import runpy
import sys

from getmailcore.baseclasses import ForkingBase

GETMAIL = "/usr/bin/getmail"

_wait_for_child = ForkingBase._wait_for_child


class Reaped:
    """getmail's condition once the child is reaped: nothing to wait for."""

    def acquire(self):
        pass

    def release(self):
        pass

    def wait(self, timeout=None):
        return True


def prepare_child(self):
    """Instead of getmail's: no SIGCHLD handler."""
    self._ForkingBase__child_exited = Reaped()


def wait_for_child(self, childpid):
    """Reap the child, then getmail's own checks of its status."""
    pid, status = os.waitpid(childpid, 0)
    self._ForkingBase__child_pid = pid
    self._ForkingBase__child_status = status
    return _wait_for_child(self, childpid)


ForkingBase._prepare_child = prepare_child
ForkingBase._wait_for_child = wait_for_child

if __name__ == "__main__":
    sys.argv[0] = GETMAIL
    runpy.run_path(GETMAIL, run_name="__main__")
