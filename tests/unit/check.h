/*
 * check.h — the checks of the C unit tests: each failed check prints where
 * and why and is counted; main() returns non-zero when any failed. For
 * test programs only (one translation unit each).
 */
#ifndef UPFS_TEST_CHECK_H
#define UPFS_TEST_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK_MSG(cond, ...)                                                 \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);      \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			failures++;                                          \
		}                                                            \
	} while (0)

#define CHECK(cond) CHECK_MSG(cond, "check failed: %s", #cond)

#endif
