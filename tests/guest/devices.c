/* The character devices programs expect: /dev/null, zero, full, random, urandom, tty/console. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void show(const char *path)
{
	struct stat st;
	int r = stat(path, &st);
	printf("%s stat=%d chr=%d dev=%u,%u\n", path, r, S_ISCHR(st.st_mode), major(st.st_rdev), minor(st.st_rdev));
}

int main(void)
{
	const char *all[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"};
	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		show(all[i]);
	char buf[4096];
	int null = open("/dev/null", O_RDWR);
	ssize_t w = write(null, "abc", 3), r = read(null, buf, sizeof(buf));
	printf("null write=%zd read=%zd\n", w, r);
	int zero = open("/dev/zero", O_RDONLY);
	memset(buf, 7, sizeof(buf));
	r = read(zero, buf, sizeof(buf));
	size_t nonzero = 0;
	for (size_t i = 0; i < sizeof(buf); i++)
		nonzero += buf[i] != 0;
	printf("zero read=%zd nonzero=%zu\n", r, nonzero);
	int full = open("/dev/full", O_WRONLY);
	errno = 0;
	w = write(full, "x", 1);
	printf("full write=%zd errno=%d\n", w, errno);
	unsigned char a[32], b[32];
	int ur = open("/dev/urandom", O_RDONLY);
	ssize_t ra = read(ur, a, sizeof(a)), rb = read(ur, b, sizeof(b));
	printf("urandom reads=%zd %zd differ=%d\n", ra, rb, memcmp(a, b, sizeof(a)) != 0);
	printf("access(/dev/null, W_OK)=%d\n", access("/dev/null", W_OK));
	close(null), close(zero), close(full), close(ur);
	return 0;
}
