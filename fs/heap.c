/*
 * heap.c — transparent huge pages for the daemon's heap.
 *
 * On a virtual machine each first touch of a 4 KiB page is a trap that
 * costs microseconds, and the daemon touches megabytes of fresh heap
 * whenever it parses a listing. Mounting with a warm cache of 1,000
 * printers spent most of its first opendir in page faults (perf): jansson
 * took 52 ms to parse the 797 KB printer listing in a fresh thread, and
 * 16 ms in memory already touched. Huge pages make that one trap per
 * 2 MiB, but in the kernel's default THP mode ("madvise") only memory that
 * asks gets them, and glibc asks only when GLIBC_TUNABLES says so.
 *
 * So, before the threads start: a heap that grows and shrinks
 * HEAP_TOP_PAD at a time so that the advised range stays mapped, blocks up
 * to 32 MiB served from it (once the pad is set glibc stops raising its
 * mmap threshold, and 128 KiB-plus blocks would each be a fresh mapping
 * that faults again), and MADV_HUGEPAGE on what lies past the current
 * break. Not advised again after an idle malloc_trim gives the room back:
 * in back-to-back runs a warm ls -lR of 170,000 entries was no faster for
 * it.
 *
 * HEAP_ARENAS arenas: the brk heap is the only one advised (the others are
 * mappings glibc makes out of sight), and one arena alone was tried first.
 * But with four writers printing small documents its lock made threads
 * wait on each other: four arenas printed 10% more documents a second with
 * 10% less of the daemon's CPU, in alternating runs, and exec -> printers/
 * listed, RSS after mount, a cp's peak RSS and a warm ls -lR stayed as they
 * were (bench --only mount, cp, lsR). The cost: HEAP_TOP_PAD is every
 * arena's trim pad, so the others keep their free tops; after a cold walk
 * of 190,000 entries RSS was 232 MiB against 190 with one arena, and the
 * same once idle.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heap.h"

#define HEAP_MMAP_THRESHOLD ((size_t)32 << 20)
#define HEAP_ARENAS 4
/* Below glibc's default mmap threshold: always carved from the heap. */
#define HEAP_PROBE_BYTES ((size_t)64 << 10)
#define HEAP_PROBES 8

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* A sanitizer's allocator serves malloc: glibc's heap is not in use. */
int heap_ask_huge_pages(void)
{
	return 0;
}
#else
/*
 * Grows the heap by one pad: allocates small blocks until the break moves
 * (glibc then extends it by the block plus HEAP_TOP_PAD), and frees
 * them, which leaves the new room as free top space the pad keeps mapped.
 */
static int grow_heap(char **from, char **to)
{
	void *probe[HEAP_PROBES];
	int n = 0, rc = -EAGAIN;

	*from = sbrk(0);
	while (n < HEAP_PROBES) {
		probe[n] = malloc(HEAP_PROBE_BYTES);
		if (probe[n] == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		n++;
		*to = sbrk(0);
		if (*to != *from) {
			rc = 0;
			goto out;
		}
	}
out:
	while (n > 0)
		free(probe[--n]);
	return rc;
}

int heap_ask_huge_pages(void)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start;
	char *from, *to;
	int rc;

	if (mallopt(M_ARENA_MAX, HEAP_ARENAS) != 1 ||
	    mallopt(M_TOP_PAD, (int)HEAP_TOP_PAD) != 1 ||
	    mallopt(M_MMAP_THRESHOLD, (int)HEAP_MMAP_THRESHOLD) != 1)
		return -EINVAL;
	rc = grow_heap(&from, &to);
	if (rc != 0)
		return rc;
	start = ((uintptr_t)from + page - 1) & ~(page - 1);
	if ((uintptr_t)to <= start)
		return 0;
	if (madvise((void *)start, (size_t)((uintptr_t)to - start),
		    MADV_HUGEPAGE) != 0)
		return -errno;
	return 0;
}
#endif
