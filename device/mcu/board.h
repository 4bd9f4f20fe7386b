/* The board driver interface: each device/mcu/boards/<family>.c implements these; hal.c turns
 * them into the wasm imports of device/HAL.md. Compile-time board facts arrive as -D flags
 * generated from boards/<id>.json (BOARD_CLOCK_HZ, BOARD_BAUD, BOARD_STORAGE_BYTES). */
#ifndef EDGEPROP_BOARD_H
#define EDGEPROP_BOARD_H
#include <stdint.h>

void board_init(void);
void board_uart_putc(uint8_t byte);
/** Next received byte, or -1 if none (never blocks). Drivers that receive by interrupt return -1
 * here and hand bytes to board_rx_push from their interrupt handler instead. */
int board_uart_getc(void);
/** Called from a UART receive interrupt: queue one byte (4096-byte ring in hal.c; dropped if full). */
void board_rx_push(uint8_t byte);
uint32_t board_millis(void);
/** Sleep until something may need the firmware: a received byte (or any interrupt). Called by the
 * main loop between polls when the firmware is not busy; returns at once if a byte is waiting.
 * hal.c's default (weak) version is for interrupt-driven receivers: interrupts masked, check the
 * ring, `wfi`, unmask. Polled drivers (cmsdk without CMSDK_UART_IRQ) define their own. */
void board_idle(void);
/** Bytes waiting in hal.c's receive ring (interrupt-driven drivers). */
int hal_rx_pending(void);
/** Persistent storage; the generic implementation in hal.c is a RAM array unless the family
 * driver defines BOARD_HAS_STORAGE and these three functions. */
uint32_t board_storage_size(void);
void board_storage_read(uint32_t offset, uint8_t* dst, uint32_t len);
void board_storage_write(uint32_t offset, const uint8_t* src, uint32_t len);

void board_puts(const char* s);
#endif
