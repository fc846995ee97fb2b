/*
 * joboptions.h — shares/<s>/options: default job options, key=value lines
 * in the manner of lpoptions, turned into a printJobConfiguration.
 *
 * Keys: copies, duplex, color, media, orientation, pages, quality, scaling,
 * collate, dpi, fitPdfToPage, pagesPerSheet. Values take the Graph enum
 * names (flipOnLongEdge, blackAndWhite, …) or the CUPS ones
 * (two-sided-long-edge, monochrome, …). Blank lines and # comments are
 * ignored; a key given twice takes its last value.
 */
#ifndef UPFS_JOBOPTIONS_H
#define UPFS_JOBOPTIONS_H

#include <jansson.h>
#include <stddef.h>

/*
 * Parses text into a configuration object (*out, a new reference).
 * -EINVAL with the line and the reason in why on a malformed line, an
 * unknown key or a bad value.
 */
int joboptions_parse(const char *text, size_t len, json_t **out, char *why,
		     size_t why_len);

/*
 * Checks a configuration against a printer's capabilities (borrowed);
 * -EINVAL with the reason in why for a value the printer does not list.
 * A capability the printer does not publish is not checked.
 */
int joboptions_validate(const json_t *config, const json_t *capabilities,
			char *why, size_t why_len);

#endif
