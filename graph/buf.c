/*
 * buf.c — the bounded growable byte buffer (see buf.h).
 *
 * Invariants: len <= cap; when data != NULL, alloc > len and data[len] is
 * NUL. Growth doubles, so appends are amortised O(1), but never allocates
 * more than cap + 1 bytes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BUF_MIN_ALLOC 64

void buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	/* cap + 1 (room for the NUL) must not overflow. */
	if (cap == 0)
		cap = UPFS_BUF_DEFAULT_CAP;
	b->cap = cap < SIZE_MAX - 1 ? cap : SIZE_MAX - 2;
}

void buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}

void buf_reset(struct buf *b)
{
	buf_truncate(b, 0);
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len > b->len)
		return;
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

/* Makes room for extra more bytes plus the NUL; the contents stay as they are. */
static int buf_grow(struct buf *b, size_t extra)
{
	size_t need, alloc;
	char *p;

	if (extra > b->cap - b->len)
		return -EFBIG;
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return 0;
	alloc = b->alloc ? b->alloc : BUF_MIN_ALLOC;
	while (alloc < need)
		alloc = alloc > SIZE_MAX / 2 ? SIZE_MAX : alloc * 2;
	if (alloc > b->cap + 1)
		alloc = b->cap + 1;
	p = realloc(b->data, alloc);
	if (!p)
		return -ENOMEM;
	if (!b->data)
		p[0] = '\0';
	b->data = p;
	b->alloc = alloc;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
	int rc;

	rc = buf_grow(b, len);
	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list probe;
	int n;
	int rc;

	/* Measure first so a too-long result leaves the buffer untouched. */
	va_copy(probe, ap);
	n = vsnprintf(NULL, 0, fmt, probe);
	va_end(probe);
	if (n < 0)
		return -EINVAL;
	rc = buf_grow(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p = b->data;

	if (!p) {
		/*
		 * The contract is "never NULL"; a 1-byte allocation failing
		 * leaves nothing sensible to return, as in git's xmalloc.
		 */
		p = calloc(1, 1);
		if (!p)
			abort();
	}
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}
