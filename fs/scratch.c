/*
 * scratch.c — editors' local files in share folders (see scratch.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scratch.h"

struct scratch {
	char id[40];
	char *share_id;
	char *name;
	char *target;		/* a symlink's target, or NULL */
	struct buf content;
	int64_t mtime_ms;
	struct scratch *next;
};

static void scratch_free(struct scratch *s)
{
	free(s->share_id);
	free(s->name);
	free(s->target);
	buf_release(&s->content);
	free(s);
}

/* Under scratch_lock. */
static struct scratch *by_id(struct upfs *u, const char *id)
{
	for (struct scratch *s = u->scratches; s; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

/* Under scratch_lock: the link that points at share_id's name. */
static struct scratch **by_name(struct upfs *u, const char *share_id,
				const char *name)
{
	struct scratch **p;

	for (p = &u->scratches; *p; p = &(*p)->next)
		if (strcmp((*p)->share_id, share_id) == 0 &&
		    strcmp((*p)->name, name) == 0)
			return p;
	return NULL;
}

/* Under scratch_lock. */
static size_t count(const struct upfs *u)
{
	size_t n = 0;

	for (const struct scratch *s = u->scratches; s; s = s->next)
		n++;
	return n;
}

int scratch_create(struct upfs *u, const char *share_id, const char *name,
		   const char *target, char id[40])
{
	struct scratch *s = calloc(1, sizeof(*s)), **old;

	if (s == NULL)
		return -ENOMEM;
	buf_init(&s->content, UPFS_SCRATCH_MAX);
	s->share_id = strdup(share_id);
	s->name = strdup(name);
	s->target = target ? strdup(target) : NULL;
	s->mtime_ms = cache_now_ms();
	if (!s->share_id || !s->name || (target && !s->target)) {
		scratch_free(s);
		return -ENOMEM;
	}
	pthread_mutex_lock(&u->scratch_lock);
	old = by_name(u, share_id, name);
	if (old == NULL && count(u) >= UPFS_SCRATCH_FILES_MAX) {
		pthread_mutex_unlock(&u->scratch_lock);
		scratch_free(s);
		return -ENOSPC;
	}
	snprintf(s->id, sizeof(s->id), "scratch-%llu",
		 (unsigned long long)++u->scratch_serial);
	if (old) {
		struct scratch *gone = *old;

		*old = gone->next;
		scratch_free(gone);
	}
	s->next = u->scratches;
	u->scratches = s;
	memcpy(id, s->id, sizeof(s->id));
	pthread_mutex_unlock(&u->scratch_lock);
	return 0;
}

int scratch_lookup(struct upfs *u, const char *share_id, const char *name,
		   char id[40])
{
	struct scratch **p;

	pthread_mutex_lock(&u->scratch_lock);
	p = by_name(u, share_id, name);
	if (p)
		memcpy(id, (*p)->id, sizeof((*p)->id));
	pthread_mutex_unlock(&u->scratch_lock);
	return p ? 0 : -ENOENT;
}

int scratch_read(struct upfs *u, const char *id, struct buf *out)
{
	struct scratch *s;
	int rc = -ENOENT;

	pthread_mutex_lock(&u->scratch_lock);
	s = by_id(u, id);
	if (s)
		rc = buf_append(out, s->content.data ? s->content.data : "",
				s->content.len);
	pthread_mutex_unlock(&u->scratch_lock);
	return rc;
}

/* Under scratch_lock: grows s to len bytes, the new ones zero. */
static int grow(struct scratch *s, size_t len)
{
	size_t old = s->content.len;
	int rc = 0;

	if (len > UPFS_SCRATCH_MAX)
		return -EFBIG;
	while (rc == 0 && s->content.len < len)
		rc = buf_append(&s->content, "", 1);
	if (rc == 0 && len > old)
		memset(s->content.data + old, 0, len - old);
	return rc;
}

int scratch_write(struct upfs *u, const char *id, const char *data,
		  size_t size, off_t off)
{
	struct scratch *s;
	int rc = -ENOENT;

	pthread_mutex_lock(&u->scratch_lock);
	s = by_id(u, id);
	if (s && off == FS_OFF_END)
		off = (off_t)s->content.len;
	if (s && (off < 0 || (size_t)off > UPFS_SCRATCH_MAX ||
		  size > UPFS_SCRATCH_MAX - (size_t)off))
		rc = -EFBIG;
	else if (s)
		rc = grow(s, (size_t)off + size > s->content.len
				     ? (size_t)off + size : s->content.len);
	if (s && rc == 0) {
		memcpy(s->content.data + off, data, size);
		s->mtime_ms = cache_now_ms();
		rc = (int)size;
	}
	pthread_mutex_unlock(&u->scratch_lock);
	return rc;
}

int scratch_truncate(struct upfs *u, const char *id, off_t size)
{
	struct scratch *s;
	int rc = -ENOENT;

	if (size < 0 || (size_t)size > UPFS_SCRATCH_MAX)
		return -EFBIG;
	pthread_mutex_lock(&u->scratch_lock);
	s = by_id(u, id);
	if (s && (size_t)size <= s->content.len) {
		s->content.len = (size_t)size;
		rc = 0;
	} else if (s) {
		rc = grow(s, (size_t)size);
	}
	if (s)
		s->mtime_ms = cache_now_ms();
	pthread_mutex_unlock(&u->scratch_lock);
	return rc;
}

int scratch_stat(struct upfs *u, const char *id, off_t *size, int64_t *mtime,
		 bool *is_link)
{
	struct scratch *s;

	pthread_mutex_lock(&u->scratch_lock);
	s = by_id(u, id);
	if (s) {
		*is_link = s->target != NULL;
		*size = (off_t)(s->target ? strlen(s->target) : s->content.len);
		*mtime = s->mtime_ms / 1000;
	}
	pthread_mutex_unlock(&u->scratch_lock);
	return s ? 0 : -ENOENT;
}

int scratch_target(struct upfs *u, const char *id, struct buf *out)
{
	struct scratch *s;
	int rc = -ENOENT;

	pthread_mutex_lock(&u->scratch_lock);
	s = by_id(u, id);
	if (s)
		rc = s->target ? buf_append_str(out, s->target) : -EINVAL;
	pthread_mutex_unlock(&u->scratch_lock);
	return rc;
}

int scratch_unlink(struct upfs *u, const char *share_id, const char *name)
{
	struct scratch **p, *gone = NULL;

	pthread_mutex_lock(&u->scratch_lock);
	p = by_name(u, share_id, name);
	if (p) {
		gone = *p;
		*p = gone->next;
	}
	pthread_mutex_unlock(&u->scratch_lock);
	if (gone)
		scratch_free(gone);
	return gone ? 0 : -ENOENT;
}

int scratch_rename(struct upfs *u, const char *share_id, const char *from,
		   const char *to)
{
	struct scratch **p, **q, *gone = NULL;
	char *name = strdup(to);
	int rc = 0;

	if (name == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&u->scratch_lock);
	p = by_name(u, share_id, from);
	if (p == NULL) {
		rc = -ENOENT;
		goto out;
	}
	q = by_name(u, share_id, to);
	if (q && *q != *p) {
		gone = *q;
		*q = gone->next;
	}
	p = by_name(u, share_id, from);
	free((*p)->name);
	(*p)->name = name;
	name = NULL;
out:
	pthread_mutex_unlock(&u->scratch_lock);
	free(name);
	if (gone)
		scratch_free(gone);
	return rc;
}

int scratch_list(struct upfs *u, const char *share_id, struct fs_entries *out)
{
	int rc = 0;

	pthread_mutex_lock(&u->scratch_lock);
	for (struct scratch *s = u->scratches; s && rc == 0; s = s->next)
		if (strcmp(s->share_id, share_id) == 0)
			rc = fs_entries_add(out, s->name, FS_SCRATCH, s->id,
					    share_id, s->mtime_ms / 1000);
	pthread_mutex_unlock(&u->scratch_lock);
	return rc;
}

void scratch_release(struct upfs *u)
{
	struct scratch *s = u->scratches, *next;

	for (; s; s = next) {
		next = s->next;
		scratch_free(s);
	}
	u->scratches = NULL;
}
