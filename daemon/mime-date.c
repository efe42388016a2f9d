/*
 * Dates for the MIME reader: mime_date() reads the date-time of a Date:
 * header (RFC 5322 section 3.3, with the obsolete forms of section 4.3)
 * into a time_t. It needs nothing else of the reader.
 */
#include "autoconf.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

#include "mime.h"

/* Skip white space and (nested) comments of a header value. */
static const char *
mime_date_cfws(const char *p)
{
	int	 depth;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p != '(')
			return p;
		for (depth = 0; *p != '\0'; p++) {
			if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
}

/* Read an unsigned decimal of at most max digits; -1 when none. */
static long
mime_date_num(const char **pp, int max)
{
	const char	*p = *pp;
	long		 v = 0;
	int		 n;

	for (n = 0; n < max && *p >= '0' && *p <= '9'; n++, p++)
		v = v * 10 + (*p - '0');
	if (n == 0)
		return -1;
	*pp = p;
	return v;
}

/*
 * Parse an RFC 5322 date-time ("Sun, 22 Nov 2026 10:00:00 +0100"), with
 * the obsolete forms of section 4.3 (two- and three-digit years, zone
 * names, no seconds, comments). Return 0 with *t in UTC, or -1.
 */
int
mime_date(const char *s, time_t *t)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	static const struct { const char *name; int minutes; } zones[] = {
		{ "ut", 0 }, { "gmt", 0 }, { "z", 0 },
		{ "edt", -240 }, { "est", -300 }, { "cdt", -300 },
		{ "cst", -360 }, { "mdt", -360 }, { "mst", -420 },
		{ "pdt", -420 }, { "pst", -480 },
	};
	const char	*p = s, *m;
	struct tm	 tm;
	char		 word[8];
	long		 day, year, hour, min, sec = 0, zone = 0, v;
	size_t		 n, i;
	int		 sign;
	time_t		 r;

	if (s == NULL)
		return -1;
	p = mime_date_cfws(p);
	if (isalpha((unsigned char)*p)) {	/* day-of-week */
		while (isalpha((unsigned char)*p))
			p++;
		p = mime_date_cfws(p);
	}
	if ((day = mime_date_num(&p, 2)) < 1 || day > 31)
		return -1;
	p = mime_date_cfws(p);
	for (n = 0; n < 3 && isalpha((unsigned char)p[n]); n++)
		word[n] = tolower((unsigned char)p[n]);
	word[n] = '\0';
	if (n != 3 || (m = strstr(months, word)) == NULL ||
	    (m - months) % 3 != 0)
		return -1;
	p += 3;
	while (isalpha((unsigned char)*p))	/* "November" */
		p++;
	p = mime_date_cfws(p);
	if ((year = mime_date_num(&p, 4)) < 0)
		return -1;
	if (year < 50)
		year += 2000;
	else if (year < 1000)
		year += 1900;
	p = mime_date_cfws(p);
	if ((hour = mime_date_num(&p, 2)) < 0 || hour > 23 || *p++ != ':' ||
	    (min = mime_date_num(&p, 2)) < 0 || min > 59)
		return -1;
	if (*p == ':' && ((p++, sec = mime_date_num(&p, 2)) < 0 || sec > 60))
		return -1;
	p = mime_date_cfws(p);
	if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if ((v = mime_date_num(&p, 4)) < 0 || v % 100 > 59)
			return -1;
		zone = sign * ((v / 100) * 60 + v % 100);
	} else {
		for (n = 0; n < sizeof word - 1 && isalpha((unsigned char)p[n]);
		    n++)
			word[n] = tolower((unsigned char)p[n]);
		word[n] = '\0';
		/* Unknown and military zones mean an unknown offset: UTC. */
		for (i = 0; i < sizeof zones / sizeof zones[0]; i++)
			if (strcmp(word, zones[i].name) == 0)
				zone = zones[i].minutes;
	}
	memset(&tm, 0, sizeof tm);
	tm.tm_year = year - 1900;
	tm.tm_mon = (m - months) / 3;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec == 60 ? 59 : sec;
	if ((r = timegm(&tm)) == (time_t)-1)
		return -1;
	*t = r - zone * 60;
	return 0;
}
