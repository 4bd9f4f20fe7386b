// The EqProp triad's device leg: the float32 kernel (device/rules/eqprop, AssemblyScript ->
// WebAssembly) run in Node against the float64 reference, within max(1e-4, 3e-5/|beta|)
// (EQPROP.md (a)) for beta >= 0.01; the scalar and SIMD builds bit for bit, arena included;
// the TypeScript twin of the arena layout tied to the device's; SGD apply; no memory growth
// after configure.
import { beforeAll, describe, expect, it } from "vitest";
import { ensureWasm } from "../host/device/build.ts";
import { Kernels } from "../host/device/driver.ts";
import { maxRelErr } from "../host/model/compare.ts";
import { eqpropRule } from "../host/rules/eqprop/index.ts";
import { eqpropArena, FIELDS } from "../host/rules/eqprop/layout.ts";
import { eqpropReference, type EqpropGradOutput } from "../host/rules/eqprop/reference.ts";
import type { EqpropParams } from "../host/rules/eqprop/schema.ts";
import { EqpropDevice, eqpropWasm } from "../host/rules/eqprop/wasm.ts";
import type { Build } from "../host/rules/rule.ts";
import { eqpropCase, type CaseOptions } from "./helpers/eqprop-cases.ts";

beforeAll(() => Promise.all([ensureWasm("scalar"), ensureWasm("simd")]));

const BUILDS: Build[] = ["scalar", "simd"];
const flat = (g: EqpropParams): number[] => [...g.W.flat(2), ...g.b.flat()];

function expectWithin(d: EqpropGradOutput, r: EqpropGradOutput, beta: number): void {
  const tol = Math.max(1e-4, 3e-5 / Math.abs(beta));
  expect(Math.abs(d.loss - r.loss) / Math.max(1, Math.abs(r.loss))).toBeLessThanOrEqual(tol);
  r.grads.W.forEach((w, l) => {
    expect(maxRelErr(d.grads.W[l]!.flat(), w.flat())).toBeLessThanOrEqual(tol);
    expect(maxRelErr(d.grads.b[l]!, r.grads.b[l]!)).toBeLessThanOrEqual(tol);
  });
  expect(Object.keys(d.residual)).toEqual(Object.keys(r.residual));
  for (const k of Object.keys(r.residual) as Array<keyof typeof r.residual>) expect(Math.abs(d.residual[k]! - r.residual[k]!)).toBeLessThanOrEqual(tol);
}

const grid: Array<[string, CaseOptions]> = [];
for (const beta of [0.5, 0.1, 0.01, -0.01])
  for (const nudge of ["one-sided", "symmetric"] as const) {
    grid.push([`[5,7,6,3] ${nudge} beta ${beta}`, { seed: 3, layers: [5, 7, 6, 3], nudge, beta, samples: 3 }]);
  }
grid.push(["[64,32,10] symmetric beta 0.01, mean", { seed: 4, layers: [64, 32, 10], nudge: "symmetric", wScale: 0.1, lossReduction: "mean", samples: 3 }]);
grid.push(["[9,3] one layer, beta 0.05", { seed: 5, layers: [9, 3], beta: 0.05 }]);
grid.push(["short [3,5,4,2] symmetric beta 0.5", { seed: 5, layers: [3, 5, 4, 2], nudge: "symmetric", freeSteps: 3, nudgedSteps: 2, beta: 0.5, wScale: 0.8, bLow: -1, bHigh: 1.8 }]);
grid.push(["short [3,5,4,2] one-sided beta 0.01", { seed: 6, layers: [3, 5, 4, 2], freeSteps: 4, nudgedSteps: 3, wScale: 0.8, bLow: -1, bHigh: 1.8 }]);

describe("wasm kernel vs float64 reference, within max(1e-4, 3e-5/|beta|)", () => {
  for (const build of BUILDS) {
    it.each(grid)(`${build}: %s`, async (_n, o) => {
      const c = eqpropCase(o);
      expectWithin(await eqpropWasm(c, build), eqpropReference(c), c.model.beta);
    });
  }
});

describe("scalar and SIMD builds agree bit for bit", () => {
  it.each(grid)("%s: loss, grads, residuals", async (_n, o) => {
    const c = eqpropCase(o);
    const [s, v] = await Promise.all(BUILDS.map((b) => eqpropWasm(c, b)));
    expect(v).toEqual(s);
  });

  it("the whole arena after two training steps (samples, apply) and an evaluation", async () => {
    const c = eqpropCase({ seed: 8, layers: [13, 9, 6, 5], nudge: "symmetric", beta: 1, freeSteps: 40, nudgedSteps: 10, samples: 4 });
    const arenas = await Promise.all(
      BUILDS.map(async (b) => {
        const dev = await EqpropDevice.create(c.model.layers, c.model.nudge, b);
        dev.setConstants(c.model);
        dev.writeParams(c.params);
        for (let it = 0; it < 2; it++) {
          c.inputs.forEach((x, n) => dev.sample(x, c.targets[n]!));
          dev.apply([0.05, 0.025, 0.01]);
        }
        dev.free(c.inputs[0]!, c.targets[0]!);
        return dev.k.readF32(dev.base, dev.arena.bytes / 4);
      }),
    );
    expect(new Uint32Array(arenas[1]!.buffer)).toEqual(new Uint32Array(arenas[0]!.buffer));
  });
});

describe("kernel arena and API", () => {
  it.each([
    [[4, 8, 3], false],
    [[4, 8, 3], true],
    [[64, 32, 10], true],
    [[1, 1], false],
    [[7, 5, 9, 2, 6], true],
  ] as Array<[number[], boolean]>)("TypeScript layout twin = device layout for %j symmetric=%s", async (layers, symmetric) => {
    const dev = await EqpropDevice.create(layers, symmetric ? "symmetric" : "one-sided");
    const ts = eqpropArena(layers, symmetric);
    const eqPtr = dev.k.raw<(f: number, l: number) => number>("eqPtr");
    const L = layers.length - 1;
    expect(dev.k.raw<() => number>("eqArenaBytes")()).toBe(ts.bytes);
    FIELDS.forEach((f, id) => {
      for (let layer = 0; layer <= L; layer++) expect(eqPtr(id, layer) - dev.base, `${f}[${layer}]`).toBe(ts.offset(f, layer));
    });
    for (let k = 0; k <= L; k++) expect(dev.k.raw<(k: number) => number>("eqStride")(k)).toBe(ts.stride(k));
    expect(eqpropRule.deviceBytes!({ ...eqpropCase({ layers }), model: { ...eqpropCase({ layers }).model, nudge: symmetric ? "symmetric" : "one-sided" } })).toBe(ts.bytes);
  });

  it("refuses sizes out of range at plan time and leaves the live arena alone", async () => {
    const k = await Kernels.load("scalar");
    const set = k.raw<(k: number, n: number) => void>("eqSetSize");
    const plan = k.raw<(L: number, f: number) => number>("eqPlan");
    [3, 0, 2].forEach((n, i) => set(i, n));
    expect(plan(2, 0)).toBe(0);
    set(1, 70000);
    expect(plan(2, 0)).toBe(0);
    expect(plan(0, 0)).toBe(0);
    expect(plan(16, 0)).toBe(0);
  });

  it("writes and reads W and b through the padded layout, applies W -= lr g, and never grows memory after configure", async () => {
    const c = eqpropCase({ seed: 9, layers: [6, 5, 3], nudge: "one-sided", beta: 0.5, samples: 2 });
    const dev = await EqpropDevice.create(c.model.layers, c.model.nudge);
    dev.setConstants(c.model);
    dev.writeParams(c.params);
    const f32 = (p: EqpropParams) => flat(p).map(Math.fround);
    expect(flat(dev.readParams())).toEqual(f32(c.params));
    const bytes = dev.k.memory.buffer.byteLength;
    c.inputs.forEach((x, n) => dev.sample(x, c.targets[n]!));
    const g = dev.readGrads();
    dev.apply([0.1, 0.2]);
    expect(dev.k.memory.buffer.byteLength).toBe(bytes);
    const want: EqpropParams = {
      W: c.params.W.map((w, l) => w.map((row, i) => row.map((v, j) => v - [0.1, 0.2][l]! * g.W[l]![i]![j]!))),
      b: c.params.b.map((v, l) => v.map((x, i) => x - [0.1, 0.2][l]! * g.b[l]![i]!)),
    };
    expect(maxRelErr(flat(dev.readParams()), flat(want))).toBeLessThan(1e-6);
    expect(flat(dev.readGrads()).every((v) => v === 0)).toBe(true); // apply clears the sums
  });
});
