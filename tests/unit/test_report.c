/*
 * test_report.c — usage CSV files from a usage_index, archive CSV files,
 * months with data, and the summary SVG (checked for well-formed XML
 * here, bar by bar).
 *
 * With an argument, the fixture's SVG is also written to that file, to
 * look at in a browser.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "report.h"
#include "usage_index.h"

static json_t *load(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, 0, &err);

	CHECK_MSG(v != NULL, "fixture: %s (line %d)", err.text, err.line);
	return v;
}

/* --- usage CSV ------------------------------------------------------------ */

static const char usage_fixture[] = "["
	"{\"id\":\"r2\",\"printerId\":\"p1\",\"printerName\":"
	"\"Plotter \\\"Big Blue\\\", Floor 4\",\"usageDate\":\"2024-05-05\","
	"\"completedJobCount\":2,\"incompleteJobCount\":1,"
	"\"completedBlackAndWhiteJobCount\":1,\"completedColorJobCount\":1,"
	"\"pageCount\":30,\"blackAndWhitePageCount\":10,\"colorPageCount\":20,"
	"\"mediaSheetCount\":16,\"singleSidedSheetCount\":2,"
	"\"doubleSidedSheetCount\":14},"
	/* the beta example's full timestamp, and a missing counter */
	"{\"id\":\"r1\",\"printerId\":\"p1\",\"printerName\":"
	"\"Plotter \\\"Big Blue\\\", Floor 4\","
	"\"usageDate\":\"2024-03-15T00:00:00Z\",\"completedJobCount\":1,"
	"\"incompleteJobCount\":0,\"completedBlackAndWhiteJobCount\":1,"
	"\"completedColorJobCount\":0,\"pageCount\":3,"
	"\"blackAndWhitePageCount\":3,\"colorPageCount\":null,"
	"\"singleSidedSheetCount\":3,\"doubleSidedSheetCount\":0}"
	"]";

static struct usage_index *index_of(const char *text, enum report_who who)
{
	struct usage_index *x = NULL;
	int rc = usage_index_parse(text, strlen(text), who, &x);

	CHECK_MSG(rc == 0 && x != NULL, "usage_index_parse: rc %d", rc);
	return x;
}

#define PRINTER_HEADER "usageDate,completedJobCount,incompleteJobCount," \
	"completedBlackAndWhiteJobCount,completedColorJobCount," \
	"pageCount,blackAndWhitePageCount,colorPageCount," \
	"mediaSheetCount,singleSidedSheetCount,doubleSidedSheetCount," \
	"printerName,printerId\r\n"
#define USER_HEADER "usageDate,completedJobCount,incompleteJobCount," \
	"completedBlackAndWhiteJobCount,completedColorJobCount," \
	"pageCount,blackAndWhitePageCount,colorPageCount," \
	"mediaSheetCount,singleSidedSheetCount,doubleSidedSheetCount," \
	"userPrincipalName\r\n"

static void csv_is(const struct usage_index *x, const char *id,
		   const char *want)
{
	struct buf out;
	int rc;

	buf_init(&out, 0);
	rc = x ? usage_index_csv(x, id, &out) : -1;
	CHECK_MSG(rc == 0 && strcmp(out.data, want) == 0,
		  "%s: rc %d, got:\n%s\nwant:\n%s", id, rc,
		  out.data ? out.data : "", want);
	buf_release(&out);
}

static void test_usage_by_printer(void)
{
	struct usage_index *x = index_of(usage_fixture,
					 UPFS_REPORT_BY_PRINTER);

	csv_is(x, "p1", PRINTER_HEADER
		"2024-03-15,1,0,1,0,3,3,,,3,0,"
		"\"Plotter \"\"Big Blue\"\", Floor 4\",p1\r\n"
		"2024-05-05,2,1,1,1,30,10,20,16,2,14,"
		"\"Plotter \"\"Big Blue\"\", Floor 4\",p1\r\n");
	/* Whose rows the report does not have: the header alone. */
	csv_is(x, "p9", PRINTER_HEADER);
	csv_is(x, "", PRINTER_HEADER);
	usage_index_drop(x);
}

static void test_usage_by_user(void)
{
	/* Spaces and line ends between elements, brackets inside strings. */
	struct usage_index *x = index_of(" \r\n[ {\"userPrincipalName\":"
		"\"carol@contoso.com\",\"usageDate\":\"2024-04-01\","
		"\"completedJobCount\":1,\"pageCount\":4} ,\n\t"
		"{\"userPrincipalName\":\"alice@contoso.com\",\"usageDate\":"
		"\"2024-03-01\",\"completedJobCount\":5,\"pageCount\":50,"
		"\"note\":\"}],[{\"}\n]\n", UPFS_REPORT_BY_USER);
	struct usage_index *none = index_of("[]", UPFS_REPORT_BY_USER);

	csv_is(x, "alice@contoso.com", USER_HEADER
	       "2024-03-01,5,,,,50,,,,,,alice@contoso.com\r\n");
	csv_is(x, "carol@contoso.com", USER_HEADER
	       "2024-04-01,1,,,,4,,,,,,carol@contoso.com\r\n");
	/* An empty tenant: the header alone. */
	csv_is(none, "alice@contoso.com", USER_HEADER);
	usage_index_drop(x);
	usage_index_drop(none);
}

/* Text that is not a JSON array is refused whole. */
static void test_usage_refused(void)
{
	static const char *const bad[] = {
		"", "{}", "[{},]", "[{}", "[{} {}]", "[{}] x",
		"[{\"usageDate\":}]", "[{}]]", "[{},", "[{}, ", "[,]", "[1 2]",
		"[tru]", "[{}},{}]", "[\"a]", "[{\"a\":\"}\"]",
		"[{\"a\":\"\\\"}]", "[[}]", "[{]]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct usage_index *x = (struct usage_index *)1;
		int rc = usage_index_parse(bad[i], strlen(bad[i]),
					   UPFS_REPORT_BY_USER, &x);

		CHECK_MSG(rc == -EINVAL && x == NULL, "'%s': rc %d", bad[i],
			  rc);
	}
}

static void test_usage_cap(void)
{
	struct usage_index *x = index_of(usage_fixture,
					 UPFS_REPORT_BY_PRINTER);
	struct buf out;

	buf_init(&out, 300);	/* the header fits, the rows do not */
	buf_append_str(&out, "x");
	CHECK(x && usage_index_csv(x, "p1", &out) == -EFBIG);
	CHECK(out.len == 1 && strcmp(out.data, "x") == 0);
	usage_index_drop(x);
	buf_release(&out);
}

static void months_of_id_are(const struct usage_index *x, const char *id,
			     const char *want)
{
	json_t *months = NULL;
	int rc = x ? usage_index_months(x, id, &months) : -1;
	char *got = months ? json_dumps(months, JSON_COMPACT) : NULL;

	CHECK_MSG(rc == 0 && got && strcmp(got, want) == 0,
		  "%s: rc %d, got %s, want %s", id, rc, got ? got : "NULL",
		  want);
	free(got);
	json_decref(months);
}

/* Elements that are not objects name no one: passed over. */
static void test_usage_not_rows(void)
{
	struct usage_index *x = index_of("[null, 1, -2.5e3,\"x]\", [{}],"
		"{\"printerId\":\"p1\",\"usageDate\":\"2024-05-01\"},true,"
		"false,{\"printerId\":\"p1\",\"usageDate\":\"2024-04-01\","
		"\"printerName\":\"\\\"[{\"}]", UPFS_REPORT_BY_PRINTER);
	size_t n = 0;

	if (x == NULL)
		return;
	CHECK(usage_index_points(x, &n) && n == 2);
	csv_is(x, "p1", PRINTER_HEADER "2024-04-01,,,,,,,,,,,"
	       "\"\"\"[{\",p1\r\n2024-05-01,,,,,,,,,,,,p1\r\n");
	usage_index_drop(x);
}

/* The memory an index says it holds grows with its strings and lines. */
static void test_usage_bytes(void)
{
	char text[4096], a[1001], b[1001];
	struct usage_index *small, *big;

	memset(a, 'a', 1000);
	memset(b, 'b', 1000);
	a[1000] = b[1000] = '\0';
	small = index_of("[{\"printerId\":\"p1\",\"printerName\":\"a\"},"
			 "{\"printerId\":\"p2\",\"printerName\":\"b\"}]",
			 UPFS_REPORT_BY_PRINTER);
	snprintf(text, sizeof(text), "[{\"printerId\":\"p1\",\"printerName\":"
		 "\"%s\"},{\"printerId\":\"p2\",\"printerName\":\"%s\"}]",
		 a, b);
	big = index_of(text, UPFS_REPORT_BY_PRINTER);
	/* Each name is held twice: once kept, once in its row's line. */
	if (small && big)
		CHECK_MSG(usage_index_bytes(big) >=
			  usage_index_bytes(small) + 4 * 999, "%zu vs %zu",
			  usage_index_bytes(big), usage_index_bytes(small));
	usage_index_drop(small);
	usage_index_drop(big);
}

/* Rows of many printers, interleaved, as the service pages them. */
static void test_usage_index(void)
{
	struct usage_index *x = index_of("["
		"{\"printerId\":\"p2\",\"printerName\":\"Two\","
		"\"usageDate\":\"2024-05-02\",\"pageCount\":5},"
		"{\"printerId\":\"p1\",\"printerName\":\"One\","
		"\"usageDate\":\"2024-05-03\",\"pageCount\":7},"
		"{\"printerId\":\"p1\",\"printerName\":\"One, renamed\","
		"\"pageCount\":1},"
		"{\"printerId\":\"p1\",\"usageDate\":\"2024-03-31T23:30:00-02:00\","
		"\"pageCount\":\"9\"},"
		"{\"printerName\":\"No id\",\"usageDate\":\"2024-05-01\"},"
		"{\"printerId\":\"\",\"usageDate\":\"2024-05-01\"},"
		"{\"printerId\":7,\"usageDate\":\"2024-05-01\"},"
		"{\"printerId\":\"p1\",\"printerName\":\"One\","
		"\"usageDate\":\"2024-05-03\",\"pageCount\":-2,"
		"\"completedJobCount\":3}"
		"]", UPFS_REPORT_BY_PRINTER);
	const struct report_point *points;
	const size_t *objects;
	size_t n = 0, n_objects = 0;

	if (x == NULL)
		return;
	/* By day (a timestamp by its UTC day), one day's rows as given,
	   rows without a day last. */
	csv_is(x, "p1", PRINTER_HEADER
	       "2024-04-01,,,,,9,,,,,,,p1\r\n"
	       "2024-05-03,,,,,7,,,,,,One,p1\r\n"
	       "2024-05-03,3,,,,-2,,,,,,One,p1\r\n"
	       ",,,,,1,,,,,,\"One, renamed\",p1\r\n");
	csv_is(x, "p2", PRINTER_HEADER "2024-05-02,,,,,5,,,,,,Two,p2\r\n");
	months_of_id_are(x, "p1", "[\"2024-04\",\"2024-05\"]");
	months_of_id_are(x, "p9", "[]");
	points = usage_index_points(x, &n);
	CHECK_MSG(n == 8, "%zu points", n);
	if (n == 8) {
		CHECK(strcmp(points[0].id, "p2") == 0 &&
		      strcmp(points[0].name, "Two") == 0 &&
		      strcmp(points[0].day, "2024-05-02") == 0 &&
		      points[0].pages == 5);
		/* Pages only when a positive integer; a day only when read. */
		CHECK(points[3].pages == 0 &&
		      strcmp(points[3].day, "2024-04-01") == 0 &&
		      points[3].name == NULL);
		CHECK(points[7].pages == 0 && points[2].day[0] == '\0');
		CHECK(points[4].id == NULL && points[6].id == NULL &&
		      strcmp(points[5].id, "") == 0);
		/* One copy of each string. */
		CHECK(points[1].id == points[2].id &&
		      points[1].name == points[7].name);
	}
	/* Each id once, in order of first appearance, with its first name;
	   no object for a row without an id or with "". */
	objects = usage_index_objects(x, &n_objects);
	CHECK_MSG(n_objects == 2, "%zu objects", n_objects);
	if (n_objects == 2 && n == 8)
		CHECK(strcmp(points[objects[0]].id, "p2") == 0 &&
		      strcmp(points[objects[1]].id, "p1") == 0 &&
		      strcmp(points[objects[1]].name, "One") == 0);
	/* Shared: the last reference frees it (ASan and valgrind check). */
	CHECK(usage_index_hold(x) == x);
	usage_index_drop(x);
	CHECK(usage_index_bytes(x) > 0);
	usage_index_drop(x);
}

/* --- archive CSV ---------------------------------------------------------- */

static const char archive_v1[] = "[{\"id\":\"a1\",\"acquiredByPrinter\":true,"
	"\"acquiredDateTime\":\"2024-03-15T08:00:30Z\","
	"\"completionDateTime\":\"2024-03-15T08:01:00Z\",\"copiesPrinted\":2,"
	"\"createdBy\":{\"id\":\"u1\",\"displayName\":\"Carol M\xc3\xbcller\","
	"\"ipAddress\":null,\"userPrincipalName\":\"carol@contoso.com\"},"
	"\"createdDateTime\":\"2024-03-15T08:00:00Z\",\"printerId\":\"p1\","
	"\"printerName\":\"Caf\xc3\xa9, Berlin\",\"processingState\":"
	"\"completed\"},{\"id\":\"a2\",\"acquiredByPrinter\":false,"
	"\"acquiredDateTime\":null,\"completionDateTime\":"
	"\"2024-03-16T09:00:00Z\",\"copiesPrinted\":0,\"createdBy\":{},"
	"\"createdDateTime\":\"2024-03-16T08:00:00Z\",\"printerId\":\"p1\","
	"\"printerName\":\"Caf\xc3\xa9, Berlin\",\"processingState\":"
	"\"canceled\"}]";

#define ARCHIVE_HEADER "id,printerName,printerId,createdBy/userPrincipalName," \
	"createdBy/displayName,createdDateTime,acquiredByPrinter," \
	"acquiredDateTime,completionDateTime,copiesPrinted,processingState"

#define BETA_HEADER ARCHIVE_HEADER ",pageCount,blackAndWhitePageCount," \
	"colorPageCount,simplexPageCount,duplexPageCount\r\n"

static void test_archive(void)
{
	json_t *jobs = load(archive_v1);
	struct buf out;
	int rc;

	buf_init(&out, 0);
	rc = report_archive_csv(jobs, &out);
	CHECK_MSG(rc == 0 && strcmp(out.data, ARCHIVE_HEADER "\r\n"
		"a1,\"Caf\xc3\xa9, Berlin\",p1,carol@contoso.com,"
		"Carol M\xc3\xbcller,2024-03-15T08:00:00Z,true,"
		"2024-03-15T08:00:30Z,2024-03-15T08:01:00Z,2,completed\r\n"
		"a2,\"Caf\xc3\xa9, Berlin\",p1,,,2024-03-16T08:00:00Z,false,,"
		"2024-03-16T09:00:00Z,0,canceled\r\n") == 0,
		"rc %d, got:\n%s", rc, out.data);

	/* A beta answer adds the page counters. */
	json_object_set_new(json_array_get(jobs, 0), "pageCount",
			    json_integer(24));
	json_object_set_new(json_array_get(jobs, 0), "duplexPageCount",
			    json_integer(24));
	buf_reset(&out);
	rc = report_archive_csv(jobs, &out);
	CHECK_MSG(rc == 0 && strncmp(out.data, BETA_HEADER,
				     strlen(BETA_HEADER)) == 0 &&
		strstr(out.data, ",2,completed,24,,,,24\r\n") &&
		strstr(out.data, ",0,canceled,,,,,\r\n"),
		"rc %d, got:\n%s", rc, out.data);

	buf_reset(&out);
	json_array_clear(jobs);
	rc = report_archive_csv(jobs, &out);
	CHECK(rc == 0 && strcmp(out.data, ARCHIVE_HEADER "\r\n") == 0);
	json_decref(jobs);
	buf_release(&out);
}

/* --- months --------------------------------------------------------------- */

static void months_are(const char *items, const char *key, const char *want)
{
	json_t *in = load(items), *months = NULL;
	char *got;
	int rc = report_months_of(in, key, &months);

	got = months ? json_dumps(months, JSON_COMPACT) : NULL;
	CHECK_MSG(rc == 0 && got && strcmp(got, want) == 0,
		  "rc %d, got %s, want %s", rc, got ? got : "NULL", want);
	free(got);
	json_decref(months);
	json_decref(in);
}

static void test_months(void)
{
	months_are("[{\"usageDate\":\"2024-05-05\"},{\"usageDate\":"
		   "\"2024-03-01\"},{\"usageDate\":\"2024-05-01\"},"
		   "{\"usageDate\":null},{},{\"usageDate\":\"2024-04-30\"}]",
		   "usageDate", "[\"2024-03\",\"2024-04\",\"2024-05\"]");
	/* Months are UTC: 1 May 01:00 at +02:00 is still April. */
	months_are("[{\"createdDateTime\":\"2024-05-01T01:00:00+02:00\"},"
		   "{\"createdDateTime\":\"2024-03-31T23:00:00-02:00\"}]",
		   "createdDateTime", "[\"2024-04\"]");
	months_are("[]", "usageDate", "[]");
	{
		json_t *months = (json_t *)1;

		CHECK(report_months_of(NULL, "usageDate", &months) == -EINVAL &&
		      months == NULL);
	}
}

/* --- SVG ------------------------------------------------------------------ */

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* True if s is well-formed UTF-8. */
static bool valid_utf8(const unsigned char *s)
{
	while (*s) {
		size_t len = *s < 0x80 ? 1 : (*s & 0xe0) == 0xc0 ? 2 :
			(*s & 0xf0) == 0xe0 ? 3 : (*s & 0xf8) == 0xf0 ? 4 : 0;

		if (len == 0 || (len == 2 && *s < 0xc2))
			return false;
		for (size_t i = 1; i < len; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
		}
		s += len;
	}
	return true;
}

/* An entity reference at p ("&amp;" …); its length, or 0. */
static size_t entity(const char *p)
{
	static const char *const names[] = { "&amp;", "&lt;", "&gt;",
					     "&quot;", "&apos;" };

	for (size_t i = 0; i < 5; i++) {
		if (strncmp(p, names[i], strlen(names[i])) == 0)
			return strlen(names[i]);
	}
	return 0;
}

/* Skips name="value" pairs up to the tag's end; NULL on bad markup. */
static const char *attributes(const char *p)
{
	while (*p == ' ' || *p == '\n') {
		p++;
		if (*p == '/' || *p == '>')
			break;
		while (*p && strchr(" =\"<>/", *p) == NULL)
			p++;
		if (*p++ != '=' || *p++ != '"')
			return NULL;
		while (*p && *p != '"') {
			if (*p == '<' || (*p == '&' && entity(p) == 0))
				return NULL;
			p++;
		}
		if (*p++ != '"')
			return NULL;
	}
	return p;
}

/*
 * A structural check of the XML: one prolog, tags that nest and close,
 * quoted attributes, no stray '<' or '&', one root <svg>. Enough to catch
 * what a hand-written writer gets wrong; not a full parser.
 */
static bool well_formed(const char *doc, char *why, size_t why_len)
{
	char stack[32][32];
	size_t depth = 0, roots = 0;
	const char *p = doc;

	if (strncmp(p, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 39)) {
		snprintf(why, why_len, "no XML declaration");
		return false;
	}
	p += 39;
	while (*p) {
		if (*p == '&') {
			if (entity(p) == 0) {
				snprintf(why, why_len, "bad '&' at %.20s", p);
				return false;
			}
			p += entity(p);
			continue;
		}
		if (*p != '<') {
			if (depth == 0 && *p != '\n') {
				snprintf(why, why_len, "text outside the root");
				return false;
			}
			p++;
			continue;
		}
		p++;
		if (*p == '/') {
			size_t n = strcspn(p + 1, ">");

			if (depth == 0 || n != strlen(stack[depth - 1]) ||
			    strncmp(p + 1, stack[depth - 1], n)) {
				snprintf(why, why_len, "bad close at %.20s", p);
				return false;
			}
			depth--;
			p += n + 2;
			continue;
		}
		size_t n = strcspn(p, " />\n");

		if (n == 0 || n >= sizeof(stack[0]) || depth == 32) {
			snprintf(why, why_len, "bad tag at %.20s", p);
			return false;
		}
		if (depth == 0)
			roots++;
		memcpy(stack[depth], p, n);
		stack[depth][n] = '\0';
		p = attributes(p + n);
		if (p == NULL) {
			snprintf(why, why_len, "bad attributes in <%s>",
				 stack[depth]);
			return false;
		}
		if (p[0] == '/' && p[1] == '>') {
			p += 2;
		} else if (p[0] == '>') {
			depth++;
			p++;
		} else {
			snprintf(why, why_len, "unclosed <%s>", stack[depth]);
			return false;
		}
	}
	if (depth != 0 || roots != 1) {
		snprintf(why, why_len, "depth %zu, %zu roots at the end", depth,
			 roots);
		return false;
	}
	return true;
}

static void check_svg(const char *doc)
{
	char why[128] = "";

	CHECK_MSG(well_formed(doc, why, sizeof(why)), "SVG not well formed: %s",
		  why);
	CHECK(valid_utf8((const unsigned char *)doc));
	CHECK(strstr(doc, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
	CHECK(strstr(doc, " viewBox=\"0 0 800 "));
	CHECK(strstr(doc, " font-family=\""));
	CHECK(strstr(doc, "<title id=\"title\">"));
}

static const char printers_rows[] = "["
	"{\"printerId\":\"p1\",\"printerName\":\"Floor3 LaserJet\","
	"\"usageDate\":\"2024-05-05\",\"pageCount\":40},"
	"{\"printerId\":\"p1\",\"printerName\":\"Floor3 LaserJet\","
	"\"usageDate\":\"2024-04-06\",\"pageCount\":2},"
	"{\"printerId\":\"p2\",\"printerName\":\"A<&>\\\"'B, \\\"quoted\\\"\","
	"\"usageDate\":\"2024-04-20\",\"pageCount\":100},"
	"{\"printerId\":\"p3\",\"printerName\":\"Caf\xc3\xa9 Drucker with a "
	"name far too long for the axis \xe2\x80\x94 really\","
	"\"usageDate\":\"2024-05-01\",\"pageCount\":0},"
	/* outside the window: the day before it starts, the day after */
	"{\"printerId\":\"p4\",\"printerName\":\"Old\","
	"\"usageDate\":\"2024-04-05\",\"pageCount\":7},"
	"{\"printerId\":\"p1\",\"printerName\":\"Floor3 LaserJet\","
	"\"usageDate\":\"2024-05-06\",\"pageCount\":1000},"
	"{\"printerId\":\"p6\",\"usageDate\":\"2024-05-02\",\"pageCount\":1}"
	"]";

static json_t *user_rows(void)
{
	json_t *rows = json_array();
	char upn[64];

	/* user00..user11 with 5..115 pages; a user with none; one old row */
	for (int i = 0; i < 12; i++) {
		snprintf(upn, sizeof(upn), "user%02d@contoso.com", i);
		json_array_append_new(rows, json_pack(
			"{s:s, s:s, s:i}", "userPrincipalName", upn,
			"usageDate", "2024-04-10", "pageCount", 5 + 10 * i));
	}
	json_array_append_new(rows, json_pack("{s:s, s:s, s:i}",
		"userPrincipalName", "idle@contoso.com", "usageDate",
		"2024-04-10", "pageCount", 0));
	json_array_append_new(rows, json_pack("{s:s, s:s, s:i}",
		"userPrincipalName", "user00@contoso.com", "usageDate",
		"2024-01-10", "pageCount", 1000));
	return rows;
}

/* The points of JSON rows, as a new array. */
static struct report_point *points_of(const json_t *rows,
				      enum report_who who, size_t *n)
{
	struct report_point *points;
	const json_t *row;
	size_t i;

	*n = json_array_size(rows);
	points = calloc(*n + 1, sizeof(*points));
	CHECK(points != NULL);
	json_array_foreach(rows, i, row)
		if (points)
			report_point_of(row, who, &points[i]);
	return points;
}

static void test_svg(const char *save)
{
	json_t *printers = load(printers_rows), *users = user_rows();
	struct report_point *by_printer = NULL, *by_user = NULL;
	size_t n_by_printer, n_by_user;
	json_t *all = load("[{\"id\":\"p5\",\"displayName\":\"Never used\"},"
			   "{\"id\":\"p1\",\"displayName\":"
			   "\"Floor3 LaserJet\"}]");
	struct buf out;
	int rc;

	/* Not UTF-8: jansson only takes it unchecked, as a cache might. */
	json_object_set_new(json_array_get(printers, 6), "printerName",
			    json_string_nocheck("Bad \xff byte"));
	by_printer = points_of(printers, UPFS_REPORT_BY_PRINTER, &n_by_printer);
	by_user = points_of(users, UPFS_REPORT_BY_USER, &n_by_user);
	buf_init(&out, 0);
	rc = report_summary_svg(by_printer, n_by_printer, by_user, n_by_user,
				all, "2024-05-05", &out);
	CHECK_MSG(rc == 0, "rc %d", rc);
	if (rc)
		goto out;
	check_svg(out.data);
	/* p1 (42 = 40 + 2), p2, p3, p6 in the window; p5 listed: 5 bars. */
	CHECK_MSG(count(out.data, "<rect class=\"bar printer\"") == 5, "%zu",
		  count(out.data, "<rect class=\"bar printer\""));
	CHECK(strstr(out.data, "data-id=\"p1\" data-pages=\"42\""));
	CHECK(strstr(out.data, "data-id=\"p5\" data-pages=\"0\""));
	CHECK(strstr(out.data, "data-id=\"p4\"") == NULL);
	/* Largest first; the longest bar is the full width. */
	CHECK(strstr(out.data, "data-id=\"p2\"") <
	      strstr(out.data, "data-id=\"p1\""));
	CHECK(strstr(out.data, "data-id=\"p2\" data-pages=\"100\" x=\"240\" "
		     "y=\"110\" width=\"460\""));
	CHECK(strstr(out.data, "A&lt;&amp;&gt;&quot;&apos;B, &quot;quoted"
		     "&quot;: 100 pages</title>"));
	CHECK(strstr(out.data, "Bad \xef\xbf\xbd byte"));
	CHECK(strstr(out.data, ">Caf\xc3\xa9 Drucker with a name far to"
		     "\xe2\x80\xa6</text>"));	/* 32 characters */
	CHECK(strstr(out.data, "Bad \xef\xbf\xbd byte: 1 page</title>"));
	/* Ten users, the one with most pages first, none with no pages. */
	CHECK_MSG(count(out.data, "<rect class=\"bar user\"") == 10, "%zu",
		  count(out.data, "<rect class=\"bar user\""));
	CHECK(strstr(out.data, "data-id=\"user11@contoso.com\" "
		     "data-pages=\"115\""));
	CHECK(strstr(out.data, "user01@contoso.com") == NULL);
	CHECK(strstr(out.data, "idle@contoso.com") == NULL);
	CHECK(strstr(out.data, "data-id=\"user00") == NULL);
	CHECK(count(out.data, ">Pages printed</text>") == 2);
	CHECK(strstr(out.data, ">Pages per printer</text>") &&
	      strstr(out.data, ">Top 10 users by pages</text>"));
	CHECK(strstr(out.data, "2024-04-06 to 2024-05-05"));
	if (save) {
		FILE *f = fopen(save, "w");

		CHECK(f && fwrite(out.data, 1, out.len, f) == out.len &&
		      fclose(f) == 0);
	}
out:
	free(by_printer);
	free(by_user);
	json_decref(printers);
	json_decref(users);
	json_decref(all);
	buf_release(&out);
}

static void test_svg_empty(void)
{
	json_t *none = json_array(), *not_list = json_string("x");
	struct buf out;
	int rc;

	buf_init(&out, 0);
	rc = report_summary_svg(NULL, 0, NULL, 0, NULL, "2024-05-05", &out);
	CHECK_MSG(rc == 0, "rc %d", rc);
	if (rc == 0) {
		check_svg(out.data);
		CHECK(count(out.data, "<rect class=\"bar") == 0);
		CHECK(strstr(out.data, "No pages printed in these 30 days."));
		CHECK(strstr(out.data, "No printers and no pages"));
	}
	buf_reset(&out);
	buf_append_str(&out, "keep");
	CHECK(report_summary_svg(NULL, 0, NULL, 0, NULL, "2024-5-5", &out) ==
	      -EINVAL);
	CHECK(report_summary_svg(NULL, 0, NULL, 0, NULL,
				 "2024-05-05T00:00:00Z", &out) == -EINVAL);
	CHECK(report_summary_svg(NULL, 1, NULL, 0, NULL, "2024-05-05",
				 &out) == -EINVAL);
	CHECK(report_summary_svg(NULL, 0, NULL, 0, none, NULL, &out) ==
	      -EINVAL);
	CHECK(report_summary_svg(NULL, 0, NULL, 0, not_list, "2024-05-05",
				 &out) == -EINVAL);
	CHECK(strcmp(out.data, "keep") == 0);
	json_decref(not_list);
	json_decref(none);
	buf_release(&out);
}

/* A row an earlier page gave already (the same id) counts once. */
static void test_usage_repeated_row(void)
{
	static const char text[] = "["
		"{\"id\":\"r1\",\"printerId\":\"p1\",\"usageDate\":"
		"\"2024-05-01\",\"pageCount\":5},"
		"{\"id\":\"r2\",\"printerId\":\"p1\",\"usageDate\":"
		"\"2024-05-02\",\"pageCount\":7},"
		"{\"id\":\"r1\",\"printerId\":\"p1\",\"usageDate\":"
		"\"2024-05-01\",\"pageCount\":5}]";
	struct usage_index *x = index_of(text, UPFS_REPORT_BY_PRINTER);

	csv_is(x, "p1", PRINTER_HEADER
	       "2024-05-01,,,,,5,,,,,,,p1\r\n"
	       "2024-05-02,,,,,7,,,,,,,p1\r\n");
	usage_index_drop(x);
}

int main(int argc, char **argv)
{
	test_usage_by_printer();
	test_usage_by_user();
	test_usage_refused();
	test_usage_not_rows();
	test_usage_bytes();
	test_usage_cap();
	test_usage_index();
	test_usage_repeated_row();
	test_archive();
	test_months();
	test_svg(argc > 1 ? argv[1] : NULL);
	test_svg_empty();
	if (failures) {
		fprintf(stderr, "test_report: %d failure(s)\n", failures);
		return 1;
	}
	return 0;
}
