/*
 * discover.c — `upfs` run without arguments (backend.h): one line per
 * share of every upfs mount, in the form cups-deviced reads:
 *
 *   network upfs:/~/print/office/Floor3 "HP LaserJet M507dn"
 *           "Floor3 (Building 1, 3, 301)" "" "Building 1, 3, 301"
 *
 * (one line: class, URI, make and model, info, device ID, location).
 *
 * CUPS runs this as root; a mount lets in only its owner, so a child
 * process per owner becomes that owner and lists that owner's mounts into
 * a pipe. The same URI from two users ("~/print/office/Floor3") is listed
 * once. The device ID is left empty on purpose: with the printer's own
 * MFG/MDL there, CUPS would offer that printer's native driver, whose
 * output (PCL, PostScript) Universal Print does not take.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "backend.h"

#define ATTR_MAX 512
/*
 * A mount that does not answer in this long (a hung service, a throttled
 * tenant) is left out of the listing rather than waited for: CUPS waits
 * on discovery, and so does every print dialog asking it.
 */
#define DISCOVERY_MOUNT_S 5

/* A user.upfs.* attribute of path (following the printer link), or "". */
static void attr(const char *path, const char *name, char *out, size_t len)
{
	char key[64];
	ssize_t n;

	snprintf(key, sizeof(key), "user.upfs.%s", name);
	n = getxattr(path, key, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
}

/* A field between double quotes: \ and " escaped, no line breaks. */
static void put_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s == '\n' || *s == '\r' ? ' ' : *s, out);
	}
	fputc('"', out);
}

static int share_line(const char *mnt, const char *home, const char *share,
		      FILE *out)
{
	char path[PATH_MAX], uri[3 * PATH_MAX], mm[2 * ATTR_MAX + 2];
	char make[ATTR_MAX], model[ATTR_MAX], loc[ATTR_MAX];
	char info[ATTR_MAX + 300];
	struct stat st;
	int rc;

	if (snprintf(path, sizeof(path), "%s/shares/%s/printer", mnt, share) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	/*
	 * A share without its printer link is not made yet: nothing to use.
	 * One whose printer cannot be read now (EIO, or a user who may not
	 * read printers) prints all the same, and a share left out here is
	 * one whose queue cups-sync removes.
	 */
	if (lstat(path, &st) != 0 && errno == ENOENT)
		return -ENOENT;
	rc = cups_uri_format(mnt, home, share, uri, sizeof(uri));
	if (rc)
		return rc;
	attr(path, "manufacturer", make, sizeof(make));
	attr(path, "model", model, sizeof(model));
	attr(path, "location", loc, sizeof(loc));
	if (make[0] && strncmp(model, make, strlen(make)) != 0)
		snprintf(mm, sizeof(mm), "%s %s", make, model);
	else
		snprintf(mm, sizeof(mm), "%s", model[0] ? model : "Unknown");
	snprintf(info, sizeof(info), loc[0] ? "%s (%s)" : "%s", share, loc);
	fprintf(out, "network %s ", uri);
	put_quoted(out, mm);
	fputc(' ', out);
	put_quoted(out, info);
	fputs(" \"\" ", out);
	put_quoted(out, loc);
	fputc('\n', out);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The shares of one mount, sorted by name. */
static int mount_lines(const struct cups_mount *m, FILE *out)
{
	struct cups_user owner = { 0 };
	char path[PATH_MAX], **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *d;
	DIR *dir = NULL;
	int rc = 0;

	cups_user_by_uid(m->uid, &owner);	/* no account: no "~" form */
	snprintf(path, sizeof(path), "%s/shares", m->path);
	dir = opendir(path);
	if (dir == NULL)
		return -errno;
	while (rc == 0 && (d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **more = realloc(names, (cap = cap * 2 + 16) *
						     sizeof(*names));

			if (more == NULL) {
				rc = -ENOMEM;
				break;
			}
			names = more;
		}
		names[n] = strdup(d->d_name);
		rc = names[n] ? 0 : -ENOMEM;
		n += rc == 0;
	}
	closedir(dir);
	if (n > 1)
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && share_line(m->path, owner.home, names[i], out))
			fprintf(stderr, "DEBUG: upfs: share '%s' of '%s' "
				"is not listed\n", names[i], m->path);
		free(names[i]);
	}
	free(names);
	return rc;
}

/*
 * mount_lines() in a child that SIGALRM ends after DISCOVERY_MOUNT_S; its
 * lines go to out whole or not at all.
 */
static int mount_lines_bounded(const struct cups_mount *m, FILE *out)
{
	int fds[2], status = 0;
	char buf[4096];
	ssize_t got;
	pid_t pid;

	if (fflush(out) != 0 || pipe2(fds, O_CLOEXEC) != 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		char *text = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&text, &len);
		int rc;

		close(fds[0]);
		alarm(DISCOVERY_MOUNT_S);
		rc = mem ? mount_lines(m, mem) : -ENOMEM;
		if (mem && fclose(mem) != 0)
			rc = -EIO;
		if (rc == 0 && len && write(fds[1], text, len) != (ssize_t)len)
			rc = -EIO;
		_exit(rc == 0 ? 0 : 1);
	}
	close(fds[1]);
	while ((got = read(fds[0], buf, sizeof(buf))) > 0 ||
	       (got < 0 && errno == EINTR))
		if (got > 0)
			fwrite(buf, 1, (size_t)got, out);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		return -ETIMEDOUT;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* The lines of every mount the process may enter, into out. */
static void owner_lines(const struct cups_mounts *m, uid_t uid, gid_t gid,
			FILE *out)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct cups_mount *mt = &m->v[i];
		int rc;

		/* Another owner's only when root shares it (job.c). */
		if (!(mt->uid == uid && mt->gid == gid) &&
		    !(mt->allow_other && mt->uid == 0))
			continue;
		rc = mount_lines_bounded(mt, out);
		if (rc)
			fprintf(stderr, "DEBUG: upfs: mount '%s' is not "
				"listed: %s\n", mt->path, strerror(-rc));
	}
}

/* Root: a child per owner becomes the owner and writes into a pipe. */
static int owner_child(const struct cups_mounts *m, uid_t uid, gid_t gid,
		       FILE *collect)
{
	struct cups_user owner;
	char buf[4096];
	int fds[2], status = 0;
	ssize_t got;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		FILE *out = fdopen(fds[1], "w");
		bool known = cups_user_by_uid(uid, &owner) == 0;

		close(fds[0]);
		if (out == NULL ||
		    cups_become(known ? owner.name : NULL, uid, gid) != 0)
			_exit(1);
		/* Only its own mounts: another owner's child lists those. */
		for (size_t i = 0; i < m->n; i++)
			if (m->v[i].uid == uid && m->v[i].gid == gid &&
			    mount_lines_bounded(&m->v[i], out) != 0)
				fprintf(stderr, "DEBUG: upfs: mount '%s' is "
					"not listed\n", m->v[i].path);
		_exit(fclose(out) == 0 ? 0 : 1);
	}
	close(fds[1]);
	while ((got = read(fds[0], buf, sizeof(buf))) > 0 ||
	       (got < 0 && errno == EINTR))
		if (got > 0)
			fwrite(buf, 1, (size_t)got, collect);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* Remembers uri (len bytes) in *seen; false if it was there already. */
static bool remember(char ***seen, size_t *n, const char *uri, size_t len)
{
	char **more;

	for (size_t i = 0; i < *n; i++)
		if (strlen((*seen)[i]) == len &&
		    strncmp((*seen)[i], uri, len) == 0)
			return false;
	more = realloc(*seen, (*n + 1) * sizeof(**seen));
	if (more == NULL)
		return true;	/* printed twice at worst */
	*seen = more;
	more[*n] = strndup(uri, len);
	*n += more[*n] != NULL;
	return true;
}

/* Prints each line of text whose URI (second word) is not seen yet. */
static void print_unique(char *text)
{
	char *save = NULL, **seen = NULL;
	size_t n = 0;

	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *uri = strchr(line, ' ');

		if (uri && remember(&seen, &n, uri + 1, strcspn(uri + 1, " ")))
			puts(line);
	}
	for (size_t i = 0; i < n; i++)
		free(seen[i]);
	free(seen);
}

int cups_discover(const char *table)
{
	struct cups_mounts m;
	char *text = NULL;
	size_t len = 0;
	FILE *collect;
	int rc = cups_mounts_read(table, &m);

	/* The scheme: a URI may also be typed in by hand. Out before the
	   children are forked, which must not inherit it unwritten (an
	   _exit that flushes, as ThreadSanitizer's does, wrote it twice). */
	puts("network upfs \"Unknown\" \"Universal Print share (upfs)\"");
	if (fflush(stdout) != 0 && rc == 0)
		rc = -errno;
	if (rc)
		return rc;
	collect = open_memstream(&text, &len);
	if (collect == NULL) {
		rc = -errno;
		goto out;
	}
	for (size_t i = 0; i < m.n; i++) {
		bool first = true;

		if (geteuid() != 0)
			break;
		for (size_t j = 0; j < i && first; j++)
			first = m.v[j].uid != m.v[i].uid ||
				m.v[j].gid != m.v[i].gid;
		if (first && owner_child(&m, m.v[i].uid, m.v[i].gid, collect))
			fprintf(stderr, "DEBUG: upfs: the mounts of uid %u "
				"are not listed\n", (unsigned)m.v[i].uid);
	}
	if (geteuid() != 0)
		owner_lines(&m, getuid(), getgid(), collect);
	if (fclose(collect) != 0)
		rc = -errno;
	if (rc == 0 && text)
		print_unique(text);
out:
	free(text);
	cups_mounts_release(&m);
	fflush(stdout);
	return rc;
}
