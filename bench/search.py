#!/usr/bin/env python3
"""The search benchmark (issue #20) beside notmuch, in one run.

Driven by bench/search.sh (see its header for the usage). Steps:

1. The store of bench/gen-store.py (N messages, one account), generated
   once under /var/tmp/mailctl-bench/store-N, hard-linked twice into the
   run directory: one copy for notmuch, one for mailctl.
2. Indexing: `notmuch new` on its copy, then mailctld started on an empty
   data_dir holding the other copy and `mailctl reindex` (from an empty
   index: headers, folders, flags and the search index of every
   message). Each is timed as a whole process; peak memory is notmuch's
   maximum RSS (wait4) and the daemon's VmHWM; the index sizes are the
   Xapian database's and index.sqlite's (with its WAL).
3. The 20 queries of QUERIES, each in both languages: per round, each
   query runs `notmuch search --limit=50` then `mailctl search --limit
   50`, whole processes, output discarded after checking the exit status;
   the medians of ROUNDS rounds (after one warm-up round) and their ratio.

Targets: every query's mailctl median <= 0.5x notmuch's and <= 10 ms,
the median of the medians <= 5 ms; reindex <= 0.2x notmuch new.
"""

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# (what it is, mailctl's query, notmuch's query)
QUERIES = [
    ("common word", "the", "the"),
    ("common word 2", "people", "people"),
    ("word, about a third", "budget", "budget"),
    ("rare word (name)", "kierkegaard", "kierkegaard"),
    ("phrase", '"meeting notes"', '"meeting notes"'),
    ("prefix", "sched*", "sched*"),
    ("from:", "from:boss@example.test", "from:boss@example.test"),
    ("to:", "to:alice", "to:alice"),
    ("subject:", "subject:won", "subject:won"),
    ("folder:", "folder:Work", "folder:Work"),
    ("date: (a month)", "date:2022-03", "date:2022-03-01..2022-03-31"),
    ("is:unread", "is:unread", "tag:unread"),
    ("AND", "budget review", "budget and review"),
    ("OR", "lunch OR travel", "lunch or travel"),
    ("NOT", "budget -review", "budget and not review"),
    ("non-ASCII word", "smörgåsbord", "smörgåsbord"),
    ("attachment name", "report-123.pdf", "attachment:report-123.pdf"),
    ("folder + unread", "folder:Inbox is:unread", "folder:Inbox and tag:unread"),
    ("date + attachment", "date:2023 has:attachment",
     "date:2023-01-01..2023-12-31 and tag:attachment"),
    ("no match", "zzqxvbnotaword", "zzqxvbnotaword"),
]


def say(*a):
    print(*a, file=sys.stderr, flush=True)


def timed(argv, env=None, out=subprocess.DEVNULL):
    """Run argv; return (seconds, max RSS KiB, exit status)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    t = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        say("  %s: exit %d: %s" % (" ".join(argv[:3]), rc, err.strip()[-300:]))
    return t, ru.ru_maxrss, rc


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def hwm(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    n = int(os.environ.get("SEARCH_BENCH_MESSAGES", "100000"))
    rounds = int(os.environ.get("SEARCH_BENCH_ROUNDS", "11"))
    keep = os.environ.get("SEARCH_BENCH_KEEP") == "1"
    out_json = os.environ.get("SEARCH_BENCH_JSON")
    work = "/var/tmp/mailctl-bench"
    os.makedirs(work, exist_ok=True)
    corpus = os.path.join(work, "store-%d" % n)
    subprocess.run([sys.executable, os.path.join(top, "bench/gen-store.py"),
                    "--out", corpus, "--messages", str(n), "--account",
                    "alice"], check=True)
    run = tempfile.mkdtemp(prefix="search-run.", dir=work)
    try:
        bench(top, n, rounds, corpus, run, out_json)
    finally:
        if not keep:
            shutil.rmtree(run, ignore_errors=True)
        else:
            say("kept", run)


def bench(top, n, rounds, corpus, run, out_json):
    mailctld = os.path.join(run, "mailctld")
    mailctl = os.path.join(run, "mailctl")
    shutil.copy(os.path.join(top, "daemon/mailctld"), mailctld)
    shutil.copy(os.path.join(top, "client/mailctl"), mailctl)
    # notmuch's copy: the account's folders are the database root.
    nm_root = os.path.join(run, "nm")
    subprocess.run(["cp", "-al", os.path.join(corpus, "alice"), nm_root],
                   check=True)
    nm_cfg = os.path.join(run, "notmuch-config")
    with open(nm_cfg, "w") as f:
        f.write("[database]\npath=%s\n[user]\nname=Alice\n"
                "primary_email=alice@example.test\n[new]\ntags=unread;inbox\n"
                "ignore=\n[search]\nexclude_tags=\n[maildir]\n"
                "synchronize_flags=true\n" % nm_root)
    env = dict(os.environ, NOTMUCH_CONFIG=nm_cfg)
    data = os.path.join(run, "data")
    os.makedirs(data)
    subprocess.run(["cp", "-al", os.path.join(corpus, "alice"),
                    os.path.join(data, "alice")], check=True)
    sock = os.path.join(run, "mailctld.sock")
    cfg = os.path.join(run, "config.json")
    with open(cfg, "w") as f:
        json.dump({"data_dir": data, "socket": sock, "poll_at_start": False,
                   "accounts": [{"name": "alice",
                                 "email": "alice@example.test",
                                 "pop3": {"host": "127.0.0.1", "port": 1,
                                          "tls": "none", "user": "a",
                                          "password": "x"}}]}, f)
    os.chmod(cfg, 0o600)
    res = {"messages": n, "rounds": rounds, "queries": []}

    say("indexing %d messages with notmuch new ..." % n)
    subprocess.run(["sync"])
    t, rss, rc = timed(["notmuch", "new", "--quiet"], env=env)
    if rc != 0:
        sys.exit("notmuch new failed")
    nm_size = du(os.path.join(nm_root, ".notmuch"))
    res["notmuch_new"] = {"seconds": t, "max_rss_kib": rss,
                          "index_bytes": nm_size}
    say("  notmuch new: %.1f s, %.0f MiB RSS, Xapian %.0f MiB" % (
        t, rss / 1024, nm_size / 2**20))

    say("indexing with mailctl reindex (from an empty index) ...")
    log = open(os.path.join(run, "mailctld.log"), "w")
    d = subprocess.Popen([mailctld, "--config", cfg], stdout=log,
                         stderr=log)
    for _ in range(600):
        if subprocess.run([mailctl, "--socket", sock, "status"],
                          capture_output=True).returncode == 0:
            break
        time.sleep(0.05)
    try:
        subprocess.run(["sync"])
        t, _, rc = timed([mailctl, "--socket", sock, "reindex"])
        if rc != 0:
            sys.exit("mailctl reindex failed")
        rss = hwm(d.pid)
        subprocess.run(["sqlite3", os.path.join(data, "index.sqlite"),
                        "PRAGMA wal_checkpoint(TRUNCATE)"],
                       capture_output=True)
        size = sum(os.path.getsize(os.path.join(data, f))
                   for f in os.listdir(data) if f.startswith("index.sqlite"))
        res["mailctl_reindex"] = {"seconds": t, "max_rss_kib": rss,
                                  "index_bytes": size}
        say("  mailctl reindex: %.1f s, %.0f MiB RSS (daemon peak), "
            "index.sqlite %.0f MiB" % (t, rss / 1024, size / 2**20))
        r = res["mailctl_reindex"]["seconds"] / res["notmuch_new"]["seconds"]
        res["index_ratio"] = r
        say("  ratio %.3f (target <= 0.2)" % r)

        say("queries: %d rounds after one warm-up, alternating" % rounds)
        times = {i: ([], []) for i in range(len(QUERIES))}
        hits = {}
        for rnd in range(rounds + 1):
            for i, (_, mq, nq) in enumerate(QUERIES):
                tn, _, rc1 = timed(["notmuch", "search", "--limit=50", nq],
                                   env=env)
                tm, _, rc2 = timed([mailctl, "--socket", sock, "search",
                                    "--limit", "50", "--", mq])
                if rc1 != 0 or rc2 != 0:
                    sys.exit("query %r failed" % mq)
                if rnd > 0:
                    times[i][0].append(tn)
                    times[i][1].append(tm)
        for i, (_, mq, nq) in enumerate(QUERIES):
            p = subprocess.run([mailctl, "--socket", sock, "search", "--json",
                                "--", mq], capture_output=True)
            c = subprocess.run(["notmuch", "count", nq], env=env,
                               capture_output=True)
            hits[i] = (len(json.loads(p.stdout)),
                       int(c.stdout.decode().strip() or 0))
    finally:
        d.terminate()
        d.wait()
    print("%-20s %-34s %8s %8s %6s %9s" % ("query", "mailctl", "notmuch",
                                            "mailctl", "ratio", "hits m/n"))
    meds = []
    worst = 0
    for i, (what, mq, nq) in enumerate(QUERIES):
        mn = statistics.median(times[i][0]) * 1000
        mm = statistics.median(times[i][1]) * 1000
        meds.append(mm)
        worst = max(worst, mm / mn)
        res["queries"].append({"what": what, "mailctl": mq, "notmuch": nq,
                               "notmuch_ms": mn, "mailctl_ms": mm,
                               "ratio": mm / mn, "mailctl_hits": hits[i][0],
                               "notmuch_messages": hits[i][1]})
        print("%-20s %-34s %6.1f ms %6.1f ms %5.2fx %6d/%d" % (
            what, mq[:34], mn, mm, mm / mn, hits[i][0], hits[i][1]))
    res["median_of_medians_ms"] = statistics.median(meds)
    res["max_ms"] = max(meds)
    res["worst_ratio"] = worst
    print("mailctl: median of the medians %.1f ms (target <= 5), slowest "
          "%.1f ms (target <= 10), worst ratio %.2fx (target <= 0.5)" % (
              res["median_of_medians_ms"], res["max_ms"], worst))
    print("indexing: notmuch new %.1f s (%.0f MiB RSS, Xapian %.0f MiB); "
          "mailctl reindex %.1f s (%.0f MiB daemon peak, index.sqlite "
          "%.0f MiB); ratio %.3f (target <= 0.2)" % (
              res["notmuch_new"]["seconds"],
              res["notmuch_new"]["max_rss_kib"] / 1024,
              res["notmuch_new"]["index_bytes"] / 2**20,
              res["mailctl_reindex"]["seconds"],
              res["mailctl_reindex"]["max_rss_kib"] / 1024,
              res["mailctl_reindex"]["index_bytes"] / 2**20,
              res["index_ratio"]))
    if out_json:
        with open(out_json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
