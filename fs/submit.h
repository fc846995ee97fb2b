/*
 * submit.h — handing spooled documents to the service (submit.c).
 */
#ifndef UPFS_SUBMIT_H
#define UPFS_SUBMIT_H

#include <jansson.h>
#include <stdbool.h>

#include "spool.h"

/*
 * Makes a closed (or renamed) document ready to send: fixes its size and
 * sniffs its content type (its bytes are flushed only once a durable
 * record needs them: spool_persist). -EINVAL for an empty file or one in
 * no printable format, -EFBIG past the job size limit, -EIO when the
 * spool cannot read it. The caller holds s busy.
 */
int submit_prepare(struct upfs *u, struct submission *s);

/*
 * Runs the steps that are left for s. 0: the job has started (s is
 * forgotten); a negative errno: the service refused it for good (its
 * half-made job is cancelled, s is forgotten); 1: a transient failure, s
 * waits in the spool with its reason and is retried with backoff. The
 * caller holds s busy.
 */
int submit_run(struct upfs *u, struct submission *s);

/* Whether an errno from the service means "never", not "not now". */
bool submit_err_is_permanent(int rc);

/* The job configuration for s (a new reference; {} for the defaults). */
json_t *submit_configuration(struct upfs *u, const struct submission *s);

/* Claims s for this thread, waiting while another works on it. */
void submit_claim(struct upfs *u, struct submission *s);
void submit_release(struct upfs *u, struct submission *s);

/* The background thread that retries waiting submissions. */
int submit_start(struct upfs *u);
void submit_stop(struct upfs *u);
/* Wakes it: something became due. */
void submit_kick(struct upfs *u);

#endif
