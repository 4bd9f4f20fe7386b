// DECOLLE float64 reference (../shared/spec/DECOLLE.md), as a stream: one `step` per time step
// with O(synapses) state (the traces P, Q, R, S and the gradient accumulators), then `finish`.
// Per layer l and step t, with the layer's input s (x^t, or S^{l-1,t} of the layer below):
//   P = alpha P + cP Q_prev;  Q = beta Q + cQ s;  R = alpharp R - wrp S_prev
//   U = W P + b + R;  S = [U >= 0];  y = G S + bG
//   delta = mask psi(U) (G^T dl/dy) + dReg/dU;  grad W += delta P^T;  grad b += delta
// Nothing crosses layers or steps (the graph is cut after every step), so this is exact.
import type { DecolleCase, DecolleLayer, DecolleLoss, DecolleModel, LayerParams, Readout, Surrogate } from "./schema.ts";
import { traceGains } from "./schema.ts";

/** What `edgeprop grad --rule decolle` prints (a type alias, so it is a GradOutput). */
export type DecolleGrad = {
  loss: number;
  layerLoss: number[];
  grads: { layers: Array<{ w: number[][]; b: number[] }> };
};

export const sigmoid = (u: number): number => 1 / (1 + Math.exp(-u));

/** dS/dU of the spike nonlinearity (the model's `surrogate`). */
export function surrogate(kind: Surrogate, u: number): number {
  if (kind === "box") return u > -0.5 && u <= 0.5 ? 1 : 0;
  const s = sigmoid(u);
  return s * (1 - s);
}

/** Per-step loss l(y, target) and dl/dy (written into `err`). */
export function stepLoss(kind: DecolleLoss, y: ArrayLike<number>, target: ArrayLike<number>, err: Float64Array): number {
  const K = err.length;
  let l = 0;
  if (kind === "ce") {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, y[k]!);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(y[k]! - m);
    const logSum = Math.log(sum);
    for (let k = 0; k < K; k++) {
      const logp = y[k]! - m - logSum;
      err[k] = Math.exp(logp) - target[k]!;
      if (target[k] !== 0) l -= target[k]! * logp;
    }
    return l;
  }
  for (let k = 0; k < K; k++) {
    const d = y[k]! - target[k]!;
    if (kind === "mse") {
      err[k] = d;
      l += 0.5 * d * d;
    } else {
      err[k] = Math.max(-1, Math.min(1, d));
      l += Math.abs(d) < 1 ? 0.5 * d * d : Math.abs(d) - 0.5;
    }
  }
  return l;
}

/** The regulariser's mean term m = mean_i (0.1 - sigma(U_i)) of one layer at one step. */
export function regMean(U: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < U.length; i++) s += 0.1 - sigmoid(U[i]!);
  return s / U.length;
}

/** One layer's state: traces, this step's membrane and spikes, and its gradient sums. */
export class LayerState {
  readonly n: number;
  readonly nPre: number;
  readonly cQ: number;
  readonly cP: number;
  readonly Q: Float64Array;
  readonly P: Float64Array;
  readonly R: Float64Array;
  readonly U: Float64Array;
  readonly S: Float64Array;
  readonly y: Float64Array;
  readonly err: Float64Array;
  readonly delta: Float64Array;
  /** m of the regulariser at this step (NaN when reg = 0). */
  m = NaN;
  /** Sum of the masked per-step losses (E^l before lossReduction). */
  loss = 0;
  /** Gradient sums, W row-major n x nPre. */
  readonly gW: Float64Array;
  readonly gB: Float64Array;

  constructor(
    readonly cfg: DecolleLayer,
    readonly p: LayerParams,
    readonly r: Readout,
    model: DecolleModel,
    nPre: number,
  ) {
    this.n = cfg.n;
    this.nPre = nPre;
    ({ cQ: this.cQ, cP: this.cP } = traceGains(model.traceScale, cfg));
    this.Q = new Float64Array(nPre);
    this.P = new Float64Array(nPre);
    this.R = new Float64Array(cfg.n);
    this.U = new Float64Array(cfg.n);
    this.S = new Float64Array(cfg.n);
    this.y = new Float64Array(model.nOut);
    this.err = new Float64Array(model.nOut);
    this.delta = new Float64Array(cfg.n);
    this.gW = new Float64Array(cfg.n * nPre);
    this.gB = new Float64Array(cfg.n);
  }
}

/**
 * The rule as a stream. W and b are read live from `params` at every step, so a caller that
 * updates them in place after a step with mask 1 runs decolleUpdate "step" (the optimizer inside
 * the trial while P, Q, R, S carry on); the gradient sums keep accumulating either way.
 */
export interface StreamOptions {
  /**
   * Weights fixed for the whole stream (evaluation of held-out trials): no gradients, and W is
   * packed input-major once so that zero traces are skipped — each U_j is the same float64 sum in
   * the same order (skipped terms are exact zeros), only faster.
   */
  frozen?: boolean;
}

export class DecolleStream {
  readonly layers: LayerState[];
  /** Steps with mask 1 so far. */
  masked = 0;
  steps = 0;
  /** Frozen streams: W^T of every layer, [nPre][n] row-major. */
  private readonly wT: Float64Array[] | null;

  constructor(readonly model: DecolleModel, params: { layers: LayerParams[] }, readouts: Readout[], opts: StreamOptions = {}) {
    const sizes = [model.nIn, ...model.layers.map((l) => l.n)];
    this.layers = model.layers.map((cfg, l) => new LayerState(cfg, params.layers[l]!, readouts[l]!, model, sizes[l]!));
    this.wT = opts.frozen
      ? this.layers.map((L) => {
          const a = new Float64Array(L.nPre * L.n);
          L.p.w.forEach((row, j) => row.forEach((v, i) => (a[i * L.n + j] = v)));
          return a;
        })
      : null;
  }

  /** Step t: x = x^t (nIn), target = target^t (nOut), mask = mask^t (0 or 1). */
  step(x: ArrayLike<number>, target: ArrayLike<number>, mask: number): void {
    const { loss: lossKind, surrogate: sg, nOut } = this.model;
    let input: ArrayLike<number> = x;
    this.layers.forEach((L, li) => {
      const { n, nPre, Q, P, R, U, S, y, err, delta, cfg } = L;
      const { w, b } = L.p;
      const { G, bG } = L.r;
      for (let i = 0; i < nPre; i++) {
        P[i] = cfg.alpha * P[i]! + L.cP * Q[i]!; // from the previous step's Q
        Q[i] = cfg.beta * Q[i]! + L.cQ * input[i]!;
      }
      const wT = this.wT?.[li];
      if (wT) {
        U.fill(0);
        for (let i = 0; i < nPre; i++) {
          const p = P[i]!;
          if (p === 0) continue;
          for (let j = 0, o = i * n; j < n; j++) U[j]! += wT[o + j]! * p;
        }
      }
      for (let j = 0; j < n; j++) {
        R[j] = cfg.alpharp * R[j]! - cfg.wrp * S[j]!; // S is still S^{t-1}
        let u = 0;
        if (wT) u = U[j]!;
        else for (let i = 0, row = w[j]!; i < nPre; i++) u += row[i]! * P[i]!;
        U[j] = u + b[j]! + R[j]!;
      }
      for (let j = 0; j < n; j++) S[j] = U[j]! >= 0 ? 1 : 0;
      for (let k = 0; k < nOut; k++) {
        let s = bG[k]!;
        for (let j = 0; j < n; j++) s += G[k]![j]! * S[j]!;
        y[k] = s;
      }
      const l = stepLoss(lossKind, y, target, err);
      L.m = cfg.reg > 0 ? regMean(U) : NaN;
      if (mask !== 0) L.loss += l;
      if (mask !== 0 && !wT) {
        const c = cfg.reg / n;
        for (let j = 0; j < n; j++) {
          let back = 0;
          for (let k = 0; k < nOut; k++) back += G[k]![j]! * err[k]!;
          let d = surrogate(sg, U[j]!) * back;
          if (cfg.reg > 0) {
            const s = sigmoid(U[j]!);
            d += c * (1e-2 * (U[j]! + 0.01 > 0 ? 1 : 0) - 6e-5 * (L.m > 0 ? 1 : 0) * s * (1 - s));
          }
          delta[j] = d;
          L.gB[j]! += d;
          if (d !== 0) for (let i = 0; i < nPre; i++) L.gW[j * nPre + i]! += d * P[i]!;
        }
      } else {
        delta.fill(0);
      }
      input = S;
    });
    if (mask !== 0) this.masked++;
    this.steps++;
  }

  /** The trial's loss, per-layer losses and gradients (after lossReduction). */
  finish(): DecolleGrad {
    const M = this.model.lossReduction === "mean" ? Math.max(1, this.masked) : 1;
    const layerLoss = this.layers.map((L) => L.loss / M);
    return {
      loss: layerLoss.reduce((a, b) => a + b, 0),
      layerLoss,
      grads: {
        layers: this.layers.map((L) => ({
          w: Array.from({ length: L.n }, (_, j) => Array.from(L.gW.subarray(j * L.nPre, (j + 1) * L.nPre), (g) => g / M)),
          b: Array.from(L.gB, (g) => g / M),
        })),
      },
    };
  }
}

/** The whole trial of a case through the stream: what `edgeprop grad --rule decolle --backend host` prints. */
export function decolleGrad(c: DecolleCase): DecolleGrad {
  const s = new DecolleStream(c.model, c.params, c.readouts);
  c.inputs.forEach((x, t) => s.step(x, c.targets[t]!, c.mask[t]!));
  return s.finish();
}
