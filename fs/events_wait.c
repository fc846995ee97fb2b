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

/* Asks for w's line once: true when w was answered (and freed). */
static bool try_answer(struct upfs *u, struct events_waiter *w)
{
	struct buf bytes;
	int rc;

	buf_init(&bytes, 0);
	rc = pull_events_take(u, w->f->events, w->off, w->size, &bytes);
	if (rc == 0 && bytes.len == 0) {
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

/* One pass over every waiting read; called and returns with the lock. */
static void poll_waiters(struct upfs *u)
{
	struct events_waiter *all = u->events_waiters, *w, *next;
	struct events_waiter *kept = NULL;

	u->events_waiters = NULL;
	pthread_mutex_unlock(&u->events_lock);
	for (w = all; w; w = next) {
		bool gone;

		next = w->next;
		pthread_mutex_lock(&u->events_lock);
		gone = w->interrupted;
		pthread_mutex_unlock(&u->events_lock);
		if (gone)
			finish(w, EINTR, NULL);
		else if (!try_answer(u, w)) {
			w->next = kept;
			kept = w;
		}
	}
	pthread_mutex_lock(&u->events_lock);
	for (w = kept; w; w = next) {
		next = w->next;
		w->next = u->events_waiters;
		u->events_waiters = w;
	}
}

static void *events_main(void *arg)
{
	struct upfs *u = arg;
	struct events_waiter *w, *next;

	pthread_mutex_lock(&u->events_lock);
	while (!u->events_stopping) {
		int64_t now = now_ms();

		if (u->events_waiters == NULL) {
			pthread_cond_wait(&u->events_cond, &u->events_lock);
		} else if (!any_interrupted(u) && now < u->events_due_ms) {
			struct timespec until;
			int64_t ms = u->events_due_ms - now;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += ms / 1000;
			until.tv_nsec += (ms % 1000) * 1000000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&u->events_cond, &u->events_lock,
					       &until);
		} else {
			u->events_due_ms = now + EVENTS_POLL_MS;
			poll_waiters(u);
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
	if (try_answer(u, w))
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
