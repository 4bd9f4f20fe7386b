// The pieces of an EqProp training run that the run config (training.ts), the digits task
// (digits-run.ts) and both targets share: the run's case and items, iteration n's mini-batch, what
// an iteration reports, and the optimizer record.
import type { Json } from "../../input/fields.ts";
import { OPTIMIZER_DEFAULTS, type OptimizerConfig } from "../../train/optimizer.ts";
import type { TrainState, TrialOutcome } from "../../train/target.ts";
import type { EqpropCase, EqpropParams } from "./schema.ts";
import { batchSchedule, type BatchOutcome } from "./train.ts";

/** A run's case: the model, the initial parameters, the data set and how it is trained. */
export interface EqpropRunBase extends EqpropCase {
  /** One rate per layer pair W[0..L-1] (and b[0..L-1]). */
  lr: number[];
  batchSize: number;
  /** Seeds the epoch orders (and the initial weights when a config gives none). */
  seed: number;
  /** The class of each sample when every target is one-hot: each batch's accuracy is logged. */
  labels?: number[];
}

/** One iteration's item: the samples of a mini-batch. */
export interface EqpropBatch {
  xs: number[][];
  ys: number[][];
  /** Indices into the data set. */
  index: number[];
  labels?: number[];
}

export type EqpropTrainState = TrainState<EqpropParams>;

/** The optimizer record of an EqProp run: SGD, lr[0] (the per-layer rates are the run's `lr`). */
export function eqpropOptimizer(lr: readonly number[]): OptimizerConfig {
  return { ...OPTIMIZER_DEFAULTS, kind: "gd", lr: lr[0]! };
}

/** What run.json shows as the optimizer of an EqProp run. */
export function eqpropOptimizerInfo(lr: readonly number[], batchSize: number): Record<string, Json> {
  return { kind: "sgd", lr: [...lr], batchSize, reduction: "mean" };
}

/** The class of every sample when every target is one-hot (exactly one 1, the rest 0). */
export function oneHotLabels(targets: readonly (readonly number[])[]): number[] | undefined {
  const labels: number[] = [];
  for (const y of targets) {
    const k = y.indexOf(1);
    if (k < 0 || y.some((v, i) => v !== (i === k ? 1 : 0))) return undefined;
    labels.push(k);
  }
  return labels;
}

/** Iteration n's mini-batch of the run over `base`'s samples. */
export function batchesOf(base: EqpropRunBase): (n: number) => EqpropBatch {
  const schedule = batchSchedule(base.inputs.length, base.batchSize, base.seed);
  return (n) => {
    const index = schedule(n);
    return {
      xs: index.map((i) => base.inputs[i]!),
      ys: index.map((i) => base.targets[i]!),
      index,
      ...(base.labels ? { labels: index.map((i) => base.labels![i]!) } : {}),
    };
  };
}

/** What an iteration reports: the batch's mean loss C(s0) and, with labels, its accuracy. */
export function batchOutcome(r: BatchOutcome, batch: EqpropBatch): TrialOutcome {
  const n = batch.xs.length;
  const out: TrialOutcome = { loss: r.loss / n };
  if (batch.labels) out.metrics = { accuracy: r.predictions.filter((p, i) => p === batch.labels![i]).length / n, accuracyTrials: n };
  return out;
}
