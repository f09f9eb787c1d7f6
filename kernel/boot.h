/* What the kernel was asked to do at boot: the parsed command line (lib/cmdline.c). */
#pragma once
#include "param.h"
#include "types.h"

struct boot_options {
	bool bootchart, verbose, pvm_safe;
	bool nopci;   /* --nopci: skip PCI enumeration */
	bool blktest; /* --blktest: read, write and read back vblk0 at boot (drivers/block_test.c) */
	bool acpi;    /* the boot loader passed ACPI tables (not a command line option: PVH start_info) */
	/* `virtio_mmio.device=<size>@<base>:<irq>` words (QEMU microvm appends them), for drivers/virtio_mmio.c */
	int virtio_mmio_count;
	const char *virtio_mmio[MAX_VIRTIO_MMIO];
	const char *cwd;
	const char *rootfs; /* --rootfs=rofs|ramfs (fs/rootfs.c); NULL: the initrd, else the image disk's */
	int tmpfs_count; /* --mount-fs=tmpfs,/path: writable directories besides /tmp (fs/tmpfs.c) */
	const char *tmpfs[MAX_TMPFS_MOUNTS];
	/* Networking (net/net.c): --ip=IFACE,ADDR,NETMASK (static, no DHCP), --defaultgw=, --nameserver= */
	int ip_count;
	const char *ip[NET_MAX_INTERFACES];
	const char *defaultgw;
	int nameserver_count;
	const char *nameserver[3];
	int envc, argc;
	char *env[MAX_ENV];
	char *argv[MAX_ARGS];
};

/* Parses an OSv-style command line; 0, or -1 after printing what is wrong. */
int cmdline_parse(const char *cmdline, struct boot_options *opts);

/* --bootchart: phases with absolute and delta milliseconds since kernel entry. */
void bootchart_mark(const char *phase);
void bootchart_print(void);
