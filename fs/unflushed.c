/*
 * unflushed.c — the log of records nothing was promised on (unflushed.h).
 *
 * One line per change, appended with one write(2): "ID\tTEXT\n" puts a
 * record, "ID\n" deletes it; the last line of an id wins. A write that
 * fails part-way is cut off again, so every line in the file is whole but
 * for one a kill cut short at its end, which the next open drops. The
 * lines of records still live are also kept in memory, so that the log
 * can be written anew (compacted) when it grows: it is emptied whenever
 * no record is left, and rewritten past LOG_COMPACT_BYTES.
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

#define LOG_COMPACT_BYTES ((off_t)1 << 20)
#define LOG_EMPTY_BYTES ((off_t)64 << 10)
#define ID_MAX 64

struct unflushed {
	pthread_mutex_t lock;	/* everything below */
	char *dir;
	int fd;			/* the log, O_APPEND */
	off_t size;		/* its length, every line whole */
	struct unflushed_record *live;
	size_t n, alloc;
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

/* id's live record becomes a copy of text[0..len), or goes (text NULL). */
static int live_set(struct unflushed *f, const char *id, const char *text,
		    size_t len)
{
	long at = live_find(f, id);
	char *copy = NULL;

	if (text == NULL) {
		if (at >= 0) {
			free(f->live[at].id);
			free(f->live[at].text);
			f->live[at] = f->live[--f->n];
		}
		return 0;
	}
	copy = strndup(text, len);
	if (copy == NULL)
		return -ENOMEM;
	if (at >= 0) {
		free(f->live[at].text);
		f->live[at].text = copy;
		return 0;
	}
	if (f->n == f->alloc) {
		size_t alloc = f->alloc ? 2 * f->alloc : 8;
		struct unflushed_record *v = realloc(f->live,
						     alloc * sizeof(*v));

		if (v == NULL)
			goto fail;
		f->live = v;
		f->alloc = alloc;
	}
	f->live[f->n].id = strdup(id);
	if (f->live[f->n].id == NULL)
		goto fail;
	f->live[f->n++].text = copy;
	return 0;
fail:
	free(copy);
	return -ENOMEM;
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
		rc = tab ? live_set(f, id, tab + 1, (size_t)(end - tab - 1))
			 : live_set(f, id, NULL, 0);
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
	/* Written anew: no line read once is read again, and the next
	   does not run on from a torn one. */
	if (rc == 0 && len > 0)
		rc = log_compact(f);
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

/* Under f->lock: one line, whole or not at all. */
static int log_append(struct unflushed *f, const char *line, size_t len)
{
	ssize_t done = write(f->fd, line, len);
	int rc = 0;

	if (done == (ssize_t)len) {
		f->size += (off_t)len;
		return 0;
	}
	rc = done < 0 ? -errno : -ENOSPC;
	if (done > 0 && ftruncate(f->fd, f->size) != 0)
		rc = -errno;	/* a torn line stays: the next open drops it */
	return rc;
}

/* "ID\tTEXT\n", or "ID\n" for text NULL. */
static char *line_make(const char *id, const char *text, size_t *len)
{
	size_t id_len = strlen(id), text_len = text ? strlen(text) : 0;
	char *line = malloc(id_len + text_len + 3);

	if (line == NULL)
		return NULL;
	memcpy(line, id, id_len);
	*len = id_len;
	if (text) {
		line[(*len)++] = '\t';
		memcpy(line + *len, text, text_len);
		*len += text_len;
	}
	line[(*len)++] = '\n';
	return line;
}

/* Under f->lock: the log written anew with the live records only. */
static int log_compact(struct unflushed *f)
{
	char path[4200], tmp[4200];
	off_t size = 0;
	int fd = -1, rc = in_dir(path, sizeof(path), f->dir, "log");

	if (rc == 0)
		rc = in_dir(tmp, sizeof(tmp), f->dir, "log.new");
	if (rc == 0 && f->n == 0) {
		/* Nothing live: emptied in place. */
		if (ftruncate(f->fd, 0) != 0)
			return -errno;
		f->size = 0;
		return 0;
	}
	if (rc)
		return rc;
	fd = open(tmp, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < f->n && rc == 0; i++) {
		size_t len;
		char *line = line_make(f->live[i].id, f->live[i].text, &len);

		if (line == NULL)
			rc = -ENOMEM;
		else if (write(fd, line, len) != (ssize_t)len)
			rc = -EIO;
		size += (off_t)len;
		free(line);
	}
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc) {
		close(fd);
		unlink(tmp);
		return rc;
	}
	close(f->fd);
	f->fd = fd;
	f->size = size;
	return 0;
}

/* Under f->lock: a line for id, then id's live record changed to match. */
static int log_change(struct unflushed *f, const char *id, const char *text)
{
	size_t len = 0;
	char *line;
	int rc;

	if (!id_is_valid(id, strlen(id)) || (text && (text[0] == '\0' ||
						       strchr(text, '\n'))))
		return -EINVAL;
	line = line_make(id, text, &len);
	if (line == NULL)
		return -ENOMEM;
	rc = log_append(f, line, len);
	free(line);
	if (rc == 0)
		rc = live_set(f, id, text, text ? strlen(text) : 0);
	/*
	 * A log that grows is written anew; when that fails the line is
	 * still in it, and it is tried again at the next change.
	 */
	if (rc == 0 && (f->size > LOG_COMPACT_BYTES ||
			(f->n == 0 && f->size > LOG_EMPTY_BYTES)))
		(void)log_compact(f);
	return rc;
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
