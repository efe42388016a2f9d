#!/usr/bin/env python3
"""Summarise the runs of bench/pop3-fetch.sh or bench/imap-sync.sh:
medians, ratios, targets.

    report.py --results TSV --meta TSV [--json FILE]

TSV (written by fetchlib.sh, one line per run, tab-separated):
    mode tool phase rep status seconds count rss_kb note
phase is "warm" (not timed for the figures) or "rep"; status is "ok",
"failed" (it ran but fetched the wrong count or exited non-zero) or
"broken" (the tool is not working at all: it could not even start).

meta TSV: "key<TAB>value" lines: protocol (pop3 or imap), scenario,
messages, corpus_bytes, reps, modes, tools, and free-form facts
(versions, date, machine, load) copied into the JSON.

imap-sync.sh's push and idle10 write their own lines (see
bench/push-latency.py and idle_window in imap-sync.sh): in push one line
per mail and watcher (seconds the latency, count the mail's number); in
idle10 one line per window (phase renew300 or renew10, seconds the CPU
time, count the watches in IDLE at the end, rss_kb VmRSS at the start,
note "key=value ..." with ticks, wall_s, rss_end_kb, hwm_kb, renewed,
reconnects and, where the kernel gives it, run_ms).
"""

import math
import statistics
import sys

from benchlib import (MET, MIB, base_rss_target, judge, print_header,
                      print_ratios, print_tool, parse_args, print_trees,
                      read_meta, rss_target, spread, with_base, write_json)

# (numerator, denominator, target or None, comparison) per protocol and
# scenario.
RATIOS = {
    "pop3": {
        "fetch": [("mailctld", "mpop", 0.5), ("mailctld", "raw", 1.5),
                  ("mpop", "raw", None), ("fetchmail", "mpop", None),
                  ("mailctld", "norules", None)],
        "noop": [("mailctld", "mpop", 0.8), ("fulllist", "mpop", None),
                 ("mailctld", "fulllist", None), ("mailctld", "raw", None),
                 ("mpop", "raw", None), ("fetchmail", "mpop", None)],
        "bigmsg": [("mailctld", "mpop", None), ("mailctld", "raw", None),
                   ("mpop", "raw", None), ("fetchmail", "mpop", None)],
    },
    "imap": {
        "fetch": [("mailctld", "mbsync", 0.5), ("mailctld", "raw", 1.5),
                  ("mailctld", "rawdisk", None), ("rawdisk", "raw", None),
                  ("mbsync", "raw", None), ("getmail6", "mbsync", None),
                  ("fetchmail", "mbsync", None),
                  ("offlineimap3", "mbsync", None),
                  ("mailctld", "norules", None)],
        "noop": [("mailctld", "mbsync", 0.5), ("mailctld", "raw", None),
                 ("mailctld", "rawlist", None), ("rawlist", "raw", None),
                 ("mbsync", "raw", None), ("getmail6", "mbsync", None),
                 ("fetchmail", "mbsync", None),
                 ("offlineimap3", "mbsync", None)],
        "bigmsg": [("mailctld", "mbsync", None), ("mailctld", "raw", None),
                   ("mbsync", "raw", None), ("getmail6", "mbsync", None),
                   ("fetchmail", "mbsync", None),
                   ("offlineimap3", "mbsync", None)],
    },
}
RATIOS["imap"]["push"] = [("mailctld", "floor", None)]
RSS_TARGET_KB = {"bigmsg": ("mailctld", 16 * 1024)}    # < 16 MiB
PUSH_TARGET_MS = 30     # mailctld's median <= the floor's + 30 ms
IDLE_RSS_KB = 20 * 1024  # idle10: VmRSS < 20 MiB
IDLE_CPU_PCT = 1.0      # idle10: no busy loop: < 1 % of one core
# Tools that are this build's mailctld run another way: their ratios to
# mailctld get no base counterpart (see with_base).
VARIANTS = ("norules", "fulllist")

MODE_TITLE = {
    "pop3": {"none": "plain POP3 (tls none)",
             "implicit": "POP3S (tls implicit)"},
    "imap": {"none": "plain IMAP (tls none)",
             "implicit": "IMAPS (tls implicit)"},
}
SCENARIO_TITLE = {
    "pop3": {
        "fetch": "full first poll: every message into a fresh Maildir",
        "noop": "poll that finds nothing new (every UIDL already seen)",
        "bigmsg": "one big message",
    },
    "imap": {
        "fetch": "full first sync: every message into a fresh Maildir",
        "noop": "sync that finds nothing new (every UID already seen)",
        "bigmsg": "one big message",
        "push": "push latency: Postfix accepted a mail -> announced",
        "idle10": "accounts idling: memory and CPU",
    },
}


def read_rows(path):
    rows = []
    with open(path) as fp:
        for line in fp:
            f = line.rstrip("\n").split("\t")
            if len(f) < 9 or f[0] == "mode":
                continue
            rows.append({"mode": f[0], "tool": f[1], "phase": f[2],
                         "rep": int(f[3]), "status": f[4],
                         "seconds": float(f[5]) if f[5] else None,
                         "count": int(f[6]) if f[6] else None,
                         "rss_kb": int(f[7]) if f[7] else None,
                         "note": f[8]})
    return rows


def summarise(rows, tool, corpus_bytes):
    runs = [r for r in rows if r["tool"] == tool]
    reps = [r for r in runs if r["phase"] == "rep"]
    ok = [r for r in reps if r["status"] == "ok"]
    s = {"runs": [{k: r[k] for k in ("phase", "rep", "status", "seconds",
                                     "count", "rss_kb", "note")}
                  for r in runs],
         "ok_runs": len(ok), "reps": len(reps)}
    if ok:
        s.update(spread([r["seconds"] for r in ok]))
        s["mib_per_s"] = (corpus_bytes / MIB / s["median_s"]
                          if s["median_s"] > 0 else None)
    return judge(s, runs, reps, ok)


def p90(values):
    """The 90th percentile, nearest rank."""
    v = sorted(values)
    return v[max(0, math.ceil(0.9 * len(v)) - 1)]


def push_mode(mrows, tools, res):
    """push in one TLS mode: the latencies of each watcher, mailctld's
    median against the floor's (the target) and per mail."""
    print_header("p90 s", 9)
    for tool in tools:
        s = summarise(mrows, tool, 0)
        s.pop("mib_per_s", None)
        ok = [r["seconds"] for r in mrows if r["tool"] == tool and
              r["phase"] == "rep" and r["status"] == "ok"]
        if ok:
            s["p90_s"] = p90(ok)
        res["tools"][tool] = s
        print_tool(tool, s, "%9s" % (
            "%9.3f" % s["p90_s"] if "p90_s" in s else "-"))
    print()
    print_ratios(RATIOS["imap"]["push"], tools, res["tools"], res["ratios"])
    if "floor" not in tools or "mailctld" not in tools:
        return
    m = res["tools"]["mailctld"].get("median_s")
    f = res["tools"]["floor"].get("median_s")
    if m is None or f is None:
        return
    diff = (m - f) * 1000
    met = diff <= PUSH_TARGET_MS
    # Per mail: the same mail as both watchers saw it.
    got = {(r["tool"], r["rep"], r["count"]): r["seconds"] for r in mrows
           if r["phase"] == "rep" and r["status"] == "ok"}
    per = [(got[("mailctld", rep, k)] - got[t]) * 1000
           for t in got if t[0] == "floor"
           for rep, k in [t[1:]] if ("mailctld", rep, k) in got]
    res["push_target"] = {"median_diff_ms": diff,
                          "target_max_ms": PUSH_TARGET_MS, "met": met}
    print("%-22s %10s   <= +%d ms %s" % (
        "mailctld - floor", "%+.1f ms" % diff, PUSH_TARGET_MS, MET[met]))
    if per:
        res["per_mail_diff_ms"] = {
            "median": statistics.median(per), "min": min(per),
            "max": max(per), "p90": p90(per)}
        print("per mail, mailctld - floor: median %+.1f ms, min %+.1f, "
              "max %+.1f, p90 %+.1f (%d mails)" % (
                  statistics.median(per), min(per), max(per), p90(per),
                  len(per)))
    print("mbsync: no push (no IDLE: it syncs only when it is run)")


def idle_mode(mrows, meta, res):
    """idle10 in one TLS mode: each window's memory and CPU, the targets."""
    hz = int(meta.get("clk_tck", "100"))
    window = float(meta.get("window_s", "60"))
    print("%-30s %9s %9s %9s %6s %7s %6s %8s %8s %5s" % (
        "window", "VmRSS", "VmRSS end", "VmHWM", "ticks", "CPU s",
        "CPU %", "run ms", "renewed", "reconn"))
    res["windows"] = []
    for r in mrows:
        name = "idle_renew %s%s (rep %d)" % (
            r["phase"][5:], " default" if r["phase"] == "renew300" else "",
            r["rep"])
        if r["status"] != "ok":
            print("%-30s %s: %s" % (name, r["status"].upper(), r["note"]))
            res["windows"].append(dict(r))
            continue
        kv = dict(f.split("=", 1) for f in r["note"].split() if "=" in f)
        wall = float(kv.get("wall_s", window))
        pct = 100.0 * r["seconds"] / wall
        w = {"phase": r["phase"], "rep": r["rep"], "watches_idle": r["count"],
             "vmrss_kb": r["rss_kb"], "vmrss_end_kb": int(kv["rss_end_kb"]),
             "vmhwm_kb": int(kv["hwm_kb"]), "ticks": int(kv["ticks"]),
             "clk_tck": hz, "cpu_s": r["seconds"], "wall_s": wall,
             "cpu_pct": pct, "renewed": int(kv["renewed"]),
             "reconnects": int(kv["reconnects"]),
             "run_ms": float(kv["run_ms"]) if "run_ms" in kv else None}
        res["windows"].append(w)
        print("%-30s %9s %9s %9s %6d %7.2f %6.3f %8s %5d/%-2d %5d" % (
            name, "%.1f MiB" % (w["vmrss_kb"] / 1024),
            "%.1f MiB" % (w["vmrss_end_kb"] / 1024),
            "%.1f MiB" % (w["vmhwm_kb"] / 1024), w["ticks"], w["cpu_s"],
            pct, "-" if w["run_ms"] is None else "%.1f" % w["run_ms"],
            w["renewed"], r["count"], w["reconnects"]))
    ok = [w for w in res["windows"] if "cpu_pct" in w]
    print()
    for what, key, limit, fmt in (
            ("VmRSS", "vmrss_end_kb", IDLE_RSS_KB, "< %d MiB"),
            ("CPU %", "cpu_pct", IDLE_CPU_PCT, "< %.0f %% (no busy loop)")):
        worst = max((w[key] for w in ok), default=None)
        met = None if worst is None else worst < limit
        res[key + "_target"] = {"worst": worst, "limit": limit, "met": met}
        print("%-22s %10s   %s %s" % (
            "worst " + what, "-" if worst is None else
            "%.1f MiB" % (worst / 1024) if key.endswith("kb") else
            "%.3f %%" % worst, fmt % (limit / 1024 if key.endswith("kb")
                                      else limit), MET[met]))


def main():
    a = parse_args(__doc__)
    meta = read_meta(a.meta)
    proto = meta.get("protocol", "pop3")
    scenario = meta.get("scenario", "fetch")
    corpus_bytes = int(meta.get("corpus_bytes", "0"))
    messages = int(meta.get("messages", "0"))
    tools = meta.get("tools", "").split()
    modes = meta.get("modes", "").split()
    rows = read_rows(a.results)

    out = {"scenario": scenario, "messages": messages,
           "corpus_bytes": corpus_bytes, "reps": int(meta.get("reps", "0")),
           "meta": meta, "modes": {}}
    print()
    print("%s benchmark: %s" % (proto.upper(), SCENARIO_TITLE[proto].get(
        scenario, scenario)))
    if scenario == "push":
        print("%s mails through Postfix, one at a time (%s s after the one "
              "before was seen), %s batch(es); both watchers at once" % (
                  meta.get("mails", "?"), meta.get("interval_s", "?"),
                  meta.get("reps", "?")))
    elif scenario == "idle10":
        print("%s accounts in IDLE, %d messages each; windows of %s s, %s "
              "repetition(s)" % (meta.get("accounts", "?"), messages,
                                 meta.get("window_s", "?"),
                                 meta.get("reps", "?")))
    else:
        print("%d message%s, %.1f MiB on the server; %s repetitions, tools "
              "alternating" % (messages, "" if messages == 1 else "s",
                               corpus_bytes / MIB, meta.get("reps", "?")))
    print("load average at the start: %s" % meta.get("load", "?"))
    print_trees(meta)
    for mode in modes:
        mrows = [r for r in rows if r["mode"] == mode]
        res = {"tools": {}, "ratios": {}}
        out["modes"][mode] = res
        print()
        print("== %s ==" % MODE_TITLE[proto].get(mode, mode))
        if scenario == "push":
            push_mode(mrows, tools, res)
            continue
        if scenario == "idle10":
            idle_mode(mrows, meta, res)
            continue
        print_header("MiB/s", 8)
        for tool in tools:
            s = summarise(mrows, tool, corpus_bytes)
            res["tools"][tool] = s
            rate = s.get("mib_per_s")
            print_tool(tool, s, "%8s" % (
                "%8.1f" % rate if rate and scenario != "noop" else "-"))
        print()
        print_ratios(with_base(RATIOS[proto].get(scenario, []), tools,
                               VARIANTS),
                     tools, res["tools"], res["ratios"])
        rss = rss_target(RSS_TARGET_KB.get(scenario), tools, res["tools"])
        if rss:
            res["rss_target"] = rss
        rss = rss_target(base_rss_target(RSS_TARGET_KB.get(scenario)),
                         tools, res["tools"])
        if rss:
            res["base_rss_target"] = rss
    print()
    write_json(out, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
