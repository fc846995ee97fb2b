/*
 * role.h — whether the signed-in user holds a directory role that
 * administers Universal Print (Printer Administrator, or Global
 * Administrator). Only the modes of the files that need the role depend on
 * it: a Printer Administrator sees them 0644, anyone else 0444. The
 * service decides what is allowed either way; when the role cannot be
 * known (an app-only token, no User.Read), the files stay 0644 and the
 * service's 403 is the answer.
 */
#ifndef UPFS_ROLE_H
#define UPFS_ROLE_H

#include <stdbool.h>

#include "fs.h"

/* The role, asked of the service at most once a day (LMDB remembers). */
enum upfs_role role_get(struct upfs *u);

/* Makes the next role_get() ask the service (SIGHUP). */
void role_forget(struct upfs *u);

/* The files only an administrator can change. */
bool role_kind_needs_admin(enum fs_kind kind);

#endif
