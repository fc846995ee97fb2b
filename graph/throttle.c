/*
 * throttle.c — one gate for every request of a client after the service
 * said Retry-After (429 or 503): until then nothing is sent, and then a
 * single request goes first to find out whether the throttling is over,
 * while the others wait for its answer. Without this each of the
 * parallel upload workers and FUSE threads would retry on its own, and a
 * throttled tenant would see a burst per window instead of one request.
 */
#include <errno.h>
#include <time.h>

#include "graph_private.h"

/* A waiter looks again this often: for cancellation and clock changes. */
#define THROTTLE_SLICE_MS 100

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void graph_throttle_init(struct graph_throttle *t)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &attr);
	pthread_condattr_destroy(&attr);
	t->until_ms = 0;
	t->probing = false;
}

void graph_throttle_destroy(struct graph_throttle *t)
{
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
}

static void wait_slice(struct graph_throttle *t, int64_t until)
{
	int64_t at = now_ms() + THROTTLE_SLICE_MS;
	struct timespec ts;

	if (until > 0 && until < at)
		at = until;
	ts.tv_sec = at / 1000;
	ts.tv_nsec = (at % 1000) * 1000000L;
	pthread_cond_timedwait(&t->cond, &t->lock, &ts);
}

int graph_throttle_remaining_s(struct graph_throttle *t)
{
	int64_t left;

	pthread_mutex_lock(&t->lock);
	left = t->until_ms ? t->until_ms - now_ms() : 0;
	pthread_mutex_unlock(&t->lock);
	return left > 0 ? (int)((left + 999) / 1000) : 0;
}

int64_t graph_throttle_deadline(int budget_s)
{
	return now_ms() + (int64_t)budget_s * 1000;
}

int graph_throttle_enter(struct graph_throttle *t,
			 const _Atomic bool *cancel, int64_t deadline_ms,
			 int *wait_s, bool *probe)
{
	int rc = 0;

	*probe = false;
	pthread_mutex_lock(&t->lock);
	for (;;) {
		int64_t now = now_ms();

		if (cancel && *cancel) {
			rc = -ECANCELED;
			break;
		}
		if (t->until_ms == 0)
			break;			/* not throttled */
		/*
		 * Past the caller's deadline, or there while another request
		 * finds out: it spools or serves its cache now instead of
		 * hanging a close() or an ls that long.
		 */
		if (t->until_ms > deadline_ms ||
		    (t->probing && now >= deadline_ms && now >= t->until_ms)) {
			int64_t left = t->until_ms - now;

			*wait_s = left > 0 ? (int)((left + 999) / 1000) : 1;
			rc = -EAGAIN;
			break;
		}
		if (now < t->until_ms) {
			wait_slice(t, t->until_ms);
			continue;
		}
		if (!t->probing) {
			t->probing = true;	/* this one finds out */
			*probe = true;
			break;
		}
		wait_slice(t, deadline_ms);
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

bool graph_throttle_shuts(const struct graph_err *err)
{
	return (err->status == 429 || err->status == 503) &&
	       err->retry_after >= 0;
}

void graph_throttle_leave(struct graph_throttle *t, bool probe,
			  const struct graph_err *err)
{
	bool throttled = graph_throttle_shuts(err);

	pthread_mutex_lock(&t->lock);
	if (throttled) {
		int64_t until = now_ms() + (int64_t)err->retry_after * 1000;

		if (until > t->until_ms)
			t->until_ms = until;
	} else if (probe) {
		t->until_ms = 0;	/* over: everyone goes */
	}
	if (probe)
		t->probing = false;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}
