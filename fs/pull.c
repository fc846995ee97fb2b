/*
 * pull.c — pull printing in the tree (pull.h): task definitions, their
 * tasks and events, triggers on printers, redirects.
 *
 * Definitions and tasks belong to the application (identity.h routes
 * /print/taskDefinitions there); triggers are made by the signed-in
 * administrator and must name a definition of the same application
 * (reference §8.3 step 4); redirects are the application's again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "identity.h"
#include "jobtasks.h"
#include "names.h"
#include "pull.h"
#include "tree_private.h"
#include "urlcode.h"

bool pull_kind_is_dir(enum fs_kind kind)
{
	return kind == FS_TASK_DEFS || kind == FS_TASK_DEF ||
	       kind == FS_TASKS || kind == FS_TASK ||
	       kind == FS_TASK_TRIGGERS || jobtasks_kind_is_dir(kind);
}

static int report(struct upfs *u, const char *what, int rc,
		  const struct graph_err *err, const char *why)
{
	char detail[400];

	if (rc == 0)
		return 0;
	if (why && why[0])
		snprintf(detail, sizeof(detail), "%s", why);
	else if (err && (err->status || err->message[0]))
		graph_err_format(err, detail, sizeof(detail));
	else
		snprintf(detail, sizeof(detail), "%s", strerror(-rc));
	health_refusal(u, what, detail);
	return rc;
}

/* ---- listings ------------------------------------------------------------ */

static int add_child(struct upfs *u, struct fs_entries *out,
		     const char *name, enum fs_kind kind,
		     const struct fs_node *dir)
{
	return fs_entries_add(out, name, kind, dir->id, dir->owner,
			      node_mtime(u, dir));
}

/* tasks/: one folder per task of the definition, named by its id. */
static int list_tasks(struct upfs *u, const struct fs_node *dir,
		      struct fs_entries *out, struct fs_deps *deps)
{
	json_t *list = NULL, *t;
	size_t i;
	int rc = tree_get(u, TREE_TASK_DEFS, dir->id, "/tasks", true,
			  u->opts.status_ttl, RES_REFRESH_STALE, &list, deps);

	json_array_foreach(list, i, t) {
		const char *id = tree_str(t, "id");

		if (rc == 0 && id[0])
			rc = fs_entries_add(out, id, FS_TASK, id, dir->id, 0);
	}
	json_decref(list);
	return rc;
}

/* The name task_triggers/ gives a trigger: its definition's name. */
static int trigger_name(const json_t *trigger, struct buf *out)
{
	const json_t *def = json_object_get(trigger, "definition");
	const char *name = tree_str(def, "displayName");

	return names_encode(out, name[0] ? name : tree_str(trigger, "id"),
			    tree_str(trigger, "id"));
}

static int list_triggers(struct upfs *u, const struct fs_node *dir,
			 struct fs_entries *out, struct fs_deps *deps)
{
	json_t *list = NULL, *t;
	struct buf name;
	size_t i;
	int rc = tree_get_triggers(u, dir->id, RES_STALE_OK, &list, deps);

	buf_init(&name, 0);
	json_array_foreach(list, i, t) {
		buf_reset(&name);
		if (rc == 0)
			rc = trigger_name(t, &name);
		if (rc == 0)
			rc = fs_entries_add(out, name.data, FS_TASK_TRIGGER,
					 tree_str(t, "id"), dir->id, 0);
	}
	json_decref(list);
	buf_release(&name);
	return rc;
}

int pull_list(struct upfs *u, const struct fs_node *dir,
	      struct fs_entries *out, struct fs_deps *deps)
{
	int rc;

	char why[300];

	switch (dir->kind) {
	case FS_TASK_DEFS:
		/* Only an application has definitions: without its identity
		   the folder is empty (mkdir says why), not an error. */
		if (identity_app(u, why, sizeof(why)) == NULL) {
			deps->volatile_ = true;
			return 0;
		}
		return tree_list_objects(u, TREE_TASK_DEFS, FS_TASK_DEF, NULL,
					 "createdDateTime", out, deps);
	case FS_TASK_DEF:
		rc = add_child(u, out, "definition.json", FS_TASK_DEF_JSON, dir);
		if (rc == 0)
			rc = add_child(u, out, "events", FS_TASK_EVENTS, dir);
		return rc ? rc : add_child(u, out, "tasks", FS_TASKS, dir);
	case FS_TASKS:
		return list_tasks(u, dir, out, deps);
	case FS_TASK:
		rc = add_child(u, out, "status", FS_TASK_STATUS, dir);
		return rc ? rc : add_child(u, out, "task.json", FS_TASK_JSON, dir);
	case FS_TASK_TRIGGERS:
		return list_triggers(u, dir, out, deps);
	case FS_JOB_TASKS:
	case FS_JOB_TASK:
		return jobtasks_list(u, dir, out, deps);
	default:
		return -ENOTDIR;
	}
}

/* ---- files --------------------------------------------------------------- */

static int render_json_text(struct buf *out, const json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
	int rc = text ? buf_append_str(out, text) : -ENOMEM;

	if (rc == 0)
		rc = buf_append_str(out, "\n");
	free(text);
	return rc;
}

/* A task, from its definition's listing (kept within status_ttl). */
static int get_task(struct upfs *u, const char *definition, const char *task,
		    enum res_policy policy, json_t **out, struct fs_deps *deps)
{
	struct buf key;
	int rc;

	buf_init(&key, 4096);
	rc = tree_key(&key, TREE_TASK_DEFS, definition, "/tasks");
	if (rc == 0)
		rc = tree_get_member(u, key.data, task, u->opts.status_ttl,
				     policy, out, deps);
	buf_release(&key);
	return rc;
}

int pull_render(struct upfs *u, const struct fs_node *n, struct buf *out,
		int *ttl, struct fs_deps *deps)
{
	json_t *obj = NULL;
	int rc;

	*ttl = u->opts.dir_ttl;
	switch (n->kind) {
	case FS_TASK_DEF_JSON:
		rc = tree_get_member(u, TREE_TASK_DEFS, n->id, u->opts.dir_ttl,
				     RES_STALE_OK, &obj, deps);
		break;
	case FS_TASK_STATUS:
	case FS_TASK_JSON:
	case FS_JOB_TASK_STATUS:
	case FS_JOB_TASK_JSON:
		*ttl = u->opts.status_ttl;
		rc = n->kind == FS_TASK_STATUS || n->kind == FS_TASK_JSON
		     ? get_task(u, n->owner, n->id, RES_REFRESH_STALE, &obj,
				deps)
		     : jobtasks_get(u, n->id, n->owner, &obj, deps);
		if (rc == 0 && (n->kind == FS_TASK_STATUS ||
				n->kind == FS_JOB_TASK_STATUS)) {
			const json_t *st = json_object_get(obj, "status");

			rc = buf_printf(out, "%s\n", tree_str(st, "state"));
			json_decref(obj);
			return rc;
		}
		break;
	case FS_TASK_TRIGGER: {
		json_t *list = NULL, *member;

		rc = tree_get_triggers(u, n->owner, RES_STALE_OK, &list, deps);
		member = rc == 0 ? res_find_id(list, n->id) : NULL;
		if (rc == 0 && member == NULL)
			rc = -ENOENT;
		obj = json_incref(member);
		json_decref(list);
		break;
	}
	case FS_TASK_EVENTS:
		/* Read through its own handle (pull_events_*). */
		*ttl = 0;
		if (deps)
			deps->volatile_ = true;
		return 0;
	default:
		return -EISDIR;
	}
	if (rc == 0)
		rc = render_json_text(out, obj);
	json_decref(obj);
	return rc;
}

/* ---- definitions and triggers ------------------------------------------- */

/* Whether the array before (may be NULL) has an element of v's id. */
static bool listed_before(const json_t *before, const json_t *v)
{
	const json_t *b;
	size_t i;

	json_array_foreach(before, i, b)
		if (strcmp(tree_str(b, "id"), tree_str(v, "id")) == 0)
			return true;
	return false;
}

/*
 * After a definition create whose reply was lost or a 5xx, or that
 * libcurl sent twice on its own (graph_err_unsettled): whether the
 * service made one named name that before did not list. Sent twice
 * (replayed), it may have made two: one more is deleted, as the folder
 * stands for one; sent once, any other is another mount's.
 */
static bool definition_made(struct upfs *u, struct graph *app,
			    const json_t *before, const char *name,
			    bool replayed)
{
	struct graph_err err = { 0 };
	json_t *now = NULL, *v;
	struct buf path;
	bool made = false;
	size_t i;

	buf_init(&path, 4096);
	if (graph_list(app, TREE_TASK_DEFS, &now, NULL, &err) != 0)
		goto out;
	json_array_foreach(now, i, v) {
		if (strcmp(tree_str(v, "displayName"), name) != 0 ||
		    listed_before(before, v))
			continue;
		/* Without the list before, another's may be among them. */
		if (!made || before == NULL || !replayed) {
			made = true;
			continue;
		}
		replayed = false;	/* one copy too many at most */
		buf_reset(&path);
		if (tree_key(&path, TREE_TASK_DEFS, tree_str(v, "id"), NULL) ==
			    0 &&
		    graph_request(app, "DELETE", path.data, NULL, NULL, &err) ==
			    0)
			upfs_log(u, UPFS_LOG_INFO, "task definition '%s' was "
				 "made twice (a create sent again): deleted "
				 "%s", name, path.data);
	}
out:
	json_decref(now);
	buf_release(&path);
	return made;
}

static bool has_definition_named(const json_t *defs, const char *name)
{
	const json_t *v;
	size_t i;

	json_array_foreach(defs, i, v)
		if (strcmp(tree_str(v, "displayName"), name) == 0)
			return true;
	return false;
}

int pull_create_definition(struct upfs *u, const char *name)
{
	struct graph_err err = { 0 };
	char why[300] = "";
	struct graph *app = identity_app(u, why, sizeof(why));
	json_t *body = json_pack("{s:s, s:{s:s}}", "displayName", name,
				 "createdBy", "displayName", "upfs");
	json_t *before = NULL;
	int rc = body ? 0 : -ENOMEM;

	if (rc == 0 && app == NULL)
		rc = -EACCES;
	/* What there is, from the service: a lost create's definition is
	   told from one of the same name by not being in it (a cached copy
	   could miss one another mount made, which would then be taken for
	   a second of this create's, and deleted). */
	if (rc == 0 && graph_list(app, TREE_TASK_DEFS, &before, NULL,
				  &err) != 0)
		before = NULL;
	err = (struct graph_err){ 0 };
	/* One this mount's listing did not show yet (another mount's, the
	   portal's): a second of its name would leave neither by it. */
	if (rc == 0 && has_definition_named(before, name)) {
		snprintf(why, sizeof(why), "one of that name exists");
		rc = -EEXIST;
	}
	if (rc == 0) {
		rc = graph_request(app, "POST", TREE_TASK_DEFS, body, NULL,
				   &err);
		if (graph_err_unsettled(&err) &&
		    definition_made(u, app, before, name, err.replayed))
			rc = 0;
	}
	res_expire(u, TREE_TASK_DEFS);
	json_decref(before);
	json_decref(body);
	return report(u, "creating the task definition", rc, &err, why);
}

static int definition_request(struct upfs *u, const char *method,
			      const char *name, json_t *body,
			      struct graph_err *err, char *why, size_t len)
{
	struct graph *app = identity_app(u, why, len);
	struct buf id, path;
	int rc;

	if (app == NULL)
		return -EACCES;
	buf_init(&id, 4096);
	buf_init(&path, 4096);
	rc = node_id_of(u, FS_TASK_DEFS, name, &id);
	if (rc == 0)
		rc = tree_key(&path, TREE_TASK_DEFS, id.data, NULL);
	if (rc == 0)
		rc = graph_request(app, method, path.data, body, NULL, err);
	if (rc && strcmp(method, "DELETE") == 0 && graph_err_unsettled(err) &&
	    tree_gone_now(app, path.data))
		rc = 0;
	res_expire(u, TREE_TASK_DEFS);
	buf_release(&id);
	buf_release(&path);
	return rc;
}

int pull_delete_definition(struct upfs *u, const char *name)
{
	struct graph_err err = { 0 };
	char why[300] = "";
	int rc = definition_request(u, "DELETE", name, NULL, &err, why,
				    sizeof(why));

	return report(u, "deleting the task definition", rc, &err, why);
}

static void expire_triggers(struct upfs *u, const char *printer)
{
	struct buf key;

	buf_init(&key, 4096);
	if (tree_key(&key, TREE_PRINTERS, printer, TREE_TRIGGERS_SUFFIX) == 0)
		res_expire(u, key.data);
	buf_reset(&key);
	if (tree_key(&key, TREE_PRINTERS, printer,
		     TREE_TRIGGERS_PLAIN_SUFFIX) == 0)
		res_expire(u, key.data);
	buf_release(&key);
}

/* printer's triggers as the service lists them now (not the cache). */
static int triggers_now(struct upfs *u, const char *printer, json_t **list)
{
	struct graph_err err = { 0 };
	struct buf path;
	bool expanded;
	int rc;

	buf_init(&path, 4096);
	rc = tree_triggers_key(u, &path, printer, &expanded);
	if (rc == 0)
		rc = graph_list(u->graph, path.data, list, NULL, &err);
	if (expanded && tree_triggers_refused(u, rc)) {
		buf_reset(&path);
		rc = tree_key(&path, TREE_PRINTERS, printer,
			      TREE_TRIGGERS_PLAIN_SUFFIX);
		if (rc == 0)
			rc = graph_list(u->graph, path.data, list, NULL,
					&err);
	}
	buf_release(&path);
	return rc;
}

/*
 * Whether printer has a trigger for definition now (the service says).
 * One listed without its definition counts if before (the triggers
 * before the create, or NULL: unknown) did not have it.
 */
static bool trigger_made(struct upfs *u, const char *printer,
			 const char *definition, const json_t *before)
{
	json_t *list = NULL, *t;
	bool made = false;
	size_t i;

	if (triggers_now(u, printer, &list) == 0)
		json_array_foreach(list, i, t) {
			const json_t *def = json_object_get(t, "definition");

			made = made ||
			       (def ? strcmp(tree_str(def, "id"),
					     definition) == 0
				    : before != NULL &&
					      res_find_id((json_t *)before,
							  tree_str(t, "id")) ==
						      NULL);
		}
	json_decref(list);
	return made;
}

/*
 * The name the listing gives printer's trigger for definition: by the
 * definition, or, listed without it, the printer's one trigger by id.
 */
static int listed_trigger_name(struct upfs *u, const char *printer,
			       const char *definition, struct buf *out)
{
	json_t *list = NULL, *t, *found = NULL;
	size_t i;
	int rc = tree_get_triggers(u, printer, RES_STALE_OK, &list, NULL);

	json_array_foreach(list, i, t) {
		const json_t *def = json_object_get(t, "definition");

		if (def == NULL ? json_array_size(list) == 1
				: strcmp(tree_str(def, "id"), definition) == 0)
			found = t;
	}
	if (rc == 0 && found == NULL)
		rc = -ENOENT;
	if (rc == 0)
		rc = trigger_name(found, out);
	json_decref(list);
	return rc;
}

/*
 * The trigger the create answered with, named by its definition, kept
 * for printer: the service has been seen to list none while one existed
 * (reference §11), and the mount shows what it made in the printer's
 * listings (pull_merge_made_trigger) until a listing has it or it is
 * deleted.
 */
static int remember_made_trigger(struct upfs *u, const char *printer,
				 const json_t *made, const char *definition,
				 const char *name, struct buf *listed)
{
	json_t *t = json_deep_copy(made);
	int rc = t && json_object_set_new(t, "definition", json_pack(
			"{s:s, s:s}", "id", definition, "displayName",
			name)) == 0 ? 0 : -ENOMEM;

	pthread_mutex_lock(&u->made_triggers_lock);
	if (rc == 0 && u->made_triggers == NULL &&
	    (u->made_triggers = json_object()) == NULL)
		rc = -ENOMEM;
	if (rc == 0 && json_object_set(u->made_triggers, printer, t) != 0)
		rc = -ENOMEM;
	pthread_mutex_unlock(&u->made_triggers_lock);
	if (rc == 0)
		rc = trigger_name(t, listed);
	json_decref(t);
	return rc;
}

/* Forgets printer's remembered trigger if it is trigger (its id). */
static void forget_made_trigger(struct upfs *u, const char *printer,
				const char *trigger)
{
	pthread_mutex_lock(&u->made_triggers_lock);
	if (strcmp(tree_str(json_object_get(u->made_triggers, printer), "id"),
		   trigger) == 0)
		json_object_del(u->made_triggers, printer);
	pthread_mutex_unlock(&u->made_triggers_lock);
}

int pull_merge_made_trigger(struct upfs *u, const char *printer,
			    json_t **list)
{
	json_t *made, *more;
	int rc = 0;

	pthread_mutex_lock(&u->made_triggers_lock);
	made = json_incref(json_object_get(u->made_triggers, printer));
	pthread_mutex_unlock(&u->made_triggers_lock);
	if (made == NULL)
		return 0;
	if (res_find_id(*list, tree_str(made, "id")) != NULL) {
		/* Listed now. */
		forget_made_trigger(u, printer, tree_str(made, "id"));
	} else {
		/* Listings are shared, never changed: a copy gets it. */
		more = json_copy(*list);
		if (more == NULL || json_array_append(more, made) != 0) {
			json_decref(more);
			rc = -ENOMEM;
		} else {
			json_decref(*list);
			*list = more;
		}
	}
	json_decref(made);
	return rc;
}

/* Whether triggers (a listing, or NULL) has one of definition. */
static bool lists_trigger_of(const json_t *triggers, const char *definition)
{
	const json_t *t;
	size_t i;

	json_array_foreach(triggers, i, t)
		if (strcmp(tree_str(json_object_get(t, "definition"), "id"),
			   definition) == 0)
			return true;
	return false;
}

int pull_create_trigger(struct upfs *u, const char *printer, const char *name,
			struct buf *listed)
{
	struct graph_err err = { 0 };
	json_t *body = NULL, *before = NULL, *made = NULL;
	struct buf id, bind, path;
	int rc;

	buf_init(&id, 4096);
	buf_init(&bind, 4096);
	buf_init(&path, 4096);
	/* The definition by its name in task_definitions/ (the app lists). */
	rc = node_id_of(u, FS_TASK_DEFS, name, &id);
	if (rc == 0)
		rc = buf_printf(&bind, "%s%s/", graph_endpoint(u->graph),
				TREE_TASK_DEFS);
	if (rc == 0)
		rc = graph_escape_segment(&bind, id.data);
	if (rc == 0 && (body = json_pack("{s:s, s:s}", "event", "jobStarted",
					 "definition@odata.bind",
					 bind.data)) == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = tree_key(&path, TREE_PRINTERS, printer, "/taskTriggers");
	/* What a lost create's read-back must not take for it. */
	if (rc == 0 && triggers_now(u, printer, &before) != 0) {
		json_decref(before);
		before = NULL;
	}
	/* Made already, by another admin or mount: what touch asks for is
	   there (a second would be refused: one per printer). */
	if (rc == 0 && !lists_trigger_of(before, id.data))
		rc = graph_request(u->graph, "POST", path.data, body, &made,
				   &err);
	/* Lost, it would be refused when sent again (one per printer). */
	if (rc && graph_err_unsettled(&err) &&
	    trigger_made(u, printer, id.data, before))
		rc = 0;
	/* One trigger per printer: the service says 400 "already created"
	   (reference §11; its code is the status, so only the message
	   tells), or 409 as Graph does elsewhere. Of this definition, it is
	   what touch asks for. */
	if (rc && (err.status == 409 ||
		   (err.status == 400 && strstr(err.message, "already"))))
		rc = trigger_made(u, printer, id.data, NULL) ? 0 : -EEXIST;
	expire_triggers(u, printer);
	if (rc == 0)
		rc = listed_trigger_name(u, printer, id.data, listed);
	if (rc == -ENOENT && json_is_string(json_object_get(made, "id"))) {
		upfs_log(u, UPFS_LOG_INFO, "the trigger %s made on printer %s "
			 "is not in its trigger listing: shown as made",
			 tree_str(made, "id"), printer);
		rc = remember_made_trigger(u, printer, made, id.data, name,
					   listed);
		/* A listing read since the create lacks it: read again. */
		expire_triggers(u, printer);
	}
	json_decref(made);
	json_decref(before);
	json_decref(body);
	buf_release(&id);
	buf_release(&bind);
	buf_release(&path);
	return report(u, "creating the task trigger", rc, &err, NULL);
}

int pull_delete_trigger(struct upfs *u, const char *printer, const char *name)
{
	struct graph_err err = { 0 };
	json_t *list = NULL, *t;
	struct buf key, tname;
	const char *found = NULL;
	size_t i;
	int rc;

	buf_init(&key, 4096);
	buf_init(&tname, 0);
	rc = tree_get_triggers(u, printer, RES_STALE_OK, &list, NULL);
	json_array_foreach(list, i, t) {
		buf_reset(&tname);
		if (!found && trigger_name(t, &tname) == 0 &&
		    strcmp(tname.data, name) == 0)
			found = tree_str(t, "id");
	}
	if (rc == 0 && found == NULL)
		rc = -ENOENT;
	if (rc == 0)
		rc = tree_key(&key, TREE_PRINTERS, printer, "/taskTriggers/");
	if (rc == 0)
		rc = graph_escape_segment(&key, found);
	if (rc == 0)
		rc = graph_request(u->graph, "DELETE", key.data, NULL, NULL,
				   &err);
	if (rc && graph_err_unsettled(&err) && tree_gone_now(u->graph,
							     key.data))
		rc = 0;
	/* Deleted, or gone already: a 404 its own read confirms (a
	   service that did not list it may lag in more than its listing). */
	if (found && (rc == 0 || (rc == -ENOENT &&
				  tree_gone_now(u->graph, key.data))))
		forget_made_trigger(u, printer, found);
	expire_triggers(u, printer);
	json_decref(list);
	buf_release(&key);
	buf_release(&tname);
	return report(u, "deleting the task trigger", rc, &err, NULL);
}

/* ---- redirect and task status ------------------------------------------- */

static void expire_jobs_of(struct upfs *u, const char *printer)
{
	struct buf key;

	buf_init(&key, 4096);
	if (tree_key(&key, TREE_PRINTERS, printer, TREE_JOBS_SUFFIX) == 0)
		res_expire(u, key.data);
	buf_release(&key);
}

static void expire_all_tasks(struct upfs *u)
{
	json_t *defs = NULL, *d;
	struct buf key;
	size_t i;

	buf_init(&key, 4096);
	if (res_get(u, TREE_TASK_DEFS, true, u->opts.dir_ttl, RES_STALE_OK,
		    &defs, NULL) == 0)
		json_array_foreach(defs, i, d) {
			buf_reset(&key);
			if (tree_key(&key, TREE_TASK_DEFS, tree_str(d, "id"),
				     "/tasks") == 0)
				res_expire(u, key.data);
		}
	json_decref(defs);
	buf_release(&key);
}

/* Whether the job at job_path (as app reads it now) was redirected to a
   job of printer to_printer (its redirectedTo names that job's URL). */
static bool job_redirected(struct upfs *u, struct graph *app,
			   const char *job_path, const char *to_printer)
{
	json_t *j = NULL;
	struct buf want;
	bool done;

	buf_init(&want, 4096);
	/* The app redirects with PrintJob.Manage.All alone, which does not
	   read jobs (reference §3.0): then the signed-in user is asked, as
	   for an event's line. */
	done = buf_printf(&want, "/printers/%s/", to_printer) == 0 &&
	       (graph_get(app, job_path, &j, NULL) == 0 ||
		(u->graph != app &&
		 graph_get(u->graph, job_path, &j, NULL) == 0)) &&
	       strstr(tree_str(j, "redirectedTo"), want.data) != NULL;
	json_decref(j);
	buf_release(&want);
	return done;
}

/*
 * The destination's listing gets the new job the redirect answered with
 * (reference §3.2: "a printJob object queued for the destination
 * printer"), so it shows at once however late the service's listing is.
 * The listing's jobs carry their documents ($expand), the reply may not:
 * then the job is read with them. Without either (a lost reply), the
 * listing is fetched again.
 */
static void list_new_job(struct upfs *u, struct graph *app,
			 const char *to_printer, json_t *reply)
{
	const char *id = json_string_value(json_object_get(reply, "id"));
	json_t *job = json_incref(reply);
	struct buf key;

	buf_init(&key, 4096);
	if (tree_key(&key, TREE_PRINTERS, to_printer, TREE_JOBS_SUFFIX) != 0)
		goto out;
	if (id && !json_is_array(json_object_get(job, "documents"))) {
		struct buf path;

		json_decref(job);
		job = NULL;
		buf_init(&path, 4096);
		if (tree_key(&path, TREE_PRINTERS, to_printer, "/jobs/") == 0 &&
		    graph_escape_segment(&path, id) == 0 &&
		    buf_append_str(&path, "?$expand=documents") == 0)
			graph_get(app, path.data, &job, NULL);
		buf_release(&path);
	}
	if (!json_is_string(json_object_get(job, "id")) ||
	    res_list_upsert(u, key.data, job) != 0)
		res_expire(u, key.data);
out:
	json_decref(job);
	buf_release(&key);
}

int pull_redirect(struct upfs *u, const char *from_printer, const char *job,
		  const char *to_printer)
{
	struct graph_err err = { 0 };
	char why[300] = "";
	struct graph *app = identity_app(u, why, sizeof(why));
	json_t *body = json_pack("{s:s}", "destinationPrinterId", to_printer);
	json_t *new_job = NULL;
	struct buf path, post;
	int rc = body ? 0 : -ENOMEM;

	buf_init(&path, 4096);
	buf_init(&post, 4096);
	if (rc == 0 && app == NULL)
		rc = -EACCES;
	if (rc == 0)
		rc = tree_key(&path, TREE_PRINTERS, from_printer, "/jobs/");
	if (rc == 0)
		rc = graph_escape_segment(&path, job);
	if (rc == 0)
		rc = buf_printf(&post, "%s/redirect", path.data);
	if (rc == 0)
		rc = graph_request(app, "POST", post.data, body, &new_job,
				   &err);
	/* Sent again, a lost redirect would be refused (no task left). */
	if (rc && graph_err_unsettled(&err) &&
	    job_redirected(u, app, path.data, to_printer)) {
		upfs_log(u, UPFS_LOG_INFO, "the POST of %s failed (%s) but the "
			 "service redirected the job: done", post.data,
			 strerror(-rc));
		rc = 0;
	}
	expire_jobs_of(u, from_printer);
	list_new_job(u, app, to_printer, rc == 0 ? new_job : NULL);
	if (rc == 0 && json_is_string(json_object_get(new_job, "id")))
		upfs_log(u, UPFS_LOG_INFO, "job %s redirected: the new job is "
			 "%s", job, json_string_value(json_object_get(
					    new_job, "id")));
	jobtasks_expire(u, from_printer, job);
	/* The redirect completed a task: whose, the service knows. */
	if (app)
		expire_all_tasks(u);
	json_decref(body);
	json_decref(new_job);
	buf_release(&path);
	buf_release(&post);
	return report(u, "redirecting the job", rc, &err, why);
}

/* The body of a task's PATCH from the text written to its status. */
static int task_status_body(const struct buf *text, json_t **body, char *why,
			    size_t why_len)
{
	const char *p = text->data ? text->data : "";
	char state[16], desc[256];
	int n = 0;

	desc[0] = '\0';
	if (sscanf(p, " %15[a-z] %n", state, &n) != 1 ||
	    (strcmp(state, "completed") != 0 && strcmp(state, "aborted") != 0)) {
		snprintf(why, why_len, "a task's status takes completed or "
			 "aborted [description]");
		return -EINVAL;
	}
	snprintf(desc, sizeof(desc), "%s", p + n);
	desc[strcspn(desc, "\r\n")] = '\0';
	*body = json_pack("{s:{s:s, s:s}}", "status", "state", state,
			  "description", desc[0] ? desc
				: strcmp(state, "completed") == 0
					? "Released" : "Aborted");
	return *body ? 0 : -ENOMEM;
}

/* PATCHes a task of a definition; the definition's tasks are read again. */
static int patch_task(struct upfs *u, struct graph *app,
		      const char *definition, const char *task,
		      const json_t *body, struct graph_err *err)
{
	struct buf path;
	int rc;

	buf_init(&path, 4096);
	rc = tree_key(&path, TREE_TASK_DEFS, definition, "/tasks/");
	if (rc == 0)
		rc = graph_escape_segment(&path, task);
	if (rc == 0)
		rc = graph_request(app, "PATCH", path.data, body, NULL, err);
	/* Its reply lost: sent again, a task it finished is refused as
	   finished. The task says whether it took the state. */
	if (rc && graph_err_unsettled(err) &&
	    tree_reads_back(app, path.data, "status", "state",
			    tree_str(json_object_get(body, "status"), "state")))
		rc = 0;
	buf_reset(&path);
	if (tree_key(&path, TREE_TASK_DEFS, definition, "/tasks") == 0)
		res_expire(u, path.data);
	buf_release(&path);
	return rc;
}

static void say_refusal(const struct graph_err *err, char *why,
			size_t why_len)
{
	char detail[300];

	graph_err_format(err, detail, sizeof(detail));
	snprintf(why, why_len, "%s", detail);
}

int pull_check_status_text(const struct buf *text, char *why,
			   size_t why_len)
{
	json_t *body = NULL;
	int rc = task_status_body(text, &body, why, why_len);

	json_decref(body);
	return rc;
}

int pull_patch_status(struct upfs *u, const char *task,
		      const char *definition, const struct buf *text,
		      char *why, size_t why_len)
{
	struct graph_err err = { 0 };
	json_t *body = NULL;
	struct graph *app;
	int rc = task_status_body(text, &body, why, why_len);

	if (rc)
		return rc;
	app = identity_app(u, why, why_len);
	rc = app ? patch_task(u, app, definition, task, body, &err) : -EACCES;
	if (rc && app)
		say_refusal(&err, why, why_len);
	json_decref(body);
	return rc;
}

int pull_commit_status(struct upfs *u, const char *task,
		       const char *definition, const struct buf *text,
		       char *why, size_t why_len)
{
	json_t *known = NULL;
	int rc;

	/* Its job's tasks/ shows it too, to be read again after: the task
	   as listed (before the PATCH expires the listing) names the job.
	   What is held will do; nothing is fetched for it. */
	if (get_task(u, definition, task, RES_STALE_OK, &known, NULL) != 0)
		known = NULL;
	rc = pull_patch_status(u, task, definition, text, why, why_len);
	if (rc == 0 && known)
		jobtasks_expire_of_task(u, known);
	json_decref(known);
	return rc;
}

/* ---- events --------------------------------------------------------------- */

struct pull_events {
	pthread_mutex_t lock;	/* one read at a time */
	char definition[128];
	json_t *seen;		/* task id -> true */
	struct buf lines;	/* the lines from offset base on */
	uint64_t base;
};

/*
 * A reader that stays open for months must not keep every line it read:
 * the lines before the one a read is at go once they are this many bytes.
 * Readers read on (bash's read, a program's readline); one that seeks back
 * past them reads nothing there.
 */
#define EVENTS_KEPT_BYTES 4096

/* Under e->lock: drops the lines before off, the offset of a read. */
static void events_trim(struct pull_events *e, uint64_t off)
{
	size_t drop;

	if (off <= e->base || off - e->base < EVENTS_KEPT_BYTES ||
	    off - e->base > e->lines.len)
		return;
	drop = (size_t)(off - e->base);
	memmove(e->lines.data, e->lines.data + drop, e->lines.len - drop);
	buf_truncate(&e->lines, e->lines.len - drop);
	e->base = off;
}

static int fetch_tasks(struct upfs *u, const char *definition, json_t **out)
{
	struct graph_err err = { 0 };
	char why[300] = "";
	struct graph *app = identity_app(u, why, sizeof(why));
	struct buf path;
	int rc;

	if (app == NULL)
		return report(u, "reading task events", -EACCES, NULL, why);
	buf_init(&path, 4096);
	rc = tree_key(&path, TREE_TASK_DEFS, definition, "/tasks");
	if (rc == 0)
		rc = graph_list(app, path.data, out, NULL, &err);
	buf_release(&path);
	return rc;
}

/* Whether an open of events meets something a try later may not. */
static bool events_open_retry(int rc)
{
	return rc && rc != -EACCES && rc != -EPERM && rc != -ENOENT &&
	       rc != -ENOMEM && rc != -EINVAL;
}

int pull_events_open(struct upfs *u, const char *definition,
		     struct pull_events **out)
{
	struct pull_events *e = calloc(1, sizeof(*e));
	json_t *tasks = NULL, *t;
	size_t i;
	int rc;

	if (e == NULL)
		return -ENOMEM;
	pthread_mutex_init(&e->lock, NULL);
	buf_init(&e->lines, 0);
	snprintf(e->definition, sizeof(e->definition), "%s", definition);
	e->seen = json_object();
	rc = e->seen ? fetch_tasks(u, definition, &tasks) : -ENOMEM;
	/* A badge reader's loop opens it again and again: a passing error
	   (a 500, a reset) must not end it, as it does not end a read. */
	for (int pause_ms = 500; events_open_retry(rc) && pause_ms <= 2000;
	     pause_ms *= 2) {
		struct timespec ts = { 0, pause_ms * 1000000L };

		ts.tv_sec = ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		nanosleep(&ts, NULL);
		json_decref(tasks);
		tasks = NULL;
		rc = fetch_tasks(u, definition, &tasks);
	}
	/* What is there now is not news. */
	json_array_foreach(tasks, i, t)
		json_object_set(e->seen, tree_str(t, "id"), json_true());
	json_decref(tasks);
	if (rc) {
		pull_events_close(e);
		return rc;
	}
	*out = e;
	return 0;
}

/* One URL path segment of n bytes, percent-decoded into out; false when
   it is empty, does not decode (urlcode.h) or does not fit. */
static bool url_segment(const char *s, size_t n, char *out, size_t len)
{
	return n > 0 && url_decode(s, n, out, len) == 0;
}

int pull_task_parent(const json_t *task, char *printer, size_t plen,
		     char *job, size_t jlen)
{
	const char *url = tree_str(task, "parentUrl");
	const char *p = strstr(url, "/printers/"), *j;
	size_t n;

	if (p == NULL)
		return -ENOENT;
	p += strlen("/printers/");
	j = strstr(p, "/jobs/");
	if (j == NULL || !url_segment(p, (size_t)(j - p), printer, plen))
		return -ENOENT;
	j += strlen("/jobs/");
	n = strcspn(j, "/?#");
	/* The job's URL may end in a slash, a query or a fragment; a
	   longer path names something of the job's, not the job. */
	if (j[n] == '/' && j[n + 1] != '\0' && !strchr("?#", j[n + 1]))
		return -ENOENT;
	return url_segment(j, n, job, jlen) ? 0 : -ENOENT;
}

/* "task\tjob\tprinter\tuser\n" for a new task. */
static int event_line(struct upfs *u, const json_t *task, struct buf *out)
{
	char printer[128] = "", job[64] = "", why[300];
	struct graph *app = identity_app(u, why, sizeof(why));
	json_t *obj = NULL;
	struct buf name, path;
	int rc;

	if (pull_task_parent(task, printer, sizeof(printer), job,
			     sizeof(job)) != 0)
		printer[0] = job[0] = '\0';
	buf_init(&name, 0);
	buf_init(&path, 4096);
	if (printer[0] == '\0' || node_name_of(u, FS_PRINTERS, printer,
					       &name) != 0) {
		buf_reset(&name);
		buf_append_str(&name, printer);
	}
	/* Who printed it: the job says. The app reads held jobs with a
	   PrintJob read role (reference §3.0); an app without one may still
	   redirect them, and then the signed-in administrator is asked. */
	rc = tree_key(&path, TREE_PRINTERS, printer, "/jobs/");
	if (rc == 0)
		rc = graph_escape_segment(&path, job);
	if (rc == 0 && app && printer[0] &&
	    graph_get(app, path.data, &obj, NULL) != 0 &&
	    (u->graph == app || graph_get(u->graph, path.data, &obj, NULL)))
		upfs_log(u, UPFS_LOG_INFO, "events: who printed job %s is not "
			 "known: neither identity may read it", job);
	rc = buf_printf(out, "%s\t%s\t%s\t%s\n", tree_str(task, "id"), job,
			name.data ? name.data : "",
			tree_str(json_object_get(obj, "createdBy"),
				 "userPrincipalName"));
	json_decref(obj);
	buf_release(&name);
	buf_release(&path);
	return rc;
}

struct pull_round {
	json_t *tasks;	/* definition id -> its tasks, or the errno */
	json_t *lines;	/* task id -> its line */
};

struct pull_round *pull_round_new(void)
{
	struct pull_round *r = calloc(1, sizeof(*r));

	if (r && ((r->tasks = json_object()) == NULL ||
		  (r->lines = json_object()) == NULL)) {
		pull_round_free(r);
		r = NULL;
	}
	return r;
}

void pull_round_free(struct pull_round *r)
{
	if (r == NULL)
		return;
	json_decref(r->tasks);
	json_decref(r->lines);
	free(r);
}

/* The definition's tasks: asked for once a round (r may be NULL). */
static int round_tasks(struct upfs *u, struct pull_round *r,
		       const char *definition, json_t **out)
{
	json_t *had = r ? json_object_get(r->tasks, definition) : NULL;
	int rc;

	if (json_is_integer(had))
		return (int)json_integer_value(had);
	if (had) {
		*out = json_incref(had);
		return 0;
	}
	rc = fetch_tasks(u, definition, out);
	if (r)
		json_object_set_new(r->tasks, definition,
				    rc ? json_integer(rc) : json_incref(*out));
	return rc;
}

/* A new task's line, made once a round: it may cost a job's GET. */
static int round_line(struct upfs *u, struct pull_round *r,
		      const json_t *task, struct buf *out)
{
	const char *id = tree_str(task, "id");
	json_t *had = r ? json_object_get(r->lines, id) : NULL;
	struct buf made;
	int rc;

	if (had)
		return buf_append(out, json_string_value(had),
				  json_string_length(had));
	if (r == NULL)
		return event_line(u, task, out);
	buf_init(&made, 0);
	rc = event_line(u, task, &made);
	if (rc == 0) {
		/* Names from the service, kept as they came. */
		json_object_set_new(r->lines, id,
				    json_stringn_nocheck(made.data, made.len));
		rc = buf_append(out, made.data, made.len);
	}
	buf_release(&made);
	return rc;
}

/* Appends the lines of tasks not seen yet; *added tells whether any. */
static int poll_new(struct upfs *u, struct pull_events *e,
		    struct pull_round *r, bool *added)
{
	json_t *tasks = NULL, *t;
	size_t i;
	int rc = round_tasks(u, r, e->definition, &tasks);

	*added = false;
	json_array_foreach(tasks, i, t) {
		const char *id = tree_str(t, "id");

		if (rc || json_object_get(e->seen, id))
			continue;
		json_object_set(e->seen, id, json_true());
		rc = round_line(u, r, t, &e->lines);
		*added = rc == 0;
	}
	json_decref(tasks);
	return rc;
}

int pull_events_take(struct upfs *u, struct pull_events *e,
		     struct pull_round *round, off_t off, size_t size,
		     struct buf *out)
{
	bool added = false;
	int rc = 0;

	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&e->lock);
	events_trim(e, (uint64_t)off);
	/* At the end: has a task come? */
	if ((uint64_t)off >= e->base + e->lines.len)
		rc = poll_new(u, e, round, &added);
	if (rc == 0 && (uint64_t)off >= e->base &&
	    (uint64_t)off < e->base + e->lines.len) {
		const char *from = e->lines.data + (off - e->base);
		size_t n = e->lines.len - (size_t)(off - e->base);
		const char *nl = memchr(from, '\n', n);

		/* One line a read (design §2), also when a poll found more:
		   a program that takes a read for a task misses none. */
		if (nl)
			n = (size_t)(nl - from) + 1;
		rc = buf_append(out, from, n < size ? n : size);
	}
	pthread_mutex_unlock(&e->lock);
	return rc;
}

void pull_events_close(struct pull_events *e)
{
	if (e == NULL)
		return;
	json_decref(e->seen);
	buf_release(&e->lines);
	pthread_mutex_destroy(&e->lock);
	free(e);
}
