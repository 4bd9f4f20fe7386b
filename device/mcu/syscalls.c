/* The little of libc's OS layer that the wasm2c runtime needs: a heap (_sbrk) for
 * calloc(linear memory) and realloc(memory.grow), plus stubs so newlib-nano links silently. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include "board.h"

extern uint8_t __heap_start, __heap_end;
static uint8_t* heap_top = &__heap_start;

void* _sbrk(ptrdiff_t incr) {
  if (heap_top + incr > &__heap_end || heap_top + incr < &__heap_start) {
    errno = ENOMEM;
    return (void*)-1;
  }
  uint8_t* prev = heap_top;
  heap_top += incr;
  return prev;
}

int _write(int fd, const char* buf, int len) {
  (void)fd;
  for (int i = 0; i < len; i++) board_uart_putc((uint8_t)buf[i]);
  return len;
}
int _read(int fd, char* buf, int len) { (void)fd; (void)buf; (void)len; return 0; }
int _close(int fd) { (void)fd; return -1; }
int _lseek(int fd, int off, int whence) { (void)fd; (void)off; (void)whence; return 0; }
int _fstat(int fd, struct stat* st) { (void)fd; st->st_mode = S_IFCHR; return 0; }
int _isatty(int fd) { (void)fd; return 1; }
int _getpid(void) { return 1; }
int _kill(int pid, int sig) { (void)pid; (void)sig; errno = EINVAL; return -1; }
#ifdef __PICOLIBC__
/* picolibc's raise() (reached from abort()) calls these without the underscore. */
int getpid(void) { return 1; }
int kill(int pid, int sig) { (void)pid; (void)sig; errno = EINVAL; return -1; }
#endif

void _exit(int code) {
  (void)code;
  board_puts("EXIT\n");
  for (;;) {
  }
}
