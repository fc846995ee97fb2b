/*
 * report_svg.c — usage/summary.svg: pages per printer and the top users
 * over the last 30 days, as two horizontal bar charts (see report.h).
 *
 * The document is written by hand: a fixed layout of integer coordinates
 * (no floating point, so no locale can turn 1.5 into "1,5"), presentation
 * attributes rather than CSS (every viewer honours them), and all text
 * through xml_text(), so service data cannot break the markup.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "isodate.h"
#include "report.h"
#include "xml.h"

#define WINDOW_DAYS 30
#define TOP_USERS 10

/* Layout, in user units (= CSS pixels at 100 %). */
#define WIDTH 800
#define HEAD_HEIGHT 76		/* title and subtitle */
#define SECTION_HEAD 30		/* a chart's heading */
#define ROW 22			/* one bar */
#define BAR_HEIGHT 14
#define LABEL_RIGHT 230		/* labels end here (text-anchor end) */
#define BAR_LEFT 240		/* the value axis */
#define BAR_MAX 460		/* the longest bar */
#define AXIS_HEIGHT 46		/* ticks, tick labels, axis title */
#define EMPTY_HEIGHT 30		/* the "no data" line */
#define SECTION_GAP 16
#define LABEL_CHARS 32		/* longer names are shortened on the axis */

#define FONT "DejaVu Sans, Helvetica, Arial, sans-serif"
#define INK "#222222"
#define MUTED "#555555"
#define PRINTER_FILL "#4e79a7"
#define USER_FILL "#f28e2b"

struct bar {
	const char *id;		/* printer id or UPN, borrowed */
	const char *name;	/* label, borrowed; NULL: the id */
	json_int_t pages;
};

struct bars {
	struct bar *v;		/* owned */
	size_t n, alloc;
};

static int bars_push(struct bars *b, const char *id, const char *name,
		     json_int_t pages)
{
	if (b->n == b->alloc) {
		size_t alloc = b->alloc ? 2 * b->alloc : 16;
		struct bar *v = realloc(b->v, alloc * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		b->v = v;
		b->alloc = alloc;
	}
	b->v[b->n++] = (struct bar){ id, name, pages };
	return 0;
}

/* a + b, held at the largest value rather than overflowing. */
static json_int_t add_pages(json_int_t a, json_int_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* The length in user units of value on an axis whose end is max (> 0). */
static int scale(json_int_t value, json_int_t max)
{
	if (max <= INT64_MAX / BAR_MAX)
		return (int)(value * BAR_MAX / max);
	return (int)(value / (max / BAR_MAX));
}

static const char *bar_label(const struct bar *b)
{
	return b->name && b->name[0] ? b->name : b->id;
}

static int cmp_id(const void *a, const void *b)
{
	const struct bar *x = a, *y = b;

	return strcmp(x->id, y->id);
}

/* Most pages first; ties by label, then id, so the order is stable. */
static int cmp_pages(const void *a, const void *b)
{
	const struct bar *x = a, *y = b;
	int c;

	if (x->pages != y->pages)
		return x->pages > y->pages ? -1 : 1;
	c = strcmp(bar_label(x), bar_label(y));
	return c ? c : strcmp(x->id, y->id);
}

/* One bar per id: pages summed, the first name kept; then by pages. */
static void bars_merge(struct bars *b)
{
	size_t w = 0;

	if (b->n == 0)
		return;
	qsort(b->v, b->n, sizeof(*b->v), cmp_id);
	for (size_t r = 1; r < b->n; r++) {
		if (strcmp(b->v[r].id, b->v[w].id) == 0) {
			b->v[w].pages = add_pages(b->v[w].pages,
						  b->v[r].pages);
			if (b->v[w].name == NULL)
				b->v[w].name = b->v[r].name;
		} else {
			b->v[++w] = b->v[r];
		}
	}
	b->n = w + 1;
	qsort(b->v, b->n, sizeof(*b->v), cmp_pages);
}

/* The bars of points in the window [from, to]. */
static int collect(struct bars *b, const struct report_point *points,
		   size_t n, const char *from, const char *to)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct report_point *p = &points[i];

		/* A point without a day has "" here: before any window. */
		if (p->id == NULL || strcmp(p->day, from) < 0 ||
		    strcmp(p->day, to) > 0)
			continue;
		rc = bars_push(b, p->id, p->name, p->pages);
	}
	return rc;
}

/* Every listed printer gets a bar, with no pages of its own. */
static int collect_printers(struct bars *b, const json_t *printers)
{
	size_t i;
	const json_t *p;
	int rc = 0;

	json_array_foreach(printers, i, p) {
		const char *id = json_string_value(json_object_get(p, "id"));

		if (id == NULL)
			continue;
		rc = bars_push(b, id, json_string_value(json_object_get(
			p, "displayName")), 0);
		if (rc)
			break;
	}
	return rc;
}

static int section_height(size_t bars)
{
	return SECTION_HEAD + (bars ? (int)bars * ROW + AXIS_HEIGHT :
			       EMPTY_HEIGHT) + SECTION_GAP;
}

/* <text …>escaped</text> with the attributes given before the text. */
static int text(struct buf *out, int x, int y, const char *attrs,
		const char *s, size_t max_chars)
{
	int rc = buf_printf(out, "<text x=\"%d\" y=\"%d\"%s>", x, y, attrs);

	if (rc == 0)
		rc = xml_text(out, s, max_chars);
	if (rc == 0)
		rc = buf_append_str(out, "</text>\n");
	return rc;
}

static int bar_row(struct buf *out, const struct bar *b, int y,
		   json_int_t max, const char *kind, const char *fill)
{
	int width = scale(b->pages, max);
	int rc;

	rc = text(out, LABEL_RIGHT, y + 15, " text-anchor=\"end\" "
		  "font-size=\"12\" fill=\"" INK "\"", bar_label(b),
		  LABEL_CHARS);
	if (rc == 0)
		rc = buf_printf(out, "<rect class=\"bar %s\" data-id=\"", kind);
	if (rc == 0)
		rc = xml_text(out, b->id, 0);
	if (rc == 0)
		rc = buf_printf(out, "\" data-pages=\"%" JSON_INTEGER_FORMAT
				"\" x=\"%d\" y=\"%d\" width=\"%d\" "
				"height=\"%d\" fill=\"%s\"><title>", b->pages,
				BAR_LEFT, y + 4, width, BAR_HEIGHT, fill);
	if (rc == 0)
		rc = xml_text(out, bar_label(b), 0);
	if (rc == 0)
		rc = buf_printf(out, ": %" JSON_INTEGER_FORMAT
				" %s</title></rect>\n"
				"<text x=\"%d\" y=\"%d\" font-size=\"12\" "
				"fill=\"" MUTED "\">%" JSON_INTEGER_FORMAT
				"</text>\n", b->pages,
				b->pages == 1 ? "page" : "pages",
				BAR_LEFT + width + 6, y + 15, b->pages);
	return rc;
}

/* A round tick step (1, 2 or 5 times a power of ten): at most 5 steps. */
static json_int_t tick_step(json_int_t max)
{
	static const json_int_t firsts[] = { 1, 2, 5 };

	for (json_int_t mag = 1; mag <= INT64_MAX / 10; mag *= 10) {
		for (size_t i = 0; i < 3; i++) {
			if (max / (firsts[i] * mag) <= 5)
				return firsts[i] * mag;
		}
	}
	return max;
}

/* The value axis under n bars starting at top: line, ticks, title. */
static int axis(struct buf *out, int top, size_t n, json_int_t max)
{
	int bottom = top + (int)n * ROW + 4;
	json_int_t step = tick_step(max);
	int rc;

	rc = buf_printf(out, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" "
			"x2=\"%d\" y2=\"%d\" stroke=\"" MUTED "\"/>\n"
			"<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" "
			"y2=\"%d\" stroke=\"" MUTED "\"/>\n",
			BAR_LEFT, top, BAR_LEFT, bottom, BAR_LEFT, bottom,
			BAR_LEFT + BAR_MAX, bottom);
	for (json_int_t tick = 0; rc == 0 && tick <= max; tick += step) {
		int x = BAR_LEFT + scale(tick, max);

		rc = buf_printf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
				"y2=\"%d\" stroke=\"" MUTED "\"/>\n<text "
				"x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
				"font-size=\"11\" fill=\"" MUTED "\">%"
				JSON_INTEGER_FORMAT "</text>\n", x, bottom, x,
				bottom + 4, x, bottom + 16, tick);
		if (tick > max - step)
			break;	/* the next would pass max, or overflow */
	}
	if (rc == 0)
		rc = text(out, BAR_LEFT + BAR_MAX / 2, bottom + 34,
			  " text-anchor=\"middle\" font-size=\"12\" fill=\""
			  MUTED "\"", "Pages printed", 0);
	return rc;
}

/* One chart at *top; *top moves below it. */
static int chart(struct buf *out, int *top, const struct bars *b,
		 const char *title, const char *kind, const char *fill,
		 const char *empty)
{
	json_int_t max = 1;
	int y = *top + SECTION_HEAD, rc;

	rc = buf_printf(out, "<g class=\"chart %s\">\n", kind);
	if (rc == 0)
		rc = text(out, 20, *top + 20, " font-size=\"15\" "
			  "font-weight=\"bold\" fill=\"" INK "\"", title, 0);
	for (size_t i = 0; i < b->n; i++)
		max = b->v[i].pages > max ? b->v[i].pages : max;
	for (size_t i = 0; i < b->n && rc == 0; i++)
		rc = bar_row(out, &b->v[i], y + (int)i * ROW, max, kind, fill);
	if (rc == 0 && b->n)
		rc = axis(out, y, b->n, max);
	if (rc == 0 && b->n == 0)
		rc = text(out, 40, y + 18, " font-size=\"13\" font-style="
			  "\"italic\" fill=\"" MUTED "\"", empty, 0);
	if (rc == 0)
		rc = buf_append_str(out, "</g>\n");
	*top += section_height(b->n);
	return rc;
}

static int document(struct buf *out, const struct bars *printers,
		    const struct bars *users, const char *from,
		    const char *today)
{
	int height = HEAD_HEIGHT + section_height(printers->n) +
		section_height(users->n);
	int top = HEAD_HEIGHT, rc;

	rc = buf_printf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			"<svg xmlns=\"http://www.w3.org/2000/svg\" "
			"version=\"1.1\" width=\"%d\" height=\"%d\" "
			"viewBox=\"0 0 %d %d\" font-family=\"" FONT "\" "
			"role=\"img\" aria-labelledby=\"title\">\n"
			"<title id=\"title\">Print usage, the 30 days from %s "
			"to %s</title>\n<rect class=\"background\" "
			"width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
			WIDTH, height, WIDTH, height, from, today, WIDTH,
			height);
	if (rc == 0)
		rc = text(out, 20, 34, " font-size=\"20\" font-weight=\"bold\" "
			  "fill=\"" INK "\"", "Print usage", 0);
	if (rc == 0)
		rc = buf_printf(out, "<text x=\"20\" y=\"56\" font-size=\"12\" "
				"fill=\"" MUTED "\">The 30 days from %s to %s "
				"(UTC)</text>\n", from, today);
	if (rc == 0)
		rc = chart(out, &top, printers, "Pages per printer", "printer",
			   PRINTER_FILL, "No printers and no pages in these "
			   "30 days.");
	if (rc == 0)
		rc = chart(out, &top, users, "Top 10 users by pages", "user",
			   USER_FILL, "No pages printed in these 30 days.");
	if (rc == 0)
		rc = buf_append_str(out, "</svg>\n");
	return rc;
}

int report_summary_svg(const struct report_point *by_printer_points,
		       size_t n_by_printer,
		       const struct report_point *by_user_points,
		       size_t n_by_user, const json_t *printers,
		       const char *today, struct buf *out)
{
	struct bars by_printer = { 0 }, by_user = { 0 };
	char day[UPFS_ISODATE_DAY_LEN], from[UPFS_ISODATE_DAY_LEN];
	size_t start = out->len;
	int rc = -EINVAL;

	if ((n_by_printer && by_printer_points == NULL) ||
	    (n_by_user && by_user_points == NULL) ||
	    (printers && !json_is_array(printers)) || today == NULL ||
	    strlen(today) != UPFS_ISODATE_DAY_LEN - 1 ||
	    isodate_utc_day(today, day) ||
	    isodate_add_days(day, 1 - WINDOW_DAYS, from))
		goto out;
	rc = collect(&by_printer, by_printer_points, n_by_printer, from, day);
	if (rc == 0 && printers)
		rc = collect_printers(&by_printer, printers);
	if (rc == 0)
		rc = collect(&by_user, by_user_points, n_by_user, from, day);
	if (rc)
		goto out;
	bars_merge(&by_printer);
	bars_merge(&by_user);
	while (by_user.n > 0 && by_user.v[by_user.n - 1].pages == 0)
		by_user.n--;	/* sorted: the users without pages are last */
	if (by_user.n > TOP_USERS)
		by_user.n = TOP_USERS;
	rc = document(out, &by_printer, &by_user, from, day);
out:
	if (rc)
		buf_truncate(out, start);
	free(by_printer.v);
	free(by_user.v);
	return rc;
}
