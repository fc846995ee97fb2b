/*
 * report.c — usage and archived-job CSV files, and the months with data
 * (see report.h). The summary chart is in report_svg.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "isodate.h"
#include "report.h"

/* The printUsage counters, in the column order report.h documents. */
static const char *const usage_counters[] = {
	"completedJobCount",
	"incompleteJobCount",
	"completedBlackAndWhiteJobCount",
	"completedColorJobCount",
	"pageCount",
	"blackAndWhitePageCount",
	"colorPageCount",
	"mediaSheetCount",
	"singleSidedSheetCount",
	"doubleSidedSheetCount",
};
#define N_COUNTERS (sizeof(usage_counters) / sizeof(*usage_counters))

static const char *const printer_columns[] = { "printerName", "printerId" };
static const char *const user_columns[] = { "userPrincipalName" };

/* archivedPrintJob columns; a '/' names a member of a nested object. */
static const char *const archive_columns[] = {
	"id",
	"printerName",
	"printerId",
	"createdBy/userPrincipalName",
	"createdBy/displayName",
	"createdDateTime",
	"acquiredByPrinter",
	"acquiredDateTime",
	"completionDateTime",
	"copiesPrinted",
	"processingState",
};
static const char *const archive_beta_columns[] = {
	"pageCount",
	"blackAndWhitePageCount",
	"colorPageCount",
	"simplexPageCount",
	"duplexPageCount",
};
#define N_OF(a) (sizeof(a) / sizeof(*(a)))

/* -EINVAL unless v is an array whose every element is an object. */
static int check_objects(const json_t *v)
{
	size_t i;
	const json_t *item;

	if (!json_is_array(v))
		return -EINVAL;
	json_array_foreach(v, i, item) {
		if (!json_is_object(item))
			return -EINVAL;
	}
	return 0;
}

/* Member path ("a" or "a/b") of obj; NULL when any step is missing. */
static const json_t *member(const json_t *obj, const char *path)
{
	const char *slash = strchr(path, '/');
	char head[64];

	if (slash == NULL)
		return json_object_get(obj, path);
	if ((size_t)(slash - path) >= sizeof(head))
		return NULL;
	memcpy(head, path, (size_t)(slash - path));
	head[slash - path] = '\0';
	obj = json_object_get(obj, head);
	return json_is_object(obj) ? member(obj, slash + 1) : NULL;
}

/* One JSON value as a field: text as is, numbers, true/false; else empty. */
static int value_field(struct csv_row *row, const json_t *v)
{
	if (json_is_string(v))
		return csv_row_text(row, json_string_value(v));
	if (json_is_integer(v))
		return csv_row_printf(row, "%" JSON_INTEGER_FORMAT,
				      json_integer_value(v));
	if (json_is_real(v))
		return csv_row_printf(row, "%.17g", json_real_value(v));
	if (json_is_boolean(v))
		return csv_row_field(row, json_is_true(v) ? "true" : "false");
	return csv_row_field(row, NULL);
}

static int header(struct buf *out, const char *first,
		  const char *const *a, size_t na,
		  const char *const *b, size_t nb)
{
	struct csv_row row;
	int rc = 0;

	csv_row_begin(&row, out);
	if (first)
		rc = csv_row_field(&row, first);
	for (size_t i = 0; i < na && rc == 0; i++)
		rc = csv_row_field(&row, a[i]);
	for (size_t i = 0; i < nb && rc == 0; i++)
		rc = csv_row_field(&row, b[i]);
	if (rc == 0)
		rc = csv_row_end(&row);
	return rc;
}

/* --- usage ---------------------------------------------------------------- */

static void day_of(const json_t *obj, const char *key,
		   char day[UPFS_ISODATE_DAY_LEN])
{
	const char *text = json_string_value(json_object_get(obj, key));

	if (text == NULL || isodate_utc_day(text, day))
		day[0] = '\0';
}

int report_usage_header(enum report_who who, struct buf *out)
{
	if (who == UPFS_REPORT_BY_PRINTER)
		return header(out, "usageDate", usage_counters, N_COUNTERS,
			      printer_columns, N_OF(printer_columns));
	return header(out, "usageDate", usage_counters, N_COUNTERS,
		      user_columns, N_OF(user_columns));
}

int report_usage_line(const json_t *row, const struct report_point *p,
		      enum report_who who, struct buf *out)
{
	const char *const *tail = who == UPFS_REPORT_BY_PRINTER ?
		printer_columns : user_columns;
	size_t ntail = who == UPFS_REPORT_BY_PRINTER ? N_OF(printer_columns) :
		N_OF(user_columns);
	size_t start = out->len;
	struct csv_row row_out;
	int rc;

	if (!json_is_object(row))
		return -EINVAL;
	csv_row_begin(&row_out, out);
	if (p->day[0])
		rc = csv_row_field(&row_out, p->day);
	else
		rc = value_field(&row_out, json_object_get(row, "usageDate"));
	for (size_t i = 0; i < N_COUNTERS && rc == 0; i++)
		rc = value_field(&row_out, json_object_get(row,
							   usage_counters[i]));
	for (size_t i = 0; i < ntail && rc == 0; i++)
		rc = value_field(&row_out, json_object_get(row, tail[i]));
	if (rc == 0)
		rc = csv_row_end(&row_out);
	if (rc)
		buf_truncate(out, start);
	return rc;
}

void report_point_of(const json_t *row, enum report_who who,
		     struct report_point *p)
{
	const char *id_key = who == UPFS_REPORT_BY_PRINTER ? "printerId" :
		"userPrincipalName";
	const char *name_key = who == UPFS_REPORT_BY_PRINTER ? "printerName" :
		"userPrincipalName";
	const json_t *pages = json_object_get(row, "pageCount");

	p->id = json_string_value(json_object_get(row, id_key));
	p->name = json_string_value(json_object_get(row, name_key));
	day_of(row, "usageDate", p->day);
	p->pages = json_is_integer(pages) && json_integer_value(pages) > 0 ?
		json_integer_value(pages) : 0;
}

/* --- archived jobs -------------------------------------------------------- */

/* True when any job carries one of the beta page counters. */
static bool has_beta_counters(const json_t *jobs)
{
	size_t i;
	const json_t *job;

	json_array_foreach(jobs, i, job) {
		for (size_t k = 0; k < N_OF(archive_beta_columns); k++) {
			if (json_object_get(job, archive_beta_columns[k]))
				return true;
		}
	}
	return false;
}

static int archive_line(struct buf *out, const json_t *job, bool beta)
{
	struct csv_row row;
	int rc = 0;

	csv_row_begin(&row, out);
	for (size_t k = 0; k < N_OF(archive_columns) && rc == 0; k++)
		rc = value_field(&row, member(job, archive_columns[k]));
	for (size_t k = 0; beta && k < N_OF(archive_beta_columns) && rc == 0;
	     k++)
		rc = value_field(&row, member(job, archive_beta_columns[k]));
	if (rc == 0)
		rc = csv_row_end(&row);
	return rc;
}

int report_archive_csv(const json_t *jobs, struct buf *out)
{
	size_t start = out->len, i;
	const json_t *job;
	bool beta;
	int rc = check_objects(jobs);

	if (rc)
		goto out;
	beta = has_beta_counters(jobs);
	rc = header(out, NULL, archive_columns, N_OF(archive_columns),
		    archive_beta_columns,
		    beta ? N_OF(archive_beta_columns) : 0);
	json_array_foreach(jobs, i, job) {
		if (rc)
			break;
		rc = archive_line(out, job, beta);
	}
out:
	if (rc)
		buf_truncate(out, start);
	return rc;
}

/* --- months --------------------------------------------------------------- */

static int cmp_month(const void *a, const void *b)
{
	return strcmp(a, b);
}

int report_months_of(const json_t *items, const char *date_key,
		     json_t **months)
{
	char (*all)[UPFS_ISODATE_MONTH_LEN] = NULL;
	json_t *list = NULL;
	size_t n = 0, i;
	const json_t *item;
	int rc = check_objects(items);

	*months = NULL;
	if (rc)
		goto out;
	all = calloc(json_array_size(items) + 1, sizeof(*all));
	list = json_array();
	if (all == NULL || list == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	json_array_foreach(items, i, item) {
		char day[UPFS_ISODATE_DAY_LEN];

		day_of(item, date_key, day);
		if (day[0] == '\0')
			continue;
		memcpy(all[n], day, UPFS_ISODATE_MONTH_LEN - 1);
		all[n++][UPFS_ISODATE_MONTH_LEN - 1] = '\0';
	}
	qsort(all, n, sizeof(*all), cmp_month);
	for (i = 0; i < n && rc == 0; i++) {
		if (i > 0 && strcmp(all[i], all[i - 1]) == 0)
			continue;
		if (json_array_append_new(list, json_string(all[i])))
			rc = -ENOMEM;
	}
	if (rc == 0) {
		*months = list;
		list = NULL;
	}
out:
	json_decref(list);
	free(all);
	return rc;
}
