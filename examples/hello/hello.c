/* The smallest osv app: prints a line and exits with status 0. Built with gcc -static by examples/demo.ts. */
#include <stdio.h>

int main(int argc, char **argv) {
    printf("Hello from osv! (%s, %d argument%s)\n", argv[0], argc - 1, argc == 2 ? "" : "s");
    return 0;
}
