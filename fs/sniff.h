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
#include <stdint.h>

/* Bytes sniff_content_type wants to see (fewer is fine for short files). */
#define UPFS_SNIFF_BYTES 4096

/*
 * The MIME type of a document starting with head[0..len), or NULL when it
 * is none that Universal Print prints or converts.
 */
const char *sniff_content_type(const unsigned char *head, size_t len);

/*
 * XPS or OpenXPS, for a ZIP package of size bytes read from fd with
 * pread: told by the namespace its package relationships (or else its
 * fixed document sequence) declare, wherever those parts are in the
 * file. NULL when the package names neither or cannot be read as one
 * (sniff_content_type's guess from the head is then all there is); *err
 * is a negative errno when reading fd failed, else 0.
 */
const char *sniff_zip_package(int fd, uint64_t size, int *err);

#endif
