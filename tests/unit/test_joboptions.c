/*
 * test_joboptions.c — shares/<s>/options parsing and checking.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joboptions.h"
#include "check.h"


static json_t *parse_ok(const char *text)
{
	char why[256] = "";
	json_t *c = NULL;
	int rc = joboptions_parse(text, strlen(text), &c, why, sizeof(why));

	CHECK_MSG(rc == 0, "'%s' refused: %s", text, why);
	return c;
}

static void parse_bad(const char *text, const char *want)
{
	char why[256] = "";
	json_t *c = NULL;
	int rc = joboptions_parse(text, strlen(text), &c, why, sizeof(why));

	CHECK_MSG(rc == -22 && strstr(why, want), "'%s': rc %d why '%s', want '%s'",
	      text, rc, why, want);
	json_decref(c);
}

static void test_parse(void)
{
	json_t *c = parse_ok("# defaults\ncopies=2\n\n duplex = two-sided-long-edge \r\n"
			     "color=monochrome\nmedia=A4\npages=1-3,5\n"
			     "collate=true\nquality=draft\ncopies=3\n");
	char *text = c ? json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	CHECK_MSG(text && strcmp(text, "{\"collate\":true,\"colorMode\":"
	      "\"blackAndWhite\",\"copies\":3,\"duplexMode\":\"flipOnLongEdge\","
	      "\"mediaSize\":\"A4\",\"pageRanges\":[{\"end\":3,\"start\":1},"
	      "{\"end\":5,\"start\":5}],\"quality\":\"low\"}") == 0,
	      "got %s", text ? text : "(nothing)");
	free(text);
	json_decref(c);
	c = parse_ok("");
	CHECK_MSG(c && json_object_size(c) == 0, "empty file is not {}");
	json_decref(c);
	parse_bad("copies=0\n", "line 1: bad value '0' for copies");
	parse_bad("copies=two\n", "bad value");
	parse_bad("\nstaple=yes\n", "line 2: unknown option 'staple'");
	parse_bad("duplex\n", "expected key=value");
	parse_bad("pages=3-1\n", "bad value '3-1'");
	parse_bad("color=purple\n", "bad value 'purple'");
	parse_bad("collate=maybe\n", "bad value");
}

static void test_validate(void)
{
	json_t *caps = json_loads("{\"copiesPerJob\":{\"start\":1,\"end\":38},"
		"\"duplexModes\":[\"oneSided\"],\"colorModes\":[\"grayscale\","
		"\"color\"],\"mediaSizes\":[\"A4\"],\"dpis\":[600],"
		"\"isPageRangeSupported\":false,\"collation\":true}", 0, NULL);
	struct {
		const char *text;
		const char *want;	/* NULL: accepted */
	} cases[] = {
		{ "copies=38\nmedia=A4\ncolor=grayscale\ncollate=true", NULL },
		{ "copies=39", "copies: the printer takes 1 to 38" },
		{ "duplex=flipOnLongEdge", "duplex: the printer takes" },
		{ "color=monochrome", "color: the printer takes" },
		{ "media=Letter", "media: the printer takes [\"A4\"]" },
		{ "dpi=300", "dpi: the printer takes [600]" },
		{ "pages=1-2", "pages: the printer does not print page ranges" },
		{ "quality=high", NULL },	/* not published: not checked */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		json_t *c = parse_ok(cases[i].text);
		char why[256] = "";
		int rc = c ? joboptions_validate(c, caps, why, sizeof(why)) : -1;

		if (cases[i].want)
			CHECK_MSG(rc == -22 && strstr(why, cases[i].want),
			      "'%s': rc %d why '%s'", cases[i].text, rc, why);
		else
			CHECK_MSG(rc == 0, "'%s' refused: %s", cases[i].text, why);
		json_decref(c);
	}
	json_decref(caps);
}

int main(void)
{
	test_parse();
	test_validate();
	if (failures) {
		fprintf(stderr, "test_joboptions: %d failure(s)\n", failures);
		return 1;
	}
	return 0;
}
