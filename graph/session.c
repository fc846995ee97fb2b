/*
 * session.c — the session file that `upfsctl login` writes and upfs reads:
 * a refresh token and what it was issued for, as one JSON object.
 *
 * The file is a secret that outlives the mount, so it is held to ssh's
 * rules for private keys: a regular file, owned by the user, that no one
 * else may read or write; anything else is refused rather than used. It
 * is only ever replaced whole: a new file made with O_EXCL and mode 0600
 * (never readable by others, even for an instant, whatever the umask),
 * fsync'd, then renamed over the old one, so a crash leaves either the
 * old or the new session, never half of one.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth_private.h"
#include "buf.h"
#include "graph.h"
#include "graph_private.h"

/* A refresh token is a few KiB; anything much larger is not a session. */
#define SESSION_FILE_MAX ((size_t)64 << 10)
#define SESSION_VERSION 1

int graph_err_session_expired(const struct graph_err *err)
{
	static const char *const codes[] = { "invalid_grant",
					     "interaction_required",
					     "consent_required" };

	if (!err)
		return 0;
	for (size_t i = 0; i < sizeof(codes) / sizeof(*codes); i++) {
		if (strcmp(err->code, codes[i]) == 0)
			return 1;
	}
	return 0;
}

void graph_session_release(struct graph_session *s)
{
	if (!s)
		return;
	graph_auth_token_free(s->refresh_token);
	free(s->user);
	free(s->client_id);
	free(s->authority);
	free(s->scope);
	memset(s, 0, sizeof(*s));
}

/* Refuses what ssh refuses for a private key. */
static int session_check_stat(const char *path, const struct stat *st,
			      struct graph_err *err)
{
	if (!S_ISREG(st->st_mode))
		return graph_auth_fail(err, "session file '%s' is not a "
					    "regular file", path);
	if (st->st_uid != geteuid())
		return graph_auth_fail(err, "session file '%s' belongs to "
					    "another user: sign in again",
				       path);
	if (st->st_mode & (S_IRWXG | S_IRWXO))
		return graph_auth_fail(err, "session file '%s' is accessible "
					    "by others (mode %04o): remove it "
					    "and sign in again", path,
				       (unsigned)(st->st_mode & 07777));
	return 0;
}

static int session_read(const char *path, struct buf *b,
			struct graph_err *err)
{
	char chunk[4096];
	struct stat st;
	ssize_t n = 1;
	int fd, e = 0, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		e = errno;
		goto out;
	}
	rc = session_check_stat(path, &st, err);
	while (rc == 0 && n != 0) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			break;
		}
		if (buf_append(b, chunk, (size_t)n) < 0) {
			graph_err_setf(err, "session file '%s' is larger "
					    "than %zu bytes", path,
				       SESSION_FILE_MAX);
			rc = -EINVAL;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	explicit_bzero(chunk, sizeof(chunk));
	if (e == ENOENT) {
		graph_auth_fail(err, "not signed in: no session file '%s'",
				path);
		return -ENOENT;
	}
	if (e)
		return graph_auth_fail(err, "cannot read session file '%s': %s",
				       path, strerrordesc_np(e));
	return rc;
}

/* Copies an optional string member; 0 or -ENOMEM. */
static int session_opt_string(const json_t *doc, const char *name, char **out)
{
	const json_t *v = json_object_get(doc, name);

	*out = NULL;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return 0;
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

static int session_parse(const char *path, const struct buf *b,
			 struct graph_session *out, struct graph_err *err)
{
	const json_t *rt, *saved;
	json_t *doc;
	int rc = -EINVAL;

	doc = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
	rt = json_object_get(doc, "refresh_token");
	if (!json_is_object(doc) || !json_is_string(rt) ||
	    !graph_auth_token_ok(json_string_value(rt))) {
		graph_err_setf(err, "'%s' is not a session file of upfsctl "
				    "login: remove it and sign in again", path);
		goto out;
	}
	rc = graph_auth_token_dup(json_string_value(rt), &out->refresh_token);
	if (!rc)
		rc = session_opt_string(doc, "user", &out->user);
	if (!rc)
		rc = session_opt_string(doc, "client_id", &out->client_id);
	if (!rc)
		rc = session_opt_string(doc, "authority", &out->authority);
	if (!rc)
		rc = session_opt_string(doc, "scope", &out->scope);
	saved = json_object_get(doc, "saved_at");
	out->saved_at = json_is_integer(saved) ? json_integer_value(saved) : 0;
out:
	graph_secret_json_free(doc);
	if (rc)
		graph_session_release(out);
	return rc;
}

int graph_session_load(const char *path, struct graph_session *out,
		       struct graph_err *err)
{
	struct buf b;
	int rc;

	memset(out, 0, sizeof(*out));
	graph_err_clear(err);
	buf_init(&b, SESSION_FILE_MAX);
	rc = session_read(path, &b, err);
	if (rc == 0)
		rc = session_parse(path, &b, out, err);
	graph_secret_buf_release(&b);
	return rc;
}

/* The session as JSON text (a secret: the caller wipes and frees it). */
static char *session_render(const struct graph_session *s)
{
	json_t *doc = json_object();
	char *text = NULL;
	int bad = !doc;

	if (!bad) {
		bad |= json_object_set_new(doc, "version",
					   json_integer(SESSION_VERSION));
		bad |= json_object_set_new(doc, "refresh_token",
					   json_string(s->refresh_token));
		if (s->user)
			bad |= json_object_set_new(doc, "user",
						   json_string(s->user));
		if (s->client_id)
			bad |= json_object_set_new(doc, "client_id",
						   json_string(s->client_id));
		if (s->authority)
			bad |= json_object_set_new(doc, "authority",
						   json_string(s->authority));
		if (s->scope)
			bad |= json_object_set_new(doc, "scope",
						   json_string(s->scope));
		bad |= json_object_set_new(doc, "saved_at",
					   json_integer(s->saved_at
						? s->saved_at
						: (json_int_t)time(NULL)));
	}
	if (!bad)
		text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	graph_secret_json_free(doc);
	return text;
}

static int session_write_all(int fd, const char *text, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, text, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsyncs the folder holding path, so that the rename is durable. */
static int session_sync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd, rc = 0;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return -ENAMETOOLONG;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int graph_session_save(const char *path, const struct graph_session *s,
		       struct graph_err *err)
{
	char tmp[PATH_MAX] = "";
	char *text = NULL;
	int fd = -1, rc = 0;

	graph_err_clear(err);
	if (!s->refresh_token || !graph_auth_token_ok(s->refresh_token)) {
		graph_err_setf(err, "no usable refresh token to save");
		return -EINVAL;
	}
	text = session_render(s);
	if (!text) {
		rc = -ENOMEM;
		goto out;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		tmp[0] = '\0';
		rc = -ENAMETOOLONG;
		goto out;
	}
	/* mkostemp: O_CREAT|O_EXCL, mode 0600 before the umask. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		tmp[0] = '\0';
		goto out;
	}
	if (fchmod(fd, 0600) < 0 || fsync(fd) < 0)
		rc = -errno;
	if (!rc)
		rc = session_write_all(fd, text, strlen(text));
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	fd = -1;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (!rc) {
		tmp[0] = '\0';
		rc = session_sync_dir(path);
	}
out:
	if (rc)
		graph_err_setf(err, "cannot save session file '%s': %s", path,
			       strerrordesc_np(-rc));
	if (tmp[0])
		unlink(tmp);
	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	return rc;
}
