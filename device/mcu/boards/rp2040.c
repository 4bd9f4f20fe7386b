/* RP2040 (Raspberry Pi Pico): core and UART0 clocked from the 12 MHz crystal (no PLL yet),
 * UART0 (PL011) on GP0 (TX) / GP1 (RX), millis from SysTick. Register map: RP2040 datasheet.
 * Booted by rp2040-boot2.S. Not yet run on hardware. */
#include <stdint.h>
#include "board.h"

#define REG(a) (*(volatile uint32_t*)(a))
#define CLR(a) (*(volatile uint32_t*)((a) + 0x3000u)) /* atomic clear alias */
#define RESETS 0x4000C000u
#define CLOCKS 0x40008000u
#define XOSC 0x40024000u
#define IO_BANK0 0x40014000u
#define PADS_BANK0 0x4001C000u
#define UART0 0x40034000u
#ifndef BOARD_CLOCK_HZ
#define BOARD_CLOCK_HZ 12000000u
#endif
#ifndef BOARD_BAUD
#define BOARD_BAUD 115200u
#endif

static volatile uint32_t ms;
void SysTick_Handler(void) { ms++; }

void board_init(void) {
  /* Crystal oscillator on, then clk_ref <- XOSC, clk_sys <- clk_ref, clk_peri <- clk_sys. */
  REG(XOSC + 0x00) = 0xAA0;                 /* CTRL.FREQ_RANGE = 1_15MHZ */
  REG(XOSC + 0x0C) = 47;                    /* STARTUP delay (~1 ms) */
  REG(XOSC + 0x00) = 0xAA0 | (0xFABu << 12); /* ENABLE */
  while (!(REG(XOSC + 0x04) & (1u << 31))) { /* STATUS.STABLE */
  }
  REG(CLOCKS + 0x30) = 2; /* CLK_REF_CTRL.SRC = xosc_clksrc */
  while (!(REG(CLOCKS + 0x38) & (1u << 2))) {
  }
  REG(CLOCKS + 0x3C) = 0; /* CLK_SYS_CTRL.SRC = clk_ref */
  while (!(REG(CLOCKS + 0x44) & 1u)) {
  }
  REG(CLOCKS + 0x48) = (1u << 11) | (0u << 5); /* CLK_PERI_CTRL: ENABLE, AUXSRC = clk_sys */
  /* Take IO_BANK0, PADS_BANK0 and UART0 out of reset. */
  const uint32_t mask = (1u << 5) | (1u << 8) | (1u << 22);
  CLR(RESETS + 0x0) = mask;
  while ((REG(RESETS + 0x8) & mask) != mask) {
  }
  REG(IO_BANK0 + 0x04) = 2; /* GPIO0_CTRL.FUNCSEL = UART0 TX */
  REG(IO_BANK0 + 0x0C) = 2; /* GPIO1_CTRL.FUNCSEL = UART0 RX */
  /* Baud divisor = clk / (16 * baud) in 16.6 fixed point. */
  const uint32_t div = (8u * BOARD_CLOCK_HZ) / BOARD_BAUD; /* = 128 * clk / (16 * baud) */
  REG(UART0 + 0x24) = div >> 7;                           /* IBRD */
  REG(UART0 + 0x28) = ((div & 0x7Fu) + 1u) / 2u;          /* FBRD */
  REG(UART0 + 0x2C) = (3u << 5) | (1u << 4);              /* LCR_H: 8 bits, FIFOs */
  REG(UART0 + 0x30) = (1u << 9) | (1u << 8) | 1u;         /* CR: RXE | TXE | UARTEN */
  REG(UART0 + 0x38) = (1u << 4) | (1u << 6);              /* IMSC: RX, RX timeout */
  REG(0xE000E100) = 1u << 20;                             /* NVIC: UART0_IRQ = 20 */
  REG(0xE000E014) = BOARD_CLOCK_HZ / 1000u - 1u;
  REG(0xE000E018) = 0;
  REG(0xE000E010) = 7;
}

void board_uart_putc(uint8_t byte) {
  while (REG(UART0 + 0x18) & (1u << 5)) { /* FR.TXFF */
  }
  REG(UART0 + 0x00) = byte;
}

/* UART0 interrupt (RX FIFO level or RX timeout): drain the 32-byte FIFO into the HAL's ring. */
void Board_IRQHandler(void) {
  while (!(REG(UART0 + 0x18) & (1u << 4))) board_rx_push((uint8_t)REG(UART0 + 0x00)); /* until FR.RXFE */
}

int board_uart_getc(void) { return -1; /* interrupt-driven: see Board_IRQHandler */ }

uint32_t board_millis(void) { return ms; }
