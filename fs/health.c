/*
 * health.c — the log, and the mount's health as .upfs/status shows it.
 *
 * One line per event. In the foreground lines go to stderr as
 * "upfs: warning: …"; once daemonized they go to syslog. Tokens, headers
 * and document bytes are never logged: graph/ never hands them out.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "fs.h"
#include "isodate.h"

static const char *const level_names[] = { "debug", "info", "warning",
					   "error" };

void upfs_log(struct upfs *u, enum upfs_log_level level, const char *fmt, ...)
{
	static const int priorities[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING,
					  LOG_ERR };
	char line[1024];
	va_list ap;

	if (level == UPFS_LOG_DEBUG && !u->opts.debug)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (u->daemonized)
		syslog(priorities[level], "%s: %s", level_names[level], line);
	else
		fprintf(stderr, "upfs: %s: %s\n", level_names[level], line);
}

void health_trace(void *arg, const char *line)
{
	upfs_log(arg, UPFS_LOG_DEBUG, "%s", line);
}

void health_set_online(struct upfs *u, bool online)
{
	bool was;

	pthread_mutex_lock(&u->health_lock);
	was = u->online;
	u->online = online;
	pthread_mutex_unlock(&u->health_lock);
	if (was != online && online)
		upfs_log(u, UPFS_LOG_INFO, "service reachable again: online");
}

void health_error(struct upfs *u, const char *what, int err,
		  const struct graph_err *gerr)
{
	char detail[400];
	bool transport = gerr && gerr->status == 0;
	bool throttled = gerr && gerr->status == 429 && gerr->retry_after > 0;
	bool was_online, said = false;

	if (session_error(u, what, gerr))
		return;
	if (gerr)
		graph_err_format(gerr, detail, sizeof(detail));
	else
		snprintf(detail, sizeof(detail), "%s", strerror(-err));
	pthread_mutex_lock(&u->health_lock);
	was_online = u->online;
	if (transport)
		u->online = false;
	snprintf(u->last_error, sizeof(u->last_error), "'%s': %s", what,
		 detail);
	u->last_error_ms = cache_now_ms();
	/* So is a Retry-After window: every request it turns away says so. */
	if (throttled) {
		int64_t until = u->last_error_ms +
				(int64_t)gerr->retry_after * 1000;

		said = u->last_error_ms < u->throttle_said_until_ms;
		if (until > u->throttle_said_until_ms)
			u->throttle_said_until_ms = until;
	}
	pthread_mutex_unlock(&u->health_lock);

	/* An outage is one warning, not one per request while it lasts. */
	if (said)
		upfs_log(u, UPFS_LOG_DEBUG, "'%s': %s", what, detail);
	else if (transport && was_online)
		upfs_log(u, UPFS_LOG_WARNING,
			 "service unreachable, serving the cache: '%s': %s",
			 what, detail);
	else if (!transport)
		upfs_log(u, UPFS_LOG_WARNING, "'%s': %s", what, detail);
	else
		upfs_log(u, UPFS_LOG_DEBUG, "'%s': %s", what, detail);
}

void health_refusal(struct upfs *u, const char *what, const char *why)
{
	pthread_mutex_lock(&u->health_lock);
	snprintf(u->last_error, sizeof(u->last_error), "%s refused: %s", what,
		 why);
	u->last_error_ms = cache_now_ms();
	pthread_mutex_unlock(&u->health_lock);
	upfs_log(u, UPFS_LOG_WARNING, "%s refused: %s", what, why);
}

static void format_time(int64_t ms, char out[UPFS_ISODATE_UTC_LEN])
{
	if (ms == 0 || isodate_format_utc(ms / 1000, out) != 0)
		snprintf(out, UPFS_ISODATE_UTC_LEN, "never");
}

int health_render(struct upfs *u, struct buf *out)
{
	struct graph_stats gs;
	struct cache_stats cs;
	char when[UPFS_ISODATE_UTC_LEN], started[UPFS_ISODATE_UTC_LEN];
	int rc;

	graph_stats_get(u->graph, &gs);
	cache_stats_get(u->cache, &cs);
	format_time(u->started_ms, started);
	pthread_mutex_lock(&u->health_lock);
	format_time(u->last_error_ms, when);
	rc = buf_printf(out,
		"state: %s\n"
		"offline_option: %s\n"
		"endpoint: %s\n"
		"cache_dir: %s\n"
		"mounted: %s\n"
		"dir_ttl: %d\n"
		"status_ttl: %d\n"
		"low_speed_time: %d\n"
		"request_timeout: %d\n"
		"cache_hits: %llu\n"
		"cache_misses: %llu\n"
		"cache_entries: %llu\n"
		"cache_bytes: %llu\n"
		"served_stale: %llu\n"
		"graph_requests: %llu\n"
		"graph_retries: %llu\n"
		"graph_failures: %llu\n"
		"token_fetches: %llu\n"
		"last_error: %s\n"
		"last_error_at: %s\n",
		u->opts.offline || !u->online ? "offline" : "online",
		u->opts.offline ? "yes" : "no", graph_endpoint(u->graph), u->opts.cache_dir, started,
		u->opts.dir_ttl, u->opts.status_ttl, u->opts.low_speed_time,
		u->opts.request_timeout,
		(unsigned long long)cs.hits, (unsigned long long)cs.misses,
		(unsigned long long)cs.entries,
		(unsigned long long)cs.map_used,
		(unsigned long long)u->served_stale,
		(unsigned long long)gs.requests,
		(unsigned long long)gs.retries,
		(unsigned long long)gs.failures,
		(unsigned long long)gs.token_fetches,
		u->last_error[0] ? u->last_error : "none", when);
	pthread_mutex_unlock(&u->health_lock);
	if (rc == 0)
		rc = session_render(u, out);
	return rc;
}
