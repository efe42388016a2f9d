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
"""

import sys

from benchlib import (MIB, base_rss_target, judge, print_header,
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
RSS_TARGET_KB = {"bigmsg": ("mailctld", 16 * 1024)}    # < 16 MiB
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
    print("%d message%s, %.1f MiB on the server; %s repetitions, tools "
          "alternating" % (messages, "" if messages == 1 else "s",
                           corpus_bytes / MIB, meta.get("reps", "?")))
    print_trees(meta)
    for mode in modes:
        mrows = [r for r in rows if r["mode"] == mode]
        res = {"tools": {}, "ratios": {}}
        out["modes"][mode] = res
        print()
        print("== %s ==" % MODE_TITLE[proto].get(mode, mode))
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
