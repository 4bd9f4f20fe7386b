// Evidence accumulation (Bellec et al. 2020, Fig. 3; the NEST example
// eprop_supervised_classification_evidence-accumulation_bsshslm_2020): 40 inputs in four groups
// of 10 (left cue, right cue, recall, background noise). Seven 100 ms cues, each preceded by a
// 50 ms gap, come from the left or the right group; after a delay the recall group fires for
// 150 ms and the network must report the side that had more cues. 100 neurons, the last 50
// adaptive (ALIF). Loss ce on the recall window (mask); metric accuracy, chance 0.5.
import { InputError } from "../input/errors.ts";
import type { Matrix } from "../model/types.ts";
import { Stream, accuracy, alifMemoryNet, int, oneHot, real, resolveOptions, rng, spike } from "./common.ts";
import type { TaskDef, TaskInstance, Trial } from "./task.ts";

const defaults = {
  groupSize: 10, // nIn = 4 * groupSize: [left | right | recall | noise]
  nRec: 100,
  nAdaptive: 50, // the last nAdaptive neurons are ALIF
  nCues: 7,
  cueSteps: 100,
  spacingSteps: 50,
  delaySteps: 1050,
  recallSteps: 150,
  pMinority: 0.3, // each cue comes from the trial's minority side with this probability
  rateHz: 40, // cue and recall group rate
  noiseHz: 10, // background group rate, all the time
  dt: 1,
  tauMem: 20,
  tauOut: 20,
  tauAdapt: 2000,
  adaptJump: 0.05, // threshold increase per spike of an ALIF neuron, as a fraction of vTh
  vTh: 1,
  refractory: 4, // 5 ms refractory time at dt = 1 ms, as in the paper / NEST
  cReg: 0, // firing-rate regulariser strength (MODEL.md rateReg; 0 = off)
  fTargetHz: 10,
  gIn: 3,
  gRec: 0.5,
  gOut: 1,
};

export interface EvidenceTiming {
  T: number;
  cueStarts: number[]; // first step (0-based) of each cue
  recallStart: number;
}

export function evidenceTiming(nCues: number, cue: number, spacing: number, delay: number, recall: number): EvidenceTiming {
  const cueStarts = Array.from({ length: nCues }, (_, c) => c * (cue + spacing) + spacing);
  const recallStart = nCues * (cue + spacing) + delay;
  return { T: recallStart + recall, cueStarts, recallStart };
}

export const evidenceTask: TaskDef = {
  name: "evidence",
  summary: "evidence accumulation: 7 left/right cues, delay, recall; 40 inputs, 50 LIF + 50 ALIF, ce, accuracy",
  defaults,
  quick: { cueSteps: 50, spacingSteps: 25, delaySteps: 100, recallSteps: 100 },
  create(seed, options): TaskInstance {
    const o = resolveOptions("evidence", defaults, options);
    const { g, dt, model, params, randomB } = alifMemoryNet("evidence", seed, o, "ce");
    const { nIn } = model;
    const nCues = int("evidence", o, "nCues", 1, 1000);
    if (nCues % 2 === 0) throw new InputError("evidence.options.nCues", `expected an odd number (so the majority is defined), got ${nCues}`);
    const cue = int("evidence", o, "cueSteps", 1, 1e6);
    const spacing = int("evidence", o, "spacingSteps", 0, 1e6);
    const delay = int("evidence", o, "delaySteps", 0, 1e7);
    const recall = int("evidence", o, "recallSteps", 1, 1e6);
    const pMinority = real("evidence", o, "pMinority", 0, 0.5);
    const pCue = (real("evidence", o, "rateHz", 0, 1e6) * dt) / 1000;
    const pNoise = (real("evidence", o, "noiseHz", 0, 1e6) * dt) / 1000;
    const timing = evidenceTiming(nCues, cue, spacing, delay, recall);

    const make = (stream: number, i: number): Trial => {
      const r = rng(seed, stream, i);
      const majority = r.uniform() < 0.5 ? 0 : 1;
      const sides = Array.from({ length: nCues }, () => (r.uniform() < pMinority ? 1 - majority : majority));
      const right = sides.reduce((a, s) => a + s, 0);
      const label = right > nCues / 2 ? 1 : 0;
      // per-step rate of each group: [left, right, recall, noise]
      const inputs: Matrix = [];
      const mask: number[] = [];
      for (let t = 0; t < timing.T; t++) {
        const rates = [0, 0, 0, pNoise];
        for (let c = 0; c < nCues; c++) {
          const s = timing.cueStarts[c]!;
          if (t >= s && t < s + cue) rates[sides[c]!] = pCue;
        }
        const inRecall = t >= timing.recallStart;
        if (inRecall) rates[2] = pCue;
        const row = new Array<number>(nIn);
        for (let i = 0; i < nIn; i++) row[i] = spike(r, rates[Math.floor(i / g)]!);
        inputs.push(row);
        mask.push(inRecall ? 1 : 0);
      }
      const hot = oneHot(2, label);
      return { inputs, targets: inputs.map(() => hot.slice()), mask, label };
    };

    return {
      task: "evidence",
      seed,
      options: o,
      model,
      params,
      randomB,
      nTrain: Infinity,
      trial: (i) => make(Stream.train, i),
      nTest: Infinity,
      testTrial: (i) => make(Stream.test, i),
      metric: { name: "accuracy", higherIsBetter: true, chance: 0.5, description: "fraction of trials whose recall-window decision (mean softmax) names the side with more cues" },
      evaluate: (trials, ys) => accuracy(trials, ys),
    };
  },
};
