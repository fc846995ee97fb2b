/*
 * test_sniff.c — content types from the first bytes of a document.
 */
#include <stdio.h>
#include <string.h>

#include "sniff.h"

static int failures;

static void expect(const char *what, const char *bytes, size_t len,
		   const char *want)
{
	const char *got = sniff_content_type((const unsigned char *)bytes, len);

	if ((got == NULL) != (want == NULL) ||
	    (got && strcmp(got, want) != 0)) {
		fprintf(stderr, "%s: got %s, want %s\n", what,
			got ? got : "NULL", want ? want : "NULL");
		failures++;
	}
}

int main(void)
{
	static const char oxps[] = "PK\x03\x04......FixedDocumentSequence.fdseq"
				   "...http://schemas.openxps.org/oxps/v1.0";
	static const char xps[] = "PK\x03\x04....FixedDocSeq.fdseq...http://"
				  "schemas.microsoft.com/xps/2005/06";

	expect("pdf", "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", 15, "application/pdf");
	expect("pclm", "%PDF-1.7\n%PCLm-1.0\n", 19, "application/PCLm");
	expect("oxps", oxps, sizeof(oxps) - 1, "application/oxps");
	expect("xps", xps, sizeof(xps) - 1, "application/vnd.ms-xpsdocument");
	expect("plain zip", "PK\x03\x04 hello.txt", 14, NULL);
	expect("pwg", "RaS2PwgRaster", 13, "image/pwg-raster");
	expect("urf", "UNIRAST\0", 8, "image/urf");
	expect("jpeg", "\xff\xd8\xff\xe0", 4, "image/jpeg");
	expect("png", "\x89PNG\r\n\x1a\n", 8, "image/png");
	expect("text", "hello, world\n", 13, NULL);
	expect("empty", "", 0, NULL);
	expect("short pdf", "%PD", 3, NULL);
	if (failures) {
		fprintf(stderr, "test_sniff: %d failure(s)\n", failures);
		return 1;
	}
	return 0;
}
