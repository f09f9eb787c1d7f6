/* 16550 UART: COM1 is the console (kernel log and the app's stdout/stderr), COM2 the control channel
 * to the toolchain (the exit status line, see kernel/README.md). Output only. */
#include "drivers/uart.h"
#include "arch/x86_64/cpu.h"
#include "lib.h"

#define LSR 5
#define LSR_THR_EMPTY 0x20

static void uart_init_port(uint16_t base)
{
	outb(base + 1, 0x00); /* no interrupts */
	outb(base + 3, 0x80); /* DLAB */
	outb(base + 0, 0x01); /* 115200 baud */
	outb(base + 1, 0x00);
	outb(base + 3, 0x03); /* 8N1 */
	outb(base + 2, 0xc7); /* FIFO on */
}

static bool wait_for_thr;

void uart_init(void)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	/* Virtual UARTs take every byte at once; polling LSR would cost one more exit per byte. */
	wait_for_thr = !(c & (1u << 31));
	uart_init_port(COM1);
}

void uart_write(uint16_t port, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (wait_for_thr)
			while (!(inb(port + LSR) & LSR_THR_EMPTY))
				cpu_relax();
		outb(port, buf[i]);
	}
}

void console_write(const char *buf, size_t n) { uart_write(COM1, buf, n); }
