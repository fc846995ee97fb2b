/*
 * fuzz_jsonedit.c — an edited defaults.json, location.json or
 * settings.json through jsonedit_diff() (fs/jsonedit.c), the input given
 * as each of the three files, against what the emulator's demo tenant
 * holds for them and the printer's capabilities.
 *
 * Properties (jsonedit.h): 0 with an object of changes, or -EINVAL with a
 * NUL-ended reason and no object; every change names a field the text
 * has, or clears (null) one it dropped; the text identical to what the
 * service holds changes nothing.
 */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "jsonedit.h"
#include "fuzz.h"

static const char caps_text[] =
	"{\"isColorPrintingSupported\":false,\"supportsFitPdfToPage\":true,"
	"\"contentTypes\":[\"application/pdf\",\"image/pwg-raster\"],"
	"\"qualities\":[\"low\",\"medium\",\"high\"],\"dpis\":[600,1200],"
	"\"duplexModes\":[\"oneSided\",\"flipOnLongEdge\",\"flipOnShortEdge\"],"
	"\"finishings\":[\"none\"],\"mediaTypes\":[\"stationery\","
	"\"envelope\"],\"mediaSizes\":[\"North America Letter\",\"A4\"],"
	"\"mediaColors\":[\"white\"],\"outputBins\":[\"top\"],\"colorModes\":"
	"[\"blackAndWhite\",\"grayscale\"],\"inputBins\":[\"auto\",\"tray-1\"],"
	"\"collation\":true,\"scalings\":[\"auto\",\"fit\",\"none\"],"
	"\"copiesPerJob\":{\"start\":1,\"end\":999},\"orientations\":"
	"[\"portrait\",\"landscape\"],\"pagesPerSheet\":[1,2,4],"
	"\"multipageLayouts\":[\"clockwiseFromTopLeft\"]}";

static const char *const current_texts[] = {
	[JSONEDIT_DEFAULTS] =
	"{\"colorMode\":\"blackAndWhite\",\"contentType\":\"application/pdf\","
	"\"copiesPerJob\":1,\"dpi\":600,\"duplexMode\":\"flipOnLongEdge\","
	"\"finishings\":[\"none\"],\"fitPdfToPage\":false,\"inputBin\":"
	"\"auto\",\"mediaColor\":\"white\",\"mediaSize\":\"North America "
	"Letter\",\"mediaType\":\"stationery\",\"multipageLayout\":"
	"\"clockwiseFromTopLeft\",\"orientation\":\"portrait\",\"outputBin\":"
	"\"top\",\"pagesPerSheet\":1,\"quality\":\"medium\",\"scaling\":"
	"\"auto\"}",
	[JSONEDIT_LOCATION] =
	"{\"latitude\":47.6422,\"longitude\":-122.1368,\"altitudeInMeters\":"
	"52,\"streetAddress\":\"1 Contoso Way\",\"subunit\":[\"Building 1\"],"
	"\"city\":\"Redmond\",\"postalCode\":\"98052\",\"countryOrRegion\":"
	"\"USA\",\"site\":\"Redmond Campus\",\"building\":\"Building 1\","
	"\"floor\":\"3\",\"floorDescription\":\"Third floor\",\"roomName\":"
	"\"301\",\"roomDescription\":\"Copy room\",\"organization\":"
	"[\"Contoso\",\"Finance\"],\"subdivision\":[\"King County\"],"
	"\"stateOrProvince\":\"Washington\"}",
	[JSONEDIT_SETTINGS] =
	"{\"@odata.context\":\"http://127.0.0.1/v1.0/$metadata#print/"
	"settings\",\"documentConversionEnabled\":true,"
	"\"printerDiscoverySettings\":{\"airPrint\":{\"incompatiblePrinters\":"
	"\"show\"}}}",
};

static json_t *caps, *current[3];

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	caps = json_loads(caps_text, 0, NULL);
	FUZZ_CHECK(caps != NULL);
	for (int d = 0; d < 3; d++) {
		current[d] = json_loads(current_texts[d], 0, NULL);
		FUZZ_CHECK(current[d] != NULL);
	}
	(void)argc;
	(void)argv;
	return 0;
}

/* What the edit says of a member the changes name: location.json's
   subunit goes out in the spelling the service shows, whichever one
   the edit used. */
static const json_t *edited_member(const json_t *edited, const char *name)
{
	const json_t *in = json_object_get(edited, name);

	if (in == NULL && strcmp(name, "subunit") == 0)
		in = json_object_get(edited, "subUnit");
	if (in == NULL && strcmp(name, "subUnit") == 0)
		in = json_object_get(edited, "subunit");
	return in;
}

/* A member the edit left out is cleared: null, or [] for a list (Graph
   refuses null for a collection). */
static void check_changes(const json_t *changes, const json_t *edited)
{
	const char *name;
	json_t *v;

	json_object_foreach((json_t *)changes, name, v) {
		const json_t *in = edited_member(edited, name);

		FUZZ_CHECK(in ? json_equal(v, (json_t *)in)
			      : json_is_null(v) || (json_is_array(v) &&
						    json_array_size(v) == 0));
	}
}

static void diff(enum jsonedit_doc doc, const char *text, size_t len,
		 const json_t *cur, const json_t *cap)
{
	json_t *changes = (json_t *)1, *edited;
	char why[300];
	int rc;

	why[0] = '\0';
	rc = jsonedit_diff(doc, text, len, cur, cap, &changes, why,
			   sizeof(why));
	FUZZ_CHECK(fuzz_terminated(why, sizeof(why)));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL && why[0] != '\0' && changes == NULL);
		return;
	}
	FUZZ_CHECK(json_is_object(changes));
	edited = json_loadb(text, len, 0, NULL);
	FUZZ_CHECK(edited != NULL);
	check_changes(changes, edited);
	json_decref(edited);
	json_decref(changes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;

	for (int d = 0; d < 3; d++) {
		diff((enum jsonedit_doc)d, text, size, current[d], caps);
		diff((enum jsonedit_doc)d, text, size, NULL, NULL);
	}
	/* What the service holds, written back unchanged: no change. */
	if (size == 0) {
		for (int d = 0; d < 3; d++) {
			char *same = json_dumps(current[d], 0);
			json_t *changes = NULL;
			char why[300] = "";

			FUZZ_CHECK(same != NULL);
			FUZZ_CHECK(jsonedit_diff((enum jsonedit_doc)d, same,
						 strlen(same), current[d], caps,
						 &changes, why,
						 sizeof(why)) == 0);
			FUZZ_CHECK(json_object_size(changes) == 0);
			json_decref(changes);
			free(same);
		}
	}
	return 0;
}
