// The generic half of the model messages: which rule is active, and routing. CONFIGURE (and a
// CHECKPOINT that restores a model) may name a rule in its `rule` field; CONFIGURE without one
// selects DEFAULT_RULE. A switch to another rule first makes the previous one forget its model
// (RESET 8: the arena is shared). Every other model message goes to the active rule; RESET, the
// pending-request continuation, HELLO's `ram`, `caps` and `rules` are answered from here with
// the rules' help. The rules' side of the seam is rule.ts; the registry is rules.ts.
import { mpReadBegin, mpReadMap, mpNext, mpSkip, mpStrIs, tPtr, tLen, T_STR, mpWriteArray, mpWriteStr } from "./msgpack";
import { fail, failName, failNameStr, errCode, E_BAD_FIELD, E_UNSUPPORTED, E_NOT_CONFIGURED, E_INTERNAL } from "./errors";
import { readKey, M_CONFIGURE, M_CHECKPOINT } from "./dispatcher";
import { H_DONE, OP_NAME, OP_CONTINUE, OP_RESET, OP_BYTES, OP_CAPS, arenaStart } from "./rule";
import { ruleCall, OMITTED, END, DEFAULT_RULE } from "./rules";

/** Index of the rule model messages go to (-1 before the first CONFIGURE selects one). */
let active: i32 = -1;
/** The rule whose request is pending (H_PENDING), for the continuation. */
let pendingRule: i32 = -1;

/** The name of carried rule i (a static string), or null if i is left out or past the end. */
function ruleName(i: i32): string | null {
  const p = ruleCall(i, OP_NAME, 0);
  return p == OMITTED || p == END ? null : changetype<string>(<usize>p);
}

/** Index of the carried rule whose name equals the current str token, or -1. */
function findRule(): i32 {
  for (let i = 0; ruleCall(i, OP_NAME, 0) != END; i++) {
    const name = ruleName(i);
    if (name != null && mpStrIs(name)) return i;
  }
  return -1;
}

/** Index of DEFAULT_RULE, or -1 if this build leaves it out. */
function findDefault(): i32 {
  for (let i = 0; ruleCall(i, OP_NAME, 0) != END; i++) {
    const name = ruleName(i);
    if (name != null && name == DEFAULT_RULE) return i;
  }
  return -1;
}

/**
 * The rule a CONFIGURE/CHECKPOINT body names (`rule` field), `dflt` if it names none; -2 with the
 * error set if the field is bad or the firmware does not carry the rule.
 */
function selectRule(body: usize, len: u32, dflt: i32): i32 {
  mpReadBegin(body, len);
  const n = mpReadMap();
  let r = dflt;
  for (let i = 0; i < n; i++) {
    if (!readKey()) return -2;
    if (mpStrIs("rule")) {
      if (mpNext() != T_STR) { fail(E_BAD_FIELD, "rule", "must be a string (a rule's name, see HELLO rules)"); return -2; }
      r = findRule();
      if (r < 0) { failName(E_UNSUPPORTED, "rule", "this firmware does not carry rule '$' (HELLO lists its rules)", tPtr, tLen); return -2; }
    } else mpSkip();
  }
  mpReadBegin(body, len);
  return r;
}

/** A model message (CONFIGURE .. CHECKPOINT) with its body at [body, body+len). */
export function hModel(type: u32, body: usize, len: u32): i32 {
  // CONFIGURE selects the default rule unless it names one; so does anything else before the
  // first CONFIGURE (a CHECKPOINT restoring a model after a reboot, or a message the rule
  // answers NOT_CONFIGURED after checking its fields).
  const dflt = type == M_CONFIGURE || active < 0 ? findDefault() : active;
  let r = dflt;
  if (type == M_CONFIGURE || type == M_CHECKPOINT) {
    r = selectRule(body, len, dflt);
    if (r == -2) return errCode;
  }
  if (r < 0 && type != M_CONFIGURE && type != M_CHECKPOINT) return fail(E_NOT_CONFIGURED, "", "model message before CONFIGURE");
  if (r < 0) return failNameStr(E_UNSUPPORTED, "rule", "this firmware does not carry the default rule '$' (send `rule`; HELLO lists its rules)", DEFAULT_RULE);
  if (r != active && (type == M_CONFIGURE || type == M_CHECKPOINT)) {
    if (active >= 0) ruleCall(active, OP_RESET, 8); // the arena is shared: the old model goes
    active = r;
  }
  pendingRule = r;
  return ruleCall(r, <i32>type, 0);
}

/** The next slice of a pending model message (the dispatcher calls it from each poll()). */
export function hContinue(): i32 {
  if (pendingRule < 0) return fail(E_INTERNAL, "", "no pending request");
  return ruleCall(pendingRule, OP_CONTINUE, 0);
}

/** RESET: to the active rule (nothing to reset before a CONFIGURE). */
export function hReset(k: u32): i32 {
  return active >= 0 ? ruleCall(active, OP_RESET, k) : H_DONE;
}

/** Bytes of linear memory above the model (or above the static data without a model). */
export function hFreeRam(): u32 {
  const top = arenaStart() + <usize>(active >= 0 ? <u32>ruleCall(active, OP_BYTES, 0) : 0);
  const end = <usize>memory.size() << 16;
  return end > top ? <u32>(end - top) : 0;
}

/** HELLO `caps`: each carried rule's, then the firmware's own. */
export function hWriteCaps(): void {
  let n: i32 = 2;
  for (let i = 0; ruleCall(i, OP_NAME, 0) != END; i++) if (ruleName(i) != null) n += ruleCall(i, OP_CAPS, 0);
  mpWriteArray(<u32>n);
  for (let i = 0; ruleCall(i, OP_NAME, 0) != END; i++) if (ruleName(i) != null) ruleCall(i, OP_CAPS, 1);
  mpWriteStr("checkpoint");
  mpWriteStr("f32");
}

/** HELLO `rules`: the names of the rules this build carries. */
export function hWriteRules(): void {
  let n: u32 = 0;
  for (let i = 0; ruleCall(i, OP_NAME, 0) != END; i++) if (ruleName(i) != null) n++;
  mpWriteArray(n);
  for (let i = 0; ruleCall(i, OP_NAME, 0) != END; i++) {
    const name = ruleName(i);
    if (name != null) mpWriteStr(name);
  }
}
