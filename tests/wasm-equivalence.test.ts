// The e-prop triad: host float64 reference (host/reference/eprop.ts) vs the device kernels
// (device/kernels, AssemblyScript → WebAssembly float32) run in Node, both builds.
// Identical spike trains, gradients within 1e-5 relative (max |diff| / max |ref| per matrix).
import { beforeAll, describe, expect, it } from "vitest";
import { ensureWasm } from "../host/device/build.ts";
import { randomCase, type RandomCaseOptions } from "../host/case/random.ts";
import { epropGrad } from "../host/reference/eprop.ts";
import { simulate } from "../host/reference/simulate.ts";
import { deviceGrad, EpropDevice } from "../host/device/driver.ts";
import { backends } from "../host/backends/index.ts";
import type { Build } from "../host/device/planner.ts";
import type { GradResult, Matrix } from "../host/model/types.ts";
import { lossNormaliser } from "../host/model/decay.ts";

// Build (or reuse) both .wasm builds in a hook: a clean clone compiles them here, under hookTimeout.
beforeAll(() => Promise.all([ensureWasm("scalar"), ensureWasm("simd")]));

const TOL = 1e-5;
const BUILDS: Build[] = ["scalar", "simd"];

function relErr(a: Matrix, b: Matrix): number {
  let scale = 0;
  let diff = 0;
  b.forEach((row, i) =>
    row.forEach((x, j) => {
      scale = Math.max(scale, Math.abs(x));
      diff = Math.max(diff, Math.abs(a[i]![j]! - x));
    }),
  );
  return scale === 0 ? diff : diff / scale;
}

function expectClose(d: GradResult, r: GradResult): void {
  expect(Math.abs(d.loss - r.loss)).toBeLessThanOrEqual(TOL * Math.max(1, Math.abs(r.loss)));
  expect(relErr(d.grads.wIn, r.grads.wIn)).toBeLessThan(TOL);
  expect(relErr(d.grads.wRec, r.grads.wRec)).toBeLessThan(TOL);
  expect(relErr(d.grads.wOut, r.grads.wOut)).toBeLessThan(TOL);
  expect(relErr([d.grads.bOut], [r.grads.bOut])).toBeLessThan(TOL);
}

async function check(opts: RandomCaseOptions, build: Build): Promise<void> {
  const c = randomCase(opts);
  const ref = epropGrad(c);
  const tr = simulate(c);
  const d = await deviceGrad(c, build, { recordSpikes: true });
  expect(d.spikes).toEqual(tr.z);
  expectClose(d, ref);
}

describe("wasm kernels vs float64 e-prop reference (random margin cases)", () => {
  const grid: RandomCaseOptions[] = [];
  for (const neuron of ["lif", "alif"] as const)
    for (const loss of ["mse", "ce"] as const)
      for (const recurrent of [false, true])
        for (const feedback of ["symmetric", "random"] as const) grid.push({ neuron, loss, recurrent, feedback, seed: 11 });
  for (const build of BUILDS) {
    it.each(grid)(`${build}: $neuron $loss recurrent=$recurrent $feedback`, async (o) => {
      await check(o, build);
    });
  }

  const options: Array<[string, RandomCaseOptions]> = [
    ["refractory 3", { neuron: "alif", recurrent: true, refractory: 3, seed: 2 }],
    ["inputScale oneMinusAlpha", { neuron: "lif", recurrent: true, inputScale: "oneMinusAlpha", seed: 3 }],
    ["readoutScale oneMinusKappa", { neuron: "alif", loss: "ce", readoutScale: "oneMinusKappa", seed: 4 }],
    ["trainBias false", { neuron: "lif", loss: "ce", recurrent: true, trainBias: false, seed: 5 }],
    ["rateReg", { neuron: "alif", recurrent: true, rateReg: { cReg: 0.7, fTargetHz: 10 }, seed: 6 }],
    ["lossReduction mean (mse)", { neuron: "lif", recurrent: true, lossReduction: "mean", rateReg: { cReg: 0.3, fTargetHz: 20 }, seed: 7 }],
    ["lossReduction mean (ce)", { neuron: "alif", loss: "ce", lossReduction: "mean", feedback: "random", seed: 8 }],
    ["all options at once", {
      neuron: "alif", loss: "ce", recurrent: true, feedback: "random", refractory: 2, inputScale: "oneMinusAlpha",
      readoutScale: "oneMinusKappa", trainBias: false, rateReg: { cReg: 0.5, fTargetHz: 15 }, lossReduction: "mean", seed: 9,
    }],
    ["odd sizes (nRec 13, nIn 5, nOut 2)", { neuron: "alif", recurrent: true, nRec: 13, nIn: 5, nOut: 2, seed: 10 }],
  ];
  for (const build of BUILDS) {
    it.each(options)(`${build}: %s`, async (_name, o) => {
      await check(o, build);
    });
  }

  it("scalar and simd builds give bit-identical gradients (same summation order by construction)", async () => {
    for (const o of [grid[15]!, options[7]![1]]) {
      const c = randomCase(o);
      const a = await deviceGrad(c, "scalar");
      const b = await deviceGrad(c, "simd");
      expect(b.loss).toBe(a.loss);
      expect(b.grads).toEqual(a.grads);
    }
  });

  it("scalar and simd builds stay bit-identical on the scalar LIF fast paths (s = 1 and s != 1, odd sizes, real-valued inputs)", async () => {
    // The MCU build's LIF loops take two presynaptic rows and eight neurons per pass, then tails;
    // nRec 13 / nPre 20 and 21 / 27 exercise every tail, scaled inputs the multiply in the forward sum.
    const cases: RandomCaseOptions[] = [
      { neuron: "lif", recurrent: true, nIn: 7, nRec: 13, seed: 31 },
      { neuron: "lif", recurrent: true, nIn: 6, nRec: 21, readoutScale: "oneMinusKappa", loss: "ce", seed: 32 },
    ];
    for (const o of cases) {
      for (const scaled of [false, true]) {
        const c = randomCase(o);
        if (scaled) c.inputs = c.inputs.map((row, t) => row.map((x, i) => x * (0.5 + ((t + i) % 3) * 0.25)));
        const a = await deviceGrad(c, "scalar");
        const b = await deviceGrad(c, "simd");
        expect(b.loss).toBe(a.loss);
        expect(b.grads).toEqual(a.grads);
      }
    }
  });

  it("learning signal injected per neuron by the host gives the reference gradients", async () => {
    for (const o of [{ neuron: "alif", recurrent: true, feedback: "random", seed: 12 }, { neuron: "lif", loss: "ce", recurrent: true, seed: 13, lossReduction: "mean" }] as RandomCaseOptions[]) {
      const c = randomCase(o);
      const tr = simulate(c);
      const norm = lossNormaliser(c.model, c.mask);
      // L_j^t = sum_k B[j][k] err_k^t, without the lossReduction divisor (the device applies it at epFinish).
      const L = tr.err.map((e) => c.feedback.B.map((row) => row.reduce((s, b, k) => s + b * e[k]! * norm, 0)));
      for (const build of BUILDS) {
        const d = await deviceGrad(c, build, { injectL: L });
        expectClose(d, epropGrad(c));
      }
    }
  });

  it("gd (with clipping) and adam apply the update of MODEL.md's training loop", async () => {
    const c = randomCase({ neuron: "alif", recurrent: true, seed: 14 });
    for (const build of BUILDS) {
      const dev = await EpropDevice.create(c.model, c.feedback.kind, { build, optimizer: "adam" });
      dev.loadParams(c.params, c.feedback.B);
      const p0 = dev.readParams();
      const g = dev.runTrial(c.inputs, c.targets, c.mask).grads;
      const lr = 0.05;
      dev.applyGd(lr, { wMin: -0.5, wMax: 0.5 });
      const p1 = dev.readParams();
      const gd = (w: Matrix, gm: Matrix) => w.map((r, i) => r.map((x, j) => Math.min(0.5, Math.max(-0.5, x - lr * gm[i]![j]!))));
      expect(relErr(p1.wIn, gd(p0.wIn, g.wIn))).toBeLessThan(TOL);
      expect(relErr(p1.wRec, gd(p0.wRec, g.wRec))).toBeLessThan(TOL);
      expect(relErr(p1.wOut, gd(p0.wOut, g.wOut))).toBeLessThan(TOL);
      expect(relErr([p1.bOut], gd([p0.bOut], [g.bOut]))).toBeLessThan(TOL);
      expect(p1.wRec.every((r, j) => r[j] === 0)).toBe(true);
      // adam, two steps on the same trial: m, v and the bias correction lr*sqrt(1-b2^n)/(1-b1^n)
      const [b1, b2, eps] = [0.9, 0.999, 1e-8];
      let w = dev.readParams().wIn;
      const m = w.map((r) => r.map(() => 0));
      const v = w.map((r) => r.map(() => 0));
      for (let n = 1; n <= 2; n++) {
        const gn = dev.runTrial(c.inputs, c.targets, c.mask).grads.wIn;
        dev.applyAdam(lr, b1, b2, eps, n);
        const lrT = (lr * Math.sqrt(1 - b2 ** n)) / (1 - b1 ** n);
        w = w.map((r, i) =>
          r.map((x, j) => {
            m[i]![j] = b1 * m[i]![j]! + (1 - b1) * gn[i]![j]!;
            v[i]![j] = b2 * v[i]![j]! + (1 - b2) * gn[i]![j]! ** 2;
            return x - (lrT * m[i]![j]!) / (Math.sqrt(v[i]![j]!) + eps);
          }),
        );
        expect(relErr(dev.readParams().wIn, w)).toBeLessThan(TOL);
      }
    }
  });

  it("the wasm GradBackend is registered and matches the host backend", async () => {
    const c = randomCase({ neuron: "lif", loss: "ce", recurrent: true, feedback: "random", seed: 15 });
    const wasm = backends.find((b) => b.name === "wasm")!;
    const host = backends.find((b) => b.name === "host")!;
    expect(wasm.rules).toContain("eprop");
    const ref = await host.grad(c, { rule: "eprop", flags: {} });
    expectClose(await wasm.grad(c, { rule: "eprop", flags: { build: "simd" } }), ref);
    expectClose(await wasm.grad(c, { rule: "eprop", flags: {} }), ref);
    await expect(wasm.grad(c, { rule: "eprop", flags: { build: "avx" } })).rejects.toThrow(/--build/);
  });
});
