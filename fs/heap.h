/*
 * heap.h — ask the kernel for transparent huge pages for the daemon's heap.
 */
#ifndef UPFS_HEAP_H
#define UPFS_HEAP_H

/*
 * Before the daemon starts its threads: puts every thread's allocations in
 * the one brk heap and advises the next HEAP_ADVISED_BYTES of it for huge
 * pages. Called again after a malloc_trim(0) has shrunk the heap. Best
 * effort: 0, or -errno when the advice was refused (no THP in this kernel);
 * malloc works the same either way.
 */
int heap_ask_huge_pages(void);

#endif
