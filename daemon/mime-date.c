/*
 * Dates for the MIME reader: mime_date() reads the date-time of a Date:
 * header into a time_t. It needs nothing else of the reader.
 *
 * RFC 5322 section 3.3 first, with the obsolete forms of section 4.3
 * (two- and three-digit years, zone names, no seconds, comments, any
 * case), and then what real mail sends instead, as a reader must take it:
 *	Wednesday, April 03, 2002 5:56 AM	(month before day, 12-hour)
 *	03 Apr 2002 05:56:00			(no zone: UTC)
 *	Mon Apr  3 05:56:00 2002		(asctime, ctime)
 *	2002-04-03T05:56:00Z, 2002-04-03 05:56:00.25 +02:00  (ISO 8601)
 *	3-Apr-2002 5:56:00 +0200 (CEST)		(hyphens, a comment)
 * The date is read as a list of items in any order: a month name, a day
 * name (ignored), day and year numbers, hh:mm[:ss], AM/PM, a zone. What is
 * not one of them, a number with no place left, or a missing day, month,
 * year or time makes it unreadable.
 */
#include "autoconf.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mime.h"

#define MIME_DATE_ITEMS	24	/* items of a date read at most */

struct mime_date_parts {
	long		 year, month, day, hour, min, sec;
	int		 ampm;		/* 0 none, 1 AM, 2 PM */
	int		 zoned;		/* a zone was read */
	long		 zone;		/* minutes east of UTC */
	int		 yearlen;	/* digits the year was written with */
};

/*
 * Skip white space, commas, hyphens, slashes, dots and (nested) comments;
 * a hyphen before a digit is kept when it may be a zone's sign.
 */
static const char *
mime_date_skip(const char *p, int sign)
{
	int	 depth;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\r' ||
		    *p == '\n' || *p == '/' || *p == '.' || (*p == '-' &&
		    !(sign && isdigit((unsigned char)p[1]))))
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

/* Read an unsigned decimal of at most max digits; -1 when none or more. */
static long
mime_date_num(const char **pp, int max, int *len)
{
	const char	*p = *pp;
	long		 v = 0;
	int		 n;

	for (n = 0; n < max && *p >= '0' && *p <= '9'; n++, p++)
		v = v * 10 + (*p - '0');
	if (n == 0 || (*p >= '0' && *p <= '9'))
		return -1;
	if (len != NULL)
		*len = n;
	*pp = p;
	return v;
}

/* Read a word as a month, day name, AM/PM or zone; -1 when it is none. */
static int
mime_date_word(struct mime_date_parts *d, const char *p, size_t n)
{
	static const char *const months[] = { "january", "february", "march",
	    "april", "may", "june", "july", "august", "september", "october",
	    "november", "december" };
	static const char *const days[] = { "monday", "tuesday", "wednesday",
	    "thursday", "friday", "saturday", "sunday" };
	static const struct { const char *name; int minutes; } zones[] = {
		{ "ut", 0 }, { "utc", 0 }, { "gmt", 0 }, { "z", 0 },
		{ "edt", -240 }, { "est", -300 }, { "cdt", -300 },
		{ "cst", -360 }, { "mdt", -360 }, { "mst", -420 },
		{ "pdt", -420 }, { "pst", -480 }, { "akdt", -480 },
		{ "akst", -540 }, { "hst", -600 }, { "wet", 0 },
		{ "west", 60 }, { "cet", 60 }, { "met", 60 }, { "cest", 120 },
		{ "mest", 120 }, { "eet", 120 }, { "eest", 180 },
		{ "jst", 540 }, { "kst", 540 }, { "aest", 600 },
		{ "aedt", 660 }, { "nzst", 720 }, { "nzdt", 780 },
	};
	size_t	 i;

	for (i = 0; i < 12; i++)
		if ((n == 3 || n == strlen(months[i]) || (i == 8 && n == 4)) &&
		    strncasecmp(p, months[i], n) == 0) {
			if (d->month != -1)
				return -1;
			d->month = i;
			return 0;
		}
	for (i = 0; i < 7; i++)
		if ((n == 3 || n == strlen(days[i])) &&
		    strncasecmp(p, days[i], n) == 0)
			return 0;
	if (n == 2 && (strncasecmp(p, "am", 2) == 0 ||
	    strncasecmp(p, "pm", 2) == 0) && d->ampm == 0) {
		d->ampm = tolower((unsigned char)*p) == 'a' ? 1 : 2;
		return 0;
	}
	for (i = 0; i < sizeof zones / sizeof zones[0]; i++)
		if (n == strlen(zones[i].name) &&
		    strncasecmp(p, zones[i].name, n) == 0) {
			if (!d->zoned) {
				d->zone = zones[i].minutes;
				d->zoned = 1;
			}
			return 0;
		}
	/*
	 * Another short word after the time is a zone we do not know (or a
	 * military one): an unknown offset, read as UTC (RFC 5322 4.3).
	 */
	return n <= 5 && d->hour != -1 ? 0 : -1;
}

/* Read hh:mm[:ss[.frac]] at *pp; -1 when it is none. */
static int
mime_date_time(struct mime_date_parts *d, const char **pp)
{
	const char	*p = *pp;
	long		 h, m, sec = 0;

	if ((h = mime_date_num(&p, 2, NULL)) < 0 || *p++ != ':' ||
	    (m = mime_date_num(&p, 2, NULL)) < 0)
		return -1;
	if (*p == ':' && (p++, sec = mime_date_num(&p, 2, NULL)) < 0)
		return -1;
	if (*p == '.' && isdigit((unsigned char)p[1]))
		for (p++; isdigit((unsigned char)*p); p++)
			;	/* fractions of a second */
	if (d->hour != -1)
		return -1;
	d->hour = h;
	d->min = m;
	d->sec = sec;
	*pp = p;
	return 0;
}

/* Read a numeric zone (+hhmm, +hh:mm, +hh) at *pp, on its sign. */
static int
mime_date_zone(struct mime_date_parts *d, const char **pp)
{
	const char	*p = *pp + 1;
	long		 h, m = 0;
	int		 len;

	if ((h = mime_date_num(&p, 4, &len)) < 0)
		return -1;
	if (len == 4) {
		m = h % 100;
		h /= 100;
	} else if (len > 2)
		return -1;
	else if (*p == ':' && (p++, m = mime_date_num(&p, 2, NULL)) < 0)
		return -1;
	if (h > 23 || m > 59)
		return -1;
	if (!d->zoned) {
		d->zone = (**pp == '-' ? -1 : 1) * (h * 60 + m);
		d->zoned = 1;
	}
	*pp = p;
	return 0;
}

/* Read an ISO 8601 date (yyyy-mm-dd, then maybe T) at *pp; -1: none. */
static int
mime_date_iso(struct mime_date_parts *d, const char **pp)
{
	const char	*p = *pp;
	long		 y, m, day;
	int		 len;

	if ((y = mime_date_num(&p, 4, &len)) < 0 || len != 4 ||
	    *p++ != '-' || (m = mime_date_num(&p, 2, NULL)) < 1 ||
	    *p++ != '-' || (day = mime_date_num(&p, 2, NULL)) < 0)
		return -1;
	if (d->year != -1 || d->month != -1 || d->day != -1)
		return -1;
	d->year = y;
	d->yearlen = 4;
	d->month = m - 1;
	d->day = day;
	if ((*p == 'T' || *p == 't') && isdigit((unsigned char)p[1]))
		p++;
	*pp = p;
	return 0;
}

/*
 * Place a number standing alone: the day when it can be one and none was
 * read (and it is not after the time in "Apr 2002 05:56 3"), else the year.
 */
static int
mime_date_number(struct mime_date_parts *d, const char **pp)
{
	long	 v;
	int	 len;

	if ((v = mime_date_num(pp, 4, &len)) < 0)
		return -1;
	if (len <= 2 && d->day == -1 && (d->year == -1 || d->hour == -1)) {
		d->day = v;
		return 0;
	}
	if (d->year != -1)
		return -1;
	d->year = v;
	d->yearlen = len;
	return 0;
}

/*
 * Parse a date-time (see the top of this file). Return 0 with *t in UTC,
 * or -1 when it cannot be read.
 */
int
mime_date(const char *s, time_t *t)
{
	struct mime_date_parts	 d;
	struct tm		 tm, chk;
	const char		*p, *w;
	time_t			 r;
	int			 items = 0;

	if (s == NULL)
		return -1;
	memset(&d, 0, sizeof d);
	d.year = d.month = d.day = d.hour = -1;
	for (p = mime_date_skip(s, 0); *p != '\0';
	    p = mime_date_skip(p, d.hour != -1)) {
		if (++items > MIME_DATE_ITEMS)
			return -1;
		if (isalpha((unsigned char)*p)) {
			for (w = p; isalpha((unsigned char)*p); p++)
				;
			if (mime_date_word(&d, w, p - w) != 0)
				return -1;
		} else if (*p == '+' || *p == '-') {
			if (mime_date_zone(&d, &p) != 0)
				return -1;
		} else if (!isdigit((unsigned char)*p))
			return -1;
		else if (mime_date_iso(&d, &p) != 0 &&
		    mime_date_time(&d, &p) != 0 &&
		    mime_date_number(&d, &p) != 0)
			return -1;
	}
	if (d.day < 1 || d.day > 31 || d.month < 0 || d.year < 0)
		return -1;
	if (d.hour == -1)		/* a date alone is no date-time */
		return -1;
	if (d.ampm != 0) {
		if (d.hour < 1 || d.hour > 12)
			return -1;
		d.hour = d.hour % 12 + (d.ampm == 2 ? 12 : 0);
	}
	if (d.hour > 23 || d.min > 59 || d.sec > 60)
		return -1;
	/* RFC 5322 4.3: 00-49 are 2000-2049, 50-99 and three digits 19xx. */
	if (d.yearlen <= 2)
		d.year += d.year < 50 ? 2000 : 1900;
	else if (d.yearlen == 3)
		d.year += 1900;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = d.year - 1900;
	tm.tm_mon = d.month;
	tm.tm_mday = d.day;
	tm.tm_hour = d.hour;
	tm.tm_min = d.min;
	tm.tm_sec = d.sec == 60 ? 59 : d.sec;
	if ((r = timegm(&tm)) == (time_t)-1 || gmtime_r(&r, &chk) == NULL ||
	    chk.tm_mday != d.day)
		return -1;		/* 31 April */
	*t = r - d.zone * 60;
	return 0;
}
