/*
 * auth_private.h — bearer-token sources of graph/ (not public API).
 *
 * A source hands out the current token and forgets it when the service
 * refuses it. Four sources exist: a fixed token, a token file, OAuth2
 * client credentials (auth.c), and the refresh token of a session saved
 * by `upfsctl login` (auth_session.c).
 *
 * Tokens are secrets: every copy handed out must be released with
 * graph_auth_token_free(), which wipes it, and no token ever goes into a
 * graph_err or a trace line.
 */
#ifndef UPFS_AUTH_PRIVATE_H
#define UPFS_AUTH_PRIVATE_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "buf.h"
#include "graph.h"

struct graph_auth;

struct graph_auth_ops {
	/*
	 * Copies the current token into *token (owned by the caller),
	 * reading or fetching a new one if needed. Safe from any thread.
	 * Errors: -EACCES (no usable token; err->code "unauthenticated" or
	 * the OAuth2 error), or a transport errno from the token endpoint.
	 */
	int (*get)(struct graph_auth *a, struct graph *g, char **token,
		   struct graph_err *err);
	/*
	 * The service answered 401 to `rejected`: drop it, so that the next
	 * get() re-reads or re-fetches. A no-op if the source already moved
	 * on to another token (another thread got there first).
	 */
	void (*invalidate)(struct graph_auth *a, const char *rejected);
	void (*free)(struct graph_auth *a);
	/* Optional: fill what the source knows beyond out->source. */
	void (*info)(struct graph_auth *a, struct graph_auth_info *out);
	/* Optional: forget cached tokens and files (SIGHUP). */
	void (*reload)(struct graph_auth *a);
};

struct graph_auth {
	const struct graph_auth_ops *ops;
	const char *name;	/* for graph_auth_info.source (static) */
};

/*
 * Picks the source by priority: access_token, then token_file, then
 * session_file, then client_id + client_secret (authority NULL: the
 * public cloud's "organizations"). -EINVAL with a message when none is
 * configured.
 */
int graph_auth_new(struct graph_auth **out, const struct graph_config *cfg,
		   struct graph_err *err);

int graph_auth_fixed_new(struct graph_auth **out, const char *token,
			 struct graph_err *err);
int graph_auth_file_new(struct graph_auth **out, const char *path,
			struct graph_err *err);
int graph_auth_secret_new(struct graph_auth **out, const char *authority,
			  const char *client_id, const char *client_secret,
			  struct graph_err *err);

/*
 * The refresh token saved in a session file (auth_session.c): access
 * tokens from the token endpoint, renewed before they expire and after a
 * 401; a rotated refresh token is saved back atomically. The file is read
 * lazily and again whenever it changes (a new `upfsctl login`). A refused
 * refresh token (graph_err_session_expired) is remembered: requests then
 * fail at once, without asking the token endpoint, until the file changes
 * or graph_auth_reload(). client_secret may be NULL (a public client).
 */
int graph_auth_session_new(struct graph_auth **out, const char *path,
			   const struct graph_config *cfg,
			   struct graph_err *err);

static inline int graph_auth_get(struct graph_auth *a, struct graph *g,
				 char **token, struct graph_err *err)
{
	return a->ops->get(a, g, token, err);
}

static inline void graph_auth_invalidate(struct graph_auth *a,
					 const char *rejected)
{
	a->ops->invalidate(a, rejected);
}

void graph_auth_free(struct graph_auth *a);

/* Wipes and frees a token copy; NULL is fine. */
void graph_auth_token_free(char *token);

/* ---- helpers shared by the sources (auth.c) ---- */

/* Fails with -EACCES, err->code "unauthenticated" and the message. */
int graph_auth_fail(struct graph_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Whether t can go into a header line: printable ASCII, no spaces. */
bool graph_auth_token_ok(const char *t);

/* *out = strdup(token); 0 or -ENOMEM. */
int graph_auth_token_dup(const char *token, char **out);

/* "{authority}/oauth2/v2.0/{what}" (authority NULL or "": the public
   cloud's "organizations"); -EINVAL with a message if not http(s). */
int graph_auth_url(const char *authority, const char *what, char **out,
		   struct graph_err *err);

/* Appends "&name=value" (no '&' when out is empty), value escaped. */
int graph_auth_form_add(struct buf *out, const char *name, const char *value);

/* When to renew a token that lives expires_in seconds: a margin of 10%,
   at least 1 s and at most 300 s, before it expires (CLOCK_MONOTONIC). */
void graph_auth_renew_time(long expires_in, struct timespec *renew_at);

/* Whether CLOCK_MONOTONIC is still before deadline. */
bool graph_auth_before(const struct timespec *deadline);

/* Until when a token that lives expires_in seconds may still be sent: a
   margin of a thirtieth, at most 60 s, for clocks and requests in flight
   (CLOCK_MONOTONIC). */
void graph_auth_valid_time(long expires_in, struct timespec *valid_until);

/*
 * After a renewal failed with rc: whether the current token (NULL: none)
 * still serves, being good until valid_until. A token endpoint that is
 * down or slow is no reason to stop before the token expires; a refusal
 * (-EACCES) is. When it serves, the next renewal is put off a little
 * (renew_at), so the endpoint is asked once a pause, not at each request.
 */
bool graph_auth_keep_current(int rc, const char *token,
			     struct timespec *renew_at,
			     const struct timespec *valid_until);

/* The signed-in user named by the id_token of a token reply (login.c):
   *user is NULL when there is none. 0 or -ENOMEM. */
int graph_auth_user_of(const json_t *reply, char **user);

/*
 * POSTs an x-www-form-urlencoded form to an OAuth2 token endpoint and
 * takes "access_token" and "expires_in" (seconds; 3600 when absent) from
 * the reply. *reply (may be NULL) receives the whole reply for sources
 * that need more (a refresh_token). Counts stats.token_fetches.
 */
int graph_auth_token_post(struct graph *g, const char *url, const char *form,
			  char **token, long *expires_in, json_t **reply,
			  struct graph_err *err);

/*
 * Frees a JSON document that held a refresh token, wiping the token's bytes
 * first: jansson keeps its own copy of every string. NULL is fine.
 */
void graph_secret_json_free(json_t *doc);

/* Releases a buffer that held a secret (a token, a form), wiping it first. */
void graph_secret_buf_release(struct buf *b);

#endif
