/* The character devices every Linux program may open: /dev/null, zero, full, random, urandom, and
 * the console as /dev/console and /dev/tty. Added to the ramfs at boot by devices_init(). */
#include "errno.h"
#include "fs/file.h"
#include "fs/ramfs.h"
#include "lib.h"
#include "linux/linux.h"

#define MKDEV(major, minor) (((major) << 8) | (minor))

static long read_nothing(struct file *f, uint64_t buf, size_t n, uint64_t *pos) { return 0; }
static long write_anything(struct file *f, uint64_t buf, size_t n, uint64_t *pos) { return (long)n; }
static long write_full(struct file *f, uint64_t buf, size_t n, uint64_t *pos) { return -ENOSPC; }

static long read_zeros(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	return clear_user(buf, n) < 0 ? -EFAULT : (long)n;
}

static long read_random(struct file *f, uint64_t buf, size_t n, uint64_t *pos) { return random_to_user(buf, n); }

static void device_stat(struct file *f, struct linux_stat *st) { ramfs_stat(f->node, st); }

static const struct file_ops null_ops = {.read = read_nothing, .write = write_anything, .stat = device_stat, .seekable = true};
static const struct file_ops zero_ops = {.read = read_zeros, .write = write_anything, .stat = device_stat, .seekable = true};
static const struct file_ops full_ops = {.read = read_zeros, .write = write_full, .stat = device_stat, .seekable = true};
static const struct file_ops random_ops = {.read = read_random, .write = write_anything, .stat = device_stat};

void devices_init(void)
{
	static const struct {
		const char *path;
		uint32_t rdev;
		const struct file_ops *ops;
	} devices[] = {
	    {"/dev/null", MKDEV(1, 3), &null_ops},       {"/dev/zero", MKDEV(1, 5), &zero_ops},
	    {"/dev/full", MKDEV(1, 7), &full_ops},       {"/dev/random", MKDEV(1, 8), &random_ops},
	    {"/dev/urandom", MKDEV(1, 9), &random_ops},  {"/dev/tty", MKDEV(5, 0), &console_ops},
	    {"/dev/console", MKDEV(5, 1), &console_ops},
	};
	for (size_t i = 0; i < ARRAY_SIZE(devices); i++)
		if (!ramfs_add_device(devices[i].path, devices[i].rdev, devices[i].ops))
			panic("cannot add %s", devices[i].path);
	int error;
	ramfs_lookup("/dev", NULL, false, &error)->dev = RAMFS_DEV_DEVICES;
}
