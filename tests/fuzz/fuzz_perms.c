/*
 * fuzz_perms.c — a share's allowed_users or allowed_groups file through
 * the line parser perms_commit() uses (perms_lines(), fs/perms.c). What
 * follows the parsing (resolving each line at the service) needs a mount
 * and is left to the mounted tests.
 *
 * Properties (perms.h): each line handed on is non-empty, trimmed of
 * blanks and '\r', not a '#' comment, one line of at most PERMS_LINE_MAX
 * bytes, and given once; a text holding a NUL byte or bytes that are not
 * UTF-8 is refused whole (-EINVAL, no line handed on), and so is one only
 * when it holds one of those or a line over PERMS_LINE_MAX bytes.
 */
#include <errno.h>

#include "perms.h"
#include "utf8.h"
#include "fuzz.h"

#define MAX_SEEN 4096

struct seen {
	char *lines[MAX_SEEN];
	size_t n;
	size_t calls;
};

static int take_line(void *arg, const char *line)
{
	struct seen *s = arg;
	size_t len = strlen(line);

	FUZZ_CHECK(len > 0);
	FUZZ_CHECK(line[0] != ' ' && line[0] != '\t' && line[0] != '#');
	FUZZ_CHECK(line[len - 1] != ' ' && line[len - 1] != '\t' &&
		   line[len - 1] != '\r');
	FUZZ_CHECK(strchr(line, '\n') == NULL);
	FUZZ_CHECK(len <= PERMS_LINE_MAX);
	for (size_t i = 0; i < s->n; i++)
		FUZZ_CHECK(strcmp(s->lines[i], line) != 0);
	if (s->n < MAX_SEEN) {
		s->lines[s->n] = strdup(line);
		FUZZ_CHECK(s->lines[s->n] != NULL);
		s->n++;
	}
	/* Stopping early is passed back, as a resolving failure would be. */
	return ++s->calls == 1000 ? -EINVAL : 0;
}

/* The longest line of data, in bytes, untrimmed. */
static size_t longest_line(const uint8_t *data, size_t size)
{
	size_t longest = 0, start = 0;

	for (size_t i = 0; i <= size; i++)
		if (i == size || data[i] == '\n') {
			if (i - start > longest)
				longest = i - start;
			start = i + 1;
		}
	return longest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen *s = calloc(1, sizeof(*s));
	struct buf text;
	int rc;

	FUZZ_CHECK(s != NULL);
	buf_init(&text, 0);
	FUZZ_CHECK(buf_append(&text, data, size) == 0);
	rc = perms_lines(&text, take_line, s);
	if ((size > 0 && memchr(data, '\0', size)) ||
	    !utf8_valid((const char *)data, size))
		FUZZ_CHECK(rc == -EINVAL && s->calls == 0);
	else if (rc == -EINVAL && s->calls == 0)
		FUZZ_CHECK(longest_line(data, size) > PERMS_LINE_MAX);
	else
		FUZZ_CHECK(rc == 0 || (rc == -EINVAL && s->calls == 1000));
	for (size_t i = 0; i < s->n; i++)
		free(s->lines[i]);
	free(s);
	buf_release(&text);
	return 0;
}
