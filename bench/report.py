#!/usr/bin/env python3
"""Summarise the runs of bench/pop3-fetch.sh: medians, ratios, targets.

    report.py --results TSV --meta TSV [--json FILE]

TSV (written by pop3-fetch.sh, one line per run, tab-separated):
    mode tool phase rep status seconds count rss_kb note
phase is "warm" (not timed for the figures) or "rep"; status is "ok",
"failed" (it ran but fetched the wrong count or exited non-zero) or
"broken" (the tool is not working at all: it could not even start).

meta TSV: "key<TAB>value" lines: scenario, messages, corpus_bytes, reps,
modes, tools, and free-form facts (versions, date, machine) copied into
the JSON.
"""

import argparse
import json
import statistics
import sys

MIB = 1024 * 1024

# (numerator, denominator, target or None, comparison) per scenario.
RATIOS = {
    "fetch": [("mailctld", "mpop", 0.5), ("mailctld", "raw", 1.5),
              ("mpop", "raw", None), ("fetchmail", "mpop", None),
              ("mailctld", "norules", None)],
    "noop": [("mailctld", "mpop", 0.8), ("fulllist", "mpop", None),
             ("mailctld", "fulllist", None), ("mailctld", "raw", None),
             ("mpop", "raw", None), ("fetchmail", "mpop", None)],
    "bigmsg": [("mailctld", "mpop", None), ("mailctld", "raw", None),
               ("mpop", "raw", None), ("fetchmail", "mpop", None)],
}
RSS_TARGET_KB = {"bigmsg": ("mailctld", 16 * 1024)}    # < 16 MiB

MODE_TITLE = {"none": "plain POP3 (tls none)",
              "implicit": "POP3S (tls implicit)"}
SCENARIO_TITLE = {
    "fetch": "full first poll: every message into a fresh Maildir",
    "noop": "poll that finds nothing new (every UIDL already seen)",
    "bigmsg": "one big message",
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
    bad = [r for r in runs if r["status"] != "ok"]
    s = {"runs": [{k: r[k] for k in ("phase", "rep", "status", "seconds",
                                     "count", "rss_kb", "note")}
                  for r in runs],
         "ok_runs": len(ok), "reps": len(reps)}
    if ok:
        secs = [r["seconds"] for r in ok]
        s["median_s"] = statistics.median(secs)
        s["min_s"] = min(secs)
        s["max_s"] = max(secs)
        s["mib_per_s"] = (corpus_bytes / MIB / s["median_s"]
                          if s["median_s"] > 0 else None)
    rss = [r["rss_kb"] for r in reps if r["rss_kb"]]
    s["peak_rss_kb"] = max(rss) if rss else None
    if any(r["status"] == "broken" for r in runs):
        s["status"] = "not working"
    elif bad:
        s["status"] = "failed" if not ok else "partly failed"
    elif not reps:
        s["status"] = "not run"
    else:
        s["status"] = "ok"
    if bad:
        s["reason"] = bad[0]["note"]
    return s


def fmt_s(v):
    return "%9.3f" % v if v is not None else "%9s" % "-"


def fmt_mib(kb):
    return "%7.1f MiB" % (kb / 1024) if kb else "%11s" % "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--json")
    a = ap.parse_args()

    meta = {}
    with open(a.meta) as fp:
        for line in fp:
            if "\t" in line:
                k, v = line.rstrip("\n").split("\t", 1)
                meta[k] = v
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
    print("POP3 benchmark: %s" % SCENARIO_TITLE.get(scenario, scenario))
    print("%d message%s, %.1f MiB on the server; %s repetitions, tools "
          "alternating" % (messages, "" if messages == 1 else "s",
                           corpus_bytes / MIB, meta.get("reps", "?")))
    for mode in modes:
        mrows = [r for r in rows if r["mode"] == mode]
        res = {"tools": {}, "ratios": {}}
        out["modes"][mode] = res
        print()
        print("== %s ==" % MODE_TITLE.get(mode, mode))
        print("%-10s %9s %9s %9s %8s %11s  %s" % (
            "tool", "median s", "min s", "max s", "MiB/s", "peak RSS",
            "runs"))
        for tool in tools:
            s = summarise(mrows, tool, corpus_bytes)
            res["tools"][tool] = s
            if s["status"] == "not working":
                print("%-10s not working: %s" % (tool, s.get("reason", "")))
                continue
            if s["status"] == "not run":
                print("%-10s not run" % tool)
                continue
            rate = s.get("mib_per_s")
            print("%-10s %s %s %s %8s %s  %d/%d ok%s" % (
                tool, fmt_s(s.get("median_s")), fmt_s(s.get("min_s")),
                fmt_s(s.get("max_s")),
                "%8.1f" % rate if rate and scenario != "noop" else "-",
                fmt_mib(s["peak_rss_kb"]), s["ok_runs"], s["reps"],
                "" if s["status"] == "ok" else
                "  FAILED: %s" % s.get("reason", "")))
        print()
        print("%-22s %10s   %s" % ("ratio of medians", "measured", "target"))
        for num, den, target in RATIOS.get(scenario, []):
            if num not in tools or den not in tools:
                continue
            n = res["tools"][num].get("median_s")
            d = res["tools"][den].get("median_s")
            value = n / d if n is not None and d else None
            met = None if target is None or value is None else value <= target
            res["ratios"]["%s/%s" % (num, den)] = {
                "value": value, "target_max": target, "met": met}
            print("%-22s %10s   %s" % (
                "%s / %s" % (num, den),
                "%.2fx" % value if value is not None else "-",
                "" if target is None else "<= %.1fx %s" % (
                    target, {True: "(met)", False: "(NOT met)",
                             None: "(no figure)"}[met])))
        if scenario in RSS_TARGET_KB:
            tool, limit = RSS_TARGET_KB[scenario]
            if tool in tools:
                rss = res["tools"][tool].get("peak_rss_kb")
                ok = res["tools"][tool]["ok_runs"] > 0
                met = rss < limit if rss and ok else None
                res["rss_target"] = {"tool": tool, "limit_kb": limit,
                                     "peak_rss_kb": rss, "met": met}
                print("%-22s %10s   < %d MiB %s" % (
                    "%s peak RSS" % tool,
                    "%.1f MiB" % (rss / 1024) if rss and ok else "-",
                    limit // 1024, {True: "(met)", False: "(NOT met)",
                                    None: "(no figure)"}[met]))
    print()
    if a.json:
        with open(a.json, "w") as fp:
            json.dump(out, fp, indent=1)
            fp.write("\n")
        print("numbers written to %s" % a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
