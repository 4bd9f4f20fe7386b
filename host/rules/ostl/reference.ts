// OSTL, float64 and online (OSTL.md "OSTL"): one call per time step, no stored trajectory.
// Per layer and synapse j <- i (plus the bias column, pre = 1), with r = resetGrad ? 1 : 0:
//   e^{t-1}  = psi_j^{t-1} (epsV - beta_j epsA)          (recomputed from the previous traces)
//   epsV     = alpha epsV + pre_i^t - r vTh e^{t-1}
//   epsA     = rho epsA + e^{t-1}
//   e^t      = psi_j^t (epsV - beta_j epsA)
//   ebar     = kappa ebar + e^t                          (top layer only)
// Spatial learning signals at the same step: delta^L = wOut^T err, delta^l = W^{l+1}^T (psi^{l+1} delta^{l+1});
// grad W^L += delta^L ebar^L, grad W^l += delta^l e^l (l < L); readout gradients exact (MODEL.md).
import { zeros } from "../../model/matrix.ts";
import type { GradOutput } from "../rule.ts";
import type { OstlCase, OstlGrads, OstlModel, OstlParams } from "./schema.ts";
import { layerStep, readoutStep, stackConsts, stepError, zeroLayerState, type LayerState, type StackConsts } from "./stack.ts";

export interface OstlOptions {
  /**
   * Which layers' traces are kappa-filtered. OSTL.md: the top layer only (the default, and the
   * only reading the spec allows); other settings exist to measure the spec's misreadings.
   */
  filtered?: readonly boolean[];
}

export interface OstlStepResult {
  /** z^{l,t} per layer */
  z: number[][];
  y: number[];
  err: number[];
}

export interface OstlResult extends GradOutput {
  grads: OstlGrads;
}

export class OstlStream {
  private readonly k: StackConsts;
  private readonly filtered: readonly boolean[];
  private states: LayerState[];
  private psiPrev: number[][];
  /** [l][j][i], i over n_{l-1} inputs then the bias column */
  private readonly epsV: number[][][];
  private readonly epsA: number[][][];
  private readonly ebar: number[][][];
  /** gradient of [W^l | b^l], same layout as the traces */
  private readonly g: number[][][];
  private y: number[];
  private readonly zk: number[];
  private ok = 0;
  private readonly gOut: number[][];
  private readonly gB: number[];
  private lossSum = 0;

  constructor(
    private readonly m: OstlModel,
    private readonly p: OstlParams,
    mask: readonly number[],
    opts: OstlOptions = {},
  ) {
    this.k = stackConsts(m, mask);
    const L = m.layers.length;
    this.filtered = opts.filtered ?? m.layers.map((_, l) => l === L - 1);
    const pre = (l: number) => (l === 0 ? m.nIn : m.layers[l - 1]!.n) + 1;
    const perSynapse = () => m.layers.map((layer, l) => zeros(layer.n, pre(l)));
    this.states = m.layers.map((l) => zeroLayerState(l.n));
    this.psiPrev = m.layers.map((l) => new Array<number>(l.n).fill(0));
    this.epsV = perSynapse();
    this.epsA = perSynapse();
    this.ebar = m.layers.map((layer, l) => (this.filtered[l] ? zeros(layer.n, pre(l)) : []));
    this.g = perSynapse();
    const nTop = m.layers[L - 1]!.n;
    this.y = new Array<number>(m.nOut).fill(0);
    this.zk = new Array<number>(nTop).fill(0);
    this.gOut = zeros(m.nOut, nTop);
    this.gB = new Array<number>(m.nOut).fill(0);
  }

  /** Advances one time step with input x^t, target^t and mask^t; accumulates the gradients. */
  step(x: readonly number[], target: readonly number[], mask: number): OstlStepResult {
    const { m, p, k } = this;
    const L = m.layers.length;
    const r = m.resetGrad ? 1 : 0;
    const psi: number[][] = [];
    let pre: readonly number[] = x;
    for (let l = 0; l < L; l++) {
      const kl = k.layers[l]!;
      const s = layerStep(kl, p.layers[l]!, this.states[l]!, pre);
      this.states[l] = s;
      psi.push(s.psi);
      const preB = [...pre, 1];
      const psiPrev = this.psiPrev[l]!;
      for (let j = 0; j < s.psi.length; j++) {
        const eV = this.epsV[l]![j]!;
        const eA = this.epsA[l]![j]!;
        const eb = this.ebar[l]![j];
        const beta = kl.beta[j]!;
        for (let i = 0; i < preB.length; i++) {
          const ePrev = psiPrev[j]! * (eV[i]! - beta * eA[i]!);
          eV[i] = kl.alpha * eV[i]! + preB[i]! - r * kl.vTh * ePrev;
          eA[i] = kl.rho * eA[i]! + ePrev;
          if (eb) eb[i] = k.kappa * eb[i]! + s.psi[j]! * (eV[i]! - beta * eA[i]!);
        }
      }
      this.psiPrev[l] = s.psi;
      pre = s.z;
    }

    this.y = readoutStep(k.kappa, p, this.y, pre);
    const { loss, err } = stepError(m, k.norm, this.y, target, mask);
    this.lossSum += loss;
    this.ok = k.kappa * this.ok + 1;
    for (let j = 0; j < pre.length; j++) this.zk[j] = k.kappa * this.zk[j]! + pre[j]!;
    err.forEach((e, o) => {
      for (let j = 0; j < pre.length; j++) this.gOut[o]![j]! += e * this.zk[j]!;
      if (m.trainBias) this.gB[o]! += e * this.ok;
    });

    // delta^L = wOut^T err, then down through the forward weights at the same step.
    let delta = pre.map((_, j) => err.reduce((acc, e, o) => acc + p.wOut[o]![j]! * e, 0));
    for (let l = L - 1; l >= 0; l--) {
      const kl = k.layers[l]!;
      const g = this.g[l]!;
      for (let j = 0; j < delta.length; j++) {
        const d = delta[j]!;
        if (d === 0) continue;
        const gj = g[j]!;
        const eV = this.epsV[l]![j]!;
        const eA = this.epsA[l]![j]!;
        const eb = this.ebar[l]![j];
        const psiJ = psi[l]![j]!;
        const beta = kl.beta[j]!;
        for (let i = 0; i < gj.length; i++) gj[i]! += d * (eb ? eb[i]! : psiJ * (eV[i]! - beta * eA[i]!));
      }
      if (l > 0) {
        const w = p.layers[l]!.w;
        const q = delta.map((d, j) => psi[l]![j]! * d);
        delta = w[0]!.map((_, i) => q.reduce((acc, qj, j) => acc + w[j]![i]! * qj, 0));
      }
    }
    return { z: this.states.map((s) => s.z), y: this.y, err };
  }

  /** Ends the trial: the loss and the gradients in the case's parameter layout. */
  finish(): OstlResult {
    return {
      loss: this.lossSum / this.k.norm,
      grads: {
        layers: this.g.map((rows) => ({ w: rows.map((r) => r.slice(0, -1)), b: rows.map((r) => r[r.length - 1]!) })),
        wOut: this.gOut,
        bOut: this.gB,
      },
    };
  }
}

/** OSTL's loss and gradients for a stack case (`edgeprop grad --rule ostl --backend host`). */
export function ostlGrad(c: OstlCase, opts: OstlOptions = {}): OstlResult {
  const s = new OstlStream(c.model, c.params, c.mask, opts);
  c.inputs.forEach((x, t) => s.step(x, c.targets[t]!, c.mask[t]!));
  return s.finish();
}
