/*
 * queue.c — what writing into shares/<s>/queue/ does.
 *
 * A file created there is spooled as it is written; its close (the FUSE
 * flush, which close() waits for) hands it to the service and returns the
 * result, so close() is honest. A dot name (rsync's .x.pdf.XXXXXX, editor
 * temporaries) stays local until it is renamed to a visible name: that
 * rename is the submission. rm of a job's entry cancels the job.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"
#include "submit.h"
#include "tree_private.h"

/* A cancel that failed for a reason that may pass is sent again. */
#define QUEUE_CANCEL_TRIES 3
#define QUEUE_CANCEL_PAUSE_US 200000

bool queue_name_is_local(const char *name)
{
	return name[0] == '.';
}

int queue_create(struct upfs *u, const char *share_id, const char *name,
		 struct submission **out)
{
	struct submission *s = spool_find(u, share_id, name);
	int rc;

	/* A second create of a name still being written replaces it. */
	if (s && spool_is_writable(s)) {
		rc = spool_open_file(u, s);
		if (rc == 0)
			rc = queue_truncate(u, s, 0);
		if (rc) {
			spool_put(u, s);
			return rc;
		}
		*out = s;
		return 0;
	}
	spool_put(u, s);
	return spool_create(u, share_id, name, out);
}

/*
 * A write that failed leaves a document with a hole or a cut end: its
 * close must fail too, and nothing of it may be printed.
 */
static int queue_poison(struct upfs *u, struct submission *s, int rc)
{
	pthread_mutex_lock(&u->spool_lock);
	if (s->write_error == 0)
		s->write_error = rc;
	pthread_mutex_unlock(&u->spool_lock);
	return rc;
}

/*
 * Makes bytes [from, to) of the document read as zeros: a write or
 * truncate past its end must not leave a reused file's old bytes in
 * between. Only what the file already holds is zeroed; past its end a
 * hole does (the caller's write or ftruncate makes it). *file_size: the
 * file's length.
 */
static int zero_gap(int fd, uint64_t from, uint64_t to, uint64_t *file_size)
{
	static const char zeros[65536];
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	*file_size = (uint64_t)st.st_size;
	if (to > *file_size)
		to = *file_size;
	if (from >= to)
		return 0;
	if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		      (off_t)from, (off_t)(to - from)) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return -errno;
	while (from < to) {
		size_t n = to - from < sizeof(zeros) ? (size_t)(to - from)
						      : sizeof(zeros);
		ssize_t done = pwrite(fd, zeros, n, (off_t)from);

		if (done < 0)
			return -errno;
		from += (uint64_t)done;
	}
	return 0;
}

/* Under s->io_lock: makes the document size bytes long. */
static void set_size(struct upfs *u, struct submission *s, uint64_t size)
{
	pthread_mutex_lock(&u->spool_lock);
	s->dirty = true;
	s->size = size;
	pthread_mutex_unlock(&u->spool_lock);
}

int queue_write(struct upfs *u, struct submission *s, const char *data,
		size_t size, off_t off)
{
	uint64_t end, file_size;
	ssize_t done = 0;
	int rc = 0;

	pthread_mutex_lock(&s->io_lock);
	if (!spool_is_writable(s)) {
		pthread_mutex_unlock(&s->io_lock);
		return -EBADF;	/* already handed over */
	}
	if (off == FS_OFF_END)
		off = (off_t)s->size;
	end = (uint64_t)off + size;
	if (off < 0 || end > UPFS_MAX_DOCUMENT) {
		pthread_mutex_unlock(&s->io_lock);
		return queue_poison(u, s, -EFBIG);
	}
	if ((uint64_t)off > s->size)
		rc = zero_gap(s->fd, s->size, (uint64_t)off, &file_size);
	if (rc == 0) {
		done = pwrite(s->fd, data, size, off);
		if (done < 0)
			rc = -errno;
	}
	if (rc == 0) {
		end = (uint64_t)off + (uint64_t)done;
		set_size(u, s, end > s->size ? end : s->size);
	}
	pthread_mutex_unlock(&s->io_lock);
	return rc ? queue_poison(u, s, rc) : (int)done;
}

int queue_truncate(struct upfs *u, struct submission *s, off_t size)
{
	uint64_t file_size = 0;
	int rc = 0;

	if (size < 0 || (uint64_t)size > UPFS_MAX_DOCUMENT)
		return queue_poison(u, s, -EFBIG);
	pthread_mutex_lock(&s->io_lock);
	if (!spool_is_writable(s)) {
		pthread_mutex_unlock(&s->io_lock);
		return -EBADF;
	}
	/* Shorter: the file keeps its pages for the bytes to come. */
	if ((uint64_t)size > s->size) {
		rc = zero_gap(s->fd, s->size, (uint64_t)size, &file_size);
		if (rc == 0 && (uint64_t)size > file_size &&
		    ftruncate(s->fd, size) != 0)
			rc = -errno;
	}
	if (rc == 0)
		set_size(u, s, (uint64_t)size);
	pthread_mutex_unlock(&s->io_lock);
	return rc ? queue_poison(u, s, rc) : 0;
}

/* A write of it failed (EFBIG, ENOSPC): what is left is never sent. */
static int drop_failed_write(struct upfs *u, struct submission *s)
{
	int rc = s->write_error;

	upfs_log(u, UPFS_LOG_WARNING, "'%s' not printed: a write failed: %s",
		 s->name, strerror(-rc));
	spool_remove(u, s);
	return rc;
}

/* Hands a written document over: 0 when started or spooled, or why not. */
static int queue_submit(struct upfs *u, struct submission *s)
{
	bool handed_over;
	int rc;

	submit_claim(u, s);
	/* Two close()s of one file (dup) at once: the one that looked before
	   the other claimed it finds it handed over only now. */
	pthread_mutex_lock(&u->spool_lock);
	handed_over = s->state != SUB_WRITING || s->removed;
	pthread_mutex_unlock(&u->spool_lock);
	if (handed_over) {
		submit_release(u, s);
		return 0;
	}
	rc = submit_prepare(u, s);
	if (rc) {
		char what[300];

		snprintf(what, sizeof(what), "'%s'", s->name);
		health_refusal(u, what, s->last_error[0] ? s->last_error
							  : strerror(-rc));
		spool_remove(u, s);
	} else {
		rc = submit_run(u, s);
		if (rc > 0)
			rc = 0;	/* durably spooled: retried in the background */
	}
	submit_release(u, s);
	return rc;
}

/* What a close decides by, read at once: another close, or the
   submitter, may be moving the document on meanwhile. */
struct close_view {
	enum sub_state state;
	int write_error;
	uint64_t size;
	unsigned writers;
};

/* Under spool_lock: the handle stops counting as a writer. */
static void writer_done(struct submission *s, bool *writing)
{
	if (*writing && s->writers > 0)
		s->writers--;
	*writing = false;
}

/* Under spool_lock. */
static struct close_view close_view(const struct submission *s)
{
	return (struct close_view){ s->state, s->write_error, s->size,
				    s->writers };
}

void queue_writer_opened(struct upfs *u, struct submission *s, bool *writing)
{
	pthread_mutex_lock(&u->spool_lock);
	s->writers++;
	*writing = true;
	pthread_mutex_unlock(&u->spool_lock);
}

void queue_writer_gone(struct upfs *u, struct submission *s, bool *writing)
{
	pthread_mutex_lock(&u->spool_lock);
	writer_done(s, writing);
	pthread_mutex_unlock(&u->spool_lock);
}

/*
 * Every close() of a descriptor flushes: also a child's copy closed at its
 * exit ('{ head; tail; } > queue/f': head's close comes while the shell,
 * which opened the file, still has tail to run), and a shell's close of
 * the descriptor it just dup2()ed onto stdout, before a byte is written.
 * Only the opener's close once bytes are in ends a handle's writing; the
 * document is handed over once no handle writes it.
 */
int queue_flush(struct upfs *u, struct submission *s, bool by_opener,
		bool *writing)
{
	struct close_view v;

	pthread_mutex_lock(&u->spool_lock);
	if (by_opener && s->size > 0)
		writer_done(s, writing);
	v = close_view(s);
	pthread_mutex_unlock(&u->spool_lock);

	/* A dot file is no document until its rename, and no record keeps it
	   across a restart (spool_sweep): nothing to flush. */
	if (v.state == SUB_LOCAL)
		return 0;
	if (v.state != SUB_WRITING)
		return 0;	/* a second close of a handed-over file */
	if (v.write_error)
		return drop_failed_write(u, s);
	/*
	 * An empty file is no document (EINVAL), but only its last close
	 * (release) drops it: every close() flushes, also a shell's close of
	 * the descriptor it just dup2()ed onto stdout, before a byte is
	 * written, and the shell ignores that close's error.
	 */
	if (v.size == 0)
		return -EINVAL;
	if (v.writers > 0)
		return 0;	/* written on through another descriptor */
	return queue_submit(u, s);
}

int queue_fsync(struct upfs *u, struct submission *s, bool datasync)
{
	int rc;

	if (s->fd < 0)
		return 0;
	if ((datasync ? fdatasync(s->fd) : fsync(s->fd)) == 0)
		return 0;
	rc = -errno;
	pthread_mutex_lock(&u->spool_lock);
	if (s->wb_error == 0)
		s->wb_error = rc;
	pthread_mutex_unlock(&u->spool_lock);
	return queue_poison(u, s, rc);
}

void queue_release(struct upfs *u, struct submission *s, bool *writing)
{
	struct close_view v;

	pthread_mutex_lock(&u->spool_lock);
	writer_done(s, writing);
	v = close_view(s);
	pthread_mutex_unlock(&u->spool_lock);
	if (v.writers > 0)
		return;		/* another handle writes it */
	if (v.state == SUB_WRITING && v.write_error) {
		spool_remove(u, s);
		return;
	}
	if (v.state != SUB_WRITING)
		return;
	if (v.size == 0) {
		/* The last close of a file never written: nothing to print. */
		upfs_log(u, UPFS_LOG_INFO, "'%s' is empty: not printed",
			 s->name);
		spool_remove(u, s);
		return;
	}
	/*
	 * Written, and no close handed it over: its opener closed it before
	 * the bytes came through a child's copy of the descriptor. What
	 * happens reaches the log and .upfs/status only.
	 */
	(void)queue_submit(u, s);
}

int queue_rename(struct upfs *u, const struct fs_node *n, const char *to)
{
	struct submission *s;
	char *name = NULL;
	int rc = 0;

	/* A job is named by its document at the service. */
	if (n->kind != FS_QUEUE_LOCAL)
		return -EPERM;
	/* By its node, not its name: a document is listed numbered after
	   the jobs of its name. */
	s = spool_get(u, n->id);
	if (s == NULL)
		return -ENOENT;
	if (!spool_is_writable(s)) {
		rc = -EBUSY;
		goto out;
	}
	name = strdup(to);
	if (name == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&u->spool_lock);
	free(s->name);
	s->name = name;
	if (!queue_name_is_local(to) && s->state == SUB_LOCAL)
		s->state = SUB_WRITING;
	pthread_mutex_unlock(&u->spool_lock);
	/* rsync's rename is its submission; it gets the result close would
	   (design §3: also while the file is open, as the CUPS backend
	   renames it before its close; a write after it fails). */
	if (!queue_name_is_local(to) && s->fd >= 0 && s->state == SUB_WRITING)
		rc = s->write_error ? drop_failed_write(u, s)
				    : queue_submit(u, s);
out:
	spool_put(u, s);
	return rc;
}

/*
 * rm of a pending document: it never reaches the service. Claimed like a
 * run (busy), so the submitter cannot start one on it meanwhile: its
 * spool file may be another document's once removed.
 */
static int queue_discard(struct upfs *u, struct submission *s)
{
	pthread_mutex_lock(&u->spool_lock);
	if (s->busy || (s->state > SUB_SPOOLED && s->state < SUB_DONE)) {
		pthread_mutex_unlock(&u->spool_lock);
		return -EBUSY;	/* half-way through: rm again once started */
	}
	s->busy = true;
	pthread_mutex_unlock(&u->spool_lock);
	spool_remove(u, s);
	submit_release(u, s);
	return 0;
}

/*
 * The job's state at the service into state ("" when it cannot say):
 * 0, or -ENOENT when the service has no such job (any longer).
 */
static int job_state_now(struct upfs *u, const char *share_id,
			 const char *job_id, char *state, size_t len)
{
	struct graph_err err = { 0 };
	json_t *job = NULL;
	struct buf path;
	int rc;

	state[0] = '\0';
	buf_init(&path, 4096);
	rc = tree_key(&path, TREE_SHARES, share_id, "/jobs/");
	if (rc == 0)
		rc = graph_escape_segment(&path, job_id);
	if (rc == 0)
		rc = graph_get(u->graph, path.data, &job, &err);
	if (rc == 0)
		snprintf(state, len, "%s", tree_str(json_object_get(job,
						     "status"), "state"));
	json_decref(job);
	buf_release(&path);
	return rc == -ENOENT ? -ENOENT : 0;
}

/*
 * A cancel the service refused with rc (the reference does not say with
 * what: 400 or 409), explained by the job's state: canceled (a cancel
 * sent twice, its first reply lost) is 0; completed, aborted or gone
 * (404) has left the queue, -ENOENT; anything else stays rc.
 */
static int refused_cancel(struct upfs *u, const char *share_id,
			  const char *job_id, int rc)
{
	char state[32];

	if (job_state_now(u, share_id, job_id, state, sizeof(state)) ==
	    -ENOENT)
		return -ENOENT;
	if (strcmp(state, "canceled") == 0)
		return 0;
	if (strcmp(state, "completed") == 0 || strcmp(state, "aborted") == 0)
		return -ENOENT;
	return rc;
}

/*
 * POSTs path, a job's /cancel. A job left paused and half made is what a
 * cancel is for, so a failure that may pass (a reset connection, a 5xx
 * past the client's own retries) is tried again; a refusal is explained
 * by the job's state (refused_cancel).
 */
static int send_cancel(struct upfs *u, const char *share_id,
		       const char *job_id, const char *path,
		       struct graph_err *err)
{
	int rc = 0;

	for (int attempt = 0; attempt < QUEUE_CANCEL_TRIES; attempt++) {
		if (attempt)
			usleep(QUEUE_CANCEL_PAUSE_US * attempt);
		*err = (struct graph_err){ 0 };
		rc = graph_request(u->graph, "POST", path, NULL, NULL, err);
		if (rc == -EINVAL || rc == -EBUSY)
			rc = refused_cancel(u, share_id, job_id, rc);
		if (rc == 0 || submit_err_is_permanent(rc))
			break;
	}
	return rc;
}

int queue_cancel_job(struct upfs *u, const char *share_id, const char *job_id)
{
	struct graph_err err = { 0 };
	json_t *share = NULL;
	struct buf path, key;
	const char *pid;
	int rc;

	buf_init(&path, 4096);
	buf_init(&key, 4096);
	rc = tree_get(u, TREE_SHARES, share_id, TREE_SHARE_SELECT, false,
		      u->opts.dir_ttl, RES_STALE_OK, &share, NULL);
	pid = tree_str(json_object_get(share, "printer"), "id");
	/*
	 * The reference documents cancel under the printer. An account that
	 * may not read printers is not shown the share's; cancel is an
	 * action of the job, which the share's path reaches too (start is
	 * documented there).
	 */
	if (rc == 0)
		rc = pid[0] ? tree_key(&path, TREE_PRINTERS, pid, "/jobs/")
			    : tree_key(&path, TREE_SHARES, share_id, "/jobs/");
	if (rc == 0)
		rc = graph_escape_segment(&path, job_id);
	if (rc == 0)
		rc = buf_append_str(&path, "/cancel");
	if (rc == 0 &&
	    (rc = send_cancel(u, share_id, job_id, path.data, &err)) == -ENOENT)
		upfs_log(u, UPFS_LOG_INFO, "job %s had left the queue (done or "
			 "deleted) before its cancel: nothing to cancel",
			 job_id);
	else if (rc)
		health_error(u, "cancel job", rc, &err);
	if (tree_key(&key, TREE_SHARES, share_id,
		     TREE_JOBS_SUFFIX) == 0)
		res_expire(u, key.data);
	buf_reset(&key);
	if (pid[0] && tree_key(&key, TREE_PRINTERS, pid,
			       TREE_JOBS_SUFFIX) == 0)
		res_expire(u, key.data);
	json_decref(share);
	buf_release(&path);
	buf_release(&key);
	return rc;
}

int queue_unlink(struct upfs *u, const struct fs_node *n)
{
	struct submission *s;
	int rc;

	if (n->kind == FS_QUEUE_ENTRY)
		return queue_cancel_job(u, n->owner, n->id);
	s = spool_get(u, n->id);
	if (s == NULL)
		return -ENOENT;
	rc = queue_discard(u, s);
	spool_put(u, s);
	return rc;
}

int queue_local_size(struct upfs *u, const struct fs_node *n, off_t *size,
		     int64_t *mtime)
{
	struct submission *s = spool_get(u, n->id);

	if (s == NULL)
		return -ENOENT;
	*size = (off_t)s->size;
	*mtime = s->created_ms / 1000;
	spool_put(u, s);
	return 0;
}

int queue_read(struct upfs *u, struct submission *s, char *out, size_t size,
	       off_t off)
{
	ssize_t got = 0;
	uint64_t end;
	int rc = spool_open_file(u, s);

	if (rc)
		return rc;
	pthread_mutex_lock(&s->io_lock);
	end = s->size;
	if (s->state == SUB_DONE)
		rc = -ENOENT;	/* its file may be another's now */
	/* The file may go on past the document (reused). */
	if (rc == 0 && off >= 0 && (uint64_t)off < end) {
		if (size > end - (uint64_t)off)
			size = (size_t)(end - (uint64_t)off);
		got = pread(s->fd, out, size, off);
		if (got < 0)
			rc = -errno;
	}
	pthread_mutex_unlock(&s->io_lock);
	return rc ? rc : (int)got;
}
