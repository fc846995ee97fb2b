/*
 * spool.h — documents dropped into a queue/ folder, from the first write
 * until the service has started their job.
 *
 * Each submission has a spool file under cache_dir/spool/ and, once its
 * writer closed it, a record in LMDB (UPFS_CACHE_OUTBOX) that says how far
 * it got: the record is written before each step that talks to the
 * service, so a restart (or kill -9) resumes where it stopped and an
 * ambiguous step is reconciled rather than repeated. Until close() has
 * promised anything, records go to the spool's unflushed log
 * (unflushed.h), then to the cache's outbox.
 *
 * Submissions live in one table in struct upfs, guarded by spool_lock.
 * A submission's fields change under spool_lock, but for those marked
 * "runner": only the thread that set `busy` touches them, and it is the
 * only one that talks to the service for it.
 */
#ifndef UPFS_SPOOL_H
#define UPFS_SPOOL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs.h"

enum sub_state {
	SUB_WRITING,	/* open for writing, not handed over yet */
	SUB_LOCAL,	/* a dot name (rsync, editors): local until renamed */
	SUB_SPOOLED,	/* handed over (closed); nothing sent */
	SUB_CREATING,	/* job create sent; its reply may have been lost */
	SUB_CREATED,	/* job and document exist, no upload session */
	SUB_UPLOADING,	/* upload session open */
	SUB_UPLOADED,	/* every byte at the service */
	SUB_STARTING,	/* start sent; its reply may have been lost */
	SUB_DONE,	/* started: the job is the service's now */
};

struct submission {
	char id[40];		/* local id, also the spool file's name */
	char *share_id;
	char *name;		/* its name in queue/ */
	enum sub_state state;
	uint64_t size;		/* of the document: the first bytes of its
				   spool file, which may go on (reused) */
	uint64_t uploaded;
	char *content_type;	/* NULL until sniffed */
	char *job_id;
	char *doc_id;
	char *upload_url;
	json_t *job;		/* the job as the service last described it
				   to this run (memory only), or NULL */
	char *options;		/* its own job options (queue_options.h), or
				   NULL */
	int attempts;
	int64_t created_ms;
	/* When its last job create was sent and when that call ended
	   (this machine's clock; 0: unknown), and how far the service's
	   clock was ahead then: the jobs that create may have made were
	   made in between (submit.c create_window). */
	int64_t create_sent_ms;
	int64_t create_ended_ms;
	int64_t create_offset_s;
	bool create_offset_known;
	int64_t next_try_ms;
	int last_errno;		/* of the last failed attempt, 0 if none */
	char last_error[256];
	int fd;			/* the spool file while open, else -1 */
	bool dirty;		/* written since it was last handed over */
	int write_error;	/* a write failed (EFBIG, ENOSPC): never send
				   what is left of it */
	bool busy;		/* a thread is working on it */
	/* Open handles writing it whose opener has not closed them
	   (queue_writer_opened); spool_lock. */
	unsigned writers;
	/* Its last record could not be written: the state is recorded
	   again before another step (submit.c set_state). spool_lock. */
	bool record_behind;
	bool removed;		/* its record deleted (spool_remove) */
	/* A queue/ listing hid a job of the service's listing as this
	   (spool_queue_view); spool_lock. */
	bool hid_listed;
	bool on_disk;		/* a record of it was committed (spool_lock) */
	/* Where its records are: the cache's outbox, flushed, and the
	   spool's unflushed log (both for a moment while the record moves
	   to the outbox). persist_lock. */
	bool in_outbox;
	bool in_unflushed;
	/* close() may have returned 0 for it (spool_promise), or an earlier
	   run's outbox record was read: its records go to the outbox from
	   now on. Runner. */
	bool promised;
	/* Its spool file's bytes are on disk (fsync'd). Until then its
	   records name the boot whose page cache holds them; a started job
	   never needs them flushed at all. Runner. */
	bool bytes_flushed;
	/* Its record was left unflushed by an earlier boot: the file may
	   not hold the document (a system crash before its close()
	   returned). Never sent; its job is cancelled. Kept in its record
	   from then on. Runner. */
	bool bytes_lost;
	/* A durable record of it was committed that recovers it without
	   this boot's page cache (its bytes flushed, or not needed any
	   more): what close() may promise on. Runner. */
	bool record_kept;
	/* A write-back of its spool file failed before its start, or the
	   file could not be read back whole for the upload: what was
	   uploaded may be what the disk held, not the document. Never
	   started; its job is cancelled. Runner. */
	bool bytes_unsure;
	/* A start may have reached the service without its reply coming
	   back: set before each start goes (a crash after the send), kept
	   when the attempt is left unsettled, cleared again when it
	   provably reached nothing and none before it might have. In the
	   STARTING record. A start refused after one that may have
	   reached the service was the second. Runner. */
	bool start_maybe_sent;
	/* An fsync of its file through the mount failed: that reported the
	   write-back's error, which the file will not report again (0 or
	   -errno; spool_lock). */
	int wb_error;
	/* Held from taking its record to the record's commit, so its
	   records reach the outbox in the order they were taken while
	   spool_lock is free during the commit (lock order: persist_lock,
	   then spool_lock). One per submission: commits of different
	   submissions go to disk together (cache.h). */
	pthread_mutex_t persist_lock;
	/* Held by each read, write and truncate of the spool file and by
	   spool_remove: once removed, the file may become another document's
	   (spool_create reuses it), so nothing may touch it through this
	   submission after that. Also orders a write that must first zero
	   the stale bytes it skips (queue.c). Lock order: io_lock, then
	   spool_lock. */
	pthread_mutex_t io_lock;
	unsigned refs;		/* the table's and each user's */
	struct submission *next;
};

/* Past this a document is refused with EFBIG (the service's job limit). */
#define UPFS_MAX_DOCUMENT ((uint64_t)1 << 30)

/* Loads the records an earlier run left (the outbox, and the unflushed
   log if this boot's). 0 or a negative errno. */
int spool_init(struct upfs *u);
void spool_release(struct upfs *u);

/* A new submission for a file created in the share's queue/. */
int spool_create(struct upfs *u, const char *share_id, const char *name,
		 struct submission **out);

/* The submission of share_id called name (a new reference), or NULL. */
struct submission *spool_find(struct upfs *u, const char *share_id,
			      const char *name);
/* The submission with this local id (a new reference), or NULL. */
struct submission *spool_get(struct upfs *u, const char *id);
void spool_put(struct upfs *u, struct submission *s);

/* Opens the spool file if it is closed. Under no lock. */
int spool_open_file(struct upfs *u, struct submission *s);

/*
 * Whether a write-back of s's spool file failed, so that an upload of
 * its bytes not yet flushed may have read what the disk held: *failed,
 * and -errno (EIO, ENOSPC). Starts no write-back of its own. 0 also when
 * the file is gone (a record past UPLOADED keeps none); another -errno
 * when the file cannot be opened, with *failed false.
 */
int spool_check_written(struct upfs *u, struct submission *s, bool *failed);

/*
 * Writes the record of s: taken under spool_lock, committed after it is
 * released. Call with neither spool_lock nor s->persist_lock held. Only by
 * the thread running s.
 *
 * Until spool_promise, the record goes to the spool's unflushed log:
 * the next mount of this boot finds it (kill -9 leaves the page cache),
 * and after a system crash it is gone with the bytes it would send. Once
 * promised, to the cache's outbox, where durable means on disk when this
 * returns (cache_put_durable), and so are the spool file's bytes if the
 * record's recovery reads them (flushed first); otherwise a system crash
 * may undo it, leaving the state before.
 */
int spool_persist(struct upfs *u, struct submission *s, bool durable);
/*
 * What close() returning 0 for a waiting document rests on: its record,
 * durable in the outbox, with its bytes flushed if the record needs them.
 */
int spool_promise(struct upfs *u, struct submission *s);

/* Its spool file's bytes, and the file's name in the spool folder, on
   disk (fsync); bytes_flushed then. 0 or -errno. */
int spool_flush(struct upfs *u, struct submission *s);

/*
 * Forgets s: its outbox record, its spool file, its place in the table.
 * A big spool file is kept for the next document to write over (below).
 */
void spool_remove(struct upfs *u, struct submission *s);

/* Whether share_id's job belongs to a pending submission (reconciliation). */
bool spool_owns_job(struct upfs *u, const char *share_id, const char *job_id);

/*
 * What the spool adds to share_id's queue/, read in one hold of
 * spool_lock so the three agree: drops from jobs[0..*n) those a pending
 * submission owns (it shows as that), keeping the others' order (the
 * caller pairs them with its rows in one walk), adds the share's pending
 * documents to out, and sets *sig to the digest of the spool it read and
 * *unhides to its count of jobs that may show again (spool_may_add_name).
 */
int spool_queue_view(struct upfs *u, const char *share_id, json_t **jobs,
		     size_t *n, struct fs_entries *out, uint64_t *sig,
		     uint32_t *unhides);
/*
 * Whether a name absent from a queue/ listing made when the count of
 * jobs that may show again was `unhides`, from a listing of jobs that
 * has not changed since, may be in share_id's queue/ now: a pending
 * document of that name, or a job the spool hid then that it no longer
 * hides. False means the name is still absent.
 */
bool spool_may_add_name(struct upfs *u, const char *share_id,
			const char *name, uint32_t unhides);
/* Sets s's job id; a job a listing hid as s may show again. */
int spool_set_job_id(struct upfs *u, struct submission *s, const char *id);
/*
 * The digest spool_queue_view would set now: equal digests, equal views
 * (but for a 64-bit collision).
 */
uint64_t spool_signature(struct upfs *u, const char *share_id);

const char *spool_state_name(enum sub_state state);

/* Whether s is still being written (not handed over to the service). */
bool spool_is_writable(const struct submission *s);

#endif
