/*
 * store.c — the LMDB environment behind cache.h.
 *
 * One environment per cache_dir, one named database per enum cache_table.
 *
 * Keys are the caller's string bytes without the NUL. Values (both tables):
 *
 *	bytes 0..7	fetched_ms: int64_t, two's complement, little-endian
 *	bytes 8..	the caller's data bytes, unterminated
 *
 * The header is encoded byte by byte rather than stored as an int64_t
 * because LMDB gives no alignment guarantee for values, and a fixed byte
 * order means the layout is the same whatever the host.
 *
 * Threads: the environment and the table handles are set once in
 * cache_open() and only read afterwards; LMDB serializes writers itself,
 * and MDB_NOTLS lets read transactions be begun and ended by whichever
 * FUSE worker thread is running. The statistics counters are atomics.
 * Every transaction begins and ends inside one function of this file, so
 * none outlives a call, and no MDB_val escapes its transaction.
 *
 * Group commit: every commit is flushed to disk (fdatasync) before it
 * returns, and a flush costs far more than the write. Puts and deletes
 * that arrive while a commit is being flushed wait for it, then go
 * together in the next transaction, so concurrent writers share flushes
 * instead of queueing for one each; each call still returns only once its
 * own change is committed, in the order the calls were made.
 *
 * LMDB's own rules that reach our callers: open the cache after fork()
 * (after fuse_daemonize()), never twice at once in one process, and
 * cache_close() only once no other thread is inside a cache_* call.
 */
#include "cache.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CACHE_DEFAULT_MAP_SIZE ((size_t)1 << 30)
#define CACHE_HEADER_LEN 8

static const char *const cache_table_names[UPFS_CACHE_TABLES] = {
	[UPFS_CACHE_RESOURCES] = "resources",
	[UPFS_CACHE_OUTBOX] = "outbox",
	[UPFS_CACHE_LOCAL] = "local",
};

/* A put (data set) or a delete waiting for its commit; on its caller's
   stack, which waits until done — or, deferred, on the heap (key after
   it), waited for by no one and freed once committed. */
struct cache_op {
	struct cache_op *next;
	enum cache_table t;
	MDB_val key;
	const void *data;
	size_t len;
	int64_t fetched_ms;
	bool is_put;
	bool durable;		/* on disk, root page and all, when done */
	bool deferred;		/* cache_del_later's */
	int rc;
	bool done;
};

struct cache {
	MDB_env *env;
	MDB_dbi dbi[UPFS_CACHE_TABLES];
	size_t max_key;			/* mdb_env_get_maxkeysize() */
	_Atomic uint64_t hits;
	_Atomic uint64_t misses;
	_Atomic uint64_t writes;	/* records committed (put or deleted) */
	_Atomic uint64_t commits;	/* write transactions committed */

	pthread_mutex_t batch_lock;	/* the three below */
	pthread_cond_t batch_done;	/* a commit ended */
	struct cache_op *pending, **pending_tail;
	struct cache_op *deferred, **deferred_tail;	/* cache_del_later */
	bool committing;		/* some thread is committing a batch */
};

static void header_encode(unsigned char *p, int64_t v)
{
	uint64_t u = (uint64_t)v;
	int i;

	for (i = 0; i < CACHE_HEADER_LEN; i++)
		p[i] = (unsigned char)(u >> (8 * i));
}

static int64_t header_decode(const unsigned char *p)
{
	uint64_t u = 0;
	int i;

	for (i = 0; i < CACHE_HEADER_LEN; i++)
		u |= (uint64_t)p[i] << (8 * i);
	/* Two's complement on every platform upfs builds for. */
	return (int64_t)u;
}

/*
 * mkdir one component. Anything that fails but leaves a directory there is
 * fine: an existing parent may report EACCES or EROFS instead of EEXIST.
 */
static int mkdir_one(const char *path)
{
	struct stat st;
	int err;

	if (mkdir(path, 0700) == 0)
		return 0;
	err = errno;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return -err;
}

/* mkdir -p; components we create get 0700, existing ones are left alone. */
static int mkdir_p(const char *dir)
{
	char *path = NULL;
	char *p;
	int rc;

	path = strdup(dir);
	if (!path) {
		rc = -ENOMEM;
		goto out;
	}
	/* Start past the first byte: "/" always exists. */
	for (p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		rc = mkdir_one(path);
		*p = '/';
		if (rc < 0)
			goto out;
	}
	rc = mkdir_one(path);
out:
	free(path);
	return rc;
}

/* LMDB rounds nothing; its docs ask for a multiple of the OS page size. */
static size_t map_size_pick(size_t want)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t ps = page > 0 ? (size_t)page : 4096;

	if (want == 0)
		want = CACHE_DEFAULT_MAP_SIZE;
	if (want % ps && want <= SIZE_MAX - ps)
		want += ps - want % ps;
	return want;
}

/* LMDB requires named databases to be opened once, in a write txn. */
static int tables_open(struct cache *c)
{
	MDB_txn *txn = NULL;
	int i, rc;

	rc = cache_mdb_to_errno(mdb_txn_begin(c->env, NULL, 0, &txn));
	if (rc < 0)
		goto out;
	for (i = 0; i < UPFS_CACHE_TABLES; i++) {
		rc = cache_mdb_to_errno(mdb_dbi_open(txn, cache_table_names[i],
						     MDB_CREATE, &c->dbi[i]));
		if (rc < 0)
			goto out;
	}
	rc = cache_mdb_to_errno(mdb_txn_commit(txn));
	txn = NULL;		/* commit frees it, success or not */
out:
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

int cache_open(struct cache **out, const char *dir, size_t map_size)
{
	struct cache *c = NULL;
	int dead, rc;

	if (!out || !dir || !*dir) {
		rc = -EINVAL;
		goto out;
	}
	*out = NULL;
	rc = mkdir_p(dir);
	if (rc < 0)
		goto out;
	c = calloc(1, sizeof(*c));
	if (!c) {
		rc = -ENOMEM;
		goto out;
	}
	atomic_init(&c->hits, 0);
	atomic_init(&c->misses, 0);
	atomic_init(&c->writes, 0);
	atomic_init(&c->commits, 0);
	pthread_mutex_init(&c->batch_lock, NULL);
	pthread_cond_init(&c->batch_done, NULL);
	c->pending_tail = &c->pending;
	c->deferred_tail = &c->deferred;

	rc = cache_mdb_to_errno(mdb_env_create(&c->env));
	if (rc < 0)
		goto out;
	rc = cache_mdb_to_errno(mdb_env_set_maxdbs(c->env, UPFS_CACHE_TABLES));
	if (rc < 0)
		goto out;
	rc = cache_mdb_to_errno(mdb_env_set_mapsize(c->env,
						    map_size_pick(map_size)));
	if (rc < 0)
		goto out;
	/*
	 * MDB_NOTLS: FUSE worker threads come and go, so a reader slot must
	 * belong to the transaction, not to the thread. MDB_NOMETASYNC: one
	 * flush per commit instead of two, integrity kept (cache_put_durable where
	 * the outbox needs a commit on disk before it acts).
	 */
	rc = cache_mdb_to_errno(mdb_env_open(c->env, dir,
					     MDB_NOTLS | MDB_NOMETASYNC, 0600));
	if (rc < 0)
		goto out;
	/* A process killed with -9 leaves its reader slots taken. */
	rc = cache_mdb_to_errno(mdb_reader_check(c->env, &dead));
	if (rc < 0)
		goto out;
	c->max_key = (size_t)mdb_env_get_maxkeysize(c->env);
	rc = tables_open(c);
	if (rc < 0)
		goto out;
	*out = c;
	c = NULL;
out:
	if (c) {
		/* Also required after a failed mdb_env_open(). */
		if (c->env)
			mdb_env_close(c->env);
		pthread_cond_destroy(&c->batch_done);
		pthread_mutex_destroy(&c->batch_lock);
		free(c);
	}
	return rc;
}

static void batch_commit(struct cache *c, struct cache_op *batch);

/* Frees the deferred ops of a committed batch, marks the others done. */
static void batch_finish(struct cache_op *batch)
{
	struct cache_op *next;

	for (; batch; batch = next) {
		next = batch->next;
		if (batch->deferred)
			free(batch);
		else
			batch->done = true;	/* its waiter's, untouched now */
	}
}

void cache_close(struct cache *c)
{
	if (!c)
		return;
	if (c->deferred) {
		batch_commit(c, c->deferred);
		batch_finish(c->deferred);
	}
	mdb_env_close(c->env);
	pthread_cond_destroy(&c->batch_done);
	pthread_mutex_destroy(&c->batch_lock);
	free(c);
}

/*
 * Checks the arguments every operation shares and points k at the key.
 * A key LMDB cannot store is -ENAMETOOLONG for get and del as well as
 * put, so a caller sees one answer for one key.
 */
static int key_prepare(const struct cache *c, enum cache_table t,
		       const char *key, MDB_val *k)
{
	size_t len;

	if (!c || (unsigned int)t >= (unsigned int)UPFS_CACHE_TABLES || !key)
		return -EINVAL;
	len = strlen(key);
	if (len == 0)
		return -EINVAL;		/* LMDB has no empty keys */
	if (len > c->max_key)
		return -ENAMETOOLONG;
	k->mv_size = len;
	k->mv_data = (void *)key;	/* LMDB only reads keys */
	return 0;
}

int cache_read(struct cache *c, enum cache_table t, const char *key,
	       cache_reader read, void *arg)
{
	MDB_txn *txn = NULL;
	MDB_val k, v;
	int rc = key_prepare(c, t, key, &k);

	if (rc < 0)
		return rc;
	rc = cache_mdb_to_errno(mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn));
	if (rc < 0)
		return rc;
	rc = mdb_get(txn, c->dbi[t], &k, &v);
	if (rc == MDB_NOTFOUND)
		atomic_fetch_add_explicit(&c->misses, 1, memory_order_relaxed);
	rc = cache_mdb_to_errno(rc);
	if (rc == 0 && v.mv_size < CACHE_HEADER_LEN)
		rc = -EIO;	/* not a value this file wrote */
	if (rc == 0) {
		atomic_fetch_add_explicit(&c->hits, 1, memory_order_relaxed);
		rc = read((const char *)v.mv_data + CACHE_HEADER_LEN,
			  v.mv_size - CACHE_HEADER_LEN,
			  header_decode(v.mv_data), arg);
	}
	mdb_txn_abort(txn);
	return rc;
}

/* cache_get's reader: the value copied out, NUL-terminated. */
static int copy_value(const char *data, size_t len, int64_t fetched_ms,
		      void *arg)
{
	struct cache_entry *out = arg;

	out->data = malloc(len + 1);
	if (out->data == NULL)
		return -ENOMEM;
	memcpy(out->data, data, len);
	out->data[len] = '\0';
	out->len = len;
	out->fetched_ms = fetched_ms;
	return 0;
}

int cache_get(struct cache *c, enum cache_table t, const char *key,
	      struct cache_entry *out)
{
	if (!out)
		return -EINVAL;
	*out = (struct cache_entry){ 0 };
	return cache_read(c, t, key, copy_value, out);
}

/* op into txn; *changed tells whether a table changed. */
static int op_apply(struct cache *c, MDB_txn *txn, struct cache_op *op,
		    bool *changed)
{
	MDB_val v;
	int rc;

	*changed = false;
	if (!op->is_put) {
		rc = mdb_del(txn, c->dbi[op->t], &op->key, NULL);
		if (rc == MDB_NOTFOUND)
			return 0;	/* already absent */
		*changed = rc == 0;
		return cache_mdb_to_errno(rc);
	}
	/* MDB_RESERVE: build the value in the map, no staging copy. */
	v.mv_size = CACHE_HEADER_LEN + op->len;
	v.mv_data = NULL;
	rc = cache_mdb_to_errno(mdb_put(txn, c->dbi[op->t], &op->key, &v,
					MDB_RESERVE));
	if (rc < 0)
		return rc;
	header_encode(v.mv_data, op->fetched_ms);
	if (op->len)
		memcpy((unsigned char *)v.mv_data + CACHE_HEADER_LEN, op->data,
		       op->len);
	*changed = true;
	return 0;
}

/* ops (a list of n) in one transaction: 0, or why none of them went in. */
static int ops_commit(struct cache *c, struct cache_op *ops, size_t n)
{
	MDB_txn *txn = NULL;
	uint64_t changes = 0;
	struct cache_op *op = ops;
	bool changed;
	int rc;

	rc = cache_mdb_to_errno(mdb_txn_begin(c->env, NULL, 0, &txn));
	for (size_t i = 0; i < n && rc == 0; i++, op = op->next) {
		rc = op_apply(c, txn, op, &changed);
		changes += changed;
	}
	if (rc < 0 || changes == 0)
		goto out;	/* nothing to commit */
	rc = cache_mdb_to_errno(mdb_txn_commit(txn));
	txn = NULL;		/* commit frees it, success or not */
	if (rc == 0) {
		atomic_fetch_add_explicit(&c->commits, 1,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&c->writes, changes,
					  memory_order_relaxed);
	}
out:
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

/*
 * Commits batch in one transaction. If that fails, each op is tried alone,
 * so that one bad op (a full map, say) fails only its own caller. One
 * flush of the root page serves every durable op in it.
 */
static void batch_commit(struct cache *c, struct cache_op *batch)
{
	bool durable = false;
	size_t n = 0;
	int rc;

	for (struct cache_op *op = batch; op; op = op->next)
		n++;
	rc = ops_commit(c, batch, n);
	for (struct cache_op *op = batch; op; op = op->next) {
		op->rc = rc == 0 || n == 1 ? rc : ops_commit(c, op, 1);
		durable |= op->durable && op->rc == 0;
	}
	if (!durable)
		return;
	rc = cache_mdb_to_errno(mdb_env_sync(c->env, 1));
	for (struct cache_op *op = batch; op; op = op->next)
		if (op->durable && op->rc == 0)
			op->rc = rc;
}

/*
 * Queues the ops first .. last (linked by next), and commits them with
 * whatever else is queued; they land in one batch, so last->done means
 * all are. Each op's rc is its own.
 */
static void ops_write(struct cache *c, struct cache_op *first,
		      struct cache_op *last)
{
	struct cache_op *batch;

	pthread_mutex_lock(&c->batch_lock);
	*c->pending_tail = first;
	c->pending_tail = &last->next;
	while (!last->done) {
		if (c->committing) {
			pthread_cond_wait(&c->batch_done, &c->batch_lock);
			continue;
		}
		c->committing = true;
		/* Deferred deletes ride along: no flush of their own. */
		*c->deferred_tail = c->pending;
		batch = c->deferred;
		c->deferred = c->pending = NULL;
		c->deferred_tail = &c->deferred;
		c->pending_tail = &c->pending;
		pthread_mutex_unlock(&c->batch_lock);
		batch_commit(c, batch);
		pthread_mutex_lock(&c->batch_lock);
		batch_finish(batch);
		c->committing = false;
		pthread_cond_broadcast(&c->batch_done);
	}
	pthread_mutex_unlock(&c->batch_lock);
}

/* Queues op, and commits it with whatever else is queued; op->rc. */
static int op_write(struct cache *c, struct cache_op *op)
{
	ops_write(c, op, op);
	return op->rc;
}

/* op, ready to queue: a put of data under key, or why it cannot be. */
static int put_prepare(struct cache *c, struct cache_op *op,
		       enum cache_table t, const char *key, const void *data,
		       size_t len, int64_t fetched_ms, bool durable)
{
	int rc;

	*op = (struct cache_op){ .t = t, .data = data, .len = len,
				 .fetched_ms = fetched_ms, .is_put = true,
				 .durable = durable };
	rc = key_prepare(c, t, key, &op->key);
	if (rc == 0 && ((!data && len) || len > SIZE_MAX - CACHE_HEADER_LEN))
		rc = -EINVAL;
	return rc;
}

static int put(struct cache *c, enum cache_table t, const char *key,
	       const void *data, size_t len, int64_t fetched_ms, bool durable)
{
	struct cache_op op;
	int rc = put_prepare(c, &op, t, key, data, len, fetched_ms, durable);

	return rc < 0 ? rc : op_write(c, &op);
}

int cache_put(struct cache *c, enum cache_table t, const char *key,
	      const void *data, size_t len, int64_t fetched_ms)
{
	return put(c, t, key, data, len, fetched_ms, false);
}

int cache_put_durable(struct cache *c, enum cache_table t, const char *key,
		      const void *data, size_t len, int64_t fetched_ms)
{
	return put(c, t, key, data, len, fetched_ms, true);
}

int cache_put_many(struct cache *c, enum cache_table t,
		   const struct cache_item *items, size_t n, int64_t fetched_ms)
{
	struct cache_op *ops = NULL;
	size_t queued = 0;
	int rc = 0;

	if (n == 0)
		return 0;
	ops = calloc(n, sizeof(*ops));
	if (ops == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct cache_op *op = &ops[queued];
		int prc = put_prepare(c, op, t, items[i].key, items[i].data,
				      items[i].len, fetched_ms, false);

		if (prc < 0) {
			rc = rc ? rc : prc;
			continue;
		}
		if (queued > 0)
			ops[queued - 1].next = op;
		queued++;
	}
	if (queued > 0)
		ops_write(c, &ops[0], &ops[queued - 1]);
	for (size_t i = 0; i < queued; i++)
		rc = rc ? rc : ops[i].rc;
	free(ops);
	return rc;
}

int cache_del(struct cache *c, enum cache_table t, const char *key)
{
	struct cache_op op = { .t = t };
	int rc = key_prepare(c, t, key, &op.key);

	return rc < 0 ? rc : op_write(c, &op);
}

int cache_del_later(struct cache *c, enum cache_table t, const char *key)
{
	struct cache_op *op;
	MDB_val k;
	int rc = key_prepare(c, t, key, &k);

	if (rc < 0)
		return rc;
	op = calloc(1, sizeof(*op) + k.mv_size);
	if (op == NULL)
		return -ENOMEM;
	op->t = t;
	op->deferred = true;
	op->key.mv_size = k.mv_size;
	op->key.mv_data = op + 1;
	memcpy(op + 1, k.mv_data, k.mv_size);
	pthread_mutex_lock(&c->batch_lock);
	*c->deferred_tail = op;
	c->deferred_tail = &op->next;
	pthread_mutex_unlock(&c->batch_lock);
	return 0;
}

void cache_entry_release(struct cache_entry *e)
{
	if (!e)
		return;
	free(e->data);
	*e = (struct cache_entry){ 0 };
}

void cache_stats_get(struct cache *c, struct cache_stats *out)
{
	MDB_txn *txn = NULL;
	MDB_envinfo info;
	MDB_stat st;

	if (!out)
		goto out;
	*out = (struct cache_stats){ 0 };
	if (!c)
		goto out;
	out->hits = atomic_load_explicit(&c->hits, memory_order_relaxed);
	out->misses = atomic_load_explicit(&c->misses, memory_order_relaxed);
	out->writes = atomic_load_explicit(&c->writes, memory_order_relaxed);
	out->commits = atomic_load_explicit(&c->commits, memory_order_relaxed);
	/* Stats are best effort: a field LMDB cannot fill stays 0. */
	if (mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn) == 0 &&
	    mdb_stat(txn, c->dbi[UPFS_CACHE_RESOURCES], &st) == 0)
		out->entries = st.ms_entries;
	if (mdb_env_info(c->env, &info) == 0 && mdb_env_stat(c->env, &st) == 0)
		out->map_used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
out:
	if (txn)
		mdb_txn_abort(txn);
}

int64_t cache_now_ms(void)
{
	struct timespec ts = { 0 };

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cache_keys_free(char **keys, size_t n)
{
	for (size_t i = 0; keys && i < n; i++)
		free(keys[i]);
	free(keys);
}

/* Appends a copy of the key k to *keys, growing it by doubling. */
static int keys_push(char ***keys, size_t *n, size_t *alloc, const MDB_val *k)
{
	char *copy;

	if (*n == *alloc) {
		size_t grow = *alloc ? *alloc * 2 : 16;
		char **v = realloc(*keys, grow * sizeof(*v));

		if (!v)
			return -ENOMEM;
		*keys = v;
		*alloc = grow;
	}
	copy = malloc(k->mv_size + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, k->mv_data, k->mv_size);
	copy[k->mv_size] = '\0';
	(*keys)[(*n)++] = copy;
	return 0;
}

int cache_keys(struct cache *c, enum cache_table t, char ***keys, size_t *n)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	size_t alloc = 0;
	int rc;

	*keys = NULL;
	*n = 0;
	if (!c || (unsigned)t >= UPFS_CACHE_TABLES)
		return -EINVAL;
	rc = cache_mdb_to_errno(mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn));
	if (rc < 0)
		goto out;
	rc = cache_mdb_to_errno(mdb_cursor_open(txn, c->dbi[t], &cur));
	if (rc < 0)
		goto out;
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0;
	     op = MDB_NEXT) {
		rc = keys_push(keys, n, &alloc, &k);
		if (rc < 0)
			goto out;
	}
	rc = rc == MDB_NOTFOUND ? 0 : cache_mdb_to_errno(rc);
out:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	if (rc < 0) {
		cache_keys_free(*keys, *n);
		*keys = NULL;
		*n = 0;
	}
	return rc;
}
