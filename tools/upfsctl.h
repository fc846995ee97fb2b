/*
 * upfsctl.h — what the files of upfsctl share (not an API of upfs).
 *
 *   upfsctl.c         the command line, profiles, logout, mount, umount
 *   upfsctl_login.c   login: the device-code flow
 *   upfsctl_status.c  status: .upfs/status of a mount, for people
 *   upfsctl_printer.c printer create: registration, a long-running call
 *   upfsctl_release.c release: a held pull-print job, through the mount
 *   upfsctl_cups.c    cups-sync: a CUPS queue per share (upfs-backend(7))
 *
 * Messages follow upfs: one line on stderr, "upfsctl: what failed: what
 * to do". Exit status: 0 done, 1 failed, 2 bad command line. No token is
 * ever printed.
 */
#ifndef UPFS_UPFSCTL_H
#define UPFS_UPFSCTL_H

#include <limits.h>

#define CTL_EXIT_FAIL 1
#define CTL_EXIT_USAGE 2

/*
 * Delegated scopes `upfsctl login` asks for: printing, browsing and
 * managing printers and shares, reports, users and groups for the
 * allow-lists, and offline_access for a refresh token; openid and profile
 * for the id_token that names the user. A profile's scope= replaces it.
 * Unregistering a printer takes Printer.FullControl.All and renaming a
 * connector PrintConnector.ReadWrite.All (reference §3.0, #4 and #38);
 * telling a Printer Administrator from another role takes
 * RoleManagement.Read.Directory (without it Graph names the user's roles
 * by id alone).
 */
#define CTL_DEFAULT_SCOPE                                                     \
	"offline_access openid profile "                                      \
	"https://graph.microsoft.com/PrinterShare.ReadWrite.All "             \
	"https://graph.microsoft.com/PrintJob.ReadWrite.All "                 \
	"https://graph.microsoft.com/Printer.ReadWrite.All "                  \
	"https://graph.microsoft.com/Printer.FullControl.All "                \
	"https://graph.microsoft.com/PrintConnector.ReadWrite.All "           \
	"https://graph.microsoft.com/PrintSettings.ReadWrite.All "            \
	"https://graph.microsoft.com/Reports.Read.All "                       \
	"https://graph.microsoft.com/User.ReadBasic.All "                     \
	"https://graph.microsoft.com/Group.Read.All "                         \
	"https://graph.microsoft.com/RoleManagement.Read.Directory"

/* A profile as upfsctl needs it: built-in defaults < config < -o. */
struct ctl_profile {
	char name[72];
	char *endpoint;		/* all strings owned */
	char *authority;
	char *client_id;
	char *ca_file;
	char *scope;
	char *mountpoint;	/* NULL: ~/print/PROFILE */
	char *token_file;	/* a bearer token in a file, or NULL */
	char session_path[PATH_MAX];
	char session_shown[PATH_MAX];	/* with ~ for $HOME */
};

/*
 * Fills p for the profile name (NULL: "default"), reading the config file
 * and then the -o words in opts (may be NULL). Prints the error and
 * returns CTL_EXIT_USAGE or CTL_EXIT_FAIL, or 0.
 */
int ctl_profile_load(struct ctl_profile *p, const char *name,
		     const char *opts);
void ctl_profile_release(struct ctl_profile *p);

/* mkdir -p of the config folder, mode 0700. 0 or a negative errno. */
int ctl_config_dir_make(void);

/* The profile's mountpoint (its mountpoint= or ~/print/PROFILE). */
int ctl_mountpoint(const struct ctl_profile *p, char *out, size_t len);

/*
 * arg as /proc/self/mounts names a mountpoint, into path: absolute, the
 * folder it is in resolved, its own name as given (the mount itself is
 * not asked). 0 or a negative errno.
 */
int ctl_mount_path_of(const char *arg, char *path, size_t len);

int ctl_login(int argc, char **argv);
int ctl_status(int argc, char **argv);
int ctl_printer(int argc, char **argv);
int ctl_release(int argc, char **argv);

/*
 * The subjectPKInfo of a base64 PKCS#10 request, base64 (malloc'd):
 * the transportKey of a printer registration (upfsctl_csr.c).
 */
int ctl_csr_public_key(const char *csr_base64, char **key_base64);
int ctl_cups_sync(int argc, char **argv);

/* The folder upfsctl's own binary is in (its bin/, or tools/ of a build
   tree): 0, or -ENOENT when /proc/self/exe cannot say. */
int ctl_self_dir(char *dir, size_t len);

#endif
