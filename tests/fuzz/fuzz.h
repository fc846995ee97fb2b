/*
 * fuzz.h — what the libFuzzer targets in tests/fuzz/ share: a NUL-ended
 * copy of the input and a check that aborts (libFuzzer then keeps the
 * input as a crash). For fuzz targets only (one translation unit each).
 *
 * Each target calls the project's own code with the input; a FUZZ_CHECK
 * states a property the module's header promises, so a wrong answer is a
 * finding as much as a crash is.
 */
#ifndef UPFS_FUZZ_H
#define UPFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: property broken: %s\n",      \
				__FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

#define FUZZ_COUNT(a) (sizeof(a) / sizeof((a)[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A malloc'd copy of data with a NUL after it; aborts when out of memory. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_CHECK(s != NULL);
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Whether why (a reason buffer of len bytes) holds a NUL-ended string. */
static inline int fuzz_terminated(const char *why, size_t len)
{
	return memchr(why, '\0', len) != NULL;
}

#endif
