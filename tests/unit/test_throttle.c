/*
 * test_throttle.c — the mount's Retry-After gate: a request waits while
 * the gate is shut only until its deadline, then fails at once with the
 * seconds left; one request goes first when it opens; one that waits
 * behind it gives up at its deadline. Real clocks, short waits.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "graph_private.h"

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void shut_for(struct graph_throttle *t, int seconds)
{
	struct graph_err err;

	graph_err_clear(&err);
	err.status = 429;
	err.retry_after = seconds;
	graph_throttle_leave(t, false, &err);
}

static void test_past_the_deadline_fails_at_once(void)
{
	struct graph_throttle t;
	bool probe = true;
	int wait_s = 0;
	int64_t t0;
	int rc;

	graph_throttle_init(&t);
	CHECK(graph_throttle_remaining_s(&t) == 0);
	shut_for(&t, 5);
	CHECK_MSG(graph_throttle_remaining_s(&t) == 5, "remaining %d",
		  graph_throttle_remaining_s(&t));
	t0 = mono_ms();
	rc = graph_throttle_enter(&t, NULL, graph_throttle_deadline(2),
				  &wait_s, &probe);
	CHECK_MSG(rc == -EAGAIN, "rc %d, want -EAGAIN", rc);
	CHECK_MSG(wait_s == 5, "wait_s %d, want 5", wait_s);
	CHECK(!probe);
	CHECK_MSG(mono_ms() - t0 < 2000, "waited %lld ms",
		  (long long)(mono_ms() - t0));
	graph_throttle_destroy(&t);
}

static void test_within_the_deadline_waits_then_probes(void)
{
	struct graph_throttle t;
	struct graph_err ok;
	bool probe = false;
	int wait_s = 0;
	int64_t t0;
	int rc;

	graph_throttle_init(&t);
	t0 = mono_ms();
	shut_for(&t, 1);
	rc = graph_throttle_enter(&t, NULL, graph_throttle_deadline(5),
				  &wait_s, &probe);
	CHECK_MSG(rc == 0, "rc %d", rc);
	CHECK(probe);
	CHECK_MSG(mono_ms() - t0 >= 900, "went after %lld ms",
		  (long long)(mono_ms() - t0));
	graph_err_clear(&ok);
	graph_throttle_leave(&t, probe, &ok);
	rc = graph_throttle_enter(&t, NULL, graph_throttle_deadline(5),
				  &wait_s, &probe);
	CHECK_MSG(rc == 0 && !probe, "rc %d probe %d after the probe's "
		  "success", rc, probe);
	graph_throttle_destroy(&t);
}

/* A request behind a probe still out gives up at its own deadline. */
static void test_behind_a_probe_gives_up_at_the_deadline(void)
{
	struct graph_throttle t;
	bool probe = false, second = true;
	int wait_s = 0;
	int64_t t0;
	int rc;

	graph_throttle_init(&t);
	shut_for(&t, 1);
	rc = graph_throttle_enter(&t, NULL, graph_throttle_deadline(5),
				  &wait_s, &probe);
	CHECK(rc == 0 && probe);	/* the probe, never answered here */
	t0 = mono_ms();
	rc = graph_throttle_enter(&t, NULL, mono_ms() + 300, &wait_s,
				  &second);
	CHECK_MSG(rc == -EAGAIN, "rc %d, want -EAGAIN", rc);
	CHECK(!second);
	CHECK_MSG(wait_s >= 1, "wait_s %d", wait_s);
	CHECK_MSG(mono_ms() - t0 >= 250 && mono_ms() - t0 < 3000,
		  "gave up after %lld ms", (long long)(mono_ms() - t0));
	graph_throttle_destroy(&t);
}

/* Its deadline past but the window over and no probe out: it goes. */
static void test_late_but_open_goes(void)
{
	struct graph_throttle t;
	bool probe = false;
	int wait_s = 0;
	int rc;

	graph_throttle_init(&t);
	shut_for(&t, 0);		/* a window that ends at once */
	usleep(20000);
	rc = graph_throttle_enter(&t, NULL, mono_ms() - 5, &wait_s, &probe);
	CHECK_MSG(rc == 0 && probe, "rc %d probe %d", rc, probe);
	graph_throttle_destroy(&t);
}

int main(void)
{
	test_late_but_open_goes();
	test_past_the_deadline_fails_at_once();
	test_within_the_deadline_waits_then_probes();
	test_behind_a_probe_gives_up_at_the_deadline();
	return failures != 0;
}
