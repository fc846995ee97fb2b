/*
 * fuzz_sniff_zip.c — a document that starts like a ZIP package, through
 * sniff_zip_package() (fs/sniff_zip.c), which follows the offsets the
 * package's own directory gives.
 *
 * Input: the document's bytes, in a memory file. Properties (sniff.h):
 * the answer is NULL, XPS or OpenXPS, and reading a memory file never
 * fails; the answer is the same when the file holds more than the
 * document (spool files are reused, spool.c), so nothing past size was
 * read.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "sniff.h"
#include "fuzz.h"

/* The answer for data in a memory file followed by tail. */
static const char *sniff(const uint8_t *data, size_t size, const char *tail)
{
	int fd = memfd_create("document", MFD_CLOEXEC), err = -1;
	const char *type;

	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	FUZZ_CHECK(write(fd, tail, strlen(tail)) == (ssize_t)strlen(tail));
	type = sniff_zip_package(fd, size, &err);
	FUZZ_CHECK(err == 0);
	FUZZ_CHECK(type == NULL || strcmp(type, "application/oxps") == 0 ||
		   strcmp(type, "application/vnd.ms-xpsdocument") == 0);
	close(fd);
	return type;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An end record and a namespace past the document's end. */
	const char *tail = "PK\x05\x06 schemas.openxps.org/oxps/";
	const char *alone = sniff(data, size, ""), *longer = sniff(data, size,
								   tail);

	FUZZ_CHECK(alone == longer);
	return 0;
}
