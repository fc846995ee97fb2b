/*
 * csv.h — writing RFC 4180 CSV into a struct buf.
 *
 * A field is written bare unless it holds a comma, a double quote, CR or
 * LF, or begins or ends with a space or tab; then it is enclosed in double
 * quotes and each inner quote is doubled (RFC 4180 §2.5–2.7). Leading and
 * trailing blanks are quoted because spreadsheet programs trim bare ones.
 * Bytes are copied as they are: UTF-8 names stay UTF-8, with no BOM.
 *
 * Records end with CRLF, as RFC 4180 §2.1 writes them: it is what every
 * CSV reader accepts (Excel, LibreOffice, Python's csv module), and a
 * field holding a bare LF is then unambiguous to line-oriented tools that
 * split on CRLF.
 *
 * Every function appends to a buf the caller owns. On error (-ENOMEM, or
 * -EFBIG when the buf's cap is reached) the buf is left as it was before
 * the call.
 */
#ifndef UPFS_CSV_H
#define UPFS_CSV_H

#include <stddef.h>

#include "buf.h"

/* The record terminator, for callers that build records by hand. */
#define UPFS_CSV_EOL "\r\n"

/* Appends s as one field, quoted if it must be; NULL is an empty field. */
int csv_field(struct buf *out, const char *s);

/*
 * Appends one whole record: the n fields (NULL entries are empty fields),
 * separated by commas, then CRLF.
 */
int csv_record(struct buf *out, const char *const *fields, size_t n);

/*
 * A record written one field at a time: csv_row_begin, any number of
 * csv_row_field / csv_row_printf, then csv_row_end. The separators are
 * the row's business. The row borrows out; it needs no release.
 */
struct csv_row {
	struct buf *out;	/* borrowed */
	size_t fields;		/* fields written so far */
};

void csv_row_begin(struct csv_row *row, struct buf *out);

/* Appends a field (NULL: empty), after a comma unless it is the first. */
int csv_row_field(struct csv_row *row, const char *s);

/*
 * A field of text others chose (a name, a user's address): one that a
 * spreadsheet would run as a formula, as it begins with = + - @, a tab
 * or CR, gets a leading apostrophe (OWASP's advice on CSV injection;
 * spreadsheets then take it as text). Numbers go through the others.
 */
int csv_row_text(struct csv_row *row, const char *s);

/* The same with the field formatted first (quoted if the text needs it). */
int csv_row_printf(struct csv_row *row, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Ends the record with CRLF. */
int csv_row_end(struct csv_row *row);

#endif
