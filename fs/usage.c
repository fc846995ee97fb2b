/*
 * usage.c — usage/ and archive/ (usage.h): the print usage reports and
 * archived jobs as CSV files, and usage/summary.svg.
 *
 * Every folder comes from the four report collections (each one paged
 * listing, cached like any resource but for USAGE_TTL_S at least), never
 * a request per entry; only a file of archived jobs, and the months of a
 * group, call the archived-job functions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "isodate.h"
#include "names.h"
#include "report.h"
#include "tree_private.h"
#include "usage.h"

/* Reports are made once a day: an hour is fresh enough. */
#define USAGE_TTL_S 3600

#define DAILY_BY_PRINTER "dailyPrintUsageByPrinter"
#define MONTHLY_BY_PRINTER "monthlyPrintUsageByPrinter"
#define DAILY_BY_USER "dailyPrintUsageByUser"
#define MONTHLY_BY_USER "monthlyPrintUsageByUser"

static int usage_ttl(const struct upfs *u)
{
	return u->opts.dir_ttl > USAGE_TTL_S ? u->opts.dir_ttl : USAGE_TTL_S;
}

bool usage_kind_is_dir(enum fs_kind kind)
{
	switch (kind) {
	case FS_USAGE:
	case FS_USAGE_BY_PRINTER:
	case FS_USAGE_BY_USER:
	case FS_USAGE_OBJECT:
	case FS_ARCHIVE:
	case FS_ARCHIVE_PRINTERS:
	case FS_ARCHIVE_USERS:
	case FS_ARCHIVE_GROUPS:
	case FS_ARCHIVE_OBJECT:
		return true;
	default:
		return false;
	}
}

/* One report collection, all pages: "/reports/<name>". */
static int get_report(struct upfs *u, const char *name, json_t **out,
		      struct fs_deps *deps)
{
	char key[128];

	snprintf(key, sizeof(key), "/reports/%s", name);
	return res_get(u, key, true, usage_ttl(u), RES_STALE_OK, out, deps);
}

/* The rows of rows whose member field is value, as a new array. */
static json_t *rows_of(const json_t *rows, const char *field,
		       const char *value)
{
	json_t *out = json_array(), *r;
	size_t i;

	json_array_foreach(rows, i, r)
		if (out && strcmp(tree_str(r, field), value) == 0)
			json_array_append(out, r);
	return out;
}

/* The distinct (key field, name field) pairs of rows, named and added. */
static int list_report_objects(const json_t *rows, const char *key_field,
			       const char *name_field, enum fs_kind kind,
			       const char *owner, struct fs_entries *out)
{
	struct names_entry *names = calloc(json_array_size(rows) + 1,
					   sizeof(*names));
	const json_t *r;
	struct buf b;
	size_t i, n = 0;
	int rc = 0;

	if (names == NULL)
		return -ENOMEM;
	buf_init(&b, 0);
	json_array_foreach(rows, i, r) {
		const char *key = tree_str(r, key_field);
		bool seen = key[0] == '\0';

		for (size_t k = 0; k < n && !seen; k++)
			seen = strcmp(names[k].id, key) == 0;
		if (seen)
			continue;
		buf_reset(&b);
		rc = names_encode(&b, tree_str(r, name_field), key);
		if (rc)
			break;
		names[n].id = key;
		names[n++].name = buf_detach(&b, NULL);
	}
	if (rc == 0)
		rc = names_disambiguate(names, n);
	for (i = 0; i < n && rc == 0; i++)
		rc = fs_entries_add(out, names[i].name, kind, names[i].id, owner,
				 0);
	for (i = 0; i < n; i++)
		free(names[i].name);
	free(names);
	buf_release(&b);
	return rc;
}

/*
 * Every printer of printers/ (so a printer that never printed has its
 * header-only files) and every printer the reports name (so one removed
 * since keeps its history), as report-like rows.
 */
static int printers_and_rows(struct upfs *u, const json_t *rows,
			     json_t **out, struct fs_deps *deps)
{
	json_t *printers = NULL, *all = json_array(), *p;
	size_t i;
	int rc = all ? 0 : -ENOMEM;

	if (rc == 0)
		rc = res_get(u, TREE_PRINTERS, true, u->opts.dir_ttl,
			     RES_STALE_OK, &printers, deps);
	json_array_foreach(printers, i, p)
		if (rc == 0 && json_array_append_new(all, json_pack(
			    "{s:s, s:s}", "printerId", tree_str(p, "id"),
			    "printerName", tree_str(p, "displayName"))) != 0)
			rc = -ENOMEM;
	if (rc == 0 && json_array_extend(all, (json_t *)rows) != 0)
		rc = -ENOMEM;
	json_decref(printers);
	if (rc == 0)
		*out = all;
	else
		json_decref(all);
	return rc;
}

/* usage/by-printer/ or usage/by-user/ or archive/printers|users/. */
static int list_objects_with_data(struct upfs *u, bool printers,
				  enum fs_kind kind, const char *owner,
				  struct fs_entries *out,
				  struct fs_deps *deps)
{
	json_t *rows = NULL, *all = NULL;
	int rc = get_report(u, printers ? MONTHLY_BY_PRINTER : MONTHLY_BY_USER,
			    &rows, deps);

	if (rc == 0 && printers)
		rc = printers_and_rows(u, rows, &all, deps);
	/* Users: those with data; a tenant's directory is not listed. */
	if (rc == 0)
		rc = printers ? list_report_objects(all, "printerId",
						    "printerName", kind, owner,
						    out)
			      : list_report_objects(rows, "userPrincipalName",
						    "userPrincipalName", kind,
						    owner, out);
	json_decref(rows);
	json_decref(all);
	return rc;
}

/* usage/by-printer/<p>/ and by-user/<u>/: daily.csv and monthly.csv. */
static int list_usage_object(const struct fs_node *dir,
			     struct fs_entries *out)
{
	bool printer = strcmp(dir->owner, "printer") == 0;
	int rc = fs_entries_add(out, "daily.csv", FS_USAGE_CSV, dir->id,
				printer ? DAILY_BY_PRINTER : DAILY_BY_USER, 0);

	if (rc == 0)
		rc = fs_entries_add(out, "monthly.csv", FS_USAGE_CSV, dir->id,
				    printer ? MONTHLY_BY_PRINTER
					    : MONTHLY_BY_USER, 0);
	return rc;
}

/* archive/groups/: every group of the tenant. */
static int list_groups(struct upfs *u, struct fs_entries *out,
		       struct fs_deps *deps)
{
	json_t *groups = NULL;
	int rc = res_get(u, "/groups?$select=id,displayName", true,
			 usage_ttl(u), RES_STALE_OK, &groups, deps);

	if (rc == 0)
		rc = list_report_objects(groups, "id", "displayName",
					 FS_ARCHIVE_OBJECT, "groups", out);
	json_decref(groups);
	return rc;
}

/* "getPrinterArchivedPrintJobs(printerId='ID'" and the rest of a call. */
static int archive_call(struct buf *out, const char *whose, const char *id,
			const char *month)
{
	const char *fn = strcmp(whose, "printers") == 0
			 ? "getPrinterArchivedPrintJobs(printerId="
			 : strcmp(whose, "users") == 0
			 ? "getUserArchivedPrintJobs(userId="
			 : "getGroupArchivedPrintJobs(groupId=";
	char start[UPFS_ISODATE_STAMP_LEN], end[UPFS_ISODATE_STAMP_LEN];
	int rc = buf_printf(out, "/reports/%s'", fn);

	/* A quoted OData string: its quotes doubled, the rest escaped. */
	for (const char *p = id; rc == 0 && *p; p++) {
		char one[2] = { *p, '\0' };

		rc = *p == '\'' ? buf_append_str(out, "''")
				: graph_escape_segment(out, one);
	}
	if (rc == 0)
		rc = buf_append_str(out, "'");
	if (rc == 0 && month) {
		rc = isodate_month_range(month, start, end);
		if (rc == 0)
			rc = buf_printf(out, ",startDateTime=%s,endDateTime=%s",
					start, end);
	}
	return rc ? rc : buf_append_str(out, ")");
}

/* archive/<whose>/<x>/: one <YYYY-MM>.csv per month with data. */
static int list_months(struct upfs *u, const struct fs_node *dir,
		       struct fs_entries *out, struct fs_deps *deps)
{
	json_t *rows = NULL, *mine = NULL, *months = NULL, *m;
	const char *date_key = "usageDate";
	struct buf key;
	size_t i;
	int rc;

	buf_init(&key, 4096);
	if (strcmp(dir->owner, "groups") == 0) {
		/* No usage report per group: its jobs say when it printed. */
		date_key = "createdDateTime";
		rc = archive_call(&key, "groups", dir->id, NULL);
		if (rc == 0)
			rc = res_get(u, key.data, true, usage_ttl(u),
				     RES_STALE_OK, &mine, deps);
	} else {
		bool printers = strcmp(dir->owner, "printers") == 0;

		rc = get_report(u, printers ? MONTHLY_BY_PRINTER
					    : MONTHLY_BY_USER, &rows, deps);
		if (rc == 0 && (mine = rows_of(rows, printers ? "printerId"
						: "userPrincipalName",
					   dir->id)) == NULL)
			rc = -ENOMEM;
	}
	if (rc == 0)
		rc = report_months_of(mine, date_key, &months);
	/* A month's file needs whose it is: owner "printers/<id>". */
	buf_reset(&key);
	if (rc == 0)
		rc = buf_printf(&key, "%s/%s", dir->owner, dir->id);
	json_array_foreach(months, i, m) {
		char name[UPFS_ISODATE_MONTH_LEN + 4];

		snprintf(name, sizeof(name), "%s.csv", json_string_value(m));
		if (rc == 0)
			rc = fs_entries_add(out, name, FS_ARCHIVE_CSV,
					 json_string_value(m), key.data, 0);
	}
	json_decref(rows);
	json_decref(mine);
	json_decref(months);
	buf_release(&key);
	return rc;
}

static int add(struct fs_entries *out, const char *name, enum fs_kind kind)
{
	return fs_entries_add(out, name, kind, NULL, NULL, 0);
}

int usage_list(struct upfs *u, const struct fs_node *dir,
	       struct fs_entries *out, struct fs_deps *deps)
{
	int rc;

	switch (dir->kind) {
	case FS_USAGE:
		rc = add(out, "by-printer", FS_USAGE_BY_PRINTER);
		if (rc == 0)
			rc = add(out, "by-user", FS_USAGE_BY_USER);
		return rc ? rc : add(out, "summary.svg", FS_USAGE_SUMMARY);
	case FS_ARCHIVE:
		rc = add(out, "printers", FS_ARCHIVE_PRINTERS);
		if (rc == 0)
			rc = add(out, "users", FS_ARCHIVE_USERS);
		return rc ? rc : add(out, "groups", FS_ARCHIVE_GROUPS);
	case FS_USAGE_BY_PRINTER:
		return list_objects_with_data(u, true, FS_USAGE_OBJECT,
					      "printer", out, deps);
	case FS_USAGE_BY_USER:
		return list_objects_with_data(u, false, FS_USAGE_OBJECT,
					      "user", out, deps);
	case FS_USAGE_OBJECT:
		return list_usage_object(dir, out);
	case FS_ARCHIVE_PRINTERS:
		return list_objects_with_data(u, true, FS_ARCHIVE_OBJECT,
					      "printers", out, deps);
	case FS_ARCHIVE_USERS:
		return list_objects_with_data(u, false, FS_ARCHIVE_OBJECT,
					      "users", out, deps);
	case FS_ARCHIVE_GROUPS:
		return list_groups(u, out, deps);
	case FS_ARCHIVE_OBJECT:
		return list_months(u, dir, out, deps);
	default:
		return -ENOTDIR;
	}
}

/* daily.csv / monthly.csv: the rows of one printer or user. */
static int render_usage_csv(struct upfs *u, const struct fs_node *n,
			    struct buf *out, struct fs_deps *deps)
{
	bool printer = strstr(n->owner, "ByPrinter") != NULL;
	json_t *rows = NULL, *mine = NULL;
	int rc = get_report(u, n->owner, &rows, deps);

	if (rc == 0 && (mine = rows_of(rows, printer ? "printerId"
					: "userPrincipalName", n->id)) == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = report_usage_csv(mine, printer ? UPFS_REPORT_BY_PRINTER
						    : UPFS_REPORT_BY_USER, out);
	json_decref(rows);
	json_decref(mine);
	return rc;
}

/* <YYYY-MM>.csv: id the month, owner "printers/<id>" (or users, groups). */
static int render_archive_csv(struct upfs *u, const struct fs_node *n,
			      struct buf *out, struct fs_deps *deps)
{
	const char *slash = strchr(n->owner, '/');
	char whose[16];
	json_t *jobs = NULL;
	struct buf key;
	int rc;

	if (slash == NULL || (size_t)(slash - n->owner) >= sizeof(whose))
		return -ENOENT;
	memcpy(whose, n->owner, (size_t)(slash - n->owner));
	whose[slash - n->owner] = '\0';
	buf_init(&key, 4096);
	rc = archive_call(&key, whose, slash + 1, n->id);
	if (rc == 0)
		rc = res_get(u, key.data, true, usage_ttl(u), RES_STALE_OK,
			     &jobs, deps);
	if (rc == 0)
		rc = report_archive_csv(jobs, out);
	json_decref(jobs);
	buf_release(&key);
	return rc;
}

/* The last day with data: reports run a day behind, and a quiet tenant's
   chart should show its last month, not an empty one. */
static void summary_day(const json_t *rows, char day[UPFS_ISODATE_DAY_LEN])
{
	time_t now = time(NULL);
	struct tm tm;
	const json_t *r;
	size_t i;
	char d[UPFS_ISODATE_DAY_LEN];

	day[0] = '\0';
	json_array_foreach(rows, i, r)
		if (isodate_utc_day(tree_str(r, "usageDate"), d) == 0 &&
		    strcmp(d, day) > 0)
			memcpy(day, d, sizeof(d));
	if (day[0] == '\0' && gmtime_r(&now, &tm))
		strftime(day, UPFS_ISODATE_DAY_LEN, "%Y-%m-%d", &tm);
}

static int render_summary(struct upfs *u, struct buf *out,
			  struct fs_deps *deps)
{
	json_t *printers_rows = NULL, *user_rows = NULL;
	char day[UPFS_ISODATE_DAY_LEN];
	int rc = get_report(u, DAILY_BY_PRINTER, &printers_rows, deps);

	if (rc == 0)
		rc = get_report(u, DAILY_BY_USER, &user_rows, deps);
	if (rc == 0) {
		summary_day(printers_rows, day);
		rc = report_summary_svg(printers_rows, user_rows, NULL, day,
					out);
	}
	json_decref(printers_rows);
	json_decref(user_rows);
	return rc;
}

int usage_render(struct upfs *u, const struct fs_node *n, struct buf *out,
		 int *ttl, struct fs_deps *deps)
{
	*ttl = usage_ttl(u);
	switch (n->kind) {
	case FS_USAGE_CSV:
		return render_usage_csv(u, n, out, deps);
	case FS_ARCHIVE_CSV:
		return render_archive_csv(u, n, out, deps);
	case FS_USAGE_SUMMARY:
		return render_summary(u, out, deps);
	default:
		return -EISDIR;
	}
}
