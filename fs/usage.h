/*
 * usage.h — usage/ and archive/ of design §2: the print usage reports
 * (usage/by-printer/<p>/{daily,monthly}.csv, usage/by-user/<upn>/…,
 * usage/summary.svg) and archived jobs (archive/{printers,users,groups}/
 * <name>/<YYYY-MM>.csv, one file per month with data). Contents are made
 * by report.c; this file finds what to list and what to fetch.
 */
#ifndef UPFS_USAGE_H
#define UPFS_USAGE_H

#include <stdbool.h>

#include "fs.h"

bool usage_kind_is_dir(enum fs_kind kind);

/* The children of a folder of usage/ or archive/. */
int usage_list(struct upfs *u, const struct fs_node *dir,
	       struct fs_entries *out, struct fs_deps *deps);

/* A CSV or the SVG; ttl receives how long the kernel may keep it. */
int usage_render(struct upfs *u, const struct fs_node *n, struct buf *out,
		 int *ttl, struct fs_deps *deps);

/* At unmount: what usage.c kept (the users' listings). */
void usage_release(struct upfs *u);

#endif
