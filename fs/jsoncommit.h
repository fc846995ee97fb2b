/*
 * jsoncommit.h — the editable JSON files of design §2 and §4:
 * printers/<p>/defaults.json, printers/<p>/location.json (PATCH
 * /print/printers/{id}) and settings.json (PATCH /print/settings).
 */
#ifndef UPFS_JSONCOMMIT_H
#define UPFS_JSONCOMMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "fs.h"

bool jsoncommit_kind(enum fs_kind kind);

/*
 * Applies the edited text of the file of kind (id: the printer, unused
 * for settings.json): only the fields that changed, in one PATCH; nothing
 * when none did. With base (the text the edit started from), the fields
 * the edit changed from it: one it left alone is not sent back with the
 * value a stale copy showed. -EINVAL (a refusal by upfs or a 400),
 * -EACCES (403) or another errno, with the reason in why; the service is
 * unchanged then.
 */
int jsoncommit(struct upfs *u, enum fs_kind kind, const char *id,
	       const struct buf *base, const struct buf *text, char *why,
	       size_t why_len);

#endif
