/*
 * tree_private.h — what tree.c, render.c and xattr.c share: the Graph
 * paths of each resource the tree is made of, and small JSON helpers.
 */
#ifndef UPFS_TREE_PRIVATE_H
#define UPFS_TREE_PRIVATE_H

#include "fs.h"

#define TREE_SHARES "/print/shares"
#define TREE_PRINTERS "/print/printers"
#define TREE_CONNECTORS "/print/connectors"
#define TREE_SETTINGS "/print/settings"
#define TREE_OPERATIONS "/print/operations"
#define TREE_TASK_DEFS "/print/taskDefinitions"
#define TREE_USERS "/users"
#define TREE_GROUPS "/groups"
/* Every printer with the connectors that serve it, in one listing. */
#define TREE_PRINTERS_WITH_CONNECTORS                                        \
	"/print/printers?$select=id,displayName,registeredDateTime"         \
	"&$expand=connectors"
/* A printer's or share's jobs, with their documents. */
#define TREE_JOBS_SUFFIX "/jobs?$expand=documents"
/* A printer's task triggers, each with its definition (tree_get_triggers),
   or without while the service refuses the expand. */
#define TREE_TRIGGERS_SUFFIX "/taskTriggers?$expand=definition"
#define TREE_TRIGGERS_PLAIN_SUFFIX "/taskTriggers"

/*
 * Lists omit capabilities and defaults (reference §3.1): a printer's and a
 * share's files come from one GET that names every property.
 */
#define TREE_PRINTER_SELECT                                                  \
	"?$select=id,displayName,manufacturer,model,isShared,"              \
	"isAcceptingJobs,hasPhysicalDevice,registeredDateTime,"             \
	"lastSeenDateTime,status,location,defaults,capabilities"
#define TREE_SHARE_SELECT                                                    \
	"?$select=id,displayName,createdDateTime,allowAllUsers,"            \
	"isAcceptingJobs,manufacturer,model,status,location,defaults,"      \
	"capabilities,viewPoint&$expand=printer"

/* Appends prefix, the escaped id and suffix: "/print/printers/{id}/jobs". */
int tree_key(struct buf *out, const char *prefix, const char *id,
	     const char *suffix);

/* Fetches the resource prefix/{id}suffix (see res_get). */
int tree_get(struct upfs *u, const char *prefix, const char *id,
	     const char *suffix, bool list, int ttl, enum res_policy policy,
	     json_t **out, struct fs_deps *deps);

/* One entry per element of the listing key, named by its displayName. */
int tree_list_objects(struct upfs *u, const char *key, enum fs_kind kind,
		      const char *owner, const char *time_field,
		      struct fs_entries *out, struct fs_deps *deps);

/* The element with this id of a listing, as a new reference (-ENOENT). */
int tree_get_member(struct upfs *u, const char *key, const char *id, int ttl,
		    enum res_policy policy, json_t **out, struct fs_deps *deps);

/* A job as its printer's or share's job listing holds it (prefix
   TREE_PRINTERS or TREE_SHARES, owner that object's id). */
/*
 * A printer's task triggers, as tree_get: with their definitions, or, for
 * a while after the service refused $expand on that listing (the
 * reference names no option it takes), without them.
 */
int tree_get_triggers(struct upfs *u, const char *printer,
		      enum res_policy policy, json_t **out,
		      struct fs_deps *deps);
/* The cache key or path of that listing in the form asked now; *expanded:
   whether that form expands the definitions. */
int tree_triggers_key(struct upfs *u, struct buf *out, const char *printer,
		      bool *expanded);
/* After a refusal of the expanded form (-EINVAL): whether to ask plain. */
bool tree_triggers_refused(struct upfs *u, int rc);

int tree_get_job(struct upfs *u, const char *prefix, const char *owner,
		 const char *job, json_t **out, struct fs_deps *deps);

/* Seconds since the epoch of an ISO 8601 time, 0 when absent or invalid. */
int64_t tree_parse_time(const char *iso);

/* The string member name of obj, or "" (never NULL). */
const char *tree_str(const json_t *obj, const char *name);

/* Whether the array holds the string value. */
bool tree_has_string(const json_t *array, const char *value);
/* Whether the service answers 404 for path now (as g): a DELETE whose
   reply was lost (graph_err_unsettled) was carried out. */
bool tree_gone_now(struct graph *g, const char *path);

/* Appends s as an OData string literal: in quotes, its quotes doubled
   (not escaped for a URL). */
int tree_odata_string(struct buf *out, const char *s);

/*
 * A form of request the service refused (a collection, an $expand or a
 * $filter the reference does not vouch for) is not sent again for ten
 * listing lifetimes. since: when it was refused (ms), 0 for never.
 * tree_mark_refused is true for the first refusal in a while (to be said).
 */
bool tree_refused_lately(struct upfs *u, _Atomic int64_t *since);
bool tree_mark_refused(struct upfs *u, _Atomic int64_t *since);
/* Whether the object at path, as g reads it now from the service, holds
   want at member (of its object outer, when not NULL): a write whose
   reply was lost (graph_err_unsettled) was carried out. */
bool tree_reads_back(struct graph *g, const char *path, const char *outer,
		     const char *member, const char *want);

/* "state: detail, detail" of a printerStatus or printJobStatus. */
int tree_status_line(struct buf *out, const json_t *status);

/* True for the job states after which nothing more happens. */
bool tree_job_is_final(const json_t *job);

#endif
