/*
 * procinfo.h — which process a thread of a FUSE request belongs to, read
 * from /proc. FUSE names the calling thread (its tid, in the mount's pid
 * namespace); a process is its thread group id and that leader's start
 * time, so a pid reused by a later process is another one.
 */
#ifndef UPFS_PROCINFO_H
#define UPFS_PROCINFO_H

#include <stdbool.h>
#include <sys/types.h>

struct procinfo_process {
	pid_t tgid;
	unsigned long long start;	/* the leader's start, clock ticks */
};

/* The process of thread tid: 0, or -ESRCH (no such thread, or tid 0: a
   caller outside the mount's pid namespace) or another -errno. */
int procinfo_process_of(pid_t tid, struct procinfo_process *out);

/* Whether process p is still the one running under its pid. */
bool procinfo_alive(const struct procinfo_process *p);

/*
 * Whether threads a and b are of one process: true when a == b; false
 * when both can be read and differ; when either cannot be (a thread gone,
 * a pid outside the namespace), unknown: -ESRCH or another -errno.
 * 1 or 0 otherwise.
 */
int procinfo_same_process(pid_t a, pid_t b);

#endif
