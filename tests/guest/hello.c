/* Hello as a dynamically linked program sees the world: argv, getenv, printf with numbers, string
 * functions (chosen by ld.so's IFUNC relocations in libc), the objects dl_iterate_phdr lists (the
 * program, ld.so, libc.so.6, the vDSO) and whether the auxiliary vector names an interpreter (AT_BASE).
 * Exits with the status given as argv[1]. Built static too, where only the program is listed. */
#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

static int list_object(struct dl_phdr_info *info, size_t size, void *data)
{
	const char *name = info->dlpi_name, *slash = strrchr(name, '/');
	int loads = 0;
	for (int i = 0; i < info->dlpi_phnum; i++)
		loads += info->dlpi_phdr[i].p_type == PT_LOAD;
	printf("object %d: [%s] loads=%d\n", (*(int *)data)++, slash ? slash + 1 : name, loads);
	return 0;
}

int main(int argc, char **argv)
{
	const char *greeting = getenv("OSV_TEST_GREETING");
	printf("hello, %s! argc=%d\n", greeting ? greeting : "nobody", argc);
	for (int i = 1; i < argc; i++)
		printf("argv[%d]=[%s] length %zu\n", i, argv[i], strlen(argv[i]));
	char buf[64];
	snprintf(buf, sizeof(buf), "%.3f %e %5d|%-5s|", 3.14159, 6.02e23, 42, "ok");
	printf("formatted %s\n", buf);
	printf("interpreter named (AT_BASE set)=%d\n", getauxval(AT_BASE) != 0);
	int index = 0;
	dl_iterate_phdr(list_object, &index);
	return argc > 1 ? atoi(argv[1]) : 0;
}
