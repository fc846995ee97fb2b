/*
 * options.c — `upfs [PROFILE] MOUNTPOINT [-f] [-d] [-o OPT[,OPT...]]`.
 *
 * Every -o word is one of ours, one libfuse must see (kept in fuse_args),
 * or one that only /etc/fstab and mount(8) use (accepted and dropped, as
 * sshfs does). Anything else is an error: one line, exit status 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <fuse_opt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

#define DEFAULT_ENDPOINT UPFS_DEFAULT_ENDPOINT
#define DEFAULT_AUTHORITY UPFS_DEFAULT_AUTHORITY
#define DEFAULT_CLIENT_ID UPFS_DEFAULT_CLIENT_ID

enum {
	KEY_HELP,
	KEY_VERSION,
	KEY_FOREGROUND,
	KEY_DEBUG,
	KEY_SINGLE,
	KEY_STRING,	/* one of ours: name=value */
	KEY_NUMBER,
	KEY_OFFLINE,
	KEY_FUSE,	/* libfuse's own */
	KEY_DISCARD,	/* fstab-only */
};

/* Our string and number options, by name, and where they go. */
static const struct {
	const char *name;
	size_t offset;
} string_options[] = {
	{ "endpoint", offsetof(struct upfs_options, endpoint) },
	{ "authority", offsetof(struct upfs_options, authority) },
	{ "client_id", offsetof(struct upfs_options, client_id) },
	{ "client_secret", offsetof(struct upfs_options, client_secret) },
	{ "client_secret_file",
	  offsetof(struct upfs_options, client_secret_file) },
	{ "token_file", offsetof(struct upfs_options, token_file) },
	{ "cache_dir", offsetof(struct upfs_options, cache_dir) },
	{ "ca_file", offsetof(struct upfs_options, ca_file) },
};

static const struct fuse_opt option_spec[] = {
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-f", KEY_FOREGROUND),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("-s", KEY_SINGLE),
	FUSE_OPT_KEY("endpoint=", KEY_STRING),
	FUSE_OPT_KEY("authority=", KEY_STRING),
	FUSE_OPT_KEY("client_id=", KEY_STRING),
	FUSE_OPT_KEY("client_secret=", KEY_STRING),
	FUSE_OPT_KEY("client_secret_file=", KEY_STRING),
	FUSE_OPT_KEY("token_file=", KEY_STRING),
	FUSE_OPT_KEY("cache_dir=", KEY_STRING),
	FUSE_OPT_KEY("ca_file=", KEY_STRING),
	FUSE_OPT_KEY("dir_ttl=", KEY_NUMBER),
	FUSE_OPT_KEY("status_ttl=", KEY_NUMBER),
	FUSE_OPT_KEY("low_speed_time=", KEY_NUMBER),
	FUSE_OPT_KEY("request_timeout=", KEY_NUMBER),
	FUSE_OPT_KEY("uid=", KEY_NUMBER),
	FUSE_OPT_KEY("gid=", KEY_NUMBER),
	FUSE_OPT_KEY("offline", KEY_OFFLINE),
	FUSE_OPT_KEY("allow_other", KEY_FUSE),
	FUSE_OPT_KEY("allow_root", KEY_FUSE),
	FUSE_OPT_KEY("default_permissions", KEY_FUSE),
	FUSE_OPT_KEY("auto_unmount", KEY_FUSE),
	FUSE_OPT_KEY("fsname=", KEY_FUSE),
	FUSE_OPT_KEY("subtype=", KEY_FUSE),
	FUSE_OPT_KEY("max_read=", KEY_FUSE),
	FUSE_OPT_KEY("ro", KEY_FUSE),
	FUSE_OPT_KEY("rw", KEY_DISCARD),
	FUSE_OPT_KEY("noauto", KEY_DISCARD),
	FUSE_OPT_KEY("auto", KEY_DISCARD),
	FUSE_OPT_KEY("_netdev", KEY_DISCARD),
	FUSE_OPT_KEY("nofail", KEY_DISCARD),
	FUSE_OPT_KEY("user", KEY_DISCARD),
	FUSE_OPT_KEY("users", KEY_DISCARD),
	FUSE_OPT_KEY("nouser", KEY_DISCARD),
	FUSE_OPT_KEY("defaults", KEY_DISCARD),
	FUSE_OPT_KEY("exec", KEY_DISCARD),
	FUSE_OPT_KEY("noexec", KEY_DISCARD),
	FUSE_OPT_KEY("suid", KEY_DISCARD),
	FUSE_OPT_KEY("nosuid", KEY_DISCARD),
	FUSE_OPT_KEY("dev", KEY_DISCARD),
	FUSE_OPT_KEY("nodev", KEY_DISCARD),
	FUSE_OPT_KEY("atime", KEY_DISCARD),
	FUSE_OPT_KEY("noatime", KEY_DISCARD),
	FUSE_OPT_KEY("relatime", KEY_DISCARD),
	FUSE_OPT_KEY("x-systemd.", KEY_DISCARD),
	FUSE_OPT_KEY("comment=", KEY_DISCARD),
	FUSE_OPT_END
};

struct parse_state {
	struct upfs_options *opts;
	int positional;
	char *args[2];
	bool failed;
	char *why;		/* a profile's setting: the reason goes here */
	size_t why_len;
	struct fuse_args *profile_fuse;	/* libfuse's words from the profile */
};

static int bad_option(struct parse_state *s, const char *what, const char *arg)
{
	if (s->why)
		snprintf(s->why, s->why_len, "%s '%s'", what, arg);
	else
		fprintf(stderr, "upfs: %s '%s': see 'upfs --help'\n", what,
			arg);
	s->failed = true;
	return -1;
}

static int set_string(struct parse_state *s, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t name_len = (size_t)(eq - arg);

	for (size_t i = 0; i < sizeof(string_options) / sizeof(*string_options);
	     i++) {
		char **slot;

		if (strlen(string_options[i].name) != name_len ||
		    strncmp(arg, string_options[i].name, name_len) != 0)
			continue;
		if (eq[1] == '\0')
			return bad_option(s, "empty value in option", arg);
		slot = (char **)((char *)s->opts + string_options[i].offset);
		free(*slot);
		*slot = strdup(eq + 1);
		/* Taken, as fstab lines in use have it; but said. */
		if (s->why == NULL &&
		    slot == &s->opts->client_secret)
			fprintf(stderr, "upfs: warning: client_secret= on the "
					"command line can be read by every "
					"local user (ps, /proc, /etc/fstab): "
					"give client_secret_file=PATH, or put "
					"it in the profile's private config\n");
		return *slot ? 0 : -1;
	}
	return bad_option(s, "unknown option", arg);
}

/* The smallest value a number option takes: a time limit of 0 s is none. */
static long number_min(const char *arg)
{
	return strncmp(arg, "low_speed_time=", 15) == 0 ? 1 : 0;
}

static int set_number(struct parse_state *s, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(eq + 1, &end, 10);
	if (errno || end == eq + 1 || *end != '\0' || v < number_min(arg) ||
	    v > (strncmp(arg, "uid=", 4) == 0 || strncmp(arg, "gid=", 4) == 0
		 ? INT_MAX : 86400 * 365))
		return bad_option(s, "bad value in option", arg);
	if (strncmp(arg, "dir_ttl=", 8) == 0) {
		s->opts->dir_ttl = (int)v;
	} else if (strncmp(arg, "status_ttl=", 11) == 0) {
		s->opts->status_ttl = (int)v;
	} else if (strncmp(arg, "low_speed_time=", 15) == 0) {
		s->opts->low_speed_time = (int)v;
	} else if (strncmp(arg, "request_timeout=", 16) == 0) {
		s->opts->request_timeout = (int)v;
	} else if (arg[0] == 'u') {
		s->opts->uid = (uid_t)v;
		s->opts->have_uid = true;
	} else {
		s->opts->gid = (gid_t)v;
		s->opts->have_gid = true;
	}
	return 0;
}

static int option_proc(void *data, const char *arg, int key,
		       struct fuse_args *outargs)
{
	struct parse_state *s = data;

	switch (key) {
	case KEY_HELP:
		s->opts->show_help = true;
		return 0;
	case KEY_VERSION:
		s->opts->show_version = true;
		return 0;
	case KEY_FOREGROUND:
		s->opts->foreground = true;
		return 0;
	case KEY_DEBUG:
		s->opts->debug = true;
		s->opts->foreground = true;
		return 0;
	case KEY_SINGLE:
		s->opts->single_thread = true;
		return 0;
	case KEY_STRING:
		return set_string(s, arg);
	case KEY_NUMBER:
		return set_number(s, arg);
	case KEY_OFFLINE:
		s->opts->offline = true;
		return 0;
	case KEY_FUSE:
		return 1;
	case KEY_DISCARD:
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		if (s->positional >= 2)
			return bad_option(s, "unexpected argument", arg);
		s->args[s->positional] = strdup(arg);
		if (s->args[s->positional++] == NULL)
			return -1;
		return 0;
	default:
		return bad_option(s, "unknown option", arg);
	}
	(void)outargs;
}

static int set_default(char **slot, const char *value)
{
	if (*slot)
		return 0;
	*slot = strdup(value);
	return *slot ? 0 : -ENOMEM;
}

static int default_cache_dir(struct upfs_options *opts)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	char path[PATH_MAX];
	int n;

	if (opts->cache_dir)
		return 0;
	if (xdg && xdg[0] == '/')
		n = snprintf(path, sizeof(path), "%s/upfs/%s", xdg,
			     opts->profile);
	else if (home && home[0] == '/')
		n = snprintf(path, sizeof(path), "%s/.cache/upfs/%s", home,
			     opts->profile);
	else
		return -ENOENT;	/* never a shared folder such as /tmp */
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	opts->cache_dir = strdup(path);
	return opts->cache_dir ? 0 : -ENOMEM;
}

/*
 * client_secret_file=PATH: the secret from a file of this user's that no
 * one else may read, so that it is neither in the process's argv (ps) nor
 * in a readable /etc/fstab.
 */
static int load_client_secret(struct upfs_options *opts)
{
	const char *path = opts->client_secret_file;
	char text[1024];
	struct stat st;
	ssize_t n = 0;
	int fd, rc = 0;

	if (path == NULL)
		return 0;
	if (opts->client_secret) {
		fprintf(stderr, "upfs: give client_secret= or "
				"client_secret_file=, not both\n");
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) != 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode) ||
		 (st.st_uid != getuid() && st.st_uid != geteuid()) ||
		 (st.st_mode & (S_IRWXG | S_IRWXO)))
		rc = -EACCES;
	else if ((n = read(fd, text, sizeof(text) - 1)) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	/* Its first line, without the spaces around a pasted secret. */
	if (rc == 0) {
		text[n] = '\0';
		n = (ssize_t)strcspn(text, "\r\n");
	}
	while (rc == 0 && n > 0 && strchr(" \t", text[n - 1]))
		n--;
	if (rc == 0 && n == 0)
		rc = -ENODATA;
	if (rc == 0) {
		text[n] = '\0';
		opts->client_secret = strdup(text);
		rc = opts->client_secret ? 0 : -ENOMEM;
	}
	explicit_bzero(text, sizeof(text));
	if (rc == -EACCES)
		fprintf(stderr, "upfs: client_secret_file '%s' must be a file "
			"of this user's that no one else may read or write: "
			"chmod 600 it\n", path);
	else if (rc)
		fprintf(stderr, "upfs: client_secret_file '%s': %s\n", path,
			rc == -ENODATA ? "empty" : strerror(-rc));
	return rc;
}

static int apply_defaults(struct upfs_options *opts)
{
	int rc = set_default(&opts->profile, "default");

	if (rc == 0)
		rc = set_default(&opts->endpoint, DEFAULT_ENDPOINT);
	if (rc == 0)
		rc = set_default(&opts->authority, DEFAULT_AUTHORITY);
	if (rc == 0)
		rc = set_default(&opts->client_id, DEFAULT_CLIENT_ID);
	if (rc == 0)
		rc = default_cache_dir(opts);
	return rc;
}

/*
 * The -o word for a profile's setting: "key=value" with libfuse's commas
 * and backslashes escaped, or "key" for a flag that is on. 1 when a flag
 * is off (no word), 0, or -EINVAL with the reason in why.
 */
static int profile_word(const char *key, const char *value, bool flag,
			struct buf *word, char *why, size_t why_len)
{
	static const char *const no[] = { "no", "false", "off", "0" };
	static const char *const yes[] = { "yes", "true", "on", "1" };
	int rc;

	if (flag && value) {
		for (size_t i = 0; value && i < 4; i++) {
			if (!strcasecmp(value, no[i]))
				return 1;
			if (!strcasecmp(value, yes[i]))
				value = NULL;
		}
		if (value) {
			snprintf(why, why_len, "option '%s' takes yes or no, "
				 "not '%s'", key, value);
			return -EINVAL;
		}
	} else if (!flag && (!value || !*value)) {
		snprintf(why, why_len, "option '%s' needs a value", key);
		return -EINVAL;
	}
	rc = buf_printf(word, "%s%s", key, value ? "=" : "");
	for (const char *p = value; !rc && p && *p; p++)
		rc = buf_printf(word, "%s%c", strchr(",\\", *p) ? "\\" : "",
				*p);
	return rc;
}

/*
 * One setting of the profile (config.c), applied as the -o word it stands
 * for, so that a profile can say what -o can and nothing else. Words only
 * upfsctl reads (mountpoint, scope) are skipped here.
 */
static int profile_setting(void *arg, const char *key, const char *value,
			   char *why, size_t why_len)
{
	static const char *const upfsctl_only[] = { "mountpoint", "scope" };
	struct parse_state *s = arg;
	struct fuse_args one = FUSE_ARGS_INIT(0, NULL);
	const struct fuse_opt *o;
	struct buf word;
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < 2; i++)
		if (strcmp(key, upfsctl_only[i]) == 0)
			return 0;
	for (o = option_spec; o->templ; o++) {
		n = strcspn(o->templ, "=");
		if (o->templ[0] != '-' && strlen(key) == n &&
		    strncmp(o->templ, key, n) == 0)
			break;
	}
	if (!o->templ) {
		snprintf(why, why_len, "unknown option '%s'", key);
		return -EINVAL;
	}
	buf_init(&word, 0);
	rc = profile_word(key, value, o->templ[n] != '=', &word, why, why_len);
	if (rc)
		goto out;
	if (fuse_opt_add_arg(&one, "upfs") || fuse_opt_add_arg(&one, "-o") ||
	    fuse_opt_add_arg(&one, word.data)) {
		rc = -ENOMEM;
		goto out;
	}
	s->why = why;
	s->why_len = why_len;
	rc = fuse_opt_parse(&one, s, option_spec, option_proc) ? -EINVAL : 0;
	s->why = NULL;
	/* What libfuse must see (allow_other, ...) goes on to the mount. */
	for (int i = 1; rc == 0 && i < one.argc; i++)
		if (fuse_opt_add_arg(s->profile_fuse, one.argv[i]))
			rc = -ENOMEM;
out:
	fuse_opt_free_args(&one);
	buf_release(&word);
	return rc == 1 ? 0 : rc;
}

/* Built-in defaults < the profile < the command line: the profile first. */
static int apply_profile(struct parse_state *s, int argc, char **argv)
{
	char path[4096], err[1024] = "";
	bool help;
	const char *profile = config_profile_of(argc, argv, &help);
	int rc;

	if (help)
		return 0;
	if (!config_profile_name_ok(profile)) {
		fprintf(stderr, "upfs: bad profile name '%s': use letters, "
				"digits, '.', '-', '_' and '@'\n", profile);
		return -EINVAL;
	}
	if (config_file_path(path, sizeof(path)) != 0)
		return 0; /* no $HOME: no profiles */
	rc = config_read(path, profile, profile_setting, s, NULL, err,
			 sizeof(err));
	if (rc)
		fprintf(stderr, "upfs: %s\n", err);
	return rc;
}

int options_parse(struct upfs_options *opts, struct fuse_args *fuse_args,
		  int argc, char **argv)
{
	struct fuse_args profile_fuse = FUSE_ARGS_INIT(0, NULL);
	struct parse_state s = { .opts = opts, .profile_fuse = &profile_fuse };
	int rc = 0;

	memset(opts, 0, sizeof(*opts));
	opts->dir_ttl = 60;
	opts->status_ttl = 5;
	opts->low_speed_time = UPFS_DEFAULT_LOW_SPEED_TIME;
	opts->request_timeout = UPFS_DEFAULT_REQUEST_TIMEOUT;
	*fuse_args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	rc = apply_profile(&s, argc, argv);
	if (rc)
		goto out;
	if (fuse_opt_parse(fuse_args, &s, option_spec, option_proc) == -1) {
		if (!s.failed)
			fprintf(stderr, "upfs: bad command line: see "
					"'upfs --help'\n");
		rc = -EINVAL;
		goto out;
	}
	if (opts->show_help || opts->show_version)
		goto out;
	if (s.positional == 0) {
		fprintf(stderr, "upfs: no mountpoint given: see 'upfs --help'\n");
		rc = -EINVAL;
		goto out;
	}
	opts->mountpoint = s.args[s.positional - 1];
	s.args[s.positional - 1] = NULL;
	if (s.positional == 2) {
		opts->profile = s.args[0];
		s.args[0] = NULL;
	}
	rc = apply_defaults(opts);
	if (rc == -ENOENT)
		fprintf(stderr, "upfs: no folder for the cache: set HOME or "
				"XDG_CACHE_HOME, or give cache_dir=\n");
	if (rc == 0)
		rc = load_client_secret(opts);
	for (int i = 0; rc == 0 && i < profile_fuse.argc; i++)
		if (fuse_opt_add_arg(fuse_args, profile_fuse.argv[i]))
			rc = -ENOMEM;
	/* The mount table then says "fuse.upfs", as mount.fuse3 makes it:
	   how the CUPS backend finds upfs mounts. A subtype= given wins. */
	if (rc == 0 && fuse_opt_insert_arg(fuse_args, 1, "-osubtype=upfs"))
		rc = -ENOMEM;
out:
	fuse_opt_free_args(&profile_fuse);
	free(s.args[0]);
	free(s.args[1]);
	return rc;
}

void options_release(struct upfs_options *opts)
{
	char **strings[] = { &opts->profile, &opts->mountpoint,
			     &opts->endpoint, &opts->authority,
			     &opts->client_id, &opts->client_secret,
			     &opts->client_secret_file, &opts->token_file,
			     &opts->cache_dir, &opts->ca_file };

	for (size_t i = 0; i < sizeof(strings) / sizeof(*strings); i++) {
		free(*strings[i]);
		*strings[i] = NULL;
	}
}

void options_print_help(const char *prog)
{
	printf("usage: %s [PROFILE] MOUNTPOINT [-f] [-d] [-o OPT[,OPT...]]\n"
	       "\n"
	       "Mounts a Microsoft Universal Print tenant as a folder tree.\n"
	       "\n"
	       "  -f                    stay in the foreground\n"
	       "  -d                    debug log (implies -f)\n"
	       "  -s                    one thread\n"
	       "  -h, --help            this text\n"
	       "  -V, --version         the version\n"
	       "\n"
	       "options (-o):\n"
	       "  endpoint=URL          Graph base URL, version included\n"
	       "                        (" DEFAULT_ENDPOINT ")\n"
	       "  authority=URL         OAuth2 authority\n"
	       "                        (" DEFAULT_AUTHORITY ")\n"
	       "  client_id=ID          app registration (a public client)\n"
	       "  client_secret=S       app-only token by client credentials\n"
	       "  client_secret_file=PATH  the same, read from a file only this\n"
	       "                        user may read (not in argv or fstab)\n"
	       "  token_file=PATH       a bearer token in a file, re-read when it\n"
	       "                        changes (env UPFS_ACCESS_TOKEN likewise)\n"
	       "  cache_dir=PATH        LMDB cache and spool\n"
	       "                        ($XDG_CACHE_HOME/upfs/PROFILE)\n"
	       "  ca_file=PATH          extra CA bundle; TLS is always verified\n"
	       "  dir_ttl=S             listings served from cache for S seconds (60)\n"
	       "  status_ttl=S          status files likewise (5)\n"
	       "  low_speed_time=S      a request that moves no byte for S\n"
	       "                        seconds fails and is retried (30)\n"
	       "  request_timeout=S     no request takes longer than S seconds\n"
	       "                        (600; 0: no limit). Uploads go in\n"
	       "                        ranges of 4 MB: each is one request\n"
	       "  offline               serve only from the cache\n"
	       "  allow_other, default_permissions, uid=N, gid=N\n"
	       "                        the usual FUSE meanings\n",
	       prog);
}
