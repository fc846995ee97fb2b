/*
 * usage.c — usage/ and archive/ (usage.h): the print usage reports and
 * archived jobs as CSV files, and usage/summary.svg.
 *
 * Every folder comes from the four report collections (each one paged
 * listing, cached like any resource but for USAGE_TTL_S at least, and kept
 * in memory as a usage_index, not a JSON tree), never a request per entry;
 * only a file of archived jobs, and the months of a group, call the
 * archived-job functions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "isodate.h"
#include "names.h"
#include "report.h"
#include "tree_private.h"
#include "usage.h"
#include "usage_index.h"

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

static int parse_report(const void *arg, const char *text, size_t len,
			void **out, size_t *bytes)
{
	struct usage_index *x;
	int rc = usage_index_parse(text, len, *(const enum report_who *)arg,
				   &x);

	if (rc == 0) {
		*out = x;
		*bytes = usage_index_bytes(x);
	}
	return rc;
}

static void *hold_report(void *x)
{
	return usage_index_hold(x);
}

static void drop_report(void *x)
{
	usage_index_drop(x);
}

static const enum report_who who_printer = UPFS_REPORT_BY_PRINTER;
static const enum report_who who_user = UPFS_REPORT_BY_USER;
static const struct res_form printer_report = {
	parse_report, hold_report, drop_report, &who_printer
};
static const struct res_form user_report = {
	parse_report, hold_report, drop_report, &who_user
};

/* One report collection, all pages: "/reports/<name>". */
static int get_report(struct upfs *u, const char *name,
		      struct usage_index **out, struct fs_deps *deps)
{
	bool printer = strstr(name, "ByPrinter") != NULL;
	void *x = NULL;
	char key[128];
	int rc;

	snprintf(key, sizeof(key), "/reports/%s", name);
	rc = res_get_form(u, key, true, usage_ttl(u), RES_STALE_OK,
			  printer ? &printer_report : &user_report, &x, deps);
	*out = x;
	return rc;
}

/* Objects to list: an id and the display name its name is made from. */
struct objects {
	struct object {
		const char *id;		/* borrowed */
		const char *display;	/* borrowed */
	} *v;
	size_t n, alloc;
};

/* Adds id unless it is "" or among the first `seen` already there (the
   first name wins). */
static int objects_add(struct objects *o, size_t seen, const char *id,
		       const char *name)
{
	if (id == NULL || id[0] == '\0')
		return 0;
	for (size_t k = 0; k < seen; k++)
		if (strcmp(o->v[k].id, id) == 0)
			return 0;
	if (o->n == o->alloc) {
		size_t alloc = o->alloc ? 2 * o->alloc : 64;
		struct object *v = realloc(o->v, alloc * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		o->v = v;
		o->alloc = alloc;
	}
	o->v[o->n++] = (struct object){ id, name ? name : "" };
	return 0;
}

/* The elements of a JSON listing, by id_key, named by name_key. */
static int objects_add_json(struct objects *o, const json_t *items,
			    const char *id_key, const char *name_key)
{
	const json_t *item;
	size_t i;
	int rc = 0;

	json_array_foreach(items, i, item)
		if (rc == 0)
			rc = objects_add(o, o->n, tree_str(item, id_key),
					 tree_str(item, name_key));
	return rc;
}

/* Whose rows a report has. */
static int objects_add_report(struct objects *o, const struct usage_index *x)
{
	size_t n_points, n;
	const struct report_point *points = usage_index_points(x, &n_points);
	const size_t *first = usage_index_objects(x, &n);
	size_t before = o->n;	/* the index's ids are distinct already */
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++)
		rc = objects_add(o, before, points[first[i]].id,
				 points[first[i]].name);
	return rc;
}

/* The objects, named and added. */
static int list_objects(const struct objects *o, enum fs_kind kind,
			const char *owner, struct fs_entries *out)
{
	struct names_entry *names = calloc(o->n + 1, sizeof(*names));
	struct buf b;
	size_t i;
	int rc = names ? 0 : -ENOMEM;

	buf_init(&b, 0);
	for (i = 0; i < o->n && rc == 0; i++) {
		buf_reset(&b);
		rc = names_encode(&b, o->v[i].display, o->v[i].id);
		names[i].id = o->v[i].id;
		if (rc == 0)
			names[i].name = buf_detach(&b, NULL);
	}
	if (rc == 0)
		rc = names_disambiguate(names, o->n);
	for (i = 0; i < o->n && rc == 0; i++)
		rc = fs_entries_add(out, names[i].name, kind, names[i].id,
				    owner, 0);
	for (i = 0; names && i < o->n; i++)
		free(names[i].name);
	free(names);
	buf_release(&b);
	return rc;
}

/*
 * usage/by-printer/ or usage/by-user/ or archive/printers|users/. Every
 * printer of printers/ (so a printer that never printed has its
 * header-only files), then every printer the report names (so one removed
 * since keeps its history); users: those with data, as a tenant's
 * directory is not listed.
 */
static int list_objects_with_data(struct upfs *u, bool printers,
				  enum fs_kind kind, const char *owner,
				  struct fs_entries *out,
				  struct fs_deps *deps)
{
	struct usage_index *report = NULL;
	struct objects o = { 0 };
	json_t *all = NULL;
	int rc = get_report(u, printers ? MONTHLY_BY_PRINTER : MONTHLY_BY_USER,
			    &report, deps);

	if (rc == 0 && printers)
		rc = res_get(u, TREE_PRINTERS, true, u->opts.dir_ttl,
			     RES_STALE_OK, &all, deps);
	if (rc == 0)
		rc = objects_add_json(&o, all, "id", "displayName");
	if (rc == 0)
		rc = objects_add_report(&o, report);
	if (rc == 0)
		rc = list_objects(&o, kind, owner, out);
	free(o.v);
	json_decref(all);
	usage_index_drop(report);
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
	struct objects o = { 0 };
	json_t *groups = NULL;
	int rc = res_get(u, "/groups?$select=id,displayName", true,
			 usage_ttl(u), RES_STALE_OK, &groups, deps);

	if (rc == 0)
		rc = objects_add_json(&o, groups, "id", "displayName");
	if (rc == 0)
		rc = list_objects(&o, FS_ARCHIVE_OBJECT, "groups", out);
	free(o.v);
	json_decref(groups);
	return rc;
}

/*
 * "getPrinterArchivedPrintJobs(printerId='ID'" and the rest of a call:
 * the month's range, or without one (every month) both dates "null" when
 * open_null, else left out.
 */
static int archive_call(struct buf *out, const char *whose, const char *id,
			const char *month, bool open_null)
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
	if (rc == 0 && month)
		rc = isodate_month_range(month, start, end);
	if (rc == 0 && (month || open_null))
		rc = buf_printf(out, ",startDateTime=%s,endDateTime=%s",
				month ? start : "null", month ? end : "null");
	return rc ? rc : buf_append_str(out, ")");
}

/*
 * Users a listing asks for: at most the 15 values Graph takes in one
 * `in` of a $filter by default, and no more than keep the listing's key
 * (its URL) within what the cache stores as a key (LMDB's 511 bytes).
 */
#define USERS_PER_FILTER 15
#define USERS_FILTER_KEY_MAX 500

/* Appends one user's "'upn'" (",'upn'" after the first), escaped. */
static int filter_value(struct buf *key, const char *upn, bool first)
{
	struct buf v;
	int rc;

	buf_init(&v, 4096);
	rc = first ? 0 : buf_append_str(&v, ",");
	if (rc == 0)
		rc = tree_odata_string(&v, upn);
	if (rc == 0)
		rc = graph_escape_segment(key, v.data);
	buf_release(&v);
	return rc;
}

/*
 * Into key, "/users?$select=...&$filter=userPrincipalName in ('a',...)"
 * (escaped) for the users from objects[first] on that fit (see above);
 * *count receives how many, at least one.
 */
static int users_filter_key(struct buf *key, const struct report_point *pts,
			    const size_t *objects, size_t n, size_t first,
			    size_t *count)
{
	size_t fit = 0, before;
	int rc;

	buf_reset(key);
	rc = buf_append_str(key, TREE_USERS
			    "?$select=id,userPrincipalName&$filter=");
	if (rc == 0)
		rc = graph_escape_segment(key, "userPrincipalName in (");
	while (rc == 0 && first + fit < n && fit < USERS_PER_FILTER) {
		before = key->len;
		rc = filter_value(key, pts[objects[first + fit]].id, fit == 0);
		/* Three bytes for the closing ")", escaped. */
		if (rc == 0 && fit > 0 && key->len + 3 > USERS_FILTER_KEY_MAX) {
			buf_truncate(key, before);
			break;
		}
		fit++;
	}
	if (rc == 0)
		rc = graph_escape_segment(key, ")");
	*count = fit;
	return rc;
}

/*
 * Under user_chunks_lock: where each listing of report's users starts,
 * packed from its first user on, kept until the report changes (every
 * archive file of a walk asks).
 */
static int user_chunks_locked(struct upfs *u, struct usage_index *report,
			      const struct report_point *pts,
			      const size_t *objects, size_t n)
{
	size_t *starts, k = 0, count = 0;
	struct buf key;
	int rc = 0;

	if (u->user_chunks_report == report)
		return 0;
	starts = malloc((n + 1) * sizeof(*starts));
	if (starts == NULL)
		return -ENOMEM;
	buf_init(&key, 8192);
	for (size_t first = 0; rc == 0 && first < n; first += count) {
		rc = users_filter_key(&key, pts, objects, n, first, &count);
		starts[k++] = first;
	}
	buf_release(&key);
	if (rc) {
		free(starts);
		return rc;
	}
	starts[k] = n;
	usage_release(u);
	u->user_chunks_report = usage_index_hold(report);
	u->user_chunk_starts = starts;
	u->n_user_chunks = k;
	return 0;
}

/* The first user of the listing that holds the user at, or -ENOMEM. */
static int user_chunk_first(struct upfs *u, struct usage_index *report,
			    const struct report_point *pts,
			    const size_t *objects, size_t n, size_t at,
			    size_t *first)
{
	size_t lo = 0, hi;
	int rc;

	pthread_mutex_lock(&u->user_chunks_lock);
	rc = user_chunks_locked(u, report, pts, objects, n);
	/* The last start at or before at. */
	for (hi = rc == 0 ? u->n_user_chunks : 0; lo + 1 < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (u->user_chunk_starts[mid] <= at)
			lo = mid;
		else
			hi = mid;
	}
	if (rc == 0)
		*first = u->user_chunk_starts[lo];
	pthread_mutex_unlock(&u->user_chunks_lock);
	return rc;
}

void usage_release(struct upfs *u)
{
	usage_index_drop(u->user_chunks_report);
	free(u->user_chunk_starts);
	u->user_chunks_report = NULL;
	u->user_chunk_starts = NULL;
	u->n_user_chunks = 0;
}

/*
 * user's object id from a listing of the users of the by-user report it
 * is among (up to fifteen, in the report's order): a walk of
 * archive/users/ asks one request per listing, not one per user.
 * -ENOENT when the report does not name user, the service refuses the
 * filter, or its answer lacks user: the caller asks for the user alone.
 */
static int user_id_by_filter(struct upfs *u, const char *user,
			     struct buf *out, struct fs_deps *deps)
{
	struct usage_index *report = NULL;
	const struct report_point *pts;
	const size_t *objects;
	size_t n = 0, n_points, at, first, count = 0;
	json_t *list = NULL, *v;
	struct buf key;
	int rc;

	if (tree_refused_lately(u, &u->users_in_filter_refused_ms))
		return -ENOENT;
	buf_init(&key, 8192);
	rc = get_report(u, MONTHLY_BY_USER, &report, deps);
	if (rc == 0) {
		pts = usage_index_points(report, &n_points);
		objects = usage_index_objects(report, &n);
		for (at = 0; at < n; at++)
			if (strcmp(pts[objects[at]].id, user) == 0)
				break;
		rc = at < n ? 0 : -ENOENT;
	}
	/* The listings' users, packed from the report's first user on:
	   every user of one listing asks it by the same key. */
	if (rc == 0)
		rc = user_chunk_first(u, report, pts, objects, n, at, &first);
	if (rc == 0)
		rc = users_filter_key(&key, pts, objects, n, first, &count);
	if (rc == 0)
		rc = res_get(u, key.data, true, usage_ttl(u), RES_STALE_OK,
			     &list, deps);
	if (rc == -EINVAL || rc == -EOPNOTSUPP || rc == -EACCES) {
		if (tree_mark_refused(u, &u->users_in_filter_refused_ms))
			upfs_log(u, UPFS_LOG_INFO, "the service refused a "
				 "$filter on userPrincipalName with in (%s): "
				 "archive/users/ looks each user up alone",
				 strerror(-rc));
		rc = -ENOENT;
	}
	if (rc == 0) {
		rc = -ENOENT;
		json_array_foreach(list, at, v)
			if (strcasecmp(tree_str(v, "userPrincipalName"),
				       user) == 0 &&
			    json_is_string(json_object_get(v, "id"))) {
				rc = buf_append_str(out, tree_str(v, "id"));
				break;
			}
	}
	json_decref(list);
	usage_index_drop(report);
	buf_release(&key);
	return rc;
}

/*
 * A user's object id, for getUserArchivedPrintJobs, whose userId is "the
 * ID of the user" (reference §3.7): usage reports name users by UPN.
 * Resources like the rest (TTL, cache): up to fifteen users a listing,
 * or one GET for a user the listing does not give.
 */
static int user_object_id(struct upfs *u, const char *user, struct buf *out,
			  struct fs_deps *deps)
{
	json_t *obj = NULL;
	struct buf key;
	int rc;

	if (strchr(user, '@') == NULL)
		return buf_append_str(out, user);
	rc = user_id_by_filter(u, user, out, deps);
	if (rc != -ENOENT)
		return rc;
	buf_init(&key, 4096);
	rc = tree_key(&key, TREE_USERS, user, "?$select=id");
	if (rc == 0)
		rc = res_get(u, key.data, false, usage_ttl(u), RES_STALE_OK,
			     &obj, deps);
	if (rc == 0 && !json_is_string(json_object_get(obj, "id")))
		rc = -EPROTO;
	if (rc == 0)
		rc = buf_append_str(out, tree_str(obj, "id"));
	json_decref(obj);
	buf_release(&key);
	return rc;
}

/*
 * Whether a user the usage reports name can be asked for archived jobs:
 * a user deleted from the directory, or renamed since, is not found by
 * the address the reports give, and the months would be listed only to
 * fail each read (ls -l too) with ENOENT. Found, the id is cached for
 * the months' files.
 */
static bool user_archive_reachable(struct upfs *u, const char *user,
				   struct fs_deps *deps)
{
	struct buf id;
	int rc;

	buf_init(&id, 0);
	rc = user_object_id(u, user, &id, deps);
	buf_release(&id);
	if (rc == -ENOENT)
		upfs_log(u, UPFS_LOG_INFO, "archive/users/%s: not in the "
			 "directory (deleted, or renamed since the reports "
			 "counted them): their archived jobs cannot be asked "
			 "for", user);
	return rc != -ENOENT;
}

/* archive/<whose>/<x>/: one <YYYY-MM>.csv per month with data. */
static int list_months(struct upfs *u, const struct fs_node *dir,
		       struct fs_entries *out, struct fs_deps *deps)
{
	struct usage_index *report = NULL;
	json_t *jobs = NULL, *months = NULL, *m;
	struct buf key;
	size_t i;
	int rc;

	buf_init(&key, 4096);
	if (strcmp(dir->owner, "groups") == 0) {
		/*
		 * No usage report per group: its jobs of every month say when
		 * it printed. The dates null, as the docs say to pass a value
		 * not wanted (the schema marks neither optional); left out
		 * where that is refused (the reference calls them optional).
		 */
		for (int open_null = 1; open_null >= 0; open_null--) {
			buf_reset(&key);
			rc = archive_call(&key, "groups", dir->id, NULL,
					  open_null);
			if (rc == 0)
				rc = res_get(u, key.data, true, usage_ttl(u),
					     RES_STALE_OK, &jobs, deps);
			if (rc != -EINVAL)
				break;
		}
		if (rc == 0)
			rc = report_months_of(jobs, "createdDateTime",
					      &months);
	} else {
		bool printers = strcmp(dir->owner, "printers") == 0;

		rc = get_report(u, printers ? MONTHLY_BY_PRINTER
					    : MONTHLY_BY_USER, &report, deps);
		if (rc == 0)
			rc = usage_index_months(report, dir->id, &months);
		if (rc == 0 && !printers && json_array_size(months) > 0 &&
		    !user_archive_reachable(u, dir->id, deps))
			json_array_clear(months);
	}
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
	usage_index_drop(report);
	json_decref(jobs);
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
	struct usage_index *report = NULL;
	int rc = get_report(u, n->owner, &report, deps);

	if (rc == 0)
		rc = usage_index_csv(report, n->id, out);
	usage_index_drop(report);
	return rc;
}

/* <YYYY-MM>.csv: id the month, owner "printers/<id>" (or users, groups). */
static int render_archive_csv(struct upfs *u, const struct fs_node *n,
			      struct buf *out, struct fs_deps *deps)
{
	const char *slash = strchr(n->owner, '/');
	char whose[16];
	json_t *jobs = NULL;
	struct buf key, id;
	int rc;

	if (slash == NULL || (size_t)(slash - n->owner) >= sizeof(whose))
		return -ENOENT;
	memcpy(whose, n->owner, (size_t)(slash - n->owner));
	whose[slash - n->owner] = '\0';
	buf_init(&key, 4096);
	buf_init(&id, 0);
	rc = strcmp(whose, "users") == 0
		     ? user_object_id(u, slash + 1, &id, deps)
		     : buf_append_str(&id, slash + 1);
	if (rc == 0)
		rc = archive_call(&key, whose, id.data, n->id, false);
	if (rc == 0)
		rc = res_get(u, key.data, true, usage_ttl(u), RES_STALE_OK,
			     &jobs, deps);
	if (rc == 0)
		rc = report_archive_csv(jobs, out);
	json_decref(jobs);
	buf_release(&key);
	buf_release(&id);
	return rc;
}

/* The last day with data: reports run a day behind, and a quiet tenant's
   chart should show its last month, not an empty one. */
static void summary_day(const struct report_point *points, size_t n,
			char day[UPFS_ISODATE_DAY_LEN])
{
	time_t now = time(NULL);
	struct tm tm;

	day[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if (strcmp(points[i].day, day) > 0)
			memcpy(day, points[i].day, UPFS_ISODATE_DAY_LEN);
	if (day[0] == '\0' && gmtime_r(&now, &tm))
		strftime(day, UPFS_ISODATE_DAY_LEN, "%Y-%m-%d", &tm);
}

static int render_summary(struct upfs *u, struct buf *out,
			  struct fs_deps *deps)
{
	struct usage_index *printers = NULL, *users = NULL;
	const struct report_point *by_printer, *by_user;
	size_t n_by_printer, n_by_user;
	char day[UPFS_ISODATE_DAY_LEN];
	int rc = get_report(u, DAILY_BY_PRINTER, &printers, deps);

	if (rc == 0)
		rc = get_report(u, DAILY_BY_USER, &users, deps);
	if (rc == 0) {
		by_printer = usage_index_points(printers, &n_by_printer);
		by_user = usage_index_points(users, &n_by_user);
		summary_day(by_printer, n_by_printer, day);
		rc = report_summary_svg(by_printer, n_by_printer, by_user,
					n_by_user, NULL, day, out);
	}
	usage_index_drop(printers);
	usage_index_drop(users);
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
