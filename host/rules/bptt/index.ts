// BPTT: the exact gradient, float64 on the host only (no device kernel), the reference the online
// rules are measured against. One `--rule bptt` for every case shape:
//   recurrent (MODEL.md)  the hand-derived adjoints of host/reference/bptt.ts; also a rule to
//                         train with (`train --rule bptt --board host`);
//   stack (OSTL.md)       the full gradient of a LIF/ALIF layer stack (host/rules/ostl/bptt.ts),
//                         with the case's resetGrad; trains with OSTL's stack training (a run
//                         config with `model.layers`, or a task with `--task-opt layers=N`), so
//                         OSTL and BPTT compare at equal iterations;
//   eqprop (EQPROP.md)    the gradient of the free-phase loss through the freeSteps relaxation
//                         steps (host/rules/eqprop/bptt.ts), a self-check of the estimators.
import type { Json } from "../../input/fields.ts";
import type { Case } from "../../model/types.ts";
import { bpttGrad } from "../../reference/bptt.ts";
import { InputError } from "../../input/errors.ts";
import type { RuleTraining } from "../../train/training.ts";
import { readRecurrentCase } from "../eprop/index.ts";
import { recurrentTraining } from "../eprop/training.ts";
import { eqpropBptt } from "../eqprop/bptt.ts";
import { parseEqpropCase, type EqpropCase } from "../eqprop/schema.ts";
import { stackBpttGrad } from "../ostl/bptt.ts";
import { parseOstlCase, type OstlCase } from "../ostl/schema.ts";
import { stackTraining } from "../ostl/training.ts";
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

const recurrent = recurrentTraining((c) => bpttGrad(c)) as RuleTraining;
const stack = stackTraining(stackBpttGrad) as RuleTraining;
/** The training of a run's base case: a stack's when its model has layers. */
const trainingFor = (base: unknown) => ("layers" in (base as { model: object }).model ? stack : recurrent);

/**
 * Training with BPTT is MODEL.md's loop, on recurrent networks and on layer stacks: a run config
 * goes by its case's shape, a task by whether it asks for layers; the rest by the run's base case.
 */
const bpttTraining: RuleTraining = {
  parseRun(r, source) {
    const kind = caseKind(r);
    if (kind === "eqprop") throw new InputError("model.kind", "BPTT trains recurrent and stack cases; EqProp cases train with --rule eqprop");
    return (kind === "stack" ? stack : recurrent).parseRun(r, source);
  },
  fromTask: (o) => (o.taskOptions.layers !== undefined ? stack : recurrent).fromTask!(o),
  tensors: (base) => trainingFor(base).tensors(base),
  initialState: (spec) => trainingFor(spec.base).initialState(spec),
  host: (spec, initial) => trainingFor(spec.base).host(spec, initial),
  sample: (spec, n, outcome) => trainingFor(spec.base).sample?.(spec, n, outcome),
};

export const bpttRule: RuleModule<BpttCase> = {
  name: "bptt",
  summary: "backpropagation through time: the exact gradient (MODEL.md; OSTL.md stacks; EQPROP.md relaxation), float64 on the host",
  kinds: ["recurrent", "stack", "eqprop"],
  parseCase: parseBpttCase,
  reference: bpttReference,
  // Its run configs and tasks are parsed by the two trainings themselves (recurrent `Case`s and
  // `OstlCase`s), so the tagged members of the union never occur in training.
  training: bpttTraining as RuleTraining<BpttCase>,
};
