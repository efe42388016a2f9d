#!/usr/bin/env python3
"""Watch a process's resident memory, split into anonymous and file pages.

    rss-watch.py PID OUT

Reads /proc/PID/status every millisecond until PID exits or this script
gets SIGTERM, then writes to OUT one line:

    rss_anon_kb rss_file_kb vm_hwm_kb samples

the largest RssAnon and RssFile seen (each at its own moment) and the
last VmHWM. VmHWM, the figure the targets use, counts both kinds: pages
of a file the process has mapped and touched are part of its RSS even
though they are page cache that the kernel can drop. The split shows
which kind a peak was; a peak shorter than a millisecond or so can be
missed here but never by VmHWM.
"""

import signal
import sys
import time


def main():
    pid, out = int(sys.argv[1]), sys.argv[2]
    best = {"RssAnon": 0, "RssFile": 0, "VmHWM": 0}
    n = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    path = "/proc/%d/status" % pid
    while not stop:
        try:
            with open(path) as fp:
                for line in fp:
                    k, _, v = line.partition(":")
                    if k in best:
                        v = int(v.split()[0])
                        if k == "VmHWM" or v > best[k]:
                            best[k] = v
        except (OSError, ValueError):
            break
        n += 1
        time.sleep(0.001)
    with open(out, "w") as fp:
        fp.write("%d %d %d %d\n" % (best["RssAnon"], best["RssFile"],
                                    best["VmHWM"], n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
