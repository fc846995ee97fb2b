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
 * distinct "YYYY-MM"; the SVG one document. The index reads the text
 * exactly when jansson reads it whole as an array (unless the text holds
 * a NUL byte, which jansson skips outside strings and JSON does not allow,
 * or nests past jansson's depth limit, which the index meets only inside
 * one element; a cached report, written by jansson, has neither). Then it
 * holds a point per object element, as report_point_of gives it; its
 * objects are the ids in the order they first appear; and an id's CSV is
 * the header and its rows' lines (report_usage_line, the same writer)
 * ordered here by insertion: by day, rows without one last, ties in the
 * array's order; its months are report_months_of's of its rows.
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

/* Does row go after every earlier row of day (rows without one last)? */
static bool goes_after(const char *earlier, const char *day)
{
	return day[0] == '\0' || (earlier[0] && strcmp(earlier, day) <= 0);
}

/* rows' rows of id into order (array indices), in the CSV's order. */
static size_t rows_by_day(const json_t *rows, enum report_who who,
			  const char *id, size_t *order, json_t *mine)
{
	struct report_point p, q;
	const json_t *row;
	size_t n = 0, i, at;

	json_array_foreach(rows, i, row) {
		report_point_of(row, who, &p);
		if (!same_str(p.id, id))
			continue;
		FUZZ_CHECK(json_array_append(mine, (json_t *)row) == 0);
		for (at = n; at > 0; at--) {
			report_point_of(json_array_get(rows, order[at - 1]),
					who, &q);
			if (goes_after(q.day, p.day))
				break;
			order[at] = order[at - 1];
		}
		order[at] = i;
		n++;
	}
	return n;
}

/* What the index must hold of one id: its CSV and its months. */
static void check_id(const struct usage_index *x, const json_t *rows,
		     enum report_who who, const char *id, size_t *order)
{
	json_t *mine = json_array(), *months = NULL, *want_months = NULL;
	size_t m = rows_by_day(rows, who, id, order, mine);
	struct buf got, want;

	buf_init(&got, 0);
	buf_init(&want, 0);
	FUZZ_CHECK(usage_index_csv(x, id, &got) == 0);
	FUZZ_CHECK(report_usage_header(who, &want) == 0);
	for (size_t i = 0; i < m; i++) {
		const json_t *row = json_array_get(rows, order[i]);
		struct report_point p;

		report_point_of(row, who, &p);
		FUZZ_CHECK(report_usage_line(row, &p, who, &want) == 0);
	}
	FUZZ_CHECK(got.len == want.len &&
		   memcmp(got.data, want.data, got.len) == 0);
	FUZZ_CHECK(usage_index_months(x, id, &months) == 0);
	FUZZ_CHECK(report_months_of(mine, "usageDate", &want_months) == 0);
	FUZZ_CHECK(json_equal(months, want_months));
	json_decref(months);
	json_decref(want_months);
	json_decref(mine);
	buf_release(&got);
	buf_release(&want);
}

/*
 * The index of an array jansson read whole: a point per object element,
 * the objects its ids in the order they first appear (not NULL, not ""),
 * named by their first row, and each id's CSV and months.
 */
static void check_index(const struct usage_index *x, json_t *array,
			enum report_who who)
{
	json_t *rows = json_array(), *v;
	size_t n, n_objects, i, k = 0, *order;
	const struct report_point *points = usage_index_points(x, &n);
	const size_t *objects = usage_index_objects(x, &n_objects);

	json_array_foreach(array, i, v)
		if (json_is_object(v))
			FUZZ_CHECK(json_array_append(rows, v) == 0);
	order = calloc(json_array_size(rows) + 1, sizeof(*order));
	FUZZ_CHECK(order != NULL);
	FUZZ_CHECK(n == json_array_size(rows));
	for (i = 0; i < n; i++) {
		struct report_point p;
		bool first;

		report_point_of(json_array_get(rows, i), who, &p);
		FUZZ_CHECK(same_str(p.id, points[i].id) &&
			   same_str(p.name, points[i].name) &&
			   strcmp(p.day, points[i].day) == 0 &&
			   p.pages == points[i].pages);
		first = p.id && p.id[0];
		for (size_t j = 0; j < i && first; j++)
			first = !same_str(points[j].id, p.id);
		if (!first)
			continue;
		FUZZ_CHECK(k < n_objects && objects[k] == i);
		check_id(x, rows, who, p.id, order);
		k++;
	}
	FUZZ_CHECK(k == n_objects);
	free(order);
	json_decref(rows);
}

/* Arrays nested past jansson's limit only inside one element. */
static bool shallow(const uint8_t *data, size_t size)
{
	size_t open = 0;

	for (size_t i = 0; i < size; i++)
		open += data[i] == '[' || data[i] == '{';
	return open < 1000;
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
	/* The index reads what jansson reads whole as an array, and only
	   that (NUL bytes, and depth, as the file's comment says). */
	if (!memchr(data, '\0', size) && shallow(data, size)) {
		FUZZ_CHECK((rc != -EINVAL) == json_is_array(doc));
		FUZZ_CHECK((rc_user != -EINVAL) == json_is_array(doc));
	}
	if (by_printer && json_is_array(doc))
		check_index(by_printer, doc, UPFS_REPORT_BY_PRINTER);
	if (by_user && json_is_array(doc))
		check_index(by_user, doc, UPFS_REPORT_BY_USER);
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
