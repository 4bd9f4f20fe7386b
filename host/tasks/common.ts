// Shared pieces of the task generators: seeded random streams, weight initialisation, option
// checking, Poisson spike trains and the metrics (accuracy, NMSE).
import { InputError } from "../input/errors.ts";
import { intIn, numberIn } from "../input/fields.ts";
import { checkMemory } from "../model/memory.ts";
import type { Matrix, ModelConfig } from "../model/types.ts";
import { Pcg32 } from "../rng/pcg32.ts";
import type { OptionValue, TaskOptions, Trial } from "./task.ts";

/**
 * Independent PCG32 streams of one seed. Each purpose has its own stream id (the PCG32
 * sequence, high 32 bits) and index (low 32 bits), so trial 17 does not depend on how many
 * numbers trial 16 drew, and test trials never overlap training trials.
 */
export const Stream = {
  params: 1,
  feedback: 2,
  frozen: 3, // the frozen input / target of pattern generation
  train: 4, // training trial i
  test: 5, // test trial i
  order: 6, // data-set shuffling
} as const;

export function rng(seed: number, stream: number, index = 0): Pcg32 {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new InputError("seed", `expected a non-negative integer, got ${seed}`);
  return new Pcg32(BigInt(seed), (BigInt(stream) << 32n) | BigInt(index >>> 0));
}

/** rows x cols matrix with entries N(0, std^2). */
export function gaussian(r: Pcg32, rows: number, cols: number, std: number): Matrix {
  const m: Matrix = [];
  for (let i = 0; i < rows; i++) {
    const row = new Array<number>(cols);
    for (let j = 0; j < cols; j++) row[j] = std * r.normal();
    m.push(row);
  }
  return m;
}

/**
 * The initialisation every task uses (Bellec et al. 2020, scaled to the `inputScale: "one"`
 * membrane of MODEL.md):
 *   wIn  ~ N(0, (gIn  * vTh)^2 / nIn)
 *   wRec ~ N(0, (gRec * vTh)^2 / nRec), diagonal 0
 *   wOut ~ N(0, gOut^2 / nRec),  bOut = 0
 *   B    ~ N(0, 1 / nOut) for random feedback (its own stream)
 * Gains are per task (chosen so that initial rates sit at roughly 10-30 Hz).
 */
export function initParams(
  seed: number,
  m: Pick<ModelConfig, "nIn" | "nRec" | "nOut" | "vTh">,
  o: TaskOptions,
) {
  // Before the matrices are drawn: the network's sizes against the host memory limit.
  checkMemory({ ...m, T: 1 }, { nIn: "--task-opt nIn", nRec: "--task-opt nRec", nOut: "--task-opt nOut" });
  // Every task takes its gains from the options gIn, gRec, gOut.
  const g = { gIn: num(o, "gIn"), gRec: num(o, "gRec"), gOut: num(o, "gOut") };
  const r = rng(seed, Stream.params);
  const wIn = gaussian(r, m.nRec, m.nIn, (g.gIn * m.vTh) / Math.sqrt(m.nIn));
  const wRec = gaussian(r, m.nRec, m.nRec, (g.gRec * m.vTh) / Math.sqrt(m.nRec));
  for (let j = 0; j < m.nRec; j++) wRec[j]![j] = 0;
  const wOut = gaussian(r, m.nOut, m.nRec, g.gOut / Math.sqrt(m.nRec));
  const bOut = new Array<number>(m.nOut).fill(0);
  const randomB = gaussian(rng(seed, Stream.feedback), m.nRec, m.nOut, 1 / Math.sqrt(m.nOut));
  return { params: { wIn, wRec, wOut, bOut }, randomB };
}

/** A ModelConfig with MODEL.md's defaults, overridden by `over`. */
export function modelConfig(over: Partial<ModelConfig> & Pick<ModelConfig, "nIn" | "nRec" | "nOut">): ModelConfig {
  return {
    neuron: "lif",
    dt: 1,
    tauMem: 20,
    tauOut: 20,
    tauAdapt: 2000,
    beta: new Array<number>(over.nRec).fill(0),
    vTh: 1,
    gamma: 0.3,
    refractory: 0,
    loss: "mse",
    inputScale: "one",
    readoutScale: "one",
    trainBias: true,
    rateReg: null,
    lossReduction: "sum",
    ...over,
  };
}

/** Merge user options over the defaults, rejecting unknown keys and wrong types. */
export function resolveOptions(task: string, defaults: TaskOptions, given: Partial<TaskOptions> | undefined): TaskOptions {
  const out: TaskOptions = { ...defaults };
  for (const [k, v] of Object.entries(given ?? {})) {
    if (v === undefined) continue;
    const field = `${task}.options.${k}`;
    if (!(k in defaults)) throw new InputError(field, `unknown option; expected one of ${Object.keys(defaults).join(", ")}`);
    const d = defaults[k]!;
    if (typeof v !== typeof d) throw new InputError(field, `expected a ${typeof d}, got ${JSON.stringify(v)}`);
    if (typeof v === "number" && !Number.isFinite(v)) throw new InputError(field, `expected a finite number, got ${v}`);
    out[k] = v as OptionValue;
  }
  return out;
}

export function num(o: TaskOptions, k: string): number {
  return o[k] as number;
}

/** An option that must be an integer in [min, max]. */
export function int(task: string, o: TaskOptions, k: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  return intIn(o[k], `${task}.options.${k}`, min, max);
}

/** An option that must be a number in [min, max]. */
export function real(task: string, o: TaskOptions, k: string, min: number, max: number): number {
  return numberIn(o[k], `${task}.options.${k}`, min, max);
}

/** MODEL.md `rateReg` from the options `cReg` (0 = none) and `fTargetHz`. */
export function rateRegOf(task: string, o: TaskOptions): { cReg: number; fTargetHz: number } | null {
  const cReg = real(task, o, "cReg", 0, 1e12);
  const fTargetHz = real(task, o, "fTargetHz", 0, 1e6);
  return cReg > 0 ? { cReg, fTargetHz } : null;
}

/** A spike with probability p (Bernoulli-per-step Poisson approximation at dt). */
export function spike(r: Pcg32, p: number): number {
  return p > 0 && r.uniform() < p ? 1 : 0;
}

/** One-hot row of length n. */
export function oneHot(n: number, k: number): number[] {
  const row = new Array<number>(n).fill(0);
  row[k] = 1;
  return row;
}

/** Mean softmax probability of each output over the steps with mask 1 (the NEST / TF e-prop decision). */
export function meanSoftmax(y: Matrix, mask: readonly number[]): number[] {
  const nOut = y[0]?.length ?? 0;
  const acc = new Array<number>(nOut).fill(0);
  let n = 0;
  for (let t = 0; t < y.length; t++) {
    if (!mask[t]) continue;
    const row = y[t]!;
    let mx = -Infinity;
    for (const v of row) mx = Math.max(mx, v);
    let s = 0;
    const e = row.map((v) => {
      const x = Math.exp(v - mx);
      s += x;
      return x;
    });
    for (let k = 0; k < nOut; k++) acc[k]! += e[k]! / s;
    n++;
  }
  return n ? acc.map((a) => a / n) : acc;
}

/** Mean readout of each output over the steps with mask 1. */
export function meanOver(y: Matrix, mask: readonly number[]): number[] {
  const nOut = y[0]?.length ?? 0;
  const acc = new Array<number>(nOut).fill(0);
  let n = 0;
  for (let t = 0; t < y.length; t++) {
    if (!mask[t]) continue;
    for (let k = 0; k < nOut; k++) acc[k]! += y[t]![k]!;
    n++;
  }
  return n ? acc.map((a) => a / n) : acc;
}

export function argmax(v: readonly number[]): number {
  let best = 0;
  for (let k = 1; k < v.length; k++) if (v[k]! > v[best]!) best = k;
  return best;
}

/** The class of a trial: its label, or the hot target at the first masked step. */
export function trialClass(trial: Trial): number {
  if (trial.label !== undefined) return trial.label;
  const t = Math.max(0, trial.mask.indexOf(1));
  return argmax(trial.targets[t]!);
}

function checkShapes(trials: readonly Trial[], ys: readonly Matrix[]): void {
  if (trials.length !== ys.length) throw new InputError("outputs", `expected ${trials.length} readout traces (one per trial), got ${ys.length}`);
  trials.forEach((tr, i) => {
    if (ys[i]!.length !== tr.targets.length) throw new InputError(`outputs[${i}]`, `expected ${tr.targets.length} steps, got ${ys[i]!.length}`);
  });
}

/** Fraction of trials whose mean-softmax decision over the mask window is the right class. */
export function accuracy(trials: readonly Trial[], ys: readonly Matrix[]): number {
  checkShapes(trials, ys);
  if (trials.length === 0) return NaN;
  let ok = 0;
  trials.forEach((tr, i) => {
    if (argmax(meanSoftmax(ys[i]!, tr.mask)) === trialClass(tr)) ok++;
  });
  return ok / trials.length;
}

/**
 * Normalised mean squared error over all steps and outputs:
 * sum (y - y*)^2 / sum (y* - mean_t y*)^2  (per output mean; 1 = the best constant output).
 */
export function nmse(trials: readonly Trial[], ys: readonly Matrix[]): number {
  checkShapes(trials, ys);
  let num = 0;
  let den = 0;
  trials.forEach((tr, i) => {
    const y = ys[i]!;
    const T = tr.targets.length;
    const nOut = tr.targets[0]?.length ?? 0;
    for (let k = 0; k < nOut; k++) {
      let mean = 0;
      for (let t = 0; t < T; t++) mean += tr.targets[t]![k]!;
      mean /= T;
      for (let t = 0; t < T; t++) {
        num += (y[t]![k]! - tr.targets[t]![k]!) ** 2;
        den += (tr.targets[t]![k]! - mean) ** 2;
      }
    }
  });
  return den > 0 ? num / den : NaN;
}

/**
 * The network the memory tasks share (evidence accumulation, store-recall): four input groups of
 * `groupSize` neurons, `nRec` recurrent neurons of which the last `nAdaptive` adapt (threshold
 * jump adaptJump * vTh), two outputs, and the initial parameters from the task's gains.
 */
export function alifMemoryNet(task: string, seed: number, o: TaskOptions, loss: ModelConfig["loss"]) {
  const g = int(task, o, "groupSize", 1, 10000);
  const nRec = int(task, o, "nRec", 1, 100000);
  const nAdaptive = int(task, o, "nAdaptive", 0, nRec);
  const dt = real(task, o, "dt", 1e-6, 1e6);
  const vTh = real(task, o, "vTh", 1e-9, 1e9);
  const jump = real(task, o, "adaptJump", 0, 1e6) * vTh;
  const model = modelConfig({
    neuron: "alif",
    nIn: 4 * g,
    nRec,
    nOut: 2,
    dt,
    tauMem: real(task, o, "tauMem", 1e-6, 1e9),
    tauOut: real(task, o, "tauOut", 1e-6, 1e9),
    tauAdapt: real(task, o, "tauAdapt", 1e-6, 1e9),
    beta: Array.from({ length: nRec }, (_, j) => (j >= nRec - nAdaptive ? jump : 0)),
    vTh,
    refractory: int(task, o, "refractory", 0, 1e6),
    loss,
    rateReg: rateRegOf(task, o),
  });
  return { g, dt, model, ...initParams(seed, model, o) };
}
