/*
 * graph_private.h — helpers shared by the files of graph/ (not public API).
 *
 * graph_call() (request.c) is the one place an HTTP request is made: URL
 * building, headers, the bearer rule, body cap, streamed bodies, retries,
 * the 401 re-authentication and tracing all live behind it. The public
 * calls, the token sources and the upload (upload.c) are built on it.
 *
 * Files: client.c (struct graph, handles, URLs, JSON calls), request.c
 * (graph_call), errors.c, paging.c, auth.c, upload.c and upload_ranges.c.
 */
#ifndef UPFS_GRAPH_PRIVATE_H
#define UPFS_GRAPH_PRIVATE_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "graph.h"

#define GRAPH_POOL_MAX 16

struct graph_auth;

/*
 * The context. Fields without a lock are set by graph_new() and only read
 * afterwards. Locks: pool_lock, stats_lock and the share locks are
 * leaves: nothing else is taken while one is held.
 */
/* throttle.c: the gate after a Retry-After (see there). */
struct graph_throttle {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int64_t until_ms;	/* CLOCK_MONOTONIC; 0: not throttled */
	bool probing;		/* one request is finding out if it is over */
};

void graph_throttle_init(struct graph_throttle *t);
void graph_throttle_destroy(struct graph_throttle *t);
/* Seconds until the gate opens, 0 if it is open. */
int graph_throttle_remaining_s(struct graph_throttle *t);
/* The deadline budget_s from now, for graph_throttle_enter. */
int64_t graph_throttle_deadline(int budget_s);
/*
 * Waits until a request may go; *probe: it goes alone, first. -EAGAIN,
 * with the seconds the gate stays shut in *wait_s (at least 1), when it
 * opens after deadline_ms or the deadline passes while another request
 * finds out; -ECANCELED when cancel is set.
 */
int graph_throttle_enter(struct graph_throttle *t,
			 const _Atomic bool *cancel, int64_t deadline_ms,
			 int *wait_s, bool *probe);
/* Whether err's Retry-After shuts the gate (a 429 or 503 that has one). */
bool graph_throttle_shuts(const struct graph_err *err);
/* After the request: a Retry-After closes the gate; a probe's success
   opens it. */
void graph_throttle_leave(struct graph_throttle *t, bool probe,
			  const struct graph_err *err);

struct graph {
	char *endpoint;		/* without trailing '/' */
	char *origin;		/* "scheme://host:port" of the endpoint */
	char *ca_file;
	long connect_timeout_ms;
	long low_speed_time_s;
	long request_timeout_s;	/* 0: no limit */
	int max_retries;
	size_t max_body;
	graph_trace_fn trace;
	void *trace_arg;
	struct graph_auth *auth;
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_lock;	/* guards pool, npool */
	CURL *pool[GRAPH_POOL_MAX];
	unsigned npool;
	pthread_mutex_t stats_lock;	/* guards stats, clock_* */
	struct graph_stats stats;
	bool clock_known;
	int64_t clock_offset_s;		/* graph_service_clock_offset */
	struct graph_throttle throttle;
};

/* Notes the Date of a Graph reply (date, the service's clock), which
   came at seen (this machine's). */
void graph_note_service_clock(struct graph *g, time_t date, time_t seen);

/* ---- errors.c ---------------------------------------------------------- */

/* The errno for a CURLcode (0 for CURLE_OK); a switch with EIO as default. */
int graph_curl_to_errno(int curl_code);

/* Empties err (retry_after = -1). err may be NULL. */
void graph_err_clear(struct graph_err *err);

/* Sets err->message; control characters become spaces. err may be NULL. */
void graph_err_setf(struct graph_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Copies src into a fixed err field, control characters made spaces. */
void graph_err_copy(char *dst, size_t size, const char *src);

/*
 * Fills err->code, err->message and (if still empty) err->request_id from
 * an error body: the Graph envelope {"error":{"code","message",
 * "innerError":{"request-id"}}} (also "innererror"), or the OAuth2 shape
 * {"error":"invalid_client","error_description":"..."}. Anything else,
 * including non-JSON (a proxy's HTML page may echo request headers), is
 * ignored so that no foreign text reaches a log.
 */
void graph_err_parse_body(struct graph_err *err, const char *body,
			  size_t len);

/* ---- client.c ---------------------------------------------------------- */

/* An idle easy handle from the pool, or a new one; NULL when out of memory. */
CURL *graph_handle_get(struct graph *g);

/* Resets h and returns it to the pool (or frees it). h may be NULL. */
void graph_handle_put(struct graph *g, CURL *h);

/* Whether path is an absolute http(s) URL. */
bool graph_is_absolute(const char *path);

/*
 * Whether a token or secret sent to url stays private: https, or plain
 * http to this machine (localhost, 127.0.0.0/8, [::1]: a local emulator
 * or proxy).
 */
bool graph_url_private(const char *url);

/* Whether url has the endpoint's scheme, host and port (parsed by curl). */
bool graph_same_origin(const struct graph *g, const char *url);

/* ---- request.c ---------------------------------------------------------- */

/* A request body streamed from a file with pread(), never held in memory. */
struct graph_src {
	int fd;
	uint64_t off;		/* where the body starts in fd */
	uint64_t len;		/* body length; curl sends Content-Length */
};

struct graph_req {
	const char *method;	  /* "GET", "POST", ... (upper case) */
	const char *path;	  /* relative to the endpoint, or absolute */
	const char *body;	  /* borrowed; NULL: no body */
	size_t body_len;
	const struct graph_src *src; /* borrowed; a streamed body instead of
				       body (method PUT only) */
	const char *content_type; /* NULL: application/json when a body,
				     application/octet-stream for src */
	const char *const *headers; /* extra "Name: value", NULL-terminated;
				       may be NULL */
	bool no_auth;		  /* never send Authorization (token endpoint,
				     pre-authenticated upload URLs) */
	bool patient;		  /* also retry 500, 502 and stalled
				     transfers (upload-session requests,
				     which are safe to repeat) */
	bool once;		  /* a POST nothing can read back (a printer
				     registration): sent again only after a
				     429, which was not carried out, and on
				     a connection of its own, as libcurl
				     re-sends on a reused one that died */
	const _Atomic bool *cancel; /* may be NULL; once true, the transfer
				       and any backoff stop: -ECANCELED */
	/* A ranged GET's window [slice_off, slice_off + slice_len): a 200,
	   the whole body from a host that ignores Range, keeps only those
	   bytes and stops reading there. 0: no window. */
	uint64_t slice_off;
	size_t slice_len;
};

struct graph_resp {
	long status;		/* last HTTP status, 0 if none */
	struct buf body;	/* capped at the client's max_body */
	char *location;		/* owned; Location header or NULL */
	char *operation_location; /* owned; Operation-Location or NULL */
	char request_id[64];	/* request-id header or "" */
	int retry_after;	/* seconds, or -1 */
	time_t retry_at;	/* Retry-After as a date, or -1 */
	time_t date;		/* the Date header, or -1 */
	time_t date_seen;	/* this machine's clock when it came */
	/* Content-Range "bytes first-last/size": first -1 when absent or
	   not of that form, size -1 when "*" */
	int64_t range_first, range_last, range_size;
	int overflow;		/* internal: body cap or ENOMEM hit */
	/* internal, for graph_req's slice: the status line's code, the
	   body's bytes seen, and whether the window is in (reading
	   stopped there) */
	long line_status;
	uint64_t body_seen;
	uint64_t slice_off;
	size_t slice_len;
	bool slice_full;
};

void graph_resp_init(struct graph_resp *resp, const struct graph *g);
void graph_resp_release(struct graph_resp *resp);

/*
 * Sends req, with retries and one re-authentication after a 401 (see
 * request.c). Returns 0 when the final status is 2xx or 3xx (redirects
 * are not followed: resp->location says where), else a negative errno
 * equal to -graph_err_to_errno(err), or a local -ENOMEM/-EINVAL/-EACCES,
 * -ECANCELED (req->cancel), or the errno of a failed read of req->src.
 * err may be NULL. Does not count stats.failures: the public call does
 * that once.
 */
int graph_call(struct graph *g, const struct graph_req *req,
	       struct graph_resp *resp, struct graph_err *err);

/* graph_call() on a handle the caller holds (NULL: one from the pool). */
int graph_call_on(struct graph *g, CURL *h, const struct graph_req *req,
		  struct graph_resp *resp, struct graph_err *err);

/*
 * Whether graph_call() retries a request that failed with err (and would
 * have gone on had retries remained): the "transient" failures.
 */
bool graph_err_transient(const struct graph_req *req,
			 const struct graph_err *err);

/*
 * Whether one attempt that went out and failed with err may have been
 * carried out: no reply after sending, a 5xx, a success whose reply
 * could not be used. A refusal (4xx), a redirect, and a transport failure
 * before the request could go (no connection, no name, no TLS) were not.
 */
bool graph_attempt_unsettled(const struct graph_err *err);

/* Hands a line to the trace callback, if any (at most 1023 bytes). */
void graph_trace(struct graph *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A JSON request as graph_request() makes it, without counting a failure:
 * *out receives the parsed body, or NULL when it is empty and !need_body.
 * A 3xx, a non-JSON body, or an empty one when need_body, is -EPROTO.
 */
int graph_fetch(struct graph *g, const char *method, const char *path,
		const json_t *body, bool need_body, json_t **out,
		struct graph_err *err);

/*
 * graph_fetch() for a request built by the caller (req->body already
 * text), on the handle h (NULL: one from the pool).
 */
int graph_fetch_req(struct graph *g, CURL *h, const struct graph_req *req,
		    bool need_body, json_t **out, struct graph_err *err);

/*
 * Appends the absolute URL for path to out: absolute http(s) URLs
 * verbatim, anything else after the endpoint (a '/' added if missing).
 * Spaces become %20; other control bytes are -EINVAL.
 */
int graph_url_build(const struct graph *g, const char *path, struct buf *out);

enum graph_stat {
	GRAPH_STAT_REQUESTS,
	GRAPH_STAT_RETRIES,
	GRAPH_STAT_FAILURES,
	GRAPH_STAT_TOKEN_FETCHES,
};

void graph_stats_count(struct graph *g, enum graph_stat which);

/* Fills p with n random bytes (getrandom, then /dev/urandom). */
int graph_random(void *p, size_t n);

/* ---- upload_ranges.c ------------------------------------------------------ */

/*
 * Byte ranges of an upload session, both ends included, as written in
 * nextExpectedRanges ("0-4533321"). Pure code, no I/O: unit-tested.
 */
struct graph_range {
	uint64_t first;
	uint64_t last;
};

/* A set of ranges: sorted, disjoint and never touching. */
struct graph_ranges {
	struct graph_range *v;	/* owned */
	size_t n;
	size_t alloc;
};

void graph_ranges_init(struct graph_ranges *s);
void graph_ranges_release(struct graph_ranges *s);

/* The decimal number at *p (one digit at least), *p moved past it;
   -EINVAL on no digit or overflow. */
int graph_u64_parse(const char **p, uint64_t *out);

/*
 * Parses "a-b" (or "a-": to the end) for a file of size bytes. An end at
 * or past size is clamped to size - 1: the print doc's own example ends
 * its last range at size. -EINVAL for anything else, a start past the
 * end, or a start at or past size.
 */
int graph_range_parse(const char *text, uint64_t size, struct graph_range *out);

/* Adds [first, last] to the set, merging neighbours. 0 or -ENOMEM. */
int graph_ranges_add(struct graph_ranges *s, uint64_t first, uint64_t last);

/* Keeps in s only what t also holds. 0 or -ENOMEM (s unchanged). */
int graph_ranges_intersect(struct graph_ranges *s, const struct graph_ranges *t);

/*
 * Fills out (emptied first) from a nextExpectedRanges array. -EPROTO when
 * it is not an array of valid ranges: such a report is to be ignored
 * whole, never half-used.
 */
int graph_ranges_from_json(const json_t *array, uint64_t size,
			   struct graph_ranges *out);

/* The number of bytes in the set. */
uint64_t graph_ranges_bytes(const struct graph_ranges *s);

/*
 * Takes the next range to send off the front of s: from the first
 * missing byte up to the next multiple of chunk (0: no limit), so that
 * after a hole the ranges fall back onto chunk boundaries. false when s
 * is empty.
 */
bool graph_ranges_take(struct graph_ranges *s, uint64_t chunk,
		       struct graph_range *out);

#endif
