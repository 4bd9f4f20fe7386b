// Random hil-case/1 generator for tests and users. Every case keeps |v - A| above a margin at
// every step (MODEL.md "Float32 and fixed point"), so a float32 or fixed-point backend that
// disagrees on a spike has a real bug, not a rounding tie.
import { InputError } from "../input/errors.ts";
import type { Case, FeedbackKind, InputScale, LossKind, LossReduction, NeuronKind, ReadoutScale, RateReg } from "../model/types.ts";
import { Pcg32 } from "../rng/pcg32.ts";
import { simulate } from "../reference/simulate.ts";
import { parseCase } from "./parse.ts";

export interface RandomCaseOptions {
  neuron?: NeuronKind;
  recurrent?: boolean;
  loss?: LossKind;
  feedback?: Exclude<FeedbackKind, "adaptive">;
  seed?: number;
  nIn?: number;
  nRec?: number;
  nOut?: number;
  T?: number;
  /** Smallest |v - A| allowed at any step of any neuron. */
  margin?: number;
  refractory?: number;
  inputScale?: InputScale;
  readoutScale?: ReadoutScale;
  trainBias?: boolean;
  rateReg?: RateReg | null;
  lossReduction?: LossReduction;
  /** Bernoulli probability of an input spike per step. */
  inputRate?: number;
}

const MAX_ATTEMPTS = 200;

export function randomCase(opts: RandomCaseOptions = {}): Case {
  const o = {
    neuron: "lif" as NeuronKind,
    recurrent: false,
    loss: "mse" as LossKind,
    feedback: "symmetric" as const,
    seed: 1,
    nIn: 8,
    nRec: 12,
    nOut: 3,
    T: 120,
    margin: 1e-4,
    refractory: 0,
    inputScale: "one" as InputScale,
    readoutScale: "one" as ReadoutScale,
    trainBias: true,
    rateReg: null,
    lossReduction: "sum" as LossReduction,
    inputRate: 0.2,
    ...opts,
  };
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const c = draw(o, new Pcg32(o.seed, attempt));
    const tr = simulate(c);
    const worst = Math.min(...tr.u.flatMap((row, t) => row.filter((_, j) => !tr.refractory[t]![j]).map(Math.abs)));
    const spikes = tr.z.flat().reduce((a, b) => a + b, 0);
    if (worst > o.margin && spikes > 0) return c;
  }
  throw new InputError("margin", `no case with |v - A| > ${o.margin} at every step found in ${MAX_ATTEMPTS} attempts; use a smaller --margin or fewer steps`);
}

function draw(o: Required<Omit<RandomCaseOptions, "rateReg">> & { rateReg: RateReg | null }, rng: Pcg32): Case {
  const { nIn, nRec, nOut, T } = o;
  const tauMem = 20;
  const alpha = Math.exp(-1 / tauMem);
  // Inputs scaled by 1 - alpha need weights 1/(1 - alpha) larger to drive the same membrane.
  const inGain = o.inputScale === "oneMinusAlpha" ? 1 / (1 - alpha) : 1;
  const mat = (r: number, c: number, scale: number, mean = 0) =>
    Array.from({ length: r }, () => Array.from({ length: c }, () => mean + scale * rng.normal()));
  const wIn = mat(nRec, nIn, (inGain * 1.2) / Math.sqrt(nIn * o.inputRate), (inGain * 0.15) / (nIn * o.inputRate));
  const wRec = o.recurrent ? mat(nRec, nRec, (inGain * 0.4) / Math.sqrt(nRec)) : mat(nRec, nRec, 0);
  const wOut = mat(nOut, nRec, 1 / Math.sqrt(nRec));
  const bOut = Array.from({ length: nOut }, () => 0.1 * rng.normal());
  const inputs = Array.from({ length: T }, () => Array.from({ length: nIn }, () => (rng.uniform() < o.inputRate ? 1 : 0)));
  let targets: number[][];
  let mask: number[];
  if (o.loss === "mse") {
    targets = Array.from({ length: T }, (_, t) => Array.from({ length: nOut }, (_, k) => Math.sin((2 * Math.PI * (t + 7 * k)) / 50)));
    mask = new Array<number>(T).fill(1);
  } else {
    // A decision window: the mask is on for the last third, with one class per trial.
    const cls = Math.floor(rng.uniform() * nOut);
    targets = Array.from({ length: T }, () => Array.from({ length: nOut }, (_, k) => (k === cls ? 1 : 0)));
    mask = Array.from({ length: T }, (_, t) => (t >= Math.floor((2 * T) / 3) ? 1 : 0));
  }
  const beta = o.neuron === "alif" ? Array.from({ length: nRec }, () => 0.5 + rng.uniform()) : 0;
  const feedback = o.feedback === "random" ? { kind: "random", B: mat(nRec, nOut, 1 / Math.sqrt(nOut)) } : { kind: "symmetric" };
  return parseCase({
    format: "hil-case/1",
    name: `random-${o.neuron}-${o.loss}${o.recurrent ? "-rec" : ""}-${o.feedback}-seed${o.seed}`,
    model: {
      neuron: o.neuron, nIn, nRec, nOut, dt: 1, tauMem, tauOut: 15, tauAdapt: 100, beta, vTh: 1, gamma: 0.3,
      refractory: o.refractory, loss: o.loss, inputScale: o.inputScale, readoutScale: o.readoutScale,
      trainBias: o.trainBias, rateReg: o.rateReg, lossReduction: o.lossReduction,
    },
    params: { wIn, wRec, wOut, bOut },
    feedback,
    inputs,
    targets,
    mask,
  });
}
