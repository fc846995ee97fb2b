/*
 * options.c — `upfs [PROFILE] MOUNTPOINT [-f] [-d] [-o OPT[,OPT...]]`.
 *
 * Every -o word is one of ours, one libfuse must see (kept in fuse_args),
 * or one that only /etc/fstab and mount(8) use (accepted and dropped, as
 * sshfs does). Anything else is an error: one line, exit status 2.
 */
#include <errno.h>
#include <fuse_lowlevel.h>
#include <fuse_opt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

#define DEFAULT_ENDPOINT "https://graph.microsoft.com/v1.0"
#define DEFAULT_AUTHORITY "https://login.microsoftonline.com/organizations"
/* Microsoft's public client for command-line Graph tools. */
#define DEFAULT_CLIENT_ID "14d82eec-204b-4c2f-b7e8-296a70dab67e"

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
	FUSE_OPT_KEY("token_file=", KEY_STRING),
	FUSE_OPT_KEY("cache_dir=", KEY_STRING),
	FUSE_OPT_KEY("ca_file=", KEY_STRING),
	FUSE_OPT_KEY("dir_ttl=", KEY_NUMBER),
	FUSE_OPT_KEY("status_ttl=", KEY_NUMBER),
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
};

static int bad_option(struct parse_state *s, const char *what, const char *arg)
{
	fprintf(stderr, "upfs: %s '%s': see 'upfs --help'\n", what, arg);
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
		return *slot ? 0 : -1;
	}
	return bad_option(s, "unknown option", arg);
}

static int set_number(struct parse_state *s, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(eq + 1, &end, 10);
	if (errno || end == eq + 1 || *end != '\0' || v < 0 ||
	    v > (strncmp(arg, "uid=", 4) == 0 || strncmp(arg, "gid=", 4) == 0
		 ? INT_MAX : 86400 * 365))
		return bad_option(s, "bad value in option", arg);
	if (strncmp(arg, "dir_ttl=", 8) == 0) {
		s->opts->dir_ttl = (int)v;
	} else if (strncmp(arg, "status_ttl=", 11) == 0) {
		s->opts->status_ttl = (int)v;
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
	else
		n = snprintf(path, sizeof(path), "%s/.cache/upfs/%s",
			     home ? home : "/tmp", opts->profile);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	opts->cache_dir = strdup(path);
	return opts->cache_dir ? 0 : -ENOMEM;
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

int options_parse(struct upfs_options *opts, struct fuse_args *fuse_args,
		  int argc, char **argv)
{
	struct parse_state s = { .opts = opts };
	int rc = 0;

	memset(opts, 0, sizeof(*opts));
	opts->dir_ttl = 60;
	opts->status_ttl = 5;
	*fuse_args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
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
out:
	free(s.args[0]);
	free(s.args[1]);
	return rc;
}

void options_release(struct upfs_options *opts)
{
	char **strings[] = { &opts->profile, &opts->mountpoint,
			     &opts->endpoint, &opts->authority,
			     &opts->client_id, &opts->client_secret,
			     &opts->token_file, &opts->cache_dir,
			     &opts->ca_file };

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
	       "  token_file=PATH       a bearer token in a file, re-read when it\n"
	       "                        changes (env UPFS_ACCESS_TOKEN likewise)\n"
	       "  cache_dir=PATH        LMDB cache and spool\n"
	       "                        ($XDG_CACHE_HOME/upfs/PROFILE)\n"
	       "  ca_file=PATH          extra CA bundle; TLS is always verified\n"
	       "  dir_ttl=S             listings served from cache for S seconds (60)\n"
	       "  status_ttl=S          status files likewise (5)\n"
	       "  offline               serve only from the cache\n"
	       "  allow_other, default_permissions, uid=N, gid=N\n"
	       "                        the usual FUSE meanings\n",
	       prog);
}
