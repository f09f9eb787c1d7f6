/* /proc and /sys as programs read them: the process's own maps, cmdline, environ, auxv, status, stat
 * and exe link, and the machine's cpuinfo, meminfo, uptime, version and CPU lists. Prints properties
 * that hold on any Linux, so the output is the same on the host and in osv. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

static size_t slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = 0;
	fclose(f);
	return n;
}

static char buf[1 << 16];

int main(int argc, char **argv)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	char *real = realpath(argv[0], NULL);
	printf("exe link is absolute=%d matches argv[0]=%d\n", exe[0] == '/', real && strcmp(real, exe) == 0);

	slurp("/proc/self/maps", buf, sizeof(buf));
	char text_line[256];
	snprintf(text_line, sizeof(text_line), "r-xp");
	printf("maps: stack=%d text mapped from exe=%d\n", strstr(buf, "[stack]") != NULL,
	       strstr(buf, text_line) != NULL && strstr(buf, exe) != NULL);

	size_t len = slurp("/proc/self/cmdline", buf, sizeof(buf));
	int args = 0, same = 1;
	for (size_t at = 0; at < len; at += strlen(buf + at) + 1, args++)
		same &= args < argc && strcmp(buf + at, argv[args]) == 0;
	printf("cmdline args=%d same=%d\n", args, same && args == argc);

	len = slurp("/proc/self/environ", buf, sizeof(buf));
	int found = 0;
	for (size_t at = 0; at < len; at += strlen(buf + at) + 1)
		found |= strcmp(buf + at, "OSV_PROC_TEST=yes") == 0;
	printf("environ has OSV_PROC_TEST=%d\n", found);

	FILE *f = fopen("/proc/self/auxv", "rb");
	unsigned long pair[2], pagesz = 0;
	while (f && fread(pair, sizeof(pair), 1, f) == 1 && pair[0] != 0)
		if (pair[0] == AT_PAGESZ)
			pagesz = pair[1];
	if (f)
		fclose(f);
	printf("auxv AT_PAGESZ=%lu matches getauxval=%d\n", pagesz, pagesz == getauxval(AT_PAGESZ));

	slurp("/proc/self/status", buf, sizeof(buf));
	printf("status: Name=%d Pid=%d VmRSS=%d Threads: 1=%d\n", strstr(buf, "Name:\t") != NULL,
	       strstr(buf, "\nPid:\t") != NULL, strstr(buf, "VmRSS:") != NULL, strstr(buf, "Threads:\t1\n") != NULL);
	slurp("/proc/self/stat", buf, sizeof(buf));
	int pid = 0;
	char state = 0;
	int fields = sscanf(buf, "%d (%*[^)]) %c", &pid, &state);
	printf("stat parses=%d state R=%d\n", fields == 2 && pid == getpid(), state == 'R');

	slurp("/proc/cpuinfo", buf, sizeof(buf));
	printf("cpuinfo: processor=%d flags with sse2=%d\n", strncmp(buf, "processor\t: 0", 13) == 0,
	       strstr(buf, " sse2") != NULL);
	slurp("/proc/meminfo", buf, sizeof(buf));
	unsigned long total = 0, avail = 0;
	sscanf(strstr(buf, "MemTotal:"), "MemTotal: %lu kB", &total);
	sscanf(strstr(buf, "MemAvailable:"), "MemAvailable: %lu kB", &avail);
	printf("meminfo: total>0=%d available<=total=%d\n", total > 0, avail <= total);
	double up = -1, idle = -1;
	slurp("/proc/uptime", buf, sizeof(buf));
	printf("uptime parses=%d\n", sscanf(buf, "%lf %lf", &up, &idle) == 2 && up >= 0);
	slurp("/proc/version", buf, sizeof(buf));
	printf("version starts with Linux version=%d\n", strncmp(buf, "Linux version ", 14) == 0);
	slurp("/sys/devices/system/cpu/online", buf, sizeof(buf));
	printf("cpu online starts with 0=%d nprocs>=1=%d\n", buf[0] == '0', sysconf(_SC_NPROCESSORS_ONLN) >= 1);
	slurp("/proc/self/mounts", buf, sizeof(buf));
	printf("mounts has / =%d\n", strstr(buf, " / ") != NULL);
	return 0;
}
