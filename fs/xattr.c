/*
 * xattr.c — the user.upfs.* attributes: the id of every entry, and for
 * folders and queue entries the properties people ask about most.
 */
#include <errno.h>
#include <string.h>

#include "isodate.h"
#include "jobtasks.h"
#include "spool.h"
#include "tree_private.h"

static int put(struct buf *out, const char *name, const char *value)
{
	int rc;

	if (value == NULL || value[0] == '\0')
		return 0;
	rc = buf_printf(out, "user.upfs.%s", name);
	if (rc == 0)
		rc = buf_append(out, "", 1);
	if (rc == 0)
		rc = buf_append(out, value, strlen(value) + 1);
	return rc;
}

static int put_bool(struct buf *out, const char *name, const json_t *v)
{
	if (!json_is_boolean(v))
		return 0;
	return put(out, name, json_is_true(v) ? "true" : "false");
}

static int put_status(struct buf *out, const json_t *status)
{
	struct buf line;
	int rc;

	buf_init(&line, 0);
	rc = tree_status_line(&line, status);
	if (rc == 0 && line.len > 0)
		line.data[--line.len] = '\0';	/* no newline in a value */
	if (rc == 0)
		rc = put(out, "status", line.data);
	if (rc == 0)
		rc = put(out, "state", tree_str(status, "state"));
	if (rc == 0)
		rc = put(out, "description", tree_str(status, "description"));
	buf_release(&line);
	return rc;
}

static int put_location(struct buf *out, const json_t *loc)
{
	static const char *const parts[] = { "building", "floor", "roomName",
					     "city", "countryOrRegion", NULL };
	struct buf b;
	int rc = 0;

	buf_init(&b, 0);
	for (int i = 0; parts[i] && rc == 0; i++) {
		const char *s = tree_str(loc, parts[i]);

		if (s[0])
			rc = buf_printf(&b, "%s%s", b.len ? ", " : "", s);
	}
	if (rc == 0 && b.len)
		rc = put(out, "location", b.data);
	buf_release(&b);
	return rc;
}

static int printer_xattrs(struct upfs *u, const char *id, struct buf *out)
{
	json_t *p = NULL;
	int rc = tree_get_member(u, TREE_PRINTERS, id, u->opts.dir_ttl,
				 RES_STALE_OK, &p, NULL);

	if (rc)
		return rc;
	rc = put_status(out, json_object_get(p, "status"));
	if (rc == 0)
		rc = put(out, "manufacturer", tree_str(p, "manufacturer"));
	if (rc == 0)
		rc = put(out, "model", tree_str(p, "model"));
	if (rc == 0)
		rc = put_location(out, json_object_get(p, "location"));
	if (rc == 0)
		rc = put_bool(out, "shared", json_object_get(p, "isShared"));
	if (rc == 0)
		rc = put_bool(out, "accepting_jobs",
			      json_object_get(p, "isAcceptingJobs"));
	if (rc == 0)
		rc = put_bool(out, "physical_device",
			      json_object_get(p, "hasPhysicalDevice"));
	if (rc == 0)
		rc = put(out, "registered", tree_str(p, "registeredDateTime"));
	json_decref(p);
	return rc;
}

static int share_xattrs(struct upfs *u, const char *id, struct buf *out)
{
	json_t *s = NULL;
	int rc = tree_get_member(u, TREE_SHARES, id, u->opts.dir_ttl,
				 RES_STALE_OK, &s, NULL);

	if (rc)
		return rc;
	rc = put_bool(out, "allow_all_users", json_object_get(s, "allowAllUsers"));
	if (rc == 0)
		rc = put_bool(out, "accepting_jobs",
			      json_object_get(s, "isAcceptingJobs"));
	if (rc == 0)
		rc = put(out, "created", tree_str(s, "createdDateTime"));
	json_decref(s);
	return rc;
}

/* A job from the listing of the printer or share it is shown under. */
static int job_xattrs(struct upfs *u, const char *prefix, const char *owner,
		      const char *id, struct buf *out)
{
	json_t *job = NULL, *doc;
	char size[32];
	int rc;

	rc = tree_get_job(u, prefix, owner, id, &job, NULL);
	if (rc)
		goto out;
	doc = json_array_get(json_object_get(job, "documents"), 0);
	snprintf(size, sizeof(size), "%lld",
		 (long long)json_integer_value(json_object_get(doc, "size")));
	rc = put_status(out, json_object_get(job, "status"));
	if (rc == 0)
		rc = put(out, "created_by", tree_str(json_object_get(job,
				"createdBy"), "userPrincipalName"));
	if (rc == 0)
		rc = put(out, "created", tree_str(job, "createdDateTime"));
	if (rc == 0)
		rc = put(out, "document", tree_str(doc, "displayName"));
	if (rc == 0)
		rc = put(out, "content_type", tree_str(doc, "contentType"));
	if (rc == 0 && doc)
		rc = put(out, "size", size);
out:
	json_decref(job);
	return rc;
}

static int connector_xattrs(struct upfs *u, const char *id, struct buf *out)
{
	json_t *c = NULL;
	int rc = tree_get_member(u, TREE_CONNECTORS, id, u->opts.dir_ttl,
				 RES_STALE_OK, &c, NULL);

	if (rc)
		return rc;
	rc = put(out, "fqdn", tree_str(c, "fullyQualifiedDomainName"));
	if (rc == 0)
		rc = put(out, "operating_system", tree_str(c, "operatingSystem"));
	if (rc == 0)
		rc = put(out, "app_version", tree_str(c, "appVersion"));
	if (rc == 0)
		rc = put(out, "registered", tree_str(c, "registeredDateTime"));
	json_decref(c);
	return rc;
}

/* name: ms since the epoch as "2026-11-27T06:40:00Z". */
static int put_utc(struct buf *out, const char *name, int64_t ms)
{
	char when[UPFS_ISODATE_UTC_LEN];
	int rc = isodate_format_utc(ms / 1000, when);

	return rc ? rc : put(out, name, when);
}

/* A document not yet started: how far it got, and why it waits. */
static int local_xattrs(struct upfs *u, const char *id, struct buf *out)
{
	struct submission *s = spool_get(u, id);
	char num[32];
	int rc;

	if (s == NULL)
		return -ENOENT;
	pthread_mutex_lock(&u->spool_lock);
	rc = put(out, "state", s->state >= SUB_SPOOLED && s->last_errno
				       ? "waiting" : spool_state_name(s->state));
	if (rc == 0)
		rc = put(out, "step", spool_state_name(s->state));
	if (rc == 0)
		rc = put(out, "reason", s->last_error);
	if (rc == 0)
		rc = put(out, "job", s->job_id);
	if (rc == 0)
		rc = put(out, "content_type", s->content_type);
	if (rc == 0)
		rc = put(out, "options", s->options);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)s->size);
	if (rc == 0)
		rc = put(out, "size", num);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)
		 __atomic_load_n(&s->uploaded, __ATOMIC_RELAXED));
	if (rc == 0)
		rc = put(out, "uploaded", num);
	snprintf(num, sizeof(num), "%d", s->attempts);
	if (rc == 0)
		rc = put(out, "attempts", num);
	/* Only while it waits for the submitter (never offline). */
	if (rc == 0 && !s->busy && !u->opts.offline &&
	    s->next_try_ms > cache_now_ms())
		rc = put_utc(out, "next_attempt", s->next_try_ms);
	pthread_mutex_unlock(&u->spool_lock);
	spool_put(u, s);
	return rc;
}

int xattr_collect(struct upfs *u, const struct fs_node *n, struct buf *out)
{
	/* A job's task keeps its job in its node id ("job/task"). */
	bool job_task = n->kind == FS_JOB_TASK ||
			n->kind == FS_JOB_TASK_STATUS ||
			n->kind == FS_JOB_TASK_JSON;
	int rc = put(out, "id", job_task ? jobtasks_task_id(n->id) : n->id);

	if (rc)
		return rc;
	switch (n->kind) {
	case FS_ROOT:
		return put(out, "endpoint", graph_endpoint(u->graph));
	case FS_PRINTER:
		return printer_xattrs(u, n->id, out);
	case FS_SHARE:
		return share_xattrs(u, n->id, out);
	case FS_JOB:
		return job_xattrs(u, TREE_PRINTERS, n->owner, n->id, out);
	case FS_QUEUE_ENTRY:
	case FS_SHARE_JOB_LINK:
		return job_xattrs(u, TREE_SHARES, n->owner, n->id, out);
	case FS_CONNECTOR:
		return connector_xattrs(u, n->id, out);
	case FS_QUEUE_LOCAL:
		return local_xattrs(u, n->id, out);
	default:
		return 0;
	}
}
