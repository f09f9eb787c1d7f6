/* Device discovery at boot (drivers/drivers.c), called once by kmain. */
#pragma once
#include "boot.h"

/* PCI (unless --nopci), virtio-mmio devices from the command line, then --blktest. */
void drivers_init(const struct boot_options *options);
