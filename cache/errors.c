/*
 * errors.c — LMDB return codes to errno.
 *
 * LMDB returns 0, one of its own negative MDB_* codes, or a positive system
 * errno (EACCES, ENOMEM, ENOSPC from the filesystem, ...). Everything in
 * upfs speaks 0-or-negative-errno, so this is the one place that
 * translates; the result is already negative, ready to return.
 */
#include "cache.h"

#include <errno.h>
#include <lmdb.h>

int cache_mdb_to_errno(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_KEYEXIST:
		return -EEXIST;

	/*
	 * Fixed capacities. Retrying the same operation hits the same
	 * limit, so these say "no room", not "try again":
	 * MAP_FULL: the map (the store's size limit) is full.
	 * DBS_FULL: more named databases than mdb_env_set_maxdbs() allows.
	 * TXN_FULL: one transaction dirtied more pages than LMDB tracks.
	 * CURSOR_FULL, PAGE_FULL: LMDB calls these internal errors; a
	 *   B-tree too deep or a page too small cannot grow either.
	 * TLS_FULL: out of thread-local keys (Windows only; we use NOTLS).
	 */
	case MDB_MAP_FULL:
	case MDB_DBS_FULL:
	case MDB_TXN_FULL:
	case MDB_CURSOR_FULL:
	case MDB_PAGE_FULL:
	case MDB_TLS_FULL:
		return -ENOSPC;

	/*
	 * Transient. READERS_FULL: every reader slot is taken; one frees
	 * as soon as another read transaction ends. MAP_RESIZED: another
	 * process grew the map past ours; the operation can succeed once
	 * the map is adopted (mdb_env_set_mapsize(env, 0) with no
	 * transaction active).
	 */
	case MDB_READERS_FULL:
	case MDB_MAP_RESIZED:
		return -EAGAIN;

	/*
	 * The files on disk are not what we can read: EIO, as for a bad
	 * disk block, so callers treat the cache as unavailable.
	 * CORRUPTED: a page of the wrong type. PAGE_NOTFOUND: a page
	 * reference past the end of the data (usually corruption).
	 * INVALID: not an LMDB file. VERSION_MISMATCH: written by an
	 * incompatible LMDB. PANIC: a meta page update failed or the
	 * environment hit a fatal error; it must be closed and reopened.
	 * INCOMPATIBLE: a database on disk has flags other than the ones
	 * this code always uses, so it was written by something else.
	 */
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_PANIC:
	case MDB_INCOMPATIBLE:
		return -EIO;

	/* Misuse of the API: a bad handle, slot, or key/value size. */
	case MDB_BAD_RSLOT:
	case MDB_BAD_TXN:
	case MDB_BAD_VALSIZE:
	case MDB_BAD_DBI:
		return -EINVAL;

	default:
		/* LMDB passes system errors through as positive errno. */
		if (rc > 0)
			return -rc;
		return -EIO;
	}
}
