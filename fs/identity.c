/*
 * identity.c — which identity makes a call (identity.h).
 */
#include <stdio.h>
#include <string.h>

#include "identity.h"

bool identity_path_needs_app(const char *path)
{
	return strncmp(path, "/print/taskDefinitions",
		       strlen("/print/taskDefinitions")) == 0;
}

struct graph *identity_app(struct upfs *u, char *why, size_t why_len)
{
	if (u->app_graph)
		return u->app_graph;
	if (u->graph_is_app)
		return u->graph;
	snprintf(why, why_len, "this needs the application identity, which "
		 "the mount does not have: mount with -o client_id=ID,"
		 "client_secret_file=PATH (besides the user's sign-in)");
	return NULL;
}

struct graph *identity_for_path(struct upfs *u, const char *path, char *why,
				size_t why_len)
{
	return identity_path_needs_app(path) ? identity_app(u, why, why_len)
					     : u->graph;
}
