/*
 * test_csv.c — RFC 4180 fields and records.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "csv.h"

/* csv_field(s) must give exactly want. */
static void field_is(const char *s, const char *want)
{
	struct buf out;
	int rc;

	buf_init(&out, 0);
	rc = csv_field(&out, s);
	CHECK_MSG(rc == 0 && out.len == strlen(want) &&
		  memcmp(out.data ? out.data : "", want, out.len) == 0,
		  "field '%s': rc %d, got '%s', want '%s'", s ? s : "(null)",
		  rc, out.data ? out.data : "", want);
	buf_release(&out);
}

static void test_fields(void)
{
	field_is("Floor3 LaserJet", "Floor3 LaserJet");
	field_is("", "");
	field_is(NULL, "");
	field_is("Sales, Marketing", "\"Sales, Marketing\"");
	field_is("Plotter \"Big Blue\", Floor 4",
		 "\"Plotter \"\"Big Blue\"\", Floor 4\"");
	field_is("\"", "\"\"\"\"");
	field_is("say \"\"", "\"say \"\"\"\"\"");
	field_is("two\nlines", "\"two\nlines\"");
	field_is("cr\rhere", "\"cr\rhere\"");
	field_is("crlf\r\n", "\"crlf\r\n\"");
	field_is(" leading", "\" leading\"");
	field_is("trailing ", "\"trailing \"");
	field_is("\ttab", "\"\ttab\"");
	field_is("in side", "in side");
	field_is("Carol M\xc3\xbcller", "Carol M\xc3\xbcller");
	field_is("Caf\xc3\xa9 Drucker, Haus A",
		 "\"Caf\xc3\xa9 Drucker, Haus A\"");
	field_is("\xe6\x9d\xb1\xe4\xba\xac", "\xe6\x9d\xb1\xe4\xba\xac");
	field_is("O'Brien", "O'Brien");
	field_is("2024-05-01", "2024-05-01");
}

static void test_rows(void)
{
	static const char *const head[] = { "name", "pages", NULL, "note" };
	struct buf out;
	struct csv_row row;
	int rc;

	buf_init(&out, 0);
	rc = csv_record(&out, head, 4);
	csv_row_begin(&row, &out);
	if (rc == 0)
		rc = csv_row_field(&row, "Erin O'Brien, \"EOB\"");
	if (rc == 0)
		rc = csv_row_printf(&row, "%d", 42);
	if (rc == 0)
		rc = csv_row_field(&row, NULL);
	if (rc == 0)
		rc = csv_row_printf(&row, "%s, %s", "a", "b");
	if (rc == 0)
		rc = csv_row_end(&row);
	/* An empty record is a line of its own. */
	csv_row_begin(&row, &out);
	if (rc == 0)
		rc = csv_row_end(&row);
	CHECK_MSG(rc == 0 && strcmp(out.data,
		  "name,pages,,note\r\n"
		  "\"Erin O'Brien, \"\"EOB\"\"\",42,,\"a, b\"\r\n"
		  "\r\n") == 0, "rc %d, got '%s'", rc, out.data);
	buf_release(&out);
}

/* Text others chose that a spreadsheet would run is made text. */
static void test_formula_text(void)
{
	static const char *const in[] = {
		"=HYPERLINK(\"http://x\",\"y\")", "+1", "-2", "@SUM(A1)",
		"\tx", "Floor3 = LaserJet", "a-b", NULL
	};
	struct buf out;
	struct csv_row row;
	int rc = 0;

	buf_init(&out, 0);
	csv_row_begin(&row, &out);
	for (size_t i = 0; rc == 0 && i < sizeof(in) / sizeof(in[0]); i++)
		rc = csv_row_text(&row, in[i]);
	if (rc == 0)
		rc = csv_row_end(&row);
	CHECK_MSG(rc == 0 && strcmp(out.data,
		  "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","
		  "'+1,'-2,'@SUM(A1),'\tx,Floor3 = LaserJet,a-b,\r\n") == 0,
		  "rc %d, got '%s'", rc, out.data);
	buf_release(&out);
}

/* At the cap, nothing is half written. */
static void test_cap(void)
{
	struct buf out;
	struct csv_row row;
	int rc;

	buf_init(&out, 12);
	rc = csv_field(&out, "abc");
	CHECK(rc == 0 && out.len == 3);
	rc = csv_field(&out, "a \"quoted\" one");
	CHECK_MSG(rc == -EFBIG, "rc %d", rc);
	CHECK(out.len == 3 && strcmp(out.data, "abc") == 0);
	csv_row_begin(&row, &out);
	row.fields = 1;		/* as if "abc" were its first field */
	rc = csv_row_field(&row, "123456789");
	CHECK_MSG(rc == -EFBIG, "rc %d", rc);
	CHECK(out.len == 3 && strcmp(out.data, "abc") == 0 && row.fields == 1);
	rc = csv_row_field(&row, "1234");
	CHECK(rc == 0 && strcmp(out.data, "abc,1234") == 0);
	rc = csv_record(&out, (const char *const[]){ "x", "y" }, 2);
	CHECK_MSG(rc == -EFBIG && strcmp(out.data, "abc,1234") == 0,
		  "rc %d, '%s'", rc, out.data);
	buf_release(&out);
}

int main(void)
{
	test_fields();
	test_rows();
	test_formula_text();
	test_cap();
	if (failures) {
		fprintf(stderr, "test_csv: %d failure(s)\n", failures);
		return 1;
	}
	return 0;
}
