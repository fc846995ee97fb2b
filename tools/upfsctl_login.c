/*
 * upfsctl_login.c — `upfsctl login [PROFILE] [-o OPT,...]`: the OAuth2
 * device-code flow (graph/login.c) and the session file it leaves.
 *
 * The service's own message (URL and code) goes to stdout, so it can be
 * read over ssh or piped to a notifier; the outcome is one line. Polls
 * are spaced by the service's interval, which grows by 5 s on every
 * slow_down, and stop at the code's expiry. The session file is written by
 * graph_session_save(): mode 0600 from its creation, replaced atomically;
 * a running mount of the profile notices it by itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "graph.h"
#include "upfsctl.h"

static long ctl_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec;
}

static void ctl_sleep_s(int seconds)
{
	struct timespec ts = { .tv_sec = seconds };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int ctl_login_args(int argc, char **argv, const char **profile,
			  const char **opts)
{
	*profile = NULL;
	*opts = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			*opts = argv[++i];
		} else if (strncmp(argv[i], "-o", 2) == 0 && argv[i][2]) {
			*opts = argv[i] + 2;
		} else if (argv[i][0] == '-' || *profile) {
			fprintf(stderr, "upfsctl: usage: upfsctl login "
					"[PROFILE] [-o OPT,...]\n");
			return CTL_EXIT_USAGE;
		} else {
			*profile = argv[i];
		}
	}
	return 0;
}

static int ctl_graph(const struct ctl_profile *p, struct graph **g)
{
	struct graph_config cfg = {
		.endpoint = p->endpoint,
		.authority = p->authority,
		.client_id = p->client_id,
		.ca_file = p->ca_file,
		/* A token source is required; the file is never read here. */
		.session_file = p->session_path,
		.max_retries = -1,
	};
	struct graph_err err;
	int rc = graph_new(g, &cfg, &err);

	if (rc)
		fprintf(stderr, "upfsctl: %s\n", err.message[0]
					 ? err.message : strerror(-rc));
	return rc;
}

static void ctl_show_code(const struct graph_device_code *dc)
{
	if (dc->message)
		printf("%s\n", dc->message);
	else
		printf("To sign in, use a web browser to open the page %s and "
		       "enter the code %s to authenticate.\n",
		       dc->verification_uri, dc->user_code);
	fflush(stdout);
}

/* Polls until signed in, refused or expired; fills sess on success. */
static int ctl_poll(struct graph *g, const struct ctl_profile *p,
		    struct graph_device_code *dc, struct graph_session *sess)
{
	long deadline = ctl_now_s() + dc->expires_in;
	struct graph_err err;
	char detail[400];
	int rc;

	for (;;) {
		ctl_sleep_s(dc->interval > 0 ? dc->interval : 1);
		rc = graph_login_poll(g, dc, sess, &err);
		if (rc != -EAGAIN)
			break;
		if (ctl_now_s() >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
	}
	if (rc == 0)
		return 0;
	graph_err_format(&err, detail, sizeof(detail));
	if (rc == -ETIMEDOUT)
		fprintf(stderr, "upfsctl: the code expired before the sign-in "
				"finished: run 'upfsctl login %s' again\n",
			p->name);
	else if (rc == -EACCES &&
		 (!strcmp(err.code, "authorization_declined") ||
		  !strcmp(err.code, "access_denied")))
		fprintf(stderr, "upfsctl: the sign-in was declined (%s): run "
				"'upfsctl login %s' to try again\n",
			err.code, p->name);
	else
		fprintf(stderr, "upfsctl: sign-in failed: %s\n", detail);
	return rc;
}

static int ctl_save(const struct ctl_profile *p, struct graph_session *sess)
{
	struct graph_err err;
	int rc = ctl_config_dir_make();

	if (rc) {
		fprintf(stderr, "upfsctl: cannot make the folder of '%s': %s\n",
			p->session_shown, strerror(-rc));
		return rc;
	}
	rc = graph_session_save(p->session_path, sess, &err);
	if (rc) {
		fprintf(stderr, "upfsctl: %s\n", err.message);
		return rc;
	}
	if (sess->user)
		printf("upfsctl: signed in as %s; session saved in %s\n",
		       sess->user, p->session_shown);
	else
		printf("upfsctl: signed in; session saved in %s\n",
		       p->session_shown);
	return 0;
}

int ctl_login(int argc, char **argv)
{
	struct graph_device_code dc = { 0 };
	struct graph_session sess = { 0 };
	const char *profile, *opts;
	struct ctl_profile p = { 0 };
	struct graph *g = NULL;
	struct graph_err err;
	char detail[400];
	int rc;

	rc = ctl_login_args(argc, argv, &profile, &opts);
	if (rc)
		return rc;
	rc = ctl_profile_load(&p, profile, opts);
	if (rc)
		return rc;
	rc = CTL_EXIT_FAIL;
	if (ctl_graph(&p, &g) != 0)
		goto out;
	if (graph_login_start(g, p.authority, p.client_id, p.scope, &dc,
			      &err) != 0) {
		graph_err_format(&err, detail, sizeof(detail));
		fprintf(stderr, "upfsctl: cannot start the sign-in at '%s': "
				"%s\n", p.authority, detail);
		goto out;
	}
	ctl_show_code(&dc);
	if (ctl_poll(g, &p, &dc, &sess) != 0 || ctl_save(&p, &sess) != 0)
		goto out;
	rc = 0;
out:
	graph_session_release(&sess);
	graph_device_code_release(&dc);
	graph_free(g);
	ctl_profile_release(&p);
	return rc;
}
