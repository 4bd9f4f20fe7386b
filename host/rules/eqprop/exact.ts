// The true gradient EqProp estimates, and when the estimate is one (EQPROP.md "When the estimate
// is a gradient"). Per sample: the free phase is continued to the exact fixed point s* =
// clip(h(s*)) (dynamics, then an active-set solve that lands on it to rounding); implicit
// differentiation on the active units A = {0 < h < 1} solves (I - W_AA) lambda_A = (s*_L - y)_A
// and gives dC/dW[l] = lambda_{l+1} rho(s*_l)^T + rho(s*_{l+1}) lambda_l^T, dC/db[l] = lambda_{l+1}.
// The validity report checks V1 converged, V2 margin, V3 stability and V4 linear regime.
import { InputError } from "../../input/errors.ts";
import { cost, drives, relax, residual, rho, type State } from "./dynamics.ts";
import { solve, symmetricEigenvalues } from "./linalg.ts";
import { samplePhases, scaleGrads, zeroGrads } from "./reference.ts";
import type { GradOutput } from "../rule.ts";
import type { EqpropCase, EqpropParams } from "./schema.ts";

/** The thresholds of EQPROP.md's four conditions. */
export const VALIDITY = { residual: 1e-10, margin: 1e-3, lambdaMin: 0.05 } as const;

/** State units (layers 1..L) the exact gradient handles: Jacobi and the solve are O(n^3) per sample. */
export const MAX_EXACT_UNITS = 512;

export interface Validity {
  /** All four hold. */
  valid: boolean;
  /** V1: the case's phases end at fixed points (max residual of the reference run). */
  converged: { ok: boolean; residual: number; limit: number };
  /** V2: min over samples and units of min(|h_i|, |h_i - 1|) at s*. */
  margin: { ok: boolean; min: number; limit: number };
  /** V3: min over samples of lambda_min(I - W_AA) at s* (1, the identity's, when no unit is active). */
  stability: { ok: boolean; lambdaMin: number; limit: number };
  /** V4: units (summed over samples) whose saturation differs between s0 and s^beta (and s^-beta). */
  linear: { ok: boolean; switched: number };
  /** How exactly s* was found: its residual, the largest over samples. */
  fixedPoint: { residual: number };
}

export interface ExactOutput extends GradOutput {
  /** C(s*) summed (or averaged) over samples: the quantity `grads` is the gradient of. */
  loss: number;
  grads: EqpropParams;
  validity: Validity;
}

type Saturation = -1 | 0 | 1;

/** Where each unit's (effective) drive puts it: held at 0, active, held at 1. */
function saturation(h: number[][]): Saturation[][] {
  return h.map((v) => v.map((x) => (x <= 0 ? -1 : x >= 1 ? 1 : 0)));
}

/** Drives with the nudge of the output layer folded in: s = clip(h_eff) at a fixed point of the beta dynamics. */
function effectiveDrives(p: EqpropParams, drive0: number[], s: State, beta: number, y: readonly number[]): number[][] {
  const h = drives(p, drive0, s);
  const L = s.length;
  h[L - 1] = h[L - 1]!.map((v, i) => v - beta * (s[L - 1]![i]! - y[i]!));
  return h;
}

/** Global indices of the active state units and the matrix I - W_AA among them. */
function activeSystem(p: EqpropParams, sat: Saturation[][]): { units: Array<[number, number]>; M: Float64Array } {
  const units: Array<[number, number]> = [];
  const index = new Map<string, number>();
  sat.forEach((v, k) => v.forEach((c, i) => {
    if (c === 0) {
      index.set(`${k},${i}`, units.length);
      units.push([k, i]);
    }
  }));
  const n = units.length;
  const M = new Float64Array(n * n);
  for (let a = 0; a < n; a++) M[a * n + a] = 1;
  // W[l] (l >= 1) couples state layer l+1 (array index l) with state layer l (array index l-1)
  for (let l = 1; l < p.W.length; l++) {
    p.W[l]!.forEach((row, i) => {
      const u = index.get(`${l},${i}`);
      if (u === undefined) return;
      row.forEach((w, j) => {
        const v = index.get(`${l - 1},${j}`);
        if (v === undefined) return;
        M[u * n + v]! -= w;
        M[v * n + u]! -= w;
      });
    });
  }
  return { units, M };
}

/**
 * The exact free fixed point from s0: the free dynamics run on until the residual stops falling
 * below 1e-13 (at most 20000 more steps), then the piecewise-linear system s_A = h_A(s) is solved
 * on the active set and the set is updated until it is consistent.
 */
function exactFixedPoint(p: EqpropParams, drive0: number[], s0: State, epsilon: number, y: readonly number[]): State {
  let s = s0;
  for (let t = 0; t < 20000 && residual(p, drive0, s, 0, y) > 1e-13; t += 100) s = relax(p, drive0, s, 0, y, epsilon, 100);
  let best = s;
  let bestR = residual(p, drive0, s, 0, y);
  for (let it = 0; it < 30 && bestR > 0; it++) {
    const sat = saturation(drives(p, drive0, s));
    const snapped = s.map((v, k) => v.map((x, i) => (sat[k]![i] === -1 ? 0 : sat[k]![i] === 1 ? 1 : x)));
    const { units, M } = activeSystem(p, sat);
    // c_A = h_A(snapped) - W_AA s_A: the drive from the input, the biases and the saturated units
    const h = drives(p, drive0, snapped);
    const n = units.length;
    const c = units.map(([k, i], a) => {
      let v = h[k]![i]!;
      for (let b = 0; b < n; b++) if (b !== a) v += M[a * n + b]! * snapped[units[b]![0]]![units[b]![1]]!;
      return v;
    });
    const x = solve(M, c);
    if (!x) break;
    units.forEach(([k, i], a) => (snapped[k]![i] = x[a]!));
    const r = residual(p, drive0, snapped, 0, y);
    if (r >= bestR) break;
    best = snapped;
    bestR = r;
    s = snapped;
  }
  return best;
}

/** `edgeprop grad CASE --rule eqprop-exact`: the true gradient of C(s*) and the validity report. */
export function eqpropExact(c: EqpropCase): ExactOutput {
  const { model: m, params: p } = c;
  const stateUnits = m.layers.slice(1).reduce((a, b) => a + b, 0);
  if (stateUnits > MAX_EXACT_UNITS) {
    throw new InputError("model.layers", `eqprop-exact handles at most ${MAX_EXACT_UNITS} state units (layers 1..L), got ${stateUnits}`);
  }
  const g = zeroGrads(m.layers);
  let loss = 0;
  let margin = Infinity;
  let lambdaMin = Infinity;
  let switched = 0;
  let fixedResidual = 0;
  let runResidual = 0;
  c.inputs.forEach((x, n) => {
    const y = c.targets[n]!;
    const ph = samplePhases(p, m, x, y);
    const { drive0 } = ph;
    // V1 and V4 on the case's own phases
    const sat0 = saturation(effectiveDrives(p, drive0, ph.s0, 0, y));
    runResidual = Math.max(runResidual, residual(p, drive0, ph.s0, 0, y));
    for (const [s, beta] of [[ph.sb, m.beta], ...(ph.sm ? [[ph.sm, -m.beta] as const] : [])] as Array<readonly [State, number]>) {
      runResidual = Math.max(runResidual, residual(p, drive0, s, beta, y));
      const sat = saturation(effectiveDrives(p, drive0, s, beta, y));
      sat.forEach((v, k) => v.forEach((cl, i) => (switched += cl === sat0[k]![i] ? 0 : 1)));
    }
    const star = exactFixedPoint(p, drive0, ph.s0, m.epsilon, y);
    fixedResidual = Math.max(fixedResidual, residual(p, drive0, star, 0, y));
    loss += cost(star, y);
    const h = drives(p, drive0, star);
    h.forEach((v) => v.forEach((x) => (margin = Math.min(margin, Math.abs(x), Math.abs(x - 1)))));
    const sat = saturation(h);
    const { units, M } = activeSystem(p, sat);
    if (units.length === 0) return; // every unit saturated: dC/dtheta = 0
    lambdaMin = Math.min(lambdaMin, symmetricEigenvalues(M, units.length)[0]!);
    const L = m.layers.length - 1;
    const rhs = units.map(([k, i]) => (k === L - 1 ? star[L - 1]![i]! - y[i]! : 0));
    const lam = solve(M, rhs);
    if (!lam) throw new InputError("params.W", `I - W_AA is singular at the free fixed point of sample ${n}: the exact gradient does not exist there`);
    const lambda = star.map((v) => v.map(() => 0));
    units.forEach(([k, i], a) => (lambda[k]![i] = lam[a]!));
    const r = [x.map(rho), ...star.map((v) => v.map(rho))];
    const lams = [x.map(() => 0), ...lambda];
    g.W.forEach((w, l) =>
      w.forEach((row, i) => {
        for (let j = 0; j < row.length; j++) row[j]! += lams[l + 1]![i]! * r[l]![j]! + r[l + 1]![i]! * lams[l]![j]!;
        g.b[l]![i]! += lams[l + 1]![i]!;
      }),
    );
  });
  if (m.lossReduction === "mean") {
    loss /= c.inputs.length;
    scaleGrads(g, 1 / c.inputs.length);
  }
  const res = runResidual;
  if (lambdaMin === Infinity) lambdaMin = 1;
  const validity: Validity = {
    valid: false,
    converged: { ok: res <= VALIDITY.residual, residual: res, limit: VALIDITY.residual },
    margin: { ok: margin >= VALIDITY.margin, min: margin, limit: VALIDITY.margin },
    stability: { ok: lambdaMin >= VALIDITY.lambdaMin, lambdaMin, limit: VALIDITY.lambdaMin },
    linear: { ok: switched === 0, switched },
    fixedPoint: { residual: fixedResidual },
  };
  validity.valid = validity.converged.ok && validity.margin.ok && validity.stability.ok && validity.linear.ok;
  return { loss, grads: g, validity };
}
