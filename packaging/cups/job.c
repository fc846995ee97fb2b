/*
 * job.c — `upfs JOB USER TITLE COPIES OPTIONS [FILE]` (backend.h): the job
 * goes into <mount>/shares/<share>/queue/ of the mount of the user who
 * printed, and the result of upfs's honest close() becomes the exit code.
 *
 * The document is written under a dot name, which upfs keeps local, and
 * renamed to its visible name when every byte is there: that rename is
 * the submission and returns what close() would (design §3.4). So a job
 * CUPS cancels half-way (SIGTERM), or a backend killed outright, never
 * prints a cut document: the dot file is removed, or stays local.
 * The job's options ride on the file as the xattr user.upfs.options
 * before the rename.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "backend.h"

#define COPY_CHUNK (128 * 1024)
#define NAME_BYTES 200		/* a document name, before its extension */

/* Where the job goes: the user's mount, the share, the names in queue/. */
struct target {
	struct cups_user user;
	char mount[PATH_MAX];
	char share[NAME_MAX + 1];
	char queue[PATH_MAX];
	char temp[PATH_MAX];	/* the dot name it is written under */
	char final[PATH_MAX];	/* the name that submits it */
	gid_t gid;		/* the group the mount wants */
};

int cups_status_of_errno(int err)
{
	switch (err) {
	case 0:
		return UPFS_CUPS_OK;
	case EACCES:	/* no such share, or not allowed to print to it */
	case EPERM:
	case ENOENT:
		return UPFS_CUPS_AUTH_REQUIRED;
	case EDQUOT:	/* over quota: the user may release it later */
		return UPFS_CUPS_HOLD;
	case ENOSPC:	/* upfs's spool disk: space comes back */
	case ENOTCONN:	/* the mount's daemon is gone: it restarts */
	case EIO:
	case EAGAIN:
	case EBUSY:
	case EINTR:
	case ENOMEM:
	case ETIMEDOUT:
	case ECONNREFUSED:
	case ECONNRESET:
	case ENETDOWN:
	case ENETUNREACH:
	case EHOSTUNREACH:
		return UPFS_CUPS_RETRY;
	default:	/* EINVAL (format), EFBIG, EROFS...: never */
		return UPFS_CUPS_FAILED;
	}
}

/* upfs's reason, from .upfs/status, if its last error names one of ours. */
static void mount_reason(const struct target *t, char *out, size_t len)
{
	const char *names[] = { strrchr(t->final, '/'), strrchr(t->temp, '/') };
	char path[PATH_MAX + 16], *line = NULL;
	size_t cap = 0;
	FILE *fh;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/.upfs/status", t->mount);
	fh = fopen(path, "re");
	if (fh == NULL)
		return;
	while (getline(&line, &cap, fh) > 0) {
		if (strncmp(line, "last_error: ", 12) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		for (int i = 0; i < 2 && !out[0]; i++) {
			char quoted[NAME_MAX + 4];

			if (names[i] == NULL)
				continue;
			snprintf(quoted, sizeof(quoted), "'%s'", names[i] + 1);
			if (strstr(line, quoted))
				snprintf(out, len, "%s", line + 12);
		}
	}
	free(line);
	fclose(fh);
}

/* One ERROR line: what failed, upfs's reason if it gave one. */
static int fail(const struct target *t, const char *what, int err)
{
	char reason[600];

	mount_reason(t, reason, sizeof(reason));
	fprintf(stderr, "ERROR: upfs: %s: %s\n", what,
		reason[0] ? reason : strerror(err));
	return cups_status_of_errno(err);
}

/* An extension for the type CUPS hands over; none for a type upfs
   would not print (it says so by name then). */
static const char *extension(const char *type)
{
	static const struct {
		const char *type;
		const char *ext;
	} types[] = {
		{ "application/pdf", ".pdf" },
		{ "application/vnd.cups-pdf", ".pdf" },
		{ "application/oxps", ".oxps" },
		{ "application/vnd.ms-xpsdocument", ".xps" },
		{ "image/pwg-raster", ".pwg" },
		{ "image/urf", ".urf" },
		{ "image/jpeg", ".jpg" },
		{ "image/png", ".png" },
	};

	if (type == NULL || type[0] == '\0')
		return ".pdf";
	for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++)
		if (strcasecmp(type, types[i].type) == 0)
			return types[i].ext;
	return "";
}

/* The title as a queue/ name: no "/", no control characters, no leading
   dot (upfs would keep it local), cut at a UTF-8 boundary. */
static void document_name(const struct cups_job *job, char *out, size_t len)
{
	const char *title = job->title ? job->title : "";
	const char *ext = extension(job->content_type);
	size_t at = 0, elen = strlen(ext), tlen;

	while (*title == '.' || *title == ' ')
		title++;
	for (; *title && at < NAME_BYTES && at + 1 < len; title++)
		out[at++] = (unsigned char)*title < 0x20 || *title == '/' ||
				    *title == 0x7f ? '_' : *title;
	if (*title) {
		/* Cut: drop what is left of a multibyte character. */
		while (at > 0 && ((unsigned char)out[at - 1] & 0xc0) == 0x80)
			at--;
		if (at > 0 && (unsigned char)out[at - 1] >= 0xc0)
			at--;
	}
	out[at] = '\0';
	if (at == 0)
		snprintf(out, len, "job-%s", job->id);
	tlen = strlen(out);
	if (elen && (tlen < elen || strcasecmp(out + tlen - elen, ext) != 0))
		snprintf(out + tlen, len - tlen, "%s", ext);
}

/* The user's upfs mount at the URI's place; the rules in upfs-backend(7). */
static int find_mount(const struct cups_job *job, struct target *t)
{
	const struct cups_mount *m;
	struct cups_mounts mounts;
	int rc = cups_mounts_read(job->table, &mounts);

	if (rc) {
		fprintf(stderr, "ERROR: upfs: cannot read the mount table: "
			"%s\n", strerror(-rc));
		return UPFS_CUPS_RETRY;
	}
	m = cups_mounts_at(&mounts, t->mount);
	/* Another user's mount only when root shared it: an ordinary
	   user's allow_other mount would collect the others' documents
	   under that user's sign-in. */
	if (m && m->uid != t->user.uid && !(m->allow_other && m->uid == 0)) {
		fprintf(stderr, "ERROR: upfs: '%s' is the upfs mount of uid %u, "
			"not of '%s': a job goes only through its own user's "
			"mount%s\n", t->mount, (unsigned)m->uid, t->user.name,
			m->allow_other ? " (or one root shares with "
					 "allow_other)" : "");
		rc = UPFS_CUPS_FAILED;
	} else if (m == NULL) {
		/* It may come: a login, or systemd restarting upfs. */
		fprintf(stderr, "ERROR: upfs: '%s' has no upfs mount at '%s': "
			"mount it ('upfsctl mount PROFILE'); the job is "
			"retried (cupsd's JobRetryLimit, JobRetryInterval)\n",
			t->user.name, t->mount);
		rc = UPFS_CUPS_RETRY;
	} else {
		t->gid = m->uid == t->user.uid ? m->gid : t->user.gid;
	}
	cups_mounts_release(&mounts);
	return rc;
}

/* Who printed, where to, as whom: 0 or a CUPS status. */
static int resolve(const struct cups_job *job, struct target *t)
{
	int rc = cups_user_by_name(job->user, &t->user);

	if (rc) {
		fprintf(stderr, "ERROR: upfs: no local account '%s' to print "
			"as%s%s\n", job->user ? job->user : "",
			rc == -ENOENT ? "" : ": ",
			rc == -ENOENT ? "" : strerror(-rc));
		return UPFS_CUPS_FAILED;
	}
	rc = cups_uri_parse(job->uri, t->user.home, t->mount, sizeof(t->mount),
			    t->share, sizeof(t->share));
	if (rc == -ENOENT) {
		fprintf(stderr, "ERROR: upfs: '%s' has no home folder for "
			"'%s'\n", t->user.name, job->uri);
		return UPFS_CUPS_FAILED;
	}
	if (rc) {
		/* The queue is set up wrong: every job would fail. */
		fprintf(stderr, "ERROR: upfs: bad device URI '%s': want "
			"upfs:/MOUNTPOINT/SHARE\n", job->uri ? job->uri : "");
		return UPFS_CUPS_STOP;
	}
	return find_mount(job, t);
}

/* Names in queue/, once the share is known to be there. */
static int name_files(const struct cups_job *job, struct target *t)
{
	char doc[NAME_BYTES + 32];
	struct stat st;
	int n;

	n = snprintf(t->queue, sizeof(t->queue), "%s/shares/%s/queue",
		     t->mount, t->share);
	if (n < 0 || (size_t)n >= sizeof(t->queue))
		return -ENAMETOOLONG;
	if (stat(t->queue, &st) != 0)
		return -errno;
	document_name(job, doc, sizeof(doc));
	n = snprintf(t->final, sizeof(t->final), "%s/%s", t->queue, doc);
	if (n < 0 || (size_t)n >= sizeof(t->final))
		return -ENAMETOOLONG;
	n = snprintf(t->temp, sizeof(t->temp), "%s/.cups-%s-%ld%s", t->queue,
		     job->id, (long)getpid(), extension(job->content_type));
	return n < 0 || (size_t)n >= sizeof(t->temp) ? -ENAMETOOLONG : 0;
}

/* The options, fitted to the printer, as the xattr's text. */
static void job_options(const struct cups_job *job, const struct target *t,
			char *text, size_t len)
{
	struct cups_job_options o;
	char path[PATH_MAX + NAME_MAX + 64];
	json_t *caps;

	cups_job_options_map(job->options, job->copies, &o);
	snprintf(path, sizeof(path), "%s/shares/%s/printer/capabilities.json",
		 t->mount, t->share);
	caps = json_load_file(path, 0, NULL);
	cups_job_options_fit(&o, caps);
	json_decref(caps);
	for (size_t i = 0; i < o.n; i++)
		if (o.v[i].dropped)
			fprintf(stderr, "INFO: upfs: %s=%s left out: %s\n",
				o.v[i].from, o.v[i].value, o.v[i].why);
	if (cups_job_options_text(&o, text, len) != 0)
		text[0] = '\0';
	fputs("DEBUG: upfs: job options:", stderr);
	for (size_t i = 0; i < o.n; i++)
		if (!o.v[i].dropped)
			fprintf(stderr, " %s=%s", o.v[i].key, o.v[i].value);
	fputc('\n', stderr);
}

static bool canceled(void)
{
	sigset_t pending;

	return sigpending(&pending) == 0 && sigismember(&pending, SIGTERM);
}

/* Copies the job into fd; 0, -ECANCELED, or the errno of a read/write. */
static int copy(int in, int fd, long long *total)
{
	char *buf = malloc(COPY_CHUNK);
	int rc = buf ? 0 : -ENOMEM;

	*total = 0;
	while (rc == 0 && !canceled()) {
		ssize_t got = read(in, buf, COPY_CHUNK), done = 0;

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = got < 0 ? -errno : 0;
			break;
		}
		while (rc == 0 && done < got) {
			ssize_t n = write(fd, buf + done, (size_t)(got - done));

			if (n < 0 && errno != EINTR)
				rc = -errno;
			done += n > 0 ? n : 0;
		}
		*total += done;
	}
	free(buf);
	return rc == 0 && canceled() ? -ECANCELED : rc;
}

/* After the rename: started, or waiting in upfs's spool (still a success:
   upfs sends it when it can, exactly once). */
static void report_sent(const struct target *t, long long total)
{
	char state[64] = "", reason[300] = "", id[128] = "";
	ssize_t n;

	n = getxattr(t->final, "user.upfs.state", state, sizeof(state) - 1);
	state[n > 0 ? n : 0] = '\0';
	n = getxattr(t->final, "user.upfs.reason", reason, sizeof(reason) - 1);
	reason[n > 0 ? n : 0] = '\0';
	n = getxattr(t->final, "user.upfs.id", id, sizeof(id) - 1);
	id[n > 0 ? n : 0] = '\0';
	if (strcmp(state, "waiting") == 0)
		fprintf(stderr, "INFO: upfs: '%s' (%lld bytes) waits in the "
			"upfs spool (%s); upfs sends it when it can\n",
			strrchr(t->final, '/') + 1, total, reason);
	else
		fprintf(stderr, "INFO: upfs: '%s' (%lld bytes) sent to share "
			"'%s' as '%s'%s%s\n", strrchr(t->final, '/') + 1, total,
			t->share, t->user.name, id[0] ? ", job " : "", id);
}

/* Writes the job under its dot name and renames it: a CUPS status. */
static int submit(const struct cups_job *job, struct target *t, int in)
{
	char options[2048];
	long long total = 0;
	int fd, rc = 0;

	job_options(job, t, options, sizeof(options));
	fd = open(t->temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(t, "cannot write into the queue", errno);
	if (options[0] &&
	    fsetxattr(fd, UPFS_CUPS_XATTR_OPTIONS, options, strlen(options),
		      0) != 0) {
		rc = -errno;
		if (rc != -ENOTSUP)
			goto out;
		fprintf(stderr, "INFO: upfs: this upfs takes no job options: "
			"the share's options apply\n");
	}
	fprintf(stderr, "INFO: upfs: sending '%s' to share '%s' as '%s'\n",
		strrchr(t->final, '/') + 1, t->share, t->user.name);
	rc = copy(in, fd, &total);
	if (rc == 0 && rename(t->temp, t->final) != 0)
		rc = -errno;
out:
	if (rc)
		unlink(t->temp);	/* a refusal has removed it already */
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == -ECANCELED) {
		fprintf(stderr, "INFO: upfs: job canceled: nothing was sent\n");
		return UPFS_CUPS_CANCEL;
	}
	if (rc)
		return fail(t, "the job was not sent", -rc);
	report_sent(t, total);
	return UPFS_CUPS_OK;
}

int cups_job_run(const struct cups_job *job)
{
	struct target t = { 0 };
	sigset_t term;
	int in = 0, rc;

	/* SIGTERM (CUPS canceling) is read between chunks, never mid-write. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	fputs("STATE: +connecting-to-device\n", stderr);
	/* CUPS's spool file is root's: open it before becoming the user. */
	if (job->file && (in = open(job->file, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "ERROR: upfs: cannot read '%s': %s\n",
			job->file, strerror(errno));
		return UPFS_CUPS_FAILED;
	}
	rc = resolve(job, &t);
	if (rc == 0 && (rc = cups_become(t.user.name, t.user.uid, t.gid))) {
		fprintf(stderr, "ERROR: upfs: the backend runs as uid %u and "
			"cannot act as '%s': %s; install it mode 0700, owned "
			"by root\n", (unsigned)geteuid(), t.user.name,
			strerror(-rc));
		rc = UPFS_CUPS_STOP;
	}
	if (rc == 0) {
		fprintf(stderr, "DEBUG: upfs: printing as '%s' through '%s'\n",
			t.user.name, t.mount);
		rc = name_files(job, &t);
	}
	if (rc == -ENOENT) {
		fprintf(stderr, "ERROR: upfs: '%s' has no share '%s': no such "
			"share, or not one '%s' may see\n", t.mount, t.share,
			t.user.name);
		rc = cups_status_of_errno(ENOENT);
	} else if (rc < 0) {
		char what[PATH_MAX + NAME_MAX + 32];

		snprintf(what, sizeof(what), "share '%s' of '%s'", t.share,
			 t.mount);
		rc = fail(&t, what, -rc);
	}
	fputs("STATE: -connecting-to-device\n", stderr);
	if (rc == 0)
		rc = submit(job, &t, in);
	if (job->file)
		close(in);
	return rc;
}
