/* Dereferences a null pointer from a named function: osv must report the fault (address, RIP,
 * symbol) and exit with 139 (128 + SIGSEGV), as a shell reports it on Linux. */
#include <stdio.h>

__attribute__((noinline)) void crash_here(volatile int *p)
{
	*p = 42;
}

int main(void)
{
	printf("about to crash\n");
	fflush(stdout);
	crash_here((volatile int *)0);
	printf("not reached\n");
	return 0;
}
