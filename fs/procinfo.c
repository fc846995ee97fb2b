/*
 * procinfo.c — a thread's process from /proc (procinfo.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "procinfo.h"

/* Reads /proc/<pid>/<what> into line (NUL-terminated); 0 or -errno. */
static int proc_read(pid_t pid, const char *what, char *line, size_t size)
{
	char path[64];
	FILE *f;
	size_t got;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	got = fread(line, 1, size - 1, f);
	line[got] = '\0';
	fclose(f);
	return got > 0 ? 0 : -EIO;
}

/* The start time of process pid: field 22, the 19th after its state
   (the name before it, in parentheses, may hold spaces and parentheses). */
static int process_start(pid_t pid, unsigned long long *start)
{
	char line[1024], *p;
	int rc = proc_read(pid, "stat", line, sizeof(line));

	if (rc)
		return rc;
	p = strrchr(line, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", start) != 1)
		return -EIO;
	return 0;
}

int procinfo_process_of(pid_t tid, struct procinfo_process *out)
{
	char status[4096], *p;
	int leader;
	int rc;

	if (tid <= 0)
		return -ESRCH;
	rc = proc_read(tid, "status", status, sizeof(status));
	if (rc)
		return rc;
	p = strstr(status, "\nTgid:");
	if (p == NULL || sscanf(p + 6, "%d", &leader) != 1 || leader <= 0)
		return -EIO;
	out->tgid = leader;
	return process_start(leader, &out->start);
}

bool procinfo_alive(const struct procinfo_process *p)
{
	unsigned long long start;

	return process_start(p->tgid, &start) == 0 && start == p->start;
}

int procinfo_same_process(pid_t a, pid_t b)
{
	struct procinfo_process pa, pb;
	int rc;

	if (a == b && a > 0)
		return 1;
	rc = procinfo_process_of(a, &pa);
	if (rc == 0)
		rc = procinfo_process_of(b, &pb);
	if (rc)
		return rc;
	return pa.tgid == pb.tgid && pa.start == pb.start;
}
