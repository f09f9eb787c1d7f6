/* Calls syscalls osv does not implement (yet): each must fail with ENOSYS, not hang or crash. */
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	errno = 0;
	long r = syscall(SYS_io_uring_setup, 1, NULL);
	printf("io_uring_setup=%ld errno=%s\n", r, errno == ENOSYS ? "ENOSYS" : (errno == EFAULT ? "EFAULT" : "other"));
	errno = 0;
	r = syscall(1000);
	printf("syscall(1000)=%ld errno=%s\n", r, errno == ENOSYS ? "ENOSYS" : "other");
	return 0;
}
