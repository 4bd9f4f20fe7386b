// The firmware's rule registry: every learning rule this firmware can carry, one import and one
// line each (the seam's contract is rule.ts). Which of them a build carries is chosen per board
// at compile time: the host passes `--use FW_OMIT_<NAME>=1` to asc for each rule a board leaves
// out (boards/*.json `rules`, host/firmware/build.ts), and the optimiser then drops that rule's
// code entirely. HELLO `rules` lists what is carried.
//
// A line reads `if (i == <next index>) return isDefined(FW_OMIT_<NAME>) ? OMITTED : <rule>(op, arg);`.
// No table of function references and nothing built at start-up: the lines compile to a
// constant-folded chain of direct calls (the firmware allocates nothing).
import { epropRule } from "../rules/eprop/handlers";
import { decolleRule } from "../rules/decolle/handlers";
import { ostlRule } from "../rules/ostl/handlers";
import { eqpropRule } from "../rules/eqprop/handlers";

/** ruleCall's answer for a rule this build leaves out. */
export const OMITTED: i32 = -0x7ffe;
/** ruleCall's answer past the last rule. */
export const END: i32 = -0x7fff;
/** The rule CONFIGURE selects when it has no `rule` field (PROTOCOL.md). */
export const DEFAULT_RULE: string = "eprop";

/** Calls rule `i` with (op, arg) — see rule.ts — or answers OMITTED / END. */
export function ruleCall(i: i32, op: i32, arg: u32): i32 {
  // FW_OMIT_* are compile-time constants given with asc --use (absent: the rule is carried)
  if (i == 0) return isDefined(FW_OMIT_EPROP) ? OMITTED : epropRule(op, arg);
  if (i == 1) return isDefined(FW_OMIT_DECOLLE) ? OMITTED : decolleRule(op, arg);
  if (i == 2) return isDefined(FW_OMIT_OSTL) ? OMITTED : ostlRule(op, arg);
  if (i == 3) return isDefined(FW_OMIT_EQPROP) ? OMITTED : eqpropRule(op, arg);
  return END;
}
