// EqProp training (EQPROP.md "Training") and its task: the digits file of Debian's
// python3-sklearn and numpy's permutation split; Glorot init, learning rates, exact resume from
// plain-data state; host float64 and the wasm kernel learning digits well above chance (10 %).
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { MissingToolError } from "../host/input/errors.ts";
import { numpyPermutation } from "../host/rng/numpy-permutation.ts";
import { batchOrder, glorotUniform, lrPerLayer, evaluate, trainIteration, trainNext, type TrainConfig, type TrainState } from "../host/rules/eqprop/train.ts";
import { EqpropDevice } from "../host/rules/eqprop/wasm.ts";
import { digitsPath, digitsSplit, digitTargets, loadDigits, DIGITS } from "../host/tasks/digits.ts";
import { inputError } from "./helpers/errors.ts";

const CFG: TrainConfig = { beta: 1, epsilon: 0.5, freeSteps: 40, nudgedSteps: 10, nudge: "symmetric", lr: [0.1, 0.05] };
const accuracy = (pred: number[], labels: number[]) => pred.filter((p, i) => p === labels[i]).length / labels.length;

/** numpy's own permutation (python3-numpy comes with python3-sklearn, which the digits task needs). */
function numpyItself(n: number, seed: number): Promise<number[]> {
  return new Promise((res, rej) =>
    execFile("/usr/bin/python3", ["-c", `import numpy, sys; print(list(numpy.random.RandomState(${seed}).permutation(${n})))`], (err, out, stderr) =>
      err ? rej(new Error(`python3-numpy is needed to check the permutation (apt-get install python3-sklearn): ${stderr || err.message}`)) : res(JSON.parse(out))),
  );
}

describe("digits data (python3-sklearn's digits.csv.gz)", () => {
  it("numpy's RandomState(seed).permutation(n), reproduced without numpy", async () => {
    expect(numpyPermutation(DIGITS.images, 0).slice(0, 10)).toEqual([1081, 1707, 927, 713, 262, 182, 303, 895, 933, 1266]);
    for (const [n, seed] of [[1797, 0], [20, 12345], [1000, 4294967295]] as const) expect(numpyPermutation(n, seed)).toEqual(await numpyItself(n, seed));
  });

  it("1797 images of 64 pixels in [0, 1], sklearn's class counts, a 1437 / 360 split that covers every image once", () => {
    const all = loadDigits();
    expect(all.x).toHaveLength(1797);
    expect(all.x.every((r) => r.length === 64 && r.every((p) => p >= 0 && p <= 1))).toBe(true);
    expect(Math.max(...all.x.flat())).toBe(1);
    const counts = new Array<number>(10).fill(0);
    all.labels.forEach((l) => counts[l]!++);
    expect(counts).toEqual([178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    const { train, heldOut } = digitsSplit();
    expect([train.x.length, heldOut.x.length]).toEqual([1437, 360]);
    expect([...train.index, ...heldOut.index].sort((a, b) => a - b)).toEqual(all.index);
    expect(heldOut.index.slice(-5)).toEqual([835, 1216, 1653, 559, 684]); // numpy's last five
    expect(heldOut.x[0]).toEqual(all.x[heldOut.index[0]!]);
    expect(digitTargets(heldOut)[0]![heldOut.labels[0]!]).toBe(1);
  });

  it("a missing file names python3-sklearn; a damaged one names the file and line", () => {
    expect(() => digitsPath(undefined, "/nonexistent/digits.csv.gz")).toThrow(MissingToolError);
    expect(() => digitsPath(undefined, "/nonexistent/digits.csv.gz")).toThrow(/apt-get install python3-sklearn/);
    const dir = mkdtempSync(join(tmpdir(), "edgeprop-digits-"));
    const bad = join(dir, "digits.csv.gz");
    const rows = Array.from({ length: 1797 }, () => `${new Array(64).fill(0).join(",")},3`);
    rows[41] = `${new Array(63).fill(0).join(",")},17,3`;
    writeFileSync(bad, gzipSync(rows.join("\n")));
    const e = inputError(() => loadDigits(bad));
    expect(e.field).toBe(`${bad}:42`);
    expect(e.expected).toMatch(/field 64 is '17'/);
    writeFileSync(bad, "not gzip");
    expect(inputError(() => loadDigits(bad)).expected).toMatch(/gzip/);
  });
});

describe("EqProp training functions", () => {
  it("Glorot-uniform init: seeded, within sqrt(6 / (fan_in + fan_out)), zero biases", () => {
    const p = glorotUniform([64, 32, 10], 3);
    expect(glorotUniform([64, 32, 10], 3)).toEqual(p);
    expect(glorotUniform([64, 32, 10], 4)).not.toEqual(p);
    const a = [Math.sqrt(6 / 96), Math.sqrt(6 / 42)];
    p.W.forEach((w, l) => {
      const v = w.flat();
      expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(a[l]!);
      expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(0.9 * a[l]!);
    });
    expect(p.b.flat().every((v) => v === 0)).toBe(true);
  });

  it("lr is a number or one value per layer pair, each > 0", () => {
    expect(lrPerLayer(0.1, 2)).toEqual([0.1, 0.1]);
    expect(lrPerLayer([0.1, 0.05], 2)).toEqual([0.1, 0.05]);
    expect(inputError(() => lrPerLayer([0.1], 2)).expected).toMatch(/list of 2/);
    expect(inputError(() => lrPerLayer([0.1, -1], 2)).field).toBe("lr[1]");
  });

  it("resumes exactly from plain-data state (a JSON round trip mid-epoch)", () => {
    const { train } = digitsSplit();
    const xs = train.x.slice(0, 35);
    const ys = digitTargets(train).slice(0, 35);
    const cfg = { ...CFG, freeSteps: 8, nudgedSteps: 3 };
    let straight: TrainState = { params: glorotUniform([64, 12, 10], 2), epoch: 0, iteration: 0 };
    for (let i = 0; i < 5; i++) straight = trainNext(straight, cfg, xs, ys, 10, 7).state;
    expect([straight.epoch, straight.iteration]).toEqual([1, 1]); // 4 batches an epoch, the last one of 5
    let resumed: TrainState = { params: glorotUniform([64, 12, 10], 2), epoch: 0, iteration: 0 };
    for (let i = 0; i < 2; i++) resumed = trainNext(resumed, cfg, xs, ys, 10, 7).state;
    resumed = JSON.parse(JSON.stringify(resumed)) as TrainState;
    for (let i = 0; i < 3; i++) resumed = trainNext(resumed, cfg, xs, ys, 10, 7).state;
    expect(resumed).toEqual(straight);
  });

  it("the wasm kernel's iteration follows the float64 one (float32 rounding only)", async () => {
    const { train } = digitsSplit();
    const xs = train.x.slice(0, 20);
    const ys = digitTargets(train).slice(0, 20);
    let p = glorotUniform([64, 32, 10], 5);
    const dev = await EqpropDevice.create([64, 32, 10], "symmetric");
    dev.setConstants(CFG);
    dev.writeParams(p);
    for (let b = 0; b < 20; b += 10) {
      const host = trainIteration(p, CFG, xs.slice(b, b + 10), ys.slice(b, b + 10));
      const wasm = dev.iteration(xs.slice(b, b + 10), ys.slice(b, b + 10), CFG.lr);
      expect(wasm.predictions).toEqual(host.predictions);
      expect(Math.abs(wasm.loss - host.loss)).toBeLessThan(1e-4 * host.loss);
      p = host.params;
    }
    const got = dev.readParams();
    p.W.forEach((w, l) => w.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(got.W[l]![i]![j]! - v)).toBeLessThan(1e-5))));
  });

  it("host float64: 3 epochs on 300 training digits beat chance (10 %) clearly on the 360 held-out", () => {
    const { train, heldOut } = digitsSplit();
    let st: TrainState = { params: glorotUniform([64, 32, 10], 1), epoch: 0, iteration: 0 };
    const xs = train.x.slice(0, 300);
    const ys = digitTargets(train).slice(0, 300);
    while (st.epoch < 3) st = trainNext(st, CFG, xs, ys, 10, 1).state;
    const acc = accuracy(evaluate(st.params, CFG, heldOut.x, digitTargets(heldOut)).predictions, heldOut.labels);
    console.log(`EqProp host float64, 300 digits x 3 epochs: held-out accuracy ${(100 * acc).toFixed(1)} %`);
    expect(acc).toBeGreaterThan(0.3);
  });

  it("wasm float32: 3 epochs on the 1437 training digits reach 85 % held-out", async () => {
    const { train, heldOut } = digitsSplit();
    const ys = digitTargets(train);
    const dev = await EqpropDevice.create([64, 32, 10], "symmetric", "simd");
    dev.setConstants(CFG);
    dev.writeParams(glorotUniform([64, 32, 10], 1));
    for (let epoch = 0; epoch < 3; epoch++) {
      const order = batchOrder(1, epoch, train.x.length);
      for (let b = 0; b < order.length; b += 10) {
        const idx = order.slice(b, b + 10);
        dev.iteration(idx.map((i) => train.x[i]!), idx.map((i) => ys[i]!), CFG.lr);
      }
    }
    const acc = accuracy(dev.evaluate(heldOut.x, digitTargets(heldOut)).predictions, heldOut.labels);
    console.log(`EqProp wasm float32, 3 epochs: held-out accuracy ${(100 * acc).toFixed(1)} %`);
    expect(acc).toBeGreaterThan(0.85);
  }, 180_000); // the first run compiles the SIMD build (asc), which takes a minute on a loaded machine
});
