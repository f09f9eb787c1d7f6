/* 16550 UART output (drivers/uart.c). */
#pragma once
#include "types.h"

#define COM1 0x3f8
#define COM2 0x2f8

void uart_init(void);
void uart_write(uint16_t port, const char *buf, size_t n);
