/*
 * ops.c — the FUSE low-level operations.
 *
 * Each operation decodes its request, does the work through node.c and
 * tree.c, and replies exactly once. Errors are negative errnos until the
 * reply, where they become ops_reply_err(req, -rc).
 *
 * Generated files are opened with direct_io: their bytes are rendered at
 * open, and a status line may grow between a cached getattr and a read, so
 * the kernel must not cut reads at a size it cached earlier.
 */
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "ops.h"
#include "ops_private.h"
#include "editfile.h"
#include "events_wait.h"
#include "queue.h"
#include "readbase.h"
#include "scratch.h"

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* ls -l is the common case: always send attributes with names. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	/* O_TRUNC arrives with open, not as a separate truncate. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

int ops_entry_of(struct upfs *u, struct fs_node *n,
		 struct fuse_entry_param *e)
{
	int ttl = 0;
	int rc;

	memset(e, 0, sizeof(*e));
	rc = node_stat(u, n, &e->attr, &ttl);
	if (rc)
		return rc;
	e->ino = n->ino;
	e->generation = n->generation;
	e->attr_timeout = ttl;
	/* queue/ is live: every name is asked for again (node_file_attr). */
	e->entry_timeout = n->kind == FS_QUEUE_ENTRY ? 0 : ttl;
	return 0;
}

void ops_attr_changed(struct upfs *u, fuse_ino_t ino)
{
	/* -ENOENT only says the kernel holds no such inode: nothing stale. */
	if (u->session)
		(void)fuse_lowlevel_notify_inval_inode(u->session, ino, -1, 0);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct upfs *u = req_upfs(req);
	struct fuse_entry_param e;
	struct fs_node *n = NULL;
	int rc;

	rc = node_lookup(u, node_get(u, parent), name, &n);
	if (rc == 0) {
		rc = ops_entry_of(u, n, &e);
		if (rc)
			node_forget(u, n, 1);
	}
	if (rc)
		ops_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct upfs *u = req_upfs(req);

	node_forget(u, node_get(u, ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct upfs *u = req_upfs(req);

	for (size_t i = 0; i < count; i++)
		node_forget(u, node_get(u, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct upfs *u = req_upfs(req);
	struct stat st;
	int ttl = 0;
	int rc = node_stat(u, node_get(u, ino), &st, &ttl);

	(void)fi;
	if (rc)
		ops_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, ttl);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct upfs *u = req_upfs(req);
	struct fs_node *n = node_get(u, ino);
	struct buf target;
	int64_t mtime;
	int ttl, rc;

	buf_init(&target, 4096);
	rc = tree_kind_is_link(n->kind) ? tree_render(u, n, &target, &mtime,
						      &ttl, NULL)
	     : n->kind == FS_SCRATCH	 ? scratch_target(u, n->id, &target)
					 : -EINVAL;
	if (rc)
		ops_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, target.data);
	buf_release(&target);
}

/* An open folder: its own copy of the listing, so offsets stay valid. */
struct dir_handle {
	struct fs_handle handle;	/* first: the handle list holds it */
	struct fs_entries snap;
};

static void dir_handle_free(struct fs_handle *h)
{
	struct dir_handle *d = (struct dir_handle *)h;

	fs_entries_release(&d->snap);
	free(d);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct upfs *u = req_upfs(req);
	struct fs_node *dir = node_get(u, ino);
	struct dir_handle *d = calloc(1, sizeof(*d));
	int rc;

	if (d == NULL) {
		ops_reply_err(req, ENOMEM);
		return;
	}
	d->handle.free = dir_handle_free;
	rc = node_list(u, dir, &d->snap);
	if (rc) {
		free(d);
		ops_reply_err(req, -rc);
		return;
	}
	handle_add(u, &d->handle);
	fi->fh = (uint64_t)(uintptr_t)d;
	/* ls -lR again: the kernel answers from its copy of each listing,
	   kept across opens while the listing stays the same. */
	fi->cache_readdir = 1;
	fi->keep_cache = node_dir_opened(u, dir, &d->snap);
	if (fuse_reply_open(req, fi) == -ENOENT) {
		node_dir_closed(u, dir);
		handle_remove(u, &d->handle);
		dir_handle_free(&d->handle);
	}
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct upfs *u = req_upfs(req);
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;

	node_dir_closed(u, node_get(u, ino));
	handle_remove(u, &d->handle);
	dir_handle_free(&d->handle);
	ops_reply_err(req, 0);
}

/* Adds "." or ".." (offsets 1 and 2); the kernel takes no lookup for them. */
static size_t add_dot(fuse_req_t req, char *p, size_t rem, const char *name,
		      fuse_ino_t ino, off_t next, bool plus)
{
	struct fuse_entry_param e = { 0 };

	e.attr.st_ino = ino;
	e.attr.st_mode = S_IFDIR;
	if (plus)
		return fuse_add_direntry_plus(req, p, rem, name, &e, next);
	return fuse_add_direntry(req, p, rem, name, &e.attr, next);
}

/* One listed entry; 0 when it did not fit (and holds no reference). */
static size_t add_entry(struct upfs *u, fuse_req_t req, struct fs_node *dir,
			const struct fs_entry *ent, char *p, size_t rem,
			off_t next, bool plus)
{
	struct fuse_entry_param e = { 0 };
	struct fs_node *n = NULL;
	size_t size;

	if (!plus) {
		e.attr.st_mode = tree_kind_is_dir(ent->kind) ? S_IFDIR
			       : tree_kind_is_link(ent->kind) ? S_IFLNK
							       : S_IFREG;
		return fuse_add_direntry(req, p, rem, ent->name, &e.attr, next);
	}
	if (node_adopt(u, dir, ent, &n) != 0)
		return 0;
	if (ops_entry_of(u, n, &e) != 0) {
		/* No attributes: a plain name; the kernel looks it up later. */
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = n->ino;
		e.attr.st_mode = tree_kind_is_dir(ent->kind) ? S_IFDIR : S_IFREG;
		node_forget(u, n, 1);
		return fuse_add_direntry_plus(req, p, rem, ent->name, &e, next);
	}
	size = fuse_add_direntry_plus(req, p, rem, ent->name, &e, next);
	if (size > rem)
		node_forget(u, n, 1);
	return size;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct upfs *u = req_upfs(req);
	struct fs_entries *snap =
		&((struct dir_handle *)(uintptr_t)fi->fh)->snap;
	struct fs_node *dir = node_get(u, ino);
	char *buf = malloc(size), *p = buf;
	size_t rem = size, used;

	if (buf == NULL) {
		ops_reply_err(req, ENOMEM);
		return;
	}
	for (off_t i = off; i < (off_t)snap->n + 2; i++) {
		if (i < 2)
			used = add_dot(req, p, rem, i == 0 ? "." : "..", ino,
				       i + 1, plus);
		else
			used = add_entry(u, req, dir, &snap->v[i - 2], p, rem,
					 i + 1, plus);
		if (used == 0 || used > rem)
			break;
		p += used;
		rem -= used;
	}
	fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void handle_add(struct upfs *u, struct fs_handle *h)
{
	pthread_mutex_lock(&u->handle_lock);
	if (u->handles.next == NULL)
		u->handles.next = u->handles.prev = &u->handles;
	h->next = u->handles.next;
	h->prev = &u->handles;
	u->handles.next->prev = h;
	u->handles.next = h;
	pthread_mutex_unlock(&u->handle_lock);
}

void handle_remove(struct upfs *u, struct fs_handle *h)
{
	pthread_mutex_lock(&u->handle_lock);
	if (h->next) {
		h->next->prev = h->prev;
		h->prev->next = h->next;
		h->next = h->prev = NULL;
	}
	pthread_mutex_unlock(&u->handle_lock);
}

void handles_release(struct upfs *u)
{
	while (u->handles.next && u->handles.next != &u->handles) {
		struct fs_handle *h = u->handles.next;

		handle_remove(u, h);
		h->free(h);
	}
}

static void open_file_free(struct open_file *f)
{
	buf_release(&f->content);
	buf_release(&f->base);
	if (f->sub)
		queue_writer_gone(f->u, f->sub, &f->writing);
	spool_put(f->u, f->sub);
	free(f->id);
	free(f->owner);
	document_close(f->doc);
	pull_events_close(f->events);
	free(f);
}

static void open_file_free_handle(struct fs_handle *h)
{
	open_file_free((struct open_file *)h);
}

struct open_file *open_file_new(struct upfs *u)
{
	struct open_file *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	atomic_init(&f->refs, 1);
	buf_init(&f->content, 0);
	buf_init(&f->base, 0);
	f->u = u;
	f->handle.free = open_file_free_handle;
	handle_add(u, &f->handle);
	return f;
}

void open_file_unopened(struct open_file *f)
{
	if (f->sub && f->writable)
		queue_release(f->u, f->sub, &f->writing);
	open_file_put(f);
}

void open_file_put(struct open_file *f)
{
	if (atomic_fetch_sub(&f->refs, 1) == 1) {
		handle_remove(f->u, &f->handle);
		open_file_free(f);
	}
}

/* f's submission is handed over: a new one of its name takes its place. */
static int open_queue_again(struct upfs *u, struct open_file *f)
{
	struct submission *old = f->sub;
	char *share = strdup(old->share_id), *name = NULL;
	int rc = -ENOMEM;

	pthread_mutex_lock(&u->spool_lock);	/* a rename may change it */
	if (old->name)
		name = strdup(old->name);
	pthread_mutex_unlock(&u->spool_lock);
	f->sub = NULL;
	spool_put(u, old);
	if (share && name)
		rc = spool_create(u, share, name, &f->sub);
	free(share);
	free(name);
	return rc;
}

/* Opens a document in a queue/: to read it back, or to write a new one. */
static int open_queue_file(struct upfs *u, struct fs_node *n,
			   struct fuse_file_info *fi, struct open_file *f,
			   pid_t pid)
{
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY;
	int rc = 0;

	if (n->kind == FS_QUEUE_ENTRY && !writing)
		return document_open(u, n, &f->doc);
	f->writable = writing;
	if (n->kind == FS_QUEUE_ENTRY)
		/* Writing over a job's name prints the new bytes as a new job,
		   whatever else is being written under that name: it is
		   listed numbered after the job. */
		rc = spool_create(u, n->owner, n->name, &f->sub);
	else if ((f->sub = spool_get(u, n->id)) == NULL)
		rc = -ENOENT;
	else if (writing && (fi->flags & O_TRUNC) &&
		 !spool_is_writable(f->sub))
		/* So does writing anew over a document handed over (waiting
		   in the spool), whose bytes are no longer to change. */
		rc = open_queue_again(u, f);
	else if (writing && (fi->flags & O_TRUNC))
		rc = queue_truncate(u, f->sub, 0);
	if (rc == 0 && n->kind != FS_QUEUE_ENTRY)
		rc = spool_open_file(u, f->sub);
	if (rc == 0 && writing) {
		f->opener = pid;
		queue_writer_opened(u, f->sub, &f->writing);
	}
	return rc;
}

/* An editor's local file: read and written in place. */
static int open_scratch_file(struct upfs *u, struct fs_node *n,
			     struct fuse_file_info *fi, struct open_file *f)
{
	f->kind = FS_SCRATCH;
	f->id = strdup(n->id);
	if (f->id == NULL)
		return -ENOMEM;
	f->writable = (fi->flags & O_ACCMODE) != O_RDONLY;
	if (fi->flags & O_TRUNC)
		return scratch_truncate(u, n->id, 0);
	return 0;
}

/*
 * Opens an editable file for writing: the handle holds the new text. A
 * truncating open (an editor's save) starts from what its process last
 * read of the file, if it did (readbase.h).
 */
static int open_edit_file(struct upfs *u, struct fs_node *n,
			  struct fuse_file_info *fi, struct open_file *f,
			  pid_t pid)
{
	int rc;

	f->editing = true;
	f->opener = pid;
	f->kind = n->kind;
	f->id = strdup(n->id ? n->id : "");
	f->owner = n->owner ? strdup(n->owner) : NULL;
	if (f->id == NULL || (n->owner && f->owner == NULL))
		return -ENOMEM;
	f->content.cap = UPFS_EDIT_MAX;
	/* Without its base (a list past the edit limit, say) the edit makes
	   the file what the text says, as a commit without one does. */
	rc = (fi->flags & O_TRUNC)
	     ? editfile_load_save_base(u, n, pid, &f->base, &f->has_base)
	     : editfile_load_base(u, n, &f->base, &f->has_base);
	if (rc != 0) {
		f->has_base = false;
		buf_reset(&f->base);
	}
	if (fi->flags & O_TRUNC) {
		f->edited = true;
		return 0;
	}
	if (f->has_base)
		return buf_append(&f->content, f->base.data, f->base.len);
	return editfile_load(u, n, &f->content);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct upfs *u = req_upfs(req);
	struct fs_node *n = node_get(u, ino);
	struct open_file *f = open_file_new(u);
	int64_t mtime;
	int ttl, rc;

	if (f == NULL) {
		ops_reply_err(req, ENOMEM);
		return;
	}
	if (n->kind == FS_QUEUE_ENTRY || n->kind == FS_QUEUE_LOCAL)
		rc = open_queue_file(u, n, fi, f, fuse_req_ctx(req)->pid);
	else if (editfile_kind(n->kind) && (fi->flags & O_ACCMODE) != O_RDONLY)
		rc = open_edit_file(u, n, fi, f, fuse_req_ctx(req)->pid);
	else if (n->kind == FS_SCRATCH)
		rc = open_scratch_file(u, n, fi, f);
	else if (n->kind == FS_JOB_DOCUMENT)
		rc = (fi->flags & O_ACCMODE) != O_RDONLY
		     ? -EROFS : document_open(u, n, &f->doc);
	else if (n->kind == FS_TASK_EVENTS)
		rc = (fi->flags & O_ACCMODE) != O_RDONLY
		     ? -EROFS : pull_events_open(u, n->id, &f->events);
	else if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		rc = -EROFS;
	else
		rc = tree_render(u, n, &f->content, &mtime, &ttl, NULL);
	if (rc == 0 && editfile_has_base(n->kind) &&
	    (fi->flags & O_ACCMODE) == O_RDONLY)
		readbase_note(u, fuse_req_ctx(req)->pid, n->kind, n->id,
			      &f->content, false);
	if (rc) {
		open_file_put(f);
		ops_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->direct_io = 1;
	if (fuse_reply_open(req, fi) == -ENOENT)
		open_file_unopened(f);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct open_file *f = (struct open_file *)(uintptr_t)fi->fh;
	const struct buf *content = &f->content;
	char *spooled = NULL;
	int got;

	(void)ino;
	atomic_fetch_add(&f->refs, 1);
	if (f->kind == FS_SCRATCH) {
		struct buf now;

		buf_init(&now, 0);
		got = scratch_read(f->u, f->id, &now);
		if (got < 0) {
			ops_reply_err(req, -got);
		} else if (off < 0 || (size_t)off >= now.len) {
			fuse_reply_buf(req, NULL, 0);
		} else {
			if (size > now.len - (size_t)off)
				size = now.len - (size_t)off;
			fuse_reply_buf(req, now.data + off, size);
		}
		buf_release(&now);
		open_file_put(f);
		return;
	}
	if (f->events) {
		events_read(req, f, off, size);	/* now or once a task comes */
		return;
	}
	if (f->doc) {
		/* A document's bytes, downloaded in windows. */
		struct buf bytes;

		buf_init(&bytes, 0);
		got = off < 0 ? -EINVAL
			      : document_read(f->u, f->doc, (uint64_t)off, size,
					      &bytes);
		if (got < 0)
			ops_reply_err(req, -got);
		else
			fuse_reply_buf(req, bytes.data, bytes.len);
		buf_release(&bytes);
		open_file_put(f);
		return;
	}
	if (f->sub) {
		spooled = malloc(size ? size : 1);
		got = spooled ? queue_read(f->u, f->sub, spooled, size, off)
			      : -ENOMEM;
		if (got < 0)
			ops_reply_err(req, -got);
		else
			fuse_reply_buf(req, spooled, (size_t)got);
		free(spooled);
		open_file_put(f);
		return;
	}
	if (off < 0 || (size_t)off >= content->len)
		size = 0;
	else if (size > content->len - (size_t)off)
		size = content->len - (size_t)off;
	fuse_reply_buf(req, size ? content->data + off : NULL, size);
	open_file_put(f);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct open_file *f = (struct open_file *)(uintptr_t)fi->fh;

	if (f->sub && f->writable)
		queue_release(f->u, f->sub, &f->writing);
	/* ': > allowed_users' wrote nothing: its empty text is the edit. A
	   refusal here reaches only the log and .upfs/status. */
	if (f->editing && f->edited) {
		/* The opener's next save starts from what this committed
		   (op_flush). */
		if (editfile_commit(f->u, f->kind, f->id, f->owner,
				    f->has_base ? &f->base : NULL,
				    &f->content) == 0 && f->has_base)
			readbase_note(f->u, f->opener, f->kind, f->id,
				      &f->content, true);
		ops_attr_changed(f->u, ino);
	}
	open_file_put(f);
	ops_reply_err(req, 0);
}

/*
 * The spool's disk: what queue/ can take in before a document is handed
 * over. A file manager checks the free space before a copy, and 0 free
 * would refuse every document.
 */
static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct upfs *u = req_upfs(req);
	struct statvfs st = { 0 };

	(void)ino;
	if (statvfs(u->spool_dir, &st) != 0) {
		memset(&st, 0, sizeof(st));
		st.f_bsize = st.f_frsize = 4096;
	}
	st.f_namemax = 255;
	st.f_flag = 0;
	fuse_reply_statfs(req, &st);
}

/* The value of one attribute in a "name\0value\0" list, or NULL. */
static const char *xattr_find(const struct buf *pairs, const char *name,
			      size_t *len)
{
	const char *p = pairs->data, *end = pairs->data + pairs->len;

	while (p && p < end) {
		const char *value = p + strlen(p) + 1;

		if (strcmp(p, name) == 0) {
			*len = strlen(value);
			return value;
		}
		p = value + strlen(value) + 1;
	}
	return NULL;
}

static void reply_sized(fuse_req_t req, const char *data, size_t len,
			size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (len > size)
		ops_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, data, len);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct upfs *u = req_upfs(req);
	struct buf pairs;
	const char *value;
	size_t len = 0;
	int rc;

	/* ls -l asks every entry for security.* and ACLs: answer at once. */
	if (strncmp(name, "user.upfs.", 10) != 0) {
		ops_reply_err(req, ENODATA);
		return;
	}
	buf_init(&pairs, 0);
	rc = xattr_collect(u, node_get(u, ino), &pairs);
	if (rc)
		ops_reply_err(req, -rc);
	else if ((value = xattr_find(&pairs, name, &len)) == NULL)
		ops_reply_err(req, ENODATA);
	else
		reply_sized(req, value, len, size);
	buf_release(&pairs);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct upfs *u = req_upfs(req);
	struct buf pairs, names;
	int rc;

	buf_init(&pairs, 0);
	buf_init(&names, 0);
	rc = xattr_collect(u, node_get(u, ino), &pairs);
	for (const char *p = pairs.data; rc == 0 && p && p < pairs.data +
	     pairs.len;) {
		const char *value = p + strlen(p) + 1;

		rc = buf_append(&names, p, strlen(p) + 1);
		p = value + strlen(value) + 1;
	}
	if (rc)
		ops_reply_err(req, -rc);
	else
		reply_sized(req, names.data, names.len, size);
	buf_release(&pairs);
	buf_release(&names);
}

void ops_fill(struct fuse_lowlevel_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->init = op_init;
	ops->lookup = op_lookup;
	ops->forget = op_forget;
	ops->forget_multi = op_forget_multi;
	ops->getattr = op_getattr;
	ops->readlink = op_readlink;
	ops->opendir = op_opendir;
	ops->readdir = op_readdir;
	ops->readdirplus = op_readdirplus;
	ops->releasedir = op_releasedir;
	ops->open = op_open;
	ops->read = op_read;
	ops->release = op_release;
	ops->statfs = op_statfs;
	ops->getxattr = op_getxattr;
	ops->listxattr = op_listxattr;
	ops_fill_readonly(ops);
	ops_fill_write(ops);
}
