// The device side of the learning-rule seam: what a rule's protocol handlers implement and what
// the firmware gives them. A rule is ONE function `(op: i32, arg: u32) => i32`
// (device/rules/<name>/handlers.ts) registered in device/firmware/rules.ts. The generic part
// (handlers.ts) routes every model message to the active rule with op = the message type
// (M_CONFIGURE .. M_CHECKPOINT of dispatcher.ts) and asks it the questions below with the OP_*
// codes. A message op follows the handler contract of device/firmware/README.md: the msgpack
// reader is at the request's body map, the writer at the response body; return H_DONE, an error
// code after fail(...)/failKey(...), or H_PENDING (then OP_CONTINUE is called from every poll()).
//
// Memory: the firmware runs with `--runtime stub` and every rule places its arena at
// arenaStart() (= __heap_base, rounded up): nothing may heap-allocate — no `new`, no arrays, no
// closures; buffers are memory.data, strings are literals. Only one rule holds the arena at a
// time: before another rule is configured the previous one gets OP_RESET with bit 8 (forget the
// model).
import { mpStrIs, mpSkip } from "./msgpack";

export const H_DONE: i32 = 0;
export const H_PENDING: i32 = -1;

/** The rule's name (`--rule NAME` on the host, HELLO `rules`): return <i32>changetype<usize>("name"). */
export const OP_NAME: i32 = 0x100;
/** The next slice of the rule's pending request (it returned H_PENDING): H_DONE, H_PENDING or an error. */
export const OP_CONTINUE: i32 = 0x101;
/** RESET with bits `arg` (PROTOCOL.md: 1|2 new trial, 4 optimizer, 8 forget the model); H_DONE or an error. */
export const OP_RESET: i32 = 0x102;
/** Bytes of linear memory the configured model takes from arenaStart() on (0 when not configured). */
export const OP_BYTES: i32 = 0x103;
/** HELLO `caps` the rule adds: arg 0 → how many; arg 1 → write them (mpWriteStr each), return H_DONE. */
export const OP_CAPS: i32 = 0x104;

/** Where every rule's arena starts: the first 16-byte boundary after the firmware's static data. */
export function arenaStart(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

/**
 * In a CONFIGURE or CHECKPOINT field loop, after readKey(): true if the key is `rule` (the
 * generic part has already read it and selected this rule), with its value skipped.
 */
export function isRuleKey(): bool {
  if (!mpStrIs("rule")) return false;
  mpSkip();
  return true;
}
