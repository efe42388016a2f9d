/*
 * Unit tests of the UIDL set (daemon/uidset.c): membership, no duplicates,
 * growth through many tables with every string still found, strings that
 * share a hash slot, the empty string, and long UIDLs.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/uidset.h"
#include "tap.h"

int
main(void)
{
	struct uidset	*u;
	char		 uid[96];
	size_t		 i, found = 0, wrong = 0;

	u = uidset_new();
	ok(!uidset_has(u, "x") && uidset_count(u) == 0, "an empty set");
	uidset_add(u, "00000001abc");
	uidset_add(u, "00000001abc");
	ok(uidset_has(u, "00000001abc") && uidset_count(u) == 1,
	    "a string added twice is in once");
	ok(!uidset_has(u, "00000001ab") && !uidset_has(u, "00000001abcd"),
	    "a prefix or an extension is not in");
	uidset_add(u, "");
	ok(uidset_has(u, "") && uidset_count(u) == 2, "the empty string");
	uidset_free(u);

	/* 300,000 strings: many tables and pool moves on the way. */
	u = uidset_new();
	for (i = 0; i < 300000; i++) {
		snprintf(uid, sizeof uid, "%08zx%08zx", i, i * 7919);
		uidset_add(u, uid);
	}
	for (i = 0; i < 300000; i++) {
		snprintf(uid, sizeof uid, "%08zx%08zx", i, i * 7919);
		found += uidset_has(u, uid);
		snprintf(uid, sizeof uid, "%08zx%08zx", i, i * 7919 + 1);
		wrong += uidset_has(u, uid);
	}
	ok(found == 300000 && wrong == 0 && uidset_count(u) == 300000,
	    "300000 strings: all found (%zu), none of the others (%zu)",
	    found, wrong);
	uidset_free(u);

	/* Long UIDLs (RFC 1939 allows 70 characters) and near neighbours. */
	u = uidset_new();
	memset(uid, 'a', 70);
	uid[70] = '\0';
	uidset_add(u, uid);
	uid[69] = 'b';
	ok(!uidset_has(u, uid), "70 characters, the last one different");
	uid[69] = 'a';
	ok(uidset_has(u, uid), "70 characters");
	uidset_free(u);
	uidset_free(NULL);
	return tap_done();
}
