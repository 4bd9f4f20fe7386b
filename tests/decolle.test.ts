// The DECOLLE triad (../shared/spec/DECOLLE.md): the float64 streaming reference against an
// independent autodiff of the cut graph, the spec's equivalences and misreadings, the case
// schema's errors, and (below) the float32 device kernel in both wasm builds.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ensureWasm } from "../host/device/build.ts";
import type { Build } from "../host/rules/rule.ts";
import { decolleRule } from "../host/rules/decolle/index.ts";
import { DC_GLOBAL, HEADER_BYTES, planDecolle } from "../host/rules/decolle/plan.ts";
import { DecolleDevice } from "../host/rules/decolle/wasm.ts";
import { decolleCheck } from "../host/rules/decolle/check.ts";
import { decolleRandomCase, keepsMargins, type DecolleRandomOptions } from "../host/rules/decolle/random.ts";
import { decolleGrad, DecolleStream, type DecolleGrad } from "../host/rules/decolle/reference.ts";
import { MAX_LAYERS, parseDecolleCase, traceGains, type DecolleCase } from "../host/rules/decolle/schema.ts";
import { maxRelErr } from "../host/model/compare.ts";
import { inputError } from "./helpers/errors.ts";
import { ROOT } from "./helpers/cli.ts";

/** Every gradient leaf (W^l, b^l) as flat arrays, in order. */
function leaves(g: DecolleGrad): number[][] {
  return g.grads.layers.flatMap((l) => [l.w.flat(), l.b]);
}

/** Largest per-leaf relative distance (max |a - b| / max |b|), and of the loss and layer losses. */
function distance(a: DecolleGrad, b: DecolleGrad): number {
  const la = leaves(a), lb = leaves(b);
  const d = lb.map((leaf, i) => maxRelErr(la[i]!, leaf));
  d.push(maxRelErr([a.loss], [b.loss]), maxRelErr(a.layerLoss, b.layerLoss));
  return Math.max(...d);
}

/** Relative distance of all gradients at once (the spec's "distance of the wrong gradient from the right one"). */
function gradDistance(a: DecolleGrad, b: DecolleGrad): number {
  return maxRelErr(leaves(a).flat(), leaves(b).flat());
}

const GRID: DecolleRandomOptions[] = [];
for (const loss of ["mse", "smoothL1", "ce"] as const)
  for (const surrogate of ["box", "sigmoid"] as const)
    for (const reg of [0, 30])
      GRID.push({ loss, surrogate, reg, lossReduction: reg ? "mean" : "sum", layers: loss === "smoothL1" ? [10, 8, 6] : [12, 10], seed: GRID.length + 1 });

describe("DECOLLE float64 reference vs an independent autodiff of the cut graph", () => {
  it.each(GRID)("$loss $surrogate reg=$reg $lossReduction layers=$layers: <= 1e-9 per leaf and loss", (o) => {
    const c = decolleRandomCase(o);
    expect(c.mask.slice(0, 5)).toEqual([0, 0, 0, 0, 0]); // burn-in
    const ref = decolleGrad(c);
    expect(distance(ref, decolleCheck(c))).toBeLessThanOrEqual(1e-9);
    // not a vacuous comparison: every layer has a non-zero gradient and a positive loss
    ref.grads.layers.forEach((l) => expect(Math.max(...l.w.flat().map(Math.abs))).toBeGreaterThan(0));
    ref.layerLoss.forEach((e) => expect(e).toBeGreaterThan(0));
  });

  it("the regulariser's second term switches on and off in the grid (m > 0 at some steps, m < 0 at others)", () => {
    let on = 0, off = 0;
    for (const o of GRID.filter((g) => g.reg)) {
      const c = decolleRandomCase(o);
      const s = new DecolleStream(c.model, c.params, c.readouts);
      c.inputs.forEach((x, t) => {
        s.step(x, c.targets[t]!, c.mask[t]!);
        for (const L of s.layers) if (L.m > 0) on++; else off++;
      });
    }
    expect(on).toBeGreaterThan(20);
    expect(off).toBeGreaterThan(20);
  });

  it("traceScale 'oneMinus' and 'tau' are 'one' with W scaled by cQ*cP: same loss, W gradient x cQ*cP", () => {
    for (const traceScale of ["oneMinus", "tau"] as const) {
      const c = decolleRandomCase({ traceScale, layers: [12, 10], seed: 7 });
      const one: DecolleCase = structuredClone(c);
      one.model.traceScale = "one";
      const k = c.model.layers.map((l) => {
        const { cQ, cP } = traceGains(traceScale, l);
        return cQ * cP;
      });
      one.params.layers.forEach((p, l) => (p.w = p.w.map((row) => row.map((w) => w * k[l]!))));
      const a = decolleGrad(c), b = decolleGrad(one);
      expect(maxRelErr([a.loss], [b.loss])).toBeLessThan(1e-14);
      a.grads.layers.forEach((g, l) => {
        const scaled = b.grads.layers[l]!.w.flat().map((x) => x * k[l]!);
        expect(maxRelErr(g.w.flat(), scaled)).toBeLessThan(1e-13);
        expect(maxRelErr(g.b, b.grads.layers[l]!.b)).toBeLessThan(1e-13);
      });
      // and the scale is real: without it, the two cases differ
      expect(decolleGrad({ ...c, model: { ...c.model, traceScale: "one" } }).loss).not.toBeCloseTo(a.loss, 3);
    }
  });

  it("tells the spec's misreadings apart: P^t from Q^t, and the regularisers dropped", () => {
    const dP: number[] = [];
    for (const seed of [1, 2, 3, 4]) {
      const c = decolleRandomCase({ seed, layers: [12, 10] });
      const ref = decolleGrad(c);
      expect(distance(ref, decolleCheck(c))).toBeLessThanOrEqual(1e-9);
      dP.push(gradDistance(decolleCheck(c, { timing: "pFromCurrentQ" }), ref));
    }
    // spec: 2.4e-2 .. 3.2e-1 on typical cases
    expect(Math.min(...dP)).toBeGreaterThan(2e-2);
    expect(Math.max(...dP)).toBeLessThan(1);
    const c = decolleRandomCase({ seed: 2, layers: [12, 10], reg: 30 });
    const noReg: DecolleCase = structuredClone(c);
    noReg.model.layers.forEach((l) => (l.reg = 0));
    const ref = decolleGrad(c), dropped = decolleGrad(noReg);
    expect(distance(ref, decolleCheck(c))).toBeLessThanOrEqual(1e-9);
    expect(gradDistance(dropped, ref)).toBeGreaterThan(5e-2); // spec: 2.2e-1
    expect(dropped.loss).toBe(ref.loss); // the regularisers are not part of the reported loss
  });

  it("the mask applies to every loss kind: targets under mask 0 change nothing, and 'mean' divides by the masked steps", () => {
    for (const loss of ["mse", "smoothL1", "ce"] as const) {
      const c = decolleRandomCase({ loss, seed: 5, burnin: 10 });
      const moved: DecolleCase = structuredClone(c);
      for (let t = 0; t < 10; t++) moved.targets[t] = moved.targets[t]!.map((v) => (loss === "ce" ? v : v + 3));
      if (loss === "ce") for (let t = 0; t < 10; t++) moved.targets[t] = moved.targets[t]!.map((_, k) => (k === 0 ? 1 : 0)).reverse();
      expect(moved.targets[0]).not.toEqual(c.targets[0]);
      const a = decolleGrad(c), b = decolleGrad(moved);
      expect(b.loss).toBe(a.loss);
      expect(leaves(b)).toEqual(leaves(a));
      const mean = decolleGrad({ ...c, model: { ...c.model, lossReduction: "mean" } });
      const M = c.mask.filter((m) => m === 1).length;
      expect(M).toBe(c.mask.length - 10);
      expect(mean.loss * M).toBeCloseTo(a.loss, 9);
      expect(maxRelErr(leaves(mean).flat().map((g) => g * M), leaves(a).flat())).toBeLessThan(1e-14);
    }
  });

  it("streams: state is O(synapses), independent of T, and step-by-step equals the whole-trial entry point", () => {
    const c = decolleRandomCase({ seed: 9, T: 80 });
    const s = new DecolleStream(c.model, c.params, c.readouts);
    const words = () => s.layers.reduce((n, L) => n + L.Q.length + L.P.length + L.R.length + L.S.length + L.gW.length + L.gB.length, 0);
    const before = words();
    c.inputs.forEach((x, t) => s.step(x, c.targets[t]!, c.mask[t]!));
    expect(words()).toBe(before);
    expect(before).toBe(2 * (6 + 12) + 2 * (12 + 10) + 12 * 6 + 10 * 12 + 12 + 10);
    expect(s.finish()).toEqual(decolleGrad(c));
  });

  it("random cases keep the margins, are reproducible from the seed, and the margin test can fail", () => {
    const c = decolleRandomCase({ seed: 4, surrogate: "box", reg: 1 });
    expect(keepsMargins(c, 5e-4)).toBe(true);
    expect(decolleRandomCase({ seed: 4, surrogate: "box", reg: 1 })).toEqual(c);
    // U^{l,1} = b^l: a bias inside the margin breaks it
    const tight: DecolleCase = structuredClone(c);
    tight.params.layers[1]!.b[0] = 0.5 + 1e-4;
    expect(keepsMargins(tight, 5e-4)).toBe(false);
  });
});

describe("DECOLLE case schema: every bad input names its field", () => {
  const good = () => JSON.parse(JSON.stringify(decolleRandomCase({ seed: 1, layers: [12, 20], T: 10, burnin: 2 }))) as Record<string, any>;

  it("accepts the random case and fills the spec's defaults", () => {
    const j = good();
    delete j.mask;
    j.model = { nIn: 6, nOut: 3, layers: [{ n: 12 }, { n: 20, neuron: "decolle" }] };
    j.params.layers.forEach((p: Record<string, unknown>) => delete p.b);
    j.readouts.forEach((r: Record<string, unknown>) => delete r.bG);
    const c = parseDecolleCase(j);
    expect(c.model).toMatchObject({ loss: "mse", lossReduction: "sum", traceScale: "one", surrogate: "box" });
    expect(c.model.layers[0]).toEqual({ neuron: "decolle", n: 12, alpha: 0.9, beta: 0.85, alpharp: 0.65, wrp: 1, reg: 0 });
    expect(c.mask).toEqual(new Array(10).fill(1));
    expect(c.params.layers[1]!.b).toEqual(new Array(20).fill(0));
    expect(c.readouts[0]!.bG).toEqual([0, 0, 0]);
  });

  it("warns about fields a layer stack does not read (likely typos), naming each", () => {
    const j = good();
    j.model.surogate = "sigmoid";
    j.model.layers[1].alfa = 0.5;
    j.params.wIn = [[1]];
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
    try {
      parseDecolleCase(j, "c.json");
    } finally {
      spy.mockRestore();
    }
    expect(lines.join("")).toMatch(/c\.json: model\.surogate is not a field/);
    expect(lines.join("")).toMatch(/model\.layers\[1\]\.alfa/);
    expect(lines.join("")).toMatch(/params\.wIn/);
    expect(lines).toHaveLength(3);
  });

  const cases: Array<[string, (j: Record<string, any>) => void, string, RegExp]> = [
    ["a shape that does not chain", (j) => (j.params.layers[1].w = j.params.layers[1].w.map((r: number[]) => r.slice(0, 10))), "params.layers[1].w[0]", /12 numbers \(model.layers\[0\].n\)/],
    ["too few rows", (j) => j.params.layers[1].w.pop(), "params.layers[1].w", /20 rows \(model.layers\[1\].n\) of 12/],
    ["params.layers length", (j) => j.params.layers.pop(), "params.layers", /2 layers/],
    ["readouts length", (j) => j.readouts.pop(), "readouts", /2 readouts/],
    ["readout G shape", (j) => (j.readouts[0].G = j.readouts[1].G), "readouts[0].G[0]", /12 numbers \(model.layers\[0\].n\)/],
    ["alpha = 1", (j) => (j.model.layers[0].alpha = 1), "model.layers[0].alpha", /\[0, 1\)/],
    ["beta < 0", (j) => (j.model.layers[1].beta = -0.1), "model.layers[1].beta", /\[0, 1\)/],
    ["alpharp = 1.5", (j) => (j.model.layers[1].alpharp = 1.5), "model.layers[1].alpharp", /\[0, 1\)/],
    ["reg < 0", (j) => (j.model.layers[0].reg = -1), "model.layers[0].reg", />= 0/],
    ["mask not 0/1", (j) => (j.mask[3] = 0.5), "mask[3]", /0 or 1/],
    ["NaN in a weight", (j) => (j.params.layers[0].w[2][1] = "\u0000NaN"), "params.layers[0].w[2][1]", /finite number, got NaN/],
    ["Infinity in an input", (j) => (j.inputs[4][0] = "\u0000Infinity"), "inputs[4][0]", /finite/],
    ["neuron not decolle", (j) => (j.model.layers[1].neuron = "lif"), "model.layers[1].neuron", /'decolle'/],
    ["unknown loss", (j) => (j.model.loss = "l1"), "model.loss", /mse.*smoothL1.*ce/],
    ["unknown surrogate", (j) => (j.model.surrogate = "tri"), "model.surrogate", /box.*sigmoid/],
    ["too many layers", (j) => (j.model.layers = new Array(17).fill({ n: 1 })), "model.layers", /1 to 16/],
    ["layer size beyond the limit", (j) => (j.model.layers[0].n = 70000), "model.layers[0].n", /\[1, 65536\]/],
    ["targets rows", (j) => j.targets.pop(), "targets", /10 rows/],
    ["ce target not one-hot", (j) => ((j.model.loss = "ce"), (j.targets = j.targets.map(() => [1, 0, 0])), (j.targets[5] = [0.5, 0.2, 0])), "targets[5]", /summing to 1/],
  ];
  it.each(cases)("%s", (_, edit, field, message) => {
    const j = good();
    edit(j);
    const err = inputError(() => parseDecolleCase(j));
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
  });

  it("`edgeprop case random --rule decolle --layers 12,10` from a folder outside the repo writes a margin case; bad flags exit 2", () => {
    const dir = mkdtempSync(join(tmpdir(), "edgeprop-decolle-"));
    const run = (args: string[]) => spawnSync(process.execPath, [join(ROOT, "bin/edgeprop.mjs"), "case", "random", ...args], { cwd: dir, encoding: "utf8", timeout: 120_000 });
    const r = run(["--rule", "decolle", "--layers", "12,10", "--loss", "smoothL1", "--surrogate", "sigmoid", "--reg", "1", "--T", "40", "--seed", "3", "--out", "c.json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const c = parseDecolleCase(JSON.parse(readFileSync(join(dir, "c.json"), "utf8")));
    expect(c.model.layers.map((l) => l.n)).toEqual([12, 10]);
    expect(c.model.loss).toBe("smoothL1");
    expect(c.inputs.length).toBe(40);
    expect(keepsMargins(c, 5e-4)).toBe(true);
    const bad = run(["--rule", "decolle", "--layers", "12,0"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--layers/);
    const unknown = run(["--rule", "nope"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/--rule.*decolle/);
  });
});

// ---------------------------------------------------------------- the float32 kernel (both wasm builds)

const BUILDS: Build[] = ["scalar", "simd"];

/** Bits of every number of a result, for bit-for-bit comparisons (-0 and NaN included). */
function bits(g: DecolleGrad): Uint8Array {
  return new Uint8Array(new Float64Array([g.loss, ...g.layerLoss, ...leaves(g).flat()]).buffer);
}

/** Runs a case on the device step by step, checking each step's spikes of every layer against the float64 stream. */
async function deviceRun(c: DecolleCase, build: Build): Promise<{ result: DecolleGrad; spikeMismatches: number }> {
  const dev = await DecolleDevice.create(c.model, build);
  dev.load(c.params, c.readouts);
  dev.reset();
  const s = new DecolleStream(c.model, c.params, c.readouts);
  let spikeMismatches = 0;
  c.inputs.forEach((x, t) => {
    dev.step(x, c.targets[t]!, c.mask[t]!);
    s.step(x, c.targets[t]!, c.mask[t]!);
    s.layers.forEach((L, l) => dev.spikes(l).forEach((z, j) => (spikeMismatches += z === L.S[j] ? 0 : 1)));
  });
  return { result: dev.finish(), spikeMismatches };
}

const DEVICE_GRID: DecolleRandomOptions[] = [];
for (const loss of ["mse", "smoothL1", "ce"] as const)
  for (const surrogate of ["box", "sigmoid"] as const)
    for (const reg of [0, 30])
      DEVICE_GRID.push({
        loss, surrogate, reg, lossReduction: reg ? "mean" : "sum", traceScale: (["one", "oneMinus", "tau"] as const)[DEVICE_GRID.length % 3],
        layers: DEVICE_GRID.length % 2 ? [12, 10, 8] : [12, 10], seed: 100 + DEVICE_GRID.length,
      });

describe("DECOLLE float32 kernel (wasm, scalar and SIMD) vs the float64 reference", () => {
  beforeAll(() => Promise.all(BUILDS.map(ensureWasm)));

  it.each(DEVICE_GRID)("$loss $surrogate reg=$reg $lossReduction $traceScale layers=$layers: same spikes, <= 1e-4, scalar == simd bit for bit", async (o) => {
    const c = decolleRandomCase(o);
    const ref = decolleGrad(c);
    const [scalar, simd] = await Promise.all(BUILDS.map((b) => deviceRun(c, b)));
    for (const d of [scalar!, simd!]) {
      expect(d.spikeMismatches).toBe(0);
      expect(distance(d.result, ref)).toBeLessThanOrEqual(1e-4);
      expect(distance(d.result, ref)).toBeGreaterThan(0); // float32 really ran
    }
    expect(Buffer.compare(bits(scalar!.result), bits(simd!.result))).toBe(0);
  });

  it("the rule module's wasm backend prints the reference's JSON shape", async () => {
    const c = decolleRule.parseCase(JSON.parse(JSON.stringify(decolleRandomCase({ seed: 3 }))), "case");
    const host = decolleRule.reference(c) as DecolleGrad, wasm = (await decolleRule.wasm!(c, "simd")) as DecolleGrad;
    expect(Object.keys(wasm).sort()).toEqual(["grads", "layerLoss", "loss"]);
    expect(wasm.grads.layers.map((l) => [l.w.length, l.w[0]!.length, l.b.length])).toEqual([[12, 6, 12], [10, 12, 10]]);
    expect(distance(wasm, host)).toBeLessThanOrEqual(1e-4);
    expect(decolleRule.name).toBe("decolle");
    expect(decolleRule.kinds).toEqual(["stack"]);
  });

  it("the planner is the kernel's layout, field by field (both builds, with and without Adam, 1 to 3 layers)", async () => {
    const models = [
      { nIn: 1, nOut: 1, layers: [1] },
      { nIn: 6, nOut: 3, layers: [12, 10] },
      { nIn: 784, nOut: 10, layers: [33, 7, 10] },
    ];
    for (const build of BUILDS) {
      for (const m of models) {
        for (const optimizer of ["gd", "adam"] as const) {
          const model = { ...decolleRandomCase({ seed: 1, T: 2, burnin: 0 }).model, nIn: m.nIn, nOut: m.nOut, loss: "ce" as const };
          model.layers = m.layers.map((n) => ({ ...model.layers[0]!, n }));
          const dev = await DecolleDevice.create(model, build, { optimizer });
          const plan = planDecolle(model, build === "simd" ? 4 : 1, { optimizer });
          expect(dev.base % 16).toBe(0);
          expect(dev.call("dcArenaBytes")).toBe(plan.bytes);
          expect(dev.call("dcPtr", DC_GLOBAL.x) - dev.base).toBe(plan.x);
          expect(dev.call("dcPtr", DC_GLOBAL.target) - dev.base).toBe(plan.target);
          expect(dev.call("dcPtr", DC_GLOBAL.loss) - dev.base).toBe(plan.loss);
          plan.layers.forEach((lp, l) => {
            expect(dev.call("dcStride", l)).toBe(lp.stride);
            lp.fields.forEach((f) => expect(dev.addr(l, f.name) - dev.base, `${build} ${JSON.stringify(m)} ${optimizer} layer ${l} ${f.name}`).toBe(f.offset));
          });
        }
      }
    }
    // the schema's layer limit is the kernel's staging table
    const dev = await DecolleDevice.create(decolleRandomCase({ seed: 1, T: 2, burnin: 0 }).model);
    expect(dev.call("dcShape", MAX_LAYERS, 1, 1, 0)).toBe(1);
    expect(dev.call("dcShape", MAX_LAYERS + 1, 1, 1, 0)).toBe(0);
  });

  it("device bytes per synapse: 8 per trained synapse with gd (weight, gradient), 16 with Adam, 4 per readout entry", () => {
    const model = decolleRandomCase({ seed: 1, T: 2, burnin: 0 }).model;
    const big = { ...model, nIn: 784, nOut: 10, layers: [500, 500, 500].map((n) => ({ ...model.layers[0]!, n })) };
    const trained = 784 * 500 + 500 * 500 * 2, readout = 3 * 10 * 500;
    const gd = planDecolle(big, 1), adam = planDecolle(big, 1, { optimizer: "adam" });
    expect(gd.synapses).toBe(trained + readout);
    expect(gd.perSynapseStateBytes).toBeCloseTo((8 * trained + 4 * readout) / (trained + readout), 12);
    expect(adam.perSynapseStateBytes).toBeCloseTo((16 * trained + 4 * readout) / (trained + readout), 12);
    expect(gd.bytesPerSynapse).toBeGreaterThan(gd.perSynapseStateBytes);
    expect(gd.bytesPerSynapse).toBeLessThan(gd.perSynapseStateBytes + 0.1); // per-neuron and per-input state is small
    expect(decolleRule.deviceBytes!({ ...decolleRandomCase({ seed: 1 }), model: big })).toBe(gd.bytes);
  });

  it("per-step update (decolleUpdate 'step', gd): W changes after every step with mask 1, as a float64 emulation does", async () => {
    const c = decolleRandomCase({ seed: 21, layers: [12, 10], loss: "smoothL1", reg: 1 });
    const lr = 0.01;
    // float64: the stream reads the weights it was given, so updating them in place between steps is the online rule
    const params = structuredClone(c.params);
    const s = new DecolleStream(c.model, params, c.readouts);
    const prev = s.layers.map((L) => ({ w: Float64Array.from(L.gW), b: Float64Array.from(L.gB) }));
    c.inputs.forEach((x, t) => {
      s.step(x, c.targets[t]!, c.mask[t]!);
      if (c.mask[t] === 0) return;
      s.layers.forEach((L, l) => {
        const p = params.layers[l]!;
        for (let j = 0; j < L.n; j++) {
          for (let i = 0; i < L.nPre; i++) p.w[j]![i]! -= lr * (L.gW[j * L.nPre + i]! - prev[l]!.w[j * L.nPre + i]!);
          p.b[j]! -= lr * (L.gB[j]! - prev[l]!.b[j]!);
        }
        prev[l]!.w.set(L.gW);
        prev[l]!.b.set(L.gB);
      });
    });
    const moved = Math.max(...params.layers.flatMap((p, l) => p.w.flat().map((w, i) => Math.abs(w - c.params.layers[l]!.w.flat()[i]!))));
    expect(moved).toBeGreaterThan(1e-3);
    for (const build of BUILDS) {
      const dev = await DecolleDevice.create(c.model, build);
      dev.load(c.params, c.readouts);
      expect(dev.call("dcStepUpdate", 0, lr, 0, 0, 0, 0, 0, 0, 1)).toBe(1);
      dev.runTrial(c.inputs, c.targets, c.mask);
      expect(dev.call("dcArenaBytes")).toBe(dev.plan.bytes);
      const got = dev.readParams();
      got.layers.forEach((p, l) => {
        expect(maxRelErr(p.w.flat(), params.layers[l]!.w.flat())).toBeLessThan(1e-5);
        expect(maxRelErr(p.b, params.layers[l]!.b)).toBeLessThan(1e-5);
      });
      // the gradient of a step is consumed by its update
      expect(dev.readGrads().layers.every((g) => g.w.flat().every((v) => v === 0))).toBe(true);
    }
  });

  it("apply: gd is W - lr g in float32; Adam follows the TensorFlow form; Adam without Adam state is refused", async () => {
    const c = decolleRandomCase({ seed: 8 });
    const dev = await DecolleDevice.create(c.model, "simd", { optimizer: "adam" });
    dev.load(c.params, c.readouts);
    const g = dev.runTrial(c.inputs, c.targets, c.mask);
    const w0 = dev.readParams();
    const f = Math.fround;
    dev.call("dcApplyGd", 0.05, 0, 0, 0);
    const w1 = dev.readParams();
    w1.layers.forEach((p, l) =>
      p.w.forEach((row, j) => row.forEach((w, i) => expect(w).toBe(f(w0.layers[l]!.w[j]![i]! - f(f(0.05) * g.grads.layers[l]!.w[j]![i]!))))),
    );
    expect(dev.call("dcApplyAdam", 0.01, 0.9, 0.999, 1e-8, 1)).toBe(1);
    const w2 = dev.readParams();
    // first Adam step: m = (1 - b1) g, v = (1 - b2) g^2, lr_1 = lr sqrt(1 - b2)/(1 - b1): a step of about lr sign(g)
    w2.layers.forEach((p, l) =>
      p.w.flat().forEach((w, i) => {
        const gi = g.grads.layers[l]!.w.flat()[i]!;
        const m = 0.1 * gi, v = 0.001 * gi * gi, lrT = (0.01 * Math.sqrt(0.001)) / 0.1;
        expect(Math.abs(w - (w1.layers[l]!.w.flat()[i]! - (lrT * m) / (Math.sqrt(v) + 1e-8)))).toBeLessThan(1e-6);
      }),
    );
    const gdOnly = await DecolleDevice.create(c.model, "scalar");
    expect(gdOnly.call("dcApplyAdam", 0.01, 0.9, 0.999, 1e-8, 1)).toBe(0);
    expect(gdOnly.call("dcStepUpdate", 1, 0.01, 0.9, 0.999, 1e-8, 0, 0, 0, 1)).toBe(0);
  });

  it("a checkpoint is the arena: restored mid-trial into a fresh instance, the rest of the trial is bit-identical; a corrupt one is refused", async () => {
    const c = decolleRandomCase({ seed: 13, layers: [12, 10, 8], reg: 1 });
    const half = Math.floor(c.inputs.length / 2);
    for (const build of BUILDS) {
      const a = await DecolleDevice.create(c.model, build, { optimizer: "adam" });
      a.load(c.params, c.readouts);
      a.call("dcStepUpdate", 1, 1e-3, 0.9, 0.999, 1e-8, 0, 0, 0, 1);
      a.reset();
      for (let t = 0; t < half; t++) a.step(c.inputs[t]!, c.targets[t]!, c.mask[t]!);
      const ck = a.checkpoint();
      const b = await DecolleDevice.create(c.model, build, { optimizer: "adam" });
      expect(b.restore(ck)).toBe(true);
      for (let t = half; t < c.inputs.length; t++) {
        a.step(c.inputs[t]!, c.targets[t]!, c.mask[t]!);
        b.step(c.inputs[t]!, c.targets[t]!, c.mask[t]!);
      }
      expect(Buffer.compare(bits(a.finish()), bits(b.finish()))).toBe(0);
      expect(Buffer.compare(Buffer.from(a.checkpoint()), Buffer.from(b.checkpoint()))).toBe(0);
      expect(b.call("dcSteps")).toBe(c.inputs.length);
      const bad = ck.slice();
      bad[0]! ^= 1; // magic
      expect(b.restore(bad)).toBe(false);
      const lied = ck.slice();
      new DataView(lied.buffer).setUint32(HEADER_BYTES + 0, 13, true); // layer 0 claims 13 neurons
      expect(b.restore(lied)).toBe(false);
    }
  });
});
