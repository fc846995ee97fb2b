/*
 * test_jsonedit.c — checking edited defaults/location/settings JSON and
 * the PATCH of what changed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonedit.h"
#include "check.h"

static const char *caps_text =
	"{\"colorModes\":[\"grayscale\",\"color\"],"
	"\"duplexModes\":[\"oneSided\",\"flipOnLongEdge\"],"
	"\"mediaSizes\":[\"A4\",\"North America Letter\"],"
	"\"dpis\":[300,600],\"copiesPerJob\":{\"start\":1,\"end\":38},"
	"\"finishings\":[\"none\",\"staple\"],\"supportsFitPdfToPage\":false}";

static const char *defaults_text =
	"{\"copiesPerJob\":1,\"colorMode\":\"color\",\"mediaSize\":\"A4\","
	"\"duplexMode\":\"oneSided\",\"dpi\":600,\"inputBin\":\"auto\","
	"\"fitPdfToPage\":false}";

static json_t *load(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);

	CHECK_MSG(v != NULL, "fixture does not parse: %s", text);
	return v;
}

/* The changes as compact sorted JSON ("" on refusal), why on refusal. */
static char *diff(enum jsonedit_doc doc, const char *edited,
		  const char *current, const char *caps, int *rc, char *why,
		  size_t why_len)
{
	json_t *cur = current ? load(current) : NULL;
	json_t *cap = caps ? load(caps) : NULL;
	json_t *changes = NULL;
	char *text;

	why[0] = '\0';
	*rc = jsonedit_diff(doc, edited, strlen(edited), cur, cap, &changes,
			    why, why_len);
	text = changes ? json_dumps(changes, JSON_COMPACT | JSON_SORT_KEYS)
		       : strdup("");
	json_decref(changes);
	json_decref(cur);
	json_decref(cap);
	return text;
}

static void want_changes(enum jsonedit_doc doc, const char *edited,
			 const char *current, const char *want)
{
	char why[300];
	int rc;
	char *got = diff(doc, edited, current, caps_text, &rc, why,
			 sizeof(why));

	CHECK_MSG(rc == 0 && strcmp(got, want) == 0,
		  "edit %s: rc %d (%s), changes %s, want %s", edited, rc, why,
		  got, want);
	free(got);
}

static void want_refusal(enum jsonedit_doc doc, const char *edited,
			 const char *current, const char *reason)
{
	char why[300];
	int rc;
	char *got = diff(doc, edited, current, caps_text, &rc, why,
			 sizeof(why));

	CHECK_MSG(rc == -EINVAL && strstr(why, reason) != NULL,
		  "edit %s: rc %d, why '%s', want -EINVAL and '%s'", edited,
		  rc, why, reason);
	free(got);
}

static void test_defaults_changes(void)
{
	/* The same text: nothing to PATCH. */
	want_changes(JSONEDIT_DEFAULTS, defaults_text, defaults_text, "{}");
	/* Whitespace and order do not matter; 600.0 is 600. */
	want_changes(JSONEDIT_DEFAULTS,
		     "{ \"dpi\": 600.0, \"inputBin\":\"auto\",\"fitPdfToPage\":"
		     "false, \"duplexMode\":\"oneSided\",\"mediaSize\":\"A4\","
		     "\"colorMode\":\"color\",\"copiesPerJob\":1 }\n",
		     defaults_text, "{}");
	/* Two fields changed; only they are sent. */
	want_changes(JSONEDIT_DEFAULTS,
		     "{\"copiesPerJob\":3,\"colorMode\":\"grayscale\","
		     "\"mediaSize\":\"A4\",\"duplexMode\":\"oneSided\","
		     "\"dpi\":600,\"inputBin\":\"auto\",\"fitPdfToPage\":false}",
		     defaults_text, "{\"colorMode\":\"grayscale\","
		     "\"copiesPerJob\":3}");
	/* A removed field is cleared. */
	want_changes(JSONEDIT_DEFAULTS,
		     "{\"copiesPerJob\":1,\"colorMode\":\"color\","
		     "\"mediaSize\":\"A4\",\"duplexMode\":\"oneSided\","
		     "\"dpi\":600,\"fitPdfToPage\":false}",
		     defaults_text, "{\"inputBin\":null}");
	/* inputBin "auto" is not in the capabilities, but unchanged: kept. */
	want_changes(JSONEDIT_DEFAULTS,
		     "{\"copiesPerJob\":2,\"colorMode\":\"color\","
		     "\"mediaSize\":\"A4\",\"duplexMode\":\"oneSided\","
		     "\"dpi\":600,\"inputBin\":\"auto\",\"fitPdfToPage\":false}",
		     defaults_text, "{\"copiesPerJob\":2}");
	/* A field the service did not have before. */
	want_changes(JSONEDIT_DEFAULTS,
		     "{\"copiesPerJob\":1,\"colorMode\":\"color\","
		     "\"mediaSize\":\"A4\",\"duplexMode\":\"oneSided\","
		     "\"dpi\":600,\"inputBin\":\"auto\",\"fitPdfToPage\":false,"
		     "\"finishings\":[\"staple\"]}",
		     defaults_text, "{\"finishings\":[\"staple\"]}");
}

static void test_defaults_refusals(void)
{
	want_refusal(JSONEDIT_DEFAULTS, "{\"copiesPerJob\": 2,", defaults_text,
		     "malformed JSON");
	want_refusal(JSONEDIT_DEFAULTS, "[1,2]", defaults_text,
		     "one JSON object");
	want_refusal(JSONEDIT_DEFAULTS, "{\"copies\":2}", defaults_text,
		     "copies: unknown field");
	want_refusal(JSONEDIT_DEFAULTS, "{\"copiesPerJob\":99}", defaults_text,
		     "copiesPerJob: 99 is outside the printer's range 1 to 38");
	want_refusal(JSONEDIT_DEFAULTS, "{\"copiesPerJob\":\"2\"}",
		     defaults_text, "copiesPerJob: expected an integer");
	want_refusal(JSONEDIT_DEFAULTS, "{\"colorMode\":\"blackAndWhite\"}",
		     defaults_text, "colorMode: \"blackAndWhite\" is not in "
		     "the printer's colorModes");
	want_refusal(JSONEDIT_DEFAULTS, "{\"colorMode\":\"rainbow\"}",
		     defaults_text, "'rainbow' is not a colorMode value");
	want_refusal(JSONEDIT_DEFAULTS, "{\"mediaSize\":\"A3\"}",
		     defaults_text, "mediaSize: \"A3\" is not in");
	want_refusal(JSONEDIT_DEFAULTS, "{\"duplexMode\":\"flipOnShortEdge\"}",
		     defaults_text, "duplexMode");
	want_refusal(JSONEDIT_DEFAULTS, "{\"dpi\":1200}", defaults_text,
		     "dpi: 1200 is not in the printer's dpis");
	want_refusal(JSONEDIT_DEFAULTS, "{\"finishings\":[\"punch\"]}",
		     defaults_text, "finishings: \"punch\"");
	want_refusal(JSONEDIT_DEFAULTS, "{\"fitPdfToPage\":true}",
		     defaults_text, "fitPdfToPage: the printer does not "
		     "support it");
	want_refusal(JSONEDIT_DEFAULTS,
		     "{\"copiesPerJob\":1,\"copiesPerJob\":2}", defaults_text,
		     "malformed JSON");
}

static void test_location(void)
{
	const char *loc = "{\"building\":\"Studio E\",\"floor\":\"1\","
			  "\"latitude\":1.5,\"organization\":[\"C+AI\"]}";

	want_changes(JSONEDIT_LOCATION,
		     "{\"building\":\"Studio F\",\"floor\":\"2\","
		     "\"latitude\":1.5,\"organization\":[\"C+AI\"],"
		     "\"roomName\":\"1234\"}", loc,
		     "{\"building\":\"Studio F\",\"floor\":\"2\","
		     "\"roomName\":\"1234\"}");
	/* A list is cleared with [] (OData refuses null for a collection),
	   whether it is left out or written as null; one already empty is
	   left alone. */
	want_changes(JSONEDIT_LOCATION, "{\"building\":\"Studio E\"}", loc,
		     "{\"floor\":null,\"latitude\":null,"
		     "\"organization\":[]}");
	want_changes(JSONEDIT_LOCATION, "{\"building\":\"Studio E\","
		     "\"floor\":\"1\",\"latitude\":1.5,\"organization\":null}",
		     loc, "{\"organization\":[]}");
	want_changes(JSONEDIT_LOCATION, "{\"subdivision\":null}",
		     "{\"subdivision\":[]}", "{}");
	want_refusal(JSONEDIT_LOCATION, "{\"floor\":\"first\"}", loc,
		     "floor: the service takes digits only");
	want_refusal(JSONEDIT_LOCATION, "{\"latitude\":\"north\"}", loc,
		     "latitude: expected a number");
	want_refusal(JSONEDIT_LOCATION, "{\"organization\":[1]}", loc,
		     "organization: expected a list of strings");
	want_refusal(JSONEDIT_LOCATION, "{\"planet\":\"Earth\"}", loc,
		     "planet: unknown field");
	/* Both spellings the reference shows (a marked conflict). */
	want_changes(JSONEDIT_LOCATION, "{\"subUnit\":[\"East\"]}",
		     "{\"subUnit\":[\"West\"]}", "{\"subUnit\":[\"East\"]}");
	want_changes(JSONEDIT_LOCATION, "{\"subunit\":[\"East\"]}",
		     "{\"subunit\":[\"West\"]}", "{\"subunit\":[\"East\"]}");
	/* The other spelling than the service shows changes that member:
	   not both sent, the shown one cleared. */
	want_changes(JSONEDIT_LOCATION, "{\"subUnit\":[\"East\"]}",
		     "{\"subunit\":[\"West\"]}", "{\"subunit\":[\"East\"]}");
	want_changes(JSONEDIT_LOCATION, "{\"subunit\":[\"East\"]}",
		     "{\"subUnit\":[\"West\"]}", "{\"subUnit\":[\"East\"]}");
	/* Retyped unchanged in the other spelling: kept, not cleared. */
	want_changes(JSONEDIT_LOCATION, "{\"subUnit\":[\"West\"],"
		     "\"floor\":\"2\"}", "{\"subunit\":[\"West\"]}",
		     "{\"floor\":\"2\"}");
	want_refusal(JSONEDIT_LOCATION, "{\"subunit\":[\"A\"],"
		     "\"subUnit\":[\"B\"]}", "{\"subunit\":[\"West\"]}",
		     "subUnit and subunit name one field: keep one");
}

static void test_settings(void)
{
	const char *cur = "{\"documentConversionEnabled\":true,"
			  "\"printerDiscoverySettings\":{\"airPrint\":"
			  "{\"incompatiblePrinters\":\"show\"}}}";

	want_changes(JSONEDIT_SETTINGS,
		     "{\"documentConversionEnabled\":false}", cur,
		     "{\"documentConversionEnabled\":false}");
	want_changes(JSONEDIT_SETTINGS, cur, cur, "{}");
	want_refusal(JSONEDIT_SETTINGS,
		     "{\"documentConversionEnabled\":true,"
		     "\"printerDiscoverySettings\":{\"airPrint\":"
		     "{\"incompatiblePrinters\":\"hide\"}}}", cur,
		     "printerDiscoverySettings: read-only field");
	want_refusal(JSONEDIT_SETTINGS,
		     "{\"documentConversionEnabled\":null}", cur,
		     "documentConversionEnabled: expected true or false");
	want_refusal(JSONEDIT_SETTINGS,
		     "{\"documentConversionEnabled\":\"yes\"}", cur,
		     "expected true or false");
}

/* A field the service shows but the table does not know: kept, not sent. */
static void test_unlisted_service_field(void)
{
	const char *cur = "{\"copiesPerJob\":1,\"subUnit\":[\"A\"]}";

	want_changes(JSONEDIT_DEFAULTS, cur, cur, "{}");
	want_refusal(JSONEDIT_DEFAULTS,
		     "{\"copiesPerJob\":1,\"subUnit\":[\"B\"]}", cur,
		     "subUnit: the service does not let clients change");
}

int main(void)
{
	test_defaults_changes();
	test_defaults_refusals();
	test_location();
	test_settings();
	test_unlisted_service_field();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures != 0;
}
