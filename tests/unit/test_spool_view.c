/*
 * test_spool_view.c — what the spool adds to and hides from queue/
 * (fs/spool.c), and when a name a listing lacked may be there now
 * (spool_may_add_name, which lets a look-up skip listing queue/ again):
 * a document of that name, or of a name it is a numbered copy of,
 * waiting, or a job the spool hid when the
 * listing was made and no longer hides, whether its submission left the
 * spool or took another job.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "spool.h"
#include "check.h"

#define SHARE "share-1"
#define OTHER "share-2"

static char dir[] = "/tmp/upfs-test-spool-view-XXXXXX";

/* A listing of the service's jobs: {"id": ids[i]} each. */
static json_t **jobs_of(const char *const *ids, size_t n)
{
	json_t **v = calloc(n + 1, sizeof(*v));

	for (size_t i = 0; v && i < n; i++)
		v[i] = json_pack("{s:s}", "id", ids[i]);
	return v;
}

static void jobs_free(json_t **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		json_decref(v[i]);
	free(v);
}

/* The view of SHARE over jobs ids; what it kept, as "id,id," and the
   pending names as "name,name,". */
static void view(struct upfs *u, const char *const *ids, size_t n,
		 char *kept, char *pending, size_t len, uint32_t *unhides)
{
	json_t **all = jobs_of(ids, n), **jobs = calloc(n + 1, sizeof(*jobs));
	struct fs_entries out = { 0 };
	uint64_t sig = 0;
	size_t left = n, used = 0;

	/* The view drops jobs in place: free them from a copy. */
	CHECK(all != NULL && jobs != NULL);
	memcpy(jobs, all, n * sizeof(*jobs));
	CHECK(spool_queue_view(u, SHARE, jobs, &left, &out, &sig,
			       unhides) == 0);
	kept[0] = pending[0] = '\0';
	for (size_t i = 0; i < left; i++)
		used += (size_t)snprintf(kept + used, len - used, "%s,",
					 json_string_value(json_object_get(
						 jobs[i], "id")));
	used = 0;
	for (size_t i = 0; i < out.n; i++)
		used += (size_t)snprintf(pending + used, len - used, "%s,",
					 out.v[i].name);
	fs_entries_release(&out);
	free(jobs);
	jobs_free(all, n);
}

static struct submission *create(struct upfs *u, const char *share,
				 const char *name, const char *job_id)
{
	struct submission *s = NULL;

	CHECK(spool_create(u, share, name, &s) == 0);
	if (s && job_id)
		CHECK(spool_set_job_id(u, s, job_id) == 0);
	return s;
}

int main(void)
{
	static const char *const listed[] = { "101", "102", "103" };
	struct submission *a, *b, *c, *d;
	struct upfs u;
	char kept[256], pending[256];
	uint32_t unhides = 0, later = 0;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	memset(&u, 0, sizeof(u));
	pthread_mutex_init(&u.spool_lock, NULL);
	snprintf(u.spool_dir, sizeof(u.spool_dir), "%s", dir);
	u.spool_lock_fd = -1;

	/* a.pdf made job 102; b.pdf has no job yet; another share's
	   document made a job 103 of its own printer. */
	a = create(&u, SHARE, "a.pdf", "102");
	b = create(&u, SHARE, "b.pdf", NULL);
	c = create(&u, OTHER, "c.pdf", "103");
	view(&u, listed, 3, kept, pending, sizeof(kept), &unhides);
	CHECK_MSG(strcmp(kept, "101,103,") == 0, "kept %s", kept);
	CHECK_MSG(strcmp(pending, "b.pdf,a.pdf,") == 0 ||
		  strcmp(pending, "a.pdf,b.pdf,") == 0, "pending %s", pending);

	/* Names the listing lacked: only a waiting document's may be there,
	   and only in its own share. */
	CHECK(spool_may_add_name(&u, SHARE, "b.pdf", unhides));
	/* Numbered after the jobs and documents of its name (list_queue),
	   it may show as any copy of it. */
	CHECK(spool_may_add_name(&u, SHARE, "b ~2.pdf", unhides));
	CHECK(spool_may_add_name(&u, SHARE, "b ~17.pdf", unhides));
	CHECK(!spool_may_add_name(&u, SHARE, "b ~1.pdf", unhides));
	CHECK(!spool_may_add_name(&u, SHARE, "bb ~2.pdf", unhides));
	CHECK(!spool_may_add_name(&u, SHARE, "c.pdf", unhides));
	CHECK(!spool_may_add_name(&u, SHARE, "d.pdf", unhides));
	CHECK(spool_may_add_name(&u, OTHER, "c.pdf", unhides));

	/* b.pdf's job, made after the listing, hid nothing listed: no name
	   of the listing's can come back. */
	CHECK(spool_set_job_id(&u, b, "104") == 0);
	CHECK(!spool_may_add_name(&u, SHARE, "d.pdf", unhides));

	/* a.pdf leaves the spool: job 102, hidden in the listing, shows
	   again under a name the listing lacked. */
	spool_remove(&u, a);
	CHECK(spool_may_add_name(&u, SHARE, "d.pdf", unhides));

	/* A listing made since sees 102 and stops there. */
	view(&u, listed, 3, kept, pending, sizeof(kept), &later);
	CHECK_MSG(strcmp(kept, "101,102,103,") == 0, "kept %s", kept);
	CHECK_MSG(strcmp(pending, "b.pdf,") == 0, "pending %s", pending);
	CHECK(later != unhides);
	CHECK(!spool_may_add_name(&u, SHARE, "d.pdf", later));

	/* A submission whose hidden job is replaced by another shows the
	   first again. */
	CHECK(spool_set_job_id(&u, b, "101") == 0);
	view(&u, listed, 3, kept, pending, sizeof(kept), &unhides);
	CHECK_MSG(strcmp(kept, "102,103,") == 0, "kept %s", kept);
	CHECK(!spool_may_add_name(&u, SHARE, "d.pdf", unhides));
	CHECK(spool_set_job_id(&u, b, "105") == 0);
	CHECK(spool_may_add_name(&u, SHARE, "d.pdf", unhides));

	/* Another share's leaving changes what may show anywhere only when
	   it hid a listed job: c.pdf hid nothing of SHARE's listing. */
	view(&u, listed, 3, kept, pending, sizeof(kept), &unhides);
	spool_remove(&u, c);
	CHECK(!spool_may_add_name(&u, SHARE, "d.pdf", unhides));

	/* A listing made between a submission finishing (done: its job
	   still hidden, as the document it was) and its leaving the spool
	   must be made again once it leaves, or the printed job stays
	   hidden till its status changes: the digest differs. */
	{
		static const char *const with_d[] = { "101", "106" };
		json_t **all = jobs_of(with_d, 2);
		json_t *jobs[2];
		struct fs_entries out = { 0 };
		uint64_t sig = 0;
		size_t left = 2;

		d = create(&u, SHARE, "d.pdf", "106");
		pthread_mutex_lock(&u.spool_lock);
		d->state = SUB_DONE;
		pthread_mutex_unlock(&u.spool_lock);
		CHECK(all != NULL);
		memcpy(jobs, all, sizeof(jobs));
		CHECK(spool_queue_view(&u, SHARE, jobs, &left, &out, &sig,
				       &unhides) == 0);
		CHECK_MSG(left == 1 && strcmp(json_string_value(json_object_get(
				 jobs[0], "id")), "101") == 0, "kept %zu", left);
		for (size_t i = 0; i < out.n; i++)
			CHECK_MSG(strcmp(out.v[i].name, "d.pdf") != 0,
				  "a done document is still pending");
		CHECK(spool_signature(&u, SHARE) == sig);
		spool_remove(&u, d);
		CHECK_MSG(spool_signature(&u, SHARE) != sig,
			  "its leaving left the digest as it was");
		fs_entries_release(&out);
		jobs_free(all, 2);
	}

	spool_remove(&u, b);
	spool_put(&u, d);
	spool_put(&u, a);
	spool_put(&u, b);
	spool_put(&u, c);
	CHECK(u.submissions == NULL);
	pthread_mutex_destroy(&u.spool_lock);
	/* The removed documents' files are kept for the next ones. */
	for (int slot = 0; slot < 8; slot++) {
		char reused[4200];

		snprintf(reused, sizeof(reused), "%s/.reuse.%d", dir, slot);
		unlink(reused);
	}
	if (rmdir(dir) != 0) {
		fprintf(stderr, "%s: not empty: %s\n", dir, strerror(errno));
		failures++;
	}
	return failures ? 1 : 0;
}
