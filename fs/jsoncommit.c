/*
 * jsoncommit.c — committing printers/<p>/defaults.json, location.json and
 * settings.json (jsoncommit.h): the difference against what the service
 * holds now, checked by jsonedit.c, sent as one PATCH. A PATCH that fails
 * may have been applied all the same (its reply lost, cut short or
 * spoiled after the work): the object is read again, and when it holds
 * what the file says, the commit succeeded.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "jsoncommit.h"
#include "jsonedit.h"
#include "tree_private.h"

bool jsoncommit_kind(enum fs_kind kind)
{
	return kind == FS_PRINTER_DEFAULTS || kind == FS_PRINTER_LOCATION ||
	       kind == FS_SETTINGS_JSON;
}

static void why_graph(char *why, size_t len, const char *what,
		      const struct graph_err *err)
{
	char detail[300];

	graph_err_format(err, detail, sizeof(detail));
	snprintf(why, len, "%s: %s", what, detail);
}

/*
 * The object as the service holds it now, not as cached: the difference
 * must be taken against the truth, or an edit made elsewhere meanwhile
 * would be undone by a field this edit did not touch.
 */
static int fetch_now(struct upfs *u, const char *path, json_t **out,
		     char *why, size_t why_len)
{
	struct graph_err err = { 0 };
	int rc = graph_get(u->graph, path, out, &err);

	if (rc)
		why_graph(why, why_len, "reading it from the service", &err);
	return rc;
}

/* Forgets the cached copies an edit of this kind changes. */
static void expire_after(struct upfs *u, enum fs_kind kind, const char *id)
{
	struct buf key;

	if (kind == FS_SETTINGS_JSON) {
		res_expire(u, TREE_SETTINGS);
		return;
	}
	buf_init(&key, 4096);
	if (tree_key(&key, TREE_PRINTERS, id, TREE_PRINTER_SELECT) == 0)
		res_expire(u, key.data);
	/* The listing carries location (and displayName) too. */
	res_expire(u, TREE_PRINTERS);
	buf_release(&key);
}

/*
 * After a failed PATCH: whether the service holds everything the text
 * asks for all the same (read now, diffed the way the commit was).
 */
static bool applied_anyway(struct upfs *u, enum jsonedit_doc doc,
			   const char *member, const char *get,
			   const struct buf *text)
{
	json_t *now = NULL, *left = NULL;
	char why[256];
	bool done;

	done = fetch_now(u, get, &now, why, sizeof(why)) == 0 &&
	       jsonedit_diff(doc, text->data ? text->data : "", text->len,
			     member ? json_object_get(now, member) : now,
			     json_object_get(now, "capabilities"), &left, why,
			     sizeof(why)) == 0 &&
	       json_object_size(left) == 0;
	json_decref(left);
	json_decref(now);
	return done;
}

int jsoncommit(struct upfs *u, enum fs_kind kind, const char *id,
	       const struct buf *text, char *why, size_t why_len)
{
	const char *member = kind == FS_PRINTER_DEFAULTS ? "defaults"
			     : kind == FS_PRINTER_LOCATION ? "location" : NULL;
	enum jsonedit_doc doc = kind == FS_PRINTER_DEFAULTS ? JSONEDIT_DEFAULTS
				: kind == FS_PRINTER_LOCATION
					? JSONEDIT_LOCATION
					: JSONEDIT_SETTINGS;
	json_t *now = NULL, *changes = NULL, *body = NULL;
	struct graph_err err = { 0 };
	struct buf path, get;
	int rc;

	if (!jsoncommit_kind(kind))
		return -EROFS;
	buf_init(&path, 4096);
	buf_init(&get, 4096);
	rc = member ? tree_key(&path, TREE_PRINTERS, id, NULL)
		    : buf_append_str(&path, TREE_SETTINGS);
	if (rc == 0)
		rc = buf_printf(&get, "%s%s", path.data, member
				? "?$select=id,defaults,location,capabilities"
				: "");
	if (rc == 0)
		rc = fetch_now(u, get.data, &now, why, why_len);
	if (rc == 0)
		rc = jsonedit_diff(doc, text->data ? text->data : "", text->len,
				   member ? json_object_get(now, member) : now,
				   json_object_get(now, "capabilities"),
				   &changes, why, why_len);
	if (rc || json_object_size(changes) == 0)
		goto out;	/* refused, or nothing to send */
	body = member ? json_pack("{s:O}", member, changes)
		      : json_incref(changes);
	if (body == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = graph_request(u->graph, "PATCH", path.data, body, NULL, &err);
	/* A refusal (4xx) is a refusal; anything else may have happened. */
	if (rc && (err.status == 0 || err.status >= 500 || err.status < 300) &&
	    applied_anyway(u, doc, member, get.data, text)) {
		upfs_log(u, UPFS_LOG_INFO, "the PATCH of %s failed (%s) but the "
			 "service holds the change: committed", path.data,
			 strerror(-rc));
		rc = 0;
	}
	if (rc)
		why_graph(why, why_len, "the service refused the change", &err);
	/* Whatever happened, the next read asks the service. */
	expire_after(u, kind, id);
out:
	json_decref(now);
	json_decref(changes);
	json_decref(body);
	buf_release(&path);
	buf_release(&get);
	return rc;
}
