/*
 * user.c — the job's user and becoming that user (backend.h).
 *
 * The kernel lets a process into a FUSE mount that lacks allow_other only
 * when its real, effective and saved uid and gid all equal the mount's
 * user_id and group_id; root is no exception. So the backend, which CUPS
 * runs as root, takes on the whole identity of the user before it touches
 * the mount, and cannot go back: whatever it does there, that user could
 * have done.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

static int fill(const struct passwd *pw, struct cups_user *out)
{
	int n = snprintf(out->name, sizeof(out->name), "%s", pw->pw_name);

	if (n < 0 || (size_t)n >= sizeof(out->name))
		return -ENAMETOOLONG;
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	/* "/" or "/nonexistent" is no home to find a mount in. */
	out->home[0] = '\0';
	if (pw->pw_dir && pw->pw_dir[0] == '/' && pw->pw_dir[1] != '\0' &&
	    strcmp(pw->pw_dir, "/nonexistent") != 0)
		snprintf(out->home, sizeof(out->home), "%s", pw->pw_dir);
	return 0;
}

/* getpwnam_r/getpwuid_r with a buffer that grows as they ask. */
static int lookup(const char *name, uid_t uid, struct cups_user *out)
{
	struct passwd pw, *found = NULL;
	size_t len = 1024;
	char *buf = NULL;
	int rc;

	for (;;) {
		char *bigger = realloc(buf, len);

		if (bigger == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		buf = bigger;
		rc = name ? getpwnam_r(name, &pw, buf, len, &found)
			  : getpwuid_r(uid, &pw, buf, len, &found);
		if (rc != ERANGE || len >= (1u << 20))
			break;
		len *= 2;
	}
	if (rc) {
		rc = -rc;
		goto out;
	}
	rc = found ? fill(found, out) : -ENOENT;
out:
	free(buf);
	return rc;
}

int cups_user_by_name(const char *name, struct cups_user *out)
{
	if (name == NULL || name[0] == '\0')
		return -ENOENT;
	return lookup(name, 0, out);
}

int cups_user_by_uid(uid_t uid, struct cups_user *out)
{
	return lookup(NULL, uid, out);
}

int cups_become(const char *name, uid_t uid, gid_t gid)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (geteuid() != 0) {
		/* Not root: it may only be who it is already. */
		if (getresuid(&r, &e, &s) || getresgid(&rg, &eg, &sg))
			return -errno;
		return r == uid && e == uid && s == uid && rg == gid &&
		       eg == gid && sg == gid ? 0 : -EPERM;
	}
	if ((name ? initgroups(name, gid) : setgroups(0, NULL)) != 0)
		return -errno;
	if (setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
		return -errno;
	/* Root must be gone for good, or the mount would still refuse. */
	if (uid != 0 && (setresuid(0, 0, 0) == 0 || geteuid() == 0))
		return -EPERM;
	return 0;
}
