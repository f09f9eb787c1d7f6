/* Prints argc, argv and the environment variables whose names start with OSV_TEST_, then exits with
 * the status given as argv[1] (default 0). Checks argument passing, --env and exit statuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv)
{
	printf("argc=%d\n", argc);
	for (int i = 1; i < argc; i++)
		printf("argv[%d]=[%s]\n", i, argv[i]);
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "OSV_TEST_", 9) == 0)
			printf("env %s\n", *e);
	return argc > 1 ? atoi(argv[1]) : 0;
}
