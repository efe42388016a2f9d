"""What the benchmark reports share (report.py, smtp-report.py,
store-report.py): reading the meta file, summarising a tool's runs, the
tools table, the ratios and the peak-RSS target, and the JSON output.

The reports import it from their own directory (python3 puts a script's
directory first on sys.path).
"""

import argparse
import json
import statistics
import subprocess
import time

MIB = 1024 * 1024

# How a target reads: met, not met, or no figure to compare.
MET = {True: "(met)", False: "(NOT met)", None: "(no figure)"}


def parse_args(doc):
    """The command line of report.py and smtp-report.py, described by the
    first line of doc: --results TSV --meta TSV [--json FILE]."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--json")
    return ap.parse_args()


def read_meta(path):
    """The "key<TAB>value" lines of a driver's meta file, as a dict."""
    meta = {}
    with open(path) as fp:
        for line in fp:
            if "\t" in line:
                k, v = line.rstrip("\n").split("\t", 1)
                meta[k] = v
    return meta


def spread(secs):
    """median_s, min_s and max_s of a list of seconds."""
    return {"median_s": statistics.median(secs), "min_s": min(secs),
            "max_s": max(secs)}


def judge(s, runs, reps, ok):
    """Add peak_rss_kb (over reps), status and, after a failure, reason
    (its note) to the summary s of one tool: runs are all its runs, reps
    the timed ones, ok those that succeeded."""
    bad = [r for r in runs if r["status"] != "ok"]
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


def print_header(rate, width):
    """The head of the tools table; the rate column is titled rate."""
    print("%-12s %9s %9s %9s %*s %11s  %s" % (
        "tool", "median s", "min s", "max s", width, rate, "peak RSS",
        "runs"))


def print_tool(tool, s, rate, mark=""):
    """The row of tool (summary s) in the tools table; rate is the rate
    column, already formatted, and mark follows the name."""
    if s["status"] == "not working":
        print("%-12s not working: %s" % (tool, s.get("reason", "")))
        return
    if s["status"] == "not run":
        print("%-12s not run" % tool)
        return
    print("%-12s %s %s %s %s %s  %d/%d ok%s" % (
        tool + mark, fmt_s(s.get("median_s")), fmt_s(s.get("min_s")),
        fmt_s(s.get("max_s")), rate, fmt_mib(s["peak_rss_kb"]),
        s["ok_runs"], s["reps"],
        "" if s["status"] == "ok" else "  FAILED: %s" % s.get("reason", "")))


def print_ratios(ratios, tools, summaries, out):
    """The table of ratios of medians: ratios lists (numerator,
    denominator, target or None[, note shown when there is no target]);
    only those between two of tools. Each goes into out as
    "num/den": value, target_max, met."""
    print("%-22s %10s   %s" % ("ratio of medians", "measured", "target"))
    for num, den, target, *note in ratios:
        if num not in tools or den not in tools:
            continue
        n = summaries[num].get("median_s")
        d = summaries[den].get("median_s")
        value = n / d if n is not None and d else None
        met = None if target is None or value is None else value <= target
        out["%s/%s" % (num, den)] = {
            "value": value, "target_max": target, "met": met}
        print("%-22s %10s   %s" % (
            "%s / %s" % (num, den),
            "%.2fx" % value if value is not None else "-",
            (note[0] if note else "") if target is None else
            "<= %.1fx %s" % (target, MET[met])))


def with_base(ratios, tools, variants=()):
    """ratios, and when the tool "base" ran (mailctld from the --base tree,
    the build before): after each ratio with mailctld on one side and on
    the other a tool that is not one of variants (mailctld itself run
    otherwise), the same ratio with base in mailctld's place, then
    mailctld / base, the after / before ratio."""
    if "base" not in tools:
        return ratios
    out = []
    for r in ratios:
        out.append(r)
        num, den = r[0], r[1]
        other = den if num == "mailctld" else num
        if "mailctld" in (num, den) and other not in variants:
            out.append(tuple("base" if t == "mailctld" else t
                             for t in (num, den)) + tuple(r[2:]))
    out.append(("mailctld", "base", None, "after / before (--base)"))
    return out


def base_rss_target(target):
    """The peak-RSS target of mailctld (see rss_target), for base."""
    if target is None or target[0] != "mailctld":
        return None
    return ("base", target[1])


def print_trees(meta):
    """With --base, say which two builds were compared (meta lines
    mailctld_tree and base_tree)."""
    if meta.get("base_tree"):
        print("after:  mailctld from %s" % meta.get("mailctld_tree", "?"))
        print("before: base     from %s" % meta["base_tree"])


def rss_target(target, tools, summaries):
    """Check and print the peak-RSS target (tool, limit in KiB) if there
    is one for a tool that ran; returns its record, or None."""
    if target is None:
        return None
    tool, limit = target
    if tool not in tools:
        return None
    rss = summaries[tool].get("peak_rss_kb")
    ok = summaries[tool]["ok_runs"] > 0
    met = rss < limit if rss and ok else None
    print("%-22s %10s   < %d MiB %s" % (
        "%s peak RSS" % tool,
        "%.1f MiB" % (rss / 1024) if rss and ok else "-",
        limit // 1024, MET[met]))
    return {"tool": tool, "limit_kb": limit, "peak_rss_kb": rss, "met": met}


def write_json(out, path):
    """Write out to path (when there is one) and say so."""
    if path:
        with open(path, "w") as fp:
            json.dump(out, fp, indent=1)
            fp.write("\n")
        print("numbers written to %s" % path)


def clients(mc):
    """The daemon's count of connected clients (this query included); mc
    is the mailctl command line up to the sub-command."""
    p = subprocess.run(mc + ["status", "--json"], capture_output=True)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout).get("clients")


def watch_start(mc, timeout=10):
    """Start `mailctl watch --json` (mc: the mailctl command line up to
    the sub-command) and wait until the daemon counts it among its clients:
    then it is subscribed. Returns the process (stdout a pipe), or None
    when it did not subscribe within timeout seconds."""
    c0 = clients(mc)
    watch = subprocess.Popen(mc + ["watch", "--json"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while c0 is not None and (clients(mc) or 0) < c0 + 1:
        if time.monotonic() > deadline or watch.poll() is not None:
            watch.kill()
            watch.wait()
            return None
        time.sleep(0.01)
    return watch


def proc_status_kb(pid, field):
    """Field (VmRSS, VmHWM, ...) of /proc/PID/status in KiB, or None."""
    try:
        with open("/proc/%d/status" % pid) as fp:
            for line in fp:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None
