/*
 * test_xml.c — text escaped for XML: markup, forbidden characters, bad
 * UTF-8, shortening.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "xml.h"

static void text_is(const char *s, size_t max, const char *want)
{
	struct buf out;
	int rc;

	buf_init(&out, 0);
	rc = xml_text(&out, s, max);
	CHECK_MSG(rc == 0 && strcmp(out.data ? out.data : "", want) == 0,
		  "'%s' (max %zu): rc %d, got '%s', want '%s'", s ? s : "NULL",
		  max, rc, out.data ? out.data : "", want);
	buf_release(&out);
}

int main(void)
{
	struct buf out;

	text_is("Floor3 LaserJet", 0, "Floor3 LaserJet");
	text_is("a<b>&\"c\"'d'", 0, "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;");
	text_is("Carol M\xc3\xbcller \xe6\x9d\xb1 \xf0\x9f\x96\xa8", 0,
		"Carol M\xc3\xbcller \xe6\x9d\xb1 \xf0\x9f\x96\xa8");
	text_is("tab\there\nline\r", 0, "tab\there\nline\r");
	text_is("bell\x07!", 0, "bell\xef\xbf\xbd!");
	text_is("bad \xff byte", 0, "bad \xef\xbf\xbd byte");
	text_is("cut \xc3", 0, "cut \xef\xbf\xbd");		/* truncated */
	text_is("over \xc0\xaf", 0, "over \xef\xbf\xbd\xef\xbf\xbd");
	text_is("surrogate \xed\xa0\x80", 0,
		"surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	text_is("nonchar \xef\xbf\xbf", 0, "nonchar \xef\xbf\xbd");
	text_is("", 0, "");
	text_is(NULL, 0, "");
	/* Shortening counts characters, not bytes, and keeps whole ones. */
	text_is("abcdef", 6, "abcdef");
	text_is("abcdefg", 6, "abcde\xe2\x80\xa6");
	text_is("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 3, "\xc3\xa9\xc3\xa9"
		"\xe2\x80\xa6");
	text_is("<<<<", 3, "&lt;&lt;\xe2\x80\xa6");
	CHECK(xml_chars("\xc3\xa9t\xc3\xa9") == 3 && xml_chars(NULL) == 0);

	/* At the cap, the buffer is left as it was. */
	buf_init(&out, 8);
	buf_append_str(&out, "ok");
	CHECK(xml_text(&out, "a&b&c", 0) == -EFBIG);
	CHECK(strcmp(out.data, "ok") == 0);
	buf_release(&out);
	if (failures) {
		fprintf(stderr, "test_xml: %d failure(s)\n", failures);
		return 1;
	}
	return 0;
}
