#!/bin/bash
# Conversations, fetched from a real Dovecot over POP3: a generated forest
# of conversations (several roots, depth 5, branching; some replies with
# References trimmed or only In-Reply-To) delivered out of order (the
# deepest replies first, the roots last, over several polls) threads as
# the headers say (the expected structure computed here from them);
# broken References (garbage, unbalanced brackets, a loop, a reference to
# itself, 1,000 references, a Message-ID stored twice, none at all) land
# somewhere sane; the subject fallback joins only messages without
# references, only a reply to its subject, only within 30 days; thread
# --json gives order, depth and parent; ls --threads gives counts and
# unread counts, which follow mark; reindex gives the same threads; rm and
# rm --purge of a middle message keep the rest together; bad params of
# thread and list get -32602; a store from before conversations (schema
# 7) is threaded in the background; a reply sent through Postfix is filed
# in Sent in the conversation it answers.
. "$(dirname "$0")/lib.sh"
use_mail_servers

ms_add_user alice 'alice-Pw1'
ms_start_dovecot >/dev/null
write_config "$T/config.json" "$(pop3_account alice alice alice-Pw1 none "$MS_POP3_PORT")"
start_daemon "$T/config.json"

# The forest and the hostile messages, in rounds of delivery; the truth
# as JSON in $T/truth.json: per subject, its conversation (a root's
# subject, or a name of our own) and its parent's subject (or null).
python3 - "$T" <<'PY'
import json, os, random, sys
T = sys.argv[1]
rnd = random.Random(20)
msgs = []          # dicts: subject, headers, conv, parent, depth, date
day = 86400
base = 1704067200  # 2024-01-01

def add(subject, headers, conv, parent, depth, when):
    msgs.append(dict(subject=subject, headers=headers, conv=conv,
                     parent=parent, depth=depth, date=when))

def date(t):
    import email.utils
    return email.utils.formatdate(t, usegmt=True)

# Three roots, each a tree 5 deep with 1-3 children per node.
n = 0
for r in range(3):
    root_id = "<root%d@gen.test>" % r
    rsub = "Topic %d" % r
    t = base + r * 3600
    add(rsub, {"Message-ID": root_id}, rsub, None, 0, t)
    frontier = [(root_id, rsub, [root_id], 0)]
    while frontier:
        pid, psub, chain, d = frontier.pop(0)
        if d == 4:
            continue
        for c in range(rnd.randint(1, 3) if d < 3 else 1):
            n += 1
            mid = "<m%d@gen.test>" % n
            sub = "Re: Topic %d - m%d" % (r, n)
            h = {"Message-ID": mid}
            style = n % 4
            if style == 0:
                h["In-Reply-To"] = pid          # no References
            elif style == 1:
                h["References"] = " ".join(chain[-2:])   # trimmed
                h["In-Reply-To"] = pid
            else:
                h["References"] = "\n ".join(chain)      # folded
            t += 600
            add(sub, h, rsub, psub, d + 1, t)
            frontier.append((mid, sub, chain + [mid], d + 1))

forest = list(msgs)
# Rounds: the deepest first, the roots last; within a round, shuffled.
rounds = [[m for m in forest if m["depth"] >= 3],
          [m for m in forest if m["depth"] in (1, 2)],
          [m for m in forest if m["depth"] == 0]]
for rd in rounds:
    rnd.shuffle(rd)

# Hostile and fallback messages: a fourth round after the forest.
t = base + 5 * day
hostile = []
def h_add(subject, headers, conv, parent, when=None):
    global t
    t += 60
    add(subject, headers, conv, parent, None, when or t)
    hostile.append(msgs[-1])
h_add("garbage refs", {"Message-ID": "<g1@gen.test>",
      "References": "this is not <an id and << neither > >> <"},
      "garbage refs", None)
h_add("unbalanced", {"Message-ID": "<g2@gen.test>",
      "References": "<<<m1@gen.test", "In-Reply-To": "<m2@gen.test"},
      "unbalanced", None)
h_add("self reference", {"Message-ID": "<self@gen.test>",
      "References": "<self@gen.test> <self@gen.test>",
      "In-Reply-To": "<self@gen.test>"}, "self reference", None)
h_add("loop a", {"Message-ID": "<la@gen.test>",
      "References": "<lb@gen.test> <la@gen.test> <lb@gen.test>"},
      "loop", None)
h_add("loop b", {"Message-ID": "<lb@gen.test>",
      "References": "<la@gen.test> <lb@gen.test> <la@gen.test>"},
      "loop", None)
many = " ".join("<far%d@gen.test>" % i for i in range(999)) + " <root1@gen.test>"
h_add("a thousand references", {"Message-ID": "<many@gen.test>",
      "References": many}, "Topic 1", "Topic 1")
dup_of = forest[5]
h_add("duplicate id", {"Message-ID": dup_of["headers"]["Message-ID"]},
      dup_of["conv"], None)
h_add("no message id", {"In-Reply-To": "<root2@gen.test>"}, "Topic 2",
      "Topic 2")
# Subject fallback.
h_add("Lunch plans", {"Message-ID": "<l1@gen.test>"}, "lunch", None)
h_add("Re: Lunch plans", {"Message-ID": "<l2@gen.test>"}, "lunch", None)
h_add("AW: RE[2]:  lunch   PLANS", {"Message-ID": "<l3@gen.test>"}, "lunch", None)
h_add("Sv: Lunch plans", {"Message-ID": "<l4@gen.test>",
      "References": "<elsewhere@gen.test>"}, "elsewhere", None)
h_add("RE: Lunch plans", {"Message-ID": "<l5@gen.test>"}, "late lunch",
      None, when=t + 90 * day)
h_add("Weekly report", {"Message-ID": "<w1@gen.test>"}, "weekly 1", None)
h_add("Weekly report", {"Message-ID": "<w2@gen.test>"}, "weekly 2", None)
rounds.append(hostile)

os.makedirs(T + "/rounds")
for i, rd in enumerate(rounds):
    d = "%s/rounds/%d" % (T, i)
    os.makedirs(d)
    for j, m in enumerate(rd):
        lines = ["From: Gen %d <gen@gen.test>" % j, "To: alice@mail.test",
                 "Subject: " + m["subject"], "Date: " + date(m["date"])]
        lines += ["%s: %s" % kv for kv in m["headers"].items()]
        body = "\n".join(lines) + "\n\nmessage %s\n" % m["subject"]
        open("%s/%04d.eml" % (d, j), "w").write(body)
truth = {m["subject"]: dict(conv=m["conv"], parent=m["parent"],
                            depth=m["depth"]) for m in msgs}
json.dump(dict(truth=truth, rounds=len(rounds), forest=len(forest)),
          open(T + "/truth.json", "w"))
PY
ROUNDS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rounds"])' "$T/truth.json")
FOREST=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["forest"])' "$T/truth.json")
check "the forest has at least 30 messages ($FOREST)" test "$FOREST" -ge 30

total=0
for i in $(seq 0 $((ROUNDS - 1))); do
	ms_inject_dir alice "$T/rounds/$i" >/dev/null
	n=$(ls "$T/rounds/$i" | wc -l)
	total=$((total + n))
	expect_rc 0 "fetch round $i" mailctl fetch --json
	check "round $i: $n new" test "$(json 'j["accounts"][0]["new"]')" -eq "$n"
done

# compare: the listing against the truth; prints what is wrong, if anything.
cat >"$T/compare.py" <<'PY'
import json, sys
truth = json.load(open(sys.argv[1]))["truth"]
ls = json.load(open(sys.argv[2]))
bad = []
by_sub = {m["subject"]: m for m in ls}
if len(by_sub) != len(truth):
    bad.append("%d subjects listed, %d expected" % (len(by_sub), len(truth)))
conv_of = {}
for sub, t in truth.items():
    m = by_sub.get(sub)
    if m is None:
        bad.append("missing: %r" % sub); continue
    if m["thread"] is None:
        bad.append("no thread: %r" % sub); continue
    conv_of.setdefault(t["conv"], set()).add(m["thread"])
for conv, threads in conv_of.items():
    if len(threads) != 1:
        bad.append("conversation %r split over %s" % (conv, sorted(threads)))
seen = {}
for conv, threads in conv_of.items():
    for th in threads:
        if th in seen and seen[th] != conv:
            bad.append("conversations %r and %r share thread %d" % (seen[th], conv, th))
        seen[th] = conv
print("\n".join(bad[:10]))
PY
compare() {
	mailctl ls --json >"$T/ls.json"
	python3 "$T/compare.py" "$T/truth.json" "$T/ls.json"
}
BAD=$(compare)
check "every conversation is one thread, and no two share one${BAD:+: $BAD}" test -z "$BAD"

# id SUBJECT: the message's id.
id() { python3 -c 'import json,sys; print([m["id"] for m in json.load(open(sys.argv[1])) if m["subject"] == sys.argv[2]][0])' "$T/ls.json" "$1"; }

# thread_ok ID: thread --json of ID against the truth: every message of its
# conversation, oldest first, each with the parent and depth the headers
# give (a message without an expected parent: a root, or for the hostile
# ones anything consistent: parent in the list and depth = parent's + 1).
thread_ok() {
	OUT=$(mailctl thread "$1" --json) || return 1
	python3 - "$T/truth.json" "$T/ls.json" <<PY
import json, sys
truth = json.load(open(sys.argv[1]))["truth"]
ls = json.load(open(sys.argv[2]))
th = json.loads('''$OUT''')
bad = []
ids = {m["id"]: m for m in th}
sub = {m["id"]: m["subject"] for m in ls}
conv = truth[sub[$1]]["conv"]
want = sorted(m["id"] for m in ls if truth[m["subject"]]["conv"] == conv)
if sorted(ids) != want:
    bad.append("members %s, expected %s" % (sorted(ids), want))
dates = [m["date"] for m in th]
if dates != sorted(dates):
    bad.append("not oldest first")
for m in th:
    t = truth[m["subject"]]
    p = m["parent"]
    if p is not None and p not in ids:
        bad.append("%d: parent %d not in the thread" % (m["id"], p))
        continue
    if (p is None and m["depth"] != 0) or (p is not None and m["depth"] != ids[p]["depth"] + 1):
        bad.append("%d: depth %d does not follow its parent" % (m["id"], m["depth"]))
    if t["depth"] is not None and m["depth"] != t["depth"]:
        bad.append("%r: depth %d, expected %d" % (m["subject"], m["depth"], t["depth"]))
    if t["parent"] is not None and (p is None or sub[p] != t["parent"]):
        bad.append("%r: parent %r, expected %r" % (m["subject"], sub.get(p), t["parent"]))
    if t["parent"] is None and t["depth"] == 0 and p is not None:
        bad.append("%r: a root with parent %d" % (m["subject"], p))
print("\n".join(bad[:10]))
PY
}
for s in "Topic 0" "Topic 1" "Topic 2" "garbage refs" "loop a" "lunch" "self reference"; do
	sid=$(python3 -c 'import json,sys; print([m["id"] for m in json.load(open(sys.argv[1])) if m["subject"].lower().startswith(sys.argv[2].lower())][0])' "$T/ls.json" "$s")
	BAD=$(thread_ok "$sid")
	check "thread of \"$s\": members, order, parents and depths${BAD:+: $BAD}" test -z "$BAD"
done

# Specific cases.
OUT=$(mailctl thread "$(id "a thousand references")" --json)
jcheck "1,000 references: in Topic 1, under its root" \
	'[m["subject"] for m in j if m["subject"] == "a thousand references"] and [m for m in j if m["subject"] == "a thousand references"][0]["parent"] == [m for m in j if m["subject"] == "Topic 1"][0]["id"]'
OUT=$(mailctl thread "$(id "self reference")" --json)
jcheck "a reference to itself: alone, a root" 'len(j) == 1 and j[0]["depth"] == 0 and j[0]["parent"] is None'
OUT=$(mailctl thread "$(id "loop a")" --json)
jcheck "a loop in References: both in one thread, one of them a root" \
	'len(j) == 2 and sorted(m["depth"] for m in j) == [0, 1]'
OUT=$(mailctl thread "$(id "garbage refs")" --json)
jcheck "garbage References: a conversation of its own" 'len(j) == 1'
OUT=$(mailctl thread "$(id "unbalanced")" --json)
jcheck "unbalanced brackets: a conversation of its own" 'len(j) == 1'
OUT=$(mailctl thread "$(id "no message id")" --json)
jcheck "no Message-ID: under the message it answers" \
	'[m for m in j if m["subject"] == "no message id"][0]["parent"] == [m for m in j if m["subject"] == "Topic 2"][0]["id"]'
OUT=$(mailctl thread "$(id "Lunch plans")" --json)
jcheck "subject fallback: Re: and AW: RE[2]: join, a reply with references and one 90 days later do not" \
	'sorted(m["subject"] for m in j) == sorted(["Lunch plans", "Re: Lunch plans", "AW: RE[2]:  lunch   PLANS"])'
OUT=$(mailctl read "$(id "Lunch plans")" --json --keep-unread)
jcheck "read --json gives thread" "j['thread'] == $(mailctl ls --json | python3 -c 'import json,sys; print([m["thread"] for m in json.load(sys.stdin) if m["subject"] == "Lunch plans"][0])')"

# thread for people: indented, oldest first.
DEEP=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["truth"]; print([s for s in t if t[s]["depth"] == 4][0])' "$T/truth.json")
OUT=$(COLUMNS=200 mailctl thread "$(id "$DEEP")" --no-pager)
contains "$OUT" "      > $DEEP" "thread: a reply 4 deep is indented 4 levels"
expect_rc 65 "thread of an unknown id: not found (as read)" mailctl thread 999999
contains "$ERR" "999999" "thread of an unknown id: names it"
expect_rc 64 "thread without an id: usage" mailctl thread

# ls --threads: one entry per conversation, newest first, counts.
OUT=$(mailctl ls --threads --json)
T0=$(python3 -c 'import json,sys; print([m["thread"] for m in json.load(open(sys.argv[1])) if m["subject"] == "Topic 0"][0])' "$T/ls.json")
N0=$(python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); print(sum(1 for m in l if m["thread"] == int(sys.argv[2])))' "$T/ls.json" "$T0")
jcheck "ls --threads: one entry per thread" "len(j) == len(set(m['thread'] for m in j)) == len(set(m['thread'] for m in json.load(open('$T/ls.json'))))"
jcheck "ls --threads: newest conversation first" '[m["id"] for m in j] == sorted((m["id"] for m in j), reverse=True)'
jcheck "ls --threads: Topic 0 counts $N0, all unread" "[(m['count'], m['unread']) for m in j if m['thread'] == $T0] == [($N0, $N0)]"
jcheck "ls --threads: the entry is the conversation's newest message" "all(m['id'] == max(x['id'] for x in json.load(open('$T/ls.json')) if x['thread'] == m['thread']) for m in j)"
R1=$(id "Topic 0")
R2=$(python3 -c 'import json,sys; print([m["id"] for m in json.load(open(sys.argv[1])) if m["thread"] == int(sys.argv[2]) and m["subject"] != "Topic 0"][0])' "$T/ls.json" "$T0")
expect_rc 0 "mark two of Topic 0 read" mailctl mark "$R1" "$R2" --read
OUT=$(mailctl ls --threads --json)
jcheck "ls --threads: unread count follows mark" "[(m['count'], m['unread']) for m in j if m['thread'] == $T0] == [($N0, $N0 - 2)]"
OUT=$(mailctl ls --threads --unread --json)
jcheck "ls --threads --unread: counts only unread messages" "[(m['count'], m['unread']) for m in j if m['thread'] == $T0] == [($N0 - 2, $N0 - 2)]"
OUT=$(COLUMNS=200 mailctl ls --threads --no-pager)
contains "$OUT" "[$N0/$((N0 - 2))] " "ls --threads for people: [count/unread]"

OUT=$(mailctl ls --threads --limit 2 --offset 1 --json)
echo "$OUT" >"$T/offset.json"
OUT=$(mailctl ls --threads --limit 3 --json)
jcheck "ls --threads: --limit and --offset count conversations" "[m['thread'] for m in j][1:3] == [m['thread'] for m in json.load(open('$T/offset.json'))]"
OUT=$(mailctl ls Trash --threads --json)
jcheck "ls --threads of an empty folder: none" 'j == []'

# Bad params of thread and list get -32602, naming the param.
OUT=$(python3 - "$SOCK" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
reqs = [{"method": "thread", "params": {"id": "x"}},
        {"method": "thread", "params": {"id": 0}},
        {"method": "thread", "params": {}},
        {"method": "list", "params": {"threads": "yes"}}]
out = []
f = s.makefile("rwb")
for i, r in enumerate(reqs):
    r.update(jsonrpc="2.0", id=i)
    f.write((json.dumps(r) + "\n").encode()); f.flush()
    out.append(json.loads(f.readline()))
print(json.dumps(out))
PY
)
jcheck "thread and list: bad params answer -32602" 'all(r.get("error", {}).get("code") == -32602 for r in j)'
jcheck "the errors name the param" '"id" in j[0]["error"]["message"] and "id" in j[2]["error"]["message"] and "threads" in j[3]["error"]["message"]'

# reindex: the same threads.
cp "$T/ls.json" "$T/before.json"
OUT=$(mailctl reindex --json)
check "reindex threads every message" test "$(json 'j["threaded"]')" -eq "$total"
mailctl ls --json >"$T/after.json"
check "after reindex: the same thread for every message" \
	python3 -c 'import json,sys; a={m["id"]: m["thread"] for m in json.load(open(sys.argv[1]))}; b={m["id"]: m["thread"] for m in json.load(open(sys.argv[2]))}; sys.exit(a != b)' "$T/before.json" "$T/after.json"

# rm of a middle message (to Trash), then rm --purge of another: the rest
# stays together, the purged one's replies hang on its parent.
MID=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["truth"]; print([s for s in t if t[s]["depth"] == 2 and t[s]["conv"] == "Topic 0"][0])' "$T/truth.json")
MID2=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["truth"]; print([s for s in t if t[s]["depth"] == 2 and t[s]["conv"] == "Topic 1"][0])' "$T/truth.json")
MID_ID=$(id "$MID")
MID2_ID=$(id "$MID2")
expect_rc 0 "rm a middle message of Topic 0" mailctl rm "$MID_ID"
expect_rc 0 "rm --purge a middle message of Topic 1" mailctl rm --purge "$MID2_ID"
OUT=$(mailctl thread "$(id "Topic 0")" --json)
jcheck "after rm: Topic 0 keeps all $N0, the removed one in Trash" "len(j) == $N0 and [m['folder'] for m in j if m['id'] == $MID_ID] == ['Trash']"
OUT=$(mailctl thread "$(id "Topic 1")" --json)
N1=$(python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); t=[m["thread"] for m in l if m["subject"] == "Topic 1"][0]; print(sum(1 for m in l if m["thread"] == t))' "$T/before.json")
jcheck "after rm --purge: Topic 1 keeps the other $((N1 - 1))" "len(j) == $N1 - 1 and $MID2_ID not in [m['id'] for m in j]"
PARENT=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["truth"]; print(t[sys.argv[2]]["parent"])' "$T/truth.json" "$MID2")
jcheck "after rm --purge: its replies hang on its parent, one level up" \
	"[m['parent'] for m in j if json.load(open('$T/truth.json'))['truth'][m['subject']]['parent'] == '''$MID2'''] and all(m['parent'] == [x['id'] for x in j if x['subject'] == '$PARENT'][0] and m['depth'] == 2 for m in j if json.load(open('$T/truth.json'))['truth'][m['subject']]['parent'] == '''$MID2''')"
OUT=$(mailctl reindex --json)
OUT=$(mailctl thread "$(id "Topic 1")" --json)
jcheck "after rm --purge and reindex: still together" "len(j) == $N1 - 1"

# A store from before conversations: schema 7 (search, no conversations), threaded in the background.
mailctl ls --json >"$T/before.json"
stop_daemon
python3 - "$T/data/index.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("""
DROP INDEX messages_thread; DROP INDEX messages_thread_subject;
ALTER TABLE messages DROP COLUMN thread;
ALTER TABLE messages DROP COLUMN thread_key;
ALTER TABLE messages DROP COLUMN thread_subject;
ALTER TABLE messages DROP COLUMN thread_reply;
ALTER TABLE messages DROP COLUMN thread_refs;
DROP TABLE thread_nodes;
PRAGMA user_version = 7;
""")
db.close()
PY
start_daemon "$T/config.json"
check "an old store: every message threaded in the background" \
	count_reaches "mailctl ls --json | python3 -c 'import json,sys; print(sum(m[\"thread\"] is not None for m in json.load(sys.stdin)))'" "$((total - 1))" 20
mailctl ls --json >"$T/after.json"
check "an old store: the same threads as before" \
	python3 -c 'import json,sys; a={m["id"]: m["thread"] for m in json.load(open(sys.argv[1]))}; b={m["id"]: m["thread"] for m in json.load(open(sys.argv[2]))}; sys.exit(a != b)' "$T/before.json" "$T/after.json"
check "an old store: the fill is logged" grep -q "threaded $((total - 1)) messages of the index" "$T/daemon.log"
check "user_version is 8" test "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA user_version").fetchone()[0])' "$T/data/index.sqlite")" -ge 8

# A copy filed in Sent joins the conversation it answers (sent through a
# real Postfix, with In-Reply-To and References of its own).
if command -v postfix >/dev/null && ms_start_postfix >/dev/null; then
	python3 - "$T/config.json" "$MS_SMTP_PORT" "$MS_CA_FILE" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["accounts"][0]["smtp"] = {"host": "127.0.0.1", "port": int(sys.argv[2]),
    "tls": "starttls", "ca_file": sys.argv[3], "user": "alice",
    "password": "alice-Pw1", "timeout": 20}
json.dump(c, open(sys.argv[1], "w"))
PY
	expect_rc 0 "reload with alice's SMTP" mailctl reload
	printf 'From: alice@mail.test\nTo: alice@mail.test\nSubject: Re: Topic 2\nMessage-ID: <sent1@gen.test>\nIn-Reply-To: <root2@gen.test>\nReferences: <root2@gen.test>\n\nmy answer\n' >"$T/reply.eml"
	expect_rc 0 "sendmail a reply to Topic 2" mailctl sendmail -t <"$T/reply.eml"
	check "the sent copy is filed in Sent" \
		count_reaches "mailctl ls Sent --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'" 1 30
	SENT=$(mailctl ls Sent --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
	OUT=$(mailctl thread "$SENT" --json)
	jcheck "the sent copy is in Topic 2's conversation, under its root" \
		'[m["parent"] for m in j if m["folder"] == "Sent"] == [m["id"] for m in j if m["subject"] == "Topic 2"]'
else
	ok "# SKIP no postfix: the Sent copy's conversation is not checked"
fi

expect_rc 0 "the daemon still answers status" mailctl status
