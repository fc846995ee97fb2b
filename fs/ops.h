/*
 * ops.h — the FUSE operation table of upfs.
 */
#ifndef UPFS_OPS_H
#define UPFS_OPS_H

#include <fuse_lowlevel.h>

/* Fills ops with every operation upfs implements. */
void ops_fill(struct fuse_lowlevel_ops *ops);

/* The operations that would change the tree (ops_readonly.c). */
void ops_fill_readonly(struct fuse_lowlevel_ops *ops);

/* The ones that do, where the tree allows it (ops_write.c). */
void ops_fill_write(struct fuse_lowlevel_ops *ops);

#endif
