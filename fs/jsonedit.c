/*
 * jsonedit.c — checking an edited JSON file and finding what changed
 * (jsonedit.h). The field tables follow reference §2.2, §2.8 and §2.9.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonedit.h"

enum field_type { T_STRING, T_INT, T_NUMBER, T_BOOL, T_STRINGS, T_OBJECT };

/* How a changed default is bounded by the printer's capabilities. */
enum cap_rule {
	CAP_NONE,
	CAP_LISTED,	/* the value is in the capability's list */
	CAP_EACH,	/* every element of the value is in the list */
	CAP_RANGE,	/* within an integerRange {start, end} */
	CAP_FLAG,	/* true only if the capability is true */
};

struct field {
	const char *name;
	enum field_type type;
	bool read_only;
	enum cap_rule rule;
	const char *capability;
	const char *const *members;	/* an enum's names, or NULL */
	bool digits;			/* a string of digits only */
	bool required;			/* non-nullable: never cleared */
};

static const char *const color_modes[] = {
	"blackAndWhite", "grayscale", "color", "auto", NULL };
static const char *const duplex_modes[] = {
	"flipOnLongEdge", "flipOnShortEdge", "oneSided", NULL };
static const char *const orientations[] = {
	"portrait", "landscape", "reverseLandscape", "reversePortrait", NULL };
static const char *const qualities[] = { "low", "medium", "high", NULL };
static const char *const scalings[] = {
	"auto", "shrinkToFit", "fill", "fit", "none", NULL };
static const char *const layouts[] = {
	"clockwiseFromTopLeft", "counterclockwiseFromTopLeft",
	"counterclockwiseFromTopRight", "clockwiseFromTopRight",
	"counterclockwiseFromBottomLeft", "clockwiseFromBottomLeft",
	"counterclockwiseFromBottomRight", "clockwiseFromBottomRight", NULL };

/* A printerDefaults field, its capability and rule, its enum names. */
#define DEFAULT(n, t, r, c, m) \
	{ .name = n, .type = t, .rule = r, .capability = c, .members = m }
/* A printerLocation field; d: digits only. */
#define LOCATION(n, t, d) { .name = n, .type = t, .digits = d }

static const struct field defaults_fields[] = {
	DEFAULT("colorMode", T_STRING, CAP_LISTED, "colorModes", color_modes),
	DEFAULT("contentType", T_STRING, CAP_LISTED, "contentTypes", NULL),
	DEFAULT("copiesPerJob", T_INT, CAP_RANGE, "copiesPerJob", NULL),
	DEFAULT("dpi", T_INT, CAP_LISTED, "dpis", NULL),
	DEFAULT("duplexMode", T_STRING, CAP_LISTED, "duplexModes",
		duplex_modes),
	DEFAULT("finishings", T_STRINGS, CAP_EACH, "finishings", NULL),
	DEFAULT("fitPdfToPage", T_BOOL, CAP_FLAG, "supportsFitPdfToPage",
		NULL),
	DEFAULT("inputBin", T_STRING, CAP_LISTED, "inputBins", NULL),
	DEFAULT("mediaColor", T_STRING, CAP_LISTED, "mediaColors", NULL),
	DEFAULT("mediaSize", T_STRING, CAP_LISTED, "mediaSizes", NULL),
	DEFAULT("mediaType", T_STRING, CAP_LISTED, "mediaTypes", NULL),
	DEFAULT("multipageLayout", T_STRING, CAP_LISTED, "multipageLayouts",
		layouts),
	DEFAULT("orientation", T_STRING, CAP_LISTED, "orientations",
		orientations),
	DEFAULT("outputBin", T_STRING, CAP_LISTED, "outputBins", NULL),
	DEFAULT("pagesPerSheet", T_INT, CAP_LISTED, "pagesPerSheet", NULL),
	DEFAULT("quality", T_STRING, CAP_LISTED, "qualities", qualities),
	DEFAULT("scaling", T_STRING, CAP_LISTED, "scalings", scalings),
	{ .name = NULL },
};

/* floor and roomName take digits only "right now" (reference §2.9). */
static const struct field location_fields[] = {
	LOCATION("altitudeInMeters", T_INT, false),
	LOCATION("building", T_STRING, false),
	LOCATION("city", T_STRING, false),
	LOCATION("countryOrRegion", T_STRING, false),
	LOCATION("floor", T_STRING, true),
	LOCATION("floorDescription", T_STRING, false),
	LOCATION("latitude", T_NUMBER, false),
	LOCATION("longitude", T_NUMBER, false),
	LOCATION("organization", T_STRINGS, false),
	LOCATION("postalCode", T_STRING, false),
	LOCATION("roomDescription", T_STRING, false),
	LOCATION("roomName", T_STRING, true),
	LOCATION("site", T_STRING, false),
	LOCATION("stateOrProvince", T_STRING, false),
	LOCATION("streetAddress", T_STRING, false),
	LOCATION("subdivision", T_STRINGS, false),
	/* The reference marks a conflict: the schema says subunit, its
	   examples subUnit. Either is taken as the service shows it. */
	LOCATION("subUnit", T_STRINGS, false),
	LOCATION("subunit", T_STRINGS, false),
	{ .name = NULL },
};

/* The service documents PATCH for documentConversionEnabled only. */
static const struct field settings_fields[] = {
	{ .name = "documentConversionEnabled", .type = T_BOOL,
	  .required = true },
	{ .name = "printerDiscoverySettings", .type = T_OBJECT,
	  .read_only = true },
	{ .name = NULL },
};

static const struct field *field_find(const struct field *f, const char *name)
{
	for (; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static const char *type_name(enum field_type t)
{
	static const char *const names[] = {
		[T_STRING] = "a string", [T_INT] = "an integer",
		[T_NUMBER] = "a number", [T_BOOL] = "true or false",
		[T_STRINGS] = "a list of strings", [T_OBJECT] = "an object",
	};

	return names[t];
}

static bool type_ok(const struct field *f, const json_t *v)
{
	size_t i;
	json_t *e;

	if (json_is_null(v))
		return !f->required;
	switch (f->type) {
	case T_STRING:
		return json_is_string(v);
	case T_INT:
		return json_is_integer(v);
	case T_NUMBER:
		return json_is_number(v);
	case T_BOOL:
		return json_is_boolean(v);
	case T_OBJECT:
		return json_is_object(v);
	case T_STRINGS:
		if (!json_is_array(v))
			return false;
		json_array_foreach(v, i, e)
			if (!json_is_string(e))
				return false;
		return true;
	}
	return false;
}

/* Equal as the service would see them: 1 and 1.0 are the same number. */
bool jsonedit_same_value(const json_t *a, const json_t *b)
{
	if (a == NULL || b == NULL)
		return (a == NULL || json_is_null(a)) &&
		       (b == NULL || json_is_null(b));
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	return json_equal((json_t *)a, (json_t *)b);
}

static bool list_has(const json_t *list, const json_t *v)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
		if (jsonedit_same_value(e, v))
			return true;
	return false;
}

static int refuse_listed(const struct field *f, const json_t *list,
			 const json_t *v, char *why, size_t why_len)
{
	char *value = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	char *allowed = json_dumps(list, JSON_COMPACT);

	snprintf(why, why_len, "%s: %s is not in the printer's %s %s", f->name,
		 value ? value : "the value", f->capability,
		 allowed ? allowed : "");
	free(value);
	free(allowed);
	return -EINVAL;
}

static int check_members(const struct field *f, const json_t *v, char *why,
			 size_t why_len)
{
	const char *s = json_string_value(v);

	if (f->members == NULL || s == NULL)
		return 0;
	for (const char *const *m = f->members; *m; m++)
		if (strcmp(*m, s) == 0)
			return 0;
	snprintf(why, why_len, "%s: '%s' is not a %s value", f->name, s,
		 f->name);
	return -EINVAL;
}

static int check_digits(const struct field *f, const json_t *v, char *why,
			size_t why_len)
{
	const char *s = json_string_value(v);

	if (!f->digits || s == NULL)
		return 0;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9') {
			snprintf(why, why_len, "%s: the service takes digits "
				 "only, not '%s'", f->name, s);
			return -EINVAL;
		}
	return 0;
}

/* A changed default against the printer's capabilities. */
static int check_capability(const struct field *f, const json_t *v,
			    const json_t *caps, char *why, size_t why_len)
{
	const json_t *cap = json_object_get(caps, f->capability ?
					    f->capability : "");
	size_t i;
	json_t *e;

	if (json_is_null(v) || cap == NULL || json_is_null(cap))
		return 0;	/* a capability not published is not checked */
	switch (f->rule) {
	case CAP_NONE:
		return 0;
	case CAP_LISTED:
		if (json_is_array(cap) && !list_has(cap, v))
			return refuse_listed(f, cap, v, why, why_len);
		return 0;
	case CAP_EACH:
		json_array_foreach(v, i, e)
			if (json_is_array(cap) && !list_has(cap, e))
				return refuse_listed(f, cap, e, why, why_len);
		return 0;
	case CAP_RANGE: {
		json_int_t n = json_integer_value(v);
		const json_t *lo = json_object_get(cap, "start");
		const json_t *hi = json_object_get(cap, "end");

		if ((json_is_integer(lo) && n < json_integer_value(lo)) ||
		    (json_is_integer(hi) && n > json_integer_value(hi))) {
			snprintf(why, why_len, "%s: %lld is outside the "
				 "printer's range %lld to %lld", f->name,
				 (long long)n,
				 (long long)json_integer_value(lo),
				 (long long)json_integer_value(hi));
			return -EINVAL;
		}
		return 0;
	}
	case CAP_FLAG:
		if (json_is_true(v) && !json_is_true(cap)) {
			snprintf(why, why_len, "%s: the printer does not "
				 "support it (%s is false)", f->name,
				 f->capability);
			return -EINVAL;
		}
		return 0;
	}
	return 0;
}

/* One field of the edited text that differs from the service's. */
static int check_changed(const struct field *f, const char *name,
			 const json_t *v, const json_t *caps, char *why,
			 size_t why_len)
{
	int rc;

	if (f == NULL) {
		snprintf(why, why_len, "%s: the service does not let clients "
			 "change this field", name);
		return -EINVAL;
	}
	if (f->read_only) {
		snprintf(why, why_len, "%s: read-only field", name);
		return -EINVAL;
	}
	if (!type_ok(f, v)) {
		snprintf(why, why_len, "%s: expected %s", name,
			 type_name(f->type));
		return -EINVAL;
	}
	rc = check_members(f, v, why, why_len);
	if (rc == 0)
		rc = check_digits(f, v, why, why_len);
	if (rc == 0)
		rc = check_capability(f, v, caps, why, why_len);
	return rc;
}

static const struct field *fields_of(enum jsonedit_doc doc)
{
	switch (doc) {
	case JSONEDIT_DEFAULTS:
		return defaults_fields;
	case JSONEDIT_LOCATION:
		return location_fields;
	case JSONEDIT_SETTINGS:
		return settings_fields;
	}
	return NULL;
}

static int parse_text(const char *text, size_t len, json_t **out, char *why,
		      size_t why_len)
{
	json_error_t err;
	json_t *v;

	if (memchr(text, '\0', len)) {
		snprintf(why, why_len, "the file holds a NUL byte");
		return -EINVAL;
	}
	v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (v == NULL) {
		snprintf(why, why_len, "malformed JSON at line %d column %d: "
			 "%s", err.line, err.column, err.text);
		return -EINVAL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		snprintf(why, why_len, "expected one JSON object {...}");
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/*
 * What clears a field: null, or [] for a list, which OData refuses to
 * take as null (a collection may hold nulls, never be one: 400).
 */
static json_t *cleared_value(const struct field *f)
{
	return f && f->type == T_STRINGS ? json_array() : json_null();
}

static bool is_cleared(const struct field *f, const json_t *v)
{
	return json_is_null(v) || (f && f->type == T_STRINGS &&
				   json_is_array(v) && json_array_size(v) == 0);
}

/*
 * The spelling the service shows of name (subunit or subUnit, reference
 * §2.9): an edit that types the other one changes that member, rather
 * than sending both (the one shown cleared).
 */
static const char *other_spelling(const char *name)
{
	return strcmp(name, "subUnit") == 0   ? "subunit"
	       : strcmp(name, "subunit") == 0 ? "subUnit"
					      : NULL;
}

static const char *shown_name(const json_t *current, const char *name)
{
	const char *other = other_spelling(name);

	return other && !json_object_get(current, name) &&
			       json_object_get(current, other)
		       ? other
		       : name;
}

int jsonedit_diff(enum jsonedit_doc doc, const char *text, size_t len,
		  const json_t *current, const json_t *caps, json_t **changes,
		  char *why, size_t why_len)
{
	const struct field *fields = fields_of(doc);
	json_t *edited = NULL, *out = json_object(), *v;
	const char *typed, *name;
	int rc = 0;

	*changes = NULL;
	if (out == NULL)
		return -ENOMEM;
	rc = parse_text(text, len, &edited, why, why_len);
	if (rc)
		goto out;
	json_object_foreach(edited, typed, v) {
		/* The macro walks on from typed; sent is the name sent. */
		const char *sent = shown_name(current, typed);
		const struct field *f = field_find(fields, sent);
		const json_t *was = json_object_get(current, sent);

		if (sent != typed && json_object_get(edited, sent)) {
			snprintf(why, why_len, "%s and %s name one field: "
				 "keep one", typed, sent);
			rc = -EINVAL;
			goto out;
		}
		if (strstr(sent, "@odata.") != NULL)
			continue;	/* annotations are the service's */
		if (f == NULL && was == NULL) {
			snprintf(why, why_len, "%s: unknown field", sent);
			rc = -EINVAL;
			goto out;
		}
		if (jsonedit_same_value(v, was) ||
		    (json_is_null(v) && f && is_cleared(f, was)))
			continue;
		rc = check_changed(f, sent, v, caps, why, why_len);
		if (rc == 0 && json_object_set_new(out, sent, json_is_null(v)
				   ? cleared_value(f) : json_incref(v)) != 0)
			rc = -ENOMEM;
		if (rc)
			goto out;
	}
	/*
	 * A field the text no longer has is cleared when clients may clear
	 * it; one they cannot change stays as it is, so a file holding only
	 * the fields someone cares about ('{"documentConversionEnabled":
	 * false}') is a complete edit.
	 */
	json_object_foreach((json_t *)current, name, v) {
		const struct field *f = field_find(fields, name);

		/* Typed in the other spelling, the member is kept even when
		   its value did not change (nothing of it in out). */
		if (json_object_get(out, name) || json_object_get(edited, name) ||
		    (other_spelling(name) &&
		     json_object_get(edited, other_spelling(name))) ||
		    is_cleared(f, v) || f == NULL || f->read_only ||
		    f->required)
			continue;
		if (json_object_set_new(out, name, cleared_value(f)) != 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	*changes = out;
	out = NULL;
out:
	json_decref(edited);
	json_decref(out);
	return rc;
}
