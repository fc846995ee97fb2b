/*
 * node.c — the inode table: one node per entry the kernel knows, and for
 * each folder a snapshot of its listing.
 *
 * A node's inode number is its address (the root is FUSE_ROOT_ID); the
 * generation number makes a reused address a new inode to the kernel. A
 * node lives while the kernel holds lookups on it or its folder's snapshot
 * lists it. A snapshot is rebuilt when one of the resources it was made
 * from changes generation; children that are still listed with the same
 * kind and id keep their node, so their inode numbers stay stable.
 */
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "hash.h"
#include "document.h"
#include "editfile.h"
#include "queue.h"
#include "role.h"
#include "scratch.h"
#include "spool.h"

/* Seconds the kernel may keep an uploaded queue/ job's attributes. */
#define QUEUE_JOB_ATTR_TTL 1

static void node_free(struct fs_node *n);

void fs_entries_release(struct fs_entries *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].name);	/* and id and owner (fs_entries_add) */
	free(e->v);
	memset(e, 0, sizeof(*e));
}

/* Copies s (if any) to *at, moving *at past it. */
static char *place_string(const char *s, char **at)
{
	char *d = *at;
	size_t len;

	if (s == NULL)
		return NULL;
	len = strlen(s) + 1;
	memcpy(d, s, len);
	*at += len;
	return d;
}

/*
 * Under node_lock (for the generation counter). A walk of a big tenant
 * keeps a node for every entry the kernel holds: the node and its three
 * strings, which never change, are one allocation.
 */
static struct fs_node *node_new(struct upfs *u, const struct fs_entry *e)
{
	const char *strs[] = { e->name, e->id, e->owner };
	size_t strings = 0;
	struct fs_node *n;
	char *at;

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		strings += strs[i] ? strlen(strs[i]) + 1 : 0;
	n = calloc(1, sizeof(*n) + strings);
	if (n == NULL)
		return NULL;
	at = (char *)(n + 1);
	n->kind = e->kind;
	n->name = place_string(e->name, &at);
	n->id = place_string(e->id, &at);
	n->owner = place_string(e->owner, &at);
	n->mtime = e->mtime;
	n->ino = (uint64_t)(uintptr_t)n;
	n->generation = ++u->next_generation;
	n->all_next = u->all_nodes;
	if (u->all_nodes)
		u->all_nodes->all_prev = n;
	u->all_nodes = n;
	n->all_head = &u->all_nodes;
	return n;
}

/* Detaches a child from its folder; frees it if the kernel forgot it. */
static void node_unlink(struct fs_node *n)
{
	n->linked = false;
	if (n->nlookup == 0)
		node_free(n);
}

/* Frees the node alone; its children are the caller's concern. */
static void node_destroy(struct fs_node *n)
{
	if (n->all_prev)
		n->all_prev->all_next = n->all_next;
	else if (n->all_head)
		*n->all_head = n->all_next;
	if (n->all_next)
		n->all_next->all_prev = n->all_prev;
	if (tree_kind_is_dir(n->kind)) {
		free(n->children);
		fs_entries_release(&n->entries);
	}
	free(n);	/* and its strings (node_new) */
}

static void node_free(struct fs_node *n)
{
	for (size_t i = 0; tree_kind_is_dir(n->kind) && n->children &&
			   i < n->entries.n; i++)
		if (n->children[i])
			node_unlink(n->children[i]);
	node_destroy(n);
}

int node_table_init(struct upfs *u)
{
	struct fs_entry root = { .name = (char *)"", .kind = FS_ROOT };

	u->root = node_new(u, &root);
	if (u->root == NULL)
		return -ENOMEM;
	u->root->ino = FUSE_ROOT_ID;
	u->root->nlookup = 1;
	u->root->linked = true;
	u->root->mtime = u->started_ms / 1000;
	return 0;
}

void node_table_release(struct upfs *u)
{
	while (u->all_nodes)
		node_destroy(u->all_nodes);
	u->root = NULL;
}

struct fs_node *node_get(struct upfs *u, uint64_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return u->root;
	return (struct fs_node *)(uintptr_t)ino;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct fs_entry *)a)->name,
		      ((const struct fs_entry *)b)->name);
}

static bool entries_sorted(const struct fs_entries *e)
{
	for (size_t i = 1; i < e->n; i++)
		if (strcmp(e->v[i - 1].name, e->v[i].name) > 0)
			return false;
	return true;
}

static long find_entry(const struct fs_entries *e, const char *name)
{
	size_t lo = 0, hi = e->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, e->v[mid].name);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

static bool same_object(const struct fs_entry *a, const struct fs_node *n)
{
	if (a->kind != n->kind)
		return false;
	if ((a->id == NULL) != (n->id == NULL))
		return false;
	return a->id == NULL || strcmp(a->id, n->id) == 0;
}

/* Under node_lock: makes entries (stolen) the folder's snapshot. */
static int node_install(struct fs_node *dir, struct fs_entries *entries,
			struct fs_deps *deps)
{
	struct fs_node **children = calloc(entries->n ? entries->n : 1,
					   sizeof(*children));

	if (children == NULL)
		return -ENOMEM;
	/* Kept as long as the folder is: no room to grow (a job's folder
	   lists a few files, and tree_list grows by 16 at first). */
	if (entries->n == 0) {
		free(entries->v);
		entries->v = NULL;
		entries->alloc = 0;
	} else if (entries->alloc > entries->n) {
		struct fs_entry *v = realloc(entries->v,
					     entries->n * sizeof(*v));

		if (v) {
			entries->v = v;
			entries->alloc = entries->n;
		}
	}
	/* Both listings are sorted by name: one walk pairs them up (a busy
	   queue/ is listed again for every document printed). */
	for (size_t i = 0, old = 0; dir->children && i < entries->n; i++) {
		const char *name = entries->v[i].name;
		struct fs_node *c;
		int cmp = -1;

		while (old < dir->entries.n &&
		       (cmp = strcmp(dir->entries.v[old].name, name)) < 0)
			old++;
		if (old == dir->entries.n || cmp != 0)
			continue;
		c = dir->children[old];
		if (c && same_object(&entries->v[i], c)) {
			children[i] = c;
			dir->children[old] = NULL;
			c->mtime = entries->v[i].mtime;
		}
	}
	for (size_t i = 0; dir->children && i < dir->entries.n; i++)
		if (dir->children[i])
			node_unlink(dir->children[i]);
	free(dir->children);
	fs_entries_release(&dir->entries);
	fs_deps_release(&dir->deps);
	dir->children = children;
	dir->entries = *entries;
	dir->deps = *deps;
	memset(entries, 0, sizeof(*entries));
	memset(deps, 0, sizeof(*deps));
	dir->listed = true;
	return 0;
}

/* Brings dir's snapshot up to date; no lock held on entry or exit. */
static int node_refresh(struct upfs *u, struct fs_node *dir)
{
	struct fs_entries entries = { 0 };
	struct fs_deps deps = { 0 };
	uint64_t spool_sig;
	bool current, spool;
	int rc;

	pthread_mutex_lock(&u->node_lock);
	current = dir->listed && res_deps_current(u, &dir->deps);
	spool = dir->deps.spool;
	spool_sig = dir->deps.spool_sig;
	pthread_mutex_unlock(&u->node_lock);
	/* The spool changes without a generation: compare what it holds. */
	if (current && spool)
		current = spool_signature(u, dir->id) == spool_sig;
	if (current)
		return 0;

	rc = tree_list(u, dir, &entries, &deps);
	if (rc)
		goto out;
	if (!entries_sorted(&entries))
		qsort(entries.v, entries.n, sizeof(*entries.v), cmp_entry);
	pthread_mutex_lock(&u->node_lock);
	rc = node_install(dir, &entries, &deps);
	pthread_mutex_unlock(&u->node_lock);
out:
	fs_entries_release(&entries);
	fs_deps_release(&deps);
	return rc;
}

/* Under node_lock: the node of entry i of dir, made if needed. */
static struct fs_node *node_child(struct upfs *u, struct fs_node *dir,
				  size_t i)
{
	struct fs_node *c = dir->children[i];

	if (c == NULL) {
		c = node_new(u, &dir->entries.v[i]);
		if (c == NULL)
			return NULL;
		c->linked = true;
		dir->children[i] = c;
	}
	return c;
}

/*
 * cp looks a new document's name up two or three times before it exists,
 * and the spool changes with every document printed: with four writers,
 * listing queue/ again at each of those look-ups took about 8% of the
 * daemon's CPU. A name the snapshot lacks is still absent while the
 * resources it was made from keep their generations and the spool adds no
 * such name since (spool_may_add_name), which needs no listing.
 */
static bool queue_still_lacks(struct upfs *u, struct fs_node *dir,
			      const char *name)
{
	bool lacks;

	if (dir->kind != FS_SHARE_QUEUE)
		return false;
	pthread_mutex_lock(&u->node_lock);
	lacks = dir->listed && dir->deps.spool &&
		find_entry(&dir->entries, name) < 0 &&
		res_deps_current(u, &dir->deps) &&
		!spool_may_add_name(u, dir->id, name, dir->deps.spool_unhides);
	pthread_mutex_unlock(&u->node_lock);
	return lacks;
}

int node_lookup(struct upfs *u, struct fs_node *dir, const char *name,
		struct fs_node **out)
{
	struct fs_node *c = NULL;
	long i;
	int rc;

	if (!tree_kind_is_dir(dir->kind))
		return -ENOTDIR;
	if (queue_still_lacks(u, dir, name))
		return -ENOENT;
	rc = node_refresh(u, dir);
	if (rc)
		return rc;
	pthread_mutex_lock(&u->node_lock);
	i = find_entry(&dir->entries, name);
	if (i < 0) {
		rc = -ENOENT;
		goto out;
	}
	c = node_child(u, dir, (size_t)i);
	if (c == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	c->nlookup++;
	*out = c;
out:
	pthread_mutex_unlock(&u->node_lock);
	return rc;
}

static int entries_copy(struct fs_entries *dst, const struct fs_entries *src)
{
	int rc = 0;

	dst->v = calloc(src->n ? src->n : 1, sizeof(*dst->v));
	if (dst->v == NULL)
		return -ENOMEM;
	dst->alloc = src->n ? src->n : 1;
	for (size_t i = 0; i < src->n && rc == 0; i++)
		rc = fs_entries_add(dst, src->v[i].name, src->v[i].kind,
				    src->v[i].id, src->v[i].owner,
				    src->v[i].mtime);
	if (rc)
		fs_entries_release(dst);
	return rc;
}

int node_list(struct upfs *u, struct fs_node *dir, struct fs_entries *out)
{
	int rc;

	if (!tree_kind_is_dir(dir->kind))
		return -ENOTDIR;
	rc = node_refresh(u, dir);
	if (rc)
		return rc;
	pthread_mutex_lock(&u->node_lock);
	rc = entries_copy(out, &dir->entries);
	pthread_mutex_unlock(&u->node_lock);
	return rc;
}

/* What a listing shows the kernel: names, kinds, and the objects. */
static uint64_t listing_signature(const struct fs_entries *snap)
{
	uint64_t h = FNV1A_SEED;

	for (size_t i = 0; i < snap->n; i++) {
		const struct fs_entry *e = &snap->v[i];

		h = fnv1a_update(h, e->name, strlen(e->name) + 1);
		h = fnv1a_update(h, &e->kind, sizeof(e->kind));
		if (e->id)
			h = fnv1a_update(h, e->id, strlen(e->id) + 1);
	}
	return h | 1;	/* 0 means "nothing cached" */
}

bool node_dir_opened(struct upfs *u, struct fs_node *dir,
		     const struct fs_entries *snap)
{
	uint64_t sig = listing_signature(snap);
	bool keep;

	pthread_mutex_lock(&u->node_lock);
	if (dir->open_dirs > 0 && dir->listing_sig != sig)
		dir->listing_mixed = true;
	keep = !dir->listing_mixed && dir->listing_sig == sig;
	dir->listing_sig = sig;
	dir->open_dirs++;
	pthread_mutex_unlock(&u->node_lock);
	return keep;
}

void node_dir_closed(struct upfs *u, struct fs_node *dir)
{
	pthread_mutex_lock(&u->node_lock);
	if (dir->open_dirs > 0)
		dir->open_dirs--;
	if (dir->open_dirs == 0 && dir->listing_mixed) {
		/* Whatever the kernel kept may be any of them: start over. */
		dir->listing_mixed = false;
		dir->listing_sig = 0;
	}
	pthread_mutex_unlock(&u->node_lock);
}

int node_adopt(struct upfs *u, struct fs_node *dir, const struct fs_entry *e,
	       struct fs_node **out)
{
	struct fs_node *c = NULL;
	long i;
	int rc = 0;

	pthread_mutex_lock(&u->node_lock);
	i = find_entry(&dir->entries, e->name);
	if (i >= 0) {
		struct fs_node *listed = node_child(u, dir, (size_t)i);

		if (listed && same_object(e, listed))
			c = listed;
	}
	/* Listed by a handle's older snapshot: an unlinked node. */
	if (c == NULL && (c = node_new(u, e)) == NULL)
		rc = -ENOMEM;
	if (c) {
		c->nlookup++;
		*out = c;
	}
	pthread_mutex_unlock(&u->node_lock);
	return rc;
}

void node_forget(struct upfs *u, struct fs_node *n, uint64_t nlookup)
{
	if (n == u->root)
		return;
	pthread_mutex_lock(&u->node_lock);
	n->nlookup = nlookup > n->nlookup ? 0 : n->nlookup - nlookup;
	if (n->nlookup == 0 && !n->linked)
		node_free(n);
	pthread_mutex_unlock(&u->node_lock);
}

/* A file's size and mtime, rendered only when its resources changed. */
static int node_file_attr(struct upfs *u, struct fs_node *n, off_t *size,
			  int64_t *mtime, int *ttl)
{
	struct fs_deps deps = { 0 };
	struct buf content;
	bool known, link = false;
	int rc;

	pthread_mutex_lock(&u->node_lock);
	known = n->attr_known && res_deps_current(u, &n->attr_deps);
	if (known) {
		*size = n->size;
		*mtime = n->file_mtime;
		*ttl = n->file_ttl;
	}
	pthread_mutex_unlock(&u->node_lock);
	if (known)
		return 0;

	buf_init(&content, 0);
	if (n->kind == FS_QUEUE_ENTRY || n->kind == FS_JOB_DOCUMENT)
		/* Its bytes are the document's: the size without a download. */
		rc = tree_document_size(u, n, size, mtime, &deps);
	else if (n->kind == FS_QUEUE_LOCAL)
		rc = queue_local_size(u, n, size, mtime);
	else if (n->kind == FS_SCRATCH)
		rc = scratch_stat(u, n->id, size, mtime, &link);
	else
		rc = tree_render(u, n, &content, mtime, ttl, &deps);
	if (n->kind != FS_QUEUE_ENTRY && n->kind != FS_QUEUE_LOCAL &&
	    n->kind != FS_SCRATCH && n->kind != FS_JOB_DOCUMENT)
		*size = (off_t)content.len;
	/* Live. (Edited files keep their time-outs: a commit through this
	   mount tells the kernel, see ops_attr_changed.) A job's document
	   once uploaded keeps its size and time: those may be kept a while,
	   as the name is asked for again each time (ops_entry_of), which
	   spares the getattr after each of cp's look-ups. */
	if (n->kind == FS_QUEUE_ENTRY)
		*ttl = *size > 0 ? QUEUE_JOB_ATTR_TTL : 0;
	else if (n->kind == FS_QUEUE_LOCAL || n->kind == FS_SCRATCH)
		*ttl = 0;
	buf_release(&content);
	if (rc == 0 && deps.n > 0) {
		pthread_mutex_lock(&u->node_lock);
		fs_deps_release(&n->attr_deps);
		n->attr_deps = deps;
		memset(&deps, 0, sizeof(deps));
		n->attr_known = true;
		n->size = *size;
		n->file_mtime = *mtime;
		n->file_ttl = *ttl;
		pthread_mutex_unlock(&u->node_lock);
	}
	fs_deps_release(&deps);
	return rc;
}

/* Folders that take new entries: queue/, shares/, pending shares, and
   the folders with editable files (their editors' local files). */
static bool dir_writable(enum fs_kind kind)
{
	return kind == FS_SHARE_QUEUE || kind == FS_SHARES ||
	       kind == FS_SHARE_PENDING || kind == FS_PRINTERS ||
	       kind == FS_CONNECTORS || kind == FS_PRINTER_JOBS ||
	       kind == FS_TASK_DEFS || kind == FS_TASK_TRIGGERS ||
	       tree_keeps_scratch(kind);
}

static bool scratch_is_link(struct upfs *u, const struct fs_node *n)
{
	off_t size;
	int64_t mtime;
	bool link = false;

	return n->kind == FS_SCRATCH &&
	       scratch_stat(u, n->id, &size, &mtime, &link) == 0 && link;
}

int64_t node_mtime(struct upfs *u, const struct fs_node *n)
{
	int64_t mtime;

	pthread_mutex_lock(&u->node_lock);
	mtime = n->mtime;
	pthread_mutex_unlock(&u->node_lock);
	return mtime;
}

int node_stat(struct upfs *u, struct fs_node *n, struct stat *st, int *ttl)
{
	int64_t mtime = 0;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_uid = u->uid;
	st->st_gid = u->gid;
	st->st_blksize = 4096;
	*ttl = u->opts.dir_ttl;
	if (tree_kind_is_dir(n->kind)) {
		st->st_mode = S_IFDIR | (dir_writable(n->kind) ? 0755 : 0555);
		st->st_nlink = 2;
		st->st_mtime = node_mtime(u, n);
		/* A pending share becomes a real one (another inode) at ln -s. */
		if (n->kind == FS_SHARE_PENDING)
			*ttl = 0;
		goto out;
	}
	rc = node_file_attr(u, n, &st->st_size, &mtime, ttl);
	if (rc)
		return rc;
	if (tree_kind_is_link(n->kind) || scratch_is_link(u, n))
		st->st_mode = S_IFLNK | 0777;
	else if (role_kind_needs_admin(n->kind) &&
		 role_get(u) == UPFS_ROLE_USER)
		st->st_mode = S_IFREG | 0444;	/* the service would refuse */
	/* A document's bytes are the owner's alone: a mount shared with
	   allow_other and default_permissions lets others list jobs, not
	   read what was printed. */
	else if (n->kind == FS_QUEUE_ENTRY || n->kind == FS_QUEUE_LOCAL)
		st->st_mode = S_IFREG | 0600;	/* rm cancels */
	else if (n->kind == FS_JOB_DOCUMENT)
		st->st_mode = S_IFREG | 0400;
	else if (n->kind == FS_SCRATCH || n->kind == FS_TASK_TRIGGER ||
		 editfile_kind(n->kind))
		st->st_mode = S_IFREG | 0644;	/* edits commit */
	else
		st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	/* Documents move in 1 MiB pieces (the most one FUSE write or read
	   carries): cp sizes its buffer by this, one request per piece. */
	if (n->kind == FS_QUEUE_ENTRY || n->kind == FS_QUEUE_LOCAL ||
	    n->kind == FS_JOB_DOCUMENT)
		st->st_blksize = UPFS_DOCUMENT_WINDOW;
	st->st_mtime = mtime ? mtime : node_mtime(u, n);
	st->st_blocks = (st->st_size + 511) / 512;
out:
	st->st_atime = st->st_ctime = st->st_mtime;
	return rc;
}

/* Under node_lock: the listed child of dir called name, or NULL. */
static struct fs_node *node_listed_child(struct upfs *u, struct fs_node *dir,
					 const char *name)
{
	long i = find_entry(&dir->entries, name);

	return i < 0 ? NULL : node_child(u, dir, (size_t)i);
}

int node_name_of(struct upfs *u, enum fs_kind top, const char *id,
		 struct buf *out)
{
	const char *dirname = top == FS_PRINTERS ? "printers" : "shares";
	struct fs_node *dir;
	int rc;

	rc = node_refresh(u, u->root);
	if (rc)
		return rc;
	pthread_mutex_lock(&u->node_lock);
	dir = node_listed_child(u, u->root, dirname);
	pthread_mutex_unlock(&u->node_lock);
	if (dir == NULL)
		return -ENOMEM;
	rc = node_refresh(u, dir);
	if (rc)
		return rc;
	rc = -ENOENT;
	pthread_mutex_lock(&u->node_lock);
	for (size_t i = 0; i < dir->entries.n && rc == -ENOENT; i++)
		if (dir->entries.v[i].id && strcmp(dir->entries.v[i].id, id) == 0)
			rc = buf_append_str(out, dir->entries.v[i].name);
	pthread_mutex_unlock(&u->node_lock);
	return rc;
}

int node_id_of(struct upfs *u, enum fs_kind top, const char *name,
	       struct buf *id)
{
	const char *dirname = top == FS_PRINTERS     ? "printers"
			      : top == FS_CONNECTORS ? "connectors"
			      : top == FS_TASK_DEFS  ? "task_definitions"
						     : "shares";
	struct fs_node *dir = NULL, *n = NULL;
	int rc = node_lookup(u, u->root, dirname, &dir);

	if (rc == 0)
		rc = node_lookup(u, dir, name, &n);
	if (rc == 0)
		rc = n->id ? buf_append_str(id, n->id) : -ENOENT;
	if (n)
		node_forget(u, n, 1);
	if (dir)
		node_forget(u, dir, 1);
	return rc;
}

static int cmp_res(const void *a, const void *b)
{
	const struct res *x = *(const struct res *const *)a;
	const struct res *y = *(const struct res *const *)b;

	return x < y ? -1 : x > y;
}

/* Whether deps name any of rs (sorted by address). */
static bool deps_have_any(const struct fs_deps *deps,
			  const struct res *const *rs, size_t n)
{
	for (int i = 0; i < deps->n; i++)
		if (bsearch(&deps->d[i].res, rs, n, sizeof(*rs), cmp_res))
			return true;
	return false;
}

/*
 * Whether the kernel may still be told of changes: not once the loop is
 * ending. From the signal on, no request is read (libfuse cancels idle
 * workers and waits for busy ones), and a notification can wait forever
 * for a lock an unread request holds (a look-up in the folder of an
 * entry being forgotten). What is left is the moment between this check
 * and the notification.
 */
static bool kernel_listening(struct upfs *u)
{
	return u->session && !atomic_load(&u->loop_ended) &&
	       !fuse_session_exited(u->session);
}

void node_invalidate_entry(struct upfs *u, uint64_t parent, const char *name)
{
	/* -ENOENT: the kernel holds no such name; nothing to forget. */
	if (kernel_listening(u))
		(void)fuse_lowlevel_notify_inval_entry(u->session, parent, name,
						       strlen(name));
}

void node_invalidate_dependents(struct upfs *u, const struct res *r)
{
	node_invalidate_dependents_of(u, &r, 1);
}

void node_invalidate_dependents_of(struct upfs *u, const struct res **rs,
				   size_t n_rs)
{
	uint64_t *inos = NULL;
	size_t n = 0, alloc = 0;

	if (n_rs == 0)
		return;
	qsort(rs, n_rs, sizeof(*rs), cmp_res);
	pthread_mutex_lock(&u->node_lock);
	for (struct fs_node *x = u->all_nodes; x; x = x->all_next) {
		if (tree_kind_is_dir(x->kind) || !x->attr_known ||
		    !deps_have_any(&x->attr_deps, rs, n_rs))
			continue;
		if (n == alloc) {
			size_t more = alloc ? alloc * 2 : 16;
			uint64_t *v = realloc(inos, more * sizeof(*v));

			if (v == NULL)
				break;	/* the attribute timeouts still hold */
			inos = v;
			alloc = more;
		}
		inos[n++] = x->ino;
	}
	pthread_mutex_unlock(&u->node_lock);
	/* Outside node_lock: the kernel may ask us things meanwhile. */
	for (size_t i = 0; i < n && kernel_listening(u); i++)
		fuse_lowlevel_notify_inval_inode(u->session, inos[i], 0, 0);
	free(inos);
}
