/*
 * ops_private.h — what ops.c and ops_write.c share.
 */
#ifndef UPFS_OPS_PRIVATE_H
#define UPFS_OPS_PRIVATE_H

#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdatomic.h>

#include "document.h"
#include "fs.h"
#include "pull.h"
#include "spool.h"

/*
 * Every error reply. The kernel takes ENOSYS from most requests (flush,
 * fsync, create, the xattr calls, ...) for "not implemented, never ask
 * again", for the whole mount: a close() would then return 0 without a
 * commit. No failure of ours may say it.
 */
static inline void ops_reply_err(fuse_req_t req, int err)
{
	fuse_reply_err(req, err == ENOSYS ? EIO : err);
}

/*
 * An open file: the bytes of a generated file, rendered at open, or a
 * document in a queue/ (sub != NULL), read and written in its spool file.
 * A read holds a reference until its reply is written, so a release racing
 * with it (the reader may close as soon as the kernel has the data) cannot
 * free the bytes early.
 */
struct open_file {
	struct fs_handle handle;	/* first: the handle list holds it */
	atomic_int refs;
	struct buf content;
	struct submission *sub;
	struct document_reader *doc;	/* a job's document being read */
	struct pull_events *events;	/* task_definitions/<d>/events */
	bool writable;		/* flush hands sub over */
	/* Counts as one of sub's writers (queue_writer_opened; spool_lock),
	   until opener, the thread that opened it, or its process closes it
	   once bytes are in. */
	bool writing;
	pid_t opener;		/* of a queue/ writer or an edited file */
	/* An edited file (editfile.h): content is the new text, base (if
	   has_base) the text it started from: at open, then at each commit. */
	bool editing;
	bool has_base;
	struct buf base;
	bool edited;		/* changed since open or the last commit */
	bool written;		/* bytes written since then, not only O_TRUNC */
	enum fs_kind kind;
	char *id;
	char *owner;		/* an edited file's node's owner, or NULL */
	struct upfs *u;
};

struct open_file *open_file_new(struct upfs *u);
void open_file_put(struct open_file *f);
/*
 * An open whose reply did not reach the kernel (interrupted): no release
 * will come, so a writer's handle goes as at one (queue_release: the
 * document handed over if no other handle writes it, or dropped if
 * empty), then the reference.
 */
void open_file_unopened(struct open_file *f);

static inline struct upfs *req_upfs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The entry reply for a node holding one lookup reference. */
int ops_entry_of(struct upfs *u, struct fs_node *n,
		 struct fuse_entry_param *e);

/*
 * After a commit through this mount: the kernel's cached size and mtime of
 * ino may be stale. Attributes only, no pages: safe within a flush,
 * release or setattr of ino itself.
 */
void ops_attr_changed(struct upfs *u, fuse_ino_t ino);

#endif
