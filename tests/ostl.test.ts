// The OSTL triad (../shared/spec/OSTL.md "Equivalence statements"): the float64 streaming
// reference (host/rules/ostl/reference.ts) against stack BPTT, MODEL.md e-prop and an
// independent autodiff of the full and the cut graph; the misreadings told apart; the float32
// kernels (scalar and SIMD) against float64 on margin cases; the arena layout twin; bad inputs.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureWasm } from "../host/device/build.ts";
import { Kernels } from "../host/device/driver.ts";
import { parseCase } from "../host/case/parse.ts";
import { epropGrad } from "../host/reference/eprop.ts";
import { bpttGrad } from "../host/reference/bptt.ts";
import { parseJsonLenient } from "../host/input/fields.ts";
import { zeros } from "../host/model/matrix.ts";
import { randomOstlCase, RATE_WINDOW, type OstlRandomOptions } from "../host/rules/ostl/random.ts";
import { ostlGrad } from "../host/rules/ostl/reference.ts";
import { stackBpttGrad } from "../host/rules/ostl/bptt.ts";
import { autodiffGrad } from "../host/rules/ostl/check.ts";
import { runStack } from "../host/rules/ostl/stack.ts";
import { parseOstlCase, LIMITS, type OstlCase, type OstlGrads } from "../host/rules/ostl/schema.ts";
import { OstlDevice, ostlWasmGrad } from "../host/rules/ostl/wasm.ts";
import { fieldId, LAYER_FIELDS, OSTL_FLAG, planOstl, planOstlModel, READOUT_FIELDS, type StackDims } from "../host/rules/ostl/layout.ts";
import { ostlRule } from "../host/rules/ostl/index.ts";
import { cosine, maxRelErr } from "./helpers/compare.ts";
import { inputError } from "./helpers/errors.ts";
import { ROOT } from "./helpers/cli.ts";

beforeAll(() => Promise.all([ensureWasm("scalar"), ensureWasm("simd")]));

/** Every gradient leaf by name: w0, b0, w1, b1, ..., wOut, bOut. */
function leaves(g: OstlGrads): Array<[string, number[]]> {
  return [...g.layers.flatMap((l, i): Array<[string, number[]]> => [[`w${i}`, l.w.flat()], [`b${i}`, l.b]]), ["wOut", g.wOut.flat()], ["bOut", g.bOut]];
}

/** ||a - b|| / ||b|| */
function distance(a: number[], b: number[]): number {
  let d = 0;
  let n = 0;
  b.forEach((x, i) => {
    d += (a[i]! - x) ** 2;
    n += x * x;
  });
  return Math.sqrt(d / n);
}

const layerGrad = (g: OstlGrads, l: number) => [...g.layers[l]!.w.flat(), ...g.layers[l]!.b];

/** The spec's grid: T 40-120, 1-3 layers, LIF/ALIF, mse/ce, sum/mean, resetGrad true/false. */
const GRID: OstlRandomOptions[] = [];
for (const layers of [[12], [12, 10], [11, 9, 7]])
  for (const neuron of ["lif", "alif"] as const)
    for (const loss of ["mse", "ce"] as const)
      for (const resetGrad of [true, false])
        GRID.push({ layers, neuron, loss, resetGrad, lossReduction: resetGrad === (loss === "ce") ? "mean" : "sum", T: 40 * layers.length, seed: 21 + GRID.length });
const label = (o: OstlRandomOptions) => `${o.layers!.join("x")} ${o.neuron} ${o.loss} ${o.lossReduction} resetGrad=${o.resetGrad}`;
const cases = new Map<OstlRandomOptions, OstlCase>();
const caseOf = (o: OstlRandomOptions) => cases.get(o) ?? cases.set(o, randomOstlCase(o)).get(o)!;

describe("OSTL host reference (float64) against BPTT and autodiff", () => {
  it.each(GRID.filter((o) => o.layers!.length === 1).map((o) => [label(o), o] as const))("one layer: OSTL = BPTT for every gradient (%s)", (_n, o) => {
    const c = caseOf(o);
    const ostl = ostlGrad(c);
    const bptt = stackBpttGrad(c);
    expect(Math.abs(ostl.loss - bptt.loss)).toBeLessThanOrEqual(1e-12 * Math.abs(bptt.loss));
    const b = leaves(bptt.grads);
    for (const [name, g] of leaves(ostl.grads)) {
      const ref = b.find(([n]) => n === name)![1];
      expect(Math.max(...ref.map(Math.abs)), name).toBeGreaterThan(0);
      expect(maxRelErr(g, ref), name).toBeLessThanOrEqual(1e-10);
    }
  });

  it.each(GRID.filter((o) => o.layers!.length > 1).map((o) => [label(o), o] as const))("deep stack: top layer and readout = BPTT; lower layers reported (%s)", (_n, o) => {
    const c = caseOf(o);
    const ostl = ostlGrad(c).grads;
    const bptt = stackBpttGrad(c).grads;
    const L = c.model.layers.length;
    const exact = new Set([`w${L - 1}`, `b${L - 1}`, "wOut", "bOut"]);
    const b = leaves(bptt);
    for (const [name, g] of leaves(ostl)) {
      if (exact.has(name)) expect(maxRelErr(g, b.find(([n]) => n === name)![1]), name).toBeLessThanOrEqual(1e-10);
    }
    // OSTL.md statement 4: an approximation, reported, not asserted against BPTT
    const report = c.model.layers.slice(0, -1).map((_, l) => {
      const norm = Math.sqrt(layerGrad(ostl, l).reduce((s, x) => s + x * x, 0) / layerGrad(bptt, l).reduce((s, x) => s + x * x, 0));
      return `layer ${l}: cos(W) ${cosine(ostl.layers[l]!.w.flat(), bptt.layers[l]!.w.flat()).toFixed(3)}, |OSTL|/|BPTT| ${(100 * norm).toFixed(1)} %`;
    });
    console.log(`OSTL lower layers vs BPTT, ${label(o)}: ${report.join("; ")}`);
  });

  it.each(GRID.map((o) => [label(o), o] as const))("host = autodiff (BPTT: full graph; OSTL: cut graph) <= 1e-9 per leaf and loss (%s)", (_n, o) => {
    const c = caseOf(o);
    for (const [mine, graph] of [[ostlGrad(c), "ostl"], [stackBpttGrad(c), "bptt"]] as const) {
      const ad = autodiffGrad(c, graph);
      expect(Math.abs(mine.loss - ad.loss), `${graph} loss`).toBeLessThanOrEqual(1e-9 * Math.abs(ad.loss));
      const a = leaves(ad.grads);
      for (const [name, g] of leaves(mine.grads)) expect(maxRelErr(g, a.find(([n]) => n === name)![1]), `${graph} ${name}`).toBeLessThanOrEqual(1e-9);
    }
  });

  it.each(GRID.filter((o) => o.layers!.length === 1 && !o.resetGrad).map((o) => [label(o), o] as const))(
    "one layer, resetGrad false: OSTL = MODEL.md e-prop and BPTT (wRec = 0, symmetric, bias as an input fixed at 1) (%s)",
    (_n, o) => {
      const c = caseOf(o);
      const layer = c.model.layers[0]!;
      const lp = c.params.layers[0]!;
      const hil = parseCase({
        format: "hil-case/1",
        model: {
          neuron: layer.neuron, nIn: c.model.nIn + 1, nRec: layer.n, nOut: c.model.nOut, dt: c.model.dt, tauMem: layer.tauMem,
          tauOut: c.model.tauOut, tauAdapt: layer.tauAdapt, beta: layer.beta, vTh: layer.vTh, gamma: layer.gamma,
          loss: c.model.loss, lossReduction: c.model.lossReduction, trainBias: c.model.trainBias,
        },
        params: { wIn: lp.w.map((row, j) => [...row, lp.b[j]!]), wRec: zeros(layer.n, layer.n), wOut: c.params.wOut, bOut: c.params.bOut },
        inputs: c.inputs.map((x) => [...x, 1]),
        targets: c.targets,
        mask: c.mask,
      });
      const ostl = ostlGrad(c);
      for (const other of [epropGrad(hil), bpttGrad(hil)]) {
        expect(Math.abs(ostl.loss - other.loss)).toBeLessThanOrEqual(1e-12 * Math.abs(other.loss));
        expect(maxRelErr(ostl.grads.layers[0]!.w.flat(), other.grads.wIn.map((r) => r.slice(0, -1)).flat())).toBeLessThanOrEqual(1e-10);
        expect(maxRelErr(ostl.grads.layers[0]!.b, other.grads.wIn.map((r) => r[r.length - 1]!))).toBeLessThanOrEqual(1e-10);
        expect(maxRelErr(ostl.grads.wOut.flat(), other.grads.wOut.flat())).toBeLessThanOrEqual(1e-10);
        expect(maxRelErr(ostl.grads.bOut, other.grads.bOut)).toBeLessThanOrEqual(1e-10);
      }
    },
  );

  it("tells the misreadings apart: resetGrad flipped, top layer not kappa-filtered, lower layers kappa-filtered", () => {
    const seen = { flip: [] as number[], noTop: [] as number[], allFiltered: [] as number[] };
    for (const o of GRID) {
      const c = caseOf(o);
      const L = c.model.layers.length;
      const g = ostlGrad(c).grads;
      const flip = ostlGrad({ ...c, model: { ...c.model, resetGrad: !c.model.resetGrad } }).grads;
      const noTop = ostlGrad(c, { filtered: c.model.layers.map(() => false) }).grads;
      const all = ostlGrad(c, { filtered: c.model.layers.map(() => true) }).grads;
      for (let l = 0; l < L; l++) seen.flip.push(distance(layerGrad(flip, l), layerGrad(g, l)));
      seen.noTop.push(distance(layerGrad(noTop, L - 1), layerGrad(g, L - 1)));
      for (let l = 0; l < L - 1; l++) seen.allFiltered.push(distance(layerGrad(all, l), layerGrad(g, l)));
    }
    const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
    console.log(`OSTL misreadings, relative distance from the right gradient: resetGrad flipped ${range(seen.flip)}; ` +
      `top layer not kappa-filtered ${range(seen.noTop)}; lower layers kappa-filtered ${range(seen.allFiltered)}`);
    // each is at least 1e7 times the tolerance the right reading meets
    for (const xs of Object.values(seen)) expect(Math.min(...xs)).toBeGreaterThan(0.01);
  });
});

describe("random OSTL margin cases", () => {
  it("keep |v - A| > 5e-4 everywhere and every layer's rate in 2-40 %, deterministically from the seed", () => {
    for (const o of GRID) {
      const tr = runStack(caseOf(o));
      tr.layers.forEach((runs) => {
        expect(Math.min(...runs.flatMap((r) => r.u.map(Math.abs)))).toBeGreaterThan(5e-4);
        const rate = runs.reduce((s, r) => s + r.z.reduce((a, b) => a + b, 0), 0) / (runs.length * runs[0]!.z.length);
        expect(rate).toBeGreaterThanOrEqual(RATE_WINDOW.min);
        expect(rate).toBeLessThanOrEqual(RATE_WINDOW.max);
      });
    }
    expect(randomOstlCase(GRID[5]!)).toEqual(caseOf(GRID[5]!));
  });

  it("edgeprop case random --rule ostl --layers 12,10 writes a valid stack case (run from outside the repo); a bad --layers exits 2", () => {
    const cwd = mkdtempSync(`${tmpdir()}/ostl-case-`);
    const run = (args: string[]) => spawnSync(process.execPath, [`${ROOT}bin/edgeprop.mjs`, ...args], { cwd, encoding: "utf8", timeout: 120_000 });
    const r = run(["case", "random", "--rule", "ostl", "--layers", "12,10", "--neuron", "lif,alif", "--loss", "ce", "--reset-grad", "false", "--T", "60", "--seed", "4"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const c = parseOstlCase(JSON.parse(r.stdout));
    expect(c.model.layers.map((l) => [l.n, l.neuron])).toEqual([[12, "lif"], [10, "alif"]]);
    expect(c.model.resetGrad).toBe(false);
    expect(c.inputs.length).toBe(60);
    const bad = run(["case", "random", "--rule", "ostl", "--layers", "12,0"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--layers");
  });
});

describe("OSTL stack case schema", () => {
  const good = () => JSON.parse(JSON.stringify(randomOstlCase({ layers: [5, 4], nIn: 3, nOut: 2, T: 30, seed: 2 }))) as Record<string, any>;

  it("fills MODEL.md's layer defaults and resetGrad true", () => {
    const j = good();
    j.model.layers = [{ n: 5, neuron: "lif" }, { n: 4, neuron: "alif" }];
    delete j.model.resetGrad;
    delete j.params.layers[0].b;
    const c = parseOstlCase(j);
    expect(c.model.resetGrad).toBe(true);
    expect(c.model.layers[0]).toEqual({ n: 5, neuron: "lif", tauMem: 20, tauAdapt: 200, beta: [0, 0, 0, 0, 0], vTh: 1, gamma: 0.3 });
    expect(c.model.layers[1]!.beta).toEqual([1, 1, 1, 1]);
    expect(c.params.layers[0]!.b).toEqual([0, 0, 0, 0, 0]);
    expect(ostlRule.kinds).toEqual(["stack"]);
    expect(ostlRule.parseCase(j, "x.json").model.layers.length).toBe(2);
  });

  const bad: Array<[string, (j: Record<string, any>) => void, string, RegExp]> = [
    ["shapes that do not chain", (j) => (j.params.layers[1].w = j.params.layers[0].w.slice(0, 4)), "params.layers[1].w[0]", /expected 5 numbers \(model.layers\[0\].n=5\)/],
    ["a layer count that differs", (j) => j.params.layers.pop(), "params.layers", /expected 2 layers/],
    ["wOut not matching the top layer", (j) => (j.params.wOut = [[1, 2], [3, 4]]), "params.wOut[0]", /model.layers\[1\].n=4/],
    ["neuron other than lif/alif", (j) => (j.model.layers[0].neuron = "decolle"), "model.layers[0].neuron", /'lif', 'alif'/],
    ["refractory != 0", (j) => (j.model.refractory = 2), "model.refractory", /not supported/],
    ["rateReg", (j) => (j.model.rateReg = { cReg: 1, fTargetHz: 10 }), "model.rateReg", /not supported/],
    ["inputScale", (j) => (j.model.inputScale = "oneMinusAlpha"), "model.inputScale", /only 'one'/],
    ["readoutScale", (j) => (j.model.readoutScale = "oneMinusKappa"), "model.readoutScale", /only 'one'/],
    ["wRec present", (j) => (j.params.wRec = [[0]]), "params.wRec", /no recurrent weights/],
    ["nRec present", (j) => (j.model.nRec = 5), "model.nRec", /model.layers/],
    ["feedback present", (j) => (j.feedback = { kind: "random" }), "feedback", /forward weights/],
    ["a model-level per-layer field", (j) => (j.model.tauMem = 10), "model.tauMem", /model.layers\[l\].tauMem/],
    ["an unknown layer field", (j) => (j.model.layers[1].alpha = 0.9), "model.layers[1].alpha", /not a field/],
    ["beta on a lif layer", (j) => (j.model.layers[0].beta = 0.5), "model.layers[0].beta", /must be 0/],
    ["a mask value", (j) => (j.mask = j.inputs.map((_: unknown, t: number) => (t === 3 ? 2 : 1))), "mask[3]", /0 or 1/],
    ["resetGrad not a boolean", (j) => (j.model.resetGrad = "yes"), "model.resetGrad", /true or false/],
    ["too many layers", (j) => (j.model.layers = Array.from({ length: LIMITS.maxLayers + 1 }, () => ({ n: 2, neuron: "lif" }))), "model.layers", /1 to 16 layers/],
    // checked from the sizes alone, before any parameter is read (params are absent here)
    ["too many synapses", (j) => {
      j.model.layers = [{ n: 60000, neuron: "lif" }, { n: 60000, neuron: "lif" }];
      delete j.params;
    }, "model.layers", /at most 16777216 synapses/],
  ];
  it.each(bad)("names the field: %s", (_n, mutate, field, message) => {
    const j = good();
    mutate(j);
    const e = inputError(() => parseOstlCase(j));
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
  });

  it("names a NaN's field (numpy-style bare NaN in the file)", () => {
    const text = JSON.stringify(good()).replace(/"w":\[\[([^,\]]+),([^,\]]+)/, '"w":[[$1,NaN');
    const e = inputError(() => parseOstlCase(parseJsonLenient(text, "case.json")));
    expect(e.field).toBe("params.layers[0].w[0][1]");
    expect(e.message).toMatch(/finite number, got NaN/);
  });
});

describe("OSTL device kernels (float32, scalar and SIMD) against float64", () => {
  it("the host layout twin matches the kernel's arena field by field (both builds, flag and layer mixes)", async () => {
    const dims: StackDims[] = [
      { nIn: 1, nOut: 1, layers: [{ n: 1, alif: false }] },
      { nIn: 5, nOut: 2, layers: [{ n: 13, alif: true }, { n: 7, alif: false }] },
      { nIn: 8, nOut: 3, layers: [{ n: 12, alif: false }, { n: 10, alif: true }, { n: 9, alif: true }] },
    ];
    const flagSets = [0, OSTL_FLAG.RESETGRAD, OSTL_FLAG.ADAM | OSTL_FLAG.CE, OSTL_FLAG.RESETGRAD | OSTL_FLAG.ADAM | OSTL_FLAG.TRAINBIAS | OSTL_FLAG.MEAN];
    for (const build of ["scalar", "simd"] as const) {
      const k = await Kernels.load(build);
      const call = (name: string, ...a: number[]) => Number(k.raw<(...x: number[]) => number>(name as never)(...a));
      for (const d of dims) {
        for (const flags of flagSets) {
          const plan = planOstl(d, flags, build === "simd" ? 4 : 1);
          expect(call("osBegin", d.nIn, d.nOut, d.layers.length, flags)).toBe(1);
          d.layers.forEach((l, i) => expect(call("osLayer", i, l.n, l.alif ? OSTL_FLAG.ALIF : 0)).toBe(1));
          expect(call("osPlan")).toBe(plan.bytes);
          const base = call("reserve", plan.bytes);
          expect(base % 16).toBe(0);
          expect(call("osConfigure", base)).toBe(plan.bytes);
          const where = `${build} ${JSON.stringify(d)} flags ${flags}`;
          plan.layers.forEach((fields, l) =>
            fields.forEach((f) => expect(call("osPtr", fieldId(f.name), l), `${where} layer ${l} ${f.name}`).toBe(f.bytes ? base + f.offset : 0)),
          );
          plan.readout.forEach((f) => expect(call("osPtr", fieldId(f.name), 0), `${where} ${f.name}`).toBe(f.bytes ? base + f.offset : 0));
        }
      }
      expect(LAYER_FIELDS.length + READOUT_FIELDS.length).toBe(29);
    }
  });

  const DEVICE_GRID = GRID.filter((_, i) => i % 2 === 0).concat([
    { layers: [11, 9, 7], neuron: "alif", loss: "mse", resetGrad: true, T: 120, seed: 3 },
    { layers: [13, 6], neuron: ["alif", "lif"], loss: "ce", resetGrad: false, lossReduction: "mean", trainBias: false, T: 90, seed: 4 },
  ]);
  let worst = 0;
  it.each(DEVICE_GRID.map((o) => [label(o), o] as const))("scalar and SIMD within 1e-4 of float64, identical spikes, scalar == SIMD bit for bit (%s)", async (_n, o) => {
    const c = caseOf(o);
    const ref = ostlGrad(c);
    const tr = runStack(c);
    const [s, v] = await Promise.all([ostlWasmGrad(c, "scalar", { recordSpikes: true }), ostlWasmGrad(c, "simd", { recordSpikes: true })]);
    expect(s.spikes).toEqual(tr.layers.map((runs) => runs.map((r) => r.z)));
    expect(Math.abs(s.loss - ref.loss)).toBeLessThanOrEqual(1e-4 * Math.abs(ref.loss));
    const r = leaves(ref.grads);
    const vs = leaves(v.grads);
    leaves(s.grads).forEach(([name, g], i) => {
      const err = maxRelErr(g, r[i]![1]);
      worst = Math.max(worst, err);
      expect(err, name).toBeLessThanOrEqual(1e-4);
      expect(new Float32Array(vs[i]![1]), `${name} simd`).toEqual(new Float32Array(g));
    });
    expect(v.loss).toBe(s.loss);
  });

  it("reports the float32 error and the device bytes per synapse", () => {
    const plans = [[12, 10], [100, 100]].flatMap((layers) =>
      (["lif", "alif"] as const).flatMap((neuron) =>
        [true, false].map((resetGrad) => {
          const m = parseOstlCase({
            format: "hil-case/1", model: { nIn: 80, nOut: 3, resetGrad, layers: layers.map((n) => ({ n, neuron })) },
            params: { layers: layers.map((n, l) => ({ w: zeros(n, l === 0 ? 80 : layers[l - 1]!) })), wOut: zeros(3, layers[layers.length - 1]!) },
            inputs: [new Array(80).fill(0)], targets: [[0, 0, 0]],
          }).model;
          const p = planOstlModel(m);
          return `${layers.join("x")} ${neuron} resetGrad=${resetGrad}: ${p.bytes} B, ${p.bytesPerSynapse.toFixed(2)} B/synapse ` +
            `(per stored entry: layers ${p.stateBytesPerEntry.layers.map((b) => b.toFixed(2)).join("/")}, readout ${p.stateBytesPerEntry.readout.toFixed(2)})`;
        }),
      ),
    );
    console.log(`OSTL float32 kernels: worst relative gradient error vs float64 ${worst.toExponential(2)}\n  ${plans.join("\n  ")}`);
    expect(worst).toBeGreaterThan(0); // float32 is not float64: the comparison above really ran
  });

  it("gd and Adam updates equal their float32 formula (both builds alike); the arena is a checkpoint that osAttach adopts and osValidate checks", async () => {
    const c = caseOf(GRID[9]!);
    const after: OstlGrads[] = [];
    for (const build of ["scalar", "simd"] as const) {
      const dev = await OstlDevice.create(c.model, { build, optimizer: "adam" });
      dev.loadParams(c.params);
      const { grads } = dev.runTrial(c.inputs, c.targets, c.mask);
      const before = dev.readParams();
      dev.applyGd(0.5);
      const f = Math.fround;
      const want = leaves(before).map(([, w], i) => w.map((x, j) => f(x - f(0.5 * leaves(grads)[i]![1][j]!))));
      expect(leaves(dev.readParams()).map(([, w]) => w)).toEqual(want);
      dev.runTrial(c.inputs, c.targets, c.mask);
      dev.applyAdam(0.01, 0.9, 0.999, 1e-8, 1);
      expect(dev.validate()).toBe(-1);
      after.push(dev.readParams());

      // checkpoint: the arena's bytes restored into a fresh instance run the next trial bit for bit alike
      const blob = dev.arena();
      const k2 = await Kernels.load(build);
      const restored = OstlDevice.restore(k2, c.model, blob, { optimizer: "adam" });
      const next = dev.runTrial(c.inputs, c.targets, c.mask);
      expect(restored.runTrial(c.inputs, c.targets, c.mask)).toEqual(next);
      // a refused header (another build's lanes) leaves the current arena in place
      const call = (name: string, ...a: number[]) => Number(k2.raw<(...x: number[]) => number>(name as never)(...a));
      const base = call("osBase");
      const w0 = call("osPtr", fieldId("w"), 0);
      const foreign = blob.slice();
      new DataView(foreign.buffer).setInt32(28, build === "simd" ? 1 : 4, true);
      const other = call("reserve", 2 * blob.length) + blob.length;
      new Uint8Array(k2.memory.buffer, other, blob.length).set(foreign);
      expect(call("osAttach", other)).toBe(0);
      expect(call("osPtr", fieldId("w"), 0)).toBe(w0);
      expect(restored.runTrial(c.inputs, c.targets, c.mask)).toEqual(next);
      expect(() => OstlDevice.restore(k2, c.model, foreign, { optimizer: "adam" })).toThrow(/header refused/);
      // a NaN is found and named by its byte offset
      const nanAt = dev.plan.layers[1]![0]!.offset + 8;
      new DataView(k2.memory.buffer).setFloat32(base + nanAt, NaN, true);
      expect(restored.validate()).toBe(nanAt);
      const poisoned = blob.slice();
      new DataView(poisoned.buffer).setFloat32(nanAt, NaN, true);
      expect(() => OstlDevice.restore(k2, c.model, poisoned, { optimizer: "adam" })).toThrow(`bad value at byte ${nanAt}`);
    }
    expect(after[1]).toEqual(after[0]);
  });
});
