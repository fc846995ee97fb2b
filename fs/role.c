/*
 * role.c — whether the signed-in user administers printing (role.h).
 *
 * The directory roles of the user come from GET /me/transitiveMemberOf/
 * microsoft.graph.directoryRole (User.Read lists them, and
 * RoleManagement.Read.Directory shows which they are), asked for the first
 * time a mode depends on it, remembered in LMDB so a remount and an
 * offline mount know it without a request, and asked again once a day.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "role.h"
#include "tree_private.h"

#define ROLE_PATH                                                            \
	"/me/transitiveMemberOf/microsoft.graph.directoryRole"              \
	"?$select=id,displayName,roleTemplateId"
#define ROLE_KEY "role/directory-roles"
#define ROLE_TTL_MS ((int64_t)24 * 3600 * 1000)

/* The roles that may manage printers, shares and their settings. */
static const char *const admin_templates[] = {
	"644ef478-e28f-4e28-b9dc-3fdde9aa0b1f",	/* Printer Administrator */
	"62e90394-69f5-4237-9190-012177145e10",	/* Global Administrator */
	NULL,
};

/*
 * A token that may not read directory roles (no
 * RoleManagement.Read.Directory) is given each of the user's roles with
 * its id alone, every other property null: then a role that is not
 * Printer or Global Administrator cannot be told from one that is.
 */
static enum upfs_role role_of_list(const json_t *roles)
{
	enum upfs_role role = UPFS_ROLE_USER;
	const json_t *r;
	size_t i;

	json_array_foreach(roles, i, r) {
		if (tree_str(r, "roleTemplateId")[0] == '\0')
			role = UPFS_ROLE_UNKNOWN;
		for (const char *const *t = admin_templates; *t; t++)
			if (strcmp(tree_str(r, "roleTemplateId"), *t) == 0)
				return UPFS_ROLE_ADMIN;
	}
	return role;
}

/* The roles as LMDB holds them, if fetched within the day. */
static enum upfs_role role_from_cache(struct upfs *u, int64_t now)
{
	struct cache_entry e = { 0 };
	enum upfs_role role = UPFS_ROLE_UNKNOWN;
	json_t *list;

	if (cache_get(u->cache, UPFS_CACHE_LOCAL, ROLE_KEY, &e) != 0)
		return role;
	list = json_loadb(e.data, e.len, 0, NULL);
	if (json_is_array(list) && now - e.fetched_ms < ROLE_TTL_MS)
		role = role_of_list(list);
	json_decref(list);
	cache_entry_release(&e);
	return role;
}

/*
 * Asks the service. An app-only token has no /me, a token without
 * User.Read may not read it: the role stays unknown then, and nothing is
 * logged, since every refusal the service makes is reported when it
 * happens.
 */
static enum upfs_role role_from_service(struct upfs *u, int64_t now)
{
	struct graph_err err = { 0 };
	json_t *list = NULL;
	enum upfs_role role = UPFS_ROLE_UNKNOWN;
	char *text;

	if (graph_list(u->graph, ROLE_PATH, &list, NULL, &err) != 0)
		return role;
	role = role_of_list(list);
	text = json_dumps(list, JSON_COMPACT);
	if (text)
		cache_put(u->cache, UPFS_CACHE_LOCAL, ROLE_KEY, text,
			  strlen(text), now);
	free(text);
	json_decref(list);
	return role;
}

enum upfs_role role_get(struct upfs *u)
{
	int64_t now = cache_now_ms();
	enum upfs_role role;

	pthread_mutex_lock(&u->role_lock);
	if (u->role_checked_ms && now - u->role_checked_ms < ROLE_TTL_MS) {
		role = u->role;
		goto out;
	}
	role = role_from_cache(u, now);
	if (role == UPFS_ROLE_UNKNOWN && !u->opts.offline)
		role = role_from_service(u, now);
	u->role = role;
	u->role_checked_ms = now;
out:
	pthread_mutex_unlock(&u->role_lock);
	return role;
}

void role_forget(struct upfs *u)
{
	pthread_mutex_lock(&u->role_lock);
	u->role_checked_ms = 0;
	pthread_mutex_unlock(&u->role_lock);
	cache_del(u->cache, UPFS_CACHE_LOCAL, ROLE_KEY);
}

bool role_kind_needs_admin(enum fs_kind kind)
{
	switch (kind) {
	case FS_SHARE_USERS:
	case FS_SHARE_GROUPS:
	case FS_SHARE_ALLOW_ALL:
	case FS_PRINTER_DEFAULTS:
	case FS_PRINTER_LOCATION:
	case FS_PRINTER_CTL:
	case FS_SETTINGS_JSON:
		return true;
	default:
		return false;
	}
}
