/*
 * fuzz_resource.c — a resource or a page of resources as the service
 * sends it, through the pieces of the tree that need no mount: the file
 * name of each object (names_encode() of displayName and id, then
 * names_disambiguate() over the page, as tree.c lists a folder), its
 * status line (tree_status_line(), render.c), its times
 * (tree_parse_time()) and whether a job is over (tree_job_is_final()).
 * Rendering whole files needs the mount's resource cache and is left to
 * the mounted tests.
 *
 * Properties: a status line is one line ending in '\n' when its strings
 * hold none; names as fuzz_names.c checks them.
 */
#include <errno.h>
#include <jansson.h>

#include "names.h"
#include "tree_private.h"
#include "fuzz.h"

#define MAX_DEPTH 8
#define MAX_OBJECTS 256

struct walk {
	struct names_entry e[MAX_OBJECTS];
	size_t n;
	struct buf line;
};

static void check_status(struct walk *w, const json_t *status)
{
	buf_reset(&w->line);
	FUZZ_CHECK(tree_status_line(&w->line, status) == 0);
	FUZZ_CHECK(w->line.len > 0 && w->line.data[w->line.len - 1] == '\n');
}

static void visit_object(struct walk *w, const json_t *obj)
{
	const char *key, *id = tree_str(obj, "id");
	json_t *v;
	struct buf b;

	check_status(w, json_object_get(obj, "status"));
	(void)tree_job_is_final(obj);
	json_object_foreach((json_t *)obj, key, v)
		(void)tree_parse_time(json_string_value(v));
	if (id[0] == '\0' || w->n == MAX_OBJECTS)
		return;
	buf_init(&b, 0);
	FUZZ_CHECK(names_encode(&b, tree_str(obj, "displayName"), id) == 0);
	FUZZ_CHECK(b.len > 0 && b.len <= UPFS_NAME_MAX);
	w->e[w->n].name = buf_detach(&b, NULL);
	w->e[w->n++].id = id;
}

static void visit(struct walk *w, const json_t *v, int depth)
{
	const char *key;
	json_t *child;
	size_t i;

	if (depth > MAX_DEPTH)
		return;
	if (json_is_object(v)) {
		visit_object(w, v);
		json_object_foreach((json_t *)v, key, child)
			visit(w, child, depth + 1);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			visit(w, child, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	struct walk *w = calloc(1, sizeof(*w));

	FUZZ_CHECK(w != NULL);
	buf_init(&w->line, 0);
	visit(w, doc, 0);
	FUZZ_CHECK(names_disambiguate(w->e, w->n) == 0);
	for (size_t i = 0; i < w->n; i++) {
		FUZZ_CHECK(strlen(w->e[i].name) <= UPFS_NAME_MAX);
		free(w->e[i].name);
	}
	buf_release(&w->line);
	free(w);
	json_decref(doc);
	return 0;
}
