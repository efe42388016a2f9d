#!/usr/bin/env python3
"""Summarise the runs of bench/smtp-send.sh: medians, rates, ratios, targets.

    smtp-report.py --results TSV --meta TSV [--json FILE]

TSV (written by smtp-send.sh, one line per run, tab-separated):
    tool rep status seconds mails count rss_kb note extra
seconds is the time the tool took for `mails` mails; for msmtp in the
drain scenario that may be fewer than N (--msmtp-mails), and its figure
for N mails is extrapolated from its per-mail rate. status is "ok",
"failed" (it ran but something was wrong: exit status, count) or "broken"
(the tool could not even start). extra is "key=value;..." facts (smtplib:
process_s; mailctld: queue_s, parallel, queue_files, events,
half_s, flushed; bigmsg: start_hwm_kb, size, anon_peak_kb, file_peak_kb;
base, mailctld from the --base tree, has the same).

meta TSV: "key<TAB>value" lines: scenario, mails, eml_bytes, reps, tools,
msmtp_mails, and free-form facts copied into the JSON.
"""

import statistics
import sys

from benchlib import (MIB, base_rss_target, judge, print_header,
                      print_ratios, print_tool, parse_args, print_trees,
                      read_meta, rss_target, spread, with_base, write_json)

# (numerator, denominator, target or None, note) per scenario.
RATIOS = {
    "drain": [("mailctld", "smtplib", 1.3, ""),
              ("msmtp", "mailctld", None, "issue: about 50x"),
              ("msmtp", "smtplib", None, "")],
    "bigmsg": [("mailctld", "smtplib", None, ""),
               ("mailctld", "msmtp", None, "")],
}
RSS_TARGET_KB = {"bigmsg": ("mailctld", 16 * 1024)}    # < 16 MiB

TITLE = {
    "drain": "drain an outbox of small mails (STARTTLS + AUTH)",
    "bigmsg": "one big mail (STARTTLS + AUTH)",
}


def parse_extra(s):
    out = {}
    for kv in s.split(";"):
        if "=" in kv:
            k, v = kv.split("=", 1)
            try:
                out[k] = float(v) if v else None
            except ValueError:
                out[k] = v
    return out


def read_rows(path):
    rows = []
    with open(path) as fp:
        for line in fp:
            f = line.rstrip("\n").split("\t")
            if len(f) < 9 or f[0] == "tool":
                continue
            rows.append({"tool": f[0], "rep": int(f[1]), "status": f[2],
                         "seconds": float(f[3]) if f[3] else None,
                         "mails": int(f[4]) if f[4] else None,
                         "count": int(f[5]) if f[5] else None,
                         "rss_kb": int(f[6]) if f[6] else None,
                         "note": f[7], "extra": parse_extra(f[8])})
    return rows


def summarise(rows, tool, n):
    runs = [r for r in rows if r["tool"] == tool]
    ok = [r for r in runs if r["status"] == "ok" and r["seconds"]]
    s = {"runs": [{k: r[k] for k in ("rep", "status", "seconds", "mails",
                                     "count", "rss_kb", "note", "extra")}
                  for r in runs],
         "ok_runs": len(ok), "reps": len(runs)}
    if ok:
        # The figure for N mails: measured, or from the per-mail rate.
        secs = [r["seconds"] * n / r["mails"] for r in ok]
        s["mails_run"] = ok[0]["mails"]
        s["extrapolated"] = any(r["mails"] != n for r in ok)
        s.update(spread(secs))
        s["mails_per_s"] = n / s["median_s"] if s["median_s"] > 0 else None
        keys = set()
        for r in ok:
            keys.update(k for k, v in r["extra"].items()
                        if isinstance(v, float))
        s["extra_median"] = {k: statistics.median(
            [r["extra"][k] for r in ok if isinstance(r["extra"].get(k),
                                                     float)])
            for k in sorted(keys)}
    return judge(s, runs, runs, ok)


def mailctld_notes(mc, scenario, n, em):
    """The notes on tool mc (mailctld or base) from the medians em of its
    extra facts."""
    notes = []
    if scenario == "drain" and em.get("queue_s"):
        notes.append("%s: queueing the %d mails (not timed; %d "
                     "mailctl send in parallel, each answered once its mail "
                     "was durable): median %.2f s, %.0f mails/s" % (
                         mc, n, em.get("parallel") or 1, em["queue_s"],
                         n / em["queue_s"]))
    if scenario == "drain" and em.get("events"):
        notes.append("%s: drain timed from `queue flush` to the last "
                     "of %.0f `sent` events seen by `mailctl watch --json`; "
                     "half the mails had gone after %.3f s" % (
                         mc, em["events"], em.get("half_s") or 0))
    if scenario == "bigmsg" and em.get("start_hwm_kb"):
        notes.append("%s: peak RSS %.1f MiB right after start, "
                     "before the send" % (mc, em["start_hwm_kb"] / 1024))
    if scenario == "bigmsg" and em.get("file_peak_kb"):
        notes.append("%s: during the send, at most %.1f MiB anonymous "
                     "memory and %.1f MiB of mapped file pages (RssAnon, "
                     "RssFile sampled every ms; VmHWM counts both)" % (
                         mc, em.get("anon_peak_kb", 0) / 1024,
                         em["file_peak_kb"] / 1024))
    return notes


def main():
    a = parse_args(__doc__)
    meta = read_meta(a.meta)
    scenario = meta.get("scenario", "drain")
    n = int(meta.get("mails", "0"))
    eml_bytes = int(meta.get("eml_bytes", "0"))
    tools = meta.get("tools", "").split()
    rows = read_rows(a.results)

    out = {"scenario": scenario, "mails": n, "eml_bytes": eml_bytes,
           "reps": int(meta.get("reps", "0")), "meta": meta, "tools": {},
           "ratios": {}}
    print()
    print("SMTP benchmark: %s" % TITLE.get(scenario, scenario))
    if scenario == "bigmsg":
        print("1 mail of %.1f MiB (a %.0f MiB attachment, base64); %s "
              "repetitions, tools alternating" % (
                  eml_bytes / MIB, int(meta.get("attach_bytes", "0")) / MIB,
                  meta.get("reps", "?")))
    else:
        print("%d mails, %.1f KiB each on average; %s repetitions, tools "
              "alternating" % (n, eml_bytes / max(n, 1) / 1024,
                               meta.get("reps", "?")))
    print_trees(meta)
    print()
    print_header("mails/s", 9)
    notes = []
    for tool in tools:
        s = summarise(rows, tool, n)
        out["tools"][tool] = s
        rate = s.get("mails_per_s")
        print_tool(tool, s, "%9s" % ("%9.1f" % rate if rate else "-"),
                   "*" if s.get("extrapolated") else "")
        if s["status"] in ("not working", "not run"):
            continue
        if s.get("extrapolated"):
            notes.append("* %s: EXTRAPOLATED to %d mails from runs of %d "
                         "(one msmtp process per mail)" % (
                             tool, n, s["mails_run"]))
    for mc in ("mailctld", "base"):
        notes += mailctld_notes(mc, scenario, n,
                                out["tools"].get(mc, {}).get("extra_median",
                                                             {}))
    sm = out["tools"].get("smtplib", {}).get("extra_median", {})
    if sm.get("process_s"):
        notes.append("smtplib: time from connect to QUIT (median process "
                     "time with Python's start-up and reading the files: "
                     "%.3f s)" % sm["process_s"])
    if notes:
        print()
        for line in notes:
            print(line)
    print()
    print_ratios(with_base(RATIOS.get(scenario, []), tools), tools,
                 out["tools"], out["ratios"])
    rss = rss_target(RSS_TARGET_KB.get(scenario), tools, out["tools"])
    if rss:
        out["rss_target"] = rss
    rss = rss_target(base_rss_target(RSS_TARGET_KB.get(scenario)), tools,
                     out["tools"])
    if rss:
        out["base_rss_target"] = rss
    print()
    write_json(out, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
