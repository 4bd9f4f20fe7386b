// The SAL triad: host reference (host/reference/sal.ts), device kernel (device/kernels/sal.ts)
// and this test. Plus the device PCG32 against MODEL.md's check values.
import { beforeAll, describe, expect, it } from "vitest";
import { ensureWasm } from "../host/device/build.ts";
import { Pcg32 } from "../host/rng/pcg32.ts";
import { alignmentAngleDeg, jitteredThresholds, SalStream, type SalSetup } from "../host/reference/sal.ts";
import { Kernels } from "../host/device/driver.ts";
import { SalDevice } from "../host/device/sal.ts";
import type { Build } from "../host/device/planner.ts";
import { maxRelErr } from "./helpers/compare.ts";

// Build (or reuse) both .wasm builds in a hook: a clean clone compiles them here, under hookTimeout.
beforeAll(() => Promise.all([ensureWasm("scalar"), ensureWasm("simd")]));

function setup(nRec: number, nOut: number, seed: number, precision: "f32" | "f64"): SalSetup {
  const rng = new Pcg32(seed, 99);
  const wOut = Array.from({ length: nOut }, () => Array.from({ length: nRec }, () => rng.normal() / Math.sqrt(nRec)));
  const B = Array.from({ length: nRec }, () => Array.from({ length: nOut }, () => 0.1 * rng.normal()));
  return {
    wOut, B, thLower: jitteredThresholds(nRec, 1, 0.2, rng), thUpper: jitteredThresholds(nOut, 1, 0.2, rng),
    seed: { state: seed, seq: 7 }, precision,
  };
}


/** Runs host and device side by side, comparing spikes at every step; returns the first mismatch or -1. */
function lockstep(host: SalStream, dev: SalDevice, steps: number): number {
  for (let t = 0; t < steps; t++) {
    host.step();
    dev.step();
    const s = dev.spikes();
    if (s.z.some((z, j) => z !== host.z[j]) || s.y.some((y, k) => y !== host.y[k])) return t + 1;
  }
  return -1;
}

describe("device PCG32", () => {
  it("seed(42, 54) gives MODEL.md's check values, like the host Pcg32", async () => {
    for (const build of ["scalar", "simd"] as Build[]) {
      const k = await Kernels.load(build);
      k.call("pcgSeed", 0, 42, 0, 54);
      const out = Array.from({ length: 6 }, () => k.call("pcgNext") >>> 0);
      expect(out).toEqual([0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e]);
      const host = new Pcg32(0x123456789abcdefn, 0xfedcba987654321n);
      k.call("pcgSeed", 0x1234567, 0x89abcdef, 0xfedcba9, 0x87654321);
      for (let i = 0; i < 100; i++) expect(k.call("pcgNext") >>> 0).toBe(host.next());
    }
  });
});

describe("SAL: host reference vs device kernel", () => {
  it.each([
    [100, 3, 1, "scalar"],
    [100, 3, 2, "simd"],
    [50, 10, 3, "scalar"],
  ] as const)("nRec %i nOut %i seed %i (%s): identical spike trains for 5000 steps and bit-identical B after 20000 (host in float32 mode)", async (nRec, nOut, seed, build) => {
    const s = setup(nRec, nOut, seed, "f32");
    const host = new SalStream(s);
    const dev = await SalDevice.create(s, build);
    expect(lockstep(host, dev, 5000)).toBe(-1);
    host.run(15000);
    dev.run(15000);
    expect(dev.counts()).toEqual({ steps: 20000, lower: host.lowerSpikes, upper: host.upperSpikes });
    expect(host.upperSpikes).toBeGreaterThan(100);
    const B = dev.B;
    expect(B).toEqual(host.B); // exact: every float32 rounding mirrored
  });

  it("float64 reference: identical spike trains for 1000 steps, B within 1e-5 relative", async () => {
    for (const seed of [1, 3, 4]) {
      const s = setup(100, 3, seed, "f64");
      const host = new SalStream(s);
      const dev = await SalDevice.create(s, "scalar");
      expect(lockstep(host, dev, 1000)).toBe(-1);
      expect(maxRelErr(dev.B.flat(), host.B.flat())).toBeLessThan(1e-5);
    }
  });

  it("B starts random and aligns with wOut^T on the device (nRec 100, nOut 3, thresholds ±20 %)", async () => {
    const report: string[] = [];
    for (const seed of [1, 2]) {
      const s = setup(100, 3, seed, "f64");
      const dev = await SalDevice.create(s, "simd");
      const before = alignmentAngleDeg(s.B, s.wOut);
      dev.run(40000);
      const at40k = alignmentAngleDeg(dev.B, s.wOut);
      dev.run(160000);
      const at200k = alignmentAngleDeg(dev.B, s.wOut);
      report.push(`seed ${seed}: ${before.toFixed(1)}° -> ${at40k.toFixed(1)}° (40k steps) -> ${at200k.toFixed(1)}° (200k)`);
      expect(before).toBeGreaterThan(75);
      expect(at40k).toBeLessThan(30);
      expect(at200k).toBeLessThan(15);
    }
    console.log(`SAL alignment angle(B, wOut^T): ${report.join("; ")}`);
  });
});
