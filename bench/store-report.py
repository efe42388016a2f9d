#!/usr/bin/env python3
"""Summarise a run of bench/store.sh: one table, PASS/FAIL per target.

    store-report.py --dir RUN [--json FILE]

RUN holds what store.sh wrote:
  m/*.json      one file per measurement (bench/store-time.py): runs,
                exit statuses, median, p90, target_s, stat
  checks.tsv    NAME<TAB>ok|failed<TAB>note: what store.sh verified about
                a measurement's output (entry counts, reindex counts)
  meta.tsv      KEY<TAB>VALUE: corpus, machine, index size, peak RSS, ...
  fetch.json    bench/pop3-fetch.sh --json output (optional), with
  fetch.rc      its exit status

A measurement is PASS or FAIL against its target (no target: "info");
one whose command failed or whose output check failed is BROKEN. The
delivery rows (pop3-fetch.sh, mailctld with filing and indexing) check
issue #3's first-poll targets against the raw floor and mpop measured in
the same run.
"""

import argparse
import glob
import json
import os
import sys

from benchlib import write_json

# Issue #3's first-poll targets, which delivery with filing and indexing
# must still meet: mailctld's median over the raw floor's and over mpop's,
# all three measured in the same pop3-fetch.sh run.
FETCH_TARGETS = (("raw", 1.5), ("mpop", 0.5))
FETCH_TITLE = {"none": "POP3", "implicit": "POP3S"}
# Rows in the order of issue #4's targets, then the other figures.
ORDER = ["ls50", "lsinbox", "reindex", "reindex_inc", "folders", "lsunread",
         "start", "floor"]


def fmt(v):
    if v is None:
        return "-"
    if v < 1:
        return "%.1f ms" % (v * 1000)
    return "%.2f s" % v


def read_tsv(path):
    out = {}
    if os.path.exists(path):
        with open(path) as fp:
            for line in fp:
                f = line.rstrip("\n").split("\t")
                if len(f) >= 2:
                    out[f[0]] = f[1:]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--json")
    a = ap.parse_args()

    meta = {k: v[0] for k, v in read_tsv(os.path.join(a.dir,
                                                      "meta.tsv")).items()}
    checks = read_tsv(os.path.join(a.dir, "checks.tsv"))
    out = {"meta": meta, "measurements": {}, "fetch": {}}
    rows = []
    broken = 0
    ms = []
    for path in glob.glob(os.path.join(a.dir, "m", "*.json")):
        with open(path) as fp:
            ms.append(json.load(fp))
    ms.sort(key=lambda m: ORDER.index(m["name"]) if m["name"] in ORDER
            else len(ORDER))
    for m in ms:
        name = m["name"]
        value = m.get("median") if m["stat"] == "median" else (
            m["runs"][0] if m["ok_runs"] else None)
        target = m.get("target_s")
        chk = checks.get(name)
        if m["ok_runs"] < len(m["runs"]) or (chk and chk[0] != "ok"):
            result = "BROKEN"
            broken += 1
        elif target is None:
            result = "info"
        else:
            result = "PASS" if value < target else "FAIL"
        n = len(m["runs"])
        p90 = m.get("p90") if m["stat"] == "median" and n >= 10 else None
        shown = fmt(value)
        if value is None and m["runs"]:
            # Failed: it ran at least that long (killed by --timeout: 124).
            shown = ">= " + fmt(max(m["runs"]))
        rows.append((m["label"] or name, shown, fmt(p90),
                     "< " + fmt(target) if target is not None else "-",
                     result, ("%s of %d" % (m["stat"], n)
                              if m["stat"] == "median" else "1 run") +
                     ("" if not m["ok_runs"] < n else
                      "; exit %s" % ",".join(str(r) for r in m["rcs"]
                                             if r != 0))))
        rec = {k: m.get(k) for k in ("label", "stat", "runs", "rcs",
                                     "median", "p90", "min", "max",
                                     "target_s", "cmd")}
        rec.update(value_s=value, result=result,
                   met=None if target is None or value is None
                   else value < target)
        if chk:
            rec["check"] = {"status": chk[0],
                            "note": chk[1] if len(chk) > 1 else ""}
        out["measurements"][name] = rec

    fjson = os.path.join(a.dir, "fetch.json")
    frc = None
    if os.path.exists(os.path.join(a.dir, "fetch.rc")):
        with open(os.path.join(a.dir, "fetch.rc")) as fp:
            frc = int(fp.read().strip() or "1")
    if frc is not None:
        fres = {}
        if os.path.exists(fjson):
            with open(fjson) as fp:
                fres = json.load(fp)
        out["fetch"] = {"exit": frc, "messages": fres.get("messages"),
                        "corpus_bytes": fres.get("corpus_bytes"),
                        "modes": {}}
        nmsg = fres.get("messages") or 5000
        for mode, title in FETCH_TITLE.items():
            tools = fres.get("modes", {}).get(mode, {}).get("tools", {})
            t = tools.get("mailctld")
            if t is None:
                continue
            med = t.get("median_s") if t.get("status") == "ok" else None
            rec = {"median_s": med, "min_s": t.get("min_s"),
                   "max_s": t.get("max_s"), "status": t.get("status"),
                   "reason": t.get("reason"),
                   "ms_per_message": med * 1000 / nmsg if med else None,
                   "peak_rss_kb": t.get("peak_rss_kb"), "ratios": {}}
            out["fetch"]["modes"][mode] = rec
            if med is None:
                rows.append(("fetch %d msgs, %s (mailctld)" % (nmsg, title),
                             "-", "-", "-", "BROKEN",
                             t.get("reason") or "no median"))
                broken += 1
                continue
            rows.append(("fetch %d msgs, %s (mailctld)" % (nmsg, title),
                         fmt(med), "-", "-", "info",
                         "median of %d; %.2f ms/msg" % (
                             t.get("reps") or 0, med * 1000 / nmsg)))
            for other, target in FETCH_TARGETS:
                o = tools.get(other, {})
                omed = o.get("median_s") if o.get("status") == "ok" else None
                label = "  mailctld / %s, %s" % (other, title)
                if omed is None:
                    rows.append((label, "-", "-", "<= %.1fx" % target,
                                 "BROKEN", "%s not measured" % other))
                    broken += 1
                    continue
                ratio = med / omed
                met = ratio <= target
                rec["ratios"][other] = {"ratio": ratio, "target": target,
                                        "met": met, "other_median_s": omed}
                rows.append((label, "%.2fx" % ratio, "-",
                             "<= %.1fx" % target, "PASS" if met else "FAIL",
                             "%s median %s" % (other, fmt(omed))))
        if not out["fetch"]["modes"]:
            rows.append(("fetch (pop3-fetch.sh)", "-", "-", "-", "BROKEN",
                         "exit %d, no figures" % frc))
            broken += 1

    n = meta.get("messages", "?")
    print()
    print("Mail store benchmark: %s messages in %s (account %s)" % (
        n, meta.get("folders", "?"), meta.get("account", "?")))
    print("%s; %s" % (meta.get("machine", ""), meta.get("date", "")))
    print()
    w = max(len(r[0]) for r in rows) if rows else 20
    hdr = ("%-*s  %10s  %10s  %10s  %-11s  %s"
           % (w, "measurement", "value", "p90", "target", "result", "runs"))
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print("%-*s  %10s  %10s  %10s  %-11s  %s" % ((w,) + r))
    print()
    for name, c in checks.items():
        if len(c) > 1 and c[1]:
            print("check %-12s %-6s %s" % (name, c[0], c[1]))
    for k in ("fetch", "corpus", "corpus_bytes", "copy_s", "cold_cache", "index_bytes",
              "daemon_rss_after_reindex_kb", "daemon_rss_end_kb",
              "mailctld"):
        if k in meta:
            print("%-28s %s" % (k, meta[k]))
    print()
    out["broken"] = broken
    write_json(out, a.json)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
