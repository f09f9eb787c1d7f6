/* How the app ends: exit_group, the end of its last thread, fatal signals, and faults nobody handles
 * (a report naming the fault, address, RIP and the app's symbol, then exit status 128 + signal, as a
 * shell reports a killed process). A thread's own exit is in linux/sys_thread.c. */
#include "arch/x86_64/cpu.h"
#include "fs/file.h"
#include "lib.h"
#include "linux/linux.h"
#include "net/net.h"
#include "param.h"
#include "sched/sched.h"

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
 * ends once the peers have it all (or after NET_EXIT_DRAIN_NS). Other threads never run again. */
NORETURN void process_exit(int status)
{
	sched_kill_others();
	sockets_close_all();
	file_return_borrowed(current_thread()); /* the last references of what was just closed */
	net_drain(NET_EXIT_DRAIN_NS);
	if (verbose)
		net_report();
	vm_exit(status);
}

SYSCALL_DEFINE(exit_group) { process_exit((int)(a0 & 0xff)); }
