/*
 * test_sniff.c — content types from the first bytes of a document, and
 * XPS or OpenXPS from the parts of a ZIP package (packages written here
 * into a temporary file, stored or deflated with zlib).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

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

#define XPS_REL "<Relationships><Relationship Type=\"http://schemas." \
		"microsoft.com/xps/2005/06/fixedrepresentation\" " \
		"Target=\"/FixedDocumentSequence.fdseq\"/></Relationships>"
#define OXPS_REL "<Relationships><Relationship Type=\"http://schemas." \
		 "openxps.org/oxps/v1.0/fixedrepresentation\" " \
		 "Target=\"/FixedDocSeq.fdseq\"/></Relationships>"

struct entry {
	const char *name;
	const char *text;	/* NULL: 6000 bytes that do not compress */
	bool deflate;
};

static void put16(FILE *f, unsigned v)
{
	fputc((int)(v & 0xff), f);
	fputc((int)(v >> 8 & 0xff), f);
}

static void put32(FILE *f, uint32_t v)
{
	put16(f, v & 0xffff);
	put16(f, v >> 16);
}

/* A ZIP package of the entries, then comment, in a temporary file. */
static FILE *write_zip(const struct entry *e, size_t n, const char *comment)
{
	FILE *f = tmpfile();
	long offs[8];
	unsigned char packed[8192], noise[6000];
	uLongf plen[8];
	long dir;

	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (unsigned char)(i * 7919 >> 3 ^ i);
	for (size_t i = 0; i < n; i++) {
		const unsigned char *raw = e[i].text
			? (const unsigned char *)e[i].text : noise;
		size_t len = e[i].text ? strlen(e[i].text) : sizeof(noise);
		z_stream z = { 0 };

		plen[i] = len;
		memcpy(packed, raw, len);
		if (e[i].deflate) {
			deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 8,
				     Z_DEFAULT_STRATEGY);
			z.next_in = (unsigned char *)raw;
			z.avail_in = (uInt)len;
			z.next_out = packed;
			z.avail_out = sizeof(packed);
			deflate(&z, Z_FINISH);
			plen[i] = sizeof(packed) - z.avail_out;
			deflateEnd(&z);
		}
		offs[i] = ftell(f);
		put32(f, 0x04034b50);
		put16(f, 20);
		put16(f, 0);
		put16(f, e[i].deflate ? 8 : 0);
		put32(f, 0);
		put32(f, (uint32_t)crc32(0, raw, (uInt)len));
		put32(f, (uint32_t)plen[i]);
		put32(f, (uint32_t)len);
		put16(f, (unsigned)strlen(e[i].name));
		put16(f, 0);
		fputs(e[i].name, f);
		fwrite(packed, 1, plen[i], f);
	}
	dir = ftell(f);
	for (size_t i = 0; i < n; i++) {
		put32(f, 0x02014b50);
		put16(f, 20);
		put16(f, 20);
		put16(f, 0);
		put16(f, e[i].deflate ? 8 : 0);
		put32(f, 0);
		put32(f, 0);
		put32(f, (uint32_t)plen[i]);
		put32(f, 0);
		put16(f, (unsigned)strlen(e[i].name));
		put16(f, 0);
		put16(f, 0);
		put16(f, 0);
		put16(f, 0);
		put32(f, 0);
		put32(f, (uint32_t)offs[i]);
		fputs(e[i].name, f);
	}
	put32(f, 0x06054b50);
	put16(f, 0);
	put16(f, 0);
	put16(f, (unsigned)n);
	put16(f, (unsigned)n);
	put32(f, (uint32_t)(ftell(f) - 12 - dir));
	put32(f, (uint32_t)dir);
	put16(f, (unsigned)strlen(comment));
	fputs(comment, f);
	fflush(f);
	return f;
}

static void expect_package(const char *what, const struct entry *e, size_t n,
			   const char *comment, const char *want)
{
	FILE *f = write_zip(e, n, comment);
	long size = (fseek(f, 0, SEEK_END), ftell(f));
	int err = -1;
	const char *got = sniff_zip_package(fileno(f), (uint64_t)size, &err);

	if (err != 0 || (got == NULL) != (want == NULL) ||
	    (got && strcmp(got, want) != 0)) {
		fprintf(stderr, "%s: got %s (err %d), want %s\n", what,
			got ? got : "NULL", err, want ? want : "NULL");
		failures++;
	}
	/* A document is the first size bytes of its spool file, which may
	   be longer (spool.c reuses files): cut short, no package. */
	got = sniff_zip_package(fileno(f), (uint64_t)size - 10, &err);
	if (got || err) {
		fprintf(stderr, "%s, cut: got %s (err %d)\n", what,
			got ? got : "NULL", err);
		failures++;
	}
	fclose(f);
}

static void packages(void)
{
	/* WPF writes MS XPS with this sequence name, after a thumbnail that
	   pushes every part name past the first 4 KiB. */
	const struct entry wpf[] = {
		{ "Metadata/thumbnail.png", NULL, false },
		{ "[Content_Types].xml", "<Types/>", true },
		{ "_rels/.rels", XPS_REL, true },
		{ "FixedDocumentSequence.fdseq",
		  "<FixedDocumentSequence xmlns=\"http://schemas.microsoft."
		  "com/xps/2005/06\"/>", true },
	};
	const struct entry oxps[] = {
		{ "_RELS/.RELS", OXPS_REL, false },
		{ "FixedDocSeq.fdseq", "<x/>", true },
	};
	const struct entry no_rels[] = {
		{ "Documents/1/Pages/1.fpage", NULL, true },
		{ "Seq.fdseq",
		  "<FixedDocumentSequence xmlns=\"http://schemas.openxps.org"
		  "/oxps/v1.0\"/>", true },
	};
	const struct entry plain[] = {
		{ "hello.txt", "hello", true },
		{ "_rels/.rels", "<Relationships/>", true },
	};

	expect_package("xps (wpf)", wpf, 4, "", "application/vnd.ms-xpsdocument");
	expect_package("oxps, stored rels", oxps, 2, "made by a test",
		       "application/oxps");
	expect_package("oxps, sequence only", no_rels, 2, "",
		       "application/oxps");
	expect_package("plain zip", plain, 2, "", NULL);
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
	packages();
	if (failures) {
		fprintf(stderr, "test_sniff: %d failure(s)\n", failures);
		return 1;
	}
	return 0;
}
