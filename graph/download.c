/*
 * download.c — the bytes of a print document (reference §3.3
 * "Download"): GET …/documents/{id}/$value answers 302 Found with a
 * pre-authenticated URL, which is then read in ranges without the bearer
 * token, the way upload URLs are written.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_private.h"

int graph_download_url(struct graph *g, const char *value_path, char **url,
		       struct graph_err *err)
{
	struct graph_req req = { .method = "GET", .path = value_path };
	struct graph_resp resp;
	struct graph_err tmp;
	int rc;

	*url = NULL;
	if (!err)
		err = &tmp;
	graph_err_clear(err);
	graph_resp_init(&resp, g);
	rc = graph_call(g, &req, &resp, err);
	if (rc == 0 && (resp.status < 300 || resp.status >= 400 ||
			resp.location == NULL ||
			!graph_is_absolute(resp.location))) {
		graph_err_setf(err, "HTTP %ld to a document download without "
			       "a redirect to its bytes", resp.status);
		rc = -EPROTO;
	}
	if (rc == 0) {
		*url = resp.location;
		resp.location = NULL;
	}
	graph_resp_release(&resp);
	if (rc)
		graph_stats_count(g, GRAPH_STAT_FAILURES);
	return rc;
}

int graph_download_range(struct graph *g, const char *url, uint64_t off,
			 size_t len, struct buf *out, struct graph_err *err)
{
	char range[80];
	const char *headers[] = { range, NULL };
	struct graph_req req = {
		.method = "GET",
		.path = url,
		.headers = headers,
		.no_auth = true,
		.patient = true,
		.slice_off = off,
		.slice_len = len,
	};
	struct graph_resp resp;
	struct graph_err tmp;
	int rc;

	if (!err)
		err = &tmp;
	graph_err_clear(err);
	if (len == 0)
		return 0;
	if (!url || !graph_is_absolute(url)) {
		graph_err_setf(err, "no download URL");
		graph_stats_count(g, GRAPH_STAT_FAILURES);
		return -EINVAL;
	}
	snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64,
		 off, off + len - 1);
	graph_resp_init(&resp, g);
	rc = graph_call(g, &req, &resp, err);
	if (rc == 0 && resp.status == 206) {
		/* The body holds the part of the window the Content-Range
		   says it carries (graph_req's slice); it must start the
		   window, or bytes would be taken for others. None at all
		   would read as the document's end. */
		if (resp.range_first < 0) {
			graph_err_setf(err, "a document range answered without "
				       "a Content-Range of one range");
			rc = -EPROTO;
		} else if ((uint64_t)resp.range_first > off ||
			   resp.body.len == 0 || resp.body.len > len) {
			graph_err_setf(err, "the download answered bytes "
				       "%" PRId64 "-%" PRId64 " for bytes %"
				       PRIu64 "-%" PRIu64, resp.range_first,
				       resp.range_last, off, off + len - 1);
			rc = -EPROTO;
		} else {
			rc = buf_append(out, resp.body.data, resp.body.len);
		}
	} else if (rc == 0 && resp.status == 200) {
		/* A host that ignores Range sent it all from byte 0: the
		   body holds the window alone (graph_req's slice). */
		rc = buf_append(out, resp.body.data, resp.body.len);
	} else if (rc == 0) {
		graph_err_setf(err, "HTTP %ld to a document range",
			       resp.status);
		rc = -EPROTO;
	} else if (err->status == 416) {
		graph_err_clear(err);
		rc = 0;		/* past the end: no bytes */
	} else if (err->status == 401 || err->status == 403 ||
		   err->status == 404 || err->status == 410) {
		rc = -ESTALE;	/* the URL's credential expired: ask again */
	}
	graph_resp_release(&resp);
	if (rc)
		graph_stats_count(g, GRAPH_STAT_FAILURES);
	return rc;
}
