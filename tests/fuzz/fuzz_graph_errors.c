/*
 * fuzz_graph_errors.c — an HTTP error body, as the service (or a proxy in
 * front of it) may send one, through graph_err_parse_body(), then
 * graph_err_to_errno() and graph_err_format() for a spread of statuses
 * and curl codes (graph/errors.c).
 *
 * Properties (graph_private.h, graph.h): the code, inner code, message
 * and request id are NUL-ended in their arrays and hold no control
 * characters (a log line is one line); a request id already set is kept;
 * every failure maps to a positive errno; the formatted line fits the
 * buffer it is given.
 */
#include <curl/curl.h>
#include <errno.h>

#include "graph.h"
#include "graph_private.h"
#include "fuzz.h"

static const long statuses[] = { 0, 200, 302, 400, 401, 403, 404, 409, 412,
				 413, 416, 429, 500, 503, 507, 599, 999 };
static const int curl_codes[] = { CURLE_OK, CURLE_COULDNT_CONNECT,
				  CURLE_OPERATION_TIMEDOUT,
				  CURLE_PEER_FAILED_VERIFICATION,
				  CURLE_RECV_ERROR, 9999 };

static void check_field(const char *s, size_t size)
{
	const char *end = memchr(s, '\0', size);

	FUZZ_CHECK(end != NULL);
	for (const char *p = s; p < end; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static void check_format(const struct graph_err *err)
{
	static const size_t lens[] = { 1, 2, 17, 300, 1024 };
	char line[1024];

	for (size_t i = 0; i < FUZZ_COUNT(lens); i++) {
		memset(line, 'x', sizeof(line));
		graph_err_format(err, line, lens[i]);
		FUZZ_CHECK(fuzz_terminated(line, lens[i]));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct graph_err err, kept;

	graph_err_clear(&err);
	graph_err_parse_body(&err, (const char *)data, size);
	check_field(err.code, sizeof(err.code));
	check_field(err.message, sizeof(err.message));
	check_field(err.request_id, sizeof(err.request_id));
	check_field(err.inner_code, sizeof(err.inner_code));

	/* A request id from the header wins over the body's. */
	graph_err_clear(&kept);
	graph_err_copy(kept.request_id, sizeof(kept.request_id), "from-header");
	graph_err_parse_body(&kept, (const char *)data, size);
	FUZZ_CHECK(strcmp(kept.request_id, "from-header") == 0);

	for (size_t i = 0; i < FUZZ_COUNT(statuses); i++) {
		err.status = statuses[i];
		for (size_t j = 0; j < FUZZ_COUNT(curl_codes); j++) {
			err.curl_code = curl_codes[j];
			FUZZ_CHECK(graph_err_to_errno(&err) > 0);
			check_format(&err);
		}
	}
	return 0;
}
