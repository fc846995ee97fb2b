/*
 * paging.c — collections that span pages (@odata.nextLink).
 *
 * A nextLink is an absolute URL the service built; it is requested
 * verbatim, never taken apart or rebuilt. A service that loops (a link
 * seen before) or runs on without end (GRAPH_LIST_MAX_PAGES) is a protocol
 * error, not something to follow forever.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "graph.h"
#include "graph_private.h"

/* 100 printers a page would be ten million printers: surely a loop. */
#define GRAPH_LIST_MAX_PAGES 100000u
/*
 * Graph may answer an empty page that links on (a filter that matched
 * nothing there); a long run of them is a service that never ends.
 */
#define GRAPH_LIST_MAX_EMPTY_RUN 50u

static int list_fail(struct graph_err *err, const char *what, unsigned page)
{
	graph_err_clear(err);
	graph_err_setf(err, "page %u of the collection %s", page, what);
	return -EPROTO;
}

/* Appends the page's "value" elements to all. */
static int list_take(json_t *all, const json_t *page, unsigned n,
		     struct graph_err *err)
{
	json_t *value = json_object_get(page, "value");

	if (!json_is_array(value))
		return list_fail(err, "has no \"value\" array", n);
	if (json_array_extend(all, value) < 0)
		return -ENOMEM;
	return 0;
}

/*
 * Points *next at the page's nextLink (borrowed from page), or NULL on the
 * last page; records it in seen so that a loop is caught.
 */
static int list_next(const json_t *page, json_t *seen, const char **next,
		     unsigned n, struct graph_err *err)
{
	const json_t *link = json_object_get(page, "@odata.nextLink");
	const char *url;

	*next = NULL;
	if (!link || json_is_null(link))
		return 0;
	if (!json_is_string(link))
		return list_fail(err, "has a nextLink that is not a string", n);
	url = json_string_value(link);
	if (strncasecmp(url, "https://", 8) != 0 &&
	    strncasecmp(url, "http://", 7) != 0)
		return list_fail(err, "has a nextLink that is not an absolute "
				      "URL", n);
	if (json_object_get(seen, url))
		return list_fail(err, "repeats an earlier nextLink", n);
	if (n >= GRAPH_LIST_MAX_PAGES)
		return list_fail(err, "is past the page limit", n);
	if (json_object_set_new(seen, url, json_true()) < 0)
		return -ENOMEM;
	*next = url;
	return 0;
}

/* Records the first URL too: a nextLink back to page 1 is a loop. */
static int list_seen_new(struct graph *g, const char *path, json_t **seen)
{
	struct buf url;
	int rc;

	buf_init(&url, 0);
	*seen = json_object();
	rc = *seen ? graph_url_build(g, path, &url) : -ENOMEM;
	if (!rc && json_object_set_new(*seen, url.data, json_true()) < 0)
		rc = -ENOMEM;
	buf_release(&url);
	return rc;
}

int graph_list(struct graph *g, const char *path, json_t **out,
	       unsigned *pages, struct graph_err *err)
{
	json_t *all = NULL, *seen = NULL, *page = NULL, *prev = NULL;
	struct graph_err tmp;
	const char *url = path;
	unsigned n = 0, empty_run = 0;
	int rc;

	if (!err)
		err = &tmp;
	*out = NULL;
	if (pages)
		*pages = 0;
	if (!path) {
		graph_err_clear(err);
		graph_err_setf(err, "no collection path");
		return -EINVAL;
	}
	all = json_array();
	rc = all ? list_seen_new(g, path, &seen) : -ENOMEM;
	while (!rc && url) {
		rc = graph_fetch(g, "GET", url, NULL, true, &page, err);
		if (rc)
			break;
		n++;
		rc = list_take(all, page, n, err);
		empty_run = json_array_size(json_object_get(page, "value"))
			    ? 0 : empty_run + 1;
		if (!rc)
			rc = list_next(page, seen, &url, n, err);
		if (!rc && url && empty_run >= GRAPH_LIST_MAX_EMPTY_RUN)
			rc = list_fail(err, "links on after a long run of "
					    "empty pages", n);
		/* url is borrowed from page: keep page until it is fetched. */
		json_decref(prev);
		prev = page;
		page = NULL;
	}
	if (rc == -ENOMEM)
		graph_err_setf(err, "out of memory listing the collection");
	if (!rc) {
		*out = all;
		all = NULL;
	}
	if (pages)
		*pages = n;
	if (rc)
		graph_stats_count(g, GRAPH_STAT_FAILURES);
	json_decref(prev);
	json_decref(all);
	json_decref(seen);
	return rc;
}
