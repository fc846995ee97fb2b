/*
 * readbase.h — what each process last read of an editable file, as the
 * base of the three-way merge when that process saves it (readbase.c).
 *
 * An editor reads a file (nano, vim: open read-only, read, close) and,
 * minutes later, saves it by truncating it or renaming a new file over
 * it. The handle that saves never read anything, so without this the
 * merge's base is the file as the mount shows it at the save: a change
 * another admin made after the editor read it, and that this mount has
 * seen since, is then in the base and not in the text, and the save
 * would undo it. Remembering the text served to the same process (a
 * thread group, told apart from a later one with its pid by its start
 * time) gives the save the base it started from; a process that never
 * read the file (echo x > allowed_users) still makes the file what it
 * wrote.
 */
#ifndef UPFS_READBASE_H
#define UPFS_READBASE_H

#include <stdbool.h>
#include <sys/types.h>

#include "buf.h"
#include "fs.h"

/*
 * Entries kept at most, and per process: a process that reads many files
 * (grep -r over shares/) gives up its own oldest before it could push out
 * an editor's; past the total, those of processes that have gone go, else
 * the least recently used.
 */
#define UPFS_READBASE_MAX 64
#define UPFS_READBASE_PER_PROCESS 8

struct readbase;

/* Frees every entry (at unmount). */
void readbase_release(struct upfs *u);

/*
 * Remembers text as what the process of thread tid (fuse_req_ctx's pid)
 * last read of the file (kind, id; id NULL for a file of the tenant, as
 * settings.json). The text is copied. With only_known, replaces an entry
 * that exists and adds none: after that process's own commit, its next
 * save starts from what it committed. Best effort: a process this daemon
 * cannot see (another pid namespace, pid 0) or no memory leaves nothing.
 */
void readbase_note(struct upfs *u, pid_t tid, enum fs_kind kind,
		   const char *id, const struct buf *text, bool only_known);

/*
 * Copies into out what the process of tid last read of (kind, id), and
 * returns 0 with *found true; 0 with *found false when it read nothing
 * (or has gone); a negative errno when out cannot hold it.
 */
int readbase_get(struct upfs *u, pid_t tid, enum fs_kind kind,
		 const char *id, struct buf *out, bool *found);

#endif
