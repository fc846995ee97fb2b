/*
 * sniff_zip.c — XPS or OpenXPS, from the namespace a ZIP package declares
 * (see sniff.h).
 *
 * The two formats differ in their namespaces, which sit in compressed
 * parts: the package relationships (_rels/.rels) name the fixed
 * representation with http://schemas.microsoft.com/xps/2005/06/... (XPS)
 * or http://schemas.openxps.org/oxps/v1.0/... (OpenXPS, ECMA-388), and
 * the fixed document sequence uses the same namespace. Part names are
 * the producer's choice (WPF writes MS XPS as "FixedDocumentSequence.fdseq",
 * a name OpenXPS samples use too), so they tell nothing, and the parts
 * may come anywhere in the file: the central directory at its end says
 * where each is.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#include "sniff.h"

#define EOCD_SIG 0x06054b50u
#define CDIR_SIG 0x02014b50u
#define LOCAL_SIG 0x04034b50u
#define EOCD_LEN 22u
#define CDIR_ENTRY_LEN 46u
#define LOCAL_LEN 30u
/* The end record follows a comment of at most 65535 bytes. */
#define EOCD_SEARCH (EOCD_LEN + 65535u)
/* Room for about 100,000 part names: more is no document. */
#define CDIR_MAX (8u << 20)
/* The namespace comes in a part's first bytes. */
#define PART_MAX (64u << 10)

/* A part's bytes could not be found where the package says: not an error
   of the disk, just no package this can read. */
#define NOT_READABLE 1

static uint32_t le16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* len bytes at off, which must lie within size: 0, NOT_READABLE, or a
   negative errno. */
static int read_at(int fd, uint64_t size, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	if (off > size || len > size - off)
		return NOT_READABLE;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return NOT_READABLE;
		done += (size_t)n;
	}
	return 0;
}

/* The central directory (malloc'd) of the package: 0, NOT_READABLE, or a
   negative errno. */
static int read_directory(int fd, uint64_t size, unsigned char **dir,
			  size_t *dir_len)
{
	size_t tail_len = size < EOCD_SEARCH ? (size_t)size : EOCD_SEARCH;
	uint64_t tail_off = size - tail_len, eocd = 0, off, len;
	unsigned char *tail = malloc(tail_len ? tail_len : 1);
	bool found = false;
	int rc;

	if (tail == NULL)
		return -ENOMEM;
	rc = read_at(fd, size, tail, tail_len, tail_off);
	for (size_t i = tail_len >= EOCD_LEN ? tail_len - EOCD_LEN + 1 : 0;
	     rc == 0 && !found && i-- > 0;) {
		found = le32(tail + i) == EOCD_SIG &&
			i + EOCD_LEN + le16(tail + i + 20) <= tail_len;
		eocd = i;
	}
	if (rc == 0 && !found)
		rc = NOT_READABLE;
	if (rc)
		goto out;
	len = le32(tail + eocd + 12);
	off = le32(tail + eocd + 16);
	/* A ZIP64 package (0xffffffff here) is past what a document of
	   1 GiB needs; the directory must end where the end record starts. */
	if (off == 0xffffffffu || len > CDIR_MAX || len < CDIR_ENTRY_LEN ||
	    off + len > tail_off + eocd) {
		rc = NOT_READABLE;
		goto out;
	}
	*dir = malloc((size_t)len);
	if (*dir == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	*dir_len = (size_t)len;
	rc = read_at(fd, size, *dir, (size_t)len, off);
	if (rc) {
		free(*dir);
		*dir = NULL;
	}
out:
	free(tail);
	return rc;
}

struct part {
	uint32_t method, packed, local_off;
	bool found;
};

/* Whether the n-byte name is want, ignoring case (OPC part names). */
static bool name_is(const unsigned char *name, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp((const char *)name, want, n) == 0;
}

static bool name_ends(const unsigned char *name, size_t n, const char *suffix)
{
	size_t len = strlen(suffix);

	return n > len &&
	       strncasecmp((const char *)name + n - len, suffix, len) == 0;
}

/* The package relationships and the first fixed document sequence. */
static void find_parts(const unsigned char *dir, size_t len, struct part *rels,
		       struct part *fdseq)
{
	size_t pos = 0;

	while (pos + CDIR_ENTRY_LEN <= len && le32(dir + pos) == CDIR_SIG) {
		const unsigned char *e = dir + pos, *name = e + CDIR_ENTRY_LEN;
		size_t n = le16(e + 28);
		struct part *p = NULL;

		if (pos + CDIR_ENTRY_LEN + n > len)
			break;
		if (name_is(name, n, "_rels/.rels"))
			p = rels;
		else if (name_ends(name, n, ".fdseq") && !fdseq->found)
			p = fdseq;
		if (p)
			*p = (struct part){ .method = le16(e + 10),
					    .packed = le32(e + 20),
					    .local_off = le32(e + 42),
					    .found = true };
		pos += CDIR_ENTRY_LEN + n + le16(e + 30) + le16(e + 32);
	}
}

/* Up to PART_MAX bytes of a stored or deflated part's text, inflated
   into out; *out_len says how many. */
static int read_part(int fd, uint64_t size, const struct part *p,
		     unsigned char *out, size_t *out_len)
{
	unsigned char local[LOCAL_LEN], *packed = NULL;
	size_t want = p->packed < PART_MAX ? p->packed : PART_MAX;
	z_stream z = { 0 };
	uint64_t data;
	int rc = read_at(fd, size, local, sizeof(local), p->local_off);

	*out_len = 0;
	if (rc == 0 && (le32(local) != LOCAL_SIG ||
			(p->method != 0 && p->method != Z_DEFLATED)))
		rc = NOT_READABLE;
	if (rc)
		return rc;
	data = (uint64_t)p->local_off + LOCAL_LEN + le16(local + 26) +
	       le16(local + 28);
	if (p->method == 0) {
		rc = read_at(fd, size, out, want, data);
		*out_len = rc == 0 ? want : 0;
		return rc;
	}
	packed = malloc(want ? want : 1);
	if (packed == NULL)
		return -ENOMEM;
	rc = read_at(fd, size, packed, want, data);
	if (rc == 0 && inflateInit2(&z, -MAX_WBITS) != Z_OK)
		rc = -ENOMEM;
	if (rc == 0) {
		z.next_in = packed;
		z.avail_in = (uInt)want;
		z.next_out = out;
		z.avail_out = PART_MAX;
		/* A part cut at PART_MAX inflates as far as it goes. */
		int zrc = inflate(&z, Z_SYNC_FLUSH);

		if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR)
			rc = NOT_READABLE;
		*out_len = PART_MAX - z.avail_out;
		inflateEnd(&z);
	}
	free(packed);
	return rc;
}

static const char *namespace_type(const unsigned char *text, size_t len)
{
	if (memmem(text, len, "schemas.openxps.org/oxps/", 25))
		return "application/oxps";
	if (memmem(text, len, "schemas.microsoft.com/xps/2005/06", 33))
		return "application/vnd.ms-xpsdocument";
	return NULL;
}

const char *sniff_zip_package(int fd, uint64_t size, int *err)
{
	struct part rels = { 0 }, fdseq = { 0 };
	const struct part *parts[] = { &rels, &fdseq };
	unsigned char *dir = NULL, *text = malloc(PART_MAX);
	const char *type = NULL;
	size_t dir_len = 0, text_len;
	int rc = text ? read_directory(fd, size, &dir, &dir_len) : -ENOMEM;

	if (rc == 0)
		find_parts(dir, dir_len, &rels, &fdseq);
	for (size_t i = 0; rc >= 0 && !type && i < 2; i++) {
		if (!parts[i]->found)
			continue;
		rc = read_part(fd, size, parts[i], text, &text_len);
		if (rc == 0)
			type = namespace_type(text, text_len);
	}
	*err = rc < 0 ? rc : 0;
	free(dir);
	free(text);
	return rc < 0 ? NULL : type;
}
