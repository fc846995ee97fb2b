/*
 * test_graph_upload.c — the pure pieces of the upload protocol: parsing
 * "a-b" ranges (with the doc's off-by-one), nextExpectedRanges, range-set
 * union and intersection, and cutting ranges to send. Also the argument
 * checks of graph_upload_document(). No network.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"
#include "check.h"
#include "graph_private.h"


/* Renders a set as "a-b,c-d" for comparison. */
static const char *show(const struct graph_ranges *s)
{
	static char out[512];
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < s->n && o < sizeof(out); i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%llu-%llu",
				      i ? "," : "",
				      (unsigned long long)s->v[i].first,
				      (unsigned long long)s->v[i].last);
	return out;
}

#define CHECK_SET(s, want)                                                  \
	do {                                                                \
		if (strcmp(show(s), want) != 0) {                           \
			fprintf(stderr, "%s:%d: set is '%s', want '%s'\n",  \
				__FILE__, __LINE__, show(s), want);         \
			failures++;                                         \
		}                                                           \
	} while (0)

static void test_parse(void)
{
	static const struct {
		const char *text;
		uint64_t size;
		int rc;
		uint64_t first, last;
	} cases[] = {
		{ "0-4533321", 4533322, 0, 0, 4533321 },
		{ "72797-4533321", 4533322, 0, 72797, 4533321 },
		/* the print doc's example ends its last range at size */
		{ "78929-4533322", 4533322, 0, 78929, 4533321 },
		{ "5-", 10, 0, 5, 9 },
		{ "0-0", 1, 0, 0, 0 },
		{ "0-", 1, 0, 0, 0 },
		{ "9-9", 10, 0, 9, 9 },
		{ "10-12", 10, -EINVAL, 0, 0 },	/* starts past the end */
		{ "5-4", 10, -EINVAL, 0, 0 },
		{ "", 10, -EINVAL, 0, 0 },
		{ "-5", 10, -EINVAL, 0, 0 },
		{ "a-5", 10, -EINVAL, 0, 0 },
		{ "1-5x", 10, -EINVAL, 0, 0 },
		{ " 1-5", 10, -EINVAL, 0, 0 },
		{ "1 - 5", 10, -EINVAL, 0, 0 },
		{ "1-5", 0, -EINVAL, 0, 0 },
		{ "99999999999999999999-1", 10, -EINVAL, 0, 0 },
		{ "0-99999999999999999999", 10, -EINVAL, 0, 0 },
	};
	struct graph_range r;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&r, 0, sizeof(r));
		rc = graph_range_parse(cases[i].text, cases[i].size, &r);
		if (rc != cases[i].rc ||
		    (rc == 0 && (r.first != cases[i].first ||
				 r.last != cases[i].last))) {
			fprintf(stderr, "parse '%s' size %llu: rc %d %llu-%llu\n",
				cases[i].text,
				(unsigned long long)cases[i].size, rc,
				(unsigned long long)r.first,
				(unsigned long long)r.last);
			failures++;
		}
	}
	CHECK(graph_range_parse(NULL, 10, &r) == -EINVAL);
}

static void test_add(void)
{
	struct graph_ranges s;

	graph_ranges_init(&s);
	CHECK(graph_ranges_add(&s, 10, 19) == 0);
	CHECK(graph_ranges_add(&s, 30, 39) == 0);
	CHECK(graph_ranges_add(&s, 0, 4) == 0);
	CHECK_SET(&s, "0-4,10-19,30-39");
	CHECK(graph_ranges_add(&s, 20, 29) == 0); /* touches both: merges */
	CHECK_SET(&s, "0-4,10-39");
	CHECK(graph_ranges_add(&s, 5, 9) == 0);
	CHECK_SET(&s, "0-39");
	CHECK(graph_ranges_add(&s, 50, 60) == 0);
	CHECK(graph_ranges_add(&s, 45, 55) == 0); /* overlaps */
	CHECK(graph_ranges_add(&s, 70, 80) == 0);
	CHECK(graph_ranges_add(&s, 3, 75) == 0); /* swallows several */
	CHECK_SET(&s, "0-80");
	CHECK(graph_ranges_add(&s, 90, 80) == 0); /* empty: ignored */
	CHECK_SET(&s, "0-80");
	CHECK(graph_ranges_bytes(&s) == 81);
	graph_ranges_release(&s);
	CHECK(s.n == 0 && s.v == NULL);
}

static void set_of(struct graph_ranges *s, const char *json, uint64_t size)
{
	json_t *a = json_loads(json, 0, NULL);

	CHECK(a != NULL);
	CHECK(graph_ranges_from_json(a, size, s) == 0);
	json_decref(a);
}

static void test_json(void)
{
	struct graph_ranges s;
	json_t *a;

	graph_ranges_init(&s);
	/* The doc's example: two holes, the last one off by one. */
	set_of(&s, "[\"72797-72897\",\"78929-4533322\"]", 4533322);
	CHECK_SET(&s, "72797-72897,78929-4533321");
	/* Out of order and touching: normalised. */
	set_of(&s, "[\"50-59\",\"0-9\",\"10-19\"]", 100);
	CHECK_SET(&s, "0-19,50-59");
	set_of(&s, "[]", 100);
	CHECK_SET(&s, "");
	set_of(&s, "[\"40-\"]", 100);
	CHECK_SET(&s, "40-99");
	/* Anything unusable is rejected whole and leaves the set empty. */
	a = json_loads("[\"0-9\",\"x\"]", 0, NULL);
	CHECK(graph_ranges_from_json(a, 100, &s) == -EPROTO && s.n == 0);
	json_decref(a);
	a = json_loads("[\"0-9\",7]", 0, NULL);
	CHECK(graph_ranges_from_json(a, 100, &s) == -EPROTO);
	json_decref(a);
	a = json_loads("\"0-9\"", JSON_DECODE_ANY, NULL);
	CHECK(graph_ranges_from_json(a, 100, &s) == -EPROTO);
	json_decref(a);
	CHECK(graph_ranges_from_json(NULL, 100, &s) == -EPROTO);
	graph_ranges_release(&s);
}

static void test_intersect(void)
{
	struct graph_ranges s, t;

	graph_ranges_init(&s);
	graph_ranges_init(&t);
	set_of(&s, "[\"0-99\"]", 100);
	set_of(&t, "[\"10-19\",\"50-\"]", 100);
	CHECK(graph_ranges_intersect(&s, &t) == 0);
	CHECK_SET(&s, "10-19,50-99");
	/* A stale report that says more is missing changes nothing. */
	set_of(&t, "[\"0-99\"]", 100);
	CHECK(graph_ranges_intersect(&s, &t) == 0);
	CHECK_SET(&s, "10-19,50-99");
	set_of(&t, "[\"15-60\",\"70-70\",\"98-99\"]", 100);
	CHECK(graph_ranges_intersect(&s, &t) == 0);
	CHECK_SET(&s, "15-19,50-60,70-70,98-99");
	set_of(&t, "[]", 100);
	CHECK(graph_ranges_intersect(&s, &t) == 0);
	CHECK_SET(&s, "");
	graph_ranges_release(&s);
	graph_ranges_release(&t);
}

/* Takes every range off s, rendering them. */
static const char *take_all(struct graph_ranges *s, uint64_t chunk)
{
	static char out[512];
	struct graph_range r;
	size_t o = 0;

	out[0] = '\0';
	while (graph_ranges_take(s, chunk, &r) && o < sizeof(out))
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%llu-%llu",
				      o ? "," : "",
				      (unsigned long long)r.first,
				      (unsigned long long)r.last);
	return out;
}

static void test_take(void)
{
	const uint64_t c = UPFS_UPLOAD_CHUNK;
	struct graph_ranges s;
	const char *got;

	CHECK(c % (200 * 1024) == 0 && c < 10 * 1000 * 1000);
	graph_ranges_init(&s);
	CHECK_SET(&s, "");
	CHECK(strcmp(take_all(&s, c), "") == 0);
	/* 10 MB whole: chunk, chunk, rest. */
	CHECK(graph_ranges_add(&s, 0, 9999999) == 0);
	got = take_all(&s, c);
	CHECK(strcmp(got, "0-4095999,4096000-8191999,8192000-9999999") == 0);
	CHECK(s.n == 0);
	/* One byte; a file of exactly one chunk plus one byte. */
	CHECK(graph_ranges_add(&s, 0, 0) == 0);
	CHECK(strcmp(take_all(&s, c), "0-0") == 0);
	CHECK(graph_ranges_add(&s, 0, 204800) == 0);
	CHECK(strcmp(take_all(&s, 204800), "0-204799,204800-204800") == 0);
	/* After a hole, back onto chunk boundaries. */
	set_of(&s, "[\"72797-72897\",\"78929-9000000\"]", 9000000);
	got = take_all(&s, c);
	CHECK(strcmp(got, "72797-72897,78929-4095999,4096000-8191999,"
			  "8192000-8999999") == 0);
	/* No limit. */
	CHECK(graph_ranges_add(&s, 5, 50) == 0);
	CHECK(strcmp(take_all(&s, 0), "5-50") == 0);
	/* Taking leaves the rest in place. */
	CHECK(graph_ranges_add(&s, 0, 99) == 0);
	CHECK(graph_ranges_add(&s, 200, 299) == 0);
	{
		struct graph_range r;

		CHECK(graph_ranges_take(&s, 64, &r) && r.first == 0 &&
		      r.last == 63);
		CHECK_SET(&s, "64-99,200-299");
	}
	graph_ranges_release(&s);
}

/* 202s for ranges sent in parallel, replies arriving out of order. */
static void test_stale_replies(void)
{
	struct graph_ranges todo, rep;
	struct graph_range a, b, c;

	graph_ranges_init(&todo);
	graph_ranges_init(&rep);
	CHECK(graph_ranges_add(&todo, 0, 299) == 0);
	CHECK(graph_ranges_take(&todo, 100, &a));
	CHECK(graph_ranges_take(&todo, 100, &b));
	CHECK(graph_ranges_take(&todo, 100, &c));
	CHECK(todo.n == 0);
	/* b's reply (fresh) arrives first, then a's (stale: b missing). */
	set_of(&rep, "[\"0-99\",\"200-299\"]", 300);
	CHECK(graph_ranges_intersect(&todo, &rep) == 0);
	set_of(&rep, "[\"100-299\"]", 300);
	CHECK(graph_ranges_intersect(&todo, &rep) == 0);
	CHECK_SET(&todo, "");
	/* c got 416: re-added, then cut down to what the session misses. */
	CHECK(graph_ranges_add(&todo, c.first, c.last) == 0);
	set_of(&rep, "[\"250-299\"]", 300);
	CHECK(graph_ranges_intersect(&todo, &rep) == 0);
	CHECK_SET(&todo, "250-299");
	graph_ranges_release(&todo);
	graph_ranges_release(&rep);
}

static void test_arguments(void)
{
	struct graph_config cfg = {
		.endpoint = "http://127.0.0.1:9/v1.0",
		.access_token = "t",
	};
	struct graph *g = NULL;
	struct graph_err err;
	json_t *doc = (json_t *)&cfg;

	CHECK(graph_new(&g, &cfg, &err) == 0);
	if (!g)
		return;
	CHECK(graph_upload_document(g, "http://127.0.0.1:9/up", 0, 0, NULL,
				    NULL, &doc, &err) == -EINVAL);
	CHECK(doc == NULL);
	CHECK(graph_upload_document(g, "/relative", 0, 1, NULL, NULL, NULL,
				    &err) == -EINVAL);
	CHECK(graph_upload_document(g, NULL, 0, 1, NULL, NULL, NULL,
				    &err) == -EINVAL);
	CHECK(graph_upload_document(g, "http://127.0.0.1:9/up", -1, 1, NULL,
				    NULL, NULL, &err) == -EBADF);
	CHECK(graph_upload_cancel(g, "relative", &err) == -EINVAL);
	graph_free(g);
}

int main(void)
{
	test_parse();
	test_add();
	test_json();
	test_intersect();
	test_take();
	test_stale_replies();
	test_arguments();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
