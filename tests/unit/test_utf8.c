/*
 * test_utf8.c — well-formed UTF-8 told from bytes that are not, also at
 * the end of a text cut mid-character.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "utf8.h"

static void valid_is(const char *s, size_t len, bool want)
{
	CHECK_MSG(utf8_valid(s, len) == want, "%zu bytes: want %s", len,
		  want ? "valid" : "invalid");
}

static void lossy_is(const char *s, const char *want)
{
	char *got = utf8_lossy(s);

	CHECK_MSG(got && strcmp(got, want) == 0, "'%s': got '%s'", s,
		  got ? got : "(null)");
	CHECK(got && utf8_valid(got, strlen(got)));
	free(got);
}

int main(void)
{
	uint32_t cp;

	valid_is("", 0, true);
	valid_is("bob@contoso.com\n", 16, true);
	valid_is("M\xc3\xbcller \xe6\x9d\xb1 \xf0\x9f\x96\xa8", 16, true);
	valid_is("\xef\xbf\xbd", 3, true);		/* U+FFFD itself */
	valid_is("a\0b", 3, true);			/* NUL is ASCII */
	valid_is("\xff\xfe", 2, false);
	valid_is("bad \x80 byte", 10, false);
	valid_is("over \xc0\xaf", 7, false);		/* overlong '/' */
	valid_is("sur \xed\xa0\x80", 7, false);		/* a surrogate */
	valid_is("big \xf4\x90\x80\x80", 8, false);	/* past U+10FFFF */
	/* Cut by the end of the text: the bytes after it are not read. */
	valid_is("cut \xc3\xa9", 5, false);
	valid_is("cut \xe6\x9d\xb1", 6, false);
	valid_is("cut \xf0\x9f\x96\xa8", 7, false);
	valid_is("whole \xf0\x9f\x96\xa8", 10, true);
	CHECK(utf8_next((const unsigned char *)"\xc3\xa9", &cp) == 2 &&
	      cp == 0xe9);
	CHECK(utf8_next((const unsigned char *)"\xc3", &cp) == 1 &&
	      cp == 0xfffd);
	lossy_is("caf\xc3\xa9.pdf", "caf\xc3\xa9.pdf");	/* as it was */
	lossy_is("caf\xe9.pdf", "caf\xef\xbf\xbd.pdf");	/* Latin-1 */
	lossy_is("\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd");
	lossy_is("cut \xe6\x9d", "cut \xef\xbf\xbd\xef\xbf\xbd");
	lossy_is("", "");
	return failures != 0;
}
