// Scalar build: Node's run of the .wasm vs the same .wasm through wasm2c (wabt) + gcc -O2
// -ffp-contract=off. Every call result and the final linear memory must be bit-identical.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { randomCase, type RandomCaseOptions } from "../host/case/random.ts";
import { ensureWasm } from "../host/device/build.ts";
import { EpropDevice, type Kernels } from "../host/device/driver.ts";
import { buildNativeReplay, expectedResults, replayNative } from "../host/device/native.ts";
import { SalDevice } from "../host/device/sal.ts";
import { Pcg32 } from "../host/rng/pcg32.ts";
import { jitteredThresholds } from "../host/reference/sal.ts";

// Build (or reuse) both .wasm builds in a hook: a clean clone compiles them here, under hookTimeout.
beforeAll(() => Promise.all([ensureWasm("scalar"), ensureWasm("simd")]));
beforeAll(() => buildNativeReplay()); // wasm2c + gcc, also in a hook

async function expectNativeIdentical(k: Kernels): Promise<void> {
  const nat = await replayNative(k.script!);
  expect(Buffer.compare(nat.results, expectedResults(k.script!))).toBe(0);
  const mem = Buffer.from(k.snapshot());
  expect(nat.memory.length).toBe(mem.length);
  const firstDiff = nat.memory.findIndex((b, i) => b !== mem[i]);
  expect(firstDiff).toBe(-1);
}

describe("scalar .wasm: Node vs wasm2c native", () => {
  it("the scalar build has no SIMD, imports nothing but env.abort, never allocates (wasm2c 1.0.32 / MCU constraints)", async () => {
    const mod = new WebAssembly.Module(readFileSync(await ensureWasm("scalar")));
    expect(WebAssembly.Module.imports(mod).filter((i) => !(i.module === "env" && i.name === "abort"))).toEqual([]);
    const wat = readFileSync((await ensureWasm("scalar")).replace(/\.wasm$/, ".wat"), "utf8");
    expect(wat).not.toMatch(/v128|trunc_sat/);
    // no allocator at all (--runtime stub, nothing allocates); memory grows only in `reserve` (every rule's configure goes through it)
    expect(wat).not.toMatch(/__alloc|__new|__renew/);
    const growers = wat.split(/\n \(func /).filter((f) => f.includes("memory.grow")).map((f) => f.slice(0, f.indexOf(" ")));
    // (binaryen may inline reserve into e-prop's configure: both are configure-time entry points)
    expect(growers).toContain("$device/node/entry/reserve");
    expect(growers.filter((g) => g !== "$device/node/entry/reserve" && g !== "$device/node/entry/configure")).toEqual([]);
  });

  const cases: RandomCaseOptions[] = [
    { neuron: "lif", loss: "mse", recurrent: true, seed: 21 },
    { neuron: "alif", loss: "ce", recurrent: true, feedback: "random", seed: 22 },
    // the scalar LIF fast path with s != 1 and every loop tail (two rows x eight neurons per pass)
    { neuron: "lif", loss: "ce", recurrent: true, readoutScale: "oneMinusKappa", nIn: 6, nRec: 21, seed: 23 },
    {
      neuron: "alif", loss: "ce", recurrent: true, feedback: "random", refractory: 2, inputScale: "oneMinusAlpha",
      readoutScale: "oneMinusKappa", trainBias: false, rateReg: { cReg: 0.5, fTargetHz: 15 }, lossReduction: "mean", seed: 9,
    },
  ];
  it.each(cases)("e-prop trials + adam + gd, bit-identical state: $neuron $loss $feedback seed $seed", async (o) => {
    const c = randomCase(o);
    const dev = await EpropDevice.create(c.model, c.feedback.kind, { build: "scalar", optimizer: "adam", record: true });
    dev.loadParams(c.params, c.feedback.B);
    dev.runTrial(c.inputs, c.targets, c.mask);
    dev.applyAdam(0.01, 0.9, 0.999, 1e-8, 1);
    dev.runTrial(c.inputs, c.targets, c.mask, { injectL: c.inputs.map(() => c.params.wOut[0]!.map((w) => 0.1 * w)) });
    dev.applyGd(0.01, { wMin: -1, wMax: 1 });
    dev.runTrial(c.inputs, c.targets, c.mask);
    await expectNativeIdentical(dev.k);
  });

  it("SAL alignment, 20000 steps, bit-identical B and state", async () => {
    const rng = new Pcg32(5, 99);
    const nRec = 100, nOut = 3;
    const wOut = Array.from({ length: nOut }, () => Array.from({ length: nRec }, () => rng.normal() / 10));
    const B = Array.from({ length: nRec }, () => Array.from({ length: nOut }, () => 0.1 * rng.normal()));
    const sal = await SalDevice.create(
      { wOut, B, thLower: jitteredThresholds(nRec, 1, 0.2, rng), thUpper: jitteredThresholds(nOut, 1, 0.2, rng), seed: { state: 5n, seq: 7n } },
      "scalar",
      true,
    );
    sal.run(20000);
    sal.counts();
    await expectNativeIdentical(sal.dev.k);
  });
});
