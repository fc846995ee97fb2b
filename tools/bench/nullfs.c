/*
 * nullfs — the do-nothing FUSE filesystem that upfs is measured against.
 *
 * It serves a fixed tree read from a manifest (one entry per line,
 * "TYPE\tMODE\tSIZE\tMTIME\tPATH[\tTARGET]", TYPE d|f|l, MODE octal, PATH
 * relative to the root, parents before children) entirely from memory.
 * Every operation answers at once, so a benchmark against it measures
 * what the kernel and libfuse cost, and nothing else.
 *
 * It uses the kernel caches the way a well-behaved filesystem with a
 * long cache lifetime can: readdirplus always, entry and attribute
 * timeouts of -t seconds (default 3600), cached directory pages
 * (FOPEN_CACHE_DIR, off with -n) and symlinks. It answers every getxattr
 * with ENODATA and listxattr with an empty list, as a filesystem that has
 * xattrs (upfs has user.upfs.*) but not the asked ones; so the per-entry
 * xattr questions of `ls -l` reach it just as they reach upfs.
 *
 * A file created in any folder is a sink: opened with direct_io as upfs
 * opens a document in queue/, it takes every write and keeps nothing, so
 * `dd` into it measures what the kernel and libfuse cost a writer. Sinks
 * are never listed; a look-up of one's name finds nothing.
 *
 * The loop is libfuse's multi-threaded one with at most 16 threads, as
 * upfs runs. At exit it prints how many requests of each kind it served.
 *
 *   nullfs [-t SECONDS] [-n] MANIFEST MOUNTPOINT
 *
 * It stays in the foreground; unmount with fusermount3 -u MOUNTPOINT.
 */
#define FUSE_USE_VERSION 314
#define _GNU_SOURCE
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct node {
	char *name;
	uint32_t parent;
	mode_t mode;
	off_t size;
	time_t mtime;
	char *target;
	uint32_t *kids;
	uint32_t nkids, cap;
};

static struct node *nodes;
static size_t nnodes, capnodes;
static uint32_t *table;		/* open addressing: node index + 1, 0 = free */
static size_t tablesize;
static double timeout = 3600;
static int cache_dir = 1;

enum { C_LOOKUP, C_GETATTR, C_READLINK, C_OPENDIR, C_READDIR, C_READDIRPLUS,
       C_RELEASEDIR, C_OPEN, C_READ, C_RELEASE, C_GETXATTR, C_LISTXATTR,
       C_FORGET, C_STATFS, C_CREATE, C_WRITE, C_FLUSH, C_SETATTR, C_MAX };
static const char *const cname[C_MAX] = {
	"lookup", "getattr", "readlink", "opendir", "readdir", "readdirplus",
	"releasedir", "open", "read", "release", "getxattr", "listxattr",
	"forget", "statfs", "create", "write", "flush", "setattr" };
static atomic_ulong counts[C_MAX];

static void count(int c)
{
	atomic_fetch_add_explicit(&counts[c], 1, memory_order_relaxed);
}

static uint64_t hash(uint32_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ parent;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

static uint32_t find(uint32_t parent, const char *name)
{
	size_t i = hash(parent, name) & (tablesize - 1);

	for (; table[i]; i = (i + 1) & (tablesize - 1)) {
		struct node *n = &nodes[table[i] - 1];

		if (n->parent == parent && strcmp(n->name, name) == 0)
			return table[i] - 1;
	}
	return UINT32_MAX;
}

static void insert(uint32_t idx)
{
	size_t i = hash(nodes[idx].parent, nodes[idx].name) & (tablesize - 1);

	while (table[i])
		i = (i + 1) & (tablesize - 1);
	table[i] = idx + 1;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL) {
		perror("nullfs");
		exit(1);
	}
	return p;
}

static uint32_t add_node(uint32_t parent, const char *name, mode_t mode,
			 off_t size, time_t mtime, const char *target)
{
	struct node *n;

	if (nnodes == capnodes) {
		capnodes = capnodes ? capnodes * 2 : 1024;
		nodes = xrealloc(nodes, capnodes * sizeof(*nodes));
	}
	n = &nodes[nnodes];
	memset(n, 0, sizeof(*n));
	n->name = strdup(name);
	n->parent = parent;
	n->mode = mode;
	n->size = size;
	n->mtime = mtime;
	n->target = target ? strdup(target) : NULL;
	if (nnodes > 0) {
		struct node *p = &nodes[parent];

		if (p->nkids == p->cap) {
			p->cap = p->cap ? p->cap * 2 : 8;
			p->kids = xrealloc(p->kids, p->cap * sizeof(*p->kids));
		}
		p->kids[p->nkids++] = (uint32_t)nnodes;
	}
	return (uint32_t)nnodes++;
}

/* Splits "a/b/c" into its parent's index and the last name. */
static uint32_t parent_of(char *path, char **last)
{
	uint32_t at = 0;
	char *s = path, *slash;

	while ((slash = strchr(s, '/')) != NULL) {
		*slash = '\0';
		at = find(at, s);
		*slash = '/';
		if (at == UINT32_MAX)
			return UINT32_MAX;
		s = slash + 1;
	}
	*last = s;
	return at;
}

static int load(const char *manifest)
{
	FILE *f = fopen(manifest, "r");
	char *line = NULL;
	size_t cap = 0, lines = 0;
	ssize_t len;

	if (f == NULL) {
		perror(manifest);
		return -1;
	}
	while (getline(&line, &cap, f) > 0)
		lines++;
	rewind(f);
	for (tablesize = 1024; tablesize < 2 * (lines + 1); tablesize *= 2)
		;
	table = calloc(tablesize, sizeof(*table));
	add_node(0, "", S_IFDIR | 0555, 0, 0, NULL);
	while ((len = getline(&line, &cap, f)) > 0) {
		char *field[6] = { 0 }, *s = line, *last;
		int nf = 0;
		uint32_t parent;
		mode_t type;

		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		while (nf < 6 && s) {
			field[nf++] = s;
			s = strchr(s, '\t');
			if (s)
				*s++ = '\0';
		}
		if (nf < 5)
			continue;
		type = field[0][0] == 'd' ? S_IFDIR
		     : field[0][0] == 'l' ? S_IFLNK : S_IFREG;
		parent = parent_of(field[4], &last);
		if (parent == UINT32_MAX) {
			fprintf(stderr, "nullfs: %s: parent not listed before %s\n",
				manifest, field[4]);
			continue;
		}
		insert(add_node(parent, last,
				type | (mode_t)strtoul(field[1], NULL, 8),
				strtoll(field[2], NULL, 10),
				strtoll(field[3], NULL, 10), field[5]));
	}
	free(line);
	fclose(f);
	return 0;
}

static void fill_attr(uint32_t idx, struct stat *st)
{
	struct node *n = &nodes[idx];

	memset(st, 0, sizeof(*st));
	st->st_ino = idx + 1;
	st->st_mode = n->mode;
	st->st_nlink = S_ISDIR(n->mode) ? 2 : 1;
	st->st_size = S_ISLNK(n->mode) ? (off_t)strlen(n->target) : n->size;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = n->mtime;
}

static void fill_entry(uint32_t idx, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = idx + 1;
	e->generation = 1;
	e->attr_timeout = e->entry_timeout = timeout;
	fill_attr(idx, &e->attr);
}

static int valid(fuse_ino_t ino)
{
	return ino >= 1 && ino <= nnodes;
}

/* Sinks take inode numbers far above the tree's. */
#define SINK_BASE ((fuse_ino_t)1 << 40)
static atomic_ulong sinks;

static int is_sink(fuse_ino_t ino)
{
	return ino > SINK_BASE;
}

static void fill_sink_attr(fuse_ino_t ino, off_t size, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_size = size;
	st->st_blksize = 4096;
}

static void op_init(void *data, struct fuse_conn_info *conn)
{
	(void)data;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	uint32_t idx;

	count(C_LOOKUP);
	idx = valid(parent) ? find((uint32_t)parent - 1, name) : UINT32_MAX;
	if (idx == UINT32_MAX || idx == 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_entry(idx, &e);
	fuse_reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	(void)ino;
	(void)n;
	count(C_FORGET);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t n,
			    struct fuse_forget_data *f)
{
	(void)n;
	(void)f;
	count(C_FORGET);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	count(C_GETATTR);
	if (is_sink(ino)) {
		/* The kernel follows a sink's size from the writes it sent. */
		fill_sink_attr(ino, 0, &st);
		fuse_reply_attr(req, &st, 0);
		return;
	}
	if (!valid(ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr((uint32_t)ino - 1, &st);
	fuse_reply_attr(req, &st, timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	count(C_READLINK);
	if (!valid(ino) || nodes[ino - 1].target == NULL)
		fuse_reply_err(req, EINVAL);
	else
		fuse_reply_readlink(req, nodes[ino - 1].target);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	count(C_OPENDIR);
	if (!valid(ino) || !S_ISDIR(nodes[ino - 1].mode)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	fi->cache_readdir = cache_dir;
	fi->keep_cache = cache_dir;
	fuse_reply_open(req, fi);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, int plus)
{
	struct node *d = &nodes[ino - 1];
	char *buf = malloc(size), *p = buf;
	size_t rem = size;

	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (off_t i = off; i < (off_t)d->nkids + 2; i++) {
		struct fuse_entry_param e;
		const char *name;
		size_t used;

		if (i < 2) {
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = i == 0 ? ino : d->parent + 1;
			e.attr.st_mode = S_IFDIR;
			name = i == 0 ? "." : "..";
		} else {
			fill_entry(d->kids[i - 2], &e);
			name = nodes[d->kids[i - 2]].name;
		}
		used = plus ? fuse_add_direntry_plus(req, p, rem, name, &e, i + 1)
			    : fuse_add_direntry(req, p, rem, name, &e.attr,
						i + 1);
		if (used > rem)
			break;
		p += used;
		rem -= used;
	}
	fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	count(C_READDIR);
	do_readdir(req, ino, size, off, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	count(C_READDIRPLUS);
	do_readdir(req, ino, size, off, 1);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	count(C_RELEASEDIR);
	fuse_reply_err(req, 0);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count(C_OPEN);
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		fuse_reply_err(req, EROFS);
	else if (!valid(ino))
		fuse_reply_err(req, ENOENT);
	else {
		fi->keep_cache = 1;
		fuse_reply_open(req, fi);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	static const char zeros[128 << 10];
	off_t fsize = nodes[ino - 1].size;

	(void)fi;
	count(C_READ);
	if (off >= fsize)
		size = 0;
	else if ((off_t)size > fsize - off)
		size = (size_t)(fsize - off);
	if (size > sizeof(zeros))
		size = sizeof(zeros);
	fuse_reply_buf(req, zeros, size);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	count(C_RELEASE);
	fuse_reply_err(req, 0);
}

/* As upfs answers a new document: no entry cached, attributes for 1 s. */
static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;

	(void)parent;
	(void)name;
	(void)mode;
	count(C_CREATE);
	memset(&e, 0, sizeof(e));
	e.ino = SINK_BASE + atomic_fetch_add(&sinks, 1) + 1;
	e.generation = 1;
	e.attr_timeout = 1.0;
	fill_sink_attr(e.ino, 0, &e.attr);
	fi->direct_io = 1;
	fuse_reply_create(req, &e, fi);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	(void)buf;
	(void)off;
	(void)fi;
	count(C_WRITE);
	fuse_reply_write(req, size);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	count(C_FLUSH);
	fuse_reply_err(req, 0);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	count(C_SETATTR);
	if (!is_sink(ino)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fill_sink_attr(ino, (to_set & FUSE_SET_ATTR_SIZE) ? attr->st_size : 0,
		       &st);
	fuse_reply_attr(req, &st, 0);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	(void)ino;
	(void)name;
	(void)size;
	count(C_GETXATTR);
	fuse_reply_err(req, ENODATA);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino;
	count(C_LISTXATTR);
	if (size == 0)
		fuse_reply_xattr(req, 0);
	else
		fuse_reply_buf(req, NULL, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = { 0 };

	(void)ino;
	count(C_STATFS);
	sv.f_bsize = sv.f_frsize = 4096;
	sv.f_files = nnodes;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.create = op_create,
	.write = op_write,
	.flush = op_flush,
	.setattr = op_setattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.statfs = op_statfs,
};

static void usage(void)
{
	fprintf(stderr, "usage: nullfs [-t SECONDS] [-n] MANIFEST MOUNTPOINT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	char *fargv[] = { argv[0], "-o", "fsname=nullfs,subtype=nullfs", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_loop_config *loop;
	struct fuse_session *se;
	int opt, rc = 1;

	while ((opt = getopt(argc, argv, "t:n")) != -1) {
		if (opt == 't')
			timeout = strtod(optarg, NULL);
		else if (opt == 'n')
			cache_dir = 0;
		else
			usage();
	}
	if (argc - optind != 2)
		usage();
	if (load(argv[optind]) != 0)
		return 1;
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (se == NULL)
		return 1;
	if (fuse_set_signal_handlers(se) == 0) {
		if (fuse_session_mount(se, argv[optind + 1]) == 0) {
			loop = fuse_loop_cfg_create();
			fuse_loop_cfg_set_max_threads(loop, 16);
			rc = fuse_session_loop_mt(se, loop);
			fuse_loop_cfg_destroy(loop);
			fuse_session_unmount(se);
		}
		fuse_remove_signal_handlers(se);
	}
	fuse_session_destroy(se);
	fprintf(stderr, "nullfs: %zu nodes; requests:", nnodes);
	for (int i = 0; i < C_MAX; i++)
		if (atomic_load(&counts[i]))
			fprintf(stderr, " %s=%lu", cname[i], atomic_load(&counts[i]));
	fputc('\n', stderr);
	return rc < 0 ? 1 : 0;
}
