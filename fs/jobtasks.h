/*
 * jobtasks.h — a job's tasks in the tree (design §2):
 *
 *   printers/<p>/jobs/<j>/tasks/<t>/{status,task.json}
 *
 * A job names its tasks only when asked with $expand=tasks (they are not
 * contained in it, reference §3.2), and names no task's definition; a
 * definition lists its tasks, each naming its job (parentUrl). Writing
 * "completed" or "aborted [description]" to a status PATCHes the task
 * under its definition, as task_definitions/<d>/tasks/<t>/status does.
 *
 * Node ids: tasks/ has the job's id, a task and its files "job/task";
 * the owner is the job's printer.
 */
#ifndef UPFS_JOBTASKS_H
#define UPFS_JOBTASKS_H

#include <stdbool.h>

#include "fs.h"

bool jobtasks_kind_is_dir(enum fs_kind kind);
/* tasks/ (FS_JOB_TASKS) or one task's folder (FS_JOB_TASK). */
int jobtasks_list(struct upfs *u, const struct fs_node *dir,
		  struct fs_entries *out, struct fs_deps *deps);
/* The task a node shows (id "job/task", printer), a new reference. */
int jobtasks_get(struct upfs *u, const char *id, const char *printer,
		 json_t **out, struct fs_deps *deps);
/* The task id part of a node id "job/task" (the id itself if none). */
const char *jobtasks_task_id(const char *id);
/* A job task's status written: "completed|aborted [description]". */
int jobtasks_commit_status(struct upfs *u, const char *id,
			   const char *printer, const struct buf *text,
			   char *why, size_t why_len);

/* Makes the next read of a job's tasks ask the service (own writes). */
void jobtasks_expire(struct upfs *u, const char *printer, const char *job);
/* Same, for the job a task names (its parentUrl). */
void jobtasks_expire_of_task(struct upfs *u, const json_t *task);

#endif
