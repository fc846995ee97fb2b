/*
 * operation.c — starting a long-running call (reference §3.1, printer
 * registration): the POST answers 202 Accepted with no body, and the
 * operation to poll in Operation-Location (or Location, as the
 * pull-print printer create does), with a Retry-After.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graph_private.h"

int graph_start_operation(struct graph *g, const char *path,
			  const json_t *body, char **operation_url,
			  int *retry_after, struct graph_err *err)
{
	/* No operation list says whether a lost one started: sent once. */
	struct graph_req req = { .method = "POST", .path = path, .once = true };
	struct graph_resp resp;
	struct graph_err tmp;
	char *text = NULL;
	int rc = 0;

	*operation_url = NULL;
	*retry_after = -1;
	if (!err)
		err = &tmp;
	graph_err_clear(err);
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (text == NULL)
			rc = -ENOMEM;
		req.body = text;
		req.body_len = text ? strlen(text) : 0;
	}
	graph_resp_init(&resp, g);
	if (rc == 0)
		rc = graph_call(g, &req, &resp, err);
	if (rc == 0) {
		char **url = resp.operation_location ? &resp.operation_location
						     : &resp.location;

		if (*url == NULL || !graph_is_absolute(*url)) {
			graph_err_setf(err, "HTTP %ld without the operation "
				       "to follow", resp.status);
			err->unsettled = 1;	/* accepted all the same */
			rc = -EPROTO;
		} else {
			*operation_url = *url;
			*url = NULL;
			*retry_after = resp.retry_after;
		}
	}
	graph_resp_release(&resp);
	free(text);
	if (rc)
		graph_stats_count(g, GRAPH_STAT_FAILURES);
	return rc;
}
