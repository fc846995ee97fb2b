/*
 * report.h — the contents of usage/ and archive/ (design.md §2) from the
 * Graph report JSON (graph-print-api.md §2.23, §3.7): CSV files of the
 * print usage and archived jobs, the months that have data, and
 * usage/summary.svg. Pure: no FUSE, no network, no clock.
 *
 * Inputs are jansson values of the collections' `value` elements (all
 * pages joined), borrowed for the duration of the call. Outputs are
 * appended to a struct buf the caller owns; on error the buf is left as
 * it was. Errors: -EINVAL (an input that is not an array of objects, a
 * bad date argument), -ENOMEM, -EFBIG (the buf's cap).
 *
 * Column names are the Graph property names, exactly as the service
 * spells them (a nested property as its OData path, createdBy/displayName),
 * so a column can be looked up in the reference. Files are RFC 4180 CSV
 * (csv.h): UTF-8, a header line, CRLF line ends.
 */
#ifndef UPFS_REPORT_H
#define UPFS_REPORT_H

#include <jansson.h>

#include "buf.h"
#include "isodate.h"

/* Whose usage a printUsage row counts. */
enum report_who {
	UPFS_REPORT_BY_PRINTER,	/* printUsageByPrinter */
	UPFS_REPORT_BY_USER,	/* printUsageByUser */
};

/*
 * usage/by-printer/<p>/{daily,monthly}.csv and usage/by-user/<u>/…: one
 * CSV line per printUsageByPrinter or printUsageByUser row (usage_index.h
 * sorts them by usageDate and puts the lines of one printer or user
 * together). Columns:
 *
 *   usageDate, completedJobCount, incompleteJobCount,
 *   completedBlackAndWhiteJobCount, completedColorJobCount, pageCount,
 *   blackAndWhitePageCount, colorPageCount, mediaSheetCount,
 *   singleSidedSheetCount, doubleSidedSheetCount,
 *   then printerName, printerId (by printer) or userPrincipalName (by user)
 *
 * usageDate is written YYYY-MM-DD (a full timestamp, as some beta answers
 * carry, is cut to its UTC day). A counter the row lacks or holds as null
 * is an empty field. report_usage_header appends the header line,
 * report_usage_line one row's line, its day taken from the row's point
 * (report_point_of; -EINVAL unless row is an object).
 */
struct report_point;
int report_usage_header(enum report_who who, struct buf *out);
int report_usage_line(const json_t *row, const struct report_point *p,
		      enum report_who who, struct buf *out);

/* What usage/summary.svg and the folders take from one usage row. */
struct report_point {
	const char *id;		/* printerId or userPrincipalName; NULL
				   when not a string */
	const char *name;	/* printerName, or the UPN; NULL: none */
	char day[UPFS_ISODATE_DAY_LEN];	/* UTC day of usageDate; "" when
					   it has none that reads */
	json_int_t pages;	/* pageCount when a positive integer, else 0 */
};

/* The point of a usage row; id and name are borrowed from row. */
void report_point_of(const json_t *row, enum report_who who,
		     struct report_point *p);

/*
 * archive/{printers,users,groups}/<name>/<YYYY-MM>.csv: from archivedPrintJob
 * elements, one line per job in the order given. Columns:
 *
 *   id, printerName, printerId, createdBy/userPrincipalName,
 *   createdBy/displayName, createdDateTime, acquiredByPrinter,
 *   acquiredDateTime, completionDateTime, copiesPrinted, processingState
 *
 * followed, when any job carries one of them (the beta answers), by
 * pageCount, blackAndWhitePageCount, colorPageCount, simplexPageCount,
 * duplexPageCount. Booleans are true/false; missing values are empty.
 */
int report_archive_csv(const json_t *jobs, struct buf *out);

/*
 * The months with data, to list as <YYYY-MM>.csv: *months is set to a new
 * array (the caller decrefs it) of the distinct "YYYY-MM" UTC months of
 * the member date_key of items, ascending. date_key is "usageDate" for
 * usage rows (the monthly ones give one entry per row) or
 * "createdDateTime" for archived jobs. Items without a readable date are
 * skipped.
 */
int report_months_of(const json_t *items, const char *date_key,
		     json_t **months);

/*
 * usage/summary.svg: a standalone SVG 1.1 document (XML-escaped text, a
 * viewBox, one font-family, a title) with two horizontal bar charts over
 * the 30 days that end with today ("YYYY-MM-DD", inclusive):
 *
 *   "Pages per printer": one <rect class="bar printer"> per printer, the
 *   sum of the pages of its by_printer points (daily rows) in the window,
 *   largest first. Printers are those of the points in the window plus,
 *   when printers (printer objects with id and displayName; NULL for
 *   none) is given, every one of those, so a printer with no pages gets
 *   an empty bar.
 *
 *   "Top 10 users by pages": one <rect class="bar user"> for each of the
 *   ten users with the most pages in by_user (pages > 0 only).
 *
 * Each bar carries data-id (the printer id or UPN) and data-pages. A chart
 * with no bars says so in words; no rows at all still make a valid
 * document. Long names are shortened on the axis and given in full in a
 * <title> tooltip.
 */
int report_summary_svg(const struct report_point *by_printer,
		       size_t n_by_printer,
		       const struct report_point *by_user, size_t n_by_user,
		       const json_t *printers, const char *today,
		       struct buf *out);

#endif
