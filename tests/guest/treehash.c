/* Walks a directory tree and prints one line per entry, in name order, with paths relative to the root:
 * "d path mode", "f path mode size fnv1a64", "l path -> target". Run on the host over the source tree
 * and in osv over the same tree in the image: the outputs must match.
 * With "--read FILE" it instead reads FILE in 1 MiB chunks and prints its size, hash and MiB/s (bench). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 20];
static long entries;

static uint64_t hash_fd(int fd, uint64_t *size)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	*size = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ (unsigned char)buf[i]) * 0x100000001b3ULL;
		*size += (uint64_t)n;
	}
	return n < 0 ? 0 : h;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void walk(const char *root, const char *rel)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s%s", root, rel);
	DIR *d = opendir(path);
	if (!d) {
		printf("! cannot open %s\n", rel);
		return;
	}
	char **names = NULL;
	size_t count = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			names = realloc(names, cap * sizeof(*names));
		}
		names[count++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, count, sizeof(*names), by_name);
	for (size_t i = 0; i < count; i++) {
		char child_rel[4096], child[4096];
		snprintf(child_rel, sizeof(child_rel), "%s/%s", rel, names[i]);
		snprintf(child, sizeof(child), "%s%s", root, child_rel);
		struct stat st;
		entries++;
		if (lstat(child, &st) < 0) {
			printf("! cannot stat %s\n", child_rel);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlink(child, target, sizeof(target) - 1);
			target[n < 0 ? 0 : n] = 0;
			printf("l %s -> %s\n", child_rel, target);
		} else if (S_ISDIR(st.st_mode)) {
			printf("d %s %o\n", child_rel, st.st_mode & 07777);
			walk(root, child_rel);
		} else {
			int fd = open(child, O_RDONLY);
			uint64_t size = 0, h = fd < 0 ? 0 : hash_fd(fd, &size);
			if (fd >= 0)
				close(fd);
			printf("f %s %o %llu %016llx%s\n", child_rel, st.st_mode & 07777, (unsigned long long)size,
			       (unsigned long long)h, size == (uint64_t)st.st_size ? "" : " SIZE MISMATCH");
		}
		free(names[i]);
	}
	free(names);
}

static double seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--read") == 0) {
		int fd = open(argv[2], O_RDONLY);
		if (fd < 0) {
			perror(argv[2]);
			return 1;
		}
		double start = seconds();
		uint64_t size = 0, total = 0;
		ssize_t n;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			total += (uint64_t)n;
		double took = seconds() - start;
		lseek(fd, 0, SEEK_SET);
		uint64_t h = hash_fd(fd, &size);
		printf("read %llu bytes in %.3f s (%.1f MiB/s) hash %016llx\n", (unsigned long long)total, took,
		       (double)total / 1048576.0 / took, (unsigned long long)h);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: treehash DIR | treehash --read FILE\n");
		return 2;
	}
	walk(argv[1], "");
	printf("entries %ld\n", entries);
	return 0;
}
