/*
 * graph.h — the Microsoft Graph client of upfs (libcurl + jansson).
 *
 * One struct graph per mount. It is safe to use from any number of threads
 * at once: each call borrows an idle curl easy handle from a small pool (no
 * handle is used by two threads at once) and returns it, so keep-alive
 * connections and TLS sessions are reused from call to call; the DNS cache
 * is shared through one curl share handle. (libcurl 7.88 does not support
 * sharing connections or TLS sessions between concurrent threads.)
 *
 * Every function that can fail returns 0 or a negative errno, and fills the
 * optional struct graph_err with what the service (or curl) said. This
 * module never logs; pass a trace callback for debug output.
 *
 * Paths: every function taking a path accepts either a path relative to
 * the configured endpoint ("/print/printers?$top=100") or an absolute URL
 * (an @odata.nextLink), which is requested verbatim.
 *
 * Retries: idempotent requests (GET, PUT, DELETE) are retried on 429, 503,
 * 504 and on connections dropped mid-request, honouring Retry-After and
 * otherwise backing off exponentially with jitter, up to max_retries times.
 * A refused connection is not retried: the caller learns at once that the
 * service is unreachable (err->status == 0) and can serve its cache.
 */
#ifndef UPFS_GRAPH_H
#define UPFS_GRAPH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct graph;

struct graph_err {
	long status;		/* HTTP status; 0 when no response arrived */
	int curl_code;		/* CURLcode of a transport failure, else 0 */
	char code[64];		/* Graph error code ("itemNotFound"), or "" */
	char message[256];	/* what the service or curl said, or "" */
	char request_id[64];	/* the response's request-id, or "" */
	int retry_after;	/* seconds from Retry-After, or -1 */
};

/* Called for each request and response line when tracing (-d). */
typedef void (*graph_trace_fn)(void *arg, const char *line);

struct graph_config {
	const char *endpoint;	   /* Graph base URL, version included */
	const char *authority;	   /* OAuth2 authority; token endpoint is
				      {authority}/oauth2/v2.0/token */
	const char *client_id;
	const char *client_secret; /* enables client-credentials tokens */
	const char *token_file;	   /* a bearer token in a file, re-read when
				      the file changes */
	const char *access_token;  /* a fixed bearer token (UPFS_ACCESS_TOKEN) */
	const char *ca_file;	   /* extra CA bundle; TLS is always verified */
	long connect_timeout_ms;   /* 0: 10000 */
	long low_speed_time_s;	   /* abort below 1 byte/s for this long; 0: 30 */
	int max_retries;	   /* < 0: 4 */
	size_t max_body;	   /* response body cap; 0: UPFS_BUF_DEFAULT_CAP */
	graph_trace_fn trace;	   /* may be NULL */
	void *trace_arg;
};

/* Request counters since graph_new(), for .upfs/status. */
struct graph_stats {
	uint64_t requests;	/* HTTP requests sent, retries included */
	uint64_t retries;
	uint64_t failures;	/* calls that returned an error */
	uint64_t token_fetches;
};

/*
 * Sets up a client. Strings in cfg are copied. Fails with -EINVAL (and a
 * message in err) when no token source is configured or the endpoint is
 * not an http(s) URL. Does no network I/O.
 */
int graph_new(struct graph **out, const struct graph_config *cfg,
	      struct graph_err *err);
void graph_free(struct graph *g);

/* GET one JSON document. *out is a new reference the caller must decref. */
int graph_get(struct graph *g, const char *path, json_t **out,
	      struct graph_err *err);

/*
 * GET a collection and every following page (@odata.nextLink) and return
 * all "value" elements in one new array. Stops with -EPROTO when a page is
 * not a collection or a nextLink repeats; *pages (may be NULL) receives
 * the number of pages fetched.
 */
int graph_list(struct graph *g, const char *path, json_t **out,
	       unsigned *pages, struct graph_err *err);

/*
 * Any method with an optional JSON body (borrowed). On success *out (may be
 * NULL) receives the parsed response body, or NULL when it was empty (204).
 */
int graph_request(struct graph *g, const char *method, const char *path,
		  const json_t *body, json_t **out, struct graph_err *err);

/* Appends seg to out with every byte outside RFC 3986 unreserved escaped. */
int graph_escape_segment(struct buf *out, const char *seg);

/* The errno for a failed call: HTTP status and Graph code, or transport. */
int graph_err_to_errno(const struct graph_err *err);

/* "HTTP 403 accessDenied: message (request-id …)" or the curl failure. */
void graph_err_format(const struct graph_err *err, char *out, size_t len);

void graph_stats_get(struct graph *g, struct graph_stats *out);

/* The endpoint as configured, without a trailing slash. */
const char *graph_endpoint(const struct graph *g);

#endif
