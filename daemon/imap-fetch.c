/*
 * The sync of an IMAP session once logged in (imap.c is the
 * conversation): each folder selected, its UIDs listed (or not: an
 * unchanged UIDNEXT and HIGHESTMODSEQ since the last full sync), the new
 * messages fetched with their BODY[] literals streamed into the store
 * (CRLF as LF) in the POP3 path's batches, what was stored removed on the
 * server with keep false, read states pushed and pulled (sync_seen), rm
 * here removed there (delete_on_server), a new UIDVALIDITY matched by
 * Message-ID; and a watching session's rounds: IDLE, its renewal, and the
 * sync at the server's EXISTS.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config.h"
#include "crlf.h"
#include "imap.h"
#include "imap-int.h"
#include "imap-wire.h"
#include "store.h"
#include "uidset.h"

static void	imap_round_end(struct imap_session *);
static void	imap_push_start(struct imap_session *);
static void	imap_folder_end(struct imap_session *);
static void	imap_pull_apply(struct imap_session *);
static void	imap_state_save(struct imap_session *);


/* Append a UID to a list (bounded: a server cannot make it grow more). */
int
imap_uids_add(struct imap_uids *u, uint32_t uid)
{
	if (u->n == IMAP_UIDS_MAX)
		return -1;
	if (u->n == u->size) {
		u->size = u->size ? u->size * 2 : 256;
		u->v = xreallocarray(u->v, u->size, sizeof *u->v);
	}
	u->v[u->n++] = uid;
	return 0;
}

int
imap_uid_cmp(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The next part of a sorted list as a UID set ("1:5,9,12:14"), at most
 * IMAP_SET_MAX bytes; 0 when the list is spent.
 */
static size_t
imap_uids_set(struct imap_uids *u, char *set, size_t size)
{
	size_t	 len = 0, j;
	int	 n;

	set[0] = '\0';
	while (u->next < u->n) {
		for (j = u->next; j + 1 < u->n && u->v[j + 1] == u->v[j] + 1;
		    j++)
			;
		if (j == u->next)
			n = snprintf(NULL, 0, "%s%u", len ? "," : "",
			    u->v[u->next]);
		else
			n = snprintf(NULL, 0, "%s%u:%u", len ? "," : "",
			    u->v[u->next], u->v[j]);
		if (len + n >= size)
			break;
		if (j == u->next)
			snprintf(set + len, size - len, "%s%u", len ? "," : "",
			    u->v[u->next]);
		else
			snprintf(set + len, size - len, "%s%u:%u", len ? "," :
			    "", u->v[u->next], u->v[j]);
		len += n;
		u->next = j + 1;
	}
	return len;
}

/* The seen key of a UID of the selected folder. */
void
imap_key(const struct imap_session *s, uint32_t uid, char *key, size_t size)
{
	snprintf(key, size, "imap:%u:%u:%s", s->uidvalidity, uid,
	    s->folders[s->folder]);
}

/* The store committed a batch (session.c): count it, go on. */
void
imap_committed(void *arg, int rc, const char *cause, const uint32_t *uid,
    size_t n)
{
	struct imap_session	*s = arg;
	size_t			 i;

	if (rc != 0)
		imap_fail(s, IMAP_ERR_LOCAL, "%s", cause);
	else {
		s->result.new += n;
		for (i = 0; i < n && !s->c.keep; i++)
			imap_uids_add(&s->del, uid[i]);
	}
	if (s->state == IMAP_S_DONE)
		imap_report(s);
	else if (s->state == IMAP_S_WAIT && s->c.commits == 0)
		imap_after_fetch(s);
	else if (s->paused && s->c.commits < IMAP_MAX_COMMITS / 2) {
		s->paused = 0;
		bufferevent_enable(s->c.bev, EV_READ);
		imap_read_cb(s->c.bev, s);	/* what waited in the input */
	}
}

/* Hand the completed messages of the batch to the store. */
void
imap_commit(struct imap_session *s)
{
	session_commit(&s->c);
	if (s->c.commits >= IMAP_MAX_COMMITS && !s->paused &&
	    s->c.bev != NULL &&
	    s->state != IMAP_S_DONE) {
		s->paused = 1;
		bufferevent_disable(s->c.bev, EV_READ);
	}
}

/*
 * Put message bytes into the current message, CRLF as LF (a CR at the
 * end of a piece waits for the next). Return -1 when the session failed.
 */
int
imap_put(struct imap_session *s, const char *p, size_t n)
{
	char		*dst;
	size_t		 room, k, used;

	while (n > 0 || s->cr) {
		if ((dst = store_msg_room(s->c.cur, &room)) == NULL) {
			imap_fail(s, IMAP_ERR_LOCAL, "cannot write a message "
			    "to disk: %s", strerror(errno));
			return -1;
		}
		used = 0;
		if (s->cr) {
			if (n == 0)
				return 0;	/* still waiting */
			if (p[0] != '\n')
				dst[used++] = '\r';
			s->cr = 0;
		}
		k = n < room - used ? n : room - used;
		used += crlf_strip(dst + used, p, k, &s->cr);
		p += k;
		n -= k;
		if (store_msg_fill(s->c.cur, used) != 0) {
			imap_fail(s, IMAP_ERR_LOCAL, "cannot write a message "
			    "to disk: %s", strerror(errno));
			return -1;
		}
		if (store_msg_size(s->c.cur) > IMAP_MSG_MAX) {
			imap_fail(s, IMAP_ERR_PROTOCOL, "a message is larger "
			    "than %llu bytes; giving up",
			    (unsigned long long)IMAP_MSG_MAX);
			return -1;
		}
	}
	return 0;
}

/* The message ended on a CR: it is content. */
static int
imap_put_cr(struct imap_session *s)
{
	char	*dst;
	size_t	 room;

	s->cr = 0;
	if ((dst = store_msg_room(s->c.cur, &room)) == NULL ||
	    (dst[0] = '\r', store_msg_fill(s->c.cur, 1)) != 0) {
		imap_fail(s, IMAP_ERR_LOCAL, "cannot write a message to disk: "
		    "%s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Start a message (a BODY[] literal or string is coming). */
int
imap_msg_begin(struct imap_session *s)
{
	char	*cause = NULL;

	store_msg_abort(s->c.cur);
	s->cr = 0;
	if ((s->c.cur = store_msg_new(s->c.store, s->c.account, NULL,
	    &cause)) == NULL) {
		imap_fail(s, IMAP_ERR_LOCAL, "%s", cause);
		free(cause);
		return -1;
	}
	return 0;
}

/* A FETCH response during FETCH: the message it carried is complete. */
void
imap_fetch_msg(struct imap_session *s, const struct imap_item *list)
{
	const struct imap_item	*body, *uidv;
	uint64_t		 uid = 0;
	char			 key[400], *cause = NULL;

	body = imap_fetch_get(list, "BODY[]");
	uidv = imap_fetch_get(list, "UID");
	if (body == NULL)
		return;		/* flags of another message, say */
	if (body->kind == IMAP_STRING && s->c.cur == NULL &&
	    (imap_msg_begin(s) != 0 || imap_put(s, body->s, body->len) != 0))
		return;
	if (s->c.cur == NULL) {
		log_warnx("account=%s session=%u a FETCH without a message "
		    "body (%s)", s->c.account, s->c.id, body->kind == IMAP_NIL ?
		    "NIL" : "not a string");
		return;
	}
	if (s->cr && imap_put_cr(s) != 0)
		return;
	if (uidv == NULL || imap_item_number(uidv, &uid) != 0 || uid == 0 ||
	    uid > UINT32_MAX) {
		imap_fail(s, IMAP_ERR_PROTOCOL, "a FETCH response without a "
		    "valid UID");
		return;
	}
	if (uid >= s->next_uid)
		s->next_uid = (uint32_t)uid + 1;
	imap_key(s, (uint32_t)uid, key, sizeof key);
	if (uidset_has(s->c.seen, key) || uidset_has(s->c.taken, key)) {
		store_msg_abort(s->c.cur);
		s->c.cur = NULL;
		return;
	}
	store_msg_set_uidl(s->c.cur, key);
	if (s->local != NULL)
		store_msg_set_folder(s->c.cur, s->local);
	uidset_add(s->c.taken, key);
	if (store_msg_close(s->c.cur, &cause) != 0) {
		s->c.cur = NULL;
		imap_fail(s, IMAP_ERR_LOCAL, "%s", cause);
		free(cause);
		return;
	}
	s->result.bytes += store_msg_size(s->c.cur);
	if (s->sync_seen)
		imap_pull_add(s, (uint32_t)uid, list);
	if (session_add(&s->c, (uint32_t)uid))
		imap_commit(s);
}

/* Ask for the next part of the wanted messages, or finish the folder. */
void
imap_fetch_next(struct imap_session *s)
{
	char	 set[IMAP_SET_MAX];

	if (imap_uids_set(&s->want, set, sizeof set) > 0) {
		imap_command(s, 0, "UID FETCH %s (UID FLAGS BODY.PEEK[])", set);
		imap_enter(s, IMAP_S_FETCH);
		return;
	}
	imap_commit(s);
	imap_enter(s, IMAP_S_WAIT);
	if (s->c.commits == 0)
		imap_after_fetch(s);
}

/* Every wanted message is stored: remove them there, or go on. */
void
imap_after_fetch(struct imap_session *s)
{
	size_t	 first = s->del.next;

	if (first == 0)
		if (s->del.n > 1)
			qsort(s->del.v, s->del.n, sizeof *s->del.v,
			    imap_uid_cmp);
	if (s->del.next < s->del.n && imap_uids_set(&s->del, s->set,
	    sizeof s->set) > 0) {
		s->set_uids = s->del.next - first;
		imap_command(s, 0, "UID STORE %s +FLAGS.SILENT (\\Deleted)",
		    s->set);
		imap_enter(s, IMAP_S_STORE);
		return;
	}
	imap_push_start(s);
}

/* The folder is done: its read states and its state to the store. */
static void
imap_folder_end(struct imap_session *s)
{
	imap_pull_apply(s);
	imap_state_save(s);
	s->result.folders++;
	if (s->watch) {
		imap_round_end(s);
		return;
	}
	s->folder++;
	imap_next_folder(s);
}

/* Read and write timeouts: the account's, or none for reading (IDLE). */
void
imap_timeouts(struct imap_session *s, int reading)
{
	struct timeval	 tv = { s->c.timeout, 0 };

	if (s->c.bev != NULL)
		bufferevent_set_timeouts(s->c.bev, reading ? &tv : NULL, &tv);
}

/* End the IDLE: the tagged OK comes back within the timeout, or else. */
void
imap_idle_done(struct imap_session *s)
{
	if (s->done_sent)
		return;
	evtimer_del(s->renew_ev);
	imap_timeouts(s, 1);
	log_debug("account=%s session=%u C: DONE", s->c.account, s->c.id);
	evbuffer_add(bufferevent_get_output(s->c.bev), "DONE\r\n", 6);
	s->done_sent = 1;
	imap_enter(s, IMAP_S_IDLE_DONE);
}

/* Time to renew the IDLE (and to see that the connection lives). */
void
imap_renew_cb(evutil_socket_t fd, short what, void *arg)
{
	struct imap_session	*s = arg;

	if (s->state == IMAP_S_IDLE && s->info.idling)
		imap_idle_done(s);
}

void
imap_renew_arm(struct imap_session *s)
{
	struct timeval	 tv = { s->idle_renew, 0 };

	evtimer_add(s->renew_ev, &tv);
}

/* Wait in IDLE for news, or (no IDLE) end after the first round. */
void
imap_idle_enter(struct imap_session *s)
{
	if (!(s->caps & IMAP_CAP_IDLE)) {
		log_info("account=%s session=%u the server does not offer "
		    "IDLE: polling instead", s->c.account, s->c.id);
		s->result.no_idle = 1;
		imap_command(s, 0, "LOGOUT");
		imap_enter(s, IMAP_S_LOGOUT);
		return;
	}
	s->again = s->pushed = 0;
	imap_command(s, 0, "IDLE");
	imap_enter(s, IMAP_S_IDLE);
}

/* Sync the watched folder again: whatever came above the last UID. */
void
imap_round_start(struct imap_session *s)
{
	s->again = 0;
	memset(&s->result, 0, sizeof s->result);
	s->result.pushed = s->info.round_pushed = s->pushed;
	s->want.n = s->want.next = 0;
	s->del.n = s->del.next = 0;
	/* "n:*" also names the last message when n is past it: skipped
	 * below as seen. */
	imap_command(s, 0, "UID FETCH %u:* (UID FLAGS BODY.PEEK[])",
	    s->next_uid > 0 ? s->next_uid : 1);
	imap_enter(s, IMAP_S_FETCH);
}

/* A watching session's round ended: tell the owner, then idle. */
static void
imap_round_end(struct imap_session *s)
{
	s->result.on_server = s->exists;
	s->info.last_sync = time(NULL);
	s->info.rounds++;
	s->info.uidvalidity = s->uidvalidity;
	s->in_cb = 1;
	s->round_cb(s, &s->result, s->arg);
	s->in_cb = 0;
	if (s->c.dead || s->state == IMAP_S_DONE)
		return;		/* freed in the callback: reaped from the loop */
	if (s->again) {
		s->pushed = 0;
		imap_round_start(s);
	} else
		imap_idle_enter(s);
}

/* Forget the Message-IDs listed. */
void
imap_remap_clear(struct imap_session *s)
{
	size_t	 i;

	for (i = 0; i < s->nremap; i++)
		free(s->remap[i].mid);
	s->nremap = 0;
	s->remap_from = 0;
}

/*
 * A Message-ID as found in a header field ("Message-ID: <a@b>", folded
 * or not) or in the index ("<a@b>"): the part between < and >, or the
 * trimmed text (new memory), or NULL when empty.
 */
static char *
imap_mid_norm(const char *p, size_t len)
{
	const char	*e = p + len, *lt, *gt;

	while (p < e && strchr(" \t\r\n", *p) != NULL)
		p++;
	while (e > p && strchr(" \t\r\n", e[-1]) != NULL)
		e--;
	if ((lt = memchr(p, '<', e - p)) != NULL &&
	    (gt = memchr(lt, '>', e - lt)) != NULL) {
		p = lt + 1;
		e = gt;
	}
	return e > p ? xstrndup(p, e - p) : NULL;
}

/* Note a listed message's Message-ID, from its header literal. */
void
imap_remap_add(struct imap_session *s, uint32_t uid,
    const struct imap_item *list)
{
	const struct imap_item	*k;
	const char		*p, *colon;
	char			*mid;

	for (k = list->child; k != NULL && k->next != NULL; k = k->next->next)
		if (k->kind == IMAP_ATOM &&
		    strncasecmp(k->s, "BODY[HEADER.FIELDS", 18) == 0)
			break;
	if (k == NULL || k->next == NULL || k->next->kind != IMAP_STRING ||
	    s->nremap == IMAP_UIDS_MAX)
		return;
	p = k->next->s;
	if ((colon = memchr(p, ':', k->next->len)) == NULL ||
	    strncasecmp(p, "message-id", 10) != 0)
		return;
	colon++;
	if ((mid = imap_mid_norm(colon, k->next->len - (colon - p))) == NULL)
		return;
	if (s->nremap == s->remapsize) {
		s->remapsize = s->remapsize ? 2 * s->remapsize : 256;
		s->remap = xreallocarray(s->remap, s->remapsize,
		    sizeof *s->remap);
	}
	s->remap[s->nremap].uid = uid;
	s->remap[s->nremap++].mid = mid;
}

static int
imap_remap_cmp(const void *a, const void *b)
{
	return strcmp(((const struct imap_remap *)a)->mid,
	    ((const struct imap_remap *)b)->mid);
}

static void
imap_rekey_cb(int rc, const char *cause, void *arg)
{
	if (rc != 0)
		log_warnx("account=%s cannot record messages under the new "
		    "UIDVALIDITY: %s", (char *)arg, cause);
	free(arg);
}

/*
 * Match the messages listed under the new UIDVALIDITY with those stored
 * under the old one by Message-ID, when it is unique on both sides: the
 * matched are recorded under their new UIDs (ahead of the downloads, on
 * the store's writer) and not downloaded; the rest are.
 */
void
imap_remap_match(struct imap_session *s)
{
	struct store_imap_old	*old;
	struct store_imap_rekey	*pairs;
	struct imap_remap	*o, key, *hit;
	struct uidset		*matched;
	size_t			 nold, nold0, i, j, npairs = 0;
	char			*cause = NULL, k[32];

	if (store_imap_old(s->c.store, s->c.account, s->folders[s->folder],
	    s->remap_from, &old, &nold0, &cause) != 0) {
		log_warnx("account=%s session=%u %s", s->c.account, s->c.id,
		    cause);
		free(cause);
		return;
	}
	o = xcalloc(nold0 + 1, sizeof *o);
	for (i = j = 0; i < nold0; i++)
		if ((o[j].mid = imap_mid_norm(old[i].message_id,
		    strlen(old[i].message_id))) != NULL)
			o[j++].uid = old[i].uid;
	nold = j;
	store_imap_old_free(old, nold0);
	/* (qsort and bsearch want a pointer even for nothing: none NULL.) */
	if (nold > 1)
		qsort(o, nold, sizeof *o, imap_remap_cmp);
	if (s->nremap > 1)
		qsort(s->remap, s->nremap, sizeof *s->remap, imap_remap_cmp);
	pairs = xcalloc(s->nremap + 1, sizeof *pairs);
	matched = uidset_new();
	for (i = 0; i < s->nremap; i++) {
		/* Unique among the listed ... */
		if ((i > 0 && strcmp(s->remap[i - 1].mid, s->remap[i].mid) ==
		    0) || (i + 1 < s->nremap && strcmp(s->remap[i + 1].mid,
		    s->remap[i].mid) == 0))
			continue;
		key.mid = s->remap[i].mid;
		if ((hit = bsearch(&key, o, nold, sizeof *o,
		    imap_remap_cmp)) == NULL)
			continue;
		/* ... and among the stored. */
		if ((hit > o && strcmp(hit[-1].mid, key.mid) == 0) ||
		    (hit + 1 < o + nold && strcmp(hit[1].mid, key.mid) == 0))
			continue;
		pairs[npairs].old_uid = hit->uid;
		pairs[npairs++].new_uid = s->remap[i].uid;
		snprintf(k, sizeof k, "%u", s->remap[i].uid);
		uidset_add(matched, k);
	}
	/* What matched is not downloaded. */
	for (i = j = 0; i < s->want.n; i++) {
		snprintf(k, sizeof k, "%u", s->want.v[i]);
		if (!uidset_has(matched, k))
			s->want.v[j++] = s->want.v[i];
	}
	s->want.n = j;
	log_info("account=%s session=%u %s: %zu messages found again by "
	    "Message-ID, %zu to download", s->c.account, s->c.id,
	    s->folders[s->folder], npairs, s->want.n);
	if (npairs > 0)
		store_imap_rekey(s->c.store, s->c.account,
		    s->folders[s->folder],
		    s->remap_from, s->uidvalidity, pairs, npairs, imap_rekey_cb,
		    xstrdup(s->c.account));
	for (i = 0; i < nold; i++)
		free(o[i].mid);
	free(o);
	free(pairs);
	uidset_free(matched);
	imap_remap_clear(s);
}

/*
 * List the selected folder's UIDs (with their flags when read state is
 * kept in step), or skip it: with keep true and the folder's state from
 * the last full sync, an unchanged UIDNEXT means nothing new, and with
 * CONDSTORE only what changed since the last HIGHESTMODSEQ is asked for.
 */
void
imap_list(struct imap_session *s)
{
	struct store_imap_folder st;
	char			*cause = NULL;
	int			 known;

	if (store_imap_folder_get(s->c.store, s->c.account,
	    s->folders[s->folder], &st, &cause) != 0) {
		log_warnx("account=%s session=%u %s", s->c.account, s->c.id,
		    cause);
		free(cause);
		cause = NULL;
		memset(&st, 0, sizeof st);
	}
	known = s->c.keep && st.uidvalidity == s->uidvalidity && st.uidnext > 0;
	/*
	 * The server renumbered the folder (a new UIDVALIDITY): what was
	 * stored is found again by Message-ID, not downloaded again.
	 */
	if (st.uidvalidity != 0 && st.uidvalidity != s->uidvalidity &&
	    s->exists > 0) {
		log_info("account=%s session=%u %s has a new UIDVALIDITY (%u, "
		    "was %u): matching by Message-ID", s->c.account, s->c.id,
		    s->folders[s->folder], s->uidvalidity, st.uidvalidity);
		s->remap_from = st.uidvalidity;
		imap_command(s, 0,
		    "UID FETCH 1:* (UID%s BODY.PEEK[HEADER.FIELDS "
		    "(MESSAGE-ID)])", s->sync_seen ? " FLAGS" : "");
		imap_enter(s, IMAP_S_LIST);
		return;
	}
	if (s->next_uid < st.uidnext && known)
		s->next_uid = st.uidnext;
	if (s->exists == 0 || (known && st.uidnext == s->uidnext &&
	    (!s->sync_seen || (st.highestmodseq > 0 &&
	    st.highestmodseq == s->modseq)))) {
		log_debug("account=%s session=%u %s unchanged since the last "
		    "sync", s->c.account, s->c.id, s->folders[s->folder]);
		imap_after_fetch(s);
		return;
	}
	/*
	 * Nothing of the account stored yet, not even by a sync cut short:
	 * every message is new, so the list is skipped and all of them
	 * asked for at once (a first sync of a big folder starts a round
	 * trip and a pass over every UID sooner).
	 */
	if (st.uidvalidity == 0 && uidset_count(s->c.seen) == 0 &&
	    s->exists <= IMAP_UIDS_MAX) {
		log_info("account=%s session=%u folder %s: %u messages, all "
		    "new", s->c.account, s->c.id, s->folders[s->folder],
		    s->exists);
		if (store_expect(s->c.store, s->c.account, s->exists,
		    &cause) != 0) {
			imap_fail(s, IMAP_ERR_LOCAL, "%s", cause);
			free(cause);
			return;
		}
		imap_command(s, 0, "UID FETCH 1:* (UID FLAGS BODY.PEEK[])");
		imap_enter(s, IMAP_S_FETCH);
		return;
	}
	if (known && s->sync_seen && st.highestmodseq > 0 && s->modseq > 0)
		imap_command(s, 0, "UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE "
		    "%llu)", (unsigned long long)st.highestmodseq);
	else if (known && !s->sync_seen)
		imap_command(s, 0, "UID FETCH %u:* (UID)", st.uidnext);
	else
		imap_command(s, 0, "UID FETCH 1:* (UID%s)", s->sync_seen ?
		    " FLAGS" : "");
	imap_enter(s, IMAP_S_LIST);
}

/* Note a message's read state on the server, from its FLAGS. */
void
imap_pull_add(struct imap_session *s, uint32_t uid,
    const struct imap_item *list)
{
	const struct imap_item	*flags, *f;
	int			 seen = 0;

	if ((flags = imap_fetch_get(list, "FLAGS")) == NULL ||
	    flags->kind != IMAP_LIST || s->npull == IMAP_UIDS_MAX)
		return;
	for (f = flags->child; f != NULL; f = f->next)
		if (imap_item_is(f, "\\Seen"))
			seen = 1;
	if (s->npull == s->pullsize) {
		s->pullsize = s->pullsize ? 2 * s->pullsize : 256;
		s->pull = xreallocarray(s->pull, s->pullsize,
		    sizeof *s->pull);
	}
	s->pull[s->npull].uid = uid;
	s->pull[s->npull++].seen = seen;
}

/* What the store did with read states from the server. */
struct imap_apply {
	char	*account;
	size_t	 changed;
	struct store_imap_seen *pull;
};

static void
imap_apply_cb(int rc, const char *cause, void *arg)
{
	struct imap_apply	*ap = arg;

	if (rc != 0)
		log_warnx("account=%s cannot apply read states from the "
		    "server: %s", ap->account, cause);
	else if (ap->changed > 0)
		log_info("account=%s %zu messages read or unread elsewhere",
		    ap->account, ap->changed);
	free(ap->account);
	free(ap->pull);
	free(ap);
}

/* Hand the read states gathered to the store (after the commits). */
static void
imap_pull_apply(struct imap_session *s)
{
	struct imap_apply	*ap;

	if (s->npull == 0)
		return;
	ap = xcalloc(1, sizeof *ap);
	ap->account = xstrdup(s->c.account);
	ap->pull = s->pull;
	store_imap_apply_seen(s->c.store, s->c.account, s->folders[s->folder],
	    s->uidvalidity, ap->pull, s->npull, &ap->changed, imap_apply_cb,
	    ap);
	s->pull = NULL;
	s->npull = s->pullsize = 0;
}

/* A flag change the server told while idling (QRESYNC: with its UID). */
void
imap_flag_news(struct imap_session *s, const struct imap_item *list)
{
	const struct imap_item	*u;
	uint64_t		 uid;

	if ((u = imap_fetch_get(list, "UID")) == NULL ||
	    imap_item_number(u, &uid) != 0 || uid == 0 || uid > UINT32_MAX) {
		s->again = 1;	/* no UID: a sync finds out */
		if (s->info.idling)
			imap_idle_done(s);
		return;
	}
	imap_pull_add(s, (uint32_t)uid, list);
	imap_pull_apply(s);
}

/* The folder's state, for the next sync to compare (best effort). */
static void
imap_state_log_cb(int rc, const char *cause, void *arg)
{
	if (rc != 0)
		log_warnx("account=%s cannot record an IMAP folder's state: "
		    "%s", (char *)arg, cause);
	free(arg);
}

static void
imap_state_save(struct imap_session *s)
{
	struct store_imap_folder st;

	if (s->uidvalidity == 0 || s->state == IMAP_S_DONE)
		return;
	memset(&st, 0, sizeof st);
	st.uidvalidity = s->uidvalidity;
	st.uidnext = s->uidnext;
	st.highestmodseq = s->modseq;
	st.synced = time(NULL);
	store_imap_folder_put(s->c.store, s->c.account, s->folders[s->folder],
	    &st, imap_state_log_cb, xstrdup(s->c.account));
}

/* Push the read states changed here since the last sync. */
static void
imap_push_start(struct imap_session *s)
{
	struct store_imap_flag	*f;
	size_t			 i, n;
	char			*cause = NULL;

	s->push_on.n = s->push_on.next = s->push_off.n = s->push_off.next = 0;
	s->push_del.n = s->push_del.next = 0;
	s->expunging = 0;
	s->npush = 0;
	if (!s->sync_seen && !s->delete_there) {
		imap_folder_end(s);
		return;
	}
	if (store_imap_pending(s->c.store, s->c.account, s->folders[s->folder],
	    s->uidvalidity, &f, &n, &cause) != 0) {
		log_warnx("account=%s session=%u %s", s->c.account, s->c.id,
		    cause);
		free(cause);
		imap_folder_end(s);
		return;
	}
	free(s->push_ids);
	s->push_ids = n > 0 ? xcalloc(n, sizeof *s->push_ids) : NULL;
	for (i = 0; i < n; i++) {
		imap_uids_add(f[i].seen == STORE_IMAP_DELETE ? &s->push_del :
		    f[i].seen ? &s->push_on : &s->push_off, f[i].uid);
		s->push_ids[s->npush++] = f[i].id;
	}
	store_imap_pending_free(f);
	imap_push_next(s);
}

static void
imap_push_done_cb(int rc, const char *cause, void *arg)
{
	if (rc != 0)
		log_warnx("account=%s cannot clear pushed read states: %s",
		    (char *)arg, cause);
	free(arg);
}

/* The next STORE of the push, or the end of it. */
void
imap_push_next(struct imap_session *s)
{
	struct imap_uids	*u;
	char			 set[IMAP_SET_MAX];
	int			 on;

	for (on = 1; on >= 0; on--) {
		u = on ? &s->push_on : &s->push_off;
		if (imap_uids_set(u, set, sizeof set) > 0) {
			imap_command(s, 0, "UID STORE %s %cFLAGS.SILENT "
			    "(\\Seen)", set, on ? '+' : '-');
			imap_enter(s, IMAP_S_PUSH);
			return;
		}
	}
	/*
	 * Removed here (delete_on_server): \Deleted, then UID EXPUNGE of
	 * just those; without UIDPLUS they stay flagged for the server or
	 * another client to expunge (a plain EXPUNGE would take more).
	 */
	if (s->expunging) {
		s->expunging = 0;
		if (s->caps & IMAP_CAP_UIDPLUS) {
			imap_command(s, 0, "UID EXPUNGE %s", s->set);
			imap_enter(s, IMAP_S_PUSH);
			return;
		}
	}
	if (imap_uids_set(&s->push_del, s->set, sizeof s->set) > 0) {
		imap_command(s, 0, "UID STORE %s +FLAGS.SILENT (\\Deleted)",
		    s->set);
		s->expunging = 1;
		imap_enter(s, IMAP_S_PUSH);
		return;
	}
	if (s->npush > 0) {
		log_info("account=%s session=%u %zu changes pushed to %s",
		    s->c.account, s->c.id, s->npush, s->folders[s->folder]);
		store_imap_pending_done(s->c.store, s->push_ids, s->npush,
		    imap_push_done_cb, xstrdup(s->c.account));
		s->npush = 0;
	}
	imap_folder_end(s);
}

/* Select the next folder, or log out after the last. */
void
imap_next_folder(struct imap_session *s)
{
	char	 wire[1024], quoted[2100];
	const char *name;

	free(s->local);
	s->local = NULL;
	s->want.n = s->want.next = 0;
	s->del.n = s->del.next = 0;
	s->uidvalidity = s->exists = s->selected = s->uidnext = 0;
	s->modseq = 0;
	s->npull = 0;
	imap_remap_clear(s);
	if (s->folder == s->nfolders) {
		imap_command(s, 0, "LOGOUT");
		imap_enter(s, IMAP_S_LOGOUT);
		return;
	}
	name = s->folders[s->folder];
	if (strcasecmp(name, "INBOX") != 0 &&
	    (s->local = config_imap_local(name)) == NULL) {
		imap_fail(s, IMAP_ERR_LOCAL, "no local folder can be named "
		    "after \"%s\"", name);
		return;
	}
	if (imap_mutf7_encode(wire, sizeof wire, name) < 0 ||
	    imap_quote(quoted, sizeof quoted, wire, strlen(wire)) <= 0) {
		imap_fail(s, IMAP_ERR_LOCAL, "the folder name \"%s\" cannot "
		    "be sent", name);
		return;
	}
	imap_command(s, 0, "SELECT %s%s", quoted, s->sync_seen && !s->qresync &&
	    (s->caps & IMAP_CAP_CONDSTORE) ? " (CONDSTORE)" : "");
	imap_enter(s, IMAP_S_SELECT);
}
