/*
 * cache.h — the LMDB store of upfs.
 *
 * One LMDB environment under cache_dir holds every Graph resource upfs has
 * fetched (single objects and whole listings, keyed by their Graph path)
 * with the time each was fetched, and later the spool/outbox state. A
 * remount opens the same environment and starts warm.
 *
 * The store knows nothing of TTLs' meaning: it records fetch times and
 * answers "how old is this"; the caller decides what is fresh.
 *
 * Values returned by cache_get() are copied out of LMDB (an MDB_val dies
 * with its transaction), so they stay valid until cache_entry_release();
 * cache_read() lends one to a callback inside its transaction instead.
 * No transaction is ever held across a call into this module.
 *
 * All functions are thread-safe and return 0 or a negative errno.
 */
#ifndef UPFS_CACHE_H
#define UPFS_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct cache;

enum cache_table {
	UPFS_CACHE_RESOURCES,	/* Graph path -> JSON text */
	UPFS_CACHE_OUTBOX,	/* submission id -> record (printing) */
	UPFS_CACHE_LOCAL,	/* what exists only on this mount: share
				   job options, keyed by share id */
	UPFS_CACHE_TABLES
};

struct cache_entry {
	char *data;		/* owned, NUL-terminated */
	size_t len;		/* not counting the NUL */
	int64_t fetched_ms;	/* wall clock (ms since the epoch) of the fetch */
};

struct cache_stats {
	uint64_t hits;		/* cache_get found the key */
	uint64_t misses;	/* cache_get did not */
	uint64_t writes;
	uint64_t commits;	/* write transactions: each a flush */
	uint64_t entries;	/* keys in UPFS_CACHE_RESOURCES */
	uint64_t map_used;	/* bytes of the map in use */
};

/*
 * Opens (creating the directory, mode 0700, if needed) the environment in
 * dir. map_size 0 picks 1 GiB. -EACCES, -ENOSPC, -EIO etc. on failure.
 */
int cache_open(struct cache **out, const char *dir, size_t map_size);
void cache_close(struct cache *c);

/* -ENOENT when the key is absent. */
int cache_get(struct cache *c, enum cache_table t, const char *key,
	      struct cache_entry *out);
/*
 * Hands key's value to read as LMDB holds it, inside a read transaction,
 * without copying it: data (not NUL-terminated) lives only during the
 * call, and read must not call into this module. Returns what read
 * returns, or -ENOENT when the key is absent. For a value parsed once
 * and not kept as text, such as a big listing's JSON.
 */
typedef int (*cache_reader)(const char *data, size_t len, int64_t fetched_ms,
			    void *arg);
int cache_read(struct cache *c, enum cache_table t, const char *key,
	       cache_reader read, void *arg);
int cache_put(struct cache *c, enum cache_table t, const char *key,
	      const void *data, size_t len, int64_t fetched_ms);
/* One value of cache_put_many. */
struct cache_item {
	const char *key;
	const void *data;
	size_t len;
};

/*
 * cache_put of n items in one transaction (one flush, not n): what a
 * listing brings for many keys at once. The first error, if any; items
 * before and after it are still written.
 */
int cache_put_many(struct cache *c, enum cache_table t,
		   const struct cache_item *items, size_t n, int64_t fetched_ms);
/* 0 also when the key was absent. */
int cache_del(struct cache *c, enum cache_table t, const char *key);
/*
 * Deletes key with the next commit of any write, or at cache_close(),
 * without a flush of its own: until then gets still find it, and a crash
 * may keep it. For records whose leftover is recovered anyway. It goes
 * before the writes waiting when it is made: a put of the same key
 * still waiting then would survive it (the outbox never does that).
 */
int cache_del_later(struct cache *c, enum cache_table t, const char *key);

/*
 * A commit reaches the disk whole except its root (meta) page, which the
 * next commit's flush carries: a system crash may undo the last commit,
 * never corrupt the store. cache_put_durable also flushes the root page
 * before it returns (once for all the puts committed with it), for the
 * few records whose loss would repeat or skip a request to the service.
 */
int cache_put_durable(struct cache *c, enum cache_table t, const char *key,
		      const void *data, size_t len, int64_t fetched_ms);

void cache_entry_release(struct cache_entry *e);

/*
 * Every key of a table, copied out: *keys is a malloc'd array of *n
 * malloc'd strings; free them with cache_keys_free(). Used at start-up to
 * find outbox records, so it reads the whole table in one transaction.
 */
int cache_keys(struct cache *c, enum cache_table t, char ***keys, size_t *n);
void cache_keys_free(char **keys, size_t n);

void cache_stats_get(struct cache *c, struct cache_stats *out);

/* The errno for an LMDB return code (MDB_MAP_FULL -> ENOSPC, ...). */
int cache_mdb_to_errno(int rc);

/* Wall-clock milliseconds since the epoch. */
int64_t cache_now_ms(void);

#endif
