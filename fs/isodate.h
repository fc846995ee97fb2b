/*
 * isodate.h — the little calendar arithmetic the reports need, on ISO-8601
 * text as Graph writes it: an Edm.Date ("2024-05-05") or a DateTimeOffset
 * ("2024-05-05T08:00:00.0000000Z", "2020-10-14T05:16:49-07:00").
 *
 * Days and months are UTC: the report collections and the archived-job
 * ranges are asked for and answered in UTC, so a job created at 01:00+02:00
 * on 1 May belongs to 30 April. Pure functions, no allocation; the output
 * arrays are the caller's.
 */
#ifndef UPFS_ISODATE_H
#define UPFS_ISODATE_H

#include <stdint.h>

/* "YYYY-MM-DD" and its NUL. */
#define UPFS_ISODATE_DAY_LEN 11
/* "YYYY-MM" and its NUL. */
#define UPFS_ISODATE_MONTH_LEN 8
/* "YYYY-MM-DDTHH:MM:SS.fffffffZ" and its NUL. */
#define UPFS_ISODATE_STAMP_LEN 29
/* "YYYY-MM-DDTHH:MM:SSZ" and its NUL (room for a five-digit year). */
#define UPFS_ISODATE_UTC_LEN 22

/* Seconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ". -EINVAL if out of
   range. */
int isodate_format_utc(int64_t seconds, char out[UPFS_ISODATE_UTC_LEN]);

/*
 * The UTC day of s, a date or a date-time (a date-time without a zone is
 * taken as UTC). -EINVAL if s is neither, or names no real day or time.
 */
int isodate_utc_day(const char *s, char day[UPFS_ISODATE_DAY_LEN]);

/* The day n days after day (n < 0: before). -EINVAL on a bad day. */
int isodate_add_days(const char *day, int n, char out[UPFS_ISODATE_DAY_LEN]);

/*
 * The instant s names (a date, or a date-time with or without a zone,
 * taken as UTC without) in seconds since the epoch. -EINVAL if s is
 * neither, or names no real day or time.
 */
int isodate_instant(const char *s, int64_t *out);

/*
 * The first and the last instant of month ("YYYY-MM") as DateTimeOffset
 * literals, for the inclusive startDateTime/endDateTime of the archived-job
 * functions: "2024-02-01T00:00:00Z" and "2024-02-29T23:59:59.9999999Z".
 * -EINVAL on a bad month.
 */
int isodate_month_range(const char *month, char start[UPFS_ISODATE_STAMP_LEN],
			char end[UPFS_ISODATE_STAMP_LEN]);

#endif
