/*
 * identity.h — the two identities a mount may hold at once (issue 6): the
 * signed-in user (delegated: a session, token_file or UPFS_ACCESS_TOKEN)
 * for printing and administering, and the application (client_id and
 * client_secret: client credentials) for what only an application may do
 * — task definitions and their tasks, redirecting and aborting held jobs.
 * With only client credentials the mount is the application alone.
 */
#ifndef UPFS_IDENTITY_H
#define UPFS_IDENTITY_H

#include <stdbool.h>

#include "fs.h"

/* Paths only an application may call: /print/taskDefinitions... */
bool identity_path_needs_app(const char *path);

/*
 * The client of the application identity, or NULL when the mount has
 * none; then why says what to configure.
 */
struct graph *identity_app(struct upfs *u, char *why, size_t why_len);

/* The client a resource path is fetched with (see above); NULL as there. */
struct graph *identity_for_path(struct upfs *u, const char *path, char *why,
				size_t why_len);

#endif
