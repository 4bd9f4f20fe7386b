// EqProp faithfulness (EQPROP.md "What the project's tests must show", (a)): the float64 host
// reference (host/rules/eqprop/reference.ts) equals an independent transcription of the spec
// (tests/helpers/eqprop-spec.ts) to 1e-9 relative on converged and on short, unconverged cases,
// and on the short cases it is told apart from each mistake the spec lists.
import { describe, expect, it } from "vitest";
import { maxRelErr } from "../host/model/compare.ts";
import { eqpropReference } from "../host/rules/eqprop/reference.ts";
import type { EqpropCase, EqpropParams } from "../host/rules/eqprop/schema.ts";
import { eqpropCase, type CaseOptions } from "./helpers/eqprop-cases.ts";
import { specGrad, type SpecBugs, type SpecOutput } from "./helpers/eqprop-spec.ts";

const TOL = 1e-9;

const flat = (g: EqpropParams): number[] => [...g.W.flat(2), ...g.b.flat()];

/** The largest relative difference over loss, every tensor and every residual. */
function distance(a: SpecOutput, b: SpecOutput): number {
  const rel = (x: number, y: number) => Math.abs(x - y) / Math.max(Math.abs(y), 1e-6);
  let d = Math.max(rel(a.loss, b.loss), maxRelErr(flat(a.grads), flat(b.grads)));
  a.grads.W.forEach((w, l) => (d = Math.max(d, maxRelErr(w.flat(), b.grads.W[l]!.flat()), maxRelErr(a.grads.b[l]!, b.grads.b[l]!))));
  expect(Object.keys(a.residual).sort()).toEqual(Object.keys(b.residual).sort());
  for (const k of ["free", "nudged", "nudgedMinus"] as const) {
    if (b.residual[k] !== undefined) d = Math.max(d, rel(a.residual[k]!, b.residual[k]!));
  }
  return d;
}

const converged: Array<[string, CaseOptions]> = [
  ["[4,8,3] one-sided", { seed: 2 }],
  ["[4,8,3] symmetric", { seed: 2, nudge: "symmetric" }],
  ["[4,8,6,3] symmetric, mean", { seed: 3, layers: [4, 8, 6, 3], nudge: "symmetric", lossReduction: "mean" }],
  ["[5,3] one-layer, beta -0.2", { seed: 4, layers: [5, 3], beta: -0.2 }],
];

// Short runs from 0 with a large nudge; wide biases saturate some units at 0 and 1 with the force pointing outward.
const short = (o: CaseOptions): CaseOptions => ({ freeSteps: 3, nudgedSteps: 2, beta: 0.5, epsilon: 0.6, wScale: 0.8, bLow: -1, bHigh: 1.8, ...o });
const unconverged: Array<[string, CaseOptions]> = [
  ["[3,5,4,2] one-sided", short({ seed: 5, layers: [3, 5, 4, 2] })],
  ["[3,5,4,2] symmetric", short({ seed: 5, layers: [3, 5, 4, 2], nudge: "symmetric" })],
  ["[6,4,3] symmetric, mean, epsilon 1", short({ seed: 6, layers: [6, 4, 3], nudge: "symmetric", lossReduction: "mean", epsilon: 1 })],
];

describe("host reference = independent transcription of EQPROP.md (<= 1e-9 relative)", () => {
  it.each(converged)("converged %s", (_n, o) => {
    const c = eqpropCase(o);
    const ref = eqpropReference(c);
    expect(ref.residual.free).toBeLessThan(1e-10);
    expect(distance(ref, specGrad(c))).toBeLessThanOrEqual(TOL);
  });

  it.each(unconverged)("unconverged %s", (_n, o) => {
    const c = eqpropCase(o);
    const ref = eqpropReference(c);
    expect(ref.residual.free).toBeGreaterThan(1e-3);
    expect(distance(ref, specGrad(c))).toBeLessThanOrEqual(TOL);
  });

  it("prints residual.nudgedMinus only for symmetric nudging, and grads in the shapes of params", () => {
    const c = eqpropCase({ seed: 2, layers: [4, 8, 6, 3] });
    const one = eqpropReference(c);
    expect(Object.keys(one)).toEqual(["loss", "grads", "residual"]);
    expect(Object.keys(one.residual)).toEqual(["free", "nudged"]);
    expect(one.grads.W.map((w) => [w.length, w[0]!.length])).toEqual(c.params.W.map((w) => [w.length, w[0]!.length]));
    expect(one.grads.b.map((v) => v.length)).toEqual([8, 6, 3]);
    const sym = eqpropReference({ ...c, model: { ...c.model, nudge: "symmetric" } });
    expect(Object.keys(sym.residual)).toEqual(["free", "nudged", "nudgedMinus"]);
  });

  it("mean divides loss and grads of the sum by N", () => {
    const c = eqpropCase({ seed: 7, samples: 4 });
    const sum = eqpropReference(c);
    const mean = eqpropReference({ ...c, model: { ...c.model, lossReduction: "mean" } });
    expect(mean.loss).toBeCloseTo(sum.loss / 4, 14);
    expect(maxRelErr(flat(mean.grads), flat(sum.grads).map((v) => v / 4))).toBeLessThan(1e-14);
  });
});

describe("short cases tell the reference apart from the spec's bug list", () => {
  // Each mistake moves some printed number by far more than the 1e-9 the reference is held to.
  const bugs: Array<[string, SpecBugs, CaseOptions]> = [
    ["sequential instead of synchronous layer updates", { sequential: true }, short({ seed: 5, layers: [3, 5, 4, 2] })],
    ["-beta phase started from s^beta, not s0", { minusFromNudged: true }, short({ seed: 5, layers: [3, 5, 4, 2], nudge: "symmetric" })],
    ["nudged phase started from 0, not s0", { nudgedFromZero: true }, short({ seed: 5, layers: [3, 5, 4, 2] })],
    ["raw max |dF/ds| as the residual", { rawResidual: true }, short({ seed: 5, layers: [3, 5, 4, 2] })],
    ["one extra free step", { extraFreeSteps: 1 }, short({ seed: 5, layers: [3, 5, 4, 2] })],
  ];
  it.each(bugs)("%s", (_n, bug, o) => {
    const c: EqpropCase = eqpropCase(o);
    const ref = eqpropReference(c);
    expect(distance(ref, specGrad(c))).toBeLessThanOrEqual(TOL);
    expect(distance(ref, specGrad(c, bug))).toBeGreaterThan(1e-3);
  });

  it("on a converged case the extra free step and the nudged start are invisible (why short cases are needed)", () => {
    const c = eqpropCase({ seed: 2 });
    const ref = eqpropReference(c);
    expect(distance(ref, specGrad(c, { extraFreeSteps: 1 }))).toBeLessThan(1e-6);
    expect(distance(ref, specGrad(c, { sequential: true }))).toBeLessThan(1e-6);
  });
});
