// Task generators (host/tasks): determinism from the seed, hil-case/1 shapes every backend can
// parse, task semantics checked from the generated spikes themselves (cue majority, stored
// bit, sine targets), the metrics, the IDX reader and the real Fashion-MNIST files.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it, onTestFinished } from "vitest";
import { parseCase } from "../host/case/parse.ts";
import { InputError, MissingToolError } from "../host/input/errors.ts";
import { accuracy, nmse } from "../host/tasks/common.ts";
import { evidenceTiming } from "../host/tasks/evidence.ts";
import { FASHION_CLASSES, fashionDir, latencyEncode, loadFashion } from "../host/tasks/fashion-mnist.ts";
import { encodeIdx, parseIdx } from "../host/tasks/idx.ts";
import { createTask, tasks, toCase, trialList, type TaskInstance, type Trial } from "../host/tasks/index.ts";
import { recallError } from "../host/tasks/store-recall.ts";
import { parseOptimizer } from "../host/train/optimizer.ts";
import { setupFromTask } from "../host/train/setup.ts";

/** Small variants so the suite stays fast; defaults are checked separately where cheap. */
const SMALL: Record<string, Record<string, number | string | boolean>> = {
  pattern: { steps: 300, nIn: 20, nRec: 15 },
  evidence: { cueSteps: 40, spacingSteps: 20, delaySteps: 60, recallSteps: 50, nRec: 20, nAdaptive: 10 },
  "store-recall": { periods: 4, periodSteps: 60, nRec: 20, nAdaptive: 20 },
  "fashion-mnist": { encSteps: 20, tailSteps: 5, decisionSteps: 10, nRec: 20, trainLimit: 500, testLimit: 100 },
};

const count = (rows: number[][], t0: number, t1: number, i0: number, i1: number) => {
  let n = 0;
  for (let t = t0; t < t1; t++) for (let i = i0; i < i1; i++) n += rows[t]![i]!;
  return n;
};

function checkShapes(inst: TaskInstance, tr: Trial): void {
  const { nIn, nOut } = inst.model;
  const T = tr.inputs.length;
  expect(T).toBeGreaterThan(0);
  expect(tr.targets.length).toBe(T);
  expect(tr.mask.length).toBe(T);
  for (const row of tr.inputs) {
    expect(row.length).toBe(nIn);
    for (const x of row) expect(x === 0 || x === 1).toBe(true);
  }
  for (const row of tr.targets) expect(row.length).toBe(nOut);
  for (const m of tr.mask) expect(m === 0 || m === 1).toBe(true);
  expect(tr.mask.some((m) => m === 1)).toBe(true);
}

describe("every task", () => {
  for (const def of tasks) {
    it(`${def.name}: seeded, hil-case/1 shaped, parsed by the case reader`, () => {
      const a = def.create(7, SMALL[def.name]);
      const b = def.create(7, SMALL[def.name]);
      const c = def.create(8, SMALL[def.name]);
      expect(a.params).toEqual(b.params);
      expect(a.randomB).toEqual(b.randomB);
      expect(a.params.wIn).not.toEqual(c.params.wIn);
      for (const i of [0, 3]) {
        expect(a.trial(i)).toEqual(b.trial(i));
        checkShapes(a, a.trial(i));
        checkShapes(a, a.testTrial(i));
      }
      if (a.nTrain > 1) {
        expect(a.trial(0).inputs).not.toEqual(a.trial(1).inputs);
        expect(a.testTrial(0).inputs).not.toEqual(a.trial(0).inputs);
      }
      // wRec has a zero diagonal; wOut/bOut/B have the declared shapes
      a.params.wRec.forEach((row, j) => expect(row[j]).toBe(0));
      expect(a.params.wOut.length).toBe(a.model.nOut);
      expect(a.randomB.length).toBe(a.model.nRec);
      expect(a.randomB[0]!.length).toBe(a.model.nOut);
      // every backend reads this case
      for (const fb of ["symmetric", "random"] as const) {
        const kase = toCase(a, a.trial(0), { feedback: fb });
        const parsed = parseCase(JSON.parse(JSON.stringify(kase)));
        expect(parsed.model).toEqual(a.model);
        expect(parsed.inputs).toEqual(kase.inputs);
        expect(parsed.feedback.kind).toBe(fb);
      }
      expect(trialList(a, 2).map((t) => t.mask)).toEqual([a.trial(0).mask, a.trial(1).mask]);
      expect(a.metric.chance).toBeGreaterThan(0);
      // the short-run preset is a valid option set
      const q = def.create(1, def.quick);
      checkShapes(q, q.trial(0));
    });
  }

  it("rejects unknown options and wrong types with the field named", () => {
    expect(() => createTask("pattern", 1, { nope: 3 })).toThrow(/pattern\.options\.nope: unknown option/);
    expect(() => createTask("evidence", 1, { nCues: "7" })).toThrow(InputError);
    expect(() => createTask("evidence", 1, { nCues: 6 })).toThrow(/odd/);
    expect(() => createTask("store-recall", 1, { periods: 1 })).toThrow(/store-recall\.options\.periods/);
    expect(() => createTask("tetris", 1)).toThrow(/--task: expected one of pattern, evidence, store-recall, fashion-mnist/);
    expect(() => createTask("pattern", -1)).toThrow(/seed/);
  });

  it("the firing-rate regulariser is an option (cReg 0 = off)", () => {
    expect(createTask("pattern", 1, SMALL.pattern).model.rateReg).toBeNull();
    expect(createTask("evidence", 1, { ...SMALL.evidence, cReg: 300, fTargetHz: 12 }).model.rateReg).toEqual({ cReg: 300, fTargetHz: 12 });
  });
});

describe("pattern generation", () => {
  it("default: 100 frozen 50 Hz Poisson inputs, 100 LIF, a 1 s sum of four sines normalised to max 1", () => {
    const inst = createTask("pattern", 3);
    expect(inst.model).toMatchObject({ neuron: "lif", nIn: 100, nRec: 100, nOut: 1, loss: "mse", dt: 1 });
    const tr = inst.trial(0);
    expect(inst.trial(0)).toEqual(tr); // seeded
    expect(tr.inputs.length).toBe(1000);
    const rate = (count(tr.inputs, 0, 1000, 0, 100) / 100 / 1000) * 1000;
    expect(rate).toBeGreaterThan(45);
    expect(rate).toBeLessThan(55);
    const y = tr.targets.map((r) => r[0]!);
    expect(Math.max(...y.map(Math.abs))).toBeCloseTo(1, 12);
    // band-limited: the spectrum of the 1 s target has its energy at 1, 2, 3 and 5 Hz only
    const power = (f: number) => {
      let re = 0;
      let im = 0;
      y.forEach((v, t) => {
        re += v * Math.cos((2 * Math.PI * f * (t + 1)) / 1000);
        im += v * Math.sin((2 * Math.PI * f * (t + 1)) / 1000);
      });
      return re * re + im * im;
    };
    const inBand = [1, 2, 3, 5].reduce((s, f) => s + power(f), 0);
    const outBand = [4, 6, 7, 8, 10, 20].reduce((s, f) => s + power(f), 0);
    expect(outBand).toBeLessThan(0.01 * inBand);
  });

  it("held-out trials: jittered members of the frozen pattern's family, none of them a training trial", () => {
    const inst = createTask("pattern", 3, SMALL.pattern);
    expect(inst.nTrain).toBe(Infinity);
    expect(inst.nTest).toBe(Infinity);
    const train = Array.from({ length: 50 }, (_, i) => inst.trial(i));
    const test = Array.from({ length: 10 }, (_, i) => inst.testTrial(i));
    const key = (t: Trial) => t.inputs.map((r) => r.join("")).join("|");
    const seen = new Set(train.map(key));
    expect(seen.size).toBe(50); // every training trial is its own draw
    for (const t of test) {
      expect(seen.has(key(t))).toBe(false); // never trained on
      expect(t.targets).toEqual(train[0]!.targets); // the same pattern to produce
    }
    // same family: every spike of a test trial is within 2 * jitter steps of a spike of a
    // training trial on the same input (both are the frozen spikes moved by at most jitter)
    const a = test[0]!.inputs;
    const b = train[0]!.inputs;
    const T = a.length;
    let spikes = 0;
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < a[t]!.length; i++) {
        if (!a[t]![i]) continue;
        spikes++;
        const near = [-2, -1, 0, 1, 2].some((d) => t + d >= 0 && t + d < T && b[t + d]![i] === 1);
        expect(near, `spike of input ${i} at step ${t}`).toBe(true);
      }
    }
    expect(spikes).toBeGreaterThan(100);
    // no jitter would make test trials copies of the training trial: refused
    expect(() => createTask("pattern", 3, { ...SMALL.pattern, jitter: 0 })).toThrow(/pattern\.options\.jitter/);
  });

  it("NMSE is 0 for the target itself and 1 for its mean", () => {
    const inst = createTask("pattern", 3, SMALL.pattern);
    const tr = inst.trial(0);
    expect(inst.evaluate([tr], [tr.targets])).toBe(0);
    const mean = tr.targets.reduce((s, r) => s + r[0]!, 0) / tr.targets.length;
    expect(inst.evaluate([tr], [tr.targets.map(() => [mean])])).toBeCloseTo(1, 12);
    expect(nmse([tr], [tr.targets.map((r) => [r[0]! * 0.5])])).toBeCloseTo(0.25 * (1 / (1 - (mean * mean * tr.targets.length) / tr.targets.reduce((s, r) => s + r[0]! ** 2, 0))), 6);
  });
});

describe("evidence accumulation", () => {
  it("default: 40 inputs in 4 groups, 7 cues, 50 LIF + 50 ALIF, ce with the mask on the recall window", () => {
    const inst = createTask("evidence", 1);
    expect(inst.model).toMatchObject({ neuron: "alif", nIn: 40, nRec: 100, nOut: 2, loss: "ce", refractory: 4 });
    expect(inst.model.beta.filter((b) => b > 0).length).toBe(50);
    expect(inst.model.beta.slice(0, 50).every((b) => b === 0)).toBe(true);
    const timing = evidenceTiming(7, 100, 50, 1050, 150);
    expect(timing.T).toBe(2250);
    const tr = inst.trial(0);
    expect(tr.inputs.length).toBe(2250);
    expect(tr.mask.indexOf(1)).toBe(2100);
    expect(tr.mask.slice(2100).every((m) => m === 1)).toBe(true);
  });

  it("the label is the side with more cues, read back from the spikes", () => {
    const o = SMALL.evidence as Record<string, number>;
    const inst = createTask("evidence", 11, o);
    const timing = evidenceTiming(7, o.cueSteps!, o.spacingSteps!, o.delaySteps!, o.recallSteps!);
    const labels = new Set<number>();
    let minoritySeen = 0;
    for (let i = 0; i < 40; i++) {
      const tr = inst.trial(i);
      let right = 0;
      for (const s of timing.cueStarts) {
        const l = count(tr.inputs, s, s + o.cueSteps!, 0, 10);
        const r = count(tr.inputs, s, s + o.cueSteps!, 10, 20);
        expect(Math.abs(l - r)).toBeGreaterThan(0); // 40 Hz x 40 ms x 10 neurons: one side only
        if (r > l) right++;
      }
      const majority = right > 3 ? 1 : 0;
      if (right !== 0 && right !== 7) minoritySeen++;
      expect(tr.label).toBe(majority);
      expect(tr.targets[tr.targets.length - 1]).toEqual(majority ? [0, 1] : [1, 0]);
      // the recall group fires only in the recall window
      expect(count(tr.inputs, 0, timing.recallStart, 20, 30)).toBe(0);
      expect(count(tr.inputs, timing.recallStart, timing.T, 20, 30)).toBeGreaterThan(0);
      labels.add(tr.label!);
    }
    expect([...labels].sort()).toEqual([0, 1]);
    expect(minoritySeen).toBeGreaterThan(10);
  });

  it("accuracy uses the mean softmax over the mask", () => {
    const tr: Trial = { inputs: [[0], [0], [0]], targets: [[0, 1], [0, 1], [0, 1]], mask: [0, 1, 1], label: 1 };
    expect(accuracy([tr], [[[9, -9], [0, 1], [0, 2]]])).toBe(1); // the unmasked first step is ignored
    expect(accuracy([tr], [[[0, 0], [1, 0], [2, 0]]])).toBe(0);
  });
});

describe("store-recall", () => {
  it("the label is the bit shown with the store cue; targets one-hot only in the recall period", () => {
    const inst = createTask("store-recall", 5, SMALL["store-recall"]);
    const P = 60;
    const stores = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const tr = inst.trial(i);
      const period = (p: number, g: number) => count(tr.inputs, p * P, (p + 1) * P, g * 10, (g + 1) * 10);
      const storeP = [0, 1, 2].filter((p) => period(p, 2) > 0);
      expect(storeP.length).toBe(1);
      stores.add(storeP[0]!);
      const bit = period(storeP[0]!, 1) > period(storeP[0]!, 0) ? 1 : 0;
      expect(tr.label).toBe(bit);
      expect(period(3, 3)).toBeGreaterThan(0); // recall cue in the last period only
      expect([0, 1, 2].every((p) => period(p, 3) === 0)).toBe(true);
      expect(tr.mask.slice(0, 3 * P).every((m) => m === 0) && tr.mask.slice(3 * P).every((m) => m === 1)).toBe(true);
      expect(tr.targets[0]).toEqual([0, 0]);
      expect(tr.targets[3 * P]).toEqual(bit ? [0, 1] : [1, 0]);
    }
    expect(stores.size).toBe(3);
    const tr = inst.trial(0);
    expect(recallError([tr], [tr.targets])).toBe(0);
    expect(recallError([tr], [tr.targets.map((r) => [r[1]!, r[0]!])])).toBe(1);
  });
});

describe("Fashion-MNIST", () => {
  it("IDX reader: plain and gzip, and precise errors", () => {
    const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const raw = encodeIdx([2, 3, 4], data);
    for (const buf of [raw, new Uint8Array(gzipSync(raw))]) {
      const idx = parseIdx(buf);
      expect(idx.dims).toEqual([2, 3, 4]);
      expect([...idx.data]).toEqual([...data]);
    }
    expect(() => parseIdx(raw.subarray(0, raw.length - 1))).toThrow(/expected 24 data bytes/);
    const bad = raw.slice();
    bad[2] = 0x0d;
    expect(() => parseIdx(bad)).toThrow(/data type 0x08/);
  });

  it("a configurable data directory (fixture files) and latency coding", () => {
    const dir = mkdtempSync(join(tmpdir(), "edgeprop-fmnist-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const n = 4;
    const img = new Uint8Array(n * 28 * 28);
    for (let k = 0; k < n; k++) for (let p = 0; p < 28 * 28; p++) img[k * 784 + p] = (p % 28) * 9 + k; // brighter to the right
    for (const split of ["train", "t10k"]) {
      writeFileSync(join(dir, `${split}-images-idx3-ubyte.gz`), gzipSync(encodeIdx([n, 28, 28], img)));
      writeFileSync(join(dir, `${split}-labels-idx1-ubyte`), encodeIdx([n], Uint8Array.from([3, 1, 4, 1])));
    }
    const inst = createTask("fashion-mnist", 2, { dataDir: dir, encSteps: 30, tailSteps: 5, decisionSteps: 8, pool: 2 });
    expect(inst.model.nIn).toBe(196);
    // the real counts, not the limits (10000 / 60000 by default)
    expect([inst.nTrain, inst.nTest]).toEqual([n, n]);
    expect(() => inst.testTrial(n)).toThrow(/fashion-mnist test trial: index 4 asked for, but there are 4 test images/);
    expect(() => inst.testTrial(n)).toThrow(InputError);
    expect(inst.trial(n + 1).label).toBe(inst.trial(1).label); // training epochs wrap around
    const capped = createTask("fashion-mnist", 2, { dataDir: dir, testLimit: 2, trainLimit: 3 });
    expect([capped.nTrain, capped.nTest]).toEqual([3, 2]);
    expect(() => capped.testTrial(2)).toThrow(InputError);
    // a run that asks for more test trials than there are images stops before it trains
    expect(() => setupFromTask({
      task: "fashion-mnist", quick: false, seed: 1, taskOptions: { dataDir: dir }, rule: "eprop", feedback: "symmetric",
      optimizer: parseOptimizer("adam"), iterations: 1, testTrials: 5,
    })).toThrow(/--test-trials: fashion-mnist has 4 test trials, 5 asked for/);
    const tr = inst.testTrial(2);
    expect(tr.label).toBe(4);
    expect(tr.targets[0]).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
    expect(tr.mask.filter((m) => m).length).toBe(8);
    // latency: at most one spike per pixel, brighter (right) pixels earlier, nothing in the tail
    const first = (i: number) => tr.inputs.findIndex((r) => r[i] === 1);
    for (let i = 0; i < 196; i++) expect(tr.inputs.reduce((s, r) => s + r[i]!, 0)).toBeLessThanOrEqual(1);
    expect(first(13)).toBeLessThan(first(3));
    expect(tr.inputs.slice(30).flat().every((x) => x === 0)).toBe(true);
    expect(latencyEncode([1, 0.6, 0.05], 10, 0.1).map((r) => r.join(""))).toEqual(["100", "000", "000", "000", "010", "000", "000", "000", "000", "000"]);
    // rate coding is seeded per trial
    const rate = createTask("fashion-mnist", 2, { dataDir: dir, encoding: "rate", encSteps: 30 });
    expect(rate.trial(1)).toEqual(createTask("fashion-mnist", 2, { dataDir: dir, encoding: "rate", encSteps: 30 }).trial(1));
    expect(() => createTask("fashion-mnist", 2, { dataDir: join(dir, "nope") })).toThrow(/fashion-mnist\.options\.dataDir/);
  });

  it("the real data set (Debian dataset-fashion-mnist) loads: 60000 + 10000 28x28 images, 10 balanced classes", () => {
    let dir: string;
    try {
      dir = fashionDir();
    } catch (e) {
      if (e instanceof MissingToolError) throw new Error(`${e.message} — the Fashion-MNIST task needs it`);
      throw e;
    }
    const test = loadFashion(dir, "test");
    const train = loadFashion(dir, "train");
    expect([train.n, test.n, test.rows, test.cols]).toEqual([60000, 10000, 28, 28]);
    const counts = new Array(10).fill(0);
    for (const l of test.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(1000));
    expect(FASHION_CLASSES[test.labels[0]!]).toBe("Ankle boot"); // the first t10k image
    const inst = createTask("fashion-mnist", 1, SMALL["fashion-mnist"]);
    const labels = new Set(Array.from({ length: 60 }, (_, i) => inst.trial(i).label));
    expect(labels.size).toBeGreaterThanOrEqual(8); // the seeded shuffle mixes the classes
  });
});
