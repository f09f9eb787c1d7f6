/* CPU setup for the boot CPU: feature detection, GDT with user segments and a TSS (double faults on
 * their own IST stack), IDT, `syscall` MSRs, control registers (NX, SMEP, SMAP, FPU/SSE/AVX state).
 * Called once from kmain. The FPU is set up by fpu.c; threads start in ring 3 through trap_return
 * (entry.S, switch.S).
 *
 * PVM-safe mode (--pvm-safe): kvm_pvm emulates our kernel-mode instructions and lacks xsave, stac/clac
 * and sysretq, so then CR4.OSXSAVE and SMAP stay off and returns to user mode use iretq. */
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/fpu.h"
#include "arch/x86_64/percpu.h"
#include "lib.h"
#include "param.h"

struct cpu_features cpu;
bool use_sysret; /* read by entry.S */

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} PACKED;

struct idt_entry {
	uint16_t offset_low, selector;
	uint8_t ist, type;
	uint16_t offset_mid;
	uint32_t offset_high, reserved;
} PACKED;

struct descriptor_pointer {
	uint16_t limit;
	uint64_t base;
} PACKED;

static uint64_t gdt[10] __attribute__((aligned(16)));
static struct tss tss __attribute__((aligned(16)));
static struct idt_entry idt[256] __attribute__((aligned(16)));
static struct percpu boot_cpu;
static uint8_t double_fault_stack[IST_STACK_SIZE] __attribute__((aligned(16)));
extern char boot_stack_top[];

extern char trap_stubs[];
extern char syscall_entry[];

static void detect_features(void)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	cpu.xsave = c & (1u << 26);
	cpu.avx = c & (1u << 28);
	cpu.x2apic = c & (1u << 21);
	cpu.tsc_deadline = c & (1u << 24);
	cpu.rdrand = c & (1u << 30);
	cpuid(7, 0, &a, &b, &c, &d);
	cpu.smep = b & (1u << 7);
	cpu.smap = b & (1u << 20);
	cpu.fsgsbase = b & (1u << 0);
	cpuid(0x80000001, 0, &a, &b, &c, &d);
	cpu.nx = d & (1u << 20);
	cpu.pdpe1gb = d & (1u << 26);
	cpuid(0x40000000, 0, &a, &b, &c, &d);
	if (b == 0x4b4d564b && c == 0x564b4d56 && d == 0x4d) { /* "KVMKVMKVM" */
		uint32_t features;
		cpuid(0x40000001, 0, &features, &b, &c, &d);
		cpu.kvm_clock = features & (1u << 3);
	}
}

static void gdt_init(void)
{
	gdt[1] = 0x00cf9a000000ffffUL; /* 0x08 kernel code 32 (unused) */
	gdt[2] = 0x00af9a000000ffffUL; /* 0x10 kernel code */
	gdt[3] = 0x00cf92000000ffffUL; /* 0x18 kernel data */
	gdt[4] = 0x00cffa000000ffffUL; /* 0x23 user code 32 (unused; sysret layout) */
	gdt[5] = 0x00cff2000000ffffUL; /* 0x2b user data */
	gdt[6] = 0x00affa000000ffffUL; /* 0x33 user code 64 */
	uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;
	gdt[8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89UL << 40) | (((limit >> 16) & 0xf) << 48) |
		 (((base >> 24) & 0xff) << 56);
	gdt[9] = base >> 32;
	tss.rsp[0] = (uint64_t)boot_stack_top;
	tss.ist[0] = (uint64_t)(double_fault_stack + sizeof(double_fault_stack));
	tss.iomap_base = sizeof(tss);

	struct descriptor_pointer ptr = {sizeof(gdt) - 1, (uint64_t)gdt};
	__asm__ volatile("lgdt %0\n"
			 "mov %1, %%ds\n mov %1, %%es\n mov %1, %%ss\n"
			 "pushq %3\n lea 1f(%%rip), %%rax\n pushq %%rax\n lretq\n1:\n"
			 "ltr %w2\n" ::"m"(ptr),
			 "r"((uint64_t)KERNEL_DS), "r"((uint64_t)TSS_SEL), "i"(KERNEL_CS)
			 : "rax", "memory");
}

static void idt_init(void)
{
	for (int v = 0; v < 256; v++) {
		uint64_t handler = (uint64_t)trap_stubs + 16 * v;
		idt[v] = (struct idt_entry){
			.offset_low = handler & 0xffff,
			.selector = KERNEL_CS,
			.ist = v == 8 ? 1 : 0, /* double fault runs on its own stack */
			/* present, interrupt gate; ring 3 may raise int3 and into itself (SIGTRAP, SIGSEGV) */
			.type = v == 3 || v == 4 ? 0xee : 0x8e,
			.offset_mid = (handler >> 16) & 0xffff,
			.offset_high = handler >> 32,
		};
	}
	struct descriptor_pointer ptr = {sizeof(idt) - 1, (uint64_t)idt};
	__asm__ volatile("lidt %0" ::"m"(ptr));
	/* The firmware left the 8259 PICs delivering IRQ 0-7 on vectors 8-15, where exceptions live:
	 * mask them all; the LAPIC is our only interrupt source. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

static void percpu_init(void)
{
	boot_cpu.self = &boot_cpu;
	boot_cpu.kernel_rsp = (uint64_t)boot_stack_top;
	wrmsr(MSR_GS_BASE, (uint64_t)&boot_cpu);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
}

static void syscall_init(void)
{
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	wrmsr(MSR_STAR, ((uint64_t)USER32_CS << 48) | ((uint64_t)KERNEL_CS << 32));
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	/* Masked on entry: IF (we enable it once on the kernel stack), TF, DF, AC. */
	wrmsr(MSR_SFMASK, RFLAGS_IF | (1UL << 8) | (1UL << 10) | RFLAGS_AC);
	use_sysret = !cpu.pvm_safe;
}

static void protection_init(void)
{
	uint64_t cr4 = read_cr4();
	if (cpu.smep)
		cr4 |= CR4_SMEP;
	if (cpu.smap && !cpu.pvm_safe) {
		cr4 |= CR4_SMAP;
		cpu.smap_on = true;
	}
	/* In PVM-safe mode user code may not change its FS/GS bases itself: then they change only through
	 * arch_prctl, and a context switch need not read them back (each MSR access is emulated). */
	if (cpu.fsgsbase && !cpu.pvm_safe) {
		cr4 |= CR4_FSGSBASE;
		cpu.user_fsgsbase = true;
	}
	write_cr4(cr4);
	write_cr0(read_cr0() | CR0_WP);
}

void cpu_set_fs_base(uint64_t base) { wrmsr(MSR_FS_BASE, base); }

void cpu_set_kernel_stack(uint64_t top)
{
	tss.rsp[0] = top;
	boot_cpu.kernel_rsp = top;
}

void cpu_init(void)
{
	detect_features();
	gdt_init();
	idt_init();
	percpu_init();
	syscall_init();
	fpu_init();
	protection_init();
}
