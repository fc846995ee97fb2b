/*
 * upfsctl_cups.c — `upfsctl cups-sync`: one CUPS queue per share of the
 * running upfs mounts, on the CUPS backend upfs (upfs-backend(7)).
 *
 * The shares are what CUPS itself learns from the backend (`lpinfo -v`:
 * cupsd runs the backend as root, so it sees every user's mounts); the
 * queues are what `lpstat -v` lists; lpadmin adds and removes. A queue is
 * removed only when the mount it points into is running and no longer
 * has its share, and it holds no job: a mount that is down says nothing
 * about its shares, and lpadmin -x cancels a queue's jobs.
 * With --mount, only that mount's devices and queues are touched.
 *
 * The programs run without a shell (share names are anybody's text) and
 * with LC_ALL=C (their words are parsed).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "buf.h"
#include "upfsctl.h"

#define CUPS_OUTPUT_MAX ((size_t)4 << 20)
#define QUEUE_NAME_MAX 127	/* lpadmin's limit */
#define DEFAULT_POLICY "authenticated"

struct device {
	char *uri, *info, *location;	/* owned */
};

struct queue {
	char *name, *uri;		/* owned */
};

struct sync {
	struct device *dev;
	size_t ndev;
	struct queue *q;
	size_t nq;
	const char *ppd;
	const char *policy;
	const char *mount;	/* --mount as given, or NULL: every mount */
	char prefix[PATH_MAX * 3 + 16];	/* its URIs' "upfs:/MNT/" */
	bool dry_run;
};

/* Runs argv (no shell, LC_ALL=C); its stdout into out if not NULL.
   The exit status, or a negative errno if it could not run. */
static int run(char *const argv[], struct buf *out)
{
	int fds[2] = { -1, -1 }, status = 0, rc = 0;
	char chunk[4096];
	ssize_t got = 0;
	pid_t pid;

	if (out && pipe2(fds, O_CLOEXEC) != 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (out && dup2(fds[1], STDOUT_FILENO) < 0)
			_exit(127);
		setenv("LC_ALL", "C", 1);
		execvp(argv[0], argv);
		fprintf(stderr, "upfsctl: cannot run '%s': %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	if (out)
		close(fds[1]);
	if (pid < 0) {
		rc = -errno;
		if (out)
			close(fds[0]);
		return rc;
	}
	while (out && ((got = read(fds[0], chunk, sizeof(chunk))) > 0 ||
		       (got < 0 && errno == EINTR)))
		if (got > 0 && rc == 0)
			rc = buf_append(out, chunk, (size_t)got);
	if (out && got < 0 && rc == 0)
		rc = -errno;	/* what it printed is not all there */
	if (out)
		close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc)
		return rc;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static char *dup_trimmed(const char *s)
{
	size_t len;

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\r'))
		len--;
	return strndup(s, len);
}

/* One "key = value" line of `lpinfo -l -v` into the current device. */
static int device_field(struct device *d, const char *line)
{
	static const char *const keys[] = { "info = ", "location = " };
	char **slots[] = { &d->info, &d->location };

	while (*line == ' ' || *line == '\t')
		line++;
	for (size_t i = 0; i < 2; i++) {
		if (strncmp(line, keys[i], strlen(keys[i])) != 0)
			continue;
		free(*slots[i]);
		*slots[i] = dup_trimmed(line + strlen(keys[i]));
		return *slots[i] ? 0 : -ENOMEM;
	}
	return 0;
}

/* `lpinfo -l -v`: "Device: uri = ..." then indented fields. Only the
   upfs:/ devices (not the bare scheme line). */
static int parse_devices(struct sync *s, char *text)
{
	struct device *cur = NULL;
	char *save = NULL;
	int rc = 0;

	for (char *line = strtok_r(text, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		struct device *more;

		if (strncmp(line, "Device: uri = ", 14) != 0) {
			rc = cur ? device_field(cur, line) : 0;
			continue;
		}
		cur = NULL;
		if (strncmp(line + 14, "upfs:/", 6) != 0)
			continue;
		more = realloc(s->dev, (s->ndev + 1) * sizeof(*more));
		if (more == NULL)
			return -ENOMEM;
		s->dev = more;
		cur = &s->dev[s->ndev++];
		memset(cur, 0, sizeof(*cur));
		cur->uri = dup_trimmed(line + 14);
		rc = cur->uri ? 0 : -ENOMEM;
	}
	return rc;
}

/* `lpstat -v`: "device for NAME: URI". */
static int parse_queues(struct sync *s, char *text)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon;
		struct queue *more;

		if (strncmp(line, "device for ", 11) != 0 ||
		    (colon = strstr(line + 11, ": ")) == NULL)
			continue;
		more = realloc(s->q, (s->nq + 1) * sizeof(*more));
		if (more == NULL)
			return -ENOMEM;
		s->q = more;
		more[s->nq].name = strndup(line + 11, (size_t)(colon - line - 11));
		more[s->nq].uri = dup_trimmed(colon + 2);
		if (!more[s->nq].name || !more[s->nq].uri) {
			free(more[s->nq].name);
			free(more[s->nq].uri);
			return -ENOMEM;
		}
		s->nq++;
	}
	return 0;
}

static void sync_release(struct sync *s)
{
	for (size_t i = 0; i < s->ndev; i++) {
		free(s->dev[i].uri);
		free(s->dev[i].info);
		free(s->dev[i].location);
	}
	for (size_t i = 0; i < s->nq; i++) {
		free(s->q[i].name);
		free(s->q[i].uri);
	}
	free(s->dev);
	free(s->q);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The share of a URI (its last segment, decoded) as a queue name: no
   space, "/", "\", "?", "'", '"', "#" or "@" (lpadmin's rules). */
static void queue_name(const char *uri, char *out, size_t len)
{
	const char *p = strrchr(uri, '/');
	size_t at = 0;

	for (p = p ? p + 1 : uri; *p && at + 1 < len && at < QUEUE_NAME_MAX;
	     p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
			c = (unsigned char)(hexval(p[1]) * 16 + hexval(p[2]));
			p += 2;
		}
		out[at++] = c <= ' ' || c == 0x7f || strchr("/\\?'\"#@", c)
				    ? '_' : (char)c;
	}
	while (at > 0 && ((unsigned char)out[at - 1] & 0xc0) == 0x80 &&
	       *p)
		at--;	/* cut inside a UTF-8 character */
	if (at > 0 && (unsigned char)out[at - 1] >= 0xc0 && *p)
		at--;
	out[at] = '\0';
	if (at == 0)
		snprintf(out, len, "upfs");
}

static bool name_taken(const struct sync *s, const char *name)
{
	for (size_t i = 0; i < s->nq; i++)
		if (strcasecmp(s->q[i].name, name) == 0)
			return true;
	return false;
}

static bool has_queue(const struct sync *s, const char *uri)
{
	for (size_t i = 0; i < s->nq; i++)
		if (strcmp(s->q[i].uri, uri) == 0)
			return true;
	return false;
}

static bool has_device(const struct sync *s, const char *uri, bool mount)
{
	size_t len = mount ? (size_t)(strrchr(uri, '/') - uri) : 0;

	for (size_t i = 0; i < s->ndev; i++) {
		const char *d = s->dev[i].uri;

		if (!mount ? strcmp(d, uri) == 0
			   : strncmp(d, uri, len) == 0 && d[len] == '/' &&
				     strchr(d + len + 1, '/') == NULL)
			return true;
	}
	return false;
}

/* Adds the queue of one device; its name is remembered as taken. */
static int add_queue(struct sync *s, const struct device *d)
{
	char base[QUEUE_NAME_MAX + 1], name[QUEUE_NAME_MAX + 16];
	char policy[128];
	struct queue *more;
	int rc = 0;

	queue_name(d->uri, base, sizeof(base));
	snprintf(name, sizeof(name), "%s", base);
	for (int n = 2; name_taken(s, name); n++)
		snprintf(name, sizeof(name), "%s_%d", base, n);
	snprintf(policy, sizeof(policy), "printer-op-policy=%s", s->policy);
	if (!s->dry_run) {
		char *argv[] = { "lpadmin", "-p", name, "-E", "-v", d->uri,
				 "-P", (char *)s->ppd, "-D",
				 d->info ? d->info : name, "-L",
				 d->location ? d->location : "", "-o",
				 "printer-error-policy=abort-job", "-o",
				 "printer-is-shared=false", "-o", policy,
				 NULL };

		rc = run(argv, NULL);
	}
	/* Said once lpadmin has: its own messages tell why it failed. */
	if (rc == 0)
		printf("upfsctl: %s '%s' for %s\n",
		       s->dry_run ? "would add" : "added", name, d->uri);
	more = realloc(s->q, (s->nq + 1) * sizeof(*more));
	if (more) {
		s->q = more;
		more[s->nq].name = strdup(name);
		more[s->nq].uri = strdup(d->uri);
		s->nq += more[s->nq].name && more[s->nq].uri;
	}
	return rc;
}

/* Whether uri is a share of the mount --mount names (of any without). */
static bool in_scope(const struct sync *s, const char *uri)
{
	size_t len = strlen(s->prefix);

	return s->mount == NULL || (strncmp(uri, s->prefix, len) == 0 &&
				    strchr(uri + len, '/') == NULL);
}

/*
 * --mount PATH as its devices' URI prefix, "upfs:/MNT/" as the backend
 * writes it: "~/" for a mountpoint in its owner's home. A symbolic link
 * to a mountpoint names it too.
 */
static int scope_to_mount(struct sync *s)
{
	struct cups_mounts mounts = { 0 };
	struct cups_user owner = { 0 };
	const struct cups_mount *m;
	char path[PATH_MAX], target[PATH_MAX];
	struct stat st;
	int rc = ctl_mount_path_of(s->mount, path, sizeof(path));

	if (rc)
		return rc;
	rc = cups_mounts_read("/proc/self/mounts", &mounts);
	if (rc)
		return rc;
	m = cups_mounts_at(&mounts, path);
	if (m == NULL && lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
	    realpath(path, target) != NULL)
		m = cups_mounts_at(&mounts, target);
	if (m == NULL) {
		rc = -ENOENT;
		goto out;
	}
	cups_user_by_uid(m->uid, &owner);	/* no account: no "~" form */
	rc = cups_uri_format(m->path, owner.home, "", s->prefix,
			     sizeof(s->prefix));
out:
	cups_mounts_release(&mounts);
	return rc;
}

/* Whether `lpstat -o NAME` lists jobs; true when it cannot tell. */
static bool queue_holds_jobs(const char *name)
{
	char *argv[] = { "lpstat", "-o", (char *)name, NULL };
	struct buf out;
	bool holds;

	buf_init(&out, 0);
	holds = run(argv, &out) != 0 || out.len > 0;
	buf_release(&out);
	return holds;
}

static int sync_apply(struct sync *s)
{
	size_t before = s->nq;
	int failed = 0;

	for (size_t i = 0; i < s->ndev; i++)
		if (in_scope(s, s->dev[i].uri) && !has_queue(s, s->dev[i].uri) &&
		    add_queue(s, &s->dev[i]))
			failed++;
	for (size_t i = 0; i < before; i++) {
		const struct queue *q = &s->q[i];
		char *argv[] = { "lpadmin", "-x", q->name, NULL };

		if (strncmp(q->uri, "upfs:/", 6) != 0 ||
		    !in_scope(s, q->uri) || has_device(s, q->uri, false))
			continue;
		if (!has_device(s, q->uri, true)) {
			printf("upfsctl: kept '%s': its mount is not running "
			       "(%s)\n", q->name, q->uri);
			continue;
		}
		/* lpadmin -x would cancel them: no document is lost here. */
		if (queue_holds_jobs(q->name)) {
			printf("upfsctl: kept '%s': its share is gone (%s), but "
			       "it holds jobs (lpstat -o %s)\n", q->name,
			       q->uri, q->name);
			continue;
		}
		printf("upfsctl: %s '%s': its share is gone (%s)\n",
		       s->dry_run ? "would remove" : "removed", q->name,
		       q->uri);
		if (!s->dry_run && run(argv, NULL) != 0)
			failed++;
	}
	if (failed)
		fprintf(stderr, "upfsctl: lpadmin failed %d time(s): see its "
			"messages above\n", failed);
	return failed ? CTL_EXIT_FAIL : 0;
}

/* $UPFS_CUPS_PPD, else the model installed beside upfsctl's bin/. */
static const char *find_ppd(char *buf, size_t len)
{
	const char *env = getenv("UPFS_CUPS_PPD");
	char self[PATH_MAX];

	if (env && env[0])
		return env;
	if (ctl_self_dir(self, sizeof(self)) == 0 &&
	    snprintf(buf, len, "%s/../share/ppd/upfs/upfs.ppd",
		     self) < (int)len && access(buf, R_OK) == 0)
		return buf;
	return NULL;
}

static int sync_args(int argc, char **argv, struct sync *s, char *ppd,
		     size_t ppd_len)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") || !strcmp(argv[i], "--dry-run"))
			s->dry_run = true;
		else if (!strcmp(argv[i], "--ppd") && i + 1 < argc)
			s->ppd = argv[++i];
		else if (!strcmp(argv[i], "--policy") && i + 1 < argc)
			s->policy = argv[++i];
		else if (!strcmp(argv[i], "--mount") && i + 1 < argc)
			s->mount = argv[++i];
		else
			return CTL_EXIT_USAGE;
	}
	if (s->ppd == NULL)
		s->ppd = find_ppd(ppd, ppd_len);
	if (s->mount) {
		int rc = scope_to_mount(s);

		if (rc) {
			fprintf(stderr, "upfsctl: no running upfs mount at "
				"'%s'%s%s\n", s->mount, rc == -ENOENT ? "" : ": ",
				rc == -ENOENT ? "" : strerror(-rc));
			return CTL_EXIT_FAIL;
		}
	}
	if (s->ppd == NULL || access(s->ppd, R_OK) != 0) {
		fprintf(stderr, "upfsctl: no model upfs.ppd%s%s: give it with "
			"--ppd FILE\n", s->ppd ? " at " : "",
			s->ppd ? s->ppd : "");
		return CTL_EXIT_FAIL;
	}
	return 0;
}

int ctl_cups_sync(int argc, char **argv)
{
	char *lpinfo[] = { "lpinfo", "-l", "-v", "--include-schemes", "upfs",
			   NULL };
	char *lpstat[] = { "lpstat", "-v", NULL };
	struct sync s = { .policy = DEFAULT_POLICY };
	struct buf devices, queues;
	char ppd[PATH_MAX];
	int rc = sync_args(argc, argv, &s, ppd, sizeof(ppd));

	if (rc == CTL_EXIT_USAGE)
		fprintf(stderr, "usage: upfsctl cups-sync [--ppd FILE] "
			"[--policy NAME] [--mount MOUNTPOINT] [-n]\n");
	if (rc)
		return rc;
	buf_init(&devices, CUPS_OUTPUT_MAX);
	buf_init(&queues, CUPS_OUTPUT_MAX);
	rc = run(lpinfo, &devices);
	if (rc != 0) {
		fprintf(stderr, "upfsctl: 'lpinfo -v' failed%s: is cupsd "
			"running, with the upfs backend installed?\n",
			rc < 0 ? "" : " (see above)");
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	/* With no queues at all lpstat -v fails, printing nothing: that is
	   an empty list. Any other failure leaves the queues unknown, and a
	   sync against a wrong list would add or remove the wrong ones. */
	rc = run(lpstat, &queues);
	/* 126 and up: it could not run, or was killed. */
	if (rc < 0 || rc >= 126 || (rc > 0 && queues.len > 0)) {
		fprintf(stderr, "upfsctl: 'lpstat -v' failed%s%s: the CUPS "
			"queues are unknown, nothing changed\n",
			rc < 0 ? ": " : " (see above)",
			rc < 0 ? strerror(-rc) : "");
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	rc = parse_devices(&s, devices.data ? devices.data : "");
	if (rc == 0)
		rc = parse_queues(&s, queues.data ? queues.data : "");
	if (rc) {
		fprintf(stderr, "upfsctl: cups-sync: %s\n", strerror(-rc));
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	rc = sync_apply(&s);
out:
	buf_release(&devices);
	buf_release(&queues);
	sync_release(&s);
	return rc;
}
