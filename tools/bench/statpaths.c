/*
 * statpaths — lstat() every path listed in a file (one per line, relative
 * to DIR), and print the seconds it took and how many failed. The list is
 * read into memory before the clock starts, so only the lstat calls are
 * timed.
 *
 *   statpaths DIR LISTFILE
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int main(int argc, char **argv)
{
	char **paths = NULL, *line = NULL;
	size_t n = 0, cap = 0, lcap = 0, failed = 0;
	struct timespec t0, t1;
	struct stat st;
	ssize_t len;
	FILE *f;
	int dir;

	if (argc != 3) {
		fprintf(stderr, "usage: statpaths DIR LISTFILE\n");
		return 2;
	}
	dir = open(argv[1], O_RDONLY | O_DIRECTORY);
	f = fopen(argv[2], "r");
	if (dir < 0 || f == NULL) {
		perror("statpaths");
		return 1;
	}
	while ((len = getline(&line, &lcap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			paths = realloc(paths, cap * sizeof(*paths));
			if (paths == NULL)
				return 1;
		}
		paths[n++] = strdup(line);
	}
	fclose(f);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < n; i++)
		if (fstatat(dir, paths[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
			failed++;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.9f %zu %zu\n", (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, n, failed);
	return 0;
}
