// Pattern generation (Bellec et al. 2020, Fig. 2): 100 frozen Poisson inputs drive 100 LIF
// neurons; each readout must reproduce a 1 s target that is a sum of four sines with periods
// 1000, 500, 333 and 200 ms, random amplitudes U[0.5, 2] and phases U[0, 2pi). The paper scores
// the one frozen trial it trains on; here every trial is a member of the frozen pattern's family
// — each input spike moved by a uniform whole number of steps in [-jitter, jitter] (default 1),
// the same target — drawn from the training stream for trial(i) and from the test stream for
// testTrial(i), so the held-out score is measured on inputs the run never trained on.
// Loss mse; metric NMSE (1 = best constant).
import type { Matrix } from "../model/types.ts";
import { Stream, initParams, int, modelConfig, nmse, num, real, resolveOptions, rng, spike, rateRegOf } from "./common.ts";
import type { TaskDef, TaskInstance, Trial } from "./task.ts";

export const PATTERN_PERIODS_MS = [1000, 500, 333, 200] as const;

const defaults = {
  nIn: 100,
  nRec: 100,
  nOut: 1,
  steps: 1000, // T at dt = 1 ms
  dt: 1,
  rateHz: 50, // frozen Poisson input rate (NEST/TF tutorial: spike probability 0.05 per ms)
  jitter: 1, // each trial moves every frozen input spike by up to this many steps (>= 1: test trials differ)
  ampMin: 0.5,
  ampMax: 2,
  normalize: true, // scale each target to max |y*| = 1 (as the NEST/TF tutorials do)
  tauMem: 30,
  tauOut: 30,
  vTh: 1,
  cReg: 0, // firing-rate regulariser strength (MODEL.md rateReg; 0 = off)
  fTargetHz: 10,
  gIn: 1,
  gRec: 0.5,
  gOut: 0.1,
};

function sineTargets(seed: number, nOut: number, T: number, dt: number, ampMin: number, ampMax: number, normalize: boolean): Matrix {
  const r = rng(seed, Stream.frozen, 1);
  const targets: Matrix = Array.from({ length: T }, () => new Array<number>(nOut).fill(0));
  for (let k = 0; k < nOut; k++) {
    const amps = PATTERN_PERIODS_MS.map(() => ampMin + (ampMax - ampMin) * r.uniform());
    const phases = PATTERN_PERIODS_MS.map(() => 2 * Math.PI * r.uniform());
    let peak = 0;
    for (let t = 0; t < T; t++) {
      const ms = (t + 1) * dt;
      let s = 0;
      PATTERN_PERIODS_MS.forEach((period, p) => (s += amps[p]! * Math.sin((2 * Math.PI * ms) / period + phases[p]!)));
      targets[t]![k] = s;
      peak = Math.max(peak, Math.abs(s));
    }
    if (normalize && peak > 0) for (let t = 0; t < T; t++) targets[t]![k]! /= peak;
  }
  return targets;
}

export const patternTask: TaskDef = {
  name: "pattern",
  summary: "pattern generation: sum of 4 sines (1000/500/333/200 ms) from 100 frozen Poisson inputs, LIF, mse, NMSE",
  defaults,
  quick: { steps: 500, nIn: 50, nRec: 50 }, // measured: host/tasks/README.md, "Short runs"
  create(seed, options): TaskInstance {
    const o = resolveOptions("pattern", defaults, options);
    const nIn = int("pattern", o, "nIn", 1, 100000);
    const nRec = int("pattern", o, "nRec", 1, 100000);
    const nOut = int("pattern", o, "nOut", 1, 1000);
    const T = int("pattern", o, "steps", 1, 10_000_000);
    const dt = real("pattern", o, "dt", 1e-6, 1e6);
    const p = (real("pattern", o, "rateHz", 0, 1e6) * dt) / 1000;
    const model = modelConfig({
      nIn,
      nRec,
      nOut,
      dt,
      tauMem: real("pattern", o, "tauMem", 1e-6, 1e9),
      tauOut: real("pattern", o, "tauOut", 1e-6, 1e9),
      vTh: real("pattern", o, "vTh", 1e-9, 1e9),
      loss: "mse",
      rateReg: rateRegOf("pattern", o),
    });
    const { params, randomB } = initParams(seed, model, o);
    const jitter = int("pattern", o, "jitter", 1, T);
    const r = rng(seed, Stream.frozen, 0);
    const frozen: Matrix = [];
    for (let t = 0; t < T; t++) {
      const row = new Array<number>(nIn);
      for (let i = 0; i < nIn; i++) row[i] = spike(r, p);
      frozen.push(row);
    }
    const targets = sineTargets(seed, nOut, T, dt, num(o, "ampMin"), num(o, "ampMax"), o.normalize as boolean);
    const mask = new Array<number>(T).fill(1);
    // One member of the family: every frozen spike moved by U{-jitter..jitter} steps (clamped to
    // the trial; two spikes landing on one step merge). One draw per spike, t then i ascending.
    const member = (stream: number, index: number): Trial => {
      const jr = rng(seed, stream, index);
      const inputs: Matrix = Array.from({ length: T }, () => new Array<number>(nIn).fill(0));
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < nIn; i++) {
          if (!frozen[t]![i]) continue;
          const shift = Math.floor(jr.uniform() * (2 * jitter + 1)) - jitter;
          inputs[Math.min(T - 1, Math.max(0, t + shift))]![i] = 1;
        }
      }
      return { inputs, targets, mask };
    };
    return {
      task: "pattern",
      seed,
      options: o,
      model,
      params,
      randomB,
      nTrain: Infinity,
      trial: (i) => member(Stream.train, i),
      nTest: Infinity,
      testTrial: (i) => member(Stream.test, i),
      metric: { name: "nmse", higherIsBetter: false, chance: 1, description: "normalised MSE of the readout vs the target (1 = best constant output)" },
      evaluate: (trials, ys) => nmse(trials, ys),
    };
  },
};
