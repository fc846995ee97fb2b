/*
 * auth_session.c — bearer tokens from the refresh token of a session file
 * that `upfsctl login` saved (see session.c and auth_private.h).
 *
 * An access token is fetched with grant_type=refresh_token and kept until
 * shortly before it expires (graph_auth_renew_time) or until the service
 * refuses it with a 401 (invalidate). When the reply carries a new
 * refresh token (rotation), it replaces the old one in memory and in the
 * file, atomically, unless the file changed under us: then someone signed
 * in again and their session wins.
 *
 * The file is watched with a stat() per request, as the token-file source
 * does, so that a new sign-in is picked up at once. A refresh token the
 * service refuses for good (graph_err_session_expired) is remembered, and
 * every request fails at once with that error, without asking the token
 * endpoint again, until the file changes or graph_auth_reload().
 *
 * Lock order: fetch_lock, then lock; both before client.c's leaf locks.
 * Only one token request is in flight; threads that waited for it take
 * its outcome, as the client-credentials source does.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth_private.h"
#include "buf.h"
#include "graph.h"
#include "graph_private.h"

/* What a refresh asks for when neither the config nor the file says. */
#define SESSION_DEFAULT_SCOPE                                                 \
	"https://graph.microsoft.com/.default offline_access"

/* Which file a loaded session came from. */
struct session_id {
	bool known;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct auth_session {
	struct graph_auth base;
	char *path;
	char *token_url;		/* from the config's authority */
	char *client_id;		/* from the config, may be NULL */
	char *client_secret;		/* a secret; may be NULL */
	char *scope;			/* from the config, may be NULL */
	pthread_mutex_t fetch_lock;	/* one token request at a time */
	pthread_mutex_t lock;		/* guards everything below */
	struct graph_session sess;	/* refresh_token NULL: not loaded */
	struct session_id id;
	char *token;			/* the access token, or NULL */
	struct timespec renew_at;	/* CLOCK_MONOTONIC */
	struct timespec valid_until;	/* CLOCK_MONOTONIC */
	int64_t expires_at;		/* wall clock, for graph_auth_info */
	bool expired;			/* the refresh token was refused */
	struct graph_err expired_err;
	unsigned long fetches;		/* finished token requests */
	int last_rc;			/* their outcome, for the waiters */
	struct graph_err last_err;
	char problem[192];		/* the last failure to save, or "" */
	unsigned long generation;	/* bumped by session_forget() */
};

static void session_id_of(struct session_id *id, const struct stat *st)
{
	id->known = true;
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
}

static bool session_id_same(const struct session_id *id, const struct stat *st)
{
	return id->known && id->dev == st->st_dev && id->ino == st->st_ino &&
	       id->size == st->st_size &&
	       id->mtime.tv_sec == st->st_mtim.tv_sec &&
	       id->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Forgets everything learnt from the file; lock held. */
static void session_forget(struct auth_session *s)
{
	graph_session_release(&s->sess);
	graph_auth_token_free(s->token);
	s->token = NULL;
	s->expires_at = 0;
	s->expired = false;
	s->id.known = false;
	s->problem[0] = '\0';
	s->generation++;
}

/*
 * Notices a new sign-in (or a sign-out) by the file's identity, and loads
 * the file when nothing is loaded. Lock held.
 */
static int session_sync(struct auth_session *s, struct graph_err *err)
{
	struct stat st;
	int rc;

	if (stat(s->path, &st) < 0) {
		int e = errno;

		session_forget(s);
		if (e == ENOENT)
			return graph_auth_fail(err, "not signed in: no session "
						    "file '%s'", s->path);
		return graph_auth_fail(err, "cannot read session file '%s': "
					    "%s", s->path, strerrordesc_np(e));
	}
	if (s->id.known && !session_id_same(&s->id, &st))
		session_forget(s);
	if (s->sess.refresh_token)
		return 0;
	rc = graph_session_load(s->path, &s->sess, err);
	if (rc)
		return rc == -ENOENT ? -EACCES : rc;
	session_id_of(&s->id, &st);
	return 0;
}

/* Copies a cached token that is not due for renewal; lock held. */
static bool session_cached(struct auth_session *s, char **token, int *rc)
{
	if (!s->token || !graph_auth_before(&s->renew_at))
		return false;
	*rc = graph_auth_token_dup(s->token, token);
	return true;
}

/* The outcome of a refresh that finished while we waited; lock held. */
static bool session_shared(struct auth_session *s, unsigned long seen,
			   char **token, int *rc, struct graph_err *err)
{
	if (s->fetches == seen)
		return false;
	if (session_cached(s, token, rc))
		return true;
	if (!s->last_rc)
		return false; /* it worked, but the token was refused since */
	*rc = s->last_rc;
	if (err)
		*err = s->last_err;
	return true;
}

/* The refresh request's form (a secret: wiped by the caller). Lock held. */
static int session_form(struct auth_session *s, struct buf *form)
{
	const char *client = s->sess.client_id ? s->sess.client_id
					       : s->client_id;
	const char *scope = s->scope       ? s->scope
			    : s->sess.scope ? s->sess.scope
					    : SESSION_DEFAULT_SCOPE;
	int rc;

	rc = graph_auth_form_add(form, "grant_type", "refresh_token");
	if (!rc && client)
		rc = graph_auth_form_add(form, "client_id", client);
	if (!rc)
		rc = graph_auth_form_add(form, "refresh_token",
					 s->sess.refresh_token);
	if (!rc)
		rc = graph_auth_form_add(form, "scope", scope);
	/* A confidential client proves itself; only for its own tokens. */
	if (!rc && s->client_secret && s->client_id && client &&
	    strcmp(client, s->client_id) == 0)
		rc = graph_auth_form_add(form, "client_secret",
					 s->client_secret);
	return rc;
}

/*
 * Keeps a rotated refresh token, in memory and in the file, unless the
 * file changed since it was read (a new sign-in: that one wins, and the
 * next request picks it up). Lock held.
 */
static void session_rotate(struct auth_session *s, const json_t *reply)
{
	const json_t *rt = json_object_get(reply, "refresh_token");
	struct graph_err err;
	struct stat st;
	char *fresh = NULL, *user = NULL;

	if (!s->sess.refresh_token || !json_is_string(rt) ||
	    !graph_auth_token_ok(json_string_value(rt)) ||
	    strcmp(json_string_value(rt), s->sess.refresh_token) == 0)
		return;
	if (graph_auth_token_dup(json_string_value(rt), &fresh))
		return;
	graph_auth_token_free(s->sess.refresh_token);
	s->sess.refresh_token = fresh;
	if (graph_auth_user_of(reply, &user) == 0 && user) {
		free(s->sess.user);
		s->sess.user = user;
	}
	s->sess.saved_at = (int64_t)time(NULL);
	if (stat(s->path, &st) < 0 || !session_id_same(&s->id, &st))
		return;
	if (graph_session_save(s->path, &s->sess, &err) != 0) {
		graph_err_copy(s->problem, sizeof(s->problem), err.message);
		return;
	}
	s->problem[0] = '\0';
	if (stat(s->path, &st) == 0)
		session_id_of(&s->id, &st);
}

/* Records the outcome of a refresh; lock held. */
static void session_settle(struct auth_session *s, int rc, char *fresh,
			   long expires_in, const json_t *reply,
			   const struct graph_err *err)
{
	s->fetches++;
	s->last_rc = rc;
	graph_err_clear(&s->last_err);
	if (rc) {
		if (err)
			s->last_err = *err;
		if (err && graph_err_session_expired(err)) {
			s->expired = true;
			s->expired_err = *err;
		}
		return;
	}
	graph_auth_renew_time(expires_in, &s->renew_at);
	graph_auth_valid_time(expires_in, &s->valid_until);
	s->expires_at = (int64_t)time(NULL) + expires_in;
	graph_auth_token_free(s->token);
	s->token = fresh;
	session_rotate(s, reply);
}

/*
 * Where the refresh goes (malloc'd); lock held. A refresh token is
 * redeemed where it was issued, as it is sent with the client id it was
 * issued to: a sign-in at a tenant's own authority (a guest's, say)
 * refreshed at the config's /organizations would get a token of the
 * user's home tenant.
 */
static int session_token_url(struct auth_session *s, char **url,
			     struct graph_err *err)
{
	if (s->sess.authority && *s->sess.authority)
		return graph_auth_url(s->sess.authority, "token", url, err);
	*url = strdup(s->token_url);
	return *url ? 0 : -ENOMEM;
}

/* Sends one refresh; called with fetch_lock held and lock held. */
static int session_refresh(struct auth_session *s, struct graph *g,
			   char **token, struct graph_err *err)
{
	unsigned long generation = s->generation;
	struct graph_err tmp;
	json_t *reply = NULL;
	char *fresh = NULL;
	char *url = NULL;
	long expires_in = 0;
	struct buf form;
	int rc;

	if (!err)
		err = &tmp;
	buf_init(&form, 0);
	rc = session_form(s, &form);
	if (!rc)
		rc = session_token_url(s, &url, err);
	if (rc)
		goto out;
	pthread_mutex_unlock(&s->lock);
	rc = graph_auth_token_post(g, url, form.data, &fresh,
				   &expires_in, &reply, err);
	pthread_mutex_lock(&s->lock);
	if (generation != s->generation) {
		/* Signed in again (or out) meanwhile: this answer is stale. */
		graph_auth_token_free(fresh);
		rc = graph_auth_fail(err, "the session changed during a token "
					  "refresh: try again");
		goto out;
	}
	session_settle(s, rc, fresh, expires_in, reply, err);
	if (!rc || (!s->expired &&
		    graph_auth_keep_current(rc, s->token, &s->renew_at,
					    &s->valid_until)))
		rc = graph_auth_token_dup(s->token, token);
out:
	free(url);
	graph_secret_json_free(reply);
	graph_secret_buf_release(&form);
	return rc;
}

static int session_get(struct graph_auth *a, struct graph *g, char **token,
		       struct graph_err *err)
{
	struct auth_session *s = (struct auth_session *)a;
	unsigned long seen;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	rc = session_sync(s, err);
	if (rc || session_cached(s, token, &rc))
		goto out_unlock;
	if (s->expired) {
		if (err)
			*err = s->expired_err;
		rc = -EACCES;
		goto out_unlock;
	}
	seen = s->fetches;
	pthread_mutex_unlock(&s->lock);

	pthread_mutex_lock(&s->fetch_lock);
	pthread_mutex_lock(&s->lock);
	if (!session_shared(s, seen, token, &rc, err)) {
		rc = session_sync(s, err);
		if (!rc)
			rc = session_refresh(s, g, token, err);
	}
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&s->fetch_lock);
	return rc;
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static void session_invalidate(struct graph_auth *a, const char *rejected)
{
	struct auth_session *s = (struct auth_session *)a;

	pthread_mutex_lock(&s->lock);
	if (s->token && strcmp(s->token, rejected) == 0) {
		graph_auth_token_free(s->token);
		s->token = NULL;
	}
	pthread_mutex_unlock(&s->lock);
}

static void session_reload(struct graph_auth *a)
{
	struct auth_session *s = (struct auth_session *)a;

	pthread_mutex_lock(&s->lock);
	session_forget(s);
	pthread_mutex_unlock(&s->lock);
}

static void session_info(struct graph_auth *a, struct graph_auth_info *out)
{
	struct auth_session *s = (struct auth_session *)a;

	pthread_mutex_lock(&s->lock);
	/* Before the first request the file says who signed in. */
	if (!s->sess.refresh_token)
		(void)session_sync(s, NULL);
	if (s->sess.user)
		graph_err_copy(out->user, sizeof(out->user), s->sess.user);
	out->expires_at = s->token ? s->expires_at : 0;
	out->expired = s->expired;
	graph_err_copy(out->problem, sizeof(out->problem), s->problem);
	pthread_mutex_unlock(&s->lock);
}

static void session_free(struct graph_auth *a)
{
	struct auth_session *s = (struct auth_session *)a;

	session_forget(s);
	pthread_mutex_destroy(&s->fetch_lock);
	pthread_mutex_destroy(&s->lock);
	graph_auth_token_free(s->client_secret);
	free(s->client_id);
	free(s->scope);
	free(s->token_url);
	free(s->path);
	free(s);
}

static const struct graph_auth_ops auth_session_ops = {
	.get = session_get,
	.invalidate = session_invalidate,
	.free = session_free,
	.info = session_info,
	.reload = session_reload,
};

static int session_dup_opt(const char *src, char **out)
{
	*out = NULL;
	if (!src || !*src)
		return 0;
	*out = strdup(src);
	return *out ? 0 : -ENOMEM;
}

/* The file is read lazily: graph_new() does no I/O. */
int graph_auth_session_new(struct graph_auth **out, const char *path,
			   const struct graph_config *cfg,
			   struct graph_err *err)
{
	struct auth_session *s;
	int rc;

	if (!path || !*path) {
		graph_err_setf(err, "session file name is empty");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->fetch_lock, NULL);
	pthread_mutex_init(&s->lock, NULL);
	graph_err_clear(&s->last_err);
	graph_err_clear(&s->expired_err);
	s->base.ops = &auth_session_ops;
	s->base.name = "session";
	rc = graph_auth_url(cfg->authority, "token", &s->token_url, err);
	if (!rc)
		rc = session_dup_opt(path, &s->path);
	if (!rc)
		rc = session_dup_opt(cfg->client_id, &s->client_id);
	if (!rc)
		rc = session_dup_opt(cfg->client_secret, &s->client_secret);
	if (!rc)
		rc = session_dup_opt(cfg->scope, &s->scope);
	if (rc) {
		session_free(&s->base);
		return rc;
	}
	*out = &s->base;
	return 0;
}
