/*
 * config.c — profiles: the [PROFILE] sections of ~/.config/upfs/config,
 * and where a profile's files live.
 *
 *     # comment (also ';')
 *     [work]
 *     endpoint = https://graph.microsoft.com/v1.0
 *     dir_ttl = 30
 *     offline = no
 *     allow_other
 *
 * Each setting is the -o option of the same name; a flag is written bare
 * or with yes/no. What a setting means is not decided here: the caller
 * applies each one (options.c turns it into its -o word, so a profile can
 * say exactly what the command line can, and `-o` still wins), and this
 * file only reads the INI shape and says where an error is. Sections of
 * other profiles are checked for shape only, as ssh does with Host blocks.
 *
 * The file is read with the user's rights and is not secret: a
 * client_secret in it is refused unless the file is private (no group or
 * other bits). The session files next to it are secret, and
 * graph/session.c guards them.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"

/* The folder of the config and session files: $XDG_CONFIG_HOME/upfs. */
int config_dir_path(char *out, size_t len)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(out, len, "%s/upfs", xdg);
	else if (home && home[0] == '/')
		n = snprintf(out, len, "%s/.config/upfs", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int config_dir_file(const char *name, const char *suffix, char *out,
			   size_t len)
{
	char dir[4096];
	int rc = config_dir_path(dir, sizeof(dir));
	int n;

	if (rc)
		return rc;
	n = snprintf(out, len, "%s/%s%s", dir, name, suffix);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int config_file_path(char *out, size_t len)
{
	const char *env = getenv("UPFS_CONFIG");
	int n;

	/* For tests and for people who keep dotfiles elsewhere. */
	if (env && env[0]) {
		n = snprintf(out, len, "%s", env);
		return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
	}
	return config_dir_file("config", "", out, len);
}

int config_session_path(const char *profile, char *out, size_t len)
{
	return config_dir_file(profile, ".token", out, len);
}

/* A profile names files: no '/', no leading '.', nothing odd. */
bool config_profile_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64 || name[0] == '.' || name[0] == '-')
		return false;
	for (const char *p = name; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("._-@", *p))
			return false;
	}
	return true;
}

/* path with $HOME shown as '~', for messages. */
void config_shown_path(const char *path, char *out, size_t len)
{
	const char *home = getenv("HOME");
	size_t n = home ? strlen(home) : 0;

	if (n > 1 && strncmp(path, home, n) == 0 && path[n] == '/')
		snprintf(out, len, "~%s", path + n);
	else
		snprintf(out, len, "%s", path);
}

/*
 * The profile a command line names, the way options.c will read it: the
 * first of two words that are neither options nor the value of -o.
 */
const char *config_profile_of(int argc, char **argv, bool *help)
{
	const char *words[2] = { NULL, NULL };
	bool options = true;
	int n = 0;

	*help = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (options && strcmp(a, "--") == 0) {
			options = false;
		} else if (options && strcmp(a, "-o") == 0) {
			i++;
		} else if (options && a[0] == '-') {
			*help |= !strcmp(a, "-h") || !strcmp(a, "--help") ||
				 !strcmp(a, "-V") || !strcmp(a, "--version");
		} else if (n < 2) {
			words[n++] = a;
		} else {
			n++;
		}
	}
	return n == 2 ? words[0] : "default";
}

/* ---- reading ---------------------------------------------------------- */

static char *config_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

struct config_reader {
	const char *profile;
	config_fn fn;
	void *arg;
	bool in_section;	/* some section has begun */
	bool in_profile;	/* it is ours */
	bool found;		/* ours appeared */
	mode_t mode;		/* the file's */
};

static int config_section(struct config_reader *r, char *line, char *why,
			  size_t len)
{
	char *end = strchr(line, ']');
	char *name;

	if (!end || config_trim(end + 1)[0] != '\0') {
		snprintf(why, len, "bad section header: write [PROFILE]");
		return -EINVAL;
	}
	*end = '\0';
	name = config_trim(line + 1);
	if (!config_profile_name_ok(name)) {
		snprintf(why, len, "bad profile name '%s': use letters, "
			 "digits, '.', '-', '_' and '@'", name);
		return -EINVAL;
	}
	r->in_section = true;
	r->in_profile = strcmp(name, r->profile) == 0;
	r->found |= r->in_profile;
	return 0;
}

static int config_setting(struct config_reader *r, char *line, char *why,
			  size_t len)
{
	char *eq = strchr(line, '=');
	char *key = line, *value = NULL;
	size_t vlen;

	if (eq) {
		*eq = '\0';
		value = config_trim(eq + 1);
		vlen = strlen(value);
		/* "a value" keeps its outer spaces, as in git's config. */
		if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
			value[vlen - 1] = '\0';
			value++;
		}
	}
	key = config_trim(key);
	if (key[0] == '\0') {
		snprintf(why, len, "missing option name before '='");
		return -EINVAL;
	}
	for (const char *p = key; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-') {
			snprintf(why, len, "bad option name '%s'", key);
			return -EINVAL;
		}
	}
	if (!r->in_section) {
		snprintf(why, len, "option '%s' is outside a [PROFILE] "
			 "section", key);
		return -EINVAL;
	}
	if (!r->in_profile)
		return 0;
	/* A secret others can read is a secret others can use. */
	if (strcmp(key, "client_secret") == 0 &&
	    (r->mode & (S_IRWXG | S_IRWXO))) {
		snprintf(why, len, "client_secret in a file group or others "
			 "can read (mode %04o): chmod 600 it",
			 (unsigned)(r->mode & 07777));
		return -EACCES;
	}
	return r->fn(r->arg, key, value, why, len);
}

static int config_line(struct config_reader *r, char *raw, char *why,
		       size_t len)
{
	char *line = config_trim(raw);

	if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
		return 0;
	if (line[0] == '[')
		return config_section(r, line, why, len);
	return config_setting(r, line, why, len);
}

int config_read(const char *path, const char *profile, config_fn fn,
		void *arg, bool *found, char *err, size_t errlen)
{
	struct config_reader r = { .profile = profile, .fn = fn, .arg = arg };
	char shown[4096], why[512];
	struct stat st;
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	FILE *f;
	int rc = 0;

	if (found)
		*found = false;
	config_shown_path(path, shown, sizeof(shown));
	f = fopen(path, "re");
	if (!f) {
		rc = errno == ENOENT ? 0 : -errno;
		if (rc)
			snprintf(err, errlen, "%s: %s", shown, strerror(-rc));
		return rc;
	}
	/* Not known: taken as readable by all (a secret is refused). */
	r.mode = fstat(fileno(f), &st) == 0 ? st.st_mode : 0777;
	while (rc == 0 && getline(&line, &cap, f) >= 0) {
		lineno++;
		why[0] = '\0';
		rc = config_line(&r, line, why, sizeof(why));
		if (rc)
			snprintf(err, errlen, "%s:%u: %s", shown, lineno,
				 why[0] ? why : strerror(-rc));
	}
	if (rc == 0 && ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "%s: read error", shown);
	}
	free(line);
	fclose(f);
	if (found)
		*found = r.found;
	return rc;
}
