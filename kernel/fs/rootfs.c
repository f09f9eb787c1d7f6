/* The root filesystem: a ramfs from the initrd, or the filesystem partition of the osv image on a disk
 * (the toolchain attaches the image itself as a virtio-blk disk). The image header is the toolchain's
 * (core/image.ts): "OSVIMAGE" at byte 512, then version, header size, kernel and fs offsets and sizes,
 * and the fs type. A small disk is read whole in one transfer, so that booting from it takes one disk
 * request (each is a costly round trip to the hypervisor, most of all under TCG). */
#include "fs/rootfs.h"
#include "boot.h"
#include "drivers/block.h"
#include "fs/ramfs.h"
#include "fs/rofs.h"
#include "lib.h"
#include "mm/mm.h"

#define IMAGE_HEADER_OFFSET 512
#define IMAGE_VERSION 1

struct image_header {
	char magic[8];
	uint32_t version, header_size;
	uint64_t kernel_offset, kernel_size, fs_offset, fs_size;
	char fs_type[16];
} PACKED;

/* A disk's contents read whole (when it is small enough), page-aligned: the header and filesystem come
 * from there. */
struct disk_copy {
	uint8_t *bytes; /* NULL: none */
	size_t pages;
};

/* Reads all of dev in one transfer when it has at most ROOT_DISK_PRELOAD_MAX bytes and they fit in an
 * eighth of free memory; else (or on an error) leaves copy->bytes NULL. */
static void read_whole_disk(struct block_device *dev, struct disk_copy *copy)
{
	uint64_t bytes = dev->sectors * SECTOR_SIZE;
	copy->bytes = NULL;
	if (bytes < IMAGE_HEADER_OFFSET + sizeof(struct image_header) || bytes > ROOT_DISK_PRELOAD_MAX ||
	    bytes > phys_free_bytes() / 8)
		return;
	copy->pages = ALIGN_UP(bytes, PAGE_SIZE) / PAGE_SIZE;
	copy->bytes = page_alloc(copy->pages);
	if (copy->bytes && dev->ops->read(dev, 0, (uint32_t)dev->sectors, copy->bytes) < 0) {
		page_free(copy->bytes, copy->pages);
		copy->bytes = NULL;
	}
}

/* The first disk holding an osv image, with its header and maybe its whole contents; NULL when none
 * does. */
static struct block_device *find_image_disk(struct image_header *h, struct disk_copy *copy)
{
	for (int i = 0; i < block_count(); i++) {
		struct block_device *dev = block_get(i);
		read_whole_disk(dev, copy);
		if (copy->bytes)
			memcpy(h, copy->bytes + IMAGE_HEADER_OFFSET, sizeof(*h));
		else if (bcache_read(dev, IMAGE_HEADER_OFFSET, h, sizeof(*h)) < 0)
			continue;
		if (memcmp(h->magic, "OSVIMAGE", 8) != 0) {
			if (copy->bytes)
				page_free(copy->bytes, copy->pages);
			continue;
		}
		h->fs_type[sizeof(h->fs_type) - 1] = 0;
		return dev;
	}
	copy->bytes = NULL;
	return NULL;
}

/* The filesystem's bytes from the disk copy, page-aligned, its other pages (the kernel's) freed; NULL
 * without a copy, or when the filesystem does not start on a page (the copy is then freed: the
 * filesystem is read from the disk). */
static const uint8_t *filesystem_in_copy(const struct disk_copy *copy, uint64_t fs_offset, uint64_t fs_size)
{
	if (!copy->bytes)
		return NULL;
	if (fs_offset % PAGE_SIZE) {
		page_free(copy->bytes, copy->pages);
		return NULL;
	}
	size_t first = fs_offset / PAGE_SIZE, end = ALIGN_UP(fs_offset + fs_size, PAGE_SIZE) / PAGE_SIZE;
	if (first)
		page_free(copy->bytes, first);
	if (end < copy->pages)
		page_free(copy->bytes + end * PAGE_SIZE, copy->pages - end);
	return copy->bytes + fs_offset;
}

/* A ramfs image on the disk: the archive is read into memory that stays reserved, like an initrd. */
static int ramfs_from_disk(struct block_device *dev, uint64_t base, uint64_t size, const uint8_t *in_memory)
{
	if (in_memory)
		return ramfs_unpack(in_memory, size);
	size_t pages = ALIGN_UP(size, PAGE_SIZE) / PAGE_SIZE;
	uint8_t *archive = page_alloc(pages);
	if (!archive) {
		kprintf("osv: rootfs: out of memory for a %lu KiB ramfs (give the VM more memory)\n", size >> 10);
		return -1;
	}
	uint64_t sectors = ALIGN_UP(size, SECTOR_SIZE) / SECTOR_SIZE;
	if (base % SECTOR_SIZE || dev->ops->read(dev, base / SECTOR_SIZE, (uint32_t)sectors, archive) < 0) {
		kprintf("osv: rootfs: %s: cannot read the ramfs archive\n", dev->name);
		return -1;
	}
	return ramfs_unpack(archive, size);
}

int rootfs_mount(const struct boot_options *opts, const uint8_t *initrd, size_t initrd_size)
{
	const char *want = opts->rootfs;
	if (initrd_size && (!want || strcmp(want, "ramfs") == 0))
		return ramfs_unpack(initrd, initrd_size);
	struct image_header h;
	struct disk_copy copy;
	struct block_device *dev = find_image_disk(&h, &copy);
	if (!dev) {
		kprintf("osv: rootfs: no root filesystem: no initrd, and no disk holds an osv image%s\n",
			block_count() ? "" : " (no disks found)");
		return -1;
	}
	uint64_t disk_bytes = dev->sectors * SECTOR_SIZE;
	if (h.version != IMAGE_VERSION || h.fs_offset > disk_bytes || h.fs_size > disk_bytes - h.fs_offset) {
		kprintf("osv: rootfs: %s: bad osv image header (version %u, filesystem at %lu+%lu on a %lu-byte disk)\n",
			dev->name, h.version, h.fs_offset, h.fs_size, disk_bytes);
		return -1;
	}
	if (want && strcmp(want, h.fs_type) != 0) {
		kprintf("osv: rootfs: --rootfs=%s, but the image on %s holds %s\n", want, dev->name, h.fs_type);
		return -1;
	}
	ramfs_set_root_type(strcmp(h.fs_type, "rofs") == 0 ? "rofs" : "ramfs");
	const uint8_t *in_memory = filesystem_in_copy(&copy, h.fs_offset, h.fs_size);
	if (strcmp(h.fs_type, "rofs") == 0)
		return rofs_mount(dev, h.fs_offset, h.fs_size, in_memory);
	if (strcmp(h.fs_type, "ramfs") == 0)
		return ramfs_from_disk(dev, h.fs_offset, h.fs_size, in_memory);
	kprintf("osv: rootfs: %s: unknown filesystem type \"%s\"\n", dev->name, h.fs_type);
	return -1;
}
