// EqProp training on the host in float64 (EQPROP.md "Training"), as pure functions over plain
// data, so a training session can wrap them, checkpoint the state and resume it exactly:
// - glorotUniform: W[l] ~ U(-a, a), a = sqrt(6 / (n_l + n_{l+1})), b = 0, from a PCG32 stream;
// - trainIteration: one mini-batch, every sample from state 0 with the current weights (free and
//   nudged phases), loss C(s0) and prediction argmax s0_L, then W[l] -= lr[l] * batch mean of gW[l]
//   (b likewise);
// - evaluate: the free phase only;
// - batchOrder: the sample order of an epoch, a seeded shuffle, so (seed, epoch, iteration) fixes
//   every batch; batchSchedule: the batch of the run's n-th iteration.
import { InputError } from "../../input/errors.ts";
import { Pcg32 } from "../../rng/pcg32.ts";
import { argmax, cost, inputDrive, relax, zeroState } from "./dynamics.ts";
import { sampleEstimate, zeroGrads, type Settings } from "./reference.ts";
import type { EqpropParams } from "./schema.ts";

export interface TrainConfig extends Settings {
  /** One step size per layer pair W[0..L-1] (as the reference code's alphas). */
  lr: number[];
}

export interface BatchOutcome {
  /** Sum of C(s0) over the batch. */
  loss: number;
  predictions: number[];
}

/** Where a run is in its data. */
export interface TrainPosition {
  /** Completed epochs. */
  epoch: number;
  /** Completed iterations (mini-batches) of the current epoch. */
  iteration: number;
}

/** The training state a session checkpoints: parameters and position in the data. */
export interface TrainState extends TrainPosition {
  params: EqpropParams;
}

/** PCG32 stream ids of EqProp training: initial weights, epoch orders. */
const STREAM = { init: 0x6571_0001n, order: 0x6571_0002n } as const;

/** Glorot-uniform weights and zero biases for layers [n0, ..., nL]. */
export function glorotUniform(layers: readonly number[], seed: number): EqpropParams {
  const r = new Pcg32(BigInt(seed), STREAM.init);
  return {
    W: layers.slice(1).map((nPost, l) => {
      const a = Math.sqrt(6 / (layers[l]! + nPost));
      return Array.from({ length: nPost }, () => Array.from({ length: layers[l]! }, () => a * (2 * r.uniform() - 1)));
    }),
    b: layers.slice(1).map((n) => new Array<number>(n).fill(0)),
  };
}

/** `lr` as a number for every layer pair or a list of one per pair: the per-pair list, checked. */
export function lrPerLayer(lr: number | readonly number[], pairs: number, field = "lr"): number[] {
  const list = typeof lr === "number" ? new Array<number>(pairs).fill(lr) : [...lr];
  if (list.length !== pairs) throw new InputError(field, `expected a number or a list of ${pairs} (one per layer pair), got a list of ${list.length}`);
  list.forEach((v, l) => {
    if (!Number.isFinite(v) || v <= 0) throw new InputError(typeof lr === "number" ? field : `${field}[${l}]`, `expected a finite number > 0, got ${v}`);
  });
  return list;
}

/** The order of the n training samples in epoch `epoch` (Fisher-Yates on its own PCG32 stream per epoch). */
export function batchOrder(seed: number, epoch: number, n: number): number[] {
  const r = new Pcg32(BigInt(seed), (STREAM.order << 32n) | BigInt(epoch >>> 0));
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r.uniform() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** One iteration on the batch (xs, ys): returns the new parameters (p is not changed) and the batch's loss and predictions. */
export function trainIteration(p: EqpropParams, cfg: TrainConfig, xs: readonly number[][], ys: readonly number[][]): BatchOutcome & { params: EqpropParams } {
  const layers = [xs[0]!.length, ...p.b.map((v) => v.length)];
  const g = zeroGrads(layers);
  let loss = 0;
  const predictions = xs.map((x, n) => {
    const s = sampleEstimate(p, cfg, x, ys[n]!, g);
    loss += s.loss;
    return s.prediction;
  });
  const k = 1 / xs.length;
  const params: EqpropParams = {
    W: p.W.map((w, l) => w.map((row, i) => row.map((v, j) => v - cfg.lr[l]! * (g.W[l]![i]![j]! * k)))),
    b: p.b.map((v, l) => v.map((x, i) => x - cfg.lr[l]! * (g.b[l]![i]! * k))),
  };
  return { params, loss, predictions };
}

/** The free phase only: loss C(s0) summed and the predicted classes. */
export function evaluate(p: EqpropParams, cfg: Pick<Settings, "epsilon" | "freeSteps">, xs: readonly number[][], ys: readonly number[][]): BatchOutcome {
  const layers = [xs[0]!.length, ...p.b.map((v) => v.length)];
  let loss = 0;
  const predictions = xs.map((x, n) => {
    const s0 = relax(p, inputDrive(p, x), zeroState(layers), 0, ys[n]!, cfg.epsilon, cfg.freeSteps);
    loss += cost(s0, ys[n]!);
    return argmax(s0[s0.length - 1]!);
  });
  return { loss, predictions };
}

/**
 * The samples (indices into n) of the batch at `pos` in the order of batchOrder(seed, epoch), and
 * the position after it (the last batch of an epoch may be short; then the next epoch starts).
 */
export function batchAt(pos: TrainPosition, n: number, batchSize: number, seed: number): { batch: number[]; next: TrainPosition } {
  const order = batchOrder(seed, pos.epoch, n);
  const batch = order.slice(pos.iteration * batchSize, (pos.iteration + 1) * batchSize);
  if (batch.length === 0) throw new InputError("iteration", `epoch ${pos.epoch} has ${Math.ceil(n / batchSize)} iterations, got iteration ${pos.iteration}`);
  const endOfEpoch = (pos.iteration + 1) * batchSize >= n;
  return { batch, next: { epoch: pos.epoch + (endOfEpoch ? 1 : 0), iteration: endOfEpoch ? 0 : pos.iteration + 1 } };
}

/**
 * The samples of iteration n (1-based) of a run over `nSamples` samples in batches of
 * `batchSize`: batchAt's batches counted from the start of the run (epoch = floor((n-1) /
 * batches per epoch)), so the iteration number alone fixes the batch and a run resumes from it.
 * The order of the current epoch is kept between calls.
 */
export function batchSchedule(nSamples: number, batchSize: number, seed: number): (n: number) => number[] {
  const per = Math.ceil(nSamples / batchSize);
  let kept = { epoch: -1, order: [] as number[] };
  return (n) => {
    if (!Number.isSafeInteger(n) || n < 1) throw new InputError("iteration", `expected an integer >= 1, got ${n}`);
    const epoch = Math.floor((n - 1) / per);
    const i = (n - 1) % per;
    if (kept.epoch !== epoch) kept = { epoch, order: batchOrder(seed, epoch, nSamples) };
    return kept.order.slice(i * batchSize, (i + 1) * batchSize);
  };
}

/**
 * The next iteration of a training run over (xs, ys) with batches of `batchSize` in the order of
 * batchAt: the new state and the batch's outcome with the indices of its samples.
 */
export function trainNext(state: TrainState, cfg: TrainConfig, xs: readonly number[][], ys: readonly number[][], batchSize: number, seed: number): { state: TrainState; batch: number[] } & BatchOutcome {
  const { batch, next } = batchAt(state, xs.length, batchSize, seed);
  const r = trainIteration(state.params, cfg, batch.map((i) => xs[i]!), batch.map((i) => ys[i]!));
  return { state: { params: r.params, ...next }, batch, loss: r.loss, predictions: r.predictions };
}
