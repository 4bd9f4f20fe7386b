// One fixed-point definition: the MCU's fixed-point e-prop core (device/kernels/fixed16.ts,
// AssemblyScript -> WebAssembly, i32 operations; the same .wasm code the firmware runs through
// wasm2c) and the FPGA core's golden model (fpga/golden.ts, bit-exact with the Verilog) agree bit
// for bit on the same configuration: spikes and membranes every step, eligibility traces and
// accumulators after the trial, weights after COMMIT (or after every step with update "step").
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { derive, parseHdlConfig, type Derived } from "../fpga/config.ts";
import { runGolden, type SimOutput, type Stimulus } from "../fpga/golden.ts";
import { firstDifference, randomStimulus } from "../fpga/stimulus.ts";
import { compileAssemblyScript } from "../host/firmware/source.ts";
import { repoPath } from "../host/paths.ts";

interface Core {
  memory: WebAssembly.Memory;
  reserve(bytes: number): number;
  fxCoreLayout(base: number, nIn: number, nRec: number, mode: number): number;
  fxCoreFormats(alpha: number, kappa: number, vTh: number, decayFrac: number, traceFrac: number, membraneBits: number,
    eligShift: number, gainShift: number, accShift: number): number;
  fxCorePtr(f: number): number;
  fxCoreClear(): void;
  fxCoreStep(): void;
  fxCoreLearn(): void;
  fxCoreCommit(c: number, cShift: number): void;
}

let core: Core;
beforeAll(async () => {
  const wasm = await compileAssemblyScript(repoPath("tests", "fixtures", "fixed16-core.ts"), "fixed16-core");
  const { instance } = await WebAssembly.instantiate(readFileSync(wasm), { env: { abort: () => { throw new Error("abort"); } } });
  core = instance.exports as unknown as Core;
});

/**
 * The golden model's run of `s`, on the MCU kernel (weights stored pre-major, always recurrent:
 * a feed-forward golden config is the kernel with wRec = 0, the same within a trial; with
 * per-step updates the kernel's wRec would learn, so those configs are recurrent here).
 */
function runKernel(d: Derived, s: Stimulus): SimOutput {
  const c = d.cfg;
  const mode = (c.mode === "online" ? 1 : 0) | (c.update === "step" ? 2 : 0);
  const nPre = c.nIn + c.nRec; // the kernel's rows; golden has d.nPre (no recurrent rows when !recurrent)
  const bytes = core.fxCoreLayout(0, c.nIn, c.nRec, mode);
  const base = core.reserve(bytes);
  core.fxCoreLayout(base, c.nIn, c.nRec, mode);
  expect(core.fxCoreFormats(d.alphaInt, d.kappaInt, d.vThInt, c.decayFrac, c.traceFrac, c.membraneBits, c.eligShift, c.gainShift, c.accShift)).toBe(1);
  const mem = () => core.memory.buffer;
  const i16 = (f: number) => new Int16Array(mem(), core.fxCorePtr(f), nPre * c.nRec);
  const u16 = (f: number) => new Uint16Array(mem(), core.fxCorePtr(f), nPre * c.nRec);
  const kIdx = (j: number, i: number) => i * c.nRec + j; // golden synapse (j, i) in the kernel's layout
  const w = i16(0);
  w.fill(0);
  for (let j = 0; j < c.nRec; j++) for (let i = 0; i < d.nPre; i++) w[kIdx(j, i)] = c.nIn <= i && i - c.nIn === j ? 0 : s.w[j * d.nPre + i]!;
  core.fxCoreClear();
  const z: number[][] = [];
  const v: number[][] = [];
  for (let t = 0; t < s.x.length; t++) {
    new Float32Array(mem(), core.fxCorePtr(4), c.nIn).set(s.x[t]!);
    core.fxCoreStep();
    z.push(Array.from(new Float32Array(mem(), core.fxCorePtr(8), c.nRec)));
    v.push(Array.from(new Int32Array(mem(), core.fxCorePtr(5), c.nRec)));
    if (s.l) {
      new Int32Array(mem(), core.fxCorePtr(7), c.nRec).set(s.l[t]!);
      core.fxCoreLearn();
    }
  }
  const golden = (arr: ArrayLike<number> | null) => Array.from({ length: d.nSyn }, (_, k) => (arr ? arr[kIdx(Math.floor(k / d.nPre), k % d.nPre)]! : 0));
  const a = golden(c.update === "step" ? null : i16(2));
  const e = c.mode === "filtered" ? golden(u16(1)) : [];
  if (s.commit) core.fxCoreCommit(1, c.commitShift);
  return { z, v, a, e, w: golden(i16(0)) };
}

/** The golden model with the wRec diagonal at 0, as the firmware keeps it (golden ignores it). */
function zeroDiagonal(d: Derived, s: Stimulus): Stimulus {
  if (!d.cfg.recurrent) return s;
  const w = s.w.map((x, k) => (d.cfg.nIn + d.cfg.nRec > 0 && k % d.nPre - d.cfg.nIn === Math.floor(k / d.nPre) ? 0 : x));
  return { ...s, w };
}

describe("fixed16 MCU kernel = FPGA golden model, bit for bit", () => {
  const configs: [string, Record<string, unknown>][] = [
    ["filtered, trial (the default core)", { nIn: 12, nRec: 9, recurrent: true }],
    ["filtered, per-step update", { nIn: 10, nRec: 7, recurrent: true, update: "step" }],
    ["online, trial", { nIn: 16, nRec: 8, recurrent: true, mode: "online" }],
    ["online, per-step update", { nIn: 13, nRec: 6, recurrent: true, mode: "online", update: "step" }],
    ["filtered, feed-forward, other decays and shifts", { nIn: 20, nRec: 5, alpha: 0.9, kappa: 0.8, eligShift: 15, accShift: 14, commitShift: 2, membraneBits: 24 }],
  ];
  it.each(configs)("%s", (_name, raw) => {
    const d = derive(parseHdlConfig(raw));
    for (const seed of [1, 2, 3]) {
      const s = zeroDiagonal(d, randomStimulus(d, { steps: 120, seed, rate: 0.3 }));
      const gold = runGolden(d, s);
      const got = runKernel(d, s);
      expect(firstDifference(got as never, gold as never, ["z", "v", "a", "e", "w"])).toBeNull();
      // not a vacuous match: the run spikes, learns and changes weights
      expect(gold.z.flat().some((x) => x === 1)).toBe(true);
      expect(gold.w.some((x, k) => x !== s.w[k])).toBe(true);
    }
  });
});
