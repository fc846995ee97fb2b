/*
 * heap.h — ask the kernel for transparent huge pages for the daemon's heap.
 */
#ifndef UPFS_HEAP_H
#define UPFS_HEAP_H

#include <stddef.h>

/* Free room glibc keeps past the heap's break (M_TOP_PAD once asked). */
#define HEAP_TOP_PAD ((size_t)64 << 20)

/*
 * Before the daemon starts its threads: limits malloc to a few arenas,
 * grows the brk heap by HEAP_TOP_PAD and advises that for huge pages,
 * which the main arena's allocations fill. A malloc_trim(0) gives
 * that room back; what grows after it gets small pages. Best effort: 0,
 * or -errno when the advice was refused (no THP in this kernel); malloc
 * works the same either way.
 */
int heap_ask_huge_pages(void);

#endif
