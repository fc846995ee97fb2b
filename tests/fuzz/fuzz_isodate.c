/*
 * fuzz_isodate.c — dates and date-times from report rows and archived
 * jobs through fs/isodate.c: isodate_utc_day(), isodate_add_days() and
 * isodate_month_range().
 *
 * Input: the text to parse (up to its first NUL); the four bytes after a
 * NUL, if any, are a day count. Properties (isodate.h): a day is
 * "YYYY-MM-DD" and is its own UTC day; adding n days then -n comes back;
 * a month range is "YYYY-MM-01T00:00:00Z" to the month's last instant.
 */
#include <errno.h>
#include <limits.h>

#include "isodate.h"
#include "fuzz.h"

static void check_day(const char *day)
{
	char again[UPFS_ISODATE_DAY_LEN];

	FUZZ_CHECK(strlen(day) == UPFS_ISODATE_DAY_LEN - 1);
	FUZZ_CHECK(day[4] == '-' && day[7] == '-');
	FUZZ_CHECK(isodate_utc_day(day, again) == 0);
	FUZZ_CHECK(strcmp(day, again) == 0);
}

static void check_add(const char *day, int n)
{
	char there[UPFS_ISODATE_DAY_LEN], back[UPFS_ISODATE_DAY_LEN];

	if (isodate_add_days(day, n, there) != 0)
		return;	/* past year 9999 or before year 0 */
	check_day(there);
	FUZZ_CHECK(isodate_add_days(there, -n, back) == 0);
	FUZZ_CHECK(strcmp(back, day) == 0);
}

static void check_month(const char *s)
{
	char start[UPFS_ISODATE_STAMP_LEN], end[UPFS_ISODATE_STAMP_LEN];
	char day[UPFS_ISODATE_DAY_LEN];

	if (isodate_month_range(s, start, end) != 0)
		return;
	FUZZ_CHECK(strncmp(start, s, 7) == 0 && strncmp(end, s, 7) == 0);
	FUZZ_CHECK(strcmp(start + 7, "-01T00:00:00Z") == 0);
	FUZZ_CHECK(isodate_utc_day(start, day) == 0);
	FUZZ_CHECK(isodate_utc_day(end, day) == 0);
	FUZZ_CHECK(strncmp(day, s, 7) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	char day[UPFS_ISODATE_DAY_LEN];
	size_t len = strlen(text);
	int n = 0;

	if (len + 1 + sizeof(n) <= size)
		memcpy(&n, data + len + 1, sizeof(n));
	if (isodate_utc_day(text, day) == 0) {
		check_day(day);
		check_add(day, n);
		check_add(day, 1);
		check_add(day, -29);
		check_add(day, 366);
	}
	check_add(text, n);
	check_month(text);
	free(text);
	return 0;
}
