/*
 * test_isodate.c — UTC days and month ranges of ISO-8601 text.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "isodate.h"

static void day_is(const char *s, const char *want)
{
	char day[UPFS_ISODATE_DAY_LEN] = "";
	int rc = isodate_utc_day(s, day);

	if (want == NULL)
		CHECK_MSG(rc == -EINVAL, "'%s' accepted as %s", s, day);
	else
		CHECK_MSG(rc == 0 && strcmp(day, want) == 0,
			  "'%s': rc %d, got '%s', want '%s'", s, rc, day, want);
}

static void test_days(void)
{
	day_is("2024-05-05", "2024-05-05");
	day_is("2024-05-05T08:00:00.0000000Z", "2024-05-05");
	day_is("2024-05-05T23:59:59Z", "2024-05-05");
	day_is("2024-05-01T01:00:00+02:00", "2024-04-30");
	day_is("2020-10-14T20:16:49-07:00", "2020-10-15");
	day_is("2024-12-31T23:30:00-0100", "2025-01-01");
	day_is("2024-02-29T12:00", "2024-02-29");
	day_is("2024-05-05t10:00:00z", "2024-05-05");
	day_is("2023-02-29", NULL);		/* not a leap year */
	day_is("2024-04-31", NULL);
	day_is("2024-13-01", NULL);
	day_is("2024-5-5", NULL);
	day_is("2024-05-05T24:00:00Z", NULL);
	day_is("2024-05-05T10:00:00.Z", NULL);
	day_is("2024-05-05T10:00:00+25:00", NULL);
	day_is("2024-05-05 ", NULL);
	day_is("2024-05-05T", NULL);
	day_is("", NULL);
	day_is(NULL, NULL);
}

static void test_add_days(void)
{
	char out[UPFS_ISODATE_DAY_LEN] = "";

	CHECK(isodate_add_days("2024-05-05", -29, out) == 0 &&
	      strcmp(out, "2024-04-06") == 0);
	CHECK(isodate_add_days("2024-02-28", 1, out) == 0 &&
	      strcmp(out, "2024-02-29") == 0);
	CHECK(isodate_add_days("2024-12-31", 1, out) == 0 &&
	      strcmp(out, "2025-01-01") == 0);
	CHECK(isodate_add_days("2024-03-01", 0, out) == 0 &&
	      strcmp(out, "2024-03-01") == 0);
	CHECK(isodate_add_days("2024-05-05T00:00:00Z", 1, out) == -EINVAL);
	CHECK(isodate_add_days("yesterday", 1, out) == -EINVAL);
}

static void test_month_range(void)
{
	char a[UPFS_ISODATE_STAMP_LEN] = "", b[UPFS_ISODATE_STAMP_LEN] = "";

	CHECK(isodate_month_range("2024-02", a, b) == 0);
	CHECK_MSG(strcmp(a, "2024-02-01T00:00:00Z") == 0 &&
		  strcmp(b, "2024-02-29T23:59:59.9999999Z") == 0, "%s %s", a,
		  b);
	CHECK(isodate_month_range("2023-02", a, b) == 0 &&
	      strcmp(b, "2023-02-28T23:59:59.9999999Z") == 0);
	CHECK(isodate_month_range("2024-12", a, b) == 0 &&
	      strcmp(a, "2024-12-01T00:00:00Z") == 0 &&
	      strcmp(b, "2024-12-31T23:59:59.9999999Z") == 0);
	CHECK(isodate_month_range("2024-04", a, b) == 0 &&
	      strcmp(b, "2024-04-30T23:59:59.9999999Z") == 0);
	CHECK(isodate_month_range("2024-13", a, b) == -EINVAL);
	CHECK(isodate_month_range("2024-1", a, b) == -EINVAL);
	CHECK(isodate_month_range("2024-01-01", a, b) == -EINVAL);
}

static void instant_is(const char *s, long long want, int want_rc)
{
	int64_t t = -1;
	int rc = isodate_instant(s, &t);

	CHECK_MSG(rc == want_rc && (rc || t == want),
		  "'%s': rc %d, got %lld, want %lld", s, rc, (long long)t,
		  want);
}

static void test_instants(void)
{
	instant_is("1970-01-01T00:00:00Z", 0, 0);
	instant_is("2020-10-14T05:16:49-07:00", 1602677809, 0);
	instant_is("2024-02-29T23:59:59.1234567Z", 1709251199, 0);
	instant_is("2000-03-01T12:00:00+05:30", 951892200, 0);
	instant_is("1969-12-31T23:59:59Z", -1, 0);
	instant_is("2024-05-05", 1714867200, 0);
	instant_is("2023-02-29T00:00:00Z", 0, -EINVAL);
	instant_is("2024-04-31T00:00:00Z", 0, -EINVAL);
	instant_is("2024-05-05T08:00:00Zjunk", 0, -EINVAL);
	instant_is(NULL, 0, -EINVAL);
}

static void test_format_utc(void)
{
	char out[UPFS_ISODATE_UTC_LEN];
	int64_t back = 0;

	CHECK(isodate_format_utc(0, out) == 0 &&
	      strcmp(out, "1970-01-01T00:00:00Z") == 0);
	CHECK(isodate_format_utc(1795761317, out) == 0 &&
	      strcmp(out, "2026-11-27T06:35:17Z") == 0);
	CHECK(isodate_instant(out, &back) == 0 && back == 1795761317);
	/* Past any year strftime can write in the room. */
	CHECK(isodate_format_utc(INT64_MAX / 2, out) == -EINVAL);
}

int main(void)
{
	test_format_utc();
	test_days();
	test_instants();
	test_add_days();
	test_month_range();
	if (failures) {
		fprintf(stderr, "test_isodate: %d failure(s)\n", failures);
		return 1;
	}
	return 0;
}
