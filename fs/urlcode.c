/*
 * urlcode.c — percent-decoding (urlcode.h).
 */
#include <errno.h>

#include "urlcode.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int url_decode(const char *s, size_t n, char *out, size_t len)
{
	size_t at = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -EINVAL;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi * 16 + lo);
			if (c == '\0' || c == '/')
				return -EINVAL;
			i += 2;
		}
		if (at + 1 >= len)
			return -ENAMETOOLONG;
		out[at++] = c;
	}
	out[at] = '\0';
	return 0;
}
