/*
 * test_graph_errors.c — the two error maps of graph/ (HTTP status + Graph
 * code, CURLcode), error bodies, the message format, and graph_new()'s
 * refusals. No network.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "graph.h"
#include "check.h"
#include "graph_private.h"


static int http_errno(long status, const char *code)
{
	struct graph_err e;

	graph_err_clear(&e);
	e.status = status;
	snprintf(e.code, sizeof(e.code), "%s", code);
	return graph_err_to_errno(&e);
}

static void check_http(long status, const char *code, int want)
{
	int got = http_errno(status, code);

	if (got != want) {
		fprintf(stderr, "HTTP %ld '%s': errno %d (%s), want %d (%s)\n",
			status, code, got, strerror(got), want, strerror(want));
		failures++;
	}
}

static void test_http(void)
{
	static const struct {
		long status;
		int want;
	} map[] = {
		{ 400, EINVAL }, { 401, EACCES }, { 403, EACCES },
		{ 404, ENOENT }, { 405, EOPNOTSUPP }, { 408, ETIMEDOUT },
		{ 409, EBUSY }, { 410, ENOENT }, { 412, EAGAIN },
		{ 413, EFBIG }, { 415, EINVAL }, { 416, ERANGE },
		{ 422, EINVAL }, { 423, EBUSY }, { 429, EAGAIN },
		{ 500, EIO }, { 501, EOPNOTSUPP }, { 502, EAGAIN },
		{ 503, EAGAIN }, { 504, EAGAIN }, { 507, ENOSPC },
		{ 509, EAGAIN },
		/* the default */
		{ 402, EIO }, { 406, EIO }, { 418, EIO }, { 505, EIO },
		{ 599, EIO }, { 100, EIO },
		/* a failed call with a success status: unusable body */
		{ 200, EPROTO }, { 204, EPROTO }, { 302, EPROTO },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		check_http(map[i].status, "", map[i].want);

	/* Graph and OAuth2 codes that say more than the status. */
	check_http(403, "quotaLimitReached", EDQUOT);
	check_http(507, "quotaLimitReached", EDQUOT);
	check_http(429, "quotaLimitReached", EDQUOT);
	check_http(409, "nameAlreadyExists", EEXIST);
	check_http(409, "conflict", EBUSY);
	check_http(403, "activityLimitReached", EAGAIN);
	check_http(401, "unauthenticated", EACCES);
	check_http(400, "invalid_client", EACCES);
	check_http(401, "unauthorized_client", EACCES);
	check_http(400, "invalid_grant", EACCES);
	check_http(400, "interaction_required", EACCES);
	check_http(400, "consent_required", EACCES);
	check_http(400, "invalid_request", EINVAL);
	check_http(400, "400", EINVAL);
	check_http(403, "UnknownError", EACCES);
	check_http(404, "itemNotFound", ENOENT);
	/* a local token failure (status 0) carries "unauthenticated" */
	check_http(0, "unauthenticated", EACCES);
}

static void check_curl(int code, int want)
{
	int got = graph_curl_to_errno(code);

	if (got != want) {
		fprintf(stderr, "CURLcode %d: errno %d (%s), want %d (%s)\n",
			code, got, strerror(got), want, strerror(want));
		failures++;
	}
}

static void test_curl(void)
{
	static const struct {
		CURLcode code;
		int want;
	} map[] = {
		{ CURLE_OK, 0 },
		{ CURLE_COULDNT_CONNECT, ECONNREFUSED },
		{ CURLE_COULDNT_RESOLVE_HOST, EHOSTUNREACH },
		{ CURLE_COULDNT_RESOLVE_PROXY, EHOSTUNREACH },
		{ CURLE_OPERATION_TIMEDOUT, ETIMEDOUT },
		{ CURLE_SSL_CONNECT_ERROR, EPROTO },
		{ CURLE_PEER_FAILED_VERIFICATION, EPROTO },
		{ CURLE_SSL_CERTPROBLEM, EPROTO },
		{ CURLE_SSL_CIPHER, EPROTO },
		{ CURLE_SSL_CACERT_BADFILE, EPROTO },
		{ CURLE_SSL_CRL_BADFILE, EPROTO },
		{ CURLE_SSL_ISSUER_ERROR, EPROTO },
		{ CURLE_SSL_PINNEDPUBKEYNOTMATCH, EPROTO },
		{ CURLE_SSL_INVALIDCERTSTATUS, EPROTO },
		{ CURLE_SSL_ENGINE_NOTFOUND, EPROTO },
		{ CURLE_SSL_ENGINE_SETFAILED, EPROTO },
		{ CURLE_SSL_ENGINE_INITFAILED, EPROTO },
		{ CURLE_SSL_SHUTDOWN_FAILED, EPROTO },
		{ CURLE_SSL_CLIENTCERT, EPROTO },
		{ CURLE_RECV_ERROR, ECONNRESET },
		{ CURLE_SEND_ERROR, ECONNRESET },
		{ CURLE_GOT_NOTHING, ECONNRESET },
		{ CURLE_PARTIAL_FILE, ECONNRESET },
		{ CURLE_OUT_OF_MEMORY, ENOMEM },
		{ CURLE_FILESIZE_EXCEEDED, EFBIG },
		{ CURLE_URL_MALFORMAT, EINVAL },
		{ CURLE_UNSUPPORTED_PROTOCOL, EINVAL },
		/* the default */
		{ CURLE_WRITE_ERROR, EIO },
		{ CURLE_READ_ERROR, EIO },
		{ CURLE_TOO_MANY_REDIRECTS, EIO },
		{ CURLE_HTTP2, EIO },
	};
	struct graph_err e;
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		check_curl(map[i].code, map[i].want);
	check_curl(9999, EIO);

	/* graph_err_to_errno uses the curl map when no status arrived. */
	graph_err_clear(&e);
	e.curl_code = CURLE_COULDNT_CONNECT;
	CHECK(graph_err_to_errno(&e) == ECONNREFUSED);
	/* nothing known at all */
	graph_err_clear(&e);
	CHECK(graph_err_to_errno(&e) == EIO);
	CHECK(graph_err_to_errno(NULL) == EIO);
}

static void test_body(void)
{
	static const char graph[] =
		"{\"error\":{\"code\":\"itemNotFound\",\"message\":\"no such\\n"
		"printer\",\"innerError\":{\"request-id\":\"r-1\"}}}";
	static const char older[] =
		"{\"error\":{\"code\":\"accessDenied\",\"message\":\"m\","
		"\"innererror\":{\"request-id\":\"r-2\"}}}";
	static const char oauth[] =
		"{\"error\":\"invalid_client\",\"error_description\":"
		"\"AADSTS7000215: Invalid client secret.\"}";
	static const char html[] = "<html>Authorization: Bearer x</html>";
	struct graph_err e;

	graph_err_clear(&e);
	graph_err_parse_body(&e, graph, strlen(graph));
	CHECK(strcmp(e.code, "itemNotFound") == 0);
	/* a message is one line */
	CHECK(strcmp(e.message, "no such printer") == 0);
	CHECK(strcmp(e.request_id, "r-1") == 0);

	/* the response header's request-id wins over the body's */
	graph_err_clear(&e);
	snprintf(e.request_id, sizeof(e.request_id), "hdr");
	graph_err_parse_body(&e, older, strlen(older));
	CHECK(strcmp(e.code, "accessDenied") == 0);
	CHECK(strcmp(e.request_id, "hdr") == 0);
	graph_err_clear(&e);
	graph_err_parse_body(&e, older, strlen(older));
	CHECK(strcmp(e.request_id, "r-2") == 0);

	graph_err_clear(&e);
	e.status = 401;
	graph_err_parse_body(&e, oauth, strlen(oauth));
	CHECK(strcmp(e.code, "invalid_client") == 0);
	CHECK(strncmp(e.message, "AADSTS7000215", 13) == 0);
	CHECK(graph_err_to_errno(&e) == EACCES);

	/* foreign text never reaches the message */
	graph_err_clear(&e);
	graph_err_parse_body(&e, html, strlen(html));
	CHECK(e.code[0] == '\0' && e.message[0] == '\0');
	graph_err_parse_body(&e, NULL, 0);
	CHECK(e.retry_after == -1);
}

/* Detailed codes under a general one (reference §4, item 7). */
static void test_inner_code(void)
{
	static const char fragment[] =
		"{\"error\":{\"code\":\"invalidRequest\",\"message\":\"m\","
		"\"innerError\":{\"code\":\"fragmentOverlap\","
		"\"request-id\":\"r-3\"}}}";
	static const char nested[] =
		"{\"error\":{\"code\":\"invalidRequest\",\"innererror\":"
		"{\"code\":\"outer\",\"innererror\":{\"code\":"
		"\"fragmentLengthMismatch\"}}}}";
	static const char plain[] =
		"{\"error\":{\"code\":\"invalidRange\",\"innerError\":"
		"{\"request-id\":\"r-4\"}}}";
	static const char not_object[] =
		"{\"error\":{\"code\":\"x\",\"innerError\":[1]}}";
	static const char not_string[] =
		"{\"error\":{\"code\":\"x\",\"innerError\":{\"code\":7,"
		"\"innerError\":{\"code\":\"deep\"}}}}";
	static const char quota[] =
		"{\"error\":{\"code\":\"activityLimitReached\","
		"\"innerError\":{\"code\":\"QuotaLimitReached\"}}}";
	struct graph_err e;

	graph_err_clear(&e);
	graph_err_parse_body(&e, fragment, strlen(fragment));
	CHECK(strcmp(e.code, "invalidRequest") == 0);
	CHECK(strcmp(e.inner_code, "fragmentOverlap") == 0);
	CHECK(strcmp(e.request_id, "r-3") == 0);
	CHECK(graph_err_is(&e, "fragmentoverlap"));
	CHECK(graph_err_is(&e, "invalidRequest"));
	CHECK(!graph_err_is(&e, "invalidRange"));
	CHECK(!graph_err_is(&e, ""));

	/* the innermost code of a chain */
	graph_err_clear(&e);
	graph_err_parse_body(&e, nested, strlen(nested));
	CHECK(strcmp(e.inner_code, "fragmentLengthMismatch") == 0);

	graph_err_clear(&e);
	graph_err_parse_body(&e, plain, strlen(plain));
	CHECK(e.inner_code[0] == '\0');
	CHECK(graph_err_is(&e, "invalidRange"));

	/* an innerError that is no object; a code that is no string is
	   passed over for a deeper one */
	graph_err_clear(&e);
	graph_err_parse_body(&e, not_object, strlen(not_object));
	CHECK(e.inner_code[0] == '\0');
	graph_err_clear(&e);
	graph_err_parse_body(&e, not_string, strlen(not_string));
	CHECK(strcmp(e.inner_code, "deep") == 0);
	CHECK(!graph_err_is(NULL, "x"));

	/* a spent quota named under a general code is still a quota; other
	   detailed codes leave the status its say */
	graph_err_clear(&e);
	e.status = 429;
	graph_err_parse_body(&e, quota, strlen(quota));
	CHECK(graph_err_to_errno(&e) == EDQUOT);
	graph_err_clear(&e);
	e.status = 403;
	snprintf(e.code, sizeof(e.code), "accessDenied");
	snprintf(e.inner_code, sizeof(e.inner_code), "activityLimitReached");
	CHECK(graph_err_to_errno(&e) == EACCES);
	graph_err_clear(&e);
	e.status = 404;
	snprintf(e.code, sizeof(e.code), "QUOTALIMITREACHED");
	CHECK(graph_err_to_errno(&e) == EDQUOT);
}

static bool transient(const char *method, long status, const char *code,
		      int retry_after)
{
	struct graph_req req = { .method = method, .path = "/print/x" };
	struct graph_err e;

	graph_err_clear(&e);
	e.status = status;
	e.retry_after = retry_after;
	snprintf(e.code, sizeof(e.code), "%s", code);
	return graph_err_transient(&req, &e);
}

/* Which failures are sent again in place (graph_err_transient). */
static void test_transient(void)
{
	/* A throttled request was not carried out: any method, with or
	   without Retry-After. */
	CHECK(transient("POST", 429, "activityLimitReached", -1));
	CHECK(transient("POST", 429, "", 2));
	CHECK(transient("GET", 429, "", -1));
	/* A spent quota is no throttle, whatever its status. */
	CHECK(!transient("POST", 429, "quotaLimitReached", -1));
	CHECK(!transient("GET", 429, "quotaLimitReached", 5));
	/* A 503 without Retry-After may have done the work. */
	CHECK(!transient("POST", 503, "", -1));
	CHECK(transient("POST", 503, "", 1));
	CHECK(transient("GET", 503, "", -1));
	CHECK(!transient("POST", 504, "", -1));
	CHECK(transient("DELETE", 504, "", -1));
	CHECK(!transient("GET", 403, "", -1));
}

static void test_format(void)
{
	struct graph_err e;
	char out[512];

	graph_err_clear(&e);
	e.status = 403;
	snprintf(e.code, sizeof(e.code), "accessDenied");
	snprintf(e.message, sizeof(e.message), "no scope");
	snprintf(e.request_id, sizeof(e.request_id), "abc");
	graph_err_format(&e, out, sizeof(out));
	CHECK(strcmp(out, "HTTP 403 accessDenied: no scope (request-id abc)")
	      == 0);

	/* The service's missing-scope reply points at the sign-in. */
	graph_err_clear(&e);
	e.status = 403;
	snprintf(e.code, sizeof(e.code), "UnknownError");
	snprintf(e.message, sizeof(e.message), "\"The token does not have "
		 "one or more required security scopes.\"");
	graph_err_format(&e, out, sizeof(out));
	CHECK_MSG(strstr(out, "security scopes.\"; the token lacks a "
		  "permission this call needs: see scope in upfsctl(1)") !=
		  NULL, "%s", out);

	graph_err_clear(&e);
	e.status = 502;
	graph_err_format(&e, out, sizeof(out));
	CHECK(strcmp(out, "HTTP 502") == 0);

	graph_err_clear(&e);
	e.curl_code = CURLE_COULDNT_CONNECT;
	snprintf(e.message, sizeof(e.message), "Failed to connect");
	graph_err_format(&e, out, sizeof(out));
	CHECK(strcmp(out, "connection refused: Failed to connect") == 0);

	graph_err_clear(&e);
	e.curl_code = CURLE_PEER_FAILED_VERIFICATION;
	graph_err_format(&e, out, sizeof(out));
	CHECK(strcmp(out, "TLS failure") == 0);

	graph_err_clear(&e);
	graph_err_format(&e, out, sizeof(out));
	CHECK(strcmp(out, "unknown error") == 0);
	graph_err_setf(&e, "token file '%s' is empty", "/t");
	graph_err_format(&e, out, sizeof(out));
	CHECK(strcmp(out, "token file '/t' is empty") == 0);

	/* truncation is safe */
	e.status = 404;
	graph_err_format(&e, out, 5);
	CHECK(strcmp(out, "HTTP") == 0);
	graph_err_format(NULL, out, sizeof(out));
	CHECK(out[0] == '\0');
}

static void test_new(void)
{
	struct graph_config cfg;
	struct graph_err e;
	struct graph *g = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.endpoint = "https://graph.example/v1.0";
	CHECK(graph_new(&g, &cfg, &e) == -EINVAL && !g);
	CHECK(strstr(e.message, "no credentials") != NULL);

	cfg.access_token = "t0ken";
	cfg.endpoint = "ftp://graph.example/v1.0";
	CHECK(graph_new(&g, &cfg, &e) == -EINVAL && !g);
	CHECK(strstr(e.message, "not an http(s) URL") != NULL);
	cfg.endpoint = NULL;
	CHECK(graph_new(&g, &cfg, &e) == -EINVAL && !g);

	cfg.endpoint = "https://graph.example/v1.0/";
	cfg.access_token = "two words";
	CHECK(graph_new(&g, &cfg, &e) == -EINVAL && !g);
	CHECK(strstr(e.message, "two") == NULL);

	cfg.access_token = NULL;
	cfg.client_secret = "s3cret";
	CHECK(graph_new(&g, &cfg, &e) == -EINVAL && !g);
	CHECK(strstr(e.message, "client_id") != NULL);
	CHECK(strstr(e.message, "s3cret") == NULL);

	cfg.client_id = "app";
	CHECK(graph_new(&g, &cfg, &e) == 0 && g);
	CHECK(g && strcmp(graph_endpoint(g), "https://graph.example/v1.0") == 0);
	graph_free(g);
}

/* An attempt that failed this way may have been carried out. */
static void test_unsettled(void)
{
	static const struct {
		long status;
		bool unsettled;
	} cases[] = {
		{ 200, true },	/* a success whose body could not be read */
		{ 204, true },
		{ 500, true }, { 502, true }, { 503, true }, { 504, true },
		{ 400, false }, { 401, false }, { 403, false }, { 404, false },
		{ 409, false }, { 429, false }, { 302, false },
	};
	/* No reply: after the request went out, or before. */
	static const struct {
		int curl_code;
		bool unsettled;
	} transport[] = {
		{ CURLE_RECV_ERROR, true }, { CURLE_GOT_NOTHING, true },
		{ CURLE_SEND_ERROR, true }, { CURLE_OPERATION_TIMEDOUT, true },
		{ CURLE_PARTIAL_FILE, true },
		{ CURLE_COULDNT_CONNECT, false },
		{ CURLE_COULDNT_RESOLVE_HOST, false },
		{ CURLE_PEER_FAILED_VERIFICATION, false },
		{ CURLE_OK, false },
	};
	struct graph_err e = { 0 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		e = (struct graph_err){ .status = cases[i].status };
		CHECK_MSG(graph_attempt_unsettled(&e) == cases[i].unsettled,
			  "status %ld: unsettled %d, want %d", cases[i].status,
			  !cases[i].unsettled, cases[i].unsettled);
	}
	for (size_t i = 0; i < sizeof(transport) / sizeof(transport[0]); i++) {
		e = (struct graph_err){ .curl_code = transport[i].curl_code };
		CHECK_MSG(graph_attempt_unsettled(&e) == transport[i].unsettled,
			  "curl code %d: unsettled %d, want %d",
			  transport[i].curl_code, !transport[i].unsettled,
			  transport[i].unsettled);
	}
	/* The call's answer is what the request layer recorded: a 503 of
	   the token endpoint (nothing of the call sent) is settled. */
	e = (struct graph_err){ .status = 503 };
	CHECK(!graph_err_unsettled(&e));
	e.unsettled = 1;
	CHECK(graph_err_unsettled(&e));
	e = (struct graph_err){ .status = 409, .replayed = 1 };
	CHECK(graph_err_unsettled(&e));
}

int main(void)
{
	test_unsettled();
	test_http();
	test_curl();
	test_body();
	test_inner_code();
	test_transient();
	test_format();
	test_new();
	if (failures) {
		fprintf(stderr, "test_graph_errors: %d check(s) failed\n",
			failures);
		return 1;
	}
	return 0;
}
