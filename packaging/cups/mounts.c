/*
 * mounts.c — the upfs mounts of the mount table (backend.h).
 *
 * upfs mounts with subtype "upfs", so the kernel lists it as type
 * "fuse.upfs" (also when mount.fuse3 mounts it from /etc/fstab). For a FUSE
 * mount the table also says who mounted it (user_id=, group_id=) and
 * whether its owner let other users in (allow_other): that is how the
 * backend tells one user's mount from another's without touching them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define UPFS_FSTYPE "fuse.upfs"

/* The table escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
					(s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* user_id=N, group_id=N and allow_other from the options field. */
static int parse_options(char *opts, struct cups_mount *m)
{
	bool have_uid = false, have_gid = false;
	char *save = NULL;

	for (char *o = strtok_r(opts, ",", &save); o;
	     o = strtok_r(NULL, ",", &save)) {
		char *end = NULL;
		unsigned long v;

		if (strcmp(o, "allow_other") == 0) {
			m->allow_other = true;
			continue;
		}
		if (strncmp(o, "user_id=", 8) && strncmp(o, "group_id=", 9))
			continue;
		errno = 0;
		v = strtoul(strchr(o, '=') + 1, &end, 10);
		if (errno || *end != '\0')
			return -EINVAL;
		if (o[0] == 'u') {
			m->uid = (uid_t)v;
			have_uid = true;
		} else {
			m->gid = (gid_t)v;
			have_gid = true;
		}
	}
	/* Without them the owner is unknown: never guess. */
	return have_uid && have_gid ? 0 : -EINVAL;
}

/* One line: 0 and a mount in m if it is upfs's, 1 if it is not. */
static int parse_line(char *line, struct cups_mount *m)
{
	char *save = NULL, *path, *type, *opts;
	int rc;

	if (strtok_r(line, " \n", &save) == NULL)
		return 1;
	path = strtok_r(NULL, " \n", &save);
	type = strtok_r(NULL, " \n", &save);
	opts = strtok_r(NULL, " \n", &save);
	if (!path || !type || !opts || strcmp(type, UPFS_FSTYPE) != 0)
		return 1;
	memset(m, 0, sizeof(*m));
	rc = parse_options(opts, m);
	if (rc)
		return 1;
	unescape(path);
	m->path = strdup(path);
	return m->path ? 0 : -ENOMEM;
}

static int append(struct cups_mounts *out, const struct cups_mount *m)
{
	struct cups_mount *v = realloc(out->v, (out->n + 1) * sizeof(*v));

	if (v == NULL)
		return -ENOMEM;
	v[out->n++] = *m;
	out->v = v;
	return 0;
}

int cups_mounts_read(const char *table, struct cups_mounts *out)
{
	struct cups_mount m;
	char *line = NULL;
	size_t cap = 0;
	FILE *fh;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	fh = fopen(table, "re");
	if (fh == NULL)
		return -errno;
	while (rc >= 0 && getline(&line, &cap, fh) > 0) {
		rc = parse_line(line, &m);
		if (rc == 0) {
			rc = append(out, &m);
			if (rc)
				free(m.path);
		}
	}
	if (rc >= 0 && ferror(fh))
		rc = -EIO;
	free(line);
	fclose(fh);
	if (rc < 0) {
		cups_mounts_release(out);
		return rc;
	}
	return 0;
}

void cups_mounts_release(struct cups_mounts *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

const struct cups_mount *cups_mounts_at(const struct cups_mounts *m,
					const char *path)
{
	const struct cups_mount *found = NULL;

	/* The last one wins: a mount on top hides what is under it. */
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].path, path) == 0)
			found = &m->v[i];
	return found;
}
