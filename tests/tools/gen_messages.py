#!/usr/bin/env python3
"""Write N varied RFC 5322 messages (LF line endings, Maildir style) to DIR.

usage: gen_messages.py N DIR [--big K] [--big-size BYTES] [--prefix P]

Every 10th message (up to K of them, default 3) carries a binary attachment
of --big-size bytes (default 2 MiB) in base64; others are text of varied
sizes, including lines starting with dots (dot-stuffing on the wire) and a
long unbroken line. Content is deterministic for a given N and prefix.
"""
import base64
import os
import random
import sys


def message(i, prefix, big, big_size, rnd):
    subject = f"{prefix} message {i}"
    head = (f"From: Sender {i} <sender{i}@example.org>\n"
            f"To: alice@mail.test\n"
            f"Subject: {subject}\n"
            f"Message-ID: <{prefix}.{i}@example.org>\n"
            f"Date: Mon, 2 Nov 2026 10:{i % 60:02d}:00 +0000\n"
            f"MIME-Version: 1.0\n")
    lines = [f"Line {n} of message {i}: " + "x" * rnd.randint(0, 60)
             for n in range(rnd.randint(1, 200))]
    lines.insert(len(lines) // 2, ".a line starting with a dot")
    lines.insert(len(lines) // 2, "..two dots")
    lines.insert(len(lines) // 3, ".")
    if i % 7 == 0:
        lines.append("y" * 5000)          # a long unbroken line
    text = "\n".join(lines) + "\n"
    if not big:
        return head + "Content-Type: text/plain; charset=utf-8\n\n" + text
    data = rnd.randbytes(big_size)
    b64 = base64.encodebytes(data).decode()
    return (head + 'Content-Type: multipart/mixed; boundary="b0"\n\n'
            "--b0\nContent-Type: text/plain; charset=utf-8\n\n" + text +
            "--b0\nContent-Type: application/octet-stream\n"
            f'Content-Disposition: attachment; filename="blob{i}.bin"\n'
            "Content-Transfer-Encoding: base64\n\n" + b64 + "--b0--\n")


def main():
    args = sys.argv[1:]
    n, out = int(args[0]), args[1]
    big_max, big_size, prefix = 3, 2 * 1024 * 1024, "test"
    if "--big" in args:
        big_max = int(args[args.index("--big") + 1])
    if "--big-size" in args:
        big_size = int(args[args.index("--big-size") + 1])
    if "--prefix" in args:
        prefix = args[args.index("--prefix") + 1]
    rnd = random.Random(f"{prefix}-{n}")
    os.makedirs(out, exist_ok=True)
    bigs = 0
    for i in range(1, n + 1):
        big = i % 10 == 0 and bigs < big_max
        bigs += big
        with open(os.path.join(out, f"{prefix}-{i:06d}"), "w") as f:
            f.write(message(i, prefix, big, big_size, rnd))


if __name__ == "__main__":
    main()
