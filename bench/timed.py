#!/usr/bin/env python3
"""Run a command, measure its wall time and peak memory.

    timed.py RESULT TIMEOUT COMMAND [ARGS...]

Runs COMMAND (stdin from /dev/null, stdout and stderr inherited) in its own
process group, and writes to RESULT one line:

    EXIT SECONDS MAXRSS_KB

EXIT is the command's exit status (124 when it ran longer than TIMEOUT
seconds and was killed), SECONDS the wall time from just before the fork to
its end (time.monotonic; the wrapper's own start-up is not timed),
MAXRSS_KB the largest resident set of the command or of any descendant it
waited for.

The peak RSS comes from GNU time (/usr/bin/time -f %M) wrapped around the
command, not from this process's getrusage(RUSAGE_CHILDREN): Linux carries
a process's peak RSS across execve, so a child forked from this Python
process would report at least Python's own ~10 MiB, whatever it execs.
GNU time is a small C program: its fork adds about 1-2 MiB at most, below
any real POP3 client. Without /usr/bin/time the figure falls back to
getrusage and is marked with a leading "~" in a fourth field.
"""

import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time

GNU_TIME = "/usr/bin/time"


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 64
    result, timeout, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    rss_file = None
    if os.access(GNU_TIME, os.X_OK):
        fd, rss_file = tempfile.mkstemp(prefix="timed.", suffix=".rss")
        os.close(fd)
        cmd = [GNU_TIME, "-q", "-f", "%M", "-o", rss_file] + cmd
    timed_out = threading.Event()

    def kill():
        timed_out.set()
        os.killpg(proc.pid, signal.SIGKILL)

    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    # A blocking wait, the timeout from a timer thread: Popen.wait(timeout)
    # polls with sleeps of up to 50 ms, which would round every figure up
    # to the next 50 ms.
    timer = threading.Timer(timeout, kill)
    timer.start()
    rc = proc.wait()
    seconds = time.monotonic() - t0
    timer.cancel()
    if timed_out.is_set():
        rc = 124
    elif rc < 0:
        rc = 128 - rc
    note = ""
    rss = None
    if rss_file is not None:
        try:
            with open(rss_file) as fp:
                rss = int(fp.read().split()[-1])
        except (OSError, ValueError, IndexError):
            pass
        os.unlink(rss_file)
    if rss is None:
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        note = " ~"
    with open(result, "w") as fp:
        fp.write("%d %.6f %d%s\n" % (rc, seconds, rss, note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
