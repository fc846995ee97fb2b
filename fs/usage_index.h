/*
 * usage_index.h — one print usage report (a JSON array of
 * printUsageByPrinter or printUsageByUser rows, graph-print-api.md §2.23)
 * kept as what usage/ and archive/ show of it: each row's CSV line
 * (report.h) and its point, indexed by whose row it is. A report of tens
 * of thousands of rows parsed into one JSON tree takes ~2.5 KB a row; this
 * takes its CSV line and a few dozen bytes, and is built one row at a
 * time. Pure: no FUSE, no network, no clock.
 *
 * An index is shared: usage_index_hold adds a reference, usage_index_drop
 * releases one, the last frees it. Nothing changes it after it is built,
 * so any number of threads may read it at once.
 */
#ifndef UPFS_USAGE_INDEX_H
#define UPFS_USAGE_INDEX_H

#include <stddef.h>

#include "report.h"

struct usage_index;

/*
 * Reads text, the report's JSON array, into a new index (one reference).
 * Its objects are its rows; other elements name no one and are passed
 * over. -EINVAL: not a JSON array; -ENOMEM.
 */
int usage_index_parse(const char *text, size_t len, enum report_who who,
		      struct usage_index **out);

struct usage_index *usage_index_hold(struct usage_index *x);
void usage_index_drop(struct usage_index *x);

/* The bytes the index holds in memory. */
size_t usage_index_bytes(const struct usage_index *x);

/*
 * The CSV file of the rows whose id (printerId or userPrincipalName) is
 * id: the header and their lines, by usageDate (rows without one last,
 * rows of one date in the report's order). Appended to out; on error
 * (-ENOMEM, -EFBIG) out is left as it was.
 */
int usage_index_csv(const struct usage_index *x, const char *id,
		    struct buf *out);

/*
 * The distinct UTC months ("YYYY-MM", ascending) of the rows of id, as a
 * new JSON array of strings (the caller decrefs it), as report_months_of
 * gives them.
 */
int usage_index_months(const struct usage_index *x, const char *id,
		       json_t **months);

/* Every row's point, in the report's order; *n receives their number. */
const struct report_point *usage_index_points(const struct usage_index *x,
					      size_t *n);

/*
 * The first row of each distinct id (not NULL, not ""), in the order the
 * ids first appear: whose rows the report has, named as their first row
 * names them. *n receives their number; each is an index into
 * usage_index_points.
 */
const size_t *usage_index_objects(const struct usage_index *x, size_t *n);

#endif
