/*
 * jsonedit.h — the editable JSON files: printers/<p>/defaults.json,
 * printers/<p>/location.json and settings.json. An edited text is checked
 * field by field and turned into the PATCH of the fields that changed;
 * nothing here talks to the service (editfile.c does).
 *
 * Rules, for every file: the text is one JSON object; a field the
 * resource type does not define is refused; so is a field the service
 * shows but does not let a client change; a value of the wrong JSON type
 * is refused. For defaults, a changed value must be one the printer's
 * capabilities list (copiesPerJob within its range, fitPdfToPage only if
 * supported). A field left as the service holds it is never checked, so a
 * printer whose stored defaults fall outside its own capabilities can
 * still have its other fields edited. A field removed from the text is
 * cleared (null in the PATCH).
 */
#ifndef UPFS_JSONEDIT_H
#define UPFS_JSONEDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum jsonedit_doc {
	JSONEDIT_DEFAULTS,	/* printerDefaults */
	JSONEDIT_LOCATION,	/* printerLocation */
	JSONEDIT_SETTINGS,	/* printSettings */
};

/* Whether two values are one (48 and 48.0; NULL, absent and null). */
bool jsonedit_same_value(const json_t *a, const json_t *b);

/*
 * Checks text against current (the object the service holds, borrowed;
 * may be NULL for none) and caps (the printer's capabilities, borrowed,
 * may be NULL) and sets *changes to a new object holding only the changed
 * fields (empty when nothing changed). -EINVAL with the field and the
 * reason in why; -ENOMEM.
 */
int jsonedit_diff(enum jsonedit_doc doc, const char *text, size_t len,
		  const json_t *current, const json_t *caps, json_t **changes,
		  char *why, size_t why_len);

#endif
