/*
 * ops_write.c — the operations that change the tree where it allows it:
 * today the queue/ folders (printing). Elsewhere they answer EROFS, as in
 * ops_readonly.c.
 */
#include <errno.h>
#include <fuse_lowlevel.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"
#include "ops_private.h"
#include "editfile.h"
#include "queue.h"

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct upfs *u = req_upfs(req);
	struct fs_node *dir = node_get(u, parent), *n = NULL;
	struct open_file *f = NULL;
	struct fuse_entry_param e;
	struct fs_entry entry = { 0 };
	int rc;

	(void)mode;
	if (dir->kind != FS_SHARE_QUEUE) {
		fuse_reply_err(req, EROFS);
		return;
	}
	f = open_file_new(u);
	rc = f ? queue_create(u, dir->id, name, &f->sub) : -ENOMEM;
	if (rc == 0) {
		entry.name = (char *)name;
		entry.kind = FS_QUEUE_LOCAL;
		entry.id = f->sub->id;
		entry.owner = dir->id;
		entry.mtime = f->sub->created_ms / 1000;
		rc = node_adopt(u, dir, &entry, &n);
	}
	if (rc == 0) {
		rc = ops_entry_of(u, n, &e);
		if (rc)
			node_forget(u, n, 1);
	}
	if (rc) {
		if (f)
			open_file_put(f);
		fuse_reply_err(req, -rc);
		return;
	}
	/* The queue is live: the kernel must ask again for every name. */
	e.entry_timeout = e.attr_timeout = 0;
	f->writable = true;
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->direct_io = 1;
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		open_file_put(f);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct open_file *f = (struct open_file *)(uintptr_t)fi->fh;
	int rc;

	(void)ino;
	if (f->editing) {
		rc = editfile_write(&f->content, buf, size, off);
		f->edited = rc >= 0 || f->edited;
	} else {
		rc = f->sub ? queue_write(f->u, f->sub, buf, size, off) : -EBADF;
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, (size_t)rc);
}

/* close() waits for this: the submission's result is close()'s. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct open_file *f = (struct open_file *)(uintptr_t)fi->fh;
	int rc = 0;

	(void)ino;
	if (f->sub && f->writable) {
		rc = queue_flush(f->u, f->sub);
	} else if (f->editing && f->edited) {
		rc = editfile_commit(f->u, f->kind, f->id, &f->content);
		f->edited = false;
	}
	fuse_reply_err(req, -rc);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct open_file *f = (struct open_file *)(uintptr_t)fi->fh;
	int rc = 0;

	(void)ino;
	if (f->sub && f->sub->fd >= 0 &&
	    (datasync ? fdatasync(f->sub->fd) : fsync(f->sub->fd)) != 0)
		rc = errno;
	fuse_reply_err(req, rc);
}

/* Truncating an edited file: in its handle, or (by path) committed now. */
static void setattr_edit(fuse_req_t req, struct upfs *u, struct fs_node *n,
			 struct stat *attr, int to_set,
			 struct fuse_file_info *fi)
{
	struct open_file *f = fi ? (struct open_file *)(uintptr_t)fi->fh : NULL;
	struct buf text;
	struct stat st;
	int ttl, rc = 0;

	buf_init(&text, UPFS_EDIT_MAX);
	if ((to_set & FUSE_SET_ATTR_SIZE) && f && f->editing) {
		rc = editfile_truncate(&f->content, attr->st_size);
		f->edited = true;
	} else if (to_set & FUSE_SET_ATTR_SIZE) {
		rc = editfile_load(u, n, &text);
		if (rc == 0)
			rc = editfile_truncate(&text, attr->st_size);
		if (rc == 0)
			rc = editfile_commit(u, n->kind, n->id, &text);
	}
	if (rc == 0)
		rc = node_stat(u, n, &st, &ttl);
	if (rc == 0 && f && f->editing)
		st.st_size = (off_t)f->content.len;
	buf_release(&text);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, 0);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct upfs *u = req_upfs(req);
	struct fs_node *n = node_get(u, ino);
	struct submission *s = NULL;
	struct stat st;
	int ttl, rc = 0;

	if (editfile_kind(n->kind)) {
		setattr_edit(req, u, n, attr, to_set, fi);
		return;
	}
	if (n->kind != FS_QUEUE_LOCAL) {
		fuse_reply_err(req, EROFS);
		return;
	}
	s = spool_get(u, n->id);
	if (s == NULL)
		rc = -ENOENT;
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		rc = spool_open_file(u, s);
		if (rc == 0)
			rc = queue_truncate(u, s, attr->st_size);
	}
	/* Modes and times of a pending document (rsync, cp -p) mean nothing
	   to the service: accepted, not kept. */
	if (rc == 0)
		rc = node_stat(u, n, &st, &ttl);
	spool_put(u, s);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, 0);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct upfs *u = req_upfs(req);
	struct fs_node *dir = node_get(u, parent);
	int rc;

	if (dir->kind != FS_SHARE_QUEUE || newparent != parent) {
		fuse_reply_err(req, dir->kind == FS_SHARE_QUEUE ? EXDEV : EROFS);
		return;
	}
	rc = flags ? -EINVAL : queue_rename(u, dir->id, name, newname);
	fuse_reply_err(req, -rc);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct upfs *u = req_upfs(req);
	struct fs_node *dir = node_get(u, parent), *n = NULL;
	int rc;

	if (dir->kind != FS_SHARE_QUEUE) {
		fuse_reply_err(req, EROFS);
		return;
	}
	rc = node_lookup(u, dir, name, &n);
	if (rc == 0) {
		rc = queue_unlink(u, n);
		node_forget(u, n, 1);
	}
	fuse_reply_err(req, -rc);
}

/*
 * Copying into queue/ (mv, cp -a) tries to carry ACLs and other xattrs
 * over; "not supported" makes those programs skip them quietly.
 */
static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct fs_node *n = node_get(req_upfs(req), ino);

	(void)name, (void)value, (void)size, (void)flags;
	fuse_reply_err(req, n->kind == FS_QUEUE_LOCAL ||
			    n->kind == FS_QUEUE_ENTRY ? ENOTSUP : EROFS);
}

void ops_fill_write(struct fuse_lowlevel_ops *ops)
{
	ops->setxattr = op_setxattr;
	ops->create = op_create;
	ops->write = op_write;
	ops->flush = op_flush;
	ops->fsync = op_fsync;
	ops->setattr = op_setattr;
	ops->rename = op_rename;
	ops->unlink = op_unlink;
}
