/*
 * main.c — the upfs program: parse, check, probe, mount, serve, clean up.
 *
 * Everything that can go wrong before serving is reported on the terminal
 * before daemonizing, in one line that says what to do, as sshfs does.
 * LMDB must not cross a fork, so the cache is opened for the probe, closed,
 * and opened again in the daemon.
 */
#include <dirent.h>
#include <errno.h>
#include <fuse_lowlevel.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs.h"
#include "heap.h"
#include "ops.h"
#include "queue_rows.h"
#include "readbase.h"
#include "scratch.h"
#include "shareops.h"
#include "spool.h"
#include "events_wait.h"
#include "submit.h"
#include "usage.h"

#define EXIT_USAGE 2

static int check_mountpoint(const char *path)
{
	struct stat st;
	struct dirent *d;
	DIR *dir;
	int entries = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "upfs: mountpoint '%s': %s: create it with "
				"'mkdir -p %s'\n", path, strerror(errno), path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "upfs: mountpoint '%s' is not a directory\n",
			path);
		return -1;
	}
	dir = opendir(path);
	if (dir == NULL) {
		fprintf(stderr, "upfs: mountpoint '%s': %s\n", path,
			strerror(errno));
		return -1;
	}
	while ((d = readdir(dir)) != NULL)
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			entries++;
	closedir(dir);
	if (entries) {
		fprintf(stderr, "upfs: mountpoint '%s' is not empty: mount on "
				"an empty directory\n", path);
		return -1;
	}
	return 0;
}

/* The session file of `upfsctl login PROFILE`, if there is one. */
static const char *session_file(struct upfs *u, char *path, size_t len)
{
	struct stat st;

	if (config_session_path(u->opts.profile, path, len) != 0 ||
	    stat(path, &st) != 0)
		return NULL;
	return path;
}

static int make_graph(struct upfs *u)
{
	char session[4096];
	struct graph_config cfg = {
		.endpoint = u->opts.endpoint,
		.authority = u->opts.authority,
		.client_id = u->opts.client_id,
		.client_secret = u->opts.client_secret,
		.token_file = u->opts.token_file,
		.access_token = getenv("UPFS_ACCESS_TOKEN"),
		.ca_file = u->opts.ca_file,
		.low_speed_time_s = u->opts.low_speed_time,
		/* 0 in the option is no limit; 0 in the config the default. */
		.request_timeout_s = u->opts.request_timeout > 0
					     ? u->opts.request_timeout
					     : -1,
		.max_retries = -1,
		.trace = u->opts.debug ? health_trace : NULL,
		.trace_arg = u,
	};
	struct graph_err err = { 0 };
	int rc;

	if (cfg.access_token && cfg.access_token[0] == '\0')
		cfg.access_token = NULL;
	if (!cfg.access_token && !cfg.token_file)
		cfg.session_file = session_file(u, session, sizeof(session));
	if (!cfg.access_token && !cfg.token_file && !cfg.session_file &&
	    !cfg.client_secret) {
		fprintf(stderr, "upfs: not signed in: run 'upfsctl login %s', "
				"or give -o token_file=PATH\n", u->opts.profile);
		return -EACCES;
	}
	rc = graph_new(&u->graph, &cfg, &err);
	u->graph_is_app = !cfg.access_token && !cfg.token_file &&
			  !cfg.session_file;
	/* The user signs in and the app has a secret: hold both (identity.h). */
	if (rc == 0 && !u->graph_is_app && cfg.client_secret) {
		cfg.access_token = cfg.token_file = cfg.session_file = NULL;
		rc = graph_new(&u->app_graph, &cfg, &err);
	}
	if (rc)
		fprintf(stderr, "upfs: %s\n", err.message[0] ? err.message
							     : strerror(-rc));
	return rc;
}

/* fresh: within dir_ttl; else whether there is anything to serve. */
static bool cache_is_warm(struct upfs *u, bool fresh)
{
	struct cache_entry e = { 0 };
	bool warm;

	if (cache_get(u->cache, UPFS_CACHE_RESOURCES, "/print/shares", &e))
		return false;
	warm = !fresh ||
	       cache_now_ms() - e.fetched_ms < (int64_t)u->opts.dir_ttl * 1000;
	cache_entry_release(&e);
	return warm;
}

/*
 * One small request that every user who may print is allowed to make.
 * A refused token or app registration stops the mount; anything else does
 * not: an unreachable service leaves the cache served and prints spooled,
 * and an account without share rights may still see printers.
 */
static int probe_service(struct upfs *u)
{
	struct graph_err err = { 0 };
	json_t *page = NULL;
	char detail[400];
	int rc;

	if (u->opts.offline || cache_is_warm(u, true))
		return 0;
	rc = graph_get(u->graph, "/print/shares?$top=1", &page, &err);
	json_decref(page);
	if (rc == 0)
		return 0;
	graph_err_format(&err, detail, sizeof(detail));
	if (graph_err_session_expired(&err) && !cache_is_warm(u, false)) {
		fprintf(stderr, "upfs: session expired: run 'upfsctl login "
				"%s'\n", u->opts.profile);
		return rc;
	}
	/* A session or token file that cannot be used: nothing to mount. */
	if (err.status == 0 && strcmp(err.code, "unauthenticated") == 0) {
		fprintf(stderr, "upfs: %s\n", err.message);
		return rc;
	}
	if (strcmp(err.code, "invalid_client") == 0 ||
	    strcmp(err.code, "unauthorized_client") == 0) {
		fprintf(stderr, "upfs: the sign-in service refused the app "
				"registration (%s): check client_id and "
				"client_secret\n", detail);
		return rc;
	}
	/* An untrusted certificate is a misconfiguration or an attack: no
	   mount, not an offline one. */
	if (graph_err_tls_untrusted(&err)) {
		fprintf(stderr, "upfs: the service's TLS certificate is not "
				"trusted (%s): give its CA with -o "
				"ca_file=PATH\n", detail);
		return rc;
	}
	if (err.status == 401) {
		fprintf(stderr, "upfs: the service refused the access token "
				"(%s): run 'upfsctl login %s' or renew the "
				"token\n", detail, u->opts.profile);
		return rc;
	}
	health_error(u, "/print/shares", rc, &err);
	return 0;
}

/* Says why cache_dir (path) cannot be used; returns rc. */
static int cache_dir_failed(const char *path, int rc)
{
	fprintf(stderr, "upfs: cache_dir '%s': %s\n", path, strerror(-rc));
	return rc;
}

/* Whether a folder's owner is this user or root. */
static bool ours_or_roots(const struct stat *st)
{
	return st->st_uid == 0 || st->st_uid == getuid() ||
	       st->st_uid == geteuid();
}

/*
 * Whether gid is the user's private group (named as the user, the
 * user's primary group, no other member listed): where each user has
 * one, umask 002 is the custom, and ~/.cache is then 0775.
 */
static bool private_group(gid_t gid)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char pwbuf[4096], grbuf[8192];

	if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 ||
	    pwp == NULL || pw.pw_gid != gid ||
	    getgrgid_r(gid, &gr, grbuf, sizeof(grbuf), &grp) != 0 ||
	    grp == NULL || strcmp(gr.gr_name, pw.pw_name) != 0)
		return false;
	for (char **m = gr.gr_mem; *m; m++)
		if (strcmp(*m, pw.pw_name) != 0)
			return false;
	return true;
}

/*
 * Whether others than the user may write to the folder at path (sticky:
 * only to what is theirs, which leaves ours in place). With an access
 * ACL the group bits are its mask, which other users' entries may share:
 * group write then counts as others'.
 */
static bool others_may_write(const char *path, const struct stat *st)
{
	if (st->st_mode & S_ISVTX)
		return false;
	if (st->st_mode & S_IWOTH)
		return true;
	if (!(st->st_mode & S_IWGRP))
		return false;
	return lgetxattr(path, "system.posix_acl_access", NULL, 0) >= 0 ||
	       (errno != ENODATA && errno != ENOTSUP) ||
	       !private_group(st->st_gid);
}

/*
 * A folder above cache_dir (a path without symbolic links) that another
 * user owns or may write to lets that user put a folder of theirs in
 * its place.
 */
static int check_cache_parents(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (;;) {
		char *slash = strrchr(path, '/');

		/* Up one: "/a/b" -> "/a" -> "/", where it ends. */
		if (slash == NULL || strcmp(path, "/") == 0)
			return 0;
		slash[slash == path] = '\0';
		if (lstat(path, &st) != 0) {
			int rc = -errno;

			fprintf(stderr, "upfs: cache_dir '%s': '%s': %s\n",
				dir, path, strerror(-rc));
			return rc;
		}
		if (!ours_or_roots(&st) || others_may_write(path, &st)) {
			fprintf(stderr, "upfs: cache_dir '%s' is inside '%s', "
				"owned by uid %u, group %u, mode %04o: every "
				"folder above it must be this user's or root's, "
				"and no one else's to write (unless sticky, as "
				"/tmp)\n", dir, path, (unsigned)st.st_uid,
				(unsigned)st.st_gid,
				(unsigned)(st.st_mode & 07777));
			return -EACCES;
		}
	}
}

/*
 * The cache holds what the service said and the spool what gets
 * printed, under this mount's sign-in: a folder another user owns or
 * may write to could feed it documents or records. cache_dir becomes
 * the path without symbolic links that was checked, which every later
 * open goes through: a link in a folder another user may change would
 * otherwise lead elsewhere after the check.
 */
static int settle_cache_dir(struct upfs *u)
{
	char *real;
	struct stat st;

	if (lstat(u->opts.cache_dir, &st) != 0)
		return cache_dir_failed(u->opts.cache_dir, -errno);
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "upfs: cache_dir '%s' is not a folder (a "
			"symbolic link is not taken)\n", u->opts.cache_dir);
		return -ENOTDIR;
	}
	real = realpath(u->opts.cache_dir, NULL);
	if (real == NULL)
		return cache_dir_failed(u->opts.cache_dir, -errno);
	free(u->opts.cache_dir);
	u->opts.cache_dir = real;
	if (lstat(real, &st) != 0)
		return cache_dir_failed(real, -errno);
	if ((st.st_uid != getuid() && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		fprintf(stderr, "upfs: cache_dir '%s' is owned by uid %u, mode "
			"%04o: it must be this user's and no one else's to "
			"write\n", real, (unsigned)st.st_uid,
			(unsigned)(st.st_mode & 07777));
		return -EACCES;
	}
	return check_cache_parents(real);
}

static int open_cache(struct upfs *u)
{
	struct stat st;
	/* Checked before anything in it is opened; one made now is ours. */
	int rc = lstat(u->opts.cache_dir, &st) == 0 ? settle_cache_dir(u) : 0;

	if (rc)
		return rc;
	rc = cache_open(&u->cache, u->opts.cache_dir, 0);
	if (rc)
		cache_dir_failed(u->opts.cache_dir, rc);
	/* Made just now, or there already (a race): checked again. */
	else if ((rc = settle_cache_dir(u)) != 0) {
		cache_close(u->cache);
		u->cache = NULL;
	}
	return rc;
}

static int upfs_init(struct upfs *u)
{
	pthread_condattr_t mono;
	pthread_rwlockattr_t rw;
	int rc;

	pthread_mutex_init(&u->node_lock, NULL);
	pthread_mutex_init(&u->res_lock, NULL);
	pthread_cond_init(&u->res_cond, NULL);
	pthread_mutex_init(&u->health_lock, NULL);
	pthread_mutex_init(&u->spool_lock, NULL);
	pthread_mutex_init(&u->handle_lock, NULL);
	pthread_rwlockattr_init(&rw);
	pthread_rwlockattr_setkind_np(&rw,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&u->create_lock, &rw);
	pthread_rwlockattr_destroy(&rw);
	pthread_mutex_init(&u->scratch_lock, NULL);
	pthread_mutex_init(&u->role_lock, NULL);
	pthread_mutex_init(&u->perms_lock, NULL);
	pthread_mutex_init(&u->readbase_lock, NULL);
	pthread_mutex_init(&u->queue_rows_lock, NULL);
	pthread_cond_init(&u->spool_cond, NULL);
	pthread_mutex_init(&u->events_lock, NULL);
	pthread_mutex_init(&u->made_triggers_lock, NULL);
	pthread_mutex_init(&u->user_chunks_lock, NULL);
	pthread_condattr_init(&mono);
	pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
	pthread_cond_init(&u->events_cond, &mono);
	pthread_condattr_destroy(&mono);
	u->started_ms = cache_now_ms();
	u->online = true;
	u->spool_lock_fd = -1;
	u->uid = u->opts.have_uid ? u->opts.uid : getuid();
	u->gid = u->opts.have_gid ? u->opts.gid : getgid();
	rc = res_table_new(u);
	if (rc == 0)
		rc = node_table_init(u);
	return rc;
}

static void upfs_release(struct upfs *u)
{
	if (u->started_ms) {
		submit_stop(u);
		res_stop(u);
		events_stop(u);
		/* After the loop: no request runs, so no handle is in use. */
		handles_release(u);
		pthread_mutex_destroy(&u->handle_lock);
		node_table_release(u);
		res_release(u);
		spool_release(u);
		scratch_release(u);
		shareops_release(u);
		queue_rows_release(u);
		pthread_mutex_destroy(&u->queue_rows_lock);
		pthread_mutex_destroy(&u->scratch_lock);
		pthread_mutex_destroy(&u->role_lock);
		readbase_release(u);
		pthread_mutex_destroy(&u->readbase_lock);
		pthread_mutex_destroy(&u->perms_lock);
		pthread_mutex_destroy(&u->spool_lock);
		pthread_rwlock_destroy(&u->create_lock);
		pthread_cond_destroy(&u->spool_cond);
		pthread_mutex_destroy(&u->node_lock);
		pthread_mutex_destroy(&u->res_lock);
		pthread_cond_destroy(&u->res_cond);
		pthread_mutex_destroy(&u->health_lock);
		pthread_mutex_destroy(&u->events_lock);
		pthread_cond_destroy(&u->events_cond);
		pthread_mutex_destroy(&u->made_triggers_lock);
		usage_release(u);
		pthread_mutex_destroy(&u->user_chunks_lock);
	}
	json_decref(u->made_triggers);
	if (u->cache)
		cache_close(u->cache);
	if (u->graph)
		graph_free(u->graph);
	if (u->app_graph)
		graph_free(u->app_graph);
	options_release(&u->opts);
}

static int serve(struct upfs *u, struct fuse_args *args)
{
	struct fuse_lowlevel_ops ops;
	struct fuse_loop_config *loop = NULL;
	int rc = 1;

	ops_fill(&ops);
	u->session = fuse_session_new(args, &ops, sizeof(ops), u);
	if (u->session == NULL)
		return 1;
	if (fuse_set_signal_handlers(u->session) != 0)
		goto out_destroy;
	if (fuse_session_mount(u->session, u->opts.mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(u->opts.foreground) != 0)
		goto out_unmount;
	u->daemonized = !u->opts.foreground;
	/* Before any thread: they inherit its blocked SIGHUP. */
	if (reload_start(u) != 0 || open_cache(u) != 0 || res_start(u) != 0)
		goto out_unmount;
	rc = spool_init(u);
	if (rc == 0)
		rc = submit_start(u);
	if (rc) {
		upfs_log(u, UPFS_LOG_ERROR, "spool '%s': %s", u->spool_dir,
			 strerror(-rc));
		rc = 1;
		goto out_unmount;
	}
	rc = 1;
	upfs_log(u, UPFS_LOG_INFO, "mounted '%s' on '%s'", u->opts.endpoint,
		 u->opts.mountpoint);
	if (u->opts.single_thread) {
		rc = fuse_session_loop(u->session);
	} else {
		loop = fuse_loop_cfg_create();
		if (loop == NULL)
			goto out_unmount;
		fuse_loop_cfg_set_max_threads(loop, 16);
		rc = fuse_session_loop_mt(u->session, loop);
		fuse_loop_cfg_destroy(loop);
	}
	atomic_store(&u->loop_ended, true);
	/* libfuse reports the signal that ended the loop: that is a clean stop. */
	rc = rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP ? 0 : 1;
out_unmount:
	/* First: its waiting reads are answered at once, and its polls use
	   what the others tear down. Its replies need the session. */
	events_stop(u);
	submit_stop(u);
	res_stop(u);
	reload_stop(u);
	fuse_session_unmount(u->session);
out_signals:
	fuse_remove_signal_handlers(u->session);
out_destroy:
	fuse_session_destroy(u->session);
	u->session = NULL;
	return rc;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct upfs u = { 0 };
	int rc, heap_rc;

	if (options_parse(&u.opts, &args, argc, argv) != 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (u.opts.show_help || u.opts.show_version) {
		if (u.opts.show_help)
			options_print_help(argv[0]);
		else
			printf("upfs %s (libfuse %s)\n", UPFS_VERSION,
			       fuse_pkgversion());
		rc = 0;
		goto out;
	}
	rc = 1;
	/* Before any other thread starts: the arena limit and the main
	   heap's advice apply to every thread from then on. */
	heap_rc = heap_ask_huge_pages();
	if (check_mountpoint(u.opts.mountpoint) != 0 || upfs_init(&u) != 0 ||
	    make_graph(&u) != 0 || open_cache(&u) != 0)
		goto out;
	if (heap_rc != 0)
		upfs_log(&u, UPFS_LOG_DEBUG, "heap: no huge pages: %s",
			 strerror(-heap_rc));
	if (probe_service(&u) != 0)
		goto out;
	cache_close(u.cache);
	u.cache = NULL;
	rc = serve(&u, &args);
out:
	upfs_release(&u);
	fuse_opt_free_args(&args);
	return rc;
}
