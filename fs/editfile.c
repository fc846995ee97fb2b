/*
 * editfile.c — committing edited files (see editfile.h): a share's
 * options here, its permission files in perms.c, the JSON files in
 * jsoncommit.c.
 *
 * shares/<s>/options lives on this mount only (the service has no such
 * property): its text is kept in LMDB under the share's id, checked against
 * the printer's capabilities when written, and turned into the
 * configuration of every job submitted through the share.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "adminops.h"
#include "editfile.h"
#include "joboptions.h"
#include "jobtasks.h"
#include "jsoncommit.h"
#include "pull.h"
#include "perms.h"
#include "readbase.h"
#include "tree_private.h"

#define OPTIONS_KEY_PREFIX "options/"

bool editfile_kind(enum fs_kind kind)
{
	return kind == FS_SHARE_OPTIONS || kind == FS_SHARE_USERS ||
	       kind == FS_SHARE_GROUPS || kind == FS_SHARE_ALLOW_ALL ||
	       jsoncommit_kind(kind) || adminops_ctl_kind(kind) ||
	       kind == FS_TASK_STATUS || kind == FS_JOB_TASK_STATUS;
}

bool editfile_has_base(enum fs_kind kind)
{
	return kind == FS_SHARE_USERS || kind == FS_SHARE_GROUPS ||
	       jsoncommit_kind(kind);
}

int editfile_load_base(struct upfs *u, const struct fs_node *n,
		       struct buf *out, bool *has)
{
	*has = editfile_has_base(n->kind);
	return *has ? editfile_load(u, n, out) : 0;
}

int editfile_load_save_base(struct upfs *u, const struct fs_node *n,
			    pid_t pid, struct buf *out, bool *has)
{
	bool read_before = false;

	*has = editfile_has_base(n->kind);
	if (!*has)
		return 0;
	if (readbase_get(u, pid, n->kind, n->id, out, &read_before) == 0 &&
	    read_before)
		return 0;
	buf_reset(out);
	return editfile_load(u, n, out);
}

static int options_key(struct buf *key, const char *share_id)
{
	int rc = buf_append_str(key, OPTIONS_KEY_PREFIX);

	return rc ? rc : buf_append_str(key, share_id);
}

static int options_load(struct upfs *u, const char *share_id, struct buf *out)
{
	struct cache_entry e = { 0 };
	struct buf key;
	int rc;

	buf_init(&key, 4096);
	rc = options_key(&key, share_id);
	if (rc == 0)
		rc = cache_get(u->cache, UPFS_CACHE_LOCAL, key.data, &e);
	if (rc == 0)
		rc = buf_append(out, e.data, e.len);
	else if (rc == -ENOENT)
		rc = 0;	/* no options yet: the printer's defaults */
	cache_entry_release(&e);
	buf_release(&key);
	return rc;
}

int editfile_load(struct upfs *u, const struct fs_node *n, struct buf *out)
{
	int64_t mtime;
	int ttl;

	if (n->kind == FS_SHARE_OPTIONS)
		return options_load(u, n->id, out);
	if (editfile_kind(n->kind))
		return tree_render(u, n, out, &mtime, &ttl, NULL);
	return -EROFS;
}

int editfile_write(struct buf *text, const char *data, size_t size, off_t off)
{
	size_t end;

	if (off == FS_OFF_END)
		off = (off_t)text->len;
	if (off < 0 || (size_t)off > UPFS_EDIT_MAX ||
	    size > UPFS_EDIT_MAX - (size_t)off)
		return -EFBIG;
	end = (size_t)off + size;
	if (end > text->len) {
		/* Grow, filling a gap past the end with NULs like a file. */
		size_t old = text->len;
		int rc = buf_append(text, NULL, 0);

		while (rc == 0 && text->len < end)
			rc = buf_append(text, "", 1);
		if (rc)
			return rc;
		memset(text->data + old, 0, end - old);
	}
	memcpy(text->data + off, data, size);
	return (int)size;
}

int editfile_truncate(struct buf *text, off_t size)
{
	if (size < 0 || (size_t)size > UPFS_EDIT_MAX)
		return -EFBIG;
	if ((size_t)size <= text->len) {
		buf_truncate(text, (size_t)size);
		return 0;
	}
	return editfile_write(text, "", 0, size) < 0 ? -ENOMEM : 0;
}

static int options_commit(struct upfs *u, const char *share_id,
			  const struct buf *text)
{
	json_t *config = NULL, *share = NULL;
	char why[300] = "";
	struct buf key;
	int rc;

	buf_init(&key, 4096);
	rc = joboptions_parse(text->data ? text->data : "", text->len, &config,
			      why, sizeof(why));
	if (rc == 0)
		rc = tree_get(u, TREE_SHARES, share_id, TREE_SHARE_SELECT, false,
			      u->opts.dir_ttl, RES_STALE_OK, &share, NULL);
	if (rc == 0)
		rc = joboptions_validate(config, json_object_get(share,
					 "capabilities"), why, sizeof(why));
	if (rc == 0)
		rc = options_key(&key, share_id);
	if (rc == 0)
		rc = cache_put(u->cache, UPFS_CACHE_LOCAL, key.data,
			       text->data ? text->data : "", text->len,
			       cache_now_ms());
	if (rc) {
		char what[200];

		snprintf(what, sizeof(what), "options of share '%s'", share_id);
		health_refusal(u, what, why[0] ? why : strerror(-rc));
	}
	json_decref(config);
	json_decref(share);
	buf_release(&key);
	return rc;
}

int editfile_commit(struct upfs *u, enum fs_kind kind, const char *id,
		    const char *owner, const struct buf *base,
		    const struct buf *text)
{
	static const char *const names[] = {
		[FS_SHARE_USERS] = "allowed_users",
		[FS_SHARE_GROUPS] = "allowed_groups",
		[FS_SHARE_ALLOW_ALL] = "allow_all_users",
		[FS_PRINTER_DEFAULTS] = "defaults.json",
		[FS_PRINTER_LOCATION] = "location.json",
		[FS_PRINTER_CTL] = "ctl",
		[FS_JOB_CTL] = "ctl",
		[FS_TASK_STATUS] = "status",
		[FS_JOB_TASK_STATUS] = "status",
	};
	char why[600] = "", what[200];
	int rc;

	if (kind == FS_SHARE_OPTIONS)
		return options_commit(u, id, text);
	if (!editfile_kind(kind))
		return -EROFS;
	if (jsoncommit_kind(kind))
		rc = jsoncommit(u, kind, id, base, text, why, sizeof(why));
	else if (adminops_ctl_kind(kind))
		rc = adminops_ctl(u, kind, id, owner, text, why, sizeof(why));
	else if (kind == FS_TASK_STATUS)
		rc = pull_commit_status(u, id, owner, text, why, sizeof(why));
	else if (kind == FS_JOB_TASK_STATUS)
		rc = jobtasks_commit_status(u, id, owner, text, why,
					    sizeof(why));
	else
		rc = perms_commit(u, kind, id, base, text, why, sizeof(why));
	if (rc && kind == FS_SETTINGS_JSON)
		snprintf(what, sizeof(what), "settings.json");
	else if (rc)
		snprintf(what, sizeof(what), "%s of %s '%s'", names[kind],
			 kind == FS_JOB_CTL ? "job"
			 : kind == FS_TASK_STATUS ||
			   kind == FS_JOB_TASK_STATUS ? "task"
			 : kind == FS_SHARE_OPTIONS || kind == FS_SHARE_USERS ||
			   kind == FS_SHARE_GROUPS || kind == FS_SHARE_ALLOW_ALL
				? "share" : "printer", id);
	if (rc)
		health_refusal(u, what, why[0] ? why : strerror(-rc));
	return rc;
}

json_t *editfile_share_configuration(struct upfs *u, const char *share_id)
{
	json_t *config = NULL;
	char why[300];
	struct buf text;

	buf_init(&text, UPFS_EDIT_MAX);
	/* Checked when written; a bad stored text falls back to defaults. */
	if (options_load(u, share_id, &text) != 0 ||
	    joboptions_parse(text.data ? text.data : "", text.len, &config,
			     why, sizeof(why)) != 0)
		config = json_object();
	buf_release(&text);
	return config;
}
