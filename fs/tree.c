/*
 * tree.c — what each folder of design §2 lists.
 *
 * Folders of objects (shares/, printers/, jobs/, connectors/) list one
 * entry per element of a Graph listing, named by names.c. Folders of one
 * object (shares/<s>/, printers/<p>/, …) have fixed children that inherit
 * the folder's object id; their contents come from render.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "isodate.h"
#include "names.h"
#include "pull.h"
#include "queue_rows.h"
#include "scratch.h"
#include "shareops.h"
#include "spool.h"
#include "tree_private.h"
#include "usage.h"

struct fixed_child {
	const char *name;
	enum fs_kind kind;
};

static const struct fixed_child root_children[] = {
	{ "shares", FS_SHARES },
	{ "printers", FS_PRINTERS },
	{ "connectors", FS_CONNECTORS },
	{ "operations", FS_OPERATIONS },
	{ "task_definitions", FS_TASK_DEFS },
	{ "usage", FS_USAGE },
	{ "archive", FS_ARCHIVE },
	{ "settings.json", FS_SETTINGS_JSON },
	{ ".upfs", FS_META },
	{ NULL, 0 },
};

static const struct fixed_child share_children[] = {
	{ "share.json", FS_SHARE_JSON },
	{ "printer", FS_SHARE_PRINTER },
	{ "allowed_users", FS_SHARE_USERS },
	{ "allowed_groups", FS_SHARE_GROUPS },
	{ "allow_all_users", FS_SHARE_ALLOW_ALL },
	{ "options", FS_SHARE_OPTIONS },
	{ "queue", FS_SHARE_QUEUE },
	{ "jobs", FS_SHARE_JOBS },
	{ NULL, 0 },
};

static const struct fixed_child printer_children[] = {
	{ "status", FS_PRINTER_STATUS },
	{ "printer.json", FS_PRINTER_JSON },
	{ "capabilities.json", FS_PRINTER_CAPS },
	{ "defaults.json", FS_PRINTER_DEFAULTS },
	{ "location.json", FS_PRINTER_LOCATION },
	{ "ctl", FS_PRINTER_CTL },
	{ "jobs", FS_PRINTER_JOBS },
	{ "task_triggers", FS_TASK_TRIGGERS },
	{ "shares", FS_PRINTER_SHARES },
	{ NULL, 0 },
};

static const struct fixed_child job_children[] = {
	{ "status", FS_JOB_STATUS },
	{ "job.json", FS_JOB_JSON },
	{ "documents", FS_JOB_DOCUMENTS },
	{ "tasks", FS_JOB_TASKS },
	{ "ctl", FS_JOB_CTL },
	{ NULL, 0 },
};

static const struct fixed_child connector_children[] = {
	{ "connector.json", FS_CONNECTOR_JSON },
	{ "printers", FS_CONNECTOR_PRINTERS },
	{ NULL, 0 },
};

static const struct fixed_child meta_children[] = {
	{ "status", FS_META_STATUS },
	{ NULL, 0 },
};

bool tree_kind_is_dir(enum fs_kind kind)
{
	switch (kind) {
	case FS_ROOT:
	case FS_SHARES:
	case FS_SHARE:
	case FS_SHARE_QUEUE:
	case FS_SHARE_JOBS:
	case FS_PRINTERS:
	case FS_PRINTER:
	case FS_PRINTER_JOBS:
	case FS_JOB:
	case FS_PRINTER_SHARES:
	case FS_CONNECTORS:
	case FS_CONNECTOR:
	case FS_META:
	case FS_SHARE_PENDING:
	case FS_JOB_DOCUMENTS:
	case FS_CONNECTOR_PRINTERS:
	case FS_OPERATIONS:
		return true;
	default:
		return usage_kind_is_dir(kind) || pull_kind_is_dir(kind);
	}
}

bool tree_kind_is_link(enum fs_kind kind)
{
	return kind == FS_SHARE_PRINTER || kind == FS_SHARE_JOB_LINK ||
	       kind == FS_PRINTER_SHARE_LINK ||
	       kind == FS_CONNECTOR_PRINTER_LINK;
}

static const struct fixed_child *fixed_children_of(enum fs_kind dir)
{
	switch (dir) {
	case FS_ROOT:
		return root_children;
	case FS_SHARE:
		return share_children;
	case FS_PRINTER:
		return printer_children;
	default:
		return NULL;
	}
}

bool tree_fixed_child(enum fs_kind dir, const char *name, enum fs_kind *kind)
{
	const struct fixed_child *c = fixed_children_of(dir);

	for (; c && c->name; c++)
		if (strcmp(c->name, name) == 0) {
			*kind = c->kind;
			return true;
		}
	return false;
}

bool tree_keeps_scratch(enum fs_kind dir)
{
	return dir == FS_SHARE || dir == FS_PRINTER || dir == FS_ROOT;
}

const char *tree_scratch_owner(const struct fs_node *dir)
{
	/* The root has no object: its editors' files belong to "". */
	return dir->id ? dir->id : "";
}

int tree_key(struct buf *out, const char *prefix, const char *id,
	     const char *suffix)
{
	int rc = buf_append_str(out, prefix);

	if (rc == 0 && id) {
		rc = buf_append_str(out, "/");
		if (rc == 0)
			rc = graph_escape_segment(out, id);
	}
	if (rc == 0 && suffix)
		rc = buf_append_str(out, suffix);
	return rc;
}

/*
 * A printer's or share's every property: lists leave out defaults and
 * capabilities (reference §3.1, §3.4), but a list that names them in
 * $select may carry them (the reference's own examples do; for shares it
 * suggests $select=capabilities), and then one paged listing stands for a
 * GET per object when a walk needs many (struct res_batch).
 */
static const char *const printer_needs[] = { "defaults", "capabilities",
					     NULL };
static const char *const share_needs[] = { "defaults", "capabilities",
					   "printer", NULL };
static const struct res_batch object_batches[] = {
	{ TREE_PRINTERS TREE_PRINTER_SELECT, TREE_PRINTERS,
	  TREE_PRINTER_SELECT, printer_needs },
	{ TREE_SHARES TREE_SHARE_SELECT, TREE_SHARES, TREE_SHARE_SELECT,
	  share_needs },
};

/* The batch whose listing stands for prefix/{id}suffix, or NULL. */
static const struct res_batch *batch_of(const char *prefix,
					const char *suffix)
{
	for (size_t i = 0; suffix && i < sizeof(object_batches) /
	     sizeof(*object_batches); i++)
		if (strcmp(prefix, object_batches[i].prefix) == 0 &&
		    strcmp(suffix, object_batches[i].suffix) == 0)
			return &object_batches[i];
	return NULL;
}

int tree_get(struct upfs *u, const char *prefix, const char *id,
	     const char *suffix, bool list, int ttl, enum res_policy policy,
	     json_t **out, struct fs_deps *deps)
{
	const struct res_batch *batch = list || id == NULL ? NULL
				       : batch_of(prefix, suffix);
	struct buf key;
	int rc;

	buf_init(&key, 4096);
	rc = tree_key(&key, prefix, id, suffix);
	if (rc == 0 && batch)
		rc = res_get_object(u, key.data, batch, ttl, policy, out,
				    deps);
	else if (rc == 0)
		rc = res_get(u, key.data, list, ttl, policy, out, deps);
	buf_release(&key);
	return rc;
}

int tree_get_member(struct upfs *u, const char *key, const char *id, int ttl,
		    enum res_policy policy, json_t **out, struct fs_deps *deps)
{
	json_t *list = NULL, *member;
	int rc = res_get(u, key, true, ttl, policy, &list, deps);

	if (rc)
		return rc;
	member = res_find_id(list, id);
	if (member)
		*out = json_incref(member);
	json_decref(list);
	return member ? 0 : -ENOENT;
}

int tree_get_job(struct upfs *u, const char *prefix, const char *owner,
		 const char *job, json_t **out, struct fs_deps *deps)
{
	struct buf key;
	int rc;

	buf_init(&key, 4096);
	rc = tree_key(&key, prefix, owner, TREE_JOBS_SUFFIX);
	if (rc == 0)
		rc = tree_get_member(u, key.data, job, u->opts.dir_ttl,
				     RES_STALE_OK, out, deps);
	buf_release(&key);
	return rc;
}

int64_t tree_parse_time(const char *iso)
{
	int64_t t;

	return isodate_instant(iso, &t) == 0 ? t : 0;
}

const char *tree_str(const json_t *obj, const char *name)
{
	const char *s = json_string_value(json_object_get(obj, name));

	return s ? s : "";
}

bool tree_has_string(const json_t *array, const char *value)
{
	const json_t *v;
	size_t i;

	json_array_foreach(array, i, v)
		if (json_string_value(v) &&
		    strcmp(json_string_value(v), value) == 0)
			return true;
	return false;
}

int tree_odata_string(struct buf *out, const char *s)
{
	int rc = buf_append_str(out, "'");

	for (const char *p = s; rc == 0 && *p; p++)
		rc = *p == '\'' ? buf_append_str(out, "''")
				: buf_append(out, p, 1);
	return rc ? rc : buf_append_str(out, "'");
}

bool tree_gone_now(struct graph *g, const char *path)
{
	struct graph_err err = { 0 };
	json_t *obj = NULL;
	int rc = graph_get(g, path, &obj, &err);

	json_decref(obj);
	return rc != 0 && err.status == 404;
}

bool tree_reads_back(struct graph *g, const char *path, const char *outer,
		     const char *member, const char *want)
{
	struct graph_err err = { 0 };
	json_t *obj = NULL;
	bool holds;

	holds = graph_get(g, path, &obj, &err) == 0 &&
		strcmp(tree_str(outer ? json_object_get(obj, outer) : obj,
				member), want) == 0;
	json_decref(obj);
	return holds;
}

bool tree_job_is_final(const json_t *job)
{
	const char *state = tree_str(json_object_get(job, "status"), "state");

	return strcmp(state, "completed") == 0 ||
	       strcmp(state, "canceled") == 0 || strcmp(state, "aborted") == 0;
}

int fs_entries_add(struct fs_entries *out, const char *name,
		   enum fs_kind kind, const char *id, const char *owner,
		   int64_t mtime)
{
	size_t name_len = strlen(name) + 1, id_len = id ? strlen(id) + 1 : 0;
	size_t owner_len = owner ? strlen(owner) + 1 : 0;
	struct fs_entry *e;
	char *block;

	if (out->n == out->alloc) {
		size_t alloc = out->alloc ? out->alloc * 2 : 16;
		struct fs_entry *v = realloc(out->v, alloc * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		out->v = v;
		out->alloc = alloc;
	}
	block = malloc(name_len + id_len + owner_len);
	if (block == NULL)
		return -ENOMEM;
	e = &out->v[out->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->mtime = mtime;
	e->name = memcpy(block, name, name_len);
	e->id = id ? memcpy(block + name_len, id, id_len) : NULL;
	e->owner = owner ? memcpy(block + name_len + id_len, owner, owner_len)
			 : NULL;
	return 0;
}

static int list_fixed(struct upfs *u, const struct fs_node *dir,
		      const struct fixed_child *c, struct fs_entries *out)
{
	int64_t mtime = node_mtime(u, dir);
	int rc = 0;

	for (; c->name && rc == 0; c++)
		rc = fs_entries_add(out, c->name, c->kind, dir->id, dir->owner,
				 mtime);
	return rc;
}

static void names_release(struct names_entry *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i].name);
	free(names);
}

int tree_list_objects(struct upfs *u, const char *key, enum fs_kind kind,
		      const char *owner, const char *time_field,
		      struct fs_entries *out, struct fs_deps *deps)
{
	struct names_entry *names = NULL;
	json_t *list = NULL, *v;
	struct buf b;
	size_t i, n = 0;
	int rc;

	buf_init(&b, 0);
	rc = res_get(u, key, true, u->opts.dir_ttl, RES_STALE_OK, &list, deps);
	if (rc)
		goto out;
	names = calloc(json_array_size(list) + 1, sizeof(*names));
	if (names == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	json_array_foreach(list, i, v) {
		const char *id = tree_str(v, "id");

		buf_reset(&b);
		rc = names_encode(&b, tree_str(v, "displayName"), id);
		if (rc)
			goto out;
		names[n].id = id;
		names[n++].name = buf_detach(&b, NULL);
	}
	rc = names_disambiguate(names, n);
	for (i = 0; i < n && rc == 0; i++) {
		v = json_array_get(list, i);
		rc = fs_entries_add(out, names[i].name, kind, names[i].id, owner,
				 tree_parse_time(tree_str(v, time_field)));
	}
out:
	if (names)
		names_release(names, n);
	json_decref(list);
	buf_release(&b);
	return rc;
}

static int cmp_row_id(const void *a, const void *b)
{
	const struct queue_row *x = *(const struct queue_row *const *)a;
	const struct queue_row *y = *(const struct queue_row *const *)b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);	/* as listed */
}

/* A base name seen so far, and how many entries had it. */
struct name_count {
	const char *name;
	unsigned count;
};

/*
 * Names queue/'s entries one after another: the second "a.pdf" is
 * "a ~2.pdf" (names_copy_number), and a number whose name an entry
 * before took already is passed over (a document written over the job
 * "a ~2.pdf" beside two jobs "a.pdf"), so no name is listed twice. Hash
 * tables, not comparing each with every earlier one or sorting: a busy
 * share lists hundreds of jobs, and queue/ is listed again at a look-up
 * whenever the spool changed, several times per document printed.
 */
struct queue_namer {
	struct name_count *count;	/* by base name */
	size_t *taken;			/* 1 + offset in text; 0: free */
	size_t slots;
	struct buf text;		/* the names given, each with its NUL */
};

static int queue_namer_init(struct queue_namer *nm, size_t n)
{
	nm->slots = 16;
	while (nm->slots < 2 * n)
		nm->slots *= 2;
	nm->count = calloc(nm->slots, sizeof(*nm->count));
	nm->taken = calloc(nm->slots, sizeof(*nm->taken));
	buf_init(&nm->text, 0);
	return nm->count && nm->taken ? 0 : -ENOMEM;
}

static void queue_namer_release(struct queue_namer *nm)
{
	free(nm->count);
	free(nm->taken);
	buf_release(&nm->text);
}

static size_t name_slot(const struct queue_namer *nm, const char *name)
{
	return fnv1a_update(FNV1A_SEED, name, strlen(name)) & (nm->slots - 1);
}

/* The slot of taken that holds name, or the free one it would take. */
static size_t taken_slot(const struct queue_namer *nm, const char *name)
{
	size_t at = name_slot(nm, name);

	while (nm->taken[at] &&
	       strcmp(nm->text.data + nm->taken[at] - 1, name) != 0)
		at = (at + 1) & (nm->slots - 1);
	return at;
}

/* The next entry's name, of base (which outlives nm), into out. */
static int queue_namer_next(struct queue_namer *nm, const char *base,
			    struct buf *out)
{
	size_t at = name_slot(nm, base), t;
	int rc;

	while (nm->count[at].name && strcmp(nm->count[at].name, base) != 0)
		at = (at + 1) & (nm->slots - 1);
	nm->count[at].name = base;
	do {
		buf_reset(out);
		rc = names_copy_number(out, base, ++nm->count[at].count);
		t = rc ? 0 : taken_slot(nm, out->data);
	} while (rc == 0 && nm->taken[t]);
	if (rc == 0) {
		nm->taken[t] = nm->text.len + 1;
		rc = buf_append(&nm->text, out->data, out->len + 1);
	}
	return rc;
}

/* Rows come in the order the service lists its jobs, mostly by id. */
static bool rows_by_id(const struct queue_row **rows, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (cmp_row_id(&rows[i - 1], &rows[i]) > 0)
			return false;
	return true;
}

/* Documents still on their way, oldest first: their ids start with the
   time they were made (spool_create). */
static int cmp_entry_id(const void *a, const void *b)
{
	return strcmp(((const struct fs_entry *)a)->id,
		      ((const struct fs_entry *)b)->id);
}

/*
 * queue/: the share's live jobs by document name, oldest first, and the
 * documents on their way there. A document is numbered after the jobs
 * of its name and the documents before it, the name its job will most
 * likely have once listed (the newest of them): a second report.pdf
 * printed while the first is still queued, or while the network is down,
 * is "report ~2.pdf" from the start, not a second "report.pdf".
 */
static int list_queue(struct upfs *u, const struct fs_node *dir,
		      struct fs_entries *out, struct fs_deps *deps)
{
	const struct queue_row *rows = NULL, **shown = NULL;
	json_t *list = NULL, **jobs = NULL;
	struct fs_entries pending = { 0 };
	struct queue_namer namer = { 0 };
	struct buf numbered;
	size_t i, n = 0, nrows = 0, kept;
	int rc;

	buf_init(&numbered, 0);
	rc = tree_get(u, TREE_SHARES, dir->id, TREE_JOBS_SUFFIX, true,
		      u->opts.dir_ttl, RES_STALE_OK, &list, deps);
	if (rc == 0)
		rc = queue_rows_lock(u, dir->id, list, &rows, &nrows);
	if (rc)
		goto out_unlocked;
	jobs = calloc(nrows + 1, sizeof(*jobs));
	shown = calloc(nrows + 1, sizeof(*shown));
	if (jobs == NULL || shown == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nrows; i++)
		if (!rows[i].final)
			jobs[n++] = (json_t *)rows[i].job;
	deps->spool = true;
	rc = spool_queue_view(u, dir->id, jobs, &n, &pending, &deps->spool_sig,
			      &deps->spool_unhides);
	/* The view keeps the jobs it leaves in their order: one walk pairs
	   them with their rows. */
	for (i = 0, kept = 0; i < nrows && kept < n && rc == 0; i++)
		if (!rows[i].final && rows[i].job == jobs[kept])
			shown[kept++] = &rows[i];
	if (rc == 0 && kept != n)
		rc = -EIO;
	if (rc)
		goto out;
	if (!rows_by_id(shown, n))
		qsort(shown, n, sizeof(*shown), cmp_row_id);
	if (pending.n > 1)
		qsort(pending.v, pending.n, sizeof(*pending.v), cmp_entry_id);
	rc = queue_namer_init(&namer, n + pending.n);
	/* Jobs first: a document on its way never moves a job's name. */
	for (i = 0; i < n && rc == 0; i++) {
		rc = queue_namer_next(&namer, shown[i]->name, &numbered);
		if (rc == 0)
			rc = fs_entries_add(out, numbered.data, FS_QUEUE_ENTRY,
					    tree_str(shown[i]->job, "id"),
					    dir->id, shown[i]->mtime);
	}
	for (i = 0; i < pending.n && rc == 0; i++) {
		rc = queue_namer_next(&namer, pending.v[i].name, &numbered);
		if (rc == 0)
			rc = fs_entries_add(out, numbered.data,
					    pending.v[i].kind, pending.v[i].id,
					    pending.v[i].owner,
					    pending.v[i].mtime);
	}
out:
	queue_rows_unlock(u);
out_unlocked:
	queue_namer_release(&namer);
	free(shown);
	free(jobs);
	fs_entries_release(&pending);
	json_decref(list);
	buf_release(&numbered);
	return rc;
}

/* A folder of jobs named by id: printers/<p>/jobs/ or shares/<s>/jobs/. */
static int list_jobs(struct upfs *u, const struct fs_node *dir,
		     const char *prefix, enum fs_kind kind,
		     struct fs_entries *out, struct fs_deps *deps)
{
	json_t *list = NULL, *v;
	size_t i;
	int rc;

	rc = tree_get(u, prefix, dir->id, TREE_JOBS_SUFFIX, true,
		      u->opts.dir_ttl, RES_STALE_OK, &list, deps);
	json_array_foreach(list, i, v) {
		const char *id = tree_str(v, "id");

		if (rc == 0 && id[0] != '\0')
			rc = fs_entries_add(out, id, kind, id, dir->id,
					 tree_parse_time(tree_str(v,
							  "createdDateTime")));
	}
	json_decref(list);
	return rc;
}

/*
 * The name of a link to obj: what the top folder (printers/ or shares/)
 * calls it, or its own encoded name while that folder cannot be listed.
 */
static int link_name(struct upfs *u, enum fs_kind top, const json_t *obj,
		     struct buf *name)
{
	const char *id = tree_str(obj, "id");

	buf_reset(name);
	if (node_name_of(u, top, id, name) == 0)
		return 0;
	buf_reset(name);
	return names_encode(name, tree_str(obj, "displayName"), id);
}

/* printers/<p>/shares/: links named as shares/ names them. */
static int list_printer_shares(struct upfs *u, const struct fs_node *dir,
			       struct fs_entries *out, struct fs_deps *deps)
{
	json_t *list = NULL, *v;
	struct buf name;
	size_t i;
	int rc;

	buf_init(&name, 0);
	rc = tree_get(u, TREE_PRINTERS, dir->id, "/shares", true,
		      u->opts.dir_ttl, RES_STALE_OK, &list, deps);
	json_array_foreach(list, i, v) {
		const char *id = tree_str(v, "id");

		if (rc)
			break;
		rc = link_name(u, FS_SHARES, v, &name);
		if (rc == 0)
			rc = fs_entries_add(out, name.data, FS_PRINTER_SHARE_LINK,
					 id, dir->id,
					 tree_parse_time(tree_str(v,
							  "createdDateTime")));
	}
	json_decref(list);
	buf_release(&name);
	return rc;
}

/* printers/<p>/jobs/<j>/documents/: the job's documents by name. */
static int list_job_documents(struct upfs *u, const struct fs_node *dir,
			      struct fs_entries *out, struct fs_deps *deps)
{
	json_t *job = NULL, *docs, *d;
	struct names_entry *names = NULL;
	struct buf b;
	size_t i, n = 0;
	int64_t mtime;
	int rc;

	buf_init(&b, 0);
	rc = tree_get_job(u, TREE_PRINTERS, dir->owner, dir->id, &job, deps);
	if (rc)
		goto out;
	docs = json_object_get(job, "documents");
	mtime = tree_parse_time(tree_str(job, "createdDateTime"));
	names = calloc(json_array_size(docs) + 1, sizeof(*names));
	if (names == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	json_array_foreach(docs, i, d) {
		const char *id = tree_str(d, "id");
		const char *name = tree_str(d, "displayName");

		buf_reset(&b);
		rc = name[0] ? names_encode(&b, name, id)
			     : buf_printf(&b, "document-%s", id);
		if (rc)
			goto out;
		names[n].id = id;
		names[n++].name = buf_detach(&b, NULL);
	}
	rc = names_disambiguate(names, n);
	for (i = 0; i < n && rc == 0; i++) {
		buf_reset(&b);
		rc = buf_printf(&b, "%s/%s", dir->id, names[i].id);
		if (rc == 0)
			rc = fs_entries_add(out, names[i].name, FS_JOB_DOCUMENT,
					 b.data, dir->owner, mtime);
	}
out:
	if (names)
		names_release(names, n);
	json_decref(job);
	buf_release(&b);
	return rc;
}

/*
 * A form of request the service refused (a collection or an $expand the
 * reference does not vouch for) is not sent again for ten listing
 * lifetimes (10 minutes by default): the refusal may also have been a
 * passing fault. since: when it was refused (ms), 0 for never.
 */
#define TREE_REFUSED_RECHECK_TTLS 10

static int64_t refused_wait_ms(const struct upfs *u)
{
	int ttl = u->opts.dir_ttl > 0 ? u->opts.dir_ttl : 1;

	return (int64_t)ttl * TREE_REFUSED_RECHECK_TTLS * 1000;
}

bool tree_refused_lately(struct upfs *u, _Atomic int64_t *since)
{
	int64_t t = atomic_load(since), now = cache_now_ms();

	/* A clock stepped back ends the wait. */
	return t && now >= t && now - t < refused_wait_ms(u);
}

bool tree_mark_refused(struct upfs *u, _Atomic int64_t *since)
{
	int64_t now = cache_now_ms(), before = atomic_exchange(since, now);

	return before == 0 || now < before ||
	       now - before >= refused_wait_ms(u);
}

bool tree_triggers_refused(struct upfs *u, int rc)
{
	if (rc != -EINVAL)
		return false;
	if (tree_mark_refused(u, &u->triggers_expand_refused_ms))
		upfs_log(u, UPFS_LOG_INFO, "the service refused "
			 "$expand=definition on a printer's task triggers: "
			 "they are listed without it, named by id");
	return true;
}

int tree_triggers_key(struct upfs *u, struct buf *out, const char *printer,
		      bool *expanded)
{
	*expanded = !tree_refused_lately(u, &u->triggers_expand_refused_ms);
	return tree_key(out, TREE_PRINTERS, printer,
			*expanded ? TREE_TRIGGERS_SUFFIX
				  : TREE_TRIGGERS_PLAIN_SUFFIX);
}

int tree_get_triggers(struct upfs *u, const char *printer,
		      enum res_policy policy, json_t **out,
		      struct fs_deps *deps)
{
	bool expanded = !tree_refused_lately(u, &u->triggers_expand_refused_ms);
	int rc = tree_get(u, TREE_PRINTERS, printer,
			  expanded ? TREE_TRIGGERS_SUFFIX
				   : TREE_TRIGGERS_PLAIN_SUFFIX,
			  true, u->opts.dir_ttl, policy, out, deps);

	if (expanded && tree_triggers_refused(u, rc))
		rc = tree_get(u, TREE_PRINTERS, printer,
			      TREE_TRIGGERS_PLAIN_SUFFIX, true, u->opts.dir_ttl,
			      policy, out, deps);
	if (rc == 0)
		rc = pull_merge_made_trigger(u, printer, out);
	return rc;
}

/* Whether any element of a printer listing carries "connectors". */
static bool list_has_connectors(const json_t *list)
{
	const json_t *p;
	size_t i;

	json_array_foreach(list, i, p)
		if (json_object_get(p, "connectors"))
			return true;
	return false;
}

/*
 * Whether a printer serves the connector, by its own GET
 * /print/printers/{id}/connectors (the form the reference documents).
 */
static int printer_serves(struct upfs *u, const char *printer,
			  const char *connector, bool *serves,
			  struct fs_deps *deps)
{
	json_t *conns = NULL;
	int rc = tree_get(u, TREE_PRINTERS, printer, "/connectors", true,
			  u->opts.dir_ttl, RES_STALE_OK, &conns, deps);

	*serves = rc == 0 && res_find_id(conns, connector) != NULL;
	json_decref(conns);
	/* A printer gone since the listing serves no connector. */
	return rc == -ENOENT ? 0 : rc;
}

/*
 * connectors/<c>/printers/: links to the printers the connector serves,
 * from one listing of every printer with its connectors expanded, never
 * a request per printer. The reference documents only each printer's
 * own connectors listing: a service that refuses the expand (400) or
 * leaves the member out is asked printer by printer.
 */
static int list_connector_printers(struct upfs *u, const struct fs_node *dir,
				   struct fs_entries *out,
				   struct fs_deps *deps)
{
	bool asked = !tree_refused_lately(u, &u->connectors_expand_refused_ms);
	json_t *list = NULL, *p;
	struct buf name;
	bool each = false;
	size_t i;
	int rc;

	buf_init(&name, 0);
	rc = asked ? res_get(u, TREE_PRINTERS_WITH_CONNECTORS, true,
			     u->opts.dir_ttl, RES_STALE_OK, &list, deps)
		   : -EINVAL;
	/* Only a refusal the service gave (re)starts the wait. */
	if (asked && rc == -EINVAL &&
	    tree_mark_refused(u, &u->connectors_expand_refused_ms))
		upfs_log(u, UPFS_LOG_INFO, "the service refused "
			 "$expand=connectors on the printer listing: each "
			 "printer's connectors are asked");
	if (rc == -EINVAL || (rc == 0 && json_array_size(list) > 0 &&
			      !list_has_connectors(list))) {
		json_decref(list);
		list = NULL;
		each = true;
		rc = res_get(u, TREE_PRINTERS, true, u->opts.dir_ttl,
			     RES_STALE_OK, &list, deps);
	}
	json_array_foreach(list, i, p) {
		bool serves = false;

		if (rc == 0 && each)
			rc = printer_serves(u, tree_str(p, "id"), dir->id,
					    &serves, deps);
		else
			serves = res_find_id(json_object_get(p, "connectors"),
					     dir->id) != NULL;
		if (rc || !serves)
			continue;
		rc = link_name(u, FS_PRINTERS, p, &name);
		if (rc == 0)
			rc = fs_entries_add(out, name.data,
					 FS_CONNECTOR_PRINTER_LINK,
					 tree_str(p, "id"), dir->id,
					 tree_parse_time(tree_str(p,
						"registeredDateTime")));
	}
	json_decref(list);
	buf_release(&name);
	return rc;
}

/* operations/: <id>.json per printer-create operation, when the service
   lists them. */
static int list_operations(struct upfs *u, struct fs_entries *out,
			   struct fs_deps *deps)
{
	json_t *list = NULL, *v;
	struct buf name;
	size_t i;
	int rc;

	if (tree_refused_lately(u, &u->operations_list_refused_ms)) {
		deps->volatile_ = true;
		return 0;
	}
	buf_init(&name, 0);
	rc = res_get(u, TREE_OPERATIONS, true, u->opts.status_ttl,
		     RES_REFRESH_STALE, &list, deps);
	/* Only GET /print/operations/{id} is documented (reference §3.5): a
	   service without the collection has nothing to list here. */
	if (rc == -EINVAL || rc == -ENOENT || rc == -EOPNOTSUPP) {
		if (tree_mark_refused(u, &u->operations_list_refused_ms))
			upfs_log(u, UPFS_LOG_INFO, "the service keeps no list "
				 "of operations (GET %s: %s): operations/ "
				 "stays empty", TREE_OPERATIONS,
				 strerror(-rc));
		deps->volatile_ = true;
		rc = 0;
	}
	json_array_foreach(list, i, v) {
		const char *id = tree_str(v, "id");

		if (rc || id[0] == '\0')
			continue;
		buf_reset(&name);
		rc = names_encode(&name, id, id);
		if (rc == 0)
			rc = buf_append_str(&name, ".json");
		if (rc == 0)
			rc = fs_entries_add(out, name.data, FS_OPERATION_JSON,
					 id, NULL,
					 tree_parse_time(tree_str(v,
						"createdDateTime")));
	}
	json_decref(list);
	buf_release(&name);
	return rc;
}

/* shares/: the service's shares and this mount's pending ones. */
static int list_shares(struct upfs *u, struct fs_entries *out,
		       struct fs_deps *deps)
{
	int rc = tree_list_objects(u, TREE_SHARES, FS_SHARE, NULL,
				   "createdDateTime", out, deps);

	if (rc == 0)
		rc = shareops_list_pending(u, out);
	deps->volatile_ = true;
	return rc;
}

/*
 * A folder with editable files (shares/<s>/, printers/<p>/, the root):
 * its files, and the editors' local files beside them.
 */
static int list_with_scratch(struct upfs *u, const struct fs_node *dir,
			     struct fs_entries *out, struct fs_deps *deps)
{
	int rc = list_fixed(u, dir, fixed_children_of(dir->kind), out);

	if (rc == 0)
		rc = scratch_list(u, tree_scratch_owner(dir), out);
	deps->volatile_ = true;
	return rc;
}

int tree_list(struct upfs *u, const struct fs_node *dir,
	      struct fs_entries *out, struct fs_deps *deps)
{
	switch (dir->kind) {
	case FS_ROOT:
		return list_with_scratch(u, dir, out, deps);
	case FS_SHARES:
		return list_shares(u, out, deps);
	case FS_SHARE:
		return list_with_scratch(u, dir, out, deps);
	case FS_SHARE_PENDING:
		/* Empty until ln -s ../../printers/P printer creates it. */
		deps->volatile_ = true;
		return 0;
	case FS_SHARE_QUEUE:
		return list_queue(u, dir, out, deps);
	case FS_SHARE_JOBS:
		return list_jobs(u, dir, TREE_SHARES, FS_SHARE_JOB_LINK, out,
				 deps);
	case FS_PRINTERS:
		return tree_list_objects(u, TREE_PRINTERS, FS_PRINTER, NULL,
					 "registeredDateTime", out, deps);
	case FS_PRINTER:
		return list_with_scratch(u, dir, out, deps);
	case FS_PRINTER_JOBS:
		return list_jobs(u, dir, TREE_PRINTERS, FS_JOB, out, deps);
	case FS_JOB:
		return list_fixed(u, dir, job_children, out);
	case FS_PRINTER_SHARES:
		return list_printer_shares(u, dir, out, deps);
	case FS_CONNECTORS:
		return tree_list_objects(u, TREE_CONNECTORS, FS_CONNECTOR,
					 NULL, "registeredDateTime", out,
					 deps);
	case FS_CONNECTOR:
		return list_fixed(u, dir, connector_children, out);
	case FS_CONNECTOR_PRINTERS:
		return list_connector_printers(u, dir, out, deps);
	case FS_JOB_DOCUMENTS:
		return list_job_documents(u, dir, out, deps);
	case FS_OPERATIONS:
		return list_operations(u, out, deps);
	case FS_META:
		return list_fixed(u, dir, meta_children, out);
	default:
		return pull_kind_is_dir(dir->kind)
		       ? pull_list(u, dir, out, deps)
		       : usage_list(u, dir, out, deps);
	}
}
