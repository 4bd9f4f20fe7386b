/* The wasm linear memory of `--memcheck mask` builds: a fixed window of EDGEPROP_WINDOW_BYTES
 * (a power of two) + EDGEPROP_WINDOW_SLACK bytes at a link-time address, in its own NOLOAD
 * section (link.ld places it; startup does not zero it). The masked accessors that
 * host/firmware/memcheck.ts writes into fw.c reach only [window, window + BYTES + SLACK); these
 * two runtime functions replace wasm-rt-impl.c's calloc/realloc versions (build.ts renames
 * those), so the memory never moves and grows only inside the window (memory.grow beyond it
 * returns -1, as on a full heap). Bounds-checked builds (`--memcheck bounds`) compile nothing here. */
#ifdef EDGEPROP_WINDOW_BYTES
#include <stdint.h>
#include <string.h>
#include "wasm-rt.h"

#define PAGE 65536u

__attribute__((section(".wasm_window"), aligned(16), used))
uint8_t edgeprop_wasm_window[EDGEPROP_WINDOW_BYTES + EDGEPROP_WINDOW_SLACK];

#ifdef EDGEPROP_CANARIES
/* guard words right below and above the window (link.ld keeps the three sections in this order) */
__attribute__((section(".wasm_window.lo"), used)) uint32_t edgeprop_window_guard_lo[16];
__attribute__((section(".wasm_window.hi"), used)) uint32_t edgeprop_window_guard_hi[16];
#endif

void wasm_rt_allocate_memory(wasm_rt_memory_t* memory, uint32_t initial_pages, uint32_t max_pages) {
  uint32_t window_pages = EDGEPROP_WINDOW_BYTES / PAGE;
  if (initial_pages > window_pages) wasm_rt_trap(WASM_RT_TRAP_OOB); /* build.ts refuses such a module */
  /* the slack too: what a wrapped access past the end reads is defined (zero until written) */
  memset(edgeprop_wasm_window, 0, sizeof edgeprop_wasm_window);
  memory->data = edgeprop_wasm_window;
  memory->pages = initial_pages;
  memory->max_pages = max_pages < window_pages ? max_pages : window_pages;
  memory->size = initial_pages * PAGE;
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t* memory, uint32_t delta) {
  uint32_t old_pages = memory->pages;
  uint32_t new_pages = old_pages + delta;
  if (new_pages < old_pages || new_pages > memory->max_pages) return (uint32_t)-1;
  /* A wrapped access may have written above the old size: memory.grow hands out zeroed pages. */
  memset(memory->data + old_pages * PAGE, 0, delta * PAGE);
  memory->pages = new_pages;
  memory->size = new_pages * PAGE;
  return old_pages;
}
#endif
