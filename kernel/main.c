/* kmain: the boot sequence, one step per line, from the PVH entry (arch/x86_64/boot.S) to the app. */
#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "boot.h"
#include "drivers/drivers.h"
#include "drivers/uart.h"
#include "fs/file.h"
#include "fs/ramfs.h"
#include "fs/rootfs.h"
#include "fs/tmpfs.h"
#include "lib.h"
#include "linux/linux.h"
#include "mm/mm.h"
#include "net/net.h"
#include "sched/sched.h"

#define PVH_MAGIC 0x336ec578
#define E820_RAM 1

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
} PACKED;

struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
} PACKED;

struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
} PACKED;

bool verbose;
static struct boot_options options;
static uint64_t module_pa, module_size;

extern char _kernel_start[], _kernel_end[];

/* Free RAM from the PVH memory map, minus the kernel, the boot data and the ramfs archive. */
static void memory_init(const struct hvm_start_info *si)
{
	if (si->version < 1 || !si->memmap_entries)
		panic("the boot loader gave no memory map (PVH start_info version %u)", si->version);
	const struct hvm_memmap_entry *map = phys_to_virt(si->memmap_paddr);
	for (uint32_t i = 0; i < si->memmap_entries; i++)
		if (map[i].type == E820_RAM)
			phys_add_range(MAX(map[i].addr, 0x100000UL), map[i].addr + map[i].size);
	phys_reserve_range(0x100000, (uint64_t)_kernel_end - KERNEL_VMA);
	if (module_size)
		phys_reserve_range(module_pa, module_pa + module_size);
	phys_track_used_pages();
	vm_init();
}

NORETURN void panic(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kprintf("osv: kernel panic: %s\n", buf);
	vm_exit(EXIT_PANIC);
}

NORETURN void kmain(uint64_t start_info_pa, uint64_t boot_tsc)
{
	clock_init(boot_tsc);                 /* TSC at entry is time zero */
	uart_init();                          /* console on COM1 */
	const struct hvm_start_info *si = phys_to_virt(start_info_pa);
	if (si->magic != PVH_MAGIC)
		panic("not started through PVH (bad start_info magic %x)", si->magic);
	const char *cmdline = si->cmdline_paddr ? phys_to_virt(si->cmdline_paddr) : "";
	if (cmdline_parse(cmdline, &options) < 0)
		vm_exit(EXIT_BAD_CMDLINE);
	options.acpi = si->rsdp_paddr != 0;
	verbose = options.verbose;
	cpu.pvm_safe = options.pvm_safe;
	if (si->nr_modules) {
		const struct hvm_modlist_entry *mod = phys_to_virt(si->modlist_paddr);
		module_pa = mod->paddr;
		module_size = mod->size;
	}
	cpu_init();                           /* GDT, TSS, IDT, syscall MSRs, FPU, SMEP/SMAP */
	sched_init();                         /* the boot context becomes this CPU's idle thread */
	bootchart_mark("cpu");
	memory_init(si);                      /* page allocator and final page tables */
	bootchart_mark("memory");
	kverbose("osv: %s, %lu MiB RAM, clock via %s, %s mode\n", OSV_VERSION, phys_total_bytes() >> 20,
		 cpu.kvm_clock ? "kvmclock" : "TSC", cpu.pvm_safe ? "PVM-safe" : "full");
	drivers_init(&options);               /* PCI, virtio-mmio, disks, NICs */
	bootchart_mark("drivers");
	if (net_init(&options) < 0)           /* loopback; eth0 by --ip or DHCP */
		vm_exit(EXIT_BAD_CMDLINE);
	if (rootfs_mount(&options, module_size ? phys_to_virt(module_pa) : NULL, module_size) < 0)
		vm_exit(EXIT_CANNOT_START);   /* the app's files: initrd ramfs, or rofs on the image disk */
	devices_init();                       /* /dev/null, /dev/zero, /dev/urandom, ... */
	procfs_init();                        /* /proc and /sys */
	if (tmpfs_init(&options) < 0)         /* writable /tmp and --mount-fs directories */
		vm_exit(EXIT_BAD_CMDLINE);
	bootchart_mark("rootfs");
	exec_app(&options);                   /* load the program, start its first thread, idle */
}
