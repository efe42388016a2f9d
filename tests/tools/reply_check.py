#!/usr/bin/env python3
"""Checks for tests/reply.sh, over mail files, with Python's email package.

  reply_check.py find MAILDIR SUBJECT
      print the files of MAILDIR (new/ and cur/) whose Subject is SUBJECT
  reply_check.py defects FILE...
      exit 1 (and say where) when the email package finds a defect in any
      part of any FILE
  reply_check.py header FILE NAME
      print the header NAME of FILE, unfolded (empty when absent)
  reply_check.py body FILE
      print FILE's text/plain body, decoded
  reply_check.py attachments FILE [--inner]
      print "FILENAME SHA256" for each attachment of FILE (--inner: of the
      message/rfc822 part it carries)
"""
import email
import email.policy
import glob
import hashlib
import sys


def load(path):
    with open(path, "rb") as f:
        return email.message_from_binary_file(f, policy=email.policy.default)


def find(maildir, subject):
    for f in sorted(glob.glob(maildir + "/new/*") + glob.glob(maildir + "/cur/*")):
        if str(load(f)["Subject"] or "") == subject:
            print(f)


def defects(paths):
    bad = 0
    for p in paths:
        for part in load(p).walk():
            if part.defects:
                print("%s: %s: %s" % (p, part.get_content_type(), part.defects))
                bad = 1
            if part.get_content_type() == "message/rfc822":
                for inner in part.get_payload():
                    for sub in inner.walk():
                        if sub.defects:
                            print("%s: inner %s: %s" % (p, sub.get_content_type(), sub.defects))
                            bad = 1
    sys.exit(bad)


def body(path):
    m = load(path)
    part = m.get_body(preferencelist=("plain",))
    sys.stdout.write(part.get_content() if part is not None else "")


def attachments(path, inner):
    m = load(path)
    if inner:
        rfc = [p for p in m.walk() if p.get_content_type() == "message/rfc822"]
        if len(rfc) != 1:
            print("no single message/rfc822 part (%d)" % len(rfc))
            sys.exit(1)
        m = rfc[0].get_payload()[0]
    for part in m.iter_attachments():
        data = part.get_payload(decode=True) or b""
        print(part.get_filename(), hashlib.sha256(data).hexdigest())


def main():
    cmd = sys.argv[1]
    if cmd == "find":
        find(sys.argv[2], sys.argv[3])
    elif cmd == "defects":
        defects(sys.argv[2:])
    elif cmd == "header":
        v = load(sys.argv[2])[sys.argv[3]]
        print(" ".join(str(v).split()) if v is not None else "")
    elif cmd == "body":
        body(sys.argv[2])
    elif cmd == "attachments":
        attachments(sys.argv[2], "--inner" in sys.argv[3:])
    else:
        sys.exit("unknown command " + cmd)


main()
