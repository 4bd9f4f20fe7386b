// The EqProp network in float64 (EQPROP.md "Network", "Dynamics"): the drives h_k, the forces
// dF_beta/ds_k, one synchronous clipped step, a phase of steps, the residual and the cost.
// Written as the spec's formulas (rho and rho' included, although every reachable state lies
// in [0, 1] where they are the identity and 1), so the reference reads like the contract.
import type { EqpropParams } from "./schema.ts";

/** The state layers s_1..s_L: s[k-1] is layer k. The input s_0 = x is clamped and kept apart. */
export type State = number[][];

/** Hard sigmoid. */
export const rho = (s: number): number => Math.min(1, Math.max(0, s));
/** Its derivative, 1 on the closed interval [0, 1] (EQPROP.md resolved ambiguity 1). */
export const rhoPrime = (s: number): number => (s >= 0 && s <= 1 ? 1 : 0);

/** The layer sizes [n0, ..., nL] of a parameter set. */
export function layersOf(p: EqpropParams): number[] {
  return [p.W[0]![0]!.length, ...p.b.map((v) => v.length)];
}

export function zeroState(layers: readonly number[]): State {
  return layers.slice(1).map((n) => new Array<number>(n).fill(0));
}

export function copyState(s: State): State {
  return s.map((v) => v.slice());
}

/** W[0] rho(x) + b[0]: the drive of layer 1 from the input. It does not change during a sample. */
export function inputDrive(p: EqpropParams, x: readonly number[]): number[] {
  const rx = x.map(rho);
  return p.W[0]!.map((row, i) => dot(row, rx) + p.b[0]![i]!);
}

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

/** h_k = W[k-1] rho(s_{k-1}) + b[k-1] + (k < L ? W[k]^T rho(s_{k+1}) : 0), for k = 1..L, all from the same state. */
export function drives(p: EqpropParams, drive0: readonly number[], s: State): number[][] {
  const L = s.length;
  const r = s.map((v) => v.map(rho));
  const h: number[][] = [];
  for (let k = 1; k <= L; k++) {
    let hk: number[];
    if (k === 1) hk = drive0.slice();
    else {
      const W = p.W[k - 1]!, b = p.b[k - 1]!, below = r[k - 2]!;
      hk = new Array<number>(W.length);
      for (let i = 0; i < W.length; i++) hk[i] = dot(W[i]!, below) + b[i]!;
    }
    if (k < L) {
      // top-down: hk[j] += sum_i W[k][i][j] rho(s_{k+1})[i]
      const up = r[k]!, W = p.W[k]!;
      for (let i = 0; i < W.length; i++) {
        const row = W[i]!, a = up[i]!;
        for (let j = 0; j < hk.length; j++) hk[j]! += row[j]! * a;
      }
    }
    h.push(hk);
  }
  return h;
}

/** dF_beta/ds_k = s_k - rho'(s_k) h_k + (k == L ? beta (s_L - y) : 0). */
export function forces(s: State, h: number[][], beta: number, y: readonly number[]): number[][] {
  const L = s.length;
  return s.map((sk, k) => {
    const hk = h[k]!, out = new Array<number>(sk.length);
    for (let i = 0; i < sk.length; i++) out[i] = sk[i]! - rhoPrime(sk[i]!) * hk[i]! + (k === L - 1 ? beta * (sk[i]! - y[i]!) : 0);
    return out;
  });
}

/** One synchronous step: every layer moves by the forces of the state before the step, then is clipped to [0, 1]. */
export function step(p: EqpropParams, drive0: readonly number[], s: State, beta: number, y: readonly number[], epsilon: number): State {
  const f = forces(s, drives(p, drive0, s), beta, y);
  return s.map((sk, k) => {
    const fk = f[k]!, out = new Array<number>(sk.length);
    for (let i = 0; i < sk.length; i++) out[i] = rho(sk[i]! - epsilon * fk[i]!);
    return out;
  });
}

/** A phase: `steps` steps from `s` with nudge `beta`. */
export function relax(p: EqpropParams, drive0: readonly number[], s: State, beta: number, y: readonly number[], epsilon: number, steps: number): State {
  let cur = s;
  for (let t = 0; t < steps; t++) cur = step(p, drive0, cur, beta, y, epsilon);
  return cur;
}

/** max |s - clip(s - dF_beta/ds, 0, 1)| over units: 0 exactly at a fixed point of the dynamics. */
export function residual(p: EqpropParams, drive0: readonly number[], s: State, beta: number, y: readonly number[]): number {
  const f = forces(s, drives(p, drive0, s), beta, y);
  let r = 0;
  s.forEach((sk, k) => sk.forEach((v, i) => (r = Math.max(r, Math.abs(v - rho(v - f[k]![i]!))))));
  return r;
}

/** C(s) = 1/2 ||s_L - y||^2. */
export function cost(s: State, y: readonly number[]): number {
  const out = s[s.length - 1]!;
  let c = 0;
  for (let i = 0; i < out.length; i++) c += (out[i]! - y[i]!) ** 2;
  return c / 2;
}

/** The first index of the largest output: the class the network predicts. */
export function argmax(v: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}
