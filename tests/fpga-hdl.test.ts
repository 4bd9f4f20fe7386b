// The FPGA core's contract: the generated Verilog, run under iverilog by the generated
// testbench, is bit-identical to the TypeScript golden model (fpga/golden.ts) — spikes and
// membranes every step, eligibility, accumulators and committed weights — for several configs,
// with learning on; the RTL is verilator -Wall clean; bad configs are refused with the field.
import { describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { derive, parseHdlConfig, quantWeight, readHdlConfig, type HdlConfig } from "../fpga/config.ts";
import { runGolden } from "../fpga/golden.ts";
import { initFiles, writeDesign } from "../fpga/generate/index.ts";
import { lintDesign } from "../fpga/lint.ts";
import { checkFit, cyclesPerStep, PARTS } from "../fpga/parts.ts";
import { IverilogSim } from "../fpga/sim.ts";
import { synthesise } from "../fpga/synth.ts";
import { firstDifference, randomStimulus } from "../fpga/stimulus.ts";
import { InputError } from "../host/input/errors.ts";
import { edgeprop, ROOT } from "./helpers/cli.ts";

const CONFIGS: [string, Partial<HdlConfig>, number][] = [
  ["feed-forward filtered 12x10", { nIn: 12, nRec: 10 }, 120],
  ["recurrent filtered 7x9", { nIn: 7, nRec: 9, recurrent: true }, 100],
  ["recurrent online 5x6", { nIn: 5, nRec: 6, recurrent: true, mode: "online" }, 150],
  ["multi-word spikes 40x34, 12-bit weights, 20-bit acc", { nIn: 40, nRec: 34, weightBits: 12, weightFrac: 8, membraneBits: 16, accBits: 20, commitShift: 2 }, 100],
  ["per-step weight update, filtered, recurrent 7x9", { nIn: 7, nRec: 9, recurrent: true, update: "step" }, 100],
  ["per-step weight update, online, SPRAM (weights only) 10x8", { nIn: 10, nRec: 8, mode: "online", update: "step", memory: "spram" }, 100],
  ["narrow 8-bit online recurrent", { nIn: 6, nRec: 5, recurrent: true, mode: "online", weightBits: 8, weightFrac: 5, membraneBits: 10, traceBits: 8, traceFrac: 3, learnBits: 8, accBits: 8, accShift: 6, gainShift: 4, eligBits: 8 }, 100],
];

describe("fpga: iverilog vs golden model, bit for bit", () => {
  for (const [name, over, steps] of CONFIGS) {
    it(`${name}, ${steps} steps with learning and commit`, async () => {
      const d = derive(parseHdlConfig(over));
      const stim = randomStimulus(d, { steps, seed: 7 });
      const sim = await IverilogSim.compile(d);
      try {
        const hw = await sim.run(stim);
        const gold = runGolden(d, stim);
        expect(firstDifference(hw as never, gold as never, ["z", "v", "a", "e", "w"])).toBeNull();
        // the run was not trivial: spikes, learning and the commit all happened
        expect(gold.z.flat().filter((z) => z).length).toBeGreaterThan(steps / 5);
        if (d.cfg.update === "trial") expect(gold.a.some((a) => a !== 0)).toBe(true);
        expect(gold.w).not.toEqual(stim.w);
      } finally {
        sim.dispose();
      }
      // iverilog of the 40x34 array is ~20 s alone; the shared 2-core machine can triple it
    }, 180_000);
  }

  it("SPRAM memories (SB_SPRAM256KA, yosys's simulation model), 100 steps", async () => {
    const d = derive(parseHdlConfig({ nIn: 6, nRec: 4, recurrent: true, memory: "spram" }));
    const stim = randomStimulus(d, { steps: 100, seed: 3 });
    const sim = await IverilogSim.compile(d);
    try {
      expect(firstDifference((await sim.run(stim)) as never, runGolden(d, stim) as never, ["z", "v", "a", "e", "w"])).toBeNull();
    } finally {
      sim.dispose();
    }
  });

  it("two SPRAM banks per array (16512 synapses, online), 3 steps", async () => {
    const d = derive(parseHdlConfig({ nIn: 129, nRec: 128, memory: "spram", mode: "online" }));
    const stim = randomStimulus(d, { steps: 3, seed: 5 });
    const sim = await IverilogSim.compile(d);
    try {
      expect(firstDifference((await sim.run(stim)) as never, runGolden(d, stim) as never, ["z", "v", "a", "e", "w"])).toBeNull();
    } finally {
      sim.dispose();
    }
  }, 120_000);

  it("BRAM weights from the $readmemh init file (no bus load) run bit-exact too", async () => {
    const nIn = 6, nRec = 5;
    const weights = Array.from({ length: nRec }, (_, j) => Array.from({ length: nIn }, (_, i) => Math.sin(7 * j + 3 * i) * 0.6 + 0.1));
    const d = derive(parseHdlConfig({ nIn, nRec, weights }));
    const stim = { ...randomStimulus(d, { steps: 100, seed: 9 }), loadWeights: false };
    stim.w = weights.flat().map((w) => quantWeight(d.cfg, w));
    const sim = await IverilogSim.compile(d);
    try {
      const hw = await sim.run(stim);
      expect(firstDifference(hw as never, runGolden(d, stim) as never, ["z", "v", "a", "e", "w"])).toBeNull();
      expect(hw.z.flat().some((z) => z)).toBe(true);
    } finally {
      sim.dispose();
    }
  });

  it("$readmemh init files: the config's weights quantised, zeros elsewhere", () => {
    const weights = [
      [0.5, -0.25, 1],
      [-1, 0.125, 0.0001],
    ];
    const d = derive(parseHdlConfig({ nIn: 3, nRec: 2, weightBits: 8, weightFrac: 6, membraneBits: 10, weights }));
    const files = new Map(initFiles(d).map((f) => [f.name, f.text.trim().split("\n")]));
    expect(files.get("w_init.hex")).toEqual(["20", "f0", "40", "c0", "08", "00"]);
    expect(files.get("a_init.hex")).toEqual(new Array(6).fill("0000")); // accBits 16
    expect(files.get("v_init.hex")).toEqual(["000", "000"]);
  });

  it("the cycle count of STEP + LEARN matches the documented schedule", async () => {
    const d = derive(parseHdlConfig({ nIn: 5, nRec: 3, recurrent: true }));
    const sim = await IverilogSim.compile(d);
    try {
      // two runs differing by 10 steps: the difference is 10 * (STEP + LEARN + bus traffic per step)
      const a = (await sim.run(randomStimulus(d, { steps: 10, seed: 1 }))).cycles;
      const b = (await sim.run(randomStimulus(d, { steps: 20, seed: 1 }))).cycles;
      const { step, learn } = cyclesPerStep(d);
      // per step the testbench also spends: 1 X write, 1 STEP write, 1 Z read, nRec V reads, nRec L writes, 1 LEARN write
      const busPerStep = 2 * (1 + 1 + 1 + 1) + 3 * (1 + d.cfg.nRec) + 2 * d.cfg.nRec;
      expect((b - a) / 10).toBeGreaterThanOrEqual(step + learn);
      expect((b - a) / 10).toBeLessThanOrEqual(step + learn + busPerStep + 4);
    } finally {
      sim.dispose();
    }
  });
});

describe("fpga: generated RTL is verilator -Wall clean", () => {
  const lintConfigs: Partial<HdlConfig>[] = [
    ...CONFIGS.map(([, over]) => over),
    { nIn: 40, nRec: 3, recurrent: true, mode: "online" },
    { nIn: 128, nRec: 128, memory: "spram" },
    { nIn: 64, nRec: 96, recurrent: true, memory: "spram", accBits: 24 },
    { nIn: 128, nRec: 256, memory: "spram", mode: "online" },
    { nIn: 128, nRec: 512, memory: "spram", mode: "online", update: "step" },
  ];
  for (const over of lintConfigs) {
    it(JSON.stringify(over), async () => {
      const d = derive(parseHdlConfig(over));
      const dir = mkdtempSync(join(tmpdir(), "edgeprop-lint-test-"));
      try {
        writeDesign(d, dir);
        expect(await lintDesign(d, dir)).toEqual({ ok: true, warnings: [] });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe("fpga: config validation and fit check", () => {
  it("names the field and the limit", () => {
    expect(() => parseHdlConfig({ weightBits: 40 })).toThrow(/weightBits: expected an integer in \[4, 24\]/);
    expect(() => parseHdlConfig({ weightFrac: 16 })).toThrow(/weightFrac: expected < weightBits/);
    expect(() => parseHdlConfig({ mode: "fast" })).toThrow(InputError);
    expect(() => parseHdlConfig({ vTh: 64, membraneBits: 18 })).toThrow(/membraneBits: expected >= /);
    expect(() => parseHdlConfig({ nIn: 4, weights: [[1]] })).toThrow(/weights: expected 16 rows/);
    expect(() => parseHdlConfig({ speed: 1 })).toThrow(/speed: unknown field/);
  });

  it("refuses a config that cannot fit the part, before synthesis, with the numbers", () => {
    const big = derive(parseHdlConfig({ nIn: 128, nRec: 256, memory: "spram" }));
    expect(() => checkFit(big, PARTS.up5k!)).toThrow(/nRec: .*32768 synapses.* needs 6 SPRAM blocks .* but up5k has 4/);
    const bram = derive(parseHdlConfig({ nIn: 64, nRec: 64 }));
    expect(() => checkFit(bram, PARTS.up5k!)).toThrow(/needs 53 BRAM blocks .* but up5k has 30/);
    expect(() => checkFit(derive(parseHdlConfig({ memory: "spram" })), PARTS.hx8k!)).toThrow(/memory: 'spram' but hx8k has no SPRAM/);
    // 128 x 128 = 16 K synapses with filtered e-prop fits the UP5K's four SPRAMs
    const goal = checkFit(derive(parseHdlConfig({ nIn: 128, nRec: 128, memory: "spram" })), PARTS.up5k!);
    expect(goal.spram).toBe(3);
    // 64 K synapses when only the weights are stored (online mode, per-step update)
    expect(checkFit(derive(parseHdlConfig({ nIn: 128, nRec: 512, memory: "spram", mode: "online", update: "step" })), PARTS.up5k!).spram).toBe(4);
  });

  it("synthesises one tiny config for up5k (yosys + nextpnr) and parses the report", async () => {
    const r = await synthesise(derive(parseHdlConfig({ nIn: 4, nRec: 4, recurrent: true, memory: "spram" })), PARTS.up5k!, 24);
    expect(r.spram.used).toBe(3);
    expect(r.lcs.used).toBeGreaterThan(100);
    expect(r.lcs.used).toBeLessThan(r.lcs.available);
    expect(r.fmaxMHz).toBeGreaterThan(24);
    expect(r.timingMet).toBe(true);
  }, 180_000);

  it("the example configs parse and fit an UP5K", () => {
    for (const f of readdirSync(join(ROOT, "fpga/examples"))) {
      const d = derive(readHdlConfig(join(ROOT, "fpga/examples", f)));
      expect(checkFit(d, PARTS.up5k!).spram).toBeLessThanOrEqual(4);
    }
  });

  it("CLI: hdl report refuses with exit 2 without running yosys; hdl sim and generate work", () => {
    const dir = mkdtempSync(join(tmpdir(), "edgeprop-cli-test-"));
    try {
      writeFileSync(join(dir, "big.json"), JSON.stringify({ nIn: 128, nRec: 256, memory: "spram" }));
      const r = edgeprop(["hdl", "report", "--config", join(dir, "big.json"), "--part", "up5k", "--json"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/needs 6 SPRAM blocks/);
      writeFileSync(join(dir, "small.json"), JSON.stringify({ nIn: 4, nRec: 3, recurrent: true }));
      const s = edgeprop(["hdl", "sim", "--config", join(dir, "small.json"), "--steps", "100", "--json"]);
      expect(s.code).toBe(0);
      expect(JSON.parse(s.stdout).identical).toBe(true);
      const g = edgeprop(["hdl", "generate", "--config", join(dir, "small.json"), "--out", join(dir, "rtl"), "--json"]);
      expect(g.code).toBe(0);
      expect(JSON.parse(g.stdout).files).toContain("edgeprop_tb.v");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
