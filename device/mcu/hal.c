/* The wasm imports of device/HAL.md, implemented once on top of board.h, and the main loop.
 * fw.h is wasm2c's header for the firmware module (always generated with -n fw);
 * fw_glue.h is written by host/firmware/build.ts (which import modules the firmware has). */
#include <stdint.h>
#include <string.h>
#include "board.h"
#include "fw.h"
#include "fw_glue.h"
#include "wasm-rt-impl.h"

/* Probe points for the instruction-counting QEMU plugin (host/firmware/qemu/icount.c), which
 * finds them by symbol name: edgeprop_mark reports the cumulative count; a poll() bracketed by
 * edgeprop_poll_begin/end that touched the UART (edgeprop_io) reports its own count. On real
 * boards they are a call and a return each. */
#define PROBE(name) \
  __attribute__((noipa, used)) void name(void) { __asm volatile("" ::: "memory"); }
PROBE(edgeprop_mark)
PROBE(edgeprop_poll_begin)
PROBE(edgeprop_poll_end)
PROBE(edgeprop_io)

struct Z_hal_instance_t {
  wasm_rt_memory_t* mem;
};
static struct Z_hal_instance_t hal_instance;
#ifdef EDGEPROP_CANARIES
#include "canaries.h"
#else
static Z_fw_instance_t fw_instance;
#endif
static int poll_io; /* the current poll read or wrote the UART */

/* A firmware that spreads work over several polls exports busy() (device/HAL.md). */
#if FW_HAS_BUSY
#define FW_BUSY Z_fwZ_busy(&fw_instance)
#else
#define FW_BUSY 0
#endif

#if FW_IMPORTS_ENV
struct Z_env_instance_t {
  int unused;
};
static struct Z_env_instance_t env_instance;
#endif

void board_puts(const char* s) {
  while (*s) board_uart_putc((uint8_t)*s++);
}

static void put_u32(uint32_t v) {
  char tmp[11];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) board_uart_putc((uint8_t)tmp[--n]);
}

/* Receive ring filled by interrupt-driven drivers (single producer: the ISR; single consumer:
 * uart_read). It keeps the HAL's promise that >= 256 bytes survive between two polls on UARTs
 * with a one-byte receive register (STM32, nRF52), and holds two whole frames of the firmware's
 * maximum size (2048 bytes): a link faster than the firmware (USB CDC, or QEMU, which delivers
 * as fast as the interrupt takes bytes) then never drops a request while a long one runs. */
#define RX_RING 4096u
static volatile uint8_t rx_ring[RX_RING];
static volatile uint32_t rx_head, rx_tail, rx_dropped;

void board_rx_push(uint8_t byte) {
  uint32_t h = rx_head;
  if (h - rx_tail >= RX_RING) {
    rx_dropped++;
    return;
  }
  rx_ring[h % RX_RING] = byte;
  rx_head = h + 1;
}

int hal_rx_pending(void) { return rx_head != rx_tail; }

/* Interrupt-driven receivers: sleep unless a byte is already in the ring. Interrupts are masked
 * around the check so that a byte arriving between the check and `wfi` still wakes the core
 * (an interrupt pending while masked ends `wfi`); its handler runs at `cpsie`. */
__attribute__((weak)) void board_idle(void) {
  __asm volatile("cpsid i" ::: "memory");
  if (!hal_rx_pending()) __asm volatile("wfi" ::: "memory");
  __asm volatile("cpsie i" ::: "memory");
}

static int rx_pop(void) {
  uint32_t t = rx_tail;
  if (t == rx_head) return board_uart_getc();
  int c = rx_ring[t % RX_RING];
  rx_tail = t + 1;
  return c;
}

static uint8_t* span(uint32_t ptr, uint32_t len) {
  wasm_rt_memory_t* m = hal_instance.mem;
  if ((uint64_t)ptr + len > m->size) wasm_rt_trap(WASM_RT_TRAP_OOB);
  return m->data + ptr;
}

void Z_halZ_uart_write(struct Z_hal_instance_t* h, u32 ptr, u32 len) {
  (void)h;
  const uint8_t* p = span(ptr, len);
  edgeprop_io();
  poll_io = 1;
  for (u32 i = 0; i < len; i++) board_uart_putc(p[i]);
}

u32 Z_halZ_uart_read(struct Z_hal_instance_t* h, u32 ptr, u32 cap) {
  (void)h;
  uint8_t* p = span(ptr, cap);
  u32 n = 0;
  while (n < cap) {
    int c = rx_pop();
    if (c < 0) break;
    p[n++] = (uint8_t)c;
  }
  if (n) {
    edgeprop_io();
    poll_io = 1;
  }
  return n;
}

u32 Z_halZ_millis(struct Z_hal_instance_t* h) {
  (void)h;
  return board_millis();
}

#ifndef BOARD_HAS_STORAGE
/* RAM-backed storage (QEMU, and real boards until their flash drivers exist): not durable. */
#ifndef BOARD_STORAGE_BYTES
#define BOARD_STORAGE_BYTES 4096
#endif
static uint8_t storage_ram[BOARD_STORAGE_BYTES];
static int storage_ready;
uint32_t board_storage_size(void) { return BOARD_STORAGE_BYTES; }
static void storage_init(void) {
  if (!storage_ready) {
    memset(storage_ram, 0xFF, sizeof storage_ram); /* reads as erased flash */
    storage_ready = 1;
  }
}
void board_storage_read(uint32_t offset, uint8_t* dst, uint32_t len) {
  storage_init();
  memcpy(dst, storage_ram + offset, len);
}
void board_storage_write(uint32_t offset, const uint8_t* src, uint32_t len) {
  storage_init();
  memcpy(storage_ram + offset, src, len);
}
#endif

static u32 clamp(u32 offset, u32 len) {
  u32 size = board_storage_size();
  if (offset >= size) return 0;
  return len > size - offset ? size - offset : len;
}

u32 Z_halZ_storage_size(struct Z_hal_instance_t* h) {
  (void)h;
  return board_storage_size();
}

u32 Z_halZ_storage_read(struct Z_hal_instance_t* h, u32 offset, u32 ptr, u32 len) {
  (void)h;
  uint8_t* p = span(ptr, len);
  u32 n = clamp(offset, len);
  if (n) board_storage_read(offset, p, n);
  return n;
}

u32 Z_halZ_storage_write(struct Z_hal_instance_t* h, u32 offset, u32 ptr, u32 len) {
  (void)h;
  const uint8_t* p = span(ptr, len);
  u32 n = clamp(offset, len);
  if (n) board_storage_write(offset, p, n);
  return n;
}

#if FW_IMPORTS_ENV
void Z_envZ_abort(struct Z_env_instance_t* e, u32 msg, u32 file, u32 line, u32 col) {
  (void)e;
  (void)msg;
  (void)file;
  board_puts("ABORT ");
  put_u32(line);
  board_uart_putc(':');
  put_u32(col);
  board_uart_putc('\n');
  for (;;) {
  }
}
#endif


int main(void) {
#ifdef EDGEPROP_CANARIES
  volatile uint32_t frame_canary = CANARY_WORD;
  canary_init();
#endif
  board_init();
  int trap = wasm_rt_impl_try();
  if (trap) {
    board_puts("TRAP ");
    put_u32((uint32_t)trap);
    board_uart_putc(' ');
    board_puts(wasm_rt_strerror((wasm_rt_trap_t)trap));
    board_uart_putc('\n');
    for (;;) {
    }
  }
  wasm_rt_init();
  Z_fw_init_module();
  Z_fw_instantiate(&fw_instance, FW_INSTANTIATE_ARGS);
  hal_instance.mem = Z_fwZ_memory(&fw_instance);
#if FW_HAS_BOARD_ID && defined(BOARD_ID_STR)
  {
    /* Optional export BOARD_ID (device/HAL.md): address of 16 bytes for the board id. */
    const char* id = BOARD_ID_STR;
    uint8_t* dst = span(*Z_fwZ_BOARD_ID(&fw_instance), 16);
    uint32_t i = 0;
    for (; i < 15 && id[i]; i++) dst[i] = (uint8_t)id[i];
    dst[i] = 0;
  }
#endif
#if FW_HAS_NUMERICS && defined(BOARD_NUMERICS)
  /* Optional export NUMERICS (device/HAL.md): address of a u32 for the board's numerics (1 = fixed16). */
  {
    uint8_t* dst = span(*Z_fwZ_NUMERICS(&fw_instance), 4);
    const uint32_t v = BOARD_NUMERICS;
    memcpy(dst, &v, 4);
  }
#endif
  edgeprop_mark();
  Z_fwZ_init(&fw_instance);
  edgeprop_mark();
  for (;;) {
    poll_io = 0;
    edgeprop_poll_begin();
    Z_fwZ_poll(&fw_instance);
    edgeprop_poll_end();
#ifdef EDGEPROP_CANARIES
    if (poll_io) canary_report(frame_canary == CANARY_WORD);
#endif
    /* idle between bytes instead of spinning (a real board saves power, QEMU a host core) */
    if (!FW_BUSY) board_idle();
  }
}
