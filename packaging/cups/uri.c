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
#include "urlcode.h"

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
	rc = url_decode(slash + 1, strlen(slash + 1), share, share_len);
	if (rc)
		return rc;
	if (strncmp(path, HOME_MARK, mark) == 0 &&
	    (path[mark] == '/' || path + mark == slash)) {
		if (home == NULL || home[0] != '/')
			return -ENOENT;	/* the user has no home to look in */
		n = snprintf(mountpoint, mountpoint_len, "%s", home);
		if (n < 0 || (size_t)n >= mountpoint_len)
			return -ENAMETOOLONG;
		return url_decode(path + mark, (size_t)(slash - path) - mark,
			      mountpoint + n, mountpoint_len - (size_t)n);
	}
	return url_decode(path, (size_t)(slash - path), mountpoint,
		      mountpoint_len);
}
