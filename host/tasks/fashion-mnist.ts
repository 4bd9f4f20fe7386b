// Fashion-MNIST as a spiking classification task. Images come from the standard IDX files
// (Debian package `dataset-fashion-mnist`: /usr/share/datasets/fashion-mnist/*-idx?-ubyte.gz);
// the directory is the option `dataDir`, else $EDGEPROP_FASHION_MNIST, else the Debian paths.
// Each 28x28 image is average-pooled by `pool` (default 2 -> 14x14 = 196 inputs) and
// spike-encoded over `encSteps` steps:
//   latency: a pixel of intensity p >= threshold fires once, at step round((1-p)/(1-threshold)*(encSteps-1))
//            (brighter = earlier; deterministic);
//   rate:    a pixel fires with probability p*rateHz*dt/1000 every step (seeded per trial).
// Then `tailSteps` silent steps follow. Loss ce with the mask on the last `decisionSteps` steps;
// targets one-hot everywhere; metric test accuracy (chance 0.1). Training trial i is image
// order[i mod nTrain] of a seeded permutation of the first `trainLimit` training images (epochs
// wrap around); test trial i is test image i, for i < nTest = min(testLimit, test images in the
// files) — a test trial past the last image is an InputError, never a repeat.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../input/errors.ts";
import { missingTool } from "../toolchains.ts";
import type { Matrix } from "../model/types.ts";
import type { Pcg32 } from "../rng/pcg32.ts";
import { Stream, accuracy, initParams, int, modelConfig, oneHot, real, resolveOptions, rng, rateRegOf } from "./common.ts";
import { readIdx } from "./idx.ts";
import type { TaskDef, TaskInstance, Trial } from "./task.ts";

export const FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

export const FASHION_DIRS = ["/usr/share/datasets/fashion-mnist", "/usr/share/fashion-mnist"];

const FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
};

export interface ImageSet {
  n: number;
  rows: number;
  cols: number;
  images: Uint8Array; // n * rows * cols
  labels: Uint8Array; // n
}

function hasFile(dir: string, name: string): boolean {
  return existsSync(join(dir, name)) || existsSync(join(dir, name + ".gz"));
}

/** The data directory: explicit, then $EDGEPROP_FASHION_MNIST, then the Debian locations. */
export function fashionDir(dataDir?: string): string {
  if (dataDir) {
    if (!hasFile(dataDir, FILES.testLabels)) throw new InputError("fashion-mnist.options.dataDir", `no Fashion-MNIST IDX files in ${dataDir}`);
    return dataDir;
  }
  const env = process.env.EDGEPROP_FASHION_MNIST;
  if (env) {
    if (!hasFile(env, FILES.testLabels)) throw new InputError("EDGEPROP_FASHION_MNIST", `no Fashion-MNIST IDX files in ${env}`);
    return env;
  }
  const found = FASHION_DIRS.find((d) => hasFile(d, FILES.testLabels));
  if (!found) throw missingTool(FASHION_DIRS[0]!, "Fashion-MNIST IDX files");
  return found;
}

const cache = new Map<string, ImageSet>();

/** Load one split (cached per directory). */
export function loadFashion(dir: string, split: "train" | "test"): ImageSet {
  const key = `${dir}\u0000${split}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const img = readIdx(join(dir, split === "train" ? FILES.trainImages : FILES.testImages));
  const lab = readIdx(join(dir, split === "train" ? FILES.trainLabels : FILES.testLabels));
  if (img.dims.length !== 3) throw new InputError(`${dir}/${split} images`, `expected 3 dimensions, got ${img.dims.length}`);
  if (lab.dims.length !== 1 || lab.dims[0] !== img.dims[0]) throw new InputError(`${dir}/${split} labels`, `expected ${img.dims[0]} labels, got ${lab.dims.join("x")}`);
  for (const l of lab.data) if (l > 9) throw new InputError(`${dir}/${split} labels`, `expected labels 0..9, got ${l}`);
  const set = { n: img.dims[0]!, rows: img.dims[1]!, cols: img.dims[2]!, images: img.data, labels: lab.data };
  cache.set(key, set);
  return set;
}

/** Average-pool image k of a set by `pool` (ceil at the edges); intensities in [0, 1]. */
export function pooledImage(set: ImageSet, k: number, pool: number): number[] {
  const R = Math.ceil(set.rows / pool);
  const C = Math.ceil(set.cols / pool);
  const out = new Array<number>(R * C).fill(0);
  const cnt = new Array<number>(R * C).fill(0);
  const base = k * set.rows * set.cols;
  for (let r = 0; r < set.rows; r++)
    for (let c = 0; c < set.cols; c++) {
      const o = Math.floor(r / pool) * C + Math.floor(c / pool);
      out[o]! += set.images[base + r * set.cols + c]! / 255;
      cnt[o]!++;
    }
  return out.map((s, i) => s / cnt[i]!);
}

export function latencyEncode(pixels: readonly number[], steps: number, threshold: number): Matrix {
  const x: Matrix = Array.from({ length: steps }, () => new Array<number>(pixels.length).fill(0));
  pixels.forEach((p, i) => {
    if (p < threshold || p <= 0) return;
    const t = threshold >= 1 ? 0 : Math.round(((1 - p) / (1 - threshold)) * (steps - 1));
    x[Math.min(steps - 1, Math.max(0, t))]![i] = 1;
  });
  return x;
}

export function rateEncode(pixels: readonly number[], steps: number, pPerStep: number, r: Pcg32): Matrix {
  const x: Matrix = [];
  for (let t = 0; t < steps; t++) x.push(pixels.map((p) => (r.uniform() < p * pPerStep ? 1 : 0)));
  return x;
}

const defaults = {
  dataDir: "",
  pool: 2,
  encoding: "latency",
  encSteps: 40,
  tailSteps: 10,
  decisionSteps: 20,
  threshold: 0.1, // latency: dimmer pixels do not fire
  rateHz: 200, // rate: firing rate of a white pixel
  trainLimit: 60000,
  testLimit: 10000,
  nRec: 100,
  dt: 1,
  tauMem: 20,
  tauOut: 20,
  vTh: 1,
  cReg: 0, // firing-rate regulariser strength (MODEL.md rateReg; 0 = off)
  fTargetHz: 10,
  gIn: 3,
  gRec: 0.5,
  gOut: 1,
};

export const fashionMnistTask: TaskDef = {
  name: "fashion-mnist",
  summary: "Fashion-MNIST from the IDX files, pooled and latency/rate spike-encoded; LIF, ce, test accuracy",
  defaults,
  quick: { pool: 4, encSteps: 20, tailSteps: 5, decisionSteps: 10, nRec: 50 }, // measured: host/tasks/README.md, "Short runs"
  create(seed, options): TaskInstance {
    const o = resolveOptions("fashion-mnist", defaults, options);
    const dir = fashionDir(o.dataDir as string);
    const pool = int("fashion-mnist", o, "pool", 1, 28);
    const encoding = o.encoding as string;
    if (encoding !== "latency" && encoding !== "rate") throw new InputError("fashion-mnist.options.encoding", `expected 'latency' or 'rate', got '${encoding}'`);
    const encSteps = int("fashion-mnist", o, "encSteps", 1, 1e6);
    const tail = int("fashion-mnist", o, "tailSteps", 0, 1e6);
    const T = encSteps + tail;
    const decision = int("fashion-mnist", o, "decisionSteps", 1, T);
    const threshold = real("fashion-mnist", o, "threshold", 0, 1);
    const dt = real("fashion-mnist", o, "dt", 1e-6, 1e6);
    const pRate = (real("fashion-mnist", o, "rateHz", 0, 1e6) * dt) / 1000;
    const trainLimit = int("fashion-mnist", o, "trainLimit", 1, 60000);
    const testLimit = int("fashion-mnist", o, "testLimit", 1, 10000);
    const side = Math.ceil(28 / pool);
    const nIn = side * side;
    const model = modelConfig({
      nIn,
      nRec: int("fashion-mnist", o, "nRec", 1, 100000),
      nOut: 10,
      dt,
      tauMem: real("fashion-mnist", o, "tauMem", 1e-6, 1e9),
      tauOut: real("fashion-mnist", o, "tauOut", 1e-6, 1e9),
      vTh: real("fashion-mnist", o, "vTh", 1e-9, 1e9),
      loss: "ce",
      rateReg: rateRegOf("fashion-mnist", o),
    });
    const { params, randomB } = initParams(seed, model, o);

    let order: Int32Array | undefined;
    const trainOrder = (): Int32Array => {
      if (order) return order;
      const n = Math.min(trainLimit, loadFashion(dir, "train").n);
      order = new Int32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
      const r = rng(seed, Stream.order);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(r.uniform() * (i + 1));
        const tmp = order[i]!;
        order[i] = order[j]!;
        order[j] = tmp;
      }
      return order;
    };

    const make = (set: ImageSet, k: number, stream: number, i: number): Trial => {
      if (set.rows !== 28 || set.cols !== 28) throw new InputError(dir, `expected 28x28 images, got ${set.rows}x${set.cols}`);
      const px = pooledImage(set, k, pool);
      const enc = encoding === "latency" ? latencyEncode(px, encSteps, threshold) : rateEncode(px, encSteps, pRate, rng(seed, stream, i));
      const inputs = enc.concat(Array.from({ length: tail }, () => new Array<number>(nIn).fill(0)));
      const label = set.labels[k]!;
      const hot = oneHot(10, label);
      return { inputs, targets: inputs.map(() => hot.slice()), mask: inputs.map((_, t) => (t >= T - decision ? 1 : 0)), label };
    };

    // The real counts, known once a split is loaded (lazily: creating the task reads no file).
    const testCount = (): number => Math.min(testLimit, loadFashion(dir, "test").n);
    return {
      task: "fashion-mnist",
      seed,
      options: { ...o, dataDir: dir },
      model,
      params,
      randomB,
      get nTrain() {
        return trainOrder().length;
      },
      trial: (i) => {
        const ord = trainOrder();
        return make(loadFashion(dir, "train"), ord[i % ord.length]!, Stream.train, i);
      },
      get nTest() {
        return testCount();
      },
      testTrial: (i) => {
        const n = testCount();
        if (!Number.isInteger(i) || i < 0 || i >= n) {
          throw new InputError("fashion-mnist test trial", `index ${i} asked for, but there are ${n} test images (testLimit ${testLimit}, ${loadFashion(dir, "test").n} in ${dir})`);
        }
        return make(loadFashion(dir, "test"), i, Stream.test, i);
      },
      metric: { name: "accuracy", higherIsBetter: true, chance: 0.1, description: "fraction of test images whose decision-window mean softmax names the right class" },
      evaluate: (trials, ys) => accuracy(trials, ys),
    };
  },
};
