/*
 * client.c — the context (struct graph): life cycle, easy-handle pool,
 * share handle, counters, URLs, and the public JSON calls built on
 * graph_call() (request.c).
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
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
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

#define GRAPH_DEFAULT_CONNECT_MS 10000L
#define GRAPH_DEFAULT_LOW_SPEED_S 30L
#define GRAPH_DEFAULT_REQUEST_S 600L
#define GRAPH_DEFAULT_RETRIES 4

/* curl_global_init must run once, before threads; nothing else is global. */
static pthread_once_t graph_curl_once = PTHREAD_ONCE_INIT;
static CURLcode graph_curl_init_rc;

static void graph_curl_init(void)
{
	graph_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
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

void graph_note_service_clock(struct graph *g, time_t date, time_t seen)
{
	pthread_mutex_lock(&g->stats_lock);
	g->clock_offset_s = (int64_t)date - (int64_t)seen;
	g->clock_known = true;
	pthread_mutex_unlock(&g->stats_lock);
}

int graph_service_clock_offset(struct graph *g, int64_t *offset_s)
{
	int rc = -ENODATA;

	pthread_mutex_lock(&g->stats_lock);
	if (g->clock_known) {
		*offset_s = g->clock_offset_s;
		rc = 0;
	}
	pthread_mutex_unlock(&g->stats_lock);
	return rc;
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

/* ---- URLs ----------------------------------------------------------------- */

bool graph_is_absolute(const char *path)
{
	return strncasecmp(path, "https://", 8) == 0 ||
	       strncasecmp(path, "http://", 7) == 0;
}

/* localhost, an address in 127.0.0.0/8, or [::1]: never a name that
   merely starts like one (127.0.0.1.example.net). */
static bool host_is_loopback(const char *host)
{
	unsigned char a4[4], a6[16];
	char bare[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, a4) == 1)
		return a4[0] == 127;
	if (n < 3 || n - 2 >= sizeof(bare) || host[0] != '[' ||
	    host[n - 1] != ']')
		return false;
	memcpy(bare, host + 1, n - 2);
	bare[n - 2] = '\0';
	return inet_pton(AF_INET6, bare, a6) == 1 &&
	       IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a6);
}

bool graph_url_private(const char *url)
{
	char *scheme = NULL, *host = NULL;
	bool ok = false;
	CURLU *u = curl_url();

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == 0 &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == 0 &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == 0)
		ok = strcasecmp(scheme, "https") == 0 ||
		     (strcasecmp(scheme, "http") == 0 && host_is_loopback(host));
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
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

bool graph_same_origin(const struct graph *g, const char *url)
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
	if (rc)
		buf_truncate(out, start);
	return rc;
}

int graph_escape_segment(struct buf *out, const char *seg)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t start = out->len;
	const unsigned char *p;
	char esc[3];
	int rc = 0;

	/* "." and ".." are dot-segments, encoded or not (RFC 3986
	   §6.2.2.2): /users/.. is the root. No id or name is one. */
	if (strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0)
		return -EINVAL;
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
	if (rc)
		buf_truncate(out, start);
	return rc;
}

/* ---- easy handles ------------------------------------------------------ */

CURL *graph_handle_get(struct graph *g)
{
	CURL *h = NULL;

	pthread_mutex_lock(&g->pool_lock);
	if (g->npool)
		h = g->pool[--g->npool];
	pthread_mutex_unlock(&g->pool_lock);
	return h ? h : curl_easy_init();
}

void graph_handle_put(struct graph *g, CURL *h)
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
	/* A success the service sent: done, whatever its body says. */
	err->unsettled = 1;
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

/*
 * A GET answered 2xx with a body that is not JSON (a proxy's page, a
 * mangled reply) is asked again this many times: reading twice is safe.
 */
#define GRAPH_UNPARSED_RETRIES 2

int graph_fetch_req(struct graph *g, CURL *h, const struct graph_req *req,
		    bool need_body, json_t **out, struct graph_err *err)
{
	struct graph_resp resp;
	struct graph_err tmp;
	bool get = strcmp(req->method, "GET") == 0;
	int rc, again = 0;

	*out = NULL;
	if (!err)
		err = &tmp;
	graph_resp_init(&resp, g);
	for (;;) {
		rc = graph_call_on(g, h, req, &resp, err);
		if (!rc)
			rc = graph_fetch_parse(&resp, need_body, out, err);
		if (rc != -EPROTO || !get || resp.status < 200 ||
		    resp.status >= 300 || again++ >= GRAPH_UNPARSED_RETRIES)
			break;
		graph_stats_count(g, GRAPH_STAT_RETRIES);
		graph_trace(g, "GET %s: the reply is not JSON, asking again",
			    graph_is_absolute(req->path) ? "(URL)" : req->path);
	}
	graph_resp_release(&resp);
	return rc;
}

int graph_fetch(struct graph *g, const char *method, const char *path,
		const json_t *body, bool need_body, json_t **out,
		struct graph_err *err)
{
	struct graph_req req = { .method = method, .path = path };
	char *text = NULL;
	int rc;

	*out = NULL;
	if (body) {
		text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!text) {
			graph_err_clear(err);
			graph_err_setf(err, "request body is not valid JSON");
			return -EINVAL;
		}
		req.body = text;
		req.body_len = strlen(text);
	}
	rc = graph_fetch_req(g, NULL, &req, need_body, out, err);
	free(text);
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
	if (!graph_url_private(cfg->endpoint)) {
		graph_err_setf(err, "endpoint '%s' is plain http to another "
			       "machine: its tokens would cross the network "
			       "readable (use https)", cfg->endpoint);
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
	g->request_timeout_s = cfg->request_timeout_s > 0 ? cfg->request_timeout_s
			       : cfg->request_timeout_s < 0 ? 0
							    : GRAPH_DEFAULT_REQUEST_S;
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
	graph_throttle_init(&g->throttle);
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
	graph_throttle_destroy(&g->throttle);
	free(g->endpoint);
	free(g->origin);
	free(g->ca_file);
	free(g);
}
