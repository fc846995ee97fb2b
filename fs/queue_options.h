/*
 * queue_options.h — options for one document in queue/, beside the
 * share's (queue_options.c).
 *
 * A writer may set the xattr user.upfs.options on a document it has not
 * handed over yet (before its close, or before the rename of a dot name):
 * key=value lines in the syntax of shares/<s>/options (joboptions.h),
 * checked against the printer's capabilities when set (EINVAL with the
 * reason in the log and .upfs/status), kept with the document in the spool
 * across restarts, and laid over the share's options for that job only.
 * The CUPS backend (packaging/cups) passes a job's options this way:
 *
 *   setfattr -n user.upfs.options -v 'copies=2' queue/.doc.pdf
 */
#ifndef UPFS_QUEUE_OPTIONS_H
#define UPFS_QUEUE_OPTIONS_H

#include <jansson.h>
#include <stddef.h>

#include "spool.h"

#define UPFS_XATTR_JOB_OPTIONS "user.upfs.options"

/*
 * Sets the options of the submission with local id sub_id. -EINVAL for
 * text that does not parse or that the printer cannot do, -EBUSY once
 * the document was handed over, -ENOENT if it is gone.
 */
int queue_options_set(struct upfs *u, const char *sub_id, const char *value,
		      size_t size);

/*
 * Drops them (setfattr -x): -ENODATA if it has none, -EBUSY once handed
 * over, -ENOENT if it is gone.
 */
int queue_options_clear(struct upfs *u, const char *sub_id);

/* Lays the options of s, if any, over config (the share's; borrowed). */
void queue_options_apply(struct upfs *u, const struct submission *s,
			 json_t *config);

#endif
