/*
 * utf8.c — reading UTF-8 (see utf8.h).
 */
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len;
	uint32_t v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		v = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		v = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		v = s[0] & 0x07;
	} else {
		goto bad;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)	/* also stops at the NUL */
			goto bad;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		goto bad;
	*cp = v;
	return len;
bad:
	*cp = 0xfffd;
	return 1;
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	uint32_t cp;

	while (p < end) {
		size_t n;

		/* utf8_next stops at a NUL: a sequence cut by the end is one. */
		if (*p >= 0x80 && (size_t)(end - p) < 4) {
			unsigned char tail[5] = { 0 };

			memcpy(tail, p, (size_t)(end - p));
			n = utf8_next(tail, &cp);
		} else {
			n = utf8_next(p, &cp);
		}
		if (n == 1 && *p >= 0x80)
			return false;	/* no well-formed sequence starts here */
		p += n;
	}
	return true;
}

size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

char *utf8_lossy(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(3 * strlen(s) + 1), *o = out;
	uint32_t cp;

	while (out && *p) {
		size_t n = utf8_next(p, &cp);

		if (n == 1 && *p >= 0x80) {
			memcpy(o, "\xef\xbf\xbd", 3);	/* U+FFFD */
			o += 3;
		} else {
			memcpy(o, p, n);
			o += n;
		}
		p += n;
	}
	if (out)
		*o = '\0';
	return out;
}
