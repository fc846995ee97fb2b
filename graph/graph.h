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
 *
 * POST and PATCH are retried only on a 429 (throttled: not carried out),
 * a 503 that carries Retry-After (which names when to come back; a
 * success after it reports err->replayed, as the 503 may have done the
 * work), or a 401 (sent once more with a fresh token). After a 5xx, a
 * 504 or a dropped connection (-ECONNRESET) a job may or may not have been
 * created: the caller must look before it repeats the request.
 *
 * While the service's Retry-After holds every request of the client, a
 * request waits for it at most 120 s from its start; past that it fails
 * at once as a 429 ("throttled"), not sent.
 */
#ifndef UPFS_GRAPH_H
#define UPFS_GRAPH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct graph;

struct graph_err {
	long status;		/* HTTP status; 0 when no response arrived */
	int curl_code;		/* CURLcode of a transport failure, else 0 */
	char code[64];		/* Graph error code ("itemNotFound"), or "" */
	/* The innermost innerError's code ("fragmentOverlap"), or "": the
	   detailed code some errors carry under a general one. */
	char inner_code[64];
	char message[256];	/* what the service or curl said, or "" */
	char request_id[64];	/* the response's request-id, or "" */
	int retry_after;	/* seconds from Retry-After, or -1 */
	/* Reading the request's body here (a document's bytes) failed: its
	   negative errno, else 0. It says nothing of the service. */
	int body_errno;
	/*
	 * A request that succeeded was sent more than once after an attempt
	 * that may have been carried out too: libcurl re-sent it on its own
	 * (the reused connection died before a reply), or it was retried
	 * after a 5xx (a POST after a 503 with Retry-After). The result is
	 * the last one's.
	 */
	int replayed;
	/*
	 * An attempt went out and may have been carried out: no reply came
	 * after it was sent, a 5xx, or a success whose reply could not be
	 * used. Set by the request layer; see graph_err_unsettled.
	 */
	int unsettled;
	/*
	 * No token could be had for the request (the token endpoint refused
	 * or could not be reached, the token or session file is missing):
	 * the service itself was not asked, so nothing the request carried
	 * was refused by it.
	 */
	int token_failed;
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
	const char *session_file;  /* a refresh token saved by `upfsctl login`
				      (graph_session_save); used when neither
				      access_token nor token_file is set */
	const char *scope;	   /* for refresh grants; NULL: the scope
				      saved in the session file */
	const char *ca_file;	   /* extra CA bundle; TLS is always verified */
	long connect_timeout_ms;   /* 0: 10000 */
	long low_speed_time_s;	   /* abort below 1 byte/s for this long; 0: 30 */
	long request_timeout_s;	   /* abort a request (each attempt) that takes
				      longer, body included; 0: 600; < 0:
				      no limit */
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
 * Any method with an optional JSON body (borrowed), e.g. POST .../jobs
 * with {"configuration":{}}. On success (any 2xx: 200, 201, 204) *out
 * (may be NULL) receives the parsed response body as a new reference, or
 * NULL when it was empty (204). A 2xx body that is not JSON is -EPROTO.
 * Retried as the header comment says: POST and PATCH only when refused.
 */
int graph_request(struct graph *g, const char *method, const char *path,
		  const json_t *body, json_t **out, struct graph_err *err);

/* Appends seg to out with every byte outside RFC 3986 unreserved escaped. */
int graph_escape_segment(struct buf *out, const char *seg);

/* The errno for a failed call: HTTP status and Graph code, or transport. */
int graph_err_to_errno(const struct graph_err *err);
/* Seconds the service's Retry-After still holds g's requests, or 0. */
int graph_throttled_for_s(struct graph *g);

/*
 * The service's TLS certificate could not be verified (unknown CA, wrong
 * host, bad ca_file): never a transient failure, never to be retried.
 */
bool graph_err_tls_untrusted(const struct graph_err *err);
/* Whether the service named this error code, as the error's code or as
   its innermost innerError's (Graph codes are compared without case). */
bool graph_err_is(const struct graph_err *err, const char *code);

/*
 * Whether a failed request may have been carried out all the same: an
 * attempt of it went out and got no reply, a 5xx (the service may have
 * done the work first) or a success whose reply could not be used, or
 * libcurl sent it twice (replayed: a refusal of the second may hide the
 * first's success). Any attempt counts, not only the last (a DELETE
 * retried after a lost reply, then refused). A refusal (4xx) was not
 * carried out, nor a request that never went out (no connection, no
 * token). The caller reads the service's state before it calls such a
 * write failed.
 */
bool graph_err_unsettled(const struct graph_err *err);

/* "HTTP 403 accessDenied: message (request-id …)" or the curl failure. */
void graph_err_format(const struct graph_err *err, char *out, size_t len);

void graph_stats_get(struct graph *g, struct graph_stats *out);

/*
 * How far the service's clock is ahead of this machine's, in whole
 * seconds (negative: behind), by the Date of the latest Graph reply that
 * had one: times the service stamps (a job's createdDateTime) are by its
 * clock. -ENODATA until a reply said.
 */
int graph_service_clock_offset(struct graph *g, int64_t *offset_s);

/* ---- document upload (upload sessions) --------------------------------- */

/*
 * Bytes per PUT: 20 x 200 KiB = 4,096,000. Universal Print takes less
 * than 10 MB a request and advises multiples of 200 KiB (OneDrive's
 * 320 KiB rule does not apply). 4 MB keeps a failed range cheap to send
 * again and progress fine-grained (a 50 MB file is 13 ranges), while with
 * UPFS_UPLOAD_PARALLEL ranges in flight the per-request round trip is
 * hidden. Memory does not grow with it: ranges are streamed from the file.
 */
#define UPFS_UPLOAD_CHUNK ((uint64_t)20 * 200 * 1024)

/* PUTs in flight at once: the service's documented maximum. */
#define UPFS_UPLOAD_PARALLEL 4

/*
 * Progress of an upload, for xattrs and .upfs/status (may be NULL).
 * Called only on the thread that called graph_upload_document(), before
 * it returns, each time the number of bytes the service holds grows
 * (bytes in flight are not counted); on success the last call has
 * uploaded == total. It must not call graph_upload_*() on the same URL.
 */
typedef void (*graph_progress_fn)(void *arg, uint64_t uploaded,
				  uint64_t total);

/*
 * Uploads size bytes read from fd (with pread, from offset 0; fd must be
 * seekable, and is neither moved nor closed) to an upload session URL
 * (borrowed; from createUploadSession's "uploadUrl", used verbatim).
 *
 * Ranges of at most UPFS_UPLOAD_CHUNK bytes, up to UPFS_UPLOAD_PARALLEL
 * PUTs at once from as many worker threads, each with its own curl
 * handle kept for the whole upload so its connection is reused; header
 * Content-Range "bytes a-b/size", Content-Length set by curl. No
 * Authorization header and no token ever goes to the upload URL (it is
 * pre-authenticated and may be on another host), and traces show it
 * without its query string, which carries a credential.
 *
 * Follows nextExpectedRanges from each 202 (several holes are fine, an
 * end at or past size is clamped to size - 1); on 416 GETs the session
 * and resumes from what it says is missing, so a session that already
 * holds some bytes (an earlier, interrupted call) is resumed, not
 * restarted. Each range is retried on 429, 500, 502, 503, 504, stalled
 * transfers and dropped connections, up to max_retries times with
 * backoff (Retry-After honoured); requests and retries are counted in
 * graph_stats.
 *
 * Returns 0 on the 201 that completes the document: *doc (may be NULL)
 * receives its JSON (a new reference; NULL if the body was not JSON).
 * -ENOENT when the session is gone (404/410: expired, cancelled, or
 * completed by an earlier call whose 201 was lost): the caller makes a
 * new session. -EAGAIN when a range's retries ran out. -EINVAL for size 0
 * or no URL; a failed read of fd returns its errno (-EIO when the file is
 * shorter than size); -EPROTO when the service stops making progress
 * without completing; other failures as graph_err_to_errno(err). On
 * failure the session is left as it is, for graph_upload_status() or
 * graph_upload_cancel().
 *
 * Memory stays flat: ranges are streamed from fd, never the whole file
 * (curl's upload buffer per worker, and reply bodies of a few bytes).
 */
int graph_upload_document(struct graph *g, const char *upload_url, int fd,
			  uint64_t size, graph_progress_fn progress, void *arg,
			  json_t **doc, struct graph_err *err);

/*
 * The missing ranges of an upload session (GET upload_url, no
 * Authorization), for resuming: *out receives a new reference to
 * {"expirationDateTime":…,"nextExpectedRanges":["a-b",…]}. -ENOENT when
 * the session is gone.
 */
int graph_upload_status(struct graph *g, const char *upload_url, json_t **out,
			struct graph_err *err);

/*
 * Cancels an upload session (DELETE upload_url, no Authorization); 0 also
 * when it is already gone (404/410).
 */
int graph_upload_cancel(struct graph *g, const char *upload_url,
			struct graph_err *err);

/* ---- document download and long-running calls ---------------------------- */

/*
 * GET value_path (…/documents/{id}/$value) without following its 302:
 * *url receives the pre-authenticated URL of the bytes (malloc'd).
 * -EPROTO when the service answers without a redirect.
 */
int graph_download_url(struct graph *g, const char *value_path, char **url,
		       struct graph_err *err);

/*
 * Appends up to len bytes of the document at url from off (a Range GET,
 * no Authorization). Fewer bytes, or none, at the end of the document.
 * -ESTALE when the URL's credential has expired (401/403/404/410): get a
 * new one with graph_download_url().
 */
int graph_download_range(struct graph *g, const char *url, uint64_t off,
			 size_t len, struct buf *out, struct graph_err *err);

/*
 * POSTs body to path, a call that answers 202 Accepted and names the
 * operation to poll (Operation-Location, or Location): *operation_url
 * receives it (malloc'd), *retry_after its Retry-After seconds or -1.
 * Poll it with graph_get(). Sent again only after a 429 (not carried
 * out): nothing lists operations, so a second could not be told from
 * the first (a second printer registered).
 */
int graph_start_operation(struct graph *g, const char *path,
			  const json_t *body, char **operation_url,
			  int *retry_after, struct graph_err *err);

/* The endpoint as configured, without a trailing slash. */
const char *graph_endpoint(const struct graph *g);

/* ---- sign-in: device code, sessions (login.c, session.c, auth.c) ------- */

/*
 * What the current token source says about itself, for .upfs/status.
 * Never holds a token.
 */
struct graph_auth_info {
	const char *source;	/* "access token", "token file", "session",
				   "client credentials" (static text) */
	char user[128];		/* the signed-in user, or "" if unknown */
	int64_t expires_at;	/* the current access token's expiry (Unix
				   seconds), or 0 if unknown / none yet */
	int expired;		/* 1: the session's refresh token was refused
				   (see graph_err_session_expired()) */
	char problem[192];	/* the last failure to save a rotated refresh
				   token, or "" */
};

void graph_auth_info_get(struct graph *g, struct graph_auth_info *out);

/*
 * Drops the cached access token and re-reads the token or session file on
 * the next request (SIGHUP). Safe from any thread.
 */
void graph_auth_reload(struct graph *g);

/*
 * Whether err says that the signed-in session is over and only a new
 * sign-in helps: OAuth2 invalid_grant (refresh token expired or revoked),
 * interaction_required, consent_required. Such failures are -EACCES.
 */
int graph_err_session_expired(const struct graph_err *err);

/*
 * A session as `upfsctl login` saves it: a JSON file of mode 0600 holding
 * the refresh token and what it was issued for. Every string is owned;
 * refresh_token is a secret, wiped by graph_session_release().
 */
struct graph_session {
	char *refresh_token;
	char *user;		/* the id_token's preferred_username, or NULL */
	char *client_id;	/* the app it was issued to, or NULL */
	char *authority;	/* where it was issued, or NULL */
	char *scope;		/* what was granted, or NULL */
	int64_t saved_at;	/* Unix seconds */
};

void graph_session_release(struct graph_session *s);

/*
 * Reads a session file. -ENOENT when it does not exist; -EACCES (message
 * in err) when it is not a regular file owned by us, or group or others
 * may read or write it: a secret that others can read is not used;
 * -EINVAL when it is not a session file.
 */
int graph_session_load(const char *path, struct graph_session *out,
		       struct graph_err *err);

/*
 * Writes a session file atomically: a new file created with O_EXCL and
 * mode 0600 next to path (so it is never readable by others, whatever the
 * umask), written, fsync'd, renamed over path, and the folder fsync'd.
 * The folder must exist.
 */
int graph_session_save(const char *path, const struct graph_session *s,
		       struct graph_err *err);

/*
 * The OAuth2 device-code flow (RFC 8628). Strings are owned;
 * device_code is a secret.
 */
struct graph_device_code {
	char *device_code;
	char *user_code;
	char *verification_uri;
	char *message;		/* the text to show, from the service */
	int interval;		/* seconds to wait between polls */
	int expires_in;		/* seconds the code lives */
	char *token_url;	/* internal: where to poll */
	char *client_id;
	char *authority;
	char *scope;
};

/*
 * POSTs {authority}/oauth2/v2.0/devicecode with client_id and scope
 * (space-separated) and fills dc (interval: 5 when the reply has none).
 */
int graph_login_start(struct graph *g, const char *authority,
		      const char *client_id, const char *scope,
		      struct graph_device_code *dc, struct graph_err *err);

/*
 * One poll of the token endpoint. 0: signed in, *out filled (release it).
 * -EAGAIN: not yet (authorization_pending), or slow_down, in which case
 * dc->interval has grown by 5 s; poll again after dc->interval seconds.
 * -ETIMEDOUT: the code expired (expired_token). -EACCES: the user
 * declined (authorization_declined, access_denied) or another OAuth2
 * error; err->code says which.
 */
int graph_login_poll(struct graph *g, struct graph_device_code *dc,
		     struct graph_session *out, struct graph_err *err);

void graph_device_code_release(struct graph_device_code *dc);

#endif
