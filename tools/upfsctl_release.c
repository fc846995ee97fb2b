/*
 * upfsctl_release.c — `upfsctl release JOB --to PRINTER`: releases a job
 * held on a pull-print printer at a physical one, for badge-reader
 * scripts. It works through the profile's mount (which holds both the
 * user's and the application's identity): the job is moved into the
 * printer's jobs/ folder (a redirect), then any of its tasks the redirect
 * left processing is marked completed, and the new job's path is printed.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "upfsctl.h"

/* How long the new job may take to show in the printer's jobs/. */
#define CTL_RELEASE_WAIT_S 15

static void release_usage(FILE *out)
{
	fprintf(out, "usage: upfsctl release [PROFILE] JOB --to PRINTER "
		     "[--from HOLDER] [--mount MOUNTPOINT]\n"
		     "PRINTER and HOLDER are names under "
		     "MOUNTPOINT/printers/; HOLDER,\n"
		     "the printer that holds the job, is found when "
		     "only one does.\n");
}

/* snprintf for paths: false (and nothing used) when it does not fit. */
static bool path_fmt(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool path_fmt(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len;
}

static bool is_dir(const char *path)
{
	DIR *d = opendir(path);

	if (d)
		closedir(d);
	return d != NULL;
}

/*
 * A printer as the user typed it, as the folder name it is: trailing
 * slashes go ("V2/" is V2, which the holder search and the check against
 * --from compare as names). False for a name that is not one folder.
 */
static bool printer_arg(const char *arg, char *out, size_t len)
{
	size_t n = strlen(arg);

	while (n > 0 && arg[n - 1] == '/')
		n--;
	if (n == 0 || n >= len || memchr(arg, '/', n) != NULL ||
	    (n == 1 && arg[0] == '.') || (n == 2 && strncmp(arg, "..", 2) == 0))
		return false;
	memcpy(out, arg, n);
	out[n] = '\0';
	return true;
}

/* Whether the file at path reads "processing" (a task's status). */
static bool reads_processing(const char *path)
{
	char text[64] = "";
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return false;
	if (fgets(text, sizeof(text), f) == NULL)
		text[0] = '\0';
	fclose(f);
	return strcmp(text, "processing\n") == 0;
}

/*
 * The tasks still processing for printers/<printer>/jobs/<job>, as
 * "/<task>/" in out; how many. The job's own tasks/ names them exactly
 * (a job id is only unique within its printer).
 */
static int held_tasks(const char *mnt, const char *printer, const char *job,
		      struct buf *out)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (!path_fmt(path, sizeof(path), "%s/printers/%s/jobs/%s/tasks", mnt,
		      printer, job) || (d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' ||
		    !path_fmt(path, sizeof(path), "%s/printers/%s/jobs/%s/"
			      "tasks/%s/status", mnt, printer, job,
			      e->d_name) ||
		    !reads_processing(path))
			continue;
		if (out == NULL || buf_printf(out, "/%s/", e->d_name) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/*
 * The printer (a name under printers/) that holds jobs/<job> for release:
 * the one whose job has a task processing; failing that, the only one
 * with such a job. Job ids repeat across printers, so two candidates
 * are refused (--from names one), never guessed between.
 */
static int find_holder(const char *mnt, const char *job, const char *not,
		       char *out, size_t len)
{
	char path[PATH_MAX], any[256] = "";
	struct dirent *e;
	int held = 0, holders = 0;
	DIR *d;

	if (!path_fmt(path, sizeof(path), "%s/printers", mnt))
		return -ENAMETOOLONG;
	d = opendir(path);
	if (d == NULL)
		return -errno;
	out[0] = '\0';
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, not) == 0 ||
		    !path_fmt(path, sizeof(path), "%s/printers/%s/jobs/%s", mnt,
			      e->d_name, job) || !is_dir(path))
			continue;
		if (holders++ == 0)
			snprintf(any, sizeof(any), "%s", e->d_name);
		if (held_tasks(mnt, e->d_name, job, NULL) > 0 && held++ == 0)
			snprintf(out, len, "%s", e->d_name);
	}
	closedir(d);
	if (held == 1)
		return 0;
	if (held == 0 && holders == 1) {
		snprintf(out, len, "%s", any);
		return 0;
	}
	return held > 1 || holders > 1 ? -EEXIST : -ENOENT;
}

/* The names in a folder, one per line, for a before/after comparison. */
static int names_in(const char *path, struct buf *out)
{
	struct dirent *e;
	DIR *d = opendir(path);
	int rc = 0;

	if (d == NULL)
		return -errno;
	while (rc == 0 && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			rc = buf_printf(out, "/%s/", e->d_name);
	closedir(d);
	return rc;
}

/*
 * Whether the job in jobs/name came from the redirect of job: its
 * redirectedFrom (the source job's URL) ends in /jobs/<job>. A job
 * without the property (a service that leaves it out) may be it; one
 * whose redirectedFrom is null came from no redirect.
 */
static bool redirected_from(const char *jobs, const char *name,
			    const char *job)
{
	char path[PATH_MAX], tail[300];
	json_t *doc, *from;
	bool yes;

	if (!path_fmt(path, sizeof(path), "%s/%s/job.json", jobs, name))
		return false;
	doc = json_load_file(path, 0, NULL);
	if (doc == NULL)
		return false;
	from = json_object_get(doc, "redirectedFrom");
	snprintf(tail, sizeof(tail), "/jobs/%s", job);
	yes = from == NULL ||
	      (json_is_string(from) &&
	       strlen(json_string_value(from)) >= strlen(tail) &&
	       strcmp(json_string_value(from) +
			      strlen(json_string_value(from)) - strlen(tail),
		      tail) == 0);
	json_decref(doc);
	return yes;
}

/*
 * The new job of the redirect of job: a name jobs/ did not list before
 * (a listing up to dir_ttl old, so others' new jobs may be new to it
 * too) whose job came from job.
 */
static int new_job(const char *jobs, const struct buf *before,
		   const char *job, char *out, size_t len)
{
	time_t deadline = time(NULL) + CTL_RELEASE_WAIT_S;

	do {
		struct dirent *e;
		DIR *d = opendir(jobs);
		char key[300];

		if (d == NULL)
			return -errno;
		while ((e = readdir(d)) != NULL) {
			snprintf(key, sizeof(key), "/%s/", e->d_name);
			if (e->d_name[0] != '.' &&
			    !strstr(before->data ? before->data : "", key) &&
			    redirected_from(jobs, e->d_name, job)) {
				snprintf(out, len, "%s", e->d_name);
				closedir(d);
				return 0;
			}
		}
		closedir(d);
		usleep(200 * 1000);
	} while (time(NULL) < deadline);
	return -ETIMEDOUT;
}

/*
 * Marks completed the tasks (ids as "/<task>/" in held) that a redirect
 * left processing: the service completes the triggering task itself
 * (reference §3.2), so this writes only where it did not.
 */
static void complete_tasks(const char *mnt, const struct buf *held)
{
	char path[PATH_MAX], key[300];
	struct dirent *def, *task;
	DIR *defs, *tasks;

	if (held->len == 0 ||
	    !path_fmt(path, sizeof(path), "%s/task_definitions", mnt))
		return;
	defs = opendir(path);
	while (defs && (def = readdir(defs)) != NULL) {
		if (def->d_name[0] == '.' ||
		    !path_fmt(path, sizeof(path), "%s/task_definitions/%s/tasks",
			      mnt, def->d_name))
			continue;
		tasks = opendir(path);
		while (tasks && (task = readdir(tasks)) != NULL) {
			FILE *f;

			snprintf(key, sizeof(key), "/%s/", task->d_name);
			if (task->d_name[0] == '.' ||
			    !strstr(held->data, key) ||
			    !path_fmt(path, sizeof(path), "%s/task_definitions/"
				      "%s/tasks/%s/status", mnt, def->d_name,
				      task->d_name) || !reads_processing(path))
				continue;
			f = fopen(path, "w");
			if (f && (fputs("completed released\n", f) < 0 ||
				  fclose(f) != 0))
				fprintf(stderr, "upfsctl: could not complete "
						"task %s: %s\n", task->d_name,
					strerror(errno));
			else if (!f)
				fprintf(stderr, "upfsctl: %s: %s\n", path,
					strerror(errno));
		}
		if (tasks)
			closedir(tasks);
	}
	if (defs)
		closedir(defs);
}

int ctl_release(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "mount", required_argument, NULL, 'm' },
		{ "from", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *to = NULL, *mount = NULL, *profile = NULL, *job = NULL;
	const char *from_printer = NULL;
	char to_name[256], from_name[256];
	char mnt[PATH_MAX], holder[256], from[PATH_MAX], dest[PATH_MAX];
	char jobs[PATH_MAX], got[256];
	struct ctl_profile p;
	struct buf before, held;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 't')
			to = optarg;
		else if (c == 'm')
			mount = optarg;
		else if (c == 'f')
			from_printer = optarg;
		else if (c == 'h') {
			release_usage(stdout);
			return 0;
		} else {
			return CTL_EXIT_USAGE;
		}
	}
	if (argc - optind == 2)
		profile = argv[optind++];
	if (argc - optind == 1)
		job = argv[optind];
	if (!job || !to) {
		release_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (!printer_arg(to, to_name, sizeof(to_name)) ||
	    (from_printer &&
	     !printer_arg(from_printer, from_name, sizeof(from_name)))) {
		fprintf(stderr, "upfsctl: '%s' is not a printer's folder "
				"name\n", printer_arg(to, to_name,
						      sizeof(to_name)) ?
				from_printer : to);
		return CTL_EXIT_USAGE;
	}
	to = to_name;
	if (from_printer)
		from_printer = from_name;
	/* A job moved onto its own printer moves nothing (the rename is a
	   no-op): its task would be completed where it is, unreleased. */
	if (from_printer && strcmp(from_printer, to) == 0) {
		fprintf(stderr, "upfsctl: --from and --to name the same "
				"printer '%s'\n", to);
		return CTL_EXIT_USAGE;
	}
	if (mount) {
		snprintf(mnt, sizeof(mnt), "%s", mount);
	} else {
		rc = ctl_profile_load(&p, profile, NULL);
		if (rc)
			return rc;
		rc = ctl_mountpoint(&p, mnt, sizeof(mnt));
		ctl_profile_release(&p);
		if (rc) {
			fprintf(stderr, "upfsctl: no mountpoint: %s\n",
				strerror(-rc));
			return CTL_EXIT_FAIL;
		}
	}
	if (!path_fmt(jobs, sizeof(jobs), "%s/printers/%s/jobs", mnt, to) ||
	    !is_dir(jobs)) {
		fprintf(stderr, "upfsctl: no printer '%s' in %s/printers\n",
			to, mnt);
		return CTL_EXIT_FAIL;
	}
	if (from_printer)
		snprintf(holder, sizeof(holder), "%s", from_printer);
	rc = from_printer ? 0 : find_holder(mnt, job, to, holder,
					    sizeof(holder));
	if (rc == -EEXIST) {
		fprintf(stderr, "upfsctl: job %s is on more than one printer "
				"under %s/printers: name the one that holds "
				"it with --from PRINTER\n", job, mnt);
		return CTL_EXIT_FAIL;
	}
	if (rc) {
		fprintf(stderr, "upfsctl: no held job %s under %s/printers\n",
			job, mnt);
		return CTL_EXIT_FAIL;
	}
	if (!path_fmt(from, sizeof(from), "%s/printers/%s/jobs/%s", mnt,
		      holder, job) ||
	    !path_fmt(dest, sizeof(dest), "%s/%s", jobs, job)) {
		fprintf(stderr, "upfsctl: %s: path too long\n", mnt);
		return CTL_EXIT_FAIL;
	}
	if (!is_dir(from)) {
		fprintf(stderr, "upfsctl: no job %s under "
				"%s/printers/%s/jobs\n", job, mnt, holder);
		return CTL_EXIT_FAIL;
	}
	buf_init(&before, 0);
	buf_init(&held, 0);
	names_in(jobs, &before);
	held_tasks(mnt, holder, job, &held);
	if (rename(from, dest) != 0) {
		fprintf(stderr, "upfsctl: releasing job %s at '%s': %s (see "
				"%s/.upfs/status)\n", job, to, strerror(errno),
			mnt);
		buf_release(&before);
		buf_release(&held);
		return CTL_EXIT_FAIL;
	}
	complete_tasks(mnt, &held);
	buf_release(&held);
	rc = new_job(jobs, &before, job, got, sizeof(got));
	buf_release(&before);
	if (rc == 0)
		printf("%s/%s\n", jobs, got);
	else
		fprintf(stderr, "upfsctl: released job %s at '%s', but its new "
				"job did not show in %s within %d s\n", job, to,
			jobs, CTL_RELEASE_WAIT_S);
	return 0;
}
