/*
 * fuzz_upload_ranges.c — an upload-session reply (the 202 of a range PUT,
 * the 200 of a status GET, the 201 that completes it) handled as
 * graph/upload.c handles it: the body parsed, nextExpectedRanges through
 * graph_ranges_from_json() and graph_range_parse(), intersected with what
 * is still to send, and cut into ranges with graph_ranges_take()
 * (graph/upload_ranges.c).
 *
 * The file size is the reply's "size" when it has one from 1 byte to
 * 1 GiB (the 201 does; upfs refuses larger documents), else that of the
 * print doc's example. Properties
 * (graph_private.h): a set is sorted, disjoint, never touching and inside
 * the file; a refused report leaves the set empty; the ranges taken are
 * exactly the set's bytes, each within one chunk.
 */
#include <errno.h>
#include <jansson.h>

#include "graph_private.h"
#include "fuzz.h"

#define EXAMPLE_SIZE 4533322u
#define MAX_SIZE ((json_int_t)1 << 30)
#define CHUNK ((uint64_t)4 << 20)

static void check_set(const struct graph_ranges *s, uint64_t size)
{
	for (size_t i = 0; i < s->n; i++) {
		FUZZ_CHECK(s->v[i].first <= s->v[i].last);
		FUZZ_CHECK(s->v[i].last < size);
		if (i > 0)
			FUZZ_CHECK(s->v[i - 1].last + 1 < s->v[i].first);
	}
}

/* Takes every range off s; they must cover exactly its bytes, in order. */
static void check_take(struct graph_ranges *s, uint64_t chunk)
{
	uint64_t want = graph_ranges_bytes(s), got = 0, prev_end = 0;
	struct graph_range r;
	bool first = true;

	while (graph_ranges_take(s, chunk, &r)) {
		FUZZ_CHECK(r.first <= r.last);
		FUZZ_CHECK(first || r.first > prev_end);
		if (chunk)
			FUZZ_CHECK(r.first / chunk == r.last / chunk);
		got += r.last - r.first + 1;
		prev_end = r.last;
		first = false;
	}
	FUZZ_CHECK(got == want);
	FUZZ_CHECK(s->n == 0);
}

/* Each element alone through graph_range_parse(). */
static void check_elements(const json_t *next, uint64_t size)
{
	struct graph_range r;
	const json_t *item;
	size_t i;

	json_array_foreach(next, i, item) {
		const char *text = json_string_value(item);

		if (graph_range_parse(text, size, &r) == 0) {
			FUZZ_CHECK(r.first <= r.last && r.last < size);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	json_t *next = json_object_get(doc, "nextExpectedRanges");
	json_int_t n = json_integer_value(json_object_get(doc, "size"));
	uint64_t file = n > 0 && n <= MAX_SIZE ? (uint64_t)n : EXAMPLE_SIZE;
	struct graph_ranges todo, missing;
	int rc;

	graph_ranges_init(&todo);
	graph_ranges_init(&missing);
	check_elements(next, file);
	/* As upload.c: all of the file to send, then what the reply says. */
	FUZZ_CHECK(graph_ranges_add(&todo, 0, file - 1) == 0);
	rc = graph_ranges_from_json(next, file, &missing);
	FUZZ_CHECK(rc == 0 || rc == -EPROTO);
	if (rc)
		FUZZ_CHECK(missing.n == 0);
	check_set(&missing, file);
	FUZZ_CHECK(graph_ranges_bytes(&missing) <= file);
	if (rc == 0) {
		uint64_t had = graph_ranges_bytes(&missing);

		FUZZ_CHECK(graph_ranges_intersect(&todo, &missing) == 0);
		check_set(&todo, file);
		FUZZ_CHECK(graph_ranges_bytes(&todo) == had);
	}
	/* A failed range goes back into the set, merged with its holes. */
	if (todo.n > 0)
		FUZZ_CHECK(graph_ranges_add(&todo, todo.v[0].first,
					    todo.v[0].last) == 0);
	check_set(&todo, file);
	check_take(&missing, 0);
	check_take(&todo, CHUNK);
	graph_ranges_release(&todo);
	graph_ranges_release(&missing);
	json_decref(doc);
	return 0;
}
