// e-prop (MODEL.md; Bellec et al. 2020): a recurrent LIF/ALIF network whose gradients are
// eligibility traces times online learning signals. Schema host/case/parse.ts, reference
// host/reference/eprop.ts, device kernels device/kernels/eprop.ts driven by host/device/driver.ts
// (wasm) and device/rules/eprop/handlers.ts (firmware), planner host/device/planner.ts.
import { parseCase, warnUnknownFields } from "../../case/parse.ts";
import { deviceGrad } from "../../device/driver.ts";
import { planModel, planSize } from "../../device/planner.ts";
import type { Json } from "../../input/fields.ts";
import type { Case } from "../../model/types.ts";
import { epropGrad } from "../../reference/eprop.ts";
import type { RuleModule } from "../rule.ts";
import { epropOnBoard } from "./board.ts";
import { epropDevice } from "./device-trainer.ts";
import { recurrentTraining } from "./training.ts";

/** A hil-case/1 recurrent case (MODEL.md), warning about model fields edgeprop does not read. */
export function readRecurrentCase(json: Json, source: string): Case {
  warnUnknownFields(json, source);
  return parseCase(json, source);
}

export const epropRule: RuleModule<Case> = {
  name: "eprop",
  summary: "e-prop: eligibility traces x online learning signals (MODEL.md), on the host, in WASM and on boards",
  kinds: ["recurrent"],
  parseCase: readRecurrentCase,
  reference: (c) => ({ ...epropGrad(c) }),
  async wasm(c, build) {
    const { loss, grads } = await deviceGrad(c, build);
    return { loss, grads };
  },
  board: epropOnBoard,
  deviceBytes: (c, opts = {}) => planModel(c.model, c.feedback.kind, opts).bytes,
  deviceSize: (c, opts = {}) => planSize(planModel(c.model, c.feedback.kind, opts)),
  training: recurrentTraining(epropGrad, epropDevice),
};
