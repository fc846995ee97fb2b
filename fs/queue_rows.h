/*
 * queue_rows.h — what queue/ shows of each job of a share, remembered
 * (queue_rows.c). Each document printed changes the share's job listing
 * by one job, and each look-up in queue/ then lists it again: reading
 * every job's JSON (state, document name, id, time) again made that
 * listing most of the daemon's CPU once a share held a few hundred jobs.
 * A listing's elements are never changed (resource.c shares them between
 * listings), so a row is kept for as long as its job object is, keyed by
 * the object.
 */
#ifndef UPFS_QUEUE_ROWS_H
#define UPFS_QUEUE_ROWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs.h"

struct queue_row {
	const json_t *job;	/* the key; the memo holds a reference */
	unsigned long long id;	/* numeric job id: the order of queue/ */
	bool final;		/* completed, canceled or aborted: not shown */
	char *name;		/* the document's encoded name, owned */
	int64_t mtime;		/* createdDateTime */
	size_t pos;		/* in the listing last given: ties of id */
};

/*
 * Makes the memo of share_id hold a row for each job of list (the share's
 * job listing), reusing remembered ones, and locks it: *rows is valid,
 * for queue_rows_find, until queue_rows_unlock. 0 or a negative errno
 * (then nothing is locked).
 */
int queue_rows_lock(struct upfs *u, const char *share_id, const json_t *list,
		    const struct queue_row **rows, size_t *n);
void queue_rows_unlock(struct upfs *u);

/* The row of job in rows[0..n), or NULL. */
const struct queue_row *queue_rows_find(const struct queue_row *rows,
					size_t n, const json_t *job);

/* At unmount: every memo. */
void queue_rows_release(struct upfs *u);

#endif
