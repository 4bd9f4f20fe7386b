/* STM32F4 (Nucleo-F446RE): USART2 on PA2 (TX) / PA3 (RX), the ST-LINK virtual COM port.
 * Runs from the 16 MHz HSI (reset default; no PLL yet). millis from SysTick.
 * Register map: RM0390. Not yet run on hardware. */
#include <stdint.h>
#include "board.h"

#define REG(a) (*(volatile uint32_t*)(a))
#define RCC 0x40023800u
#define GPIOA 0x40020000u
#define USART2 0x40004400u
#ifndef BOARD_CLOCK_HZ
#define BOARD_CLOCK_HZ 16000000u
#endif
#ifndef BOARD_BAUD
#define BOARD_BAUD 115200u
#endif

static volatile uint32_t ms;
void SysTick_Handler(void) { ms++; }

void board_init(void) {
  REG(RCC + 0x30) |= 1u;          /* AHB1ENR.GPIOAEN */
  REG(RCC + 0x40) |= 1u << 17;    /* APB1ENR.USART2EN */
  (void)REG(RCC + 0x40);
  uint32_t moder = REG(GPIOA + 0x00);
  moder &= ~((3u << 4) | (3u << 6));
  moder |= (2u << 4) | (2u << 6); /* PA2, PA3: alternate function */
  REG(GPIOA + 0x00) = moder;
  uint32_t afrl = REG(GPIOA + 0x20);
  afrl &= ~((0xFu << 8) | (0xFu << 12));
  afrl |= (7u << 8) | (7u << 12); /* AF7 = USART2 */
  REG(GPIOA + 0x20) = afrl;
  REG(USART2 + 0x08) = (BOARD_CLOCK_HZ + BOARD_BAUD / 2) / BOARD_BAUD; /* BRR, oversampling 16 */
  REG(USART2 + 0x0C) = (1u << 13) | (1u << 5) | (1u << 3) | (1u << 2); /* UE | RXNEIE | TE | RE */
  REG(0xE000E100 + 4u) = 1u << (38 - 32);                                /* NVIC: USART2 = IRQ 38 */
  REG(0xE000E014) = BOARD_CLOCK_HZ / 1000u - 1u;                       /* SysTick reload */
  REG(0xE000E018) = 0;
  REG(0xE000E010) = 7; /* processor clock, interrupt, enable */
}

void board_uart_putc(uint8_t byte) {
  while (!(REG(USART2 + 0x00) & (1u << 7))) { /* TXE */
  }
  REG(USART2 + 0x04) = byte;
}

/* USART2 receive interrupt: the data register holds one byte, so it is moved to the HAL's ring
 * at once (reading DR also clears an overrun). */
void Board_IRQHandler(void) {
  uint32_t sr = REG(USART2 + 0x00);
  if (sr & ((1u << 5) | (1u << 3))) { /* RXNE | ORE */
    uint8_t b = (uint8_t)REG(USART2 + 0x04);
    if (sr & (1u << 5)) board_rx_push(b);
  }
}

int board_uart_getc(void) { return -1; /* interrupt-driven: see Board_IRQHandler */ }

uint32_t board_millis(void) { return ms; }
