/*
 * session.c — the sign-in as the mount sees it, and SIGHUP.
 *
 * graph/ owns the tokens; this file only asks it what it knows (never a
 * token) for .upfs/status, turns an expired session (or a session file
 * that cannot be used) into the one message that tells the user what to
 * do, and re-reads everything on SIGHUP.
 *
 * When the refresh token is refused the mount goes on: reads are served
 * from the cache (resource.c serves stale data when a fetch fails) and
 * prints stay spooled, while every request to the service fails at once
 * in graph/ until `upfsctl login` writes a new session file, which graph/
 * notices by itself.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "role.h"
#include "fs.h"
#include "isodate.h"

/*
 * A token source that cannot hand out a token here (a session or token
 * file gone, unreadable or unsafe) fails with "unauthenticated" and no
 * HTTP status: that is not the service being unreachable.
 */
static bool session_local_failure(const struct graph_err *gerr)
{
	return gerr->status == 0 && gerr->curl_code == 0 &&
	       strcmp(gerr->code, "unauthenticated") == 0;
}

bool session_error(struct upfs *u, const char *what,
		   const struct graph_err *gerr)
{
	char detail[400], line[sizeof(u->last_error)];
	bool first;

	if (!gerr || (!graph_err_session_expired(gerr) &&
		      !session_local_failure(gerr)))
		return false;
	graph_err_format(gerr, detail, sizeof(detail));
	if (graph_err_session_expired(gerr))
		snprintf(line, sizeof(line), "session expired: run 'upfsctl "
			 "login %s'", u->opts.profile);
	else
		snprintf(line, sizeof(line), "%s", gerr->message);
	pthread_mutex_lock(&u->health_lock);
	first = !u->session_expired || strcmp(u->last_error, line) != 0;
	u->session_expired = true;
	snprintf(u->last_error, sizeof(u->last_error), "%s", line);
	u->last_error_ms = cache_now_ms();
	pthread_mutex_unlock(&u->health_lock);
	/* One line for the event, not one per request while it lasts. */
	if (first)
		upfs_log(u, UPFS_LOG_ERROR, "%s", line);
	upfs_log(u, UPFS_LOG_DEBUG, "'%s': %s", what, detail);
	return true;
}

/* A new sign-in was noticed by graph/: say so once. */
static void session_check_back(struct upfs *u,
			       const struct graph_auth_info *info)
{
	bool was;

	if (info->expired)
		return;
	pthread_mutex_lock(&u->health_lock);
	was = u->session_expired;
	u->session_expired = false;
	pthread_mutex_unlock(&u->health_lock);
	if (was)
		upfs_log(u, UPFS_LOG_INFO, "signed in again%s%s",
			 info->user[0] ? " as " : "", info->user);
}

static void session_time(int64_t t, char out[UPFS_ISODATE_UTC_LEN])
{
	if (t == 0 || isodate_format_utc(t, out) != 0)
		snprintf(out, UPFS_ISODATE_UTC_LEN, "unknown");
}

int session_render(struct upfs *u, struct buf *out)
{
	struct graph_auth_info info;
	char expires[UPFS_ISODATE_UTC_LEN], file[4096] = "", shown[4096];
	const char *state;
	int rc;

	graph_auth_info_get(u->graph, &info);
	session_check_back(u, &info);
	session_time(info.expires_at, expires);
	if (strcmp(info.source, "session") == 0 &&
	    config_session_path(u->opts.profile, file, sizeof(file)) == 0) {
		config_shown_path(file, shown, sizeof(shown));
		rc = buf_printf(out, "session_file: %s\n", shown);
		if (rc)
			return rc;
	}
	state = info.expired ? "expired" : "ok";
	rc = buf_printf(out, "token_source: %s\nuser: %s\ntoken_expires: %s\n",
			info.source, info.user[0] ? info.user : "unknown",
			expires);
	if (!rc && info.expired)
		rc = buf_printf(out, "session: %s: run 'upfsctl login %s'\n",
				state, u->opts.profile);
	else if (!rc)
		rc = buf_printf(out, "session: %s\n", state);
	if (!rc && info.problem[0])
		rc = buf_printf(out, "session_problem: %s\n", info.problem);
	return rc;
}

/* ---- SIGHUP ------------------------------------------------------------- */

static void reload_now(struct upfs *u)
{
	struct graph_auth_info info;

	graph_auth_reload(u->graph);
	res_drop_memory(u);
	/* A new token may be another user's, with other roles. */
	role_forget(u);
	pthread_mutex_lock(&u->health_lock);
	u->session_expired = false;
	pthread_mutex_unlock(&u->health_lock);
	graph_auth_info_get(u->graph, &info);
	upfs_log(u, UPFS_LOG_INFO, "SIGHUP: in-memory caches dropped, %s "
		 "re-read", info.source);
}

static void *reload_main(void *arg)
{
	struct upfs *u = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	while (!atomic_load(&u->stopping)) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (atomic_load(&u->stopping))
			break;
		reload_now(u);
	}
	return NULL;
}

int reload_start(struct upfs *u)
{
	sigset_t set;
	int rc;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	/* Every thread made after this one inherits the mask: only the
	   reloader ever takes SIGHUP, with sigwait(), outside any handler. */
	rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (rc == 0)
		rc = pthread_create(&u->reloader, NULL, reload_main, u);
	if (rc)
		return -rc;
	u->reloader_started = true;
	return 0;
}

void reload_stop(struct upfs *u)
{
	if (!u->reloader_started)
		return;
	atomic_store(&u->stopping, true);
	pthread_kill(u->reloader, SIGHUP);
	pthread_join(u->reloader, NULL);
	u->reloader_started = false;
}
