/*
 * names.c — display names to safe, stable file names (see names.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "names.h"
#include "utf8.h"

/* U+FF0F FULLWIDTH SOLIDUS and U+FF0E FULLWIDTH FULL STOP, in UTF-8. */
static const char fullwidth_solidus[] = "\xef\xbc\x8f";
static const char fullwidth_stop[] = "\xef\xbc\x8e";

static int encode_byte(struct buf *out, unsigned char c)
{
	char pic[3];

	if (c == '/')
		return buf_append_str(out, fullwidth_solidus);
	if (c < 0x20 || c == 0x7f) {
		/* U+2400 + c is the control picture; DEL is U+2421. */
		unsigned cp = c == 0x7f ? 0x2421 : 0x2400 + c;

		pic[0] = (char)(0xe0 | (cp >> 12));
		pic[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		pic[2] = (char)(0x80 | (cp & 0x3f));
		return buf_append(out, pic, sizeof(pic));
	}
	return buf_append(out, &c, 1);
}

/*
 * " ~" and the first chars bytes of id, made safe as a display name is
 * (the id comes from the service too: no '/', no control character), and
 * never more than UPFS_NAME_MAX bytes.
 */
static int append_id_suffix(struct buf *out, const char *id, size_t chars)
{
	size_t start = out->len;
	int rc = buf_append_str(out, " ~");

	for (size_t i = 0; rc == 0 && i < chars && id[i] != '\0'; i++) {
		size_t before = out->len;

		rc = encode_byte(out, (unsigned char)id[i]);
		if (rc == 0 && out->len - start > UPFS_NAME_MAX) {
			buf_truncate(out, before);
			break;
		}
	}
	return rc;
}

/* name[0..len), cut at a character boundary, and the id suffix: at most
   UPFS_NAME_MAX bytes in all, whatever the length of id. */
static int append_cut_with_suffix(struct buf *out, const char *name,
				  size_t len, const char *id, size_t chars)
{
	struct buf suffix;
	int rc;

	buf_init(&suffix, 0);
	rc = append_id_suffix(&suffix, id, chars);
	if (rc == 0)
		len = utf8_cut(name, len, UPFS_NAME_MAX - suffix.len);
	if (rc == 0)
		rc = buf_append(out, name, len);
	if (rc == 0)
		rc = buf_append(out, suffix.data, suffix.len);
	buf_release(&suffix);
	return rc;
}

int names_encode(struct buf *out, const char *display, const char *id)
{
	struct buf tmp;
	size_t start = out->len;
	int rc = 0;

	if (display == NULL || display[0] == '\0')
		display = id;
	if (strcmp(display, ".") == 0)
		return buf_append_str(out, fullwidth_stop);
	if (strcmp(display, "..") == 0) {
		rc = buf_append_str(out, fullwidth_stop);
		return rc ? rc : buf_append_str(out, fullwidth_stop);
	}

	buf_init(&tmp, 0);
	for (const char *p = display; *p != '\0' && rc == 0; p++)
		rc = encode_byte(&tmp, (unsigned char)*p);
	if (rc)
		goto out;
	if (tmp.len <= UPFS_NAME_MAX) {
		rc = buf_append(out, tmp.data, tmp.len);
		goto out;
	}
	/* Cut so that the name plus " ~" and 8 id characters fit. */
	rc = append_cut_with_suffix(out, tmp.data, tmp.len, id,
				    UPFS_NAME_ID_CHARS);
out:
	if (rc)
		buf_truncate(out, start);
	buf_release(&tmp);
	return rc;
}

static int cmp_entry_name(const void *a, const void *b)
{
	const struct names_entry *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* e's name with " ~" and the first chars characters of suffix. */
static int suffix_name(struct names_entry *e, const char *suffix,
		       size_t chars)
{
	struct buf b;
	int rc;

	buf_init(&b, 0);
	/* A suffixed long name must still fit in UPFS_NAME_MAX bytes. */
	rc = append_cut_with_suffix(&b, e->name, strlen(e->name), suffix,
				    chars);
	if (rc == 0) {
		free(e->name);
		e->name = buf_detach(&b, NULL);
	}
	buf_release(&b);
	return rc;
}

/*
 * " ~" and 16 hex digits of a hash of the id's own bytes, which the name
 * codec can map together ("\x01" and "\xe2\x90\x81" both show as U+2401).
 * Of a fixed length, so a run of equal names is cut alike.
 */
static int suffix_name_hashed(struct names_entry *e)
{
	char hex[16 + 1];

	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)
		 fnv1a_update(FNV1A_SEED, e->id, strlen(e->id)));
	return suffix_name(e, hex, sizeof(hex) - 1);
}

/* Suffixes every entry in runs of equal names; 1 in *changed if any.
   chars 0: the hashed suffix (suffix_name_hashed). */
static int suffix_duplicates(struct names_entry **sorted, size_t n,
			     size_t chars, int *changed)
{
	size_t i = 0, j;
	int rc = 0;

	*changed = 0;
	while (i < n && rc == 0) {
		for (j = i + 1; j < n; j++)
			if (strcmp(sorted[i]->name, sorted[j]->name) != 0)
				break;
		for (size_t k = i; j - i > 1 && k < j && rc == 0; k++) {
			rc = chars ? suffix_name(sorted[k], sorted[k]->id,
						 chars)
				   : suffix_name_hashed(sorted[k]);
			*changed = 1;
		}
		i = j;
	}
	return rc;
}

int names_disambiguate(struct names_entry *entries, size_t n)
{
	struct names_entry **sorted = NULL;
	int rc = 0, changed = 0;

	if (n < 2)
		return 0;
	sorted = calloc(n, sizeof(*sorted));
	if (sorted == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &entries[i];
	qsort(sorted, n, sizeof(*sorted), cmp_entry_name);
	rc = suffix_duplicates(sorted, n, UPFS_NAME_ID_CHARS, &changed);
	if (rc || !changed)
		goto out;
	/*
	 * Two ids sharing their first 8 characters (or a suffixed name equal
	 * to another object's own name) still clash: those get the whole id,
	 * again while that makes a new clash ("x ~abcdefgh ~abcdefgh1" may be
	 * some object's own name). Bounded: equal ids, or ids too long for a
	 * file name, cannot be told apart.
	 */
	for (int round = 0; rc == 0 && changed && round < 3; round++) {
		qsort(sorted, n, sizeof(*sorted), cmp_entry_name);
		rc = suffix_duplicates(sorted, n, UPFS_NAME_MAX, &changed);
	}
	/* Ids that differ only where the codec maps bytes together. */
	if (rc == 0 && changed) {
		qsort(sorted, n, sizeof(*sorted), cmp_entry_name);
		rc = suffix_duplicates(sorted, n, 0, &changed);
	}
out:
	free(sorted);
	return rc;
}

int names_in_folder(const char *const *displays, const char *const *ids,
		    size_t n, size_t which, struct buf *out)
{
	struct names_entry *e = calloc(n + 1, sizeof(*e));
	struct buf b;
	size_t made = 0;
	int rc = e && which < n ? 0 : e ? -EINVAL : -ENOMEM;

	buf_init(&b, 0);
	for (; made < n && rc == 0; made++) {
		buf_reset(&b);
		rc = names_encode(&b, displays[made] ? displays[made] : "",
				  ids[made]);
		e[made].id = ids[made];
		e[made].name = rc ? NULL : buf_detach(&b, NULL);
		if (rc == 0 && e[made].name == NULL)
			rc = -ENOMEM;
	}
	if (rc == 0)
		rc = names_disambiguate(e, n);
	if (rc == 0)
		rc = buf_append_str(out, e[which].name);
	for (size_t i = 0; e && i < made; i++)
		free(e[i].name);
	free(e);
	buf_release(&b);
	return rc;
}

/* Where a copy's number goes in name: before its extension, if any. */
static size_t copy_number_at(const char *name)
{
	const char *dot = strrchr(name, '.');

	/* "doc.pdf" -> "doc ~2.pdf"; a leading dot is not an extension. */
	if (dot == NULL || dot == name)
		return strlen(name);
	return (size_t)(dot - name);
}

int names_copy_number(struct buf *out, const char *name, unsigned n)
{
	size_t stem = copy_number_at(name);
	const char *dot = name + stem;

	if (n <= 1)
		return buf_append_str(out, name);
	if (buf_append(out, name, stem) != 0)
		return -ENOMEM;
	return buf_printf(out, " ~%u%s", n, dot);
}

bool names_is_copy_of(const char *name, const char *base)
{
	size_t stem = copy_number_at(base);
	const char *p = name + stem;
	unsigned long n;
	char *end;

	if (strcmp(name, base) == 0)
		return true;
	if (strncmp(name, base, stem) != 0 || strncmp(p, " ~", 2) != 0 ||
	    p[2] < '1' || p[2] > '9')
		return false;
	errno = 0;
	n = strtoul(p + 2, &end, 10);
	return errno == 0 && n >= 2 && n <= UINT_MAX &&
	       strcmp(end, base + stem) == 0;
}
