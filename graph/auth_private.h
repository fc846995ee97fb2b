/*
 * auth_private.h — bearer-token sources of graph/ (not public API).
 *
 * A source hands out the current token and forgets it when the service
 * refuses it. Three sources exist: a fixed token, a token file, and OAuth2
 * client credentials; a refresh-token (device-code) source slots in by
 * filling a struct graph_auth_ops and adding a constructor here.
 *
 * Tokens are secrets: every copy handed out must be released with
 * graph_auth_token_free(), which wipes it, and no token ever goes into a
 * graph_err or a trace line.
 */
#ifndef UPFS_AUTH_PRIVATE_H
#define UPFS_AUTH_PRIVATE_H

#include <jansson.h>

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
};

struct graph_auth {
	const struct graph_auth_ops *ops;
};

/*
 * Picks the source by priority: access_token, then token_file, then
 * client_id + client_secret (authority NULL: the public cloud's
 * "organizations"). -EINVAL with a message when none is configured.
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

/*
 * POSTs an x-www-form-urlencoded form to an OAuth2 token endpoint and
 * takes "access_token" and "expires_in" (seconds; 3600 when absent) from
 * the reply. *reply (may be NULL) receives the whole reply for sources
 * that need more (a refresh_token). Counts stats.token_fetches.
 */
int graph_auth_token_post(struct graph *g, const char *url, const char *form,
			  char **token, long *expires_in, json_t **reply,
			  struct graph_err *err);

#endif
