/* RP2040 second-stage bootloader (the 256 bytes the boot ROM copies from flash offset 0 to
 * SRAM and runs after checking a CRC32 in its last 4 bytes; host/firmware/build.ts writes that
 * CRC into the .bin/.uf2). It sets up the SSI for plain 03h serial reads (slow but works with
 * every flash chip), enables XIP, then enters the image's vector table at 0x10000100 (VTOR,
 * MSP, reset vector). Same approach as the Pico SDK's boot2_generic_03h. Not yet run on
 * hardware. */
  .syntax unified
  .cpu cortex-m0plus
  .thumb
  .section .boot2, "ax"
  .global _boot2_start
  .type _boot2_start, %function
  .thumb_func
_boot2_start:
  ldr r3, =0x18000000      /* XIP_SSI base */
  movs r1, #0
  str r1, [r3, #0x08]      /* SSIENR = 0: disable before configuring */
  movs r1, #4
  str r1, [r3, #0x14]      /* BAUDR = 4: clk_sys / 4 */
  ldr r1, =0x001F0300      /* CTRLR0: DFS_32 = 31, TMOD = EEPROM read (3), SPI_FRF = std */
  str r1, [r3, #0x00]
  movs r1, #0
  str r1, [r3, #0x04]      /* CTRLR1 = 0 (NDF) */
  ldr r1, =0x03000218      /* SPI_CTRLR0: XIP_CMD 0x03, INST_L 8 bits, ADDR_L 24 bits */
  ldr r2, =0xF4
  str r1, [r3, r2]
  movs r1, #1
  str r1, [r3, #0x08]      /* SSIENR = 1 */
  ldr r0, =0x10000100      /* the image's vector table */
  ldr r1, =0xE000ED08      /* VTOR */
  str r0, [r1]
  ldmia r0, {r0, r1}
  msr msp, r0
  bx r1
  .ltorg
