/*
 * test_unflushed.c — the log of records nothing was promised on
 * (fs/unflushed.c): what a reopen in the same boot reads, what another
 * boot drops, lines a kill or a disk spoiled, and the log kept short.
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unflushed.h"
#include "check.h"

static char root[] = "/tmp/upfs-test-unflushed-XXXXXX";
static char dir[sizeof(root) + 16];

/* The records of a reopen by boot (f closed first), as "id=text;..." in
   the order the log keeps them. */
static int reopen(struct unflushed **f, const char *boot, char *out,
		  size_t len, struct unflushed_found *found)
{
	struct unflushed_record *recs = NULL;
	size_t n = 0, used = 0;
	int rc;

	unflushed_close(*f);
	*f = NULL;
	rc = unflushed_open(f, dir, boot, &recs, &n, found);
	out[0] = '\0';
	for (size_t i = 0; rc == 0 && i < n && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s=%s;",
					 recs[i].id, recs[i].text);
	unflushed_records_free(recs, n);
	return rc;
}

static off_t log_size(void)
{
	char path[sizeof(dir) + 8];
	struct stat st;

	snprintf(path, sizeof(path), "%s/log", dir);
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void append_raw(const char *bytes, size_t len)
{
	char path[sizeof(dir) + 8];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/log", dir);
	fp = fopen(path, "ab");
	CHECK(fp && fwrite(bytes, 1, len, fp) == len);
	if (fp)
		fclose(fp);
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	struct unflushed *f = NULL;
	struct unflushed_found found;
	struct rlimit lim, small;
	char got[4096], big[2048];
	int i;

	if (mkdtemp(root) == NULL)
		return 1;
	snprintf(dir, sizeof(dir), "%s/unflushed", root);

	/* A new log: empty, no other boot. */
	CHECK(reopen(&f, "boot-a", got, sizeof(got), &found) == 0);
	CHECK(strcmp(got, "") == 0 && !found.other_boot);

	/* The last line of an id wins; a delete ends it. */
	CHECK(unflushed_put(f, "1-a", "{\"state\":\"creating\"}") == 0);
	CHECK(unflushed_put(f, "2-b", "{\"state\":\"creating\"}") == 0);
	CHECK(unflushed_put(f, "1-a", "{\"state\":\"uploading\"}") == 0);
	CHECK(unflushed_del(f, "2-b") == 0);
	CHECK(unflushed_del(f, "never") == 0);
	CHECK(reopen(&f, "boot-a", got, sizeof(got), &found) == 0);
	CHECK_MSG(strcmp(got, "1-a={\"state\":\"uploading\"};") == 0, "%s", got);
	CHECK(found.bad_lines == 0 && !found.torn_tail && !found.other_boot);

	/* What the log refuses to hold. */
	CHECK(unflushed_put(f, "Bad Id", "{}") == -EINVAL);
	CHECK(unflushed_put(f, "3-c", "two\nlines") == -EINVAL);
	CHECK(unflushed_put(f, "3-c", "") == -EINVAL);

	/* A last line cut short (a kill in its write): dropped, the rest
	   read, and the next line starts clean. */
	append_raw("4-d\t{\"state\":\"sta", 17);
	CHECK(reopen(&f, "boot-a", got, sizeof(got), &found) == 0);
	CHECK_MSG(strcmp(got, "1-a={\"state\":\"uploading\"};") == 0, "%s", got);
	CHECK(found.bad_lines == 0 && found.torn_tail);
	CHECK(unflushed_put(f, "4-d", "{\"state\":\"starting\"}") == 0);
	CHECK(reopen(&f, "boot-a", got, sizeof(got), &found) == 0);
	CHECK_MSG(strcmp(got, "1-a={\"state\":\"uploading\"};"
			      "4-d={\"state\":\"starting\"};") == 0, "%s", got);
	CHECK(found.bad_lines == 0 && !found.torn_tail);

	/* A write that fails part-way (the file may grow 10 bytes more):
	   the part line is cut off again, and the log reads as before. */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &lim);
	small = lim;
	small.rlim_cur = (rlim_t)log_size() + 10;
	CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
	CHECK(unflushed_put(f, "1-a", "{\"state\":\"starting\"}") < 0);
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	CHECK(unflushed_del(f, "4-d") == 0);
	CHECK(reopen(&f, "boot-a", got, sizeof(got), &found) == 0);
	CHECK_MSG(strcmp(got, "1-a={\"state\":\"uploading\"};") == 0, "%s", got);
	CHECK(found.bad_lines == 0 && !found.torn_tail);

	/* Lines a disk spoiled: any record's latest may be among them, so
	   none of the log is trusted. */
	append_raw("junk\xff\n\t{}\n", 10);
	CHECK(reopen(&f, "boot-a", got, sizeof(got), &found) == 0);
	CHECK_MSG(strcmp(got, "") == 0, "%s", got);
	CHECK(found.bad_lines == 2 && log_size() == 0);

	/* Another boot's log is dropped unread. */
	CHECK(reopen(&f, "boot-b", got, sizeof(got), &found) == 0);
	CHECK(strcmp(got, "") == 0 && found.other_boot);
	CHECK(log_size() == 0);

	/* Kept short: rewritten past 1 MiB with the live records only, and
	   emptied once none is left. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(unflushed_put(f, "5-e", "{\"keep\":1}") == 0);
	for (i = 0; i < 1000; i++)
		CHECK(unflushed_put(f, "6-f", big) == 0);
	CHECK_MSG(log_size() < (off_t)1 << 20, "log %lld bytes",
		  (long long)log_size());
	CHECK(reopen(&f, "boot-b", got, sizeof(got), &found) == 0);
	CHECK(strncmp(got, "5-e={\"keep\":1};6-f=xxx", 22) == 0 ||
	      strncmp(got, "6-f=xxx", 7) == 0);
	CHECK(strstr(got, "5-e={\"keep\":1};") != NULL);
	for (i = 0; i < 100; i++)
		CHECK(unflushed_put(f, "6-f", big) == 0);
	CHECK(unflushed_del(f, "5-e") == 0);
	CHECK(unflushed_del(f, "6-f") == 0);
	CHECK(log_size() == 0);

	/* Something else with the folder's name. */
	unflushed_close(f);
	f = NULL;
	CHECK(nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS) == 0);
	CHECK(mknod(dir, S_IFREG | 0600, 0) == 0);
	CHECK(reopen(&f, "boot-a", got, sizeof(got), &found) == -ENOTDIR);

	unflushed_close(f);
	nftw(root, remove_one, 8, FTW_DEPTH | FTW_PHYS);
	if (failures == 0)
		printf("test_unflushed: all checks passed\n");
	return failures != 0;
}
