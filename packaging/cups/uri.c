/*
 * uri.c — upfs:/<mountpoint>/<share> device URIs (backend.h).
 *
 * The share is the last segment: a share's folder name never holds "/"
 * (upfs writes it as U+FF0F). Everything but unreserved characters and
 * the "/" between segments is percent-encoded, so names with spaces,
 * "&", "#" or UTF-8 survive lpadmin, cupsd and printers.conf.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "backend.h"

#define SCHEME "upfs:"
#define HOME_MARK "/~"

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

/* Appends s to out at *at, encoded; keep_slash leaves "/" as it is. */
static int encode(const char *s, bool keep_slash, char *out, size_t len,
		  size_t *at)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool plain = unreserved(*p) || (keep_slash && *p == '/');

		if (*at + (plain ? 1 : 3) >= len)
			return -ENAMETOOLONG;
		if (plain) {
			out[(*at)++] = (char)*p;
			continue;
		}
		out[(*at)++] = '%';
		out[(*at)++] = hex[*p >> 4];
		out[(*at)++] = hex[*p & 15];
	}
	out[*at] = '\0';
	return 0;
}

int cups_uri_format(const char *mountpoint, const char *home,
		    const char *share, char *out, size_t len)
{
	size_t at = 0, hlen = home ? strlen(home) : 0;
	int rc;

	if (len <= strlen(SCHEME HOME_MARK))
		return -ENAMETOOLONG;
	at = (size_t)snprintf(out, len, SCHEME);
	if (hlen > 1 && strncmp(mountpoint, home, hlen) == 0 &&
	    mountpoint[hlen] == '/') {
		at += (size_t)snprintf(out + at, len - at, HOME_MARK);
		mountpoint += hlen;
	}
	rc = encode(mountpoint, true, out, len, &at);
	if (rc == 0 && at + 1 < len) {
		out[at++] = '/';
		out[at] = '\0';
	} else if (rc == 0) {
		rc = -ENAMETOOLONG;
	}
	return rc ? rc : encode(share, false, out, len, &at);
}

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

/* Decodes the n bytes at s into out; a NUL or "/" inside a %xx is bad. */
static int decode(const char *s, size_t n, char *out, size_t len)
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

int cups_uri_parse(const char *uri, const char *home, char *mountpoint,
		   size_t mountpoint_len, char *share, size_t share_len)
{
	const char *path, *slash;
	size_t mark = strlen(HOME_MARK);
	int n, rc;

	if (uri == NULL || strncasecmp(uri, SCHEME, strlen(SCHEME)) != 0)
		return -EINVAL;
	path = uri + strlen(SCHEME);
	if (strncmp(path, "///", 3) == 0)
		path += 2;	/* upfs:///path: an empty authority */
	if (path[0] != '/' || path[1] == '/')
		return -EINVAL;
	slash = strrchr(path, '/');
	if (slash == path || slash[1] == '\0')
		return -EINVAL;	/* no mountpoint, or no share */
	rc = decode(slash + 1, strlen(slash + 1), share, share_len);
	if (rc)
		return rc;
	if (strncmp(path, HOME_MARK, mark) == 0 &&
	    (path[mark] == '/' || path + mark == slash)) {
		if (home == NULL || home[0] != '/')
			return -ENOENT;	/* the user has no home to look in */
		n = snprintf(mountpoint, mountpoint_len, "%s", home);
		if (n < 0 || (size_t)n >= mountpoint_len)
			return -ENAMETOOLONG;
		return decode(path + mark, (size_t)(slash - path) - mark,
			      mountpoint + n, mountpoint_len - (size_t)n);
	}
	return decode(path, (size_t)(slash - path), mountpoint,
		      mountpoint_len);
}
