/*
 * names.h — how display names from the service become file names.
 *
 * The rules (design §2): '/' becomes U+FF0F, control characters become
 * their U+2400 pictures, "." and ".." become fullwidth full stops, an empty
 * name becomes the object's id, and a name over 255 bytes is cut at a
 * character boundary and gets " ~" and the first 8 characters of the id.
 * Two objects whose names are equal in one folder both get " ~" and the
 * first 8 characters of their id, so the same object always gets the same
 * name whatever order the service lists them in. Ids that still clash get
 * the whole id, and ids that differ only in bytes the codec shows alike
 * (a control character and its picture) " ~" and a hash of the id.
 */
#ifndef UPFS_NAMES_H
#define UPFS_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* The longest file name Linux accepts, in bytes. */
#define UPFS_NAME_MAX 255

/* Length of the id part of a " ~" suffix. */
#define UPFS_NAME_ID_CHARS 8

/*
 * Appends the safe form of display to out (id names an empty display
 * name and suffixes a cut one). 0 or a negative errno from the buffer.
 */
int names_encode(struct buf *out, const char *display, const char *id);

/*
 * One entry of a folder: its encoded name (owned, may be replaced) and the
 * id that disambiguates it.
 */
struct names_entry {
	char *name;
	const char *id;
};

/*
 * Gives every entry whose name occurs more than once in the array the
 * suffix " ~" plus the first 8 characters of its id (the whole id if that
 * would still clash). Replaces entry names in place; 0 or -ENOMEM.
 */
int names_disambiguate(struct names_entry *entries, size_t n);

/*
 * Appends the name object which of a folder of n objects (displays[i],
 * ids[i]) has there: encoded, and told from the others as
 * names_disambiguate does (what a listing of that folder shows it as).
 * 0 or a negative errno.
 */
int names_in_folder(const char *const *displays, const char *const *ids,
		    size_t n, size_t which, struct buf *out);

/*
 * Appends the name of the n-th (1-based) copy of a document name: n == 1
 * gives name itself, n == 2 "doc ~2.pdf" for "doc.pdf".
 */
int names_copy_number(struct buf *out, const char *name, unsigned n);

/* Whether name is what names_copy_number makes of base for some n. */
bool names_is_copy_of(const char *name, const char *base);

#endif
