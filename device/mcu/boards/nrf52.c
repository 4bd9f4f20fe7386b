/* nRF52840 DK: legacy UART0 on P0.06 (TX) / P0.08 (RX), the J-Link OB virtual COM port.
 * 64 MHz core; millis from SysTick. Register map: nRF52840 Product Specification.
 * Not yet run on hardware. */
#include <stdint.h>
#include "board.h"

#define REG(a) (*(volatile uint32_t*)(a))
#define UART0 0x40002000u
#ifndef BOARD_CLOCK_HZ
#define BOARD_CLOCK_HZ 64000000u
#endif

static volatile uint32_t ms;
void SysTick_Handler(void) { ms++; }

void board_init(void) {
  REG(UART0 + 0x50C) = 6;           /* PSEL.TXD = P0.06 */
  REG(UART0 + 0x514) = 8;           /* PSEL.RXD = P0.08 */
  REG(UART0 + 0x524) = 0x01D7E000u; /* BAUDRATE = 115200 */
  REG(UART0 + 0x500) = 4;           /* ENABLE = UART */
  REG(UART0 + 0x108) = 0;           /* EVENTS_RXDRDY */
  REG(UART0 + 0x000) = 1;           /* TASKS_STARTRX */
  REG(UART0 + 0x11C) = 0;           /* EVENTS_TXDRDY */
  REG(UART0 + 0x008) = 1;           /* TASKS_STARTTX */
  REG(UART0 + 0x304) = 1u << 2;     /* INTENSET.RXDRDY */
  REG(0xE000E100) = 1u << 2;        /* NVIC: UARTE0_UART0 = IRQ 2 */
  REG(0xE000E014) = BOARD_CLOCK_HZ / 1000u - 1u;
  REG(0xE000E018) = 0;
  REG(0xE000E010) = 7;
}

void board_uart_putc(uint8_t byte) {
  REG(UART0 + 0x11C) = 0;
  REG(UART0 + 0x51C) = byte; /* TXD */
  while (!REG(UART0 + 0x11C)) {
  }
}

/* UART0 receive interrupt: move each byte to the HAL's ring. */
void Board_IRQHandler(void) {
  while (REG(UART0 + 0x108)) {
    REG(UART0 + 0x108) = 0;
    board_rx_push((uint8_t)REG(UART0 + 0x518)); /* RXD */
  }
}

int board_uart_getc(void) { return -1; /* interrupt-driven: see Board_IRQHandler */ }

uint32_t board_millis(void) { return ms; }
