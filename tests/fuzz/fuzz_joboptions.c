/*
 * fuzz_joboptions.c — a share's options file (shares/<s>/options) through
 * joboptions_parse(), and what it yields through joboptions_validate()
 * against two printers' capabilities as the emulator serves them
 * (fs/joboptions.c).
 *
 * Properties (joboptions.h): the answer is 0 with an object, or -EINVAL
 * with a NUL-ended reason; validation is 0 or -EINVAL with a reason.
 */
#include <errno.h>
#include <jansson.h>

#include "joboptions.h"
#include "fuzz.h"

/* Floor3 LaserJet (monochrome, fitPdfToPage) and a colour printer. */
static const char *const caps_texts[] = {
	"{\"isColorPrintingSupported\":false,\"supportsFitPdfToPage\":true,"
	"\"contentTypes\":[\"application/pdf\",\"image/pwg-raster\"],"
	"\"isPageRangeSupported\":true,\"qualities\":[\"low\",\"medium\","
	"\"high\"],\"dpis\":[600,1200],\"duplexModes\":[\"oneSided\","
	"\"flipOnLongEdge\",\"flipOnShortEdge\"],\"mediaSizes\":[\"North "
	"America Letter\",\"A4\",\"A5\"],\"colorModes\":[\"blackAndWhite\","
	"\"grayscale\"],\"collation\":true,\"scalings\":[\"auto\","
	"\"shrinkToFit\",\"fill\",\"fit\",\"none\"],\"copiesPerJob\":"
	"{\"start\":1,\"end\":999},\"orientations\":[\"portrait\","
	"\"landscape\",\"reverseLandscape\",\"reversePortrait\"]}",
	"{\"colorModes\":[\"color\"],\"duplexModes\":[\"oneSided\"],"
	"\"mediaSizes\":[\"A3\"],\"dpis\":[300],\"copiesPerJob\":{\"start\":"
	"2,\"end\":3},\"isPageRangeSupported\":false,\"collation\":false,"
	"\"supportsFitPdfToPage\":false}",
	"{}",
};

static json_t *caps[FUZZ_COUNT(caps_texts)];

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	for (size_t i = 0; i < FUZZ_COUNT(caps); i++) {
		caps[i] = json_loads(caps_texts[i], 0, NULL);
		FUZZ_CHECK(caps[i] != NULL);
	}
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *config = NULL;
	char why[256];
	int rc;

	why[0] = '\0';
	rc = joboptions_parse((const char *)data, size, &config, why,
			      sizeof(why));
	FUZZ_CHECK(fuzz_terminated(why, sizeof(why)));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL && why[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(json_is_object(config));
	for (size_t i = 0; i < FUZZ_COUNT(caps); i++) {
		why[0] = '\0';
		rc = joboptions_validate(config, caps[i], why, sizeof(why));
		FUZZ_CHECK(rc == 0 || (rc == -EINVAL && why[0] != '\0'));
		FUZZ_CHECK(fuzz_terminated(why, sizeof(why)));
	}
	json_decref(config);
	return 0;
}
