// The margin cases (MODEL.md) on which the fixed-point core is compared with float64 e-prop,
// shared by the accuracy test and the benchmark so both speak of the same five cases.
import type { RandomCaseOptions } from "../host/case/random.ts";

export const MARGIN_CASES: RandomCaseOptions[] = [
  { seed: 1 },
  { seed: 2, recurrent: true },
  { seed: 3, loss: "ce" },
  { seed: 4, recurrent: true, feedback: "random" },
  { seed: 5, recurrent: true, inputScale: "oneMinusAlpha", readoutScale: "oneMinusKappa", lossReduction: "mean" },
];
