/*
 * submit.c — from a spooled document to a started job, exactly once.
 *
 * The steps of reference §8.1: create the job on the share, open an upload
 * session for its document, upload the bytes, start the job. Before each
 * step that changes something at the service the outbox record says which
 * step is under way, so when a reply is lost (or upfs is killed) the next
 * attempt first finds out what happened:
 *   - a create that may have happened: a blank job of the share (paused
 *     for its upload, no bytes, the signed-in user's, no submission's)
 *     that the service made while that create was in flight is adopted
 *     instead of making another; a blank job never prints. One made
 *     before or after is another client's of the same user, whose upload
 *     may be in flight: it is left alone (create_window);
 *   - an upload: the session says which ranges it still misses;
 *   - a start: the job's state says whether it started.
 * A permanent refusal cancels the half-made job, so none is left behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "editfile.h"
#include "isodate.h"
#include "perms.h"
#include "queue.h"
#include "queue_options.h"
#include "sniff.h"
#include "spool.h"
#include "submit.h"
#include "tree_private.h"
#include "utf8.h"

/* Upload sessions replaced in one attempt before giving up for now. */
#define SUBMIT_MAX_SESSIONS 3
/*
 * How far apart this machine's and the service's clocks may be when no
 * reply has said (graph_service_clock_offset), and how far a job's
 * createdDateTime may be from its create's flight when one has: a Date
 * is whole seconds, and the job may be stamped by another server than
 * the one that answered.
 */
#define SUBMIT_ADOPT_WINDOW_S 600
#define SUBMIT_CLOCK_MARGIN_S 30

bool submit_err_is_permanent(int rc)
{
	switch (-rc) {
	case EACCES:
	case EPERM:
	case EINVAL:
	case EDQUOT:
	case EFBIG:
	case ENOSPC:
	case ENOENT:
	case EOPNOTSUPP:
		return true;
	default:
		return false;
	}
}

/*
 * Moves s to state. A create or a start must be recorded before its
 * request goes: recovering from the state before would repeat it blind.
 * Until close() returns, the record need only outlive upfs, not the
 * machine (spool_persist: the unflushed log, whose records a crash of
 * the machine drops with the bytes they would send). Once promised, it
 * must be on disk: not the first create, in close(), whose state before
 * is no record, with nothing promised yet. Any other state undone by a
 * system crash is recovered from the one before it (a session asked for
 * again, an upload resumed). Until the spool file is flushed
 * (spool_promise, or a durable record that reads it), records
 * name the boot whose page cache holds its bytes; left by another boot
 * in the outbox (where the unflushed log could not be opened), the
 * document is not sent, and its job, if the record or the share's jobs
 * show one, is cancelled (drop_lost): its close() had not returned.
 *
 * SPOOLED, UPLOADED and DONE are not written at all: the next record
 * follows at once, or the record is deleted. A document that leaves
 * close() waiting in the spool is written to the outbox then
 * (submit_run, spool_promise); one whose upfs dies before CREATING was
 * never handed over (its close() failed). A record left saying UPLOADING
 * or STARTING is recovered by asking the service (the session has every
 * byte; the job has started), never by sending anything twice. CREATED
 * is written: a record left at CREATING adopts a blank job of the share,
 * maybe another document's with other options, so the window between a
 * create's reply and its record is kept short.
 *
 * A record that cannot be written (a full disk) is written again before
 * any further step (run_steps): no step goes beyond what the record
 * knows, as a job uploaded under a record still saying CREATING is not
 * blank, and a restart would make another. CREATING and STARTING, whose
 * requests then do not go, leave the state before them, which their
 * record still holds. For a document close() returned 0 for, none of
 * this is a refusal: its older record stands, and it waits for room.
 */
static void note_error(struct upfs *u, struct submission *s, int rc,
		       const struct graph_err *gerr, const char *step);

static int set_state(struct upfs *u, struct submission *s,
		     enum sub_state state)
{
	bool durable = state == SUB_STARTING, promised;
	enum sub_state before;
	int rc;

	pthread_mutex_lock(&u->spool_lock);
	if (s->removed) {
		/* Removed (rm): its spool file may be another's now. */
		pthread_mutex_unlock(&u->spool_lock);
		return -ECANCELED;
	}
	before = s->state;
	s->state = state;
	/* The first record of all, in close(): the state before it is no
	   record, nothing to repeat, and nothing was promised yet. */
	if (state == SUB_CREATING && s->on_disk)
		durable = true;
	pthread_mutex_unlock(&u->spool_lock);
	if (state == SUB_SPOOLED || state == SUB_UPLOADED || state == SUB_DONE)
		return 0;
	rc = spool_persist(u, s, durable);
	pthread_mutex_lock(&u->spool_lock);
	if (rc && (state == SUB_CREATING || state == SUB_STARTING)) {
		if (s->state == state)
			s->state = before;
	} else {
		s->record_behind = rc != 0;
	}
	promised = s->promised;
	pthread_mutex_unlock(&u->spool_lock);
	if (rc) {
		note_error(u, s, rc, NULL, "recording its state");
		if (promised && submit_err_is_permanent(rc))
			rc = -EAGAIN;
	}
	return rc;
}

static int replace_str(struct upfs *u, char **slot, const char *value)
{
	char *copy = value ? strdup(value) : NULL;

	if (value && copy == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&u->spool_lock);
	free(*slot);
	*slot = copy;
	pthread_mutex_unlock(&u->spool_lock);
	return 0;
}

/*
 * A refused token (401 after graph/ tried a fresh one) is not a refusal of
 * the document: it waits in the spool until the user signs in again. Only
 * as the refusal it would be (EACCES): an upload URL's 401 is its own
 * credential's, a session gone (graph_upload_document's ENOENT). Nor is
 * a token that could not be had (a sign-in expired or revoked, the token
 * file gone): the service was not even asked.
 */
static int submit_errno(int rc, const struct graph_err *gerr)
{
	if (rc == -EACCES && gerr && gerr->status == 401)
		return -EKEYEXPIRED;
	if (gerr && gerr->token_failed && submit_err_is_permanent(rc))
		return -EKEYEXPIRED;
	/* A 5xx (a 501, a 507) is the service's own trouble, never a
	   refusal of the document: it waits in the spool like a 500's
	   (design §3.3), unless its code names a spent quota. */
	if (gerr && gerr->status >= 500 && rc != -EDQUOT &&
	    submit_err_is_permanent(rc))
		return -EIO;
	return rc;
}

static void note_error(struct upfs *u, struct submission *s, int rc,
		       const struct graph_err *gerr, const char *step)
{
	char detail[200];

	if (gerr && (gerr->status || gerr->message[0]))
		graph_err_format(gerr, detail, sizeof(detail));
	else
		snprintf(detail, sizeof(detail), "%s", strerror(-rc));
	pthread_mutex_lock(&u->spool_lock);
	s->last_errno = -rc;
	snprintf(s->last_error, sizeof(s->last_error), "%s: %s", step, detail);
	pthread_mutex_unlock(&u->spool_lock);
	/* .upfs/status and the online state learn of it too. */
	if (!submit_err_is_permanent(rc))
		health_error(u, s->name, rc, gerr);
}

static int share_path(struct buf *out, const struct submission *s,
		      const char *suffix)
{
	return tree_key(out, TREE_SHARES, s->share_id, suffix);
}

/* "/print/shares/{share}/jobs/{job}" followed by suffix (may be NULL). */
static int job_path(struct buf *out, const struct submission *s,
		    const char *suffix)
{
	int rc = share_path(out, s, "/jobs/");

	if (rc == 0)
		rc = graph_escape_segment(out, s->job_id);
	if (rc == 0 && suffix)
		rc = buf_append_str(out, suffix);
	return rc;
}

/* The share's own GET: capabilities and the printer behind it. */
static int share_object(struct upfs *u, const char *share_id, json_t **out)
{
	return tree_get(u, TREE_SHARES, share_id, TREE_SHARE_SELECT, false,
			u->opts.dir_ttl, RES_REFRESH_STALE, out, NULL);
}

/*
 * Whether types lists the media type type. Media types are
 * case-insensitive (RFC 2045), and the reference itself writes
 * "application/PCLm"; parameters after ';' do not change the type.
 */
static bool lists_type(const json_t *types, const char *type)
{
	size_t len = strlen(type);
	const json_t *v;
	size_t i;

	json_array_foreach(types, i, v) {
		const char *t = json_string_value(v);

		if (t && strncasecmp(t, type, len) == 0 &&
		    (t[len] == '\0' || t[len] == ';' || t[len] == ' '))
			return true;
	}
	return false;
}

/*
 * Whether the share's printer takes this type, directly or (XPS family to
 * a PDF printer) through the tenant's document conversion.
 */
static int check_content_type(struct upfs *u, struct submission *s)
{
	json_t *share = NULL, *settings = NULL, *types;
	int rc;

	rc = share_object(u, s->share_id, &share);
	if (rc)
		return rc == -ENOENT ? -EACCES : rc;
	types = json_object_get(json_object_get(share, "capabilities"),
				"contentTypes");
	if (!json_is_array(types) || json_array_size(types) == 0 ||
	    lists_type(types, s->content_type))
		goto out;
	rc = -EINVAL;
	/* The service converts OpenXPS to PDF (reference §3.3), not MS XPS,
	   when the tenant's settings allow it. Reading them takes a
	   permission a printing user may lack: then the service decides. */
	if (strcmp(s->content_type, "application/oxps") == 0 &&
	    lists_type(types, "application/pdf") &&
	    (res_get(u, TREE_SETTINGS, false, u->opts.dir_ttl, RES_STALE_OK,
		     &settings, NULL) != 0 ||
	     json_is_true(json_object_get(settings,
					  "documentConversionEnabled"))))
		rc = 0;
	if (rc)
		snprintf(s->last_error, sizeof(s->last_error),
			 "the printer does not take %s", s->content_type);
out:
	json_decref(settings);
	json_decref(share);
	return rc;
}

/*
 * Whether job was created by the signed-in user, as far as we know. A
 * job that does not say who made it is mine only when unsaid_ok: job
 * listings may leave createdBy empty (the reference's list example
 * does), so a listed job is only a candidate until its own GET says.
 */
static bool created_by_me(struct upfs *u, const json_t *job, bool unsaid_ok)
{
	const char *upn = tree_str(json_object_get(job, "createdBy"),
				   "userPrincipalName");
	bool mine;

	pthread_mutex_lock(&u->spool_lock);
	mine = u->me_upn[0] == '\0' || strcmp(upn, u->me_upn) == 0 ||
	       (unsaid_ok && upn[0] == '\0');
	pthread_mutex_unlock(&u->spool_lock);
	return mine;
}

/* Whether configurations a and b set the same members (null is unset). */
static bool same_configuration(const json_t *a, const json_t *b)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)a, key, v)
		if (!json_is_null(v) && !json_equal(v, json_object_get(b, key)))
			return false;
	json_object_foreach((json_t *)b, key, v)
		if (!json_is_null(v) && !json_equal(v, json_object_get(a, key)))
			return false;
	return true;
}

/*
 * Whether a job the service made at created (its clock, in seconds) may
 * be one s's last create made: made while that create was in flight,
 * give or take the clocks' difference. A record from before the flight
 * was recorded takes any job made since shortly before s itself.
 */
static bool create_window(struct upfs *u, const struct submission *s,
			  int64_t created)
{
	int64_t offset, margin = SUBMIT_CLOCK_MARGIN_S, end_ms;

	if (s->create_sent_ms == 0)
		return created >= s->created_ms / 1000 - SUBMIT_ADOPT_WINDOW_S;
	/* The offset when it was sent: this machine's clock may have been
	   set since (NTP after a boot without a clock of its own). */
	if (s->create_offset_known) {
		offset = s->create_offset_s;
	} else if (graph_service_clock_offset(u->graph, &offset) != 0) {
		offset = 0;
		margin = SUBMIT_ADOPT_WINDOW_S;
	}
	/* A flight whose end this run did not see ended before it began:
	   with the upfs that sent it. */
	end_ms = s->create_ended_ms ? s->create_ended_ms : u->started_ms;
	if (end_ms < s->create_sent_ms)
		end_ms = s->create_sent_ms;
	return created >= s->create_sent_ms / 1000 + offset - margin &&
	       created <= end_ms / 1000 + 1 + offset + margin;
}

/*
 * A blank job of this share that no submission owns, or NULL: the oldest,
 * or with want (a configuration) the oldest of those made with it, if
 * any. Lost creates of documents with other options may be blank at the
 * same time; each should take its own.
 */
static json_t *find_blank_job(struct upfs *u, json_t *jobs,
			      const struct submission *s, const json_t *want)
{
	json_t *job, *best = NULL;
	bool best_same = false;
	size_t i;

	json_array_foreach(jobs, i, job) {
		json_t *doc = json_array_get(json_object_get(job, "documents"), 0);
		json_t *details = json_object_get(json_object_get(job, "status"),
						  "details");
		int64_t created = tree_parse_time(tree_str(job,
							   "createdDateTime"));

		if (strcmp(tree_str(json_object_get(job, "status"), "state"),
			   "paused") != 0 ||
		    !tree_has_string(details, "uploadPending") ||
		    json_integer_value(json_object_get(doc, "size")) != 0 ||
		    !create_window(u, s, created) ||
		    !created_by_me(u, job, true) ||
		    spool_owns_job(u, s->share_id, tree_str(job, "id")))
			continue;
		bool same = want && same_configuration(
			want, json_object_get(job, "configuration"));

		if (best == NULL || (same && !best_same) ||
		    (same == best_same &&
		     strtoull(tree_str(job, "id"), NULL, 10) <
			     strtoull(tree_str(best, "id"), NULL, 10))) {
			best = job;
			best_same = same;
		}
	}
	return best;
}

/* Keeps job (stolen; NULL is fine: the listing is then fetched again). */
static void replace_job(struct upfs *u, struct submission *s, json_t *job)
{
	json_t *old;

	pthread_mutex_lock(&u->spool_lock);
	old = s->job;
	s->job = job;
	pthread_mutex_unlock(&u->spool_lock);
	json_decref(old);
}

static int take_job(struct upfs *u, struct submission *s, const json_t *job)
{
	const json_t *doc = json_array_get(json_object_get(job, "documents"), 0);
	const char *upn = tree_str(json_object_get(job, "createdBy"),
				   "userPrincipalName");
	int rc = spool_set_job_id(u, s, tree_str(job, "id"));

	if (upn[0]) {
		pthread_mutex_lock(&u->spool_lock);
		snprintf(u->me_upn, sizeof(u->me_upn), "%s", upn);
		pthread_mutex_unlock(&u->spool_lock);
	}

	if (rc == 0)
		rc = replace_str(u, &s->doc_id, tree_str(doc, "id"));
	if (rc == 0 && (s->job_id == NULL || s->doc_id == NULL))
		rc = -EPROTO;
	if (rc == 0)
		replace_job(u, s, json_deep_copy(job));
	return rc ? rc : set_state(u, s, SUB_CREATED);
}

/*
 * Blank jobs of ours that no submission owns are what lost or repeated
 * creates left: libcurl re-sends a POST by itself when a reused connection
 * dies before the reply (graph_err.replayed), and a dropped reply leaves a
 * job we never heard of. This runs holding create_lock alone, so no other
 * submission of this mount has a create in flight: cancel them all.
 */
/*
 * Whether job id of s's share is, right now, waiting for its document
 * and its own GET says the signed-in user made it: 1 yes, 0 no, or a
 * negative errno when the service could not say (err).
 */
static int job_still_blank(struct upfs *u, const struct submission *s,
			   const char *id, struct graph_err *err)
{
	json_t *job = NULL, *doc, *details;
	struct buf path;
	int blank;

	buf_init(&path, 4096);
	blank = share_path(&path, s, "/jobs/");
	if (blank == 0)
		blank = graph_escape_segment(&path, id);
	if (blank == 0)
		blank = buf_append_str(&path, "?$expand=documents");
	if (blank == 0)
		blank = graph_get(u->graph, path.data, &job, err);
	if (blank == -ENOENT) {
		blank = 0;	/* gone: nobody's blank job */
	} else if (blank == 0) {
		doc = json_array_get(json_object_get(job, "documents"), 0);
		details = json_object_get(json_object_get(job, "status"),
					  "details");
		blank = strcmp(tree_str(json_object_get(job, "status"), "state"),
			       "paused") == 0 &&
			tree_has_string(details, "uploadPending") &&
			json_integer_value(json_object_get(doc, "size")) == 0 &&
			created_by_me(u, job, false);
	}
	json_decref(job);
	buf_release(&path);
	return blank;
}

static void array_remove_item(json_t *array, const json_t *item)
{
	for (size_t i = 0; i < json_array_size(array); i++)
		if (json_array_get(array, i) == item) {
			json_array_remove(array, i);
			return;
		}
}

static void cancel_orphans(struct upfs *u, struct submission *s, json_t *jobs)
{
	struct graph_err err = { 0 };
	json_t *orphan;

	while ((orphan = find_blank_job(u, jobs, s, NULL)) != NULL) {
		const char *id = tree_str(orphan, "id");

		/*
		 * The list may be old: a submission that owned this job may
		 * have finished since and let go of it. Only a job that is
		 * still blank now is nobody's (this holds create_lock
		 * alone).
		 */
		if (job_still_blank(u, s, id, &err) == 1) {
			upfs_log(u, UPFS_LOG_INFO, "'%s': cancelling job %s, left "
				 "blank by a create sent twice or whose reply "
				 "was lost", s->name, id);
			queue_cancel_job(u, s->share_id, id);
		}
		array_remove_item(jobs, orphan);
	}
}

static void cancel_replayed_creates(struct upfs *u, struct submission *s)
{
	struct graph_err err = { 0 };
	json_t *jobs = NULL;
	struct buf path;

	buf_init(&path, 4096);
	if (share_path(&path, s, TREE_JOBS_SUFFIX) == 0 &&
	    graph_list(u->graph, path.data, &jobs, NULL, &err) == 0)
		cancel_orphans(u, s, jobs);
	json_decref(jobs);
	buf_release(&path);
}

/* After a create whose reply was lost: adopt the job it made, if any. */
static int reconcile_create(struct upfs *u, struct submission *s,
			    bool *adopted)
{
	struct graph_err err = { 0 };
	json_t *jobs = NULL, *job, *want = submit_configuration(u, s);
	struct buf path;
	int rc;

	*adopted = false;
	buf_init(&path, 4096);
	rc = share_path(&path, s, TREE_JOBS_SUFFIX);
	if (rc == 0)
		rc = graph_list(u->graph, path.data, &jobs, NULL, &err);
	rc = submit_errno(rc, &err);
	if (rc) {
		note_error(u, s, rc, &err, "checking for a lost job create");
		goto out;
	}
	while ((job = find_blank_job(u, jobs, s, want)) != NULL) {
		/*
		 * The list may be old: the submission that owned a job in it
		 * may have uploaded, started and let go of it since. Adopt
		 * only a job still blank now; no new owner can appear
		 * meanwhile, as creates need create_lock. Not knowing is not
		 * "no": creating another then could print twice.
		 */
		int blank = job_still_blank(u, s, tree_str(job, "id"), &err);

		if (blank < 0) {
			rc = submit_errno(blank, &err);
			note_error(u, s, rc, &err, "checking for a lost job "
				   "create");
			break;
		}
		if (blank) {
			upfs_log(u, UPFS_LOG_INFO, "'%s': adopting job %s made "
				 "by a create whose reply was lost", s->name,
				 tree_str(job, "id"));
			rc = take_job(u, s, job);
			*adopted = rc == 0;
			break;
		}
		array_remove_item(jobs, job);
	}
	/* One blank job is ours now; any other is a repeated create's. */
	if (*adopted)
		cancel_orphans(u, s, jobs);
out:
	json_decref(want);
	json_decref(jobs);
	buf_release(&path);
	return rc;
}

static int step_create_locked(struct upfs *u, struct submission *s,
			      bool *replayed);

/*
 * Creates share create_lock; reconciling a lost create and cancelling
 * replayed ones hold it alone. While they do, no create is in flight
 * whose job exists but is not yet its submission's, so a blank job no
 * submission owns is a lost or repeated create's.
 */
static int step_create(struct upfs *u, struct submission *s)
{
	bool alone = s->state == SUB_CREATING, replayed = false;
	int rc;

	if (alone)
		pthread_rwlock_wrlock(&u->create_lock);
	else
		pthread_rwlock_rdlock(&u->create_lock);
	rc = step_create_locked(u, s, &replayed);
	if (replayed && !alone) {
		pthread_rwlock_unlock(&u->create_lock);
		pthread_rwlock_wrlock(&u->create_lock);
	}
	if (replayed)
		cancel_replayed_creates(u, s);
	pthread_rwlock_unlock(&u->create_lock);
	return rc;
}

/*
 * Records that a create goes now (set_state), with when and by which
 * clock offset. When that record cannot be written no create goes, and
 * the times of the one the record still names stay.
 */
static int note_create_sent(struct upfs *u, struct submission *s)
{
	int64_t sent = s->create_sent_ms, ended = s->create_ended_ms;
	int64_t offset = s->create_offset_s;
	bool known = s->create_offset_known;
	int rc;

	pthread_mutex_lock(&u->spool_lock);
	s->create_sent_ms = cache_now_ms();
	s->create_ended_ms = 0;
	s->create_offset_known = graph_service_clock_offset(
		u->graph, &s->create_offset_s) == 0;
	pthread_mutex_unlock(&u->spool_lock);
	rc = set_state(u, s, SUB_CREATING);
	if (rc) {
		pthread_mutex_lock(&u->spool_lock);
		s->create_sent_ms = sent;
		s->create_ended_ms = ended;
		s->create_offset_s = offset;
		s->create_offset_known = known;
		pthread_mutex_unlock(&u->spool_lock);
	}
	return rc;
}

static int step_create_locked(struct upfs *u, struct submission *s,
			      bool *replayed)
{
	struct graph_err err = { 0 };
	json_t *body = NULL, *job = NULL;
	struct buf path;
	bool adopted = false;
	int rc;

	if (s->state == SUB_CREATING) {
		rc = reconcile_create(u, s, &adopted);
		if (rc || adopted)
			return rc;
	} else {
		rc = check_content_type(u, s);
		if (rc)
			return rc;
	}
	rc = note_create_sent(u, s);
	if (rc)
		return rc;	/* nothing sent; set_state said why */
	buf_init(&path, 4096);
	rc = share_path(&path, s, "/jobs");
	body = json_pack("{s:o}", "configuration", submit_configuration(u, s));
	if (rc == 0 && body == NULL)
		rc = -ENOMEM;
	if (rc == 0) {
		rc = graph_request(u->graph, "POST", path.data, body, &job, &err);
		pthread_mutex_lock(&u->spool_lock);
		s->create_ended_ms = cache_now_ms();
		pthread_mutex_unlock(&u->spool_lock);
	}
	rc = submit_errno(rc, &err);
	if (rc == -ENOENT)
		rc = -EACCES;	/* no such share, as far as this user sees */
	if (rc)
		note_error(u, s, rc, &err, "creating the job");
	else
		rc = take_job(u, s, job);
	*replayed = rc == 0 && err.replayed;
	json_decref(job);
	json_decref(body);
	buf_release(&path);
	return rc;
}

static int step_session(struct upfs *u, struct submission *s)
{
	struct graph_err err = { 0 };
	json_t *body = NULL, *session = NULL;
	char *name;
	struct buf path;
	int rc;

	buf_init(&path, 4096);
	rc = job_path(&path, s, "/documents/");
	if (rc == 0)
		rc = graph_escape_segment(&path, s->doc_id);
	if (rc == 0)
		rc = buf_append_str(&path, "/createUploadSession");
	/* A file name is bytes, a document's name text. */
	name = utf8_lossy(s->name);
	if (name)
		body = json_pack("{s:{s:s, s:s, s:I}}", "properties",
				 "documentName", name, "contentType",
				 s->content_type, "size", (json_int_t)s->size);
	free(name);
	if (rc == 0 && body == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = graph_request(u->graph, "POST", path.data, body, &session,
				   &err);
	rc = submit_errno(rc, &err);
	if (rc)
		note_error(u, s, rc, &err, "opening the upload session");
	else if (json_string_value(json_object_get(session, "uploadUrl")) == NULL)
		rc = -EPROTO;
	if (rc == 0)
		rc = replace_str(u, &s->upload_url, json_string_value(
					 json_object_get(session, "uploadUrl")));
	if (rc == 0)
		rc = set_state(u, s, SUB_UPLOADING);
	json_decref(session);
	json_decref(body);
	buf_release(&path);
	return rc;
}

static void upload_progress(void *arg, uint64_t uploaded, uint64_t total)
{
	struct submission *s = arg;

	(void)total;
	__atomic_store_n(&s->uploaded, uploaded, __ATOMIC_RELAXED);
}

/*
 * Whether a job no longer waits for its document: the document's upload
 * time is set, or the job has left paused/uploadPending, a new job's
 * status (reference §9). Its size alone does not say: a service may fill
 * it in from createUploadSession's properties before any byte is in.
 */
static bool upload_done(const json_t *job, const json_t *doc)
{
	const json_t *status = json_object_get(job, "status");
	const char *at = json_string_value(json_object_get(doc,
							   "uploadedDateTime"));

	if (at && *at)
		return true;
	if (!json_is_object(status))
		return false;	/* says nothing: open a new session */
	return strcmp(tree_str(status, "state"), "paused") != 0 ||
	       !tree_has_string(json_object_get(status, "details"),
				"uploadPending");
}

/*
 * A session that is gone either expired or was completed by a PUT whose
 * 201 was lost: the job and its document say which.
 */
static int document_arrived(struct upfs *u, struct submission *s,
			    bool *arrived)
{
	struct graph_err err = { 0 };
	json_t *job = NULL, *doc;
	struct buf path;
	int rc;

	buf_init(&path, 4096);
	rc = job_path(&path, s, "?$expand=documents");
	if (rc == 0)
		rc = graph_get(u->graph, path.data, &job, &err);
	rc = submit_errno(rc, &err);
	if (rc)
		note_error(u, s, rc, &err, "checking the uploaded document");
	doc = json_array_get(json_object_get(job, "documents"), 0);
	*arrived = rc == 0 && (uint64_t)json_integer_value(
				      json_object_get(doc, "size")) == s->size &&
		   upload_done(job, doc);
	json_decref(job);
	buf_release(&path);
	return rc;
}

static int step_upload(struct upfs *u, struct submission *s, int *sessions)
{
	struct graph_err err = { 0 };
	bool arrived = false;
	int rc = spool_open_file(u, s);

	if (rc == 0)
		rc = graph_upload_document(u->graph, s->upload_url, s->fd,
					   s->size, upload_progress, s, NULL,
					   &err);
	if (rc && err.body_errno) {
		/*
		 * The spool file no longer gives back what close() was given
		 * (cut short, or unreadable): what it holds is not the
		 * document. Never started; the refusal cancels its job.
		 */
		pthread_mutex_lock(&u->spool_lock);
		s->bytes_unsure = true;
		s->last_errno = EIO;
		snprintf(s->last_error, sizeof(s->last_error), "its spool file "
			 "no longer holds the document (%.200s)", err.message);
		pthread_mutex_unlock(&u->spool_lock);
		return -EIO;
	}
	rc = submit_errno(rc, &err);
	if (rc == -ENOENT) {
		rc = document_arrived(u, s, &arrived);
		if (rc == 0 && arrived)
			return set_state(u, s, SUB_UPLOADED);
		if (rc)
			return rc;
		rc = -ENOENT;
	}
	if (rc == -ENOENT && ++*sessions <= SUBMIT_MAX_SESSIONS)
		/* The session expired or vanished: open a new one. */
		return set_state(u, s, SUB_CREATED);
	if (rc) {
		note_error(u, s, rc, &err, "uploading");
		return rc == -ENOENT ? -EAGAIN : rc;
	}
	return set_state(u, s, SUB_UPLOADED);
}

/*
 * Whether a job's status says it was started: a job not yet started is
 * paused with no detail but uploadPending (reference §9); a started one
 * held for release on a printer with a trigger is paused too, waiting
 * for release (releaseWait), and another start would be refused.
 */
static bool status_started(const json_t *status)
{
	const json_t *details = json_object_get(status, "details");
	const json_t *d;
	size_t i;

	if (strcmp(tree_str(status, "state"), "paused") != 0)
		return true;
	json_array_foreach(details, i, d)
		if (json_is_string(d) &&
		    strcmp(json_string_value(d), "uploadPending") != 0)
			return true;
	return false;
}

/* The job's state at the service, after a start whose reply was lost. */
static int job_started(struct upfs *u, struct submission *s, bool *started)
{
	struct graph_err err = { 0 };
	json_t *job = NULL;
	struct buf path;
	int rc;

	buf_init(&path, 4096);
	rc = job_path(&path, s, NULL);
	if (rc == 0)
		rc = graph_get(u->graph, path.data, &job, &err);
	rc = submit_errno(rc, &err);
	if (rc)
		note_error(u, s, rc, &err, "checking the job's state");
	else
		*started = status_started(json_object_get(job, "status"));
	json_decref(job);
	buf_release(&path);
	return rc;
}

/*
 * The job as the service holds it once started: its create reply with
 * the status start answered, and the document's bytes all uploaded. The
 * share's listing takes it without a fetch of every job (refresh_listings).
 */
static void job_started_with(struct upfs *u, struct submission *s,
			     const json_t *status)
{
	json_t *job = NULL, *doc;
	char now[UPFS_ISODATE_UTC_LEN];
	char *name = utf8_lossy(s->name);	/* as step_session sent it */

	pthread_mutex_lock(&u->spool_lock);
	if (s->job)
		job = json_deep_copy(s->job);
	pthread_mutex_unlock(&u->spool_lock);
	doc = json_array_get(json_object_get(job, "documents"), 0);
	if (job == NULL || !json_is_object(status) || !json_is_object(doc) ||
	    isodate_format_utc((int64_t)time(NULL), now) != 0 ||
	    json_object_set(job, "status", (json_t *)status) != 0 ||
	    json_object_set_new(doc, "size", json_integer((json_int_t)s->size))
		    != 0 ||
	    name == NULL ||
	    json_object_set_new(doc, "displayName", json_string(name)) != 0 ||
	    (s->content_type &&
	     json_object_set_new(doc, "contentType",
				 json_string(s->content_type)) != 0) ||
	    json_object_set_new(doc, "uploadedDateTime", json_string(now))
		    != 0) {
		json_decref(job);
		job = NULL;	/* not known well enough: fetched again */
	}
	free(name);
	replace_job(u, s, job);
}

static int step_start(struct upfs *u, struct submission *s)
{
	struct graph_err err = { 0 };
	json_t *status = NULL;
	struct buf path;
	bool started = false, earlier;
	int rc = 0, check;

	if (s->state == SUB_STARTING) {
		/* Whatever it is now, it is not the job this run was told
		   of: the listing is fetched again. */
		replace_job(u, s, NULL);
		rc = job_started(u, s, &started);
		/* Gone since (finished and purged, or canceled): its start
		   was sent; another would print it twice. */
		if (rc == -ENOENT) {
			rc = 0;
			started = true;
		}
		if (rc || started)
			return rc ? rc : set_state(u, s, SUB_DONE);
	}
	if (!s->bytes_flushed) {
		rc = spool_check_written(u, s, &s->bytes_unsure);
		if (s->bytes_unsure) {
			/* The refusal reports it (end_unprinted). */
			pthread_mutex_lock(&u->spool_lock);
			s->last_errno = EIO;
			snprintf(s->last_error, sizeof(s->last_error),
				 "the spool's disk failed to keep the document "
				 "(%s), so what was uploaded may not be it",
				 strerror(-rc));
			pthread_mutex_unlock(&u->spool_lock);
			return -EIO;
		}
		if (rc) {
			note_error(u, s, rc, NULL, "opening the spool file");
			return rc;
		}
	}
	earlier = s->start_maybe_sent;
	s->start_maybe_sent = true;	/* recorded before the start goes */
	rc = set_state(u, s, SUB_STARTING);
	if (rc) {
		s->start_maybe_sent = earlier;	/* it did not go */
		return rc;	/* set_state said why */
	}
	buf_init(&path, 4096);
	rc = job_path(&path, s, "/start");
	if (rc == 0)
		rc = graph_request(u->graph, "POST", path.data, NULL, &status,
				   &err);
	/* This one did not start it (no connection, a 429, a refusal),
	   nor may one before it have: the record says so. */
	if (rc && !graph_err_unsettled(&err) && !earlier) {
		s->start_maybe_sent = false;
		(void)spool_persist(u, s, false);
	}
	rc = submit_errno(rc, &err);
	if (rc == 0)
		job_started_with(u, s, status);
	if (rc == -EINVAL) {
		check = job_started(u, s, &started);
		if (check == 0 && started) {
			rc = 0;	/* started by an earlier attempt after all */
			replace_job(u, s, NULL);
		} else if (check == 0 && (earlier ||
					  graph_err_unsettled(&err))) {
			/*
			 * A start refused after one that may have reached the
			 * service (its reply lost, before this step or inside
			 * this request): the service took that one. A job held
			 * for release may still read paused without a detail
			 * that says so (the held state is not documented,
			 * reference §13): cancelling it would lose the
			 * document.
			 */
			upfs_log(u, UPFS_LOG_INFO, "'%s': job %s refused a "
				 "second start (%s): the first was taken",
				 s->name, s->job_id, err.message);
			rc = 0;
			replace_job(u, s, NULL);
		} else if (check == -ENOENT && (earlier ||
						graph_err_unsettled(&err))) {
			rc = 0;	/* taken, printed and purged since */
		} else if (check) {
			/* Not known whether it started: asked again later,
			   never refused (and its job cancelled) unknowing. */
			rc = -EAGAIN;
		}
	}
	if (rc)
		note_error(u, s, rc, &err, "starting the job");
	else
		rc = set_state(u, s, SUB_DONE);
	json_decref(status);
	buf_release(&path);
	return rc;
}

/* Cancels the half-made job of a refused submission, so none is left. */
static void cancel_job(struct upfs *u, struct submission *s)
{
	int rc;

	if (s->job_id == NULL)
		return;
	rc = queue_cancel_job(u, s->share_id, s->job_id);
	if (rc && rc != -ENOENT)	/* -ENOENT: gone already */
		upfs_log(u, UPFS_LOG_WARNING, "'%s': could not cancel the "
			 "half-made job %s: %s", s->name, s->job_id,
			 strerror(-rc));
}

/* The share's listing now holds the job: put in the started job this run
   knows, or (a refusal, a recovered job) fetch the listing again. */
static void refresh_listings(struct upfs *u, const struct submission *s)
{
	struct buf key;

	json_t *job;

	pthread_mutex_lock(&u->spool_lock);
	job = json_incref(s->job);
	pthread_mutex_unlock(&u->spool_lock);
	buf_init(&key, 4096);
	if (share_path(&key, s, TREE_JOBS_SUFFIX) == 0 &&
	    (s->state != SUB_DONE || job == NULL ||
	     res_list_upsert(u, key.data, job) != 0))
		res_expire(u, key.data);
	json_decref(job);
	buf_release(&key);
}

static int run_steps(struct upfs *u, struct submission *s)
{
	int sessions = 0;
	int rc = 0;

	/* The state its record failed to keep is recorded first (set_state). */
	if (s->record_behind)
		rc = set_state(u, s, s->state);
	while (rc == 0 && s->state != SUB_DONE) {
		switch (s->state) {
		case SUB_SPOOLED:
		case SUB_CREATING:
			rc = step_create(u, s);
			break;
		case SUB_CREATED:
			rc = step_session(u, s);
			break;
		case SUB_UPLOADING:
			rc = step_upload(u, s, &sessions);
			break;
		case SUB_UPLOADED:
		case SUB_STARTING:
			rc = step_start(u, s);
			break;
		default:
			rc = -EINVAL;
		}
	}
	return rc;
}

static int64_t backoff_ms(int attempts)
{
	int64_t ms = 1000LL << (attempts < 8 ? attempts : 8);

	if (ms > 300000)
		ms = 300000;
	return ms / 2 + rand() % (ms / 2 + 1);
}

/* A document that waits keeps no reused file's tail on disk meanwhile. */
static void cut_to_document(struct submission *s)
{
	struct stat st;

	if (s->fd >= 0 && fstat(s->fd, &st) == 0 &&
	    (uint64_t)st.st_size > s->size)
		(void)ftruncate(s->fd, (off_t)s->size);	/* space only */
}

/* Ends s without a print: why goes to the log and .upfs/status. */
static int end_unprinted(struct upfs *u, struct submission *s, int rc)
{
	char what[300];

	snprintf(what, sizeof(what), "'%s'", s->name);
	health_refusal(u, what, s->last_error[0] ? s->last_error
						  : strerror(-rc));
	refresh_listings(u, s);
	spool_remove(u, s);
	return rc;
}

/* A refusal leaves no half-made job behind. */
static int refuse(struct upfs *u, struct submission *s, int rc)
{
	cancel_job(u, s);
	return end_unprinted(u, s, rc);
}

/*
 * Under spool_lock (the gate's lock, taken inside it, takes no other):
 * tried again after a back-off, or, while the service's Retry-After holds
 * the client's requests, when that ends if later: not minutes after it.
 */
static void retry_later(struct upfs *u, struct submission *s, int rc)
{
	int64_t gate_ms = (int64_t)graph_throttled_for_s(u->graph) * 1000;
	int64_t wait_ms = backoff_ms(s->attempts + 1);

	s->attempts++;
	s->last_errno = -rc;
	if (s->last_error[0] == '\0')
		snprintf(s->last_error, sizeof(s->last_error), "%s",
			 strerror(-rc));
	if (gate_ms > 0 && gate_ms + 1000 > wait_ms)
		wait_ms = gate_ms + rand() % 1000;
	s->next_try_ms = cache_now_ms() + wait_ms;
}

/*
 * A record an earlier boot left before the document's bytes were on disk
 * (its close() had not returned): nothing of it is sent. Its job, looked
 * for again if the create's reply was never recorded, is cancelled; the
 * record stays until that is done (or the job is gone).
 */
static int drop_lost(struct upfs *u, struct submission *s)
{
	bool adopted = false;
	int rc = 0;

	if (s->job_id == NULL && s->state == SUB_CREATING) {
		pthread_rwlock_wrlock(&u->create_lock);
		rc = reconcile_create(u, s, &adopted);
		pthread_rwlock_unlock(&u->create_lock);
	}
	if (rc == 0 && s->job_id)
		rc = queue_cancel_job(u, s->share_id, s->job_id);
	if (rc && !submit_err_is_permanent(rc)) {
		pthread_mutex_lock(&u->spool_lock);
		snprintf(s->last_error, sizeof(s->last_error), "cancelling the "
			 "job of a document the system lost: %s", strerror(-rc));
		retry_later(u, s, rc);
		pthread_mutex_unlock(&u->spool_lock);
		return 1;
	}
	snprintf(s->last_error, sizeof(s->last_error), "the system stopped "
		 "before its bytes were on disk, and before its close() "
		 "returned");
	return end_unprinted(u, s, -EIO);
}

int submit_run(struct upfs *u, struct submission *s)
{
	int rc;
	int saved;

	if (s->bytes_lost)
		return u->opts.offline ? 1 : drop_lost(u, s);
	rc = u->opts.offline ? -ENETDOWN : run_steps(u, s);
	if (rc == -ECANCELED)
		return rc;	/* removed while it ran */

	if (rc == 0) {
		upfs_log(u, UPFS_LOG_INFO, "'%s': job %s started", s->name,
			 s->job_id);
		refresh_listings(u, s);
		spool_remove(u, s);
		return 0;
	}
	if (submit_err_is_permanent(rc) || s->bytes_unsure)
		return refuse(u, s, rc);
	pthread_mutex_lock(&u->spool_lock);
	retry_later(u, s, rc);
	pthread_mutex_unlock(&u->spool_lock);
	cut_to_document(s);
	/* close() returns 0 for it now: on disk before that. */
	saved = spool_promise(u, s);
	if (saved && !s->record_kept) {
		/* No record, or one that needs this boot's page cache: it
		   was never handed over, nothing it says may be sent. */
		snprintf(s->last_error, sizeof(s->last_error), "it could not "
			 "be kept in the spool: %s", strerror(-saved));
		return refuse(u, s, saved);
	}
	/* If an older record stays, only when to try again is lost. */
	upfs_log(u, UPFS_LOG_INFO, "'%s' waits in the spool: %s", s->name,
		 s->last_error);
	return 1;
}

json_t *submit_configuration(struct upfs *u, const struct submission *s)
{
	/* Every member is nullable: no options means the printer's defaults. */
	json_t *config = editfile_share_configuration(u, s->share_id);

	queue_options_apply(u, s, config);	/* the document's own win */
	return config;
}

int submit_prepare(struct upfs *u, struct submission *s)
{
	unsigned char head[UPFS_SNIFF_BYTES];
	const char *type;
	uint64_t size;
	ssize_t got;
	int rc = spool_open_file(u, s);

	if (rc)
		return rc;
	/* Handed over: no write may change the size after this. */
	pthread_mutex_lock(&s->io_lock);
	pthread_mutex_lock(&u->spool_lock);
	size = s->size;
	s->state = SUB_SPOOLED;
	pthread_mutex_unlock(&u->spool_lock);
	pthread_mutex_unlock(&s->io_lock);
	if (size == 0) {
		snprintf(s->last_error, sizeof(s->last_error),
			 "an empty file is not printed");
		return -EINVAL;
	}
	if (size > UPFS_MAX_DOCUMENT)
		return -EFBIG;
	/* Flushed only when a durable record needs it (spool_persist): a
	   job started in close() never does, and kill -9 leaves the bytes
	   in the page cache. Without a boot id, flushed now. */
	if (u->boot_id[0] == '\0') {
		rc = spool_flush(u, s);
		if (rc)
			return rc;
	}
	/* The document is the file's first size bytes (spool.c reuses files). */
	got = pread(s->fd, head, size < sizeof(head) ? (size_t)size
						     : sizeof(head), 0);
	if (got < 0)
		return -errno;
	type = sniff_content_type(head, (size_t)got);
	/* A ZIP package: XPS or OpenXPS as its parts declare, not as its
	   part names in the head suggest. */
	if (got >= 4 && memcmp(head, "PK\x03\x04", 4) == 0) {
		const char *declared = sniff_zip_package(s->fd, size, &rc);

		if (rc)
			return rc;
		if (declared)
			type = declared;
	}
	if (type == NULL) {
		snprintf(s->last_error, sizeof(s->last_error),
			 "not a document format Universal Print prints "
			 "(PDF, XPS, OXPS, PWG raster, JPEG, PNG)");
		return -EINVAL;
	}
	rc = replace_str(u, &s->content_type, type);
	if (rc)
		return rc;
	pthread_mutex_lock(&u->spool_lock);
	s->dirty = false;
	s->last_errno = 0;
	s->last_error[0] = '\0';
	s->next_try_ms = 0;
	pthread_mutex_unlock(&u->spool_lock);
	return set_state(u, s, SUB_SPOOLED);
}

static bool is_waiting(const struct submission *s)
{
	return s->state >= SUB_SPOOLED && s->state < SUB_DONE && !s->busy &&
	       !s->removed;
}

void submit_claim(struct upfs *u, struct submission *s)
{
	pthread_mutex_lock(&u->spool_lock);
	u->spool_claimers++;
	while (s->busy)
		pthread_cond_wait(&u->spool_cond, &u->spool_lock);
	u->spool_claimers--;
	s->busy = true;
	pthread_mutex_unlock(&u->spool_lock);
}

void submit_release(struct upfs *u, struct submission *s)
{
	pthread_mutex_lock(&u->spool_lock);
	s->busy = false;
	/* Most documents leave started: waking the submitter for each, to
	   find nothing due, cost a thread switch per document. */
	if (u->spool_claimers || is_waiting(s))
		pthread_cond_broadcast(&u->spool_cond);
	pthread_mutex_unlock(&u->spool_lock);
}

void submit_kick(struct upfs *u)
{
	pthread_mutex_lock(&u->spool_lock);
	pthread_cond_broadcast(&u->spool_cond);
	pthread_mutex_unlock(&u->spool_lock);
}

/* Under spool_lock: the next due submission, claimed, or NULL. */
static struct submission *next_due(struct upfs *u, int64_t *wake_ms)
{
	int64_t now = cache_now_ms();

	*wake_ms = now + 30000;
	for (struct submission *s = u->submissions; s; s = s->next) {
		if (!is_waiting(s))
			continue;
		if (s->next_try_ms <= now) {
			s->busy = true;
			s->refs++;
			return s;
		}
		if (s->next_try_ms < *wake_ms)
			*wake_ms = s->next_try_ms;
	}
	return NULL;
}

static void *submitter_main(void *arg)
{
	struct upfs *u = arg;

	/* Here, not before the mount is ready: it waits on the service. */
	if (!u->opts.offline)
		perms_recover(u);
	pthread_mutex_lock(&u->spool_lock);
	while (!atomic_load(&u->stopping)) {
		int64_t wake_ms;
		struct submission *s = u->opts.offline ? NULL
						       : next_due(u, &wake_ms);
		struct timespec ts;

		if (s == NULL) {
			if (u->opts.offline)
				wake_ms = cache_now_ms() + 30000;
			ts.tv_sec = wake_ms / 1000;
			ts.tv_nsec = (wake_ms % 1000) * 1000000;
			pthread_cond_timedwait(&u->spool_cond, &u->spool_lock,
					       &ts);
			continue;
		}
		pthread_mutex_unlock(&u->spool_lock);
		submit_run(u, s);
		submit_release(u, s);
		spool_put(u, s);
		pthread_mutex_lock(&u->spool_lock);
	}
	pthread_mutex_unlock(&u->spool_lock);
	return NULL;
}

int submit_start(struct upfs *u)
{
	int rc = pthread_create(&u->submitter, NULL, submitter_main, u);

	if (rc)
		return -rc;
	u->submitter_started = true;
	return 0;
}

void submit_stop(struct upfs *u)
{
	if (!u->submitter_started)
		return;
	atomic_store(&u->stopping, true);
	submit_kick(u);
	pthread_join(u->submitter, NULL);
	u->submitter_started = false;
}
