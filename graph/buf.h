/*
 * buf.h — the one bounded growable byte buffer of upfs.
 *
 * A buf owns its memory; buf_release() frees it. Every append checks the
 * cap given at buf_init() and fails with -EFBIG instead of growing past
 * it, so a hostile or broken peer cannot make us allocate without bound.
 * The contents are always NUL-terminated (the NUL is not counted in len),
 * so text can be handed to string functions directly.
 */
#ifndef UPFS_BUF_H
#define UPFS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;	/* owned; NULL until the first append */
	size_t len;	/* bytes used, not counting the trailing NUL */
	size_t alloc;	/* bytes allocated */
	size_t cap;	/* hard limit on len */
};

#define UPFS_BUF_DEFAULT_CAP ((size_t)64 << 20)

/* Sets up an empty buffer that may grow to cap bytes (0: the default). */
void buf_init(struct buf *b, size_t cap);

/* Frees the memory and leaves an empty buffer with the same cap. */
void buf_release(struct buf *b);

/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);

/* Cuts the buffer back to its first len bytes (len <= b->len): what a
   failed run of appends leaves is taken back. */
void buf_truncate(struct buf *b, size_t len);

/* 0, or -ENOMEM / -EFBIG (cap reached); the buffer is unchanged on error. */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/*
 * Hands the memory to the caller (free() it) and leaves the buffer empty.
 * Never returns NULL: an empty buffer yields an allocated "".
 */
char *buf_detach(struct buf *b, size_t *len);

#endif
