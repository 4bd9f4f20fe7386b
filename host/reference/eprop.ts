// e-prop, online and forward-only (MODEL.md "e-prop"): one call per time step, memory
// O(synapses), no stored trajectory — the same shape the device kernels have.
import { zeros } from "../model/matrix.ts";
import { decays, lossNormaliser, targetRatePerStep, type Decays } from "../model/decay.ts";
import { lifInitialState, lifParameters, lifStep, type LifParameters, type LifState } from "../model/lif.ts";
import type { Case, GradResult, Grads, ModelConfig, Params } from "../model/types.ts";
import { softmax } from "./simulate.ts";

/** Per-synapse trace set of one weight matrix [nRec][nPre]. */
interface SynapseTraces {
  epsA: number[][]; // ALIF adaptation eligibility
  ebar: number[][]; // kappa-filtered eligibility
  eSum: number[][]; // sum_t e (unfiltered), for the rate regulariser
}

function traces(nRec: number, nPre: number): SynapseTraces {
  return { epsA: zeros(nRec, nPre), ebar: zeros(nRec, nPre), eSum: zeros(nRec, nPre) };
}

export interface StepResult {
  z: number[];
  y: number[];
  err: number[];
}

export class EpropStream {
  private readonly d: Decays;
  private readonly lif: LifParameters;
  private neurons: LifState;
  private y: number[];
  private xbar: number[];
  private zbar: number[];
  private zk: number[]; // kappa-filtered spikes for wOut
  private ok = 0; // kappa-filtered 1 for bOut
  private spikes: number[];
  private steps = 0;
  private readonly tIn: SynapseTraces;
  private readonly tRec: SynapseTraces;
  private readonly g: Grads;
  private lossSum = 0;

  /**
   * @param B feedback [nRec][nOut] (wOut transposed for symmetric e-prop)
   * @param norm loss normaliser (MODEL.md lossReduction), known up front from the mask
   */
  constructor(
    private readonly m: ModelConfig,
    private readonly p: Params,
    private readonly B: number[][],
    private readonly norm: number,
  ) {
    const { nIn, nRec, nOut } = m;
    this.d = decays(m);
    this.lif = lifParameters(m);
    this.neurons = lifInitialState(nRec);
    this.y = new Array<number>(nOut).fill(0);
    this.xbar = new Array<number>(nIn).fill(0);
    this.zbar = new Array<number>(nRec).fill(0);
    this.zk = new Array<number>(nRec).fill(0);
    this.spikes = new Array<number>(nRec).fill(0);
    this.tIn = traces(nRec, nIn);
    this.tRec = traces(nRec, nRec);
    this.g = { wIn: zeros(nRec, nIn), wRec: zeros(nRec, nRec), wOut: zeros(nOut, nRec), bOut: new Array<number>(nOut).fill(0) };
  }

  /** Advances one time step with input x^t, target^t and mask^t; accumulates the gradients. */
  step(x: number[], target: number[], mask: number): StepResult {
    const { m, p, d } = this;
    const { nIn, nRec, nOut } = m;
    for (let i = 0; i < nIn; i++) this.xbar[i] = d.alpha * this.xbar[i]! + d.zeta * x[i]!;

    const { state, psi } = lifStep(this.lif, this.neurons, x, p.wIn, p.wRec);
    const z = state.z;
    for (let j = 0; j < nRec; j++) this.spikes[j]! += z[j]!;

    // Eligibility: pre term is xbar^t for inputs, zbar^{t-1} for recurrent synapses.
    this.updateEligibility(this.tIn, psi, this.xbar, -1);
    this.updateEligibility(this.tRec, psi, this.zbar, 0);

    const y = new Array<number>(nOut);
    for (let k = 0; k < nOut; k++) {
      let drive = p.bOut[k]!;
      for (let j = 0; j < nRec; j++) drive += p.wOut[k]![j]! * z[j]!;
      y[k] = d.kappa * this.y[k]! + d.s * drive;
    }
    const err = this.error(y, target, mask);

    // Learning signal L_j = sum_k B[j][k] err_k, applied to the kappa-filtered traces.
    for (let j = 0; j < nRec; j++) {
      let L = 0;
      for (let k = 0; k < nOut; k++) L += this.B[j]![k]! * err[k]!;
      if (L === 0) continue;
      for (let i = 0; i < nIn; i++) this.g.wIn[j]![i]! += L * this.tIn.ebar[j]![i]!;
      for (let i = 0; i < nRec; i++) this.g.wRec[j]![i]! += L * this.tRec.ebar[j]![i]!;
    }
    // Readout gradients are exact: err times kappa-filtered presynaptic activity.
    this.ok = d.kappa * this.ok + d.s;
    for (let j = 0; j < nRec; j++) this.zk[j] = d.kappa * this.zk[j]! + d.s * z[j]!;
    for (let k = 0; k < nOut; k++) {
      for (let j = 0; j < nRec; j++) this.g.wOut[k]![j]! += err[k]! * this.zk[j]!;
      if (m.trainBias) this.g.bOut[k]! += err[k]! * this.ok;
    }

    for (let i = 0; i < nRec; i++) this.zbar[i] = d.alpha * this.zbar[i]! + d.zeta * z[i]!;
    this.neurons = state;
    this.y = y;
    this.steps++;
    return { z, y, err };
  }

  /** e_ji = psi_j (pre_i - beta_j epsA_ji); epsA <- rho epsA + e; ebar <- kappa ebar + s e. */
  private updateEligibility(tr: SynapseTraces, psi: number[], pre: number[], skipDiagonal: 0 | -1): void {
    const { m, d } = this;
    const track = m.rateReg !== null;
    for (let j = 0; j < m.nRec; j++) {
      const beta = m.beta[j]!;
      const epsA = tr.epsA[j]!;
      const ebar = tr.ebar[j]!;
      const eSum = tr.eSum[j]!;
      for (let i = 0; i < pre.length; i++) {
        if (skipDiagonal === 0 && i === j) continue;
        const e = psi[j]! * (pre[i]! - beta * epsA[i]!);
        epsA[i] = d.rho * epsA[i]! + e;
        ebar[i] = d.kappa * ebar[i]! + d.s * e;
        if (track) eSum[i]! += e;
      }
    }
  }

  private error(y: number[], target: number[], mask: number): number[] {
    if (this.m.loss === "mse") {
      const err = y.map((yk, k) => yk - target[k]!);
      this.lossSum += 0.5 * err.reduce((acc, e) => acc + e * e, 0);
      return err.map((e) => e / this.norm);
    }
    const prob = softmax(y);
    if (mask) this.lossSum -= target.reduce((acc, tk, k) => acc + (tk ? tk * Math.log(prob[k]!) : 0), 0);
    return prob.map((pk, k) => (mask * (pk - target[k]!)) / this.norm);
  }

  /** The gradients accumulated so far (live; finish() completes them). */
  gradients(): Grads {
    return this.g;
  }

  /** Ends the trial: adds the rate regulariser (needs the trial's spike counts) and returns loss and gradients. */
  finish(): GradResult {
    const { m } = this;
    if (m.rateReg) {
      const f = targetRatePerStep(m);
      for (let j = 0; j < m.nRec; j++) {
        const reg = (m.rateReg.cReg * (this.spikes[j]! / this.steps - f)) / this.steps / this.norm;
        for (let i = 0; i < m.nIn; i++) this.g.wIn[j]![i]! += reg * this.tIn.eSum[j]![i]!;
        for (let i = 0; i < m.nRec; i++) this.g.wRec[j]![i]! += reg * this.tRec.eSum[j]![i]!;
      }
    }
    return { loss: this.lossSum / this.norm, grads: this.g };
  }
}

export function epropGrad(c: Case): GradResult {
  const stream = new EpropStream(c.model, c.params, c.feedback.B, lossNormaliser(c.model, c.mask));
  c.inputs.forEach((x, t) => stream.step(x, c.targets[t]!, c.mask[t]!));
  return stream.finish();
}
