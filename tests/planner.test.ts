// The host memory planner (host/device/planner.ts) vs the arena the device kernels actually lay
// out (device/kernels/layout.ts), and the RAM-budget refusal.
import { beforeAll, describe, expect, it } from "vitest";
import { ensureWasm } from "../host/device/build.ts";
import { InputError } from "../host/input/errors.ts";
import { randomCase } from "../host/case/random.ts";
import { Kernels } from "../host/device/driver.ts";
import { checkBudget, FIELDS, FLAG, lanesOf, planArena, planModel, planWithin, type Build } from "../host/device/planner.ts";

// Build (or reuse) both .wasm builds in a hook: a clean clone compiles them here, under hookTimeout.
beforeAll(() => Promise.all([ensureWasm("scalar"), ensureWasm("simd")]));

describe("memory planner", () => {
  it("matches the device layout field by field (both builds, every flag)", async () => {
    const dims = [
      { nIn: 1, nRec: 1, nOut: 1 },
      { nIn: 5, nRec: 13, nOut: 2 },
      { nIn: 80, nRec: 100, nOut: 3 },
      { nIn: 3, nRec: 7, nOut: 10 },
    ];
    const flagSets = [0, FLAG.ALIF, FLAG.CE | FLAG.RATEREG, FLAG.ADAM | FLAG.SEPB, FLAG.REFRACTORY | FLAG.TRAINBIAS | FLAG.MEAN, FLAG.SAL | FLAG.SEPB, FLAG.STEP | FLAG.ALIF, 511, 1023];
    for (const build of ["scalar", "simd"] as Build[]) {
      const k = await Kernels.load(build);
      const base = k.call("arenaBase");
      expect(base % 16).toBe(0);
      for (const d of dims) {
        for (const flags of flagSets) {
          const plan = planArena(d, flags, lanesOf(build));
          expect(k.call("configure", d.nIn, d.nRec, d.nOut, flags)).toBe(plan.bytes);
          expect(k.call("epStride")).toBe(plan.stride);
          FIELDS.forEach((name, id) => {
            const want = name === "fb" && !(flags & FLAG.SEPB) ? plan.fields[1]!.offset : plan.fields[id]!.offset;
            expect(k.call("epPtr", id) - base, `${build} ${JSON.stringify(d)} flags ${flags} field ${name}`).toBe(want);
          });
        }
      }
    }
  });

  it("refuses a model that cannot fit a 64 KiB budget, naming the field, the bytes needed and the limit", () => {
    const c = randomCase({ nIn: 80, nRec: 100, nOut: 3, T: 10 });
    const plan = planModel(c.model, "symmetric");
    expect(plan.bytes).toBeGreaterThan(65536);
    let err: unknown;
    try {
      planWithin(c.model, "symmetric", 65536);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const ie = err as InputError;
    expect(ie.field).toBe("model.nRec");
    expect(ie.message).toContain(`needs ${plan.bytes} bytes`);
    expect(ie.message).toContain("65536 bytes");
    // a small model fits
    const small = randomCase({ nIn: 8, nRec: 12, nOut: 3, T: 10 });
    expect(planWithin(small.model, "symmetric", 65536).bytes).toBeLessThan(65536);
    expect(() => checkBudget(planModel(small.model, "random", { optimizer: "adam" }), 100)).toThrow(/100 bytes/);
  });

  it("reports bytes per synapse: 12 per input/recurrent synapse for LIF e-prop with gd (weight, kappa-filtered trace, gradient), 8 per readout synapse", () => {
    const lif = randomCase({ nIn: 80, nRec: 100, nOut: 3, T: 10 }).model;
    const alif = randomCase({ neuron: "alif", nIn: 80, nRec: 100, nOut: 3, T: 10 }).model;
    const p = planModel(lif, "symmetric");
    expect(p.perSynapseStateBytes).toBeCloseTo((180 * 100 * 12 + 3 * 100 * 8) / (183 * 100), 10);
    expect(p.bytesPerSynapse).toBeGreaterThan(12);
    expect(p.bytesPerSynapse).toBeLessThan(12.3);
    expect(planModel(alif, "symmetric").perSynapseStateBytes).toBeCloseTo((180 * 100 * 16 + 3 * 100 * 8) / (183 * 100), 10); // + epsA
    expect(planModel(lif, "symmetric", { optimizer: "adam" }).perSynapseStateBytes).toBeCloseTo((180 * 100 * 20 + 3 * 100 * 16) / (183 * 100), 10);
  });
});
