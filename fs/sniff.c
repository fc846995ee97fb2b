/*
 * sniff.c — content types from magic numbers (see sniff.h).
 *
 * XPS and OpenXPS are both ZIP packages; they differ in the namespace of
 * their fixed representation, which sits in the first entries of the
 * package ("_rels/.rels" or "FixedDocSeq.fdseq"), well within the head.
 */
#include <string.h>

#include "sniff.h"

static int has_prefix(const unsigned char *head, size_t len, const char *magic,
		      size_t mlen)
{
	return len >= mlen && memcmp(head, magic, mlen) == 0;
}

static const void *find(const unsigned char *head, size_t len, const char *s)
{
	return memmem(head, len, s, strlen(s));
}

static const char *sniff_zip(const unsigned char *head, size_t len)
{
	if (find(head, len, "schemas.openxps.org") ||
	    find(head, len, "FixedDocumentSequence.fdseq"))
		return "application/oxps";
	if (find(head, len, "schemas.microsoft.com/xps") ||
	    find(head, len, "FixedDocSeq.fdseq"))
		return "application/vnd.ms-xpsdocument";
	return NULL;
}

const char *sniff_content_type(const unsigned char *head, size_t len)
{
	if (has_prefix(head, len, "%PDF-", 5)) {
		/* PCLm is PDF with its own header comment. */
		if (find(head, len > 512 ? 512 : len, "%PCLm"))
			return "application/PCLm";
		return "application/pdf";
	}
	if (has_prefix(head, len, "PK\x03\x04", 4))
		return sniff_zip(head, len);
	if (has_prefix(head, len, "RaS2", 4))
		return "image/pwg-raster";
	if (has_prefix(head, len, "UNIRAST", 7))
		return "image/urf";
	if (has_prefix(head, len, "\xff\xd8\xff", 3))
		return "image/jpeg";
	if (has_prefix(head, len, "\x89PNG\r\n\x1a\n", 8))
		return "image/png";
	return NULL;
}
