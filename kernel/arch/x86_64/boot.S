/* PVH entry (32-bit protected mode, paging off, EBX = hvm_start_info) to 64-bit long mode in the higher
 * half. Early page tables map the first 1 GiB three times: identity (to survive enabling paging), at the
 * direct map and at the kernel's link address. mm/vm.c replaces them with the final tables. */

#define KERNEL_VMA 0xffffffff80000000
#define PHYS(x) ((x) - KERNEL_VMA)

/* The ELF note QEMU, Firecracker-PVH and Cloud Hypervisor look for: XEN_ELFNOTE_PHYS32_ENTRY (18). */
.section .note.pvh, "a", @note
	.balign 4
	.long 4          /* name size */
	.long 4          /* desc size */
	.long 18         /* type */
	.asciz "Xen"
	.long pvh_start32

.section .boot.text, "ax"
.code32
.globl pvh_start32
pvh_start32:
	cli
	cld
	mov %ebx, %esi                  /* start_info, passed on to kmain */
	rdtsc                           /* boot time zero for --bootchart */
	mov %eax, boot_tsc
	mov %edx, boot_tsc + 4

	/* Fill the early page directory: 512 x 2 MiB pages, present + writable + huge. */
	mov $boot_pd, %edi
	mov $0x83, %eax
	mov $512, %ecx
1:	mov %eax, (%edi)
	movl $0, 4(%edi)
	add $0x200000, %eax
	add $8, %edi
	loop 1b

	mov %cr4, %eax
	or $0x20, %eax                  /* PAE */
	mov %eax, %cr4
	mov $boot_pml4, %eax
	mov %eax, %cr3

	/* EFER: long mode, and NX when the CPU has it. */
	mov $0x80000001, %eax
	cpuid
	mov $0x100, %edi                /* LME */
	bt $20, %edx
	jnc 2f
	or $0x800, %edi                 /* NXE */
2:	mov $0xc0000080, %ecx
	rdmsr
	or %edi, %eax
	wrmsr

	mov %cr0, %eax
	or $0x80010001, %eax            /* PG | WP | PE */
	mov %eax, %cr0

	lgdt boot_gdt_ptr
	ljmp $0x08, $long_mode_low

.code64
long_mode_low:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	xor %ax, %ax
	mov %ax, %fs
	mov %ax, %gs
	movabs $long_mode_high, %rax
	jmp *%rax

.section .boot.data, "aw"
.balign 4096
boot_pml4:
	.quad boot_pdpt + 3             /* 0: identity */
	.fill 255, 8, 0
	.quad boot_pdpt + 3             /* 256: direct map */
	.fill 254, 8, 0
	.quad boot_pdpt_high + 3        /* 511: kernel */
boot_pdpt:
	.quad boot_pd + 3
	.fill 511, 8, 0
boot_pdpt_high:
	.fill 510, 8, 0
	.quad boot_pd + 3               /* -2 GiB */
	.quad 0
boot_pd:
	.fill 512, 8, 0

.balign 16
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff        /* 0x10: data */
boot_gdt_ptr:
	.word boot_gdt_ptr - boot_gdt - 1
	.long boot_gdt

.balign 8
boot_tsc:
	.quad 0

.text
long_mode_high:
	movabs $boot_stack_top, %rsp
	xor %ebp, %ebp
	mov %esi, %edi                  /* kmain(start_info physical address, TSC at entry) */
	mov boot_tsc, %rsi
	call kmain
3:	cli
	hlt
	jmp 3b

.bss
.balign 16
.globl boot_stack, boot_stack_top
boot_stack:
	.skip 32768
boot_stack_top:
