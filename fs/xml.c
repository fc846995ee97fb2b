/*
 * xml.c — escaping text for XML (see xml.h).
 */
#include <stdint.h>
#include <string.h>

#include "utf8.h"
#include "xml.h"

#define REPLACEMENT "\xef\xbf\xbd"	/* U+FFFD in UTF-8 */
#define ELLIPSIS "\xe2\x80\xa6"		/* U+2026 */

/* True for the characters XML 1.0 allows in a document. */
static int xml_allowed(uint32_t cp)
{
	if (cp < 0x20)
		return cp == '\t' || cp == '\n' || cp == '\r';
	return cp != 0xfffe && cp != 0xffff;
}

static int append_char(struct buf *out, const char *at, size_t len,
		       uint32_t cp)
{
	switch (cp) {
	case '&':
		return buf_append_str(out, "&amp;");
	case '<':
		return buf_append_str(out, "&lt;");
	case '>':
		return buf_append_str(out, "&gt;");
	case '"':
		return buf_append_str(out, "&quot;");
	case '\'':
		return buf_append_str(out, "&apos;");
	}
	if (cp == 0xfffd || !xml_allowed(cp))
		return buf_append_str(out, REPLACEMENT);
	return buf_append(out, at, len);
}

size_t xml_chars(const char *s)
{
	size_t n = 0;
	uint32_t cp;

	while (s && *s) {
		s += utf8_next((const unsigned char *)s, &cp);
		n++;
	}
	return n;
}

int xml_text(struct buf *out, const char *s, size_t max_chars)
{
	size_t start = out->len, keep, n = 0;
	uint32_t cp;
	int rc = 0;

	if (s == NULL)
		return 0;
	keep = max_chars > 0 && xml_chars(s) > max_chars ? max_chars - 1 :
		SIZE_MAX;
	while (*s && rc == 0 && n < keep) {
		size_t len = utf8_next((const unsigned char *)s, &cp);

		rc = append_char(out, s, len, cp);
		s += len;
		n++;
	}
	if (rc == 0 && keep != SIZE_MAX)
		rc = buf_append_str(out, ELLIPSIS);
	if (rc)
		buf_truncate(out, start);
	return rc;
}
