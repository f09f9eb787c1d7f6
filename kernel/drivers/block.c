/* The registry of block devices, filled by disk drivers at probe time. */
#include "drivers/block.h"

#define MAX_BLOCK_DEVICES 16

static struct block_device *devices[MAX_BLOCK_DEVICES];
static int count;

int block_register(struct block_device *dev)
{
	if (count == MAX_BLOCK_DEVICES)
		return -1;
	devices[count] = dev;
	return count++;
}

struct block_device *block_get(int n) { return n >= 0 && n < count ? devices[n] : NULL; }

int block_count(void) { return count; }
