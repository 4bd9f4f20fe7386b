// Equilibrium propagation on the rule seam (EQPROP.md): `eqprop` is the estimate every backend
// computes; `eqprop-exact` is the true gradient at the exact fixed point with the case-validity
// report, so a user sees when the estimate is a gradient. `bptt` on an EqProp case (the exact
// gradient of `loss` through the free steps, ./bptt.ts) is reached through the bptt rule.
import type { RuleModule } from "../rule.ts";
import { eqpropBoard } from "./board.ts";
import { eqpropExact } from "./exact.ts";
import { eqpropArena } from "./layout.ts";
import { eqpropReference } from "./reference.ts";
import { parseEqpropCase, type EqpropCase } from "./schema.ts";
import { eqpropTraining } from "./training.ts";
import { eqpropWasm } from "./wasm.ts";

export const eqpropRule: RuleModule<EqpropCase> = {
  name: "eqprop",
  summary: "equilibrium propagation (Scellier & Bengio 2017): free and nudged relaxations, one-sided or symmetric contrastive estimate",
  kinds: ["eqprop"],
  parseCase: parseEqpropCase,
  reference: eqpropReference,
  wasm: eqpropWasm,
  board: eqpropBoard,
  deviceBytes: (c) => eqpropArena(c.model.layers, c.model.nudge === "symmetric").bytes,
  training: eqpropTraining,
};

export const eqpropExactRule: RuleModule<EqpropCase> = {
  name: "eqprop-exact",
  summary: "the gradient EqProp estimates, by implicit differentiation at the exact free fixed point, with the case-validity report (converged, margin, stability, linear regime)",
  kinds: ["eqprop"],
  parseCase: parseEqpropCase,
  reference: eqpropExact,
};
