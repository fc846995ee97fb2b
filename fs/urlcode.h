/*
 * urlcode.h — percent-decoding of URL text, for the daemon (a task's
 * parentUrl) and the CUPS backend (its device URI): one rule for both.
 */
#ifndef UPFS_URLCODE_H
#define UPFS_URLCODE_H

#include <stddef.h>

/*
 * Decodes the n bytes at s into out (len bytes, NUL-ended): 0, -EINVAL
 * for a bad %xx or one that decodes to a NUL or a "/" (it would change
 * what the text names), -ENAMETOOLONG when it does not fit.
 */
int url_decode(const char *s, size_t n, char *out, size_t len);

#endif
