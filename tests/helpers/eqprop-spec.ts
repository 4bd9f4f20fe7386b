// An independent transcription of EQPROP.md, written apart from host/rules/eqprop/ so the tests
// can hold the reference to it. It sees the network as one vector u = [x, s_1, ..., s_L] with one
// symmetric coupling matrix M (the W[l] blocks and their transposes) and one bias vector, steps
// in the spec's alternative form clip((1-eps) s + eps h - eps beta (s - y)), and estimates the
// gradient as (dE/dtheta(s^a) - dE/dtheta(s^b)) / (beta_a - beta_b).
//
// `bugs` switches on the mistakes EQPROP.md says only short, unconverged cases reveal, so the
// tests can show that the reference is told apart from each of them.
import type { EqpropCase, EqpropParams } from "../../host/rules/eqprop/schema.ts";

export interface SpecBugs {
  /** Update layer 1, then layer 2 from the new layer 1, ... instead of all from the old state. */
  sequential?: boolean;
  /** Start the -beta phase from s^beta instead of s0. */
  minusFromNudged?: boolean;
  /** Start the nudged phase(s) from 0 instead of s0. */
  nudgedFromZero?: boolean;
  /** max |dF/ds| instead of the natural residual max |s - clip(s - dF/ds)|. */
  rawResidual?: boolean;
  /** Free steps beyond freeSteps. */
  extraFreeSteps?: number;
}

export interface SpecOutput {
  loss: number;
  grads: EqpropParams;
  residual: { free: number; nudged: number; nudgedMinus?: number };
}

const clip = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

export function specGrad(c: EqpropCase, bugs: SpecBugs = {}): SpecOutput {
  const { layers, beta, epsilon, freeSteps, nudgedSteps, nudge, lossReduction } = c.model;
  const L = layers.length - 1;
  const off = [0];
  for (const n of layers) off.push(off[off.length - 1]! + n);
  const N = off[L + 1]!;
  const nIn = layers[0]!;
  const outStart = off[L]!;
  const M = new Float64Array(N * N);
  const bias = new Float64Array(N);
  c.params.W.forEach((w, l) =>
    w.forEach((row, i) =>
      row.forEach((v, j) => {
        const post = off[l + 1]! + i;
        const pre = off[l]! + j;
        M[post * N + pre] = v;
        M[pre * N + post] = v;
      }),
    ),
  );
  c.params.b.forEach((v, l) => v.forEach((x, i) => (bias[off[l + 1]! + i] = x)));

  // h_v = sum_w M[v][w] rho(u_w) + bias_v (states stay in [0, 1], so rho(u) = u)
  const h = (u: Float64Array, v: number): number => {
    let s = bias[v]!;
    for (let w = 0; w < N; w++) s += M[v * N + w]! * u[w]!;
    return s;
  };
  const dF = (u: Float64Array, y: number[], b: number, v: number): number => u[v]! - h(u, v) + (v >= outStart ? b * (u[v]! - y[v - outStart]!) : 0);
  const stepOnce = (u: Float64Array, y: number[], b: number): Float64Array => {
    const next = Float64Array.from(u);
    const move = (v: number, from: Float64Array) => {
      next[v] = clip((1 - epsilon) * from[v]! + epsilon * h(from, v) - (v >= outStart ? epsilon * b * (from[v]! - y[v - outStart]!) : 0));
    };
    if (bugs.sequential) {
      for (let k = 1; k <= L; k++) for (let v = off[k]!; v < off[k + 1]!; v++) move(v, next);
      // (layer k reads the already-updated layer k-1 in `next`; units inside a layer are not coupled)
    } else {
      for (let v = nIn; v < N; v++) move(v, u);
    }
    return next;
  };
  const run = (u: Float64Array, y: number[], b: number, steps: number): Float64Array => {
    let cur = u;
    for (let t = 0; t < steps; t++) cur = stepOnce(cur, y, b);
    return cur;
  };
  const resid = (u: Float64Array, y: number[], b: number): number => {
    let r = 0;
    for (let v = nIn; v < N; v++) {
      const f = dF(u, y, b, v);
      r = Math.max(r, bugs.rawResidual ? Math.abs(f) : Math.abs(u[v]! - clip(u[v]! - f)));
    }
    return r;
  };
  // dE/dW[l][i][j] = -rho(s_{l+1,i}) rho(s_{l,j}),  dE/db[l][i] = -rho(s_{l+1,i})
  const dEdTheta = (u: Float64Array): EqpropParams => ({
    W: c.params.W.map((w, l) => w.map((row, i) => row.map((_, j) => -u[off[l + 1]! + i]! * u[off[l]! + j]!))),
    b: c.params.b.map((v, l) => v.map((_, i) => -u[off[l + 1]! + i]!)),
  });

  const grads: EqpropParams = {
    W: c.params.W.map((w) => w.map((row) => row.map(() => 0))),
    b: c.params.b.map((v) => v.map(() => 0)),
  };
  let loss = 0;
  const residual = { free: 0, nudged: 0, nudgedMinus: 0 };
  c.inputs.forEach((x, n) => {
    const y = c.targets[n]!;
    const zero = new Float64Array(N);
    zero.set(x);
    const s0 = run(zero, y, 0, freeSteps + (bugs.extraFreeSteps ?? 0));
    const nudgeStart = bugs.nudgedFromZero ? zero : s0;
    const sb = run(nudgeStart, y, beta, nudgedSteps);
    let sOther = s0;
    let betaOther = 0;
    if (nudge === "symmetric") {
      sOther = run(bugs.minusFromNudged ? sb : nudgeStart, y, -beta, nudgedSteps);
      betaOther = -beta;
      residual.nudgedMinus = Math.max(residual.nudgedMinus, resid(sOther, y, -beta));
    }
    const ea = dEdTheta(sb);
    const eb = dEdTheta(sOther);
    grads.W.forEach((w, l) => w.forEach((row, i) => row.forEach((_, j) => (row[j]! += (ea.W[l]![i]![j]! - eb.W[l]![i]![j]!) / (beta - betaOther)))));
    grads.b.forEach((v, l) => v.forEach((_, i) => (v[i]! += (ea.b[l]![i]! - eb.b[l]![i]!) / (beta - betaOther))));
    for (let v = outStart; v < N; v++) loss += 0.5 * (s0[v]! - y[v - outStart]!) ** 2;
    residual.free = Math.max(residual.free, resid(s0, y, 0));
    residual.nudged = Math.max(residual.nudged, resid(sb, y, beta));
  });
  if (lossReduction === "mean") {
    const k = c.inputs.length;
    loss /= k;
    grads.W.forEach((w) => w.forEach((row) => row.forEach((_, j) => (row[j]! /= k))));
    grads.b.forEach((v) => v.forEach((_, i) => (v[i]! /= k)));
  }
  return { loss, grads, residual: nudge === "symmetric" ? residual : { free: residual.free, nudged: residual.nudged } };
}
