/*
 * jsoncommit.c — committing printers/<p>/defaults.json, location.json and
 * settings.json (jsoncommit.h): what the edit changed from the text it
 * started from, less what the service holds now, checked by jsonedit.c,
 * sent as one PATCH. A PATCH that fails
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
	/* Cut to fit is fine: why is a summary for .upfs/status. */
	if (snprintf(why, len, "%s: %s", what, detail) < 0)
		why[0] = '\0';
}

/*
 * The object as the service holds it now, not as cached: a field the
 * edit changed is sent only when the service does not hold its new value
 * already.
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

/* Whether obj's field name is v already (a null: the field cleared). */
static bool field_holds(const json_t *obj, const char *name, const json_t *v)
{
	return jsonedit_same_value(v, json_object_get(obj, name));
}

/* Whether obj holds everything changes sets. */
static bool holds(const json_t *obj, const json_t *changes)
{
	const char *name;
	json_t *v;

	json_object_foreach((json_t *)changes, name, v)
		if (!field_holds(obj, name, v))
			return false;
	return true;
}

/* After a failed PATCH: whether the service holds its changes all the
   same (read now). */
static bool applied_anyway(struct upfs *u, const char *member,
			   const char *get, const json_t *changes)
{
	json_t *now = NULL;
	char why[256];
	bool done;

	done = fetch_now(u, get, &now, why, sizeof(why)) == 0 &&
	       holds(member ? json_object_get(now, member) : now, changes);
	json_decref(now);
	return done;
}

/*
 * The fields to send. Without a base, those where text differs from
 * current. With one (the text the edit started from), those the edit
 * changed from base, and only where current does not already hold the
 * new value: a field the editor left alone is not sent back with the
 * value a stale copy showed, undoing another admin's change.
 */
static int fields_to_send(enum jsonedit_doc doc, const struct buf *base,
			  const struct buf *text, const json_t *current,
			  const json_t *caps, json_t **changes, char *why,
			  size_t why_len)
{
	json_t *seen = base ? json_loadb(base->data ? base->data : "",
					 base->len, 0, NULL) : NULL;
	json_t *edited = NULL, *v;
	const char *name;
	int rc;

	/* A base that is not an object (never rendered so): the old way. */
	if (!json_is_object(seen)) {
		json_decref(seen);
		return jsonedit_diff(doc, text->data ? text->data : "",
				     text->len, current, caps, changes, why,
				     why_len);
	}
	rc = jsonedit_diff(doc, text->data ? text->data : "", text->len, seen,
			   caps, &edited, why, why_len);
	if (rc == 0 && (*changes = json_object()) == NULL)
		rc = -ENOMEM;
	json_object_foreach(edited, name, v)
		if (rc == 0 && !field_holds(current, name, v))
			rc = json_object_set(*changes, name, v) ? -ENOMEM : 0;
	if (rc) {
		json_decref(*changes);
		*changes = NULL;
	}
	json_decref(edited);
	json_decref(seen);
	return rc;
}

int jsoncommit(struct upfs *u, enum fs_kind kind, const char *id,
	       const struct buf *base, const struct buf *text, char *why,
	       size_t why_len)
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
		rc = fields_to_send(doc, base, text,
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
	if (rc && graph_err_unsettled(&err) &&
	    applied_anyway(u, member, get.data, changes)) {
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
