// A task is a pure, seeded generator of everything a training run needs, expressed in the
// hil-case/1 shapes so that every backend (host reference, WASM, boards, FPGA) can run it:
// a model record, seeded initial parameters and feedback, training and test trials
// ({inputs [T][nIn], targets [T][nOut], mask [T]}), and the task's metric.
// Same (task, seed, options) => bit-identical trials and parameters, on every machine.
import { transpose } from "../model/matrix.ts";
import type { Case, Feedback, FeedbackKind, Matrix, ModelConfig, Params } from "../model/types.ts";

/** One trial in hil-case/1 shapes. `label` is the class (classification tasks) or stored bit. */
export interface Trial {
  inputs: Matrix; // [T][nIn], spikes 0/1
  targets: Matrix; // [T][nOut]
  mask: number[]; // [T], 0/1: the decision window (ce loss) / the evaluated window
  label?: number;
}

export type MetricName = "accuracy" | "nmse" | "recallError";

export interface MetricInfo {
  name: MetricName;
  higherIsBetter: boolean;
  /** What a network that ignores its input scores (accuracy 1/nClasses, NMSE 1, error 0.5). */
  chance: number;
  description: string;
}

export type OptionValue = number | string | boolean;
export type TaskOptions = Record<string, OptionValue>;

export interface TaskInstance {
  task: string;
  seed: number;
  /** Every option with defaults filled in (what the run records). */
  options: TaskOptions;
  model: ModelConfig;
  /** Seeded initial parameters (documented per task; see host/tasks/README.md). */
  params: Params;
  /** Seeded random feedback matrix B [nRec][nOut] for e-prop with `random` feedback. */
  randomB: Matrix;
  /** Number of distinct training trials (1 for the frozen pattern; Infinity when generated on demand). */
  nTrain: number;
  /** Training trial i (deterministic in seed and i; i wraps around nTrain). */
  trial(i: number): Trial;
  nTest: number;
  /** Held-out trial i (a separate random stream, or the data set's test split). */
  testTrial(i: number): Trial;
  metric: MetricInfo;
  /** The metric over trials given the readout y [T][nOut] of each. */
  evaluate(trials: readonly Trial[], ys: readonly Matrix[]): number;
}

export interface TaskDef {
  name: string;
  summary: string;
  /** Every option the task takes, with its default; `create` rejects unknown ones. */
  defaults: TaskOptions;
  /**
   * Options for a short run that still clearly beats chance (smaller T; see README.md for
   * the figures measured with them). Used by tests and `--task-opt` examples.
   */
  quick: Partial<TaskOptions>;
  create(seed: number, options?: Partial<TaskOptions>): TaskInstance;
}

/** Feedback record for a rule: `symmetric` carries wOut transposed, `random` the task's seeded B. */
export function feedbackFor(inst: TaskInstance, kind: FeedbackKind, params: Params = inst.params): Feedback {
  if (kind === "symmetric") return { kind, B: transpose(params.wOut) };
  return { kind, B: inst.randomB.map((row) => row.slice()) };
}

/** A hil-case/1 record for one trial (what `edgeprop grad` and every backend consume). */
export function toCase(
  inst: TaskInstance,
  trial: Trial,
  opts: { params?: Params; feedback?: FeedbackKind; name?: string } = {},
): Case {
  const params = opts.params ?? inst.params;
  return {
    format: "hil-case/1",
    name: opts.name ?? `${inst.task}-seed${inst.seed}`,
    model: inst.model,
    params,
    feedback: feedbackFor(inst, opts.feedback ?? "symmetric", params),
    inputs: trial.inputs,
    targets: trial.targets,
    mask: trial.mask,
  };
}

/** The first n training trials as hil-case/1 `trials` entries (MODEL.md training loop). */
export function trialList(inst: TaskInstance, n: number, offset = 0): { inputs: Matrix; targets: Matrix; mask: number[] }[] {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = inst.trial(offset + i);
    out.push({ inputs: t.inputs, targets: t.targets, mask: t.mask });
  }
  return out;
}
