/* Cortex-M startup shared by every board: vector table, .data/.bss init, FPU enable, main().
 * Symbols come from the linker script that host/firmware/linker.ts generates per board. */
#include <stdint.h>
#include "board.h"

extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end, __stack_top;
extern int main(void);
extern void SysTick_Handler(void);

void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
/* Every external interrupt enters here; a driver that enables its UART interrupt defines it
 * (only that one interrupt is ever enabled). */
void Board_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));

#define IRQS 48 /* 16 + 48 entries = 256 bytes: VTOR alignment stays 256 (RP2040: 0x10000100) */
#define IRQ16(h) h, h, h, h, h, h, h, h, h, h, h, h, h, h, h, h

__attribute__((section(".vectors"), used)) void (*const vector_table[16 + IRQS])(void) = {
    (void (*)(void))(&__stack_top),
    Reset_Handler,
    Default_Handler,   /* NMI */
    HardFault_Handler, /* HardFault */
    HardFault_Handler, /* MemManage */
    HardFault_Handler, /* BusFault */
    HardFault_Handler, /* UsageFault */
    0, 0, 0, 0,
    Default_Handler,   /* SVCall */
    Default_Handler,   /* DebugMon */
    0,
    Default_Handler,   /* PendSV */
    SysTick_Handler,   /* SysTick */
    IRQ16(Board_IRQHandler), IRQ16(Board_IRQHandler), IRQ16(Board_IRQHandler),
};

void Reset_Handler(void) {
  uint32_t* src = &__data_load;
  for (uint32_t* dst = &__data_start; dst < &__data_end;) *dst++ = *src++;
  for (uint32_t* dst = &__bss_start; dst < &__bss_end;) *dst++ = 0;
#if defined(__ARM_FP)
  /* CPACR: full access to CP10/CP11 (the FPU) before any float instruction runs. */
  *(volatile uint32_t*)0xE000ED88 |= (0xFu << 20);
  __asm volatile("dsb\n isb" ::: "memory");
#endif
  main();
  for (;;) {
  }
}

void Default_Handler(void) {
  for (;;) {
  }
}

void HardFault_Handler(void) {
  board_puts("FAULT\n");
  for (;;) {
  }
}

/* A weak SysTick handler so families that do not use SysTick need not define one. */
__attribute__((weak)) void SysTick_Handler(void) {}
