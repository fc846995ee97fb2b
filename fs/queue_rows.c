/*
 * queue_rows.c — the rows of queue/ remembered per share (queue_rows.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "queue_rows.h"
#include "tree_private.h"

/*
 * Shares whose rows are kept, and for how long unlisted: printing goes to
 * a few at a time, and the rows hold their jobs' JSON outside the
 * resource cache's budget, so a walk of every share's queue/ must not pin
 * the tenant's jobs, nor a share once listed its jobs until unmount.
 */
#define MEMO_SHARES 4
#define MEMO_IDLE_MS 60000

struct queue_memo {
	char *share_id;
	json_t *list;		/* the listing the rows are of (a reference) */
	struct queue_row *rows;	/* sorted by job */
	size_t n;
	int64_t used_ms;	/* when last listed */
	struct queue_memo *next;
};

static int cmp_row_job(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct queue_row *)a)->job;
	uintptr_t y = (uintptr_t)((const struct queue_row *)b)->job;

	return x < y ? -1 : x > y;
}

const struct queue_row *queue_rows_find(const struct queue_row *rows,
					size_t n, const json_t *job)
{
	struct queue_row key = { .job = job };

	return n ? bsearch(&key, rows, n, sizeof(*rows), cmp_row_job) : NULL;
}

/* Rows whose name is NULL were handed on to a newer array. */
static void rows_free(struct queue_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].name) {
			json_decref((json_t *)rows[i].job);
			free(rows[i].name);
		}
	free(rows);
}

/* The document name of a job, or "job-<id>" when it has none yet. */
static int job_document_name(struct buf *out, const json_t *job)
{
	const json_t *doc = json_array_get(json_object_get(job, "documents"), 0);
	const char *name = tree_str(doc, "displayName");

	if (name[0] == '\0')
		return buf_printf(out, "job-%s", tree_str(job, "id"));
	return names_encode(out, name, tree_str(job, "id"));
}

static int row_read(struct queue_row *r, const json_t *job, struct buf *b)
{
	int rc;

	buf_reset(b);
	rc = job_document_name(b, job);
	if (rc)
		return rc;
	r->name = strdup(b->data);
	if (r->name == NULL)
		return -ENOMEM;
	r->job = json_incref((json_t *)job);
	r->id = strtoull(tree_str(job, "id"), NULL, 10);
	r->final = tree_job_is_final(job);
	r->mtime = tree_parse_time(tree_str(job, "createdDateTime"));
	return 0;
}

/*
 * m's rows become those of list: remembered ones moved over, others read.
 * A listing is never changed once made (an upsert makes a new one), so the
 * same one needs nothing: queue/ is listed again whenever the spool
 * changed, which most often leaves the jobs as they were.
 */
static int memo_update(struct queue_memo *m, const json_t *list)
{
	size_t n, i;
	struct queue_row *rows;
	struct buf b;
	json_t *job;
	int rc;

	if (list == m->list)
		return 0;
	json_decref(m->list);
	m->list = NULL;
	n = json_array_size(list);
	rows = calloc(n + 1, sizeof(*rows));
	rc = rows ? 0 : -ENOMEM;
	buf_init(&b, 0);
	json_array_foreach(list, i, job) {
		struct queue_row *old = (struct queue_row *)queue_rows_find(
			m->rows, m->n, job);

		if (rc)
			break;
		if (old && old->name) {
			rows[i] = *old;
			old->name = NULL;	/* moved: its reference too */
		} else {
			rc = row_read(&rows[i], job, &b);
		}
		rows[i].pos = i;
	}
	buf_release(&b);
	rows_free(m->rows, m->n);
	m->rows = NULL;
	m->n = 0;
	if (rc) {
		if (rows)
			rows_free(rows, n);
		return rc;
	}
	qsort(rows, n, sizeof(*rows), cmp_row_job);
	m->rows = rows;
	m->n = n;
	m->list = json_incref((json_t *)list);
	return 0;
}

static void memo_free(struct queue_memo *m)
{
	rows_free(m->rows, m->n);
	json_decref(m->list);
	free(m->share_id);
	free(m);
}

/* Under queue_rows_lock: the memos of shares not listed for a while go. */
static void memos_expire(struct upfs *u, int64_t now_ms)
{
	struct queue_memo **p = &u->queue_memos, *m;

	while ((m = *p) != NULL) {
		if (now_ms - m->used_ms > MEMO_IDLE_MS) {
			*p = m->next;
			memo_free(m);
		} else {
			p = &m->next;
		}
	}
}

/* Under queue_rows_lock: the memo of share_id, made if needed. */
static struct queue_memo *memo_for(struct upfs *u, const char *share_id)
{
	struct queue_memo **p, **oldest = NULL, *m;
	size_t count = 0;

	for (p = &u->queue_memos; *p; p = &(*p)->next, count++) {
		if (strcmp((*p)->share_id, share_id) == 0)
			return *p;
		if (oldest == NULL || (*p)->used_ms < (*oldest)->used_ms)
			oldest = p;
	}
	if (count >= MEMO_SHARES) {
		m = *oldest;
		*oldest = m->next;
		memo_free(m);
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->share_id = strdup(share_id)) == NULL) {
		free(m);
		return NULL;
	}
	m->next = u->queue_memos;
	u->queue_memos = m;
	return m;
}

int queue_rows_lock(struct upfs *u, const char *share_id, const json_t *list,
		    const struct queue_row **rows, size_t *n)
{
	int64_t now_ms = cache_now_ms();
	struct queue_memo *m;
	int rc;

	pthread_mutex_lock(&u->queue_rows_lock);
	memos_expire(u, now_ms);
	m = memo_for(u, share_id);
	rc = m ? memo_update(m, list) : -ENOMEM;
	if (rc) {
		pthread_mutex_unlock(&u->queue_rows_lock);
		return rc;
	}
	m->used_ms = now_ms;
	*rows = m->rows;
	*n = m->n;
	return 0;
}

void queue_rows_unlock(struct upfs *u)
{
	pthread_mutex_unlock(&u->queue_rows_lock);
}

void queue_rows_release(struct upfs *u)
{
	struct queue_memo *m, *next;

	for (m = u->queue_memos; m; m = next) {
		next = m->next;
		memo_free(m);
	}
	u->queue_memos = NULL;
}
