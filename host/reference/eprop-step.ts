// e-prop with per-step weight updates (CONFIGURE `update: "step"`, device/README.md "Per-step
// updates"), in float64: the reference of the devices' online rule. It is NOT MODEL.md's training
// loop (weights fixed within a trial, one update per trial): every step, right after that step's
// eligibility traces and learning signals (exactly as EpropStream computes them),
//     W_ji     -= lr L_j^t ebar_ji^t        (wIn, wRec; the wRec diagonal stays 0)
//     wOut_kj  -= lr err_k^t zk_j^t,   bOut_k -= lr err_k^t ok^t   (trainBias)
// and step t+1 runs on the updated weights (symmetric feedback: B = wOut^T as it is now).
// gd only, lossReduction "sum", no rate regulariser: what the devices accept with update "step".
import { InputError } from "../input/errors.ts";
import { transpose } from "../model/matrix.ts";
import type { Case, Grads, Matrix, Params } from "../model/types.ts";
import { EpropStream } from "./eprop.ts";

export interface StepTrainResult {
  /** Task loss of each trial. */
  losses: number[];
  params: Params;
  /** Spikes z[trial][t][j]. */
  spikes: number[][][];
}

const copy = (g: Grads): Grads => structuredClone(g);

/** Runs `trials` trials of case `c` with per-step updates at rate `lr`, from c.params. */
export function epropStepTrain(c: Case, lr: number, trials = 1): StepTrainResult {
  const m = c.model;
  if (m.lossReduction !== "sum") throw new InputError("model.lossReduction", "per-step updates use \"sum\"");
  if (m.rateReg) throw new InputError("model.rateReg", "per-step updates have no rate regulariser");
  const p: Params = structuredClone(c.params);
  const symmetric = c.feedback.kind === "symmetric";
  const B: Matrix = symmetric ? transpose(p.wOut) : structuredClone(c.feedback.B);
  const losses: number[] = [];
  const spikes: number[][][] = [];
  for (let n = 0; n < trials; n++) {
    const stream = new EpropStream(m, p, B, 1);
    let prev = copy(stream.gradients());
    const z: number[][] = [];
    c.inputs.forEach((x, t) => {
      z.push(stream.step(x, c.targets[t]!, c.mask[t]!).z);
      const g = stream.gradients();
      const sub = (w: Matrix, now: Matrix, before: Matrix) => w.forEach((row, r) => row.forEach((_, k) => (row[k]! -= lr * (now[r]![k]! - before[r]![k]!))));
      sub(p.wIn, g.wIn, prev.wIn);
      sub(p.wRec, g.wRec, prev.wRec);
      sub(p.wOut, g.wOut, prev.wOut);
      if (m.trainBias) p.bOut.forEach((_, k) => (p.bOut[k]! -= lr * (g.bOut[k]! - prev.bOut[k]!)));
      if (symmetric) B.forEach((row, j) => row.forEach((_, k) => (row[k] = p.wOut[k]![j]!)));
      prev = copy(g);
    });
    losses.push(stream.finish().loss);
    spikes.push(z);
  }
  return { losses, params: p, spikes };
}
