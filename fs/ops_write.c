/*
 * ops_write.c — the operations that change the tree where it allows it:
 * printing into queue/, editable files and their editors' files, shares
 * (shareops.c), printers and connectors (adminops.c). Elsewhere they
 * answer EROFS, as in ops_readonly.c.
 */
#include <errno.h>
#include <fuse_lowlevel.h>
#include <string.h>
#include <unistd.h>

#include "adminops.h"
#include "names.h"
#include "ops.h"
#include "procinfo.h"
#include "pull.h"
#include "ops_private.h"
#include "editfile.h"
#include "queue.h"
#include "queue_options.h"
#include "readbase.h"
#include "scratch.h"
#include "shareops.h"
#include "utf8.h"
#include <stdlib.h>

/* An editor's file beside editable files (vim's 4913 and .swp, sed -i's
   temporary): local only. The folder's own files are never created. */
static int create_scratch(struct upfs *u, struct fs_node *dir,
			  const char *name, struct open_file *f,
			  struct fs_entry *entry)
{
	enum fs_kind fixed;
	int rc;

	if (tree_fixed_child(dir->kind, name, &fixed))
		return -EEXIST;
	f->id = calloc(1, 40);
	if (f->id == NULL)
		return -ENOMEM;
	rc = scratch_create(u, tree_scratch_owner(dir), name, NULL, f->id);
	f->kind = FS_SCRATCH;
	f->writable = true;
	entry->kind = FS_SCRATCH;
	entry->id = f->id;
	entry->mtime = cache_now_ms() / 1000;
	return rc;
}

/*
 * touch printers/<p>/task_triggers/<definition>: the trigger is made now;
 * the file opened is empty and its close changes nothing.
 */
static void create_trigger(fuse_req_t req, struct upfs *u,
			   struct fs_node *dir, const char *name,
			   struct fuse_file_info *fi)
{
	struct open_file *f = NULL;
	struct fs_node *n = NULL;
	struct fuse_entry_param e;
	struct buf listed;
	int rc;

	buf_init(&listed, 0);
	rc = pull_create_trigger(u, dir->id, name, &listed);
	if (rc == 0)
		rc = node_lookup(u, dir, listed.data, &n);
	if (rc == 0 && (rc = ops_entry_of(u, n, &e)) != 0)
		node_forget(u, n, 1);
	/* Listed by another name (its id): the kernel must not keep this
	   one, or a later create of it would open the old trigger. */
	if (rc == 0 && strcmp(listed.data, name) != 0)
		e.entry_timeout = 0;
	buf_release(&listed);
	if (rc == 0 && (f = open_file_new(u)) == NULL) {
		node_forget(u, n, 1);
		rc = -ENOMEM;
	}
	if (rc) {
		ops_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->direct_io = 1;
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		open_file_put(f);
}

/* Seconds the kernel may keep a created document's attributes (below). */
#define CREATED_ATTR_TTL 1.0

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
	if (dir->kind == FS_TASK_TRIGGERS) {
		create_trigger(req, u, dir, name, fi);
		return;
	}
	if (dir->kind != FS_SHARE_QUEUE && !tree_keeps_scratch(dir->kind)) {
		ops_reply_err(req, EROFS);
		return;
	}
	f = open_file_new(u);
	if (f == NULL)
		rc = -ENOMEM;
	else if (dir->kind != FS_SHARE_QUEUE)
		rc = create_scratch(u, dir, name, f, &entry);
	else
		rc = queue_create(u, dir->id, name, &f->sub);
	if (rc == 0 && dir->kind == FS_SHARE_QUEUE) {
		f->opener = fuse_req_ctx(req)->pid;
		queue_writer_opened(u, f->sub, &f->writing);
		entry.kind = FS_QUEUE_LOCAL;
		entry.id = f->sub->id;
		entry.mtime = f->sub->created_ms / 1000;
	}
	if (rc == 0) {
		entry.name = (char *)name;
		entry.owner = (char *)tree_scratch_owner(dir);
		rc = node_adopt(u, dir, &entry, &n);
	}
	if (rc == 0) {
		rc = ops_entry_of(u, n, &e);
		if (rc)
			node_forget(u, n, 1);
	}
	if (rc) {
		if (f)	/* a new document no one will write: not left over */
			open_file_unopened(f);
		ops_reply_err(req, -rc);
		return;
	}
	/*
	 * The queue is live: the kernel must ask again for every name. The
	 * new file's attributes change only by writes through this handle,
	 * which the kernel follows itself: the fstat cp makes next is free.
	 */
	e.entry_timeout = 0;
	e.attr_timeout = dir->kind == FS_SHARE_QUEUE ? CREATED_ATTR_TTL : 0;
	f->writable = true;
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->direct_io = 1;
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		open_file_unopened(f);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct open_file *f = (struct open_file *)(uintptr_t)fi->fh;
	int rc;

	(void)ino;
	if (fi->flags & O_APPEND)
		off = FS_OFF_END;
	if (f->editing) {
		rc = editfile_write(&f->content, buf, size, off);
		f->edited = rc >= 0 || f->edited;
		f->written = rc >= 0 || f->written;
	} else if (f->kind == FS_SCRATCH) {
		rc = scratch_write(f->u, f->id, buf, size, off);
	} else {
		rc = f->sub ? queue_write(f->u, f->sub, buf, size, off) : -EBADF;
	}
	if (rc < 0)
		ops_reply_err(req, -rc);
	else
		fuse_reply_write(req, (size_t)rc);
}

/*
 * Whether a close() is by the process that opened the file: the opener's
 * thread, or another of its process's (procinfo). A child that inherited
 * the descriptor closes its copy at its exit, the opener writing on. Not
 * knowing (a thread gone, a caller outside the mount's pid namespace)
 * counts as the opener's, as every close did before.
 */
static bool closed_by_opener(const struct open_file *f, pid_t pid)
{
	return procinfo_same_process(f->opener, pid) != 0;
}

/* close() waits for this: the submission's result is close()'s. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct open_file *f = (struct open_file *)(uintptr_t)fi->fh;
	int rc = 0;

	if (f->sub && f->writable) {
		rc = queue_flush(f->u, f->sub,
				 closed_by_opener(f, fuse_req_ctx(req)->pid),
				 &f->writing);
	} else if (f->editing && f->edited && f->written &&
		   closed_by_opener(f, fuse_req_ctx(req)->pid)) {
		/*
		 * Only once bytes arrived: a shell's 'cat > f' closes the
		 * descriptor it dup2()ed before writing, and committing the
		 * empty truncated text then would clear the list for a moment.
		 * Only the opener's close: '{ cat a; cat b; } > f' has the
		 * first cat close its copy with half the text (release commits
		 * what no close of the opener did).
		 */
		rc = editfile_commit(f->u, f->kind, f->id, f->owner,
				     f->has_base ? &f->base : NULL,
				     &f->content);
		f->edited = f->written = false;
		ops_attr_changed(f->u, ino);
		/* This handle's next commit changes what it changes from the
		   text committed now (without a copy: the whole list), and so
		   does its process's next save. */
		if (rc == 0 && f->has_base) {
			buf_reset(&f->base);
			f->has_base = buf_append(&f->base, f->content.data,
						 f->content.len) == 0;
			readbase_note(f->u, fuse_req_ctx(req)->pid, f->kind,
				      f->id, &f->content, true);
		}
	}
	ops_reply_err(req, -rc);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct open_file *f = (struct open_file *)(uintptr_t)fi->fh;
	int rc = 0;

	(void)ino;
	if (f->sub)
		rc = queue_fsync(f->u, f->sub, datasync != 0);
	ops_reply_err(req, -rc);
}

/*
 * An edit that empties its handle writes the whole text anew: it starts
 * from what its process last read of the file, if it did (readbase.h).
 */
static int base_from_read(struct upfs *u, struct open_file *f, pid_t pid)
{
	struct buf read;
	bool found = false;
	int rc;

	buf_init(&read, 0);
	rc = readbase_get(u, pid, f->kind, f->id, &read, &found);
	if (rc == 0 && found) {
		buf_release(&f->base);
		f->base = read;
		buf_init(&read, 0);
	}
	buf_release(&read);
	return rc;
}

/* Truncating an edited file: in its handle, or (by path) committed now. */
static void setattr_edit(fuse_req_t req, struct upfs *u, struct fs_node *n,
			 struct stat *attr, int to_set,
			 struct fuse_file_info *fi)
{
	struct open_file *f = fi ? (struct open_file *)(uintptr_t)fi->fh : NULL;
	struct buf text, base;
	struct stat st;
	bool has_base = false;
	int ttl, rc = 0;

	buf_init(&text, UPFS_EDIT_MAX);
	buf_init(&base, 0);
	if ((to_set & FUSE_SET_ATTR_SIZE) && f && f->editing) {
		rc = editfile_truncate(&f->content, attr->st_size);
		/* Asked for, as O_TRUNC alone is not (a shell's 'cat > f'
		   closes a copy of it before writing): close() commits it
		   ('truncate -s 0 allowed_users'). */
		f->edited = f->written = true;
		/* Emptied to be written anew (vim's save), as with O_TRUNC;
		   without memory for it, the base stays the text at open. */
		if (rc == 0 && attr->st_size == 0 && f->has_base)
			(void)base_from_read(u, f, fuse_req_ctx(req)->pid);
	} else if (to_set & FUSE_SET_ATTR_SIZE) {
		rc = editfile_load(u, n, &text);
		if (rc == 0 && editfile_has_base(n->kind))
			has_base = buf_append(&base, text.data, text.len) == 0;
		if (rc == 0)
			rc = editfile_truncate(&text, attr->st_size);
		if (rc == 0)
			rc = editfile_commit(u, n->kind, n->id, n->owner,
					     has_base ? &base : NULL, &text);
		/* The process's next save starts from what it cut the file
		   to, not from what it read before (op_flush). */
		if (rc == 0 && has_base)
			readbase_note(u, fuse_req_ctx(req)->pid, n->kind, n->id,
				      &text, true);
	}
	if (rc == 0)
		rc = node_stat(u, n, &st, &ttl);
	if (rc == 0 && f && f->editing)
		st.st_size = (off_t)f->content.len;
	buf_release(&text);
	buf_release(&base);
	if (rc)
		ops_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, 0);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct upfs *u = req_upfs(req);
	struct fs_node *n = node_get(u, ino);
	struct submission *s = NULL;
	struct open_file *f;
	struct stat st;
	int ttl, rc = 0;

	if (editfile_kind(n->kind)) {
		setattr_edit(req, u, n, attr, to_set, fi);
		return;
	}
	/*
	 * touch of a trigger that exists changes nothing; modes and times of
	 * an editor's file are kept nowhere (only its size is).
	 */
	if (n->kind == FS_SCRATCH ||
	    (n->kind == FS_TASK_TRIGGER && !(to_set & FUSE_SET_ATTR_SIZE))) {
		rc = n->kind == FS_SCRATCH && (to_set & FUSE_SET_ATTR_SIZE)
		     ? scratch_truncate(u, n->id, attr->st_size) : 0;
		if (rc == 0)
			rc = node_stat(u, n, &st, &ttl);
		if (rc)
			ops_reply_err(req, -rc);
		else
			fuse_reply_attr(req, &st, 0);
		return;
	}
	if (n->kind != FS_QUEUE_LOCAL) {
		ops_reply_err(req, EROFS);
		return;
	}
	/* Through a handle, its own document: a new one may have taken the
	   name over (open_queue_file). */
	f = fi ? (struct open_file *)(uintptr_t)fi->fh : NULL;
	s = spool_get(u, f && f->sub ? f->sub->id : n->id);
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
		ops_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, 0);
}

/*
 * Renames in a folder with editable files. An editor's file renamed over
 * one of the folder's editable files is that file's new text (sed -i,
 * vim, cp+mv): committed now, and the rename fails as close() would. An
 * editable file renamed away (vim's backupcopy=no) leaves a local copy
 * and the file in place; a link renamed over a share's "printer" (ln
 * -sfn) swaps the share's printer.
 */
static int rename_in_edit_dir(struct upfs *u, struct fs_node *dir,
			      const char *from, const char *to, pid_t pid)
{
	const char *owner = tree_scratch_owner(dir);
	enum fs_kind from_kind, to_kind;
	char id[40];
	struct buf text;
	int rc;

	if (tree_fixed_child(dir->kind, from, &from_kind)) {
		if (!editfile_kind(from_kind) ||
		    tree_fixed_child(dir->kind, to, &to_kind))
			return -EPERM;
		buf_init(&text, UPFS_EDIT_MAX);
		rc = scratch_create(u, owner, to, NULL, id);
		if (rc == 0) {
			struct fs_node n = { .kind = from_kind, .id = dir->id };

			rc = editfile_load(u, &n, &text);
		}
		if (rc == 0 && text.len)
			rc = scratch_write(u, id, text.data, text.len, 0) < 0
			     ? -ENOMEM : 0;
		buf_release(&text);
		return rc;
	}
	if (scratch_lookup(u, owner, from, id) != 0)
		return -ENOENT;
	if (!tree_fixed_child(dir->kind, to, &to_kind))
		return scratch_rename(u, owner, from, to);
	buf_init(&text, UPFS_SCRATCH_MAX);
	if (to_kind == FS_SHARE_PRINTER) {
		rc = scratch_target(u, id, &text);
		if (rc == 0)
			rc = shareops_set_printer(u, dir->id, text.data);
	} else if (editfile_kind(to_kind)) {
		/* The editor read the file (readbase.h), or if this process
		   did not, as the mount shows it now. */
		struct fs_node target = { .kind = to_kind, .id = dir->id,
					  .owner = dir->owner };
		struct buf base;
		bool has_base = false;

		buf_init(&base, 0);
		rc = scratch_read(u, id, &text);
		/* Without one, the file becomes what the text says. */
		if (rc == 0 && editfile_load_save_base(u, &target, pid, &base,
						       &has_base) != 0)
			has_base = false;
		if (rc == 0)
			rc = editfile_commit(u, to_kind, dir->id, dir->owner,
					     has_base ? &base : NULL, &text);
		if (rc == 0 && has_base)
			readbase_note(u, pid, to_kind, dir->id, &text, true);
		buf_release(&base);
	} else {
		rc = -EPERM;
	}
	if (rc == 0)
		scratch_unlink(u, owner, from);
	buf_release(&text);
	return rc;
}

/*
 * A name the service is to take (a share's, a printer's, a definition's)
 * is JSON text: a file name that is not UTF-8 is refused with its reason,
 * not sent (it used to fail as ENOMEM).
 */
static int service_name(struct upfs *u, const char *name)
{
	char why[UPFS_NAME_MAX + 80];
	struct buf shown;
	int rc;

	if (!utf8_valid(name, strlen(name))) {
		health_refusal(u, "a new name", "it is not UTF-8 text, which "
						"the service's names are");
		return -EINVAL;
	}
	/* One the folder would show otherwise (a control character as its
	   picture) could not be found by the name just given. */
	buf_init(&shown, 0);
	rc = names_encode(&shown, name, "");
	if (rc == 0 && strcmp(shown.data, name) != 0) {
		snprintf(why, sizeof(why), "the folder would show it as '%s'",
			 shown.data);
		health_refusal(u, "a new name", why);
		rc = -EINVAL;
	}
	buf_release(&shown);
	return rc;
}

/* Whether dir holds name now (a lookup, so the listing is current). */
static bool name_taken(struct upfs *u, struct fs_node *dir, const char *name)
{
	struct fs_node *n = NULL;

	if (node_lookup(u, dir, name, &n) != 0)
		return false;
	node_forget(u, n, 1);
	return true;
}

static int rename_in_queue(struct upfs *u, struct fs_node *dir,
			   const char *name, const char *newname)
{
	struct fs_node *n = NULL;
	int rc = node_lookup(u, dir, name, &n);

	if (rc == 0) {
		rc = queue_rename(u, n, newname);
		node_forget(u, n, 1);
	}
	return rc;
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct upfs *u = req_upfs(req);
	struct fs_node *dir = node_get(u, parent);
	int rc;

	/* mv tries RENAME_NOREPLACE first: the new name must be free, then
	   it is a rename like any. RENAME_EXCHANGE means nothing here. */
	if (flags & ~(unsigned int)RENAME_NOREPLACE) {
		ops_reply_err(req, EINVAL);
		return;
	}
	if (flags && name_taken(u, node_get(u, newparent), newname)) {
		ops_reply_err(req, EEXIST);
		return;
	}
	if (newparent != parent) {
		struct fs_node *to = node_get(u, newparent);

		bool redirect = dir->kind == FS_PRINTER_JOBS &&
				to->kind == FS_PRINTER_JOBS;

		if (redirect)
			/* mv printers/V/jobs/J printers/P/jobs/: a redirect. */
			rc = strcmp(name, newname) != 0
				     ? -EINVAL
				     : pull_redirect(u, dir->id, name, to->id);
		else
			rc = dir->kind == FS_SHARE_QUEUE ||
			     tree_keeps_scratch(dir->kind) ? -EXDEV : -EROFS;
		ops_reply_err(req, -rc);
		/* The kernel moved V's job J to P/jobs/J, but the new job
		   has its own id and folder: that name would show the
		   source job. */
		if (redirect && rc == 0)
			res_forget_name_later(u, newparent, newname);
		return;
	}
	if (dir->kind == FS_SHARE_QUEUE)
		rc = rename_in_queue(u, dir, name, newname);
	else if (tree_keeps_scratch(dir->kind))
		rc = rename_in_edit_dir(u, dir, name, newname,
					fuse_req_ctx(req)->pid);
	else if (dir->kind == FS_SHARES || dir->kind == FS_PRINTERS ||
		 dir->kind == FS_CONNECTORS)
		rc = service_name(u, newname) != 0 ? -EINVAL
		     : dir->kind == FS_SHARES
			 ? shareops_rename(u, name, newname)
			 : adminops_rename(u, dir->kind, name, newname);
	else
		rc = -EROFS;
	ops_reply_err(req, -rc);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct upfs *u = req_upfs(req);
	struct fs_node *dir = node_get(u, parent), *n = NULL;
	int rc;

	if (tree_keeps_scratch(dir->kind)) {
		enum fs_kind fixed;

		/* The folder's own files cannot go; editors' files can. */
		rc = tree_fixed_child(dir->kind, name, &fixed)
		     ? -EPERM
		     : scratch_unlink(u, tree_scratch_owner(dir), name);
		ops_reply_err(req, -rc);
		return;
	}
	if (dir->kind == FS_TASK_TRIGGERS) {
		ops_reply_err(req, -pull_delete_trigger(u, dir->id, name));
		return;
	}
	if (dir->kind != FS_SHARE_QUEUE) {
		ops_reply_err(req, EROFS);
		return;
	}
	rc = node_lookup(u, dir, name, &n);
	if (rc == 0) {
		rc = queue_unlink(u, n);
		node_forget(u, n, 1);
	}
	ops_reply_err(req, -rc);
}

/*
 * Copying into queue/ (mv, cp -a) tries to carry ACLs and other xattrs
 * over; "not supported" makes those programs skip them quietly.
 */
static int xattr_refusal(const struct fs_node *n)
{
	return n->kind == FS_QUEUE_LOCAL || n->kind == FS_QUEUE_ENTRY ||
			       n->kind == FS_SCRATCH || editfile_kind(n->kind)
		       ? ENOTSUP
		       : EROFS;
}

/* A document not handed over yet takes its own job options. */
static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct fs_node *n = node_get(req_upfs(req), ino);

	(void)flags;
	if (n->kind == FS_QUEUE_LOCAL &&
	    strcmp(name, UPFS_XATTR_JOB_OPTIONS) == 0) {
		ops_reply_err(req, -queue_options_set(req_upfs(req), n->id,
						       value, size));
		return;
	}
	ops_reply_err(req, xattr_refusal(n));
}

/* A document not handed over yet drops its own job options. */
static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs_node *n = node_get(req_upfs(req), ino);

	if (n->kind == FS_QUEUE_LOCAL &&
	    strcmp(name, UPFS_XATTR_JOB_OPTIONS) == 0) {
		ops_reply_err(req, -queue_options_clear(req_upfs(req), n->id));
		return;
	}
	ops_reply_err(req, xattr_refusal(n));
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct upfs *u = req_upfs(req);
	struct fs_node *dir = node_get(u, parent), *n = NULL;
	struct fuse_entry_param e;
	int rc;

	(void)mode;
	if (dir->kind != FS_SHARES && dir->kind != FS_TASK_DEFS) {
		ops_reply_err(req, EROFS);
		return;
	}
	rc = service_name(u, name);
	if (rc == 0)
		rc = dir->kind == FS_SHARES ? shareops_mkdir(u, name)
					    : pull_create_definition(u, name);
	if (rc == 0)
		rc = node_lookup(u, dir, name, &n);
	if (rc == 0 && (rc = ops_entry_of(u, n, &e)) != 0)
		node_forget(u, n, 1);
	if (rc) {
		ops_reply_err(req, -rc);
		return;
	}
	e.entry_timeout = e.attr_timeout = 0;
	fuse_reply_entry(req, &e);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct upfs *u = req_upfs(req);
	struct fs_node *dir = node_get(u, parent);

	ops_reply_err(req, dir->kind == FS_SHARES     ? -shareops_rmdir(u, name)
			    : dir->kind == FS_PRINTERS
				? -adminops_unregister_printer(u, name)
			    : dir->kind == FS_TASK_DEFS
				? -pull_delete_definition(u, name)
				: EROFS);
}

/*
 * ln -s ../../printers/P shares/NAME/printer creates a pending share;
 * ln -sfn makes a temporary link beside "printer" and renames it over.
 */
static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct upfs *u = req_upfs(req);
	struct fs_node *dir = node_get(u, parent), *n = NULL, *shares = NULL;
	struct fuse_entry_param e;
	enum fs_kind fixed;
	char id[40];
	int rc;

	if (dir->kind == FS_SHARE_PENDING && strcmp(name, "printer") == 0) {
		rc = shareops_create(u, dir->name, link);
		/* The share is real now: its folder lists its files. */
		if (rc == 0)
			rc = node_lookup(u, u->root, "shares", &shares);
		if (rc == 0)
			rc = node_lookup(u, shares, dir->name, &dir);
		if (shares)
			node_forget(u, shares, 1);
		if (rc == 0) {
			rc = node_lookup(u, dir, "printer", &n);
			node_forget(u, dir, 1);
		}
	} else if (tree_keeps_scratch(dir->kind) &&
		   !tree_fixed_child(dir->kind, name, &fixed)) {
		rc = scratch_create(u, tree_scratch_owner(dir), name, link, id);
		if (rc == 0)
			rc = node_lookup(u, dir, name, &n);
	} else {
		rc = tree_keeps_scratch(dir->kind) ? -EEXIST : -EROFS;
	}
	if (rc == 0 && (rc = ops_entry_of(u, n, &e)) != 0)
		node_forget(u, n, 1);
	if (rc) {
		ops_reply_err(req, -rc);
		return;
	}
	e.entry_timeout = e.attr_timeout = 0;
	fuse_reply_entry(req, &e);
}

void ops_fill_write(struct fuse_lowlevel_ops *ops)
{
	ops->mkdir = op_mkdir;
	ops->rmdir = op_rmdir;
	ops->symlink = op_symlink;
	ops->setxattr = op_setxattr;
	ops->removexattr = op_removexattr;
	ops->create = op_create;
	ops->write = op_write;
	ops->flush = op_flush;
	ops->fsync = op_fsync;
	ops->setattr = op_setattr;
	ops->rename = op_rename;
	ops->unlink = op_unlink;
}
