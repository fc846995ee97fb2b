/*
 * resource.c — Graph resources as the tree sees them.
 *
 * A resource is one Graph path: an object ("/print/printers/{id}?$select=…")
 * or a whole listing ("/print/printers", every page). Each is looked for in
 * memory, then in LMDB, then fetched from the service, with one load in
 * flight per resource however many threads ask. Records are never freed
 * while mounted, so their generation numbers stay meaningful: a
 * generation changes only when a fetch brings different bytes, which is
 * what tells node.c to rebuild a folder snapshot.
 *
 * Parsed JSON (or a resource's own form, see res_form) is kept for the
 * most recently used resources up to a byte budget; the rest is parsed
 * again from LMDB when needed, which keeps the daemon small on tenants
 * with tens of thousands of jobs.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "hash.h"
#include "heap.h"
#include "identity.h"

/* Kept in memory: parsed JSON counted by its text's bytes (jansson needs a
   few times that), a form's object by the bytes it holds. */
#define RES_MEMORY_BUDGET ((size_t)6 << 20)
#define RES_BUCKETS 4096
/* A refresher with nothing to do for this long looks at the heap. */
#define RES_IDLE_MS 2000
/* Heap churn and free heap past which freed memory goes back to the OS. */
#define RES_HEAP_SLACK ((size_t)8 << 20)

struct res {
	char *key;
	bool list;
	uint64_t gen;		/* 0: never loaded */
	uint64_t hash;		/* of the JSON text, to see changes */
	int64_t fetched_ms;
	int64_t used_ms;
	const struct res_form *form;	/* NULL: kept as JSON */
	json_t *json;		/* NULL when not in memory (or a form's) */
	void *obj;		/* a form's, NULL when not in memory */
	size_t text_len;	/* bytes counted against the budget: the
				   JSON text's, or what a form holds */
	bool loading;		/* a thread is loading or fetching it */
	bool tried_cache;	/* LMDB was consulted once */
	bool queued;		/* waiting for a refresher */
	bool must_fetch;	/* changed by this mount: stale is not enough */
	bool disk_behind;	/* changed here since its LMDB copy was
				   deleted: nothing there to delete again */
	struct res *next;	/* hash chain */
	struct res *qnext;	/* refresh queue */
};

struct res_table {
	struct res *buckets[RES_BUCKETS];
	size_t mem_bytes;
	struct res *qhead, *qtail;
	size_t heap_used_at_trim;	/* mallinfo2().uordblks then */
};

/* Under res_lock: the record of key, or NULL. */
static struct res *res_find(struct upfs *u, const char *key)
{
	size_t b = fnv1a_update(FNV1A_SEED, key, strlen(key)) % RES_BUCKETS;
	struct res *r;

	for (r = u->res->buckets[b]; r != NULL; r = r->next)
		if (strcmp(r->key, key) == 0)
			return r;
	return NULL;
}

/* Under res_lock: the record of key, made if there is none. */
static int res_lookup(struct upfs *u, const char *key, bool list,
		      const struct res_form *form, struct res **out)
{
	size_t b = fnv1a_update(FNV1A_SEED, key, strlen(key)) % RES_BUCKETS;
	struct res *r = res_find(u, key);

	if (r) {
		*out = r;
		return r->form == form ? 0 : -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->key = strdup(key);
	if (r->key == NULL) {
		free(r);
		return -ENOMEM;
	}
	r->list = list;
	r->form = form;
	r->next = u->res->buckets[b];
	u->res->buckets[b] = r;
	*out = r;
	return 0;
}

static bool res_in_memory(const struct res *r)
{
	return r->json || r->obj;
}

/* Under res_lock (or alone): drops what r keeps in memory. */
static void res_forget_memory(struct upfs *u, struct res *r)
{
	if (!res_in_memory(r))
		return;
	json_decref(r->json);
	if (r->obj)
		r->form->drop(r->obj);
	r->json = NULL;
	r->obj = NULL;
	u->res->mem_bytes -= r->text_len;
}

/* Under res_lock: drops parsed JSON of the least recently used. */
static void res_evict(struct upfs *u, const struct res *keep)
{
	while (u->res->mem_bytes > RES_MEMORY_BUDGET) {
		struct res *victim = NULL;

		for (size_t b = 0; b < RES_BUCKETS; b++)
			for (struct res *r = u->res->buckets[b]; r; r = r->next)
				if (res_in_memory(r) && r != keep &&
				    !r->loading &&
				    (!victim || r->used_ms < victim->used_ms))
					victim = r;
		if (victim == NULL)
			return;
		res_forget_memory(u, victim);
	}
}

/* What a load brings: the parsed JSON or form (owned), and measures. */
struct res_loaded {
	const struct res_form *form;	/* set by the caller: how to keep it */
	json_t *json;
	void *obj;		/* form's */
	uint64_t hash;		/* of the text */
	size_t len;		/* of the text */
	size_t bytes;		/* against the budget */
	int64_t fetched_ms;
};

/* Under res_lock: makes l's JSON or object (stolen) r's content. */
static void res_install(struct upfs *u, struct res *r,
			const struct res_loaded *l)
{
	if (r->gen == 0 || l->hash != r->hash)
		r->gen++;
	r->hash = l->hash;
	r->fetched_ms = l->fetched_ms;
	r->must_fetch = false;
	res_forget_memory(u, r);
	r->json = l->json;
	r->obj = l->obj;
	r->text_len = l->bytes;
	u->res->mem_bytes += l->bytes;
	r->used_ms = cache_now_ms();
	res_evict(u, r);
}

/* Under res_lock: queues a background refresh unless one is pending. */
static void res_queue_refresh(struct upfs *u, struct res *r)
{
	if (r->queued || r->loading || u->opts.offline || u->refresher_count == 0)
		return;
	r->queued = true;
	r->qnext = NULL;
	if (u->res->qtail)
		u->res->qtail->qnext = r;
	else
		u->res->qhead = r;
	u->res->qtail = r;
	pthread_cond_broadcast(&u->res_cond);
}

/* The JSON text of a resource into l, as JSON or its form. */
static int res_parse(const char *data, size_t len, struct res_loaded *l)
{
	json_error_t jerr;

	if (l->form)
		return l->form->parse(l->form->arg, data, len, &l->obj,
				      &l->bytes);
	l->json = json_loadb(data, len, 0, &jerr);
	l->bytes = len;
	return l->json ? 0 : -EINVAL;
}

/* res_load's reader of the resource's last copy in LMDB. */
static int parse_cached(const char *data, size_t len, int64_t fetched_ms,
			void *arg)
{
	struct res_loaded *l = arg;

	/* A damaged entry is a miss: the service has the truth. */
	if (res_parse(data, len, l))
		return -ENOENT;
	l->hash = fnv1a_update(FNV1A_SEED, data, len);
	l->len = len;
	l->fetched_ms = fetched_ms;
	return 0;
}

/* Without locks: fetches from the service and stores into LMDB. */
static int res_fetch(struct upfs *u, const char *key, bool list,
		     struct res_loaded *out)
{
	struct graph_err gerr = { 0 };
	struct graph *g = identity_for_path(u, key, gerr.message,
					    sizeof(gerr.message));
	char *text;
	int rc;

	if (g == NULL) {
		health_refusal(u, key, gerr.message);
		return -EACCES;
	}
	rc = list ? graph_list(g, key, &out->json, NULL, &gerr)
		  : graph_get(g, key, &out->json, &gerr);
	if (rc) {
		health_error(u, key, rc, &gerr);
		return rc;
	}
	health_set_online(u, true);
	text = json_dumps(out->json, JSON_COMPACT | JSON_ENCODE_ANY);
	if (text == NULL) {
		json_decref(out->json);
		out->json = NULL;
		return -ENOMEM;
	}
	out->len = strlen(text);
	out->bytes = out->len;
	out->hash = fnv1a_update(FNV1A_SEED, text, out->len);
	out->fetched_ms = cache_now_ms();
	if (out->form) {
		/* Kept in its form: the tree goes before that is built. */
		json_decref(out->json);
		out->json = NULL;
		rc = res_parse(text, out->len, out);
		if (rc) {
			/* Nothing kept: the next read asks the service again. */
			health_error(u, key, rc, NULL);
			free(text);
			return rc;
		}
	}
	rc = cache_put(u->cache, UPFS_CACHE_RESOURCES, key, text, out->len,
		       out->fetched_ms);
	if (rc)
		/* Still served from memory; the next mount starts colder. */
		health_error(u, "cache write", rc, NULL);
	free(text);
	return 0;
}

/* Under res_lock on entry and exit; r->loading is set by the caller. */
static int res_load(struct upfs *u, struct res *r, bool from_cache)
{
	struct res_loaded l = { .form = r->form };
	int rc;

	pthread_mutex_unlock(&u->res_lock);
	/* From LMDB, parsed where it holds the text: a copy of a big
	   listing (megabytes) would only be thrown away. */
	rc = from_cache ? cache_read(u->cache, UPFS_CACHE_RESOURCES, r->key,
				     parse_cached, &l)
			: res_fetch(u, r->key, r->list, &l);
	pthread_mutex_lock(&u->res_lock);
	if (rc == 0)
		res_install(u, r, &l);
	if (rc == 0 && !from_cache)
		r->disk_behind = false;	/* res_fetch wrote this copy there */
	r->loading = false;
	pthread_cond_broadcast(&u->res_cond);
	return rc;
}

static void deps_add(struct fs_deps *deps, struct res *r, int ttl)
{
	if (deps == NULL)
		return;
	for (int i = 0; i < deps->n; i++)
		if (deps->d[i].res == r)
			return;
	if (deps->n >= UPFS_MAX_DEPS) {
		deps->overflow = true;
		return;
	}
	deps->d[deps->n].res = r;
	deps->d[deps->n].gen = r->gen;
	deps->ttl[deps->n] = ttl;
	deps->n++;
}

static bool res_is_fresh(const struct res *r, int ttl)
{
	return cache_now_ms() - r->fetched_ms < (int64_t)ttl * 1000;
}

/* Under res_lock: the decision for one pass of res_get. */
static int res_get_locked(struct upfs *u, struct res *r, int ttl,
			  enum res_policy policy, bool *again)
{
	int rc;

	*again = false;
	if (r->loading) {
		pthread_cond_wait(&u->res_cond, &u->res_lock);
		*again = true;
		return 0;
	}
	if (!res_in_memory(r) && !r->tried_cache) {
		r->tried_cache = true;
		r->loading = true;
		/* Any LMDB failure is a miss: the service has the truth. */
		(void)res_load(u, r, true);
		*again = true;
		return 0;
	}
	if (!res_in_memory(r) && r->gen != 0) {
		/* Evicted from memory: LMDB still has it. */
		r->loading = true;
		*again = res_load(u, r, true) == 0;
		if (*again)
			return 0;
	}
	if (res_in_memory(r) && ((res_is_fresh(r, ttl) && !r->must_fetch) ||
			u->opts.offline))
		return 0;
	if (res_in_memory(r) && policy == RES_STALE_OK && !r->must_fetch) {
		res_queue_refresh(u, r);
		return 0;
	}
	if (u->opts.offline)
		return -ENETDOWN;
	r->loading = true;
	rc = res_load(u, r, false);
	if (rc && res_in_memory(r)) {
		/* The service failed: stale data beats none. */
		pthread_mutex_lock(&u->health_lock);
		u->served_stale++;
		pthread_mutex_unlock(&u->health_lock);
		return 0;
	}
	return rc;
}

/* res_get and res_get_form: *json or *obj gets a new reference. */
static int res_get_kept(struct upfs *u, const char *key, bool list, int ttl,
			enum res_policy policy, const struct res_form *form,
			json_t **json, void **obj, struct fs_deps *deps)
{
	struct res *r;
	bool again;
	int rc;

	pthread_mutex_lock(&u->res_lock);
	rc = res_lookup(u, key, list, form, &r);
	if (rc)
		goto out;
	do {
		rc = res_get_locked(u, r, ttl, policy, &again);
	} while (rc == 0 && again);
	if (rc)
		goto out;
	r->used_ms = cache_now_ms();
	if (form)
		*obj = form->hold(r->obj);
	else
		*json = json_incref(r->json);
	deps_add(deps, r, ttl);
out:
	pthread_mutex_unlock(&u->res_lock);
	return rc;
}

int res_get(struct upfs *u, const char *key, bool list, int ttl,
	    enum res_policy policy, json_t **out, struct fs_deps *deps)
{
	return res_get_kept(u, key, list, ttl, policy, NULL, out, NULL, deps);
}

int res_get_form(struct upfs *u, const char *key, bool list, int ttl,
		 enum res_policy policy, const struct res_form *form,
		 void **out, struct fs_deps *deps)
{
	return res_get_kept(u, key, list, ttl, policy, form, NULL, out, deps);
}

void res_expire(struct upfs *u, const char *key)
{
	struct res *r;

	/* The remount must not trust the old copy either. */
	cache_del(u->cache, UPFS_CACHE_RESOURCES, key);
	pthread_mutex_lock(&u->res_lock);
	/* Never made here: only a read knows whether key is a collection. */
	r = res_find(u, key);
	if (r) {
		r->must_fetch = true;
		/* Snapshots built from it are out of date from now on. */
		r->gen++;
	}
	pthread_mutex_unlock(&u->res_lock);
}

/* A new array: list without its element of this id, then member. */
static json_t *list_with(const json_t *list, const char *id, json_t *member)
{
	json_t *out = json_array(), *v;
	size_t i;

	if (out == NULL)
		return NULL;
	json_array_foreach(list, i, v) {
		const char *vid = json_string_value(json_object_get(v, "id"));

		/* Elements are shared, never changed: readers may hold them. */
		if ((vid == NULL || strcmp(vid, id) != 0) &&
		    json_array_append(out, v) != 0)
			goto fail;
	}
	if (json_array_append(out, member) == 0)
		return out;
fail:
	json_decref(out);
	return NULL;
}

int res_list_upsert(struct upfs *u, const char *key, json_t *member)
{
	const char *id = json_string_value(json_object_get(member, "id"));
	json_t *list;
	struct res *r;
	bool forget_disk = false;
	int rc = -ENOENT;

	if (id == NULL)
		return -EINVAL;
	pthread_mutex_lock(&u->res_lock);
	r = res_find(u, key);
	/* Not while a fetch is under way: its answer may predate member. */
	if (r && r->list && r->json && !r->loading && !r->must_fetch &&
	    (list = list_with(r->json, id, member)) != NULL) {
		/*
		 * Changed for sure: no hash of the whole text (a listing of
		 * a busy share is long, and this runs per document). Hash 0
		 * makes the next fetch count as a change once more.
		 */
		u->res->mem_bytes -= r->text_len;
		json_decref(r->json);
		r->json = list;
		r->text_len += json_dumpb(member, NULL, 0, JSON_COMPACT);
		u->res->mem_bytes += r->text_len;
		r->hash = 0;
		r->gen++;
		r->used_ms = cache_now_ms();
		forget_disk = !r->disk_behind;
		r->disk_behind = true;
		res_evict(u, r);
		rc = 0;
	}
	pthread_mutex_unlock(&u->res_lock);
	/* The remount's copy lacks member: it fetches the listing anew. Once
	   per copy: each delete is a flush to disk, and this runs per
	   document. */
	if (forget_disk && cache_del(u->cache, UPFS_CACHE_RESOURCES, key)) {
		pthread_mutex_lock(&u->res_lock);
		r->disk_behind = false;	/* still there: delete it next time */
		pthread_mutex_unlock(&u->res_lock);
	}
	return rc;
}

bool res_deps_current(struct upfs *u, const struct fs_deps *deps)
{
	bool current = !deps->overflow && !deps->volatile_;

	pthread_mutex_lock(&u->res_lock);
	for (int i = 0; i < deps->n && current; i++) {
		struct res *r = deps->d[i].res;

		if (r->gen != deps->d[i].gen) {
			current = false;
			break;
		}
		/* Out of date but unchanged so far: refresh behind the scenes. */
		if (!res_is_fresh(r, deps->ttl[i]))
			res_queue_refresh(u, r);
	}
	pthread_mutex_unlock(&u->res_lock);
	return current;
}

json_t *res_find_id(json_t *list, const char *id)
{
	size_t i;
	json_t *v;

	if (id == NULL)
		return NULL;
	json_array_foreach(list, i, v) {
		const char *vid = json_string_value(json_object_get(v, "id"));

		if (vid && strcmp(vid, id) == 0)
			return v;
	}
	return NULL;
}

/*
 * Under res_lock, when idle. A walk of a big tree parses and frees far
 * more than it keeps (listings, JSON past the budget, readdir copies), and
 * malloc keeps the freed pages: on the large tenant ~80 MiB of the
 * daemon's RSS after ls -lR. Hand them back once the heap changed a lot
 * since the last time and much of it is free.
 */
static void res_trim_heap(struct upfs *u)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* A sanitizer's allocator serves malloc: glibc's arenas are not in
	   use, and touching them makes glibc abort when the thread exits. */
	(void)u;
#else
	struct mallinfo2 mi;
	size_t last, churn, spare;

	/* It walks every arena's free lists: not under res_lock. */
	pthread_mutex_unlock(&u->res_lock);
	mi = mallinfo2();
	pthread_mutex_lock(&u->res_lock);
	last = u->res->heap_used_at_trim;
	churn = mi.uordblks > last ? mi.uordblks - last : last - mi.uordblks;
	/* Free heap past the top pad glibc keeps mapped anyway (heap.h). */
	spare = mi.fordblks - mi.keepcost +
		(mi.keepcost > HEAP_TOP_PAD ? mi.keepcost - HEAP_TOP_PAD : 0);
	if (churn < RES_HEAP_SLACK || spare < RES_HEAP_SLACK)
		return;
	u->res->heap_used_at_trim = mi.uordblks;
	pthread_mutex_unlock(&u->res_lock);
	/* It gives back the room heap.c advised, too: what grows after it
	   gets small pages (advising again measured no better). */
	malloc_trim(0);
	pthread_mutex_lock(&u->res_lock);
#endif
}

/* Under res_lock: waits for work, or returns false after RES_IDLE_MS. */
static bool res_wait_work(struct upfs *u)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += RES_IDLE_MS / 1000;
	return pthread_cond_timedwait(&u->res_cond, &u->res_lock, &ts) == 0;
}

static void *refresher_main(void *arg)
{
	struct upfs *u = arg;
	uint64_t gen;

	pthread_mutex_lock(&u->res_lock);
	while (!atomic_load(&u->stopping)) {
		struct res *r = u->res->qhead;

		if (r == NULL) {
			if (!res_wait_work(u) && !atomic_load(&u->stopping))
				res_trim_heap(u);
			continue;
		}
		u->res->qhead = r->qnext;
		if (u->res->qhead == NULL)
			u->res->qtail = NULL;
		r->queued = false;
		if (r->loading)
			continue;
		gen = r->gen;
		r->loading = true;
		res_load(u, r, false);
		if (gen != 0 && r->gen != gen) {
			/* Changed behind the kernel's back: tell it. */
			pthread_mutex_unlock(&u->res_lock);
			node_invalidate_dependents(u, r);
			pthread_mutex_lock(&u->res_lock);
		}
	}
	pthread_mutex_unlock(&u->res_lock);
	return NULL;
}

int res_start(struct upfs *u)
{
	int n = (int)(sizeof(u->refreshers) / sizeof(u->refreshers[0]));

	for (int i = 0; i < n; i++) {
		int rc = pthread_create(&u->refreshers[i], NULL,
					refresher_main, u);

		if (rc)
			return -rc;
		u->refresher_count++;
	}
	return 0;
}

void res_stop(struct upfs *u)
{
	atomic_store(&u->stopping, true);
	pthread_mutex_lock(&u->res_lock);
	pthread_cond_broadcast(&u->res_cond);
	pthread_mutex_unlock(&u->res_lock);
	for (int i = 0; i < u->refresher_count; i++)
		pthread_join(u->refreshers[i], NULL);
	u->refresher_count = 0;
}

void res_release(struct upfs *u)
{
	if (u->res == NULL)
		return;
	for (size_t b = 0; b < RES_BUCKETS; b++) {
		struct res *r = u->res->buckets[b], *next;

		for (; r != NULL; r = next) {
			next = r->next;
			res_forget_memory(u, r);
			free(r->key);
			free(r);
		}
	}
	free(u->res);
	u->res = NULL;
}

void res_drop_memory(struct upfs *u)
{
	pthread_mutex_lock(&u->res_lock);
	for (size_t b = 0; b < RES_BUCKETS; b++) {
		for (struct res *r = u->res->buckets[b]; r; r = r->next) {
			if (!r->loading)
				res_forget_memory(u, r);
		}
	}
	pthread_mutex_unlock(&u->res_lock);
}

int res_table_new(struct upfs *u)
{
	u->res = calloc(1, sizeof(*u->res));
	return u->res ? 0 : -ENOMEM;
}

void fs_deps_release(struct fs_deps *deps)
{
	deps->n = 0;
	deps->overflow = false;
	deps->volatile_ = false;
	deps->spool = false;
	deps->spool_sig = 0;
}
