/*
 * fuzz_report.c — a report collection as the service sends it (a page
 * {"value":[...]}, or the bare array) through every report writer: the
 * bytes into a usage_index by printer and by user (fs/usage_index.c, as a
 * mount reads a cached report) and its CSV of each id, the archived-job
 * CSV and the months of both date keys (fs/report.c), and summary.svg of
 * the index's points (fs/report_svg.c).
 *
 * Properties (report.h, usage_index.h): 0, or -EINVAL/-ENOMEM/-EFBIG with
 * the output buffer as it was; output NUL-ended; months ascending and
 * distinct "YYYY-MM"; the SVG one document. The index reads an array of
 * objects that jansson reads whole (unless the text holds a NUL byte,
 * which jansson skips outside strings and JSON does not allow; a cached
 * report, written by jansson, has none), and holds for each element what
 * report_point_of gives, and for each id the header and its rows' lines,
 * by day (rows without one last), ties in the array's order.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>

#include "fuzz.h"
#include "report.h"
#include "usage_index.h"

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

static void check_months_json(const json_t *months)
{
	const char *prev = "";
	const json_t *m;
	size_t i;

	json_array_foreach(months, i, m) {
		const char *s = json_string_value(m);

		FUZZ_CHECK(s && strlen(s) == 7 && s[4] == '-');
		FUZZ_CHECK(strcmp(prev, s) < 0);
		prev = s;
	}
}

static void check_months(const json_t *items, const char *key)
{
	json_t *months = NULL;
	int rc = report_months_of(items, key, &months);

	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	check_months_json(months);
	json_decref(months);
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The array's rows of id, in the order the index's CSV must give them. */
static size_t rows_by_day(const json_t *rows, enum report_who who,
			  const char *id, size_t *order)
{
	size_t n = 0, i;
	const json_t *row;

	json_array_foreach(rows, i, row) {
		struct report_point p;

		report_point_of(row, who, &p);
		if (!same_str(p.id, id))
			continue;
		/* Insertion: after every row of a day not later than its. */
		size_t at = n;
		while (at > 0) {
			struct report_point q;

			report_point_of(json_array_get(rows, order[at - 1]),
					who, &q);
			bool after = p.day[0] == '\0' ||
				(q.day[0] && strcmp(q.day, p.day) <= 0);
			if (after)
				break;
			order[at] = order[at - 1];
			at--;
		}
		order[at] = i;
		n++;
	}
	return n;
}

/* The index of rows (an array of objects jansson read) against them. */
static void check_index(const struct usage_index *x, const json_t *rows,
			enum report_who who)
{
	size_t n, n_objects, *order = calloc(json_array_size(rows) + 1,
					     sizeof(*order));
	const struct report_point *points = usage_index_points(x, &n);
	const size_t *objects = usage_index_objects(x, &n_objects);
	struct buf got, want;

	FUZZ_CHECK(order != NULL);
	FUZZ_CHECK(n == json_array_size(rows));
	buf_init(&got, 0);
	buf_init(&want, 0);
	for (size_t i = 0; i < n; i++) {
		struct report_point p;

		report_point_of(json_array_get(rows, i), who, &p);
		FUZZ_CHECK(same_str(p.id, points[i].id) &&
			   same_str(p.name, points[i].name) &&
			   strcmp(p.day, points[i].day) == 0 &&
			   p.pages == points[i].pages);
	}
	for (size_t k = 0; k < n_objects; k++) {
		const char *id = points[objects[k]].id;
		size_t m = rows_by_day(rows, who, id, order);
		json_t *months = NULL;

		FUZZ_CHECK(id && id[0]);
		buf_reset(&got);
		buf_reset(&want);
		FUZZ_CHECK(usage_index_csv(x, id, &got) == 0);
		FUZZ_CHECK(report_usage_header(who, &want) == 0);
		for (size_t i = 0; i < m; i++)
			FUZZ_CHECK(report_usage_line(json_array_get(rows,
					order[i]), who, &want) == 0);
		FUZZ_CHECK(got.len == want.len &&
			   memcmp(got.data, want.data, got.len) == 0);
		FUZZ_CHECK(usage_index_months(x, id, &months) == 0);
		check_months_json(months);
		json_decref(months);
	}
	buf_release(&got);
	buf_release(&want);
	free(order);
}

static bool all_objects(const json_t *rows)
{
	const json_t *row;
	size_t i;

	if (!json_is_array(rows))
		return false;
	json_array_foreach(rows, i, row)
		if (!json_is_object(row))
			return false;
	return true;
}

static void check_summary(const struct usage_index *by_printer,
			  const struct usage_index *by_user,
			  const json_t *printers)
{
	const struct report_point *pp, *up;
	size_t np, nu;
	struct buf out;

	pp = usage_index_points(by_printer, &np);
	up = usage_index_points(by_user, &nu);
	buf_init(&out, 1 << 20);
	for (size_t i = 0; i < FUZZ_COUNT(todays); i++) {
		int rc;

		buf_reset(&out);
		rc = report_summary_svg(pp, np, up, nu,
					i % 2 ? NULL : printers, todays[i],
					&out);
		check_buf(&out, rc, 0);
		if (rc == 0)
			FUZZ_CHECK(strstr(out.data, "</svg>") != NULL);
	}
	buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	json_t *rows = doc;
	struct usage_index *by_printer = NULL, *by_user = NULL;
	struct buf out;
	size_t before;
	int rc, rc_user;

	if (json_is_object(doc))
		rows = json_object_get(doc, "value");
	rc = usage_index_parse((const char *)data, size,
			       UPFS_REPORT_BY_PRINTER, &by_printer);
	rc_user = usage_index_parse((const char *)data, size,
				    UPFS_REPORT_BY_USER, &by_user);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	FUZZ_CHECK(rc_user == 0 || rc_user == -EINVAL || rc_user == -ENOMEM);
	FUZZ_CHECK((rc == 0) == (by_printer != NULL));
	FUZZ_CHECK((rc_user == 0) == (by_user != NULL));
	if (doc == rows && all_objects(rows) && !memchr(data, '\0', size))
		FUZZ_CHECK(rc != -EINVAL && rc_user != -EINVAL);
	if (by_printer && doc == rows && all_objects(rows))
		check_index(by_printer, rows, UPFS_REPORT_BY_PRINTER);
	if (by_user && doc == rows && all_objects(rows))
		check_index(by_user, rows, UPFS_REPORT_BY_USER);
	if (by_printer && by_user)
		check_summary(by_printer, by_user, all_objects(rows) ? rows
								     : NULL);
	usage_index_drop(by_printer);
	usage_index_drop(by_user);

	buf_init(&out, 1 << 20);	/* small enough for -EFBIG to happen */
	FUZZ_CHECK(buf_append_str(&out, "kept") == 0);
	before = out.len;
	rc = report_archive_csv(rows, &out);
	check_buf(&out, rc, before);
	check_months(rows, "usageDate");
	check_months(rows, "createdDateTime");
	buf_release(&out);
	json_decref(doc);
	return 0;
}
