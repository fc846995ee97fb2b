/*
 * usage_index.c — a usage report kept as CSV lines and points (see
 * usage_index.h).
 *
 * The report's text is read one element at a time, so no more than one
 * row is ever a JSON tree: each element's end is found by its brackets
 * and quotes, and jansson reads exactly that much. (How far jansson
 * read, as JSON_DISABLE_EOF_CHECK reports it, is not a byte offset once
 * the text holds a NUL byte: jansson skips those.) Ids and names repeat on every
 * row of a printer or user: each distinct string is kept once.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "usage_index.h"

#define NO_STRING SIZE_MAX

struct usage_index {
	atomic_int refs;
	enum report_who who;
	size_t n;			/* rows */
	struct report_point *points;	/* per row; id and name in strings */
	size_t *line_at;		/* n + 1: row i's line is
					   lines[line_at[i], line_at[i + 1]) */
	char *lines;
	char *strings;			/* each distinct id and name once */
	size_t *order;			/* rows with an id: by id, day, row */
	size_t n_order;
	size_t *objects;		/* first row of each id */
	size_t n_objects;
	size_t bytes;
};

/* Distinct strings, each once in text (NUL-ended), found by hash. */
struct strset {
	struct buf text;
	size_t *slots;			/* open addressing: offsets in text */
	size_t n_slots, n;
};

/* What a build keeps until the strings stop moving. */
struct build {
	struct usage_index *x;
	size_t alloc;			/* rows the arrays have room for */
	size_t *id_at, *name_at;	/* per row: offset in strings.text */
	struct buf lines;
	struct strset strings;		/* ids and names */
	struct strset row_ids;		/* the rows' own ids, seen so far */
};

static int grow_rows(struct build *b)
{
	struct usage_index *x = b->x;
	size_t alloc = b->alloc ? 2 * b->alloc : 256;
	struct report_point *points;
	size_t *line_at, *id_at, *name_at;

	points = realloc(x->points, alloc * sizeof(*points));
	if (points)
		x->points = points;
	line_at = realloc(x->line_at, (alloc + 1) * sizeof(*line_at));
	if (line_at)
		x->line_at = line_at;
	id_at = realloc(b->id_at, alloc * sizeof(*id_at));
	if (id_at)
		b->id_at = id_at;
	name_at = realloc(b->name_at, alloc * sizeof(*name_at));
	if (name_at)
		b->name_at = name_at;
	if (!points || !line_at || !id_at || !name_at)
		return -ENOMEM;
	b->alloc = alloc;
	return 0;
}

static int grow_slots(struct strset *set)
{
	size_t n = set->n_slots ? 2 * set->n_slots : 1024;
	size_t *slots = malloc(n * sizeof(*slots));

	if (slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		slots[i] = NO_STRING;
	for (size_t i = 0; i < set->n_slots; i++) {
		size_t at = set->slots[i], h;

		if (at == NO_STRING)
			continue;
		h = fnv1a_update(FNV1A_SEED, set->text.data + at,
				 strlen(set->text.data + at)) & (n - 1);
		while (slots[h] != NO_STRING)
			h = (h + 1) & (n - 1);
		slots[h] = at;
	}
	free(set->slots);
	set->slots = slots;
	set->n_slots = n;
	return 0;
}

/*
 * The offset of s in set's text, added if new (*added says); NO_STRING
 * for NULL.
 */
static int intern(struct strset *set, const char *s, size_t *at, bool *added)
{
	size_t len, h;
	int rc;

	*at = NO_STRING;
	*added = false;
	if (s == NULL)
		return 0;
	if (2 * (set->n + 1) > set->n_slots && (rc = grow_slots(set)))
		return rc;
	len = strlen(s);
	h = fnv1a_update(FNV1A_SEED, s, len) & (set->n_slots - 1);
	for (; set->slots[h] != NO_STRING; h = (h + 1) & (set->n_slots - 1)) {
		if (strcmp(set->text.data + set->slots[h], s) == 0) {
			*at = set->slots[h];
			return 0;
		}
	}
	*at = set->text.len;
	rc = buf_append(&set->text, s, len + 1);
	if (rc)
		return rc;
	set->slots[h] = *at;
	set->n++;
	*added = true;
	return 0;
}

static void strset_release(struct strset *set)
{
	buf_release(&set->text);
	free(set->slots);
}

static int add_row(struct build *b, const json_t *row)
{
	struct usage_index *x = b->x;
	size_t i = x->n, at;
	bool added;
	int rc = 0;

	/* A row whose id an earlier page gave (one a change at the service
	   moved across a page boundary) counts once. */
	rc = intern(&b->row_ids, json_string_value(json_object_get(row, "id")),
		    &at, &added);
	if (rc || (at != NO_STRING && !added))
		return rc;
	if (i == b->alloc)
		rc = grow_rows(b);
	if (rc)
		return rc;
	report_point_of(row, x->who, &x->points[i]);
	x->line_at[i] = b->lines.len;
	rc = report_usage_line(row, &x->points[i], x->who, &b->lines);
	if (rc == 0)
		rc = intern(&b->strings, x->points[i].id, &b->id_at[i],
			    &added);
	if (rc == 0)
		rc = intern(&b->strings, x->points[i].name, &b->name_at[i],
			    &added);
	if (rc == 0)
		x->n++;
	return rc;
}

static size_t skip_space(const char *text, size_t len, size_t pos)
{
	while (pos < len && (text[pos] == ' ' || text[pos] == '\t' ||
			     text[pos] == '\n' || text[pos] == '\r'))
		pos++;
	return pos;
}

/*
 * One past the JSON value that starts at text[pos]: a string at its
 * closing quote, an object or array at the bracket that closes it
 * (brackets inside strings do not count), anything else at the next
 * comma, bracket or space. 0 when a string or bracket never closes.
 */
static size_t value_end(const char *text, size_t len, size_t pos)
{
	size_t depth = 0;
	bool in_string = false;

	for (; pos < len; pos++) {
		char c = text[pos];

		if (in_string) {
			if (c == '\\') {
				pos++;
			} else if (c == '"') {
				in_string = false;
				if (depth == 0)
					return pos + 1;
			}
		} else if (c == '"') {
			in_string = true;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return pos;
			if (--depth == 0)
				return pos + 1;
		} else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' ||
					  c == '\n' || c == '\r')) {
			return pos;
		}
	}
	return depth == 0 && !in_string ? pos : 0;
}

/*
 * The element at text[pos], which ends at *end: an object becomes a row;
 * any other JSON value names no one and is passed over, as a whole JSON
 * tree of the report would leave it out of every file.
 */
static int read_element(struct build *b, const char *text, size_t len,
			size_t pos, size_t *end)
{
	json_error_t err;
	json_t *v = NULL;
	int rc = -EINVAL;

	*end = value_end(text, len, pos);
	if (*end > pos)
		v = json_loadb(text + pos, *end - pos, JSON_DECODE_ANY, &err);
	if (v)
		rc = json_is_object(v) ? add_row(b, v) : 0;
	json_decref(v);
	return rc;
}

/* Every element of the array text, one at a time. */
static int read_rows(struct build *b, const char *text, size_t len)
{
	size_t pos = skip_space(text, len, 0);
	int rc = -EINVAL;

	if (pos >= len || text[pos] != '[')
		goto out;
	pos = skip_space(text, len, pos + 1);
	if (pos < len && text[pos] == ']') {
		rc = 0;
		goto after;
	}
	for (;;) {
		rc = read_element(b, text, len, pos, &pos);
		if (rc)
			goto out;
		rc = -EINVAL;
		pos = skip_space(text, len, pos);
		if (pos >= len || (text[pos] != ',' && text[pos] != ']'))
			goto out;
		if (text[pos] == ']')
			break;
		pos = skip_space(text, len, pos + 1);
	}
	rc = 0;
after:
	if (skip_space(text, len, pos + 1) != len)
		rc = -EINVAL;
out:
	return rc;
}

struct order_key {
	const char *id;
	const char *day;
	size_t row;
};

/* By id, then by day with rows without one last, then as in the report. */
static int cmp_order(const void *a, const void *b)
{
	const struct order_key *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c)
		return c;
	if (!x->day[0] != !y->day[0])
		return x->day[0] ? -1 : 1;
	c = strcmp(x->day, y->day);
	if (c)
		return c;
	return x->row < y->row ? -1 : x->row > y->row;
}

/* The text of b, in an allocation of its own size: kept for long. */
static char *detach_fit(struct buf *b)
{
	size_t len = b->len;
	char *text = buf_detach(b, NULL), *fit = realloc(text, len + 1);

	return fit ? fit : text;
}

/* Once the strings are final: pointers, the order, the objects. */
static int finish(struct build *b)
{
	struct usage_index *x = b->x;
	size_t strings_len = b->strings.text.len;
	struct order_key *keys = NULL;
	bool *seen = NULL;
	size_t *fit;
	int rc = -ENOMEM;

	x->line_at[x->n] = b->lines.len;
	x->lines = detach_fit(&b->lines);
	x->strings = detach_fit(&b->strings.text);
	keys = calloc(x->n + 1, sizeof(*keys));
	x->order = calloc(x->n + 1, sizeof(*x->order));
	x->objects = calloc(x->n + 1, sizeof(*x->objects));
	/* Ids are kept once, so an id's offset says whether it was seen. */
	seen = calloc(strings_len + 1, sizeof(*seen));
	if (!x->lines || !x->strings || !keys || !x->order || !x->objects ||
	    !seen)
		goto out;
	for (size_t i = 0; i < x->n; i++) {
		struct report_point *p = &x->points[i];

		p->id = b->id_at[i] == NO_STRING ? NULL
			: x->strings + b->id_at[i];
		p->name = b->name_at[i] == NO_STRING ? NULL
			: x->strings + b->name_at[i];
		if (p->id == NULL)
			continue;
		keys[x->n_order++] = (struct order_key){ p->id, p->day, i };
		if (p->id[0] && !seen[b->id_at[i]]) {
			seen[b->id_at[i]] = true;
			x->objects[x->n_objects++] = i;
		}
	}
	qsort(keys, x->n_order, sizeof(*keys), cmp_order);
	for (size_t i = 0; i < x->n_order; i++)
		x->order[i] = keys[i].row;
	/* Kept for the mount's life: no room left over from growing. */
	fit = realloc(x->objects, (x->n_objects + 1) * sizeof(*fit));
	if (fit)
		x->objects = fit;
	x->bytes = sizeof(*x) + x->n * (sizeof(*x->points) +
		   sizeof(*x->line_at) + sizeof(*x->order)) +
		   x->line_at[x->n] + strings_len +
		   x->n_objects * sizeof(*x->objects);
	rc = 0;
out:
	free(keys);
	free(seen);
	return rc;
}

static void index_free(struct usage_index *x)
{
	if (x == NULL)
		return;
	free(x->points);
	free(x->line_at);
	free(x->lines);
	free(x->strings);
	free(x->order);
	free(x->objects);
	free(x);
}

int usage_index_parse(const char *text, size_t len, enum report_who who,
		      struct usage_index **out)
{
	struct build b = { 0 };
	struct usage_index *x = calloc(1, sizeof(*x));
	int rc = x ? 0 : -ENOMEM;

	*out = NULL;
	buf_init(&b.lines, 0);
	buf_init(&b.strings.text, 0);
	buf_init(&b.row_ids.text, 0);
	b.x = x;
	if (rc == 0) {
		atomic_init(&x->refs, 1);
		x->who = who;
		rc = grow_rows(&b);
	}
	if (rc == 0)
		rc = read_rows(&b, text, len);
	if (rc == 0)
		rc = finish(&b);
	if (rc)
		goto out;
	/* Grown by doubling: give the rest back. */
	if (x->n < b.alloc) {
		struct report_point *points = realloc(
			x->points, (x->n ? x->n : 1) * sizeof(*points));
		size_t *line_at = realloc(x->line_at,
					  (x->n + 1) * sizeof(*line_at));

		if (points)
			x->points = points;
		if (line_at)
			x->line_at = line_at;
	}
	*out = x;
	x = NULL;
out:
	index_free(x);
	buf_release(&b.lines);
	strset_release(&b.strings);
	strset_release(&b.row_ids);
	free(b.id_at);
	free(b.name_at);
	return rc;
}

struct usage_index *usage_index_hold(struct usage_index *x)
{
	if (x)
		atomic_fetch_add(&x->refs, 1);
	return x;
}

void usage_index_drop(struct usage_index *x)
{
	if (x && atomic_fetch_sub(&x->refs, 1) == 1)
		index_free(x);
}

size_t usage_index_bytes(const struct usage_index *x)
{
	return x->bytes;
}

/* The rows of id, by day: *first indexes order; returns how many. */
static size_t rows_of(const struct usage_index *x, const char *id,
		      size_t *first)
{
	size_t lo = 0, hi = x->n_order, end;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(x->points[x->order[mid]].id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < x->n_order &&
	     strcmp(x->points[x->order[end]].id, id) == 0; end++)
		;
	*first = lo;
	return end - lo;
}

int usage_index_csv(const struct usage_index *x, const char *id,
		    struct buf *out)
{
	size_t start = out->len, first;
	size_t n = rows_of(x, id, &first);
	int rc = report_usage_header(x->who, out);

	for (size_t i = first; i < first + n && rc == 0; i++) {
		size_t row = x->order[i];

		rc = buf_append(out, x->lines + x->line_at[row],
				x->line_at[row + 1] - x->line_at[row]);
	}
	if (rc)
		buf_truncate(out, start);
	return rc;
}

int usage_index_months(const struct usage_index *x, const char *id,
		       json_t **months)
{
	json_t *list = json_array();
	size_t first, n = rows_of(x, id, &first);
	const char *last = NULL;
	int rc = list ? 0 : -ENOMEM;

	*months = NULL;
	/* By day, so a month's rows are together and months ascend. */
	for (size_t i = first; i < first + n && rc == 0; i++) {
		const char *day = x->points[x->order[i]].day;
		char month[UPFS_ISODATE_MONTH_LEN];

		if (day[0] == '\0' || (last && strncmp(day, last,
				UPFS_ISODATE_MONTH_LEN - 1) == 0))
			continue;
		memcpy(month, day, UPFS_ISODATE_MONTH_LEN - 1);
		month[UPFS_ISODATE_MONTH_LEN - 1] = '\0';
		if (json_array_append_new(list, json_string(month)))
			rc = -ENOMEM;
		last = day;
	}
	if (rc == 0)
		*months = list;
	else
		json_decref(list);
	return rc;
}

const struct report_point *usage_index_points(const struct usage_index *x,
					      size_t *n)
{
	*n = x->n;
	return x->points;
}

const size_t *usage_index_objects(const struct usage_index *x, size_t *n)
{
	*n = x->n_objects;
	return x->objects;
}
