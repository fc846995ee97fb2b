/*
 * perms.h — committing a share's permission files (perms.c).
 */
#ifndef UPFS_PERMS_H
#define UPFS_PERMS_H

#include <stddef.h>

#include "fs.h"

/*
 * Makes the service's allowedUsers / allowedGroups / allowAllUsers of the
 * share what text says (kind: FS_SHARE_USERS, _GROUPS, _ALLOW_ALL). With
 * base (the list as the editor saw it), a list changes only by the lines
 * text adds to base or drops from it: an entry someone else added after
 * the editor read the list (or that a cached copy did not show yet) is
 * not removed. -EINVAL for a malformed line, an unknown user or group or
 * an ambiguous group name (nothing is changed), -EACCES when the service
 * says 403, another errno when it fails part-way (what was applied is
 * undone). why receives the reason.
 */
int perms_commit(struct upfs *u, enum fs_kind kind, const char *share_id,
		 const struct buf *base, const struct buf *text, char *why,
		 size_t why_len);

/*
 * Settles the permission commits a stop cut short (their journal records
 * in LMDB): the new list stands where the service holds all of it, else
 * the old one is restored. Run once a mount can reach the service.
 */
void perms_recover(struct upfs *u);

/*
 * Whether s reads back as itself from a line of a list file: not empty,
 * no blank at either end, no comment, no line break. The files write an
 * entry whose name is not by its id.
 */
bool perms_line_safe(const char *s);

/*
 * Bytes a line may hold: a group's name is up to 256 characters, of up
 * to four bytes each; a UPN is shorter. A longer line is refused before
 * the directory is asked.
 */
#define PERMS_LINE_MAX 1024

/*
 * The lines perms_commit() would resolve, without resolving them: fn is
 * called with each non-blank, non-comment line of text, trimmed, each
 * distinct line once, in order, until it returns non-zero. A UTF-8 byte
 * order mark at the start is skipped. 0, fn's answer, -EINVAL (a NUL
 * byte, bytes that are not UTF-8, or a line over PERMS_LINE_MAX bytes
 * in text: fn is not called) or -ENOMEM. For the tests and the fuzzer
 * (tests/fuzz).
 */
int perms_lines(const struct buf *text,
		int (*fn)(void *arg, const char *line), void *arg);

#endif
