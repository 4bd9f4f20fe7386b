/* Test builds only (-DEDGEPROP_CANARIES=<pattern>, tests/qemu-memcheck.test.ts): guard words
 * around everything a stray wasm access must not reach, checked after every poll that used the
 * UART. Included by hal.c in place of its plain `fw_instance`. After such a poll the board
 * prints "CANARY <broken bits> <window words equal to the pattern>" whenever the pair changed:
 *   1 the instance (wasm globals, tables, memory descriptor) lost a guard word before or after it
 *   2 the bottom half of the native stack is no longer painted (the firmware uses < 2 KiB)
 *   4 a guard word right below or above the mask window changed
 *   8 main()'s frame canary changed (the live stack)
 *  16 the memory descriptor moved (data pointer or size changed without memory.grow)
 * The pattern count shows where the test kernel's stores landed: inside the window. */
#include <stdint.h>

#define CANARY_WORD 0xC0FFEE42u
#define GUARD_WORDS 16
extern uint32_t __stack_bottom;

static struct {
  uint32_t pre[GUARD_WORDS];
  Z_fw_instance_t fw;
  uint32_t post[GUARD_WORDS];
} guarded;
#define fw_instance guarded.fw

#ifdef EDGEPROP_WINDOW_BYTES
extern uint32_t edgeprop_window_guard_lo[GUARD_WORDS], edgeprop_window_guard_hi[GUARD_WORDS];
extern uint8_t edgeprop_wasm_window[];
#endif

static uint32_t canary_last_bits = 0xFFFFFFFFu, canary_last_count = 0xFFFFFFFFu;
static uint8_t* canary_data;
static uint32_t canary_size;
void board_puts(const char* s);
static void put_u32(uint32_t v);

static uint32_t* stack_paint_end(void) {
  return &__stack_bottom + 4096 / 4; /* bottom 4 KiB of the 8 KiB stack */
}

static void canary_init(void) {
  for (int i = 0; i < GUARD_WORDS; i++) guarded.pre[i] = guarded.post[i] = CANARY_WORD;
  for (uint32_t* p = &__stack_bottom; p < stack_paint_end(); p++) *p = CANARY_WORD;
#ifdef EDGEPROP_WINDOW_BYTES
  for (int i = 0; i < GUARD_WORDS; i++) edgeprop_window_guard_lo[i] = edgeprop_window_guard_hi[i] = CANARY_WORD;
#endif
}

static void canary_report(int frame_ok) {
  wasm_rt_memory_t* m = Z_fwZ_memory(&fw_instance);
  if (!canary_data) {
    canary_data = m->data;
    canary_size = m->size;
  }
  uint32_t bits = 0;
  for (int i = 0; i < GUARD_WORDS; i++)
    if (guarded.pre[i] != CANARY_WORD || guarded.post[i] != CANARY_WORD) bits |= 1;
  for (uint32_t* p = &__stack_bottom; p < stack_paint_end(); p++)
    if (*p != CANARY_WORD) bits |= 2;
  uint32_t count = 0;
#ifdef EDGEPROP_WINDOW_BYTES
  for (int i = 0; i < GUARD_WORDS; i++)
    if (edgeprop_window_guard_lo[i] != CANARY_WORD || edgeprop_window_guard_hi[i] != CANARY_WORD) bits |= 4;
  const uint32_t* w = (const uint32_t*)edgeprop_wasm_window;
  for (uint32_t i = 0; i < (EDGEPROP_WINDOW_BYTES + EDGEPROP_WINDOW_SLACK) / 4; i++)
    if (w[i] == (uint32_t)(EDGEPROP_CANARIES)) count++;
#endif
  if (!frame_ok) bits |= 8;
  if (m->data != canary_data || m->size != canary_size) bits |= 16;
  if (bits == canary_last_bits && count == canary_last_count) return;
  canary_last_bits = bits;
  canary_last_count = count;
  board_puts("CANARY ");
  put_u32(bits);
  board_puts(" ");
  put_u32(count);
  board_puts("\n");
}
