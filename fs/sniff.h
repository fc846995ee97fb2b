/*
 * sniff.h — the content type of a document, from its first bytes.
 *
 * The service takes a job's format from createUploadSession's contentType
 * and refuses one the printer does not list, so upfs names it from the
 * bytes, never from the file name.
 */
#ifndef UPFS_SNIFF_H
#define UPFS_SNIFF_H

#include <stddef.h>

/* Bytes sniff_content_type wants to see (fewer is fine for short files). */
#define UPFS_SNIFF_BYTES 4096

/*
 * The MIME type of a document starting with head[0..len), or NULL when it
 * is none that Universal Print prints or converts.
 */
const char *sniff_content_type(const unsigned char *head, size_t len);

#endif
