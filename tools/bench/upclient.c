/*
 * upclient — the libcurl baseline for printing many documents: what a
 * client that talks to the print API directly does, with keep-alive.
 *
 * WORKERS threads take the FILEs in turn; each thread keeps one curl
 * handle (so one kept-alive connection) and, per file, makes the calls
 * upfs makes for a cp into queue/: POST {endpoint}/print/shares/{share}/jobs,
 * POST .../documents/{doc}/createUploadSession, PUTs of 4,096,000-byte
 * ranges to the upload URL (no Authorization header), POST .../start.
 * Prints "SECONDS JOBS_OK JOBS_FAILED" on stdout.
 *
 *   upclient ENDPOINT TOKENFILE SHARE_ID WORKERS FILE...
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RANGE 4096000

static const char *endpoint, *share;
static char auth[8192];
static char **files;
static int nfiles;
static atomic_int next_file, ok, failed;

struct buf {
	char *data;
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	char *d = realloc(b->data, b->len + size * n + 1);

	if (d == NULL)
		return 0;
	memcpy(d + b->len, p, size * n);
	b->data = d;
	b->len += size * n;
	d[b->len] = '\0';
	return size * n;
}

/* One request; the reply body (JSON) in *out, or NULL. Returns the status. */
static long call(CURL *c, const char *method, const char *url,
		 const char *ctype, const char *body, size_t len,
		 const char *range, int with_auth, json_t **out)
{
	struct curl_slist *h = NULL;
	struct buf b = { 0 };
	char line[128];
	long status = 0;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	h = curl_slist_append(h, "Expect:");
	if (ctype) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		h = curl_slist_append(h, line);
	}
	if (range)
		h = curl_slist_append(h, range);
	if (with_auth)
		h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	if (out)
		*out = b.data ? json_loads(b.data, 0, NULL) : NULL;
	free(b.data);
	return status;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *d = NULL;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
		if (f)
			fclose(f);
		return NULL;
	}
	rewind(f);
	d = malloc((size_t)n + 1);
	if (d && fread(d, 1, (size_t)n, f) != (size_t)n) {
		free(d);
		d = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return d;
}

static int print_one(CURL *c, const char *path)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char url[2048], range[128], *body, *data;
	json_t *job = NULL, *sess = NULL;
	const char *jid, *did, *up;
	size_t len;
	int rc = -1;

	data = slurp(path, &len);
	if (data == NULL)
		return -1;
	snprintf(url, sizeof(url), "%s/print/shares/%s/jobs", endpoint, share);
	if (call(c, "POST", url, "application/json", "{\"configuration\":{}}",
		 20, NULL, 1, &job) != 201 || job == NULL)
		goto out;
	jid = json_string_value(json_object_get(job, "id"));
	did = json_string_value(json_object_get(json_array_get(
		json_object_get(job, "documents"), 0), "id"));
	if (jid == NULL || did == NULL)
		goto out;
	snprintf(url, sizeof(url), "%s/print/shares/%s/jobs/%s/documents/%s/"
		 "createUploadSession", endpoint, share, jid, did);
	body = NULL;
	if (asprintf(&body, "{\"properties\":{\"documentName\":\"%s\","
		     "\"contentType\":\"application/pdf\",\"size\":%zu}}",
		     name, len) < 0)
		goto out;
	if (call(c, "POST", url, "application/json", body, strlen(body), NULL,
		 1, &sess) != 200 || sess == NULL ||
	    (up = json_string_value(json_object_get(sess, "uploadUrl"))) ==
		    NULL) {
		free(body);
		goto out;
	}
	free(body);
	for (size_t at = 0; at < len; at += RANGE) {
		size_t n = len - at < RANGE ? len - at : RANGE;
		long st;

		snprintf(range, sizeof(range), "Content-Range: bytes %zu-%zu/%zu",
			 at, at + n - 1, len);
		st = call(c, "PUT", up, "application/octet-stream", data + at, n,
			  range, 0, NULL);
		if (st != 201 && st != 202)
			goto out;
	}
	snprintf(url, sizeof(url), "%s/print/shares/%s/jobs/%s/start", endpoint,
		 share, jid);
	if (call(c, "POST", url, NULL, NULL, 0, NULL, 1, NULL) / 100 == 2)
		rc = 0;
out:
	json_decref(job);
	json_decref(sess);
	free(data);
	return rc;
}

static void *worker(void *arg)
{
	CURL *c = curl_easy_init();
	int i;

	(void)arg;
	while ((i = atomic_fetch_add(&next_file, 1)) < nfiles) {
		if (print_one(c, files[i]) == 0)
			atomic_fetch_add(&ok, 1);
		else
			atomic_fetch_add(&failed, 1);
	}
	curl_easy_cleanup(c);
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	pthread_t th[64];
	char token[8000];
	int workers;
	FILE *f;

	if (argc < 6) {
		fprintf(stderr, "usage: upclient ENDPOINT TOKENFILE SHARE_ID "
				"WORKERS FILE...\n");
		return 2;
	}
	endpoint = argv[1];
	share = argv[3];
	workers = (int)strtol(argv[4], NULL, 10);
	if (workers < 1 || workers > 64)
		workers = 4;
	files = argv + 5;
	nfiles = argc - 5;
	f = fopen(argv[2], "r");
	if (f == NULL || fgets(token, sizeof(token), f) == NULL) {
		perror(argv[2]);
		return 1;
	}
	fclose(f);
	token[strcspn(token, "\r\n")] = '\0';
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < workers; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (int i = 0; i < workers; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.6f %d %d\n", (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, atomic_load(&ok),
	       atomic_load(&failed));
	curl_global_cleanup();
	return atomic_load(&failed) ? 1 : 0;
}
