/*
 * editfile.h — files that are edited in place: the new text is kept in the
 * open handle and committed on close (flush), where a refusal comes back as
 * close()'s errno and leaves the file as it was: a share's options and
 * permission files, a printer's defaults.json and location.json,
 * settings.json, and the ctl files (whose "text" is a command).
 */
#ifndef UPFS_EDITFILE_H
#define UPFS_EDITFILE_H

#include <stdbool.h>
#include <sys/types.h>

#include "fs.h"

/* Edited text is small: past this a write fails with EFBIG. */
#define UPFS_EDIT_MAX ((size_t)64 << 10)

bool editfile_kind(enum fs_kind kind);

/* The text as it is now, into out. */
int editfile_load(struct upfs *u, const struct fs_node *n, struct buf *out);

/*
 * Whether a commit of kind changes only what the edit changed, and so
 * needs the text the edit started from (the permission lists, the JSON
 * files).
 */
bool editfile_has_base(enum fs_kind kind);

/* n's text into out and *has true when its kind has a base, else nothing. */
int editfile_load_base(struct upfs *u, const struct fs_node *n,
		       struct buf *out, bool *has);

/*
 * The base of a save that writes the whole text anew (a truncating open,
 * a rename over the file): what the process of thread pid last read of
 * n's file (readbase.h), else n's text now; *has as editfile_load_base.
 */
int editfile_load_save_base(struct upfs *u, const struct fs_node *n,
			    pid_t pid, struct buf *out, bool *has);

/* off may be FS_OFF_END. */
int editfile_write(struct buf *text, const char *data, size_t size, off_t off);
int editfile_truncate(struct buf *text, off_t size);

/*
 * Checks and applies text to the file of kind whose node has id and owner;
 * -EINVAL (reason logged) leaves things as they were. base is the text the
 * edit started from (the file when opened), or NULL: a list then changes
 * by the lines the edit added and removed, and what someone else changed
 * meanwhile stays (perms.h).
 */
int editfile_commit(struct upfs *u, enum fs_kind kind, const char *id,
		    const char *owner, const struct buf *base,
		    const struct buf *text);

/* The job configuration from a share's options (a new reference). */
json_t *editfile_share_configuration(struct upfs *u, const char *share_id);

#endif
