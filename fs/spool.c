/*
 * spool.c — the submission table, its outbox records and spool files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "hash.h"
#include "names.h"
#include "spool.h"
#include "unflushed.h"
#include "utf8.h"

static const char *const state_names[] = {
	[SUB_WRITING] = "writing",	[SUB_LOCAL] = "local",
	[SUB_SPOOLED] = "spooled",	[SUB_CREATING] = "creating",
	[SUB_CREATED] = "created",	[SUB_UPLOADING] = "uploading",
	[SUB_UPLOADED] = "uploaded",	[SUB_STARTING] = "starting",
	[SUB_DONE] = "done",
};

const char *spool_state_name(enum sub_state state)
{
	return (unsigned)state <= SUB_DONE ? state_names[state] : "unknown";
}

bool spool_is_writable(const struct submission *s)
{
	return s->state == SUB_WRITING || s->state == SUB_LOCAL;
}

static enum sub_state state_parse(const char *name)
{
	for (unsigned i = SUB_SPOOLED; i <= SUB_DONE; i++)
		if (name && strcmp(name, state_names[i]) == 0)
			return (enum sub_state)i;
	/* An unreadable state is retried from the start, reconciling. */
	return SUB_CREATING;
}

static struct submission *submission_new(void)
{
	struct submission *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->fd = -1;
	pthread_mutex_init(&s->persist_lock, NULL);
	pthread_mutex_init(&s->io_lock, NULL);
	return s;
}

static void submission_free(struct submission *s)
{
	if (s->fd >= 0)
		close(s->fd);
	pthread_mutex_destroy(&s->persist_lock);
	pthread_mutex_destroy(&s->io_lock);
	free(s->share_id);
	free(s->name);
	free(s->content_type);
	free(s->job_id);
	free(s->doc_id);
	free(s->upload_url);
	free(s->options);
	json_decref(s->job);
	free(s);
}

static void spool_path(const struct upfs *u, const struct submission *s,
		       char *out, size_t len)
{
	snprintf(out, len, "%s/%s", u->spool_dir, s->id);
}

/*
 * A printed document's spool file is kept and the next document is
 * written over it instead of into a new file. A big one (.reuse): page
 * cache that is already the spool's costs a copy, fresh page cache costs
 * that and more — on a VM that gives freed memory back to its host (free
 * page reporting), first touching a page cost five times the copy into
 * it. Small ones (.reuse.0 to .reuse.7): making a file on ext4 scans the
 * inode bitmap past every inode freed in the last few seconds, which a
 * file made and removed per document fills (perf: an eighth of the
 * daemon's CPU for 10 KB documents). A document is the first s->size
 * bytes of its file, so a small one hands a big file back whole; past
 * REUSE_MAX the file is cut, to bound the disk kept.
 */
#define REUSE_MIN ((uint64_t)1 << 20)
#define REUSE_MAX ((uint64_t)256 << 20)
#define REUSE_SMALL 8

/* Slot -1 is the big file's, 0 to REUSE_SMALL - 1 the small ones'. */
static void reuse_path(const struct upfs *u, int slot, char *out, size_t len)
{
	if (slot < 0)
		snprintf(out, len, "%s/.reuse", u->spool_dir);
	else
		snprintf(out, len, "%s/.reuse.%d", u->spool_dir, slot);
}

/* A kept file (the big one first) under path, opened, or -1. */
static int reuse_take(const struct upfs *u, const char *path)
{
	char from[4200];
	int fd;

	for (int slot = -1; slot < REUSE_SMALL; slot++) {
		reuse_path(u, slot, from, sizeof(from));
		if (renameat2(AT_FDCWD, from, AT_FDCWD, path,
			      RENAME_NOREPLACE) != 0)
			continue;
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			unlink(path);
		return fd;
	}
	return -1;
}

/*
 * Whether the disk has room to spare for keeping size bytes: four times
 * that free. A spool short of space (a write failed) keeps nothing: the
 * outbox and the next document need it more.
 */
static bool reuse_has_room(const struct upfs *u, bool write_failed,
			   uint64_t size)
{
	struct statvfs vfs;

	return !write_failed && statvfs(u->spool_dir, &vfs) == 0 &&
	       (uint64_t)vfs.f_bavail * vfs.f_frsize / 4 >= size;
}

/* A free small slot's name for path's file, in to; false when none is. */
static bool reuse_give_small(const struct upfs *u, const char *path,
			     char *to, size_t len)
{
	for (int slot = 0; slot < REUSE_SMALL; slot++) {
		reuse_path(u, slot, to, len);
		if (renameat2(AT_FDCWD, path, AT_FDCWD, to,
			      RENAME_NOREPLACE) == 0)
			return true;
		if (errno != EEXIST)
			break;
	}
	return false;
}

/* Keeps s's spool file (at path) for reuse if there is room; else removes
   it. A big one replaces the big one kept. */
static void reuse_give(const struct upfs *u, const struct submission *s,
		       const char *path, bool write_failed)
{
	struct stat st;
	char to[4200];

	if ((s->fd >= 0 ? fstat(s->fd, &st) : stat(path, &st)) != 0 ||
	    ((uint64_t)st.st_size > REUSE_MAX &&
	     truncate(path, (off_t)REUSE_MAX) != 0) ||
	    !reuse_has_room(u, write_failed, (uint64_t)st.st_size)) {
		unlink(path);
		return;
	}
	if ((uint64_t)st.st_size < REUSE_MIN) {
		if (!reuse_give_small(u, path, to, sizeof(to)))
			unlink(path);
		return;
	}
	reuse_path(u, -1, to, sizeof(to));
	if (rename(path, to) != 0)
		unlink(path);
}

/* Under spool_lock. */
static void table_add(struct upfs *u, struct submission *s)
{
	s->refs++;
	s->next = u->submissions;
	u->submissions = s;
}

static char *dup_or_null(const char *s)
{
	return s && s[0] ? strdup(s) : NULL;
}

/*
 * Hex of a name that is not UTF-8, which JSON text cannot hold (NULL for
 * one that is, or without memory: record_encode then fails).
 */
static char *name_hex(const char *name, bool *fail)
{
	size_t n = strlen(name);
	char *out;

	*fail = false;
	if (utf8_valid(name, n))
		return NULL;
	out = malloc(2 * n + 1);
	*fail = out == NULL;
	for (size_t i = 0; out && i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", (unsigned char)name[i]);
	return out;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
				      : -1;
}

/* name_hex's text back, or NULL when it is not such (then the record's
   name, shown, is used) or without memory. */
static char *name_unhex(const char *hex)
{
	size_t n = strlen(hex) / 2;
	char *out = strlen(hex) % 2 ? NULL : malloc(n + 1);

	for (size_t i = 0; out && i < n; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0 || (hi | lo) == 0 ||
		    hi * 16 + lo == '/') {
			free(out);
			out = NULL;
		} else {
			out[i] = (char)(hi * 16 + lo);
		}
	}
	if (out)
		out[n] = '\0';
	return out;
}

static json_t *record_pack(const struct upfs *u, const struct submission *s,
			   const char *name, const char *hex,
			   const char *last_error)
{
	/* In STARTING, whether the start may have reached the service: a
	   record read back without it (an older one) says it may. */
	json_t *maybe = s->state == SUB_STARTING
				? json_boolean(s->start_maybe_sent)
				: NULL;
	json_t *offset = s->create_offset_known
				 ? json_integer(s->create_offset_s)
				 : NULL;

	return json_pack("{s:s, s:s, s:s*, s:s, s:I, s:s?, s:s?, s:s?, s:s?, "
			 "s:i, s:I, s:I, s:I, s:o*, s:i, s:s, s:s?, s:s*, "
			 "s:O*, s:o*}",
			 "share", s->share_id, "name", name, "nameHex", hex,
			 "state", spool_state_name(s->state),
			 "size", (json_int_t)s->size,
			 "contentType", s->content_type, "job", s->job_id,
			 "document", s->doc_id, "uploadUrl", s->upload_url,
			 "attempts", s->attempts,
			 "created", (json_int_t)s->created_ms,
			 "createSent", (json_int_t)s->create_sent_ms,
			 "createEnded", (json_int_t)s->create_ended_ms,
			 "createClockOffset", offset,
			 "lastErrno", s->last_errno,
			 "lastError", last_error, "options", s->options,
			 "unflushedBoot", s->bytes_flushed ? NULL : u->boot_id,
			 "bytesLost", s->bytes_lost ? json_true() : NULL,
			 "startMaybeSent", maybe);
}

/*
 * The outbox record: everything needed to carry on after a restart. A
 * name that is not UTF-8 is kept exact in nameHex, shown in name; the
 * last error, which may be cut inside a character, is only shown.
 */
static json_t *record_encode(const struct upfs *u, const struct submission *s)
{
	bool fail;
	char *hex = name_hex(s->name, &fail);
	char *shown = hex ? utf8_lossy(s->name) : NULL;
	char *error = utf8_lossy(s->last_error);
	json_t *r = NULL;

	if (!fail && (hex == NULL || shown) && error)
		r = record_pack(u, s, shown ? shown : s->name, hex, error);
	free(hex);
	free(shown);
	free(error);
	return r;
}

static struct submission *record_decode(const struct upfs *u, const char *id,
					 const json_t *r)
{
	const char *boot = json_string_value(json_object_get(r,
							     "unflushedBoot"));
	struct submission *s = submission_new();
	const char *hex;

	if (s == NULL)
		return NULL;
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->on_disk = true;	/* read from its record */
	s->bytes_flushed = boot == NULL;
	s->share_id = dup_or_null(json_string_value(json_object_get(r, "share")));
	hex = json_string_value(json_object_get(r, "nameHex"));
	s->name = hex ? name_unhex(hex) : NULL;
	if (s->name == NULL)
		s->name = dup_or_null(json_string_value(json_object_get(r,
									 "name")));
	s->state = state_parse(json_string_value(json_object_get(r, "state")));
	s->start_maybe_sent =
		json_is_boolean(json_object_get(r, "startMaybeSent"))
			? json_is_true(json_object_get(r, "startMaybeSent"))
			: s->state == SUB_STARTING;
	/* From UPLOADED on, the service has every byte. Once lost, always:
	   its record names this boot from now on. */
	s->bytes_lost = json_is_true(json_object_get(r, "bytesLost")) ||
			(boot && s->state < SUB_UPLOADED &&
			 strcmp(boot, u->boot_id) != 0);
	s->record_kept = !s->bytes_lost &&
			 (s->bytes_flushed || s->state >= SUB_UPLOADED);
	s->size = (uint64_t)json_integer_value(json_object_get(r, "size"));
	s->content_type = dup_or_null(json_string_value(
		json_object_get(r, "contentType")));
	s->job_id = dup_or_null(json_string_value(json_object_get(r, "job")));
	s->doc_id = dup_or_null(json_string_value(
		json_object_get(r, "document")));
	s->upload_url = dup_or_null(json_string_value(
		json_object_get(r, "uploadUrl")));
	s->options = dup_or_null(json_string_value(
		json_object_get(r, "options")));
	s->attempts = (int)json_integer_value(json_object_get(r, "attempts"));
	s->created_ms = json_integer_value(json_object_get(r, "created"));
	s->create_sent_ms = json_integer_value(json_object_get(r,
							       "createSent"));
	s->create_ended_ms = json_integer_value(json_object_get(r,
								"createEnded"));
	s->create_offset_known = json_is_integer(json_object_get(
		r, "createClockOffset"));
	s->create_offset_s = json_integer_value(json_object_get(
		r, "createClockOffset"));
	s->last_errno = (int)json_integer_value(json_object_get(r, "lastErrno"));
	if (json_string_value(json_object_get(r, "lastError")))
		snprintf(s->last_error, sizeof(s->last_error), "%s",
			 json_string_value(json_object_get(r, "lastError")));
	if (s->share_id == NULL || s->name == NULL) {
		submission_free(s);
		return NULL;
	}
	return s;
}

/*
 * The spool folder, so that the file's name is on disk too: a file made,
 * or renamed in from a kept one (.reuse), is found after a crash of the
 * machine only once its folder's entry is (fsync(2): "an explicit fsync()
 * on a file descriptor for the directory is also needed").
 */
static int flush_spool_dir(struct upfs *u)
{
	int fd = open(u->spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int spool_flush(struct upfs *u, struct submission *s)
{
	int rc = spool_open_file(u, s);

	if (rc == 0 && fsync(s->fd) != 0)
		rc = -errno;
	if (rc == 0)
		rc = flush_spool_dir(u);
	if (rc == 0)
		s->bytes_flushed = true;
	return rc;
}

/*
 * A write-back that failed leaves clean pages the kernel may drop, and a
 * read after that gets what the disk holds: an upload of bytes never
 * flushed could have sent that. The failure stays on the file for each
 * descriptor open before it (and the first opened after, if no one saw
 * it); waiting on the range reports it without writing anything back.
 */
int spool_check_written(struct upfs *u, struct submission *s, bool *failed)
{
	int rc = spool_open_file(u, s);

	*failed = false;
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	pthread_mutex_lock(&u->spool_lock);
	rc = s->wb_error;
	pthread_mutex_unlock(&u->spool_lock);
	if (rc == 0 && sync_file_range(s->fd, 0, 0,
				       SYNC_FILE_RANGE_WAIT_BEFORE) != 0)
		rc = -errno;
	*failed = rc != 0;
	return rc;
}

/*
 * spool_persist's, or with promise spool_promise's: the record goes to
 * the outbox from now on, and its copy in the unflushed log goes.
 */
static int record_write(struct upfs *u, struct submission *s, bool durable,
			bool promise)
{
	bool to_outbox = promise || s->promised || u->unflushed == NULL;
	json_t *r;
	char *text = NULL;
	bool removed;
	int rc = 0;

	/* A durable record whose recovery reads the spool file. */
	if (to_outbox && durable && !s->bytes_flushed &&
	    s->state < SUB_UPLOADED) {
		rc = spool_flush(u, s);
		if (rc)
			return rc;
	}
	pthread_mutex_lock(&s->persist_lock);
	pthread_mutex_lock(&u->spool_lock);
	removed = s->removed;
	r = removed ? NULL : record_encode(u, s);
	text = r ? json_dumps(r, JSON_COMPACT) : NULL;
	pthread_mutex_unlock(&u->spool_lock);
	/* A removed submission's record is gone for good: never bring it
	   back. */
	if (removed) {
		goto out;
	} else if (text == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	/* Before the put: one that fails may have landed all the same (a
	   commit whose flush failed), and spool_remove must delete it. */
	s->in_outbox |= to_outbox;
	s->in_unflushed |= !to_outbox;
	if (!to_outbox)
		rc = unflushed_put(u->unflushed, s->id, text);
	else
		rc = (durable ? cache_put_durable : cache_put)(
			u->cache, UPFS_CACHE_OUTBOX, s->id, text, strlen(text),
			cache_now_ms());
	if (rc)
		goto out;
	/* The outbox's record is the newer: a copy left behind by a crash
	   right here is dropped at the next mount. */
	if (to_outbox && s->in_unflushed &&
	    unflushed_del(u->unflushed, s->id) == 0)
		s->in_unflushed = false;
	pthread_mutex_lock(&u->spool_lock);
	s->on_disk = true;
	if (to_outbox && durable)
		s->record_kept = s->bytes_flushed || s->state >= SUB_UPLOADED;
	pthread_mutex_unlock(&u->spool_lock);
	if (promise)
		s->promised = true;
out:
	pthread_mutex_unlock(&s->persist_lock);
	free(text);
	json_decref(r);
	return rc;
}

int spool_persist(struct upfs *u, struct submission *s, bool durable)
{
	return record_write(u, s, durable, false);
}

int spool_promise(struct upfs *u, struct submission *s)
{
	return record_write(u, s, true, true);
}

/* Deletes a record the load cannot use from where it was read. */
static void record_drop(struct upfs *u, bool outbox, const char *id)
{
	if (outbox)
		cache_del(u->cache, UPFS_CACHE_OUTBOX, id);
	else
		unflushed_del(u->unflushed, id);
}

/* One record left by an earlier run, read from the outbox or the
   unflushed log, back into the table. */
static void spool_load_one(struct upfs *u, bool outbox, const char *id,
			   const char *data, size_t len)
{
	struct submission *s = NULL;
	json_t *r = json_loadb(data, len, 0, NULL);
	char path[4200];

	if (r)
		s = record_decode(u, id, r);
	json_decref(r);
	if (s == NULL) {
		upfs_log(u, UPFS_LOG_WARNING, "record '%s' of the %s is "
			 "unreadable: dropped", id,
			 outbox ? "outbox" : "unflushed log");
		record_drop(u, outbox, id);
		return;
	}
	spool_path(u, s, path, sizeof(path));
	/* A lost document's file is never read; its job is still cancelled. */
	if (access(path, R_OK) != 0 && s->state < SUB_UPLOADED &&
	    !s->bytes_lost) {
		upfs_log(u, UPFS_LOG_WARNING, "spool file of '%s' is missing: "
			 "'%s' cannot be sent", id, s->name);
		record_drop(u, outbox, id);
		submission_free(s);
		return;
	}
	s->in_outbox = outbox;
	s->in_unflushed = !outbox;
	s->promised = outbox;
	/* Only this boot reads the unflushed log: nothing there outlives a
	   system crash. */
	if (!outbox)
		s->record_kept = false;
	pthread_mutex_lock(&u->spool_lock);
	table_add(u, s);
	pthread_mutex_unlock(&u->spool_lock);
	upfs_log(u, UPFS_LOG_INFO, "resuming '%s' (%s) from the spool", s->name,
		 spool_state_name(s->state));
}

/* The records of the outbox's keys[0..n), back into the table. */
static void outbox_load(struct upfs *u, char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct cache_entry e = { 0 };

		if (cache_get(u->cache, UPFS_CACHE_OUTBOX, keys[i], &e) == 0)
			spool_load_one(u, true, keys[i], e.data, e.len);
		cache_entry_release(&e);
	}
}

static bool key_listed(char **keys, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i], id) == 0)
			return true;
	return false;
}

/*
 * A record in both stores moved to the outbox and was killed before its
 * copy here went: the outbox's is the newer, even unreadable. The copy is
 * dropped now, or with the submission.
 */
static void unflushed_drop_copy(struct upfs *u, const char *id)
{
	struct submission *s;

	if (unflushed_del(u->unflushed, id) == 0)
		return;
	s = spool_get(u, id);
	if (s)
		s->in_unflushed = true;
	spool_put(u, s);
}

/*
 * Two mounts on one spool would each resume the other's documents (and
 * print them twice) and sweep away the other's half-written files.
 */
static int spool_lock(struct upfs *u)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/.lock", u->spool_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;

		if (rc == -EBUSY)
			upfs_log(u, UPFS_LOG_ERROR, "cache_dir '%s' is in use "
				 "by another upfs", u->opts.cache_dir);
		close(fd);
		return rc;
	}
	u->spool_lock_fd = fd;
	return 0;
}

/*
 * Spool files without a record were never handed over: an earlier upfs
 * died while they were written, or before the first record of their
 * submission (their close() failed). Nothing will send them.
 */
static void spool_sweep(struct upfs *u)
{
	DIR *d = opendir(u->spool_dir);
	struct dirent *e;
	struct submission *s;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		for (s = u->submissions; s; s = s->next)
			if (strcmp(s->id, e->d_name) == 0)
				break;
		if (s == NULL && unlinkat(dirfd(d), e->d_name, 0) == 0)
			upfs_log(u, UPFS_LOG_INFO, "removed spool file '%s': "
				 "its document was never handed over",
				 e->d_name);
	}
	closedir(d);
}

/* This boot's id, or "" when the kernel does not say (then every spool
   file is flushed at once). */
static void boot_id_read(struct upfs *u)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	u->boot_id[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(u->boot_id, sizeof(u->boot_id), f) == NULL)
		u->boot_id[0] = '\0';
	u->boot_id[strcspn(u->boot_id, "\n")] = '\0';
	fclose(f);
}

/* Says at mount what the unflushed log held that could not be used. */
static void unflushed_report(struct upfs *u, const char *dir,
			     const struct unflushed_found *found)
{
	if (found->other_boot)
		upfs_log(u, UPFS_LOG_INFO, "'%s' was another boot's: dropped "
			 "unread (records of documents whose close() had not "
			 "returned)", dir);
	if (found->bad_lines)
		upfs_log(u, UPFS_LOG_WARNING, "'%s': %zu lines could not be "
			 "read: all of it dropped (any record may be lost)",
			 dir, found->bad_lines);
	if (found->torn_tail)
		upfs_log(u, UPFS_LOG_INFO, "'%s': a last line cut short: "
			 "dropped", dir);
}

/*
 * Opens the unflushed log (unflushed.h) and puts its submissions back.
 * Nothing in it was promised, and a mount that cannot read it must still
 * start: it is emptied then, and without it records go to the outbox.
 */
static void unflushed_load(struct upfs *u, char **outbox_keys,
			   size_t n_keys)
{
	struct unflushed_record *recs = NULL;
	struct unflushed_found found;
	char dir[4200];
	size_t n = 0;
	int rc;

	if (u->boot_id[0] == '\0')
		return;	/* every spool file is flushed at once */
	rc = snprintf(dir, sizeof(dir), "%s/.unflushed", u->spool_dir);
	rc = rc > 0 && (size_t)rc < sizeof(dir) ? 0 : -ENAMETOOLONG;
	if (rc == 0)
		rc = unflushed_open(&u->unflushed, dir, u->boot_id, &recs, &n,
				    &found);
	if (rc && rc != -ENAMETOOLONG && rc != -ENOTDIR) {
		upfs_log(u, UPFS_LOG_WARNING, "'%s': %s: its records are "
			 "dropped", dir, strerror(-rc));
		rc = unflushed_reset(dir, u->boot_id);
		if (rc == 0)
			rc = unflushed_open(&u->unflushed, dir, u->boot_id,
					    &recs, &n, &found);
	}
	if (rc) {
		upfs_log(u, UPFS_LOG_WARNING, "'%s': %s: every record of the "
			 "spool is flushed", dir, strerror(-rc));
		u->unflushed = NULL;
		return;
	}
	unflushed_report(u, dir, &found);
	for (size_t i = 0; i < n; i++) {
		if (key_listed(outbox_keys, n_keys, recs[i].id))
			unflushed_drop_copy(u, recs[i].id);
		else
			spool_load_one(u, false, recs[i].id, recs[i].text,
				       strlen(recs[i].text));
	}
	unflushed_records_free(recs, n);
}

int spool_init(struct upfs *u)
{
	char **keys = NULL;
	size_t n = 0;
	int rc;

	boot_id_read(u);
	snprintf(u->spool_dir, sizeof(u->spool_dir), "%s/spool",
		 u->opts.cache_dir);
	if (mkdir(u->spool_dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	rc = spool_lock(u);
	if (rc == 0)
		rc = cache_keys(u->cache, UPFS_CACHE_OUTBOX, &keys, &n);
	if (rc == 0) {
		outbox_load(u, keys, n);
		unflushed_load(u, keys, n);
		spool_sweep(u);
	}
	cache_keys_free(keys, n);
	return rc;
}

void spool_release(struct upfs *u)
{
	struct submission *s = u->submissions, *next;
	char path[4200];

	/* An unmounted spool keeps no disk for speed. */
	for (int slot = -1; u->spool_lock_fd >= 0 && slot < REUSE_SMALL;
	     slot++) {
		reuse_path(u, slot, path, sizeof(path));
		unlink(path);
	}

	for (; s; s = next) {
		next = s->next;
		submission_free(s);
	}
	u->submissions = NULL;
	unflushed_close(u->unflushed);
	u->unflushed = NULL;
	if (u->spool_lock_fd >= 0)
		close(u->spool_lock_fd);
	u->spool_lock_fd = -1;
}

int spool_create(struct upfs *u, const char *share_id, const char *name,
		 struct submission **out)
{
	struct submission *s = submission_new();
	unsigned char rnd[8];
	char path[4200];
	int rc = 0;

	if (s == NULL)
		return -ENOMEM;
	s->created_ms = cache_now_ms();
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	snprintf(s->id, sizeof(s->id), "%013lld-%02x%02x%02x%02x%02x%02x%02x%02x",
		 (long long)s->created_ms, rnd[0], rnd[1], rnd[2], rnd[3],
		 rnd[4], rnd[5], rnd[6], rnd[7]);
	s->share_id = strdup(share_id);
	s->name = strdup(name);
	s->state = name[0] == '.' ? SUB_LOCAL : SUB_WRITING;
	if (s->share_id == NULL || s->name == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	spool_path(u, s, path, sizeof(path));
	s->fd = reuse_take(u, path);
	if (s->fd < 0)
		s->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			     0600);
	if (s->fd < 0) {
		rc = -errno;
		goto out;
	}
	pthread_mutex_lock(&u->spool_lock);
	table_add(u, s);
	s->refs++;
	pthread_mutex_unlock(&u->spool_lock);
	*out = s;
	return 0;
out:
	submission_free(s);
	return rc;
}

int spool_open_file(struct upfs *u, struct submission *s)
{
	char path[4200];
	int fd;

	if (s->fd >= 0)
		return 0;
	spool_path(u, s, path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&u->spool_lock);
	if (s->fd < 0)
		s->fd = fd;
	else
		close(fd);
	pthread_mutex_unlock(&u->spool_lock);
	return 0;
}

struct submission *spool_find(struct upfs *u, const char *share_id,
			      const char *name)
{
	struct submission *s;

	pthread_mutex_lock(&u->spool_lock);
	for (s = u->submissions; s; s = s->next)
		if (s->state != SUB_DONE && strcmp(s->share_id, share_id) == 0 &&
		    strcmp(s->name, name) == 0)
			break;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&u->spool_lock);
	return s;
}

struct submission *spool_get(struct upfs *u, const char *id)
{
	struct submission *s;

	pthread_mutex_lock(&u->spool_lock);
	for (s = u->submissions; s; s = s->next)
		if (strcmp(s->id, id) == 0)
			break;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&u->spool_lock);
	return s;
}

/*
 * Under spool_lock: s no longer hides the job a listing hid as it. Other
 * listings' snapshots may lack that job's name: a look-up of a name they
 * lack must list again (spool_may_add_name).
 */
static void unhide_locked(struct upfs *u, struct submission *s)
{
	if (s->hid_listed)
		u->spool_unhides++;
	s->hid_listed = false;
}

void spool_put(struct upfs *u, struct submission *s)
{
	bool last;

	if (s == NULL)
		return;
	pthread_mutex_lock(&u->spool_lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&u->spool_lock);
	if (last)
		submission_free(s);
}

void spool_remove(struct upfs *u, struct submission *s)
{
	struct submission **p;
	bool listed = false, started, write_failed;
	char path[4200];

	pthread_mutex_lock(&s->persist_lock);
	pthread_mutex_lock(&u->spool_lock);
	s->removed = true;
	started = s->state == SUB_DONE;
	pthread_mutex_unlock(&u->spool_lock);
	/*
	 * A started job's record (STARTING) needs no flush of its own to go:
	 * left by a crash, it is recovered by asking whether the job started.
	 * Any other record must be gone first: left, it would be resumed.
	 */
	if (s->in_unflushed)
		unflushed_del(u->unflushed, s->id);
	if (s->in_outbox && started)
		cache_del_later(u->cache, UPFS_CACHE_OUTBOX, s->id);
	else if (s->in_outbox)
		cache_del(u->cache, UPFS_CACHE_OUTBOX, s->id);
	pthread_mutex_unlock(&s->persist_lock);
	spool_path(u, s, path, sizeof(path));
	pthread_mutex_lock(&s->io_lock);
	pthread_mutex_lock(&u->spool_lock);
	for (p = &u->submissions; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			listed = true;
			break;
		}
	if (listed) {
		s->refs--;
		unhide_locked(u, s);
	}
	s->state = SUB_DONE;
	write_failed = s->write_error != 0 || s->wb_error != 0 ||
		       s->bytes_unsure;
	pthread_mutex_unlock(&u->spool_lock);
	reuse_give(u, s, path, write_failed);
	pthread_mutex_unlock(&s->io_lock);
}


static uint64_t hash_str(uint64_t h, const char *s)
{
	return s ? fnv1a_update(h, s, strlen(s) + 1) : fnv1a_update(h, "", 0);
}

/* Under spool_lock: the digest spool_signature returns. */
static uint64_t digest_locked(struct upfs *u, const char *share_id)
{
	uint64_t h = FNV1A_SEED;

	for (struct submission *s = u->submissions; s; s = s->next) {
		if (strcmp(s->share_id, share_id) != 0)
			continue;
		/* Done ones too: job_owner_locked hides their jobs till they go. */
		h = hash_str(h, s->job_id);
		if (s->state == SUB_DONE)
			continue;
		h = hash_str(h, s->id);
		h = hash_str(h, s->name);
		h = fnv1a_update(h, &s->created_ms, sizeof(s->created_ms));
	}
	return h;
}

uint64_t spool_signature(struct upfs *u, const char *share_id)
{
	uint64_t h;

	pthread_mutex_lock(&u->spool_lock);
	h = digest_locked(u, share_id);
	pthread_mutex_unlock(&u->spool_lock);
	return h;
}

/*
 * Under spool_lock. Job ids are short numbers the service gives out per
 * printer: two printers may each have a job "103". A share's listing of
 * jobs holds the jobs made through it, so within it the id names one.
 */
static struct submission *job_owner_locked(struct upfs *u,
					   const char *share_id,
					   const char *job_id)
{
	for (struct submission *s = u->submissions; s; s = s->next)
		if (s->job_id && job_id && strcmp(s->job_id, job_id) == 0 &&
		    strcmp(s->share_id, share_id) == 0)
			return s;
	return NULL;
}

int spool_queue_view(struct upfs *u, const char *share_id, json_t **jobs,
		     size_t *n, struct fs_entries *out, uint64_t *sig,
		     uint32_t *unhides)
{
	struct submission *owner;
	size_t kept = 0;
	int rc = 0;

	pthread_mutex_lock(&u->spool_lock);
	for (size_t i = 0; i < *n; i++) {
		owner = job_owner_locked(u, share_id, json_string_value(
						 json_object_get(jobs[i], "id")));
		if (owner)
			owner->hid_listed = true;
		else
			jobs[kept++] = jobs[i];
	}
	*n = kept;
	for (struct submission *s = u->submissions; s && rc == 0; s = s->next)
		if (s->state != SUB_DONE && strcmp(s->share_id, share_id) == 0)
			rc = fs_entries_add(out, s->name, FS_QUEUE_LOCAL, s->id,
					    s->share_id, s->created_ms / 1000);
	*sig = digest_locked(u, share_id);
	*unhides = u->spool_unhides;
	pthread_mutex_unlock(&u->spool_lock);
	return rc;
}

/*
 * A listing's own names change only as its jobs' listing changes (the
 * caller's part) or as the spool stops hiding one of them: a document
 * coming takes a name of its own, a copy of its name numbered after the
 * jobs and the documents before it of that name (list_queue); one going
 * frees its name, and those after it of that name move down into names
 * the listing had.
 */
bool spool_may_add_name(struct upfs *u, const char *share_id,
			const char *name, uint32_t unhides)
{
	bool may;

	pthread_mutex_lock(&u->spool_lock);
	may = u->spool_unhides != unhides;
	for (struct submission *s = u->submissions; s && !may; s = s->next)
		may = s->state != SUB_DONE &&
		      strcmp(s->share_id, share_id) == 0 &&
		      names_is_copy_of(name, s->name);
	pthread_mutex_unlock(&u->spool_lock);
	return may;
}

int spool_set_job_id(struct upfs *u, struct submission *s, const char *id)
{
	char *copy = id ? strdup(id) : NULL;

	if (id && copy == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&u->spool_lock);
	unhide_locked(u, s);
	free(s->job_id);
	s->job_id = copy;
	pthread_mutex_unlock(&u->spool_lock);
	return 0;
}

bool spool_owns_job(struct upfs *u, const char *share_id, const char *job_id)
{
	bool owned;

	pthread_mutex_lock(&u->spool_lock);
	owned = job_owner_locked(u, share_id, job_id) != NULL;
	pthread_mutex_unlock(&u->spool_lock);
	return owned;
}
