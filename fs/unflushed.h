/*
 * unflushed.h — the records of documents nothing was promised on yet.
 *
 * A submission's record is written before each request it sends, and
 * until its close() returns it need only outlive upfs, not the machine:
 * kill -9 leaves the page cache, where its spool file's bytes are too,
 * and a crash of the machine loses those bytes anyway. A flush per record
 * was most of a small document's time in close(), so these records are
 * kept in a log that is never flushed (spool/.unflushed/log), one line
 * per change. After a crash of the machine the log may hold anything, so
 * it is read only in the boot that wrote it (the file `boot` beside it)
 * and dropped unread after any other.
 *
 * Thread-safe; every function returns 0 or a negative errno.
 */
#ifndef UPFS_UNFLUSHED_H
#define UPFS_UNFLUSHED_H

#include <stdbool.h>
#include <stddef.h>

struct unflushed;

/* A record the log holds: a submission's id and its record's text. */
struct unflushed_record {
	char *id;
	char *text;
};

/* What unflushed_open found besides the records, for the mount's log. */
struct unflushed_found {
	bool other_boot;	/* another boot's log: dropped unread */
	size_t bad_lines;	/* lines that could not be read: the whole
				   log dropped (any line may be lost) */
	bool torn_tail;		/* a last line a kill cut short: dropped */
};

/*
 * Opens the log in dir (made, mode 0700, if missing) for boot_id. The
 * records it holds, if this boot wrote it, are copied to *recs (*n of
 * them; free with unflushed_records_free), else it starts empty.
 * -ENOTDIR when dir is not a folder; other errors are the log's.
 */
int unflushed_open(struct unflushed **out, const char *dir,
		   const char *boot_id, struct unflushed_record **recs,
		   size_t *n, struct unflushed_found *found);
/* Empties the log in dir and marks it boot_id's, as if new. */
int unflushed_reset(const char *dir, const char *boot_id);
void unflushed_close(struct unflushed *f);
void unflushed_records_free(struct unflushed_record *recs, size_t n);

/* id's record is text (no newline in it) from now on. */
int unflushed_put(struct unflushed *f, const char *id, const char *text);
/* id has no record any more; 0 also when it had none. */
int unflushed_del(struct unflushed *f, const char *id);

#endif
