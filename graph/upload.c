/*
 * upload.c — the document upload protocol (upload sessions, API notes §4):
 * byte ranges PUT from worker threads, nextExpectedRanges followed, 416
 * resynchronised, the session queried and cancelled.
 *
 * Threads: graph_upload_document() starts up to UPFS_UPLOAD_PARALLEL
 * workers and waits for them, reporting progress on its own thread. Each
 * worker holds one curl easy handle for the whole upload, so its
 * keep-alive connection carries range after range; it takes the next
 * range off the shared set of missing bytes, PUTs it (streamed from the
 * file by request.c), and folds the reply into the set.
 *
 * The missing set only shrinks by intersection with what the service
 * says is missing. A reply can be stale (overtaken by the reply to a PUT
 * that finished later) but a stale reply only claims too much missing,
 * never too little, so intersecting with it is always safe. Bytes go back
 * into the set only on a fresh report: after a 416, the refused range is
 * re-added and the set intersected with the session's answer to a GET;
 * and when nothing is in flight and nothing is left to send but no 201
 * came, the session's answer becomes the set.
 *
 * Lock: upload.lock guards the fields so marked. It is never held across
 * a request or a callback, and nothing else is taken while it is held.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"
#include "graph_private.h"

/* Resyncs in a row without a byte confirmed before giving up (-EPROTO). */
#define UPLOAD_STALLS_MAX 16

struct upload {
	struct graph *g;
	const char *url;
	int fd;
	uint64_t size;
	_Atomic bool cancel;	/* stops every transfer: failure or done */
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* broadcast on every change below */
	struct graph_ranges todo; /* missing, not in flight (lock) */
	uint64_t inflight;	/* bytes being sent (lock) */
	unsigned busy;		/* workers inside a request (lock) */
	unsigned live;		/* workers not yet finished (lock) */
	unsigned stalls;	/* resyncs since a 2xx (lock) */
	bool done;		/* the 201 came (lock) */
	int rc;			/* the first failure, or 0 (lock) */
	struct graph_err err;	/* its details (lock) */
	json_t *doc;		/* the 201 body, owned (lock) */
};

/* What one PUT (and the GET after a 416) came to; no lock needed. */
struct upload_reply {
	int rc;
	long status;
	json_t *body;		/* owned; NULL if empty or not JSON */
	struct graph_ranges fresh; /* after a 416: the session's answer */
	struct graph_err err;
};

/* Under the lock: records the first failure and stops the others. */
static void upload_fail(struct upload *u, int rc, const struct graph_err *err)
{
	if (!u->rc) {
		u->rc = rc;
		if (err)
			u->err = *err;
	}
	atomic_store(&u->cancel, true);
}

static void upload_fail_msg(struct upload *u, int rc, const char *msg)
{
	struct graph_err e;

	graph_err_clear(&e);
	graph_err_setf(&e, "%s", msg);
	upload_fail(u, rc, &e);
}

/* A request to the session URL: never a token, retried patiently. */
static struct graph_req upload_req(struct upload *u, const char *method)
{
	struct graph_req req = {
		.method = method,
		.path = u->url,
		.no_auth = true,
		.patient = true,
		.cancel = &u->cancel,
	};

	return req;
}

/* A failure's errno as the API promises it: retries ran out = -EAGAIN. */
static int upload_errno(const struct graph_req *req, int rc,
			const struct graph_err *err)
{
	if (rc == -ECANCELED || rc == -ENOENT)
		return rc;
	/* The URL carries its own credential (reference §3.3), good until
	   the session's expirationDateTime: refused, the session is as good
	   as gone, and a new one is opened (an EACCES would drop the
	   document). A 401 here is that credential's too, as no bearer
	   token is sent: signing in again would not help. */
	if (err->status == 404 || err->status == 410 || err->status == 403 ||
	    err->status == 401)
		return -ENOENT;
	/* The session was made for another size than the document's: no
	   range will ever fit it (reference §4, item 7). */
	if (err->status == 400 && graph_err_is(err, "fragmentLengthMismatch"))
		return -ENOENT;
	if (graph_err_transient(req, err))
		return -EAGAIN;
	return rc;
}

/*
 * The session refused a range as one it holds or cannot place: a 416, or
 * a 400 or 409 naming a fragment code, as the Graph error catalogue gives
 * them (reference §4, item 7). Asked, the session says what it misses.
 */
static bool upload_range_refused(const struct graph_err *err)
{
	if (err->status == 416)
		return true;
	return (err->status == 400 || err->status == 409) &&
	       (graph_err_is(err, "invalidRange") ||
		graph_err_is(err, "fragmentOverlap") ||
		graph_err_is(err, "fragmentOutOfOrder"));
}

/* GET the session: what it says is missing, into out. */
static int upload_missing(struct upload *u, CURL *h, struct graph_ranges *out,
			  struct graph_err *err)
{
	struct graph_req req = upload_req(u, "GET");
	json_t *st = NULL;
	int rc;

	rc = graph_fetch_req(u->g, h, &req, true, &st, err);
	if (rc)
		return upload_errno(&req, rc, err);
	rc = graph_ranges_from_json(json_object_get(st, "nextExpectedRanges"),
				    u->size, out);
	if (rc == -EPROTO)
		graph_err_setf(err, "upload session status has no valid "
				    "nextExpectedRanges");
	json_decref(st);
	if (!rc)
		graph_trace(u->g, "upload: the session misses %llu bytes in "
				  "%zu ranges",
			    (unsigned long long)graph_ranges_bytes(out), out->n);
	return rc;
}

/*
 * PUT one range; after a 416, also GET the session. A success whose body
 * is not JSON says nothing about the session (not even that it is
 * complete): the session is asked too, and the reply then counts as a
 * 416, a range whose fate the session's answer settles. No lock held.
 */
static void upload_put(struct upload *u, CURL *h, struct graph_range r,
		       struct upload_reply *rep)
{
	struct graph_src src = { u->fd, r.first, r.last - r.first + 1 };
	struct graph_req req = upload_req(u, "PUT");
	const char *headers[2] = { NULL, NULL };
	struct graph_resp resp;
	char range[96];

	snprintf(range, sizeof(range), "Content-Range: bytes %llu-%llu/%llu",
		 (unsigned long long)r.first, (unsigned long long)r.last,
		 (unsigned long long)u->size);
	headers[0] = range;
	req.src = &src;
	req.headers = headers;
	graph_resp_init(&resp, u->g);
	rep->rc = graph_call_on(u->g, h, &req, &resp, &rep->err);
	rep->status = rep->rc ? rep->err.status : resp.status;
	if (!rep->rc && resp.body.len)
		rep->body = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	if (!rep->rc && resp.body.len && !rep->body && rep->status != 201) {
		graph_trace(u->g, "upload: HTTP %ld to a range PUT with a body "
				  "that is not JSON: asking the session",
			    rep->status);
		rep->rc = -ERANGE;
		rep->err.status = 416;
	}
	graph_resp_release(&resp);
	if (rep->rc && upload_range_refused(&rep->err)) {
		rep->rc = upload_missing(u, h, &rep->fresh, &rep->err);
		rep->status = 416;
	} else if (rep->rc) {
		rep->rc = upload_errno(&req, rep->rc, &rep->err);
	}
}

/* Under the lock: folds a 2xx reply to the PUT of r into the state. */
static void upload_accept(struct upload *u, struct upload_reply *rep)
{
	json_t *next = json_object_get(rep->body, "nextExpectedRanges");
	struct graph_ranges missing;

	if (rep->status >= 300) {
		upload_fail_msg(u, -EPROTO, "upload URL answered a redirect");
		return;
	}
	if (rep->status == 201 || (rep->status == 200 && !next)) {
		u->done = true;
		u->doc = rep->body;
		rep->body = NULL;
		atomic_store(&u->cancel, true);
		return;
	}
	u->stalls = 0;
	graph_ranges_init(&missing);
	/* An unusable report is ignored whole: the set stays larger. */
	if (graph_ranges_from_json(next, u->size, &missing) == 0 &&
	    graph_ranges_intersect(&u->todo, &missing) < 0)
		upload_fail(u, -ENOMEM, NULL);
	graph_ranges_release(&missing);
}

/* Under the lock: the session refused r (416) and said what it misses. */
static void upload_resync(struct upload *u, struct graph_range r,
			  struct upload_reply *rep)
{
	if (++u->stalls > UPLOAD_STALLS_MAX) {
		upload_fail_msg(u, -EPROTO, "upload session keeps refusing "
					    "ranges (416) without progress");
		return;
	}
	if (graph_ranges_add(&u->todo, r.first, r.last) < 0 ||
	    graph_ranges_intersect(&u->todo, &rep->fresh) < 0)
		upload_fail(u, -ENOMEM, NULL);
}

/* Under the lock, which it drops while the request runs. */
static void upload_send(struct upload *u, CURL *h, struct graph_range r)
{
	uint64_t len = r.last - r.first + 1;
	struct upload_reply rep = { 0 };

	graph_ranges_init(&rep.fresh);
	u->busy++;
	u->inflight += len;
	pthread_mutex_unlock(&u->lock);
	upload_put(u, h, r, &rep);
	pthread_mutex_lock(&u->lock);
	u->busy--;
	u->inflight -= len;
	if (rep.rc == 0 && rep.status == 416)
		upload_resync(u, r, &rep);
	else if (rep.rc == 0)
		upload_accept(u, &rep);
	else if (rep.rc != -ECANCELED)
		upload_fail(u, rep.rc, &rep.err);
	/* Not sent after all: back into the set, so progress stays true. */
	if (rep.rc && graph_ranges_add(&u->todo, r.first, r.last) < 0)
		upload_fail(u, -ENOMEM, NULL);
	pthread_cond_broadcast(&u->cond);
	json_decref(rep.body);
	graph_ranges_release(&rep.fresh);
}

/*
 * Under the lock, with nothing in flight, nothing to send and no 201:
 * the session's answer is the whole truth, so it becomes the set.
 */
static void upload_stalled(struct upload *u, CURL *h)
{
	struct graph_ranges fresh;
	struct graph_err err;
	int rc;

	if (++u->stalls > UPLOAD_STALLS_MAX) {
		upload_fail_msg(u, -EPROTO, "upload session stopped making "
					    "progress");
		return;
	}
	graph_ranges_init(&fresh);
	u->busy++;
	pthread_mutex_unlock(&u->lock);
	rc = upload_missing(u, h, &fresh, &err);
	pthread_mutex_lock(&u->lock);
	u->busy--;
	if (rc && rc != -ECANCELED)
		upload_fail(u, rc, &err);
	else if (!rc && fresh.n == 0)
		upload_fail_msg(u, -EPROTO, "upload session holds every byte "
					    "but never answered 201");
	if (!rc && fresh.n) {
		/* The set is empty: nothing is lost by replacing it. */
		graph_ranges_release(&u->todo);
		u->todo = fresh;
		graph_ranges_init(&fresh);
	}
	pthread_cond_broadcast(&u->cond);
	graph_ranges_release(&fresh);
}

static void *upload_worker(void *arg)
{
	struct upload *u = arg;
	CURL *h = graph_handle_get(u->g);
	struct graph_range r;

	pthread_mutex_lock(&u->lock);
	if (!h)
		upload_fail(u, -ENOMEM, NULL);
	while (!u->done && !u->rc) {
		if (graph_ranges_take(&u->todo, UPFS_UPLOAD_CHUNK, &r))
			upload_send(u, h, r);
		else if (u->busy)
			pthread_cond_wait(&u->cond, &u->lock);
		else
			upload_stalled(u, h);
	}
	u->live--;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	graph_handle_put(u->g, h);
	return NULL;
}

/* Under the lock: bytes the service holds, as far as we know. */
static uint64_t upload_held(const struct upload *u)
{
	uint64_t left = graph_ranges_bytes(&u->todo) + u->inflight;

	if (u->done)
		return u->size;
	return left < u->size ? u->size - left : 0;
}

/* Starts the workers and reports progress until the last one is done. */
static int upload_run(struct upload *u, graph_progress_fn progress, void *arg)
{
	pthread_t tids[UPFS_UPLOAD_PARALLEL];
	uint64_t chunks, reported = 0, held;
	unsigned n, i, started = 0;
	int rc = 0;

	chunks = (u->size + UPFS_UPLOAD_CHUNK - 1) / UPFS_UPLOAD_CHUNK;
	n = chunks < UPFS_UPLOAD_PARALLEL ? (unsigned)chunks
					  : UPFS_UPLOAD_PARALLEL;
	pthread_mutex_lock(&u->lock);
	/* One range (most documents): the caller's thread sends it. */
	if (n == 1) {
		u->live++;
		pthread_mutex_unlock(&u->lock);
		upload_worker(u);
		pthread_mutex_lock(&u->lock);
		n = 0;
	}
	for (i = 0; i < n; i++) {
		rc = pthread_create(&tids[i], NULL, upload_worker, u);
		if (rc)
			break;
		started++;
		u->live++;
	}
	/* Fewer workers than planned still finish the job. */
	if (!started && u->live == 0 && !u->done && !u->rc)
		upload_fail_msg(u, -rc, "cannot start an upload thread");
	while (u->live) {
		held = upload_held(u);
		if (progress && held > reported) {
			reported = held;
			pthread_mutex_unlock(&u->lock);
			progress(arg, held, u->size);
			pthread_mutex_lock(&u->lock);
			continue;
		}
		pthread_cond_wait(&u->cond, &u->lock);
	}
	pthread_mutex_unlock(&u->lock);
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	/* A 201 that raced a failure elsewhere still completed the document. */
	if (u->done && progress && reported < u->size)
		progress(arg, u->size, u->size);
	return u->done ? 0 : u->rc;
}

int graph_upload_document(struct graph *g, const char *upload_url, int fd,
			  uint64_t size, graph_progress_fn progress, void *arg,
			  json_t **doc, struct graph_err *err)
{
	struct upload u = { .g = g, .url = upload_url, .fd = fd, .size = size };
	int rc;

	if (doc)
		*doc = NULL;
	graph_err_clear(err);
	if (!upload_url || !graph_is_absolute(upload_url) || size == 0 ||
	    fd < 0) {
		graph_err_setf(err, "upload needs a session URL, a file and "
				    "a size above 0");
		graph_stats_count(g, GRAPH_STAT_FAILURES);
		return fd < 0 ? -EBADF : -EINVAL;
	}
	atomic_init(&u.cancel, false);
	graph_err_clear(&u.err);
	graph_ranges_init(&u.todo);
	pthread_mutex_init(&u.lock, NULL);
	pthread_cond_init(&u.cond, NULL);
	rc = graph_ranges_add(&u.todo, 0, size - 1);
	if (!rc)
		rc = upload_run(&u, progress, arg);
	if (rc) {
		graph_stats_count(g, GRAPH_STAT_FAILURES);
		if (err)
			*err = u.err;
	} else if (doc) {
		*doc = u.doc;
		u.doc = NULL;
	}
	json_decref(u.doc);
	graph_ranges_release(&u.todo);
	pthread_cond_destroy(&u.cond);
	pthread_mutex_destroy(&u.lock);
	return rc;
}

int graph_upload_status(struct graph *g, const char *upload_url, json_t **out,
			struct graph_err *err)
{
	struct graph_req req = {
		.method = "GET",
		.path = upload_url,
		.no_auth = true,
		.patient = true,
	};
	int rc;

	*out = NULL;
	graph_err_clear(err);
	if (!upload_url || !graph_is_absolute(upload_url)) {
		graph_err_setf(err, "no upload session URL");
		rc = -EINVAL;
	} else {
		rc = graph_fetch_req(g, NULL, &req, true, out, err);
	}
	if (rc)
		graph_stats_count(g, GRAPH_STAT_FAILURES);
	return rc;
}

int graph_upload_cancel(struct graph *g, const char *upload_url,
			struct graph_err *err)
{
	struct graph_req req = {
		.method = "DELETE",
		.path = upload_url,
		.no_auth = true,
		.patient = true,
	};
	struct graph_resp resp;
	struct graph_err tmp;
	int rc;

	if (!err)
		err = &tmp;
	graph_err_clear(err);
	if (!upload_url || !graph_is_absolute(upload_url)) {
		graph_err_setf(err, "no upload session URL");
		graph_stats_count(g, GRAPH_STAT_FAILURES);
		return -EINVAL;
	}
	graph_resp_init(&resp, g);
	rc = graph_call(g, &req, &resp, err);
	graph_resp_release(&resp);
	if (rc && (err->status == 404 || err->status == 410)) {
		graph_err_clear(err);
		rc = 0;
	}
	if (rc)
		graph_stats_count(g, GRAPH_STAT_FAILURES);
	return rc;
}
