/*
 * request.c — the one request path, graph_call(): headers, the bearer
 * rule, body cap, streamed bodies, retries, 401 re-authentication and
 * tracing.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "auth_private.h"
#include "buf.h"
#include "graph.h"
#include "graph_private.h"

#ifndef UPFS_VERSION
#define UPFS_VERSION "0"
#endif

#define GRAPH_RETRY_AFTER_MAX_S 60
/* How long one request waits out Retry-After answers in all. */
#define GRAPH_THROTTLE_BUDGET_S 120
#define GRAPH_RETRY_AFTER_SANE_S 86400
#define GRAPH_BACKOFF_FIRST_MS 250L
#define GRAPH_BACKOFF_MAX_MS 8000L

/* How often a backoff looks at req->cancel. */
#define GRAPH_CANCEL_POLL_MS 100L

/* One call's transfer state, reached from curl's callbacks. */
struct graph_xfer {
	struct graph_resp *resp;
	const struct graph_req *req;
	const char *url;	/* what is requested */
	const char *shown;	/* what is traced: no query off-origin */
	char rid[37];		/* client-request-id, the same for retries */
	char errbuf[CURL_ERROR_SIZE];
	char *src_copy;		/* a small req->src, read whole (owned) */
	uint64_t src_pos;	/* bytes of req->src handed to curl */
	int src_err;		/* negative errno of a failed read, or 0 */
	bool replayed;		/* curl re-sent it on a fresh connection */
	bool performed;		/* this attempt reached curl_easy_perform */
	/* an attempt went out and may have been carried out
	   (graph_attempt_unsettled) */
	bool unsettled;
};

/*
 * libcurl re-sends a request by itself when the reused connection it went
 * out on dies before any reply (transfer.c, Curl_retry_request), POST
 * included. That is harmless for GET and deadly for a job create, so for
 * requests that are not idempotent we listen for the line it logs then.
 */
static int graph_on_debug(CURL *h, curl_infotype type, char *data,
			  size_t size, void *arg)
{
	static const char died[] = "Connection died, retrying a fresh connect";
	struct graph_xfer *x = arg;

	(void)h;
	if (type == CURLINFO_TEXT && size >= sizeof(died) - 1 &&
	    memcmp(data, died, sizeof(died) - 1) == 0)
		x->replayed = true;
	return 0;
}


void graph_trace(struct graph *g, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!g->trace)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	g->trace(g->trace_arg, line);
}

/* A version 4 UUID; if no randomness is to be had, the clock will do. */
static void graph_uuid_new(char out[37])
{
	unsigned char b[16] = { 0 };
	struct timespec ts;
	size_t i, o = 0;

	if (graph_random(b, sizeof(b)) < 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		memcpy(b, &ts, sizeof(ts) < sizeof(b) ? sizeof(ts) : sizeof(b));
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		snprintf(out + o, 3, "%02x", b[i]);
		o += 2;
	}
	out[o] = '\0';
}

/* ---- responses -------------------------------------------------------- */

void graph_resp_init(struct graph_resp *resp, const struct graph *g)
{
	memset(resp, 0, sizeof(*resp));
	buf_init(&resp->body, g->max_body);
	resp->retry_after = -1;
	resp->retry_at = -1;
	resp->date = -1;
	resp->range_first = -1;
	resp->range_size = -1;
}

static void graph_resp_reset_headers(struct graph_resp *resp)
{
	free(resp->location);
	resp->location = NULL;
	free(resp->operation_location);
	resp->operation_location = NULL;
	resp->request_id[0] = '\0';
	resp->retry_after = -1;
	resp->retry_at = -1;
	resp->date = -1;
	resp->range_first = -1;
	resp->range_size = -1;
}

void graph_resp_release(struct graph_resp *resp)
{
	graph_resp_reset_headers(resp);
	buf_release(&resp->body);
}

/*
 * Seconds, or an HTTP date; -1 if neither. At least 1: a "0", or a date
 * already past (a clock ahead of the service's, a date's whole second
 * just gone), would send again at once, and retries count against the
 * limit that throttled the request (reference §5.3).
 */
/* Seconds to wait, at least 1 (never "at once") and at most a day. */
static int graph_retry_after_clamp(long secs)
{
	if (secs < 1)
		return 1;
	return (int)(secs < GRAPH_RETRY_AFTER_SANE_S ? secs
						     : GRAPH_RETRY_AFTER_SANE_S);
}

/* An HTTP date (Retry-After's other form, the Date header), or -1. */
static time_t graph_http_date(const char *v, size_t len)
{
	char tmp[64];

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	return curl_getdate(tmp, NULL);
}

/*
 * Retry-After: seconds, or an HTTP date (*at set, and the seconds until
 * then by this machine's clock, until the reply's Date corrects them:
 * graph_retry_after_settle). -1 when unreadable.
 */
static int graph_retry_after_parse(const char *v, size_t len, time_t *at)
{
	long secs = 0;
	time_t when;
	size_t i;

	*at = -1;
	if (len == 0)
		return -1;
	for (i = 0; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
		if (secs < GRAPH_RETRY_AFTER_SANE_S)
			secs = secs * 10 + (v[i] - '0');
	}
	if (i < len) {
		when = graph_http_date(v, len);
		if (when < 0)
			return -1;
		*at = when;
		secs = when > time(NULL) ? (long)(when - time(NULL)) : 0;
	}
	return graph_retry_after_clamp(secs);
}

/*
 * A Retry-After given as a date is measured from the reply's own Date,
 * as both are the server's clock: one of this machine's that is off by
 * minutes would otherwise add them to the wait, or drop it.
 */
static void graph_retry_after_settle(struct graph_resp *resp)
{
	if (resp->retry_at >= 0 && resp->date >= 0)
		resp->retry_after = graph_retry_after_clamp(
			(long)(resp->retry_at - resp->date));
}

/* If line is "name: value", points *val at the trimmed value. */
static bool graph_header_is(const char *line, size_t len, const char *name,
			    const char **val, size_t *vlen)
{
	size_t n = strlen(name);

	if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
		return false;
	line += n + 1;
	len -= n + 1;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len && strchr(" \t\r\n", line[len - 1]))
		len--;
	*val = line;
	*vlen = len;
	return true;
}

static int graph_keep_header(char **slot, const char *v, size_t vlen)
{
	free(*slot);
	*slot = strndup(v, vlen);
	return *slot ? 0 : -ENOMEM;
}

/* The code of a status line ("HTTP/1.1 200 OK", "HTTP/2 206"), or 0. */
static long graph_status_of_line(const char *line, size_t len)
{
	size_t i = 5;
	long code = 0;
	int digits = 0;

	while (i < len && line[i] != ' ')
		i++;
	while (i < len && line[i] == ' ')
		i++;
	for (; i < len && digits < 3 && line[i] >= '0' && line[i] <= '9';
	     i++, digits++)
		code = code * 10 + (line[i] - '0');
	return digits == 3 ? code : 0;
}

/*
 * Content-Range "bytes first-last/size", or with size "*"; anything
 * else (a 416's "bytes * /size", a number past INT64_MAX) leaves
 * range_first -1. The value ends the header line, so digits stop there.
 */
static void graph_content_range_parse(struct graph_resp *resp,
				      const char *v, size_t len)
{
	const char *p = v + 6, *end = v + len;
	uint64_t first, last, size = 0;
	bool any_size = false;

	resp->range_first = -1;
	if (len < 6 || strncasecmp(v, "bytes ", 6) != 0 ||
	    graph_u64_parse(&p, &first) || p == end || *p++ != '-' ||
	    graph_u64_parse(&p, &last) || p == end || *p++ != '/')
		return;
	if (p < end && *p == '*')
		any_size = ++p == end;
	else if (graph_u64_parse(&p, &size) || size <= last)
		return;
	if (p != end || first > last || last > INT64_MAX)
		return;
	resp->range_first = (int64_t)first;
	resp->range_last = (int64_t)last;
	resp->range_size = any_size ? -1 : (int64_t)size;
}

static size_t graph_on_header(char *line, size_t size, size_t n, void *arg)
{
	struct graph_resp *resp = arg;
	size_t len = size * n, vlen;
	const char *v;
	char id[sizeof(resp->request_id)];

	/* A new status line (after 100 Continue) starts a new header set. */
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		graph_resp_reset_headers(resp);
		resp->line_status = graph_status_of_line(line, len);
	} else if (graph_header_is(line, len, "request-id", &v, &vlen)) {
		if (vlen >= sizeof(id))
			vlen = sizeof(id) - 1;
		memcpy(id, v, vlen);
		id[vlen] = '\0';
		graph_err_copy(resp->request_id, sizeof(resp->request_id), id);
	} else if (graph_header_is(line, len, "retry-after", &v, &vlen)) {
		resp->retry_after = graph_retry_after_parse(v, vlen,
							    &resp->retry_at);
	} else if (graph_header_is(line, len, "content-range", &v, &vlen)) {
		graph_content_range_parse(resp, v, vlen);
	} else if (graph_header_is(line, len, "date", &v, &vlen)) {
		resp->date = graph_http_date(v, vlen);
		resp->date_seen = time(NULL);
	} else if (graph_header_is(line, len, "location", &v, &vlen)) {
		if (graph_keep_header(&resp->location, v, vlen)) {
			resp->overflow = -ENOMEM;
			return 0;
		}
	} else if (graph_header_is(line, len, "operation-location", &v,
				   &vlen)) {
		if (graph_keep_header(&resp->operation_location, v, vlen)) {
			resp->overflow = -ENOMEM;
			return 0;
		}
	}
	return len;
}

static bool graph_cancelled(const struct graph_req *req)
{
	return req->cancel && atomic_load(req->cancel);
}

/* Streams req->src: a slice of a file, read with pread() at its offset. */
static size_t graph_on_read(char *dst, size_t size, size_t n, void *arg)
{
	struct graph_xfer *x = arg;
	const struct graph_src *src = x->req->src;
	size_t want = size * n;
	ssize_t r;

	if (graph_cancelled(x->req))
		return CURL_READFUNC_ABORT;
	if (x->src_pos >= src->len)
		return 0;
	if (want > src->len - x->src_pos)
		want = (size_t)(src->len - x->src_pos);
	do {
		r = pread(src->fd, dst, want, (off_t)(src->off + x->src_pos));
	} while (r < 0 && errno == EINTR);
	if (r <= 0) {
		/* r == 0: the file is shorter than the size promised. */
		x->src_err = r < 0 ? -errno : -EIO;
		return CURL_READFUNC_ABORT;
	}
	x->src_pos += (uint64_t)r;
	return (size_t)r;
}

/* curl rewinds the body to resend it on a fresh connection. */
static int graph_on_seek(void *arg, curl_off_t offset, int origin)
{
	struct graph_xfer *x = arg;

	if (origin != SEEK_SET || offset < 0 ||
	    (uint64_t)offset > x->req->src->len)
		return CURL_SEEKFUNC_CANTSEEK;
	x->src_pos = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static int graph_on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
			     curl_off_t ultotal, curl_off_t ulnow)
{
	struct graph_xfer *x = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return graph_cancelled(x->req) ? 1 : 0;
}

/*
 * The part of a body's chunk inside the request's window, the body's
 * first byte being the document's byte base: a host that ignores Range
 * sends the document from its first byte (200), and one may answer a
 * range from further back than asked (a 206 from a block boundary, which
 * RFC 9110 allows). Only the window is kept. Returning short once the
 * window is in ends a longer transfer there (graph_outcome: not an
 * error).
 */
static size_t graph_on_body_slice(struct graph_resp *resp, const char *data,
				  size_t len, uint64_t base, uint64_t body_end)
{
	uint64_t end = resp->slice_off + resp->slice_len;
	uint64_t at = base + resp->body_seen, from = at, to = at + len;
	int rc = 0;

	if (from < resp->slice_off)
		from = resp->slice_off;
	if (to > end)
		to = end;
	if (from < to)
		rc = buf_append(&resp->body, data + (from - at),
				(size_t)(to - from));
	if (rc) {
		resp->overflow = rc;
		return 0;
	}
	resp->body_seen += len;
	/* A body that ends with the window ends by itself: stopping it
	   would cost the connection. */
	if (at + len >= end && body_end > end) {
		resp->slice_full = true;
		return 0;
	}
	return len;
}

static size_t graph_on_body(char *data, size_t size, size_t n, void *arg)
{
	struct graph_resp *resp = arg;
	int rc;

	if (resp->slice_len && resp->line_status == 200)
		return graph_on_body_slice(resp, data, size * n, 0,
					   UINT64_MAX);
	if (resp->slice_len && resp->line_status == 206 &&
	    resp->range_first >= 0)
		return graph_on_body_slice(resp, data, size * n,
					   (uint64_t)resp->range_first,
					   (uint64_t)resp->range_last + 1);
	rc = buf_append(&resp->body, data, size * n);
	if (rc) {
		/* Returning short makes curl stop with CURLE_WRITE_ERROR. */
		resp->overflow = rc;
		return 0;
	}
	return size * n;
}

/* ---- one request ------------------------------------------------------- */

static bool graph_method_is(const struct graph_req *req, const char *m)
{
	return strcmp(req->method, m) == 0;
}

/* Upper-case letters only: the method becomes part of the request line. */
static bool graph_method_ok(const char *m)
{
	size_t i;

	for (i = 0; m[i]; i++) {
		if (m[i] < 'A' || m[i] > 'Z' || i >= 16)
			return false;
	}
	return i > 0;
}

static int graph_slist_add(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);

	if (!l)
		return -ENOMEM;
	*list = l;
	return 0;
}

/* Frees a header list, wiping the bearer token first. */
static void graph_slist_free(struct curl_slist *list)
{
	struct curl_slist *l;

	for (l = list; l; l = l->next) {
		if (strncasecmp(l->data, "Authorization:", 14) == 0)
			explicit_bzero(l->data, strlen(l->data));
	}
	curl_slist_free_all(list);
}

static int graph_slist_auth(struct curl_slist **list, const char *token)
{
	struct buf b;
	int rc;

	buf_init(&b, 0);
	rc = buf_printf(&b, "Authorization: Bearer %s", token);
	if (!rc)
		rc = graph_slist_add(list, b.data);
	if (b.data)
		explicit_bzero(b.data, b.alloc);
	buf_release(&b);
	return rc;
}

static int graph_headers(const struct graph_req *req, const char *token,
			 const char *rid, struct curl_slist **out)
{
	struct curl_slist *l = NULL;
	char line[128];
	size_t i;
	int rc;

	snprintf(line, sizeof(line), "client-request-id: %s", rid);
	rc = graph_slist_add(&l, "Accept: application/json");
	/* No 100-continue round trip before a body. */
	if (!rc)
		rc = graph_slist_add(&l, "Expect:");
	if (!rc)
		rc = graph_slist_add(&l, line);
	/*
	 * Without this the service hides every enum member declared after
	 * unknownFutureValue (most printer state details) behind that name.
	 */
	if (!rc && token)
		rc = graph_slist_add(&l, "Prefer: include-unknown-enum-members");
	if (!rc && (req->body || req->src)) {
		snprintf(line, sizeof(line), "Content-Type: %s",
			 req->content_type ? req->content_type
			 : req->src	   ? "application/octet-stream"
					   : "application/json");
		rc = graph_slist_add(&l, line);
	} else if (!rc) {
		/* An empty POST must not claim to be a form. */
		rc = graph_slist_add(&l, "Content-Type:");
	}
	for (i = 0; !rc && req->headers && req->headers[i]; i++)
		rc = graph_slist_add(&l, req->headers[i]);
	if (!rc && token)
		rc = graph_slist_auth(&l, token);
	if (rc)
		graph_slist_free(l);
	else
		*out = l;
	return rc;
}

/*
 * Up to 1 MiB, and no more than the body: curl allocates the buffer for
 * each transfer, and a 1 MiB one is an mmap and its page faults for a
 * 10 KB document. Four ranges in flight cost 4 MiB of buffers.
 */
#define GRAPH_UPLOAD_BUFFER ((uint64_t)1 << 20)

/*
 * A body up to this size goes out from memory, in the send that carries
 * the request's head (curl joins them below 64 KiB): streamed, it is a
 * second send, which a small document's range PUT waits on.
 */
#define GRAPH_SRC_COPY_MAX ((uint64_t)60 << 10)

/* x->src_copy holds req->src whole; false (nothing kept) when it could
   not be read, which the streamed form then meets and reports. */
static bool graph_copy_src(struct graph_xfer *x)
{
	const struct graph_src *src = x->req->src;
	size_t got = 0;
	ssize_t r;

	if (x->src_copy)
		return true;
	x->src_copy = malloc(src->len ? (size_t)src->len : 1);
	if (x->src_copy == NULL)
		return false;
	while (got < src->len) {
		r = pread(src->fd, x->src_copy + got, (size_t)src->len - got,
			  (off_t)(src->off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(x->src_copy);
			x->src_copy = NULL;
			return false;
		}
		got += (size_t)r;
	}
	return true;
}

/* A PUT whose body comes from req->src; curl sets Content-Length. */
static int graph_setup_src(CURL *h, struct graph_xfer *x)
{
	int bad = 0;

	if (!graph_method_is(x->req, "PUT") || x->req->body)
		return -EINVAL;
	if (x->req->src->len <= GRAPH_SRC_COPY_MAX && graph_copy_src(x)) {
		bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
					(curl_off_t)x->req->src->len) != 0;
		bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDS,
					x->src_copy) != 0;
		bad |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT") != 0;
		return bad ? -EINVAL : 0;
	}
	bad |= curl_easy_setopt(h, CURLOPT_UPLOAD, 1L) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				(curl_off_t)x->req->src->len) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_READFUNCTION, graph_on_read) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_READDATA, x) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, graph_on_seek) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_SEEKDATA, x) != 0;
	/* One read, send and poll per MiB, not per 64 KiB (curl's least is
	   16 KiB). */
	bad |= curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE,
				(long)(x->req->src->len < GRAPH_UPLOAD_BUFFER
					       ? x->req->src->len
					       : GRAPH_UPLOAD_BUFFER)) != 0;
	return bad ? -EINVAL : 0;
}

static int graph_setup_method(CURL *h, struct graph_xfer *x)
{
	const struct graph_req *req = x->req;
	bool get = graph_method_is(req, "GET"), head = graph_method_is(req, "HEAD");
	int bad = 0;

	if (req->src)
		return graph_setup_src(h, x);
	if ((get || head) && req->body)
		return -EINVAL;
	if (get)
		return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) ? -EINVAL : 0;
	if (head)
		return curl_easy_setopt(h, CURLOPT_NOBODY, 1L) ? -EINVAL : 0;
	if (graph_method_is(req, "DELETE") && !req->body)
		return curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE") ?
			       -EINVAL : 0;
	/* Graph wants a Content-Length on every POST, PUT and PATCH. */
	bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				(curl_off_t)(req->body ? req->body_len : 0)) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDS,
				req->body ? req->body : "") != 0;
	if (!graph_method_is(req, "POST"))
		bad |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
					req->method) != 0;
	return bad ? -EINVAL : 0;
}

static int graph_setup(struct graph *g, CURL *h, struct graph_xfer *x,
		       struct curl_slist *headers)
{
	int bad = 0;

	bad |= curl_easy_setopt(h, CURLOPT_URL, x->url) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_SHARE, g->share) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != 0;
	bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != 0;
	if (g->ca_file)
		bad |= curl_easy_setopt(h, CURLOPT_CAINFO, g->ca_file) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
				g->connect_timeout_ms) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
				g->low_speed_time_s) != 0;
	/* A body that trickles just above the low-speed limit ends too. */
	bad |= curl_easy_setopt(h, CURLOPT_TIMEOUT, g->request_timeout_s) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) != 0;
	if (x->req->once)
		bad |= curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "") != 0;
	bad |= curl_easy_setopt(h, CURLOPT_USERAGENT, "upfs/" UPFS_VERSION) != 0;
	/* A window's whole body may be any size: only the window is kept. */
	if (x->req->slice_len == 0)
		bad |= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
					(curl_off_t)g->max_body) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, graph_on_body) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, x->resp) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, graph_on_header) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_HEADERDATA, x->resp) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) != 0;
	if (strcmp(x->req->method, "POST") == 0 ||
	    strcmp(x->req->method, "PATCH") == 0) {
		bad |= curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION,
					graph_on_debug) != 0;
		bad |= curl_easy_setopt(h, CURLOPT_DEBUGDATA, x) != 0;
		bad |= curl_easy_setopt(h, CURLOPT_VERBOSE, 1L) != 0;
	}
	if (x->req->cancel) {
		bad |= curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION,
					graph_on_progress) != 0;
		bad |= curl_easy_setopt(h, CURLOPT_XFERINFODATA, x) != 0;
		bad |= curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) != 0;
	}
	return bad ? -EINVAL : 0;
}

static long graph_ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)(t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Turns what curl and the service said into err; returns the errno. */
static int graph_outcome(struct graph *g, struct graph_xfer *x, CURLcode cc,
			 long status, struct graph_err *err)
{
	struct graph_resp *resp = x->resp;

	graph_err_clear(err);
	err->replayed = x->replayed;
	graph_err_copy(err->request_id, sizeof(err->request_id),
		       resp->request_id);
	if (x->src_err) {
		err->body_errno = x->src_err;
		graph_err_setf(err, "cannot read the document at byte %llu: %s",
			       (unsigned long long)(x->req->src->off +
						    x->src_pos),
			       strerror(-x->src_err));
		return x->src_err;
	}
	if (cc == CURLE_ABORTED_BY_CALLBACK && graph_cancelled(x->req)) {
		graph_err_setf(err, "cancelled");
		return -ECANCELED;
	}
	if (cc == CURLE_WRITE_ERROR && resp->slice_full && !resp->overflow)
		cc = CURLE_OK;	/* the window was in: reading stopped */
	if (resp->overflow == -EFBIG || cc == CURLE_FILESIZE_EXCEEDED) {
		cc = CURLE_FILESIZE_EXCEEDED;
		snprintf(x->errbuf, sizeof(x->errbuf), "response body is larger "
			 "than the limit of %zu bytes", g->max_body);
	} else if (resp->overflow) {
		cc = CURLE_OUT_OF_MEMORY;
	}
	if (cc != CURLE_OK) {
		err->curl_code = (int)cc;
		graph_err_copy(err->message, sizeof(err->message),
			       x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
		return -graph_curl_to_errno((int)cc);
	}
	resp->status = status;
	graph_retry_after_settle(resp);	/* a 202's too (operations) */
	/* Upload and download hosts may keep clocks of their own. */
	if (resp->date >= 0 && !x->req->no_auth)
		graph_note_service_clock(g, resp->date, resp->date_seen);
	if (status >= 200 && status < 400)
		return 0;
	err->status = status;
	err->retry_after = resp->retry_after;
	graph_err_parse_body(err, resp->body.data, resp->body.len);
	return -graph_err_to_errno(err);
}

static int graph_attempt(struct graph *g, CURL *h, const struct graph_req *req,
			 struct graph_xfer *x, const char *token,
			 struct graph_err *err)
{
	struct curl_slist *headers = NULL;
	struct timespec t0;
	char what[512];
	long status = 0;
	CURLcode cc;
	int rc;

	curl_easy_reset(h);
	x->performed = false;
	buf_reset(&x->resp->body);
	graph_resp_reset_headers(x->resp);
	x->resp->overflow = 0;
	x->resp->status = 0;
	x->resp->line_status = 0;
	x->resp->body_seen = 0;
	x->resp->slice_off = req->slice_off;
	x->resp->slice_len = req->slice_len;
	x->resp->slice_full = false;
	x->errbuf[0] = '\0';
	x->src_pos = 0;
	x->src_err = 0;
	rc = graph_headers(req, token, x->rid, &headers);
	if (!rc)
		rc = graph_setup(g, h, x, headers);
	if (!rc)
		rc = graph_setup_method(h, x);
	if (rc) {
		graph_err_clear(err);
		graph_err_setf(err, "cannot set up the %s request", req->method);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	x->performed = true;
	cc = curl_easy_perform(h);
	graph_stats_count(g, GRAPH_STAT_REQUESTS);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	rc = graph_outcome(g, x, cc, status, err);
	if (g->trace) {
		if (rc)
			graph_err_format(err, what, sizeof(what));
		else
			snprintf(what, sizeof(what), "%ld", status);
		graph_trace(g, "%s %s -> %s (%ld ms)", req->method, x->shown,
			    what, graph_ms_since(&t0));
	}
out:
	/* The handle must not point at a freed list, even until reset. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	graph_slist_free(headers);
	return rc;
}

/* ---- retries ------------------------------------------------------------ */

static bool graph_idempotent(const struct graph_req *req)
{
	return graph_method_is(req, "GET") || graph_method_is(req, "HEAD") ||
	       graph_method_is(req, "PUT") || graph_method_is(req, "DELETE");
}

/*
 * Idempotent requests are retried on throttling, on a gateway time-out
 * and when the connection dropped mid-request. POST and PATCH may have
 * taken effect in those cases, so they are retried only on a 429 (a
 * throttled request fails without being carried out, Graph's throttling
 * guidance says) or a 503 with Retry-After, which names when to come
 * back; nothing says it did no work, so a success after it is reported
 * replayed. A quota spent (quotaLimitReached, sent with a 429 too)
 * is no throttle: asking again cannot help. A refused
 * connection or an unknown host is never retried: the caller serves its
 * cache at once instead of waiting out the backoff. Patient requests
 * (upload sessions, where a repeat is harmless and answered by a 416) are
 * also retried on 500, 502 and a stalled transfer.
 */
bool graph_err_transient(const struct graph_req *req,
			 const struct graph_err *err)
{
	bool idem = graph_idempotent(req);

	if (graph_err_is(err, "quotaLimitReached"))
		return false;
	if (err->status == 429)
		return true;
	if (req->once)
		return false;
	if (err->status == 503)
		return idem || err->retry_after >= 0;
	if (err->status == 504)
		return idem;
	if (err->status == 500 || err->status == 502)
		return idem && req->patient;
	if (err->status != 0)
		return false;
	switch (err->curl_code) {
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return idem;
	case CURLE_OPERATION_TIMEDOUT:
		return idem && req->patient;
	default:
		return false;
	}
}

/* Sleeps ms, in slices when req can be cancelled; false if it was. */
static bool graph_sleep_ms(const struct graph_req *req, long ms)
{
	struct timespec ts;
	long slice;

	while (ms > 0 && !graph_cancelled(req)) {
		slice = req->cancel && ms > GRAPH_CANCEL_POLL_MS
				? GRAPH_CANCEL_POLL_MS
				: ms;
		ts.tv_sec = slice / 1000;
		ts.tv_nsec = (slice % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		ms -= slice;
	}
	return !graph_cancelled(req);
}

/* Retry-After (capped), else full jitter over a doubling base. */
static bool graph_backoff(struct graph *g, const struct graph_xfer *x,
			  int attempt, int retry_after)
{
	long base = GRAPH_BACKOFF_FIRST_MS, ms;
	uint32_t r = 0;
	int i;

	if (retry_after >= 0) {
		ms = (retry_after < GRAPH_RETRY_AFTER_MAX_S
			      ? retry_after
			      : GRAPH_RETRY_AFTER_MAX_S) * 1000L;
	} else {
		for (i = 1; i < attempt && base < GRAPH_BACKOFF_MAX_MS; i++)
			base *= 2;
		if (base > GRAPH_BACKOFF_MAX_MS)
			base = GRAPH_BACKOFF_MAX_MS;
		graph_random(&r, sizeof(r));
		ms = (long)(r % (uint32_t)(base + 1));
	}
	graph_trace(g, "%s: retry %d of %d in %ld ms", x->shown, attempt,
		    g->max_retries, ms);
	return graph_sleep_ms(x->req, ms);
}

/*
 * After a 401: drop the token and take a fresh one. false when there is
 * none (a fixed token, an unchanged file): the 401 stands; or when
 * getting one failed: that error replaces it, as it says more.
 */
static bool graph_reauth(struct graph *g, char **token, int *rc,
			 struct graph_err *err)
{
	struct graph_err aerr;
	char *fresh = NULL;
	int r;

	graph_err_clear(&aerr);
	graph_auth_invalidate(g->auth, *token);
	r = graph_auth_get(g->auth, g, &fresh, &aerr);
	if (r) {
		*rc = r;
		*err = aerr;
		err->token_failed = 1;
		return false;
	}
	if (strcmp(fresh, *token) == 0) {
		graph_auth_token_free(fresh);
		return false;
	}
	graph_auth_token_free(*token);
	*token = fresh;
	return true;
}

static int graph_call_loop(struct graph *g, CURL *h, const struct graph_req *req,
			   struct graph_xfer *x, char **token,
			   struct graph_err *err)
{
	bool reauthed = false;
	int attempt = 0, throttled_s = 0, rc;
	/* What the gate may hold this request for, whoever shut it. */
	int64_t deadline = graph_throttle_deadline(GRAPH_THROTTLE_BUDGET_S);

	for (;;) {
		bool probe;
		int wait_s = 0;

		rc = graph_throttle_enter(&g->throttle, req->cancel, deadline,
					  &wait_s, &probe);
		if (rc == -EAGAIN) {
			/* As if this attempt had met the 429 itself: it was
			   not sent (an earlier one may still be unsettled). */
			graph_err_clear(err);
			err->status = 429;
			err->retry_after = wait_s;
			graph_err_setf(err, "throttled: the service asked for "
				       "%d s more without requests", wait_s);
			return rc;
		}
		if (rc) {
			graph_err_clear(err);
			graph_err_setf(err, "cancelled");
			return rc;
		}
		rc = graph_attempt(g, h, req, x, *token, err);
		graph_throttle_leave(&g->throttle, probe, err);
		if (rc == 0)
			return 0;
		if (x->performed && graph_attempt_unsettled(err))
			x->unsettled = true;
		/* An attempt of this DELETE may have been carried out (its
		   reply lost, a 5xx): a 404 after it is the deletion done. */
		if (graph_method_is(req, "DELETE") && x->unsettled &&
		    err->status == 404) {
			graph_trace(g, "%s: 404 after an attempt that may have "
				       "deleted it: deleted", x->shown);
			graph_err_clear(err);
			x->resp->status = 204;
			buf_reset(&x->resp->body);
			return 0;
		}
		if (err->status == 401 && *token && !reauthed) {
			reauthed = true;
			if (!graph_reauth(g, token, &rc, err))
				return rc;
			graph_stats_count(g, GRAPH_STAT_RETRIES);
			graph_trace(g, "%s: token refused, retrying once with "
				       "a new one", x->shown);
			continue;
		}
		if (!graph_err_transient(req, err))
			return rc;
		/*
		 * A Retry-After is the service saying when: waited out within
		 * a time budget, however many windows that takes; other
		 * failures get a count of attempts.
		 */
		if (err->retry_after >= 0) {
			/* Never 0 (the parse says at least 1): never endless. */
			throttled_s += err->retry_after > 0 ? err->retry_after
							    : 1;
			if (throttled_s > GRAPH_THROTTLE_BUDGET_S)
				return rc;
		} else if (attempt >= g->max_retries) {
			return rc;
		}
		attempt++;
		graph_stats_count(g, GRAPH_STAT_RETRIES);
		/* A Retry-After that shut the gate is waited out there,
		   which knows this request's deadline (a sleep here would
		   not); any other (a 504's) is slept here. */
		if (!graph_throttle_shuts(err) &&
		    !graph_backoff(g, x, attempt, err->retry_after)) {
			graph_err_clear(err);
			graph_err_setf(err, "cancelled");
			return -ECANCELED;
		}
	}
}

/* Builds the URL and its traced form; decides whether to send a token. */
static int graph_call_prepare(struct graph *g, const struct graph_req *req,
			      struct buf *url, struct buf *shown, bool *auth,
			      struct graph_err *err)
{
	bool same;
	size_t n;
	int rc;

	if (!req->method || !graph_method_ok(req->method) || !req->path) {
		graph_err_setf(err, "bad request method or path");
		return -EINVAL;
	}
	rc = graph_url_build(g, req->path, url);
	if (rc) {
		graph_err_setf(err, "bad request path");
		return rc;
	}
	same = !graph_is_absolute(req->path) || graph_same_origin(g, url->data);
	/* The token goes only to the endpoint's own scheme, host and port. */
	*auth = same && !req->no_auth;
	/* Foreign and pre-authenticated URLs may carry secrets in the query. */
	n = url->len;
	if (!*auth)
		n = strcspn(url->data, "?");
	rc = buf_append(shown, url->data, n);
	if (!rc && n < url->len)
		rc = buf_append_str(shown, "?...");
	return rc;
}

int graph_call_on(struct graph *g, CURL *held, const struct graph_req *req,
		  struct graph_resp *resp, struct graph_err *err)
{
	struct graph_xfer x = { .resp = resp, .req = req };
	struct graph_err tmp;
	struct buf url, shown;
	char *token = NULL;
	CURL *h = NULL;
	bool auth = false;
	int rc;

	if (!err)
		err = &tmp;
	graph_err_clear(err);
	buf_init(&url, 0);
	buf_init(&shown, 0);
	rc = graph_call_prepare(g, req, &url, &shown, &auth, err);
	if (rc)
		goto out;
	if (auth) {
		rc = graph_auth_get(g->auth, g, &token, err);
		if (rc) {
			err->token_failed = 1;
			goto out;
		}
	}
	h = held ? held : graph_handle_get(g);
	if (!h) {
		rc = -ENOMEM;
		goto out;
	}
	x.url = url.data;
	x.shown = shown.data;
	graph_uuid_new(x.rid);
	rc = graph_call_loop(g, h, req, &x, &token, err);
out:
	if (h && h != held)
		graph_handle_put(g, h);
	else if (h)
		/* The handle must not point at this call's stack. */
		curl_easy_reset(h);
	graph_auth_token_free(token);
	free(x.src_copy);
	buf_release(&url);
	buf_release(&shown);
	if (rc == 0) {
		graph_err_clear(err);
		/* A success sent twice must still say so: by libcurl, or by
		   us after an attempt that may have been carried out (a POST
		   retried after a 503 with Retry-After: nothing says that
		   503 did no work). */
		err->replayed = x.replayed || x.unsettled;
	} else {
		/* Whatever the last attempt met, an earlier one may have
		   been carried out (the error kept is the last one's). */
		err->unsettled = x.unsettled;
	}
	return rc;
}

int graph_call(struct graph *g, const struct graph_req *req,
	       struct graph_resp *resp, struct graph_err *err)
{
	return graph_call_on(g, NULL, req, resp, err);
}

int graph_throttled_for_s(struct graph *g)
{
	return graph_throttle_remaining_s(&g->throttle);
}
