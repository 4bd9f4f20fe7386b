// Seeded EqProp cases for the tests: uniform weights of a chosen scale, biases and inputs in
// [0, 1], targets in [0, 1]. Small weights and mid-range biases keep most units active (the
// gradient-valid regime); large ones saturate units and couple layers strongly.
import { Pcg32 } from "../../host/rng/pcg32.ts";
import type { EqpropCase, EqpropModel } from "../../host/rules/eqprop/schema.ts";

export interface CaseOptions extends Partial<Omit<EqpropModel, "layers">> {
  layers?: number[];
  seed?: number;
  samples?: number;
  /** Weights uniform in [-wScale, wScale]. */
  wScale?: number;
  /** Biases uniform in [bLow, bHigh]. */
  bLow?: number;
  bHigh?: number;
}

export function eqpropCase(o: CaseOptions = {}): EqpropCase {
  const r = new Pcg32(BigInt(o.seed ?? 1), 77n);
  const u = (lo: number, hi: number) => lo + (hi - lo) * r.uniform();
  const layers = o.layers ?? [4, 8, 3];
  const w = o.wScale ?? 0.3;
  const L = layers.length - 1;
  const N = o.samples ?? 3;
  return {
    name: `eqprop-seed-${o.seed ?? 1}`,
    model: {
      layers,
      beta: o.beta ?? 0.01,
      epsilon: o.epsilon ?? 0.5,
      freeSteps: o.freeSteps ?? 300,
      nudgedSteps: o.nudgedSteps ?? 200,
      nudge: o.nudge ?? "one-sided",
      lossReduction: o.lossReduction ?? "sum",
    },
    params: {
      W: Array.from({ length: L }, (_, l) => Array.from({ length: layers[l + 1]! }, () => Array.from({ length: layers[l]! }, () => u(-w, w)))),
      b: Array.from({ length: L }, (_, l) => Array.from({ length: layers[l + 1]! }, () => u(o.bLow ?? 0.2, o.bHigh ?? 0.8))),
    },
    inputs: Array.from({ length: N }, () => Array.from({ length: layers[0]! }, () => r.uniform())),
    targets: Array.from({ length: N }, () => Array.from({ length: layers[L]! }, () => r.uniform())),
  };
}
