/*
 * errors.c — from what the service or curl said to an errno and a line of
 * text. Two foreign error spaces, one switch each (HTTP status, CURLcode),
 * plus a short table of Graph/OAuth2 codes whose meaning is sharper than
 * their status.
 *
 * The errno is chosen for what the caller (fs/) should do next:
 *   EAGAIN        transient: try again later, the same request may work
 *                 (429, 502, 503, 504, 509, 412)
 *   ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT
 *                 the service is unreachable: serve the cache
 *   ECONNRESET    the connection dropped mid-request: the outcome of a
 *                 non-idempotent request is unknown
 *   EPROTO        the peer is not who or what we expected (TLS failure,
 *                 a 2xx whose body is unusable)
 *   EACCES        not allowed, or no usable token (401, 403, OAuth errors)
 *   EIO           anything else
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "graph.h"
#include "graph_private.h"

/* Codes checked before the status: they say more than it does. */
static const struct {
	const char *code;
	int err;
} graph_code_errnos[] = {
	{ "quotaLimitReached", EDQUOT },	/* 403, 429 or 507 */
	{ "nameAlreadyExists", EEXIST },	/* a 409 that is a name clash */
	{ "activityLimitReached", EAGAIN },	/* throttling by another name */
	{ "unauthenticated", EACCES },		/* also set for local token
						   failures (status 0) */
	{ "invalid_client", EACCES },		/* OAuth2: bad secret or id */
	{ "unauthorized_client", EACCES },
	{ "invalid_grant", EACCES },		/* expired refresh token */
	{ "interaction_required", EACCES },	/* a new sign-in needed (MFA) */
	{ "consent_required", EACCES },
};

/*
 * The code (in any case). Of the innermost innerError's, only a spent
 * quota, which the service may name under a general code such as a
 * throttling 429's and which says more than it; other detailed codes do
 * not override the status.
 */
static int graph_code_to_errno(const struct graph_err *err)
{
	size_t i;

	if (strcasecmp(err->inner_code, "quotaLimitReached") == 0)
		return EDQUOT;
	for (i = 0; i < sizeof(graph_code_errnos) / sizeof(graph_code_errnos[0]);
	     i++) {
		if (strcasecmp(err->code, graph_code_errnos[i].code) == 0)
			return graph_code_errnos[i].err;
	}
	return 0;
}

static int graph_status_to_errno(long status)
{
	/* A call that failed with a success status had an unusable body. */
	if (status >= 200 && status < 400)
		return EPROTO;
	switch (status) {
	case 400: /* invalidRequest, and print's "Invalid Operation" */
	case 415: /* unsupported media type */
	case 422: /* unprocessable entity */
		return EINVAL;
	case 401: /* the token was refused even after one refresh */
	case 403:
		return EACCES;
	case 404:
	case 410: /* gone: for a file system, it no longer exists */
		return ENOENT;
	case 405: /* the resource exists but does not take this method */
		return EOPNOTSUPP;
	case 408:
		return ETIMEDOUT;
	case 409: /* a state conflict, e.g. a connector that still has
		     printers; nameAlreadyExists is EEXIST (table above) */
	case 423: /* locked */
		return EBUSY;
	case 412: /* the object changed since it was read: re-read, retry */
	case 429:
	case 502:
	case 503:
	case 504:
	case 509: /* bandwidth limit: throttling */
		return EAGAIN;
	case 413:
		return EFBIG;
	case 416: /* upload range already received: resync the session */
		return ERANGE;
	case 501: /* not ENOSYS: the kernel takes that from a FUSE reply for
		     "never ask again" (ops_reply_err) */
		return EOPNOTSUPP;
	case 507:
		return ENOSPC;
	default: /* 500 and everything unforeseen */
		return EIO;
	}
}

int graph_curl_to_errno(int curl_code)
{
	switch ((CURLcode)curl_code) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_CONNECT:
		return ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return ETIMEDOUT;
	/*
	 * TLS failures are not "offline": a wrong certificate must not be
	 * papered over by serving the cache as if the network were down.
	 */
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CLIENTCERT:
		return EPROTO;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return ECONNRESET;
	case CURLE_OUT_OF_MEMORY:
		return ENOMEM;
	case CURLE_FILESIZE_EXCEEDED: /* also our own body cap */
		return EFBIG;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return EINVAL;
	default:
		return EIO;
	}
}

int graph_err_to_errno(const struct graph_err *err)
{
	int e;

	if (!err)
		return EIO;
	e = graph_code_to_errno(err);
	if (e)
		return e;
	if (err->status > 0)
		return graph_status_to_errno(err->status);
	if (err->curl_code)
		return graph_curl_to_errno(err->curl_code);
	return EIO;
}

/* The first words of a transport failure, by what the caller will do. */
static const char *graph_curl_what(int curl_code)
{
	switch (graph_curl_to_errno(curl_code)) {
	case ECONNREFUSED:
		return "connection refused";
	case EHOSTUNREACH:
		return "host not found";
	case ETIMEDOUT:
		return "timed out";
	case EPROTO:
		return "TLS failure";
	case ECONNRESET:
		return "connection dropped";
	case ENOMEM:
		return "out of memory";
	case EFBIG:
		return "response too large";
	case EINVAL:
		return "bad URL";
	default:
		return "transfer failed";
	}
}

void graph_err_format(const struct graph_err *err, char *out, size_t len)
{
	const char *msg;

	if (!out || len == 0)
		return;
	out[0] = '\0';
	if (!err)
		return;
	msg = err->message;
	if (err->status > 0) {
		/* The print service's missing-scope reply (reference §5.2)
		   does not say which: the fix is the sign-in's, not the
		   call's. */
		bool scope = err->status == 403 &&
			     strstr(msg, "required security scopes") != NULL;

		snprintf(out, len, "HTTP %ld%s%s%s%s%s%s%s%s", err->status,
			 err->code[0] ? " " : "", err->code,
			 msg[0] ? ": " : "", msg,
			 err->request_id[0] ? " (request-id " : "",
			 err->request_id, err->request_id[0] ? ")" : "",
			 scope ? "; the token lacks a permission this call "
				 "needs: see scope in upfsctl(1)" : "");
	} else if (err->curl_code) {
		snprintf(out, len, "%s%s%s", graph_curl_what(err->curl_code),
			 msg[0] ? ": " : "", msg);
	} else {
		snprintf(out, len, "%s", msg[0] ? msg : "unknown error");
	}
}

void graph_err_clear(struct graph_err *err)
{
	if (!err)
		return;
	memset(err, 0, sizeof(*err));
	err->retry_after = -1;
}

void graph_err_copy(char *dst, size_t size, const char *src)
{
	size_t i;

	if (size == 0)
		return;
	for (i = 0; src && src[i] && i + 1 < size; i++) {
		unsigned char c = (unsigned char)src[i];

		/* Logs and .upfs/status are one line per event. */
		dst[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	dst[i] = '\0';
}

void graph_err_setf(struct graph_err *err, const char *fmt, ...)
{
	char tmp[sizeof(err->message)];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	graph_err_copy(err->message, sizeof(err->message), tmp);
}

static void graph_err_copy_json(char *dst, size_t size, const json_t *v)
{
	if (json_is_string(v))
		graph_err_copy(dst, size, json_string_value(v));
}

/* How deep innerError objects are followed for a code. */
#define GRAPH_ERR_INNER_MAX 8

/* An error object's innerError (or innererror), or NULL. */
static json_t *graph_err_inner(const json_t *e)
{
	json_t *inner = json_object_get(e, "innerError");

	if (!inner)
		inner = json_object_get(e, "innererror");
	return json_is_object(inner) ? inner : NULL;
}

void graph_err_parse_body(struct graph_err *err, const char *body, size_t len)
{
	json_t *doc, *e, *inner;

	if (!err || !body || len == 0)
		return;
	doc = json_loadb(body, len, 0, NULL);
	if (!doc)
		return;
	e = json_object_get(doc, "error");
	if (json_is_object(e)) {
		graph_err_copy_json(err->code, sizeof(err->code),
				    json_object_get(e, "code"));
		graph_err_copy_json(err->message, sizeof(err->message),
				    json_object_get(e, "message"));
		inner = graph_err_inner(e);
		if (!err->request_id[0])
			graph_err_copy_json(err->request_id,
					    sizeof(err->request_id),
					    json_object_get(inner, "request-id"));
		/* Detailed codes nest (OneDrive's innererror.innererror). */
		for (int depth = 0; inner && depth < GRAPH_ERR_INNER_MAX;
		     depth++) {
			graph_err_copy_json(err->inner_code,
					    sizeof(err->inner_code),
					    json_object_get(inner, "code"));
			inner = graph_err_inner(inner);
		}
	} else if (json_is_string(e)) {
		graph_err_copy_json(err->code, sizeof(err->code), e);
		graph_err_copy_json(err->message, sizeof(err->message),
				    json_object_get(doc, "error_description"));
	}
	json_decref(doc);
}

bool graph_err_is(const struct graph_err *err, const char *code)
{
	return err && code && code[0] &&
	       (strcasecmp(err->code, code) == 0 ||
		strcasecmp(err->inner_code, code) == 0);
}

bool graph_err_unsettled(const struct graph_err *err)
{
	return err->replayed || err->unsettled;
}

bool graph_attempt_unsettled(const struct graph_err *err)
{
	if (err->status)
		return err->status < 300 || err->status >= 500;
	/* No reply: a transport failure after the request may have gone
	   out; none at all (nothing was sent), or one before it could, is
	   settled. */
	switch (err->curl_code) {
	case CURLE_OK:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return false;
	default:
		return true;
	}
}

bool graph_err_tls_untrusted(const struct graph_err *err)
{
	return err->curl_code == CURLE_PEER_FAILED_VERIFICATION ||
	       err->curl_code == CURLE_SSL_CACERT_BADFILE ||
	       err->curl_code == CURLE_SSL_ISSUER_ERROR ||
	       err->curl_code == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}
