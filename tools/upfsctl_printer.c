/*
 * upfsctl_printer.c — `upfsctl printer create`: registers a printer
 * (POST /print/printers/create, reference §3.1 and §8.2), follows the
 * operation it answers with until it succeeds or fails, and prints the
 * new printer's path in the profile's mount. While it runs, the
 * operation is visible as MOUNT/operations/<id>.json where the service
 * lists operations.
 *
 * The token comes as upfs takes it: $UPFS_ACCESS_TOKEN, the profile's
 * token_file=, or the session `upfsctl login` saved.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "names.h"
#include "upfsctl.h"

/* A registration that has not finished in this long is reported. */
#define CTL_OPERATION_TIMEOUT_S 600

struct create_args {
	const char *profile;
	const char *opts;
	const char *name;
	const char *manufacturer;
	const char *model;
	const char *csr;
	const char *transport_key;
	const char *connector;
	const char *device_id;
};

static void printer_usage(FILE *out)
{
	fprintf(out,
		"usage: upfsctl printer create [PROFILE] --name NAME "
		"--manufacturer M --model X\n"
		"              --csr FILE [--transport-key FILE] [--connector "
		"C] [--device-id ID]\n"
		"              [-o OPT,...]\n"
		"\n"
		"--csr is the printer's PKCS#10 request, --transport-key the "
		"public key the\n"
		"device made with it (PEM or base64; by default the one the "
		"request carries).\n"
		"Without --device-id the printer is registered as a virtual "
		"one.\n");
}

/*
 * The base64 body of a PEM file (the lines between BEGIN and END), or the
 * whole text trimmed when it is bare base64. out is malloc'd.
 */
static int read_base64(const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	struct buf b;
	bool pem = false, inside = false;
	int rc = 0;

	if (f == NULL)
		return -errno;
	buf_init(&b, 1 << 20);
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\r\n");

		line[n] = '\0';
		if (strncmp(line, "-----BEGIN ", 11) == 0) {
			pem = inside = true;
			continue;
		}
		if (strncmp(line, "-----END ", 9) == 0) {
			inside = false;
			continue;
		}
		if (!pem || inside)
			rc = buf_append_str(&b, line);
	}
	if (rc == 0 && ferror(f))
		rc = -EIO;
	fclose(f);
	if (rc == 0 && b.len == 0)
		rc = -ENODATA;
	if (rc == 0)
		*out = buf_detach(&b, NULL);
	buf_release(&b);
	return rc;
}

static int parse_args(int argc, char **argv, struct create_args *a)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "manufacturer", required_argument, NULL, 'm' },
		{ "model", required_argument, NULL, 'x' },
		{ "csr", required_argument, NULL, 'c' },
		{ "transport-key", required_argument, NULL, 't' },
		{ "connector", required_argument, NULL, 'C' },
		{ "device-id", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': a->name = optarg; break;
		case 'm': a->manufacturer = optarg; break;
		case 'x': a->model = optarg; break;
		case 'c': a->csr = optarg; break;
		case 't': a->transport_key = optarg; break;
		case 'C': a->connector = optarg; break;
		case 'd': a->device_id = optarg; break;
		case 'o': a->opts = optarg; break;
		case 'h': printer_usage(stdout); exit(0);
		default: return CTL_EXIT_USAGE;
		}
	}
	if (optind < argc)
		a->profile = argv[optind++];
	if (optind < argc || !a->name || !a->manufacturer || !a->model ||
	    !a->csr) {
		printer_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	return 0;
}

/* A client with the token upfs would use for this profile. */
static int make_graph(const struct ctl_profile *p, struct graph **g)
{
	struct graph_config cfg = {
		.endpoint = p->endpoint,
		.authority = p->authority,
		.client_id = p->client_id,
		.token_file = p->token_file,
		.access_token = getenv("UPFS_ACCESS_TOKEN"),
		.ca_file = p->ca_file,
		.max_retries = -1,
	};
	struct graph_err err = { 0 };
	struct stat st;
	int rc;

	if (cfg.access_token && cfg.access_token[0] == '\0')
		cfg.access_token = NULL;
	if (!cfg.access_token && !cfg.token_file &&
	    stat(p->session_path, &st) == 0)
		cfg.session_file = p->session_path;
	if (!cfg.access_token && !cfg.token_file && !cfg.session_file) {
		fprintf(stderr, "upfsctl: not signed in: run 'upfsctl login "
				"%s'\n", p->name);
		return -EACCES;
	}
	rc = graph_new(g, &cfg, &err);
	if (rc)
		fprintf(stderr, "upfsctl: %s\n", err.message[0] ? err.message
								: strerror(-rc));
	return rc;
}

static void say_failure(const char *what, int rc, const struct graph_err *err)
{
	char detail[400];

	if (err->status || err->message[0])
		graph_err_format(err, detail, sizeof(detail));
	else
		snprintf(detail, sizeof(detail), "%s", strerror(-rc));
	fprintf(stderr, "upfsctl: %s: %s\n", what, detail);
}

/* --connector takes a connector's id or its display name. */
static int connector_id(struct graph *g, const char *given, char *out,
			size_t len)
{
	struct graph_err err = { 0 };
	json_t *list = NULL, *c;
	size_t i;
	int rc = graph_list(g, "/print/connectors", &list, NULL, &err), found = 0;

	if (rc) {
		say_failure("listing connectors", rc, &err);
		return rc;
	}
	json_array_foreach(list, i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));
		const char *name = json_string_value(json_object_get(
			c, "displayName"));

		if (id && (strcmp(id, given) == 0 ||
			   (name && strcmp(name, given) == 0))) {
			snprintf(out, len, "%s", id);
			found++;
		}
	}
	json_decref(list);
	if (found == 1)
		return 0;
	fprintf(stderr, "upfsctl: %s connector '%s'\n",
		found ? "more than one" : "no", given);
	return found ? -EINVAL : -ENOENT;
}

static json_t *create_body(const struct create_args *a, const char *csr,
			   const char *key, const char *conn)
{
	json_t *body = json_pack(
		"{s:s, s:s, s:s, s:b, s:{s:s, s:s}}", "displayName", a->name,
		"manufacturer", a->manufacturer, "model", a->model,
		"hasPhysicalDevice", a->device_id != NULL,
		"certificateSigningRequest", "content", csr, "transportKey", key);

	if (body == NULL)
		return NULL;
	json_object_set_new(body, "physicalDeviceId", a->device_id
			    ? json_string(a->device_id) : json_null());
	json_object_set_new(body, "connectorId", conn[0] ? json_string(conn)
							 : json_null());
	return body;
}

static const char *op_state(const json_t *op)
{
	const char *s = json_string_value(json_object_get(
		json_object_get(op, "status"), "state"));

	return s ? s : "";
}

/* Polls the operation until it is done; *op receives its last state. */
static int follow(struct graph *g, const char *url, int retry_after,
		  json_t **op)
{
	time_t deadline = time(NULL) + CTL_OPERATION_TIMEOUT_S;
	struct graph_err err = { 0 };
	int rc;

	*op = NULL;
	for (;;) {
		/* Retry-After says when to look; never hammer, never nap long. */
		int wait = retry_after > 0 ? retry_after : 1;

		sleep((unsigned)(wait > 30 ? 30 : wait));
		json_decref(*op);
		*op = NULL;
		rc = graph_get(g, url, op, &err);
		if (rc) {
			say_failure("following the registration", rc, &err);
			return rc;
		}
		if (strcmp(op_state(*op), "succeeded") == 0 ||
		    strcmp(op_state(*op), "failed") == 0)
			return 0;
		if (time(NULL) > deadline) {
			fprintf(stderr, "upfsctl: the registration is still "
					"%s after %d s\n", op_state(*op),
				CTL_OPERATION_TIMEOUT_S);
			return -ETIMEDOUT;
		}
	}
}

/*
 * The new printer's name in printers/: its display name, told from any
 * other printer's of that name as the listing tells them (" ~<id>").
 * Without the listing, the display name alone.
 */
static int printer_name(struct graph *g, const char *id, const char *name,
			struct buf *out)
{
	const char **displays = NULL, **ids = NULL;
	json_t *list = NULL, *v;
	size_t i, n = 0, which = 0;
	int rc;

	if (graph_list(g, "/print/printers?$select=id,displayName", &list,
		       NULL, NULL) != 0)
		return names_encode(out, name, id);
	displays = calloc(json_array_size(list) + 2, sizeof(*displays));
	ids = calloc(json_array_size(list) + 2, sizeof(*ids));
	rc = displays && ids ? 0 : -ENOMEM;
	json_array_foreach(list, i, v) {
		const char *vid = json_string_value(json_object_get(v, "id"));

		if (rc || vid == NULL || strcmp(vid, id) == 0)
			continue;	/* the new one goes last, once */
		displays[n] = json_string_value(json_object_get(
			v, "displayName"));
		ids[n++] = vid;
	}
	if (rc == 0) {
		displays[n] = name;
		ids[n] = id;
		which = n++;
		rc = names_in_folder(displays, ids, n, which, out);
	}
	free(displays);
	free(ids);
	json_decref(list);
	return rc;
}

/* "MOUNT/printers/NAME" of the new printer, as the mount names it. */
static void print_path(const struct ctl_profile *p, struct graph *g,
		       const json_t *printer)
{
	const char *id = json_string_value(json_object_get(printer, "id"));
	const char *name = json_string_value(json_object_get(printer,
							     "displayName"));
	char mnt[PATH_MAX];
	struct buf b;

	buf_init(&b, 0);
	if (ctl_mountpoint(p, mnt, sizeof(mnt)) == 0 && id &&
	    printer_name(g, id, name ? name : "", &b) == 0)
		printf("%s/printers/%s\n", mnt, b.data);
	else
		printf("%s\n", id ? id : "");
	buf_release(&b);
}

static int create(const struct create_args *a)
{
	char *csr = NULL, *key = NULL, *url = NULL, conn[128] = "";
	json_t *body = NULL, *op = NULL;
	struct graph_err err = { 0 };
	struct graph *g = NULL;
	struct ctl_profile p;
	int retry_after, rc, status = CTL_EXIT_FAIL;

	rc = ctl_profile_load(&p, a->profile, a->opts);
	if (rc)
		return rc;
	if ((rc = read_base64(a->csr, &csr)) != 0 ||
	    (a->transport_key && (rc = read_base64(a->transport_key,
						   &key)) != 0)) {
		fprintf(stderr, "upfsctl: %s: %s\n", csr ? a->transport_key
			: a->csr, rc == -ENODATA ? "empty" : strerror(-rc));
		goto out;
	}
	/* Without --transport-key: the public key the request carries. */
	if (key == NULL && ctl_csr_public_key(csr, &key) != 0) {
		fprintf(stderr, "upfsctl: %s: not a PKCS#10 request whose "
				"public key can be read: give --transport-key "
				"FILE\n", a->csr);
		goto out;
	}
	if (make_graph(&p, &g) != 0)
		goto out;
	if (a->connector && connector_id(g, a->connector, conn,
					 sizeof(conn)) != 0)
		goto out;
	body = create_body(a, csr, key, conn);
	if (body == NULL) {
		fprintf(stderr, "upfsctl: cannot make the request: the name, "
				"manufacturer and model must be UTF-8 text\n");
		goto out;
	}
	rc = graph_start_operation(g, "/print/printers/create", body, &url,
				   &retry_after, &err);
	/* Sent twice, a registration may make a second printer: say when
	   the service may hold one all the same. */
	if (rc) {
		say_failure("registering the printer", rc, &err);
		if (graph_err_unsettled(&err))
			fprintf(stderr, "upfsctl: the service may have "
					"started the registration all the "
					"same: look for '%s' under printers/ "
					"before trying again\n", a->name);
		goto out;
	}
	if (err.replayed)
		fprintf(stderr, "upfsctl: the request was sent twice (after "
				"a reply that may hide its work, or a "
				"connection that died before one): the "
				"service may register '%s' twice\n", a->name);
	fprintf(stderr, "upfsctl: registering '%s': operation %s\n", a->name,
		strrchr(url, '/') ? strrchr(url, '/') + 1 : url);
	if (follow(g, url, retry_after, &op) != 0)
		goto out;
	if (strcmp(op_state(op), "failed") == 0) {
		const char *why = json_string_value(json_object_get(
			json_object_get(op, "status"), "description"));

		fprintf(stderr, "upfsctl: the registration failed: %s\n",
			why && why[0] ? why : "no reason given");
		goto out;
	}
	if (!json_is_string(json_object_get(json_object_get(op, "printer"),
					    "id"))) {
		fprintf(stderr, "upfsctl: the registration succeeded, but its "
				"operation names no printer: look for '%s' "
				"under printers/\n", a->name);
		status = 0;
		goto out;
	}
	print_path(&p, g, json_object_get(op, "printer"));
	status = 0;
out:
	json_decref(op);
	json_decref(body);
	free(url);
	free(csr);
	free(key);
	graph_free(g);
	ctl_profile_release(&p);
	return status;
}

int ctl_printer(int argc, char **argv)
{
	struct create_args a = { 0 };
	int rc;

	if (argc < 2 || strcmp(argv[1], "create") != 0) {
		printer_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	rc = parse_args(argc - 1, argv + 1, &a);
	return rc ? rc : create(&a);
}
