/* ARM MPS2 FPGA images (AN385/AN386/AN500) as emulated by QEMU: CMSDK APB UART0 and timer0.
 * UART0 @ 0x40004000: DATA +0, STATE +4 (bit0 TX full, bit1 RX full), CTRL +8 (bit0 TX en,
 * bit1 RX en, bit3 RX interrupt en), INTSTATUS/INTCLEAR +0xC, BAUDDIV +0x10; its RX interrupt is
 * IRQ 0. With -DCMSDK_UART_IRQ (qemu-mps2-an500) reception is interrupt-driven into the HAL's
 * ring, as on the real boards, so the tests exercise that path. Without it (qemu-mps2-an386)
 * the UART is polled: no interrupt handler runs inside a poll(), so instruction counts per poll
 * are exactly repeatable, and QEMU's flow control (it holds bytes back while the one-byte RX
 * register is full) loses nothing. Timer0 @ 0x40000000: CTRL +0, VALUE +4 (counts down), RELOAD +8;
 * it runs at the 25 MHz system clock.
 * Idle (board_idle, between polls): `wfi` until a byte arrives. The polled build enables the RX
 * interrupt too but keeps PRIMASK set for good, so the interrupt only ends `wfi` (a pending
 * interrupt wakes the core even while masked) and no handler ever runs inside a poll. */
#include <stdint.h>
#include "board.h"

#define REG(a) (*(volatile uint32_t*)(a))
#define UART0 0x40004000u
#define TIMER0 0x40000000u
#ifndef BOARD_CLOCK_HZ
#define BOARD_CLOCK_HZ 25000000u
#endif
#ifndef BOARD_BAUD
#define BOARD_BAUD 115200u
#endif

static uint32_t last_value;
static uint64_t ticks;

void board_init(void) {
  REG(UART0 + 0x10) = BOARD_CLOCK_HZ / BOARD_BAUD; /* QEMU ignores bauddiv < 16 transfers */
#ifdef CMSDK_UART_IRQ
  REG(UART0 + 0x08) = 3u | (1u << 3); /* TX and RX enable, RX interrupt */
  REG(0xE000E100) = 1u << 0;          /* NVIC: UART0 RX = IRQ 0 */
#else
  __asm volatile("cpsid i" ::: "memory"); /* for good: the RX interrupt only wakes board_idle */
  REG(UART0 + 0x08) = 3u | (1u << 3);     /* TX and RX enable, RX interrupt */
  REG(0xE000E100) = 1u << 0;              /* NVIC: UART0 RX = IRQ 0 (pending ends wfi) */
#endif
  REG(TIMER0 + 0x08) = 0xFFFFFFFFu;                /* reload */
  REG(TIMER0 + 0x04) = 0xFFFFFFFFu;
  REG(TIMER0 + 0x00) = 1; /* enable, no interrupt */
  last_value = REG(TIMER0 + 0x04);
}

void board_uart_putc(uint8_t byte) {
  while (REG(UART0 + 0x04) & 1u) {
  }
  REG(UART0 + 0x00) = byte;
}

#ifdef CMSDK_UART_IRQ
void Board_IRQHandler(void) {
  /* Clear first, then drain: a byte that lands after the last STATE read raises the interrupt
   * again. Clearing after the drain would swallow that byte's interrupt and leave it stuck in
   * DATA, stalling reception for good (seen under load in QEMU). */
  REG(UART0 + 0x0C) = 2u;
  while (REG(UART0 + 0x04) & 2u) board_rx_push((uint8_t)REG(UART0 + 0x00));
}

int board_uart_getc(void) { return -1; /* interrupt-driven: see Board_IRQHandler */ }
#else
int board_uart_getc(void) {
  if (!(REG(UART0 + 0x04) & 2u)) return -1;
  return (int)(REG(UART0 + 0x00) & 0xFFu);
}

void board_idle(void) {
  REG(UART0 + 0x0C) = 2u;  /* INTCLEAR: the RX interrupt latched since the last idle */
  REG(0xE000E280) = 1u;    /* NVIC ICPR: IRQ 0 no longer pending */
  /* a byte that lands after this check latches the interrupt again, so wfi returns at once */
  if (!(REG(UART0 + 0x04) & 2u)) __asm volatile("wfi" ::: "memory");
}
#endif

uint32_t board_millis(void) {
  /* Extend the 32-bit down-counter (wraps every 171 s at 25 MHz) in software; millis is read
   * on every poll, far more often than that. */
  uint32_t v = REG(TIMER0 + 0x04);
  ticks += (uint32_t)(last_value - v);
  last_value = v;
  return (uint32_t)(ticks / (BOARD_CLOCK_HZ / 1000u));
}
