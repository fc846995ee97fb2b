/*
 * test_readbase.c — what the mount remembers of each process's reads of
 * editable files (fs/readbase.h): per process and file, the last text;
 * a process's own oldest entry goes first, then those of processes that
 * have gone, then the least recently used. The processes are real ones
 * (children blocked on a pipe), as the table tells them apart by /proc.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "readbase.h"
#include "check.h"

#define CHILDREN 10

/* A live process until child_stop: pause()s, ends at SIGKILL. */
static pid_t child_start(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* Gone with the test, however it ends. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	return pid;
}

static void child_stop(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

static void note(struct upfs *u, pid_t pid, const char *id, const char *text,
		 bool only_known)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK(buf_append_str(&b, text) == 0);
	readbase_note(u, pid, FS_SHARE_USERS, id, &b, only_known);
	buf_release(&b);
}

/* What pid last read of file id, or NULL (a static buffer). */
static const char *got(struct upfs *u, pid_t pid, const char *id)
{
	static char text[64];
	struct buf b;
	bool found = false;

	buf_init(&b, 0);
	CHECK(readbase_get(u, pid, FS_SHARE_USERS, id, &b, &found) == 0);
	snprintf(text, sizeof(text), "%s", found && b.data ? b.data : "");
	buf_release(&b);
	return found ? text : NULL;
}

static void fill(struct upfs *u, pid_t pid, int from, int to)
{
	char id[16];

	for (int i = from; i < to; i++) {
		snprintf(id, sizeof(id), "f%d", i);
		note(u, pid, id, id, false);
	}
}

int main(void)
{
	pid_t c[CHILDREN] = { 0 };
	struct upfs u = { 0 };
	const char *t;
	char id[16];

	pthread_mutex_init(&u.readbase_lock, NULL);
	for (int i = 0; i < CHILDREN; i++)
		if ((c[i] = child_start()) < 0) {
			perror("test_readbase: fork");
			return 1;
		}

	/* Last read wins; a commit replaces only an entry that exists. */
	note(&u, c[0], "share", "alice\n", false);
	note(&u, c[0], "share", "alice\nbob\n", false);
	t = got(&u, c[0], "share");
	CHECK_MSG(t && strcmp(t, "alice\nbob\n") == 0, "last read: %s", t);
	note(&u, c[1], "share", "carol\n", true);
	CHECK(got(&u, c[1], "share") == NULL);
	CHECK(got(&u, c[1], "other") == NULL);
	CHECK(got(&u, 0, "share") == NULL);
	note(&u, c[0], "share", "alice\n", true);
	t = got(&u, c[0], "share");
	CHECK_MSG(t && strcmp(t, "alice\n") == 0, "after a commit: %s", t);

	/* A process past its 8 gives up its own oldest. */
	fill(&u, c[1], 0, UPFS_READBASE_PER_PROCESS + 1);
	CHECK(got(&u, c[1], "f0") == NULL);
	for (int i = 1; i <= UPFS_READBASE_PER_PROCESS; i++) {
		snprintf(id, sizeof(id), "f%d", i);
		CHECK_MSG(got(&u, c[1], id) != NULL, "c1 lost %s", id);
	}
	CHECK(got(&u, c[0], "share") != NULL);

	/* 1 + 8 + 7 * 8 = 65 > 64: the least recently used goes (c0's). */
	for (int k = 2; k < 9; k++)
		fill(&u, c[k], 0, UPFS_READBASE_PER_PROCESS);
	CHECK(got(&u, c[0], "share") == NULL);
	CHECK(got(&u, c[1], "f1") != NULL);
	CHECK(got(&u, c[8], "f7") != NULL);

	/* Full again: a process that has gone goes before any live one. */
	child_stop(&c[2]);
	fill(&u, c[9], 0, 1);
	CHECK(got(&u, c[9], "f0") != NULL);
	CHECK(got(&u, c[1], "f1") != NULL);
	for (int k = 3; k < 9; k++)
		CHECK_MSG(got(&u, c[k], "f0") != NULL, "c%d lost f0", k);

	for (int i = 0; i < CHILDREN; i++)
		child_stop(&c[i]);
	readbase_release(&u);
	pthread_mutex_destroy(&u.readbase_lock);
	if (failures) {
		fprintf(stderr, "test_readbase: %d failure(s)\n", failures);
		return 1;
	}
	return 0;
}
