/*
 * auth.c — where bearer tokens come from (see auth_private.h).
 *
 * Lock order, for the client-credentials source: fetch_lock, then lock.
 * Both are taken before any lock of client.c (pool, stats, curl share),
 * which are leaves.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth_private.h"
#include "buf.h"
#include "graph.h"
#include "graph_private.h"

/* A JWT is a few KiB; anything much larger is not a token file. */
#define AUTH_FILE_MAX ((size_t)64 << 10)
/* Renew this long before expiry, or 10% of the lifetime if shorter. */
#define AUTH_RENEW_MARGIN_S 300
#define AUTH_RENEW_MARGIN_MIN_S 1
#define AUTH_VALID_MARGIN_S 60
/* After a failed renewal, the pause before the next while the token
   still serves. */
#define AUTH_RETRY_RENEW_S 10
#define AUTH_DEFAULT_AUTHORITY "https://login.microsoftonline.com/organizations"
#define AUTH_GRAPH_SCOPE "https://graph.microsoft.com/.default"

/* Fails with -EACCES: no usable token is, to the caller, "not allowed". */
int graph_auth_fail(struct graph_err *err, const char *fmt, ...)
{
	char msg[sizeof(err->message)];
	va_list ap;

	if (!err)
		return -EACCES;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	graph_err_clear(err);
	graph_err_copy(err->code, sizeof(err->code), "unauthenticated");
	graph_err_copy(err->message, sizeof(err->message), msg);
	return -EACCES;
}

/* A token goes into a header line: printable ASCII, no spaces, or no use. */
bool graph_auth_token_ok(const char *t)
{
	if (!t || !*t)
		return false;
	for (; *t; t++) {
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return false;
	}
	return true;
}

void graph_auth_token_free(char *token)
{
	if (!token)
		return;
	explicit_bzero(token, strlen(token));
	free(token);
}

int graph_auth_token_dup(const char *token, char **out)
{
	*out = strdup(token);
	return *out ? 0 : -ENOMEM;
}

void graph_auth_free(struct graph_auth *a)
{
	if (a)
		a->ops->free(a);
}

/* ---- a fixed token ------------------------------------------------------ */

struct auth_fixed {
	struct graph_auth base;
	char *token;
};

static int auth_fixed_get(struct graph_auth *a, struct graph *g, char **token,
			  struct graph_err *err)
{
	struct auth_fixed *f = (struct auth_fixed *)a;

	(void)g;
	(void)err;
	return graph_auth_token_dup(f->token, token);
}

/* Nothing to refresh: the client sees the same token and gives up. */
static void auth_fixed_invalidate(struct graph_auth *a, const char *rejected)
{
	(void)a;
	(void)rejected;
}

static void auth_fixed_free(struct graph_auth *a)
{
	struct auth_fixed *f = (struct auth_fixed *)a;

	graph_auth_token_free(f->token);
	free(f);
}

static const struct graph_auth_ops auth_fixed_ops = {
	.get = auth_fixed_get,
	.invalidate = auth_fixed_invalidate,
	.free = auth_fixed_free,
};

int graph_auth_fixed_new(struct graph_auth **out, const char *token,
			 struct graph_err *err)
{
	struct auth_fixed *f;

	if (!graph_auth_token_ok(token)) {
		graph_err_setf(err, "access token is empty or holds spaces or "
				    "control characters");
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f || graph_auth_token_dup(token, &f->token)) {
		free(f);
		return -ENOMEM;
	}
	f->base.ops = &auth_fixed_ops;
	f->base.name = "access token";
	*out = &f->base;
	return 0;
}

/* ---- a token file -------------------------------------------------------- */

struct auth_file {
	struct graph_auth base;
	char *path;
	pthread_mutex_t lock;	/* guards everything below */
	char *token;		/* NULL: read the file on the next get */
	dev_t dev;		/* identity of the file token came from */
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

static bool auth_file_same(const struct auth_file *f, const struct stat *st)
{
	return f->token && f->dev == st->st_dev && f->ino == st->st_ino &&
	       f->size == st->st_size &&
	       f->mtime.tv_sec == st->st_mtim.tv_sec &&
	       f->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Reads the whole file (bounded) into b; fills *st from the same fd. */
static int auth_file_slurp(const char *path, struct buf *b, struct stat *st,
			   struct graph_err *err)
{
	char chunk[4096];
	ssize_t n = 0;
	int fd, e = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, st) < 0) {
		e = errno;
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			goto out;
		}
		if (buf_append(b, chunk, (size_t)n) < 0) {
			graph_auth_fail(err, "token file '%s' is larger "
					"than %zu bytes", path, AUTH_FILE_MAX);
			break;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	explicit_bzero(chunk, sizeof(chunk));
	if (e)
		return graph_auth_fail(err, "cannot read token file '%s': %s",
				       path, strerrordesc_np(e));
	return n == 0 ? 0 : -EACCES;
}

/* Reads the file into f->token; called with f->lock held. */
static int auth_file_load(struct auth_file *f, struct graph_err *err)
{
	struct buf b;
	struct stat st;
	size_t start = 0, end;
	int rc;

	buf_init(&b, AUTH_FILE_MAX);
	rc = auth_file_slurp(f->path, &b, &st, err);
	if (rc)
		goto out;
	/* A bearer token others can read is a token others can use. */
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		rc = graph_auth_fail(err, "token file '%s' is accessible by "
					  "others (mode %04o): chmod 600 it",
				     f->path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	end = b.len;
	/* Editors and `echo` add a newline; people add spaces. */
	while (start < end && strchr(" \t\r\n", b.data[start]))
		start++;
	while (end > start && strchr(" \t\r\n", b.data[end - 1]))
		end--;
	if (start == end) {
		rc = graph_auth_fail(err, "token file '%s' is empty: sign in "
					  "again", f->path);
		goto out;
	}
	b.data[end] = '\0';
	if (!graph_auth_token_ok(b.data + start)) {
		rc = graph_auth_fail(err, "token file '%s' holds more than "
					  "one token or control characters",
				     f->path);
		goto out;
	}
	graph_auth_token_free(f->token);
	f->token = NULL;
	rc = graph_auth_token_dup(b.data + start, &f->token);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime = st.st_mtim;
out:
	graph_secret_buf_release(&b);
	return rc;
}

static int auth_file_get(struct graph_auth *a, struct graph *g, char **token,
			 struct graph_err *err)
{
	struct auth_file *f = (struct auth_file *)a;
	struct stat st;
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	/* A stat per request is cheap, and picks up `upfsctl login` at once. */
	if (stat(f->path, &st) < 0) {
		rc = graph_auth_fail(err, "cannot read token file '%s': %s",
				     f->path, strerrordesc_np(errno));
		goto out;
	}
	if (!auth_file_same(f, &st)) {
		rc = auth_file_load(f, err);
		if (rc)
			goto out;
		graph_stats_count(g, GRAPH_STAT_TOKEN_FETCHES);
	}
	rc = graph_auth_token_dup(f->token, token);
out:
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static void auth_file_invalidate(struct graph_auth *a, const char *rejected)
{
	struct auth_file *f = (struct auth_file *)a;

	pthread_mutex_lock(&f->lock);
	if (f->token && strcmp(f->token, rejected) == 0) {
		graph_auth_token_free(f->token);
		f->token = NULL;
	}
	pthread_mutex_unlock(&f->lock);
}

static void auth_file_free(struct graph_auth *a)
{
	struct auth_file *f = (struct auth_file *)a;

	pthread_mutex_destroy(&f->lock);
	graph_auth_token_free(f->token);
	free(f->path);
	free(f);
}

/* The next get() reads the file even if it looks unchanged. */
static void auth_file_reload(struct graph_auth *a)
{
	struct auth_file *f = (struct auth_file *)a;

	pthread_mutex_lock(&f->lock);
	graph_auth_token_free(f->token);
	f->token = NULL;
	pthread_mutex_unlock(&f->lock);
}

static const struct graph_auth_ops auth_file_ops = {
	.get = auth_file_get,
	.invalidate = auth_file_invalidate,
	.free = auth_file_free,
	.reload = auth_file_reload,
};

/* The file is read lazily: graph_new() does no I/O. */
int graph_auth_file_new(struct graph_auth **out, const char *path,
			struct graph_err *err)
{
	struct auth_file *f;

	if (!path || !*path) {
		graph_err_setf(err, "token file name is empty");
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->path = strdup(path);
	if (!f->path) {
		free(f);
		return -ENOMEM;
	}
	pthread_mutex_init(&f->lock, NULL);
	f->base.ops = &auth_file_ops;
	f->base.name = "token file";
	*out = &f->base;
	return 0;
}

/* ---- OAuth2 token endpoint ------------------------------------------------ */

/* expires_in is a number, but some endpoints send it as a string. */
static long auth_expires_in(const json_t *v)
{
	const char *s;
	long n = 0;

	if (json_is_integer(v))
		return (long)json_integer_value(v);
	if (!json_is_string(v))
		return 3600;
	for (s = json_string_value(v); *s >= '0' && *s <= '9'; s++) {
		if (n > 100000000)
			break;
		n = n * 10 + (*s - '0');
	}
	return n;
}

static int auth_reply_parse(const json_t *reply, char **token,
			    long *expires_in, struct graph_err *err)
{
	const json_t *tok = json_object_get(reply, "access_token");
	const json_t *type = json_object_get(reply, "token_type");

	if (!json_is_string(tok) ||
	    !graph_auth_token_ok(json_string_value(tok))) {
		graph_err_setf(err, "token endpoint reply has no usable "
				    "access_token");
		return -EPROTO;
	}
	if (type && (!json_is_string(type) ||
		     strcasecmp(json_string_value(type), "Bearer") != 0)) {
		graph_err_setf(err, "token endpoint returned a token that is "
				    "not a bearer token");
		return -EPROTO;
	}
	*expires_in = auth_expires_in(json_object_get(reply, "expires_in"));
	return graph_auth_token_dup(json_string_value(tok), token);
}

int graph_auth_token_post(struct graph *g, const char *url, const char *form,
			  char **token, long *expires_in, json_t **reply,
			  struct graph_err *err)
{
	struct graph_req req = {
		.method = "POST",
		.path = url,
		.body = form,
		.body_len = strlen(form),
		.content_type = "application/x-www-form-urlencoded",
		.no_auth = true,
	};
	struct graph_resp resp;
	json_t *doc = NULL;
	int rc;

	*token = NULL;
	if (reply)
		*reply = NULL;
	graph_resp_init(&resp, g);
	rc = graph_call(g, &req, &resp, err);
	if (rc)
		goto out;
	doc = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len,
			 0, NULL);
	if (!doc || resp.status >= 300) {
		graph_err_clear(err);
		if (err)
			err->status = resp.status;
		graph_err_setf(err, "token endpoint reply is not JSON");
		rc = -EPROTO;
		goto out;
	}
	rc = auth_reply_parse(doc, token, expires_in, err);
	if (rc)
		goto out;
	graph_stats_count(g, GRAPH_STAT_TOKEN_FETCHES);
	if (reply) {
		*reply = doc;
		doc = NULL;
	}
out:
	json_decref(doc);
	if (resp.body.data)
		explicit_bzero(resp.body.data, resp.body.alloc);
	graph_resp_release(&resp);
	return rc;
}

/* ---- client credentials ----------------------------------------------- */

struct auth_secret {
	struct graph_auth base;
	char *token_url;
	char *form;		  /* holds the secret: wiped on free */
	pthread_mutex_t fetch_lock; /* one token request at a time */
	pthread_mutex_t lock;	  /* guards everything below */
	char *token;		  /* NULL: none yet, or refused */
	struct timespec renew_at; /* CLOCK_MONOTONIC */
	struct timespec valid_until; /* CLOCK_MONOTONIC */
	int64_t expires_at;	  /* wall clock, for graph_auth_info */
	unsigned long fetches;	  /* finished token requests */
	int last_rc;		  /* their outcome, for those who waited */
	struct graph_err last_err;
};

bool graph_auth_before(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec < deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec &&
		now.tv_nsec < deadline->tv_nsec);
}

/* Copies a cached token that is not due for renewal; lock held. */
static bool auth_secret_cached(struct auth_secret *s, char **token, int *rc)
{
	if (!s->token || !graph_auth_before(&s->renew_at))
		return false;
	*rc = graph_auth_token_dup(s->token, token);
	return true;
}

/*
 * A token request finished while we waited for fetch_lock: take its token,
 * or its error, rather than send another one (a down token endpoint would
 * otherwise cost every waiting thread a full time-out). Lock held.
 */
static bool auth_secret_shared(struct auth_secret *s, unsigned long seen,
			       char **token, int *rc, struct graph_err *err)
{
	if (s->fetches == seen)
		return false;
	if (auth_secret_cached(s, token, rc))
		return true;
	if (!s->last_rc)
		return false; /* it worked, but the token was refused since */
	*rc = s->last_rc;
	if (err)
		*err = s->last_err;
	return true;
}

/* CLOCK_MONOTONIC now plus expires_in less a margin of 1/part of it,
   between low and high seconds. */
static void auth_time_before_expiry(long expires_in, long part, long low,
				    long high, struct timespec *at)
{
	long margin;

	if (expires_in < 0)
		expires_in = 0;
	margin = expires_in / part;
	if (margin > high)
		margin = high;
	if (margin < low)
		margin = low;
	clock_gettime(CLOCK_MONOTONIC, at);
	at->tv_sec += expires_in - margin;
}

void graph_auth_renew_time(long expires_in, struct timespec *renew_at)
{
	auth_time_before_expiry(expires_in, 10, AUTH_RENEW_MARGIN_MIN_S,
				AUTH_RENEW_MARGIN_S, renew_at);
}

void graph_auth_valid_time(long expires_in, struct timespec *valid_until)
{
	auth_time_before_expiry(expires_in, 30, 0, AUTH_VALID_MARGIN_S,
				valid_until);
}

bool graph_auth_keep_current(int rc, const char *token,
			     struct timespec *renew_at,
			     const struct timespec *valid_until)
{
	if (rc == 0 || rc == -EACCES || token == NULL ||
	    !graph_auth_before(valid_until))
		return false;
	clock_gettime(CLOCK_MONOTONIC, renew_at);
	renew_at->tv_sec += AUTH_RETRY_RENEW_S;
	if (!graph_auth_before(renew_at) ||
	    renew_at->tv_sec > valid_until->tv_sec)
		*renew_at = *valid_until;
	return true;
}

static void auth_secret_store(struct auth_secret *s, char *fresh,
			      long expires_in)
{
	graph_auth_renew_time(expires_in, &s->renew_at);
	graph_auth_valid_time(expires_in, &s->valid_until);
	s->expires_at = (int64_t)time(NULL) + expires_in;
	graph_auth_token_free(s->token);
	s->token = fresh;
}

static int auth_secret_get(struct graph_auth *a, struct graph *g, char **token,
			   struct graph_err *err)
{
	struct auth_secret *s = (struct auth_secret *)a;
	unsigned long seen;
	char *fresh = NULL;
	long expires_in = 0;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	seen = s->fetches;
	if (auth_secret_cached(s, token, &rc)) {
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	pthread_mutex_unlock(&s->lock);

	pthread_mutex_lock(&s->fetch_lock);
	pthread_mutex_lock(&s->lock);
	if (auth_secret_shared(s, seen, token, &rc, err)) {
		pthread_mutex_unlock(&s->lock);
		goto out;
	}
	pthread_mutex_unlock(&s->lock);

	rc = graph_auth_token_post(g, s->token_url, s->form, &fresh,
				   &expires_in, NULL, err);

	pthread_mutex_lock(&s->lock);
	s->fetches++;
	s->last_rc = rc;
	graph_err_clear(&s->last_err);
	if (rc && err)
		s->last_err = *err;
	if (rc == 0) {
		auth_secret_store(s, fresh, expires_in);
		rc = graph_auth_token_dup(s->token, token);
	} else if (graph_auth_keep_current(rc, s->token, &s->renew_at,
					   &s->valid_until)) {
		rc = graph_auth_token_dup(s->token, token);
	}
	pthread_mutex_unlock(&s->lock);
out:
	pthread_mutex_unlock(&s->fetch_lock);
	return rc;
}

static void auth_secret_invalidate(struct graph_auth *a, const char *rejected)
{
	struct auth_secret *s = (struct auth_secret *)a;

	pthread_mutex_lock(&s->lock);
	if (s->token && strcmp(s->token, rejected) == 0) {
		graph_auth_token_free(s->token);
		s->token = NULL;
	}
	pthread_mutex_unlock(&s->lock);
}

static void auth_secret_free(struct graph_auth *a)
{
	struct auth_secret *s = (struct auth_secret *)a;

	pthread_mutex_destroy(&s->fetch_lock);
	pthread_mutex_destroy(&s->lock);
	graph_auth_token_free(s->token);
	graph_auth_token_free(s->form);
	free(s->token_url);
	free(s);
}

static void auth_secret_info(struct graph_auth *a, struct graph_auth_info *out)
{
	struct auth_secret *s = (struct auth_secret *)a;

	pthread_mutex_lock(&s->lock);
	out->expires_at = s->token ? s->expires_at : 0;
	pthread_mutex_unlock(&s->lock);
}

static const struct graph_auth_ops auth_secret_ops = {
	.get = auth_secret_get,
	.invalidate = auth_secret_invalidate,
	.free = auth_secret_free,
	.info = auth_secret_info,
	.reload = NULL,
};

static int auth_secret_form(struct buf *b, const char *client_id,
			    const char *client_secret)
{
	int rc;

	rc = buf_append_str(b, "grant_type=client_credentials&client_id=");
	if (!rc)
		rc = graph_escape_segment(b, client_id);
	if (!rc)
		rc = buf_append_str(b, "&client_secret=");
	if (!rc)
		rc = graph_escape_segment(b, client_secret);
	if (!rc)
		rc = buf_append_str(b, "&scope=");
	if (!rc)
		rc = graph_escape_segment(b, AUTH_GRAPH_SCOPE);
	return rc;
}

static bool auth_is_http_url(const char *s)
{
	return strncasecmp(s, "https://", 8) == 0 ||
	       strncasecmp(s, "http://", 7) == 0;
}

int graph_auth_url(const char *authority, const char *what, char **out,
		   struct graph_err *err)
{
	struct buf url;
	size_t n;
	int rc;

	*out = NULL;
	if (!authority || !*authority)
		authority = AUTH_DEFAULT_AUTHORITY;
	if (!auth_is_http_url(authority)) {
		graph_err_setf(err, "authority '%s' is not an http(s) URL",
			       authority);
		return -EINVAL;
	}
	if (!graph_url_private(authority)) {
		graph_err_setf(err, "authority '%s' is plain http to another "
			       "machine: refresh tokens and secrets would "
			       "cross the network readable (use https)",
			       authority);
		return -EINVAL;
	}
	buf_init(&url, 0);
	n = strlen(authority);
	while (n > 0 && authority[n - 1] == '/')
		n--;
	rc = buf_append(&url, authority, n);
	if (!rc)
		rc = buf_printf(&url, "/oauth2/v2.0/%s", what);
	if (!rc)
		*out = buf_detach(&url, NULL);
	buf_release(&url);
	return rc;
}

int graph_auth_form_add(struct buf *out, const char *name, const char *value)
{
	int rc = 0;

	if (out->len)
		rc = buf_append(out, "&", 1);
	if (!rc)
		rc = buf_append_str(out, name);
	if (!rc)
		rc = buf_append(out, "=", 1);
	if (!rc)
		rc = graph_escape_segment(out, value);
	return rc;
}

int graph_auth_secret_new(struct graph_auth **out, const char *authority,
			  const char *client_id, const char *client_secret,
			  struct graph_err *err)
{
	struct auth_secret *s = NULL;
	struct buf form;
	char *url = NULL;
	int rc;

	buf_init(&form, 0);
	rc = graph_auth_url(authority, "token", &url, err);
	if (rc)
		goto out;
	if (!client_id || !*client_id) {
		graph_err_setf(err, "client_secret is set but client_id is "
				    "not: set both");
		rc = -EINVAL;
		goto out;
	}
	rc = auth_secret_form(&form, client_id, client_secret);
	if (rc)
		goto out;
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = -ENOMEM;
		goto out;
	}
	pthread_mutex_init(&s->fetch_lock, NULL);
	pthread_mutex_init(&s->lock, NULL);
	graph_err_clear(&s->last_err);
	s->base.ops = &auth_secret_ops;
	s->base.name = "client credentials";
	s->token_url = url;
	url = NULL;
	s->form = buf_detach(&form, NULL);
	*out = &s->base;
out:
	graph_secret_buf_release(&form);
	free(url);
	return rc;
}

/* ---- choosing a source ---------------------------------------------------- */

int graph_auth_new(struct graph_auth **out, const struct graph_config *cfg,
		   struct graph_err *err)
{
	*out = NULL;
	if (cfg->access_token && *cfg->access_token)
		return graph_auth_fixed_new(out, cfg->access_token, err);
	if (cfg->token_file && *cfg->token_file)
		return graph_auth_file_new(out, cfg->token_file, err);
	if (cfg->session_file && *cfg->session_file)
		return graph_auth_session_new(out, cfg->session_file, cfg, err);
	if (cfg->client_secret && *cfg->client_secret)
		return graph_auth_secret_new(out, cfg->authority,
					     cfg->client_id,
					     cfg->client_secret, err);
	graph_err_setf(err, "no credentials: sign in, or set access_token, "
			    "token_file, or client_id and client_secret");
	return -EINVAL;
}

void graph_auth_info_get(struct graph *g, struct graph_auth_info *out)
{
	memset(out, 0, sizeof(*out));
	out->source = g->auth->name ? g->auth->name : "unknown";
	if (g->auth->ops->info)
		g->auth->ops->info(g->auth, out);
}

void graph_auth_reload(struct graph *g)
{
	if (g->auth->ops->reload)
		g->auth->ops->reload(g->auth);
}

void graph_secret_json_free(json_t *doc)
{
	json_t *v = json_object_get(doc, "refresh_token");

	if (json_is_string(v))
		explicit_bzero((char *)json_string_value(v),
			       json_string_length(v));
	json_decref(doc);
}

void graph_secret_buf_release(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->alloc);
	buf_release(b);
}
