/*
 * utf8.h — reading UTF-8: one character at a time, or checking a text.
 */
#ifndef UPFS_UTF8_H
#define UPFS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The code point of the UTF-8 sequence at s and its length in bytes;
 * 0xFFFD and length 1 for a byte that does not start a well-formed
 * sequence (overlong forms, surrogates and values past U+10FFFF included).
 * Reads past s[0] only while the bytes continue the sequence (a NUL
 * ends it).
 */
size_t utf8_next(const unsigned char *s, uint32_t *cp);

/* Whether s[0..len) is well-formed UTF-8 (NUL bytes included). */
bool utf8_valid(const char *s, size_t len);

/* The largest length <= max of s[0..len) that ends between characters. */
size_t utf8_cut(const char *s, size_t len, size_t max);

/*
 * A copy of the string s (malloc'd; NULL without memory) that is UTF-8:
 * each byte that starts no well-formed sequence becomes U+FFFD, as a
 * file name of bytes must to be sent as JSON text.
 */
char *utf8_lossy(const char *s);

#endif
