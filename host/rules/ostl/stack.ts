// The forward model of a layer stack (OSTL.md "Model"), float64: a constants record per layer,
// a state record and a pure step function, plus the leaky readout and the per-step error. The
// OSTL stream, BPTT and the random-case generator all run these same equations.
import { heaviside } from "../../model/spike.ts";
import { softmax } from "../../reference/simulate.ts";
import type { LayerParams, OstlCase, OstlModel, OstlParams } from "./schema.ts";

export interface LayerConsts {
  alpha: number; // exp(-dt/tauMem)
  rho: number; // exp(-dt/tauAdapt)
  vTh: number;
  gamma: number;
  beta: number[];
}

export interface StackConsts {
  layers: LayerConsts[];
  kappa: number; // exp(-dt/tauOut)
  /** What the loss and every gradient are divided by (MODEL.md lossReduction; mse ignores the mask). */
  norm: number;
}

export function stackConsts(m: OstlModel, mask: readonly number[]): StackConsts {
  const norm = m.lossReduction === "sum" ? 1 : m.loss === "mse" ? mask.length : mask.reduce((n, x) => n + x, 0);
  return {
    layers: m.layers.map((l) => ({ alpha: Math.exp(-m.dt / l.tauMem), rho: Math.exp(-m.dt / l.tauAdapt), vTh: l.vTh, gamma: l.gamma, beta: l.beta })),
    kappa: Math.exp(-m.dt / m.tauOut),
    norm,
  };
}

/** A layer's state after step t (z is z^{l,t}, the next step's reset and adaptation input). */
export interface LayerState {
  v: number[];
  a: number[];
  z: number[];
}

export interface LayerStepResult extends LayerState {
  /** psi^{l,t} = (gamma/vTh) max(0, 1 - |v - A|/vTh) */
  psi: number[];
  /** v - A, the spike decision variable */
  u: number[];
}

export function zeroLayerState(n: number): LayerState {
  return { v: new Array<number>(n).fill(0), a: new Array<number>(n).fill(0), z: new Array<number>(n).fill(0) };
}

/**
 * One step of layer l: v = alpha v + W pre + b - vTh z_prev; a = rho a + z_prev;
 * A = vTh + beta a; z = [v - A > 0]. `pre` is z^{l-1,t} (x^t for the first layer).
 */
export function layerStep(k: LayerConsts, p: LayerParams, s: LayerState, pre: readonly number[]): LayerStepResult {
  const n = p.b.length;
  const out: LayerStepResult = { v: new Array(n), a: new Array(n), z: new Array(n), psi: new Array(n), u: new Array(n) };
  for (let j = 0; j < n; j++) {
    const w = p.w[j]!;
    let input = p.b[j]!;
    for (let i = 0; i < pre.length; i++) input += w[i]! * pre[i]!;
    const v = k.alpha * s.v[j]! + input - k.vTh * s.z[j]!;
    const a = k.rho * s.a[j]! + s.z[j]!;
    const u = v - (k.vTh + k.beta[j]! * a);
    out.v[j] = v;
    out.a[j] = a;
    out.u[j] = u;
    out.z[j] = heaviside.z(u, k.vTh);
    out.psi[j] = heaviside.psi(u, k.vTh, k.gamma);
  }
  return out;
}

/** y^t = kappa y^{t-1} + wOut z^{L,t} + bOut */
export function readoutStep(kappa: number, p: OstlParams, y: readonly number[], z: readonly number[]): number[] {
  return p.wOut.map((row, k) => {
    let drive = p.bOut[k]!;
    for (let j = 0; j < z.length; j++) drive += row[j]! * z[j]!;
    return kappa * y[k]! + drive;
  });
}

/** The step's task loss (not yet divided by norm) and err^t (already divided), MODEL.md "Readout and loss". */
export function stepError(m: OstlModel, norm: number, y: readonly number[], target: readonly number[], mask: number): { loss: number; err: number[] } {
  if (m.loss === "mse") {
    const err = y.map((yk, k) => yk - target[k]!);
    return { loss: 0.5 * err.reduce((acc, e) => acc + e * e, 0), err: err.map((e) => e / norm) };
  }
  const prob = softmax([...y]);
  const loss = mask ? -target.reduce((acc, tk, k) => acc + (tk ? tk * Math.log(prob[k]!) : 0), 0) : 0;
  return { loss, err: prob.map((pk, k) => (mask * (pk - target[k]!)) / norm) };
}

/** A stored forward run (BPTT and the margin checks of random cases). */
export interface StackTrajectory {
  /** [l][t] */
  layers: LayerStepResult[][];
  /** err^t, divided by norm */
  err: number[][];
  /** y^t, the readout */
  y: number[][];
  loss: number;
}

export function runStack(c: OstlCase): StackTrajectory {
  const k = stackConsts(c.model, c.mask);
  let states = c.model.layers.map((l) => zeroLayerState(l.n));
  let y = new Array<number>(c.model.nOut).fill(0);
  const out: StackTrajectory = { layers: c.model.layers.map(() => []), err: [], y: [], loss: 0 };
  c.inputs.forEach((x, t) => {
    let pre: readonly number[] = x;
    states = states.map((s, l) => {
      const r = layerStep(k.layers[l]!, c.params.layers[l]!, s, pre);
      out.layers[l]!.push(r);
      pre = r.z;
      return r;
    });
    y = readoutStep(k.kappa, c.params, y, pre);
    out.y.push(y);
    const e = stepError(c.model, k.norm, y, c.targets[t]!, c.mask[t]!);
    out.loss += e.loss;
    out.err.push(e.err);
  });
  out.loss /= k.norm;
  return out;
}
