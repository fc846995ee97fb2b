/*
 * queue.h — writing, renaming and removing in shares/<s>/queue/ (queue.c).
 */
#ifndef UPFS_QUEUE_H
#define UPFS_QUEUE_H

#include <stdbool.h>
#include <sys/types.h>

#include "spool.h"

/* A dot name stays local until it is renamed to a visible one. */
bool queue_name_is_local(const char *name);

/* A new document called name in the share's queue (a new reference). */
int queue_create(struct upfs *u, const char *share_id, const char *name,
		 struct submission **out);

/* Bytes written (off may be FS_OFF_END), or -EFBIG past the job size
   limit, -ENOSPC, ... */
int queue_write(struct upfs *u, struct submission *s, const char *data,
		size_t size, off_t off);
int queue_truncate(struct upfs *u, struct submission *s, off_t size);
int queue_read(struct upfs *u, struct submission *s, char *out, size_t size,
	       off_t off);

/*
 * A handle opened to write s; *writing (the handle's, guarded by
 * spool_lock from here on) is set: it counts as one of s's writers until
 * its opener closes it or it is released.
 */
void queue_writer_opened(struct upfs *u, struct submission *s, bool *writing);

/* The handle goes without a release (an open whose reply failed). */
void queue_writer_gone(struct upfs *u, struct submission *s, bool *writing);

/*
 * close() of a descriptor of a writing handle (writing: the handle's
 * flag), by_opener whether by the process that opened it: hands the
 * document over once no writer is left; 0 when started or spooled, or
 * when other writers go on.
 */
int queue_flush(struct upfs *u, struct submission *s, bool by_opener,
		bool *writing);

/*
 * fsync(2) or fdatasync of s's spool file for a program's fsync. A
 * failure is its write-back's, which the file reports only once: s is
 * never sent, and its close fails too if it is still being written.
 */
int queue_fsync(struct upfs *u, struct submission *s, bool datasync);

/*
 * The last close of a writing handle: an empty new file is forgotten, and
 * a written one no close handed over is handed over now.
 */
void queue_release(struct upfs *u, struct submission *s, bool *writing);

/* Renames n, a local document; to a visible name, that is its
   submission. -EPERM for a job. */
int queue_rename(struct upfs *u, const struct fs_node *n, const char *to);

/* Cancels a job of the share on its printer (the documented route). */
int queue_cancel_job(struct upfs *u, const char *share_id, const char *job_id);

/* rm: discards a pending document or cancels a job. */
int queue_unlink(struct upfs *u, const struct fs_node *n);

/* Size and time of a document not yet handed over. */
int queue_local_size(struct upfs *u, const struct fs_node *n, off_t *size,
		     int64_t *mtime);

#endif
