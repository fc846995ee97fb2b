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
#include "tree_private.h"

/* Kept in memory: parsed JSON counted by its text's bytes (jansson needs a
   few times that), a form's object by the bytes it holds. */
#define RES_MEMORY_BUDGET ((size_t)6 << 20)
#define RES_BUCKETS 4096
/* A refresher with nothing to do for this long looks at the heap. */
#define RES_IDLE_MS 2000
/* Heap churn and free heap past which freed memory goes back to the OS. */
#define RES_HEAP_SLACK ((size_t)8 << 20)
/* Objects of one batch that must come from the service within the window
   before its listing is fetched instead (struct res_batch). */
#define RES_BATCH_MIN 4
#define RES_BATCH_WINDOW_MS 1000
/* After a batch listing left its objects' members out, or failed. */
#define RES_BATCH_RETRY_MS (10 * 60 * 1000)
#define RES_BATCH_ERROR_RETRY_MS (30 * 1000)
/* An object the last listing did not fill is not worth another so soon. */
#define RES_BATCH_RECENT_MS (60 * 1000)
/* How long a refresher holds back a stale object of a batch for others
   to be queued (res_batch_hold). */
#define RES_BATCH_HOLD_MS 250
#define RES_BATCHES 4
/* Keys expired while they had no record, remembered for batch listings. */
#define RES_EXPIRED_KEYS 64

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
	bool batch_queued;	/* counted in its batch's queued */
	int64_t held_ms;	/* first held back by a refresher; 0: not */
	bool must_fetch;	/* changed by this mount: stale is not enough */
	bool disk_behind;	/* changed here since its LMDB copy was
				   deleted: nothing there to delete again */
	const struct res_batch *batch;	/* NULL: none stands for it */
	/* Answers from the service so far, and their number when last
	   queued for a refresh: a refresher skips one answered since. */
	uint32_t fetches, queued_fetches;
	uint64_t expired_seq;	/* res_table.expire_seq when last expired */
	struct res *next;	/* hash chain */
	struct res *qnext;	/* refresh queue */
};

/* Misses of one batch's objects, and its listing's fetch. */
struct batch_state {
	const struct res_batch *batch;
	int64_t window_ms;	/* start of the current count */
	int misses;
	int64_t retry_ms;	/* no listing before then */
	int64_t listed_ms;	/* the last listing that filled objects */
	int queued;		/* its objects in the refresh queue */
	bool loading;
};

struct res_table {
	struct res *buckets[RES_BUCKETS];
	struct batch_state batches[RES_BATCHES];
	uint64_t expire_seq;	/* res_expire calls so far */
	/* The last keys res_expire found no record for, with their
	   expire_seq; lost_seq: the newest one pushed out. */
	struct {
		char *key;
		uint64_t seq;
	} expired[RES_EXPIRED_KEYS];
	size_t expired_next;
	uint64_t expired_lost_seq;
	/* Changed by a batch fetched in a request's thread, which must not
	   tell the kernel itself: a refresher does (node.c). */
	const struct res **inval;
	size_t n_inval, alloc_inval;
	/* Names the kernel must forget, told by a refresher: a thread that
	   serves FUSE requests may not wait for the kernel's folder lock
	   (res_forget_name_later). */
	struct forget_name {
		uint64_t parent;
		char *name;
	} *forget;
	size_t n_forget, alloc_forget;
	size_t mem_bytes;
	struct res *qhead, *qtail;
	size_t qlen, qheld;	/* in the queue; of them held back */
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
	size_t bytes;		/* against the budget */
	int64_t fetched_ms;
};

/* Under res_lock: makes l's JSON or object (stolen) r's content. */
static void res_install(struct upfs *u, struct res *r,
			const struct res_loaded *l, bool from_service)
{
	if (r->gen == 0 || l->hash != r->hash)
		r->gen++;
	r->hash = l->hash;
	r->fetched_ms = l->fetched_ms;
	/* Only the service's answer settles an own write: a copy in LMDB
	   may be one a batch listing wrote before it (seeds_install). */
	if (from_service)
		r->must_fetch = false;
	res_forget_memory(u, r);
	r->json = l->json;
	r->obj = l->obj;
	r->text_len = l->bytes;
	u->res->mem_bytes += l->bytes;
	r->used_ms = cache_now_ms();
	res_evict(u, r);
}

/* Under res_lock: batch's state, made on first use; NULL when full. */
static struct batch_state *batch_state(struct upfs *u,
				       const struct res_batch *b)
{
	for (int i = 0; b && i < RES_BATCHES; i++) {
		struct batch_state *s = &u->res->batches[i];

		if (s->batch == NULL)
			s->batch = b;
		if (s->batch == b)
			return s;
	}
	return NULL;
}

/* Under res_lock: r to the tail of the refresh queue. */
static void res_enqueue(struct upfs *u, struct res *r)
{
	struct batch_state *bs;

	r->queued = true;
	r->qnext = NULL;
	if (u->res->qtail)
		u->res->qtail->qnext = r;
	else
		u->res->qhead = r;
	u->res->qtail = r;
	u->res->qlen++;
	if (r->held_ms)
		u->res->qheld++;
	if (r->batch && (bs = batch_state(u, r->batch)) != NULL) {
		bs->queued++;
		r->batch_queued = true;
	}
}

/* Under res_lock: the head of the refresh queue, taken off it. */
static struct res *res_dequeue(struct upfs *u)
{
	struct res *r = u->res->qhead;

	u->res->qhead = r->qnext;
	if (u->res->qhead == NULL)
		u->res->qtail = NULL;
	u->res->qlen--;
	if (r->held_ms)
		u->res->qheld--;
	if (r->batch_queued) {
		batch_state(u, r->batch)->queued--;
		r->batch_queued = false;
	}
	r->queued = false;
	return r;
}

/* Under res_lock: queues a background refresh unless one is pending. */
static void res_queue_refresh(struct upfs *u, struct res *r)
{
	if (r->queued || r->loading || u->opts.offline || u->refresher_count == 0)
		return;
	r->queued_fetches = r->fetches;
	res_enqueue(u, r);
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
	l->fetched_ms = fetched_ms;
	return 0;
}

/*
 * Without locks: the JSON of key from the service. A failure is the
 * mount's health unless quiet (the caller says what it means), then its
 * text goes to why.
 */
static int res_fetch_json(struct upfs *u, const char *key, bool list,
			  json_t **out, bool quiet, struct graph_err *why)
{
	struct graph_err gerr = { 0 };
	struct graph *g = identity_for_path(u, key, gerr.message,
					    sizeof(gerr.message));
	int rc;

	if (g == NULL && !quiet)
		health_refusal(u, key, gerr.message);
	if (g == NULL)
		rc = -EACCES;
	else
		rc = list ? graph_list(g, key, out, NULL, &gerr)
			  : graph_get(g, key, out, &gerr);
	if (rc && !quiet)
		health_error(u, key, rc, &gerr);
	if (rc && why)
		*why = gerr;
	if (rc)
		return rc;
	health_set_online(u, true);
	return 0;
}

/*
 * Without locks: fetches from the service and stores into LMDB. *gone
 * says whether the service answered that there is no such thing (404).
 */
static int res_fetch(struct upfs *u, const char *key, bool list,
		     struct res_loaded *out, bool *gone)
{
	struct graph_err gerr = { 0 };
	char *text;
	size_t len;
	int rc = res_fetch_json(u, key, list, &out->json, false, &gerr);

	*gone = rc == -ENOENT && gerr.status == 404;
	if (rc)
		return rc;
	text = json_dumps(out->json, JSON_COMPACT | JSON_ENCODE_ANY);
	if (text == NULL) {
		json_decref(out->json);
		out->json = NULL;
		return -ENOMEM;
	}
	len = strlen(text);
	out->bytes = len;
	out->hash = fnv1a_update(FNV1A_SEED, text, len);
	out->fetched_ms = cache_now_ms();
	if (out->form) {
		/* Kept in its form: the tree goes before that is built. */
		json_decref(out->json);
		out->json = NULL;
		rc = res_parse(text, len, out);
		if (rc) {
			/* Nothing kept: the next read asks the service again. */
			health_error(u, key, rc, NULL);
			free(text);
			return rc;
		}
	}
	rc = cache_put(u->cache, UPFS_CACHE_RESOURCES, key, text, len,
		       out->fetched_ms);
	if (rc)
		/* Still served from memory; the next mount starts colder. */
		health_error(u, "cache write", rc, NULL);
	free(text);
	return 0;
}

/* Under res_lock: what l holds, not installed, goes. */
static void res_loaded_drop(const struct res *r, struct res_loaded *l)
{
	json_decref(l->json);
	if (l->obj)
		r->form->drop(l->obj);
	l->json = NULL;
	l->obj = NULL;
}

/*
 * Under res_lock on entry and exit; r->loading is set by the caller.
 * When an own write expired r while its fetch was on its way, the answer
 * may be from before the write: it is not kept (nor its copy in LMDB),
 * and *superseded (may be NULL) says r is to be fetched again. A 404
 * drops what r held: the service said it is gone, which no stale copy
 * may hide.
 */
static int res_load_fresh(struct upfs *u, struct res *r, bool from_cache,
			  bool *superseded)
{
	struct res_loaded l = { .form = r->form };
	uint64_t asked = r->expired_seq;
	bool gone = false, late;
	int rc;

	pthread_mutex_unlock(&u->res_lock);
	/* From LMDB, parsed where it holds the text: a copy of a big
	   listing (megabytes) would only be thrown away. */
	rc = from_cache ? cache_read(u->cache, UPFS_CACHE_RESOURCES, r->key,
				     parse_cached, &l)
			: res_fetch(u, r->key, r->list, &l, &gone);
	pthread_mutex_lock(&u->res_lock);
	late = rc == 0 && !from_cache && r->expired_seq != asked;
	if (late) {
		res_loaded_drop(r, &l);
		cache_del(u->cache, UPFS_CACHE_RESOURCES, r->key);
		rc = -ESTALE;
	}
	if (superseded)
		*superseded = late;
	if (gone) {
		if (res_in_memory(r)) {
			res_forget_memory(u, r);
			r->gen++;
		}
		cache_del(u->cache, UPFS_CACHE_RESOURCES, r->key);
	}
	if (rc == 0)
		res_install(u, r, &l, !from_cache);
	if (rc == 0 && !from_cache) {
		r->disk_behind = false;	/* res_fetch wrote this copy there */
		r->fetches++;
	}
	r->loading = false;
	pthread_cond_broadcast(&u->res_cond);
	return rc;
}

static int res_load(struct upfs *u, struct res *r, bool from_cache)
{
	return res_load_fresh(u, r, from_cache, NULL);
}

/* ---- batches: one listing for many objects (struct res_batch) ---- */

/* What a batch listing brings for one of the objects it stands for. */
struct seed {
	char *key;
	char *text;		/* the element, compact, as LMDB keeps it */
	size_t len;
	json_t *json;		/* the element (shared, never changed) */
	struct res *r;		/* once installed; records live as long as
				   the mount */
	bool undo;		/* its LMDB copy must go again */
	bool changed;		/* a new generation of a resource in use */
};

static void seeds_free(struct seed *seeds, size_t n)
{
	for (size_t i = 0; seeds && i < n; i++) {
		free(seeds[i].key);
		free(seeds[i].text);
		json_decref(seeds[i].json);
	}
	free(seeds);
}

/* Whether v carries every member named in needs. */
static bool has_members(const json_t *v, const char *const *needs)
{
	for (; *needs; needs++)
		if (json_object_get(v, *needs) == NULL)
			return false;
	return true;
}

/* Without locks: a seed per element of list that stands for its object. */
static int seeds_of(const struct res_batch *b, json_t *list,
		    struct seed **out, size_t *n_out)
{
	struct seed *seeds = calloc(json_array_size(list) + 1, sizeof(*seeds));
	struct buf key;
	size_t i, n = 0;
	json_t *v;
	int rc = seeds ? 0 : -ENOMEM;

	buf_init(&key, 4096);
	json_array_foreach(list, i, v) {
		const char *id = json_string_value(json_object_get(v, "id"));
		struct seed *sd = &seeds[n];

		if (rc || id == NULL || !has_members(v, b->needs))
			continue;
		buf_reset(&key);
		rc = tree_key(&key, b->prefix, id, b->suffix);
		if (rc)
			break;
		n++;
		sd->json = json_incref(v);
		sd->key = strdup(key.data);
		sd->text = json_dumps(v, JSON_COMPACT);
		if (sd->key == NULL || sd->text == NULL)
			rc = -ENOMEM;
		else
			sd->len = strlen(sd->text);
	}
	buf_release(&key);
	if (rc) {
		seeds_free(seeds, n);
		return rc;
	}
	*out = seeds;
	*n_out = n;
	return 0;
}

/* Under res_lock: whether key, with no record, may have been expired since
   expire_seq was since_seq (true too when that is no longer known). */
static bool expired_without_record(struct upfs *u, const char *key,
				   uint64_t since_seq)
{
	struct res_table *t = u->res;

	if (t->expire_seq == since_seq)
		return false;
	if (t->expired_lost_seq > since_seq)
		return true;
	for (size_t i = 0; i < RES_EXPIRED_KEYS; i++)
		if (t->expired[i].key && t->expired[i].seq > since_seq &&
		    strcmp(t->expired[i].key, key) == 0)
			return true;
	return false;
}

/*
 * Under res_lock: each seed into its resource, as if fetched alone at
 * fetched_ms (its LMDB copy is written already). A resource expired by an
 * own write since the listing was asked for (expire_seq then: asked_seq),
 * by its record's mark or, expired while it had none, by the ring of such
 * keys, keeps what it has, must be answered by the service, and the copy
 * goes again. One being loaded keeps what it has: its own fetch answers.
 * Parsed JSON replaces only what memory holds (and want's, the resource a
 * request waits for); the others reload the copy when read.
 * seed->changed: the kernel must hear of it, as after a refresh.
 */
static void seeds_install(struct upfs *u, const struct res_batch *b,
			  struct seed *seeds, size_t n, uint64_t asked_seq,
			  int64_t fetched_ms, const struct res *want)
{
	for (size_t i = 0; i < n; i++) {
		struct seed *sd = &seeds[i];
		struct res *r = res_find(u, sd->key);
		uint64_t gen, hash;

		/* The ring also covers a record made after its key was
		   expired (a read since the write). */
		if (expired_without_record(u, sd->key, asked_seq) ||
		    (r && (r->must_fetch || r->expired_seq > asked_seq))) {
			sd->undo = true;
			/* A reader may load this seed's copy from LMDB before
			   it goes: only the service may answer it. */
			if (r || res_lookup(u, sd->key, false, NULL, &r) == 0)
				r->must_fetch = true;
			continue;
		}
		if ((r == NULL && res_lookup(u, sd->key, false, NULL, &r)) ||
		    r->loading || r->form)
			continue;
		if (r->batch == NULL)
			r->batch = b;
		hash = fnv1a_update(FNV1A_SEED, sd->text, sd->len);
		gen = r->gen;
		if (res_in_memory(r) || r == want) {
			struct res_loaded l = {
				.json = json_incref(sd->json), .hash = hash,
				.bytes = sd->len,
				.fetched_ms = fetched_ms,
			};

			res_install(u, r, &l, true);
		} else {
			if (r->gen == 0 || hash != r->hash)
				r->gen++;
			r->hash = hash;
			r->fetched_ms = fetched_ms;
			r->must_fetch = false;
			r->tried_cache = true;
		}
		r->disk_behind = false;
		r->fetches++;
		sd->r = r;
		sd->changed = gen != 0 && r->gen != gen;
	}
}

/* A listing the service will not give in this form, as opposed to one it
   could not give now (throttled, unreachable). */
static bool batch_refused(int rc)
{
	return rc == -EINVAL || rc == -ENOENT || rc == -EACCES ||
	       rc == -EPROTO || rc == -EOPNOTSUPP ||
	       rc == -EFBIG;
}

/* Under res_lock: hands rs to a refresher to tell the kernel (without
   memory for that, the attribute time-outs still hold). */
static void res_defer_inval(struct upfs *u, const struct res **rs, size_t n)
{
	struct res_table *t = u->res;

	if (t->n_inval + n > t->alloc_inval) {
		size_t alloc = 2 * (t->n_inval + n);
		const struct res **v = realloc(t->inval, alloc * sizeof(*v));

		if (v == NULL)
			return;
		t->inval = v;
		t->alloc_inval = alloc;
	}
	memcpy(t->inval + t->n_inval, rs, n * sizeof(*rs));
	t->n_inval += n;
	pthread_cond_broadcast(&u->res_cond);
}

/*
 * Under res_lock on entry and exit, dropped while it works: fetches the
 * listing of batch s and gives each object it stands for its element.
 * want: the resource a request waits for, or NULL for a refresher's.
 */
static void res_fetch_batch(struct upfs *u, struct batch_state *s,
			    const struct res *want)
{
	const struct res_batch *b = s->batch;
	struct seed *seeds = NULL;
	struct cache_item *items = NULL;
	const struct res **changed = NULL;
	struct graph_err why = { 0 };
	json_t *list = NULL;
	uint64_t asked = u->res->expire_seq;
	int64_t fetched;
	size_t n = 0, n_changed = 0;
	bool refused;
	int rc;

	s->loading = true;
	pthread_mutex_unlock(&u->res_lock);
	/* Quiet: its objects' own GETs stand in, and say what they meet. */
	rc = res_fetch_json(u, b->listing, true, &list, true, &why);
	refused = batch_refused(rc);
	if (rc == 0)
		rc = seeds_of(b, list, &seeds, &n);
	json_decref(list);
	fetched = cache_now_ms();
	items = calloc(n + 1, sizeof(*items));
	changed = calloc(n + 1, sizeof(*changed));
	if (rc == 0 && (items == NULL || changed == NULL))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++)
		items[i] = (struct cache_item){ seeds[i].key, seeds[i].text,
						seeds[i].len };
	/* In LMDB first: a resource evicted meanwhile reloads this copy. */
	if (rc == 0 && n > 0)
		rc = cache_put_many(u->cache, UPFS_CACHE_RESOURCES, items, n,
				    fetched);
	if (rc && rc != -ENOMEM && n > 0)
		health_error(u, "cache write", rc, NULL);
	pthread_mutex_lock(&u->res_lock);
	if (rc == 0)
		seeds_install(u, b, seeds, n, asked, fetched, want);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (seeds[i].changed)
			changed[n_changed++] = seeds[i].r;
	/* A request's thread: a refresher tells the kernel. */
	if (want && n_changed > 0) {
		res_defer_inval(u, changed, n_changed);
		n_changed = 0;
	}
	s->loading = false;
	s->misses = 0;
	s->window_ms = fetched;
	if (rc == 0 && n > 0)
		s->listed_ms = fetched;
	/* A throttled or unreachable service is asked again soon; one that
	   refuses the listing, or whose listing lacks the members, or a
	   cache that could not keep it, not for a while. */
	if (rc || n == 0)
		s->retry_ms = fetched + (refused || rc == 0 || n > 0
					 ? RES_BATCH_RETRY_MS
					 : RES_BATCH_ERROR_RETRY_MS);
	pthread_cond_broadcast(&u->res_cond);
	pthread_mutex_unlock(&u->res_lock);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (seeds[i].undo)
			(void)cache_del(u->cache, UPFS_CACHE_RESOURCES,
					seeds[i].key);
	if (rc == 0 && n == 0)
		upfs_log(u, UPFS_LOG_INFO, "%s: its elements lack what their "
			 "objects' own GETs give: one GET each", b->listing);
	if (refused)
		upfs_log(u, UPFS_LOG_INFO, "%s: refused (%s): one GET per "
			 "object instead", b->listing,
			 why.message[0] ? why.message : strerror(-rc));
	node_invalidate_dependents_of(u, changed, n_changed);
	seeds_free(seeds, n);
	free(items);
	free(changed);
	pthread_mutex_lock(&u->res_lock);
}

/*
 * Under res_lock: whether a listing of s may stand for r now: none is
 * refused or failed lately, and the last one, not long ago, did not
 * leave r out (it would not fill it now).
 */
static bool batch_may_list(const struct batch_state *s, const struct res *r,
			   int64_t now)
{
	if (now < s->retry_ms)
		return false;
	return !(s->listed_ms && r->fetched_ms < s->listed_ms &&
		 now - s->listed_ms < RES_BATCH_RECENT_MS);
}

/*
 * Under res_lock, when r must come from the service: waits for its
 * batch's listing if one is on its way, or fetches the listing when r is
 * one of many such misses in a short while (a walk); a refresher counts
 * the objects of the batch waiting in its queue too. True when it did
 * either: look at r again.
 */
static bool res_batch_turn(struct upfs *u, struct res *r,
			   const struct res *want)
{
	struct batch_state *s = batch_state(u, r->batch);
	int64_t now = cache_now_ms();

	if (s == NULL || r->must_fetch)
		return false;	/* an own write: only its own GET says */
	if (s->loading) {
		while (s->loading)
			pthread_cond_wait(&u->res_cond, &u->res_lock);
		return true;
	}
	if (!batch_may_list(s, r, now))
		return false;
	if (now - s->window_ms > RES_BATCH_WINDOW_MS) {
		s->window_ms = now;
		s->misses = 0;
	}
	if (++s->misses + (want == NULL ? s->queued : 0) < RES_BATCH_MIN)
		return false;
	res_fetch_batch(u, s, want);
	return true;
}

/*
 * Under res_lock, a refresher's turn at r (no reader waits for it):
 * whether to hold r back a while. A walk past the TTL queues stale
 * objects one after another, a few milliseconds apart, and a refresher
 * takes the first before the next is queued: taken as they came, the
 * first few would each cost a GET before the count reached the listing.
 * So one of a batch that a listing could refresh waits, up to
 * RES_BATCH_HOLD_MS from its first turn, for RES_BATCH_MIN of them.
 */
static bool res_batch_hold(struct upfs *u, struct res *r)
{
	struct batch_state *s = batch_state(u, r->batch);
	int64_t now = cache_now_ms();
	int misses;

	if (s == NULL || r->must_fetch || s->loading ||
	    !batch_may_list(s, r, now))
		return false;
	misses = now - s->window_ms <= RES_BATCH_WINDOW_MS ? s->misses : 0;
	if (misses + 1 + s->queued >= RES_BATCH_MIN)
		return false;	/* enough: res_batch_turn lists them */
	if (r->held_ms == 0)
		r->held_ms = now;
	/* A clock stepped back makes it due, not held for the step. */
	return now >= r->held_ms && now - r->held_ms < RES_BATCH_HOLD_MS;
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
	bool superseded;
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
	if (res_batch_turn(u, r, r)) {
		*again = true;
		return 0;
	}
	r->loading = true;
	rc = res_load_fresh(u, r, false, &superseded);
	if (superseded) {
		*again = true;	/* an own write came meanwhile: ask again */
		return 0;
	}
	if (rc && res_in_memory(r)) {
		/* The service failed: stale data beats none. */
		pthread_mutex_lock(&u->health_lock);
		u->served_stale++;
		pthread_mutex_unlock(&u->health_lock);
		return 0;
	}
	return rc;
}

/* res_get, res_get_form and res_get_object: *json or *obj gets a new
   reference. */
static int res_get_kept(struct upfs *u, const char *key, bool list, int ttl,
			enum res_policy policy, const struct res_form *form,
			const struct res_batch *batch, json_t **json,
			void **obj, struct fs_deps *deps)
{
	struct res *r;
	bool again;
	int rc;

	pthread_mutex_lock(&u->res_lock);
	rc = res_lookup(u, key, list, form, &r);
	if (rc)
		goto out;
	if (batch && r->batch == NULL)
		r->batch = batch;
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
	return res_get_kept(u, key, list, ttl, policy, NULL, NULL, out, NULL,
			    deps);
}

int res_get_object(struct upfs *u, const char *key,
		   const struct res_batch *batch, int ttl,
		   enum res_policy policy, json_t **out, struct fs_deps *deps)
{
	return res_get_kept(u, key, false, ttl, policy, NULL, batch, out,
			    NULL, deps);
}

int res_get_form(struct upfs *u, const char *key, bool list, int ttl,
		 enum res_policy policy, const struct res_form *form,
		 void **out, struct fs_deps *deps)
{
	return res_get_kept(u, key, list, ttl, policy, form, NULL, NULL, out,
			    deps);
}

/* Under res_lock: key was expired with no record (see seeds_install). */
static void remember_expired(struct res_table *t, const char *key)
{
	size_t i = t->expired_next;
	char *copy = strdup(key);

	if (t->expired[i].key || copy == NULL) {
		uint64_t lost = copy ? t->expired[i].seq : t->expire_seq;

		if (lost > t->expired_lost_seq)
			t->expired_lost_seq = lost;
	}
	free(t->expired[i].key);
	t->expired[i].key = copy;
	t->expired[i].seq = t->expire_seq;
	t->expired_next = (i + 1) % RES_EXPIRED_KEYS;
}

void res_expire(struct upfs *u, const char *key)
{
	struct res *r;

	pthread_mutex_lock(&u->res_lock);
	u->res->expire_seq++;
	/* Never made here: only a read knows whether key is a collection. */
	r = res_find(u, key);
	if (r == NULL)
		remember_expired(u->res, key);
	if (r) {
		r->must_fetch = true;
		r->expired_seq = u->res->expire_seq;
		/* Snapshots built from it are out of date from now on. */
		r->gen++;
	}
	pthread_mutex_unlock(&u->res_lock);
	/* The remount must not trust the old copy either; after the mark,
	   so that a batch listing's copy written meanwhile goes too. */
	cache_del(u->cache, UPFS_CACHE_RESOURCES, key);
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

void res_forget_name_later(struct upfs *u, uint64_t parent, const char *name)
{
	struct res_table *t = u->res;
	char *copy = strdup(name);

	pthread_mutex_lock(&u->res_lock);
	if (copy && t->n_forget == t->alloc_forget) {
		size_t alloc = t->alloc_forget ? 2 * t->alloc_forget : 4;
		struct forget_name *v = realloc(t->forget,
						alloc * sizeof(*v));

		if (v) {
			t->forget = v;
			t->alloc_forget = alloc;
		}
	}
	/* Without memory, the name's entry time-out still ends it. */
	if (copy && t->n_forget < t->alloc_forget) {
		t->forget[t->n_forget++] = (struct forget_name){ parent, copy };
		copy = NULL;
		pthread_cond_broadcast(&u->res_cond);
	}
	pthread_mutex_unlock(&u->res_lock);
	free(copy);
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
	/* Free heap past the top pad glibc keeps mapped anyway (heap.h).
	   The other arenas' free space counts too: malloc_trim gives back
	   their free pages but not their tops, so a trim may find less. */
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

/*
 * Under res_lock, when the refresh queue holds nothing but held objects
 * (a few: fewer than RES_BATCH_MIN of each batch): waits for new work or
 * until the first of them is due.
 */
static void res_wait_held(struct upfs *u)
{
	int64_t now = cache_now_ms(), wait_ms = RES_BATCH_HOLD_MS;
	struct timespec ts;

	for (const struct res *q = u->res->qhead; q; q = q->qnext) {
		int64_t left = q->held_ms + RES_BATCH_HOLD_MS - now;

		if (left < wait_ms)
			wait_ms = left;
	}
	if (wait_ms <= 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += wait_ms / 1000;
	ts.tv_nsec += (wait_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	(void)pthread_cond_timedwait(&u->res_cond, &u->res_lock, &ts);
}

static void *refresher_main(void *arg)
{
	struct upfs *u = arg;
	uint32_t fetches;
	uint64_t gen;

	pthread_mutex_lock(&u->res_lock);
	while (!atomic_load(&u->stopping)) {
		struct res *r = u->res->qhead;

		if (u->res->n_forget > 0) {
			struct forget_name *f = u->res->forget;
			size_t n = u->res->n_forget;

			u->res->forget = NULL;
			u->res->n_forget = u->res->alloc_forget = 0;
			pthread_mutex_unlock(&u->res_lock);
			for (size_t i = 0; i < n; i++) {
				node_invalidate_entry(u, f[i].parent,
						      f[i].name);
				free(f[i].name);
			}
			free(f);
			pthread_mutex_lock(&u->res_lock);
			continue;
		}
		if (u->res->n_inval > 0) {
			const struct res **rs = u->res->inval;
			size_t n = u->res->n_inval;

			u->res->inval = NULL;
			u->res->n_inval = u->res->alloc_inval = 0;
			pthread_mutex_unlock(&u->res_lock);
			node_invalidate_dependents_of(u, rs, n);
			free(rs);
			pthread_mutex_lock(&u->res_lock);
			continue;
		}

		if (r == NULL) {
			if (!res_wait_work(u) && !atomic_load(&u->stopping))
				res_trim_heap(u);
			continue;
		}
		res_dequeue(u);
		/* Busy, or refreshed since it was queued (by a batch). */
		if (r->loading ||
		    (r->fetches != r->queued_fetches && !r->must_fetch)) {
			r->held_ms = 0;
			continue;
		}
		if (r->batch && res_batch_hold(u, r)) {
			res_enqueue(u, r);
			if (u->res->qheld == u->res->qlen)
				res_wait_held(u);
			continue;
		}
		r->held_ms = 0;
		/* Filled by a listing, or being loaded: done; else its GET
		   (the count before the turn: a reader may queue r again
		   while it waits). */
		fetches = r->fetches;
		if (r->batch && res_batch_turn(u, r, NULL) &&
		    (r->loading || r->fetches != fetches ||
		     atomic_load(&u->stopping)))
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
	free(u->res->inval);
	for (size_t i = 0; i < u->res->n_forget; i++)
		free(u->res->forget[i].name);
	free(u->res->forget);
	for (size_t i = 0; i < RES_EXPIRED_KEYS; i++)
		free(u->res->expired[i].key);
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
	deps->spool_unhides = 0;
	deps->spool_sig = 0;
}
