// The float64 reference of `edgeprop grad --rule eqprop` (EQPROP.md "Dynamics", "Estimator and
// sign convention", "edgeprop grad"): per sample a free phase from 0, a nudged phase from s0
// and, for symmetric nudging, a -beta phase that restarts from s0; the contrastive estimate of
// dC/dtheta; the loss at the end of the free phase; the residual of each phase.
import { argmax, copyState, cost, inputDrive, relax, residual, rho, zeroState, type State } from "./dynamics.ts";
import type { GradOutput } from "../rule.ts";
import type { EqpropCase, EqpropModel, EqpropParams } from "./schema.ts";

/** What the estimate needs of a model: the dynamics and the nudge. */
export type Settings = Pick<EqpropModel, "beta" | "epsilon" | "freeSteps" | "nudgedSteps" | "nudge">;

export interface Residuals {
  free: number;
  nudged: number;
  /** Only with symmetric nudging. */
  nudgedMinus?: number;
}

/** What `grad --rule eqprop` prints (EQPROP.md), on the seam's GradOutput. */
export interface EqpropGradOutput extends GradOutput {
  loss: number;
  grads: EqpropParams;
  residual: Residuals;
}

export interface SamplePhases {
  /** W[0] rho(x) + b[0]. */
  drive0: number[];
  s0: State;
  sb: State;
  /** Only with symmetric nudging. */
  sm?: State;
}

export function zeroGrads(layers: readonly number[]): EqpropParams {
  const L = layers.length - 1;
  return {
    W: Array.from({ length: L }, (_, l) => Array.from({ length: layers[l + 1]! }, () => new Array<number>(layers[l]!).fill(0))),
    b: Array.from({ length: L }, (_, l) => new Array<number>(layers[l + 1]!).fill(0)),
  };
}

/** The phases of one sample; each starts where EQPROP.md says (free from 0, nudged and -beta from s0). */
export function samplePhases(p: EqpropParams, m: Settings, x: readonly number[], y: readonly number[]): SamplePhases {
  const drive0 = inputDrive(p, x);
  const layers = [x.length, ...p.b.map((v) => v.length)];
  const s0 = relax(p, drive0, zeroState(layers), 0, y, m.epsilon, m.freeSteps);
  const sb = relax(p, drive0, copyState(s0), m.beta, y, m.epsilon, m.nudgedSteps);
  if (m.nudge === "one-sided") return { drive0, s0, sb };
  const sm = relax(p, drive0, copyState(s0), -m.beta, y, m.epsilon, m.nudgedSteps);
  return { drive0, s0, sb, sm };
}

/** g += coef (rho(a_{l+1}) rho(a_l)^T - rho(b_{l+1}) rho(b_l)^T) and g_b += coef (rho(a_{l+1}) - rho(b_{l+1})), with rho(s_0) = x. */
function addContrast(g: EqpropParams, x: readonly number[], a: State, b: State, coef: number): void {
  const ra = [x.map(rho), ...a.map((v) => v.map(rho))];
  const rb = [x.map(rho), ...b.map((v) => v.map(rho))];
  g.W.forEach((gw, l) => {
    const aPost = ra[l + 1]!, aPre = ra[l]!, bPost = rb[l + 1]!, bPre = rb[l]!;
    gw.forEach((row, i) => {
      for (let j = 0; j < row.length; j++) row[j]! += coef * (aPost[i]! * aPre[j]! - bPost[i]! * bPre[j]!);
      g.b[l]![i]! += coef * (aPost[i]! - bPost[i]!);
    });
  });
}

/** One-sided: -(1/beta)[s^beta terms - s0 terms]; symmetric: -(1/2beta)[s^beta terms - s^-beta terms]. */
export function addEstimate(g: EqpropParams, m: Settings, x: readonly number[], ph: SamplePhases): void {
  if (ph.sm) addContrast(g, x, ph.sb, ph.sm, -1 / (2 * m.beta));
  else addContrast(g, x, ph.sb, ph.s0, -1 / m.beta);
}

export interface SampleResult {
  /** C at the end of the free phase. */
  loss: number;
  /** argmax s0_L. */
  prediction: number;
}

/** Runs one sample's phases and adds its estimate into g. */
export function sampleEstimate(p: EqpropParams, m: Settings, x: readonly number[], y: readonly number[], g: EqpropParams): SampleResult & { phases: SamplePhases } {
  const ph = samplePhases(p, m, x, y);
  addEstimate(g, m, x, ph);
  const out = ph.s0[ph.s0.length - 1]!;
  return { loss: cost(ph.s0, y), prediction: argmax(out), phases: ph };
}

/** Multiplies every entry of g by f in place. */
export function scaleGrads(g: EqpropParams, f: number): void {
  g.W.forEach((w) => w.forEach((row) => row.forEach((_, j) => (row[j]! *= f))));
  g.b.forEach((v) => v.forEach((_, i) => (v[i]! *= f)));
}

/** `edgeprop grad CASE --rule eqprop --backend host`. */
export function eqpropReference(c: EqpropCase): EqpropGradOutput {
  const { model: m, params: p } = c;
  const g = zeroGrads(m.layers);
  let loss = 0;
  const r = { free: 0, nudged: 0, nudgedMinus: 0 };
  c.inputs.forEach((x, n) => {
    const y = c.targets[n]!;
    const s = sampleEstimate(p, m, x, y, g);
    loss += s.loss;
    const ph = s.phases;
    r.free = Math.max(r.free, residual(p, ph.drive0, ph.s0, 0, y));
    r.nudged = Math.max(r.nudged, residual(p, ph.drive0, ph.sb, m.beta, y));
    if (ph.sm) r.nudgedMinus = Math.max(r.nudgedMinus, residual(p, ph.drive0, ph.sm, -m.beta, y));
  });
  if (m.lossReduction === "mean") {
    loss /= c.inputs.length;
    scaleGrads(g, 1 / c.inputs.length);
  }
  const res: Residuals = m.nudge === "symmetric" ? r : { free: r.free, nudged: r.nudged };
  return { loss, grads: g, residual: res };
}
