/*
 * pull.h — pull printing (secure release) in the tree (design §2, issue
 * 6; reference §3.6, §8.3):
 *
 *   task_definitions/<d>/definition.json, tasks/<t>/{status,task.json},
 *   events        mkdir makes a definition, rmdir deletes it (the app)
 *   printers/<p>/task_triggers/<d>   touch makes a jobStarted trigger on
 *                 the printer for definition d, rm deletes it (the admin)
 *   mv printers/V/jobs/J printers/P/jobs/   redirects a held job (the app)
 *   printers/<p>/jobs/<j>/tasks/  a job's tasks (jobtasks.h)
 *
 * Writing "completed" or "aborted" (and an optional description) to a
 * task's status (under task_definitions/ or a job) PATCHes it. Each read
 * of events blocks until a task arrives that was not there when the file
 * was opened, then returns one line: task id, job id, printer name, user.
 */
#ifndef UPFS_PULL_H
#define UPFS_PULL_H

#include <stdbool.h>

#include "fs.h"

bool pull_kind_is_dir(enum fs_kind kind);
int pull_list(struct upfs *u, const struct fs_node *dir,
	      struct fs_entries *out, struct fs_deps *deps);
int pull_render(struct upfs *u, const struct fs_node *n, struct buf *out,
		int *ttl, struct fs_deps *deps);

int pull_create_definition(struct upfs *u, const char *name);
int pull_delete_definition(struct upfs *u, const char *name);
/*
 * printer: the printer's id; name: the definition's name in the tree.
 * *listed: the trigger's name in the listing now, which is name but
 * where the service lists triggers without their definitions (its id).
 */
int pull_create_trigger(struct upfs *u, const char *printer,
			const char *name, struct buf *listed);
int pull_delete_trigger(struct upfs *u, const char *printer,
			const char *name);
/* Redirects job from one printer to another (ids). */
int pull_redirect(struct upfs *u, const char *from_printer, const char *job,
		  const char *to_printer);
/* A task's status file written: "completed|aborted [description]". */
int pull_commit_status(struct upfs *u, const char *task,
		       const char *definition, const struct buf *text,
		       char *why, size_t why_len);

/* The same PATCH alone: its job's tasks are the caller's to expire. */
int pull_patch_status(struct upfs *u, const char *task,
		      const char *definition, const struct buf *text,
		      char *why, size_t why_len);
/* 0 when text is what a task's status takes, else -EINVAL and why. */
int pull_check_status_text(const struct buf *text, char *why,
			   size_t why_len);

/*
 * The printer and job ids a task's parentUrl names
 * (".../print/printers/{printer}/jobs/{job}", each segment
 * percent-decoded); -ENOENT when it names none.
 */
int pull_task_parent(const json_t *task, char *printer, size_t plen,
		     char *job, size_t jlen);

/*
 * Adds to printer's trigger listing *list (replaced by a copy) a trigger
 * this mount made that the listing leaves out; forgets it once listed.
 * 0 or -ENOMEM.
 */
int pull_merge_made_trigger(struct upfs *u, const char *printer,
			    json_t **list);

/* An open events file. */
struct pull_events;
int pull_events_open(struct upfs *u, const char *definition,
		     struct pull_events **out);
/*
 * One poll of every waiting events read (events_wait.c): each definition's
 * tasks are asked for once and each new task's line made once, however
 * many reads wait on them. NULL from new when out of memory.
 */
struct pull_round;
struct pull_round *pull_round_new(void);
void pull_round_free(struct pull_round *r);

/*
 * Appends to out the line from off, asking the service once for new
 * tasks when off is at the end (once in round, which may be NULL: this
 * read alone); nothing appended: no task yet (the read waits,
 * events_wait.h).
 */
int pull_events_take(struct upfs *u, struct pull_events *e,
		     struct pull_round *round, off_t off, size_t size,
		     struct buf *out);
void pull_events_close(struct pull_events *e);

#endif
