/* Choosing and mounting the root filesystem (fs/rootfs.c). */
#pragma once
#include "types.h"

struct boot_options;

/* Mounts the root: the ramfs archive the boot loader passed in memory (initrd, size 0 when none), or the
 * filesystem in the osv image found on a disk (the image header at byte 512 names its type and place).
 * `--rootfs=rofs|ramfs` insists on one. 0, or -1 after printing why there is no root. */
int rootfs_mount(const struct boot_options *opts, const uint8_t *initrd, size_t initrd_size);
