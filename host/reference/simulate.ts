// The float64 forward pass of MODEL.md: LIF/ALIF recurrent layer, leaky readout, mse/ce loss.
// It records the whole trajectory, which the BPTT backward pass needs; e-prop (eprop.ts) runs
// the same equations online without storing it.
import { decays, lossNormaliser, targetRatePerStep } from "../model/decay.ts";
import { lifInitialState, lifParameters, lifStep } from "../model/lif.ts";
import { heaviside, type SpikeFn } from "../model/spike.ts";
import type { Case, Trajectory } from "../model/types.ts";

export interface SimulateOptions {
  spike?: SpikeFn;
  /**
   * Values to use for the stop-gradient terms instead of the run's own: the reset z^{t-1}
   * and the refractory hold. Finite differences freeze them at the unperturbed run so that
   * their derivative is 0, which is exactly what sg() means.
   */
  frozen?: { resetZ: number[][]; refractory: boolean[][] };
}

export interface FullTrajectory extends Trajectory {
  /** u = v - A per step (the spike decision variable). */
  u: number[][];
  psi: number[][];
  /** Whether neuron j was held by its refractory period at step t. */
  refractory: boolean[][];
  /** err_k^t, already divided by the loss normaliser. */
  err: number[][];
  /** reg_j (MODEL.md rateReg), already divided by the loss normaliser; zeros without rateReg. */
  reg: number[];
  /** E_reg (divided by the normaliser); `loss` is the task loss only. */
  lossReg: number;
}

export function softmax(y: number[]): number[] {
  const m = Math.max(...y);
  const e = y.map((v) => Math.exp(v - m));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

export function simulate(c: Case, opts: SimulateOptions = {}): FullTrajectory {
  const { model: m, params: p } = c;
  const lif = lifParameters(m, opts.spike ?? heaviside);
  const { kappa, s } = decays(m);
  const T = c.inputs.length;
  const norm = lossNormaliser(m, c.mask);
  const { nRec, nOut } = m;

  let neurons = lifInitialState(nRec);
  let y = new Array<number>(nOut).fill(0);
  const out: FullTrajectory = { v: [], a: [], z: [], y: [], u: [], psi: [], refractory: [], err: [], reg: [], loss: 0, lossReg: 0 };

  for (let t = 0; t < T; t++) {
    const frozen = opts.frozen ? { resetZ: opts.frozen.resetZ[t]!, held: opts.frozen.refractory[t]! } : undefined;
    const step = lifStep(lif, neurons, c.inputs[t]!, p.wIn, p.wRec, frozen);
    neurons = step.state;
    const zNew = neurons.z;
    const yNew = new Array<number>(nOut);
    for (let k = 0; k < nOut; k++) {
      let drive = p.bOut[k]!;
      const wOut = p.wOut[k]!;
      for (let j = 0; j < nRec; j++) drive += wOut[j]! * zNew[j]!;
      yNew[k] = kappa * y[k]! + s * drive;
    }
    const target = c.targets[t]!;
    const mask = c.mask[t]!;
    let errT: number[];
    if (m.loss === "mse") {
      errT = yNew.map((yk, k) => yk - target[k]!);
      out.loss += 0.5 * errT.reduce((acc, e) => acc + e * e, 0);
    } else {
      const prob = softmax(yNew);
      errT = prob.map((pk, k) => mask * (pk - target[k]!));
      if (mask) out.loss -= target.reduce((acc, tk, k) => acc + (tk ? tk * Math.log(prob[k]!) : 0), 0);
    }
    out.err.push(errT.map((e) => e / norm));
    y = yNew;
    out.v.push(neurons.v);
    out.a.push(neurons.a);
    out.z.push(zNew);
    out.y.push(y);
    out.u.push(step.u);
    out.psi.push(step.psi);
    out.refractory.push(step.held);
  }
  out.loss /= norm;
  out.reg = new Array<number>(nRec).fill(0);
  if (m.rateReg) {
    const f = targetRatePerStep(m);
    for (let j = 0; j < nRec; j++) {
      let n = 0;
      for (let t = 0; t < T; t++) n += out.z[t]![j]!;
      const dev = n / T - f;
      out.reg[j] = (m.rateReg.cReg * dev) / T / norm;
      out.lossReg += (0.5 * m.rateReg.cReg * dev * dev) / norm;
    }
  }
  return out;
}

/** A plain forward run: spikes, membranes, outputs and task loss. */
export function forward(c: Case): Trajectory {
  const { v, a, z, y, loss } = simulate(c);
  return { v, a, z, y, loss };
}
