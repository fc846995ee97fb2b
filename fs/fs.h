/*
 * fs.h — the filesystem module of upfs: the tree of design §2 served
 * through the FUSE low-level API, on top of graph/ and cache/.
 *
 * Pieces and their files:
 *   options.c   command line and mount options -> struct upfs_options
 *   resource.c  Graph resources: memory, then LMDB, then the service;
 *               fetch times, TTLs, background refresh, offline state
 *   tree.c      what each kind of folder lists and each file contains
 *   xattr.c     the user.upfs.* attributes of each kind of entry
 *   node.c      the inode table and folder snapshots
 *   ops.c       the FUSE operations
 *   health.c    .upfs/status and the log
 *   main.c      the program
 *
 * All mutable state lives in one struct upfs, reached through the FUSE
 * request's userdata. Lock order: node_lock, then res_lock or
 * spool_lock; none of them is ever held across a Graph request or an
 * LMDB transaction.
 */
#ifndef UPFS_FS_H
#define UPFS_FS_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "buf.h"
#include "cache.h"
#include "graph.h"

/* ---- options (options.c) ---- */

#define UPFS_DEFAULT_ENDPOINT "https://graph.microsoft.com/v1.0"
#define UPFS_DEFAULT_AUTHORITY "https://login.microsoftonline.com/organizations"
/* Microsoft's public client for command-line Graph tools. */
#define UPFS_DEFAULT_CLIENT_ID "14d82eec-204b-4c2f-b7e8-296a70dab67e"
/* Seconds: below 1 byte/s this long, a request fails (a stalled server). */
#define UPFS_DEFAULT_LOW_SPEED_TIME 30
/* Seconds one request may take in all, body included (a trickling one);
   the largest body is a 4 MB upload range, so 600 s is 7 kB/s. */
#define UPFS_DEFAULT_REQUEST_TIMEOUT 600

/*
 * The offset of an O_APPEND write: the file's end, as upfs knows it. The
 * kernel's own is the size it cached, which a commit or a refresh may
 * have changed since: for a direct_io file it does not ask again.
 */
#define FS_OFF_END ((off_t)-1)

struct upfs_options {
	char *profile;		/* "default" unless given */
	char *mountpoint;
	char *endpoint;
	char *authority;
	char *client_id;
	char *client_secret;
	char *client_secret_file;	/* read into client_secret */
	char *token_file;
	char *cache_dir;
	char *ca_file;
	int dir_ttl;		/* seconds */
	int status_ttl;
	int low_speed_time;	/* s below 1 byte/s that end a request */
	int request_timeout;	/* s one request may take in all; 0: none */
	bool offline;
	bool foreground;
	bool debug;
	bool single_thread;
	bool show_help;
	bool show_version;
	bool have_uid, have_gid;
	uid_t uid;
	gid_t gid;
};

/*
 * Parses argv into opts and leaves in fuse_args only what libfuse itself
 * must see (allow_other, default_permissions, ...). On a bad command line
 * prints one line on stderr and returns -EINVAL.
 */
struct fuse_args;
int options_parse(struct upfs_options *opts, struct fuse_args *fuse_args,
		  int argc, char **argv);
void options_release(struct upfs_options *opts);
void options_print_help(const char *prog);

/* ---- profiles (config.c) ---- */

/*
 * Called for each setting of the profile's section: key, and value (NULL
 * for a bare word such as "offline"). Returns 0, or a negative errno with
 * the reason in why ("unknown option 'foo'").
 */
typedef int (*config_fn)(void *arg, const char *key, const char *value,
			 char *why, size_t why_len);

/*
 * Reads the INI file at path and calls fn for each setting of [profile],
 * in order. A missing file is no error. On an error, err receives
 * "FILE:LINE: reason" (FILE with $HOME shown as '~') and a negative errno
 * comes back. *found (may be NULL) tells whether the section exists.
 */
int config_read(const char *path, const char *profile, config_fn fn,
		void *arg, bool *found, char *err, size_t errlen);

/* $UPFS_CONFIG, else $XDG_CONFIG_HOME/upfs/config (~/.config/upfs/config). */
int config_file_path(char *out, size_t len);
/* $XDG_CONFIG_HOME/upfs, where the config and the session files live. */
int config_dir_path(char *out, size_t len);
/* The session file `upfsctl login PROFILE` writes: .../upfs/PROFILE.token */
int config_session_path(const char *profile, char *out, size_t len);
/* Letters, digits, '.', '-', '_', '@'; not starting with '.' or '-'. */
bool config_profile_name_ok(const char *name);
/* path with $HOME shown as '~'. */
void config_shown_path(const char *path, char *out, size_t len);
/* The profile a command line of upfs names ("default" if none); *help
   is set when it asks for --help or --version. */
const char *config_profile_of(int argc, char **argv, bool *help);

/* ---- the kinds of entries (tree.c) ---- */

enum fs_kind {
	FS_ROOT,
	FS_SHARES,		/* shares/ */
	FS_SHARE,		/* shares/<s>/ */
	FS_SHARE_JSON,
	FS_SHARE_PRINTER,	/* symlink to ../../printers/<p> */
	FS_SHARE_USERS,
	FS_SHARE_GROUPS,
	FS_SHARE_ALLOW_ALL,
	FS_SHARE_OPTIONS,	/* default job options (editfile.c) */
	FS_SHARE_QUEUE,		/* queue/ */
	FS_QUEUE_ENTRY,		/* a live job, by document name */
	FS_QUEUE_LOCAL,		/* a document not yet handed to the service */
	FS_SHARE_JOBS,		/* jobs/ */
	FS_SHARE_JOB_LINK,	/* symlink into printers/<p>/jobs/ */
	FS_PRINTERS,
	FS_PRINTER,
	FS_PRINTER_STATUS,
	FS_PRINTER_JSON,
	FS_PRINTER_CAPS,
	FS_PRINTER_DEFAULTS,
	FS_PRINTER_LOCATION,
	FS_PRINTER_JOBS,
	FS_JOB,
	FS_JOB_STATUS,
	FS_JOB_JSON,
	FS_JOB_CTL,		/* write cancel or abort */
	FS_JOB_DOCUMENTS,	/* documents/ (id: job, owner: printer) */
	FS_JOB_DOCUMENT,	/* its bytes (id: "job/document") */
	FS_PRINTER_CTL,		/* write restore-defaults */
	FS_PRINTER_SHARES,
	FS_PRINTER_SHARE_LINK,	/* symlink to ../../../shares/<s> */
	FS_CONNECTORS,
	FS_CONNECTOR,
	FS_CONNECTOR_JSON,
	FS_CONNECTOR_PRINTERS,	/* connectors/<c>/printers/ */
	FS_CONNECTOR_PRINTER_LINK, /* symlink to ../../../printers/<p> */
	FS_OPERATIONS,		/* operations/ */
	FS_OPERATION_JSON,	/* operations/<id>.json */
	FS_USAGE,		/* usage/ (usage.c) */
	FS_USAGE_BY_PRINTER,
	FS_USAGE_BY_USER,
	FS_USAGE_OBJECT,	/* by-printer/<p>/, by-user/<u>/ (id: the
				   printer id or UPN; owner: "printer" or
				   "user") */
	FS_USAGE_CSV,		/* daily.csv, monthly.csv (owner: the
				   report collection) */
	FS_USAGE_SUMMARY,	/* summary.svg */
	FS_ARCHIVE,		/* archive/ */
	FS_ARCHIVE_PRINTERS,
	FS_ARCHIVE_USERS,
	FS_ARCHIVE_GROUPS,
	FS_ARCHIVE_OBJECT,	/* <x>/ (owner: "printers", "users", …) */
	FS_ARCHIVE_CSV,		/* <YYYY-MM>.csv (owner: "printers/<id>") */
	FS_TASK_DEFS,		/* task_definitions/ (pull.c) */
	FS_TASK_DEF,		/* <definition>/ (id: the definition) */
	FS_TASK_DEF_JSON,	/* definition.json */
	FS_TASK_EVENTS,		/* events: one line per new task */
	FS_TASKS,		/* tasks/ */
	FS_TASK,		/* tasks/<t>/ (id: task, owner: definition) */
	FS_TASK_STATUS,		/* status: write completed or aborted */
	FS_TASK_JSON,		/* task.json */
	FS_TASK_TRIGGERS,	/* printers/<p>/task_triggers/ (id: printer) */
	FS_TASK_TRIGGER,	/* <definition> (id: trigger, owner: printer) */
	FS_JOB_TASKS,		/* printers/<p>/jobs/<j>/tasks/ (id: job,
				   owner: printer) */
	FS_JOB_TASK,		/* tasks/<t>/ (id: "job/task", owner:
				   printer) */
	FS_JOB_TASK_STATUS,	/* status: write completed or aborted */
	FS_JOB_TASK_JSON,	/* task.json */
	FS_SETTINGS_JSON,
	FS_META,		/* .upfs/ */
	FS_META_STATUS,
	FS_SCRATCH,		/* an editor's local file in a share folder */
	FS_SHARE_PENDING,	/* shares/NAME made by mkdir, no printer yet */
	FS_KIND_COUNT
};

/* What a folder lists: one child, before it becomes a node. */
struct fs_entry {
	/* name owns one allocation that also holds id and owner (made by
	   fs_entries_add, freed by fs_entries_release) */
	char *name;
	enum fs_kind kind;
	char *id;		/* the object this entry shows, or NULL */
	char *owner;		/* the object it lives in, or NULL */
	int64_t mtime;		/* seconds since the epoch, 0 if unknown */
};

struct fs_entries {
	struct fs_entry *v;
	size_t n, alloc;
};

void fs_entries_release(struct fs_entries *e);
/* Appends a copy of one entry; 0 or -ENOMEM. */
int fs_entries_add(struct fs_entries *out, const char *name,
		   enum fs_kind kind, const char *id, const char *owner,
		   int64_t mtime);

/*
 * The resources a listing or a file was made from, and their generations
 * then. Resource records live as long as the mount, so they are pointed
 * at, not copied.
 */
#define UPFS_MAX_DEPS 4
struct res;
struct queue_memo;
struct readbase;
struct fs_deps {
	struct {
		struct res *res;
		uint64_t gen;
	} d[UPFS_MAX_DEPS];
	int ttl[UPFS_MAX_DEPS];	/* of d[i]; apart, as it would pad d */
	uint8_t n;		/* small: every node holds a fs_deps */
	bool overflow;		/* more than UPFS_MAX_DEPS: never current */
	bool volatile_;		/* made from live state, not resources */
	/* Also made from the spool, which then held spool_sig and had
	   stopped hiding a listed job spool_unhides times (spool.h). */
	bool spool;
	uint32_t spool_unhides;
	uint64_t spool_sig;
};

void fs_deps_release(struct fs_deps *deps);

struct upfs;
struct fs_node;

/*
 * An open file or folder handle. Each is on one list while open, so that
 * the handles the kernel never released (the loop ended by a signal while
 * a RELEASE was still on its way) are freed at unmount.
 */
struct fs_handle {
	struct fs_handle *prev, *next;
	void (*free)(struct fs_handle *h);
};

void handle_add(struct upfs *u, struct fs_handle *h);
void handle_remove(struct upfs *u, struct fs_handle *h);
/* Frees every handle still open; for unmount, when no request runs. */
void handles_release(struct upfs *u);

/* Kind of a child of a folder kind that has fixed children, by name. */
bool tree_kind_is_dir(enum fs_kind kind);
bool tree_kind_is_link(enum fs_kind kind);
/* Whether name is a fixed child of a folder of kind dir, and its kind. */
bool tree_fixed_child(enum fs_kind dir, const char *name, enum fs_kind *kind);
/* Folders with editable files take editors' local files (scratch.h). */
bool tree_keeps_scratch(enum fs_kind dir);
/* Whose scratch files a folder of tree_keeps_scratch() lists. */
const char *tree_scratch_owner(const struct fs_node *dir);

/* The children of a folder node; records the resources used in deps. */
int tree_list(struct upfs *u, const struct fs_node *dir,
	      struct fs_entries *out, struct fs_deps *deps);

/*
 * The bytes of a file (or the target of a symlink), and when it last
 * changed (0 if unknown). ttl receives how long the kernel may cache it.
 */
int tree_render(struct upfs *u, const struct fs_node *n, struct buf *out,
		int64_t *mtime, int *ttl, struct fs_deps *deps);

/* The size of a queue entry's document, without fetching its bytes. */
int tree_document_size(struct upfs *u, const struct fs_node *n, off_t *size,
		       int64_t *mtime, struct fs_deps *deps);

/* The user.upfs.* attributes of n as "name\0value\0" pairs. */
int xattr_collect(struct upfs *u, const struct fs_node *n, struct buf *out);

/* ---- resources (resource.c) ---- */

enum res_policy {
	RES_STALE_OK,		/* serve stale data while a refresh runs */
	RES_REFRESH_STALE,	/* refresh now when stale; stale on failure */
};

/*
 * The JSON of a Graph resource (an object GET or, for list == true, the
 * array of every page's values). *out is a new reference. Adds the
 * resource and its generation to deps when deps is not NULL.
 */
int res_get(struct upfs *u, const char *key, bool list, int ttl,
	    enum res_policy policy, json_t **out, struct fs_deps *deps);

/*
 * How a resource is kept in memory when not as a JSON tree: parse builds
 * the kept object from the resource's JSON text and says how many bytes
 * it holds (counted against the memory budget); text it cannot read makes
 * a cached copy a miss and a fetch fail. Kept objects are shared and never
 * changed: hold adds a reference, drop releases one.
 */
struct res_form {
	int (*parse)(const void *arg, const char *text, size_t len,
		     void **out, size_t *bytes);
	void *(*hold)(void *obj);
	void (*drop)(void *obj);
	const void *arg;
};

/*
 * As res_get, for a resource kept in form: *out is a new reference
 * (form->drop it). A key is read with one form, or as JSON, for the
 * mount's life: -EINVAL otherwise.
 */
int res_get_form(struct upfs *u, const char *key, bool list, int ttl,
		 enum res_policy policy, const struct res_form *form,
		 void **out, struct fs_deps *deps);

/*
 * A listing whose elements can stand for objects otherwise fetched one by
 * one: prefix/{id}suffix (tree_key) is an element's own key, needs the
 * members an element must carry to be what that GET gives (NULL-ended).
 * When many objects of a batch must come from the service at once (a
 * walk: RES_BATCH_MIN in RES_BATCH_WINDOW_MS), one paged listing fills
 * them all instead of a GET each (design.md §5: never one request per
 * object). A service whose listing leaves those members out gets the GETs.
 */
struct res_batch {
	const char *listing;
	const char *prefix;
	const char *suffix;
	const char *const *needs;
};

/* As res_get for the object key, one of batch (see above). */
int res_get_object(struct upfs *u, const char *key,
		   const struct res_batch *batch, int ttl,
		   enum res_policy policy, json_t **out, struct fs_deps *deps);

/* Makes the next read of key fetch it from the service (own writes). */
void res_expire(struct upfs *u, const char *key);

/*
 * Puts member (matched by "id") into the listing key held in memory: a
 * change of this mount's own that the service confirmed, so no reader
 * has to fetch the whole listing again for it. -ENOENT when the listing
 * is not held (the caller expires it instead).
 */
int res_list_upsert(struct upfs *u, const char *key, json_t *member);

/*
 * Has a refresher tell the kernel to forget name in folder parent (an
 * inode number). A thread serving FUSE requests must not do it itself:
 * the kernel takes the folder's lock for it, and a request already
 * waiting on that lock could need the thread (a single-threaded mount
 * would hang).
 */
void res_forget_name_later(struct upfs *u, uint64_t parent, const char *name);

/* True when none of the resources in deps changed since they were read;
 * schedules refreshes of those that went stale. */
bool res_deps_current(struct upfs *u, const struct fs_deps *deps);

int res_table_new(struct upfs *u);
int res_start(struct upfs *u);
void res_stop(struct upfs *u);
void res_release(struct upfs *u);

/* Drops every parsed JSON from memory (SIGHUP); LMDB keeps them. */
void res_drop_memory(struct upfs *u);

/* Finds the element of a list whose "id" is id (borrowed) or NULL. */
json_t *res_find_id(json_t *list, const char *id);

/* ---- nodes (node.c) ---- */

struct fs_node {
	uint64_t ino;
	uint64_t generation;
	enum fs_kind kind;
	bool linked;		/* listed by its parent's snapshot; node_lock */
	/* In the node's own allocation (node_new), fixed for its life:
	   never freed or changed apart from it. */
	char *name;
	char *id;
	char *owner;
	int64_t mtime;		/* guarded by node_lock (a refresh sets it) */
	uint64_t nlookup;	/* guarded by node_lock */
	/* A node is a folder (tree_kind_is_dir) or not for its whole life,
	   and keeps the state of one only: a walk of a big tenant holds a
	   node for every entry. Guarded by node_lock. */
	union {
		struct {	/* folders */
			struct fs_entries entries;	/* sorted by name */
			/* parallel to entries; NULL = none */
			struct fs_node **children;
			struct fs_deps deps;
			/* the listing the kernel may have cached */
			uint64_t listing_sig;
			unsigned open_dirs;	/* open handles of it */
			bool listed;
			/* they were opened with different listings */
			bool listing_mixed;
		};
		struct {	/* files and links: the last rendered size,
				   good while the resources it was rendered
				   from keep their generations */
			off_t size;
			int64_t file_mtime;
			int file_ttl;
			bool attr_known;
			struct fs_deps attr_deps;
		};
	};
	/* Every node, so unmount frees those the kernel never forgot. */
	struct fs_node *all_prev, *all_next;
	struct fs_node **all_head;
};

int node_table_init(struct upfs *u);
void node_table_release(struct upfs *u);
struct fs_node *node_get(struct upfs *u, uint64_t ino);

/*
 * Looks name up in dir (listing dir first if its snapshot is missing or
 * out of date), adds one lookup reference and returns the child.
 */
int node_lookup(struct upfs *u, struct fs_node *dir, const char *name,
		struct fs_node **out);

/* A copy of dir's current listing, refreshed if out of date. */
int node_list(struct upfs *u, struct fs_node *dir, struct fs_entries *out);

/*
 * Bookkeeping for the kernel's cache of folder listings. node_dir_opened
 * says whether an open of dir with listing snap may keep the kernel's
 * cached copy: only when it is the same listing and no handle opened with
 * another one is still reading (it could refill the cache with its old
 * snapshot). Each open is paired with node_dir_closed.
 */
bool node_dir_opened(struct upfs *u, struct fs_node *dir,
		     const struct fs_entries *snap);
void node_dir_closed(struct upfs *u, struct fs_node *dir);

/* The node for one listed entry with one more lookup reference. */
int node_adopt(struct upfs *u, struct fs_node *dir, const struct fs_entry *e,
	       struct fs_node **out);

void node_forget(struct upfs *u, struct fs_node *n, uint64_t nlookup);

/* A node's listed mtime (under node_lock: a refresh may set it). */
int64_t node_mtime(struct upfs *u, const struct fs_node *n);

/*
 * Tells the kernel to drop what it caches of every file made from r (its
 * attributes, its size): r changed in a background refresh. Call without
 * locks, never from a FUSE request.
 */
void node_invalidate_dependents(struct upfs *u, const struct res *r);
/* The same for each of rs (n of them; reordered), in one pass. */
void node_invalidate_dependents_of(struct upfs *u, const struct res **rs,
				   size_t n);

/* Tells the kernel to forget name in folder parent; never from a thread
   that serves FUSE requests (res_forget_name_later). */
void node_invalidate_entry(struct upfs *u, uint64_t parent, const char *name);

/* Appends the name that printers/ (top FS_PRINTERS) or shares/ gives id. */
int node_name_of(struct upfs *u, enum fs_kind top, const char *id,
		 struct buf *out);

/* Appends the id of what a top folder (FS_PRINTERS, FS_SHARES,
   FS_CONNECTORS) lists under name, or -ENOENT. */
int node_id_of(struct upfs *u, enum fs_kind top, const char *name,
	       struct buf *id);

/* Attributes of a node; ttl receives the kernel cache time. */
int node_stat(struct upfs *u, struct fs_node *n, struct stat *st, int *ttl);

/* ---- health and log (health.c) ---- */

enum upfs_log_level { UPFS_LOG_DEBUG, UPFS_LOG_INFO, UPFS_LOG_WARNING,
		      UPFS_LOG_ERROR };

void upfs_log(struct upfs *u, enum upfs_log_level level, const char *fmt,
	      ...) __attribute__((format(printf, 3, 4)));

/* Records a failure for .upfs/status (and the log at warning level). */
void health_error(struct upfs *u, const char *what, int err,
		  const struct graph_err *gerr);
void health_set_online(struct upfs *u, bool online);
/* Records and logs (one warning) a refusal: "<what> refused: <why>". */
void health_refusal(struct upfs *u, const char *what, const char *why);
int health_render(struct upfs *u, struct buf *out);
void health_trace(void *arg, const char *line);

/* ---- sign-in and SIGHUP (session.c) ---- */

/*
 * For health_error(): a failure that means the session is over
 * (graph_err_session_expired) becomes the one line "session expired: run
 * 'upfsctl login PROFILE'" in the log (once) and in .upfs/status, instead
 * of a warning per request; so does a token or session file that cannot
 * be used (its own message), which is not "offline" either. true when it
 * was such a failure.
 */
bool session_error(struct upfs *u, const char *what,
		   const struct graph_err *gerr);

/* The sign-in lines of .upfs/status: token_source, user,
   token_expires, session. */
int session_render(struct upfs *u, struct buf *out);

/*
 * SIGHUP, from a thread of its own that sigwait()s: drops the in-memory
 * caches and makes the token source re-read its file. reload_start()
 * blocks SIGHUP in the calling thread, so call it before any other thread
 * is made (they inherit the mask) and after fuse_set_signal_handlers().
 */
int reload_start(struct upfs *u);
void reload_stop(struct upfs *u);

/* ---- the context ---- */

enum upfs_role {
	UPFS_ROLE_UNKNOWN,	/* not asked yet, or the service would not say */
	UPFS_ROLE_ADMIN,	/* administers printing (role.h) */
	UPFS_ROLE_USER,
};

struct res_table;
struct unflushed;

struct upfs {
	struct upfs_options opts;
	struct graph *graph;		/* the mount's identity (identity.h) */
	struct graph *app_graph;	/* the application's, when the mount
					   has both; else NULL */
	bool graph_is_app;		/* graph is client credentials only */
	struct cache *cache;
	struct fuse_session *session;
	/* Set once the session loop has returned (node.c,
	   kernel_listening). */
	_Atomic bool loop_ended;
	uid_t uid;
	gid_t gid;
	int64_t started_ms;
	bool daemonized;

	pthread_mutex_t node_lock;	/* nodes: nlookup, snapshots */
	struct fs_node *root;
	struct fs_node *all_nodes;	/* guarded by node_lock */
	uint64_t next_generation;	/* guarded by node_lock */

	pthread_mutex_t res_lock;	/* the resource table and queue */
	pthread_cond_t res_cond;	/* work queued / a load finished */
	struct res_table *res;
	pthread_t refreshers[2];
	int refresher_count;
	_Atomic bool stopping;
	/* When (ms, 0: never) the service last refused $expand=connectors
	   on the printer listing (connectors/<c>/printers/ then asks each
	   printer's own) and GET /print/operations (operations/ stays
	   empty): tree.c asks again after a while. */
	_Atomic int64_t connectors_expand_refused_ms;
	_Atomic int64_t operations_list_refused_ms;
	_Atomic int64_t triggers_expand_refused_ms;
	/* When GET /users?$filter=userPrincipalName in (...) was refused
	   (usage.c: archive/users/ then asks each user's id alone). */
	_Atomic int64_t users_in_filter_refused_ms;
	/* Where each listing of users' ids starts, for the by-user report
	   held (usage.c): worked out once per report, not per file. */
	pthread_mutex_t user_chunks_lock;
	struct usage_index *user_chunks_report;
	size_t *user_chunk_starts;	/* n_user_chunks + 1, the last n */
	size_t n_user_chunks;

	pthread_mutex_t spool_lock;	/* submissions (spool.h) */
	pthread_cond_t spool_cond;	/* a submission became due */
	unsigned spool_claimers;	/* waiting in submit_claim */
	struct submission *submissions;
	/* How many times a submission stopped hiding a job a queue/
	   listing hid as it (spool_may_add_name); spool_lock. */
	uint32_t spool_unhides;
	/* Shared across a job create; alone across reconciling a lost
	   create and cleaning up replayed ones, so no submission takes
	   another's blank job for its own (lock order: create_lock, then
	   spool_lock). Writers first: creates never starve a clean-up. */
	pthread_rwlock_t create_lock;
	char me_upn[256];		/* who our jobs are created by, once
					   a create has said (spool_lock) */
	pthread_t submitter;
	bool submitter_started;
	char spool_dir[4096];
	int spool_lock_fd;		/* flock'd: one upfs per spool, or -1 */
	/* This boot's id (spool.c), "" if unknown: a record whose spool
	   file was not flushed names the boot whose page cache holds it. */
	char boot_id[40];
	/* The records of documents nothing was promised on yet
	   (unflushed.h); NULL when this boot's id is unknown or the log
	   cannot be opened: then they go to the cache's outbox. */
	struct unflushed *unflushed;

	/* The rows of queue/ per share (queue_rows.h). Lock order:
	   queue_rows_lock, then spool_lock. */
	pthread_mutex_t queue_rows_lock;
	struct queue_memo *queue_memos;

	pthread_mutex_t scratch_lock;	/* scratches (scratch.h) */
	struct scratch *scratches;
	uint64_t scratch_serial;
	struct pending_share *pending;	/* guarded by scratch_lock */

	pthread_mutex_t handle_lock;	/* the list of open handles */
	struct fs_handle handles;	/* its head; guarded by handle_lock */

	pthread_mutex_t health_lock;	/* the fields below */
	bool online;
	char last_error[512];
	int64_t last_error_ms;
	/* a throttle's warning said until then (health_error) */
	int64_t throttle_said_until_ms;
	uint64_t served_stale;
	bool session_expired;		/* guarded by health_lock */

	/* One commit of a share's allowed users or groups at a time
	   (perms.c): each reads the list, applies its difference and
	   journals it under the list's one key. */
	pthread_mutex_t perms_lock;
	pthread_mutex_t readbase_lock;	/* the two below (readbase.h) */
	struct readbase *readbases;
	uint64_t readbase_clock;

	pthread_mutex_t role_lock;	/* the two below (role.c) */
	enum upfs_role role;
	int64_t role_checked_ms;	/* 0: ask again */

	pthread_t reloader;		/* SIGHUP (session.c) */
	bool reloader_started;

	/* Reads of events files waiting for a task (events_wait.c). */
	pthread_mutex_t events_lock;	/* the fields below */
	pthread_cond_t events_cond;	/* a waiter, an interrupt, the stop */
	struct events_waiter *events_waiters;
	int64_t events_due_ms;		/* the next poll (monotonic) */
	pthread_t events_thread;
	bool events_started;
	bool events_stopping;

	/* Triggers this mount made that the service's listing left out
	   (pull.c): printer id -> the trigger, shown until it lists it or
	   the trigger is deleted. */
	pthread_mutex_t made_triggers_lock;
	json_t *made_triggers;
};

#endif
