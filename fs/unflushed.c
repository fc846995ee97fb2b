/*
 * unflushed.c — the log of records nothing was promised on (unflushed.h).
 *
 * One line per change, appended with one write(2): "ID\tTEXT\n" puts a
 * record, "ID\n" deletes it; the last line of an id wins. A write that
 * fails part-way is cut off again (or, if that fails too, the log is
 * written anew before the next line), so every line in the file is whole
 * but for one a kill cut short at its end, which the next open drops. The
 * records still live are also kept in memory, allocated before their line
 * is written so that the two never disagree, and the log is written anew
 * from them at each open, when it has grown past twice their size and 1
 * MiB, and (emptied) when none is left and it has grown past 64 KiB.
 */
#include "unflushed.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

#define LOG_COMPACT_BYTES ((off_t)1 << 20)
#define LOG_EMPTY_BYTES ((off_t)64 << 10)
#define ID_MAX 64

struct unflushed {
	pthread_mutex_t lock;	/* everything below */
	char *dir;
	int fd;			/* the log, O_APPEND */
	off_t size;		/* the length of its whole lines */
	bool spoiled;		/* a part line is past size: write anew */
	struct unflushed_record *live;
	size_t n, alloc;
	size_t live_bytes;	/* the length of their lines */
};

/* A change of one id's record, allocated before its line is written. */
struct change {
	long at;		/* its live record, or -1 */
	char *id;		/* for a new record */
	char *text;		/* NULL: deleted */
};

static int in_dir(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool id_is_valid(const char *id, size_t len)
{
	if (len == 0 || len >= ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'z') || id[i] == '-'))
			return false;
	return true;
}

void unflushed_records_free(struct unflushed_record *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(recs[i].id);
		free(recs[i].text);
	}
	free(recs);
}

static long live_find(const struct unflushed *f, const char *id)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->live[i].id, id) == 0)
			return (long)i;
	return -1;
}

static size_t line_len(const struct unflushed_record *r)
{
	return strlen(r->id) + strlen(r->text) + 2;
}

/* Everything a change of id to text[0..len) (NULL: deleted) needs. */
static int change_prepare(struct unflushed *f, const char *id,
			  const char *text, size_t len, struct change *c)
{
	c->at = live_find(f, id);
	c->id = NULL;
	c->text = NULL;
	if (text == NULL)
		return 0;
	c->text = strndup(text, len);
	if (c->text && c->at < 0) {
		c->id = strdup(id);
		if (c->id && f->n == f->alloc) {
			size_t alloc = f->alloc ? 2 * f->alloc : 8;
			struct unflushed_record *v = realloc(
				f->live, alloc * sizeof(*v));

			if (v) {
				f->live = v;
				f->alloc = alloc;
			} else {
				free(c->id);
				c->id = NULL;
			}
		}
	}
	if (c->text == NULL || (c->at < 0 && c->id == NULL)) {
		free(c->text);
		free(c->id);
		return -ENOMEM;
	}
	return 0;
}

/* Makes a prepared change in f's live records; cannot fail. */
static void change_apply(struct unflushed *f, struct change *c)
{
	if (c->at >= 0) {
		struct unflushed_record *r = &f->live[c->at];

		f->live_bytes -= line_len(r);
		free(r->text);
		r->text = c->text;
		if (c->text == NULL) {
			free(r->id);
			*r = f->live[--f->n];
			return;
		}
		f->live_bytes += line_len(r);
	} else if (c->text) {
		f->live[f->n].id = c->id;
		f->live[f->n].text = c->text;
		f->live_bytes += line_len(&f->live[f->n++]);
	}
}

static void live_clear(struct unflushed *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->live[i].id);
		free(f->live[i].text);
	}
	f->n = 0;
	f->live_bytes = 0;
}

/* Reads the lines of text[0..len) into f's live records. */
static int log_parse(struct unflushed *f, const char *text, size_t len,
		     struct unflushed_found *found)
{
	size_t at = 0;
	int rc = 0;

	while (at < len && rc == 0) {
		const char *line = text + at;
		const char *end = memchr(line, '\n', len - at);
		const char *tab;
		char id[ID_MAX];
		struct change c;

		if (end == NULL) {
			found->torn_tail = true;
			break;
		}
		at = (size_t)(end - text) + 1;
		f->size = (off_t)at;
		tab = memchr(line, '\t', (size_t)(end - line));
		if (!id_is_valid(line, (size_t)((tab ? tab : end) - line)) ||
		    (tab && tab + 1 == end)) {
			found->bad_lines++;
			continue;
		}
		memcpy(id, line, (size_t)((tab ? tab : end) - line));
		id[(tab ? tab : end) - line] = '\0';
		rc = change_prepare(f, id, tab ? tab + 1 : NULL,
				    tab ? (size_t)(end - tab - 1) : 0, &c);
		if (rc == 0)
			change_apply(f, &c);
	}
	return rc;
}

/* 1: dir/boot names boot_id; 0: another boot; -ENOENT: none; -errno. */
static int boot_is(const char *dir, const char *boot_id)
{
	char path[4200], boot[64] = "";
	int rc = in_dir(path, sizeof(path), dir, "boot");
	FILE *fp;

	if (rc)
		return rc;
	fp = fopen(path, "re");
	if (fp == NULL)
		return -errno;
	if (fgets(boot, sizeof(boot), fp) == NULL)
		boot[0] = '\0';
	fclose(fp);
	return strcmp(boot, boot_id) == 0;
}

int unflushed_reset(const char *dir, const char *boot_id)
{
	char log[4200], boot[4200], tmp[4200];
	int rc = in_dir(log, sizeof(log), dir, "log");
	FILE *fp = NULL;

	if (rc == 0)
		rc = in_dir(boot, sizeof(boot), dir, "boot");
	if (rc == 0)
		rc = in_dir(tmp, sizeof(tmp), dir, "boot.new");
	if (rc)
		goto out;
	/* The log first: a boot file naming this boot over an older log
	   would have it read. */
	if (unlink(log) != 0 && errno != ENOENT) {
		rc = -errno;
		goto out;
	}
	fp = fopen(tmp, "we");
	if (fp == NULL) {
		rc = -errno;
		goto out;
	}
	if (fputs(boot_id, fp) < 0)
		rc = -EIO;
	if (fclose(fp) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, boot) != 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
out:
	return rc;
}

/* The whole of fd, NUL-terminated, in *out (*len bytes). */
static int read_all(int fd, char **out, size_t *len)
{
	struct stat st;
	char *data = NULL;
	size_t got = 0;
	int rc = 0;

	if (fstat(fd, &st) != 0)
		return -errno;
	data = malloc((size_t)st.st_size + 1);
	if (data == NULL)
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t r = pread(fd, data + got, (size_t)st.st_size - got,
				  (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : 0;
			break;
		}
		got += (size_t)r;
	}
	if (rc) {
		free(data);
		return rc;
	}
	data[got] = '\0';
	*out = data;
	*len = got;
	return 0;
}

static int records_copy(const struct unflushed *f,
			struct unflushed_record **recs, size_t *n)
{
	struct unflushed_record *v = calloc(f->n + 1, sizeof(*v));

	if (v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < f->n; i++) {
		v[i].id = strdup(f->live[i].id);
		v[i].text = strdup(f->live[i].text);
		if (v[i].id == NULL || v[i].text == NULL) {
			unflushed_records_free(v, i + 1);
			return -ENOMEM;
		}
	}
	*recs = v;
	*n = f->n;
	return 0;
}

static int log_compact(struct unflushed *f);

/* Opens the log of dir, reading it when this boot wrote it. */
static int log_open(struct unflushed *f, const char *boot_id,
		    struct unflushed_found *found)
{
	char path[4200], *data = NULL;
	size_t len = 0;
	int rc = boot_is(f->dir, boot_id);

	if (rc == 0)
		found->other_boot = true;
	if (rc == 0 || rc == -ENOENT)
		rc = unflushed_reset(f->dir, boot_id);
	else if (rc == 1)
		rc = 0;
	if (rc == 0)
		rc = in_dir(path, sizeof(path), f->dir, "log");
	if (rc)
		return rc;
	f->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (f->fd < 0)
		return -errno;
	rc = read_all(f->fd, &data, &len);
	if (rc == 0)
		rc = log_parse(f, data, len, found);
	/*
	 * A spoiled line may have been any record's latest: an older one
	 * read instead could repeat a request. Nothing here was promised,
	 * so none of it is trusted then.
	 */
	if (rc == 0 && found->bad_lines) {
		live_clear(f);
		f->size = 0;
		if (ftruncate(f->fd, 0) != 0)
			rc = -errno;
	}
	/* Written anew: no line read once is read again, and the next does
	   not run on from a torn one (cut off, if the rewrite fails). */
	if (rc == 0 && len > 0 && log_compact(f) != 0 &&
	    ftruncate(f->fd, f->size) != 0)
		rc = -errno;
	free(data);
	return rc;
}

/* -ENOTDIR when something else has dir's name. */
static int dir_is_usable(const char *dir)
{
	struct stat st;

	if (lstat(dir, &st) != 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int unflushed_open(struct unflushed **out, const char *dir,
		   const char *boot_id, struct unflushed_record **recs,
		   size_t *n, struct unflushed_found *found)
{
	struct unflushed *f = calloc(1, sizeof(*f));
	int rc = 0;

	memset(found, 0, sizeof(*found));
	*recs = NULL;
	*n = 0;
	if (f == NULL)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	f->fd = -1;
	f->dir = strdup(dir);
	if (f->dir == NULL)
		rc = -ENOMEM;
	if (rc == 0 && mkdir(dir, 0700) != 0 && errno != EEXIST)
		rc = -errno;
	if (rc == 0)
		rc = dir_is_usable(dir);
	if (rc == 0)
		rc = log_open(f, boot_id, found);
	if (rc == 0)
		rc = records_copy(f, recs, n);
	if (rc) {
		unflushed_close(f);
		return rc;
	}
	*out = f;
	return 0;
}

void unflushed_close(struct unflushed *f)
{
	if (f == NULL)
		return;
	if (f->fd >= 0)
		close(f->fd);
	unflushed_records_free(f->live, f->n);
	pthread_mutex_destroy(&f->lock);
	free(f->dir);
	free(f);
}

/* Appends "ID\tTEXT\n", or "ID\n" for text NULL, to b. */
static int line_add(struct buf *b, const char *id, const char *text)
{
	return text ? buf_printf(b, "%s\t%s\n", id, text)
		    : buf_printf(b, "%s\n", id);
}

/* One write of len bytes: -errno, or -ENOSPC for a short one. */
static int write_whole(int fd, const char *data, size_t len)
{
	ssize_t done = write(fd, data, len);

	if (done == (ssize_t)len)
		return 0;
	return done < 0 ? -errno : -ENOSPC;
}

/* Under f->lock: the log written anew with the live records only. */
static int log_compact(struct unflushed *f)
{
	char path[4200], tmp[4200];
	struct buf lines;
	int fd = -1, rc = in_dir(path, sizeof(path), f->dir, "log");

	buf_init(&lines, 0);
	if (rc == 0)
		rc = in_dir(tmp, sizeof(tmp), f->dir, "log.new");
	if (rc)
		goto out;
	if (f->n == 0) {
		/* Nothing live: emptied in place. */
		if (ftruncate(f->fd, 0) != 0)
			rc = -errno;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	for (size_t i = 0; i < f->n && rc == 0; i++)
		rc = line_add(&lines, f->live[i].id, f->live[i].text);
	if (rc == 0)
		rc = write_whole(fd, lines.data, lines.len);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc == 0) {
		close(f->fd);
		f->fd = fd;
		fd = -1;
	}
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	if (rc == 0) {
		f->size = (off_t)lines.len;
		f->spoiled = false;
	}
	buf_release(&lines);
	return rc;
}

/* Under f->lock: one line, whole or not at all. */
static int log_append(struct unflushed *f, const char *line, size_t len)
{
	int rc = 0;

	/* A part line the last failed write left must not start this one. */
	if (f->spoiled)
		rc = log_compact(f);
	if (rc == 0)
		rc = write_whole(f->fd, line, len);
	if (rc == 0)
		f->size += (off_t)len;
	else if (!f->spoiled && ftruncate(f->fd, f->size) != 0)
		f->spoiled = true;
	return rc;
}

/* Under f->lock: a line for id, and id's live record changed to match. */
static int log_change(struct unflushed *f, const char *id, const char *text)
{
	struct change c;
	struct buf line;
	int rc;

	if (!id_is_valid(id, strlen(id)) || (text && (text[0] == '\0' ||
						       strchr(text, '\n'))))
		return -EINVAL;
	rc = change_prepare(f, id, text, text ? strlen(text) : 0, &c);
	if (rc)
		return rc;
	buf_init(&line, 0);
	rc = line_add(&line, id, text);
	if (rc == 0)
		rc = log_append(f, line.data, line.len);
	buf_release(&line);
	if (rc) {
		free(c.id);
		free(c.text);
		return rc;
	}
	change_apply(f, &c);
	/*
	 * A log that grew is written anew. That failing costs nothing but
	 * room: it is tried again at the next change.
	 */
	if ((f->size > LOG_COMPACT_BYTES &&
	     (size_t)f->size > 2 * f->live_bytes) ||
	    (f->n == 0 && f->size > LOG_EMPTY_BYTES))
		(void)log_compact(f);
	return 0;
}

int unflushed_put(struct unflushed *f, const char *id, const char *text)
{
	int rc;

	if (text == NULL)
		return -EINVAL;
	pthread_mutex_lock(&f->lock);
	rc = log_change(f, id, text);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

int unflushed_del(struct unflushed *f, const char *id)
{
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	if (live_find(f, id) >= 0)
		rc = log_change(f, id, NULL);
	pthread_mutex_unlock(&f->lock);
	return rc;
}
