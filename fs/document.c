/*
 * document.c — streaming a job's document from the service (document.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "document.h"
#include "tree_private.h"

static int copy_id(char *dst, size_t len, const char *src, size_t n)
{
	if (n == 0 || n >= len)
		return -ENOENT;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

/* The document with doc_id in a job (borrowed), or its first one. */
static const json_t *job_document(const json_t *job, const char *doc_id)
{
	const json_t *docs = json_object_get(job, "documents"), *d;
	size_t i;

	json_array_foreach(docs, i, d)
		if (doc_id == NULL || strcmp(tree_str(d, "id"), doc_id) == 0)
			return d;
	return NULL;
}

static int fill_ref(struct document_ref *out, const json_t *job,
		    const json_t *doc)
{
	const json_t *uploaded = json_object_get(doc, "uploadedDateTime");
	const char *id = tree_str(doc, "id");
	int rc = copy_id(out->doc, sizeof(out->doc), id, strlen(id));

	/*
	 * "size" is what the upload session was opened for; until the bytes
	 * have arrived (uploadedDateTime null) there is nothing to read, and
	 * $value would answer 404.
	 */
	out->size = json_is_null(uploaded)
		    ? 0 : (uint64_t)json_integer_value(json_object_get(doc,
								       "size"));
	out->mtime = tree_parse_time(tree_str(job, "createdDateTime"));
	return rc;
}

/* printers/<p>/jobs/<j>/documents/<name>: id "job/doc", owner printer. */
static int job_document_ref(struct upfs *u, const struct fs_node *n,
			    struct document_ref *out, struct fs_deps *deps)
{
	const char *slash = strchr(n->id, '/');
	const json_t *doc;
	json_t *job = NULL;
	int rc;

	if (slash == NULL || n->owner == NULL)
		return -ENOENT;
	rc = copy_id(out->job, sizeof(out->job), n->id,
		     (size_t)(slash - n->id));
	if (rc == 0)
		rc = copy_id(out->printer, sizeof(out->printer), n->owner,
			     strlen(n->owner));
	if (rc == 0)
		rc = tree_get_job(u, TREE_PRINTERS, n->owner, out->job, &job,
				  deps);
	if (rc == 0)
		rc = (doc = job_document(job, slash + 1)) != NULL
		     ? fill_ref(out, job, doc) : -ENOENT;
	json_decref(job);
	return rc;
}

/* shares/<s>/queue/<name>: id the job, owner the share. */
static int queue_document_ref(struct upfs *u, const struct fs_node *n,
			      struct document_ref *out, struct fs_deps *deps)
{
	json_t *job = NULL, *share = NULL;
	const json_t *doc;
	const char *pid;
	int rc;

	rc = copy_id(out->job, sizeof(out->job), n->id, strlen(n->id));
	if (rc == 0)
		rc = tree_get_job(u, TREE_SHARES, n->owner, n->id, &job, deps);
	if (rc == 0)
		rc = (doc = job_document(job, NULL)) != NULL
		     ? fill_ref(out, job, doc) : -ENOENT;
	/* The bytes are served under the printer (reference §3.3), which
	   an account that may not read printers is not shown: its size and
	   time are the job's all the same. */
	if (rc == 0)
		rc = tree_get(u, TREE_SHARES, n->owner, TREE_SHARE_SELECT, false,
			      u->opts.dir_ttl, RES_STALE_OK, &share, deps);
	pid = tree_str(json_object_get(share, "printer"), "id");
	if (rc == 0 && pid[0] != '\0')
		rc = copy_id(out->printer, sizeof(out->printer), pid,
			     strlen(pid));
	json_decref(job);
	json_decref(share);
	return rc;
}

int document_ref_of(struct upfs *u, const struct fs_node *n,
		    struct document_ref *out, struct fs_deps *deps)
{
	memset(out, 0, sizeof(*out));
	if (n->id == NULL)
		return -ENOENT;
	if (n->kind == FS_JOB_DOCUMENT)
		return job_document_ref(u, n, out, deps);
	if (n->kind == FS_QUEUE_ENTRY)
		return queue_document_ref(u, n, out, deps);
	return -EINVAL;
}

static int health_fail(struct upfs *u, int rc, const struct graph_err *err)
{
	if (rc && rc != -ESTALE)
		health_error(u, "reading a document", rc, err);
	return rc;
}

/* GET …/$value: where the bytes are now. */
static int locate(struct upfs *u, struct document_reader *r)
{
	struct graph_err err = { 0 };
	struct buf path;
	int rc;

	free(r->url);
	r->url = NULL;
	if (r->ref.printer[0] == '\0') {
		health_refusal(u, "reading a document",
			       "its bytes are served under its printer, which "
			       "the service does not name for this share (an "
			       "account without Printer.Read.All is not shown "
			       "it)");
		return -EACCES;
	}
	buf_init(&path, 4096);
	rc = tree_key(&path, TREE_PRINTERS, r->ref.printer, "/jobs/");
	if (rc == 0)
		rc = graph_escape_segment(&path, r->ref.job);
	if (rc == 0)
		rc = buf_append_str(&path, "/documents/");
	if (rc == 0)
		rc = graph_escape_segment(&path, r->ref.doc);
	if (rc == 0)
		rc = buf_append_str(&path, "/$value");
	if (rc == 0)
		rc = health_fail(u, graph_download_url(u->graph, path.data,
						       &r->url, &err), &err);
	buf_release(&path);
	return rc;
}

int document_open(struct upfs *u, const struct fs_node *n,
		  struct document_reader **out)
{
	struct document_reader *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	buf_init(&r->window, UPFS_DOCUMENT_WINDOW);
	rc = document_ref_of(u, n, &r->ref, NULL);
	/* Asking where the bytes are now makes open() fail, not read(),
	   when the document cannot be had (403 for another's job). */
	if (rc == 0 && r->ref.size > 0)
		rc = locate(u, r);
	if (rc) {
		document_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* Fills the window with the bytes from off; asks for a new URL once. */
static int fetch_window(struct upfs *u, struct document_reader *r,
			uint64_t off)
{
	size_t len = UPFS_DOCUMENT_WINDOW;
	struct graph_err err = { 0 };
	int rc;

	if (off >= r->ref.size)
		return 0;
	if (len > r->ref.size - off)
		len = (size_t)(r->ref.size - off);
	buf_reset(&r->window);
	r->window_off = off;
	rc = r->url ? graph_download_range(u->graph, r->url, off, len,
					   &r->window, &err) : -ESTALE;
	if (rc == -ESTALE) {
		buf_reset(&r->window);
		rc = locate(u, r);
		if (rc == 0)
			rc = graph_download_range(u->graph, r->url, off, len,
						  &r->window, &err);
	}
	if (rc == -ESTALE)
		rc = -EACCES;
	return health_fail(u, rc, &err);
}

int document_read(struct upfs *u, struct document_reader *r, uint64_t off,
		  size_t size, struct buf *out)
{
	int rc = 0;

	pthread_mutex_lock(&r->lock);
	while (size > 0 && off < r->ref.size && rc == 0) {
		size_t take;

		if (off < r->window_off ||
		    off >= r->window_off + r->window.len) {
			rc = fetch_window(u, r, off);
			if (rc || r->window.len == 0)
				break;	/* an error, or the document ended */
		}
		take = (size_t)(r->window_off + r->window.len - off);
		if (take > size)
			take = size;
		rc = buf_append(out, r->window.data + (off - r->window_off),
				take);
		off += take;
		size -= take;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void document_close(struct document_reader *r)
{
	if (r == NULL)
		return;
	free(r->url);
	buf_release(&r->window);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
