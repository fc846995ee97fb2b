/*
 * jobtasks.c — a job's tasks in the tree (see jobtasks.h).
 *
 * Where they come from decides what a walk costs. With the application's
 * identity, from its definitions' task listings, matched to the job by
 * parentUrl: one request per definition, shared by every job, so a walk
 * costs no request per job (design §5). A job's own GET with
 * $expand=tasks is asked only where those cannot answer: a mount without
 * that identity, a printer whose trigger is another application's, or a
 * job they name no task of although it is held or was redirected (see
 * job_may_have_tasks).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "identity.h"
#include "jobtasks.h"
#include "pull.h"
#include "tree_private.h"

/* A job's tasks are not contained in it: its GET expands them. */
#define JOB_TASKS_QUERY "?$expand=tasks"

bool jobtasks_kind_is_dir(enum fs_kind kind)
{
	return kind == FS_JOB_TASKS || kind == FS_JOB_TASK;
}

/* "/print/printers/{printer}/jobs/{job}?$expand=tasks" */
static int job_key(struct buf *key, const char *printer, const char *job)
{
	int rc = tree_key(key, TREE_PRINTERS, printer, "/jobs/");

	if (rc == 0)
		rc = graph_escape_segment(key, job);
	return rc ? rc : buf_append_str(key, JOB_TASKS_QUERY);
}

/* The tasks the job itself names (a new array, never NULL on 0). */
static int ask_job(struct upfs *u, const char *printer, const char *job,
		   json_t **out, struct fs_deps *deps)
{
	json_t *obj = NULL, *tasks;
	struct buf key;
	int rc;

	buf_init(&key, 4096);
	rc = job_key(&key, printer, job);
	if (rc == 0)
		rc = res_get(u, key.data, false, u->opts.status_ttl,
			     RES_REFRESH_STALE, &obj, deps);
	if (rc == 0) {
		tasks = json_object_get(obj, "tasks");
		*out = json_is_array(tasks) ? json_deep_copy(tasks)
					    : json_array();
		rc = *out ? 0 : -ENOMEM;
	}
	json_decref(obj);
	buf_release(&key);
	return rc;
}

static bool names_job(const json_t *task, const char *printer,
		      const char *job)
{
	char p[256], j[256];

	return pull_task_parent(task, p, sizeof(p), j, sizeof(j)) == 0 &&
	       strcmp(p, printer) == 0 && strcmp(j, job) == 0;
}

/*
 * The definitions a job's task may belong to, most likely first: the one
 * its printer's trigger names (one trigger per printer), then every
 * definition of the application. Either list may be refused to its
 * identity (the triggers are the signed-in user's to read): the other
 * answers. A trigger may name another application's definition, which
 * this one cannot read (its definitions list only its own, reference
 * §3.6): *foreign says so, and it is left out.
 */
static int candidate_definitions(struct upfs *u, const char *printer,
				 enum res_policy policy, json_t **out,
				 bool *foreign, struct fs_deps *deps)
{
	json_t *ids = json_array(), *named = json_array(), *list = NULL, *v;
	size_t i;
	int rc, rc_defs;

	*foreign = false;
	rc = ids && named ? 0 : -ENOMEM;
	if (rc == 0)
		rc = tree_get_triggers(u, printer, policy, &list, deps);
	json_array_foreach(list, i, v) {
		const char *id = tree_str(json_object_get(v, "definition"),
					  "id");

		if (rc == 0 && id[0] && !tree_has_string(named, id))
			rc = json_array_append_new(named, json_string(id))
			     ? -ENOMEM : 0;
	}
	json_decref(list);
	list = NULL;
	rc_defs = rc == -ENOMEM ? rc
		: res_get(u, TREE_TASK_DEFS, true, u->opts.dir_ttl, policy,
			  &list, deps);
	/* The app's own the trigger names first, then the rest. */
	json_array_foreach(named, i, v) {
		const char *id = json_string_value(v);

		if (rc_defs == 0 && res_find_id(list, id) == NULL)
			*foreign = true;
		else if (rc != -ENOMEM &&
			 json_array_append(ids, v) != 0)
			rc = -ENOMEM;
	}
	json_array_foreach(list, i, v) {
		const char *id = tree_str(v, "id");

		if (rc_defs == 0 && id[0] && !tree_has_string(ids, id))
			rc_defs = json_array_append_new(ids, json_string(id))
				  ? -ENOMEM : 0;
	}
	json_decref(list);
	json_decref(named);
	if (rc == -ENOMEM || rc_defs == -ENOMEM)
		rc = -ENOMEM;
	else if (json_array_size(ids) > 0)
		rc = 0;
	else if (rc == 0)
		rc = rc_defs;
	if (rc == 0)
		*out = ids;
	else
		json_decref(ids);
	return rc;
}

/* Appends the tasks of the definitions in defs that name the job. */
static int tasks_from_definitions(struct upfs *u, const json_t *defs,
				  const char *printer, const char *job,
				  json_t *found, struct fs_deps *deps)
{
	const json_t *d;
	json_t *list, *t;
	size_t i, k;
	int rc = 0;

	json_array_foreach(defs, i, d) {
		list = NULL;
		if (rc == 0)
			rc = tree_get(u, TREE_TASK_DEFS, json_string_value(d),
				      "/tasks", true, u->opts.status_ttl,
				      RES_REFRESH_STALE, &list, deps);
		/* A definition gone or refused names no task of this job;
		   a listing that failed says nothing: the caller fails. */
		if (rc == -ENOENT || rc == -EACCES || rc == -EPERM)
			rc = 0;
		json_array_foreach(list, k, t)
			if (rc == 0 && names_job(t, printer, job))
				rc = json_array_append(found, t) ? -ENOMEM : 0;
		json_decref(list);
	}
	return rc;
}

/*
 * Whether a job none of the application's listings names may still have
 * tasks: only a trigger makes them (reference §3.6), so not a job on a
 * printer without one -- unless the job is held for release
 * (releaseWait) or was redirected, which only a task brings about (a
 * trigger deleted since leaves its tasks; the service has listed no
 * trigger while one existed, reference §11). A listing this identity may
 * not read says nothing: then the job is asked. by_trigger: whether a
 * trigger on the printer counts (not once its definitions were read).
 */
static bool job_may_have_tasks(struct upfs *u, const char *printer,
			       const char *job, bool by_trigger,
			       struct fs_deps *deps)
{
	json_t *list = NULL, *j = NULL;
	bool may = false;
	int rc = 0;

	if (by_trigger) {
		rc = tree_get_triggers(u, printer, RES_STALE_OK, &list,
				       deps);
		may = rc != 0 || json_array_size(list) > 0;
		json_decref(list);
	}
	if (may)
		return true;
	rc = tree_get_job(u, TREE_PRINTERS, printer, job, &j, deps);
	may = rc != 0 || tree_str(j, "redirectedTo")[0] ||
	      tree_has_string(json_object_get(json_object_get(j, "status"),
					      "details"), "releaseWait");
	json_decref(j);
	return may;
}

/* The tasks of a job (a new array, never NULL on 0); see above. */
static int job_tasks(struct upfs *u, const char *printer, const char *job,
		     json_t **out, struct fs_deps *deps)
{
	json_t *found = json_array(), *defs = NULL;
	bool listed = false, foreign = false;
	char why[300];
	int rc = found ? 0 : -ENOMEM;

	if (rc == 0 && identity_app(u, why, sizeof(why)) &&
	    candidate_definitions(u, printer, RES_STALE_OK, &defs, &foreign,
				  deps) == 0) {
		listed = true;
		rc = tasks_from_definitions(u, defs, printer, job, found, deps);
	}
	json_decref(defs);
	/* Another application's trigger makes tasks only the job shows. */
	if (rc == 0 && json_array_size(found) == 0 &&
	    job_may_have_tasks(u, printer, job, !listed || foreign, deps)) {
		json_decref(found);
		found = NULL;
		rc = ask_job(u, printer, job, &found, deps);
	}
	if (rc == 0)
		*out = found;
	else
		json_decref(found);
	return rc;
}

/* Splits a node id "job/task" into its two ids. */
static int split_id(const char *id, char *job, size_t job_len,
		    const char **task)
{
	const char *slash = strchr(id, '/');

	if (slash == NULL || (size_t)(slash - id) >= job_len)
		return -ENOENT;
	memcpy(job, id, (size_t)(slash - id));
	job[slash - id] = '\0';
	*task = slash + 1;
	return 0;
}

const char *jobtasks_task_id(const char *id)
{
	const char *slash = id ? strchr(id, '/') : NULL;

	return slash ? slash + 1 : id;
}

static int add_file(struct upfs *u, struct fs_entries *out, const char *name,
		    enum fs_kind kind, const struct fs_node *dir)
{
	return fs_entries_add(out, name, kind, dir->id, dir->owner,
			      node_mtime(u, dir));
}

int jobtasks_list(struct upfs *u, const struct fs_node *dir,
		  struct fs_entries *out, struct fs_deps *deps)
{
	json_t *list = NULL, *t;
	struct buf id;
	size_t i;
	int rc;

	if (dir->kind == FS_JOB_TASK) {
		rc = add_file(u, out, "status", FS_JOB_TASK_STATUS, dir);
		return rc ? rc : add_file(u, out, "task.json",
					  FS_JOB_TASK_JSON, dir);
	}
	buf_init(&id, 0);
	rc = job_tasks(u, dir->owner, dir->id, &list, deps);
	json_array_foreach(list, i, t) {
		const char *tid = tree_str(t, "id");

		/* Two listings may name one task: the first is kept. */
		if (rc || tid[0] == '\0' || strchr(tid, '/') ||
		    res_find_id(list, tid) != t)
			continue;
		buf_reset(&id);
		rc = buf_printf(&id, "%s/%s", dir->id, tid);
		if (rc == 0)
			rc = fs_entries_add(out, tid, FS_JOB_TASK, id.data,
					 dir->owner, node_mtime(u, dir));
	}
	json_decref(list);
	buf_release(&id);
	return rc;
}

int jobtasks_get(struct upfs *u, const char *id, const char *printer,
		 json_t **out, struct fs_deps *deps)
{
	json_t *list = NULL, *t = NULL;
	const char *task;
	char job[256];
	int rc = split_id(id, job, sizeof(job), &task);

	if (rc == 0)
		rc = job_tasks(u, printer, job, &list, deps);
	if (rc == 0 && (t = res_find_id(list, task)) == NULL)
		rc = -ENOENT;
	if (rc == 0)
		*out = json_incref(t);
	json_decref(list);
	return rc;
}

int jobtasks_commit_status(struct upfs *u, const char *id,
			   const char *printer, const struct buf *text,
			   char *why, size_t why_len)
{
	json_t *defs = NULL, *d;
	const char *task;
	char job[256], first_why[300] = "";
	size_t i, tried = 0;
	bool foreign, kept = false;
	int rc = pull_check_status_text(text, why, why_len);

	if (rc)
		return rc;
	if (identity_app(u, why, why_len) == NULL)
		return -EACCES;
	rc = split_id(id, job, sizeof(job), &task);
	/* A definition made a moment ago must be tried: read afresh. */
	if (rc == 0)
		rc = candidate_definitions(u, printer, RES_REFRESH_STALE,
					   &defs, &foreign, NULL);
	if (rc)
		goto out;
	/* A job names no task's definition: the PATCH goes to each in turn
	   until one takes it or refuses it. One that failed otherwise (a
	   reset, a 5xx) may not be the task's: the next ones are tried, and
	   its error stands only if none has the task. */
	rc = -ENOENT;
	json_array_foreach(defs, i, d) {
		int one;

		tried++;
		why[0] = '\0';
		one = pull_patch_status(u, task, json_string_value(d), text,
					why, why_len);
		if (one == 0 || one == -EACCES || one == -EPERM ||
		    one == -EINVAL) {
			rc = one;
			kept = false;
			break;
		}
		if (one != -ENOENT && rc == -ENOENT) {
			rc = one;
			kept = true;
			snprintf(first_why, sizeof(first_why), "%s", why);
		}
	}
	if (rc == -ENOENT)
		snprintf(why, why_len, "none of the application's %zu task "
			 "definitions has task %s", tried, task);
	else if (kept)
		snprintf(why, why_len, "%s", first_why);
	jobtasks_expire(u, printer, job);
out:
	json_decref(defs);
	return rc;
}

void jobtasks_expire(struct upfs *u, const char *printer, const char *job)
{
	struct buf key;

	buf_init(&key, 4096);
	if (job_key(&key, printer, job) == 0)
		res_expire(u, key.data);
	buf_release(&key);
}

void jobtasks_expire_of_task(struct upfs *u, const json_t *task)
{
	char printer[256], job[256];

	if (pull_task_parent(task, printer, sizeof(printer), job,
			     sizeof(job)) == 0)
		jobtasks_expire(u, printer, job);
}
