// Store-recall (after Bellec et al. 2018/2020): 40 inputs in four groups of 10
// [value 0 | value 1 | store | recall]. A trial is `periods` periods of `periodSteps` steps. In
// one random period (not the last) the store group fires together with one value group: that
// bit must be remembered. In the last period only the recall group fires and the two readouts
// must give the stored bit one-hot (mse; target 0 outside the recall period). With
// `distractors: true` a random bit is also shown in every other period, so the store cue has to
// gate what is kept (harder). The memory spans 1 to periods-1 periods (200-1000 ms by default),
// far beyond tauMem, so the network relies on adaptive (ALIF) thresholds.
// Metric: recall error = fraction of trials whose mean readout over the recall period peaks on
// the wrong output; chance 0.5.
import type { Matrix } from "../model/types.ts";
import { Stream, alifMemoryNet, argmax, int, meanOver, oneHot, real, resolveOptions, rng, spike, trialClass } from "./common.ts";
import type { TaskDef, TaskInstance, Trial } from "./task.ts";


const defaults = {
  groupSize: 10,
  nRec: 100,
  nAdaptive: 100, // the last nAdaptive neurons are ALIF
  periods: 6,
  periodSteps: 200,
  distractors: false, // true: a random bit in every period (harder: the store cue must gate it)
  rateHz: 50,
  noiseHz: 0, // optional background rate on every input
  dt: 1,
  tauMem: 20,
  tauOut: 20,
  tauAdapt: 1200,
  adaptJump: 0.2, // threshold increase per spike, as a fraction of vTh
  vTh: 1,
  refractory: 0,
  cReg: 0, // firing-rate regulariser strength (MODEL.md rateReg; 0 = off)
  fTargetHz: 10,
  gIn: 3,
  gRec: 0.5,
  gOut: 0.1,
};

/** Fraction of trials whose mean readout over the mask window peaks on the wrong output. */
export function recallError(trials: readonly Trial[], ys: readonly Matrix[]): number {
  if (trials.length === 0) return NaN;
  let wrong = 0;
  trials.forEach((tr, i) => {
    if (argmax(meanOver(ys[i]!, tr.mask)) !== trialClass(tr)) wrong++;
  });
  return wrong / trials.length;
}

export const storeRecallTask: TaskDef = {
  name: "store-recall",
  summary: "store-recall: remember the bit shown with the store cue, report it at the recall cue; ALIF, mse, recall error",
  defaults,
  quick: { periods: 4, periodSteps: 100 },
  create(seed, options): TaskInstance {
    const o = resolveOptions("store-recall", defaults, options);
    const { g, dt, model, params, randomB } = alifMemoryNet("store-recall", seed, o, "mse");
    const { nIn } = model;
    const periods = int("store-recall", o, "periods", 2, 10000);
    const P = int("store-recall", o, "periodSteps", 1, 1e6);
    const pOn = (real("store-recall", o, "rateHz", 0, 1e6) * dt) / 1000;
    const distractors = o.distractors as boolean;
    const pNoise = (real("store-recall", o, "noiseHz", 0, 1e6) * dt) / 1000;
    const T = periods * P;

    const make = (stream: number, i: number): Trial => {
      const r = rng(seed, stream, i);
      const bits = Array.from({ length: periods - 1 }, () => (r.uniform() < 0.5 ? 0 : 1));
      const store = Math.min(periods - 2, Math.floor(r.uniform() * (periods - 1)));
      const label = bits[store]!;
      const inputs: Matrix = [];
      const targets: Matrix = [];
      const mask: number[] = [];
      const hot = oneHot(2, label);
      for (let t = 0; t < T; t++) {
        const p = Math.floor(t / P);
        const rates = [pNoise, pNoise, pNoise, pNoise]; // [value0, value1, store, recall]
        const recall = p === periods - 1;
        if (recall) rates[3] = pOn;
        else if (p === store) {
          rates[bits[p]!] = pOn;
          rates[2] = pOn;
        } else if (distractors) rates[bits[p]!] = pOn;
        const row = new Array<number>(nIn);
        for (let k = 0; k < nIn; k++) row[k] = spike(r, rates[Math.floor(k / g)]!);
        inputs.push(row);
        targets.push(recall ? hot.slice() : [0, 0]);
        mask.push(recall ? 1 : 0);
      }
      return { inputs, targets, mask, label };
    };

    return {
      task: "store-recall",
      seed,
      options: o,
      model,
      params,
      randomB,
      nTrain: Infinity,
      trial: (i) => make(Stream.train, i),
      nTest: Infinity,
      testTrial: (i) => make(Stream.test, i),
      metric: { name: "recallError", higherIsBetter: false, chance: 0.5, description: "fraction of trials whose mean readout over the recall period peaks on the wrong bit" },
      evaluate: (trials, ys) => recallError(trials, ys),
    };
  },
};
