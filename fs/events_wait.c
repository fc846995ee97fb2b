/*
 * events_wait.c — reads of events files that wait off the FUSE workers
 * (see events_wait.h).
 *
 * Locks: a waiting read's interrupt callback runs under the request's
 * own lock and takes events_lock, so nothing here calls into libfuse
 * with events_lock held. A waiter is freed only after its callback is
 * cleared (fuse_req_interrupt_func with NULL waits for one in flight).
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "events_wait.h"
#include "ops_private.h"
#include "pull.h"
#include "submit.h"

struct events_waiter {
	struct events_waiter *next;
	fuse_req_t req;
	struct open_file *f;	/* a reference, until the reply */
	off_t off;
	size_t size;
	bool interrupted;	/* events_lock */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Replies (err, or the bytes) and frees w; events_lock not held. */
static void finish(struct events_waiter *w, int err, const struct buf *bytes)
{
	fuse_req_interrupt_func(w->req, NULL, NULL);
	if (err)
		ops_reply_err(w->req, err);
	else
		fuse_reply_buf(w->req, bytes->data, bytes->len);
	open_file_put(w->f);
	free(w);
}

static void on_interrupt(fuse_req_t req, void *data)
{
	struct events_waiter *w = data;
	struct upfs *u = w->f->u;

	(void)req;
	pthread_mutex_lock(&u->events_lock);
	w->interrupted = true;
	pthread_cond_signal(&u->events_cond);
	pthread_mutex_unlock(&u->events_lock);
}

/*
 * Asks for w's line once: true when w was answered (and freed). A
 * failure that may pass (a 5xx, the network) is waited out like no task:
 * it must not end a reader's loop; one that will not (the definition
 * deleted, access refused) is the read's answer.
 */
static bool try_answer(struct upfs *u, struct events_waiter *w,
		       struct pull_round *round)
{
	struct buf bytes;
	int rc;

	buf_init(&bytes, 0);
	rc = pull_events_take(u, w->f->events, round, w->off, w->size,
			      &bytes);
	if ((rc == 0 && bytes.len == 0) ||
	    (rc < 0 && !submit_err_is_permanent(rc))) {
		buf_release(&bytes);
		return false;
	}
	finish(w, -rc, &bytes);
	buf_release(&bytes);
	return true;
}

/* Under events_lock: whether a waiting read's reader has gone. */
static bool any_interrupted(const struct upfs *u)
{
	for (const struct events_waiter *w = u->events_waiters; w; w = w->next)
		if (w->interrupted)
			return true;
	return false;
}

/* Under events_lock: puts list's waiters back on the waiting list. */
static void relink(struct upfs *u, struct events_waiter *list)
{
	struct events_waiter *w, *next;

	for (w = list; w; w = next) {
		next = w->next;
		w->next = u->events_waiters;
		u->events_waiters = w;
	}
}

/*
 * Answers with EINTR the waiters of list (off the waiting list) whose
 * readers have gone, and returns the others; events_lock not held.
 */
static struct events_waiter *answer_interrupted(struct upfs *u,
						struct events_waiter *list)
{
	struct events_waiter *rest = NULL, *gone = NULL, *w, *next;

	pthread_mutex_lock(&u->events_lock);
	for (w = list; w; w = next) {
		next = w->next;
		if (w->interrupted) {
			w->next = gone;
			gone = w;
		} else {
			w->next = rest;
			rest = w;
		}
	}
	pthread_mutex_unlock(&u->events_lock);
	for (w = gone; w; w = next) {
		next = w->next;
		finish(w, EINTR, NULL);
	}
	return rest;
}

/*
 * Asks the service once for the waiting reads of each definition; called
 * and returns with events_lock. A reader that goes meanwhile is answered
 * before the next request, not after every other reader's.
 */
static void poll_waiters(struct upfs *u)
{
	struct events_waiter *todo = u->events_waiters, *kept = NULL, *w;
	/* NULL (out of memory): each read asks alone, as its first did. */
	struct pull_round *round = pull_round_new();

	u->events_waiters = NULL;
	pthread_mutex_unlock(&u->events_lock);
	while ((todo = answer_interrupted(u, todo)) != NULL) {
		w = todo;
		todo = w->next;
		if (!try_answer(u, w, round)) {
			w->next = kept;
			kept = w;
		}
	}
	pull_round_free(round);
	pthread_mutex_lock(&u->events_lock);
	relink(u, kept);
}

static void *events_main(void *arg)
{
	struct upfs *u = arg;
	struct events_waiter *w, *next;

	pthread_mutex_lock(&u->events_lock);
	while (!u->events_stopping) {
		if (u->events_waiters == NULL) {
			pthread_cond_wait(&u->events_cond, &u->events_lock);
		} else if (any_interrupted(u)) {
			w = u->events_waiters;
			u->events_waiters = NULL;
			pthread_mutex_unlock(&u->events_lock);
			w = answer_interrupted(u, w);
			pthread_mutex_lock(&u->events_lock);
			relink(u, w);
		} else if (now_ms() < u->events_due_ms) {
			/* events_cond runs on CLOCK_MONOTONIC (upfs_init). */
			struct timespec due = {
				.tv_sec = u->events_due_ms / 1000,
				.tv_nsec = (u->events_due_ms % 1000) * 1000000,
			};

			pthread_cond_timedwait(&u->events_cond, &u->events_lock,
					       &due);
		} else {
			poll_waiters(u);
			u->events_due_ms = now_ms() + EVENTS_POLL_MS;
		}
	}
	w = u->events_waiters;
	u->events_waiters = NULL;
	pthread_mutex_unlock(&u->events_lock);
	for (; w; w = next) {
		next = w->next;
		finish(w, ENOTCONN, NULL);
	}
	return NULL;
}

void events_read(fuse_req_t req, struct open_file *f, off_t off, size_t size)
{
	struct upfs *u = f->u;
	struct events_waiter *w = calloc(1, sizeof(*w));
	int rc = 0;

	if (w == NULL) {
		ops_reply_err(req, ENOMEM);
		open_file_put(f);
		return;
	}
	*w = (struct events_waiter){ .req = req, .f = f, .off = off,
				     .size = size };
	if (try_answer(u, w, NULL))
		return;
	/* Set first: one already interrupted calls it at once, and it
	   takes events_lock. */
	fuse_req_interrupt_func(req, on_interrupt, w);
	pthread_mutex_lock(&u->events_lock);
	if (u->events_stopping)
		rc = ENOTCONN;
	else if (!u->events_started &&
		 pthread_create(&u->events_thread, NULL, events_main, u) != 0)
		rc = EAGAIN;
	if (rc == 0) {
		u->events_started = true;
		if (u->events_waiters == NULL)
			u->events_due_ms = now_ms() + EVENTS_POLL_MS;
		w->next = u->events_waiters;
		u->events_waiters = w;
		pthread_cond_signal(&u->events_cond);
	}
	pthread_mutex_unlock(&u->events_lock);
	if (rc)
		finish(w, rc, NULL);
}

void events_stop(struct upfs *u)
{
	bool started;

	pthread_mutex_lock(&u->events_lock);
	u->events_stopping = true;
	started = u->events_started;
	u->events_started = false;
	pthread_cond_signal(&u->events_cond);
	pthread_mutex_unlock(&u->events_lock);
	if (started)
		pthread_join(u->events_thread, NULL);
}
