/*
 * upfsctl.c — `upfsctl COMMAND`: sign in and out, look at a mount, and
 * start or stop the mount of a profile (what the systemd unit runs).
 *
 * Profiles come from the same file as upfs reads (fs/config.c); upfsctl
 * takes the settings it needs and leaves checking the rest to upfs.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "fs.h"
#include "upfsctl.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: upfsctl COMMAND [ARGS]\n"
		"\n"
		"  login [PROFILE] [-o OPT,...]   sign in with a device code "
		"and keep the session\n"
		"  logout [PROFILE]               forget the session\n"
		"  status MOUNTPOINT              health, sign-in, cache and "
		"requests of a mount\n"
		"  mount PROFILE [MOUNTPOINT] [-- UPFS-ARGS]\n"
		"                                 mount a profile (its "
		"mountpoint= or ~/print/PROFILE)\n"
		"  umount PROFILE|MOUNTPOINT      unmount it\n"
		"  printer create [PROFILE] --name N --manufacturer M "
		"--model X\n"
		"         --csr FILE [--transport-key FILE] [--connector C] "
		"[--device-id ID]\n"
		"                                 register a printer and wait "
		"for it\n"
		"  release [PROFILE] JOB --to PRINTER [--from HOLDER] "
		"[--mount MNT]\n"
		"                                 release a held pull-print "
		"job at a printer\n"
		"  cups-sync [--ppd FILE] [--policy NAME] [--mount MNT] [-n]\n"
		"                                 one CUPS queue per share "
		"of the running mounts\n"
		"\n"
		"PROFILE is a [section] of ~/.config/upfs/config (default: "
		"\"default\").\n"
		"-o takes endpoint=, authority=, client_id=, ca_file=, scope=, "
		"mountpoint=,\ntoken_file=.\n"
		"See upfsctl(1).\n");
}

/* ---- profiles --------------------------------------------------------- */

static int ctl_set(char **slot, const char *value)
{
	char *copy = strdup(value ? value : "");

	if (!copy)
		return -ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

/* The settings upfsctl uses; a profile's others are upfs's to check. */
static const struct {
	const char *key;
	size_t offset;
} ctl_keys[] = {
	{ "endpoint", offsetof(struct ctl_profile, endpoint) },
	{ "authority", offsetof(struct ctl_profile, authority) },
	{ "client_id", offsetof(struct ctl_profile, client_id) },
	{ "ca_file", offsetof(struct ctl_profile, ca_file) },
	{ "scope", offsetof(struct ctl_profile, scope) },
	{ "mountpoint", offsetof(struct ctl_profile, mountpoint) },
	{ "token_file", offsetof(struct ctl_profile, token_file) },
};
#define CTL_NKEYS (sizeof(ctl_keys) / sizeof(*ctl_keys))

/* ctl_keys' index of key, or -1. */
static int ctl_key_index(const char *key)
{
	for (size_t i = 0; i < CTL_NKEYS; i++)
		if (strcmp(key, ctl_keys[i].key) == 0)
			return (int)i;
	return -1;
}

static int ctl_setting(void *arg, const char *key, const char *value,
		       char *why, size_t why_len)
{
	struct ctl_profile *p = arg;
	int i = ctl_key_index(key);

	if (i < 0)
		return 0;
	if (!value || !*value) {
		snprintf(why, why_len, "option '%s' needs a value", key);
		return -EINVAL;
	}
	return ctl_set((char **)((char *)p + ctl_keys[i].offset), value);
}

/* -o words: name=value[,name=value...], as upfs takes them. */
static int ctl_apply_opts(struct ctl_profile *p, const char *opts)
{
	char *copy = strdup(opts), *word = copy, *next, *eq;
	char why[256] = "";
	int rc = copy ? 0 : -ENOMEM;

	while (rc == 0 && word && *word) {
		next = strchr(word, ',');
		if (next)
			*next++ = '\0';
		eq = strchr(word, '=');
		if (eq)
			*eq++ = '\0';
		/* A typo on the command line must not pass unseen. */
		if (ctl_key_index(word) < 0) {
			int n = snprintf(why, sizeof(why), "unknown option "
					 "'%s' (-o takes", word);

			for (size_t i = 0; i < CTL_NKEYS && n > 0 &&
					   (size_t)n < sizeof(why); i++)
				n += snprintf(why + n, sizeof(why) - (size_t)n,
					      "%s %s", i ? "," : "",
					      ctl_keys[i].key);
			if (n > 0 && (size_t)n < sizeof(why))
				snprintf(why + n, sizeof(why) - (size_t)n, ")");
			rc = -EINVAL;
			break;
		}
		rc = ctl_setting(p, word, eq, why, sizeof(why));
		word = next;
	}
	if (rc && why[0])
		fprintf(stderr, "upfsctl: %s\n", why);
	free(copy);
	return rc;
}

static int ctl_defaults(struct ctl_profile *p)
{
	int rc = 0;

	if (!p->endpoint)
		rc = ctl_set(&p->endpoint, UPFS_DEFAULT_ENDPOINT);
	if (!rc && !p->authority)
		rc = ctl_set(&p->authority, UPFS_DEFAULT_AUTHORITY);
	if (!rc && !p->client_id)
		rc = ctl_set(&p->client_id, UPFS_DEFAULT_CLIENT_ID);
	if (!rc && !p->scope)
		rc = ctl_set(&p->scope, CTL_DEFAULT_SCOPE);
	return rc;
}

int ctl_profile_load(struct ctl_profile *p, const char *name,
		     const char *opts)
{
	char path[PATH_MAX], err[1024] = "";
	int rc;

	memset(p, 0, sizeof(*p));
	if (!name)
		name = "default";
	if (!config_profile_name_ok(name)) {
		fprintf(stderr, "upfsctl: bad profile name '%s': use letters, "
				"digits, '.', '-', '_' and '@'\n", name);
		return CTL_EXIT_USAGE;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	if (config_session_path(name, p->session_path,
				sizeof(p->session_path)) != 0) {
		fprintf(stderr, "upfsctl: neither $XDG_CONFIG_HOME nor $HOME "
				"is set: set HOME\n");
		return CTL_EXIT_FAIL;
	}
	config_shown_path(p->session_path, p->session_shown,
			  sizeof(p->session_shown));
	rc = config_file_path(path, sizeof(path));
	if (rc == 0)
		rc = config_read(path, name, ctl_setting, p, NULL, err,
				 sizeof(err));
	if (rc && err[0]) {
		fprintf(stderr, "upfsctl: %s\n", err);
		rc = CTL_EXIT_USAGE;
	} else if (opts && ctl_apply_opts(p, opts) != 0) {
		rc = CTL_EXIT_USAGE;
	} else if (ctl_defaults(p) != 0) {
		fprintf(stderr, "upfsctl: out of memory\n");
		rc = CTL_EXIT_FAIL;
	} else {
		return 0;
	}
	/* The settings read before the error go with it. */
	ctl_profile_release(p);
	return rc;
}

void ctl_profile_release(struct ctl_profile *p)
{
	free(p->endpoint);
	free(p->authority);
	free(p->client_id);
	free(p->ca_file);
	free(p->scope);
	free(p->mountpoint);
	free(p->token_file);
	memset(p, 0, sizeof(*p));
}

/* mkdir -p: missing parents get 0755, the folder itself mode. */
static int ctl_mkdir_p(char *dir, mode_t mode)
{
	int rc = 0;

	for (char *s = dir + 1; rc == 0 && *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			rc = -errno;
		*s = '/';
	}
	if (rc == 0 && mkdir(dir, mode) != 0 && errno != EEXIST)
		rc = -errno;
	return rc;
}

int ctl_config_dir_make(void)
{
	char dir[PATH_MAX];
	int rc = config_dir_path(dir, sizeof(dir));

	return rc ? rc : ctl_mkdir_p(dir, 0700);
}

/* ---- logout ----------------------------------------------------------- */

static int ctl_logout(int argc, char **argv)
{
	struct ctl_profile p;
	int rc;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	rc = ctl_profile_load(&p, argc == 2 ? argv[1] : NULL, NULL);
	if (rc)
		return rc;
	if (unlink(p.session_path) == 0) {
		printf("upfsctl: signed out of '%s': removed %s\n", p.name,
		       p.session_shown);
	} else if (errno == ENOENT) {
		printf("upfsctl: not signed in to '%s'\n", p.name);
	} else {
		fprintf(stderr, "upfsctl: cannot remove '%s': %s\n",
			p.session_shown, strerror(errno));
		rc = CTL_EXIT_FAIL;
	}
	ctl_profile_release(&p);
	return rc;
}

/* ---- mount and umount ------------------------------------------------- */

/* The profile's mountpoint, ~ expanded, or ~/print/PROFILE. */
int ctl_mountpoint(const struct ctl_profile *p, char *out, size_t len)
{
	const char *home = getenv("HOME");
	const char *mp = p->mountpoint;
	int n;

	if (mp && mp[0] == '/')
		n = snprintf(out, len, "%s", mp);
	else if (!home || home[0] != '/')
		return -ENOENT;
	else if (mp && strncmp(mp, "~/", 2) == 0)
		n = snprintf(out, len, "%s/%s", home, mp + 2);
	else if (mp)
		n = snprintf(out, len, "%s/%s", home, mp);
	else
		n = snprintf(out, len, "%s/print/%s", home, p->name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * $UPFS_BINARY, else upfs next to upfsctl (an installed tree) or in
 * ../fs/ (a build tree), else from $PATH.
 */
static const char *ctl_upfs_binary(char *buf, size_t len)
{
	static const char *const near[] = { "/upfs", "/../fs/upfs" };
	const char *env = getenv("UPFS_BINARY");
	char self[PATH_MAX];
	bool found = ctl_self_dir(self, sizeof(self)) == 0;

	if (env && env[0])
		return env;
	for (size_t i = 0; found && i < 2; i++) {
		if (snprintf(buf, len, "%s%s", self, near[i]) < (int)len &&
		    access(buf, X_OK) == 0)
			return buf;
	}
	return "upfs";
}

int ctl_self_dir(char *dir, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", dir, len - 1);
	char *slash = n > 0 ? (dir[n] = '\0', strrchr(dir, '/')) : NULL;

	if (slash == NULL)
		return -ENOENT;
	*slash = '\0';
	return 0;
}

static int ctl_mount(int argc, char **argv)
{
	char mnt[PATH_MAX], bin[PATH_MAX];
	const char *given = NULL, *prog;
	struct ctl_profile p;
	char **args = NULL;
	int i = 2, n = 0, rc;

	if (argc < 2 || argv[1][0] == '-') {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	/* upfs's options follow "--": "-f" is not a mount point. */
	if (argc > 2 && strcmp(argv[2], "--") != 0) {
		if (argv[2][0] == '-') {
			usage(stderr);
			return CTL_EXIT_USAGE;
		}
		given = argv[i++];
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	else if (i < argc) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	rc = ctl_profile_load(&p, argv[1], NULL);
	if (rc)
		return rc;
	if (given)
		rc = snprintf(mnt, sizeof(mnt), "%s", given) >= (int)sizeof(mnt)
			     ? -ENAMETOOLONG : 0;
	else
		rc = ctl_mountpoint(&p, mnt, sizeof(mnt));
	if (rc == 0)
		rc = ctl_mkdir_p(mnt, 0700);
	if (rc) {
		fprintf(stderr, "upfsctl: mountpoint of '%s': %s\n", p.name,
			strerror(-rc));
		ctl_profile_release(&p);
		return CTL_EXIT_FAIL;
	}
	args = calloc((size_t)(argc - i) + 4, sizeof(*args));
	if (!args) {
		ctl_profile_release(&p);
		return CTL_EXIT_FAIL;
	}
	args[n++] = "upfs";
	args[n++] = argv[1];
	args[n++] = mnt;
	while (i < argc)
		args[n++] = argv[i++];
	prog = ctl_upfs_binary(bin, sizeof(bin));
	fflush(NULL);
	execvp(prog, args);
	fprintf(stderr, "upfsctl: cannot run '%s': %s\n", prog,
		strerror(errno));
	free(args);
	ctl_profile_release(&p);
	return CTL_EXIT_FAIL;
}

/*
 * arg as /proc/self/mounts names a mountpoint: absolute, the folder it is
 * in resolved, its own name as given. Resolving the mountpoint itself
 * would ask the mount, which answers its owner only; a trailing "/" or
 * "/." is dropped instead, and only "." or ".." alone are resolved.
 */
int ctl_mount_path_of(const char *arg, char *path, size_t len)
{
	char given[PATH_MAX], dir[PATH_MAX];
	char *slash, *name;
	size_t n;

	if (snprintf(given, sizeof(given), "%s", arg) >= (int)sizeof(given))
		return -ENAMETOOLONG;
	for (;;) {
		n = strlen(given);
		if (n > 1 && given[n - 1] == '/')
			given[n - 1] = '\0';
		else if (n > 2 && strcmp(given + n - 2, "/.") == 0)
			given[n - 2] = '\0';
		else
			break;
	}
	slash = strrchr(given, '/');
	name = slash ? slash + 1 : given;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		if (realpath(given, dir) == NULL)
			return -errno;
		return snprintf(path, len, "%s", dir) < (int)len ? 0
								  : -ENAMETOOLONG;
	}
	if (slash)
		*slash = '\0';
	if (realpath(slash == NULL ? "." : slash == given ? "/" : given,
		     dir) == NULL)
		return -errno;
	return snprintf(path, len, "%s/%s", strcmp(dir, "/") ? dir : "",
			name) < (int)len ? 0 : -ENAMETOOLONG;
}

/* Whether arg names a upfs mount of this process's mount table. */
static bool ctl_is_upfs_mount(const char *arg)
{
	struct cups_mounts mounts = { 0 };
	char path[PATH_MAX];
	bool found;

	if (ctl_mount_path_of(arg, path, sizeof(path)) != 0 ||
	    cups_mounts_read("/proc/self/mounts", &mounts) != 0)
		return false;
	found = cups_mounts_at(&mounts, path) != NULL;
	cups_mounts_release(&mounts);
	return found;
}

static int ctl_umount(int argc, char **argv)
{
	char mnt[PATH_MAX];
	struct ctl_profile p;
	int rc;

	if (argc != 2 || argv[1][0] == '-') {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (strchr(argv[1], '/')) {
		snprintf(mnt, sizeof(mnt), "%s", argv[1]);
	} else {
		rc = ctl_profile_load(&p, argv[1], NULL);
		if (rc)
			return rc;
		rc = ctl_mountpoint(&p, mnt, sizeof(mnt));
		ctl_profile_release(&p);
		if (rc) {
			fprintf(stderr, "upfsctl: mountpoint of '%s': %s\n",
				argv[1], strerror(-rc));
			return CTL_EXIT_FAIL;
		}
		/* "upfsctl umount mnt" in the folder that holds the mount
		   means that mount when the profile mnt has none. */
		if (!ctl_is_upfs_mount(mnt) && ctl_is_upfs_mount(argv[1]))
			snprintf(mnt, sizeof(mnt), "%s", argv[1]);
	}
	fflush(NULL);
	execlp("fusermount3", "fusermount3", "-u", mnt, (char *)NULL);
	fprintf(stderr, "upfsctl: cannot run 'fusermount3': %s\n",
		strerror(errno));
	return CTL_EXIT_FAIL;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} commands[] = {
		{ "login", ctl_login },	  { "logout", ctl_logout },
		{ "status", ctl_status }, { "mount", ctl_mount },
		{ "umount", ctl_umount }, { "printer", ctl_printer },
		{ "release", ctl_release }, { "cups-sync", ctl_cups_sync },
	};

	if (argc < 2) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("upfsctl %s\n", UPFS_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "upfsctl: unknown command '%s': see 'upfsctl "
			"--help'\n", argv[1]);
	return CTL_EXIT_USAGE;
}
