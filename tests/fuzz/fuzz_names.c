/*
 * fuzz_names.c — display names and ids, as a listing from the service
 * brings them, through the name codec (fs/names.c): names_encode() for
 * each, names_disambiguate() over the folder, names_copy_number() for a
 * queue's repeated document names.
 *
 * Input: "display\0id\0display\0id..." (a missing id is "0"); at most 64
 * entries. Properties (names.h): a name is never empty, ".", ".." or over
 * UPFS_NAME_MAX bytes and holds no '/' and no control character (ids
 * included: they come from the service too); after names_disambiguate()
 * objects with different ids have different names, when the ids are of a
 * size a file name can hold (the service's are 36 bytes or less; two ids
 * equal in their first 253 bytes cannot be told apart in 255); copy 1 of
 * a name is the name itself.
 */
#include <errno.h>

#include "names.h"
#include "fuzz.h"

#define MAX_ENTRIES 64
#define MAX_ID_TOLD_APART 64

static void check_name(const char *name)
{
	size_t len = strlen(name);

	FUZZ_CHECK(len > 0 && len <= UPFS_NAME_MAX);
	FUZZ_CHECK(strcmp(name, ".") != 0 && strcmp(name, "..") != 0);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		FUZZ_CHECK(*p != '/' && *p >= 0x20 && *p != 0x7f);
}

static void check_copies(const char *name)
{
	static const unsigned ns[] = { 1, 2, 10, 4294967295u };
	struct buf b;

	buf_init(&b, 0);
	for (size_t i = 0; i < FUZZ_COUNT(ns); i++) {
		buf_reset(&b);
		FUZZ_CHECK(names_copy_number(&b, name, ns[i]) == 0);
		if (ns[i] == 1)
			FUZZ_CHECK(strcmp(b.data, name) == 0);
		else
			FUZZ_CHECK(strstr(b.data, " ~") != NULL);
	}
	buf_release(&b);
}

/* Whether the ids of e[0..n) are all different and not too long. */
static int ids_distinct(const struct names_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strlen(e[i].id) > MAX_ID_TOLD_APART)
			return 0;
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(e[i].id, e[j].id) == 0)
				return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct names_entry e[MAX_ENTRIES];
	char *text = fuzz_text(data, size), *p = text, *end = text + size;
	size_t n = 0;
	struct buf b;

	buf_init(&b, 0);
	while (p <= end && n < MAX_ENTRIES) {
		const char *display = p, *id;

		p += strlen(p) + 1;
		id = p <= end ? p : "0";
		if (p <= end)
			p += strlen(p) + 1;
		if (id[0] == '\0')
			id = "0"; /* the service never sends an empty id */
		buf_reset(&b);
		FUZZ_CHECK(names_encode(&b, display, id) == 0);
		check_name(b.data);
		check_copies(b.data);
		e[n].name = buf_detach(&b, NULL);
		e[n++].id = id;
	}
	FUZZ_CHECK(names_disambiguate(e, n) == 0);
	for (size_t i = 0; i < n; i++)
		check_name(e[i].name);
	if (ids_distinct(e, n)) {
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++)
				FUZZ_CHECK(strcmp(e[i].name, e[j].name) != 0);
	}
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	buf_release(&b);
	free(text);
	return 0;
}
