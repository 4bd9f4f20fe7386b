// BPTT (MODEL.md): the exact gradient of a recurrent network's loss, float64 on the host only
// (no device kernel), the reference e-prop is measured against, and a rule to train with
// (`train --rule bptt --board host`).
import type { Case } from "../../model/types.ts";
import { bpttGrad } from "../../reference/bptt.ts";
import type { RuleModule } from "../rule.ts";
import { readRecurrentCase } from "../eprop/index.ts";
import { recurrentTraining } from "../eprop/training.ts";

export const bpttRule: RuleModule<Case> = {
  name: "bptt",
  summary: "backpropagation through time: the exact gradient (MODEL.md), float64 on the host",
  // ── Stack cases (OSTL.md) plug in here, and only here ──────────────────────────────────────
  // BPTT of layer stacks is the OSTL module's (host/rules/ostl/bptt.ts exports stackBpttGrad(c)).
  // To dispatch to it: add "stack" to `kinds`; in parseCase, when caseKind(json) === "stack",
  // return the OSTL module's parsed stack case (tagged, e.g. { stack }); in reference, return
  // stackBpttGrad(c.stack) for those. The recurrent path below stays as it is.
  kinds: ["recurrent"],
  parseCase: readRecurrentCase,
  reference: (c) => ({ ...bpttGrad(c) }),
  training: recurrentTraining((c) => bpttGrad(c)),
};
