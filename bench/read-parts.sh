#!/bin/bash
# read-parts.sh — the time of `mailctl read ID --json` (the whole client
# process, daemon already running) on a message of about 1 MB with 1,000
# attachments: the median and the slowest of RUNS runs (default 20), after
# one unmeasured read. The target (issue 18) is under 50 ms.
#
#	bench/read-parts.sh [BUILDDIR]
#
# BUILDDIR (default: the tree this script is in) holds daemon/mailctld and
# client/mailctl, so that two builds can be timed the same way.
HERE=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$HERE/.." && pwd)
top_builddir=$(cd "${1:-$top_srcdir}" && pwd)
export top_srcdir top_builddir
. "$top_srcdir/tests/lib.sh"
RUNS=${RUNS:-20}

write_config "$T/config.json" '{"name":"alice","email":"alice@mail.test","pop3":{"host":"127.0.0.1","port":1,"tls":"none","user":"a","password":"x"}}'
python3 - "$T/data/alice/Inbox/new/1700000000.M1P1.bench" <<'PY'
import base64, os, sys
os.makedirs(os.path.dirname(sys.argv[1]), exist_ok=True)
out = [b"From: Bench <bench@example.test>\nTo: you@example.test\n"
       b"Subject: 1,000 parts\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n"
       b"Message-ID: <parts@example.test>\nMIME-Version: 1.0\n"
       b"Content-Type: multipart/mixed; boundary=b\n\n--b\n"
       b"Content-Type: text/plain; charset=utf-8\n\nThe body.\n"]
data = base64.encodebytes(bytes(range(256)) * 3)     # 768 bytes each
for i in range(999):
    out.append(b"--b\nContent-Type: application/octet-stream\n"
               b"Content-Transfer-Encoding: base64\n"
               b"Content-Disposition: attachment; filename=\"part%03d.bin\"\n"
               b"\n" % i + data)
out.append(b"--b--\n")
open(sys.argv[1], "wb").write(b"".join(out))
PY
start_daemon "$T/config.json"
mailctl reindex >/dev/null || bail "reindex failed"
size=$(stat -c %s "$T/data/alice/Inbox/new/"*)
mailctl read 1 --json >"$T/out.json" || bail "read failed"
OUT=$(cat "$T/out.json")
natt=$(json 'len(j["attachments"])')
python3 - "$RUNS" "$MAILCTL" "$SOCK" "$size" "$natt" <<'PY'
import statistics, subprocess, sys, time
runs, mailctl, sock, size, natt = sys.argv[1:]
times = []
for _ in range(int(runs)):
    t = time.perf_counter()
    subprocess.run([mailctl, "--socket", sock, "read", "1", "--json"],
                   stdout=subprocess.DEVNULL, check=True)
    times.append((time.perf_counter() - t) * 1000)
print("# read --json: %s bytes, %s attachments listed: median %.1f ms, "
      "slowest %.1f ms of %s runs" % (size, natt, statistics.median(times),
                                      max(times), runs))
PY
stop_daemon
