/*
 * perms.c — committing a share's allowed_users, allowed_groups and
 * allow_all_users (design §4).
 *
 * All or nothing: every line the edit added is resolved to an object id
 * before anything is sent, so an unknown user, an ambiguous group or a
 * malformed line changes nothing. Then only the difference is applied
 * ($ref adds and removes): what the edit changed from the text it started
 * from, so another admin's change meanwhile stays (commit_list). When the
 * service fails part-way, the list is read again: a failed $ref may have
 * taken effect all the same (its reply lost, cut short or spoiled after
 * the work was done), so only the service can say what it holds. If it
 * holds every change, the commit succeeded after all; otherwise the
 * changes it holds are undone, and no other entry is touched: someone
 * else may have changed those since. If the list cannot be read, what
 * was applied is undone in reverse order; when that fails, the log says
 * the list is half-applied.
 *
 * A stop part-way (kill -9, a crash) must not leave it half-applied
 * either: both lists are journaled in LMDB before the first $ref and the
 * record removed once the list is settled. The next mount settles what a
 * record is left for (perms_recover) as for a failure. One commit or
 * settling of the lists runs at a time (perms_lock).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "perms.h"
#include "tree_private.h"
#include "utf8.h"

struct perms_list {
	char **v;
	size_t n, alloc;
};

static void list_release(struct perms_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Appends s[0..len) even if l has it already (names beside ids). */
static int list_push(struct perms_list *l, const char *s, size_t len)
{
	char *copy;

	if (l->n == l->alloc) {
		size_t alloc = l->alloc ? l->alloc * 2 : 16;
		char **v = realloc(l->v, alloc * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		l->v = v;
		l->alloc = alloc;
	}
	copy = strndup(s, len);
	if (copy == NULL)
		return -ENOMEM;
	l->v[l->n++] = copy;
	return 0;
}

static int list_add(struct perms_list *l, const char *s, size_t len)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == len && strncmp(l->v[i], s, len) == 0)
			return 0;	/* a line given twice counts once */
	return list_push(l, s, len);
}

/* A line's [*a, *b) without the blanks at either end. */
static void trim_line(const char **a, const char **b)
{
	while (*a < *b && (**a == ' ' || **a == '\t'))
		(*a)++;
	while (*b > *a && ((*b)[-1] == ' ' || (*b)[-1] == '\t' ||
			   (*b)[-1] == '\r'))
		(*b)--;
}

bool perms_line_safe(const char *s)
{
	const char *a = s, *b = s + strlen(s);

	trim_line(&a, &b);
	return a == s && b == s + strlen(s) && a < b && *a != '#' &&
	       strchr(s, '\n') == NULL;
}

static bool list_has(const struct perms_list *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

/*
 * The non-blank, non-comment lines of text, trimmed. A NUL byte is
 * -EINVAL: it would cut a line short ("alice\0x" as "alice", a line of
 * NULs as an empty name).
 */
static int parse_lines(const struct buf *text, struct perms_list *out,
		       char *why, size_t why_len)
{
	const char *p = text->data ? text->data : "", *end = p + text->len;
	size_t line = 0;
	int rc = 0;

	if (memchr(p, '\0', text->len)) {
		snprintf(why, why_len, "the file holds a NUL byte");
		return -EINVAL;
	}
	if (!utf8_valid(p, text->len)) {
		snprintf(why, why_len, "the file is not UTF-8");
		return -EINVAL;
	}
	/* Notepad's byte order mark is no part of the first name. */
	if (end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *a = p, *b = nl ? nl : end;

		p = nl ? nl + 1 : end;
		line++;
		trim_line(&a, &b);
		if (a < b && *a != '#' && (size_t)(b - a) > PERMS_LINE_MAX) {
			snprintf(why, why_len, "line %zu is %zu bytes long: no "
				 "user or group name is longer than %d", line,
				 (size_t)(b - a), PERMS_LINE_MAX);
			rc = -EINVAL;
		} else if (a < b && *a != '#') {
			rc = list_add(out, a, (size_t)(b - a));
		}
	}
	return rc;
}

static void why_graph(char *why, size_t len, const char *what,
		      const struct graph_err *err)
{
	char detail[300];

	graph_err_format(err, detail, sizeof(detail));
	snprintf(why, len, "%s: %s", what, detail);
}

/* Bytes of a line a message quotes: what follows the quote must fit. */
#define PERMS_SHOWN 80

/* How much of line a message quotes ("%.*s"), ending between characters;
   *more is "..." where that is not all of it. */
static int shown(const char *line, const char **more)
{
	size_t len = strlen(line), cut = utf8_cut(line, len, PERMS_SHOWN);

	*more = cut < len ? "..." : "";
	return (int)cut;
}

/* "unknown user 'line'" (what: user or group), quoted as shown() does. */
static void why_unknown(char *why, size_t len, const char *what,
			const char *line)
{
	const char *more;
	int n = shown(line, &more);

	snprintf(why, len, "unknown %s '%.*s%s'", what, n, line, more);
}

/* why_graph for looking up a line, quoted as shown() does. */
static void why_lookup(char *why, size_t len, const char *line,
		       const struct graph_err *err)
{
	const char *more;
	int n = shown(line, &more);
	char what[128];

	snprintf(what, sizeof(what), "looking up '%.*s%s'", n, line, more);
	why_graph(why, len, what, err);
}

/* A user line (UPN or object id) to the user's id. */
static int resolve_user(struct upfs *u, const char *line, struct perms_list *ids,
			char *why, size_t why_len)
{
	struct graph_err err = { 0 };
	json_t *user = NULL;
	struct buf path;
	int rc;

	buf_init(&path, 4096);
	rc = tree_key(&path, TREE_USERS, line, "?$select=id,userPrincipalName");
	if (rc == 0)
		rc = graph_get(u->graph, path.data, &user, &err);
	if (rc == -ENOENT || rc == -EINVAL) {
		why_unknown(why, why_len, "user", line);
		rc = -EINVAL;
	} else if (rc) {
		why_lookup(why, why_len, line, &err);
	} else {
		const char *id = tree_str(user, "id");

		rc = list_add(ids, id, strlen(id));
	}
	json_decref(user);
	buf_release(&path);
	return rc;
}

static bool looks_like_id(const char *s)
{
	size_t n = strlen(s);

	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '-' || (s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

/* "/groups?$filter=displayName eq 'O''Brien'", escaped for a URL. */
static int group_filter_path(struct buf *path, const char *name)
{
	struct buf filter;
	int rc;

	buf_init(&filter, 4096);
	rc = buf_append_str(&filter, "displayName eq ");
	if (rc == 0)
		rc = tree_odata_string(&filter, name);
	if (rc == 0)
		rc = buf_append_str(path, "/groups?$select=id,displayName&$filter=");
	if (rc == 0)
		rc = graph_escape_segment(path, filter.data);
	buf_release(&filter);
	return rc;
}

/* One group (id, or display name that must name exactly one group). */
static int resolve_group(struct upfs *u, const char *line,
			 struct perms_list *ids, char *why, size_t why_len)
{
	struct graph_err err = { 0 };
	json_t *found = NULL;
	struct buf path;
	int rc;

	buf_init(&path, 8192);
	if (looks_like_id(line)) {
		rc = tree_key(&path, TREE_GROUPS, line, NULL);
		if (rc == 0)
			rc = graph_get(u->graph, path.data, &found, &err);
		if (rc == 0)
			rc = list_add(ids, tree_str(found, "id"),
				      strlen(tree_str(found, "id")));
		else if (rc == -ENOENT)
			why_unknown(why, why_len, "group", line);
		goto out;
	}
	rc = group_filter_path(&path, line);
	if (rc == 0)
		rc = graph_list(u->graph, path.data, &found, NULL, &err);
	if (rc == 0 && json_array_size(found) == 1) {
		const char *id = tree_str(json_array_get(found, 0), "id");

		rc = list_add(ids, id, strlen(id));
	} else if (rc == 0 && json_array_size(found) == 0) {
		why_unknown(why, why_len, "group", line);
		rc = -ENOENT;
	} else if (rc == 0) {
		const char *more;
		int w = shown(line, &more);
		int n = snprintf(why, why_len, "ambiguous group name "
				 "'%.*s%s': write one of the ids", w, line,
				 more);
		size_t i;
		json_t *g;

		json_array_foreach(found, i, g)
			if (n > 0 && (size_t)n < why_len)
				n += snprintf(why + n, why_len - (size_t)n, "%s %s",
					      i ? "," : "", tree_str(g, "id"));
		rc = -EINVAL;
	}
out:
	if (rc == -ENOENT)
		rc = -EINVAL;
	else if (rc && why[0] == '\0')
		why_lookup(why, why_len, line, &err);
	json_decref(found);
	buf_release(&path);
	return rc;
}

/* One $ref change: add (POST) or remove (DELETE) id in share's list. */
static int apply_ref(struct upfs *u, const char *share_id, const char *nav,
		     const char *kind, const char *id, bool add,
		     struct graph_err *err)
{
	json_t *body = NULL;
	struct buf path, ref;
	int rc;

	buf_init(&path, 4096);
	buf_init(&ref, 4096);
	rc = tree_key(&path, TREE_SHARES, share_id, nav);
	if (rc == 0 && !add) {
		rc = buf_append_str(&path, "/");
		if (rc == 0)
			rc = graph_escape_segment(&path, id);
	}
	if (rc == 0)
		rc = buf_append_str(&path, "/$ref");
	if (rc == 0 && add)
		rc = buf_printf(&ref, "%s/%s/%s", graph_endpoint(u->graph), kind,
				id);
	if (rc == 0 && add && (body = json_pack("{s:s}", "@odata.id",
						ref.data)) == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = graph_request(u->graph, add ? "POST" : "DELETE", path.data,
				   body, NULL, err);
	json_decref(body);
	buf_release(&path);
	buf_release(&ref);
	return rc;
}

/*
 * The ids now in a share's allowedUsers or allowedGroups, and (names not
 * NULL) beside each its userPrincipalName or displayName, "" if none.
 */
static int current_entries(struct upfs *u, const char *share_id,
			   const char *nav, struct perms_list *out,
			   struct perms_list *names, char *why, size_t why_len)
{
	struct graph_err err = { 0 };
	json_t *list = NULL, *v;
	struct buf path;
	size_t i;
	int rc;

	buf_init(&path, 4096);
	rc = tree_key(&path, TREE_SHARES, share_id, nav);
	if (rc == 0)
		rc = graph_list(u->graph, path.data, &list, NULL, &err);
	if (rc)
		why_graph(why, why_len, "reading the current list", &err);
	json_array_foreach(list, i, v) {
		const char *name = tree_str(v, "userPrincipalName");
		size_t before = out->n;

		if (name[0] == '\0')
			name = tree_str(v, "displayName");
		if (rc == 0)
			rc = list_add(out, tree_str(v, "id"),
				      strlen(tree_str(v, "id")));
		/* Beside its id: a repeated id adds no name either. */
		if (rc == 0 && names && out->n > before)
			rc = list_push(names, name, strlen(name));
	}
	json_decref(list);
	buf_release(&path);
	return rc;
}

static int current_ids(struct upfs *u, const char *share_id, const char *nav,
		       struct perms_list *out, char *why, size_t why_len)
{
	return current_entries(u, share_id, nav, out, NULL, why, why_len);
}

struct change {
	const char *id;
	bool add;
};

/* Undoes changes[0..n) in reverse; false if any undo failed. */
static bool undo(struct upfs *u, const char *share_id, const char *nav,
		 const char *kind, const struct change *changes, size_t n)
{
	struct graph_err err;
	bool ok = true;

	while (n-- > 0) {
		memset(&err, 0, sizeof(err));
		if (apply_ref(u, share_id, nav, kind, changes[n].id,
			      !changes[n].add, &err) != 0)
			ok = false;
	}
	return ok;
}

/* The $ref changes that turn have into want, into changes (room for all). */
static size_t diff(const struct perms_list *want, const struct perms_list *have,
		   struct change *changes)
{
	size_t n = 0;

	for (size_t i = 0; i < want->n; i++)
		if (!list_has(have, want->v[i]))
			changes[n++] = (struct change){ want->v[i], true };
	for (size_t i = 0; i < have->n; i++)
		if (!list_has(want, have->v[i]))
			changes[n++] = (struct change){ have->v[i], false };
	return n;
}

#define JOURNAL_PREFIX "perms/"

/* "perms/<share id>/allowedUsers": a commit under way. */
static int journal_key(struct buf *key, const char *share_id, const char *nav)
{
	int rc = buf_append_str(key, JOURNAL_PREFIX);

	if (rc == 0)
		rc = buf_append_str(key, share_id);
	return rc ? rc : buf_append_str(key, nav);
}

static json_t *list_json(const struct perms_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n; i++)
		if (json_array_append_new(a, json_string(l->v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static int list_from_json(const json_t *a, struct perms_list *out)
{
	const json_t *v;
	size_t i;
	int rc = json_is_array(a) ? 0 : -EINVAL;

	json_array_foreach(a, i, v)
		if (rc == 0)
			rc = json_is_string(v)
			     ? list_add(out, json_string_value(v),
					json_string_length(v))
			     : -EINVAL;
	return rc;
}

/* On disk before the first $ref goes: else a stop could leave it half. */
static int journal_write(struct upfs *u, const char *key,
			 const struct perms_list *want,
			 const struct perms_list *have)
{
	json_t *r = json_pack("{s:o, s:o}", "want", list_json(want), "have",
			      list_json(have));
	char *text = r ? json_dumps(r, JSON_COMPACT) : NULL;
	int rc = text ? cache_put_durable(u->cache, UPFS_CACHE_LOCAL, key, text,
					  strlen(text), cache_now_ms())
		      : -ENOMEM;

	free(text);
	json_decref(r);
	return rc;
}

/* The next read of the list asks the service. */
static void res_expire_share_list(struct upfs *u, const char *share_id,
				  const char *nav)
{
	struct buf key;

	buf_init(&key, 4096);
	if (tree_key(&key, TREE_SHARES, share_id, nav) == 0)
		res_expire(u, key.data);
	buf_release(&key);
}

/* The next reads of shares/ and of the share ask the service. */
static void res_expire_share(struct upfs *u, const char *share_id)
{
	struct buf key;

	res_expire(u, TREE_SHARES);
	buf_init(&key, 4096);
	if (tree_key(&key, TREE_SHARES, share_id, TREE_SHARE_SELECT) == 0)
		res_expire(u, key.data);
	buf_release(&key);
}

/* Rounds of reading the list and restoring the old one after a failure. */
#define PERMS_SETTLE_ROUNDS 2

/* Whether c holds in now: its id there if it adds, gone if it removes. */
static bool change_holds(const struct change *c, const struct perms_list *now)
{
	return list_has(now, c->id) == c->add;
}

/*
 * After a failed $ref, or a commit a stop cut short: which of its
 * changes[0..n) the service holds now decides, and only their ids are
 * touched, as others may have been changed by someone else since the
 * list was read (by the next mount, maybe days later). 0 when every
 * change holds (the commit happened after all), 1 when none does
 * (undone here, or none had gone through), -ENODATA when the list could
 * not be read (first round), -EAGAIN when what went through could not
 * be undone.
 */
static int settle(struct upfs *u, const char *share_id, const char *nav,
		  const char *kind, const struct change *changes, size_t n)
{
	struct graph_err err;
	char why[256];
	int rc = -ENODATA;

	/* The last round only reads: did the undo before it work? */
	for (int round = 0; round <= PERMS_SETTLE_ROUNDS; round++) {
		struct perms_list now = { 0 };
		size_t held = 0;

		if (current_ids(u, share_id, nav, &now, why, sizeof(why)) != 0) {
			list_release(&now);
			rc = round == 0 ? -ENODATA : -EAGAIN;
			break;
		}
		for (size_t i = 0; i < n; i++)
			held += change_holds(&changes[i], &now);
		rc = held == n ? 0 : held == 0 ? 1 : -EAGAIN;
		for (size_t i = n; rc < 0 && round < PERMS_SETTLE_ROUNDS &&
				   i-- > 0;) {
			if (!change_holds(&changes[i], &now))
				continue;
			memset(&err, 0, sizeof(err));
			apply_ref(u, share_id, nav, kind, changes[i].id,
				  !changes[i].add, &err);
		}
		list_release(&now);
		if (rc >= 0)
			break;
	}
	return rc;
}

static int apply_diff(struct upfs *u, const char *share_id, const char *nav,
		      const char *kind, const struct perms_list *want,
		      const struct perms_list *have, char *why, size_t why_len)
{
	struct change *changes = calloc(want->n + have->n + 1, sizeof(*changes));
	struct graph_err err = { 0 };
	struct buf key;
	bool settled_ok = true;
	size_t n, done;
	int rc = 0, settled;

	buf_init(&key, 4096);
	if (changes == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	n = diff(want, have, changes);
	if (n == 0)
		goto out;
	rc = journal_key(&key, share_id, nav);
	if (rc == 0)
		rc = journal_write(u, key.data, want, have);
	if (rc) {
		snprintf(why, why_len, "cannot journal the change: %s",
			 strerror(-rc));
		goto out;
	}
	for (done = 0; done < n && rc == 0; done++)
		rc = apply_ref(u, share_id, nav, kind, changes[done].id,
			       changes[done].add, &err);
	if (rc == 0)
		goto out;
	why_graph(why, why_len, "applying the change", &err);
	settled = settle(u, share_id, nav, kind, changes, n);
	if (settled == 0) {
		upfs_log(u, UPFS_LOG_INFO, "%s of share '%s': a change failed "
			 "(%s) but the service holds the new list: committed",
			 nav + 1, share_id, why);
		why[0] = '\0';
		rc = 0;
	} else if (settled == -EAGAIN ||
		   (settled == -ENODATA &&
		    !undo(u, share_id, nav, kind, changes, done - 1))) {
		upfs_log(u, UPFS_LOG_ERROR, "%s of share '%s' is half-applied: "
			 "undoing failed too; the next mount restores it, or "
			 "write it again", nav + 1, share_id);
		settled_ok = false;	/* the journal stays for that */
	}
out:
	if (key.len && settled_ok)
		cache_del(u->cache, UPFS_CACHE_LOCAL, key.data);
	buf_release(&key);
	free(changes);
	return rc;
}

/*
 * Settles the commit one journal record was left for, if one was: 0, or
 * a negative errno when it could not be settled (the record stays).
 */
static int recover_one(struct upfs *u, const char *key)
{
	const char *share = key + strlen(JOURNAL_PREFIX);
	const char *nav = strrchr(share, '/');
	struct perms_list want = { 0 }, have = { 0 };
	struct cache_entry entry = { 0 };
	struct change *changes = NULL;
	json_t *r = NULL;
	char *share_id = NULL;
	const char *kind = NULL;
	int rc;

	if (nav && strcmp(nav, "/allowedUsers") == 0)
		kind = "users";
	else if (nav && strcmp(nav, "/allowedGroups") == 0)
		kind = "groups";
	rc = kind ? cache_get(u->cache, UPFS_CACHE_LOCAL, key, &entry) : -EINVAL;
	if (rc == 0 && (r = json_loadb(entry.data, entry.len, 0, NULL)) == NULL)
		rc = -EINVAL;
	if (rc == 0)
		rc = list_from_json(json_object_get(r, "want"), &want);
	if (rc == 0)
		rc = list_from_json(json_object_get(r, "have"), &have);
	if (rc == 0 && (share_id = strndup(share, (size_t)(nav - share))) == NULL)
		rc = -ENOMEM;
	if (rc == -EINVAL)
		cache_del(u->cache, UPFS_CACHE_LOCAL, key);	/* not ours */
	if (rc == -EINVAL || rc == -ENOENT) {
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	changes = calloc(want.n + have.n + 1, sizeof(*changes));
	if (changes == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = settle(u, share_id, nav, kind, changes,
		    diff(&want, &have, changes));
	if (rc >= 0) {
		upfs_log(u, UPFS_LOG_INFO, "%s of share '%s': a commit cut "
			 "short by a stop is settled: %s", nav + 1, share_id,
			 rc == 0 ? "its changes stand"
				 : "its changes are undone");
		cache_del(u->cache, UPFS_CACHE_LOCAL, key);
		res_expire_share_list(u, share_id, nav);
		rc = 0;
	} else {
		upfs_log(u, UPFS_LOG_WARNING, "%s of share '%s': a commit cut "
			 "short by a stop could not be settled yet; the next "
			 "mount, or change of the list, tries again", nav + 1,
			 share_id);
		rc = -EAGAIN;
	}
out:
	json_decref(r);
	cache_entry_release(&entry);
	free(changes);
	free(share_id);
	list_release(&want);
	list_release(&have);
	return rc;
}

void perms_recover(struct upfs *u)
{
	char **keys = NULL;
	size_t n = 0;

	if (cache_keys(u->cache, UPFS_CACHE_LOCAL, &keys, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (strncmp(keys[i], JOURNAL_PREFIX,
			    strlen(JOURNAL_PREFIX)) == 0) {
			pthread_mutex_lock(&u->perms_lock);
			(void)recover_one(u, keys[i]);
			pthread_mutex_unlock(&u->perms_lock);
		}
	cache_keys_free(keys, n);
}

/* The lines of a that b does not have. */
static int list_minus(const struct perms_list *a, const struct perms_list *b,
		      struct perms_list *out)
{
	int rc = 0;

	for (size_t i = 0; i < a->n && rc == 0; i++)
		if (!list_has(b, a->v[i]))
			rc = list_add(out, a->v[i], strlen(a->v[i]));
	return rc;
}

/* Whether a line names an entry's UPN or group name (trimmed as lines
   are, any case). */
static bool line_names(const char *line, const char *name)
{
	const char *a = name, *b = name + strlen(name);
	size_t len;

	trim_line(&a, &b);
	len = (size_t)(b - a);
	return len && strlen(line) == len && strncasecmp(line, a, len) == 0;
}

/* A line of a users or groups list to the object's id, into ids. */
static int resolve_line(struct upfs *u, const char *kind, const char *line,
			struct perms_list *ids, char *why, size_t why_len)
{
	return strcmp(kind, "users") == 0
	       ? resolve_user(u, line, ids, why, why_len)
	       : resolve_group(u, line, ids, why, why_len);
}

/*
 * Marks in gone[] the current entries (have, names beside) that a line
 * the edit dropped names: by id, else by UPN or group name as listed.
 * A name two entries have is -EINVAL (which one?); a line that names no
 * entry is looked up (a user renamed meanwhile), and names none if the
 * directory does not know it either.
 */
static int mark_dropped(struct upfs *u, const char *kind, const char *line,
			const struct perms_list *have,
			const struct perms_list *names, bool *gone, char *why,
			size_t why_len)
{
	struct perms_list ids = { 0 };
	size_t by_id = 0, by_name = 0;
	int rc = 0;

	for (size_t i = 0; i < have->n; i++)
		if (strcasecmp(line, have->v[i]) == 0) {
			gone[i] = true;
			by_id++;
		}
	for (size_t i = 0; by_id == 0 && i < have->n; i++)
		by_name += line_names(line, names->v[i]);
	if (by_name > 1) {
		const char *more;
		int n = shown(line, &more);

		snprintf(why, why_len, "'%.*s%s' names %zu entries: remove "
			 "the one you mean by its id", n, line, more, by_name);
		return -EINVAL;
	}
	for (size_t i = 0; by_name == 1 && i < have->n; i++)
		gone[i] |= line_names(line, names->v[i]);
	if (by_id || by_name)
		return 0;
	rc = resolve_line(u, kind, line, &ids, why, why_len);
	if (rc == -EINVAL) {	/* unknown to the directory too: gone */
		why[0] = '\0';
		rc = 0;
	}
	for (size_t i = 0; rc == 0 && i < have->n; i++)
		gone[i] |= list_has(&ids, have->v[i]);
	list_release(&ids);
	return rc;
}

/*
 * Makes the list what text says. With base (the list as the editor saw
 * it), only the lines text adds to base are looked up, and every entry
 * the service holds now stays but one whose line text dropped
 * (mark_dropped): an entry added by someone else meanwhile stays.
 */
static int commit_list(struct upfs *u, const char *share_id, const char *nav,
		       const char *kind, const struct buf *base,
		       const struct buf *text, char *why, size_t why_len)
{
	struct perms_list lines = { 0 }, seen = { 0 }, added = { 0 };
	struct perms_list dropped = { 0 }, want = { 0 }, have = { 0 };
	struct perms_list names = { 0 };
	const struct perms_list *resolve = base ? &added : &lines;
	bool *gone = NULL;
	int rc = parse_lines(text, &lines, why, why_len);

	if (rc == 0 && base)
		rc = parse_lines(base, &seen, why, why_len);
	if (rc == 0 && base)
		rc = list_minus(&lines, &seen, &added);
	if (rc == 0 && base)
		rc = list_minus(&seen, &lines, &dropped);
	for (size_t i = 0; i < resolve->n && rc == 0; i++)
		rc = resolve_line(u, kind, resolve->v[i], &want, why, why_len);
	if (rc == 0)
		rc = current_entries(u, share_id, nav, &have, &names, why,
				     why_len);
	if (rc == 0 && base && (gone = calloc(have.n + 1, sizeof(*gone))) == NULL)
		rc = -ENOMEM;
	for (size_t i = 0; base && i < dropped.n && rc == 0; i++)
		rc = mark_dropped(u, kind, dropped.v[i], &have, &names, gone,
				  why, why_len);
	for (size_t i = 0; base && i < have.n && rc == 0; i++)
		if (!gone[i])
			rc = list_add(&want, have.v[i], strlen(have.v[i]));
	if (rc == 0)
		rc = apply_diff(u, share_id, nav, kind, &want, &have, why,
				why_len);
	/* Whatever happened, the next read asks the service; a share the
	   service no longer has (404) leaves shares/ at once. */
	res_expire_share_list(u, share_id, nav);
	if (rc == -ENOENT)
		res_expire_share(u, share_id);
	list_release(&lines);
	list_release(&seen);
	list_release(&added);
	list_release(&dropped);
	list_release(&want);
	list_release(&have);
	list_release(&names);
	free(gone);
	return rc;
}

/* The share's allowAllUsers as the service has it now. */
static int allow_all_now(struct upfs *u, const char *share_path, bool *now)
{
	struct graph_err err = { 0 };
	json_t *share = NULL;
	struct buf path;
	int rc;

	buf_init(&path, 4096);
	rc = buf_printf(&path, "%s?$select=id,allowAllUsers", share_path);
	if (rc == 0)
		rc = graph_get(u->graph, path.data, &share, &err);
	if (rc == 0)
		*now = json_is_true(json_object_get(share, "allowAllUsers"));
	json_decref(share);
	buf_release(&path);
	return rc;
}

static int commit_allow_all(struct upfs *u, const char *share_id,
			    const struct buf *text, char *why, size_t why_len)
{
	bool now = false;
	struct perms_list lines = { 0 };
	struct graph_err err = { 0 };
	json_t *body = NULL;
	struct buf path;
	int rc = parse_lines(text, &lines, why, why_len);

	buf_init(&path, 4096);
	if (rc == 0 && (lines.n != 1 || (strcmp(lines.v[0], "true") != 0 &&
					 strcmp(lines.v[0], "false") != 0))) {
		snprintf(why, why_len, "allow_all_users takes one line: true "
			 "or false");
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = tree_key(&path, TREE_SHARES, share_id, NULL);
	if (rc == 0 && (body = json_pack("{s:b}", "allowAllUsers",
					 strcmp(lines.v[0], "true") == 0)) == NULL)
		rc = -ENOMEM;
	/* Only the difference is applied: nothing when it already holds. */
	if (rc == 0 && allow_all_now(u, path.data, &now) == 0 &&
	    now == json_is_true(json_object_get(body, "allowAllUsers")))
		goto out;
	if (rc == 0) {
		bool want = json_is_true(json_object_get(body, "allowAllUsers"));

		rc = graph_request(u->graph, "PATCH", path.data, body, NULL, &err);
		/* A lost reply may hide a change made: the service says. */
		if (rc && graph_err_unsettled(&err) &&
		    allow_all_now(u, path.data, &now) == 0 && now == want) {
			upfs_log(u, UPFS_LOG_INFO, "the PATCH of %s failed (%s) "
				 "but the service holds the change: committed",
				 path.data, strerror(-rc));
			rc = 0;
		}
		if (rc)
			why_graph(why, why_len, "changing allowAllUsers", &err);
	}
	res_expire_share(u, share_id);
out:
	json_decref(body);
	list_release(&lines);
	buf_release(&path);
	return rc;
}

int perms_lines(const struct buf *text,
		int (*fn)(void *arg, const char *line), void *arg)
{
	struct perms_list lines = { 0 };
	char why[64];
	int rc = parse_lines(text, &lines, why, sizeof(why));

	for (size_t i = 0; i < lines.n && rc == 0; i++)
		rc = fn(arg, lines.v[i]);
	list_release(&lines);
	return rc;
}

/*
 * Two commits at once (a release's beside a close's, two editors) would
 * each settle against the list as it read it, and the first to finish
 * would drop the other's journal. A record a stop left for the list is
 * settled first (the mount's own settling may not have come to it):
 * the new commit's record would take its place.
 */
static int commit_list_alone(struct upfs *u, const char *share_id,
			     const char *nav, const char *kind,
			     const struct buf *base, const struct buf *text,
			     char *why, size_t why_len)
{
	struct buf key;
	int rc;

	buf_init(&key, 4096);
	pthread_mutex_lock(&u->perms_lock);
	rc = journal_key(&key, share_id, nav);
	if (rc == 0)
		rc = recover_one(u, key.data);
	if (rc)
		snprintf(why, why_len, "an earlier change of the list, cut "
			 "short by a stop, cannot be settled yet: %s",
			 strerror(-rc));
	if (rc == 0)
		rc = commit_list(u, share_id, nav, kind, base, text, why,
				 why_len);
	pthread_mutex_unlock(&u->perms_lock);
	buf_release(&key);
	return rc;
}

int perms_commit(struct upfs *u, enum fs_kind kind, const char *share_id,
		 const struct buf *base, const struct buf *text, char *why,
		 size_t why_len)
{
	switch (kind) {
	case FS_SHARE_USERS:
		return commit_list_alone(u, share_id, "/allowedUsers", "users",
					 base, text, why, why_len);
	case FS_SHARE_GROUPS:
		return commit_list_alone(u, share_id, "/allowedGroups",
					 "groups", base, text, why, why_len);
	case FS_SHARE_ALLOW_ALL:
		return commit_allow_all(u, share_id, text, why, why_len);
	default:
		return -EROFS;
	}
}
