/*
 * client.c — the context (struct graph) and the one request path,
 * graph_call(): URL, headers, bearer rule, body cap, retries, 401
 * re-authentication, tracing. Public JSON calls sit on top.
 *
 * Easy handles: each call takes an idle handle from a small pool (or makes
 * one) and gives it back afterwards, so no handle is ever used by two
 * threads at once, and keep-alive connections and TLS sessions, which a
 * handle keeps across curl_easy_reset(), are reused by the next call on
 * any thread. The curl share handle carries only the DNS cache (and TLS
 * sessions on libcurl >= 8.10): libcurl 7.88 documents a shared
 * connection cache as unsafe across concurrent threads (KNOWN_BUGS 11.11)
 * and its OpenSSL backend raced on shared TLS sessions until 8.10.
 *
 * Locks: pool_lock, stats_lock and the share locks are leaves: nothing
 * else is taken while one is held. auth.c's locks are taken before them.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "auth_private.h"
#include "buf.h"
#include "graph.h"
#include "graph_private.h"

#ifndef UPFS_VERSION
#define UPFS_VERSION "0"
#endif

#define GRAPH_POOL_MAX 16
#define GRAPH_DEFAULT_CONNECT_MS 10000L
#define GRAPH_DEFAULT_LOW_SPEED_S 30L
#define GRAPH_DEFAULT_RETRIES 4
#define GRAPH_RETRY_AFTER_MAX_S 60
#define GRAPH_RETRY_AFTER_SANE_S 86400
#define GRAPH_BACKOFF_FIRST_MS 250L
#define GRAPH_BACKOFF_MAX_MS 8000L

struct graph {
	char *endpoint;		/* without trailing '/' */
	char *origin;		/* "scheme://host:port" of the endpoint */
	char *ca_file;
	long connect_timeout_ms;
	long low_speed_time_s;
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
	pthread_mutex_t stats_lock;	/* guards stats */
	struct graph_stats stats;
};

/* One call's transfer state, reached from curl's callbacks. */
struct graph_xfer {
	struct graph_resp *resp;
	const char *url;	/* what is requested */
	const char *shown;	/* what is traced: no query off-origin */
	char rid[37];		/* client-request-id, the same for retries */
	char errbuf[CURL_ERROR_SIZE];
};

/* curl_global_init must run once, before threads; nothing else is global. */
static pthread_once_t graph_curl_once = PTHREAD_ONCE_INIT;
static CURLcode graph_curl_init_rc;

static void graph_curl_init(void)
{
	graph_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

__attribute__((format(printf, 2, 3)))
static void graph_trace(struct graph *g, const char *fmt, ...)
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

void graph_stats_count(struct graph *g, enum graph_stat which)
{
	pthread_mutex_lock(&g->stats_lock);
	switch (which) {
	case GRAPH_STAT_REQUESTS:
		g->stats.requests++;
		break;
	case GRAPH_STAT_RETRIES:
		g->stats.retries++;
		break;
	case GRAPH_STAT_FAILURES:
		g->stats.failures++;
		break;
	case GRAPH_STAT_TOKEN_FETCHES:
		g->stats.token_fetches++;
		break;
	}
	pthread_mutex_unlock(&g->stats_lock);
}

void graph_stats_get(struct graph *g, struct graph_stats *out)
{
	pthread_mutex_lock(&g->stats_lock);
	*out = g->stats;
	pthread_mutex_unlock(&g->stats_lock);
}

const char *graph_endpoint(const struct graph *g)
{
	return g->endpoint;
}

int graph_random(void *p, size_t n)
{
	unsigned char *b = p;
	size_t got = 0;
	ssize_t r;
	int fd;

	while (got < n) {
		r = getrandom(b + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		got += (size_t)r;
	}
	if (got == n)
		return 0;
	/* Kernels before 3.17 have no getrandom(). */
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < n) {
		r = read(fd, b + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	return got == n ? 0 : -EIO;
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

/* ---- URLs ----------------------------------------------------------------- */

static bool graph_is_absolute(const char *path)
{
	return strncasecmp(path, "https://", 8) == 0 ||
	       strncasecmp(path, "http://", 7) == 0;
}

/*
 * "scheme://host:port", lower case, parsed by curl so that tricks such as
 * "https://graph.microsoft.com@evil.example/" name the real host.
 */
static int graph_url_origin(const char *url, char **out)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *p;
	struct buf b;
	CURLU *u;
	int rc = -EINVAL;

	*out = NULL;
	buf_init(&b, 0);
	u = curl_url();
	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT))
		goto out;
	rc = buf_printf(&b, "%s://%s:%s", scheme, host, port);
	if (rc)
		goto out;
	for (p = b.data; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	*out = buf_detach(&b, NULL);
out:
	buf_release(&b);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

static bool graph_same_origin(const struct graph *g, const char *url)
{
	char *origin = NULL;
	bool same;

	if (graph_url_origin(url, &origin) < 0)
		return false;
	same = strcmp(origin, g->origin) == 0;
	free(origin);
	return same;
}

int graph_url_build(const struct graph *g, const char *path, struct buf *out)
{
	size_t start = out->len;
	const char *p;
	int rc = 0;

	if (!graph_is_absolute(path)) {
		rc = buf_append_str(out, g->endpoint);
		if (!rc && path[0] != '/')
			rc = buf_append(out, "/", 1);
	}
	for (p = path; !rc && *p; p++) {
		unsigned char c = (unsigned char)*p;

		/* $filter expressions are written with spaces. */
		if (c == ' ')
			rc = buf_append(out, "%20", 3);
		else if (c < 0x20 || c == 0x7f)
			rc = -EINVAL;
		else
			rc = buf_append(out, p, 1);
	}
	if (rc) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return rc;
}

int graph_escape_segment(struct buf *out, const char *seg)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t start = out->len;
	const unsigned char *p;
	char esc[3];
	int rc = 0;

	for (p = (const unsigned char *)seg; !rc && *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			rc = buf_append(out, p, 1);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[*p >> 4];
		esc[2] = hex[*p & 15];
		rc = buf_append(out, esc, 3);
	}
	if (rc) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return rc;
}

/* ---- responses -------------------------------------------------------- */

void graph_resp_init(struct graph_resp *resp, const struct graph *g)
{
	memset(resp, 0, sizeof(*resp));
	buf_init(&resp->body, g->max_body);
	resp->retry_after = -1;
}

static void graph_resp_reset_headers(struct graph_resp *resp)
{
	free(resp->location);
	resp->location = NULL;
	resp->request_id[0] = '\0';
	resp->retry_after = -1;
}

void graph_resp_release(struct graph_resp *resp)
{
	graph_resp_reset_headers(resp);
	buf_release(&resp->body);
}

/* Seconds, or an HTTP date; -1 if neither. */
static int graph_retry_after_parse(const char *v, size_t len)
{
	char tmp[64];
	long secs = 0;
	time_t when;
	size_t i;

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	for (i = 0; i < len && tmp[i] >= '0' && tmp[i] <= '9'; i++) {
		if (secs < GRAPH_RETRY_AFTER_SANE_S)
			secs = secs * 10 + (tmp[i] - '0');
	}
	if (i < len) {
		when = curl_getdate(tmp, NULL);
		if (when < 0)
			return -1;
		secs = when > time(NULL) ? (long)(when - time(NULL)) : 0;
	}
	return (int)(secs < GRAPH_RETRY_AFTER_SANE_S ? secs
						     : GRAPH_RETRY_AFTER_SANE_S);
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

static size_t graph_on_header(char *line, size_t size, size_t n, void *arg)
{
	struct graph_resp *resp = arg;
	size_t len = size * n, vlen;
	const char *v;
	char id[sizeof(resp->request_id)];

	/* A new status line (after 100 Continue) starts a new header set. */
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		graph_resp_reset_headers(resp);
	} else if (graph_header_is(line, len, "request-id", &v, &vlen)) {
		if (vlen >= sizeof(id))
			vlen = sizeof(id) - 1;
		memcpy(id, v, vlen);
		id[vlen] = '\0';
		graph_err_copy(resp->request_id, sizeof(resp->request_id), id);
	} else if (graph_header_is(line, len, "retry-after", &v, &vlen)) {
		resp->retry_after = graph_retry_after_parse(v, vlen);
	} else if (graph_header_is(line, len, "location", &v, &vlen)) {
		free(resp->location);
		resp->location = strndup(v, vlen);
		if (!resp->location) {
			resp->overflow = -ENOMEM;
			return 0;
		}
	}
	return len;
}

static size_t graph_on_body(char *data, size_t size, size_t n, void *arg)
{
	struct graph_resp *resp = arg;
	int rc;

	rc = buf_append(&resp->body, data, size * n);
	if (rc) {
		/* Returning short makes curl stop with CURLE_WRITE_ERROR. */
		resp->overflow = rc;
		return 0;
	}
	return size * n;
}

/* ---- easy handles ------------------------------------------------------ */

static CURL *graph_handle_get(struct graph *g)
{
	CURL *h = NULL;

	pthread_mutex_lock(&g->pool_lock);
	if (g->npool)
		h = g->pool[--g->npool];
	pthread_mutex_unlock(&g->pool_lock);
	return h ? h : curl_easy_init();
}

static void graph_handle_put(struct graph *g, CURL *h)
{
	if (!h)
		return;
	/*
	 * Reset now: the handle points at this call's stack (error buffer,
	 * header list). Connections and TLS sessions survive a reset.
	 */
	curl_easy_reset(h);
	pthread_mutex_lock(&g->pool_lock);
	if (g->npool < GRAPH_POOL_MAX) {
		g->pool[g->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&g->pool_lock);
	if (h)
		curl_easy_cleanup(h);
}

static void graph_share_lock(CURL *h, curl_lock_data data,
			     curl_lock_access access, void *arg)
{
	struct graph *g = arg;

	(void)h;
	(void)access;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&g->share_locks[data]);
}

static void graph_share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	struct graph *g = arg;

	(void)h;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&g->share_locks[data]);
}

static int graph_share_new(struct graph *g)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	int bad = 0;

	g->share = curl_share_init();
	if (!g->share)
		return -ENOMEM;
	bad |= curl_share_setopt(g->share, CURLSHOPT_LOCKFUNC,
				 graph_share_lock) != CURLSHE_OK;
	bad |= curl_share_setopt(g->share, CURLSHOPT_UNLOCKFUNC,
				 graph_share_unlock) != CURLSHE_OK;
	bad |= curl_share_setopt(g->share, CURLSHOPT_USERDATA, g) != CURLSHE_OK;
	bad |= curl_share_setopt(g->share, CURLSHOPT_SHARE,
				 CURL_LOCK_DATA_DNS) != CURLSHE_OK;
	/* The runtime library counts, not the headers we built against. */
	if (v->version_num >= 0x080a00)
		bad |= curl_share_setopt(g->share, CURLSHOPT_SHARE,
					 CURL_LOCK_DATA_SSL_SESSION) !=
		       CURLSHE_OK;
	return bad ? -ENOMEM : 0;
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
	if (!rc && req->body) {
		snprintf(line, sizeof(line), "Content-Type: %s",
			 req->content_type ? req->content_type
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

static int graph_setup_method(CURL *h, const struct graph_req *req)
{
	bool get = graph_method_is(req, "GET"), head = graph_method_is(req, "HEAD");
	int bad = 0;

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
	bad |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "") != 0;
	bad |= curl_easy_setopt(h, CURLOPT_USERAGENT, "upfs/" UPFS_VERSION) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
				(curl_off_t)g->max_body) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, graph_on_body) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, x->resp) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, graph_on_header) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_HEADERDATA, x->resp) != 0;
	bad |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) != 0;
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
	graph_err_copy(err->request_id, sizeof(err->request_id),
		       resp->request_id);
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
	buf_reset(&x->resp->body);
	graph_resp_reset_headers(x->resp);
	x->resp->overflow = 0;
	x->resp->status = 0;
	x->errbuf[0] = '\0';
	rc = graph_headers(req, token, x->rid, &headers);
	if (!rc)
		rc = graph_setup(g, h, x, headers);
	if (!rc)
		rc = graph_setup_method(h, req);
	if (rc) {
		graph_err_clear(err);
		graph_err_setf(err, "cannot set up the %s request", req->method);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
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
 * taken effect in those cases, so they are retried only on a 429 or 503
 * with Retry-After: the service refused before doing any work. A refused
 * connection or an unknown host is never retried: the caller serves its
 * cache at once instead of waiting out the backoff.
 */
static bool graph_should_retry(const struct graph_req *req,
			       const struct graph_err *err)
{
	bool idem = graph_idempotent(req);

	if (err->status == 429 || err->status == 503)
		return idem || err->retry_after >= 0;
	if (err->status == 504)
		return idem;
	if (err->status != 0)
		return false;
	switch (err->curl_code) {
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return idem;
	default:
		return false;
	}
}

static void graph_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Retry-After (capped), else full jitter over a doubling base. */
static void graph_backoff(struct graph *g, const struct graph_xfer *x,
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
	graph_sleep_ms(ms);
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
	int attempt = 0, rc;

	for (;;) {
		rc = graph_attempt(g, h, req, x, *token, err);
		if (rc == 0)
			return 0;
		if (err->status == 401 && *token && !reauthed) {
			reauthed = true;
			if (!graph_reauth(g, token, &rc, err))
				return rc;
			graph_stats_count(g, GRAPH_STAT_RETRIES);
			graph_trace(g, "%s: token refused, retrying once with "
				       "a new one", x->shown);
			continue;
		}
		if (attempt >= g->max_retries || !graph_should_retry(req, err))
			return rc;
		attempt++;
		graph_stats_count(g, GRAPH_STAT_RETRIES);
		graph_backoff(g, x, attempt, err->retry_after);
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

int graph_call(struct graph *g, const struct graph_req *req,
	       struct graph_resp *resp, struct graph_err *err)
{
	struct graph_xfer x = { .resp = resp };
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
		if (rc)
			goto out;
	}
	h = graph_handle_get(g);
	if (!h) {
		rc = -ENOMEM;
		goto out;
	}
	x.url = url.data;
	x.shown = shown.data;
	graph_uuid_new(x.rid);
	rc = graph_call_loop(g, h, req, &x, &token, err);
out:
	graph_handle_put(g, h);
	graph_auth_token_free(token);
	buf_release(&url);
	buf_release(&shown);
	if (rc == 0)
		graph_err_clear(err);
	return rc;
}

/* ---- JSON calls ------------------------------------------------------- */

static int graph_fetch_parse(const struct graph_resp *resp, bool need_body,
			     json_t **out, struct graph_err *err)
{
	json_error_t jerr;

	if (resp->status >= 300) {
		err->status = resp->status;
		graph_err_setf(err, "unexpected redirect");
		return -EPROTO;
	}
	if (resp->body.len == 0 && !need_body)
		return 0;
	*out = json_loadb(resp->body.data ? resp->body.data : "",
			  resp->body.len, 0, &jerr);
	if (*out)
		return 0;
	err->status = resp->status;
	graph_err_copy(err->request_id, sizeof(err->request_id),
		       resp->request_id);
	/* Position only: jansson's text quotes the body. */
	if (resp->body.len == 0)
		graph_err_setf(err, "empty response");
	else
		graph_err_setf(err, "response is not JSON (line %d, column %d)",
			       jerr.line, jerr.column);
	return -EPROTO;
}

int graph_fetch(struct graph *g, const char *method, const char *path,
		const json_t *body, bool need_body, json_t **out,
		struct graph_err *err)
{
	struct graph_req req = { .method = method, .path = path };
	struct graph_resp resp;
	struct graph_err tmp;
	char *text = NULL;
	int rc;

	*out = NULL;
	if (!err)
		err = &tmp;
	graph_resp_init(&resp, g);
	if (body) {
		text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!text) {
			graph_err_clear(err);
			graph_err_setf(err, "request body is not valid JSON");
			rc = -EINVAL;
			goto out;
		}
		req.body = text;
		req.body_len = strlen(text);
	}
	rc = graph_call(g, &req, &resp, err);
	if (!rc)
		rc = graph_fetch_parse(&resp, need_body, out, err);
out:
	free(text);
	graph_resp_release(&resp);
	return rc;
}

int graph_get(struct graph *g, const char *path, json_t **out,
	      struct graph_err *err)
{
	int rc;

	rc = graph_fetch(g, "GET", path, NULL, true, out, err);
	if (rc)
		graph_stats_count(g, GRAPH_STAT_FAILURES);
	return rc;
}

int graph_request(struct graph *g, const char *method, const char *path,
		  const json_t *body, json_t **out, struct graph_err *err)
{
	json_t *doc = NULL;
	int rc;

	rc = graph_fetch(g, method, path, body, false, &doc, err);
	if (rc)
		graph_stats_count(g, GRAPH_STAT_FAILURES);
	if (out)
		*out = doc;
	else
		json_decref(doc);
	return rc;
}

/* ---- life cycle --------------------------------------------------------- */

static char *graph_strdup_opt(const char *s, bool *oom)
{
	char *d;

	if (!s || !*s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

static int graph_config_copy(struct graph *g, const struct graph_config *cfg,
			     struct graph_err *err)
{
	bool oom = false;
	size_t n;

	if (!cfg->endpoint || !graph_is_absolute(cfg->endpoint) ||
	    graph_url_origin(cfg->endpoint, &g->origin) < 0) {
		graph_err_setf(err, "endpoint '%s' is not an http(s) URL",
			       cfg->endpoint ? cfg->endpoint : "");
		return -EINVAL;
	}
	g->endpoint = graph_strdup_opt(cfg->endpoint, &oom);
	g->ca_file = graph_strdup_opt(cfg->ca_file, &oom);
	if (oom)
		return -ENOMEM;
	n = strlen(g->endpoint);
	while (n > 0 && g->endpoint[n - 1] == '/')
		g->endpoint[--n] = '\0';
	g->connect_timeout_ms = cfg->connect_timeout_ms > 0
					? cfg->connect_timeout_ms
					: GRAPH_DEFAULT_CONNECT_MS;
	g->low_speed_time_s = cfg->low_speed_time_s > 0
				      ? cfg->low_speed_time_s
				      : GRAPH_DEFAULT_LOW_SPEED_S;
	g->max_retries = cfg->max_retries >= 0 ? cfg->max_retries
					       : GRAPH_DEFAULT_RETRIES;
	g->max_body = cfg->max_body ? cfg->max_body : UPFS_BUF_DEFAULT_CAP;
	g->trace = cfg->trace;
	g->trace_arg = cfg->trace_arg;
	return 0;
}

int graph_new(struct graph **out, const struct graph_config *cfg,
	      struct graph_err *err)
{
	struct graph *g = NULL;
	int i, rc;

	graph_err_clear(err);
	if (!out || !cfg) {
		graph_err_setf(err, "no configuration");
		return -EINVAL;
	}
	*out = NULL;
	pthread_once(&graph_curl_once, graph_curl_init);
	if (graph_curl_init_rc != CURLE_OK) {
		graph_err_setf(err, "cannot initialise libcurl");
		return -ENOMEM;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&g->share_locks[i], NULL);
	pthread_mutex_init(&g->pool_lock, NULL);
	pthread_mutex_init(&g->stats_lock, NULL);
	rc = graph_config_copy(g, cfg, err);
	if (!rc)
		rc = graph_auth_new(&g->auth, cfg, err);
	if (!rc)
		rc = graph_share_new(g);
	if (rc)
		goto out;
	*out = g;
	g = NULL;
out:
	graph_free(g);
	return rc;
}

void graph_free(struct graph *g)
{
	int i;

	if (!g)
		return;
	/* Easy handles first: the share may not go while one uses it. */
	while (g->npool)
		curl_easy_cleanup(g->pool[--g->npool]);
	if (g->share)
		curl_share_cleanup(g->share);
	graph_auth_free(g->auth);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&g->share_locks[i]);
	pthread_mutex_destroy(&g->pool_lock);
	pthread_mutex_destroy(&g->stats_lock);
	free(g->endpoint);
	free(g->origin);
	free(g->ca_file);
	free(g);
}
