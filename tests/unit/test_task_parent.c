/*
 * test_task_parent.c — the printer and job a task's parentUrl names
 * (pull_task_parent): the forms a service may send, and what names none.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pull.h"
#include "check.h"

static void check_parent(const char *url, int want_rc, const char *printer,
			 const char *job)
{
	json_t *task = json_pack("{ss}", "parentUrl", url);
	char p[64] = "?", j[16] = "?";
	int rc = task ? pull_task_parent(task, p, sizeof(p), j, sizeof(j))
		      : -ENOMEM;

	if (want_rc)
		CHECK_MSG(rc == want_rc, "'%s': rc %d (%s, %s), want %d", url,
			  rc, p, j, want_rc);
	else
		CHECK_MSG(rc == 0 && strcmp(p, printer) == 0 &&
			  strcmp(j, job) == 0, "'%s': rc %d (%s, %s), want "
			  "(%s, %s)", url, rc, p, j, printer, job);
	json_decref(task);
}

int main(void)
{
	const char *g = "https://graph.microsoft.com/v1.0/print";

	struct {
		const char *tail;
		int rc;
		const char *printer, *job;
	} cases[] = {
		{ "/printers/p1/jobs/42", 0, "p1", "42" },
		{ "/printers/p1/jobs/42/", 0, "p1", "42" },
		{ "/printers/p1/jobs/42?$select=id", 0, "p1", "42" },
		{ "/printers/p1/jobs/42/?x", 0, "p1", "42" },
		{ "/printers/p1/jobs/42#frag", 0, "p1", "42" },
		/* Segments are percent-encoded in a URL. */
		{ "/printers/p%201/jobs/4%32", 0, "p 1", "42" },
		/* A bad escape names nothing (the CUPS backend's rule). */
		{ "/printers/p%2g/jobs/7", -ENOENT, NULL, NULL },
		{ "/printers/p1/jobs/7%", -ENOENT, NULL, NULL },
		/* Names no job. */
		{ "/printers/p1/jobs/42/documents/d", -ENOENT, NULL, NULL },
		{ "/printers/p1/jobs/", -ENOENT, NULL, NULL },
		{ "/printers//jobs/42", -ENOENT, NULL, NULL },
		{ "/printers/p1", -ENOENT, NULL, NULL },
		{ "/shares/s1/jobs/42", -ENOENT, NULL, NULL },
		{ "/printers/a%2Fb/jobs/42", -ENOENT, NULL, NULL },
		{ "/printers/p1/jobs/4%002", -ENOENT, NULL, NULL },
		/* Longer than the caller's buffer (16 bytes for the job). */
		{ "/printers/p1/jobs/12345678901234567890", -ENOENT, NULL,
		  NULL },
	};
	char url[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		snprintf(url, sizeof(url), "%s%s", g, cases[i].tail);
		check_parent(url, cases[i].rc, cases[i].printer, cases[i].job);
	}
	check_parent("", -ENOENT, NULL, NULL);
	if (failures) {
		fprintf(stderr, "test_task_parent: %d failure(s)\n", failures);
		return 1;
	}
	return 0;
}
