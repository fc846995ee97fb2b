/*
 * joboptions.c — parsing and checking shares/<s>/options (joboptions.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joboptions.h"

struct alias {
	const char *from;
	const char *to;
};

static const struct alias duplex_names[] = {
	{ "oneSided", "oneSided" }, { "one-sided", "oneSided" },
	{ "flipOnLongEdge", "flipOnLongEdge" },
	{ "two-sided-long-edge", "flipOnLongEdge" },
	{ "flipOnShortEdge", "flipOnShortEdge" },
	{ "two-sided-short-edge", "flipOnShortEdge" }, { NULL, NULL },
};

static const struct alias color_names[] = {
	{ "color", "color" }, { "blackAndWhite", "blackAndWhite" },
	{ "monochrome", "blackAndWhite" }, { "grayscale", "grayscale" },
	{ "auto", "auto" }, { NULL, NULL },
};

static const struct alias orientation_names[] = {
	{ "portrait", "portrait" }, { "landscape", "landscape" },
	{ "reverseLandscape", "reverseLandscape" },
	{ "reverse-landscape", "reverseLandscape" },
	{ "reversePortrait", "reversePortrait" },
	{ "reverse-portrait", "reversePortrait" }, { NULL, NULL },
};

static const struct alias quality_names[] = {
	{ "low", "low" }, { "draft", "low" }, { "medium", "medium" },
	{ "normal", "medium" }, { "high", "high" }, { NULL, NULL },
};

static const struct alias scaling_names[] = {
	{ "auto", "auto" }, { "shrinkToFit", "shrinkToFit" },
	{ "fill", "fill" }, { "fit", "fit" }, { "none", "none" },
	{ NULL, NULL },
};

static const char *alias_find(const struct alias *a, const char *v)
{
	for (; a->from; a++)
		if (strcmp(a->from, v) == 0)
			return a->to;
	return NULL;
}

static int parse_int(const char *v, long min, long max, long *out)
{
	char *end = NULL;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end != '\0' || n < min || n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

static int parse_bool(const char *v, json_t **out)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0)
		*out = json_true();
	else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0)
		*out = json_false();
	else
		return -EINVAL;
	return 0;
}

/* "1-3,5" -> [{"start":1,"end":3},{"start":5,"end":5}] */
static int parse_pages(const char *v, json_t **out)
{
	json_t *ranges = json_array();
	const char *p = v;

	while (ranges && *p) {
		char *end = NULL;
		long a = strtol(p, &end, 10), b;

		if (end == p || a < 1)
			goto bad;
		b = a;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1 || b < a)
				goto bad;
			p = end;
		}
		json_array_append_new(ranges, json_pack("{s:I, s:I}", "start",
				      (json_int_t)a, "end", (json_int_t)b));
		if (*p == ',')
			p++;
		else if (*p != '\0')
			goto bad;
	}
	if (ranges == NULL || json_array_size(ranges) == 0)
		goto bad;
	*out = ranges;
	return 0;
bad:
	json_decref(ranges);
	return -EINVAL;
}

static int enum_value(const struct alias *names, const char *v, json_t **out)
{
	const char *name = alias_find(names, v);

	if (name == NULL)
		return -EINVAL;
	*out = json_string(name);
	return 0;
}

enum value_kind { V_INT, V_BOOL, V_STRING, V_ENUM, V_PAGES };

/* Each option: its key, the configuration member it sets, its values. */
static const struct {
	const char *key;
	const char *member;
	enum value_kind kind;
	const struct alias *names;	/* V_ENUM */
	long max;			/* V_INT */
} option_table[] = {
	{ "copies", "copies", V_INT, NULL, 9999 },
	{ "dpi", "dpi", V_INT, NULL, 100000 },
	{ "media", "mediaSize", V_STRING, NULL, 0 },
	{ "duplex", "duplexMode", V_ENUM, duplex_names, 0 },
	{ "color", "colorMode", V_ENUM, color_names, 0 },
	{ "orientation", "orientation", V_ENUM, orientation_names, 0 },
	{ "quality", "quality", V_ENUM, quality_names, 0 },
	{ "scaling", "scaling", V_ENUM, scaling_names, 0 },
	{ "pages", "pageRanges", V_PAGES, NULL, 0 },
	{ "collate", "collate", V_BOOL, NULL, 0 },
	{ "fitPdfToPage", "fitPdfToPage", V_BOOL, NULL, 0 },
	{ "pagesPerSheet", "pagesPerSheet", V_INT, NULL, 100 },
};

/* One key=value: its configuration member and value; -ENOENT for an
   unknown key, -EINVAL for a bad value. */
static int option_value(const char *key, const char *v, const char **member,
			json_t **out)
{
	long n = 0;
	int rc;

	*out = NULL;
	for (size_t i = 0; i < sizeof(option_table) / sizeof(*option_table);
	     i++) {
		if (strcmp(key, option_table[i].key) != 0)
			continue;
		*member = option_table[i].member;
		switch (option_table[i].kind) {
		case V_INT:
			rc = parse_int(v, 1, option_table[i].max, &n);
			if (rc == 0)
				*out = json_integer(n);
			return rc;
		case V_BOOL:
			return parse_bool(v, out);
		case V_STRING:
			*out = v[0] ? json_string(v) : NULL;
			return *out ? 0 : -EINVAL;
		case V_ENUM:
			return enum_value(option_table[i].names, v, out);
		case V_PAGES:
			return parse_pages(v, out);
		}
	}
	return -ENOENT;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* One line; 0 for a blank or comment line too. */
static int parse_line(char *line, unsigned lineno, json_t *config, char *why,
		      size_t why_len)
{
	const char *member;
	json_t *value = NULL;
	char *eq, *key, *val;
	int rc;

	line = trim(line);
	if (line[0] == '\0' || line[0] == '#')
		return 0;
	eq = strchr(line, '=');
	if (eq == NULL) {
		snprintf(why, why_len, "line %u: expected key=value, got '%s'",
			 lineno, line);
		return -EINVAL;
	}
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	rc = option_value(key, val, &member, &value);
	if (rc == -ENOENT) {
		snprintf(why, why_len, "line %u: unknown option '%s' (known: "
			 "copies, duplex, color, media, orientation, pages, "
			 "quality, scaling, collate, dpi, fitPdfToPage, "
			 "pagesPerSheet)",
			 lineno, key);
		return -EINVAL;
	}
	if (rc || value == NULL) {
		snprintf(why, why_len, "line %u: bad value '%s' for %s",
			 lineno, val, key);
		return -EINVAL;
	}
	json_object_set_new(config, member, value);
	return 0;
}

int joboptions_parse(const char *text, size_t len, json_t **out, char *why,
		     size_t why_len)
{
	json_t *config = json_object();
	char *copy = malloc(len + 1), *line, *next;
	unsigned lineno = 0;
	int rc = 0;

	if (config == NULL || copy == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (memchr(copy, '\0', len)) {
		snprintf(why, why_len, "the file holds a NUL byte");
		rc = -EINVAL;
		goto out;
	}
	for (line = copy; line && rc == 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		rc = parse_line(line, ++lineno, config, why, why_len);
	}
	if (rc == 0) {
		*out = config;
		config = NULL;
	}
out:
	json_decref(config);
	free(copy);
	return rc;
}

static bool array_has(const json_t *list, const json_t *v)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
		if (json_equal(e, (json_t *)v))
			return true;
	return false;
}

/* Members checked against a list of the capabilities, and its name. */
static const struct {
	const char *member;
	const char *capability;
	const char *option;
} listed[] = {
	{ "duplexMode", "duplexModes", "duplex" },
	{ "colorMode", "colorModes", "color" },
	{ "mediaSize", "mediaSizes", "media" },
	{ "orientation", "orientations", "orientation" },
	{ "quality", "qualities", "quality" },
	{ "scaling", "scalings", "scaling" },
	{ "dpi", "dpis", "dpi" },
	{ "pagesPerSheet", "pagesPerSheet", "pagesPerSheet" },
};

static int check_flag(const json_t *config, const json_t *caps,
		      const char *member, const char *capability, char *why,
		      size_t why_len)
{
	const json_t *v = json_object_get(config, member);
	const json_t *cap = json_object_get(caps, capability);

	if (v == NULL || json_is_false(v) || cap == NULL || json_is_true(cap))
		return 0;
	snprintf(why, why_len, "%s: the printer does not support it", member);
	return -EINVAL;
}

int joboptions_validate(const json_t *config, const json_t *caps, char *why,
			size_t why_len)
{
	const json_t *copies = json_object_get(config, "copies");
	const json_t *range = json_object_get(caps, "copiesPerJob");
	int rc = 0;

	for (size_t i = 0; i < sizeof(listed) / sizeof(*listed); i++) {
		const json_t *v = json_object_get(config, listed[i].member);
		const json_t *list = json_object_get(caps, listed[i].capability);
		char *text;

		if (v == NULL || !json_is_array(list) ||
		    json_array_size(list) == 0 || array_has(list, v))
			continue;
		text = json_dumps(list, JSON_COMPACT);
		snprintf(why, why_len, "%s: the printer takes %s", listed[i].option,
			 text ? text : "other values");
		free(text);
		return -EINVAL;
	}
	if (copies && json_is_object(range)) {
		json_int_t n = json_integer_value(copies);
		json_int_t lo = json_integer_value(json_object_get(range, "start"));
		json_int_t hi = json_integer_value(json_object_get(range, "end"));

		if ((lo && n < lo) || (hi && n > hi)) {
			snprintf(why, why_len, "copies: the printer takes %lld "
				 "to %lld", (long long)lo, (long long)hi);
			return -EINVAL;
		}
	}
	if (json_object_get(config, "pageRanges") &&
	    json_is_false(json_object_get(caps, "isPageRangeSupported"))) {
		snprintf(why, why_len, "pages: the printer does not print page "
			 "ranges");
		return -EINVAL;
	}
	rc = check_flag(config, caps, "collate", "collation", why, why_len);
	if (rc == 0)
		rc = check_flag(config, caps, "fitPdfToPage",
				"supportsFitPdfToPage", why, why_len);
	return rc;
}
