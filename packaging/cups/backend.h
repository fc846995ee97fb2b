/*
 * backend.h — the CUPS backend `upfs` (backend(7)): what its files share.
 * Not an API of upfs; the backend talks to a running mount only through
 * files and xattrs, as any program does.
 *
 *   backend.c    main: discovery or a job, and the exit code CUPS reads
 *   mounts.c     the upfs mounts in /proc/self/mounts, and whose they are
 *   user.c       the job's user, and becoming that user
 *   uri.c        upfs:/<mountpoint>/<share> device URIs
 *   cupsopts.c   CUPS job options -> lines of shares/<s>/options syntax
 *   discover.c   run without arguments: one device line per share
 *   job.c        run with a job: copy it into <share>/queue/
 *
 * Messages go to stderr as CUPS reads them: "ERROR: ...", "INFO: ...",
 * "STATE: +reason", "DEBUG: ...", one line each.
 */
#ifndef UPFS_CUPS_BACKEND_H
#define UPFS_CUPS_BACKEND_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The exit codes of backend(7) (cups/backend.h, without needing libcups). */
enum upfs_cups_status {
	UPFS_CUPS_OK = 0,
	UPFS_CUPS_FAILED = 1,	     /* the queue's printer-error-policy decides */
	UPFS_CUPS_AUTH_REQUIRED = 2, /* job held for authentication */
	UPFS_CUPS_HOLD = 3,	     /* job held */
	UPFS_CUPS_STOP = 4,	     /* queue stopped */
	UPFS_CUPS_CANCEL = 5,	     /* job canceled */
	UPFS_CUPS_RETRY = 6,	     /* job retried later */
};

/* ---- mounts.c ---- */

struct cups_mount {
	char *path;		/* owned */
	uid_t uid;		/* user_id= of the FUSE mount: who mounted it */
	gid_t gid;		/* group_id= */
	bool allow_other;	/* its owner lets every user in */
};

struct cups_mounts {
	struct cups_mount *v;	/* owned, n of them, in table order */
	size_t n;
};

/*
 * The upfs mounts (type fuse.upfs) listed in table, a file in the format
 * of /proc/self/mounts. 0 or a negative errno.
 */
int cups_mounts_read(const char *table, struct cups_mounts *out);
void cups_mounts_release(struct cups_mounts *m);

/* The mount at path (borrowed from m), or NULL. */
const struct cups_mount *cups_mounts_at(const struct cups_mounts *m,
					const char *path);

/* ---- user.c ---- */

struct cups_user {
	char name[256];
	uid_t uid;
	gid_t gid;		/* primary group */
	char home[PATH_MAX];	/* "" when the account has none */
};

/* The account called name, or with uid. -ENOENT when there is none. */
int cups_user_by_name(const char *name, struct cups_user *out);
int cups_user_by_uid(uid_t uid, struct cups_user *out);

/*
 * Makes this process user (name may be NULL: no supplementary groups)
 * with gid as real, effective and saved ids, as a FUSE mount without
 * allow_other requires of every process that touches it. As root this
 * cannot be undone; as anyone else it only checks that the process is
 * that user already (-EPERM if not).
 */
int cups_become(const char *name, uid_t uid, gid_t gid);

/* ---- uri.c ---- */

/*
 * upfs:/<mountpoint>/<share>, percent-encoded. A mountpoint inside its
 * owner's home folder is written "~/..." so that one queue serves every
 * user who mounts the same profile at the same place in their home.
 */
int cups_uri_format(const char *mountpoint, const char *home,
		    const char *share, char *out, size_t len);

/*
 * Splits uri into the mountpoint, with a leading "~" replaced by home,
 * and the share name, both decoded. -EINVAL for a URI that is not
 * upfs:/<absolute path>/<share>.
 */
int cups_uri_parse(const char *uri, const char *home, char *mountpoint,
		   size_t mountpoint_len, char *share, size_t share_len);

/* ---- cupsopts.c ---- */

/* One option of a job's configuration, in shares/<s>/options syntax. */
struct cups_job_option {
	const char *key;	/* "copies", "duplex", ... (static) */
	char value[128];
	const char *from;	/* the CUPS option it came from (static) */
	bool dropped;		/* the printer cannot do it */
	char why[200];		/* why, when dropped */
};

#define CUPS_JOB_OPTIONS_MAX 16

struct cups_job_options {
	struct cups_job_option v[CUPS_JOB_OPTIONS_MAX];
	size_t n;
};

/*
 * Maps the options argument of a job (argv[5], cupsParseOptions syntax)
 * and its copies (argv[4]) onto upfs job options. CUPS options upfs has no
 * counterpart for, or values it does not know, are left out; so are the
 * values that ask for nothing (one copy, one page per sheet).
 */
void cups_job_options_map(const char *cups_options, const char *copies,
			  struct cups_job_options *out);

/*
 * Marks dropped, with the reason, each option the printer's capabilities
 * (borrowed; NULL: not known) do not list: a CUPS queue carries its own
 * defaults into every job, and a driver does not ask a printer for what
 * it lacks. The printer's default (or the share's options) applies then.
 */
void cups_job_options_fit(struct cups_job_options *o, const json_t *caps);

/* The options that are not dropped, as "key=value\n" lines, into out. */
int cups_job_options_text(const struct cups_job_options *o, char *out,
			  size_t len);

/* ---- discover.c ---- */

/* Prints the device lines of every share of every upfs mount it may see. */
int cups_discover(const char *table);

/* ---- job.c ---- */

struct cups_job {
	const char *id;		/* argv[1] */
	const char *user;	/* argv[2]: who printed */
	const char *title;	/* argv[3] */
	const char *copies;	/* argv[4] */
	const char *options;	/* argv[5] */
	const char *file;	/* argv[6], or NULL: standard input */
	const char *uri;	/* DEVICE_URI */
	const char *content_type; /* FINAL_CONTENT_TYPE or CONTENT_TYPE */
	const char *table;	/* /proc/self/mounts */
};

/* Sends the job; returns the enum upfs_cups_status for CUPS. */
int cups_job_run(const struct cups_job *job);

/* The exit code for an errno of open/write/rename in queue/ (positive). */
int cups_status_of_errno(int err);

/* The xattr that carries a job's options (fs/queue_options.h). */
#define UPFS_CUPS_XATTR_OPTIONS "user.upfs.options"

#endif
