/*
 * document.h — reading a print job's document: printers/<p>/jobs/<j>/
 * documents/<name> and a share's queue/<name>. The size comes from the
 * job listing; the bytes are streamed from the service (…/$value, a 302
 * to a pre-authenticated URL) in ranges as they are read, so a 256 MB
 * document costs one window of memory, not its size.
 */
#ifndef UPFS_DOCUMENT_H
#define UPFS_DOCUMENT_H

#include <pthread.h>
#include <stdint.h>

#include "fs.h"

/* Bytes fetched at a time: sequential readers get whole windows. */
#define UPFS_DOCUMENT_WINDOW ((size_t)1 << 20)

struct document_ref {
	char printer[128];
	char job[128];
	char doc[128];
	uint64_t size;
	int64_t mtime;
};

/* Which document a node (FS_JOB_DOCUMENT or FS_QUEUE_ENTRY) shows. */
int document_ref_of(struct upfs *u, const struct fs_node *n,
		    struct document_ref *out, struct fs_deps *deps);

/* An open document: where its bytes are, and the last window read. */
struct document_reader {
	pthread_mutex_t lock;	/* reads of one handle may run at once */
	struct document_ref ref;
	char *url;		/* the pre-authenticated URL, or NULL */
	struct buf window;	/* bytes from window_off */
	uint64_t window_off;
};

int document_open(struct upfs *u, const struct fs_node *n,
		  struct document_reader **out);

/* Up to size bytes from off into out (fewer at the end). */
int document_read(struct upfs *u, struct document_reader *r, uint64_t off,
		  size_t size, struct buf *out);

void document_close(struct document_reader *r);

#endif
