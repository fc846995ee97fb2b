/*
 * queue_options.c — the options of one document in queue/ (see
 * queue_options.h): checked when set, stored with the submission (and in
 * its outbox record by spool.c), applied when its job is created.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joboptions.h"
#include "queue_options.h"
#include "submit.h"
#include "tree_private.h"

/* Options are a few lines; the cap keeps a stray write small. */
#define QUEUE_OPTIONS_MAX 4096

/*
 * Parses text and checks it against the share's printer; why if not. A
 * printer that cannot be asked now (offline, the service down) does not
 * stop a document from being spooled: what parses is kept, and the
 * service checks it when the job is made.
 */
static int check(struct upfs *u, const char *share_id, const char *text,
		 size_t len, char *why, size_t why_len)
{
	json_t *config = NULL, *share = NULL;
	int rc = joboptions_parse(text, len, &config, why, why_len);

	if (rc == 0) {
		rc = tree_get(u, TREE_SHARES, share_id, TREE_SHARE_SELECT, false,
			      u->opts.dir_ttl, RES_STALE_OK, &share, NULL);
		if (rc && !submit_err_is_permanent(rc))
			rc = 0;
	}
	if (rc == 0 && share)
		rc = joboptions_validate(config, json_object_get(share,
					 "capabilities"), why, why_len);
	json_decref(config);
	json_decref(share);
	return rc;
}

int queue_options_set(struct upfs *u, const char *sub_id, const char *value,
		      size_t size)
{
	struct submission *s = spool_get(u, sub_id);
	char why[300] = "", what[300];
	char *text = NULL;
	int rc = 0;

	if (s == NULL)
		return -ENOENT;
	if (size > QUEUE_OPTIONS_MAX) {
		snprintf(why, sizeof(why), "over %d bytes", QUEUE_OPTIONS_MAX);
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = check(u, s->share_id, value, size, why, sizeof(why));
	if (rc == 0 && (text = strndup(value, size)) == NULL)
		rc = -ENOMEM;
	if (rc == 0) {
		pthread_mutex_lock(&u->spool_lock);
		if (spool_is_writable(s)) {
			free(s->options);
			s->options = text;
			text = NULL;
		} else {
			rc = -EBUSY;	/* handed over: its job is made */
		}
		pthread_mutex_unlock(&u->spool_lock);
	}
	if (rc == -EINVAL) {
		snprintf(what, sizeof(what), "options of '%s'", s->name);
		health_refusal(u, what, why[0] ? why : strerror(-rc));
	}
	free(text);
	spool_put(u, s);
	return rc;
}

int queue_options_clear(struct upfs *u, const char *sub_id)
{
	struct submission *s = spool_get(u, sub_id);
	int rc = 0;

	if (s == NULL)
		return -ENOENT;
	pthread_mutex_lock(&u->spool_lock);
	if (!spool_is_writable(s)) {
		rc = -EBUSY;
	} else if (s->options == NULL) {
		rc = -ENODATA;
	} else {
		free(s->options);
		s->options = NULL;
	}
	pthread_mutex_unlock(&u->spool_lock);
	spool_put(u, s);
	return rc;
}

void queue_options_apply(struct upfs *u, const struct submission *s,
			 json_t *config)
{
	json_t *mine = NULL;
	char why[300];
	char *text;

	pthread_mutex_lock(&u->spool_lock);
	text = s->options ? strdup(s->options) : NULL;
	pthread_mutex_unlock(&u->spool_lock);
	/* Checked when set; a record that no longer parses adds nothing. */
	if (text && joboptions_parse(text, strlen(text), &mine, why,
				     sizeof(why)) == 0)
		json_object_update(config, mine);
	json_decref(mine);
	free(text);
}
