/*
 * readbase.c — what each process last read of an editable file
 * (readbase.h). A process is its thread group id and that leader's start
 * time (procinfo.h), so a pid reused by a later process finds nothing;
 * entries of processes that have gone are dropped when room is needed.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "procinfo.h"
#include "readbase.h"

struct readbase {
	struct readbase *next;
	pid_t tgid;
	unsigned long long start;	/* the leader's start, clock ticks */
	enum fs_kind kind;
	char *id;
	struct buf text;
	uint64_t used;			/* u->readbase_clock when last set */
};

static bool process_alive(const struct readbase *e)
{
	struct procinfo_process p = { e->tgid, e->start };

	return procinfo_alive(&p);
}

/* The process (thread group) of thread tid. */
static int process_of(pid_t tid, pid_t *tgid, unsigned long long *start)
{
	struct procinfo_process p;
	int rc = procinfo_process_of(tid, &p);

	if (rc == 0) {
		*tgid = p.tgid;
		*start = p.start;
	}
	return rc;
}

static void entry_free(struct readbase *e)
{
	buf_release(&e->text);
	free(e->id);
	free(e);
}

/* Under readbase_lock: the entry of (process, file), or NULL. */
static struct readbase **entry_find(struct upfs *u, pid_t tgid,
				    unsigned long long start,
				    enum fs_kind kind, const char *id)
{
	struct readbase **p;

	for (p = &u->readbases; *p; p = &(*p)->next)
		if ((*p)->tgid == tgid && (*p)->start == start &&
		    (*p)->kind == kind && strcmp((*p)->id, id) == 0)
			return p;
	return NULL;
}

/*
 * Under readbase_lock: room for one more entry of process (tgid, start).
 * Its own oldest goes once it has UPFS_READBASE_PER_PROCESS; past
 * UPFS_READBASE_MAX in all, the entries of processes that have gone, else
 * the least recently used one. That reads /proc once per entry, under
 * the lock, but only when the table is full.
 */
static void make_room(struct upfs *u, pid_t tgid, unsigned long long start)
{
	struct readbase **p, **oldest = NULL, **own_oldest = NULL, *e;
	size_t n = 0, own = 0;

	for (p = &u->readbases; *p; p = &(*p)->next) {
		n++;
		if ((*p)->tgid != tgid || (*p)->start != start)
			continue;
		own++;
		if (own_oldest == NULL || (*p)->used < (*own_oldest)->used)
			own_oldest = p;
	}
	if (own >= UPFS_READBASE_PER_PROCESS) {
		e = *own_oldest;
		*own_oldest = e->next;
		entry_free(e);
		return;
	}
	if (n < UPFS_READBASE_MAX)
		return;
	n = 0;
	for (p = &u->readbases; *p;) {
		if (!process_alive(*p)) {
			e = *p;
			*p = e->next;
			entry_free(e);
			continue;
		}
		if (oldest == NULL || (*p)->used < (*oldest)->used)
			oldest = p;
		n++;
		p = &(*p)->next;
	}
	if (n >= UPFS_READBASE_MAX && oldest) {
		e = *oldest;
		*oldest = e->next;
		entry_free(e);
	}
}

void readbase_note(struct upfs *u, pid_t tid, enum fs_kind kind,
		   const char *id, const struct buf *text, bool only_known)
{
	struct readbase **p, *e = NULL;
	unsigned long long start;
	struct buf copy;
	pid_t tgid;

	if (process_of(tid, &tgid, &start) != 0)
		return;
	if (id == NULL)
		id = "";	/* a file of the tenant (settings.json) */
	buf_init(&copy, 0);
	pthread_mutex_lock(&u->readbase_lock);
	p = entry_find(u, tgid, start, kind, id);
	/* Copied only when kept: most commits are by processes that read
	   nothing (echo >> allowed_users). A few KiB, under a lock that
	   only this table takes. */
	if ((p == NULL && only_known) ||
	    buf_append(&copy, text->data, text->len) != 0)
		goto out;
	if (p) {
		e = *p;
	} else {
		make_room(u, tgid, start);
		e = calloc(1, sizeof(*e));
		if (e == NULL || (e->id = strdup(id)) == NULL) {
			free(e);
			goto out;
		}
		e->tgid = tgid;
		e->start = start;
		e->kind = kind;
		buf_init(&e->text, 0);
		e->next = u->readbases;
		u->readbases = e;
	}
	buf_release(&e->text);
	e->text = copy;
	buf_init(&copy, 0);
	e->used = ++u->readbase_clock;
out:
	pthread_mutex_unlock(&u->readbase_lock);
	buf_release(&copy);
}

int readbase_get(struct upfs *u, pid_t tid, enum fs_kind kind,
		 const char *id, struct buf *out, bool *found)
{
	struct readbase **p;
	unsigned long long start;
	pid_t tgid;
	int rc = 0;

	*found = false;
	if (process_of(tid, &tgid, &start) != 0)
		return 0;
	if (id == NULL)
		id = "";
	pthread_mutex_lock(&u->readbase_lock);
	p = entry_find(u, tgid, start, kind, id);
	if (p) {
		rc = buf_append(out, (*p)->text.data, (*p)->text.len);
		*found = rc == 0;
	}
	pthread_mutex_unlock(&u->readbase_lock);
	return rc;
}

void readbase_release(struct upfs *u)
{
	struct readbase *e, *next;

	for (e = u->readbases; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	u->readbases = NULL;
}
