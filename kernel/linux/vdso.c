/* The vDSO in the app's address space: the image kernel/build.ts builds from kernel/vdso/ and embeds
 * in our read-only data, mapped (borrowed, never copied) read+execute as [vdso], with the data page its
 * functions read mapped read-only just below it as [vvar]. exec.c maps both and passes the image's
 * address as AT_SYSINFO_EHDR; the time syscalls (sys_time.c) publish the clock's parameters here once
 * the clock has them, after which the vDSO answers without entering the kernel. */
#include "arch/x86_64/clock.h"
#include "lib.h"
#include "linux/linux.h"
#include "vdso/vdso_data.h"

extern const uint8_t vdso_image[], vdso_image_end[];

/* A page of its own: the app sees all of it. */
static union {
	struct vdso_data data;
	uint8_t page[PAGE_SIZE];
} vvar __attribute__((aligned(PAGE_SIZE)));

uint64_t vdso_map(struct address_space *as)
{
	uint64_t size = ALIGN_UP((uint64_t)(vdso_image_end - vdso_image), PAGE_SIZE);
	uint64_t base = as_find_free(as, PAGE_SIZE + size);
	if (!base || as_add_vma(as, base, base + PAGE_SIZE, PROT_READ, "[vvar]") < 0 ||
	    as_add_vma(as, base + PAGE_SIZE, base + PAGE_SIZE + size, PROT_READ | PROT_EXEC, "[vdso]") < 0)
		return 0;
	as_find_vma(as, base)->flags |= VMA_KERNEL_PAGES;
	as_find_vma(as, base + PAGE_SIZE)->flags |= VMA_KERNEL_PAGES;
	if (as_map_borrowed(as, base, virt_to_phys(&vvar)) < 0)
		return 0;
	for (uint64_t offset = 0; offset < size; offset += PAGE_SIZE)
		if (as_map_borrowed(as, base + PAGE_SIZE + offset, virt_to_phys(vdso_image + offset)) < 0)
			return 0;
	vdso_sync_clock();
	return base + PAGE_SIZE;
}

void vdso_sync_clock(void)
{
	struct vdso_data *d = &vvar.data;
	if (d->clock_ready && d->realtime_ready)
		return;
	uint64_t base, mult, offset;
	bool clock_ready = clock_tsc_conversion(&base, &mult), realtime_ready = clock_realtime_offset(&offset);
	if (clock_ready == (bool)d->clock_ready && realtime_ready == (bool)d->realtime_ready)
		return;
	d->seq++; /* odd: readers wait */
	__asm__ volatile("" ::: "memory");
	d->tsc_base = base;
	d->tsc_mult = mult;
	d->realtime_offset_ns = offset;
	d->clock_ready = clock_ready;
	d->realtime_ready = realtime_ready;
	__asm__ volatile("" ::: "memory");
	d->seq++;
}
