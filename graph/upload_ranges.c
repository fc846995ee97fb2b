/*
 * upload_ranges.c — the byte-range sets of an upload session: parsing
 * nextExpectedRanges, union, intersection, and cutting the next range to
 * send. Pure code, no I/O, no locks: the caller (upload.c) guards a set.
 *
 * A set is a sorted array of disjoint, non-touching inclusive ranges; an
 * upload has a handful of holes at most, so arrays beat trees here.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph_private.h"

void graph_ranges_init(struct graph_ranges *s)
{
	memset(s, 0, sizeof(*s));
}

void graph_ranges_release(struct graph_ranges *s)
{
	free(s->v);
	graph_ranges_init(s);
}

static int graph_ranges_reserve(struct graph_ranges *s, size_t n)
{
	struct graph_range *v;
	size_t alloc;

	if (n <= s->alloc)
		return 0;
	alloc = s->alloc ? s->alloc * 2 : 8;
	while (alloc < n)
		alloc *= 2;
	v = realloc(s->v, alloc * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->v = v;
	s->alloc = alloc;
	return 0;
}

int graph_u64_parse(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*out = v;
	return 0;
}

int graph_range_parse(const char *text, uint64_t size, struct graph_range *out)
{
	const char *p = text;
	uint64_t first, last;

	if (!text || size == 0 || graph_u64_parse(&p, &first) || *p++ != '-')
		return -EINVAL;
	if (*p == '\0') {
		last = size - 1;
	} else if (graph_u64_parse(&p, &last) || *p != '\0') {
		return -EINVAL;
	}
	if (last >= size)
		last = size - 1;
	if (first > last)
		return -EINVAL;
	out->first = first;
	out->last = last;
	return 0;
}

int graph_ranges_add(struct graph_ranges *s, uint64_t first, uint64_t last)
{
	size_t i, j;
	int rc;

	if (first > last)
		return 0;
	/* i: the first range that ends at or after first - 1 (may merge). */
	for (i = 0; i < s->n; i++) {
		if (s->v[i].last == UINT64_MAX || s->v[i].last + 1 >= first)
			break;
	}
	/* j: one past the last range that starts at or before last + 1. */
	for (j = i; j < s->n; j++) {
		if (last != UINT64_MAX && s->v[j].first > last + 1)
			break;
	}
	if (i == j) {
		rc = graph_ranges_reserve(s, s->n + 1);
		if (rc)
			return rc;
		memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(s->v[0]));
		s->v[i].first = first;
		s->v[i].last = last;
		s->n++;
		return 0;
	}
	if (s->v[i].first < first)
		first = s->v[i].first;
	if (s->v[j - 1].last > last)
		last = s->v[j - 1].last;
	s->v[i].first = first;
	s->v[i].last = last;
	memmove(&s->v[i + 1], &s->v[j], (s->n - j) * sizeof(s->v[0]));
	s->n -= j - i - 1;
	return 0;
}

int graph_ranges_intersect(struct graph_ranges *s, const struct graph_ranges *t)
{
	struct graph_ranges out;
	size_t i = 0, j = 0;
	uint64_t lo, hi;
	int rc = 0;

	graph_ranges_init(&out);
	while (i < s->n && j < t->n) {
		lo = s->v[i].first > t->v[j].first ? s->v[i].first
						   : t->v[j].first;
		hi = s->v[i].last < t->v[j].last ? s->v[i].last : t->v[j].last;
		if (lo <= hi) {
			rc = graph_ranges_add(&out, lo, hi);
			if (rc) {
				graph_ranges_release(&out);
				return rc;
			}
		}
		if (s->v[i].last < t->v[j].last)
			i++;
		else
			j++;
	}
	graph_ranges_release(s);
	*s = out;
	return 0;
}

int graph_ranges_from_json(const json_t *array, uint64_t size,
			   struct graph_ranges *out)
{
	struct graph_range r;
	const json_t *item;
	size_t i;
	int rc;

	out->n = 0;
	if (!json_is_array(array))
		return -EPROTO;
	json_array_foreach(array, i, item) {
		if (graph_range_parse(json_string_value(item), size, &r))
			goto bad;
		rc = graph_ranges_add(out, r.first, r.last);
		if (rc)
			return rc;
	}
	return 0;
bad:
	out->n = 0;
	return -EPROTO;
}

uint64_t graph_ranges_bytes(const struct graph_ranges *s)
{
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < s->n; i++)
		total += s->v[i].last - s->v[i].first + 1;
	return total;
}

bool graph_ranges_take(struct graph_ranges *s, uint64_t chunk,
		       struct graph_range *out)
{
	uint64_t end;

	if (s->n == 0)
		return false;
	*out = s->v[0];
	if (chunk) {
		end = (out->first / chunk) * chunk + (chunk - 1);
		if (end >= out->first && end < out->last)
			out->last = end;
	}
	if (out->last == s->v[0].last) {
		memmove(&s->v[0], &s->v[1], (s->n - 1) * sizeof(s->v[0]));
		s->n--;
	} else {
		s->v[0].first = out->last + 1;
	}
	return true;
}
