/*
 * fuzz_sniff_zip.c — a document that starts like a ZIP package, through
 * sniff_zip_package() (fs/sniff_zip.c), which follows the offsets the
 * package's own directory gives.
 *
 * Input: the document's bytes, in a memory file. Properties (sniff.h):
 * the answer is NULL, XPS or OpenXPS, and reading a memory file never
 * fails; reads stay within the document (ASan would see the rest).
 */
#include <sys/mman.h>
#include <unistd.h>

#include "sniff.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("document", MFD_CLOEXEC), err = -1;
	const char *type;

	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	/* The spool's file may be longer than its document. */
	FUZZ_CHECK(write(fd, "PK\x05\x06", 4) == 4);
	type = sniff_zip_package(fd, size, &err);
	FUZZ_CHECK(err == 0);
	FUZZ_CHECK(type == NULL || strcmp(type, "application/oxps") == 0 ||
		   strcmp(type, "application/vnd.ms-xpsdocument") == 0);
	close(fd);
	return 0;
}
