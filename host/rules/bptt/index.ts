// BPTT: the exact gradient, float64 on the host only (no device kernel), the reference the online
// rules are measured against. One `--rule bptt` for every case shape:
//   recurrent (MODEL.md)  the hand-derived adjoints of host/reference/bptt.ts; also a rule to
//                         train with (`train --rule bptt --board host`);
//   stack (OSTL.md)       the full gradient of a LIF/ALIF layer stack (host/rules/ostl/bptt.ts),
//                         with the case's resetGrad;
//   eqprop (EQPROP.md)    the gradient of the free-phase loss through the freeSteps relaxation
//                         steps (host/rules/eqprop/bptt.ts), a self-check of the estimators.
import type { Json } from "../../input/fields.ts";
import type { Case } from "../../model/types.ts";
import { bpttGrad } from "../../reference/bptt.ts";
import type { RuleTraining } from "../../train/training.ts";
import { readRecurrentCase } from "../eprop/index.ts";
import { recurrentTraining } from "../eprop/training.ts";
import { eqpropBptt } from "../eqprop/bptt.ts";
import { parseEqpropCase, type EqpropCase } from "../eqprop/schema.ts";
import { stackBpttGrad } from "../ostl/bptt.ts";
import { parseOstlCase, type OstlCase } from "../ostl/schema.ts";
import { caseKind, type GradOutput, type RuleModule } from "../rule.ts";

/** A case as BPTT reads it: recurrent cases stay plain `Case`s (what training uses), the others are tagged. */
export type BpttCase = Case | { stack: OstlCase } | { eqprop: EqpropCase };

function parseBpttCase(json: Json, source: string): BpttCase {
  const kind = caseKind(json);
  if (kind === "stack") return { stack: parseOstlCase(json, source) };
  if (kind === "eqprop") return { eqprop: parseEqpropCase(json, source) };
  return readRecurrentCase(json, source);
}

function bpttReference(c: BpttCase): GradOutput {
  if ("stack" in c) return stackBpttGrad(c.stack);
  if ("eqprop" in c) return eqpropBptt(c.eqprop);
  return { ...bpttGrad(c) };
}

export const bpttRule: RuleModule<BpttCase> = {
  name: "bptt",
  summary: "backpropagation through time: the exact gradient (MODEL.md; OSTL.md stacks; EQPROP.md relaxation), float64 on the host",
  kinds: ["recurrent", "stack", "eqprop"],
  parseCase: parseBpttCase,
  reference: bpttReference,
  // Training with BPTT is MODEL.md's loop on recurrent networks: its run configs and tasks are
  // recurrent cases only (recurrentTraining parses them itself), so only that member of the union occurs.
  training: recurrentTraining((c) => bpttGrad(c)) as unknown as RuleTraining<BpttCase>,
};
