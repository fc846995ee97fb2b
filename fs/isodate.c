/*
 * isodate.c — UTC days and months of ISO-8601 text (see isodate.h).
 *
 * timegm() and gmtime_r() do the calendar; this file only parses strictly
 * and formats, so a malformed date from a cache or a server is refused
 * instead of being normalised into a different day.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "isodate.h"

#define SECONDS_PER_DAY 86400L

/* Reads exactly n decimal digits at *p, advancing *p. */
static int take_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -EINVAL;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int take_char(const char **p, char c)
{
	if (**p != c)
		return -EINVAL;
	(*p)++;
	return 0;
}

/* "YYYY-MM-DD" at *p into tm (time of day zero). */
static int take_date(const char **p, struct tm *tm)
{
	int y, m, d;

	if (take_digits(p, 4, &y) || take_char(p, '-') ||
	    take_digits(p, 2, &m) || take_char(p, '-') || take_digits(p, 2, &d))
		return -EINVAL;
	if (m < 1 || m > 12 || d < 1 || d > 31)
		return -EINVAL;
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = y - 1900;
	tm->tm_mon = m - 1;
	tm->tm_mday = d;
	return 0;
}

/* "Z", "+hh:mm", "-hhmm" or nothing; *offset in seconds east of UTC. */
static int take_zone(const char **p, long *offset)
{
	int sign, h, m;

	*offset = 0;
	if (**p == '\0')
		return 0;
	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		return 0;
	}
	if (**p != '+' && **p != '-')
		return -EINVAL;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (take_digits(p, 2, &h))
		return -EINVAL;
	if (**p == ':')
		(*p)++;
	if (take_digits(p, 2, &m) || h > 23 || m > 59)
		return -EINVAL;
	*offset = sign * (h * 3600L + m * 60L);
	return 0;
}

/* "Thh:mm[:ss[.fff…]]" and a zone at *p, into tm and *offset. */
static int take_time(const char **p, struct tm *tm, long *offset)
{
	int h, m, s = 0;

	if (take_digits(p, 2, &h) || take_char(p, ':') || take_digits(p, 2, &m))
		return -EINVAL;
	if (**p == ':') {
		(*p)++;
		if (take_digits(p, 2, &s))
			return -EINVAL;
		if (**p == '.') {
			(*p)++;
			if (**p < '0' || **p > '9')
				return -EINVAL;
			while (**p >= '0' && **p <= '9')
				(*p)++;	/* a fraction never changes the day */
		}
	}
	if (h > 23 || m > 59 || s > 59)
		return -EINVAL;	/* Graph writes no leap seconds */
	tm->tm_hour = h;
	tm->tm_min = m;
	tm->tm_sec = s;
	return take_zone(p, offset);
}

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (Hinnant's method). */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

int isodate_format_utc(int64_t seconds, char out[UPFS_ISODATE_UTC_LEN])
{
	time_t t = (time_t)seconds;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, UPFS_ISODATE_UTC_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) ==
		    0)
		return -EINVAL;
	return 0;
}

/*
 * By hand, not timegm(): listings turn every job's time on each look-up
 * (tree_parse_time).
 */
int isodate_instant(const char *s, int64_t *out)
{
	struct tm tm;
	long offset = 0;
	int y, m;

	if (s == NULL || take_date(&s, &tm))
		return -EINVAL;
	y = tm.tm_year + 1900;
	m = tm.tm_mon + 1;
	/* 31 April is not a date we were given. */
	if (tm.tm_mday > days_in_month(y, m))
		return -EINVAL;
	if (*s == 'T' || *s == 't') {
		s++;
		if (take_time(&s, &tm, &offset))
			return -EINVAL;
	}
	if (*s != '\0')
		return -EINVAL;
	*out = days_from_civil(y, m, tm.tm_mday) * SECONDS_PER_DAY +
	       tm.tm_hour * 3600L + tm.tm_min * 60L + tm.tm_sec - offset;
	return 0;
}

static int parse_instant(const char *s, time_t *out)
{
	int64_t t;
	int rc = isodate_instant(s, &t);

	if (rc == 0)
		*out = (time_t)t;
	return rc;
}

/*
 * Formats through a buffer wide enough for any int, so the compiler can
 * see nothing is cut, then checks the length the caller's array holds.
 */
static int put_stamp(char *dst, size_t len, int y, int m, int d,
		     const char *time_of_day)
{
	char tmp[64];
	int n = snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d%s", y, m, d,
			 time_of_day);

	if (n < 0 || (size_t)n >= len || y < 0 || y > 9999)
		return -EINVAL;
	memcpy(dst, tmp, (size_t)n + 1);
	return 0;
}

static int format_day(time_t t, char day[UPFS_ISODATE_DAY_LEN])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		return -EINVAL;
	return put_stamp(day, UPFS_ISODATE_DAY_LEN, tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, "");
}

int isodate_utc_day(const char *s, char day[UPFS_ISODATE_DAY_LEN])
{
	time_t t;
	int rc = parse_instant(s, &t);

	if (rc == 0)
		rc = format_day(t, day);
	return rc;
}

int isodate_add_days(const char *day, int n, char out[UPFS_ISODATE_DAY_LEN])
{
	time_t t;

	/* A day, not a date-time: the caller counts whole days. */
	if (day == NULL || strlen(day) != UPFS_ISODATE_DAY_LEN - 1 ||
	    parse_instant(day, &t))
		return -EINVAL;
	return format_day(t + (time_t)n * SECONDS_PER_DAY, out);
}

int isodate_month_range(const char *month, char start[UPFS_ISODATE_STAMP_LEN],
			char end[UPFS_ISODATE_STAMP_LEN])
{
	const char *p = month;
	struct tm tm, last;
	int y, m;
	time_t before_next;

	if (month == NULL || take_digits(&p, 4, &y) || take_char(&p, '-') ||
	    take_digits(&p, 2, &m) || *p != '\0' || m < 1 || m > 12)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900 + (m == 12);
	tm.tm_mon = m % 12;
	tm.tm_mday = 1;
	before_next = timegm(&tm) - SECONDS_PER_DAY;
	if (gmtime_r(&before_next, &last) == NULL ||
	    put_stamp(start, UPFS_ISODATE_STAMP_LEN, y, m, 1, "T00:00:00Z") ||
	    put_stamp(end, UPFS_ISODATE_STAMP_LEN, y, m, last.tm_mday,
		      "T23:59:59.9999999Z"))
		return -EINVAL;
	return 0;
}
