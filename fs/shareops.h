/*
 * shareops.h — managing shares with mkdir, ln -s, mv and rmdir (design §2).
 *
 * mkdir shares/NAME makes a pending share that exists on this mount only;
 * ln -s ../../printers/P shares/NAME/printer creates it on the service.
 * mv renames a share, rmdir deletes it, and ln -sfn swaps its printer.
 * Errors: no rights EACCES, name taken EEXIST, unknown printer ENOENT.
 */
#ifndef UPFS_SHAREOPS_H
#define UPFS_SHAREOPS_H

#include "fs.h"

int shareops_mkdir(struct upfs *u, const char *name);
/* Creates the pending share called name on the printer a link names. */
int shareops_create(struct upfs *u, const char *name, const char *target);
int shareops_rmdir(struct upfs *u, const char *name);
int shareops_rename(struct upfs *u, const char *from, const char *to);
/* Points share_id at the printer the link target names. */
int shareops_set_printer(struct upfs *u, const char *share_id,
			 const char *target);

/* Pending shares, for the listing of shares/. */
int shareops_list_pending(struct upfs *u, struct fs_entries *out);
bool shareops_is_pending(struct upfs *u, const char *name);
void shareops_release(struct upfs *u);

#endif
