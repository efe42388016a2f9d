"""Compare `mailctl read --json` (NNNN.read) with Python's email package on
the corpus messages (NNNN.eml) in a directory; print the agreement and each
class of disagreement (the field, and what kind of difference) with its
count and an example. Exit 1 when the agreement is below the minimum given
(percent)."""
import collections
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from mime_oracle import oracle  # noqa: E402

FIELDS = ("subject", "from", "to", "cc", "message_id", "date", "date_raw",
          "from_addresses", "to_addresses", "cc_addresses", "body_type",
          "in_reply_to", "references", "body")


def classify(key, want, got):
    """A short name for how the values differ."""
    if want is None or got is None:
        return "%s: one side null" % key
    if key == "body":
        if want.split() == got.split():
            return "body: white space only"
        if "\ufffd" in got or "\ufffd" in want:
            return "body: U+FFFD on one side"
    return "%s: different" % key


def main(d, minimum):
    total = agree = 0
    classes = collections.Counter()
    examples = {}
    for name in sorted(os.listdir(d)):
        if not name.endswith(".eml"):
            continue
        base = os.path.join(d, name[:-4])
        origin = open(base + ".origin").read()
        total += 1
        try:
            want = oracle(open(base + ".eml", "rb").read())
        except Exception as e:  # Python itself fails on it
            classes["python fails (%s)" % type(e).__name__] += 1
            examples.setdefault("python fails (%s)" % type(e).__name__,
                                origin)
            continue
        try:
            got = json.load(open(base + ".read"))
        except (OSError, ValueError):
            classes["read failed"] += 1
            examples.setdefault("read failed", origin)
            continue
        diffs = []
        for key in FIELDS:
            w, g = want.get(key), got.get(key)
            if key == "body":
                w, g = (w or "").rstrip(), (g or "").rstrip()
            if w != g:
                diffs.append((classify(key, w, g), w, g))
        wa = [(a["filename"], a["content_type"], a["size"])
              for a in want["attachments"]]
        ga = [(a["filename"], a["content_type"], a["size"])
              for a in got.get("attachments", [])]
        if len(wa) != len(ga):
            diffs.append(("attachments: count", len(wa), len(ga)))
        else:
            for w, g in zip(wa, ga):
                for i, what in enumerate(("filename", "content_type",
                                          "size")):
                    if w[i] != g[i]:
                        diffs.append(("attachments: " + what, w[i], g[i]))
        if not diffs:
            agree += 1
        for c, w, g in diffs:
            classes[c] += 1
            examples.setdefault(c, "%s: want %.80r got %.80r" % (origin, w,
                                                                  g))
    rate = 100.0 * agree / total if total else 0.0
    print("# corpus: %d messages, %d agree in every field: %.1f%%" %
          (total, agree, rate))
    for c, n in classes.most_common():
        print("# %5d  %s\n#          e.g. %s" % (n, c, examples[c]))
    return 0 if rate >= minimum else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
