/*
 * csv.c — RFC 4180 fields and records (see csv.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "csv.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool needs_quotes(const char *s, size_t len)
{
	if (len == 0)
		return false;
	if (is_blank(s[0]) || is_blank(s[len - 1]))
		return true;
	return strpbrk(s, ",\"\r\n") != NULL;
}

/* Appends "s" with inner quotes doubled. */
static int append_quoted(struct buf *out, const char *s)
{
	int rc = buf_append(out, "\"", 1);

	while (rc == 0 && *s) {
		const char *quote = strchr(s, '"');
		size_t run = quote ? (size_t)(quote - s) + 1 : strlen(s);

		rc = buf_append(out, s, run);
		if (rc == 0 && quote)
			rc = buf_append(out, "\"", 1);
		s += run;
	}
	if (rc == 0)
		rc = buf_append(out, "\"", 1);
	return rc;
}

int csv_field(struct buf *out, const char *s)
{
	size_t start = out->len;
	size_t len;
	int rc;

	if (s == NULL)
		return 0;
	len = strlen(s);
	if (needs_quotes(s, len))
		rc = append_quoted(out, s);
	else
		rc = buf_append(out, s, len);
	if (rc)
		buf_truncate(out, start);
	return rc;
}

int csv_record(struct buf *out, const char *const *fields, size_t n)
{
	struct csv_row row;
	size_t start = out->len;
	int rc = 0;

	csv_row_begin(&row, out);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = csv_row_field(&row, fields[i]);
	if (rc == 0)
		rc = csv_row_end(&row);
	if (rc)
		buf_truncate(out, start);
	return rc;
}

void csv_row_begin(struct csv_row *row, struct buf *out)
{
	row->out = out;
	row->fields = 0;
}

int csv_row_field(struct csv_row *row, const char *s)
{
	size_t start = row->out->len;
	int rc = 0;

	if (row->fields > 0)
		rc = buf_append(row->out, ",", 1);
	if (rc == 0)
		rc = csv_field(row->out, s);
	if (rc) {
		buf_truncate(row->out, start);
		return rc;
	}
	row->fields++;
	return 0;
}

static bool is_formula_start(char c)
{
	return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' ||
	       c == '\r';
}

int csv_row_text(struct csv_row *row, const char *s)
{
	if (s == NULL || !is_formula_start(s[0]))
		return csv_row_field(row, s);
	return csv_row_printf(row, "'%s", s);
}

int csv_row_printf(struct csv_row *row, const char *fmt, ...)
{
	struct buf text;
	va_list ap;
	int rc;

	buf_init(&text, row->out->cap);
	va_start(ap, fmt);
	rc = buf_vprintf(&text, fmt, ap);
	va_end(ap);
	if (rc == 0)
		rc = csv_row_field(row, text.data ? text.data : "");
	buf_release(&text);
	return rc;
}

int csv_row_end(struct csv_row *row)
{
	return buf_append_str(row->out, UPFS_CSV_EOL);
}
