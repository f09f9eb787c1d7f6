/* Memory: malloc from 1 KiB to 64 MiB (every byte written and read back), calloc zeroing, realloc
 * growth, brk, anonymous mmap/munmap/mprotect and MAP_FIXED, with a checksum printed for each step. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint64_t fill_and_sum(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed);
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum = sum * 1099511628211ULL + p[i];
	return sum;
}

int main(void)
{
	for (size_t size = 1024; size <= (64u << 20); size *= 4) {
		unsigned char *p = malloc(size);
		if (!p) {
			printf("malloc(%zu) failed\n", size);
			return 1;
		}
		printf("malloc %zu sum %016llx\n", size, (unsigned long long)fill_and_sum(p, size, (unsigned)size));
		free(p);
	}
	unsigned char *z = calloc(1 << 20, 1);
	size_t nonzero = 0;
	for (size_t i = 0; i < (1 << 20); i++)
		nonzero += z[i] != 0;
	printf("calloc nonzero=%zu\n", nonzero);
	free(z);

	char *r = malloc(16);
	strcpy(r, "realloc-kept");
	for (size_t n = 32; n <= (8u << 20); n *= 8)
		r = realloc(r, n);
	printf("realloc %s\n", r);
	free(r);

	void *b0 = sbrk(0);
	void *b1 = sbrk(1 << 16); /* musl refuses to grow with sbrk: both print grew=0 there */
	if (b1 != (void *)-1)
		memset(b1, 0x5a, 1 << 16);
	printf("sbrk grew=%d\n", (char *)sbrk(0) - (char *)b0 == (1 << 16));

	size_t len = 10 * 4096;
	unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap ok=%d zero=%d\n", m != MAP_FAILED, m[4096 * 5] == 0);
	printf("mmap sum %016llx\n", (unsigned long long)fill_and_sum(m, len, 7));
	printf("mprotect=%d\n", mprotect(m, 4096, PROT_READ));
	printf("munmap middle=%d\n", munmap(m + 4096 * 3, 4096 * 2));
	unsigned char *f = mmap(m + 4096 * 3, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("fixed at hole=%d zero=%d\n", f == m + 4096 * 3, f[0] == 0);
	printf("munmap all=%d\n", munmap(m, len));
	errno = 0;
	void *bad = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap len 0: failed=%d errno=%d\n", bad == MAP_FAILED, errno);
	errno = 0;
	int rc = munmap((char *)m + 1, 4096);
	printf("munmap unaligned=%d errno=%d\n", rc, errno);

	unsigned char *big = mmap(NULL, 1UL << 34, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	printf("16 GiB reservation ok=%d\n", big != MAP_FAILED);
	printf("mprotect part=%d\n", mprotect(big, 1 << 20, PROT_READ | PROT_WRITE));
	big[12345] = 1;
	printf("touched=%d\n", big[12345]);
	munmap(big, 1UL << 34);
	return 0;
}
