/*
 * xml.h — text that is safe inside an XML 1.0 document, for the SVG chart.
 *
 * Names come from the service and may hold anything; one bad byte would
 * make the whole file unreadable to a browser. So the five markup
 * characters become entities, and what XML 1.0 forbids (control
 * characters other than tab, LF and CR; U+FFFE, U+FFFF) and bytes that
 * are not UTF-8 become U+FFFD. The result is valid both as element text
 * and inside a double- or single-quoted attribute.
 */
#ifndef UPFS_XML_H
#define UPFS_XML_H

#include <stddef.h>

#include "buf.h"

/*
 * Appends s escaped. With max_chars > 0, a text longer than max_chars
 * characters (code points) is cut to max_chars - 1 and ends with "…".
 * NULL appends nothing. 0, -ENOMEM or -EFBIG; on error out is unchanged.
 */
int xml_text(struct buf *out, const char *s, size_t max_chars);

/* The number of characters xml_text counts in s (bad bytes count one each). */
size_t xml_chars(const char *s);

#endif
