/*
 * scratch.h — the local files that editors and tools make beside the file
 * they edit in a share's folder: vim's .x.swp, 4913 and x~, sed -i's
 * sedXXXXXX, ln -sfn's temporary link. They live in memory on this mount
 * only and never reach the service; renaming one over an editable file is
 * that file's commit (editfile.h).
 *
 * Each has a local id that nodes carry, so a rename keeps open handles
 * pointing at the same bytes. All calls lock scratch_lock themselves.
 */
#ifndef UPFS_SCRATCH_H
#define UPFS_SCRATCH_H

#include <stdbool.h>
#include <sys/types.h>

#include "fs.h"

/* Editors' files are small; past this a write fails with EFBIG. */
#define UPFS_SCRATCH_MAX ((size_t)1 << 20)
/* Scratch files kept at once, all folders together: they live in
   memory, and a mount shared with allow_other lets others make them. */
#define UPFS_SCRATCH_FILES_MAX 64

/* A new file (or symlink to target) called name; *id gets its local id. */
int scratch_create(struct upfs *u, const char *share_id, const char *name,
		   const char *target, char id[40]);

/* The local id of share_id's file called name, or -ENOENT. */
int scratch_lookup(struct upfs *u, const char *share_id, const char *name,
		   char id[40]);

int scratch_read(struct upfs *u, const char *id, struct buf *out);
/* off may be FS_OFF_END. */
int scratch_write(struct upfs *u, const char *id, const char *data,
		  size_t size, off_t off);
int scratch_truncate(struct upfs *u, const char *id, off_t size);
/* Size and mtime; *is_link tells a symlink. */
int scratch_stat(struct upfs *u, const char *id, off_t *size, int64_t *mtime,
		 bool *is_link);
/* A symlink's target. */
int scratch_target(struct upfs *u, const char *id, struct buf *out);

int scratch_unlink(struct upfs *u, const char *share_id, const char *name);
/* Renames a scratch file (replacing a scratch file called to). */
int scratch_rename(struct upfs *u, const char *share_id, const char *from,
		   const char *to);

/* The share's scratch files, for its listing. */
int scratch_list(struct upfs *u, const char *share_id, struct fs_entries *out);

void scratch_release(struct upfs *u);

#endif
