/* Stub for wasm2c's wasm-rt-impl.c (wabt 1.0.32), which includes <sys/mman.h> and defines
 * static os_mmap/os_munmap/os_mprotect helpers on every non-Windows host. Neither newlib nor
 * picolibc has this header. The helpers are only *called* when WASM_RT_MEMCHECK_SIGNAL_HANDLER
 * is 1, which wasm-rt.h never selects on 32-bit targets, so failing stubs are enough. */
#ifndef EDGEPROP_SYS_MMAN_STUB_H
#define EDGEPROP_SYS_MMAN_STUB_H
#include <stddef.h>
#define PROT_NONE 0
#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_PRIVATE 2
#define MAP_ANONYMOUS 0x20
#define MAP_FAILED ((void*)-1)
static inline void* mmap(void* a, size_t n, int p, int f, int fd, long o) {
  (void)a; (void)n; (void)p; (void)f; (void)fd; (void)o;
  return MAP_FAILED;
}
static inline int munmap(void* a, size_t n) { (void)a; (void)n; return -1; }
static inline int mprotect(void* a, size_t n, int p) { (void)a; (void)n; (void)p; return -1; }
#endif
