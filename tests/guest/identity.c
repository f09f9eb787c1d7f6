/* Process identity and scheduling queries: umask, personality, prctl names, affinity, priorities,
 * getcpu, sysinfo, times, getrusage, process groups. Prints what holds on any Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/times.h>
#include <unistd.h>

int main(void)
{
	umask(027);
	mode_t old = umask(022);
	printf("umask roundtrip=%o\n", old);
	printf("personality=%d\n", personality(0xffffffff) & 0xff);
	printf("prctl set=%d\n", prctl(PR_SET_NAME, "a-very-long-thread-name"));
	char name[32] = {0};
	prctl(PR_GET_NAME, name);
	printf("prctl name=[%s]\n", name);
	errno = 0;
	int r = prctl(0x7fffffff, 0);
	printf("prctl bad=%d errno=%d\n", r, errno);
	cpu_set_t set;
	CPU_ZERO(&set);
	r = sched_getaffinity(0, sizeof(set), &set);
	printf("getaffinity=%d count>=1=%d\n", r, CPU_COUNT(&set) >= 1);
	printf("setaffinity cpu0=%d\n", sched_setaffinity(0, sizeof(set), &set));
	printf("prio fifo=%d..%d other=%d..%d\n", sched_get_priority_min(SCHED_FIFO), sched_get_priority_max(SCHED_FIFO),
	       sched_get_priority_min(SCHED_OTHER), sched_get_priority_max(SCHED_OTHER));
	errno = 0;
	r = sched_get_priority_max(12345);
	printf("prio bad=%d errno=%d\n", r, errno);
	unsigned cpu = 99, node = 99;
	r = getcpu(&cpu, &node);
	printf("getcpu=%d cpu valid=%d\n", r, cpu < 1024);
	struct sysinfo si;
	r = sysinfo(&si);
	printf("sysinfo=%d ram>0=%d free<=total=%d procs>=1=%d\n", r, si.totalram > 0, si.freeram <= si.totalram,
	       si.procs >= 1);
	struct tms t;
	clock_t c = times(&t);
	printf("times ok=%d\n", c != (clock_t)-1);
	struct rusage ru;
	r = getrusage(RUSAGE_SELF, &ru);
	printf("getrusage=%d maxrss>0=%d\n", r, ru.ru_maxrss > 0);
	errno = 0;
	r = getrusage(42, &ru);
	printf("getrusage bad=%d errno=%d\n", r, errno);
	printf("getpgid(0)==getpgrp=%d getsid ok=%d\n", getpgid(0) == getpgrp(), getsid(0) >= 0);
	return 0;
}
