// 8x8 handwritten digits (EQPROP.md "Training check"): sklearn's bundled `digits.csv.gz`, as
// Debian's python3-sklearn installs it, read without Python: 1797 rows of 64 pixels (0..16) and
// a label (0..9), the order sklearn's load_digits returns. Pixels are divided by 16. The split is
// numpy's RandomState(0).permutation(1797) (reproduced in host/rng/numpy-permutation.ts):
// its first 1437 entries are the training images, its last 360 the held-out images. The file
// is `path`, else $EDGEPROP_DIGITS, else Debian's location.
import { existsSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { InputError } from "../input/errors.ts";
import { missingTool } from "../toolchains.ts";
import { numpyPermutation } from "../rng/numpy-permutation.ts";
import { oneHot } from "./common.ts";
import type { TaskOptions } from "./task.ts";

export const DIGITS_DEBIAN_PATH = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";
export const DIGITS = { images: 1797, pixels: 64, classes: 10, train: 1437, heldOut: 360, seed: 0 } as const;
/** The file is 57 KiB; anything far larger is not the digits file. */
const MAX_BYTES = 4 << 20;

export interface DigitSet {
  /** [n][64], pixel/16 in [0, 1]. */
  x: number[][];
  labels: number[];
  /** Row indices in digits.csv.gz. */
  index: number[];
}

export interface DigitsSplit {
  train: DigitSet;
  heldOut: DigitSet;
}

/** The digits file: `path`, else $EDGEPROP_DIGITS, else `debian` (python3-sklearn's copy). */
export function digitsPath(path?: string, debian = DIGITS_DEBIAN_PATH): string {
  if (path) {
    if (!existsSync(path)) throw new InputError("digits path", `no such file: ${path}`);
    return path;
  }
  const env = process.env.EDGEPROP_DIGITS;
  if (env) {
    if (!existsSync(env)) throw new InputError("EDGEPROP_DIGITS", `no such file: ${env}`);
    return env;
  }
  if (!existsSync(debian)) throw missingTool(DIGITS_DEBIAN_PATH, `sklearn's digits data (${debian})`);
  return debian;
}

/** Every image of the file, in file order. */
export function loadDigits(path?: string): DigitSet {
  const file = digitsPath(path);
  const raw = readFileSync(file);
  if (raw.length > MAX_BYTES) throw new InputError(file, `expected the ~57 KiB digits.csv.gz, got ${raw.length} bytes`);
  let text: string;
  try {
    text = gunzipSync(raw, { maxOutputLength: 8 * MAX_BYTES }).toString("latin1");
  } catch (e) {
    throw new InputError(file, `not a readable gzip file (${(e as Error).message})`);
  }
  const rows = text.split("\n").filter((l) => l.trim() !== "");
  if (rows.length !== DIGITS.images) throw new InputError(file, `expected ${DIGITS.images} rows, got ${rows.length}`);
  const x: number[][] = [];
  const labels: number[] = [];
  rows.forEach((line, r) => {
    const v = line.split(",").map(Number);
    const bad = v.findIndex((p, i) => !Number.isInteger(p) || p < 0 || p > (i < DIGITS.pixels ? 16 : 9));
    if (v.length !== DIGITS.pixels + 1 || bad >= 0) {
      throw new InputError(`${file}:${r + 1}`, `expected 64 pixels in 0..16 and a label in 0..9, got ${v.length} fields${bad >= 0 ? ` (field ${bad + 1} is '${line.split(",")[bad]}')` : ""}`);
    }
    x.push(v.slice(0, DIGITS.pixels).map((p) => p / 16));
    labels.push(v[DIGITS.pixels]!);
  });
  return { x, labels, index: labels.map((_, i) => i) };
}

function pick(all: DigitSet, index: number[]): DigitSet {
  return { x: index.map((i) => all.x[i]!), labels: index.map((i) => all.labels[i]!), index };
}

/** EQPROP.md's split: permutation seed 0, 1437 train / 360 held out. */
export function digitsSplit(path?: string): DigitsSplit {
  const all = loadDigits(path);
  const perm = numpyPermutation(DIGITS.images, DIGITS.seed);
  return { train: pick(all, perm.slice(0, DIGITS.train)), heldOut: pick(all, perm.slice(DIGITS.train)) };
}

/** The targets of a set: one-hot over the 10 classes. */
export function digitTargets(set: DigitSet): number[][] {
  return set.labels.map((k) => oneHot(DIGITS.classes, k));
}

/**
 * `edgeprop train --task digits --rule eqprop`: EQPROP.md's training check as task options
 * (`--task-opt k=v,...`; host/rules/eqprop/digits-run.ts builds the run). The defaults are the
 * spec's configuration: network [64, hidden 32, 10], symmetric nudging, beta 1, epsilon 0.5,
 * 40 free / 10 nudged steps, SGD with lr [0.1, 0.05] (lr0, lr1) on batches of 10, 30 epochs over
 * the 1437 training images. `trainLimit` trains on the first images of the training split only;
 * the held-out images are never trained on. `states`: held-out digits whose free and nudged
 * states the report draws. `quick`: a short run that still clearly beats chance (tests, smoke).
 * Digits is an EqProp task (static images, no time axis), so it is not in the spiking tasks'
 * registry (index.ts).
 */
export const DIGITS_TASK = {
  name: "digits",
  defaults: {
    epochs: 30, batchSize: 10, hidden: 32, beta: 1, epsilon: 0.5, freeSteps: 40, nudgedSteps: 10, nudge: "symmetric",
    lr0: 0.1, lr1: 0.05, trainLimit: DIGITS.train, states: 4,
  },
  quick: { trainLimit: 500, epochs: 2 },
} as const satisfies { name: string; defaults: TaskOptions; quick: Partial<TaskOptions> };
