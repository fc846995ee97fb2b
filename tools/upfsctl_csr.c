/*
 * upfsctl_csr.c — the public key of a PKCS#10 certificate request (RFC
 * 2986), for `upfsctl printer create` without --transport-key: the
 * registration's transportKey is the public part of the key the device
 * made, which its request carries as subjectPKInfo:
 *
 *   CertificationRequest ::= SEQUENCE {
 *     certificationRequestInfo SEQUENCE {
 *       version INTEGER, subject Name (a SEQUENCE),
 *       subjectPKInfo SubjectPublicKeyInfo (a SEQUENCE), ... } ... }
 *
 * Only DER's definite lengths are read; anything else is -EINVAL.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upfsctl.h"

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

static int b64_decode(const char *in, unsigned char **out, size_t *len)
{
	size_t n = strlen(in), o = 0;
	unsigned char *buf = malloc(n / 4 * 3 + 3);
	uint32_t acc = 0;
	int bits = 0;

	if (buf == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n && in[i] != '='; i++) {
		int v = b64_value(in[i]);

		if (v < 0) {
			free(buf);
			return -EINVAL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (unsigned char)(acc >> bits);
		}
	}
	*out = buf;
	*len = o;
	return 0;
}

static char *b64_encode(const unsigned char *in, size_t n)
{
	char *out = malloc((n + 2) / 3 * 4 + 1), *p = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		*p++ = b64[v >> 18 & 63];
		*p++ = b64[v >> 12 & 63];
		*p++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*p++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*p = '\0';
	return out;
}

/* One DER element at *pos: its tag, and where its content is. */
static int der_next(const unsigned char *d, size_t end, size_t *pos,
		    unsigned char *tag, size_t *start, size_t *len)
{
	size_t p = *pos, n;

	if (p + 2 > end)
		return -EINVAL;
	*tag = d[p++];
	n = d[p++];
	if (n & 0x80) {
		size_t bytes = n & 0x7f;

		if (bytes == 0 || bytes > sizeof(size_t) || p + bytes > end)
			return -EINVAL;
		for (n = 0; bytes--; )
			n = n << 8 | d[p++];
	}
	if (n > end - p)
		return -EINVAL;
	*start = p;
	*len = n;
	*pos = p + n;
	return 0;
}

int ctl_csr_public_key(const char *csr_base64, char **key_base64)
{
	unsigned char *der = NULL, tag;
	size_t len = 0, pos = 0, start = 0, n = 0, info_end;
	int rc = b64_decode(csr_base64, &der, &len);

	*key_base64 = NULL;
	/* CertificationRequest, then certificationRequestInfo. */
	if (rc == 0)
		rc = der_next(der, len, &pos, &tag, &start, &n);
	if (rc == 0 && tag != 0x30)
		rc = -EINVAL;
	pos = start;
	if (rc == 0)
		rc = der_next(der, len, &pos, &tag, &start, &n);
	if (rc == 0 && tag != 0x30)
		rc = -EINVAL;
	info_end = start + n;
	pos = start;
	/* version, subject, then subjectPKInfo whole (tag and length too). */
	for (int i = 0; rc == 0 && i < 2; i++)
		rc = der_next(der, info_end, &pos, &tag, &start, &n);
	if (rc == 0) {
		size_t spki = pos;

		rc = der_next(der, info_end, &pos, &tag, &start, &n);
		if (rc == 0 && tag != 0x30)
			rc = -EINVAL;
		if (rc == 0 && (*key_base64 = b64_encode(der + spki,
							 pos - spki)) == NULL)
			rc = -ENOMEM;
	}
	free(der);
	return rc;
}
