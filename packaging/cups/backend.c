/*
 * backend.c — the CUPS backend `upfs` (backend(7), upfs-backend(7)):
 *
 *   upfs                                   list the shares of upfs mounts
 *   upfs JOB USER TITLE COPIES OPTIONS [FILE]   print one job
 *
 * CUPS runs a backend as root when its file is mode 0700 (not readable
 * or executable by others), and as the unprivileged "lp" otherwise. This
 * one must be root: the job has to reach the mount of the user who
 * printed, and a FUSE mount without allow_other lets in only its owner
 * (not lp, not even root). As root it becomes that user before it
 * touches the mount, so it can do nothing that user could not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define MOUNT_TABLE "/proc/self/mounts"

static void usage(void)
{
	fputs("usage: upfs job-id user title copies options [file]\n"
	      "  (a CUPS backend; DEVICE_URI=upfs:/MOUNTPOINT/SHARE)\n"
	      "       upfs    (list the shares of the running upfs mounts)\n",
	      stderr);
}

int main(int argc, char **argv)
{
	struct cups_job job = { 0 };
	const char *uri = getenv("DEVICE_URI");

	/* Lines of a slow discovery must reach cups-deviced as they come. */
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (argc == 1)
		return cups_discover(MOUNT_TABLE) == 0 ? UPFS_CUPS_OK
						       : UPFS_CUPS_FAILED;
	/* A job id is a number: it names the file written in queue/. */
	if ((argc != 6 && argc != 7) || argv[1][0] == '\0' ||
	    strspn(argv[1], "0123456789") != strlen(argv[1])) {
		usage();
		return UPFS_CUPS_FAILED;
	}
	/* argv[0] is the URI too, less any password: DEVICE_URI first. */
	if ((uri == NULL || uri[0] == '\0') && strchr(argv[0], ':'))
		uri = argv[0];
	job.id = argv[1];
	job.user = argv[2];
	job.title = argv[3];
	job.copies = argv[4];
	job.options = argv[5];
	job.file = argc == 7 ? argv[6] : NULL;
	job.uri = uri;
	job.content_type = getenv("FINAL_CONTENT_TYPE");
	if (job.content_type == NULL)
		job.content_type = getenv("CONTENT_TYPE");
	job.table = MOUNT_TABLE;
	return cups_job_run(&job);
}
