/* The kernel command line in OSv syntax: `[--option]... /path/to/app [arg]...`. Words are split as a
 * POSIX shell splits them (whitespace, 'single' and "double" quotes, backslash escapes), so
 * `/prog 'a b' c` gives the program two arguments. Unknown options are an error, never ignored.
 * `virtio_mmio.device=` words (device descriptions QEMU microvm appends) are taken out wherever they are
 * and kept for drivers/virtio_mmio.c. */
#include "boot.h"
#include "lib.h"

#define MAX_CMDLINE 8192

static char words_buffer[MAX_CMDLINE];

/* Splits in into NUL-terminated words in words_buffer; the count, or -1 on a syntax error. */
static int split_words(const char *in, char **words, int max)
{
	char *out = words_buffer, *end = words_buffer + sizeof(words_buffer);
	int count = 0;
	while (*in) {
		while (*in == ' ' || *in == '\t' || *in == '\n')
			in++;
		if (!*in)
			break;
		if (count == max) {
			kprintf("osv: command line: more than %d words\n", max);
			return -1;
		}
		words[count++] = out;
		while (*in && *in != ' ' && *in != '\t' && *in != '\n') {
			if (out + 2 >= end) {
				kprintf("osv: command line: longer than %d bytes\n", MAX_CMDLINE);
				return -1;
			}
			if (*in == '\'') {
				const char *close = strchr(in + 1, '\'');
				if (!close) {
					kprintf("osv: command line: unterminated single quote\n");
					return -1;
				}
				size_t n = close - in - 1;
				if (out + n + 2 >= end) {
					kprintf("osv: command line: longer than %d bytes\n", MAX_CMDLINE);
					return -1;
				}
				memcpy(out, in + 1, n);
				out += n;
				in = close + 1;
			} else if (*in == '"') {
				in++;
				while (*in != '"') {
					if (!*in) {
						kprintf("osv: command line: unterminated double quote\n");
						return -1;
					}
					if (*in == '\\' && (in[1] == '"' || in[1] == '\\' || in[1] == '$' || in[1] == '`'))
						in++;
					if (out + 2 >= end) {
						kprintf("osv: command line: longer than %d bytes\n", MAX_CMDLINE);
						return -1;
					}
					*out++ = *in++;
				}
				in++;
			} else if (*in == '\\') {
				if (!in[1]) {
					kprintf("osv: command line: trailing backslash\n");
					return -1;
				}
				*out++ = in[1];
				in += 2;
			} else {
				*out++ = *in++;
			}
		}
		*out++ = 0;
	}
	return count;
}

int cmdline_parse(const char *cmdline, struct boot_options *opts)
{
	static char *words[MAX_ARGS + MAX_ENV + 16];
	int n = split_words(cmdline, words, ARRAY_SIZE(words));
	if (n < 0)
		return -1;
	/* The hypervisor's virtio_mmio.device= words (appended after the program's arguments by QEMU
	 * microvm) describe devices, not arguments: take them out wherever they are. */
	int kept = 0;
	for (int j = 0; j < n; j++) {
		if (!str_starts_with(words[j], "virtio_mmio.device=")) {
			words[kept++] = words[j];
			continue;
		}
		if (opts->virtio_mmio_count == MAX_VIRTIO_MMIO) {
			kprintf("osv: command line: more than %d virtio_mmio.device= words\n", MAX_VIRTIO_MMIO);
			return -1;
		}
		opts->virtio_mmio[opts->virtio_mmio_count++] = words[j] + 19;
	}
	n = kept;
	int i = 0;
	for (; i < n && str_starts_with(words[i], "--"); i++) {
		char *w = words[i];
		if (strcmp(w, "--bootchart") == 0) {
			opts->bootchart = true;
		} else if (strcmp(w, "--verbose") == 0) {
			opts->verbose = true;
		} else if (strcmp(w, "--pvm-safe") == 0) {
			opts->pvm_safe = true;
		} else if (strcmp(w, "--nopci") == 0) {
			opts->nopci = true;
		} else if (strcmp(w, "--blktest") == 0) {
			opts->blktest = true;
		} else if (str_starts_with(w, "--env=")) {
			if (!strchr(w + 6, '=')) {
				kprintf("osv: command line: --env needs KEY=VALUE, got \"%s\"\n", w);
				return -1;
			}
			if (opts->envc == MAX_ENV) {
				kprintf("osv: command line: more than %d --env options\n", MAX_ENV);
				return -1;
			}
			opts->env[opts->envc++] = w + 6;
		} else if (str_starts_with(w, "--mount-fs=")) {
			if (!str_starts_with(w + 11, "tmpfs,/")) {
				kprintf("osv: command line: --mount-fs needs tmpfs,/absolute/path, got \"%s\"\n", w);
				return -1;
			}
			if (opts->tmpfs_count == MAX_TMPFS_MOUNTS) {
				kprintf("osv: command line: more than %d --mount-fs options\n", MAX_TMPFS_MOUNTS);
				return -1;
			}
			opts->tmpfs[opts->tmpfs_count++] = w + 17;
		} else if (str_starts_with(w, "--cwd=")) {
			opts->cwd = w + 6;
		} else if (str_starts_with(w, "--rootfs=")) {
			opts->rootfs = w + 9;
			if (strcmp(opts->rootfs, "rofs") != 0 && strcmp(opts->rootfs, "ramfs") != 0) {
				kprintf("osv: command line: --rootfs must be rofs or ramfs, got \"%s\"\n", opts->rootfs);
				return -1;
			}
		} else if (str_starts_with(w, "--ip=")) {
			if (opts->ip_count == NET_MAX_INTERFACES) {
				kprintf("osv: command line: more than %d --ip options\n", NET_MAX_INTERFACES);
				return -1;
			}
			opts->ip[opts->ip_count++] = w + 5;
		} else if (str_starts_with(w, "--defaultgw=")) {
			opts->defaultgw = w + 12;
		} else if (str_starts_with(w, "--nameserver=")) {
			if (opts->nameserver_count == (int)ARRAY_SIZE(opts->nameserver)) {
				kprintf("osv: command line: more than %d --nameserver options\n", (int)ARRAY_SIZE(opts->nameserver));
				return -1;
			}
			opts->nameserver[opts->nameserver_count++] = w + 13;
		} else {
			kprintf("osv: command line: unknown option \"%s\" (known: --bootchart --verbose --env=K=V "
				"--cwd=DIR --rootfs=rofs|ramfs --mount-fs=tmpfs,/PATH --ip=IFACE,ADDR,MASK --defaultgw=ADDR --nameserver=ADDR "
				"--pvm-safe --nopci --blktest)\n",
				w);
			return -1;
		}
	}
	if (i == n) {
		kprintf("osv: command line: no program to run (expected: [options] /path/to/app [args])\n");
		return -1;
	}
	if (n - i > MAX_ARGS) {
		kprintf("osv: command line: more than %d arguments\n", MAX_ARGS);
		return -1;
	}
	for (; i < n; i++)
		opts->argv[opts->argc++] = words[i];
	return 0;
}
