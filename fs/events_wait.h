/*
 * events_wait.h — reads of task_definitions/<d>/events that wait for the
 * next task without holding a FUSE worker thread.
 *
 * A read at the end of the file is answered when a new task comes (one
 * thread asks the service every EVENTS_POLL_MS, once for all the waiting
 * reads of a definition),
 * with EINTR when its reader is interrupted, or ENOTCONN at unmount. A
 * worker that slept in such a read could not serve anything else: 16
 * waiting readers (the loop's threads) stopped the whole mount, and with
 * -s a single one did.
 */
#ifndef UPFS_EVENTS_WAIT_H
#define UPFS_EVENTS_WAIT_H

#include <fuse_lowlevel.h>
#include <sys/types.h>

#include "fs.h"

struct open_file;

#define EVENTS_POLL_MS 500

/*
 * Answers req, a read of f's events at off, now or once a task comes;
 * takes over the caller's reference to f.
 */
void events_read(fuse_req_t req, struct open_file *f, off_t off, size_t size);

/* Answers every waiting read with ENOTCONN and stops the thread. */
void events_stop(struct upfs *u);

#endif
