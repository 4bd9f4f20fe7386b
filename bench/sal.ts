// SAL alignment on the device kernels (WASM): angle(B, wOut^T) over an alignment phase for
// several seeds (MODEL.md's prototype reported ~19° at 40k steps and ~10° at 200k for nRec 100,
// nOut 3; ~8° for 50 x 10), and the cost of a SAL step: float64 host reference vs WASM.
import { SalDevice } from "../host/device/sal.ts";
import { alignmentAngleDeg, jitteredThresholds, SalStream, type SalSetup } from "../host/reference/sal.ts";
import { Pcg32 } from "../host/rng/pcg32.ts";
import type { BenchSection } from "./section.ts";
import { median } from "./stats.ts";

const SEEDS = [1, 2, 3, 4, 5];
const CHECKPOINTS = [0, 10_000, 40_000, 200_000];

function setup(nRec: number, nOut: number, seed: number): SalSetup {
  const rng = new Pcg32(seed, 99);
  const wOut = Array.from({ length: nOut }, () => Array.from({ length: nRec }, () => rng.normal() / Math.sqrt(nRec)));
  const B = Array.from({ length: nRec }, () => Array.from({ length: nOut }, () => 0.1 * rng.normal()));
  return { wOut, B, thLower: jitteredThresholds(nRec, 1, 0.2, rng), thUpper: jitteredThresholds(nOut, 1, 0.2, rng), seed: { state: seed, seq: 7 } };
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};

export const salSection: BenchSection = {
  name: "sal",
  async run(log) {
    const rows: string[] = [];
    const cost: string[] = [];
    for (const [nRec, nOut] of [[100, 3], [50, 10]] as const) {
      log(`  sal ${nRec} x ${nOut}: ${SEEDS.length} seeds x ${CHECKPOINTS.at(-1)} steps`);
      const angles: number[][] = CHECKPOINTS.map(() => []);
      const wasmMs: number[] = [];
      for (const seed of SEEDS) {
        const s = setup(nRec, nOut, seed);
        const dev = await SalDevice.create(s, "simd");
        let done = 0;
        for (const [i, c] of CHECKPOINTS.entries()) {
          const t0 = cpuMs();
          dev.run(c - done);
          if (c > done) wasmMs.push((cpuMs() - t0) / (c - done));
          done = c;
          angles[i]!.push(alignmentAngleDeg(dev.B, s.wOut));
        }
      }
      const fmtA = (xs: number[]) => `${median(xs).toFixed(1)}° (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
      rows.push(`| ${nRec} × ${nOut} | ${angles.map(fmtA).join(" | ")} |`);
      // cost per step: float64 reference vs WASM
      const s = setup(nRec, nOut, 1);
      const host = new SalStream(s);
      host.run(200);
      const hostTimes: number[] = [];
      for (let r = 0; r < 5; r++) {
        const t0 = cpuMs();
        host.run(2000);
        hostTimes.push((cpuMs() - t0) / 2000);
      }
      const h = median(hostTimes), w = median(wasmMs);
      cost.push(`| ${nRec} × ${nOut} | ${(h * 1e3).toFixed(2)} | ${(w * 1e3).toFixed(2)} | ${(h / w).toFixed(1)}× |`);
    }
    return [
      "## SAL: alignment of B with wOut^T on the device",
      "",
      `Angle between vec(B) and vec(wOut^T) on the WASM kernels (SIMD build; SAL itself is scalar code), median`,
      `(min–max) over ${SEEDS.length} seeds; MODEL.md's parameters (tauMem = tauOut = tauStdp = 20, delta 0.1, wRms 0.1,`,
      "rhoTarget 0.02, etaH 5e-5, eta0 0.01, Ta 20000), thresholds varied ±20 % per neuron, B starting random.",
      "",
      `| nRec × nOut | ${CHECKPOINTS.map((c) => `${c / 1000}k steps`).join(" | ")} |`,
      `| --- | ${CHECKPOINTS.map(() => "---").join(" | ")} |`,
      ...rows,
      "",
      "Cost of one alignment step (CPU time, medians):",
      "",
      "| nRec × nOut | host f64 µs/step | WASM µs/step | WASM vs host |",
      "| --- | --- | --- | --- |",
      ...cost,
    ].join("\n");
  },
};
