/*
 * hash.h — FNV-1a, 64 bits: cheap, and good enough for hash buckets and
 * for telling whether a listing changed (a collision only costs a stale
 * cached listing until its folder's time-out).
 */
#ifndef UPFS_HASH_H
#define UPFS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_SEED 1469598103934665603ULL

static inline uint64_t fnv1a_update(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

#endif
