/*
 * login.c — signing in with the OAuth2 device-code flow (RFC 8628), as
 * the Microsoft identity platform serves it (graph-print-api.md §5.4):
 * POST {authority}/oauth2/v2.0/devicecode, show the message, then poll
 * {authority}/oauth2/v2.0/token until the user has signed in elsewhere.
 *
 * The caller owns the waiting: graph_login_poll() makes one request and
 * says whether to poll again, so that a program can show progress and be
 * interrupted. The signed-in user's name comes from the id_token of the
 * reply; its signature is not checked because it came straight from the
 * token endpoint over the same (verified) connection as the tokens, which
 * OpenID Connect Core §3.1.3.7 allows.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "auth_private.h"
#include "buf.h"
#include "graph.h"
#include "graph_private.h"

#define LOGIN_DEFAULT_INTERVAL 5
#define LOGIN_SLOW_DOWN_S 5
#define DEVICE_CODE_GRANT "urn:ietf:params:oauth:grant-type:device_code"

void graph_device_code_release(struct graph_device_code *dc)
{
	if (!dc)
		return;
	graph_auth_token_free(dc->device_code);
	free(dc->user_code);
	free(dc->verification_uri);
	free(dc->message);
	free(dc->token_url);
	free(dc->client_id);
	free(dc->authority);
	free(dc->scope);
	memset(dc, 0, sizeof(*dc));
}

/* ---- the id_token's user ------------------------------------------------ */

static int login_b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

/* Decodes base64url (padding optional) of len bytes into out. */
static int login_b64url_decode(const char *in, size_t len, struct buf *out)
{
	unsigned bits = 0, acc = 0;
	int v, rc = 0;

	for (size_t i = 0; i < len && !rc && in[i] != '='; i++) {
		v = login_b64url_value((unsigned char)in[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			unsigned char byte = (unsigned char)(acc >> (bits - 8));

			bits -= 8;
			rc = buf_append(out, &byte, 1);
		}
	}
	return rc;
}

int graph_auth_user_of(const json_t *reply, char **user)
{
	static const char *const claims[] = { "preferred_username", "upn",
					      "email", "name" };
	const json_t *idt = json_object_get(reply, "id_token");
	const char *t, *dot1, *dot2;
	json_t *payload = NULL;
	struct buf b;
	int rc = 0;

	*user = NULL;
	if (!json_is_string(idt))
		return 0;
	t = json_string_value(idt);
	dot1 = strchr(t, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (!dot2)
		return 0;
	buf_init(&b, 64 << 10);
	if (login_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &b) == 0)
		payload = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
	for (size_t i = 0; payload && i < sizeof(claims) / sizeof(*claims);
	     i++) {
		const json_t *v = json_object_get(payload, claims[i]);

		if (json_is_string(v) && json_string_length(v) > 0) {
			*user = strdup(json_string_value(v));
			rc = *user ? 0 : -ENOMEM;
			break;
		}
	}
	json_decref(payload);
	buf_release(&b);
	return rc;
}

/* ---- the flow --------------------------------------------------------- */

static int login_post(struct graph *g, const char *url, const struct buf *form,
		      json_t **out, struct graph_err *err)
{
	struct graph_req req = {
		.method = "POST",
		.path = url,
		.body = form->data,
		.body_len = form->len,
		.content_type = "application/x-www-form-urlencoded",
		.no_auth = true,
	};

	return graph_fetch_req(g, NULL, &req, true, out, err);
}

static int login_string(const json_t *doc, const char *name, char **out)
{
	const json_t *v = json_object_get(doc, name);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return -EPROTO;
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

static int login_int(const json_t *doc, const char *name, int dflt)
{
	const json_t *v = json_object_get(doc, name);
	long long n;

	if (json_is_integer(v))
		n = json_integer_value(v);
	else if (json_is_string(v))
		n = strtoll(json_string_value(v), NULL, 10);
	else
		return dflt;
	return n < 0 || n > 86400 ? dflt : (int)n;
}

static int login_parse_code(const json_t *doc, struct graph_device_code *dc,
			    struct graph_err *err)
{
	int rc;

	rc = login_string(doc, "device_code", &dc->device_code);
	if (!rc)
		rc = login_string(doc, "user_code", &dc->user_code);
	if (!rc) {
		rc = login_string(doc, "verification_uri",
				  &dc->verification_uri);
		/* Azure AD v1 spelt it verification_url. */
		if (rc == -EPROTO)
			rc = login_string(doc, "verification_url",
					  &dc->verification_uri);
	}
	if (rc == -EPROTO) {
		graph_err_setf(err, "device-code reply lacks device_code, "
				    "user_code or verification_uri");
		return rc;
	}
	if (!rc && login_string(doc, "message", &dc->message) == -ENOMEM)
		rc = -ENOMEM;
	dc->interval = login_int(doc, "interval", LOGIN_DEFAULT_INTERVAL);
	dc->expires_in = login_int(doc, "expires_in", 900);
	return rc;
}

static int login_copy(const char *s, char **out)
{
	*out = strdup(s ? s : "");
	return *out ? 0 : -ENOMEM;
}

int graph_login_start(struct graph *g, const char *authority,
		      const char *client_id, const char *scope,
		      struct graph_device_code *dc, struct graph_err *err)
{
	char *url = NULL;
	json_t *doc = NULL;
	struct buf form;
	int rc;

	memset(dc, 0, sizeof(*dc));
	graph_err_clear(err);
	buf_init(&form, 0);
	if (!client_id || !*client_id || !scope || !*scope) {
		graph_err_setf(err, "sign-in needs a client_id and a scope");
		return -EINVAL;
	}
	rc = graph_auth_url(authority, "devicecode", &url, err);
	if (!rc)
		rc = graph_auth_url(authority, "token", &dc->token_url, err);
	if (!rc)
		rc = graph_auth_form_add(&form, "client_id", client_id);
	if (!rc)
		rc = graph_auth_form_add(&form, "scope", scope);
	if (!rc)
		rc = login_post(g, url, &form, &doc, err);
	if (!rc)
		rc = login_parse_code(doc, dc, err);
	if (!rc)
		rc = login_copy(client_id, &dc->client_id);
	if (!rc)
		rc = login_copy(authority, &dc->authority);
	if (!rc)
		rc = login_copy(scope, &dc->scope);
	if (rc)
		graph_device_code_release(dc);
	json_decref(doc);
	buf_release(&form);
	free(url);
	return rc;
}

/* What a refused poll means for the caller (RFC 8628 §3.5). */
static int login_poll_error(struct graph_device_code *dc, int rc,
			    const struct graph_err *err)
{
	if (strcmp(err->code, "authorization_pending") == 0)
		return -EAGAIN;
	if (strcmp(err->code, "slow_down") == 0) {
		dc->interval += LOGIN_SLOW_DOWN_S;
		return -EAGAIN;
	}
	if (strcmp(err->code, "expired_token") == 0 ||
	    strcmp(err->code, "code_expired") == 0)
		return -ETIMEDOUT;
	if (strcmp(err->code, "authorization_declined") == 0 ||
	    strcmp(err->code, "access_denied") == 0)
		return -EACCES;
	return rc;
}

static int login_session_fill(const struct graph_device_code *dc,
			      const json_t *reply, struct graph_session *out,
			      struct graph_err *err)
{
	const json_t *rt = json_object_get(reply, "refresh_token");
	int rc;

	if (!json_is_string(rt) ||
	    !graph_auth_token_ok(json_string_value(rt))) {
		graph_err_setf(err, "signed in, but the service sent no "
				    "refresh token: the scope must include "
				    "offline_access");
		return -EPROTO;
	}
	rc = graph_auth_token_dup(json_string_value(rt), &out->refresh_token);
	if (!rc)
		rc = graph_auth_user_of(reply, &out->user);
	if (!rc)
		rc = login_copy(dc->client_id, &out->client_id);
	if (!rc)
		rc = login_copy(dc->authority, &out->authority);
	/* Keep what was asked for: a refresh asks for the same again. */
	if (!rc)
		rc = login_copy(dc->scope, &out->scope);
	return rc;
}

int graph_login_poll(struct graph *g, struct graph_device_code *dc,
		     struct graph_session *out, struct graph_err *err)
{
	struct graph_err tmp;
	json_t *reply = NULL;
	char *access = NULL;
	long expires_in = 0;
	struct buf form;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!err)
		err = &tmp;
	buf_init(&form, 0);
	rc = graph_auth_form_add(&form, "grant_type", DEVICE_CODE_GRANT);
	if (!rc)
		rc = graph_auth_form_add(&form, "client_id", dc->client_id);
	if (!rc)
		rc = graph_auth_form_add(&form, "device_code", dc->device_code);
	if (rc)
		goto out;
	rc = graph_auth_token_post(g, dc->token_url, form.data, &access,
				   &expires_in, &reply, err);
	if (rc) {
		rc = login_poll_error(dc, rc, err);
		goto out;
	}
	rc = login_session_fill(dc, reply, out, err);
out:
	if (rc)
		graph_session_release(out);
	graph_auth_token_free(access);
	graph_secret_json_free(reply);
	graph_secret_buf_release(&form);
	return rc;
}
