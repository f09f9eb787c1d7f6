/* Kernel tunables and memory layout constants, in one place. */
#pragma once

#define KERNEL_VMA 0xffffffff80000000UL   /* higher-half kernel image (links at +1 MiB) */
#define DIRECT_MAP 0xffff800000000000UL   /* all physical memory mapped here */
#define USER_TOP 0x00007ffffffff000UL     /* first address above user space */
#define USER_STACK_TOP 0x00007ffffffde000UL
#define USER_STACK_SIZE (8UL << 20)        /* RLIMIT_STACK the app sees */
#define USER_MMAP_TOP 0x00007f0000000000UL /* mmap hands out addresses below this, top down */
#define USER_PIE_BASE 0x0000555555554000UL /* load address of ET_DYN programs */
#define KERNEL_STACK_SIZE (32UL << 10)
#define IST_STACK_SIZE (16UL << 10)
#define MAX_ARGS 256
#define MAX_ENV 256
#define MAX_MEM_EXTENTS 128
#define MAX_FDS 1024
#define MAX_TMPFS_MOUNTS 16           /* --mount-fs=tmpfs,/path options */
#define FAULT_AROUND_PAGES 16 /* pages mapped per page fault */
#define MAX_VIRTIO_MMIO 32           /* virtio_mmio.device= words taken from the command line */
#define MAX_PCI_DEVICES 64
#define VIRTQUEUE_MAX_SIZE 256        /* descriptors per virtqueue (devices may offer more) */
#define DEVICE_TIMEOUT_NS 5000000000UL /* a device that does not answer within this is declared broken */
#define DEVICE_POLL_NS 1000000UL      /* waits re-check the device this often in case an interrupt is lost */
#define BCACHE_BLOCKS 256             /* 4 KiB blocks kept by the block cache (drivers/block_cache.c) */
