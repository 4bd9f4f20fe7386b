// The DECOLLE triad (../shared/spec/DECOLLE.md): the float64 streaming reference against an
// independent autodiff of the cut graph, the spec's equivalences and misreadings, the case
// schema's errors, and (below) the float32 device kernel in both wasm builds.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decolleCheck } from "../host/rules/decolle/check.ts";
import { decolleRandomCase, keepsMargins, type DecolleRandomOptions } from "../host/rules/decolle/random.ts";
import { decolleGrad, DecolleStream, type DecolleGrad } from "../host/rules/decolle/reference.ts";
import { parseDecolleCase, traceGains, type DecolleCase } from "../host/rules/decolle/schema.ts";
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
