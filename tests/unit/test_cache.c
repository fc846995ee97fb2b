/*
 * test_cache.c — unit tests for cache/ (store.c, errors.c).
 *
 * Standalone: exits 0 when every check passes; otherwise prints the first
 * failing check of each test and exits 1. Works in a mkdtemp directory that
 * it removes at the end, pass or fail.
 */
#include "cache.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CHECK(cond)                                                      \
	do {                                                             \
		if (!(cond)) {                                           \
			fprintf(stderr, "%s:%d: check failed: %s\n",     \
				__FILE__, __LINE__, #cond);              \
			goto out;                                        \
		}                                                        \
	} while (0)

static char tmp_root[] = "/tmp/upfs-test-cache-XXXXXX";

/* Builds tmp_root/name into buf; names here are short and fixed. */
static const char *tmp_path(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", tmp_root, name);

	if (n < 0 || (size_t)n >= size)
		abort();
	return buf;
}

static int test_errno_map(void)
{
	static const struct {
		int mdb;
		int want;
	} cases[] = {
		{ MDB_SUCCESS, 0 },
		{ MDB_NOTFOUND, -ENOENT },
		{ MDB_KEYEXIST, -EEXIST },
		{ MDB_MAP_FULL, -ENOSPC },
		{ MDB_DBS_FULL, -ENOSPC },
		{ MDB_TXN_FULL, -ENOSPC },
		{ MDB_CURSOR_FULL, -ENOSPC },
		{ MDB_PAGE_FULL, -ENOSPC },
		{ MDB_TLS_FULL, -ENOSPC },
		{ MDB_READERS_FULL, -EAGAIN },
		{ MDB_MAP_RESIZED, -EAGAIN },
		{ MDB_CORRUPTED, -EIO },
		{ MDB_PAGE_NOTFOUND, -EIO },
		{ MDB_INVALID, -EIO },
		{ MDB_VERSION_MISMATCH, -EIO },
		{ MDB_PANIC, -EIO },
		{ MDB_INCOMPATIBLE, -EIO },
		{ MDB_BAD_RSLOT, -EINVAL },
		{ MDB_BAD_TXN, -EINVAL },
		{ MDB_BAD_VALSIZE, -EINVAL },
		{ MDB_BAD_DBI, -EINVAL },
		{ EACCES, -EACCES },		/* system errno pass through */
		{ ENOMEM, -ENOMEM },
		{ ENOSPC, -ENOSPC },
		{ EIO, -EIO },
		{ -1, -EIO },			/* default */
		{ MDB_KEYEXIST - 1, -EIO },
		{ MDB_LAST_ERRCODE + 1, -EIO },
		{ INT_MIN, -EIO },
	};
	size_t i;
	int got;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = cache_mdb_to_errno(cases[i].mdb);
		if (got != cases[i].want) {
			fprintf(stderr, "cache_mdb_to_errno(%d) = %d, want %d\n",
				cases[i].mdb, got, cases[i].want);
			return 1;
		}
	}
	return 0;
}

static int entry_is(const struct cache_entry *e, const char *data,
		    size_t len, int64_t fetched_ms)
{
	return e->data && e->len == len && e->data[len] == '\0' &&
	       memcmp(e->data, data, len) == 0 && e->fetched_ms == fetched_ms;
}

static int test_basic(void)
{
	static const char bin[] = { 'a', '\0', 'b', '\xff' };
	struct cache *c = NULL;
	struct cache_entry e = { 0 };
	struct cache_stats st;
	struct stat sb;
	char dir[PATH_MAX], file[PATH_MAX];
	int rc = 1;

	/* mkdir -p: neither level exists yet. */
	tmp_path(dir, sizeof(dir), "a/b/basic");
	CHECK(cache_open(&c, dir, 0) == 0);
	CHECK(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode));
	CHECK((sb.st_mode & 077) == 0);
	tmp_path(file, sizeof(file), "a/b/basic/data.mdb");
	CHECK(stat(file, &sb) == 0 && (sb.st_mode & 077) == 0);

	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, "/print/printers",
			"{\"v\":1}", 7, 1700000000123) == 0);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "/print/printers", &e) == 0);
	CHECK(entry_is(&e, "{\"v\":1}", 7, 1700000000123));
	cache_entry_release(&e);
	CHECK(e.data == NULL && e.len == 0);

	/* Overwrite: new data (shorter) and new time. */
	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, "/print/printers", "[]", 2,
			-5) == 0);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "/print/printers", &e) == 0);
	CHECK(entry_is(&e, "[]", 2, -5));
	cache_entry_release(&e);

	/* Binary data with a NUL, extreme times, an empty value. */
	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, "bin", bin, sizeof(bin),
			INT64_MIN) == 0);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "bin", &e) == 0);
	CHECK(entry_is(&e, bin, sizeof(bin), INT64_MIN));
	cache_entry_release(&e);
	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, "empty", NULL, 0,
			INT64_MAX) == 0);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "empty", &e) == 0);
	CHECK(entry_is(&e, "", 0, INT64_MAX));
	cache_entry_release(&e);

	/* Missing key; the entry is left empty. */
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "/nope", &e) == -ENOENT);
	CHECK(e.data == NULL);

	/* Delete, then delete again. */
	CHECK(cache_del(c, UPFS_CACHE_RESOURCES, "empty") == 0);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "empty", &e) == -ENOENT);
	CHECK(cache_del(c, UPFS_CACHE_RESOURCES, "empty") == 0);

	/* The tables are separate. */
	CHECK(cache_put(c, UPFS_CACHE_OUTBOX, "bin", "job", 3, 7) == 0);
	CHECK(cache_get(c, UPFS_CACHE_OUTBOX, "bin", &e) == 0);
	CHECK(entry_is(&e, "job", 3, 7));
	cache_entry_release(&e);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "bin", &e) == 0);
	CHECK(entry_is(&e, bin, sizeof(bin), INT64_MIN));
	cache_entry_release(&e);
	CHECK(cache_get(c, UPFS_CACHE_OUTBOX, "/print/printers", &e) ==
	      -ENOENT);
	CHECK(cache_del(c, UPFS_CACHE_OUTBOX, "bin") == 0);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "bin", &e) == 0);
	cache_entry_release(&e);

	/* Bad arguments. */
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "", &e) == -EINVAL);
	CHECK(cache_get(c, UPFS_CACHE_TABLES, "x", &e) == -EINVAL);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "x", NULL) == -EINVAL);
	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, "x", NULL, 1, 0) == -EINVAL);
	CHECK(cache_del(c, UPFS_CACHE_RESOURCES, NULL) == -EINVAL);

	/*
	 * Hits: printers x2, bin x3, empty, outbox bin. Misses: /nope,
	 * deleted empty, outbox printers; bad arguments count as neither.
	 * Writes: 5 puts and the 2 dels that removed something.
	 */
	cache_stats_get(c, &st);
	CHECK(st.hits == 7);
	CHECK(st.misses == 3);
	CHECK(st.writes == 7);
	CHECK(st.entries == 2);		/* printers, bin; outbox not counted */
	CHECK(st.map_used > 0 && st.map_used % 4096 == 0);
	CHECK(cache_now_ms() > 1600000000000);
	rc = 0;
out:
	cache_entry_release(&e);
	cache_close(c);
	return rc;
}

/* What a cache_read reader saw, and what it answers. */
struct lent {
	char data[64];
	size_t len;
	int64_t fetched_ms;
	int calls;
	int answer;
};

static int note_lent(const char *data, size_t len, int64_t fetched_ms,
		     void *arg)
{
	struct lent *l = arg;

	l->calls++;
	l->len = len;
	l->fetched_ms = fetched_ms;
	memcpy(l->data, data, len < sizeof(l->data) ? len : sizeof(l->data));
	return l->answer;
}

/* cache_read lends the stored bytes and passes on its reader's answer. */
static int test_read(void)
{
	static const char bin[] = { '[', '\0', ']', '\xff' };
	struct cache *c = NULL;
	struct lent l = { 0 };
	char dir[PATH_MAX];
	int rc = 1;

	tmp_path(dir, sizeof(dir), "read");
	CHECK(cache_open(&c, dir, 0) == 0);
	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, "k", bin, sizeof(bin),
			1700000000456) == 0);
	CHECK(cache_read(c, UPFS_CACHE_RESOURCES, "k", note_lent, &l) == 0);
	CHECK(l.calls == 1 && l.len == sizeof(bin) &&
	      l.fetched_ms == 1700000000456 &&
	      memcmp(l.data, bin, sizeof(bin)) == 0);
	l.answer = -EPROTO;
	CHECK(cache_read(c, UPFS_CACHE_RESOURCES, "k", note_lent, &l) ==
	      -EPROTO);
	CHECK(l.calls == 2);
	/* Absent, in another table, or a bad table: the reader never runs. */
	CHECK(cache_read(c, UPFS_CACHE_RESOURCES, "nope", note_lent, &l) ==
	      -ENOENT);
	CHECK(cache_read(c, UPFS_CACHE_OUTBOX, "k", note_lent, &l) == -ENOENT);
	CHECK(cache_read(c, UPFS_CACHE_TABLES, "k", note_lent, &l) == -EINVAL);
	CHECK(l.calls == 2);
	/* A write after a read sees no transaction left open. */
	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, "k", "[]", 2, 1) == 0);
	l.answer = 0;
	CHECK(cache_read(c, UPFS_CACHE_RESOURCES, "k", note_lent, &l) == 0);
	CHECK(l.len == 2 && memcmp(l.data, "[]", 2) == 0 && l.fetched_ms == 1);
	rc = 0;
out:
	cache_close(c);
	return rc;
}

static int test_reopen(void)
{
	struct cache *c = NULL;
	struct cache_entry e = { 0 };
	struct cache_stats st;
	char dir[PATH_MAX];
	int rc = 1;

	tmp_path(dir, sizeof(dir), "reopen");
	CHECK(cache_open(&c, dir, 0) == 0);
	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, "k", "v1", 2, 11) == 0);
	CHECK(cache_put(c, UPFS_CACHE_OUTBOX, "job", "o", 1, 12) == 0);
	cache_close(c);
	c = NULL;

	CHECK(cache_open(&c, dir, 0) == 0);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "k", &e) == 0);
	CHECK(entry_is(&e, "v1", 2, 11));
	cache_entry_release(&e);
	CHECK(cache_get(c, UPFS_CACHE_OUTBOX, "job", &e) == 0);
	CHECK(entry_is(&e, "o", 1, 12));
	cache_entry_release(&e);
	cache_stats_get(c, &st);
	CHECK(st.entries == 1);
	CHECK(st.hits == 2 && st.writes == 0);	/* counters are per open */
	rc = 0;
out:
	cache_entry_release(&e);
	cache_close(c);
	return rc;
}

/* The stored value is the documented header + data, byte for byte. */
static int test_layout(void)
{
	static const unsigned char want[] = {
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 'h', 'i',
	};
	struct cache *c = NULL;
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = { 3, (void *)"key" }, v;
	char dir[PATH_MAX];
	int rc = 1;

	tmp_path(dir, sizeof(dir), "layout");
	CHECK(cache_open(&c, dir, 0) == 0);
	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, "key", "hi", 2,
			0x0102030405060708) == 0);
	cache_close(c);
	c = NULL;

	CHECK(mdb_env_create(&env) == 0);
	CHECK(mdb_env_set_maxdbs(env, 4) == 0);
	CHECK(mdb_env_open(env, dir, MDB_RDONLY, 0600) == 0);
	CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0);
	CHECK(mdb_dbi_open(txn, "resources", 0, &dbi) == 0);
	CHECK(mdb_get(txn, dbi, &k, &v) == 0);
	CHECK(v.mv_size == sizeof(want));
	CHECK(memcmp(v.mv_data, want, sizeof(want)) == 0);
	rc = 0;
out:
	if (txn)
		mdb_txn_abort(txn);
	if (env)
		mdb_env_close(env);
	cache_close(c);
	return rc;
}

static int test_keys(void)
{
	struct cache *c = NULL;
	struct cache_entry e = { 0 };
	char key[601];
	char dir[PATH_MAX];
	int rc = 1;

	tmp_path(dir, sizeof(dir), "keys");
	CHECK(cache_open(&c, dir, 0) == 0);

	memset(key, 'k', 511);
	key[511] = '\0';
	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, key, "x", 1, 1) == 0);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, key, &e) == 0);
	CHECK(entry_is(&e, "x", 1, 1));
	cache_entry_release(&e);
	CHECK(cache_del(c, UPFS_CACHE_RESOURCES, key) == 0);

	memset(key, 'k', 600);
	key[600] = '\0';
	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, key, "x", 1, 1) ==
	      -ENAMETOOLONG);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, key, &e) == -ENAMETOOLONG);
	CHECK(e.data == NULL);
	CHECK(cache_del(c, UPFS_CACHE_RESOURCES, key) == -ENAMETOOLONG);

	/* The store is still fine afterwards. */
	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, "after", "y", 1, 2) == 0);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "after", &e) == 0);
	cache_entry_release(&e);
	rc = 0;
out:
	cache_entry_release(&e);
	cache_close(c);
	return rc;
}

/* cache_keys lists one table's keys, in order, and only that table's. */
static int test_list_keys(void)
{
	struct cache *c = NULL;
	char **keys = NULL;
	char dir[PATH_MAX];
	size_t n = 0;
	int rc = 1;

	tmp_path(dir, sizeof(dir), "list");
	CHECK(cache_open(&c, dir, 0) == 0);
	CHECK(cache_keys(c, UPFS_CACHE_OUTBOX, &keys, &n) == 0 && n == 0);
	cache_keys_free(keys, n);
	keys = NULL;
	CHECK(cache_put(c, UPFS_CACHE_OUTBOX, "b", "2", 1, 1) == 0);
	CHECK(cache_put(c, UPFS_CACHE_OUTBOX, "a", "1", 1, 1) == 0);
	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, "other", "3", 1, 1) == 0);
	CHECK(cache_keys(c, UPFS_CACHE_OUTBOX, &keys, &n) == 0);
	CHECK(n == 2 && strcmp(keys[0], "a") == 0 && strcmp(keys[1], "b") == 0);
	rc = 0;
out:
	cache_keys_free(keys, n);
	cache_close(c);
	return rc;
}

/* A full map is -ENOSPC, and the store keeps working. */
static int test_map_full(void)
{
	struct cache *c = NULL;
	struct cache_entry e = { 0 };
	size_t big = 1 << 20;
	char *data = NULL;
	char dir[PATH_MAX];
	int rc = 1;

	data = calloc(1, big);
	CHECK(data);
	tmp_path(dir, sizeof(dir), "full");
	CHECK(cache_open(&c, dir, 256 * 1024) == 0);
	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, "big", data, big, 1) ==
	      -ENOSPC);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "big", &e) == -ENOENT);
	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, "small", "s", 1, 1) == 0);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "small", &e) == 0);
	rc = 0;
out:
	cache_entry_release(&e);
	cache_close(c);
	free(data);
	return rc;
}

/* Runs fn on each of the n args (size bytes apart) in its own thread, and
   waits for them all; how many started. */
static int run_threads(void *(*fn)(void *), void *args, size_t size, int n)
{
	pthread_t th[8];
	int started = 0;

	while (started < n && started < 8 &&
	       pthread_create(&th[started], NULL, fn,
			      (char *)args + (size_t)started * size) == 0)
		started++;
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return started;
}

struct worker {
	struct cache *c;
	int id;
	int failed;
};

/* Threads share one cache, as FUSE workers will. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct cache_entry e = { 0 };
	char key[32];
	int i;

	for (i = 0; i < 200 && !w->failed; i++) {
		snprintf(key, sizeof(key), "t%d/%d", w->id, i % 10);
		if (cache_put(w->c, UPFS_CACHE_RESOURCES, key, key,
			      strlen(key), i) < 0 ||
		    cache_get(w->c, UPFS_CACHE_RESOURCES, key, &e) < 0 ||
		    !entry_is(&e, key, strlen(key), i))
			w->failed = 1;
		cache_entry_release(&e);
	}
	return NULL;
}

static int test_threads(void)
{
	struct cache *c = NULL;
	struct worker w[4];
	struct cache_stats st;
	char dir[PATH_MAX];
	int i, rc = 1;

	tmp_path(dir, sizeof(dir), "threads");
	CHECK(cache_open(&c, dir, 0) == 0);
	for (i = 0; i < 4; i++)
		w[i] = (struct worker){ .c = c, .id = i };
	CHECK(run_threads(worker_run, w, sizeof(w[0]), 4) == 4);
	for (i = 0; i < 4; i++)
		CHECK(!w[i].failed);
	cache_stats_get(c, &st);
	CHECK(st.hits == 800 && st.writes == 800 && st.entries == 40);
	rc = 0;
out:
	cache_close(c);
	return rc;
}

struct mixed {
	struct cache *c;
	int id;
	const char *big;	/* NULL: small puts, durable puts and deletes */
	size_t big_len;
	int wrong;		/* calls whose result was not the expected one */
};

static void *mixed_run(void *arg)
{
	struct mixed *m = arg;
	struct cache_entry e = { 0 };
	char key[32];

	for (int i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "m%d/%d", m->id, i % 7);
		if (m->big) {
			m->wrong += cache_put(m->c, UPFS_CACHE_RESOURCES, "big",
					      m->big, m->big_len, i) != -ENOSPC;
			continue;
		}
		m->wrong += (i % 3 ? cache_put : cache_put_durable)(
				    m->c, UPFS_CACHE_OUTBOX, key, key,
				    strlen(key), i) != 0;
		m->wrong += cache_get(m->c, UPFS_CACHE_OUTBOX, key, &e) != 0 ||
			    !entry_is(&e, key, strlen(key), i);
		cache_entry_release(&e);
		if (i % 5 == 0)
			m->wrong += cache_del(m->c, UPFS_CACHE_OUTBOX, key) != 0;
	}
	return NULL;
}

/*
 * Writes that arrive together are committed together (store.c): a put
 * that cannot fit fails alone, and every other put, durable put and
 * delete of its batch still lands, in each caller's order.
 */
static int test_group_commit(void)
{
	struct cache *c = NULL;
	struct mixed m[4];
	char dir[PATH_MAX];
	char *big = calloc(1, 1 << 20);
	int i, rc = 1;

	CHECK(big);
	tmp_path(dir, sizeof(dir), "group");
	CHECK(cache_open(&c, dir, 256 * 1024) == 0);
	for (i = 0; i < 4; i++)
		m[i] = (struct mixed){ .c = c, .id = i,
				       .big = i == 0 ? big : NULL,
				       .big_len = 1 << 20 };
	CHECK(run_threads(mixed_run, m, sizeof(m[0]), 4) == 4);
	for (i = 0; i < 4; i++)
		CHECK(m[i].wrong == 0);
	rc = 0;
out:
	cache_close(c);
	free(big);
	return rc;
}

/*
 * cache_del_later: no commit of its own; the next write's commit takes
 * it, and cache_close() commits what is left.
 */
static int test_del_later(void)
{
	struct cache *c = NULL;
	struct cache_entry e = { 0 };
	struct cache_stats st;
	char dir[PATH_MAX];
	int rc = 1;

	tmp_path(dir, sizeof(dir), "later");
	CHECK(cache_open(&c, dir, 0) == 0);
	CHECK(cache_put(c, UPFS_CACHE_OUTBOX, "a", "1", 1, 1) == 0);
	CHECK(cache_put(c, UPFS_CACHE_OUTBOX, "b", "2", 1, 2) == 0);
	CHECK(cache_put(c, UPFS_CACHE_OUTBOX, "c", "3", 1, 3) == 0);
	CHECK(cache_del_later(c, UPFS_CACHE_OUTBOX, "a") == 0);
	CHECK(cache_del_later(c, UPFS_CACHE_OUTBOX, "") == -EINVAL);
	CHECK(cache_get(c, UPFS_CACHE_OUTBOX, "a", &e) == 0);	/* not yet */
	cache_entry_release(&e);
	cache_stats_get(c, &st);
	CHECK(st.writes == 3);

	CHECK(cache_put(c, UPFS_CACHE_RESOURCES, "d", "4", 1, 4) == 0);
	CHECK(cache_get(c, UPFS_CACHE_OUTBOX, "a", &e) == -ENOENT);
	cache_stats_get(c, &st);
	CHECK(st.writes == 5);	/* d, and a's delete with it */

	/* A put made after the deferred delete of its key survives it. */
	CHECK(cache_del_later(c, UPFS_CACHE_OUTBOX, "c") == 0);
	CHECK(cache_put(c, UPFS_CACHE_OUTBOX, "c", "5", 1, 5) == 0);
	CHECK(cache_get(c, UPFS_CACHE_OUTBOX, "c", &e) == 0);
	CHECK(entry_is(&e, "5", 1, 5));
	cache_entry_release(&e);

	CHECK(cache_del_later(c, UPFS_CACHE_OUTBOX, "b") == 0);
	CHECK(cache_del_later(c, UPFS_CACHE_OUTBOX, "absent") == 0);
	cache_close(c);
	c = NULL;
	CHECK(cache_open(&c, dir, 0) == 0);
	CHECK(cache_get(c, UPFS_CACHE_OUTBOX, "b", &e) == -ENOENT);
	CHECK(cache_get(c, UPFS_CACHE_OUTBOX, "c", &e) == 0);
	CHECK(entry_is(&e, "5", 1, 5));
	rc = 0;
out:
	cache_entry_release(&e);
	cache_close(c);
	return rc;
}

/* Many puts, one transaction; a bad item fails alone. */
static int test_put_many(void)
{
	static const struct cache_item items[] = {
		{ "/a", "1", 1 }, { "", "x", 1 }, { "/b", "22", 2 },
		{ "/c", NULL, 0 },
	};
	struct cache *c = NULL;
	struct cache_entry e = { 0 };
	struct cache_stats st;
	char dir[PATH_MAX];
	int rc = 1;

	tmp_path(dir, sizeof(dir), "many");
	CHECK(cache_open(&c, dir, 0) == 0);
	CHECK(cache_put_many(c, UPFS_CACHE_RESOURCES, items, 0, 7) == 0);
	CHECK(cache_put_many(c, UPFS_CACHE_RESOURCES, items, 4, 7) == -EINVAL);
	cache_stats_get(c, &st);
	CHECK(st.writes == 3 && st.commits == 1);	/* one transaction */
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "/a", &e) == 0);
	CHECK(entry_is(&e, "1", 1, 7));
	cache_entry_release(&e);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "/b", &e) == 0);
	CHECK(entry_is(&e, "22", 2, 7));
	cache_entry_release(&e);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "/c", &e) == 0);
	CHECK(e.len == 0 && e.fetched_ms == 7);
	cache_entry_release(&e);
	CHECK(cache_put_many(c, UPFS_CACHE_RESOURCES, items + 2, 1, 8) == 0);
	CHECK(cache_get(c, UPFS_CACHE_RESOURCES, "/b", &e) == 0);
	CHECK(entry_is(&e, "22", 2, 8));
	rc = 0;
out:
	cache_entry_release(&e);
	cache_close(c);
	return rc;
}

static int remove_one(const char *path, const struct stat *sb, int type,
		      struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	static const struct {
		const char *name;
		int (*fn)(void);
	} tests[] = {
		{ "errno_map", test_errno_map },
		{ "basic", test_basic },
		{ "read", test_read },
		{ "reopen", test_reopen },
		{ "layout", test_layout },
		{ "keys", test_keys },
		{ "list_keys", test_list_keys },
		{ "map_full", test_map_full },
		{ "threads", test_threads },
		{ "group_commit", test_group_commit },
		{ "del_later", test_del_later },
		{ "put_many", test_put_many },
	};
	size_t i;
	int failed = 0;

	if (!mkdtemp(tmp_root)) {
		perror("test_cache: mkdtemp");
		return 1;
	}
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (tests[i].fn() != 0) {
			fprintf(stderr, "test_cache: %s: FAIL\n", tests[i].name);
			failed = 1;
		}
	}
	if (nftw(tmp_root, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0) {
		perror("test_cache: removing the temporary directory");
		failed = 1;
	}
	if (!failed)
		printf("test_cache: all tests passed\n");
	return failed;
}
