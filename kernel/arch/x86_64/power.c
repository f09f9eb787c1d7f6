/* Ending the VM with an exit status: the `exit N` line on the control channel (COM2), then QEMU's
 * isa-debug-exit; on machines without it, ACPI power-off (QEMU pc), the keyboard-controller reset
 * and finally a triple fault (all of which end the VM when QEMU runs with -no-reboot). */
#include "arch/x86_64/cpu.h"
#include "drivers/uart.h"
#include "lib.h"
#include "linux/linux.h"

#define DEBUG_EXIT_PORT 0xf4

NORETURN void vm_exit(int status)
{
	char line[24];
	int n = snprintf(line, sizeof(line), "exit %d\n", status);
	uart_write(COM2, line, n);
	outl(DEBUG_EXIT_PORT, status & 0x7f);
	outw(0x604, 0x2000); /* QEMU pc/q35 ACPI PM1a: S5 */
	outb(0x64, 0xfe);    /* 8042 reset */
	struct {
		uint16_t limit;
		uint64_t base;
	} PACKED empty_idt = {0, 0};
	__asm__ volatile("lidt %0; ud2" ::"m"(empty_idt));
	for (;;)
		__asm__ volatile("cli; hlt");
}
