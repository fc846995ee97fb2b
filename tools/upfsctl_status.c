/*
 * upfsctl_status.c — `upfsctl status MOUNTPOINT`: the mount's
 * .upfs/status ("key: value" lines, see fs/health.c and fs/session.c)
 * grouped and worded for people. Lines this file does not know yet are
 * shown as they are, so a newer upfs never loses information here.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "upfsctl.h"

#define STATUS_MAX_KEYS 64

struct status_kv {
	char *key;
	char *value;
	int shown;
};

struct status {
	struct status_kv kv[STATUS_MAX_KEYS];
	int n;
	char *text;
};

static int status_load(struct status *st, const char *mnt)
{
	char path[4096];
	char *line, *next, *sep;
	size_t cap = 0;
	FILE *f;
	ssize_t len;

	memset(st, 0, sizeof(*st));
	if (snprintf(path, sizeof(path), "%s/.upfs/status", mnt) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	len = getdelim(&st->text, &cap, '\0', f);
	fclose(f);
	if (len < 0) {
		free(st->text);
		st->text = NULL;
		return -EIO;
	}
	for (line = st->text; line && *line && st->n < STATUS_MAX_KEYS;
	     line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		sep = strstr(line, ": ");
		if (!sep)
			continue;
		*sep = '\0';
		st->kv[st->n].key = line;
		st->kv[st->n].value = sep + 2;
		st->n++;
	}
	return 0;
}

/* The value of key (marked as shown), or dflt. */
static const char *status_get(struct status *st, const char *key,
			      const char *dflt)
{
	for (int i = 0; i < st->n; i++) {
		if (strcmp(st->kv[i].key, key) == 0) {
			st->kv[i].shown = 1;
			return st->kv[i].value;
		}
	}
	return dflt;
}

static void status_bytes(const char *text, char *out, size_t len)
{
	double v = strtod(text, NULL);
	const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* " (in 52 min)" or " (expired)" for an ISO 8601 UTC time. */
static void status_until(const char *iso, char *out, size_t len)
{
	struct tm tm = { 0 };
	long left;
	char *end;

	out[0] = '\0';
	end = strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return;
	left = (long)(timegm(&tm) - time(NULL));
	if (left <= 0)
		snprintf(out, len, " (expired)");
	else if (left < 120)
		snprintf(out, len, " (in %ld s)", left);
	else if (left < 7200)
		snprintf(out, len, " (in %ld min)", left / 60);
	else
		snprintf(out, len, " (in %ld h)", left / 3600);
}

/* Documents in the spool that the service does not have yet. */
static long status_spooled(struct status *st)
{
	const char *v = status_get(st, "spooled_jobs", NULL);
	const char *cache = status_get(st, "cache_dir", NULL);
	char path[4096];
	struct dirent *d;
	long n = 0;
	DIR *dir;

	if (v)
		return strtol(v, NULL, 10);
	if (!cache || snprintf(path, sizeof(path), "%s/spool", cache) >=
			      (int)sizeof(path))
		return -1;
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? 0 : -1;
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

static void status_print_auth(struct status *st)
{
	const char *source = status_get(st, "token_source", "unknown");
	const char *user = status_get(st, "user", "unknown");
	const char *file = status_get(st, "session_file", NULL);
	const char *expires = status_get(st, "token_expires", "unknown");
	char until[32];

	printf("  signed in:     %s (%s%s%s)\n",
	       strcmp(user, "unknown") ? user : "user not known", source,
	       file ? " " : "", file ? file : "");
	status_until(expires, until, sizeof(until));
	printf("  access token:  %s%s\n",
	       strcmp(expires, "unknown") ? expires : "none yet or not known",
	       until);
	printf("  session:       %s\n", status_get(st, "session", "unknown"));
	if (status_get(st, "session_problem", NULL))
		printf("  problem:       %s\n",
		       status_get(st, "session_problem", ""));
}

static void status_print_figures(struct status *st)
{
	char bytes[32];
	long spooled;

	status_bytes(status_get(st, "cache_bytes", "0"), bytes, sizeof(bytes));
	printf("  cache:         %s hits, %s misses, %s served stale; %s "
	       "entries, %s in %s\n",
	       status_get(st, "cache_hits", "?"),
	       status_get(st, "cache_misses", "?"),
	       status_get(st, "served_stale", "?"),
	       status_get(st, "cache_entries", "?"), bytes,
	       status_get(st, "cache_dir", "?"));
	printf("  kept for:      listings %s s, status files %s s\n",
	       status_get(st, "dir_ttl", "?"),
	       status_get(st, "status_ttl", "?"));
	printf("  requests:      %s to Graph, %s retried, %s failed; %s token "
	       "fetches\n",
	       status_get(st, "graph_requests", "?"),
	       status_get(st, "graph_retries", "?"),
	       status_get(st, "graph_failures", "?"),
	       status_get(st, "token_fetches", "?"));
	spooled = status_spooled(st);
	if (spooled >= 0)
		printf("  spooled jobs:  %ld waiting to be sent\n", spooled);
	printf("  last error:    %s", status_get(st, "last_error", "none"));
	if (strcmp(status_get(st, "last_error_at", "never"), "never"))
		printf(" (at %s)", status_get(st, "last_error_at", ""));
	printf("\n");
}

int ctl_status(int argc, char **argv)
{
	struct status st;
	int rc;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "upfsctl: usage: upfsctl status MOUNTPOINT\n");
		return CTL_EXIT_USAGE;
	}
	rc = status_load(&st, argv[1]);
	if (rc) {
		fprintf(stderr, "upfsctl: '%s' is not a upfs mount: cannot "
				"read .upfs/status: %s\n", argv[1],
			strerror(-rc));
		return CTL_EXIT_FAIL;
	}
	printf("upfs on %s: %s%s\n", argv[1], status_get(&st, "state", "?"),
	       strcmp(status_get(&st, "offline_option", "no"), "yes")
		       ? "" : " (mounted with -o offline)");
	printf("  endpoint:      %s\n", status_get(&st, "endpoint", "?"));
	printf("  mounted:       %s\n", status_get(&st, "mounted", "?"));
	status_print_auth(&st);
	status_print_figures(&st);
	for (int i = 0; i < st.n; i++)
		if (!st.kv[i].shown)
			printf("  %s: %s\n", st.kv[i].key, st.kv[i].value);
	free(st.text);
	return 0;
}
