/*
 * cupsopts.c — a CUPS job's options as upfs job options (backend.h).
 *
 * CUPS hands a backend the job's IPP attributes as "name=value" words
 * (argv[5], the syntax of cupsParseOptions), with the matching PPD choices
 * beside them (sides and Duplex, media and PageSize). Each upfs option
 * below takes the IPP name first and the PPD one second. The values are
 * written in the syntax of shares/<s>/options, which fs/joboptions.c
 * parses and checks; the same code checks them here against the printer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend.h"
#include "joboptions.h"

#define NAME_MAX_LEN 64
#define VALUE_MAX_LEN 256
#define WORDS_MAX 128

struct word {
	char name[NAME_MAX_LEN];
	char value[VALUE_MAX_LEN];
};

struct words {
	struct word v[WORDS_MAX];
	size_t n;
};

/* Copies a value that ends at white space, or a quoted one, unescaping. */
static const char *read_value(const char *p, char *out, size_t len)
{
	char quote = 0;
	size_t at = 0;

	if (*p == '\'' || *p == '"')
		quote = *p++;
	for (; *p; p++) {
		if (quote ? *p == quote : (*p == ' ' || *p == '\t' ||
					   *p == '\n'))
			break;
		if (*p == '\\' && p[1])
			p++;
		if (at + 1 < len)
			out[at++] = *p;
	}
	out[at] = '\0';
	return quote && *p == quote ? p + 1 : p;
}

/* A {collection} value (media-col...): skipped whole. */
static const char *skip_collection(const char *p)
{
	int depth = 0;

	for (; *p; p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}' && --depth == 0)
			return p + 1;
	}
	return p;
}

/* cupsParseOptions: name=value, name (true), noname (false). */
static void words_parse(const char *text, struct words *w)
{
	const char *p = text ? text : "";

	w->n = 0;
	while (*p && w->n < WORDS_MAX) {
		struct word *o = &w->v[w->n];
		size_t at = 0;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p == '\0')
			break;
		while (*p && *p != '=' && *p != ' ' && *p != '\t' && *p != '\n') {
			if (at + 1 < sizeof(o->name))
				o->name[at++] = *p;
			p++;
		}
		o->name[at] = '\0';
		if (*p != '=') {
			bool no = strncasecmp(o->name, "no", 2) == 0;

			if (no)
				memmove(o->name, o->name + 2, strlen(o->name) - 1);
			snprintf(o->value, sizeof(o->value), no ? "false" : "true");
		} else if (p[1] == '{') {
			p = skip_collection(p + 1);
			continue;
		} else {
			p = read_value(p + 1, o->value, sizeof(o->value));
		}
		if (o->name[0])
			w->n++;
	}
}

/* The value of the last word called name, or NULL. */
static const char *word_get(const struct words *w, const char *name)
{
	for (size_t i = w->n; i-- > 0;)
		if (strcasecmp(w->v[i].name, name) == 0)
			return w->v[i].value;
	return NULL;
}

static void add(struct cups_job_options *o, const char *key,
		const char *value, const char *from)
{
	struct cups_job_option *opt;

	if (value == NULL || value[0] == '\0' || o->n >= CUPS_JOB_OPTIONS_MAX)
		return;
	opt = &o->v[o->n++];
	memset(opt, 0, sizeof(*opt));
	opt->key = key;
	opt->from = from;
	snprintf(opt->value, sizeof(opt->value), "%s", value);
}

struct alias {
	const char *from;
	const char *to;
};

static const char *alias_find(const struct alias *a, const char *v)
{
	for (; v && a->from; a++)
		if (strcasecmp(a->from, v) == 0)
			return a->to;
	return NULL;
}

/* Maps the IPP attribute, or else the PPD option, through its table. */
static void add_enum(struct cups_job_options *o, const struct words *w,
		     const char *key, const char *ipp,
		     const struct alias *ipp_names, const char *ppd,
		     const struct alias *ppd_names)
{
	const char *v = alias_find(ipp_names, word_get(w, ipp));

	if (v)
		add(o, key, v, ipp);
	else if (ppd && (v = alias_find(ppd_names, word_get(w, ppd))))
		add(o, key, v, ppd);
}

static const struct alias sides[] = {
	{ "one-sided", "oneSided" },
	{ "two-sided-long-edge", "flipOnLongEdge" },
	{ "two-sided-short-edge", "flipOnShortEdge" }, { NULL, NULL },
};

static const struct alias ppd_duplex[] = {
	{ "None", "oneSided" }, { "DuplexNoTumble", "flipOnLongEdge" },
	{ "DuplexTumble", "flipOnShortEdge" }, { NULL, NULL },
};

/* IPP's monochrome is a gray image; Graph prints it as blackAndWhite,
   as upfs's options file does. */
static const struct alias color_modes[] = {
	{ "color", "color" }, { "auto", "auto" },
	{ "monochrome", "blackAndWhite" }, { "bi-level", "blackAndWhite" },
	{ "process-bi-level", "blackAndWhite" },
	{ "process-monochrome", "grayscale" }, { NULL, NULL },
};

static const struct alias ppd_color[] = {
	{ "RGB", "color" }, { "CMYK", "color" }, { "Color", "color" },
	{ "Gray", "grayscale" }, { "Grayscale", "grayscale" },
	{ "Black", "blackAndWhite" }, { NULL, NULL },
};

static const struct alias orientations[] = {
	{ "3", "portrait" }, { "4", "landscape" },
	{ "5", "reverse-landscape" }, { "6", "reverse-portrait" },
	{ NULL, NULL },
};

static const struct alias qualities[] = {
	{ "3", "draft" }, { "4", "normal" }, { "5", "high" }, { NULL, NULL },
};

static const struct alias scalings[] = {
	{ "auto", "auto" }, { "auto-fit", "shrinkToFit" }, { "fill", "fill" },
	{ "fit", "fit" }, { "none", "none" }, { NULL, NULL },
};

static const struct alias collations[] = {
	{ "true", "true" }, { "false", "false" }, { NULL, NULL },
};

static const struct alias document_handling[] = {
	{ "separate-documents-collated-copies", "true" },
	{ "separate-documents-uncollated-copies", "false" }, { NULL, NULL },
};

/* PWG self-describing names, then the PPD and lp names, to Graph's. */
static const struct alias media_sizes[] = {
	{ "iso_a3_297x420mm", "A3" }, { "A3", "A3" },
	{ "iso_a4_210x297mm", "A4" }, { "A4", "A4" },
	{ "iso_a5_148x210mm", "A5" }, { "A5", "A5" },
	{ "iso_a6_105x148mm", "A6" }, { "A6", "A6" },
	{ "jis_b4_257x364mm", "JIS B4" }, { "B4", "JIS B4" },
	{ "jis_b5_182x257mm", "JIS B5" }, { "B5", "JIS B5" },
	{ "jpn_hagaki_100x148mm", "JPN Hagaki" },
	{ "Postcard", "JPN Hagaki" },
	{ "na_letter_8.5x11in", "North America Letter" },
	{ "Letter", "North America Letter" },
	{ "na_legal_8.5x14in", "North America Legal" },
	{ "Legal", "North America Legal" },
	{ "na_executive_7.25x10.5in", "North America Executive" },
	{ "Executive", "North America Executive" },
	{ "na_ledger_11x17in", "North America Ledger" },
	{ "Tabloid", "North America Ledger" },
	{ "Ledger", "North America Ledger" },
	{ "na_invoice_5.5x8.5in", "North America Invoice" },
	{ "Statement", "North America Invoice" },
	{ "na_5x7_5x7in", "North America 5x7in" },
	{ "na_index-3x5_3x5in", "North America Index 3x5in" },
	{ "na_index-5x8_5x8in", "North America Index 5x8in" },
	{ NULL, NULL },
};

/* One media word: "A4", "iso_a4_210x297mm", "A4.Fullbleed". A name the
   table lacks goes as it is: it may be one of the printer's own. */
static void media_one(const char *word, char *out, size_t len)
{
	char name[VALUE_MAX_LEN];
	const char *to;
	char *dot;

	snprintf(name, sizeof(name), "%s", word);
	to = alias_find(media_sizes, name);
	dot = strchr(name, '.');
	if (to == NULL && dot) {
		*dot = '\0';	/* A4.Fullbleed: the size is A4 */
		to = alias_find(media_sizes, name);
	}
	snprintf(out, len, "%s", to ? to : word);
}

/* media may list a size, a type and a source: "A4,tray-1,plain". */
static void add_media(struct cups_job_options *o, const struct words *w)
{
	const char *media = word_get(w, "media"), *from = "media";
	char list[VALUE_MAX_LEN], size[VALUE_MAX_LEN] = "";
	char *save = NULL;

	if (media == NULL) {
		media = word_get(w, "PageSize");
		from = "PageSize";
	}
	if (media == NULL)
		return;
	snprintf(list, sizeof(list), "%s", media);
	/* The first word the table knows; else the first word. */
	for (char *one = strtok_r(list, ",", &save); one;
	     one = strtok_r(NULL, ",", &save)) {
		char known[VALUE_MAX_LEN];

		media_one(one, known, sizeof(known));
		if (size[0] == '\0' || strcmp(known, one) != 0)
			snprintf(size, sizeof(size), "%s", known);
		if (strcmp(known, one) != 0 || alias_find(media_sizes, one))
			break;
	}
	add(o, "media", size, from);
}

/* A count that asks for something: more than one. */
static void add_count(struct cups_job_options *o, const char *key,
		      const char *value, const char *from)
{
	char *end = NULL;
	long n;

	if (value == NULL)
		return;
	errno = 0;
	n = strtol(value, &end, 10);
	if (errno == 0 && end != value && *end == '\0' && n > 1)
		add(o, key, value, from);
}

/* printer-resolution: "600dpi" or "600x1200dpi" (the first). */
static void add_dpi(struct cups_job_options *o, const struct words *w)
{
	const char *v = word_get(w, "printer-resolution");
	char dpi[32];
	size_t n = 0;

	while (v && v[n] >= '0' && v[n] <= '9' && n + 1 < sizeof(dpi))
		n++;
	if (n == 0 || strstr(v, "dpi") == NULL)
		return;
	snprintf(dpi, sizeof(dpi), "%.*s", (int)n, v);
	add(o, "dpi", dpi, "printer-resolution");
}

void cups_job_options_map(const char *cups_options, const char *copies,
			  struct cups_job_options *out)
{
	struct words *w = calloc(1, sizeof(*w));
	const char *v;

	memset(out, 0, sizeof(*out));
	if (w == NULL)
		return;		/* no options: the share's apply */
	words_parse(cups_options, w);
	add_count(out, "copies", copies, "copies");
	add_enum(out, w, "duplex", "sides", sides, "Duplex", ppd_duplex);
	add_media(out, w);
	add_enum(out, w, "color", "print-color-mode", color_modes,
		 "ColorModel", ppd_color);
	if (!alias_find(orientations, word_get(w, "orientation-requested")) &&
	    (v = word_get(w, "landscape")) && strcmp(v, "true") == 0)
		add(out, "orientation", "landscape", "landscape");
	else
		add_enum(out, w, "orientation", "orientation-requested",
			 orientations, NULL, NULL);
	add(out, "pages", word_get(w, "page-ranges"), "page-ranges");
	add_count(out, "pagesPerSheet", word_get(w, "number-up"), "number-up");
	add_enum(out, w, "quality", "print-quality", qualities, NULL, NULL);
	add_enum(out, w, "collate", "multiple-document-handling",
		 document_handling, "collate", collations);
	if ((v = word_get(w, "fit-to-page")) && strcmp(v, "true") == 0)
		add(out, "fitPdfToPage", "true", "fit-to-page");
	add_enum(out, w, "scaling", "print-scaling", scalings, NULL, NULL);
	add_dpi(out, w);
	free(w);
}

/* Whether one option parses, and suits the printer; why if not. */
static int option_check(const struct cups_job_option *opt, const json_t *caps,
			char *why, size_t why_len)
{
	json_t *config = NULL;
	char line[256];
	int rc;

	snprintf(line, sizeof(line), "%s=%s", opt->key, opt->value);
	rc = joboptions_parse(line, strlen(line), &config, why, why_len);
	if (rc == 0 && caps)
		rc = joboptions_validate(config, caps, why, why_len);
	json_decref(config);
	return rc;
}

void cups_job_options_fit(struct cups_job_options *o, const json_t *caps)
{
	for (size_t i = 0; i < o->n; i++) {
		struct cups_job_option *opt = &o->v[i];

		opt->dropped = option_check(opt, caps, opt->why,
					    sizeof(opt->why)) != 0;
	}
}

int cups_job_options_text(const struct cups_job_options *o, char *out,
			  size_t len)
{
	size_t at = 0;

	if (len == 0)
		return -ENOSPC;
	out[0] = '\0';
	for (size_t i = 0; i < o->n; i++) {
		int n;

		if (o->v[i].dropped)
			continue;
		n = snprintf(out + at, len - at, "%s=%s\n", o->v[i].key,
			     o->v[i].value);
		if (n < 0 || (size_t)n >= len - at)
			return -ENOSPC;
		at += (size_t)n;
	}
	return 0;
}
