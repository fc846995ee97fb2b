/*
 * shareops.c — share create, rename, printer swap and delete (shareops.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shareops.h"
#include "tree_private.h"

struct pending_share {
	char *name;
	int64_t created_ms;
	struct pending_share *next;
};

/* Under scratch_lock. */
static struct pending_share **pending_find(struct upfs *u, const char *name)
{
	struct pending_share **p;

	for (p = &u->pending; *p; p = &(*p)->next)
		if (strcmp((*p)->name, name) == 0)
			return p;
	return NULL;
}

bool shareops_is_pending(struct upfs *u, const char *name)
{
	bool found;

	pthread_mutex_lock(&u->scratch_lock);
	found = pending_find(u, name) != NULL;
	pthread_mutex_unlock(&u->scratch_lock);
	return found;
}

static void pending_remove(struct upfs *u, const char *name)
{
	struct pending_share **p, *gone = NULL;

	pthread_mutex_lock(&u->scratch_lock);
	p = pending_find(u, name);
	if (p) {
		gone = *p;
		*p = gone->next;
	}
	pthread_mutex_unlock(&u->scratch_lock);
	if (gone) {
		free(gone->name);
		free(gone);
	}
}

/* "../../printers/P" (or ".../printers/P/") -> P's printer id. */
static int printer_of_target(struct upfs *u, const char *target,
			     struct buf *id)
{
	const char *p = strstr(target, "printers/");
	char name[512];
	size_t len;

	if (p == NULL)
		return -ENOENT;
	p += strlen("printers/");
	len = strcspn(p, "/");
	if (len == 0 || len >= sizeof(name) || p[len + (p[len] == '/')] != '\0')
		return -ENOENT;
	memcpy(name, p, len);
	name[len] = '\0';
	return node_id_of(u, FS_PRINTERS, name, id);
}

/* The service's answer as an errno people expect from mkdir and ln. */
static int share_errno(int rc, const struct graph_err *err)
{
	if (err->status == 409 || strcmp(err->code, "nameAlreadyExists") == 0)
		return -EEXIST;
	if (rc == -EBUSY)
		return -EEXIST;
	return rc;
}

/*
 * Everything that lists shares or their printers is stale now: also the
 * shares/ folders of the printers a share left and joined (printer_ids,
 * NULL-ended; NULL or "" where unknown).
 */
static void expire_shares(struct upfs *u, const char *share_id,
			  const char *const *printer_ids)
{
	struct buf key;

	res_expire(u, TREE_SHARES);
	res_expire(u, TREE_PRINTERS);
	buf_init(&key, 4096);
	if (share_id && tree_key(&key, TREE_SHARES, share_id,
				 TREE_SHARE_SELECT) == 0)
		res_expire(u, key.data);
	for (; printer_ids && *printer_ids; printer_ids++) {
		buf_reset(&key);
		if ((*printer_ids)[0] &&
		    tree_key(&key, TREE_PRINTERS, *printer_ids, "/shares") == 0)
			res_expire(u, key.data);
	}
	buf_release(&key);
}

/* The printer share_id is on, as this mount knows it, into pid. */
static void share_printer_id(struct upfs *u, const char *share_id,
			     struct buf *pid)
{
	json_t *share = NULL;
	struct buf key;

	buf_init(&key, 4096);
	if (tree_key(&key, TREE_SHARES, share_id, TREE_SHARE_SELECT) == 0 &&
	    res_get(u, key.data, false, u->opts.dir_ttl, RES_STALE_OK, &share,
		    NULL) == 0)
		(void)buf_append_str(pid, tree_str(json_object_get(
						   share, "printer"), "id"));
	json_decref(share);
	buf_release(&key);
}

static int report(struct upfs *u, const char *what, int rc,
		  const struct graph_err *err)
{
	char detail[400];

	if (rc == 0)
		return 0;
	if (err && err->status)
		graph_err_format(err, detail, sizeof(detail));
	else
		snprintf(detail, sizeof(detail), "%s", strerror(-rc));
	health_refusal(u, what, detail);
	return rc;
}

/* Characters of a UTF-8 name: the service's limit on a share's name is
   50 of them (reference §3.4), not 50 bytes. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

int shareops_mkdir(struct upfs *u, const char *name)
{
	struct pending_share *p;
	struct buf id;
	int rc;

	buf_init(&id, 4096);
	rc = node_id_of(u, FS_SHARES, name, &id);
	buf_release(&id);
	if (rc == 0 || shareops_is_pending(u, name))
		return -EEXIST;
	if (utf8_chars(name) > 50)
		return report(u, "mkdir", -ENAMETOOLONG, NULL);
	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->name = strdup(name)) == NULL) {
		free(p);
		return -ENOMEM;
	}
	p->created_ms = cache_now_ms();
	pthread_mutex_lock(&u->scratch_lock);
	p->next = u->pending;
	u->pending = p;
	pthread_mutex_unlock(&u->scratch_lock);
	return 0;
}

/* The printer@odata.bind URL of the printer a link target names, and
   that printer's id (pid). */
static int printer_bind(struct upfs *u, const char *target, struct buf *out,
			struct buf *pid)
{
	int rc = printer_of_target(u, target, pid);

	if (rc == 0)
		rc = buf_printf(out, "%s/print/printers/",
				graph_endpoint(u->graph));
	if (rc == 0)
		rc = graph_escape_segment(out, pid->data);
	return rc;
}

/*
 * What a share request asked of the service, to be read back when its
 * reply was lost or a 5xx (graph_err_unsettled): the share gone, or
 * named name and on printer_id (each when not NULL).
 */
struct share_want {
	bool gone;
	const char *name;
	const char *printer_id;
};

/* Whether the service holds what want asks of share share_id now. */
static bool share_holds(struct upfs *u, const char *share_id,
			const struct share_want *want)
{
	struct graph_err err = { 0 };
	json_t *share = NULL;
	struct buf path;
	bool holds = false;
	int rc;

	buf_init(&path, 4096);
	rc = tree_key(&path, TREE_SHARES, share_id,
		      "?$select=id,displayName&$expand=printer");
	if (rc == 0 && want->gone)
		holds = tree_gone_now(u->graph, path.data);
	else if (rc == 0)
		rc = graph_get(u->graph, path.data, &share, &err);
	if (rc == 0 && !want->gone)
		holds = (!want->name ||
			 strcmp(tree_str(share, "displayName"), want->name) ==
				 0) &&
			(!want->printer_id ||
			 strcmp(tree_str(json_object_get(share, "printer"),
					 "id"), want->printer_id) == 0);
	json_decref(share);
	buf_release(&path);
	return holds;
}

/* A share named name on printer_id at the service now (a create whose
   reply was lost): its id in *id. */
static bool share_made(struct upfs *u, const char *name,
		       const char *printer_id, struct buf *id)
{
	const struct share_want want = { false, name, printer_id };
	struct graph_err err = { 0 };
	json_t *list = NULL, *v;
	size_t i;
	bool made = false;

	if (graph_list(u->graph, TREE_SHARES "?$select=id,displayName", &list,
		       NULL, &err) != 0)
		return false;
	json_array_foreach(list, i, v)
		if (strcmp(tree_str(v, "displayName"), name) == 0 &&
		    share_holds(u, tree_str(v, "id"), &want)) {
			made = buf_append_str(id, tree_str(v, "id")) == 0;
			break;
		}
	json_decref(list);
	return made;
}

static void log_settled(struct upfs *u, const char *method,
			const char *path, int rc)
{
	upfs_log(u, UPFS_LOG_INFO, "the %s of %s failed (%s) but the service "
		 "holds the change: done", method, path, strerror(-rc));
}

int shareops_create(struct upfs *u, const char *name, const char *target)
{
	struct graph_err err = { 0 };
	json_t *body = NULL;
	struct buf bind, pid, made;
	int rc;

	buf_init(&bind, 4096);
	buf_init(&pid, 4096);
	buf_init(&made, 4096);
	rc = printer_bind(u, target, &bind, &pid);
	if (rc == 0 && (body = json_pack("{s:s, s:s}", "displayName", name,
					 "printer@odata.bind",
					 bind.data)) == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = share_errno(graph_request(u->graph, "POST", TREE_SHARES,
					       body, NULL, &err), &err);
	/* Sent again, a lost create would be refused as a taken name. */
	if (rc && graph_err_unsettled(&err) &&
	    share_made(u, name, pid.data, &made)) {
		log_settled(u, "POST", TREE_SHARES, rc);
		rc = 0;
	}
	if (rc == 0)
		pending_remove(u, name);
	expire_shares(u, NULL, (const char *const[]){ pid.data, NULL });
	json_decref(body);
	buf_release(&bind);
	buf_release(&pid);
	buf_release(&made);
	return report(u, "creating the share", rc, &err);
}

static int share_request(struct upfs *u, const char *method,
			 const char *share_id, json_t *body,
			 const struct share_want *want, struct graph_err *err)
{
	struct buf path, was_on;
	int rc;

	buf_init(&path, 4096);
	buf_init(&was_on, 4096);
	share_printer_id(u, share_id, &was_on);
	rc = tree_key(&path, TREE_SHARES, share_id, NULL);
	if (rc == 0)
		rc = share_errno(graph_request(u->graph, method, path.data, body,
					       NULL, err), err);
	if (rc && graph_err_unsettled(err) && share_holds(u, share_id, want)) {
		log_settled(u, method, path.data, rc);
		rc = 0;
	}
	expire_shares(u, share_id, (const char *const[]){
			      was_on.data ? was_on.data : "",
			      want->printer_id, NULL });
	buf_release(&path);
	buf_release(&was_on);
	return rc;
}

int shareops_rmdir(struct upfs *u, const char *name)
{
	struct graph_err err = { 0 };
	struct buf id;
	int rc;

	if (shareops_is_pending(u, name)) {
		pending_remove(u, name);
		return 0;
	}
	buf_init(&id, 4096);
	rc = node_id_of(u, FS_SHARES, name, &id);
	if (rc == 0)
		rc = share_request(u, "DELETE", id.data, NULL,
				   &(struct share_want){ .gone = true }, &err);
	buf_release(&id);
	return report(u, "deleting the share", rc, &err);
}

/* A pending share (made by mkdir, no printer yet) is renamed here. */
static int rename_pending(struct upfs *u, const char *from, const char *to)
{
	struct pending_share **p;
	char *name = strdup(to);
	int rc = name ? 0 : -ENOMEM;

	pthread_mutex_lock(&u->scratch_lock);
	p = rc == 0 ? pending_find(u, from) : NULL;
	if (rc == 0 && p == NULL)
		rc = -ENOENT;
	if (rc == 0) {
		free((*p)->name);
		(*p)->name = name;
		name = NULL;
	}
	pthread_mutex_unlock(&u->scratch_lock);
	free(name);
	return rc;
}

int shareops_rename(struct upfs *u, const char *from, const char *to)
{
	struct graph_err err = { 0 };
	json_t *body = NULL;
	struct buf id, other;
	bool pending = shareops_is_pending(u, from);
	int rc;

	buf_init(&id, 4096);
	buf_init(&other, 4096);
	rc = pending ? 0 : node_id_of(u, FS_SHARES, from, &id);
	if (rc == 0 && (node_id_of(u, FS_SHARES, to, &other) == 0 ||
			shareops_is_pending(u, to)))
		rc = -EEXIST;
	/* The create's limit holds for a new name too: said here, not
	   left to the service's 400. */
	if (rc == 0 && utf8_chars(to) > 50)
		rc = -ENAMETOOLONG;
	if (rc == 0 && pending) {
		rc = rename_pending(u, from, to);
		goto out;
	}
	if (rc == 0 && (body = json_pack("{s:s}", "displayName", to)) == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = share_request(u, "PATCH", id.data, body,
				   &(struct share_want){ .name = to }, &err);
out:
	json_decref(body);
	buf_release(&id);
	buf_release(&other);
	return report(u, "renaming the share", rc, &err);
}

int shareops_set_printer(struct upfs *u, const char *share_id,
			 const char *target)
{
	struct graph_err err = { 0 };
	json_t *body = NULL;
	struct buf bind, pid;
	int rc;

	buf_init(&bind, 4096);
	buf_init(&pid, 4096);
	rc = printer_bind(u, target, &bind, &pid);
	if (rc == 0 && (body = json_pack("{s:s}", "printer@odata.bind",
					 bind.data)) == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = share_request(u, "PATCH", share_id, body,
				   &(struct share_want){ .printer_id =
							 pid.data },
				   &err);
	json_decref(body);
	buf_release(&bind);
	buf_release(&pid);
	return report(u, "swapping the share's printer", rc, &err);
}

int shareops_list_pending(struct upfs *u, struct fs_entries *out)
{
	int rc = 0;

	pthread_mutex_lock(&u->scratch_lock);
	for (struct pending_share *p = u->pending; p && rc == 0; p = p->next)
		rc = fs_entries_add(out, p->name, FS_SHARE_PENDING, NULL, NULL,
				    p->created_ms / 1000);
	pthread_mutex_unlock(&u->scratch_lock);
	return rc;
}

void shareops_release(struct upfs *u)
{
	struct pending_share *p = u->pending, *next;

	for (; p; p = next) {
		next = p->next;
		free(p->name);
		free(p);
	}
	u->pending = NULL;
}
