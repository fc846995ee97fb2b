/*
 * render.c — the bytes of every generated file and symlink of the tree.
 *
 * Rendering is deterministic for given resources, so a file's size can be
 * computed by rendering it, and getattr and read always agree.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "document.h"
#include "editfile.h"
#include "perms.h"
#include "scratch.h"
#include "pull.h"
#include "tree_private.h"
#include "usage.h"

int tree_status_line(struct buf *out, const json_t *status)
{
	const json_t *details = json_object_get(status, "details");
	const json_t *d;
	size_t i;
	int rc;

	rc = buf_append_str(out, tree_str(status, "state"));
	json_array_foreach(details, i, d) {
		if (rc == 0)
			rc = buf_append_str(out, i == 0 ? ": " : ", ");
		if (rc == 0)
			rc = buf_append_str(out, json_string_value(d) ?
						 json_string_value(d) : "");
	}
	return rc ? rc : buf_append_str(out, "\n");
}

/* Pretty JSON of v without its @odata annotations, and a newline. */
static int render_json(struct buf *out, json_t *v)
{
	json_t *copy = NULL;
	const char *key;
	void *tmp;
	json_t *member;
	char *text = NULL;
	int rc;

	if (json_is_object(v)) {
		copy = json_copy(v);
		if (copy == NULL)
			return -ENOMEM;
		json_object_foreach_safe(copy, tmp, key, member)
			if (strstr(key, "@odata.") != NULL)
				json_object_del(copy, key);
		v = copy;
	}
	text = json_dumps(v ? v : json_null(),
			  JSON_INDENT(2) | JSON_ENCODE_ANY |
			  JSON_REAL_PRECISION(15));
	rc = text ? buf_append_str(out, text) : -ENOMEM;
	if (rc == 0)
		rc = buf_append_str(out, "\n");
	free(text);
	json_decref(copy);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether another element of list has field s (any case). */
static bool field_shared(json_t *list, size_t self, const char *field,
			 const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v)
		if (i != self && strcasecmp(tree_str(v, field), s) == 0)
			return true;
	return false;
}

/*
 * One line per element, sorted: its field, or its id where the field
 * would not name it alone when the line is edited (empty, shared by
 * another element, or not safe as a line), so removing a line removes
 * that one element.
 */
static int render_sorted_lines(struct buf *out, json_t *list,
			       const char *field)
{
	const char **lines = calloc(json_array_size(list) + 1, sizeof(*lines));
	json_t *v;
	size_t i, n = 0;
	int rc = 0;

	if (lines == NULL)
		return -ENOMEM;
	json_array_foreach(list, i, v) {
		const char *s = tree_str(v, field);

		lines[n++] = perms_line_safe(s) &&
			     !field_shared(list, i, field, s)
			     ? s : tree_str(v, "id");
	}
	qsort(lines, n, sizeof(*lines), cmp_str);
	for (i = 0; i < n && rc == 0; i++)
		rc = buf_printf(out, "%s\n", lines[i]);
	free(lines);
	return rc;
}

/* The share GET, with its expanded printer cut down to who it is. */
static int render_share_json(struct buf *out, json_t *share)
{
	json_t *printer = json_object_get(share, "printer");
	json_t *copy = json_copy(share);
	int rc;

	if (copy == NULL)
		return -ENOMEM;
	if (json_is_object(printer))
		json_object_set_new(copy, "printer",
			json_pack("{s:s, s:s}", "id", tree_str(printer, "id"),
				  "displayName",
				  tree_str(printer, "displayName")));
	rc = render_json(out, copy);
	json_decref(copy);
	return rc;
}

/*
 * A link's target uses the name a top folder gives an object, which
 * changes with that folder's listing: record the listing as a dependency.
 */
static int depend_on_names(struct upfs *u, const char *list_key,
			   struct fs_deps *deps)
{
	json_t *list = NULL;
	int rc;

	if (deps == NULL)
		return 0;
	rc = res_get(u, list_key, true, u->opts.dir_ttl, RES_STALE_OK, &list,
		     deps);
	json_decref(list);
	return rc;
}

/* "../../printers/<name>" from a share's folder. */
static int render_share_printer(struct upfs *u, const struct fs_node *n,
				struct buf *out, struct fs_deps *deps)
{
	json_t *share = NULL;
	const char *pid;
	int rc;

	rc = tree_get(u, TREE_SHARES, n->id, TREE_SHARE_SELECT, false,
		      u->opts.dir_ttl, RES_STALE_OK, &share, deps);
	if (rc)
		return rc;
	pid = tree_str(json_object_get(share, "printer"), "id");
	rc = pid[0] ? buf_append_str(out, "../../printers/") : -ENOENT;
	if (rc == 0)
		rc = depend_on_names(u, TREE_PRINTERS, deps);
	if (rc == 0)
		rc = node_name_of(u, FS_PRINTERS, pid, out);
	json_decref(share);
	return rc;
}

/* "../../../printers/<name>/jobs/<id>" from shares/<s>/jobs/. */
static int render_share_job_link(struct upfs *u, const struct fs_node *n,
				 struct buf *out, struct fs_deps *deps)
{
	struct buf printer;
	struct fs_node share = { .kind = FS_SHARE_PRINTER, .id = n->owner };
	int rc;

	buf_init(&printer, 0);
	rc = render_share_printer(u, &share, &printer, deps);
	if (rc == 0)
		rc = buf_printf(out, "../%s/jobs/%s", printer.data, n->id);
	buf_release(&printer);
	return rc;
}

/* What a printer's files show: a member of its full GET. */
static int render_printer_part(struct upfs *u, const struct fs_node *n,
			       const char *member, struct buf *out,
			       int64_t *mtime, struct fs_deps *deps)
{
	json_t *printer = NULL;
	int rc;

	rc = tree_get(u, TREE_PRINTERS, n->id, TREE_PRINTER_SELECT, false,
		      u->opts.dir_ttl, RES_STALE_OK, &printer, deps);
	if (rc)
		return rc;
	*mtime = tree_parse_time(tree_str(printer, "registeredDateTime"));
	if (member == NULL)
		rc = render_json(out, printer);
	else if (json_object_get(printer, member))
		rc = render_json(out, json_object_get(printer, member));
	else
		rc = buf_append_str(out, "{}\n");
	json_decref(printer);
	return rc;
}

/* The status line of a printer or a job, kept within status_ttl. */
static int render_status(struct upfs *u, const char *key, const char *id,
			 struct buf *out, int64_t *mtime, int *ttl,
			 struct fs_deps *deps)
{
	json_t *obj = NULL;
	int rc;

	*ttl = u->opts.status_ttl;
	rc = tree_get_member(u, key, id, u->opts.status_ttl,
			     RES_REFRESH_STALE, &obj, deps);
	if (rc)
		return rc;
	*mtime = tree_parse_time(tree_str(obj, "lastSeenDateTime"));
	rc = tree_status_line(out, json_object_get(obj, "status"));
	json_decref(obj);
	return rc;
}

static int render_member(struct upfs *u, const char *key, const char *id,
			 struct buf *out, struct fs_deps *deps)
{
	json_t *obj = NULL;
	int rc = tree_get_member(u, key, id, u->opts.dir_ttl, RES_STALE_OK,
				 &obj, deps);

	if (rc == 0)
		rc = render_json(out, obj);
	json_decref(obj);
	return rc;
}

static int render_list_lines(struct upfs *u, const char *id,
			     const char *suffix, const char *field,
			     struct buf *out, struct fs_deps *deps)
{
	json_t *list = NULL;
	int rc = tree_get(u, TREE_SHARES, id, suffix, true, u->opts.dir_ttl,
			  RES_STALE_OK, &list, deps);

	if (rc == 0)
		rc = render_sorted_lines(out, list, field);
	json_decref(list);
	return rc;
}

static int render_object(struct upfs *u, const char *prefix, const char *id,
			 const char *suffix, struct buf *out, bool share,
			 struct fs_deps *deps)
{
	json_t *obj = NULL;
	int rc = tree_get(u, prefix, id, suffix, false, u->opts.dir_ttl,
			  RES_STALE_OK, &obj, deps);

	if (rc == 0)
		rc = share ? render_share_json(out, obj) : render_json(out, obj);
	json_decref(obj);
	return rc;
}

static int render_allow_all(struct upfs *u, const struct fs_node *n,
			    struct buf *out, struct fs_deps *deps)
{
	json_t *share = NULL;
	int rc = tree_get_member(u, TREE_SHARES, n->id, u->opts.dir_ttl,
				 RES_STALE_OK, &share, deps);

	if (rc == 0)
		rc = buf_append_str(out, json_is_true(json_object_get(share,
					"allowAllUsers")) ? "true\n" : "false\n");
	json_decref(share);
	return rc;
}

static int render_job(struct upfs *u, const struct fs_node *n, bool status,
		      struct buf *out, int64_t *mtime, int *ttl,
		      struct fs_deps *deps)
{
	struct buf key;
	int rc;

	buf_init(&key, 4096);
	rc = tree_key(&key, TREE_PRINTERS, n->owner, TREE_JOBS_SUFFIX);
	if (rc == 0 && status)
		rc = render_status(u, key.data, n->id, out, mtime, ttl, deps);
	else if (rc == 0)
		rc = render_member(u, key.data, n->id, out, deps);
	buf_release(&key);
	return rc;
}

static int render_printer_share_link(struct upfs *u, const struct fs_node *n,
				     struct buf *out, struct fs_deps *deps)
{
	int rc = buf_append_str(out, "../../../shares/");

	if (rc == 0)
		rc = depend_on_names(u, TREE_SHARES, deps);
	return rc ? rc : node_name_of(u, FS_SHARES, n->id, out);
}

static int render_connector_printer_link(struct upfs *u,
					 const struct fs_node *n,
					 struct buf *out, struct fs_deps *deps)
{
	int rc = buf_append_str(out, "../../../printers/");

	if (rc == 0)
		rc = depend_on_names(u, TREE_PRINTERS, deps);
	return rc ? rc : node_name_of(u, FS_PRINTERS, n->id, out);
}

/* An operation changes state until it is done: kept within status_ttl. */
static int render_operation(struct upfs *u, const struct fs_node *n,
			    struct buf *out, struct fs_deps *deps)
{
	json_t *op = NULL;
	int rc = tree_get(u, TREE_OPERATIONS, n->id, NULL, false,
			  u->opts.status_ttl, RES_REFRESH_STALE, &op, deps);

	if (rc == 0)
		rc = render_json(out, op);
	json_decref(op);
	return rc;
}

int tree_render(struct upfs *u, const struct fs_node *n, struct buf *out,
		int64_t *mtime, int *ttl, struct fs_deps *deps)
{
	*mtime = 0;
	*ttl = u->opts.dir_ttl;
	switch (n->kind) {
	case FS_SHARE_JSON:
		return render_object(u, TREE_SHARES, n->id, TREE_SHARE_SELECT,
				     out, true, deps);
	case FS_SHARE_PRINTER:
		return render_share_printer(u, n, out, deps);
	case FS_SHARE_USERS:
		return render_list_lines(u, n->id, "/allowedUsers",
					 "userPrincipalName", out, deps);
	case FS_SHARE_GROUPS:
		return render_list_lines(u, n->id, "/allowedGroups",
					 "displayName", out, deps);
	case FS_SHARE_ALLOW_ALL:
		return render_allow_all(u, n, out, deps);
	case FS_SHARE_JOB_LINK:
		return render_share_job_link(u, n, out, deps);
	case FS_PRINTER_STATUS:
		return render_status(u, TREE_PRINTERS, n->id, out, mtime, ttl,
				     deps);
	case FS_PRINTER_JSON:
		return render_printer_part(u, n, NULL, out, mtime, deps);
	case FS_PRINTER_CAPS:
		return render_printer_part(u, n, "capabilities", out, mtime,
					   deps);
	case FS_PRINTER_DEFAULTS:
		return render_printer_part(u, n, "defaults", out, mtime,
					   deps);
	case FS_PRINTER_LOCATION:
		return render_printer_part(u, n, "location", out, mtime,
					   deps);
	case FS_JOB_STATUS:
		return render_job(u, n, true, out, mtime, ttl, deps);
	case FS_JOB_JSON:
		return render_job(u, n, false, out, mtime, ttl, deps);
	case FS_PRINTER_SHARE_LINK:
		return render_printer_share_link(u, n, out, deps);
	case FS_CONNECTOR_JSON:
		return render_member(u, TREE_CONNECTORS, n->id, out, deps);
	case FS_CONNECTOR_PRINTER_LINK:
		return render_connector_printer_link(u, n, out, deps);
	case FS_OPERATION_JSON:
		*ttl = u->opts.status_ttl;
		return render_operation(u, n, out, deps);
	case FS_PRINTER_CTL:
	case FS_JOB_CTL:
		/* Written to, never holding anything. */
		return 0;
	case FS_SETTINGS_JSON:
		return render_object(u, TREE_SETTINGS, NULL, NULL, out, false,
				     deps);
	case FS_SHARE_OPTIONS:
		/* Changed only through this mount, which tells the kernel
		   (ops_attr_changed); never memoized. */
		if (deps)
			deps->volatile_ = true;
		return editfile_load(u, n, out);
	case FS_SCRATCH:
		*ttl = 0;
		if (deps)
			deps->volatile_ = true;
		return scratch_target(u, n->id, out) == -EINVAL
		       ? scratch_read(u, n->id, out)
		       : scratch_target(u, n->id, out);
	case FS_META_STATUS:
		/* Changes with every request: never cached, never memoized. */
		*ttl = 0;
		if (deps)
			deps->volatile_ = true;
		return health_render(u, out);
	case FS_USAGE_CSV:
	case FS_ARCHIVE_CSV:
	case FS_USAGE_SUMMARY:
		return usage_render(u, n, out, ttl, deps);
	case FS_TASK_DEF_JSON:
	case FS_TASK_STATUS:
	case FS_TASK_JSON:
	case FS_TASK_TRIGGER:
	case FS_TASK_EVENTS:
	case FS_JOB_TASK_STATUS:
	case FS_JOB_TASK_JSON:
		return pull_render(u, n, out, ttl, deps);
	case FS_QUEUE_ENTRY:
	case FS_JOB_DOCUMENT:
		/* Documents are streamed (document.c), never rendered. */
		return -EOPNOTSUPP;
	default:
		return -EISDIR;
	}
}

int tree_document_size(struct upfs *u, const struct fs_node *n, off_t *size,
		       int64_t *mtime, struct fs_deps *deps)
{
	struct document_ref doc;
	int rc = document_ref_of(u, n, &doc, deps);

	if (rc == 0) {
		*size = (off_t)doc.size;
		*mtime = doc.mtime;
	}
	return rc;
}
