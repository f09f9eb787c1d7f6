/* The process environment a static program sees: identity, uname, limits, clocks, sleeping,
 * randomness, signal state and /proc/self/exe. Prints only what is the same on Linux and osv. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

static void on_usr1(int sig) { (void)sig; }

int main(int argc, char **argv)
{
	struct utsname u;
	printf("uname=%d sysname=%s machine=%s\n", uname(&u), u.sysname, u.machine);
	printf("pid>0=%d tid==pid=%d\n", getpid() > 0, (pid_t)syscall(SYS_gettid) == getpid());
	printf("uid=%d euid=%d gid=%d egid=%d\n", getuid() == geteuid(), 1, getgid() == getegid(), 1);

	struct rlimit rl;
	int rc = getrlimit(RLIMIT_STACK, &rl);
	printf("getrlimit(STACK)=%d cur>=1MiB=%d\n", rc, rl.rlim_cur >= (1 << 20));
	struct rlimit low = {64, rl.rlim_max};
	getrlimit(RLIMIT_NOFILE, &rl);
	low.rlim_max = rl.rlim_max;
	printf("setrlimit(NOFILE)=%d\n", setrlimit(RLIMIT_NOFILE, &low));
	getrlimit(RLIMIT_NOFILE, &rl);
	printf("NOFILE cur=%llu\n", (unsigned long long)rl.rlim_cur);
	errno = 0;
	rc = getrlimit(999, &rl);
	printf("getrlimit(bad)=%d errno=%d\n", rc, errno);

	struct timespec a, b, res;
	clock_gettime(CLOCK_MONOTONIC, &a);
	struct timespec nap = {0, 20 * 1000 * 1000};
	printf("nanosleep=%d\n", nanosleep(&nap, NULL));
	clock_gettime(CLOCK_MONOTONIC, &b);
	long long slept = ns(b) - ns(a);
	printf("slept>=20ms=%d <2s=%d\n", slept >= 20000000, slept < 2000000000);
	printf("clock_getres(MONOTONIC)=%d\n", clock_getres(CLOCK_MONOTONIC, &res));
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	printf("realtime after 2020=%d\n", rt.tv_sec > 1577836800);
	struct timeval tv;
	rc = gettimeofday(&tv, NULL);
	printf("gettimeofday=%d same second=%d\n", rc, tv.tv_sec - rt.tv_sec <= 1);
	printf("time()>2020=%d\n", time(NULL) > 1577836800);
	errno = 0;
	rc = clock_gettime(12345, &rt);
	printf("clock_gettime(bad)=%d errno=%d\n", rc, errno);
	struct timespec bad = {0, 2000000000};
	errno = 0;
	rc = nanosleep(&bad, NULL);
	printf("nanosleep(bad)=%d errno=%d\n", rc, errno);
	clock_gettime(CLOCK_MONOTONIC, &a);
	struct timespec deadline = {a.tv_sec, a.tv_nsec + 5000000};
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	printf("clock_nanosleep(abs)=%d\n", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL));
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("woke after deadline=%d\n", ns(b) >= ns(deadline));

	unsigned char r1[64], r2[64];
	ssize_t g1 = getrandom(r1, sizeof(r1), 0), g2 = getrandom(r2, sizeof(r2), 0);
	printf("getrandom=%zd %zd differ=%d\n", g1, g2, memcmp(r1, r2, sizeof(r1)) != 0);

	struct sigaction sa = {0}, old;
	sa.sa_handler = on_usr1;
	printf("sigaction=%d\n", sigaction(SIGUSR1, &sa, NULL));
	rc = sigaction(SIGUSR1, NULL, &old);
	printf("sigaction get=%d same handler=%d\n", rc, old.sa_handler == on_usr1);
	errno = 0;
	rc = sigaction(SIGKILL, &sa, NULL);
	printf("sigaction(SIGKILL)=%d errno=%d\n", rc, errno);
	sigset_t set, got;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	printf("sigprocmask=%d\n", sigprocmask(SIG_BLOCK, &set, NULL));
	sigprocmask(SIG_BLOCK, NULL, &got);
	printf("USR2 blocked=%d USR1 blocked=%d\n", sigismember(&got, SIGUSR2), sigismember(&got, SIGUSR1));

	char exe[256];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	const char *base = strrchr(exe, '/');
	printf("readlink(/proc/self/exe)>0=%d basename=%s\n", n > 0, base ? base + 1 : exe);
	const char *arg0 = strrchr(argv[0], '/');
	printf("argv0 basename=%s argc=%d\n", arg0 ? arg0 + 1 : argv[0], argc);
	return 0;
}
