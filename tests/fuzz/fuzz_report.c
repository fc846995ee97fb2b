/*
 * fuzz_report.c — a report collection as the service sends it (a page
 * {"value":[...]}, or the bare array) through every report writer
 * (fs/report.c, fs/report_svg.c): the usage CSVs by printer and by user,
 * the archived-job CSV, the months of both date keys, and summary.svg
 * with the rows as printer rows, user rows and printers at once.
 *
 * Properties (report.h): 0, or -EINVAL/-ENOMEM/-EFBIG with the output
 * buffer as it was; output NUL-ended; months ascending and distinct
 * "YYYY-MM"; the SVG one document.
 */
#include <errno.h>
#include <jansson.h>

#include "report.h"
#include "fuzz.h"

/* The demo tenant's reports run from March to May 2024. */
static const char *const todays[] = { "2024-04-15", "2024-03-31", "0001-01-05",
				      "9999-12-31", "2024-02-30" };

static void check_buf(const struct buf *b, int rc, size_t before)
{
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM || rc == -EFBIG);
	if (rc)
		FUZZ_CHECK(b->len == before);
	if (b->data)
		FUZZ_CHECK(b->data[b->len] == '\0');
}

static void check_months(const json_t *items, const char *key)
{
	json_t *months = NULL, *m;
	const char *prev = "";
	size_t i;
	int rc = report_months_of(items, key, &months);

	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	json_array_foreach(months, i, m) {
		const char *s = json_string_value(m);

		FUZZ_CHECK(s && strlen(s) == 7 && s[4] == '-');
		FUZZ_CHECK(strcmp(prev, s) < 0);
		prev = s;
	}
	json_decref(months);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	json_t *rows = doc;
	struct buf out;
	size_t before;
	int rc;

	if (json_is_object(doc))
		rows = json_object_get(doc, "value");
	buf_init(&out, 1 << 20);	/* small enough for -EFBIG to happen */
	FUZZ_CHECK(buf_append_str(&out, "kept") == 0);
	before = out.len;
	rc = report_usage_csv(rows, UPFS_REPORT_BY_PRINTER, &out);
	check_buf(&out, rc, before);
	before = out.len;
	rc = report_usage_csv(rows, UPFS_REPORT_BY_USER, &out);
	check_buf(&out, rc, before);
	before = out.len;
	rc = report_archive_csv(rows, &out);
	check_buf(&out, rc, before);
	check_months(rows, "usageDate");
	check_months(rows, "createdDateTime");
	for (size_t i = 0; i < FUZZ_COUNT(todays); i++) {
		buf_reset(&out);
		rc = report_summary_svg(rows, rows, i % 2 ? NULL : rows,
					todays[i], &out);
		check_buf(&out, rc, 0);
		if (rc == 0)
			FUZZ_CHECK(strstr(out.data, "</svg>") != NULL);
	}
	buf_release(&out);
	json_decref(doc);
	return 0;
}
