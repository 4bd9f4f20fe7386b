/* edgeprop's instruction counter for QEMU TCG (system mode, one vCPU): a deterministic cost
 * measure for firmware on the emulated Cortex-M boards.
 *
 * Debian's QEMU supports plugins but ships no qemu-plugin.h, so the few API declarations used
 * here are written out below (QEMU 7.2, plugin API version 1; they are stable since 4.2).
 * Built with the host gcc by host/firmware/qemu.ts into build/qemu-plugins/.
 *
 * Every executed guest instruction adds 1 to a 64-bit counter (inline, no callback). Args:
 *   out=PATH     file the reports go to (default stderr)
 *   mark=ADDR    each execution of the instruction at ADDR writes "mark <count>"
 *   begin=ADDR end=ADDR io=ADDR
 *                each busy poll bracketed by begin/end writes "poll <insns>", the instructions
 *                executed from begin to end (the firmware's cost of that poll). A poll is busy
 *                if io executed in it (it read or wrote the UART) or if it cost more than the
 *                cheapest poll seen so far: an idle poll (nothing received, nothing to do) always
 *                costs the same, so that minimum is the idle cost after the first poll; polls
 *                that compute without I/O (bounded work per poll) are thus counted too.
 * At exit it writes "total <count>". A probe reports the count of instructions executed before
 * it (the probe instruction is counted afterwards), so the difference between two reports is
 * exactly the instructions executed from the first probe instruction up to the second. */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the subset of qemu-plugin.h (QEMU 7.2) this plugin uses ---- */
#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
typedef uint64_t qemu_plugin_id_t;
typedef struct {
  const char* target_name;
  struct {
    int min;
    int cur;
  } version;
  bool system_emulation;
  union {
    struct {
      int smp_vcpus;
      int max_vcpus;
    } system;
  };
} qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb* tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void* userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void* userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb* tb);
struct qemu_plugin_insn* qemu_plugin_tb_get_insn(const struct qemu_plugin_tb* tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn* insn);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn* insn, enum qemu_plugin_op op, void* ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn* insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void* userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void* userdata);
/* ---- end of the API subset ---- */

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

enum probe { P_MARK, P_BEGIN, P_END, P_IO, P_COUNT };
static const char* const probe_names[P_COUNT] = {"mark", "begin", "end", "io"};
static uint64_t probe_addr[P_COUNT];
static bool probe_set[P_COUNT];

static uint64_t insns;
static uint64_t poll_start;
static bool poll_io;
static uint64_t idle_cost = UINT64_MAX;
static FILE* out;

static void on_probe(unsigned int vcpu, void* userdata) {
  (void)vcpu;
  switch ((enum probe)(uintptr_t)userdata) {
    case P_MARK:
      fprintf(out, "mark %" PRIu64 "\n", insns);
      fflush(out);
      break;
    case P_BEGIN:
      poll_start = insns;
      poll_io = false;
      break;
    case P_IO:
      poll_io = true;
      break;
    case P_END: {
      uint64_t cost = insns - poll_start;
      if (poll_io || (idle_cost != UINT64_MAX && cost > idle_cost)) {
        fprintf(out, "poll %" PRIu64 "\n", cost);
        fflush(out);
      }
      if (!poll_io && cost < idle_cost) idle_cost = cost;
      poll_io = false;
      break;
    }
    default:
      break;
  }
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb* tb) {
  (void)id;
  size_t n = qemu_plugin_tb_n_insns(tb);
  for (size_t i = 0; i < n; i++) {
    struct qemu_plugin_insn* insn = qemu_plugin_tb_get_insn(tb, i);
    qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &insns, 1);
    uint64_t pc = qemu_plugin_insn_vaddr(insn);
    for (int p = 0; p < P_COUNT; p++) {
      if (probe_set[p] && probe_addr[p] == pc) {
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_probe, QEMU_PLUGIN_CB_NO_REGS, (void*)(uintptr_t)p);
      }
    }
  }
}

static void on_atexit(qemu_plugin_id_t id, void* userdata) {
  (void)id;
  (void)userdata;
  fprintf(out, "total %" PRIu64 "\n", insns);
  fflush(out);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* info, int argc, char** argv) {
  (void)info;
  out = stderr;
  for (int i = 0; i < argc; i++) {
    const char* eq = strchr(argv[i], '=');
    if (!eq) {
      fprintf(stderr, "icount: bad argument '%s' (expected key=value)\n", argv[i]);
      return -1;
    }
    size_t klen = (size_t)(eq - argv[i]);
    const char* value = eq + 1;
    if (klen == 3 && strncmp(argv[i], "out", 3) == 0) {
      out = fopen(value, "w");
      if (!out) {
        perror(value);
        return -1;
      }
      continue;
    }
    int p = 0;
    while (p < P_COUNT && !(strlen(probe_names[p]) == klen && strncmp(argv[i], probe_names[p], klen) == 0)) p++;
    if (p == P_COUNT) {
      fprintf(stderr, "icount: unknown argument '%s'\n", argv[i]);
      return -1;
    }
    probe_addr[p] = strtoull(value, NULL, 0) & ~1ull; /* Thumb bit */
    probe_set[p] = true;
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
  qemu_plugin_register_atexit_cb(id, on_atexit, NULL);
  return 0;
}
