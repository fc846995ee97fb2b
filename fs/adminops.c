/*
 * adminops.c — printers, jobs and connectors changed with rmdir, mv and
 * ctl files (adminops.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "adminops.h"
#include "identity.h"
#include "tree_private.h"

static int report(struct upfs *u, const char *what, int rc,
		  const struct graph_err *err)
{
	char detail[400];

	if (rc == 0)
		return 0;
	if (err && (err->status || err->message[0]))
		graph_err_format(err, detail, sizeof(detail));
	else
		snprintf(detail, sizeof(detail), "%s", strerror(-rc));
	health_refusal(u, what, detail);
	return rc;
}

/* A printer's resources: its GET, the listing, and its shares'. */
static void expire_printer(struct upfs *u, const char *printer_id)
{
	struct buf key;

	buf_init(&key, 4096);
	if (tree_key(&key, TREE_PRINTERS, printer_id, TREE_PRINTER_SELECT) == 0)
		res_expire(u, key.data);
	res_expire(u, TREE_PRINTERS);
	/* connectors/<c>/printers/ lists them by name too. */
	res_expire(u, TREE_PRINTERS_WITH_CONNECTORS);
	res_expire(u, TREE_SHARES);
	buf_release(&key);
}

/*
 * Whether another object of the listing prefix is called name: two that
 * are show as "name ~<id>", so the folder has no "name" to refuse a
 * rename onto, and the renamed one would not show as name either.
 */
static bool display_name_taken(struct upfs *u, const char *prefix,
			       const char *name, const char *id)
{
	json_t *list = NULL, *v;
	bool taken = false;
	size_t i;

	if (res_get(u, prefix, true, u->opts.dir_ttl, RES_STALE_OK, &list,
		    NULL) == 0)
		json_array_foreach(list, i, v)
			taken = taken ||
				(strcmp(tree_str(v, "displayName"), name) == 0 &&
				 strcmp(tree_str(v, "id"), id) != 0);
	json_decref(list);
	return taken;
}

static void expire_jobs(struct upfs *u, const char *printer_id)
{
	struct buf key;

	buf_init(&key, 4096);
	if (tree_key(&key, TREE_PRINTERS, printer_id,
		     TREE_JOBS_SUFFIX) == 0)
		res_expire(u, key.data);
	buf_release(&key);
}

int adminops_unregister_printer(struct upfs *u, const char *name)
{
	struct graph_err err = { 0 };
	struct buf id, path;
	int rc;

	buf_init(&id, 4096);
	buf_init(&path, 4096);
	rc = node_id_of(u, FS_PRINTERS, name, &id);
	if (rc == 0)
		rc = tree_key(&path, TREE_PRINTERS, id.data, NULL);
	if (rc == 0) {
		rc = graph_request(u->graph, "DELETE", path.data, NULL, NULL,
				   &err);
		if (rc && graph_err_unsettled(&err) &&
		    tree_gone_now(u->graph, path.data))
			rc = 0;
		expire_printer(u, id.data);
	}
	buf_release(&id);
	buf_release(&path);
	return report(u, "unregistering the printer", rc, &err);
}

int adminops_rename(struct upfs *u, enum fs_kind top, const char *from,
		    const char *to)
{
	const char *prefix = top == FS_PRINTERS ? TREE_PRINTERS
						: TREE_CONNECTORS;
	struct graph_err err = { 0 };
	json_t *body = NULL;
	struct buf id, other, path;
	int rc;

	buf_init(&id, 4096);
	buf_init(&other, 4096);
	buf_init(&path, 4096);
	rc = node_id_of(u, top, from, &id);
	if (rc == 0 && (node_id_of(u, top, to, &other) == 0 ||
			display_name_taken(u, prefix, to, id.data)))
		rc = -EEXIST;
	if (rc == 0 && (body = json_pack("{s:s}", "displayName", to)) == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = tree_key(&path, prefix, id.data, NULL);
	if (rc == 0) {
		rc = graph_request(u->graph, "PATCH", path.data, body, NULL,
				   &err);
		if (rc && graph_err_unsettled(&err) &&
		    tree_reads_back(u->graph, path.data, NULL, "displayName", to))
			rc = 0;
		res_expire(u, prefix);
		if (top == FS_PRINTERS)
			expire_printer(u, id.data);
	}
	json_decref(body);
	buf_release(&id);
	buf_release(&other);
	buf_release(&path);
	return report(u, top == FS_PRINTERS ? "renaming the printer"
					    : "renaming the connector",
		      rc, &err);
}

bool adminops_ctl_kind(enum fs_kind kind)
{
	return kind == FS_PRINTER_CTL || kind == FS_JOB_CTL;
}

/* The command word and what follows it, trimmed, in cmd and arg. */
static int split_command(const struct buf *text, char *cmd, size_t cmd_len,
			 char *arg, size_t arg_len)
{
	const char *p = text->data ? text->data : "";
	const char *end = p + text->len;
	size_t n;

	while (p < end && strchr(" \t\r\n", *p))
		p++;
	while (end > p && strchr(" \t\r\n", end[-1]))
		end--;
	if (memchr(p, '\0', (size_t)(end - p)) || memchr(p, '\n',
							(size_t)(end - p)))
		return -EINVAL;	/* one command per write */
	n = strcspn(p, " \t");
	if (n > (size_t)(end - p))
		n = (size_t)(end - p);
	if (n == 0 || n >= cmd_len)
		return -EINVAL;
	memcpy(cmd, p, n);
	cmd[n] = '\0';
	p += n;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	n = (size_t)(end - p);
	if (n >= arg_len)
		n = arg_len - 1;
	memcpy(arg, p, n);
	arg[n] = '\0';
	return 0;
}

/*
 * POSTs an action. done (when not NULL) is the object whose state
 * (status.state) reads done_state once the action was carried out: read
 * back when the reply was lost.
 */
static int post_action(struct graph *g, const char *path, json_t *body,
		       const char *done, const char *done_state, char *why,
		       size_t why_len, const char *what)
{
	struct graph_err err = { 0 };
	char detail[300];
	int rc = graph_request(g, "POST", path, body, NULL, &err);

	if (rc && done && graph_err_unsettled(&err) &&
	    tree_reads_back(g, done, "status", "state", done_state))
		rc = 0;
	if (rc) {
		graph_err_format(&err, detail, sizeof(detail));
		snprintf(why, why_len, "%s: %s", what, detail);
	}
	return rc;
}

/* The printer's defaults at the service now, or NULL if it cannot say. */
static json_t *defaults_now(struct graph *g, const char *printer_path)
{
	struct graph_err err = { 0 };
	json_t *obj = NULL, *defaults = NULL;
	struct buf get;

	buf_init(&get, 4096);
	if (buf_printf(&get, "%s?$select=id,defaults", printer_path) == 0 &&
	    graph_get(g, get.data, &obj, &err) == 0)
		defaults = json_incref(json_object_get(obj, "defaults"));
	json_decref(obj);
	buf_release(&get);
	return defaults;
}

/*
 * restoreFactoryDefaults answers 204 with nothing to read back, and the
 * factory defaults are the service's secret. Restoring twice restores
 * once, so a lost reply is answered by sending it again; lost again,
 * only defaults that changed since just before say it was done (a
 * printer at its factory defaults already cannot tell).
 */
static int printer_ctl(struct upfs *u, const char *printer, const char *cmd,
		       char *why, size_t why_len)
{
	struct graph_err err = { 0 };
	json_t *before = NULL, *after = NULL;
	struct buf path, post;
	char detail[300];
	int rc;

	if (strcmp(cmd, "restore-defaults") != 0) {
		snprintf(why, why_len, "'%s': printers/<p>/ctl takes "
			 "restore-defaults", cmd);
		return -EINVAL;
	}
	buf_init(&path, 4096);
	buf_init(&post, 4096);
	rc = tree_key(&path, TREE_PRINTERS, printer, NULL);
	if (rc == 0)
		rc = buf_printf(&post, "%s/restoreFactoryDefaults", path.data);
	if (rc)
		goto out;
	before = defaults_now(u->graph, path.data);
	rc = graph_request(u->graph, "POST", post.data, NULL, NULL, &err);
	if (rc && graph_err_unsettled(&err)) {
		err = (struct graph_err){ 0 };
		rc = graph_request(u->graph, "POST", post.data, NULL, NULL,
				   &err);
	}
	if (rc && graph_err_unsettled(&err) && before &&
	    (after = defaults_now(u->graph, path.data)) != NULL &&
	    !json_equal(before, after)) {
		upfs_log(u, UPFS_LOG_INFO, "the POST of %s failed (%s) but the "
			 "printer's defaults changed: restored", post.data,
			 strerror(-rc));
		rc = 0;
	}
	if (rc) {
		graph_err_format(&err, detail, sizeof(detail));
		snprintf(why, why_len, "restoring factory defaults: %s",
			 detail);
	}
	expire_printer(u, printer);
out:
	json_decref(before);
	json_decref(after);
	buf_release(&path);
	buf_release(&post);
	return rc;
}

static int job_ctl(struct upfs *u, const char *job, const char *printer,
		   const char *cmd, const char *arg, char *why,
		   size_t why_len)
{
	bool cancel = strcmp(cmd, "cancel") == 0;
	struct graph *g = u->graph;
	json_t *body = NULL;
	struct buf path, post;
	int rc;

	if (!cancel && strcmp(cmd, "abort") != 0) {
		snprintf(why, why_len, "'%s': jobs/<j>/ctl takes cancel or "
			 "abort [reason]", cmd);
		return -EINVAL;
	}
	if (cancel && arg[0]) {
		snprintf(why, why_len, "cancel takes no reason");
		return -EINVAL;
	}
	/* Users cancel; only an application aborts (reference §3.2). */
	if (!cancel && (g = identity_app(u, why, why_len)) == NULL)
		return -EACCES;
	buf_init(&path, 4096);
	buf_init(&post, 4096);
	rc = tree_key(&path, TREE_PRINTERS, printer, "/jobs/");
	if (rc == 0)
		rc = graph_escape_segment(&path, job);
	if (rc == 0)
		rc = buf_printf(&post, "%s/%s", path.data,
				cancel ? "cancel" : "abort");
	/* abort takes an optional reason (reference §3.2). */
	if (rc == 0 && !cancel && arg[0] &&
	    (body = json_pack("{s:s}", "reason", arg)) == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = post_action(g, post.data, body, path.data,
				 cancel ? "canceled" : "aborted", why, why_len,
				 cancel ? "cancelling the job"
					: "aborting the job");
	expire_jobs(u, printer);
	json_decref(body);
	buf_release(&path);
	buf_release(&post);
	return rc;
}

int adminops_ctl(struct upfs *u, enum fs_kind kind, const char *id,
		 const char *printer, const struct buf *text, char *why,
		 size_t why_len)
{
	char cmd[64], arg[256];

	if (!adminops_ctl_kind(kind))
		return -EROFS;
	if (split_command(text, cmd, sizeof(cmd), arg, sizeof(arg)) != 0) {
		snprintf(why, why_len, "write one command: %s",
			 kind == FS_PRINTER_CTL ? "restore-defaults"
						: "cancel, or abort [reason]");
		return -EINVAL;
	}
	if (kind == FS_PRINTER_CTL) {
		if (arg[0]) {
			snprintf(why, why_len, "%s takes no argument", cmd);
			return -EINVAL;
		}
		return printer_ctl(u, id, cmd, why, why_len);
	}
	return job_ctl(u, id, printer, cmd, arg, why, why_len);
}
