// EqProp is a gradient (EQPROP.md "What the project's tests must show", (b)): the exact gradient
// (host/rules/eqprop/exact.ts, implicit differentiation at the exact fixed point) against finite
// differences of C(s*(theta)); on gradient-valid cases at beta = 0.01 the estimate's cosine with
// it and its relative error, which shrink like beta (one-sided) and beta^2 (symmetric); the
// validity report failing each of V1..V4 on a case built to fail it.
import { describe, expect, it } from "vitest";
import { cosine } from "../host/model/compare.ts";
import { cost, inputDrive, relax, zeroState } from "../host/rules/eqprop/dynamics.ts";
import { eqpropBptt } from "../host/rules/eqprop/bptt.ts";
import { eqpropExact } from "../host/rules/eqprop/exact.ts";
import { solve, symmetricEigenvalues } from "../host/rules/eqprop/linalg.ts";
import { eqpropReference } from "../host/rules/eqprop/reference.ts";
import type { EqpropCase, EqpropParams } from "../host/rules/eqprop/schema.ts";
import { eqpropCase } from "./helpers/eqprop-cases.ts";

const flat = (g: EqpropParams): number[] => [...g.W.flat(2), ...g.b.flat()];
/** ||a - b||_2 / ||b||_2 over every parameter: the relative error of an estimate a of b. */
const relErr = (a: number[], b: number[]): number => Math.hypot(...a.map((v, i) => v - b[i]!)) / Math.hypot(...b);

/** sum_n C(s*) with s* from a long free relaxation (600 steps: the cases below contract by <= 0.83 a step). */
function fixedPointLoss(c: EqpropCase): number {
  const { params: p, model: m } = c;
  return c.inputs.reduce((acc, x, n) => {
    const y = c.targets[n]!;
    return acc + cost(relax(p, inputDrive(p, x), zeroState(m.layers), 0, y, m.epsilon, 600), y);
  }, 0);
}

describe("linear algebra of the exact gradient", () => {
  it("solves a pivoting system and finds the eigenvalues of the 1-D Laplacian", () => {
    const x = solve(Float64Array.from([0, 2, 1, 1, 1, 1, 2, 0, 3]), [7, 6, 11]);
    expect(x).not.toBeNull();
    x!.forEach((v, i) => expect(v).toBeCloseTo([1, 2, 3][i]!, 12));
    expect(solve(Float64Array.from([1, 2, 2, 4]), [1, 2])).toBeNull();
    const n = 12;
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      A[i * n + i] = 2;
      if (i > 0) A[i * n + i - 1] = A[(i - 1) * n + i] = -1;
    }
    const want = Array.from({ length: n }, (_, k) => 2 - 2 * Math.cos(((k + 1) * Math.PI) / (n + 1)));
    symmetricEigenvalues(A, n).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 12));
  });
});

describe("exact gradient = finite differences of C(s*(theta))", () => {
  it.each([2, 5])("[4,8,6,3] seed %i, every parameter (central differences, h = 1e-6)", (seed) => {
    const c = eqpropCase({ seed, layers: [4, 8, 6, 3], samples: 2 });
    const exact = eqpropExact(c);
    expect(exact.validity.margin.ok).toBe(true);
    expect(exact.loss).toBeCloseTo(fixedPointLoss(c), 12);
    const h = 1e-6;
    const fd: number[] = [];
    const perturb = (get: (p: EqpropParams) => number[], i: number) => {
      const at = (d: number) => {
        const p: EqpropParams = structuredClone(c.params);
        get(p)[i]! += d;
        return fixedPointLoss({ ...c, params: p });
      };
      fd.push((at(h) - at(-h)) / (2 * h));
    };
    c.params.W.forEach((w, l) => w.forEach((row, r) => row.forEach((_, j) => perturb((p) => p.W[l]![r]!, j))));
    c.params.b.forEach((v, l) => v.forEach((_, i) => perturb((p) => p.b[l]!, i)));
    expect(relErr(flat(exact.grads), fd)).toBeLessThan(1e-6);
  });
});

describe("--rule bptt on an EqProp case: the gradient of loss through the free steps", () => {
  it("equals finite differences of the reference's loss on a short case, where it is not the fixed-point gradient", () => {
    const c = eqpropCase({ seed: 6, layers: [4, 6, 5, 3], freeSteps: 7, nudgedSteps: 1, wScale: 0.6, bLow: -0.3, bHigh: 1.2 });
    const b = eqpropBptt(c);
    expect(b.loss).toBe(eqpropReference(c).loss);
    const h = 1e-6;
    const fd: number[] = [];
    const perturb = (get: (p: EqpropParams) => number[], i: number) => {
      const at = (d: number) => {
        const p: EqpropParams = structuredClone(c.params);
        get(p)[i]! += d;
        return eqpropReference({ ...c, params: p }).loss;
      };
      fd.push((at(h) - at(-h)) / (2 * h));
    };
    c.params.W.forEach((w, l) => w.forEach((row, r) => row.forEach((_, j) => perturb((p) => p.W[l]![r]!, j))));
    c.params.b.forEach((v, l) => v.forEach((_, i) => perturb((p) => p.b[l]!, i)));
    expect(Math.hypot(...fd)).toBeGreaterThan(0.1);
    expect(relErr(flat(b.grads), fd)).toBeLessThan(1e-7);
    expect(relErr(flat(b.grads), flat(eqpropExact(c).grads))).toBeGreaterThan(0.1);
  });

  it("meets the exact fixed-point gradient on a converged case", () => {
    const c = eqpropCase({ seed: 2, layers: [4, 8, 6, 3] });
    expect(relErr(flat(eqpropBptt(c).grads), flat(eqpropExact(c).grads))).toBeLessThan(1e-10);
  });
});

describe("EqProp's estimate on gradient-valid cases at beta = 0.01", () => {
  const seeds = [2, 3, 4, 5, 6, 8];
  const measured: string[] = [];
  for (const nudge of ["one-sided", "symmetric"] as const) {
    it.each(seeds)(`${nudge}, [4,8,6,3] seed %i`, (seed) => {
      const c = eqpropCase({ seed, nudge, layers: [4, 8, 6, 3], beta: 0.01 });
      const exact = eqpropExact(c);
      expect(exact.validity).toMatchObject({ valid: true, converged: { ok: true }, margin: { ok: true }, stability: { ok: true }, linear: { ok: true } });
      const g = flat(exact.grads);
      const est = flat(eqpropReference(c).grads);
      const half = flat(eqpropReference({ ...c, model: { ...c.model, beta: 0.005 } }).grads);
      const err = relErr(est, g);
      const ratio = err / relErr(half, g);
      measured.push(`${nudge} seed ${seed}: cos ${cosine(est, g).toFixed(7)}, rel err ${err.toExponential(2)}, err(0.01)/err(0.005) ${ratio.toFixed(3)}`);
      expect(cosine(est, g)).toBeGreaterThanOrEqual(0.999);
      if (nudge === "one-sided") {
        expect(err).toBeLessThanOrEqual(0.05);
        expect(ratio).toBeGreaterThan(1.8); // O(beta): halving beta halves the bias
        expect(ratio).toBeLessThan(2.2);
      } else {
        expect(err).toBeLessThanOrEqual(2e-3);
        expect(ratio).toBeGreaterThan(3.6); // O(beta^2): halving beta quarters it
        expect(ratio).toBeLessThan(4.4);
      }
    });
  }
  it("prints the measured figures", () => {
    expect(measured).toHaveLength(2 * seeds.length);
    console.log(`EqProp vs exact gradient at beta 0.01:\n  ${measured.join("\n  ")}`);
  });
});

describe("the validity report fails each condition on a case built to fail it", () => {
  const valid = () => eqpropCase({ seed: 2, layers: [4, 8, 6, 3] });

  it("V1 converged: 5 free steps", () => {
    const v = eqpropExact({ ...valid(), model: { ...valid().model, freeSteps: 5 } }).validity;
    expect(v.converged.ok).toBe(false);
    expect(v.converged.residual).toBeGreaterThan(1e-10);
    expect(v.fixedPoint.residual).toBeLessThan(1e-14); // s* itself is still found
    expect(v.valid).toBe(false);
  });

  it("V2 margin: a unit whose drive is exactly 0", () => {
    const c = valid();
    c.params.W[0]![2] = [0, 0, 0, 0];
    c.params.W[1]!.forEach((row) => (row[2] = 0));
    c.params.b[0]![2] = 0;
    const v = eqpropExact(c).validity;
    expect(v.margin).toMatchObject({ ok: false, min: 0 });
    expect(v.valid).toBe(false);
  });

  it("V3 stability: two units coupled by 0.98 give lambda_min(I - W_AA) = 0.02", () => {
    const c: EqpropCase = {
      name: "v3",
      model: { layers: [2, 2, 2], beta: 0.01, epsilon: 0.5, freeSteps: 6000, nudgedSteps: 6000, nudge: "symmetric", lossReduction: "sum" },
      params: { W: [[[0.1, 0], [0, 0.1]], [[0.98, 0], [0, 0.2]]], b: [[0.01, 0.3], [0, 0.3]] },
      inputs: [[0.1, 0.5]],
      targets: [[0.3, 0.5]],
    };
    const v = eqpropExact(c).validity;
    expect(v.stability.lambdaMin).toBeCloseTo(0.02, 12);
    expect(v.stability.ok).toBe(false);
    expect(v.valid).toBe(false);
  });

  it("V4 linear regime: beta = 1 switches units on or off, and the estimate's error is then O(1)", () => {
    const c = valid();
    const big = { ...c, model: { ...c.model, beta: 1, nudge: "symmetric" as const } };
    const exact = eqpropExact(big);
    expect(exact.validity.linear.ok).toBe(false);
    expect(exact.validity.linear.switched).toBeGreaterThan(0);
    expect(exact.validity.valid).toBe(false);
  });
});
