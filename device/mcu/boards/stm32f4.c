/* STM32F4 (Nucleo-F446RE): core at 180 MHz from the PLL, USART2 on PA2 (TX) / PA3 (RX), the
 * ST-LINK virtual COM port, millis from SysTick. Register map: RM0390. Not yet run on hardware.
 * SysTick interrupts every 50 ms only (millis interpolates from the counter), so an idle board
 * wakes 20 times a second, not 1000.
 *
 * Clocks (RM0390 6.3, the sequence of ST's HAL for 180 MHz): PLL on the 16 MHz HSI (the Nucleo's
 * HSE is the ST-LINK's MCO, which a board cut from its programmer loses), M 8 -> 2 MHz,
 * N 180 -> VCO 360 MHz, P 2 -> 180 MHz; voltage scale 1 and over-drive (needed above 168 MHz);
 * 5 flash wait states (2.7-3.6 V) with prefetch and both ART caches; AHB 180, APB1 45 (USART2,
 * max 45), APB2 90 MHz. Every wait is bounded: if a ready flag never comes, the core stays on
 * the HSI and the UART and SysTick are set up for the clock actually running. That is what
 * happens on QEMU's netduinoplus2 (STM32F405: it models neither RCC nor PWR), where
 * tests/qemu-clock-idle.test.ts runs this image. */
#include <stdint.h>
#include "board.h"

#define REG(a) (*(volatile uint32_t*)(a))
#define RCC 0x40023800u
#define PWR 0x40007000u
#define FLASH_IF 0x40023C00u
#define GPIOA 0x40020000u
#define USART2 0x40004400u
#define HSI_HZ 16000000u
#ifndef BOARD_CLOCK_HZ
#define BOARD_CLOCK_HZ 180000000u
#endif
#ifndef BOARD_BAUD
#define BOARD_BAUD 115200u
#endif

/** The core clock actually running (HSI until the PLL is up). */
uint32_t board_clock_hz = HSI_HZ;
static uint32_t apb1_hz = HSI_HZ;

#define TICK_MS 50u
#define SYST_CSR 0xE000E010u
#define SYST_RVR 0xE000E014u
#define SYST_CVR 0xE000E018u
static volatile uint32_t ticks;
void SysTick_Handler(void) { ticks++; }

/* Polls a flag a bounded number of times (~0.1 s at 16 MHz; the PLL locks in ~0.1 ms). */
static int wait_flag(uint32_t reg, uint32_t mask, uint32_t want) {
  for (uint32_t i = 0; i < 200000u; i++)
    if ((REG(reg) & mask) == want) return 1;
  return 0;
}

/* Brings the core to BOARD_CLOCK_HZ (180 MHz) or leaves it on the HSI; see the file comment. */
void board_clocks_init(void) {
  REG(RCC + 0x40) |= 1u << 28; /* APB1ENR.PWREN */
  (void)REG(RCC + 0x40);
  REG(PWR + 0x00) |= 3u << 14; /* PWR_CR.VOS = scale 1 */
  /* PLLCFGR: M 8, N 180, P /2 (00), source HSI, Q 8, R 2 (Q and R feed USB/I2S: unused) */
  REG(RCC + 0x04) = 8u | (180u << 6) | (0u << 16) | (0u << 22) | (8u << 24) | (2u << 28);
  REG(RCC + 0x00) |= 1u << 24; /* CR.PLLON */
  if (!wait_flag(RCC + 0x00, 1u << 25, 1u << 25)) return; /* PLLRDY */
  REG(PWR + 0x00) |= 1u << 16; /* ODEN */
  if (!wait_flag(PWR + 0x04, 1u << 16, 1u << 16)) return; /* CSR.ODRDY */
  REG(PWR + 0x00) |= 1u << 17; /* ODSWEN */
  if (!wait_flag(PWR + 0x04, 1u << 17, 1u << 17)) return; /* CSR.ODSWRDY */
  /* wait states before the clock goes up: ACR LATENCY 5, PRFTEN, ICEN, DCEN */
  REG(FLASH_IF + 0x00) = 5u | (1u << 8) | (1u << 9) | (1u << 10);
  if ((REG(FLASH_IF + 0x00) & 0xFu) != 5u) return;
  uint32_t cfgr = REG(RCC + 0x08) & ~((0xFu << 4) | (7u << 10) | (7u << 13) | 3u);
  REG(RCC + 0x08) = cfgr | (5u << 10) | (4u << 13); /* HPRE /1, PPRE1 /4, PPRE2 /2 */
  REG(RCC + 0x08) = cfgr | (5u << 10) | (4u << 13) | 2u; /* SW = PLL */
  if (!wait_flag(RCC + 0x08, 3u << 2, 2u << 2)) { /* SWS = PLL */
    REG(RCC + 0x08) = cfgr; /* back to HSI with undivided buses */
    return;
  }
  board_clock_hz = BOARD_CLOCK_HZ;
  apb1_hz = BOARD_CLOCK_HZ / 4u;
}

void board_init(void) {
  board_clocks_init();
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
  REG(USART2 + 0x08) = (apb1_hz + BOARD_BAUD / 2) / BOARD_BAUD; /* BRR, oversampling 16 */
  REG(USART2 + 0x0C) = (1u << 13) | (1u << 5) | (1u << 3) | (1u << 2); /* UE | RXNEIE | TE | RE */
  REG(0xE000E100 + 4u) = 1u << (38 - 32);                              /* NVIC: USART2 = IRQ 38 */
  REG(SYST_RVR) = board_clock_hz / 1000u * TICK_MS - 1u; /* < 2^24 up to 335 MHz */
  REG(SYST_CVR) = 0;
  REG(SYST_CSR) = 7; /* processor clock, interrupt, enable */
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

uint32_t board_millis(void) {
  uint32_t t, v;
  do { /* a tick between the two reads: read again */
    t = ticks;
    v = REG(SYST_CVR);
  } while (t != ticks);
  return t * TICK_MS + (REG(SYST_RVR) - v) / (board_clock_hz / 1000u);
}
