/* /proc and /sys as programs read them: the process's own maps, cmdline, environ, auxv, status, stat
 * and exe link, the fd directory (a link per open descriptor), and the machine's cpuinfo, meminfo, uptime, version and CPU lists. Prints properties
 * that hold on any Linux, so the output is the same on the host and in osv. */
#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* The target of /proc/self/fd/<fd>, or "" when there is none. */
static const char *fd_link(int fd)
{
	static char link[4096];
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	return link;
}

static bool listed(const int *fds, int count, int fd)
{
	for (int i = 0; i < count; i++)
		if (fds[i] == fd)
			return true;
	return false;
}

static void fd_directory(const char *self)
{
	int file = open(self, O_RDONLY), p[2], sock = socket(AF_UNIX, SOCK_STREAM, 0), ev = eventfd(0, 0);
	if (pipe(p) < 0 || file < 0 || sock < 0 || ev < 0) {
		printf("fd directory setup=0\n");
		return;
	}
	printf("fd link of an open file is its path=%d\n", strcmp(fd_link(file), self) == 0);
	printf("fd links of a pipe=%d\n", !strncmp(fd_link(p[0]), "pipe:[", 6) && !strncmp(fd_link(p[1]), "pipe:[", 6));
	printf("fd link of a socket=%d\n", strncmp(fd_link(sock), "socket:[", 8) == 0);
	printf("fd link of an eventfd=%d\n", strcmp(fd_link(ev), "anon_inode:[eventfd]") == 0);
	int seen[256] = {0}, count = 0;
	bool numeric = true;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; d && (e = readdir(d)) && count < 256;) {
		if (e->d_name[0] == '.')
			continue;
		char *end;
		seen[count++] = (int)strtol(e->d_name, &end, 10);
		numeric &= *end == 0 && e->d_type == DT_LNK;
	}
	int dir_fd = d ? dirfd(d) : -1;
	printf("fd listing has every open descriptor=%d numeric links only=%d\n",
	       listed(seen, count, file) && listed(seen, count, p[0]) && listed(seen, count, p[1]) &&
		   listed(seen, count, sock) && listed(seen, count, ev) && listed(seen, count, dir_fd),
	       numeric);
	if (d)
		closedir(d);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", file);
	int again = open(path, O_RDONLY);
	printf("reopen through the link=%d\n", again >= 0);
	close(ev);
	struct stat st;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ev);
	printf("a closed descriptor's link is gone=%d\n", lstat(path, &st) < 0);
	close(again);
	close(file);
	close(p[0]);
	close(p[1]);
	close(sock);
}

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
	fd_directory(real ? real : argv[0]);
	return 0;
}
