/*
 * The string set: open addressing with linear probing, at most half full.
 * Each slot keeps the string's full hash beside the place of its bytes,
 * so a probe that meets another string is settled without reading it; the
 * bytes themselves live one after the other in a single pool, in the order
 * they were added (which is the order a server lists them in), not in a
 * separate allocation each, so looking them up in that order reads memory
 * front to back.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "uidset.h"

struct uidset_slot {
	uint64_t	 hash;
	size_t		 off;		/* in pool, plus one; 0: empty */
};

struct uidset {
	struct uidset_slot *slots;
	size_t		 size;		/* power of two */
	size_t		 count;
	char		*pool;		/* the strings, NUL-terminated */
	size_t		 used;
	size_t		 cap;
};

/* Hash a string (FNV-1a). */
static uint64_t
uidset_hash(const char *s)
{
	uint64_t	 h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Create an empty set. */
struct uidset *
uidset_new(void)
{
	return xcalloc(1, sizeof(struct uidset));
}

/* Return the slot holding uid (hash h), or the empty slot it would take. */
static struct uidset_slot *
uidset_find(const struct uidset *u, const char *uid, uint64_t h)
{
	struct uidset_slot	*sl;
	size_t			 j = h & (u->size - 1);

	for (;;) {
		sl = &u->slots[j];
		if (sl->off == 0 || (sl->hash == h &&
		    strcmp(u->pool + sl->off - 1, uid) == 0))
			return sl;
		j = (j + 1) & (u->size - 1);
	}
}

/* Double the table (or make the first one). */
static void
uidset_grow(struct uidset *u)
{
	struct uidset_slot	*old = u->slots;
	size_t			 oldsize = u->size, i, j;

	u->size = u->size ? u->size * 2 : 1024;
	u->slots = xcalloc(u->size, sizeof *u->slots);
	for (i = 0; i < oldsize; i++) {
		if (old[i].off == 0)
			continue;
		j = old[i].hash & (u->size - 1);
		while (u->slots[j].off != 0)
			j = (j + 1) & (u->size - 1);
		u->slots[j] = old[i];
	}
	free(old);
}

/* Add a string to the set (no duplicates). */
void
uidset_add(struct uidset *u, const char *uid)
{
	struct uidset_slot	*sl;
	uint64_t		 h = uidset_hash(uid);
	size_t			 len = strlen(uid) + 1;

	if ((u->count + 1) * 2 > u->size)
		uidset_grow(u);
	sl = uidset_find(u, uid, h);
	if (sl->off != 0)
		return;
	if (u->used + len > u->cap) {
		u->cap = u->cap ? u->cap * 2 : 16384;
		while (u->used + len > u->cap)
			u->cap *= 2;
		u->pool = xreallocarray(u->pool, u->cap, 1);
	}
	memcpy(u->pool + u->used, uid, len);
	sl->hash = h;
	sl->off = u->used + 1;
	u->used += len;
	u->count++;
}

/* Return 1 when uid is in the set. */
int
uidset_has(const struct uidset *u, const char *uid)
{
	if (u->size == 0)
		return 0;
	return uidset_find(u, uid, uidset_hash(uid))->off != 0;
}

/* Return the number of strings in the set. */
size_t
uidset_count(const struct uidset *u)
{
	return u->count;
}

/* Free a set (NULL is fine). */
void
uidset_free(struct uidset *u)
{
	if (u == NULL)
		return;
	free(u->slots);
	free(u->pool);
	free(u);
}
