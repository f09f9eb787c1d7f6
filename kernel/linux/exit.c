/* How the app ends: exit/exit_group, and fatal faults (a report naming the fault, address, RIP and
 * the app's symbol, then exit status 128 + signal, as a shell reports a killed process). */
#include "arch/x86_64/cpu.h"
#include "lib.h"
#include "linux/linux.h"
#include "net/net.h"
#include "param.h"

static const char *signal_name(int signo)
{
	switch (signo) {
	case SIGILL:
		return "SIGILL";
	case SIGTRAP:
		return "SIGTRAP";
	case SIGBUS:
		return "SIGBUS";
	case SIGFPE:
		return "SIGFPE";
	case SIGSEGV:
		return "SIGSEGV";
	default:
		return "signal";
	}
}

NORETURN void app_fatal_fault(struct trap_frame *f, int signo, uint64_t addr)
{
	uint64_t offset = 0;
	const char *sym = app_symbol(f->rip, &offset);
	kprintf("\nosv: %s terminated by %s: %s", current ? current->exe_path : "app", signal_name(signo),
		exception_name(f->vector));
	if (f->vector == 14)
		kprintf(" at address %lx (%s, %s)", addr, f->error & 2 ? "write" : (f->error & 16 ? "execute" : "read"),
			signo == SIGBUS ? "past the end of the mapped file"
			: f->error & 1  ? "protection violation"
					: "not mapped");
	kprintf("\n  at RIP %lx", f->rip);
	if (sym)
		kprintf(" <%s+0x%lx>", sym, offset);
	kprintf("\n");
	dump_registers(f);
	vm_exit(128 + signo);
}

/* As on Linux, exit closes the app's sockets, and TCP goes on delivering what was written: the VM
 * ends once the peers have it all (or after NET_EXIT_DRAIN_NS). */
static NORETURN void exit_process(int status)
{
	sockets_close_all();
	net_drain(NET_EXIT_DRAIN_NS);
	if (verbose)
		net_report();
	vm_exit(status);
}

SYSCALL_DEFINE(exit_group) { exit_process((int)(a0 & 0xff)); }

/* One thread for now: the thread's exit is the process's. */
SYSCALL_DEFINE(exit) { exit_process((int)(a0 & 0xff)); }
