/*
 * adminops.h — administering printers, jobs and connectors with rmdir,
 * mv and ctl files (design §2): rmdir printers/P unregisters a printer,
 * mv printers/A printers/B and mv connectors/A connectors/B rename,
 * printers/P/ctl takes restore-defaults, printers/P/jobs/J/ctl takes
 * cancel and abort. Errors: no rights EACCES, name taken EEXIST, a
 * command the file does not take EINVAL; the reason is logged and shown
 * in .upfs/status.
 */
#ifndef UPFS_ADMINOPS_H
#define UPFS_ADMINOPS_H

#include "fs.h"

/* DELETE /print/printers/{id} of the printer printers/ lists as name. */
int adminops_unregister_printer(struct upfs *u, const char *name);

/* PATCH displayName of what top (FS_PRINTERS, FS_CONNECTORS) lists as
   from; -EEXIST when to is taken. */
int adminops_rename(struct upfs *u, enum fs_kind top, const char *from,
		    const char *to);

bool adminops_ctl_kind(enum fs_kind kind);

/*
 * Carries out the command written to a ctl file: kind FS_PRINTER_CTL (id:
 * the printer) or FS_JOB_CTL (id: the job, printer: its printer). One
 * command per write, surrounding blank space ignored; "abort" may be
 * followed by a reason. why receives the reason of a failure.
 */
int adminops_ctl(struct upfs *u, enum fs_kind kind, const char *id,
		 const char *printer, const struct buf *text, char *why,
		 size_t why_len);

#endif
