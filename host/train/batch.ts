// Mini-batches, rule-neutral: run config `batchSize` B (default 1: MODEL.md's one trial per
// update) and `batchReduction` ("mean", default, or "sum"). Update n runs trials
// (n-1)*B + 1 .. n*B of the run's trial stream at fixed weights, reduces their gradients and
// applies one optimizer step: iterations count updates, and the trial order does not depend on
// B (a config's `trials` list and a task's stream are consumed in the same order). Which rules
// and targets train in batches, and apply lr schedules, is declared on the seam (training.ts
// `scale`, DeviceTrainer `batch`/`schedules`) and checked here, before anything starts.
import { InputError } from "../input/errors.ts";
import { choice, intIn, type Json } from "../input/fields.ts";
import { parseLrSchedule, type LrSchedule } from "./schedule.ts";
import type { Tensor } from "./tensors.ts";
import type { DeviceTrainer, RuleTraining, RunSpec } from "./training.ts";

export interface BatchConfig {
  size: number;
  reduction: "mean" | "sum";
}

export const BATCH_DEFAULTS: BatchConfig = { size: 1, reduction: "mean" };

/**
 * The run's scale settings from a run config's top-level fields (undefined where absent).
 * `batch: false`: the rule reads `batchSize` itself (RuleTraining `ownBatchSize`).
 */
export function parseScale(r: Record<string, Json>, iterations: number, o: { batch: boolean } = { batch: true }): { batch?: BatchConfig; lrSchedule?: LrSchedule } {
  const out: { batch?: BatchConfig; lrSchedule?: LrSchedule } = {};
  if (o.batch && (r.batchSize !== undefined || r.batchReduction !== undefined)) {
    out.batch = {
      size: r.batchSize === undefined ? 1 : intIn(r.batchSize, "batchSize", 1, 1_000_000),
      reduction: r.batchReduction === undefined ? "mean" : choice(r.batchReduction, "batchReduction", ["mean", "sum"] as const),
    };
  }
  const s = parseLrSchedule(r.lrSchedule, iterations);
  if (s) out.lrSchedule = s;
  return out;
}

export function batchOf(spec: RunSpec<unknown, unknown>): BatchConfig {
  return spec.batch ?? BATCH_DEFAULTS;
}

/** The 1-based trial numbers of update n. */
export function batchTrials(spec: RunSpec<unknown, unknown>, n: number): number[] {
  const b = batchOf(spec).size;
  return Array.from({ length: b }, (_, i) => (n - 1) * b + i + 1);
}

export function batchItems<Item>(spec: RunSpec<unknown, Item>, n: number): Item[] {
  return batchTrials(spec, n).map((t) => spec.trial(t));
}

/** The divisor of a batch's summed gradient: B for "mean", 1 for "sum". */
export function batchDivisor(spec: RunSpec<unknown, unknown>): number {
  const b = batchOf(spec);
  return b.reduction === "mean" ? b.size : 1;
}

/**
 * Refuses (InputError naming the field and the rule) a batch size > 1 or an lr schedule that the
 * rule's host target (`device` absent) or its board trainer does not apply.
 */
export function checkScale(spec: RunSpec<unknown, unknown>, training: RuleTraining<any, any, any>, device?: DeviceTrainer<any, any, any>): void {
  const where = device ? "on a board" : "on the host";
  const batches = device ? device.batch !== undefined : training.scale?.batches === true;
  const schedules = device ? device.schedules === true : training.scale?.schedules === true;
  if (batchOf(spec).size > 1 && training.ownBatchSize) {
    throw new InputError("batchSize", `rule '${spec.rule}' iterates over mini-batches of its own: set its batchSize (the run config's, or --task-opt batchSize=N), not --batch-size`);
  }
  if (batchOf(spec).size > 1 && !batches) {
    throw new InputError("batchSize", `batchSize ${batchOf(spec).size} is not supported for rule '${spec.rule}' ${where} (it updates after every item); use batchSize 1`);
  }
  if (spec.lrSchedule && !schedules) {
    throw new InputError("lrSchedule", `learning-rate schedules are not supported for rule '${spec.rule}' ${where}; remove lrSchedule for a constant rate`);
  }
}

/**
 * The float64 sum of named gradients in the given order (a fixed order: the result does not
 * depend on which board or process produced which part), divided by `divisor`.
 */
export function sumGradients(parts: readonly Record<string, Tensor>[], divisor = 1): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const name of Object.keys(parts[0]!)) {
    const first = parts[0]![name]!;
    if (Array.isArray(first[0])) {
      out[name] = (first as number[][]).map((row, r) => row.map((_, c) => {
        let s = 0;
        for (const p of parts) s += (p[name] as number[][])[r]![c]!;
        return s / divisor;
      }));
    } else {
      out[name] = (first as number[]).map((_, i) => {
        let s = 0;
        for (const p of parts) s += (p[name] as number[])[i]!;
        return s / divisor;
      });
    }
  }
  return out;
}
