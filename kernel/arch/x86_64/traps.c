/* Exceptions and interrupts, entered from the stubs in entry.S. User faults become demand paging or a
 * signal (linux/signal.c: the app's handler, else the fatal report of linux/exit.c); kernel faults on
 * user memory are turned into -EFAULT through the exception table; anything else is a kernel panic
 * with a full register dump and symbol. Whatever came from user mode goes back through
 * return_to_user (deferred work, preemption, signals). */
#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/irq.h"
#include "errno.h"
#include "linux/linux.h"
#include "lib.h"
#include "mm/mm.h"
#include "sched/sched.h"

struct extable_entry {
	uint64_t fault_ip, fixup_ip;
};
extern const struct extable_entry _extable[], _eextable[];

static const char *const exception_names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range", "invalid opcode",
    "device not available", "double fault", "coprocessor overrun", "invalid TSS", "segment not present",
    "stack fault", "general protection fault", "page fault", "reserved", "x87 floating point",
    "alignment check", "machine check", "SIMD floating point", "virtualization", "control protection",
};

const char *exception_name(uint64_t vector)
{
	if (vector < 32 && exception_names[vector])
		return exception_names[vector];
	return "interrupt";
}

void dump_registers(const struct trap_frame *f)
{
	kprintf("  RIP %016lx  RSP %016lx  RFLAGS %016lx  CS %lx SS %lx\n", f->rip, f->rsp, f->rflags, f->cs,
		f->ss);
	kprintf("  RAX %016lx  RBX %016lx  RCX %016lx  RDX %016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
	kprintf("  RSI %016lx  RDI %016lx  RBP %016lx  R8  %016lx\n", f->rsi, f->rdi, f->rbp, f->r8);
	kprintf("  R9  %016lx  R10 %016lx  R11 %016lx  R12 %016lx\n", f->r9, f->r10, f->r11, f->r12);
	kprintf("  R13 %016lx  R14 %016lx  R15 %016lx\n", f->r13, f->r14, f->r15);
	kprintf("  CR2 %016lx  CR3 %016lx  error %lx\n", read_cr2(), read_cr3(), f->error);
}

static NORETURN void kernel_fault(struct trap_frame *f)
{
	uint64_t offset = 0;
	const char *sym = ksym_lookup(f->rip, &offset);
	kprintf("\nosv: kernel panic: %s (vector %lu, error %lx) at RIP %lx <%s+0x%lx>\n", exception_name(f->vector),
		f->vector, f->error, f->rip, sym ? sym : "?", offset);
	dump_registers(f);
	panic("unhandled exception in the kernel");
}

static bool fixup_user_access(struct trap_frame *f)
{
	for (const struct extable_entry *e = _extable; e < _eextable; e++) {
		if (e->fault_ip == f->rip) {
			f->rip = e->fixup_ip;
			return true;
		}
	}
	return false;
}

/* The signal and si_code Linux sends for a CPU exception in user mode (page faults aside). */
static int signal_of_exception(const struct trap_frame *f, int *code, uint64_t *addr)
{
	*addr = f->rip;
	switch (f->vector) {
	case 0:
		*code = FPE_INTDIV;
		return SIGFPE;
	case 16:
	case 19: {
		/* x87 or SIMD floating-point exception: which one, from the status bits not masked. */
		uint8_t area[512] __attribute__((aligned(16)));
		__asm__ volatile("fxsave64 %0" : "=m"(area));
		uint32_t status = f->vector == 19 ? *(uint32_t *)(area + 24) : *(uint16_t *)(area + 2);
		uint32_t control = f->vector == 19 ? *(uint32_t *)(area + 24) >> 7 : *(uint16_t *)(area + 0);
		uint32_t raised = status & ~control & 0x3f;
		*code = raised & 1 ? FPE_FLTINV : raised & 4 ? FPE_FLTDIV : raised & 8 ? FPE_FLTOVF
			: raised & 16 ? FPE_FLTUND : raised & 32 ? FPE_FLTRES : raised & 2 ? FPE_FLTINV : 0;
		return SIGFPE;
	}
	case 1:
		*code = 2; /* TRAP_TRACE */
		return SIGTRAP;
	case 3:
		*code = SI_KERNEL;
		return SIGTRAP;
	case 6:
		*code = ILL_ILLOPN;
		return SIGILL;
	case 17:
		*code = 1; /* BUS_ADRALN */
		return SIGBUS;
	case 11:
	case 12:
		*code = SI_KERNEL;
		*addr = 0;
		return SIGBUS;
	default: /* general protection and the rest */
		*code = SI_KERNEL;
		*addr = 0;
		return SIGSEGV;
	}
}

extern char syscall_entry[];

/* Under kvm_pvm a ring-3 `syscall` reaches LSTAR without leaving ring 3, so its first fetch faults:
 * a user instruction-fetch #PF at exactly LSTAR. The registers then hold what `syscall` leaves (RCX =
 * return address, R11 = user RFLAGS), so we run the syscall here and return with iretq. */
static bool is_pvm_syscall(const struct trap_frame *f, uint64_t cr2)
{
	return (f->cs & 3) && f->rip == (uint64_t)syscall_entry && cr2 == f->rip && (f->error & 0x10);
}

#define USER_RFLAGS_MASK 0x240dd5UL /* CF PF AF ZF SF TF DF OF AC ID: what user code may set */

static void run_pvm_syscall(struct trap_frame *f)
{
	f->rip = f->rcx;
	f->rflags = (f->r11 & USER_RFLAGS_MASK) | RFLAGS_IF | 0x2;
	sti();
	syscall_dispatch(f);
	cli();
}

void trap_dispatch(struct trap_frame *f)
{
	bool from_user = f->cs & 3;
	if (f->vector == 14) { /* first: under kvm_pvm every syscall comes this way */
		uint64_t addr = read_cr2();
		if (is_pvm_syscall(f, addr)) {
			run_pvm_syscall(f); /* returns to user mode through return_to_user already */
			return;
		}
		/* Kernel touching user memory (copy_*_user) may also need a page brought in. */
		int r = as_handle_fault(current_as, addr, f->error);
		if (r != 0) {
			if (!from_user && fixup_user_access(f))
				return;
			if (!from_user)
				kernel_fault(f);
			struct vma *v = as_find_vma(current_as, addr);
			if (r == -ENXIO) /* past the end of a mapped file: SIGBUS, as on Linux */
				signal_fault(f, SIGBUS, BUS_ADRERR, addr);
			else
				signal_fault(f, SIGSEGV, v && v->start <= addr ? SEGV_ACCERR : SEGV_MAPERR, addr);
		}
	} else if (f->vector == TIMER_VECTOR) {
		lapic_timer_interrupt();
	} else if (f->vector >= IRQ_FIRST_VECTOR && f->vector <= IRQ_LAST_VECTOR) {
		irq_dispatch(f->vector); /* a device: its driver's handler, then EOI */
	} else if (f->vector == SPURIOUS_VECTOR || (f->vector >= 32 && f->vector < 48)) {
		/* spurious, or a stray legacy PIC interrupt */
	} else if (from_user && f->vector < 32) {
		int code;
		uint64_t addr;
		int signo = signal_of_exception(f, &code, &addr);
		signal_fault(f, signo, code, addr);
	} else if (!from_user && f->vector == 13 && fixup_user_access(f)) {
		return; /* non-canonical user pointer */
	} else {
		kernel_fault(f);
	}
	if (from_user)
		return_to_user(f);
}
