/*
 * graph_private.h — helpers shared by the files of graph/ (not public API).
 *
 * graph_call() is the one place an HTTP request is made: URL building,
 * headers, the bearer rule, body cap, retries, the 401 re-authentication
 * and tracing all live behind it. Public calls and the token sources are
 * built on it; typed print calls (upload ranges without Authorization,
 * document downloads through a 302 Location) can be too.
 */
#ifndef UPFS_GRAPH_PRIVATE_H
#define UPFS_GRAPH_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "graph.h"

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

struct graph_req {
	const char *method;	  /* "GET", "POST", ... (upper case) */
	const char *path;	  /* relative to the endpoint, or absolute */
	const char *body;	  /* borrowed; NULL: no body */
	size_t body_len;
	const char *content_type; /* NULL: application/json when a body */
	const char *const *headers; /* extra "Name: value", NULL-terminated;
				       may be NULL */
	bool no_auth;		  /* never send Authorization (token endpoint,
				     pre-authenticated upload URLs) */
};

struct graph_resp {
	long status;		/* last HTTP status, 0 if none */
	struct buf body;	/* capped at the client's max_body */
	char *location;		/* owned; Location header or NULL */
	char request_id[64];	/* request-id header or "" */
	int retry_after;	/* seconds, or -1 */
	int overflow;		/* internal: body cap or ENOMEM hit */
};

void graph_resp_init(struct graph_resp *resp, const struct graph *g);
void graph_resp_release(struct graph_resp *resp);

/*
 * Sends req, with retries and one re-authentication after a 401 (see
 * client.c). Returns 0 when the final status is 2xx or 3xx (redirects are
 * not followed: resp->location says where), else a negative errno equal
 * to -graph_err_to_errno(err), or a local -ENOMEM/-EINVAL/-EACCES. err may
 * be NULL. Does not count stats.failures: the public call does that once.
 */
int graph_call(struct graph *g, const struct graph_req *req,
	       struct graph_resp *resp, struct graph_err *err);

/*
 * A JSON request as graph_request() makes it, without counting a failure:
 * *out receives the parsed body, or NULL when it is empty and !need_body.
 * A 3xx, a non-JSON body, or an empty one when need_body, is -EPROTO.
 */
int graph_fetch(struct graph *g, const char *method, const char *path,
		const json_t *body, bool need_body, json_t **out,
		struct graph_err *err);

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

#endif
